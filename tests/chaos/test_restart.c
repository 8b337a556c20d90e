/*
 * hvd restarted under load. Clients of every kind are busy: guests that
 * exit all the time, a guest that never exits, a client doing nothing but
 * calls that hvd serves on the vCPU thread, and one idle with a VM. hvd is
 * stopped with SIGTERM; it must stop cleanly, and every client must see
 * its calls fail (not succeed, not hang: the test waits SYS_WAIT_MS, the
 * clients carry an alarm) and must never see a wrong guest result. Then a
 * new hvd is started on the same socket path and new clients work, for
 * several rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "chaos.h"

#define RESTARTS 3
/* Rounds of progress each busy client shows before hvd is stopped. */
#define PROGRESS 3
/* Spurious returns (HV_SUCCESS, VMX_REASON_IRQ) a client of a guest that
 * never exits accepts before it counts as hanging. */
#define MAX_SPURIOUS 100000
/* See test_kill.c: glibc's arenas and cached thread stacks. */
#define MAPS_SLACK 14

enum kind { EXITING_GUEST, ENDLESS_GUEST, VCPU_CALLS, IDLE, KINDS };

static const char *const kind_name[KINDS] = {
	"a client whose guest exits all the time",
	"a client whose guest never exits",
	"a client making calls served on the vCPU thread",
	"an idle client with a VM",
};

static struct chaos_hvd hvd;

static void hvd_down(void)
{
	chaos_hvd_stop(&hvd);
}

/* The time limit is Criterion's --timeout (CMakeLists.txt). */
TestSuite(chaos, .fini = hvd_down);

/* ---- the clients ---- */

struct busy {
	enum kind kind;
	uint32_t seed;
	int progress;     /* write end: 'r' once set up, '.' per round */
	int gate;         /* read end: EOF once hvd is gone (IDLE) */
	int close_fds[2];
};

static void *create_vcpu_thread(void *arg)
{
	hv_vcpuid_t vcpu;

	*(hv_return_t *)arg = hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT);
	return NULL;
}

/* After hvd has gone, nothing may succeed. Returns 0 or a step code. */
static int expect_all_calls_fail(struct sys_vm *vm)
{
	hv_return_t ret;
	uint64_t v;
	pthread_t t;

	if ((ret = hv_vcpu_run(vm->vcpu)) == HV_SUCCESS)
		return sys_fail(30, "hv_vcpu_run succeeded without hvd");
	void *more = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (more == MAP_FAILED)
		return sys_fail(31, "mmap: %s", strerror(errno));
	if ((ret = hv_vm_map(more, 0x200000, 0x10000, HV_MEMORY_READ)) == HV_SUCCESS)
		return sys_fail(32, "hv_vm_map succeeded without hvd");
	if ((ret = hv_vcpu_read_msr(vm->vcpu, 0x174, &v)) == HV_SUCCESS)
		return sys_fail(33, "hv_vcpu_read_msr succeeded without hvd");
	if ((ret = hv_vcpu_get_exec_time(vm->vcpu, &v)) == HV_SUCCESS)
		return sys_fail(34, "hv_vcpu_get_exec_time succeeded without hvd");
	if (pthread_create(&t, NULL, create_vcpu_thread, &ret) != 0)
		return sys_fail(35, "pthread_create");
	pthread_join(t, NULL);
	if (ret == HV_SUCCESS)
		return sys_fail(36, "hv_vcpu_create succeeded without hvd");
	if ((ret = hv_vcpu_destroy(vm->vcpu)) == HV_SUCCESS)
		return sys_fail(37, "hv_vcpu_destroy succeeded without hvd");
	if ((ret = hv_vm_destroy()) == HV_SUCCESS)
		return sys_fail(38, "hv_vm_destroy succeeded without hvd");
	return 0;
}

static void say(struct busy *b, char c)
{
	if (write(b->progress, &c, 1) < 0)
		return;   /* the test is gone: the alarm ends this client */
}

static int busy_main(void *arg)
{
	struct busy *b = arg;
	struct sys_vm vm;
	uint64_t v;
	char c;
	int r;

	close(b->close_fds[0]);
	close(b->close_fds[1]);
	alarm(3 * SYS_WAIT_MS / 1000);
	if (b->kind == ENDLESS_GUEST)
		r = sys_vm_start(&vm, SYS_GUEST(sys_count));
	else
		r = sys_vm_start(&vm, SYS_GUEST(sys_lcg));
	if (r)
		return r;
	say(b, 'r');
	switch (b->kind) {
	case EXITING_GUEST:
		for (uint32_t i = 0;; i++) {
			if ((r = sys_vm_reload(&vm, SYS_GUEST(sys_lcg))))
				return r;
			r = sys_lcg_check(&vm, b->seed + i * 7919u, 50);
			/* 51, 58: a run failed, which is what hvd's end must
			 * look like. Anything else is a wrong result. */
			if (r == 51 || r == 58)
				break;
			if (r)
				return r;
			say(b, '.');
		}
		break;
	case ENDLESS_GUEST:
		for (int spurious = 0;; spurious++) {
			if (hv_vcpu_run(vm.vcpu) != HV_SUCCESS)
				break;
			if (hv_vmx_vcpu_read_vmcs(vm.vcpu, VMCS_RO_EXIT_REASON, &v) != HV_SUCCESS ||
			    (v & 0xffff) != VMX_REASON_IRQ)
				return sys_fail(20, "a guest that never exits exited (%#llx)",
						(unsigned long long)v);
			if (spurious >= MAX_SPURIOUS)
				return sys_fail(21, "%d spurious returns and no error", spurious);
		}
		break;
	case VCPU_CALLS:
		for (uint32_t i = 0;; i++) {
			if (hv_vcpu_read_msr(vm.vcpu, 0x174, &v) != HV_SUCCESS ||
			    hv_vcpu_get_exec_time(vm.vcpu, &v) != HV_SUCCESS)
				break;
			/* A memory change now and then. Not every round: on
			 * a loaded 2-CPU host one KVM memslot change waited
			 * 1-16 s for an SRCU grace period (it runs off hvd's
			 * loop thread, so only this client waits). */
			if (i % 64 == 63 &&
			    hv_vm_protect(0, SYS_RAM_SIZE, HV_MEMORY_READ | HV_MEMORY_WRITE |
							   HV_MEMORY_EXEC) != HV_SUCCESS)
				break;
			/* Often enough that a slow but moving client is told
			 * apart from a hung one. */
			if (i % 8 == 0)
				say(b, '.');
		}
		break;
	default:
		while (read(b->gate, &c, 1) < 0 && errno == EINTR)
			;
		break;
	}
	return expect_all_calls_fail(&vm);
}

/* A client started while no hvd runs: refused at once. */
static int orphan_main(void *arg)
{
	(void)arg;
	alarm(3 * SYS_WAIT_MS / 1000);
	hv_return_t ret = hv_vm_create(HV_VM_DEFAULT);
	if (ret == HV_SUCCESS)
		return sys_fail(40, "hv_vm_create succeeded with no hvd");
	return 0;
}

/* ---- the test ---- */

static void wait_progress(int fd, pid_t pid, enum kind kind, int want)
{
	for (int seen = 0; seen < want; seen++) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int status = 0;
		char c;
		if (poll(&pf, 1, SYS_WAIT_MS) == 1 && read(fd, &c, 1) == 1)
			continue;
		if (waitpid(pid, &status, WNOHANG) == pid)
			cr_assert_fail("%s ended (status %#x) before hvd was stopped (see its "
				       "message above)", kind_name[kind], status);
		cr_assert_fail("%s made no progress for %d ms while hvd ran (after %d of %d "
			       "rounds): its calls hang", kind_name[kind], SYS_WAIT_MS, seen, want);
	}
}

static void round_under_load(int round, uint64_t *rng)
{
	struct busy b[KINDS + 1];
	pid_t pid[KINDS + 1];
	int progress[KINDS + 1], gate[2];
	struct stat st;

	cr_assert_eq(pipe2(gate, O_CLOEXEC), 0);
	for (int i = 0; i <= KINDS; i++) {
		int p[2];
		/* Two clients of exiting guests, one of each other kind. */
		enum kind kind = i == KINDS ? EXITING_GUEST : (enum kind)i;
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		b[i] = (struct busy){ kind, (uint32_t)chaos_rand(rng), p[1], gate[0],
				      { p[0], gate[1] } };
		pid[i] = sys_spawn(busy_main, &b[i]);
		cr_assert_gt(pid[i], 0, "fork: %s", strerror(errno));
		close(p[1]);
		progress[i] = p[0];
	}
	close(gate[0]);
	for (int i = 0; i <= KINDS; i++) {
		wait_progress(progress[i], pid[i], b[i].kind, 1);
		if (b[i].kind != IDLE && b[i].kind != ENDLESS_GUEST)
			wait_progress(progress[i], pid[i], b[i].kind, PROGRESS);
	}

	chaos_hvd_expect_clean_stop(&hvd);
	cr_assert_neq(stat(hvd.sys.sock, &st), 0, "round %d: hvd left its socket behind", round);
	close(gate[1]);
	for (int i = 0; i <= KINDS; i++) {
		char what[128];
		snprintf(what, sizeof(what), "round %d: %s, once hvd stopped,", round,
			 kind_name[b[i].kind]);
		sys_expect_child_ok(pid[i], what);
		close(progress[i]);
	}
	sys_expect_child_ok(sys_spawn(orphan_main, NULL), "a client with no hvd");
}

Test(chaos, hvd_restarted_under_load)
{
	uint64_t rng = chaos_seed("chaos.restart", 0xc4a05eed0004ull);
	struct chaos_counts fresh, base;

	chaos_hvd_start(&hvd);
	for (int round = 0; round < RESTARTS; round++) {
		round_under_load(round, &rng);
		chaos_hvd_restart(&hvd);
	}

	/* The last hvd, on the same socket path, serves new clients: the
	 * whole quota at once, then one more, and is back at its baseline. */
	chaos_counts_baseline(&hvd, &fresh);
	chaos_quota_probe(&hvd);
	chaos_expect_baseline(&hvd, &fresh, 1 << 20, "the new clients");
	chaos_counts_baseline(&hvd, &base);
	chaos_expect_good_client(&hvd, 0x600d, 3, 30, "a new client after the restarts");
	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the new client");
	chaos_hvd_expect_clean_stop(&hvd);
}
