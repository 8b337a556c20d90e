/*
 * Host-wide limits from the policy's [hvd] section: at each one the client
 * that hits it gets a clear error (or, for connections that never speak,
 * is disconnected), and everyone else goes on.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <Hypervisor/hv.h>

#include "sys_client.h"
#include "sys_hvd.h"

static struct sys_hvd hvd;

static void hvd_down(void)
{
	sys_hvd_stop(&hvd);
}

#define ROOT_RULE "[rule root]\nuid = 0\nentitlements = com.apple.security.hypervisor\n"

/* A child that creates a VM, says so through `pipe_w`, and keeps it until
 * its stdin-like pipe `hold_r` closes. */
struct holder {
	int ready_w;
	int hold_r;
};

static int hold_vm(void *arg)
{
	struct holder *h = arg;
	/* Keep only our two pipe ends: another holder's write end inherited
	 * here would keep that holder from ever seeing its pipe close. */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != h->ready_w && fd != h->hold_r)
			close(fd);
	char c = hv_vm_create(HV_VM_DEFAULT) == HV_SUCCESS ? 'y' : 'n';
	if (write(h->ready_w, &c, 1) != 1)
		return 3;
	while (read(h->hold_r, &c, 1) > 0)
		;
	return c == 'y' ? 0 : 0;
}

static pid_t start_holder(int *hold_w)
{
	int ready[2], hold[2];
	char c = 0;
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	struct holder h = { ready[1], hold[0] };
	pid_t pid = sys_spawn(hold_vm, &h);
	close(ready[1]);
	close(hold[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	cr_assert_eq(c, 'y', "the holder could not create its VM");
	*hold_w = hold[1];
	return pid;
}

static int expect_create(void *arg)
{
	hv_return_t want = *(hv_return_t *)arg;
	return hv_vm_create(HV_VM_DEFAULT) == want ? 0 : 1;
}

static void expect_child(hv_return_t want)
{
	int status;
	pid_t pid = sys_spawn(expect_create, &want);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "hv_vm_create did not return %#x", (unsigned)want);
}

static void release(pid_t pid, int hold_w)
{
	int status;
	close(hold_w);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
}

Test(limits, max_clients_refuses_one_more_with_no_resources, .fini = hvd_down)
{
	int w1, w2;
	sys_hvd_start_config(&hvd, "[hvd]\naudit = @AUDIT@\nmax_clients = 2\n" ROOT_RULE);
	pid_t a = start_holder(&w1), b = start_holder(&w2);
	expect_child(HV_NO_RESOURCES);
	release(a, w1);
	/* A place is free again once a client leaves. */
	for (long long end = sys_now_ms() + SYS_WAIT_MS;;) {
		int status;
		hv_return_t ok = HV_SUCCESS;
		pid_t c = sys_spawn(expect_create, &ok);
		waitpid(c, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			goto freed;
		if (sys_now_ms() >= end)
			break;
		sys_sleep_ms(50);
	}
	cr_assert_fail("no client was accepted after one left");
freed:
	release(b, w2);
	cr_assert(sys_hvd_alive(&hvd));
}

Test(limits, host_max_vms_is_a_host_wide_quota, .fini = hvd_down)
{
	int w;
	sys_hvd_start_config(&hvd, "[hvd]\naudit = @AUDIT@\nhost_max_vms = 1\n" ROOT_RULE);
	pid_t a = start_holder(&w);
	expect_child(HV_NO_RESOURCES);
	release(a, w);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%.100s", path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0,
		     "connect: %s", strerror(errno));
	return fd;
}

/* Returns once hvd has closed `fd` (recv sees EOF); false after the wait. */
static bool closed_by_hvd(int fd)
{
	struct timeval tv = { SYS_WAIT_MS / 1000, 0 };
	char c;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return recv(fd, &c, 1, 0) == 0;
}

Test(limits, silent_connections_are_limited_and_timed_out, .fini = hvd_down)
{
	char conf[256];
	/* Long enough for the new client below to meet both silent ones
	 * still there (scaled: hvd may be slowed down by a tool). */
	snprintf(conf, sizeof(conf), "[hvd]\naudit = @AUDIT@\nmax_unauthenticated = 2\nmax_unauthenticated_per_uid = 2\n"
		 "hello_timeout_ms = %ld\n" ROOT_RULE, sys_slow_ms(300));
	sys_hvd_start_config(&hvd, conf);
	int a = raw_connect(hvd.sock), b = raw_connect(hvd.sock);
	sys_sleep_ms(sys_slow_ms(50));
	/* The third silent connection is over the limit: closed at once. */
	int c = raw_connect(hvd.sock);
	cr_assert(closed_by_hvd(c), "the third silent connection stayed open");
	/* While both slots for connections without Hello are taken, a new
	 * client cannot get in either (every connection starts without
	 * Hello): it is told there is no hypervisor to talk to. */
	expect_child(HV_NO_DEVICE);
	/* The two silent ones are closed when their time to say Hello is
	 * up, and clients get in again. */
	cr_assert(closed_by_hvd(a), "a silent connection outlived hello_timeout_ms");
	cr_assert(closed_by_hvd(b), "a silent connection outlived hello_timeout_ms");
	expect_child(HV_SUCCESS);
	close(a);
	close(b);
	close(c);
	cr_assert(sys_hvd_alive(&hvd));
}

static int map_with_no_fds(void *arg)
{
	(void)arg;
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS)
		return 2;
	void *ram = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Guest memory travels as a descriptor, which max_fds = 0 forbids:
	 * the call fails instead of mapping. */
	return hv_vm_map(ram, 0, 1 << 16, HV_MEMORY_READ) != HV_SUCCESS ? 0 : 1;
}

Test(limits, max_fds_zero_refuses_memory_descriptors, .fini = hvd_down)
{
	int status;
	sys_hvd_start_config(&hvd, "[hvd]\naudit = @AUDIT@\nmax_fds = 0\n" ROOT_RULE);
	pid_t pid = sys_spawn(map_with_no_fds, NULL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "hv_vm_map succeeded although descriptors are not allowed");
	cr_assert(sys_hvd_alive(&hvd));
}
