/*
 * Clients killed at random points. CHAOS_KILL_CLIENTS client processes,
 * at most CHAOS_KILL_ALIVE at once, each walk a random sequence of API
 * calls (VM, guest memory of a few MiB, vCPUs on two threads, guest runs
 * that exit and one that never does, register, VMCS, MSR and FPU access,
 * interrupts, teardown or none) and are SIGKILLed by the test after a
 * random delay, right after a random step, or not at all.
 *
 * Afterwards hvd must hold exactly what it held before (descriptors,
 * threads, memfd mappings; maps lines up to the allocator's slack),
 * `hvctl status` must show no VM, and the whole quota must still be
 * available: chaos_quota_probe() fills it to the last byte, so one count
 * that a killed client left in its tenant's usage fails it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "chaos.h"

#define CHAOS_KILL_CLIENTS 200
#define CHAOS_KILL_ALIVE 8
#define MAX_OPS 12
/* A client that has neither finished nor been killed by then hangs (the
 * system tests' bound for any wait). */
#define HANG_MS SYS_WAIT_MS

/*
 * Lines of /proc/<hvd>/maps that may come and go without a leak. glibc
 * never gives back a malloc arena (a heap mapping and its PROT_NONE
 * reserve: 2 lines each, at most 8 per core) and keeps the stacks of
 * ended threads in a cache (a stack and its guard page: 2 lines each, up
 * to 40 MiB, i.e. five 8 MiB stacks). The warm-up before the baseline
 * (a full quota: 20 vCPU threads) creates most of them; what a different
 * interleaving of threads can add on top stays within these 2 x (2 + 5)
 * lines. A leaked guest mapping or run page shows in the memfd count,
 * which must match exactly.
 */
#define MAPS_SLACK 14

enum mode { KILL_AFTER_DELAY, KILL_AFTER_STEP, RUN_TO_END };

/* Bytes a client writes to the test as it goes. */
#define STEP_DONE '.'
#define STEP_FOREVER 'F'   /* entering a guest run that never ends */

static struct chaos_hvd hvd;

static void hvd_down(void)
{
	chaos_hvd_stop(&hvd);
}

/* The time limit is Criterion's --timeout (CMakeLists.txt). */
TestSuite(chaos, .fini = hvd_down);

/* ---- the client ---- */

struct kid {
	uint64_t rng;
	enum mode mode;
	int fd;                  /* write end of the step pipe */
	struct sys_vm vm;
	struct {
		uint8_t *p;
		size_t size;
	} extra[CHAOS_EXTRA_MAPS];
	bool second;             /* the second vCPU was made (maybe destroyed) */
	bool second_alive;
};

static void step(struct kid *k, char c)
{
	/* The test may be gone; nothing to do about it here. */
	if (write(k->fd, &c, 1) < 0)
		return;
}

#define TRY(code, call)                                                         \
	do {                                                                    \
		hv_return_t try_ret_ = (call);                                  \
		if (try_ret_ != HV_SUCCESS)                                     \
			return sys_fail((code), "%s returned %#x", #call,       \
					(unsigned)try_ret_);                    \
	} while (0)

static int op_map(struct kid *k)
{
	unsigned i = chaos_below(&k->rng, CHAOS_EXTRA_MAPS);

	if (k->extra[i].p)
		return 0;
	size_t size = (1 + chaos_below(&k->rng, CHAOS_EXTRA_MAX >> 20)) << 20;
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return sys_fail(100, "mmap: %s", strerror(errno));
	/* Some resident pages: the library copies those onto the memfd. */
	for (int j = 0; j < 8; j++)
		p[chaos_below(&k->rng, (uint32_t)size)] = (uint8_t)j;
	TRY(101, hv_vm_map(p, CHAOS_EXTRA_GPA(i), size, HV_MEMORY_READ | HV_MEMORY_WRITE |
			   (chaos_below(&k->rng, 2) ? HV_MEMORY_EXEC : 0)));
	k->extra[i].p = p;
	k->extra[i].size = size;
	return 0;
}

static int op_unmap(struct kid *k)
{
	unsigned i = chaos_below(&k->rng, CHAOS_EXTRA_MAPS);

	if (!k->extra[i].p)
		return 0;
	if (chaos_below(&k->rng, 2))
		TRY(102, hv_vm_protect(CHAOS_EXTRA_GPA(i), k->extra[i].size, HV_MEMORY_READ));
	TRY(103, hv_vm_unmap(CHAOS_EXTRA_GPA(i), k->extra[i].size));
	munmap(k->extra[i].p, k->extra[i].size);
	k->extra[i].p = NULL;
	return 0;
}

static int op_lcg(struct kid *k)
{
	int r = sys_vm_reload(&k->vm, SYS_GUEST(sys_lcg));

	return r ? r : sys_lcg_check(&k->vm, (uint32_t)chaos_rand(&k->rng),
				     5 + chaos_below(&k->rng, 40));
}

static int op_regs(struct kid *k)
{
	static const hv_x86_reg_t regs[] = {
		HV_X86_RAX, HV_X86_RBX, HV_X86_RCX, HV_X86_RDX, HV_X86_RSI, HV_X86_RDI,
		HV_X86_R8, HV_X86_R9, HV_X86_R10, HV_X86_R11, HV_X86_R12, HV_X86_R13,
		HV_X86_R14, HV_X86_R15,
	};
	uint64_t v;

	for (int j = 0; j < 32; j++) {
		hv_x86_reg_t reg = regs[chaos_below(&k->rng, sizeof(regs) / sizeof(regs[0]))];
		uint64_t want = chaos_rand(&k->rng);
		TRY(110, hv_vcpu_write_register(k->vm.vcpu, reg, want));
		TRY(111, hv_vcpu_read_register(k->vm.vcpu, reg, &v));
		if (v != want)
			return sys_fail(112, "register %d reads %#llx after writing %#llx", (int)reg,
					(unsigned long long)v, (unsigned long long)want);
	}
	TRY(113, hv_vmx_vcpu_read_vmcs(k->vm.vcpu, VMCS_GUEST_CR0, &v));
	TRY(113, hv_vmx_vcpu_read_vmcs(k->vm.vcpu, VMCS_RO_EXIT_REASON, &v));
	TRY(114, hv_vmx_vcpu_write_vmcs(k->vm.vcpu, VMCS_GUEST_RSP, SYS_STACK));
	TRY(114, hv_vmx_vcpu_read_vmcs(k->vm.vcpu, VMCS_GUEST_RSP, &v));
	if (v != SYS_STACK)
		return sys_fail(115, "VMCS_GUEST_RSP reads %#llx", (unsigned long long)v);
	return 0;
}

/* Calls that hvd forwards to its vCPU thread. */
static int op_rpc(struct kid *k)
{
	uint64_t v, dr1 = chaos_rand(&k->rng) & 0x7ffffffff000ull;
	uint8_t fp[4096];

	TRY(120, hv_vcpu_read_msr(k->vm.vcpu, 0x174, &v));
	TRY(121, hv_vcpu_get_exec_time(k->vm.vcpu, &v));
	TRY(122, hv_vcpu_write_register(k->vm.vcpu, HV_X86_DR1, dr1));
	TRY(123, hv_vcpu_read_register(k->vm.vcpu, HV_X86_DR1, &v));
	if (v != dr1)
		return sys_fail(124, "DR1 reads %#llx after writing %#llx", (unsigned long long)v,
				(unsigned long long)dr1);
	TRY(125, hv_vcpu_invalidate_tlb(k->vm.vcpu));
	TRY(126, hv_vcpu_read_fpstate(k->vm.vcpu, fp, sizeof(fp)));
	TRY(127, hv_vcpu_write_fpstate(k->vm.vcpu, fp, sizeof(fp)));
	return 0;
}

static void *second_main(void *arg)
{
	struct kid *k = arg;
	hv_vcpuid_t vcpu;
	uint64_t v = 0;
	intptr_t r = 0;

	if (hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT) != HV_SUCCESS)
		return (void *)(intptr_t)sys_fail(130, "second vCPU: hv_vcpu_create failed");
	k->second_alive = true;
	if (hv_vcpu_write_register(vcpu, HV_X86_RAX, 0x1234) != HV_SUCCESS ||
	    hv_vcpu_read_register(vcpu, HV_X86_RAX, &v) != HV_SUCCESS || v != 0x1234)
		return (void *)(intptr_t)sys_fail(131, "second vCPU: RAX reads %#llx",
						  (unsigned long long)v);
	/* Never set up: whatever the run returns, it must return. */
	(void)hv_vcpu_run(vcpu);
	if (chaos_below(&k->rng, 2)) {
		if (hv_vcpu_destroy(vcpu) != HV_SUCCESS)
			r = sys_fail(132, "second vCPU: hv_vcpu_destroy failed");
		else
			k->second_alive = false;
	}
	/* Else the vCPU outlives its thread, for hvd to reap. */
	return (void *)r;
}

static int op_second(struct kid *k)
{
	pthread_t t;
	void *r;

	if (k->second)
		return 0;
	k->second = true;
	if (pthread_create(&t, NULL, second_main, k) != 0)
		return sys_fail(133, "pthread_create");
	pthread_join(t, &r);
	return (int)(intptr_t)r;
}

struct kicker {
	hv_vcpuid_t vcpu;
	long delay_us;
	hv_return_t ret;
};

static void *kicker_main(void *arg)
{
	struct kicker *kk = arg;
	struct timespec ts = { 0, kk->delay_us * 1000 };

	nanosleep(&ts, NULL);
	kk->ret = hv_vcpu_interrupt(&kk->vcpu, 1);
	return NULL;
}

/* A guest that never exits, ended by hv_vcpu_interrupt from another
 * thread. */
static int op_interrupt(struct kid *k)
{
	struct kicker kk = { k->vm.vcpu, chaos_below(&k->rng, 2000), HV_ERROR };
	uint64_t reason = 0;
	pthread_t t;
	int r;

	if ((r = sys_vm_reload(&k->vm, SYS_GUEST(sys_count))))
		return r;
	if (pthread_create(&t, NULL, kicker_main, &kk) != 0)
		return sys_fail(140, "pthread_create");
	hv_return_t ret = hv_vcpu_run(k->vm.vcpu);
	pthread_join(t, NULL);
	if (ret != HV_SUCCESS)
		return sys_fail(141, "the interrupted hv_vcpu_run returned %#x", (unsigned)ret);
	if (kk.ret != HV_SUCCESS)
		return sys_fail(142, "hv_vcpu_interrupt returned %#x", (unsigned)kk.ret);
	TRY(143, hv_vmx_vcpu_read_vmcs(k->vm.vcpu, VMCS_RO_EXIT_REASON, &reason));
	if ((reason & 0xffff) != VMX_REASON_IRQ)
		return sys_fail(144, "sys_count exited with reason %llu, expected an interrupt",
				(unsigned long long)reason);
	return 0;
}

static int teardown(struct kid *k)
{
	for (unsigned i = 0; i < CHAOS_EXTRA_MAPS; i++) {
		if (k->extra[i].p) {
			TRY(150, hv_vm_unmap(CHAOS_EXTRA_GPA(i), k->extra[i].size));
			munmap(k->extra[i].p, k->extra[i].size);
			k->extra[i].p = NULL;
		}
	}
	if (!k->second_alive)
		return sys_vm_end(&k->vm);
	/* The other thread's vCPU keeps the VM: only this vCPU can go. */
	TRY(151, hv_vcpu_destroy(k->vm.vcpu));
	hv_return_t ret = hv_vm_destroy();
	if (ret != HV_BUSY)
		return sys_fail(152, "hv_vm_destroy with a vCPU left returned %#x, expected "
				"HV_BUSY", (unsigned)ret);
	return 0;
}

static int kid_main(void *arg)
{
	struct kid *k = arg;
	int (*const ops[])(struct kid *) = {
		op_map, op_map, op_unmap, op_lcg, op_lcg, op_regs, op_rpc, op_second,
		op_interrupt,
	};
	int r;

	/* Nothing of the test's but the step pipe and stdio. */
	if (k->fd != 3) {
		dup2(k->fd, 3);
		k->fd = 3;
	}
	close_range(4, ~0u, 0);
	alarm(30 * (unsigned)sys_slow());
	if ((r = sys_vm_start(&k->vm, SYS_GUEST(sys_lcg))))
		return r;
	step(k, STEP_DONE);
	for (unsigned n = 1 + chaos_below(&k->rng, MAX_OPS); n > 0; n--) {
		if ((r = ops[chaos_below(&k->rng, sizeof(ops) / sizeof(ops[0]))](k)))
			return r;
		step(k, STEP_DONE);
	}
	switch (chaos_below(&k->rng, k->mode == RUN_TO_END ? 2 : 3)) {
	case 0:
		if ((r = teardown(k)))
			return r;
		step(k, STEP_DONE);
		return 0;
	case 1:
		return 0;   /* exit with everything still there */
	default:
		if ((r = sys_vm_reload(&k->vm, SYS_GUEST(sys_count))))
			return r;
		step(k, STEP_FOREVER);
		for (;;) {
			hv_return_t ret = hv_vcpu_run(k->vm.vcpu);
			if (ret != HV_SUCCESS)
				return sys_fail(160, "hv_vcpu_run of a guest that never exits "
						"returned %#x", (unsigned)ret);
		}
	}
}

/* ---- the test ---- */

struct slot {
	pid_t pid;               /* 0: free */
	int index;
	int rd;
	enum mode mode;
	long long start_us;
	long long kill_us;       /* KILL_AFTER_DELAY */
	unsigned kill_step;      /* KILL_AFTER_STEP */
	unsigned steps;
	bool forever;
	bool killed;
	bool hung;
};

struct tally {
	int killed, finished, failed, hung;
	char first[256];
};

static void spawn(struct slot *s, int index, uint64_t *rng)
{
	struct kid k;
	int p[2];
	uint32_t roll = chaos_below(rng, 100);

	memset(&k, 0, sizeof(k));
	memset(s, 0, sizeof(*s));
	k.rng = chaos_rand(rng);
	s->index = index;
	s->mode = roll < 45 ? KILL_AFTER_DELAY : roll < 85 ? KILL_AFTER_STEP : RUN_TO_END;
	/* Mostly early (setup is where most state changes hands), some late. */
	s->kill_us = chaos_below(rng, chaos_below(rng, 4) ? 5000 : 40000);
	s->kill_step = 1 + chaos_below(rng, MAX_OPS + 2);
	k.mode = s->mode;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	k.fd = p[1];
	s->start_us = chaos_now_us();
	s->pid = sys_spawn(kid_main, &k);
	cr_assert_gt(s->pid, 0, "fork: %s", strerror(errno));
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->rd = p[0];
}

static void reap(struct slot *s, struct tally *t)
{
	int status = sys_wait_child(s->pid);

	close(s->rd);
	if (s->killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		t->killed++;
		if (!s->hung)
			goto out;
		t->hung++;
		if (!t->first[0])
			snprintf(t->first, sizeof(t->first), "client %d (%s) did not finish "
				 "within %d ms", s->index,
				 s->mode == RUN_TO_END ? "run to the end" : "to be killed", HANG_MS);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		t->finished++;
	} else {
		t->failed++;
		if (!t->first[0])
			snprintf(t->first, sizeof(t->first),
				 "client %d failed after %u steps: %s %d (see its message above)",
				 s->index, s->steps,
				 WIFSIGNALED(status) ? "signal" : "step",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
out:
	s->pid = 0;
}

/* Reads the steps a client reported; true at EOF (it has exited). */
static bool drain(struct slot *s)
{
	char buf[64];

	for (;;) {
		ssize_t n = read(s->rd, buf, sizeof(buf));
		if (n == 0)
			return true;
		if (n < 0)
			return false;   /* EAGAIN: nothing more now */
		for (ssize_t i = 0; i < n; i++) {
			s->steps++;
			s->forever |= buf[i] == STEP_FOREVER;
		}
	}
}

static void kill_if_due(struct slot *s, long long now)
{
	bool due = false;

	if (s->killed)
		return;
	if (s->mode == KILL_AFTER_DELAY)
		due = now - s->start_us >= s->kill_us;
	else if (s->mode == KILL_AFTER_STEP)
		due = s->steps >= s->kill_step || s->forever;
	if (!due && now - s->start_us >= HANG_MS * 1000ll) {
		/* A client meant to be killed after its last step may sit in
		 * its endless guest: that is no hang. */
		s->hung = !(s->forever && s->mode != RUN_TO_END);
		due = true;
	}
	if (due) {
		kill(s->pid, SIGKILL);
		s->killed = true;
	}
}

static void run_chaos(uint64_t seed)
{
	struct slot slots[CHAOS_KILL_ALIVE];
	struct tally t = { 0 };
	uint64_t rng = seed;
	int spawned = 0, alive = 0;

	memset(slots, 0, sizeof(slots));
	while (spawned < CHAOS_KILL_CLIENTS || alive > 0) {
		struct pollfd pf[CHAOS_KILL_ALIVE];
		int map[CHAOS_KILL_ALIVE], n = 0;

		for (int i = 0; i < CHAOS_KILL_ALIVE && spawned < CHAOS_KILL_CLIENTS; i++) {
			if (!slots[i].pid) {
				spawn(&slots[i], spawned++, &rng);
				alive++;
			}
		}
		for (int i = 0; i < CHAOS_KILL_ALIVE; i++) {
			if (slots[i].pid) {
				pf[n] = (struct pollfd){ slots[i].rd, POLLIN, 0 };
				map[n++] = i;
			}
		}
		/* Wake for the earliest delayed kill, else within 1 ms. */
		long long now = chaos_now_us(), wait_us = 1000;
		for (int j = 0; j < n; j++) {
			struct slot *s = &slots[map[j]];
			if (s->mode == KILL_AFTER_DELAY && !s->killed) {
				long long left = s->start_us + s->kill_us - now;
				if (left < wait_us)
					wait_us = left > 0 ? left : 0;
			}
		}
		struct timespec ts = { 0, wait_us * 1000 };
		ppoll(pf, (nfds_t)n, &ts, NULL);
		now = chaos_now_us();
		for (int j = 0; j < n; j++) {
			struct slot *s = &slots[map[j]];
			if (drain(s)) {
				reap(s, &t);
				alive--;
				continue;
			}
			kill_if_due(s, now);
		}
		cr_assert(sys_hvd_alive(&hvd.sys), "hvd died after %d clients", spawned);
	}
	fprintf(stderr, "chaos.kill: %d clients: %d killed, %d finished, %d failed, %d hung\n",
		CHAOS_KILL_CLIENTS, t.killed, t.finished, t.failed, t.hung);
	cr_assert_eq(t.failed + t.hung, 0, "%d clients failed and %d hung; the first: %s",
		     t.failed, t.hung, t.first);
}

Test(chaos, clients_killed_at_random_points_leave_nothing_behind)
{
	uint64_t seed = chaos_seed("chaos.kill", 0xc4a05eed0001ull);
	struct chaos_counts fresh, base, now;

	chaos_hvd_start(&hvd);
	chaos_counts_baseline(&hvd, &fresh);
	/* Warm-up: allocator arenas and cached thread stacks that hvd keeps
	 * for good once it has had this many threads. */
	chaos_quota_probe(&hvd);
	chaos_expect_baseline(&hvd, &fresh, 1 << 20, "the warm-up");
	chaos_counts_baseline(&hvd, &base);

	run_chaos(seed);

	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the killed clients");
	chaos_counts_read(&hvd, &now);
	fprintf(stderr, "chaos.kill: hvd maps lines: %d fresh, %d after warm-up, %d after chaos\n",
		fresh.maps, base.maps, now.maps);
	/* Every count given back: the whole quota can be taken again. */
	chaos_quota_probe(&hvd);
	chaos_expect_good_client(&hvd, 0x600d, 3, 30, "a fresh client after the chaos");
	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the fresh clients");
	chaos_hvd_expect_clean_stop(&hvd);
}
