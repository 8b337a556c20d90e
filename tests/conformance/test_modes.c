/*
 * test_modes.c: guests entered directly in 32-bit protected mode and in
 * 64-bit long mode, with the state set up only through VMCS fields, as
 * xhyve does for a kernel it boots.
 */
#include <inttypes.h>
#include <string.h>

#include "harness.h"

Test(modes, protected_mode_guest_runs_with_flat_segments)
{
	struct cf_vm vm;
	uint32_t stored;

	cf_start(&vm, CF_PROT32, GUEST(pm32));
	cf_expect_io(&vm, 0, 0x10, 4, false, true, 2);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RAX) & (CF_CR0_PE | CF_CR0_NE),
	    CF_CR0_PE | CF_CR0_NE, "the guest's CR0 is %#" PRIx64,
	    cf_rreg(&vm, HV_X86_RAX));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RBX) & 0xffffffff, CF_STACK);
	memcpy(&stored, vm.ram + 0x40000, sizeof(stored));
	cr_assert_eq(stored, 0xc0ffee32, "store above 64 KiB: %#x", stored);
	cf_skip(&vm);
	cf_expect_hlt(&vm, 1);
	cf_destroy(&vm);
}

Test(modes, long_mode_guest_computes_in_64_bit_registers)
{
	struct cf_vm vm;
	uint64_t stored;

	cf_start(&vm, CF_LONG64, GUEST(lm_sum));
	cf_expect_io(&vm, 0, 0x10, 1, false, true, 2);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RAX), 500500);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RBX), 0x123456789abcdef0);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RDX), 0x12345678);
	memcpy(&stored, vm.ram + CF_DATA, sizeof(stored));
	cr_assert_eq(stored, 500500);
	/* The client sees the long-mode state it set up. */
	cr_assert_eq(cf_rvmcs(&vm, VMCS_GUEST_IA32_EFER) & (CF_EFER_LME | CF_EFER_LMA),
	    CF_EFER_LME | CF_EFER_LMA);
	cr_assert(cf_rvmcs(&vm, VMCS_CTRL_VMENTRY_CONTROLS) & VMENTRY_GUEST_IA32E);
	cf_skip(&vm);
	cf_expect_hlt(&vm, 1);
	cf_destroy(&vm);
}

/* MMIO in long mode: 8-byte reads and writes of unmapped guest-physical
 * memory stop at the instruction for the client to emulate. */
Test(modes, long_mode_mmio_is_emulated_by_the_client)
{
	struct cf_access a;
	struct cf_vm vm;
	uint64_t stored;

	cf_vm_create(&vm);
	cf_probe_start(&vm, CF_LONG64);

	cf_probe_read(&vm, CF_MMIO + 8, &a);
	cr_assert(a.faulted, "MMIO read did not exit");
	cr_assert_eq(a.exit.reason, VMX_REASON_EPT_VIOLATION);
	cr_assert_eq(a.exit.gpa, CF_MMIO + 8);
	cr_assert_eq(a.exit.qual & (CF_EPT_READ | CF_EPT_WRITE), CF_EPT_READ,
	    "qualification %#" PRIx64, a.exit.qual);
	cf_probe_complete_read(&vm, 0x1122334455667788);

	cf_probe_write(&vm, CF_MMIO + 0x18, 0x8877665544332211, &a);
	cr_assert(a.faulted, "MMIO write did not exit");
	cr_assert_eq(a.exit.gpa, CF_MMIO + 0x18);
	cr_assert_eq(a.exit.qual & (CF_EPT_READ | CF_EPT_WRITE), CF_EPT_WRITE,
	    "qualification %#" PRIx64, a.exit.qual);
	cr_assert_eq(cf_probe_complete_write(&vm), 0x8877665544332211);

	/* Guest-virtual addresses mapped by the guest's page tables but not
	 * backed by RAM are MMIO too. */
	cf_probe_read(&vm, 0x200000, &a);
	cr_assert(a.faulted, "read of unbacked memory did not exit");
	cr_assert_eq(a.exit.gpa, 0x200000);
	cf_probe_complete_read(&vm, 42);

	/* RAM is still plain memory. */
	cf_probe_write(&vm, CF_DATA, 0x0102030405060708, &a);
	cr_assert_not(a.faulted);
	memcpy(&stored, vm.ram + CF_DATA, sizeof(stored));
	cr_assert_eq(stored, 0x0102030405060708);
	cf_destroy(&vm);
}
