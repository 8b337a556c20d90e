/*
 * hvd going away under a client whose vCPU is inside the guest: cleanly
 * (SIGTERM) or not at all cleanly (SIGKILL). The client must get an error
 * from hv_vcpu_run instead of waiting forever for an exit that cannot
 * come, and every later call must fail rather than hang.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sys_client.h"
#include "sys_hvd.h"

/* A client that sees this many spurious VMX_REASON_IRQ returns in a row
 * after hvd is gone counts as hanging. */
#define MAX_SPURIOUS 1000

static struct sys_hvd hvd;

static void hvd_up(void)
{
	sys_hvd_start(&hvd);
}

static void hvd_down(void)
{
	sys_hvd_stop(&hvd);
}

/* What the client saw, sent back to the test in one write. */
struct outcome {
	int step;                 /* 0, or where the client failed */
	hv_return_t run;          /* the first hv_vcpu_run that was not HV_SUCCESS */
	int spurious;             /* HV_SUCCESS + VMX_REASON_IRQ returns before it */
	hv_return_t run_again;    /* hv_vcpu_run once more */
	hv_return_t map;          /* hv_vm_map of new memory */
	hv_return_t vcpu_create;  /* hv_vcpu_create on another thread */
	hv_return_t read_msr;     /* an RPC on the existing vCPU */
};

struct client {
	int report;               /* write end: RAM address, then the outcome */
	int close_fd;
};

static void *create_vcpu_thread(void *arg)
{
	hv_vcpuid_t vcpu;

	*(hv_return_t *)arg = hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT);
	return NULL;
}

static int client_main(void *arg)
{
	struct client *c = arg;
	struct outcome out = { 0 };
	struct sys_vm vm;
	pthread_t t;
	uint64_t value;
	int r;

	close(c->close_fd);
	/* Whatever happens, the client itself never outlives the test. */
	alarm(30 * (unsigned)sys_slow());
	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_count))))
		return r;
	if (write(c->report, &vm.ram, sizeof(vm.ram)) != sizeof(vm.ram))
		return sys_fail(80, "write to the test: %s", strerror(errno));

	/* sys_count never exits by itself: a return with HV_SUCCESS can only
	 * be an interruption, which an Apple client answers by running
	 * again. */
	for (;;) {
		out.run = hv_vcpu_run(vm.vcpu);
		if (out.run != HV_SUCCESS)
			break;
		uint64_t reason = 0;
		if (hv_vmx_vcpu_read_vmcs(vm.vcpu, VMCS_RO_EXIT_REASON, &reason) != HV_SUCCESS ||
		    (reason & 0xffff) != VMX_REASON_IRQ) {
			out.step = 1;
			break;
		}
		if (++out.spurious >= MAX_SPURIOUS) {
			out.step = 2;
			break;
		}
	}
	out.run_again = hv_vcpu_run(vm.vcpu);
	void *more = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	out.map = hv_vm_map(more, 0x100000, 0x1000, HV_MEMORY_READ | HV_MEMORY_WRITE);
	/* Another thread: this one has a vCPU already, which libhvclient
	 * would refuse without asking hvd. */
	if (pthread_create(&t, NULL, create_vcpu_thread, &out.vcpu_create) != 0)
		out.step = 3;
	else
		pthread_join(t, NULL);
	out.read_msr = hv_vcpu_read_msr(vm.vcpu, 0x174, &value);
	if (write(c->report, &out, sizeof(out)) != sizeof(out))
		return sys_fail(81, "write to the test: %s", strerror(errno));
	return 0;
}

/* Starts the client and returns once its guest is seen counting. */
static pid_t start_client(int *report_rd)
{
	struct client c;
	int report[2];
	uint8_t *ram;
	pid_t pid;

	cr_assert_eq(pipe(report), 0);
	c.report = report[1];
	c.close_fd = report[0];
	pid = sys_spawn(client_main, &c);
	cr_assert_gt(pid, 0);
	close(report[1]);
	cr_assert_eq(read(report[0], &ram, sizeof(ram)), (ssize_t)sizeof(ram),
	    "the client died before its guest started");

	uint32_t first = 0, now = 0;
	struct iovec local = { &now, sizeof(now) };
	struct iovec remote = { ram + SYS_DATA, sizeof(now) };
	cr_assert_eq(process_vm_readv(pid, &local, 1, &remote, 1, 0), (ssize_t)sizeof(now),
	    "process_vm_readv: %s", strerror(errno));
	first = now;
	/* `now` changes through process_vm_readv's iovec. */
	long long end = sys_now_ms() + SYS_WAIT_MS;
	while (now == first) {
		cr_assert_lt(sys_now_ms(), end, "the client's guest never counted");
		sys_sleep_ms(1);
		cr_assert_eq(process_vm_readv(pid, &local, 1, &remote, 1, 0),
		    (ssize_t)sizeof(now), "process_vm_readv: %s", strerror(errno));
	}
	*report_rd = report[0];
	return pid;
}

static void expect_client_fails_cleanly(pid_t pid, int report_rd)
{
	struct pollfd p = { report_rd, POLLIN, 0 };
	struct outcome out;

	cr_assert_eq(poll(&p, 1, SYS_WAIT_MS), 1,
	    "hv_vcpu_run (or a call after it) did not return within %d ms of hvd's end",
	    SYS_WAIT_MS);
	cr_assert_eq(read(report_rd, &out, sizeof(out)), (ssize_t)sizeof(out),
	    "the client died instead of reporting");
	close(report_rd);
	cr_assert_eq(out.step, 0, "the client's run loop failed at step %d "
	    "(1: a real exit from a guest that never exits, 2: endless spurious exits)",
	    out.step);
	cr_assert_neq(out.run, HV_SUCCESS);
	cr_assert_neq(out.run_again, HV_SUCCESS, "hv_vcpu_run succeeded without hvd");
	cr_assert_neq(out.map, HV_SUCCESS, "hv_vm_map succeeded without hvd");
	cr_assert_neq(out.vcpu_create, HV_SUCCESS, "hv_vcpu_create succeeded without hvd");
	cr_assert_neq(out.read_msr, HV_SUCCESS, "hv_vcpu_read_msr succeeded without hvd");
	sys_expect_child_ok(pid, "the client");
	/* Last, so that the checks above hold whatever this says: the run
	 * that hvd cut short must itself report the error. A success with
	 * VMX_REASON_IRQ claims the vCPU is there to run again, and it is
	 * not. */
	cr_assert_eq(out.spurious, 0,
	    "the interrupted hv_vcpu_run returned HV_SUCCESS (exit VMX_REASON_IRQ) "
	    "after hvd stopped; only the re-run (%d spurious returns) reported the "
	    "error %#x", out.spurious, (unsigned)out.run);
}

/* Each test's time limit is Criterion's --timeout, set in CMakeLists.txt
 * (and scaled by the tool scripts). */
Test(shutdown, sigterm_while_a_vcpu_runs_fails_the_client, .init = hvd_up,
    .fini = hvd_down)
{
	struct stat st;
	int report;
	pid_t pid = start_client(&report);

	cr_assert(sys_hvd_kill_wait(&hvd, SIGTERM),
	    "hvd did not stop on SIGTERM while a vCPU ran");
	cr_assert(WIFEXITED(hvd.status) && WEXITSTATUS(hvd.status) == 0,
	    "hvd ended with status %#x on SIGTERM", hvd.status);
	cr_assert_neq(stat(hvd.sock, &st), 0, "hvd left its socket behind");
	expect_client_fails_cleanly(pid, report);
}

Test(shutdown, sigkill_while_a_vcpu_runs_fails_the_client, .init = hvd_up,
    .fini = hvd_down)
{
	int report;
	pid_t pid = start_client(&report);

	cr_assert(sys_hvd_kill_wait(&hvd, SIGKILL), "hvd did not die of SIGKILL");
	expect_client_fails_cleanly(pid, report);
}

/* Clients, scripts (scripts/with-hvd.sh) and service managers take the
 * socket's appearance as "hvd is up". From then on a client must be able
 * to connect, and SIGTERM must mean a clean stop rather than the default
 * action that kills hvd and leaves a stale socket. The test watches for
 * the socket as closely as it can and acts at once, a few times over,
 * since a window before hvd is ready is not hit every time. */
Test(shutdown, hvd_is_ready_as_soon_as_its_socket_appears, .fini = hvd_down)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;

	for (int round = 0; round < 50; round++) {
		sys_hvd_spawn(&hvd);
		strcpy(addr.sun_path, hvd.sock);
		for (long long end = sys_now_ms() + SYS_WAIT_MS;
		     stat(hvd.sock, &st) != 0 || !S_ISSOCK(st.st_mode);) {
			cr_assert(sys_now_ms() < end && sys_hvd_alive(&hvd),
			    "hvd did not create its socket");
			sched_yield();
		}
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		int connected = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
		int connect_errno = errno;
		close(fd);
		bool stopped = sys_hvd_kill_wait(&hvd, SIGTERM);
		int status = hvd.status;
		bool left_socket = stat(hvd.sock, &st) == 0;
		sys_hvd_stop(&hvd);
		cr_assert(stopped, "hvd did not stop on SIGTERM");
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "round %d: hvd did not stop cleanly on SIGTERM right after it created "
		    "its socket: %s %d", round,
		    WIFSIGNALED(status) ? "killed by signal" : "exit status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		cr_assert_not(left_socket, "round %d: hvd left its socket behind", round);
		cr_assert_eq(connected, 0, "round %d: connecting right after the socket "
		    "appeared failed: %s", round, strerror(connect_errno));
	}
}
