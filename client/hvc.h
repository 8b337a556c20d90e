/* libhvclient internals (prefix hvc_). */
#ifndef HVC_H
#define HVC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvd.pb.h"
#include "hvd_protocol.h"
#include "hvs_errmap.h"

/* ---- errors for people (hvc_err.c) ---- */

/* The longest text kept for hvd_last_error, with its NUL. */
#define HVC_ERR_MAX 768

/* Why a call failed, as far as saying it goes: each cause but
 * HVC_CAUSE_CALL gets its line on stderr once per process. */
enum hvc_cause {
	HVC_CAUSE_CALL,       /* hvd refused one call (said only with HVD_DEBUG) */
	HVC_CAUSE_NOENT,      /* no socket at the path */
	HVC_CAUSE_REFUSED,    /* a socket nobody listens on */
	HVC_CAUSE_ACCESS,     /* no permission on the socket */
	HVC_CAUSE_NOTSOCK,    /* the path is something else */
	HVC_CAUSE_CONNECT,    /* another connect() failure */
	HVC_CAUSE_PROTOCOL,   /* hvd speaks another protocol or garbles it */
	HVC_CAUSE_DENIED,     /* the policy said no */
	HVC_CAUSE_QUOTA,      /* a quota or a limit of hvd's */
	HVC_CAUSE_GONE,       /* hvd ended the session (admin kill, stop) */
	HVC_CAUSE_MEMORY,     /* memory hv_vm_map cannot share faithfully */
	HVC_CAUSE_COUNT
};

/* Keep the text as the calling thread's last error and, unless
 * HVD_QUIET is set, write it on stderr ("libhvclient: TEXT") the first
 * time `cause` happens in the process, or always with HVD_DEBUG. */
void hvc_err(enum hvc_cause cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- connection (hvc_conn.c) ---- */

/* Connect and shake hands if not yet connected. 0 or negative errno. */
int hvc_connect(void);
/* One request/response exchange. `send_fd` (or -1) travels with the
 * request; a descriptor that comes back is stored in *recv_fd (if not
 * NULL, else closed). Returns 0 when a response arrived (its status says
 * how the call went) or a negative errno when hvd could not be reached. */
int hvc_rpc(hvdp_Request *req, int send_fd, hvdp_Response *resp, int *recv_fd);
/* hvd's reason in a Response decoded by the calling thread ("" if none);
 * valid until that thread's next exchange. */
const char *hvc_resp_error(const hvdp_Response *resp);
/* After a run failed: read what hvd said before it closed the session
 * (an administrator's kill), and say why the connection is gone. True if
 * it is. */
bool hvc_conn_check_gone(void);
/* False once an exchange found hvd gone (no system call). */
bool hvc_connected(void);
/* False once hvd has gone away (for waits that are not RPCs). */
bool hvc_daemon_alive(void);
/* The VMX capabilities hvd reported at the handshake. */
int hvc_vmx_capability(unsigned cap, uint64_t *value);
/* arm64: the host as hvd reported it at the handshake (connects first). */
int hvc_arm64_host(hvdp_Arm64Host *out);
uint32_t hvc_max_vcpus(void);
/* The nonce hvd sent in its HelloReply; vm_create echoes it. */
uint64_t hvc_session_nonce(void);
/* Forget the connection in a forked child (the parent keeps it). */
void hvc_conn_forget(void);

/* ---- guest memory (hvc_mem.c) ---- */

/* Find or create the memfd behind [uva, uva+size), moving private memory
 * onto a memfd in place (same address, same contents). */
int hvc_mem_share(void *uva, size_t size, int *fd, uint64_t *offset);
int hvc_mem_allocate(void **uva, size_t size);
int hvc_mem_deallocate(void *uva, size_t size);
/* In a forked child: turn shared guest memory back into private copies so
 * the child cannot write into the parent's guest. */
void hvc_mem_fork_child(void);

/* ---- calls both transports make (hvc_calls.c) ---- */

/* hvd's vCPU ids are below this; one VcpuInterrupt names at most this many. */
#define HVC_MAX_VCPUS 64

/* A vCPU on this side: hvd's id and the run page shared with hvd. */
struct hvc_vcpu {
	uint32_t id;
	struct hvd_run_page *page;
	size_t page_size;
	uint32_t seq;
};

/* The one place libhvclient turns errors into hv_return_t: a negative
 * errno from this library, or the lost connection to hvd. */
hv_return_t hvc_status(int err);
/* An RPC: its status; `value` (if not NULL) the answer's value on success,
 * `recv_fd` (if not NULL) a descriptor that came with it. */
hv_return_t hvc_call(hvdp_Request *req, int send_fd, uint64_t *value, int *recv_fd);
hv_return_t hvc_open(void);
hv_return_t hvc_vm_create(uint64_t flags);
hv_return_t hvc_vm_destroy(void);
hv_return_t hvc_vm_map(void *uva, uint64_t gpa, size_t size, uint64_t flags);
hv_return_t hvc_vm_unmap(uint64_t gpa, size_t size);
hv_return_t hvc_vm_protect(uint64_t gpa, size_t size, uint64_t flags);
/* The vCPU and its run page mapped into *v. */
hv_return_t hvc_vcpu_create(uint64_t flags, struct hvc_vcpu *v);
/* *gone: the vCPU is no more (run page unmapped, *v cleared). */
hv_return_t hvc_vcpu_destroy(struct hvc_vcpu *v, bool *gone);
hv_return_t hvc_vcpus_interrupt(const uint32_t *ids, unsigned n);
/* Hand the run page to hvd's vCPU thread and wait for its answer. */
hv_return_t hvc_vcpu_enter(struct hvc_vcpu *v);
/* In a forked child: a run page of the parent's let go (hvd not told). */
void hvc_vcpu_forget(struct hvc_vcpu *v);
/* In a forked child, after the run pages: the parent's memory and
 * connection let go. */
void hvc_fork_child(void);

#endif
