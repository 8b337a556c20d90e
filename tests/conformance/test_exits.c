/*
 * test_exits.c: HLT, triple-fault and MSR exits.
 */
#include <inttypes.h>
#include <string.h>

#include "harness.h"

/* VMX reports HLT before it executes: RIP at the HLT, length 1, so that a
 * client's RIP += length lands after it. */
Test(exits, hlt_exits_at_the_instruction)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	cf_expect_hlt(&vm, 0);
	cf_skip(&vm);
	cf_expect_hlt(&vm, 1);
	cf_destroy(&vm);
}

/* An exception the guest cannot deliver (no IDT) escalates to a triple
 * fault, which is an exit, not a hang or a crash of the client. */
Test(exits, triple_fault_exits, .timeout = 20)
{
	struct cf_vm vm;

	cf_start(&vm, CF_PROT32, GUEST(triple32));
	cf_expect_exit(&vm, VMX_REASON_TRIPLE_FAULT);
	cf_destroy(&vm);
}

/* After a triple fault the client may reset the vCPU state and run again,
 * as a VMM does for a guest reboot. */
Test(exits, vcpu_runs_again_after_a_triple_fault, .timeout = 20)
{
	struct cf_vm vm;

	cf_start(&vm, CF_PROT32, GUEST(triple32));
	cf_expect_exit(&vm, VMX_REASON_TRIPLE_FAULT);
	cf_vcpu_setup(&vm, CF_REAL16);
	cf_load(&vm, GUEST(hlt));
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

/* MSRs the client did not make native exit: RCX names the MSR, the client
 * supplies EDX:EAX for RDMSR (or takes it for WRMSR) and steps over the
 * two-byte instruction. */
Test(exits, rdmsr_and_wrmsr_exit_to_the_client)
{
	struct cf_vm vm;
	uint32_t lo, hi;

	cf_start(&vm, CF_REAL16, GUEST(msr));
	cf_expect_exit(&vm, VMX_REASON_RDMSR);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 0), "%s",
	    cf_exit_describe(&vm));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RCX) & 0xffffffff, 0x174);
	cf_wreg(&vm, HV_X86_RAX, 0x11223344);
	cf_wreg(&vm, HV_X86_RDX, 0x55667788);
	cf_advance(&vm, 2);

	cf_expect_exit(&vm, VMX_REASON_WRMSR);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 1), "%s",
	    cf_exit_describe(&vm));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RCX) & 0xffffffff, 0x174);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RAX) & 0xffffffff, 0xcafe0001);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RDX) & 0xffffffff, 0x12345678);
	cf_advance(&vm, 2);

	cf_expect_hlt(&vm, 2);
	memcpy(&lo, vm.ram + CF_DATA, 4);
	memcpy(&hi, vm.ram + CF_DATA + 4, 4);
	cr_assert_eq(lo, 0x11223344, "the guest's RDMSR got EAX %#x", lo);
	cr_assert_eq(hi, 0x55667788, "the guest's RDMSR got EDX %#x", hi);
	cf_destroy(&vm);
}

/* A native MSR is accessed without exits; the client reads and writes the
 * guest's value with hv_vcpu_read/write_msr. */
Test(exits, native_msr_is_accessed_without_exits)
{
	struct cf_vm vm;
	uint64_t value = 0;
	uint32_t lo, hi;

	cf_start(&vm, CF_REAL16, GUEST(msr_native));
	HV_CHECK(hv_vcpu_enable_native_msr(vm.vcpu, 0x174, true));
	cf_expect_hlt(&vm, 0);
	HV_CHECK(hv_vcpu_read_msr(vm.vcpu, 0x174, &value));
	cr_assert_eq(value, 0x10, "hv_vcpu_read_msr gave %#" PRIx64
	    ", the guest wrote 0x10", value);
	HV_CHECK(hv_vcpu_write_msr(vm.vcpu, 0x174, 0x23));
	cf_skip(&vm);
	cf_expect_hlt(&vm, 1);
	memcpy(&lo, vm.ram + CF_DATA, 4);
	memcpy(&hi, vm.ram + CF_DATA + 4, 4);
	cr_assert_eq(lo, 0x23, "the guest's RDMSR got EAX %#x", lo);
	cr_assert_eq(hi, 0, "the guest's RDMSR got EDX %#x", hi);
	cf_destroy(&vm);
}

/* Turning native access off again brings the exits back. */
Test(exits, native_msr_can_be_disabled_again)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(msr));
	HV_CHECK(hv_vcpu_enable_native_msr(vm.vcpu, 0x174, true));
	HV_CHECK(hv_vcpu_enable_native_msr(vm.vcpu, 0x174, false));
	cf_expect_exit(&vm, VMX_REASON_RDMSR);
	cf_destroy(&vm);
}

/* An invalid opcode raises #UD: with bit 6 of the exception bitmap set it
 * exits as VMX_REASON_EXC_NMI (hardware exception 6, RIP at the
 * instruction); without it the guest's own handler runs. */
Test(exits, invalid_opcode_is_intercepted_by_the_exception_bitmap)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(ud2));
	cf_wvmcs(&vm, VMCS_CTRL_EXC_BITMAP, 1u << 6);
	cf_expect_exit(&vm, VMX_REASON_EXC_NMI);
	cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_VMEXIT_IRQ_INFO),
	    IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 6, "%s", cf_exit_describe(&vm));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 0), "%s",
	    cf_exit_describe(&vm));
	cf_advance(&vm, 2);
	cf_expect_hlt(&vm, 1);
	cf_destroy(&vm);
}

Test(exits, invalid_opcode_reaches_the_guest_handler)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(ud2));
	cf_wvmcs(&vm, VMCS_CTRL_EXC_BITMAP, 0);
	cf_wvmcs(&vm, VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	cf_expect_exit(&vm, VMX_REASON_IO);
	cr_assert_eq((cf_rvmcs(&vm, VMCS_RO_EXIT_QUALIFIC) >> 16) & 0xffff, 0x66,
	    "%s", cf_exit_describe(&vm));
	cf_skip(&vm);
	cf_expect_hlt(&vm, 1);
	cf_destroy(&vm);
}
