/*
 * test_vcpu.c: vCPU ownership, registers, VMCS guest state, FPU state and
 * the small per-vCPU calls.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct reg_value {
	hv_x86_reg_t reg;
	uint64_t value;
};

/* A value for every register that is architecturally valid for it, so a
 * backend that applies the register to real vCPU state keeps it whole. */
static const struct reg_value reg_values[] = {
	{ HV_X86_RIP, 0x1234 },
	{ HV_X86_RFLAGS, 0x257 },
	{ HV_X86_RAX, 0x0123456789ab0002 },
	{ HV_X86_RCX, 0x0123456789ab0003 },
	{ HV_X86_RDX, 0x0123456789ab0004 },
	{ HV_X86_RBX, 0x0123456789ab0005 },
	{ HV_X86_RSI, 0x0123456789ab0006 },
	{ HV_X86_RDI, 0x0123456789ab0007 },
	{ HV_X86_RSP, 0x0123456789ab0008 },
	{ HV_X86_RBP, 0x0123456789ab0009 },
	{ HV_X86_R8, 0x0123456789ab000a },
	{ HV_X86_R9, 0x0123456789ab000b },
	{ HV_X86_R10, 0x0123456789ab000c },
	{ HV_X86_R11, 0x0123456789ab000d },
	{ HV_X86_R12, 0x0123456789ab000e },
	{ HV_X86_R13, 0x0123456789ab000f },
	{ HV_X86_R14, 0x0123456789ab0010 },
	{ HV_X86_R15, 0x0123456789ab0011 },
	{ HV_X86_CS, 0x08 },
	{ HV_X86_SS, 0x10 },
	{ HV_X86_DS, 0x18 },
	{ HV_X86_ES, 0x20 },
	{ HV_X86_FS, 0x28 },
	{ HV_X86_GS, 0x30 },
	{ HV_X86_IDT_BASE, 0x12340 },
	{ HV_X86_IDT_LIMIT, 0x3ff },
	{ HV_X86_GDT_BASE, 0x5000 },
	{ HV_X86_GDT_LIMIT, 0x2f },
	{ HV_X86_LDTR, 0x38 },
	{ HV_X86_LDT_BASE, 0x6000 },
	{ HV_X86_LDT_LIMIT, 0xfff },
	{ HV_X86_LDT_AR, 0x82 },
	{ HV_X86_TR, 0x40 },
	{ HV_X86_TSS_BASE, 0x7000 },
	{ HV_X86_TSS_LIMIT, 0x67 },
	{ HV_X86_TSS_AR, 0x8b },
	{ HV_X86_CR0, CF_CR0_NE | CF_CR0_ET | CF_CR0_MP | CF_CR0_PE },
	{ HV_X86_CR2, 0xdeadb000 },
	{ HV_X86_CR3, 0x10000 },
	{ HV_X86_CR4, CF_CR4_VMXE | CF_CR4_PAE },
	{ HV_X86_DR0, 0x1000 },
	{ HV_X86_DR1, 0x2000 },
	{ HV_X86_DR2, 0x3000 },
	{ HV_X86_DR3, 0x4000 },
	{ HV_X86_DR6, 0xffff0ff1 },
	{ HV_X86_DR7, 0x401 },
	{ HV_X86_TPR, 0x5 },
	{ HV_X86_XCR0, 0x1 },
};

/* Registers that exist only by name: writes succeed, reads may give 0. */
static const hv_x86_reg_t reg_placeholders[] = {
	HV_X86_CR1, HV_X86_DR4, HV_X86_DR5,
};

Test(vcpu, every_register_reads_back_what_was_written)
{
	struct cf_vm vm;
	bool covered[HV_X86_REGISTERS_MAX] = { false };

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	for (size_t i = 0; i < sizeof(reg_values) / sizeof(reg_values[0]); i++)
		cf_wreg(&vm, reg_values[i].reg, reg_values[i].value);
	for (size_t i = 0; i < sizeof(reg_values) / sizeof(reg_values[0]); i++) {
		uint64_t got = cf_rreg(&vm, reg_values[i].reg);

		covered[reg_values[i].reg] = true;
		cr_expect_eq(got, reg_values[i].value, "register %d: wrote %#"
		    PRIx64 ", read %#" PRIx64, (int)reg_values[i].reg,
		    reg_values[i].value, got);
	}
	for (size_t i = 0; i < sizeof(reg_placeholders) / sizeof(reg_placeholders[0]); i++) {
		uint64_t got;

		covered[reg_placeholders[i]] = true;
		HV_CHECK(hv_vcpu_write_register(vm.vcpu, reg_placeholders[i], 0));
		HV_CHECK(hv_vcpu_read_register(vm.vcpu, reg_placeholders[i], &got));
	}
	for (int r = 0; r < HV_X86_REGISTERS_MAX; r++)
		cr_assert(covered[r], "register %d is not in the test table", r);
	cf_destroy(&vm);
}

Test(vcpu, register_ids_past_the_last_are_bad_arguments)
{
	struct cf_vm vm;
	uint64_t v;

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vcpu_read_register(vm.vcpu, HV_X86_REGISTERS_MAX, &v));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vcpu_write_register(vm.vcpu, HV_X86_REGISTERS_MAX, 0));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vcpu_read_register(vm.vcpu, (hv_x86_reg_t)1000, &v));
	cf_destroy(&vm);
}

struct vmcs_value {
	uint32_t field;
	uint64_t value;
};

/* The guest-state fields Apple documents as readable and writable, with
 * values that make a consistent 64-bit guest. */
static const struct vmcs_value vmcs_values[] = {
	{ VMCS_GUEST_ES, 0x10 }, { VMCS_GUEST_CS, 0x18 },
	{ VMCS_GUEST_SS, 0x10 }, { VMCS_GUEST_DS, 0x10 },
	{ VMCS_GUEST_FS, 0x10 }, { VMCS_GUEST_GS, 0x10 },
	{ VMCS_GUEST_LDTR, 0x28 }, { VMCS_GUEST_TR, 0x20 },
	{ VMCS_GUEST_ES_BASE, 0x1000 }, { VMCS_GUEST_CS_BASE, 0 },
	{ VMCS_GUEST_SS_BASE, 0x3000 }, { VMCS_GUEST_DS_BASE, 0x4000 },
	{ VMCS_GUEST_FS_BASE, 0x7fff12345000 }, { VMCS_GUEST_GS_BASE, 0xffff800000001000 },
	{ VMCS_GUEST_LDTR_BASE, 0x6000 }, { VMCS_GUEST_TR_BASE, 0x700 },
	{ VMCS_GUEST_ES_LIMIT, 0xfffff }, { VMCS_GUEST_CS_LIMIT, 0xffffffff },
	{ VMCS_GUEST_SS_LIMIT, 0xffffffff }, { VMCS_GUEST_DS_LIMIT, 0xffff },
	{ VMCS_GUEST_FS_LIMIT, 0xffffffff }, { VMCS_GUEST_GS_LIMIT, 0xffffffff },
	{ VMCS_GUEST_LDTR_LIMIT, 0xfff }, { VMCS_GUEST_TR_LIMIT, 0x67 },
	{ VMCS_GUEST_ES_AR, 0xc093 }, { VMCS_GUEST_CS_AR, 0xa09b },
	{ VMCS_GUEST_SS_AR, 0xc093 }, { VMCS_GUEST_DS_AR, 0x4093 },
	{ VMCS_GUEST_FS_AR, 0xc0f3 }, { VMCS_GUEST_GS_AR, 0xc093 },
	{ VMCS_GUEST_LDTR_AR, 0x82 }, { VMCS_GUEST_TR_AR, 0x8b },
	{ VMCS_GUEST_GDTR_BASE, 0x500 }, { VMCS_GUEST_GDTR_LIMIT, 0x37 },
	{ VMCS_GUEST_IDTR_BASE, 0x800 }, { VMCS_GUEST_IDTR_LIMIT, 0xfff },
	{ VMCS_GUEST_CR0, CF_CR0_PG | CF_CR0_NE | CF_CR0_ET | CF_CR0_PE },
	{ VMCS_GUEST_CR3, 0x10000 },
	{ VMCS_GUEST_CR4, CF_CR4_VMXE | CF_CR4_PAE | CF_CR4_OSFXSR },
	{ VMCS_GUEST_IA32_EFER, CF_EFER_LME | CF_EFER_LMA },
	{ VMCS_GUEST_RIP, 0x1234 }, { VMCS_GUEST_RSP, 0xe000 },
	{ VMCS_GUEST_RFLAGS, 0x246 }, { VMCS_GUEST_DR7, 0x401 },
	{ VMCS_GUEST_IA32_PAT, 0x0007040600070106 },
	{ VMCS_GUEST_IA32_SYSENTER_CS, 0x10 }, { VMCS_GUEST_SYSENTER_ESP, 0x9000 },
	{ VMCS_GUEST_SYSENTER_EIP, 0x1200 },
	{ VMCS_GUEST_INTERRUPTIBILITY, GUEST_INTRBILITY_STI_BLOCKING },
	{ VMCS_GUEST_ACTIVITY_STATE, 1 }, /* HLT */
};

Test(vcpu, vmcs_guest_state_reads_back_what_was_written)
{
	struct cf_vm vm;

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	for (size_t i = 0; i < sizeof(vmcs_values) / sizeof(vmcs_values[0]); i++)
		cf_wvmcs(&vm, vmcs_values[i].field, vmcs_values[i].value);
	for (size_t i = 0; i < sizeof(vmcs_values) / sizeof(vmcs_values[0]); i++) {
		uint64_t got = cf_rvmcs(&vm, vmcs_values[i].field);

		cr_expect_eq(got, vmcs_values[i].value, "VMCS field %#x: wrote %#"
		    PRIx64 ", read %#" PRIx64, vmcs_values[i].field,
		    vmcs_values[i].value, got);
	}
	cf_destroy(&vm);
}

/* VMX demands CR4.VMXE in the guest; KVM must not see it, but the client
 * must get back what it wrote, in both views of the register. */
Test(vcpu, cr4_reads_back_with_vmxe)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	cf_wvmcs(&vm, VMCS_GUEST_CR4, CF_CR4_VMXE);
	cf_expect_hlt(&vm, 0);
	cr_assert_eq(cf_rvmcs(&vm, VMCS_GUEST_CR4), CF_CR4_VMXE);
	cr_assert_eq(cf_rreg(&vm, HV_X86_CR4), CF_CR4_VMXE);
	cf_wreg(&vm, HV_X86_CR4, CF_CR4_VMXE | CF_CR4_OSFXSR);
	cr_assert_eq(cf_rvmcs(&vm, VMCS_GUEST_CR4), CF_CR4_VMXE | CF_CR4_OSFXSR);
	cf_destroy(&vm);
}

/* Register writes made between runs are what the guest runs with, and
 * what it leaves is what the client reads. */
Test(vcpu, register_writes_reach_the_guest)
{
	struct cf_vm vm;

	cf_start(&vm, CF_PROT32, GUEST(pm32));
	cf_wreg(&vm, HV_X86_RSP, 0xe000);
	cf_expect_io(&vm, 0, 0x10, 4, false, true, 2);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RBX), 0xe000,
	    "the guest did not run with the written ESP");
	cf_destroy(&vm);
}

struct foreign_calls {
	hv_vcpuid_t vcpu;
	hv_return_t read_reg, write_reg, read_vmcs, write_vmcs, run;
	hv_return_t read_fpstate, destroy, interrupt;
};

static void *foreign_thread(void *arg)
{
	struct foreign_calls *c = arg;
	static uint8_t fpstate[4096] __attribute__((aligned(64)));
	uint64_t v;

	c->read_reg = hv_vcpu_read_register(c->vcpu, HV_X86_RAX, &v);
	c->write_reg = hv_vcpu_write_register(c->vcpu, HV_X86_RAX, 1);
	c->read_vmcs = hv_vmx_vcpu_read_vmcs(c->vcpu, VMCS_GUEST_RIP, &v);
	c->write_vmcs = hv_vmx_vcpu_write_vmcs(c->vcpu, VMCS_GUEST_RIP, 0);
	c->run = hv_vcpu_run(c->vcpu);
	c->read_fpstate = hv_vcpu_read_fpstate(c->vcpu, fpstate, sizeof(fpstate));
	c->destroy = hv_vcpu_destroy(c->vcpu);
	c->interrupt = hv_vcpu_interrupt(&c->vcpu, 1);
	return NULL;
}

/* A vCPU belongs to the thread that created it. Another thread may only
 * kick it with hv_vcpu_interrupt; the owner is unaffected. */
Test(vcpu, calls_from_another_thread_are_rejected)
{
	struct foreign_calls c;
	struct cf_vm vm;
	pthread_t t;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	memset(&c, 0, sizeof(c));
	c.vcpu = vm.vcpu;
	cr_assert_eq(pthread_create(&t, NULL, foreign_thread, &c), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	HV_EXPECT(HV_BAD_ARGUMENT, c.read_reg);
	HV_EXPECT(HV_BAD_ARGUMENT, c.write_reg);
	HV_EXPECT(HV_BAD_ARGUMENT, c.read_vmcs);
	HV_EXPECT(HV_BAD_ARGUMENT, c.write_vmcs);
	HV_EXPECT(HV_BAD_ARGUMENT, c.run);
	HV_EXPECT(HV_BAD_ARGUMENT, c.read_fpstate);
	HV_EXPECT(HV_BAD_ARGUMENT, c.destroy);
	HV_CHECK(c.interrupt);
	/* The rejected writes changed nothing; the kick at most makes the
	 * next run return early, which cf_run re-runs. */
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), CF_CODE);
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

struct second_vcpu {
	struct cf_vm vm;
	hv_return_t create, run, destroy;
	uint64_t reason, rip;
};

/* Runs the HLT guest (already in RAM) on a vCPU of its own. Criterion
 * asserts only work on the test's thread, so results are recorded. */
static void *second_vcpu_thread(void *arg)
{
	struct second_vcpu *s = arg;
	hv_vcpuid_t vcpu;

	s->create = hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT);
	if (s->create != HV_SUCCESS)
		return NULL;
	/* Real-mode state for code at 0:CF_CODE, as the harness writes it
	 * (the harness asserts, so it is not used off the test's thread). */
	static const struct vmcs_value state[] = {
		{ VMCS_GUEST_CS, 0 }, { VMCS_GUEST_CS_BASE, 0 },
		{ VMCS_GUEST_CS_LIMIT, 0xffff }, { VMCS_GUEST_CS_AR, 0x9b },
		{ VMCS_GUEST_SS, 0 }, { VMCS_GUEST_SS_BASE, 0 },
		{ VMCS_GUEST_SS_LIMIT, 0xffff }, { VMCS_GUEST_SS_AR, 0x93 },
		{ VMCS_GUEST_CR0, CF_CR0_NE | CF_CR0_ET },
		{ VMCS_GUEST_CR4, CF_CR4_VMXE }, { VMCS_GUEST_RFLAGS, 0x2 },
		{ VMCS_GUEST_RSP, CF_STACK - 0x1000 }, { VMCS_GUEST_RIP, CF_CODE },
	};
	for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++)
		hv_vmx_vcpu_write_vmcs(vcpu, state[i].field, state[i].value);
	for (int i = 0; i < 100; i++) {
		s->run = hv_vcpu_run(vcpu);
		hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &s->reason);
		if (s->run != HV_SUCCESS || s->reason != VMX_REASON_IRQ)
			break;
	}
	hv_vmx_vcpu_read_vmcs(vcpu, VMCS_GUEST_RIP, &s->rip);
	s->destroy = hv_vcpu_destroy(vcpu);
	return NULL;
}

/* Apple's model: one vCPU per thread, several threads per VM. A second
 * vCPU runs on its own thread while the first one is in use. */
Test(vcpu, vcpus_on_two_threads_run_independently)
{
	struct second_vcpu s = { .create = HV_ERROR, .run = HV_ERROR,
	                         .destroy = HV_ERROR };
	struct cf_vm vm;
	pthread_t t;
	uint64_t max = 0;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	HV_CHECK(hv_capability(HV_CAP_VCPUMAX, &max));
	if (max < 2)
		cr_skip_test("HV_CAP_VCPUMAX is %" PRIu64, max);
	cr_assert_eq(pthread_create(&t, NULL, second_vcpu_thread, &s), 0);
	cf_expect_hlt(&vm, 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	HV_CHECK(s.create);
	HV_CHECK(s.run);
	cr_assert_eq(s.reason, VMX_REASON_HLT, "second vCPU exit reason %" PRIu64,
	    s.reason);
	cr_assert_eq(s.rip, cf_label(&vm, 0));
	HV_CHECK(s.destroy);
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

Test(vcpu, unknown_vcpu_ids_are_bad_arguments)
{
	const hv_vcpuid_t bogus = 12345;
	struct cf_vm vm;
	uint64_t v;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_read_register(bogus, HV_X86_RAX, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_write_register(bogus, HV_X86_RAX, 0));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vmx_vcpu_read_vmcs(bogus, VMCS_GUEST_RIP, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_run(bogus));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_destroy(bogus));
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

Test(vcpu, destroyed_vcpu_ids_are_bad_arguments)
{
	struct cf_vm vm;
	hv_vcpuid_t old;
	uint64_t v;

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&old, HV_VCPU_DEFAULT));
	HV_CHECK(hv_vcpu_destroy(old));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_read_register(old, HV_X86_RAX, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vmx_vcpu_read_vmcs(old, VMCS_GUEST_RIP, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_run(old));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_destroy(old));
	/* The thread may create a new vCPU afterwards. */
	cf_vcpu_create(&vm, CF_REAL16);
	cf_load(&vm, GUEST(hlt));
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

/* Deprecated by Apple in macOS 11, where it always fails this way. */
Test(vcpu, flush_is_unsupported)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	HV_EXPECT(HV_UNSUPPORTED, hv_vcpu_flush(vm.vcpu));
	cf_destroy(&vm);
}

Test(vcpu, invalidate_tlb_succeeds)
{
	struct cf_vm vm;

	cf_start(&vm, CF_LONG64, GUEST(lm_sum));
	HV_CHECK(hv_vcpu_invalidate_tlb(vm.vcpu));
	cf_expect_io(&vm, 0, 0x10, 1, false, true, 2);
	HV_CHECK(hv_vcpu_invalidate_tlb(vm.vcpu));
	cf_destroy(&vm);
}

Test(vcpu, exec_time_grows_while_the_guest_runs)
{
	struct cf_vm vm;
	uint64_t before, after;

	cf_start(&vm, CF_REAL16, GUEST(loop));
	HV_CHECK(hv_vcpu_get_exec_time(vm.vcpu, &before));
	cf_expect_hlt(&vm, 0);
	HV_CHECK(hv_vcpu_get_exec_time(vm.vcpu, &after));
	cr_assert_gt(after, before, "exec time did not grow: %" PRIu64
	    " -> %" PRIu64, before, after);
	cf_destroy(&vm);
}

/* FXSAVE layout: XMM registers start at byte 160, 16 bytes each. */
#define FP_XMM(n) (160 + 16 * (n))

/* The FPU state moves both ways: an XMM value the guest loaded is in
 * hv_vcpu_read_fpstate, and an XMM value the client writes with
 * hv_vcpu_write_fpstate is what the guest stores. */
Test(vcpu, fpstate_exchanges_xmm_registers)
{
	static const uint8_t guest_value[16] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	};
	static const uint8_t client_value[16] = "client->guest!!";
	uint8_t *fp = aligned_alloc(64, 4096);
	struct cf_vm vm;

	cr_assert_not_null(fp);
	cf_start(&vm, CF_REAL16, GUEST(sse));
	/* SSE needs CR4.OSFXSR, which the client owns (and keeps VMXE in). */
	cf_wvmcs(&vm, VMCS_GUEST_CR4,
	    CF_CR4_VMXE | CF_CR4_OSFXSR | CF_CR4_OSXMMEXCPT);
	cf_wvmcs(&vm, VMCS_GUEST_CR0, CF_CR0_NE | CF_CR0_ET | CF_CR0_MP);
	cf_expect_io(&vm, 0, 0x10, 1, false, true, 2);
	memset(fp, 0, 4096);
	HV_CHECK(hv_vcpu_read_fpstate(vm.vcpu, fp, 4096));
	cr_assert_arr_eq(fp + FP_XMM(0), guest_value, 16,
	    "XMM0 in the FPU state is not what the guest loaded");
	memcpy(fp + FP_XMM(1), client_value, 16);
	HV_CHECK(hv_vcpu_write_fpstate(vm.vcpu, fp, 4096));
	cf_advance(&vm, 2);
	cf_expect_hlt(&vm, 1);
	cr_assert_arr_eq(vm.ram + CF_DATA, client_value, 16,
	    "the guest did not see the XMM1 written by the client");
	free(fp);
	cf_destroy(&vm);
}

/* ---- the state a new vCPU starts in ---- */

static const uint32_t reset_fields[] = {
	VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR,
	VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR,
	VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR,
	VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR,
	VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR,
	VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR,
	VMCS_GUEST_LDTR, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_LDTR_AR,
	VMCS_GUEST_TR, VMCS_GUEST_TR_BASE, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_AR,
	VMCS_GUEST_GDTR_BASE, VMCS_GUEST_GDTR_LIMIT, VMCS_GUEST_IDTR_BASE,
	VMCS_GUEST_IDTR_LIMIT, VMCS_GUEST_CR0, VMCS_GUEST_CR3, VMCS_GUEST_CR4,
	VMCS_GUEST_RIP, VMCS_GUEST_RSP, VMCS_GUEST_RFLAGS, VMCS_GUEST_IA32_EFER,
	VMCS_GUEST_IA32_PAT, VMCS_GUEST_IA32_SYSENTER_CS, VMCS_GUEST_SYSENTER_ESP,
	VMCS_GUEST_SYSENTER_EIP,
};
#define NRESET_FIELDS (sizeof(reset_fields) / sizeof(reset_fields[0]))

struct reset_snap {
	uint64_t reg[HV_X86_REGISTERS_MAX];
	uint64_t field[NRESET_FIELDS];
	hv_return_t ret;
};

/* Every register and the guest-state fields of `vcpu` (this thread's). */
static hv_return_t snap(hv_vcpuid_t vcpu, struct reset_snap *s)
{
	hv_return_t r = HV_SUCCESS;
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < HV_X86_REGISTERS_MAX && r == HV_SUCCESS; i++)
		if (i != HV_X86_CR1 && i != HV_X86_DR4 && i != HV_X86_DR5)
			r = hv_vcpu_read_register(vcpu, (hv_x86_reg_t)i, &s->reg[i]);
	for (size_t i = 0; i < NRESET_FIELDS && r == HV_SUCCESS; i++)
		r = hv_vmx_vcpu_read_vmcs(vcpu, reset_fields[i], &s->field[i]);
	return r;
}

static void expect_same_state(const struct reset_snap *a, const struct reset_snap *b,
			      const char *what)
{
	for (int i = 0; i < HV_X86_REGISTERS_MAX; i++)
		cr_expect_eq(a->reg[i], b->reg[i], "%s: register %d is %#" PRIx64 ", not %#"
		    PRIx64, what, i, b->reg[i], a->reg[i]);
	for (size_t i = 0; i < NRESET_FIELDS; i++)
		cr_expect_eq(a->field[i], b->field[i], "%s: VMCS field %#x is %#" PRIx64
		    ", not %#" PRIx64, what, reset_fields[i], b->field[i], a->field[i]);
}

/* A vCPU made on a thread of its own (its first look at KVM's state: the
 * VM's second vCPU is never made from the remembered power-on state). */
static void *other_vcpu_snap(void *arg)
{
	struct reset_snap *s = arg;
	hv_vcpuid_t v;
	if ((s->ret = hv_vcpu_create(&v, HV_VCPU_DEFAULT)) != HV_SUCCESS)
		return NULL;
	s->ret = snap(v, s);
	hv_return_t d = hv_vcpu_destroy(v);
	if (s->ret == HV_SUCCESS)
		s->ret = d;
	return NULL;
}

/* The backend remembers the power-on state from the host's first vCPU
 * and gives it to every VM's first vCPU without asking KVM: it must be
 * the state KVM gives a vCPU that never ran, in every VM, and the one a
 * re-created vCPU gets back. */
Test(vcpu, every_new_vcpu_starts_in_the_same_power_on_state)
{
	struct reset_snap first, other, again, next_vm;
	struct cf_vm vm;
	pthread_t t;
	uint64_t max = 0;

	cf_vm_create(&vm);
	HV_CHECK(hv_capability(HV_CAP_VCPUMAX, &max));
	if (max < 2)
		cr_skip_test("HV_CAP_VCPUMAX is %" PRIu64, max);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	HV_CHECK(snap(vm.vcpu, &first));
	/* Architectural values (Intel SDM, state after reset). */
	cr_expect_eq(first.reg[HV_X86_RIP], 0xfff0);
	cr_expect_eq(first.reg[HV_X86_RFLAGS], 0x2);
	cr_expect_eq(first.reg[HV_X86_CS], 0xf000);
	cr_expect_eq(first.field[1], 0xffff0000, "CS base %#" PRIx64, first.field[1]);
	cr_expect_eq(first.reg[HV_X86_RAX], 0);

	cr_assert_eq(pthread_create(&t, NULL, other_vcpu_snap, &other), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	HV_CHECK(other.ret);
	expect_same_state(&first, &other, "the VM's second vCPU");

	/* Dirty the first vCPU, then make it again (KVM's vCPU is reused). */
	cf_wreg(&vm, HV_X86_RIP, 0x1234);
	cf_wvmcs(&vm, VMCS_GUEST_IA32_PAT, 0x0606060606060606ull);
	HV_CHECK(hv_vcpu_destroy(vm.vcpu));
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	HV_CHECK(snap(vm.vcpu, &again));
	expect_same_state(&first, &again, "a vCPU made again after a destroy");
	cf_destroy(&vm);

	cf_vm_create(&vm);
	HV_CHECK(hv_vcpu_create(&vm.vcpu, HV_VCPU_DEFAULT));
	vm.has_vcpu = true;
	HV_CHECK(snap(vm.vcpu, &next_vm));
	expect_same_state(&first, &next_vm, "the next VM's first vCPU");
	cf_destroy(&vm);
}
