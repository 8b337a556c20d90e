/*
 * test_vm.c: the VM lifecycle and the VM-wide calls.
 *
 * Apple's model is one VM per process; Criterion runs every test in its own
 * process, so each test starts without a VM.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

Test(vm, second_create_is_busy)
{
	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_EXPECT(HV_BUSY, hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vm_destroy());
}

/* Every VM-wide call needs the VM; a client that forgot hv_vm_create gets
 * HV_NO_DEVICE, not a crash or a silent success. */
static void expect_no_vm(void)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	hv_vcpuid_t vcpu;

	HV_EXPECT(HV_NO_DEVICE, hv_vm_map(page, 0, sizeof(page), HV_MEMORY_READ));
	HV_EXPECT(HV_NO_DEVICE, hv_vm_unmap(0, sizeof(page)));
	HV_EXPECT(HV_NO_DEVICE, hv_vm_protect(0, sizeof(page), HV_MEMORY_READ));
	HV_EXPECT(HV_NO_DEVICE, hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT));
	HV_EXPECT(HV_NO_DEVICE, hv_vm_sync_tsc(0));
	HV_EXPECT(HV_NO_DEVICE, hv_vm_destroy());
}

Test(vm, calls_without_a_vm_report_no_device)
{
	expect_no_vm();
}

Test(vm, calls_after_destroy_report_no_device)
{
	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vm_destroy());
	expect_no_vm();
}

Test(vm, destroy_with_a_live_vcpu_is_busy)
{
	hv_vcpuid_t vcpu;

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT));
	HV_EXPECT(HV_BUSY, hv_vm_destroy());
	HV_CHECK(hv_vcpu_destroy(vcpu));
	HV_CHECK(hv_vm_destroy());
}

/* A process may tear its VM down and build a new, working one. */
Test(vm, can_be_created_again_after_destroy)
{
	struct cf_vm vm;

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vm_destroy());
	cf_start(&vm, CF_REAL16, GUEST(hlt));
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

/* Child exit codes of forked_child_does_not_inherit_the_vm. */
enum { CHILD_OK, CHILD_VCPU_CREATED, CHILD_CREATE_FAILED, CHILD_DESTROY_FAILED };

static int child_main(void)
{
	hv_vcpuid_t vcpu;

	if (hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) != HV_NO_DEVICE)
		return CHILD_VCPU_CREATED;
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS)
		return CHILD_CREATE_FAILED;
	if (hv_vm_destroy() != HV_SUCCESS)
		return CHILD_DESTROY_FAILED;
	return CHILD_OK;
}

/* The VM belongs to the process that created it: a forked child starts
 * without one (and may make its own), and the parent's VM keeps working. */
Test(vm, forked_child_does_not_inherit_the_vm)
{
	struct cf_vm vm;
	int status;
	pid_t pid;

	cf_start(&vm, CF_REAL16, GUEST(hlt));
	pid = fork();
	cr_assert_neq(pid, -1, "fork failed");
	if (pid == 0)
		_exit(child_main());
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died (status %#x)", status);
	cr_assert_eq(WEXITSTATUS(status), CHILD_OK,
	    "child step %d failed (1: hv_vcpu_create did not return "
	    "HV_NO_DEVICE, 2: hv_vm_create failed, 3: hv_vm_destroy failed)",
	    WEXITSTATUS(status));
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

Test(vm, vcpu_max_capability_is_positive)
{
	uint64_t max = 0;

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_capability(HV_CAP_VCPUMAX, &max));
	cr_assert_gt(max, 0);
	HV_CHECK(hv_vm_destroy());
}

/* KVM has one guest-physical address space per VM, so additional spaces
 * are reported as unsupported rather than faked. */
Test(vm, address_spaces_are_unsupported)
{
	hv_vm_space_t asid;

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_EXPECT(HV_UNSUPPORTED, hv_vm_space_create(&asid));
	HV_CHECK(hv_vm_destroy());
}

/* hv_vm_sync_tsc sets the guest TSC: a guest RDTSC right afterwards reads
 * at least the synced value, and not much more. On hosts whose KVM cannot
 * move the guest TSC (PVM: writes to IA32_TSC are ignored, measured at
 * start-up), the call says so with HV_UNSUPPORTED instead of pretending
 * (docs/differences.md). */
Test(vm, sync_tsc_sets_the_guest_tsc)
{
	const uint64_t base = 1ull << 60; /* decades beyond any host TSC */
	/* The guest runs for microseconds; allow minutes of a 10 GHz TSC for
	 * a slow, loaded machine. */
	const uint64_t slack = 1ull << 41;
	struct cf_vm vm;
	uint64_t tsc;

	cf_start(&vm, CF_REAL16, GUEST(rdtsc));
	hv_return_t r = hv_vm_sync_tsc(base);
	if (r == HV_UNSUPPORTED) {
		/* The guest still runs and reads the host-based TSC. */
		cf_expect_hlt(&vm, 0);
		memcpy(&tsc, vm.ram + CF_DATA, sizeof(tsc));
		cr_assert_lt(tsc, base, "the TSC moved after all: report success");
		cf_destroy(&vm);
		return;
	}
	HV_CHECK(r);
	cf_expect_hlt(&vm, 0);
	memcpy(&tsc, vm.ram + CF_DATA, sizeof(tsc));
	cr_assert_geq(tsc, base, "guest TSC %#" PRIx64 " is below the synced "
	    "value %#" PRIx64, tsc, base);
	cr_assert_lt(tsc, base + slack, "guest TSC %#" PRIx64 " is far above "
	    "the synced value %#" PRIx64, tsc, base);
	cf_destroy(&vm);
}
