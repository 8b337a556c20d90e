/*
 * test_controls.c: VMX capabilities and execution controls.
 *
 * Clients never hard-code controls: they read the capability, which has
 * the IA32_VMX_*_CTLS layout (low half: bits that must be 1, high half:
 * bits that may be 1), and compute cap2ctrl(). The backend has to refuse
 * what it cannot honour, and VM entry has to fail where VMX fails.
 */
#include <inttypes.h>

#include "harness.h"

struct control {
	hv_vmx_capability_t cap;
	uint32_t field;
	const char *name;
};

static const struct control controls[] = {
	{ HV_VMX_CAP_PINBASED, VMCS_CTRL_PIN_BASED, "pin-based" },
	{ HV_VMX_CAP_PROCBASED, VMCS_CTRL_CPU_BASED, "processor-based" },
	{ HV_VMX_CAP_PROCBASED2, VMCS_CTRL_CPU_BASED2, "secondary processor-based" },
	{ HV_VMX_CAP_ENTRY, VMCS_CTRL_VMENTRY_CONTROLS, "VM-entry" },
};

#define N_CONTROLS (sizeof(controls) / sizeof(controls[0]))

Test(controls, capabilities_have_the_allowed_0_allowed_1_layout)
{
	static const hv_vmx_capability_t caps[] = {
		HV_VMX_CAP_PINBASED, HV_VMX_CAP_PROCBASED, HV_VMX_CAP_PROCBASED2,
		HV_VMX_CAP_ENTRY, HV_VMX_CAP_EXIT,
	};

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		uint64_t cap = 0;
		uint32_t must = 0, may = 0;

		HV_CHECK(hv_vmx_read_capability(caps[i], &cap));
		must = (uint32_t)cap;
		may = (uint32_t)(cap >> 32);
		cr_expect_eq(must & ~may, 0, "capability %d: bits %#x must be 1 "
		    "but may not be 1 (%#" PRIx64 ")", (int)caps[i],
		    must & ~may, cap);
	}
	HV_CHECK(hv_vm_destroy());
}

/* The exits the conformance suite relies on are all available. */
Test(controls, capabilities_allow_the_exits_clients_need)
{
	uint64_t proc;

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vmx_read_capability(HV_VMX_CAP_PROCBASED, &proc));
	cr_expect(proc & ((uint64_t)CPU_BASED_HLT << 32), "HLT exiting not allowed");
	cr_expect(proc & ((uint64_t)CPU_BASED_IRQ_WND << 32),
	    "interrupt-window exiting not allowed");
	cr_expect(proc & ((uint64_t)(CPU_BASED_UNCOND_IO | CPU_BASED_IO_BITMAPS) << 32),
	    "no form of I/O exiting allowed");
	HV_CHECK(hv_vm_destroy());
}

Test(controls, cap2ctrl_values_are_accepted)
{
	struct cf_vm vm;

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	for (size_t i = 0; i < N_CONTROLS; i++) {
		uint64_t cap, lo, hi;

		HV_CHECK(hv_vmx_read_capability(controls[i].cap, &cap));
		lo = cf_cap2ctrl(cap, 0);
		hi = cf_cap2ctrl(cap, UINT32_MAX);
		cf_wvmcs(&vm, controls[i].field, lo);
		cr_expect_eq(cf_rvmcs(&vm, controls[i].field), lo,
		    "%s controls: minimal value did not read back", controls[i].name);
		cf_wvmcs(&vm, controls[i].field, hi);
		cr_expect_eq(cf_rvmcs(&vm, controls[i].field), hi,
		    "%s controls: maximal value did not read back", controls[i].name);
	}
	cf_destroy(&vm);
}

/* A control value that sets a bit the capability forbids, or clears one
 * it requires, is refused and leaves the control unchanged. */
Test(controls, values_outside_the_capability_are_rejected)
{
	struct cf_vm vm;

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	for (size_t i = 0; i < N_CONTROLS; i++) {
		uint64_t cap, base;
		uint32_t must, may;

		HV_CHECK(hv_vmx_read_capability(controls[i].cap, &cap));
		must = (uint32_t)cap;
		may = (uint32_t)(cap >> 32);
		base = cf_cap2ctrl(cap, 0);
		cf_wvmcs(&vm, controls[i].field, base);
		for (int bit = 0; bit < 32; bit++) {
			uint32_t m = 1u << bit;
			uint64_t bad;

			if (!(may & m))
				bad = base | m;
			else if (must & m)
				bad = base & ~(uint64_t)m;
			else
				continue;
			HV_EXPECT(HV_BAD_ARGUMENT,
			    hv_vmx_vcpu_write_vmcs(vm.vcpu, controls[i].field, bad));
		}
		cr_expect_eq(cf_rvmcs(&vm, controls[i].field), base,
		    "%s controls changed by a refused write", controls[i].name);
	}
	cf_destroy(&vm);
}

Test(controls, cap_write_vmcs_matches_the_capabilities)
{
	struct cf_vm vm;

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	for (size_t i = 0; i < N_CONTROLS; i++) {
		uint64_t cap, a0 = 0, a1 = 0;

		HV_CHECK(hv_vmx_read_capability(controls[i].cap, &cap));
		HV_CHECK(hv_vmx_vcpu_get_cap_write_vmcs(vm.vcpu, controls[i].field,
		    &a0, &a1));
		cr_expect_eq(a0, cap & 0xffffffff, "%s: allowed_0 %#" PRIx64
		    " vs capability %#" PRIx64, controls[i].name, a0, cap);
		cr_expect_eq(a1, cap >> 32, "%s: allowed_1 %#" PRIx64
		    " vs capability %#" PRIx64, controls[i].name, a1, cap);
	}
	cf_destroy(&vm);
}

/* VMX requires CR4.VMXE and CR0.NE in the guest. Without them VM entry
 * fails: hv_vcpu_run itself succeeds and the exit reason is "invalid guest
 * state" with bit 31 set, and the guest has not run. */
static void expect_entry_failure(uint32_t field, uint64_t value)
{
	struct cf_vm vm;
	uint32_t reason;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	cf_wvmcs(&vm, field, value);
	reason = cf_run_raw(&vm);
	cr_assert_eq(reason, CF_ENTRY_FAIL_GUEST, "expected a failed VM entry "
	    "(%#x): %s", CF_ENTRY_FAIL_GUEST, cf_exit_describe(&vm));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), CF_CODE, "the guest ran");
	cf_destroy(&vm);
}

Test(controls, entry_without_cr4_vmxe_fails)
{
	expect_entry_failure(VMCS_GUEST_CR4, 0);
}

Test(controls, entry_without_cr0_ne_fails)
{
	expect_entry_failure(VMCS_GUEST_CR0, CF_CR0_ET);
}

/* After a failed entry the client fixes the state and the guest runs. */
Test(controls, failed_entry_can_be_fixed_and_retried)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	cf_wvmcs(&vm, VMCS_GUEST_CR4, 0);
	cr_assert_eq(cf_run_raw(&vm), CF_ENTRY_FAIL_GUEST);
	cf_wvmcs(&vm, VMCS_GUEST_CR4, CF_CR4_VMXE);
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}
