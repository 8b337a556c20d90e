/*
 * test_vcpu.c: vCPU lifecycle, the one-vCPU-per-thread rule, ownership,
 * and the vCPU configuration's feature registers.
 */
#include <pthread.h>
#include <string.h>

#include "harness.h"

Test(vcpu, create_and_destroy)
{
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit = NULL;

	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vcpu_create(&vcpu, &exit, NULL));
	cr_assert_not_null(exit);
	HV_CHECK(hv_vcpu_destroy(vcpu));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_destroy(vcpu));
	HV_CHECK(hv_vm_destroy());
}

Test(vcpu, create_with_a_vcpu_config)
{
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit = NULL;
	hv_vcpu_config_t cfg = hv_vcpu_config_create();

	cr_assert_not_null(cfg);
	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vcpu_create(&vcpu, &exit, cfg));
	os_release(cfg);
	HV_CHECK(hv_vcpu_destroy(vcpu));
	HV_CHECK(hv_vm_destroy());
}

Test(vcpu, create_arguments_are_checked)
{
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;

	HV_CHECK(hv_vm_create(NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_create(NULL, &exit, NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_create(&vcpu, NULL, NULL));
	HV_CHECK(hv_vm_destroy());
}

/* "Each thread can only have one vCPU associated at a time." */
Test(vcpu, second_vcpu_on_a_thread_is_busy)
{
	hv_vcpu_t a, b;
	hv_vcpu_exit_t *ea, *eb;

	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vcpu_create(&a, &ea, NULL));
	HV_EXPECT(HV_BUSY, hv_vcpu_create(&b, &eb, NULL));
	HV_CHECK(hv_vcpu_destroy(a));
	HV_CHECK(hv_vm_destroy());
}

/* Its vCPU destroyed, a thread may have another, which runs. This test
 * found hv_vcpu_create failing with HV_BAD_ARGUMENT there (the KVM vCPU id
 * was reused: EEXIST), fixed in main's 6994c52 (docs/arm64.md "vCPU
 * lifetime"). */
Test(vcpu, can_be_created_again_after_destroy)
{
	struct cf64 vm;

	cf64_vm_create(&vm);
	cf64_vcpu_create(&vm);
	HV_CHECK(hv_vcpu_destroy(vm.vcpu));
	vm.has_vcpu = false;
	cf64_vcpu_create(&vm);
	cf64_load(&vm, GUEST(hvc));
	cf64_expect_hvc(&vm, 0);
	cf64_destroy(&vm);
}

struct foreign {
	hv_vcpu_t vcpu;
	hv_return_t get, set, run, destroy, sys, simd, exec;
	hv_vcpu_t own;
	hv_return_t own_create, own_destroy;
};

static void *foreign_thread(void *arg)
{
	struct foreign *f = arg;
	uint64_t v;
	hv_simd_fp_uchar16_t q;
	hv_vcpu_exit_t *exit;

	f->get = hv_vcpu_get_reg(f->vcpu, HV_REG_PC, &v);
	f->set = hv_vcpu_set_reg(f->vcpu, HV_REG_X0, 1);
	f->sys = hv_vcpu_get_sys_reg(f->vcpu, HV_SYS_REG_VBAR_EL1, &v);
	f->simd = hv_vcpu_get_simd_fp_reg(f->vcpu, HV_SIMD_FP_REG_Q0, &q);
	f->exec = hv_vcpu_get_exec_time(f->vcpu, &v);
	f->run = hv_vcpu_run(f->vcpu);
	f->destroy = hv_vcpu_destroy(f->vcpu);
	/* This thread may have a vCPU of its own meanwhile. */
	f->own_create = hv_vcpu_create(&f->own, &exit, NULL);
	f->own_destroy = f->own_create == HV_SUCCESS ? hv_vcpu_destroy(f->own) : HV_ERROR;
	return NULL;
}

/* The per-vCPU calls belong to the vCPU's thread; another thread gets
 * HV_BAD_ARGUMENT (Apple documents "must be called by the owning thread"
 * without a code) and changes nothing. */
Test(vcpu, another_thread_cannot_use_the_vcpu)
{
	struct cf64 vm;
	struct foreign f = { 0 };
	pthread_t t;

	cf64_start(&vm, GUEST(hvc));
	cf64_wreg(&vm, HV_REG_X0, 0);
	f.vcpu = vm.vcpu;
	cr_assert_eq(pthread_create(&t, NULL, foreign_thread, &f), 0);
	pthread_join(t, NULL);
	HV_EXPECT(HV_BAD_ARGUMENT, f.get);
	HV_EXPECT(HV_BAD_ARGUMENT, f.set);
	HV_EXPECT(HV_BAD_ARGUMENT, f.sys);
	HV_EXPECT(HV_BAD_ARGUMENT, f.simd);
	HV_EXPECT(HV_BAD_ARGUMENT, f.exec);
	HV_EXPECT(HV_BAD_ARGUMENT, f.run);
	HV_EXPECT(HV_BAD_ARGUMENT, f.destroy);
	HV_CHECK(f.own_create);
	HV_CHECK(f.own_destroy);
	cr_assert_neq(f.own, vm.vcpu, "two live vCPUs have different ids");
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X0), 0u, "the refused write changed nothing");
	cf64_expect_hvc(&vm, 0);
	cf64_destroy(&vm);
}

/* An id that names no vCPU is refused by every per-vCPU call. */
Test(vcpu, unknown_vcpu_ids_are_refused)
{
	uint64_t v;
	bool b;
	hv_simd_fp_uchar16_t q;
	hv_vcpu_t bad = 12345;

	HV_CHECK(hv_vm_create(NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_reg(bad, HV_REG_PC, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_reg(bad, HV_REG_PC, 0));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_sys_reg(bad, HV_SYS_REG_VBAR_EL1, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_sys_reg(bad, HV_SYS_REG_VBAR_EL1, 0));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_simd_fp_reg(bad, HV_SIMD_FP_REG_Q0, &q));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_run(bad));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_destroy(bad));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_exec_time(bad, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_vtimer_mask(bad, &b));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_vtimer_mask(bad, false));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_vtimer_offset(bad, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_vtimer_offset(bad, 0));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_pending_interrupt(bad, HV_INTERRUPT_TYPE_IRQ, true));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_pending_interrupt(bad, HV_INTERRUPT_TYPE_IRQ, &b));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_trap_debug_exceptions(bad, true));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpus_exit(&bad, 1));
	HV_CHECK(hv_vm_destroy());
}

/* What a vCPU reads of its ID registers is what the vCPU configuration
 * reports as the host's (the same sanitised values KVM gives a vCPU). */
static const struct {
	hv_feature_reg_t feature;
	hv_sys_reg_t sys;
} id_regs[] = {
	{ HV_FEATURE_REG_ID_AA64PFR0_EL1, HV_SYS_REG_ID_AA64PFR0_EL1 },
	{ HV_FEATURE_REG_ID_AA64PFR1_EL1, HV_SYS_REG_ID_AA64PFR1_EL1 },
	{ HV_FEATURE_REG_ID_AA64DFR0_EL1, HV_SYS_REG_ID_AA64DFR0_EL1 },
	{ HV_FEATURE_REG_ID_AA64ISAR0_EL1, HV_SYS_REG_ID_AA64ISAR0_EL1 },
	{ HV_FEATURE_REG_ID_AA64ISAR1_EL1, HV_SYS_REG_ID_AA64ISAR1_EL1 },
	{ HV_FEATURE_REG_ID_AA64MMFR0_EL1, HV_SYS_REG_ID_AA64MMFR0_EL1 },
	{ HV_FEATURE_REG_ID_AA64MMFR1_EL1, HV_SYS_REG_ID_AA64MMFR1_EL1 },
	{ HV_FEATURE_REG_ID_AA64MMFR2_EL1, HV_SYS_REG_ID_AA64MMFR2_EL1 },
};

/* BUG (backend/hvb64.c, reported): a64_host_create never fills
 * hvb_a64_host.feature[] and .ccsidr[], so every feature register reads 0
 * (Apple: the host's value; ID_AA64PFR0_EL1's EL0 and EL1 fields are never
 * 0 on a host that runs AArch64 guests). */
Test(vcpu_config, feature_registers_match_the_vcpu)
{
	hv_vcpu_config_t cfg = hv_vcpu_config_create();
	struct cf64 vm;
	uint64_t v = 0;

	cf64_start(&vm, GUEST(hvc));
	HV_CHECK(hv_vcpu_config_get_feature_reg(cfg, HV_FEATURE_REG_ID_AA64PFR0_EL1, &v));
	cr_assert(v & 0xf, "ID_AA64PFR0_EL1.EL0 is 0 (%#llx)", (unsigned long long)v);
	cr_assert(v & 0xf0, "ID_AA64PFR0_EL1.EL1 is 0 (%#llx)", (unsigned long long)v);
	for (size_t i = 0; i < sizeof(id_regs) / sizeof(id_regs[0]); i++) {
		HV_CHECK(hv_vcpu_config_get_feature_reg(cfg, id_regs[i].feature, &v));
		uint64_t seen = cf64_rsys(&vm, id_regs[i].sys);
		cr_expect_eq(v, seen, "feature register %u: config %#llx, vCPU %#llx",
		    id_regs[i].feature, (unsigned long long)v, (unsigned long long)seen);
	}
	HV_CHECK(hv_vcpu_config_get_feature_reg(cfg, HV_FEATURE_REG_CTR_EL0, &v));
	cr_assert_neq(v, 0u, "CTR_EL0 is 0");
	HV_CHECK(hv_vcpu_config_get_feature_reg(cfg, HV_FEATURE_REG_CLIDR_EL1, &v));
	cr_assert(v & 7, "CLIDR_EL1 has no level-1 cache (%#llx)", (unsigned long long)v);
	os_release(cfg);
	cf64_destroy(&vm);
}

/* Same bug as above: the CCSIDR values are all 0, where a level-1 data
 * cache (CLIDR_EL1 says there is one) has a geometry. */
Test(vcpu_config, ccsidr_values)
{
	hv_vcpu_config_t cfg = hv_vcpu_config_create();
	uint64_t data[8], insn[8];

	HV_CHECK(hv_vcpu_config_get_ccsidr_el1_sys_reg_values(cfg, HV_CACHE_TYPE_DATA, data));
	HV_CHECK(hv_vcpu_config_get_ccsidr_el1_sys_reg_values(cfg, HV_CACHE_TYPE_INSTRUCTION, insn));
	cr_assert_neq(data[0], 0u, "CCSIDR_EL1 of the L1 data cache is 0");
	cr_assert_neq(insn[0], 0u, "CCSIDR_EL1 of the L1 instruction cache is 0");
	os_release(cfg);
}

Test(vcpu_config, arguments_are_checked)
{
	hv_vcpu_config_t cfg = hv_vcpu_config_create();
	uint64_t v, vals[8];

	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_config_get_feature_reg(cfg, (hv_feature_reg_t)14, &v));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_config_get_feature_reg(cfg, HV_FEATURE_REG_CTR_EL0, NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_config_get_feature_reg(NULL, HV_FEATURE_REG_CTR_EL0, &v));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vcpu_config_get_ccsidr_el1_sys_reg_values(cfg, (hv_cache_type_t)2, vals));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vcpu_config_get_ccsidr_el1_sys_reg_values(NULL, HV_CACHE_TYPE_DATA, vals));
	os_release(cfg);
}
