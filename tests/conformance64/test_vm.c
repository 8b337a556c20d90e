/*
 * test_vm.c: the VM's lifecycle and configuration (hv_vm_*, hv_vm_config_*).
 *
 * Apple's model is one VM per process; Criterion runs every test in its
 * own process, so each test starts without a VM.
 */
#include <string.h>

#include "harness.h"

Test(vm, create_and_destroy_without_a_config)
{
	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vm_destroy());
}

Test(vm, second_create_is_busy)
{
	HV_CHECK(hv_vm_create(NULL));
	HV_EXPECT(HV_BUSY, hv_vm_create(NULL));
	hv_vm_config_t cfg = hv_vm_config_create();
	cr_assert_not_null(cfg);
	HV_EXPECT(HV_BUSY, hv_vm_create(cfg));
	os_release(cfg);
	HV_CHECK(hv_vm_destroy());
}

/* Without a VM there is nothing to destroy, map or give a vCPU (the
 * front end's HV_BAD_ARGUMENT; Apple's code for these is undocumented). */
Test(vm, calls_without_a_vm_are_refused)
{
	static uint8_t page[CF64_PAGE] __attribute__((aligned(CF64_PAGE)));
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;

	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_destroy());
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(page, CF64_RAM, sizeof(page), HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(CF64_RAM, sizeof(page)));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_protect(CF64_RAM, sizeof(page), HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_create(&vcpu, &exit, NULL));
}

Test(vm, destroy_with_a_live_vcpu_is_busy)
{
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;

	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vcpu_create(&vcpu, &exit, NULL));
	HV_EXPECT(HV_BUSY, hv_vm_destroy());
	HV_CHECK(hv_vcpu_destroy(vcpu));
	HV_CHECK(hv_vm_destroy());
}

/* A process may tear its VM down and build a new, working one. */
Test(vm, can_be_created_again_after_destroy)
{
	struct cf64 vm;

	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vm_destroy());
	cf64_start(&vm, GUEST(hvc));
	cf64_wreg(&vm, HV_REG_PC, GUEST_AT(hvc, hvc_last));
	cf64_expect_hvc(&vm, 1);
	cf64_destroy(&vm);
}

Test(vm, max_vcpu_count)
{
	uint32_t n = 0;

	HV_CHECK(hv_vm_get_max_vcpu_count(&n));
	cr_assert_geq(n, 1u);
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_get_max_vcpu_count(NULL));
}

/* KVM's default IPA size is 40 bits (KVM_CREATE_VM type 0), or the
 * host's maximum when smaller; Apple's default is 36 on M1 (a known
 * difference of value, not of contract: the default is at most the max). */
Test(vm_config, ipa_sizes)
{
	uint32_t max = 0, def = 0, got = 0;

	HV_CHECK(hv_vm_config_get_max_ipa_size(&max));
	HV_CHECK(hv_vm_config_get_default_ipa_size(&def));
	cr_assert_geq(max, 36u, "max IPA size %u", max);
	cr_assert_leq(max, 52u, "max IPA size %u", max);
	cr_assert_eq(def, max < 40 ? max : 40u, "default IPA size %u (max %u)", def, max);

	hv_vm_config_t cfg = hv_vm_config_create();
	cr_assert_not_null(cfg);
	HV_CHECK(hv_vm_config_get_ipa_size(cfg, &got));
	cr_assert_eq(got, def, "a fresh config's IPA size is the default (%u, not %u)", got, def);
	HV_CHECK(hv_vm_config_set_ipa_size(cfg, 36));
	HV_CHECK(hv_vm_config_get_ipa_size(cfg, &got));
	cr_assert_eq(got, 36u);
	HV_CHECK(hv_vm_config_set_ipa_size(cfg, max));
	HV_CHECK(hv_vm_config_get_ipa_size(cfg, &got));
	cr_assert_eq(got, max);
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_set_ipa_size(cfg, max + 1));
	HV_CHECK(hv_vm_config_get_ipa_size(cfg, &got));
	cr_assert_eq(got, max, "a refused size leaves the config as it was");
	os_release(cfg);
}

Test(vm_config, null_pointers_are_refused)
{
	hv_vm_config_t cfg = hv_vm_config_create();
	uint32_t bits;
	bool b;
	hv_ipa_granule_t g;

	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_max_ipa_size(NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_default_ipa_size(NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_ipa_size(cfg, NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_ipa_size(NULL, &bits));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_set_ipa_size(NULL, 36));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_el2_supported(NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_el2_enabled(cfg, NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_el2_enabled(NULL, &b));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_default_ipa_granule(NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_ipa_granule(cfg, NULL));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_get_ipa_granule(NULL, &g));
	os_release(cfg);
}

/* An IPA size in the config is the VM's: memory below 2^36 maps in a
 * 36-bit VM, memory at 2^36 does not. (On this branch's base libhvdirect
 * returned HV_ERROR here, KVM's EFAULT; on main both variants give
 * HV_BAD_ARGUMENT.) */
Test(vm_config, ipa_size_limits_the_vm)
{
	hv_vm_config_t cfg = hv_vm_config_create();
	void *mem = NULL;

	HV_CHECK(hv_vm_config_set_ipa_size(cfg, 36));
	HV_CHECK(hv_vm_create(cfg));
	os_release(cfg);
	HV_CHECK(hv_vm_allocate(&mem, CF64_PAGE, HV_ALLOCATE_DEFAULT));
	HV_CHECK(hv_vm_map(mem, (1ull << 36) - CF64_PAGE, CF64_PAGE, HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(mem, 1ull << 36, CF64_PAGE, HV_MEMORY_READ));
	HV_CHECK(hv_vm_unmap((1ull << 36) - CF64_PAGE, CF64_PAGE));
	HV_CHECK(hv_vm_destroy());
	HV_CHECK(hv_vm_deallocate(mem, CF64_PAGE));
}

Test(vm_config, create_with_a_config_runs_a_guest)
{
	struct cf64 vm;
	hv_vm_config_t cfg = hv_vm_config_create();
	void *ram = NULL;

	HV_CHECK(hv_vm_config_set_ipa_size(cfg, 36));
	HV_CHECK(hv_vm_create(cfg));
	os_release(cfg);
	memset(&vm, 0, sizeof(vm));
	HV_CHECK(hv_vm_allocate(&ram, CF64_RAM_SIZE, HV_ALLOCATE_DEFAULT));
	vm.ram = ram;
	HV_CHECK(hv_vm_map(ram, CF64_RAM, CF64_RAM_SIZE,
	    HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
	cf64_vcpu_create(&vm);
	cf64_load(&vm, GUEST(hvc));
	cf64_expect_hvc(&vm, 0);
	cf64_destroy(&vm);
}

/* No nested virtualisation in the lab's KVM (docs/arm64.md): EL2 is not
 * supported and cannot be enabled; false can always be set. */
Test(vm_config, el2_is_unsupported)
{
	bool supported = true, enabled = true;
	hv_vm_config_t cfg = hv_vm_config_create();

	HV_CHECK(hv_vm_config_get_el2_supported(&supported));
	cr_assert(!supported, "EL2 reported supported on a KVM without nested virtualisation");
	HV_CHECK(hv_vm_config_get_el2_enabled(cfg, &enabled));
	cr_assert(!enabled, "a fresh config has EL2 disabled");
	HV_EXPECT(HV_UNSUPPORTED, hv_vm_config_set_el2_enabled(cfg, true));
	HV_CHECK(hv_vm_config_set_el2_enabled(cfg, false));
	HV_CHECK(hv_vm_config_get_el2_enabled(cfg, &enabled));
	cr_assert(!enabled);
	os_release(cfg);
}

/* The IPA granule is the host's page size only (docs/arm64.md): 4 KiB in
 * the lab; 16 KiB is HV_UNSUPPORTED, an unknown granule HV_BAD_ARGUMENT. */
Test(vm_config, ipa_granule_is_the_host_page_size)
{
	hv_ipa_granule_t g = 99;
	hv_vm_config_t cfg = hv_vm_config_create();

	HV_CHECK(hv_vm_config_get_default_ipa_granule(&g));
	cr_assert_eq(g, HV_IPA_GRANULE_4KB);
	HV_CHECK(hv_vm_config_get_ipa_granule(cfg, &g));
	cr_assert_eq(g, HV_IPA_GRANULE_4KB);
	HV_CHECK(hv_vm_config_set_ipa_granule(cfg, HV_IPA_GRANULE_4KB));
	HV_EXPECT(HV_UNSUPPORTED, hv_vm_config_set_ipa_granule(cfg, HV_IPA_GRANULE_16KB));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_config_set_ipa_granule(cfg, (hv_ipa_granule_t)2));
	os_release(cfg);
}

/* os_retain keeps a config alive across one os_release. */
Test(vm_config, retain_and_release)
{
	hv_vm_config_t cfg = hv_vm_config_create();
	uint32_t bits = 0;

	HV_CHECK(hv_vm_config_set_ipa_size(cfg, 36));
	cr_assert_eq(os_retain(cfg), cfg);
	os_release(cfg);
	HV_CHECK(hv_vm_config_get_ipa_size(cfg, &bits));
	cr_assert_eq(bits, 36u);
	os_release(cfg);
}
