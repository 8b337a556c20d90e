/*
 * The VMCS shadow on its own: every field Apple names has a home, writable
 * fields read back what was written, read-only fields refuse writes,
 * controls obey the capabilities, and VMX-only bits stay away from KVM.
 * Runs the backend directly on a real KVM vCPU; no guest code is executed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_priv.h"
#include "vmcs_fields.h"

static struct hvb_host *host;
static struct hvb_vm *vm;
static struct hvb_vcpu *vcpu;

static void setup(void)
{
	cr_assert_eq(hvb_host_create(NULL, &host), 0);
	cr_assert_eq(hvb_vm_create(host, 0, &vm), 0);
	cr_assert_eq(hvb_vcpu_create(vm, 0, &vcpu), 0);
}

static void teardown(void)
{
	hvb_vcpu_destroy(vcpu);
	hvb_vm_destroy(vm);
	hvb_host_destroy(host);
}

TestSuite(vmcs, .init = setup, .fini = teardown);

Test(vmcs, every_apple_field_is_readable)
{
	for (size_t i = 0; i < N_APPLE_VMCS_FIELDS; i++) {
		uint64_t v;
		cr_expect_eq(hvb_vcpu_read_vmcs(vcpu, apple_vmcs_fields[i], &v), 0,
			     "field 0x%x not readable", apple_vmcs_fields[i]);
	}
}

Test(vmcs, unknown_fields_are_refused)
{
	uint64_t v;
	cr_expect_eq(hvb_vcpu_read_vmcs(vcpu, 0x6d00, &v), -ENOENT);
	cr_expect_eq(hvb_vcpu_read_vmcs(vcpu, 0x0801, &v), -ENOENT); /* high half */
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, 0xffffffff, 0), -ENOENT);
}

static uint64_t width_mask(uint32_t field)
{
	switch ((field >> 13) & 3) {
	case 0: return 0xffff;
	case 2: return 0xffffffff;
	default: return ~0ull;
	}
}

/* A value each writable field accepts, from its write masks. */
static uint64_t sample(uint32_t field, uint64_t a0, uint64_t a1, unsigned k)
{
	uint64_t pattern = 0x0123456789abcdefull * (k + 1);
	return (a0 | (pattern & a1)) & width_mask(field);
}

Test(vmcs, writable_fields_read_back)
{
	unsigned written = 0;
	for (size_t i = 0; i < N_APPLE_VMCS_FIELDS; i++) {
		uint32_t f = apple_vmcs_fields[i];
		uint64_t a0, a1, v, back;
		cr_assert_eq(hvb_vcpu_cap_write_vmcs(vcpu, f, &a0, &a1), 0, "field 0x%x", f);
		if (a1 == 0)
			continue; /* read-only */
		/* Fields whose value KVM reshapes are checked on their own. */
		if (f == VMCS_GUEST_CR0 || f == VMCS_GUEST_CR4 || f == VMCS_GUEST_IA32_EFER ||
		    f == VMCS_GUEST_IA32_PAT || f == VMCS_GUEST_DR7 ||
		    f == VMCS_GUEST_IA32_SYSENTER_CS || f == VMCS_GUEST_SYSENTER_ESP ||
		    f == VMCS_GUEST_SYSENTER_EIP || f == VMCS_GUEST_VMX_TIMER_VALUE ||
		    f == VMCS_CTRL_CR3_COUNT || f == VMCS_CTRL_VMENTRY_INSTR_LEN ||
		    f == VMCS_GUEST_RFLAGS)
			continue;
		if ((f >= VMCS_GUEST_ES_AR && f <= VMCS_GUEST_TR_AR))
			a1 &= 0x1f0ff; /* AR bits 8-11 and 17-31 are reserved */
		if (f >= VMCS_GUEST_ES_LIMIT && f <= VMCS_GUEST_TR_LIMIT)
			continue; /* KVM keeps limits consistent with G; below */
		v = sample(f, a0, a1, (unsigned)i);
		if (f == VMCS_GUEST_GDTR_LIMIT || f == VMCS_GUEST_IDTR_LIMIT)
			v &= 0xffff;
		cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, f, v), 0, "write 0x%x", f);
		cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, f, &back), 0);
		cr_expect_eq(back, v, "field 0x%x wrote 0x%llx read 0x%llx", f,
			     (unsigned long long)v, (unsigned long long)back);
		written++;
	}
	cr_expect_gt(written, 90, "only %u fields written", written);
}

Test(vmcs, msr_backed_fields_read_back)
{
	uint64_t v;
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_IA32_SYSENTER_CS, 0x10), 0);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_GUEST_IA32_SYSENTER_CS, &v), 0);
	cr_expect_eq(v, 0x10);
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_SYSENTER_ESP, 0xffff800012345678ull), 0);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_GUEST_SYSENTER_ESP, &v), 0);
	cr_expect_eq(v, 0xffff800012345678ull);
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_IA32_PAT, 0x0007040600070406ull), 0);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_GUEST_IA32_PAT, &v), 0);
	cr_expect_eq(v, 0x0007040600070406ull);
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_DR7, 0x403), 0);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_GUEST_DR7, &v), 0);
	cr_expect_eq(v, 0x403);
}

Test(vmcs, readonly_fields_refuse_writes)
{
	static const uint32_t ro[] = {
		VMCS_RO_EXIT_REASON, VMCS_RO_EXIT_QUALIFIC, VMCS_RO_VMEXIT_INSTR_LEN,
		VMCS_RO_IDT_VECTOR_INFO, VMCS_RO_VMEXIT_IRQ_INFO, VMCS_GUEST_PHYSICAL_ADDRESS,
		VMCS_RO_GUEST_LIN_ADDR, VMCS_CTRL_TSC_OFFSET, VMCS_CTRL_APIC_ACCESS,
		VMCS_CTRL_EPTP, VMCS_CTRL_MSR_BITMAPS,
	};
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		uint64_t a0 = 1, a1 = 1;
		cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, ro[i], 0), -EINVAL, "0x%x", ro[i]);
		cr_expect_eq(hvb_vcpu_cap_write_vmcs(vcpu, ro[i], &a0, &a1), 0);
		cr_expect_eq(a0 | a1, 0);
	}
}

Test(vmcs, values_wider_than_the_field_are_refused)
{
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_CS, 0x10000), -EINVAL);
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_CTRL_EXC_BITMAP, 1ull << 32), -EINVAL);
}

static uint64_t cap2ctrl(unsigned cap, uint64_t want)
{
	uint64_t c;
	cr_assert_eq(hvb_vmx_read_capability(host, cap, &c), 0);
	return (want | (c & 0xffffffff)) & (c >> 32);
}

Test(vmcs, controls_obey_capabilities)
{
	static const struct { unsigned cap; uint32_t field; } ctl[] = {
		{ HV_VMX_CAP_PINBASED, VMCS_CTRL_PIN_BASED },
		{ HV_VMX_CAP_PROCBASED, VMCS_CTRL_CPU_BASED },
		{ HV_VMX_CAP_PROCBASED2, VMCS_CTRL_CPU_BASED2 },
		{ HV_VMX_CAP_ENTRY, VMCS_CTRL_VMENTRY_CONTROLS },
		{ HV_VMX_CAP_EXIT, VMCS_CTRL_VMEXIT_CONTROLS },
	};
	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		uint64_t cap, a0, a1, v;
		cr_assert_eq(hvb_vmx_read_capability(host, ctl[i].cap, &cap), 0);
		cr_assert_eq(hvb_vcpu_cap_write_vmcs(vcpu, ctl[i].field, &a0, &a1), 0);
		cr_expect_eq(a0, cap & 0xffffffff);
		cr_expect_eq(a1, cap >> 32);
		cr_expect_eq(a0 & ~a1, 0, "must-be-1 bits are also may-be-1");
		/* The client's usual recipe is accepted... */
		v = cap2ctrl(ctl[i].cap, 0xffffffff);
		cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, ctl[i].field, v), 0);
		/* ...a missing must-be-1 bit or an extra bit is not. */
		if (a0)
			cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, ctl[i].field, v & ~a0), -EINVAL);
		if (~a1 & 0xffffffff)
			cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, ctl[i].field,
							 v | (~a1 & 0xffffffff)), -EINVAL);
	}
}

Test(vmcs, cr4_vmxe_stays_in_the_clients_view)
{
	uint64_t v;
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_CR4, 0x2000 | 0x20), 0);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_GUEST_CR4, &v), 0);
	cr_expect_eq(v, 0x2020);
	cr_expect_eq(vcpu->st.sregs.cr4 & 0x2000, 0, "VMXE reached KVM");
	cr_expect(vcpu->st.dirty & KVM_SYNC_X86_SREGS);
}

Test(vmcs, cr0_refuses_cache_disable)
{
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_CR0, 0x20 | (1ull << 30)), -EINVAL);
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_CR0, 0x20 | (1ull << 29)), -EINVAL);
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_CR0, 0x21), 0);
}

Test(vmcs, activity_state_only_active_or_hlt)
{
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_ACTIVITY_STATE, 0), 0);
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_ACTIVITY_STATE, 1), 0);
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_ACTIVITY_STATE, 2), -EINVAL);
}

Test(vmcs, interruptibility_maps_to_kvm_events)
{
	uint64_t v;
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_INTERRUPTIBILITY,
					 GUEST_INTRBILITY_STI_BLOCKING | GUEST_INTRBILITY_NMI_BLOCKING), 0);
	cr_expect_eq(vcpu->st.events.interrupt.shadow, KVM_X86_SHADOW_INT_STI);
	cr_expect_eq(vcpu->st.events.nmi.masked, 1);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_GUEST_INTERRUPTIBILITY, &v), 0);
	cr_expect_eq(v, GUEST_INTRBILITY_STI_BLOCKING | GUEST_INTRBILITY_NMI_BLOCKING);
	cr_expect_eq(hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_INTERRUPTIBILITY, 0x10), -EINVAL);
}

Test(vmcs, segment_access_rights_round_trip)
{
	/* Every AR value with the reserved bits clear survives the trip
	 * through KVM's segment representation. */
	for (uint32_t ar = 0; ar < 0x20000; ar++) {
		if (ar & 0xf00)
			continue;
		struct kvm_segment s;
		memset(&s, 0, sizeof(s));
		hvs_seg_from_ar(&s, ar);
		cr_assert_eq(hvs_seg_to_ar(&s), ar, "AR 0x%x", ar);
	}
}
