/*
 * Guest-memory changes (hv_vm_map, hv_vm_unmap, hv_vm_protect) run off
 * hvd's loop thread: a KVM memslot change can wait seconds for an SRCU
 * grace period on a loaded host, and on the loop thread that stalled every
 * client. hvd's test hook HVD_TEST_MEMOP_DELAY_MS makes each change that
 * slow on purpose. Then:
 *  - another client's requests are answered while one client's change is
 *    still running (an ordering check, not a timing one: the other client
 *    finishes its calls before the slow one returns);
 *  - a client killed in the middle of a change leaves nothing behind once
 *    the change is done: hvd's threads and descriptors go back to their
 *    baseline, and a new client works.
 * hv_vm_destroy runs off the loop thread as well (KVM's teardown of a VM
 * waits for a grace period too); HVD_TEST_DESTROY_DELAY_MS slows it, and
 * the suite "destroy" checks the same two things for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sys_client.h"
#include "sys_hvd.h"

static struct sys_hvd hvd;
static long delay_ms;

/* Starts hvd with its test hook `var` set to the delay. */
static void start_slow_hvd(const char *var)
{
	char v[32];
	/* 2 s; more under the tools, but not all of HVD_TEST_SLOW: each test
	 * makes up to three slow calls. */
	delay_ms = 1000 + sys_slow_ms(1000);
	snprintf(v, sizeof(v), "%ld", delay_ms);
	setenv(var, v, 1);
	sys_hvd_start(&hvd);
	unsetenv(var);
}

static void setup(void)
{
	start_slow_hvd("HVD_TEST_MEMOP_DELAY_MS");
}

static void teardown(void)
{
	sys_hvd_stop(&hvd);
}

TestSuite(memop, .init = setup, .fini = teardown);

/* A client with a VM that says 'a' on `report`, then changes its guest
 * memory (slow), then says 'P' (or 'F' if the change failed). */
struct slow {
	int report;
};

static int slow_main(void *arg)
{
	struct slow *s = arg;
	struct sys_vm vm;
	int r = sys_vm_start(&vm, SYS_GUEST(sys_lcg));
	if (r)
		return r;
	char c = 'a';
	if (write(s->report, &c, 1) != 1)
		return 90;
	hv_return_t ret = hv_vm_protect(0, SYS_RAM_SIZE, HV_MEMORY_READ | HV_MEMORY_WRITE |
					HV_MEMORY_EXEC);
	c = ret == HV_SUCCESS ? 'P' : 'F';
	if (write(s->report, &c, 1) != 1)
		return 91;
	/* The guest still computes right after the change. */
	return sys_lcg_check(&vm, 7, 20);
}

/* Calls answered on hvd's loop thread: a VM made and destroyed, 10 times. */
static int quick_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		hv_return_t r = hv_vm_create(HV_VM_DEFAULT);
		if (r != HV_SUCCESS)
			return sys_fail(10, "hv_vm_create returned %#x", (unsigned)r);
		if ((r = hv_vm_destroy()) != HV_SUCCESS)
			return sys_fail(11, "hv_vm_destroy returned %#x", (unsigned)r);
	}
	return 0;
}

static char read_report(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	char c = 0;
	cr_assert_eq(poll(&pf, 1, SYS_WAIT_MS + (int)delay_ms * 3), 1,
		     "the slow client reported nothing");
	cr_assert_eq(read(fd, &c, 1), 1);
	return c;
}

/* Starts `slow_fn`'s client, waits for its 'a' and gives its slow call time
 * to reach hvd (a guess that only makes the checks weaker, never wrong).
 * Returns its pid; *report is the read end of its pipe. */
static pid_t start_slow_client(int (*slow_fn)(void *), int *report)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	struct slow s = { p[1] };
	pid_t pid = sys_spawn(slow_fn, &s);
	close(p[1]);
	cr_assert_eq(read_report(p[0]), 'a', "the slow client did not get its VM");
	sys_sleep_ms(delay_ms / 4);
	*report = p[0];
	return pid;
}

/*
 * Starts `slow_fn` (a client that says 'a' on its pipe, then makes its slow
 * call, then says `done` or 'F'), lets its call reach hvd, and runs
 * `other_fn` as another client meanwhile: it must finish while the slow
 * call is still running.
 */
static void expect_only_its_own_client_waits(int (*slow_fn)(void *), int (*other_fn)(void *),
					     char done, const char *call, const char *other)
{
	int report;
	pid_t slow = start_slow_client(slow_fn, &report);
	sys_expect_child_ok(sys_spawn(other_fn, NULL), other);
	int fl = fcntl(report, F_GETFL);
	fcntl(report, F_SETFL, fl | O_NONBLOCK);
	char c = 0;
	ssize_t n = read(report, &c, 1);
	cr_expect(n < 0 && errno == EAGAIN,
		  "the slow %s (%ld ms) had already returned ('%c') when %s was done: "
		  "it waited for it", call, delay_ms, n == 1 ? c : '?', other);
	fcntl(report, F_SETFL, fl);
	if (n != 1)
		c = read_report(report);
	cr_expect_eq(c, done, "the slow %s itself failed", call);
	sys_expect_child_ok(slow, "the slow client");
	close(report);
}

/* Kills `slow_fn`'s client during its slow call: once the call is done,
 * hvd must be back at its threads and descriptors, and `new_fn` must work
 * as a new client. */
static void expect_killed_client_leaves_nothing(int (*slow_fn)(void *), int (*new_fn)(void *))
{
	int fds = sys_hvd_fds(&hvd), threads = sys_hvd_threads(&hvd), sf, st;
	int report;
	pid_t slow = start_slow_client(slow_fn, &report);
	kill(slow, SIGKILL);
	sys_wait_child(slow);
	close(report);

	/* hvd tears the session down once the call is done. */
	cr_expect(sys_hvd_settles(&hvd, fds, threads, &sf, &st),
		  "hvd did not go back to %d fds and %d threads (has %d and %d)", fds, threads,
		  sf, st);
	cr_expect(sys_hvd_alive(&hvd));
	sys_expect_child_ok(sys_spawn(new_fn, NULL), "a new client");
}

Test(memop, a_slow_memory_change_holds_up_only_its_own_client)
{
	expect_only_its_own_client_waits(slow_main, quick_main, 'P', "memory change",
					 "another client's 20 calls");
}

Test(memop, a_client_killed_during_a_memory_change_leaves_nothing_behind)
{
	expect_killed_client_leaves_nothing(slow_main, quick_main);
}

/* ---- hv_vm_destroy ---- */

static void destroy_setup(void)
{
	start_slow_hvd("HVD_TEST_DESTROY_DELAY_MS");
}

TestSuite(destroy, .init = destroy_setup, .fini = teardown);

/* A client that says 'a' on `report` once its VM has no vCPU left, then
 * destroys the VM (slow), then says 'D' (or 'F' if that failed). */
static int slow_destroy_main(void *arg)
{
	struct slow *s = arg;
	struct sys_vm vm;
	int r = sys_vm_start(&vm, SYS_GUEST(sys_lcg));
	if (r || (r = sys_lcg_check(&vm, 11, 10)))
		return r;
	hv_return_t ret = hv_vcpu_destroy(vm.vcpu);
	if (ret != HV_SUCCESS)
		return sys_fail(20, "hv_vcpu_destroy returned %#x", (unsigned)ret);
	char c = 'a';
	if (write(s->report, &c, 1) != 1)
		return 90;
	ret = hv_vm_destroy();
	c = ret == HV_SUCCESS ? 'D' : 'F';
	if (write(s->report, &c, 1) != 1)
		return 91;
	/* Gone for good: a new VM can be made in its place. */
	if ((ret = hv_vm_create(HV_VM_DEFAULT)) != HV_SUCCESS)
		return sys_fail(21, "hv_vm_create after hv_vm_destroy returned %#x",
				(unsigned)ret);
	return 0;
}

/* Another client's whole VM life but its (slow) destroy: create, map,
 * vCPU, checked guest runs. The session's teardown at exit does not go
 * through hv_vm_destroy. */
static int other_vm_main(void *arg)
{
	struct sys_vm vm;
	(void)arg;
	int r = sys_vm_start(&vm, SYS_GUEST(sys_lcg));
	return r ? r : sys_lcg_check(&vm, 5, 20);
}

Test(destroy, a_slow_vm_destroy_holds_up_only_its_own_client)
{
	expect_only_its_own_client_waits(slow_destroy_main, other_vm_main, 'D', "hv_vm_destroy",
					  "another client's whole VM (create, map, vCPU, runs)");
}

/* The VM is destroyed once (by the slow call); the session's teardown
 * finds nothing more to destroy. */
Test(destroy, a_client_killed_during_vm_destroy_leaves_nothing_behind)
{
	expect_killed_client_leaves_nothing(slow_destroy_main, other_vm_main);
}
