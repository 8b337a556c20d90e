/*
 * test_misbehave.c: guests that go wrong.
 *
 * Whatever a guest does, hv_vcpu_run returns with an exit the client can
 * act on, the client stays alive, and the vCPU can be reset and reused.
 * Fetching from guest-physical memory nothing backs is an EPT violation
 * with the fetch bit (48); a fault the guest cannot take ends as a triple
 * fault (2), which is also the backend's documented exit for guest code
 * KVM cannot run.
 */
#include <inttypes.h>

#include <criterion/logging.h>

#include "harness.h"

/* Asserts an exit for a fetch from gpa: an EPT violation naming it, or
 * the documented triple-fault exit. */
static void expect_fetch_failure(struct cf_vm *vm, uint64_t gpa)
{
	uint32_t reason = cf_run(vm);

	cr_log_info("jump to %#" PRIx64 ": %s", gpa, cf_exit_describe(vm));
	if (reason == VMX_REASON_EPT_VIOLATION) {
		uint64_t q = cf_rvmcs(vm, VMCS_RO_EXIT_QUALIFIC);

		cr_assert(q & CF_EPT_FETCH, "not a fetch: %s", cf_exit_describe(vm));
		cr_assert_eq(cf_rvmcs(vm, VMCS_GUEST_PHYSICAL_ADDRESS), gpa,
		    "%s", cf_exit_describe(vm));
		cr_assert_eq(q & CF_EPT_PERMS, 0, "%s", cf_exit_describe(vm));
	} else {
		cr_assert_eq(reason, VMX_REASON_TRIPLE_FAULT,
		    "unexpected exit for a jump to %#" PRIx64 ": %s", gpa,
		    cf_exit_describe(vm));
	}
}

/* The vCPU still works: reset it to real mode and run a HLT. */
static void expect_reusable(struct cf_vm *vm)
{
	cf_vcpu_setup(vm, CF_REAL16);
	cf_load(vm, GUEST(hlt));
	cf_expect_hlt(vm, 0);
}

Test(misbehave, real_mode_jump_to_unmapped_memory_exits, .timeout = 20)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(jmp_far16));
	expect_fetch_failure(&vm, 0xb0000);
	expect_reusable(&vm);
	cf_destroy(&vm);
}

static void long_jump(uint64_t target, bool backed_by_page_tables)
{
	struct cf_vm vm;

	cf_start(&vm, CF_LONG64, GUEST(jmp_rax64));
	cf_wreg(&vm, HV_X86_RAX, target);
	if (backed_by_page_tables)
		expect_fetch_failure(&vm, target);
	else
		cf_expect_exit(&vm, VMX_REASON_TRIPLE_FAULT);
	expect_reusable(&vm);
	cf_destroy(&vm);
}

/* Mapped by the guest's page tables, not by hv_vm_map. */
Test(misbehave, long_mode_jump_to_unbacked_memory_exits, .timeout = 20)
{
	long_jump(0x20000000, true);
}

/* Not mapped by the guest's page tables: #PF with no IDT. */
Test(misbehave, long_mode_jump_past_the_page_tables_triple_faults, .timeout = 20)
{
	long_jump(0x80000000, false);
}

/* A non-canonical target raises #GP with no IDT. */
Test(misbehave, non_canonical_jump_triple_faults, .timeout = 20)
{
	long_jump(0x0000800000000000, false);
}

/* Zeroed RAM decodes as `add [rax], al`: the guest slides through it to
 * the end of RAM and then fetches from unbacked memory. */
Test(misbehave, wild_jump_into_zeroed_ram_ends_in_an_exit, .timeout = 30)
{
	struct cf_vm vm;

	cf_start(&vm, CF_LONG64, GUEST(jmp_rax64));
	cf_wreg(&vm, HV_X86_RAX, CF_RAM_SIZE - 0x2000);
	expect_fetch_failure(&vm, CF_RAM_SIZE);
	expect_reusable(&vm);
	cf_destroy(&vm);
}

/* A guest that keeps faulting keeps exiting; each run returns. */
Test(misbehave, repeated_triple_faults_keep_returning, .timeout = 20)
{
	struct cf_vm vm;

	cf_start(&vm, CF_PROT32, GUEST(triple32));
	for (int i = 0; i < 5; i++) {
		cf_vcpu_setup(&vm, CF_PROT32);
		cf_expect_exit(&vm, VMX_REASON_TRIPLE_FAULT);
	}
	cf_destroy(&vm);
}
