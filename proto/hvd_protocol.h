/*
 * The parts of the hvd protocol that are not messages: versions, limits,
 * the default socket path, and the layout of the per-vCPU run page that
 * hvd and libhvclient share (docs/protocol.md).
 */
#ifndef HVD_PROTOCOL_H
#define HVD_PROTOCOL_H

#include <stdatomic.h>
#include <stdint.h>

/* The vCPU state on the run page is the API's own, per architecture: the
 * VMCS model's (vmcs/hvs.h) on x86, the arm64 state (a64/ha64.h) on arm64. */
#if defined(__aarch64__)
#include "ha64.h"
typedef struct ha64_state hvd_run_state;
#define HVD_ARCH HVD_ARCH_ARM64
#else
#include "hvs.h"
typedef struct hvs_state hvd_run_state;
#define HVD_ARCH HVD_ARCH_X86_64
#endif

/* The exit counts hvctl shows (VcpuInfo.exits): on x86 by VMX basic exit
 * reason; on arm64 by the syndrome's exception class (0..63) for
 * HV_EXIT_REASON_EXCEPTION, and HVD_A64_EXIT_BASE + Apple's reason for the
 * others. */
#define HVD_A64_EXIT_BASE 64

/* The largest GIC state blob either side accepts (GicState): the state of
 * a 992-interrupt vGICv3 with 64 vCPUs is well under it. */
#define HVD_MAX_GIC_STATE (1u << 20)

/* HelloReply.arch. */
#define HVD_ARCH_X86_64 1
#define HVD_ARCH_ARM64 2

/* Bumped on any incompatible change to hvd.proto or the run page. */
#define HVD_PROTOCOL_VERSION 1
#define HVD_RUN_PAGE_VERSION 2

/* No message (either direction) is larger; nanopb's bounds in hvd.options
 * keep the largest, a Response with 4 KiB of FPU state, under it. */
#define HVD_MAX_MESSAGE 8192

/* Replies to admin requests (listings) may be larger. */
#define HVD_MAX_ADMIN_MESSAGE (128 * 1024)

/* Where libhvclient connects when HVD_SOCKET is not set. */
#define HVD_DEFAULT_SOCKET "/run/hvd/hvd.sock"

#define HVD_RUN_PAGE_MAGIC 0x68766472u /* "hvdr" */

/*
 * One per vCPU, in a memfd mapped by the client and by hvd. The client owns
 * `state` between runs (register and VMCS access are plain memory access);
 * hv_vcpu_run hands it to hvd's vCPU thread and waits for the exit
 * (hvd_runpage.c holds both sides of the hand-off):
 *
 *   client: req_seq++ ; wake hvd if daemon_sleeping ; spin, then sleep on
 *           done_seq (client_sleeping = 1) until done_seq == req_seq
 *   hvd:    copy `state` once into private memory, validate, run, write
 *           `state` and `result` back, done_seq = req_seq, wake the client
 *           if client_sleeping
 *
 * The futex words are shared (not FUTEX_PRIVATE). hvd never trusts
 * anything here: it copies before it looks, and a client scribbling on the
 * page can only hurt its own vCPU.
 */
struct hvd_run_page {
	uint32_t magic;
	uint32_t version;
	_Atomic uint32_t req_seq;
	_Atomic uint32_t done_seq;
	_Atomic uint32_t client_sleeping;
	_Atomic uint32_t daemon_sleeping;
	int32_t result;               /* hv_return_t of the last run */
	/* Where each side last ran: a side that shares its peer's CPU sleeps
	 * at once instead of spinning (spinning would starve the peer). */
	_Atomic uint32_t client_cpu;
	_Atomic uint32_t daemon_cpu;
	hvd_run_state state;
};

#endif
