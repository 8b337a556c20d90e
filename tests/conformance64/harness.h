/*
 * harness.h: a minimal client of Apple's arm64 Hypervisor.framework API for
 * the arm64 conformance tests.
 *
 * Everything goes through <Hypervisor/Hypervisor.h> only, the way Apple
 * Silicon clients (QEMU's hvf, libkrun) drive it: guest RAM from
 * hv_vm_allocate, vCPUs at EL1h (CPSR 0x3c5) with the MMU off, data aborts
 * decoded from the syndrome and completed by the client (Rt, PC + 4).
 * Helpers assert with Criterion, so a test reads as a list of
 * expectations.
 */
#ifndef CONFORMANCE64_HARNESS_H
#define CONFORMANCE64_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Hypervisor/Hypervisor.h>
#include <criterion/criterion.h>

#include "guests.h"

/* Guest-physical layout (QEMU virt's RAM base and PL011 address). */
#define CF64_PAGE 0x1000u
#define CF64_RAM 0x40000000ull    /* RAM mapped RWX; guests load here */
#define CF64_RAM_SIZE 0x20000u
#define CF64_DATA (CF64_RAM + 0x10000u) /* scratch the guests use */
#define CF64_STACK (CF64_RAM + 0x1f000u) /* SP_EL1: 4 KiB below the top */
#define CF64_MMIO 0x09000000ull   /* never mapped */
#define CF64_REGION 0x50000000ull /* free for tests to map separately */
#define CF64_UNMAPPED 0x60000000ull

/* PSTATE of an EL1h vCPU with D, A, I, F masked. */
#define CF64_CPSR_EL1H 0x3c5u
/* CPACR_EL1.FPEN = 0b11: FP and SIMD at EL1 without traps. */
#define CF64_CPACR_FPEN (3ull << 20)

/* ESR fields. */
#define CF64_EC(esr) ((unsigned)((esr) >> 26) & 0x3fu)
#define CF64_IL (1ull << 25)
#define CF64_EC_HVC 0x16u
#define CF64_EC_SMC 0x17u
#define CF64_EC_IABT_LOW 0x20u
#define CF64_EC_IABT_CUR 0x21u
#define CF64_EC_DABT_LOW 0x24u
#define CF64_EC_BRK 0x3cu
/* The syndrome of HVC #imm / SMC #imm: EC, IL, imm16. */
#define CF64_ESR_HVC(imm) (0x5a000000ull | (uint16_t)(imm))
#define CF64_ESR_SMC(imm) (0x5e000000ull | (uint16_t)(imm))
/* Data abort fault status codes the backend reports (docs/arm64.md). */
#define CF64_DFSC_TRANSLATION_L3 0x07u
#define CF64_DFSC_PERMISSION_L3 0x0fu

/* Asserts that `call` returned `expected`, naming both codes. */
#define HV_EXPECT(expected, call)                                             \
	do {                                                                  \
		hv_return_t hv_ret_ = (call);                                 \
		hv_return_t hv_exp_ = (hv_return_t)(expected);                \
		cr_assert_eq(hv_ret_, hv_exp_, "%s returned %s, expected %s", \
		    #call, cf64_strret(hv_ret_), cf64_strret(hv_exp_));       \
	} while (0)

#define HV_CHECK(call) HV_EXPECT(HV_SUCCESS, call)

/* The process's one VM, its RAM, and the calling thread's vCPU. */
struct cf64 {
	uint8_t *ram;            /* CF64_RAM_SIZE bytes at CF64_RAM */
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;
	bool has_vcpu;
};

/* The name of an hv_return_t code, for messages. */
const char *cf64_strret(hv_return_t ret);

/* Creates the VM (default configuration) and maps CF64_RAM_SIZE bytes of
 * hv_vm_allocate memory RWX at CF64_RAM. */
void cf64_vm_create(struct cf64 *vm);

/* Creates the calling thread's vCPU at EL1h, SP_EL1 = CF64_STACK, FP and
 * SIMD enabled, PC = CF64_RAM. */
void cf64_vcpu_create(struct cf64 *vm);

/* Copies a guest to CF64_RAM (the RAM's start) and points PC at it. */
void cf64_load(struct cf64 *vm, struct cf64_guest guest);

/* cf64_vm_create + cf64_vcpu_create + cf64_load. */
void cf64_start(struct cf64 *vm, struct cf64_guest guest);

/* Destroys the vCPU, unmaps and frees the RAM, destroys the VM, asserting
 * each step. */
void cf64_destroy(struct cf64 *vm);

/* The host's view of guest-physical `ipa` inside the RAM. */
void *cf64_ptr(struct cf64 *vm, uint64_t ipa);

uint64_t cf64_rreg(struct cf64 *vm, hv_reg_t reg);
void cf64_wreg(struct cf64 *vm, hv_reg_t reg, uint64_t value);
uint64_t cf64_rsys(struct cf64 *vm, hv_sys_reg_t reg);
void cf64_wsys(struct cf64 *vm, hv_sys_reg_t reg, uint64_t value);

/* Moves PC forward by one instruction. */
void cf64_skip(struct cf64 *vm);

/* Runs once, asserts HV_SUCCESS, returns exit->reason. */
uint32_t cf64_run(struct cf64 *vm);

/* A one-line description of the last exit, for assertion messages. */
const char *cf64_exit_describe(struct cf64 *vm);

/* Runs and asserts an exception exit with exactly this syndrome. */
void cf64_expect_exception(struct cf64 *vm, uint64_t esr);

/* Runs and asserts the exit of HVC #imm, PC after the HVC (as Apple
 * leaves it). */
void cf64_expect_hvc(struct cf64 *vm, uint16_t imm);

/* The syndrome of a data abort with a valid ISS, as the backend builds it
 * (docs/arm64.md): sas = log2(size). */
uint64_t cf64_esr_dabt(bool write, unsigned sas, bool sse, unsigned srt,
    bool sf, bool ar, unsigned dfsc);

/* Runs the vCPU once while another thread calls hv_vcpus_exit on it
 * after `ms` milliseconds; asserts HV_SUCCESS, returns exit->reason. */
uint32_t cf64_run_with_cancel(struct cf64 *vm, unsigned ms);

#endif /* CONFORMANCE64_HARNESS_H */
