/*
 * harness.h: a minimal Hypervisor.framework client for the conformance
 * tests.
 *
 * Everything here goes through the public Apple API only, in the way
 * Apple's own Intel clients (hvdos, xhyve) drive it: guest RAM from plain
 * anonymous memory, controls derived from hv_vmx_read_capability() with
 * cap2ctrl(), segment state written as VMX access rights, and I/O, MMIO and
 * MSR exits emulated by the client. Helpers assert with Criterion, so a
 * test reads as a list of expectations.
 */
#ifndef CONFORMANCE_HARNESS_H
#define CONFORMANCE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <criterion/criterion.h>

#include "guests.h"

/* Guest-physical layout; guests/layout.inc holds the same values. */
#define CF_PAGE 0x1000u
#define CF_RAM_SIZE 0x80000u   /* RAM mapped RWX at GPA 0 */
#define CF_GDT 0x0500u         /* harness GDT (protected and long mode) */
#define CF_TSS 0x0700u         /* the TSS that TR points at */
#define CF_IDT 0x0800u         /* where protected-mode guests build an IDT */
#define CF_CODE 0x1000u        /* load address and entry point of guests */
#define CF_DATA 0x9000u        /* scratch page the guests store into */
#define CF_STACK 0xf000u       /* initial stack pointer */
#define CF_PML4 0x10000u       /* long mode: PML4, PDPT, PD (1 GiB of 2 MiB pages) */
#define CF_MMIO 0xa0000u       /* never mapped */
#define CF_REGION 0xc0000u     /* free for tests to map separately */
#define CF_REGION_PAGES 4u

/* Selectors of the harness GDT. */
#define CF_SEL_CODE32 0x08u
#define CF_SEL_DATA 0x10u
#define CF_SEL_CODE64 0x18u
#define CF_SEL_TSS 0x20u

/* Architectural bits the harness and the tests refer to. */
#define CF_CR0_PE 0x1ull
#define CF_CR0_MP 0x2ull
#define CF_CR0_ET 0x10ull
#define CF_CR0_NE 0x20ull
#define CF_CR0_PG 0x80000000ull
#define CF_CR4_PAE 0x20ull
#define CF_CR4_OSFXSR 0x200ull
#define CF_CR4_OSXMMEXCPT 0x400ull
#define CF_CR4_VMXE 0x2000ull
#define CF_EFER_LME 0x100ull
#define CF_EFER_LMA 0x400ull

/* EPT-violation exit qualification bits (Intel SDM table 28-7). */
#define CF_EPT_READ (1ull << 0)
#define CF_EPT_WRITE (1ull << 1)
#define CF_EPT_FETCH (1ull << 2)
#define CF_EPT_READABLE (1ull << 3)
#define CF_EPT_WRITABLE (1ull << 4)
#define CF_EPT_EXECUTABLE (1ull << 5)
#define CF_EPT_PERMS (CF_EPT_READABLE | CF_EPT_WRITABLE | CF_EPT_EXECUTABLE)

/* I/O exit qualification (Intel SDM table 28-5) for a non-string access. */
#define CF_IOQ(port, size, in, imm)                                           \
	((uint64_t)((size) - 1) | ((uint64_t)(in) << 3) |                     \
	    ((uint64_t)(imm) << 6) | ((uint64_t)(port) << 16))
#define CF_IOQ_STRING (1ull << 4)
#define CF_IOQ_REP (1ull << 5)

/* The VM-entry failure reason: invalid guest state, with bit 31 set. */
#define CF_ENTRY_FAIL_GUEST (0x80000000u | VMX_REASON_VMENTRY_GUEST)

/* Asserts that `call` returned `expected`, naming both codes. */
#define HV_EXPECT(expected, call)                                             \
	do {                                                                  \
		hv_return_t hv_ret_ = (call);                                 \
		hv_return_t hv_exp_ = (hv_return_t)(expected);                \
		cr_assert_eq(hv_ret_, hv_exp_, "%s returned %s, expected %s", \
		    #call, cf_strret(hv_ret_), cf_strret(hv_exp_));           \
	} while (0)

#define HV_CHECK(call) HV_EXPECT(HV_SUCCESS, call)

enum cf_mode { CF_REAL16, CF_PROT32, CF_LONG64 };

/* One VM (the process's only one), its RAM, and the calling thread's vCPU. */
struct cf_vm {
	uint8_t *ram;
	hv_vcpuid_t vcpu;
	bool has_vcpu;
	enum cf_mode mode;
};

/* The exit information a client reads after hv_vcpu_run(). */
struct cf_exit {
	uint32_t reason; /* full VMCS_RO_EXIT_REASON, including bit 31 */
	uint64_t qual;
	uint64_t rip;
	uint64_t len;
	uint64_t gpa;
	uint64_t idt_info;
};

/* Result of one memory access made by the probe guests. */
struct cf_access {
	bool faulted;        /* the access exited with an EPT violation */
	uint64_t value;      /* the value read, when a read did not fault */
	struct cf_exit exit; /* the EPT-violation exit, when faulted */
};

/* Apple clients' formula: bits that must be 1 forced on, bits that may not
 * be 1 forced off. */
uint64_t cf_cap2ctrl(uint64_t cap, uint64_t want);

/* The name of an hv_return_t code, for messages. */
const char *cf_strret(hv_return_t ret);

/* Creates the VM and maps CF_RAM_SIZE bytes of fresh anonymous memory RWX
 * at GPA 0. */
void cf_vm_create(struct cf_vm *vm);

/* Creates the vCPU on the calling thread and puts it in `mode` with the
 * harness GDT (and page tables for long mode) written into RAM. */
void cf_vcpu_create(struct cf_vm *vm, enum cf_mode mode);

/* Writes the VMCS controls and guest state of `mode` to the vCPU. */
void cf_vcpu_setup(struct cf_vm *vm, enum cf_mode mode);

/* Copies a guest image to CF_CODE and points RIP at it. */
void cf_load(struct cf_vm *vm, const uint8_t *image, size_t size);

/* cf_vm_create + cf_vcpu_create + cf_load. */
void cf_start(struct cf_vm *vm, enum cf_mode mode, const uint8_t *image,
    size_t size);

/* Destroys the vCPU, unmaps the RAM, destroys the VM, asserting each step. */
void cf_destroy(struct cf_vm *vm);

uint64_t cf_rvmcs(struct cf_vm *vm, uint32_t field);
void cf_wvmcs(struct cf_vm *vm, uint32_t field, uint64_t value);
uint64_t cf_rreg(struct cf_vm *vm, hv_x86_reg_t reg);
void cf_wreg(struct cf_vm *vm, hv_x86_reg_t reg, uint64_t value);

/* Address of the guest's n-th LABELS entry (see guests/layout.inc). */
uint64_t cf_label(struct cf_vm *vm, unsigned n);

/* Runs once and returns the full exit reason, whatever it is. */
uint32_t cf_run_raw(struct cf_vm *vm);

/* Runs until an exit other than VMX_REASON_IRQ (which a client just
 * re-runs, as Apple documents spurious returns) and returns the basic exit
 * reason (low 16 bits). */
uint32_t cf_run(struct cf_vm *vm);

/* Reads the exit fields of the last exit. */
void cf_exit_get(struct cf_vm *vm, struct cf_exit *exit);

/* A one-line description of the last exit, for assertion messages. */
const char *cf_exit_describe(struct cf_vm *vm);

/* Moves RIP forward by n bytes. */
void cf_advance(struct cf_vm *vm, uint64_t n);

/* Moves RIP over the exiting instruction (VMCS_RO_VMEXIT_INSTR_LEN). */
void cf_skip(struct cf_vm *vm);

/* Runs and asserts the basic exit reason. */
void cf_expect_exit(struct cf_vm *vm, uint32_t reason);

/* Runs and asserts a HLT exit at LABELS entry `label` with length 1. */
void cf_expect_hlt(struct cf_vm *vm, unsigned label);

/* Asserts that the last exit was a non-string I/O exit at LABELS entry
 * `label` (or anywhere when label < 0) with exactly this qualification and
 * instruction length. */
void cf_check_io(struct cf_vm *vm, int label, uint16_t port, unsigned size,
    bool in, bool imm, unsigned len);

/* Runs and asserts a non-string I/O exit at LABELS entry `label` (or
 * anywhere when label < 0) with exactly this qualification and length. */
void cf_expect_io(struct cf_vm *vm, int label, uint16_t port, unsigned size,
    bool in, bool imm, unsigned len);

/* Loads probe32 (CF_PROT32) or probe64 (CF_LONG64) into a created VM,
 * creates the vCPU and runs it to its first request. */
void cf_probe_start(struct cf_vm *vm, enum cf_mode mode);

/* Has the probe guest read (write) the naturally sized value at guest
 * address addr (4 bytes in probe32, 8 in probe64). On an EPT violation the
 * guest is left at the faulting instruction, to be finished with
 * cf_probe_complete_read/write. */
void cf_probe_read(struct cf_vm *vm, uint64_t addr, struct cf_access *out);
void cf_probe_write(struct cf_vm *vm, uint64_t addr, uint64_t value,
    struct cf_access *out);

/* Emulates a faulted read the way an MMIO client does: decodes the
 * instruction at RIP, writes `value` to its destination register, steps
 * over it, and checks that the guest goes on with that value. */
void cf_probe_complete_read(struct cf_vm *vm, uint64_t value);

/* Emulates a faulted write: decodes the instruction at RIP, returns the
 * source register (the data is not in the exit, as on VMX), steps over it
 * and resumes to the next request. */
uint64_t cf_probe_complete_write(struct cf_vm *vm);

#endif /* CONFORMANCE_HARNESS_H */
