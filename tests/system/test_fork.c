/*
 * A client process that forks. Apple's model is one VM per process: the
 * child starts without a VM, may create its own through the same hvd, and
 * nothing it does to its copy of the parent's memory reaches the parent's
 * guest (libhvclient shares guest RAM with hvd through a memfd, which a
 * plain fork would leave shared between parent and child).
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sys_client.h"
#include "sys_hvd.h"

#define PARENT_VALUE 0x11223344u
#define CHILD_VALUE 0xdeadbeefu

static struct sys_hvd hvd;
/* The test process is the parent client. */
static struct sys_vm parent_vm;

static void hvd_up(void)
{
	sys_hvd_start(&hvd);
}

static void hvd_down(void)
{
	sys_hvd_stop(&hvd);
}

/* Loads sys_peek into the parent's VM and checks what its guest reads. */
static void parent_expect_guest_reads(uint32_t want, const char *when)
{
	uint32_t got = 0;

	cr_assert_eq(sys_vm_reload(&parent_vm, SYS_GUEST(sys_peek)), 0);
	cr_assert_eq(sys_peek_run(&parent_vm, &got), 0, "the parent's guest failed %s", when);
	cr_assert_eq(got, want, "the parent's guest reads %#x %s, expected %#x",
	    (unsigned)got, when, (unsigned)want);
}

static int no_vm_child_main(void *arg)
{
	hv_vcpuid_t vcpu;
	uint64_t value;
	hv_return_t ret;
	(void)arg;

	if ((ret = hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT)) != HV_NO_DEVICE)
		return sys_fail(1, "hv_vcpu_create in the child returned %#x, expected "
		    "HV_NO_DEVICE", (unsigned)ret);
	/* The parent's vCPU id means nothing here either. */
	if ((ret = hv_vcpu_read_register(parent_vm.vcpu, HV_X86_RIP, &value)) == HV_SUCCESS)
		return sys_fail(2, "the child read a register of the parent's vCPU");
	if ((ret = hv_vm_map(parent_vm.ram, 0x100000, 0x1000, HV_MEMORY_READ)) != HV_NO_DEVICE)
		return sys_fail(3, "hv_vm_map in the child returned %#x, expected "
		    "HV_NO_DEVICE", (unsigned)ret);
	/* Its own VM, through the same hvd, running a guest. */
	return sys_client_lcg(0xf0f0, 3, 30) ? 4 : 0;
}

Test(fork, child_starts_without_a_vm_and_runs_its_own, .init = hvd_up, .fini = hvd_down)
{
	cr_assert_eq(sys_vm_start(&parent_vm, SYS_GUEST(sys_lcg)), 0);
	cr_assert_eq(sys_lcg_check(&parent_vm, 0x1234, 30), 0);

	sys_expect_child_ok(sys_spawn(no_vm_child_main, NULL), "the forked child");

	/* The child's session ending took nothing of the parent's. */
	cr_assert_eq(sys_vm_reload(&parent_vm, SYS_GUEST(sys_lcg)), 0);
	cr_assert_eq(sys_lcg_check(&parent_vm, 0x4321, 30), 0,
	    "the parent's VM broke after the child's session");
	cr_assert_eq(sys_vm_end(&parent_vm), 0);
	cr_assert(sys_hvd_alive(&hvd));
}

/* The child scribbles over its copy of the parent's guest RAM (data and
 * code), then maps that same address range as its own VM's RAM and has
 * its guest see its values. */
static int writer_child_main(void *arg)
{
	struct sys_vm vm;
	uint32_t seen, value = CHILD_VALUE;
	int r;
	(void)arg;

	memcpy(&seen, parent_vm.ram + SYS_DATA, sizeof(seen));
	if (seen != PARENT_VALUE)
		return sys_fail(10, "the child's copy holds %#x, expected the parent's %#x",
		    (unsigned)seen, PARENT_VALUE);
	memcpy(parent_vm.ram + SYS_DATA, &value, sizeof(value));
	memset(parent_vm.ram + SYS_CODE, 0xf4, 0x1000); /* HLT everywhere */

	if ((r = sys_vm_start_on(&vm, parent_vm.ram, SYS_GUEST(sys_peek))))
		return r;
	if ((r = sys_peek_run(&vm, &seen)))
		return r;
	if (seen != CHILD_VALUE)
		return sys_fail(11, "the child's guest reads %#x, expected its own %#x",
		    (unsigned)seen, CHILD_VALUE);
	/* The guest writes too: the LCG stores its result at SYS_DATA. */
	if ((r = sys_vm_reload(&vm, SYS_GUEST(sys_lcg))) ||
	    (r = sys_lcg_check(&vm, 77, 10)))
		return r;
	return sys_vm_end(&vm);
}

Test(fork, child_writes_do_not_reach_the_parent_guest, .init = hvd_up, .fini = hvd_down)
{
	uint32_t value = PARENT_VALUE, mine;

	cr_assert_eq(sys_vm_start(&parent_vm, SYS_GUEST(sys_peek)), 0);
	memcpy(parent_vm.ram + SYS_DATA, &value, sizeof(value));
	parent_expect_guest_reads(PARENT_VALUE, "before the fork");

	sys_expect_child_ok(sys_spawn(writer_child_main, NULL), "the writing child");

	memcpy(&mine, parent_vm.ram + SYS_DATA, sizeof(mine));
	cr_assert_eq(mine, PARENT_VALUE, "the parent's RAM holds %#x after the child wrote "
	    "its copy, expected %#x", (unsigned)mine, PARENT_VALUE);
	/* Not reloaded: the code the child overwrote in its copy must still
	 * be intact in the parent's guest. */
	cr_assert_eq(memcmp(parent_vm.ram + SYS_CODE, guest_sys_peek_start,
	    (size_t)(guest_sys_peek_end - guest_sys_peek_start)), 0,
	    "the child's writes reached the parent's guest code");
	cr_assert_eq(hv_vcpu_write_register(parent_vm.vcpu, HV_X86_RIP, SYS_CODE), HV_SUCCESS);
	uint32_t got = 0;
	cr_assert_eq(sys_peek_run(&parent_vm, &got), 0, "the parent's guest failed after the fork");
	cr_assert_eq(got, PARENT_VALUE, "the parent's guest reads %#x after the child wrote "
	    "its copy, expected %#x", (unsigned)got, PARENT_VALUE);

	/* And the other way: the parent's memory is still the guest's. */
	value = 0x55667788u;
	memcpy(parent_vm.ram + SYS_DATA, &value, sizeof(value));
	parent_expect_guest_reads(0x55667788u, "after the parent wrote again");
	cr_assert_eq(sys_vm_end(&parent_vm), 0);
}
