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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

/* Has process `pid` left root's uid (its real uid, /proc/PID/status)? */
static bool dropped_root(pid_t pid)
{
	char path[64], line[256];
	bool dropped = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Uid:", 4) == 0)
			dropped = atol(line + 4) != 0;
	if (f)
		fclose(f);
	return dropped;
}

/* The children of process `pid` (/proc/PID/task/PID/children), up to
 * `max`; returns how many. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	char path[64];
	int n = 0;
	long c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "re");
	while (f && n < max && fscanf(f, "%ld", &c) == 1)
		out[n++] = (pid_t)c;
	if (f)
		fclose(f);
	return n;
}

/* Is process `pid` running (there, and not a zombie)? */
static bool running(pid_t pid)
{
	char path[64], stat[512];
	bool yes = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (f && fgets(stat, sizeof(stat), f)) {
		const char *p = strrchr(stat, ')');
		yes = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	}
	if (f)
		fclose(f);
	return yes;
}

/* Does process `pid` have the name `comm`? */
static bool named(pid_t pid, const char *comm)
{
	char path[64], name[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (f && fgets(name, sizeof(name), f))
		name[strcspn(name, "\n")] = '\0';
	if (f)
		fclose(f);
	return strcmp(name, comm) == 0;
}

/* Reaps what comes to the test as a child subreaper, for up to 3 s. */
static void reap_orphans(void)
{
	for (long long end = sys_now_ms() + 3000; sys_now_ms() < end; sys_sleep_ms(10)) {
		pid_t r;
		while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (r < 0 && errno == ECHILD)
			break;
	}
}

/* Workers set PR_SET_PDEATHSIG and then change uid, which clears it:
 * they set it again, so that they die with hvd-zygote (whatever hvd
 * still holds of them). The pool's workers, killed with nothing else. */
Test(shutdown, workers_die_with_the_zygote, .init = hvd_up, .fini = hvd_down)
{
	if (getenv("HVD_TEST_IN_PROCESS"))
		cr_skip_test("hvd runs --in-process here (scripts/tsan.sh): no zygote, no workers");
	pid_t kids[16], workers[16], zygote = 0;
	int n = children_of(hvd.pid, kids, 16), nw = 0;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, "%s", strerror(errno));
	for (int i = 0; i < n; i++)
		if (named(kids[i], "hvd-zygote"))
			zygote = kids[i];
	cr_assert_gt(zygote, 0, "hvd %d has no hvd-zygote", (int)hvd.pid);
	/* The pool fills at start (hvd_workers_init): wait for a worker. */
	for (long long end = sys_now_ms() + SYS_WAIT_MS; !nw && sys_now_ms() < end;
	     sys_sleep_ms(10))
		nw = children_of(zygote, workers, 16);
	cr_assert_gt(nw, 0, "hvd-zygote %d started no worker", (int)zygote);
	kill(zygote, SIGKILL);
	int left = nw;
	for (long long end = sys_now_ms() + sys_slow_ms(3000); left && sys_now_ms() < end;
	     sys_sleep_ms(10)) {
		left = 0;
		for (int i = 0; i < nw; i++)
			left += running(workers[i]);
	}
	/* Reaped: they come to the test, the subreaper. */
	for (int i = 0; i < nw; i++) {
		if (running(workers[i]))
			kill(workers[i], SIGKILL);
		for (long long end = sys_now_ms() + 3000; sys_now_ms() < end; sys_sleep_ms(5)) {
			pid_t r = waitpid(workers[i], NULL, WNOHANG);
			if (r == workers[i] || (r < 0 && errno == ECHILD))
				break;
		}
	}
	cr_assert_eq(left, 0, "%d of hvd-zygote's %d workers outlived it by 3 s", left, nw);
}

/* A test harness sets PR_SET_PDEATHSIG before it execs hvd (sys_hvd.c),
 * and the kernel clears it when hvd changes its credentials (the drop of
 * root's): hvd sets it again, so that an hvd whose test died does not
 * live on. Here the harness runs in a process of its own, which is then
 * killed; the test, a child subreaper, inherits hvd and sees it go. */
Test(shutdown, hvd_dies_with_the_process_that_started_it)
{
	struct sys_hvd d;
	int fds[2], status = 0;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, "%s", strerror(errno));
	cr_assert_eq(pipe(fds), 0);
	pid_t starter = fork();
	cr_assert_neq(starter, -1);
	if (starter == 0) {
		close(fds[0]);
		sys_hvd_spawn(&d);
		if (write(fds[1], &d, sizeof(d)) != sizeof(d))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &d, sizeof(d)), (ssize_t)sizeof(d), "no hvd from the starter");
	close(fds[0]);
	/* Serving, and past the change of credentials (hvd leaves root's
	 * uid after its socket is up). */
	struct stat st;
	for (long long end = sys_now_ms() + SYS_WAIT_MS; sys_now_ms() < end;
	     sys_sleep_ms(5))
		if (stat(d.sock, &st) == 0 && dropped_root(d.pid))
			break;
	cr_log_info("hvd %d %s root's uid", (int)d.pid,
	    dropped_root(d.pid) ? "left" : "did not leave");
	kill(starter, SIGKILL);
	waitpid(starter, NULL, 0);

	long long t0 = sys_now_ms();
	bool gone = false;
	while (!gone && sys_now_ms() - t0 < sys_slow_ms(5000)) {
		gone = waitpid(d.pid, &status, WNOHANG) == d.pid;
		if (!gone)
			sys_sleep_ms(10);
	}
	if (!gone) {
		kill(d.pid, SIGKILL);
		waitpid(d.pid, &status, 0);
	}
	/* hvd's helpers come to the test too. */
	reap_orphans();
	d.pid = -1;
	sys_hvd_stop(&d);
	cr_assert(gone, "hvd outlived the process that started it by 5 s");
	cr_log_info("hvd went %lld ms after its starter, %s %d", sys_now_ms() - t0,
	    WIFSIGNALED(status) ? "killed by signal" : "exit status",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "hvd ended with status %#x, not the starter's parent-death signal", status);
}
