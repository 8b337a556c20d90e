/*
 * Several real client processes on one hvd: they run at the same time
 * without disturbing each other, and one that dies in the middle of a run
 * is released without leaving threads or descriptors behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sys_client.h"
#include "sys_hvd.h"

#define NCLIENTS 4
#define ROUNDS 20
#define STEPS 50

static struct sys_hvd hvd;
static int base_fds, base_threads;

static void hvd_up(void)
{
	sys_hvd_start(&hvd);
	base_fds = sys_hvd_fds(&hvd);
	base_threads = sys_hvd_threads(&hvd);
	cr_assert_gt(base_fds, 0);
	cr_assert_gt(base_threads, 0);
}

static void hvd_down(void)
{
	sys_hvd_stop(&hvd);
}

/* A client that sets its VM up, says so on `ready`, waits for a byte on
 * `go`, then checks `ROUNDS` runs of its own LCG sequence. */
struct gated {
	uint32_t seed;
	int ready;      /* write end */
	int go;         /* read end */
	int close_fds[2];
};

static int gated_main(void *arg)
{
	struct gated *g = arg;
	struct sys_vm vm;
	char c = 0;
	int r;

	close(g->close_fds[0]);
	close(g->close_fds[1]);
	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_lcg))))
		return r;
	/* One round before the gate: the client is known to work alone. */
	if ((r = sys_lcg_check(&vm, g->seed, STEPS)))
		return r;
	if (write(g->ready, &c, 1) != 1)
		return sys_fail(80, "write to the test: %s", strerror(errno));
	if (read(g->go, &c, 1) != 1)
		return sys_fail(81, "the test went away");
	for (unsigned i = 0; i < ROUNDS; i++) {
		if ((r = sys_vm_reload(&vm, SYS_GUEST(sys_lcg))) ||
		    (r = sys_lcg_check(&vm, g->seed + i * 104729u, STEPS)))
			return r;
	}
	return sys_vm_end(&vm);
}

static void wait_ready(int fd, int n)
{
	char c;

	for (int i = 0; i < n; i++)
		cr_assert_eq(read(fd, &c, 1), 1, "a client died before it was ready");
}

/* Each client computes its own sequence from its own seed and checks every
 * value in its registers and RAM: a run, a register or a page of one
 * client landing in another's VM breaks a check. */
Test(clients, concurrent_clients_each_run_their_own_guest, .init = hvd_up,
    .fini = hvd_down)
{
	struct gated g[NCLIENTS];
	pid_t pid[NCLIENTS];
	int ready[2], go[2], fds, threads;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	for (int i = 0; i < NCLIENTS; i++) {
		g[i] = (struct gated){ 0x1000u * (i + 1) + 17, ready[1], go[0],
		    { ready[0], go[1] } };
		pid[i] = sys_spawn(gated_main, &g[i]);
		cr_assert_gt(pid[i], 0);
	}
	close(ready[1]);
	close(go[0]);
	wait_ready(ready[0], NCLIENTS);

	/* All sessions are open with a VM and a vCPU at once: hvd runs one
	 * thread per vCPU. */
	threads = sys_hvd_threads(&hvd);
	cr_assert_eq(threads, base_threads + NCLIENTS,
	    "hvd has %d threads with %d vCPUs, expected %d", threads, NCLIENTS,
	    base_threads + NCLIENTS);

	char start[NCLIENTS] = { 0 };
	cr_assert_eq(write(go[1], start, NCLIENTS), NCLIENTS);
	for (int i = 0; i < NCLIENTS; i++)
		sys_expect_child_ok(pid[i], "a concurrent client");
	close(go[1]);
	close(ready[0]);

	cr_assert(sys_hvd_alive(&hvd), "hvd died");
	cr_assert(sys_hvd_settles(&hvd, base_fds, base_threads, &fds, &threads),
	    "after all clients left hvd has %d fds and %d threads, expected %d and %d",
	    fds, threads, base_fds, base_threads);
}

/* Reports where its RAM is, then runs sys_count, which never exits: the
 * client stays inside hv_vcpu_run until it is killed. */
struct spinner {
	int report;     /* write end: the address of the guest RAM */
	int close_fd;
};

static int spinner_main(void *arg)
{
	struct spinner *s = arg;
	struct sys_vm vm;
	uint32_t reason;
	int r;

	close(s->close_fd);
	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_count))))
		return r;
	if (write(s->report, &vm.ram, sizeof(vm.ram)) != sizeof(vm.ram))
		return sys_fail(80, "write to the test: %s", strerror(errno));
	hv_return_t ret = sys_run(&vm, &reason);
	return sys_fail(81, "the counting guest came back: status %#x, exit %u",
	    (unsigned)ret, reason);
}

/* Reads the counter sys_count increments, from the client's memory. */
static uint32_t read_counter(pid_t pid, uint8_t *ram)
{
	uint32_t value = 0;
	struct iovec local = { &value, sizeof(value) };
	struct iovec remote = { ram + SYS_DATA, sizeof(value) };

	cr_assert_eq(process_vm_readv(pid, &local, 1, &remote, 1, 0),
	    (ssize_t)sizeof(value), "process_vm_readv: %s", strerror(errno));
	return value;
}

/* Starts a spinner and returns once its guest is seen counting, that is,
 * once its vCPU is inside the guest. */
static pid_t start_spinner(void)
{
	struct spinner s;
	int report[2];
	uint8_t *ram;
	pid_t pid;

	cr_assert_eq(pipe(report), 0);
	s.report = report[1];
	s.close_fd = report[0];
	pid = sys_spawn(spinner_main, &s);
	cr_assert_gt(pid, 0);
	close(report[1]);
	cr_assert_eq(read(report[0], &ram, sizeof(ram)), (ssize_t)sizeof(ram),
	    "the spinning client died before its guest started");
	close(report[0]);

	uint32_t first = read_counter(pid, ram), now = first;
	for (long long end = sys_now_ms() + SYS_WAIT_MS; now == first;) {
		cr_assert_lt(sys_now_ms(), end, "the spinning guest never counted");
		sys_sleep_ms(1);
		now = read_counter(pid, ram);
	}
	return pid;
}

/* A survivor that is ready (VM up, one round done) before the victim
 * starts and goes on only after the victim is gone. */
struct survivor {
	struct gated g;
	pid_t pid;
	int ready_rd, go_wr;
};

static void survivor_start(struct survivor *s, uint32_t seed)
{
	int ready[2], go[2];

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	s->g = (struct gated){ seed, ready[1], go[0], { ready[0], go[1] } };
	s->pid = sys_spawn(gated_main, &s->g);
	cr_assert_gt(s->pid, 0);
	close(ready[1]);
	close(go[0]);
	s->ready_rd = ready[0];
	s->go_wr = go[1];
	wait_ready(s->ready_rd, 1);
}

static void survivor_finish(struct survivor *s)
{
	char c = 0;

	cr_assert_eq(write(s->go_wr, &c, 1), 1);
	sys_expect_child_ok(s->pid, "the client connected before the kill");
	close(s->go_wr);
	close(s->ready_rd);
}

static int fresh_client_main(void *arg)
{
	(void)arg;
	return sys_client_lcg(0xc0ffee, 3, STEPS);
}

/* SIGKILL gives the client no chance to say goodbye while hvd's vCPU
 * thread is in KVM_RUN for it: hvd learns it only from the socket. It must
 * stop that vCPU, join its thread and close everything the session held,
 * without the other sessions noticing. */
Test(clients, killed_client_is_released_and_others_keep_running, .init = hvd_up,
    .fini = hvd_down)
{
	struct survivor before;
	int with_fds, with_threads, fds, threads, status;

	survivor_start(&before, 0xbeef);
	sys_hvd_steady(&hvd, &with_fds, &with_threads); /* the pool's new worker in */

	pid_t victim = start_spinner();
	threads = sys_hvd_threads(&hvd);
	cr_assert_eq(threads, with_threads + 1,
	    "hvd has %d threads while the victim runs, expected %d", threads,
	    with_threads + 1);

	cr_assert_eq(kill(victim, SIGKILL), 0);
	cr_assert_eq(waitpid(victim, &status, 0), victim);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "the victim ended otherwise (status %#x)", status);

	cr_assert(sys_hvd_settles(&hvd, with_fds, with_threads, &fds, &threads),
	    "after the kill hvd still has %d fds and %d threads, expected %d and %d",
	    fds, threads, with_fds, with_threads);
	cr_assert(sys_hvd_alive(&hvd), "hvd died with its client");

	sys_expect_child_ok(sys_spawn(fresh_client_main, NULL),
	    "a client connected after the kill");
	survivor_finish(&before);

	cr_assert(sys_hvd_settles(&hvd, base_fds, base_threads, &fds, &threads),
	    "after all clients left hvd has %d fds and %d threads, expected %d and %d",
	    fds, threads, base_fds, base_threads);
}

/* ---- worker processes (daemon/hvd_worker.c) ---- */

/* The worker that appeared busy after `before` was listed: the one
 * running the VM started in between. */
static pid_t new_busy_worker(const pid_t *before, int nbefore)
{
	pid_t now[64];
	int n = sys_hvd_busy_workers(&hvd, now, 64);
	pid_t found = 0;
	for (int i = 0; i < n; i++) {
		bool old = false;
		for (int j = 0; j < nbefore; j++)
			old |= now[i] == before[j];
		if (!old) {
			cr_assert_eq(found, 0, "two new busy workers (%d, %d)", (int)found,
			    (int)now[i]);
			found = now[i];
		}
	}
	cr_assert_gt(found, 0, "no worker process runs the new VM");
	return found;
}

/* A worker that dies (killed, or crashing with `sig`) takes only its own
 * VM: its client's run fails with an error instead of hanging, the other
 * client computes on, hvd serves new clients and lets go of everything. */
static void worker_dies(int sig)
{
	struct survivor before;
	pid_t busy[64];
	int status, fds, threads;

	survivor_start(&before, 0xfeed + (uint32_t)sig);
	int nbusy = sys_hvd_busy_workers(&hvd, busy, 64);
	pid_t victim = start_spinner();
	pid_t worker = new_busy_worker(busy, nbusy);

	cr_assert_eq(kill(worker, sig), 0, "kill %d: %s", (int)worker, strerror(errno));
	status = sys_wait_child(victim);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 81,
	    "the client of the dead worker ended otherwise (status %#x): its run "
	    "should fail with an error", status);
	cr_assert(sys_hvd_alive(&hvd), "hvd died with a worker");
	survivor_finish(&before);
	sys_expect_child_ok(sys_spawn(fresh_client_main, NULL),
	    "a client connected after the worker died");
	cr_assert(sys_hvd_settles(&hvd, base_fds, base_threads, &fds, &threads),
	    "after the worker died hvd has %d fds and %d threads, expected %d and %d",
	    fds, threads, base_fds, base_threads);
}

Test(clients, a_killed_worker_ends_only_its_vm, .init = hvd_up, .fini = hvd_down)
{
	if (getenv("HVD_TEST_IN_PROCESS"))
		cr_skip_test("hvd runs --in-process here (scripts/tsan.sh): no workers");
	worker_dies(SIGKILL);
}

/* A crash is a signal from the kernel (SIGSEGV); sent from outside, it
 * ends the worker the same way. */
Test(clients, a_crashing_worker_ends_only_its_vm, .init = hvd_up, .fini = hvd_down)
{
	if (getenv("HVD_TEST_IN_PROCESS"))
		cr_skip_test("hvd runs --in-process here (scripts/tsan.sh): no workers");
	worker_dies(SIGSEGV);
}

/* A field of /proc/PID/status ("Uid:", "CapEff:", ...), as text. */
static void proc_status(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			snprintf(out, len, "%s", line + strlen(key) + 1);
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* Each descriptor of process `pid`: its /proc path and link target, to
 * `fn`, which may stop the walk by returning false. */
static void each_fd(pid_t pid, bool (*fn)(const char *path, const char *target, void *arg),
		    void *arg)
{
	char dir[64], path[320], target[256];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *dp = opendir(dir);
	struct dirent *e;
	cr_assert_not_null(dp, "%s: %s", dir, strerror(errno));
	while ((e = readdir(dp))) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (!fn(path, target, arg))
			break;
	}
	closedir(dp);
}

struct inodes {
	ino_t *out;
	int n, max;
};

static bool memfd_inode(const char *path, const char *target, void *arg)
{
	struct inodes *in = arg;
	struct stat st;
	if (strncmp(target, "/memfd:", 7) == 0 && stat(path, &st) == 0)
		in->out[in->n++] = st.st_ino;
	return in->n < in->max;
}

/* The memfds a process holds (its guest RAM and run pages), by inode. */
static int memfd_inodes(pid_t pid, ino_t *out, int max)
{
	struct inodes in = { out, 0, max };
	each_fd(pid, memfd_inode, &in);
	return in.n;
}

struct kind_count {
	char want[64];
	int n;
};

static bool kvm_fd(const char *path, const char *target, void *arg)
{
	struct kind_count *c = arg;
	size_t w = strlen(c->want);
	(void)path;
	/* vCPUs are "kvm-vcpu:ID" */
	c->n += strncmp(target, c->want, w) == 0 && (target[w] == '\0' || target[w] == ':');
	return true;
}

/* How many descriptors of process `pid` are KVM objects of `kind`
 * ("kvm-vm", "kvm-vcpu"). */
static int kvm_fds(pid_t pid, const char *kind)
{
	struct kind_count c = { .n = 0 };
	snprintf(c.want, sizeof(c.want), "anon_inode:%s", kind);
	each_fd(pid, kvm_fd, &c);
	return c.n;
}

/* Each VM's worker runs as a uid that is neither root nor hvd's, with no
 * capabilities, no_new_privs and a seccomp filter, and holds its own VM's
 * memory and KVM VM only (not hvd's idle VM, not another worker's). */
Test(clients, workers_are_confined_to_their_own_vm, .init = hvd_up, .fini = hvd_down)
{
	if (getenv("HVD_TEST_KEEPS_ROOT"))
		cr_skip_test("hvd runs --no-sandbox here (scripts/valgrind.sh): workers keep root");
	if (getenv("HVD_TEST_IN_PROCESS"))
		cr_skip_test("hvd runs --in-process here (scripts/tsan.sh): no workers");
	struct survivor other;
	pid_t busy[64];
	char uid[64], hvd_uid[64], caps[64], nnp[16], sec[16];

	int n0 = sys_hvd_busy_workers(&hvd, busy, 64);
	survivor_start(&other, 0xabcd);
	pid_t other_worker = new_busy_worker(busy, n0);
	n0 = sys_hvd_busy_workers(&hvd, busy, 64);
	pid_t victim = start_spinner();
	pid_t worker = new_busy_worker(busy, n0);

	proc_status(worker, "Uid:", uid, sizeof(uid));
	proc_status(hvd.pid, "Uid:", hvd_uid, sizeof(hvd_uid));
	proc_status(worker, "CapEff:", caps, sizeof(caps));
	proc_status(worker, "NoNewPrivs:", nnp, sizeof(nnp));
	proc_status(worker, "Seccomp:", sec, sizeof(sec));
	cr_expect(atoi(uid) != 0, "the worker runs as root (Uid: %s)", uid);
	cr_expect(atoi(uid) != atoi(hvd_uid), "the worker runs as hvd's uid (%s)", uid);
	cr_expect_str_eq(caps, "0000000000000000", "the worker has capabilities");
	cr_expect_str_eq(nnp, "1", "the worker may gain privileges");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	cr_expect_str_eq(sec, "2", "the worker has no seccomp filter");
#endif

	ino_t mine[256], theirs[256];
	int nm = memfd_inodes(worker, mine, 256), nt = memfd_inodes(other_worker, theirs, 256);
	cr_expect_gt(nm, 0, "the worker holds no guest memory or run page");
	for (int i = 0; i < nm; i++)
		for (int j = 0; j < nt; j++)
			cr_expect_neq(mine[i], theirs[j],
			    "two VMs' workers hold the same memfd (inode %lu)",
			    (unsigned long)mine[i]);

	/* hvd itself holds only the idle VM that keeps KVM's first-VM set-up
	 * (x86: hvd_main.c keep_kvm_warm); none of the clients' VMs. */
	cr_expect_eq(kvm_fds(worker, "kvm-vm"), 1, "the worker holds %d KVM VMs, not its own one",
		     kvm_fds(worker, "kvm-vm"));
	cr_expect_eq(kvm_fds(other_worker, "kvm-vm"), 1, "the other worker holds %d KVM VMs",
		     kvm_fds(other_worker, "kvm-vm"));
#if defined(__x86_64__)
	const int idle = 1;
#else
	const int idle = 0;
#endif
	cr_expect_eq(kvm_fds(hvd.pid, "kvm-vm"), idle, "hvd holds %d KVM VMs (its idle one: %d)",
		     kvm_fds(hvd.pid, "kvm-vm"), idle);
	cr_expect_eq(kvm_fds(hvd.pid, "kvm-vcpu"), idle, "hvd holds %d KVM vCPUs (its idle one: %d)",
		     kvm_fds(hvd.pid, "kvm-vcpu"), idle);

	cr_assert_eq(kill(victim, SIGKILL), 0);
	sys_wait_child(victim);
	survivor_finish(&other);
}

/* A client that creates its VM and stops there (no vCPU yet): says so on
 * `ready`, then on each byte of `go` destroys the VM, creates it again,
 * and (the second time) runs a guest in it. */
struct vm_only {
	int ready, go;   /* write end, read end */
	int close_fds[2];
};

static int vm_only_main(void *arg)
{
	struct vm_only *o = arg;
	struct sys_vm vm;
	hv_return_t ret;
	char c = 0;
	int r;

	close(o->close_fds[0]);
	close(o->close_fds[1]);
	if ((ret = hv_vm_create(HV_VM_DEFAULT)) != HV_SUCCESS)
		return sys_fail(70, "hv_vm_create: %#x", (unsigned)ret);
	if (write(o->ready, &c, 1) != 1 || read(o->go, &c, 1) != 1)
		return sys_fail(71, "the test went away");
	if ((ret = hv_vm_destroy()) != HV_SUCCESS)
		return sys_fail(72, "hv_vm_destroy of a VM without vCPUs: %#x", (unsigned)ret);
	if (write(o->ready, &c, 1) != 1 || read(o->go, &c, 1) != 1)
		return sys_fail(73, "the test went away");
	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_lcg))) || (r = sys_lcg_check(&vm, 0x7777, STEPS)))
		return r;
	return sys_vm_end(&vm);
}

/* A worker starts its VM's first vCPU thread as soon as the VM exists
 * (hvd_vcpu_ahead), before the client asks for the vCPU. That thread must
 * end with a VM destroyed without any vCPU, and with a client killed
 * before it made one, and leave a later VM working. */
Test(clients, a_vm_ended_before_its_first_vcpu_leaves_no_thread_behind, .init = hvd_up,
    .fini = hvd_down)
{
	struct vm_only o;
	int ready[2], go[2], fds, threads;
	char c = 0;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	o = (struct vm_only){ ready[1], go[0], { ready[0], go[1] } };
	pid_t pid = sys_spawn(vm_only_main, &o);
	cr_assert_gt(pid, 0);
	close(ready[1]);
	close(go[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the client died before its VM was made");
	/* At most the thread started ahead (none where hvd runs VMs in its
	 * own process): no vCPU was asked for. */
	sys_hvd_steady(&hvd, &fds, &threads);
	cr_assert_leq(threads, base_threads + 1, "%d threads with a VM and no vCPU, base %d",
	    threads, base_threads);
	cr_assert_eq(write(go[1], &c, 1), 1);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the client failed to destroy its VM");
	/* (The session keeps its worker for its next VM: only threads.) */
	threads = sys_hvd_threads(&hvd);
	for (long long end = sys_now_ms() + SYS_WAIT_MS; threads != base_threads &&
	     sys_now_ms() < end; threads = sys_hvd_threads(&hvd))
		sys_sleep_ms(20);
	cr_assert_eq(threads, base_threads, "with the VM destroyed hvd has %d threads, "
	    "expected %d", threads, base_threads);
	cr_assert_eq(write(go[1], &c, 1), 1);
	sys_expect_child_ok(pid, "the client that destroyed a VM without vCPUs");

	/* Killed with a VM and no vCPU. */
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	o = (struct vm_only){ ready[1], go[0], { ready[0], go[1] } };
	pid = sys_spawn(vm_only_main, &o);
	cr_assert_gt(pid, 0);
	close(ready[1]);
	close(go[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1, "the client died before its VM was made");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	sys_wait_child(pid);
	close(go[1]);
	close(ready[0]);
	cr_assert(sys_hvd_alive(&hvd), "hvd died");
	cr_assert(sys_hvd_settles(&hvd, base_fds, base_threads, &fds, &threads),
	    "after the client was killed hvd has %d fds and %d threads, expected %d and %d",
	    fds, threads, base_fds, base_threads);
	sys_expect_child_ok(sys_spawn(fresh_client_main, NULL), "a client after those");
}
