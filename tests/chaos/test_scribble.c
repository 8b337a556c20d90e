/*
 * A client scribbling on its own run page while its vCPU runs. libhvclient
 * keeps the page to itself, so the scribbler finds it the way any code in
 * the process could: the shared mapping of "/memfd:hvd-run-page" in
 * /proc/self/maps. One thread writes random bytes over it (the whole page,
 * the state only, single words, the futex words, flipped bits) while the
 * vCPU's owner thread keeps calling hv_vcpu_run and the calls hvd serves
 * on the vCPU thread.
 *
 * docs/protocol.md: "hvd never reads the page twice: a client scribbling
 * on it while a run is in progress can only hurt its own vCPU". So: hvd
 * stays alive, a well-behaved client running at the same time computes
 * correct results, and once the scribblers are gone hvd is back at its
 * baseline. What the scribbling client itself sees is its own business
 * (its runs may never return); it is only reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "chaos.h"
#include "hvd_protocol.h"

#define SCRIBBLERS 2
/* Bounds of the scribbling: it goes on until the test says stop, but
 * never for more than this many writes. */
#define MAX_SCRIBBLES 20000000ul
#define GOOD_ROUNDS 40
#define GOOD_STEPS 50
/* See test_kill.c: glibc's arenas and cached thread stacks. */
#define MAPS_SLACK 14

static struct chaos_hvd hvd;

static void hvd_down(void)
{
	chaos_hvd_stop(&hvd);
}

/* The time limit is Criterion's --timeout (CMakeLists.txt). */
TestSuite(chaos, .fini = hvd_down);

/* ---- the scribbling client ---- */

struct scribbler {
	uint64_t seed;
	int ready;        /* write end: one byte once scribbling */
	int stop;         /* read end: readable (EOF) when the test says stop */
	int report;       /* write end: a struct scribble_report at the end */
	int close_fds[3]; /* the test's ends */
};

struct scribble_report {
	unsigned long scribbles;
	unsigned long runs;        /* hv_vcpu_run calls that returned */
	unsigned long run_ok;      /* of which HV_SUCCESS */
	unsigned long rpcs;        /* vCPU-thread calls that returned */
	unsigned long kicks;       /* hv_vcpu_interrupt calls that returned */
};

static struct {
	uint8_t *page;
	size_t size;
	hv_vcpuid_t vcpu;
	uint32_t seq0;                   /* the library's run count at the start */
	_Atomic uint32_t started;        /* hv_vcpu_run calls since */
	_Atomic unsigned long runs, run_ok, rpcs, kicks;
} self;

/* The run page's mapping in this process. */
static int find_run_page(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return sys_fail(200, "/proc/self/maps: %s", strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		unsigned long lo, hi;
		if (strstr(line, "/memfd:hvd-run-page") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			self.page = (uint8_t *)lo;
			self.size = hi - lo;
		}
	}
	free(line);
	fclose(f);
	if (!self.page)
		return sys_fail(201, "no /memfd:hvd-run-page mapping in /proc/self/maps");
	if (self.size < sizeof(struct hvd_run_page))
		return sys_fail(202, "the run page mapping has %zu bytes", self.size);
	return 0;
}

static void scribble_once(uint64_t *rng)
{
	struct hvd_run_page *rp = (struct hvd_run_page *)self.page;
	const size_t state = offsetof(struct hvd_run_page, state);
	const size_t end = sizeof(struct hvd_run_page);
	uint64_t w;

	switch (chaos_below(rng, 8)) {
	case 0: /* everything, the futex words included */
		for (size_t o = 0; o + 8 <= self.size; o += 8) {
			w = chaos_rand(rng);
			memcpy(self.page + o, &w, 8);
		}
		break;
	case 1: /* the whole state, the protocol words left alone */
		for (size_t o = state; o + 8 <= end; o += 8) {
			w = chaos_rand(rng);
			memcpy(self.page + o, &w, 8);
		}
		break;
	case 2: /* a few words of the state */
	case 3:
		for (int i = 0; i < 16; i++) {
			uint32_t v = (uint32_t)chaos_rand(rng);
			memcpy(self.page + state + chaos_below(rng, (uint32_t)(end - state - 4)), &v, 4);
		}
		break;
	case 4: /* flipped bits: a state that is almost right */
	case 5:
		for (int i = 0; i < 8; i++) {
			uint32_t bit = chaos_below(rng, (uint32_t)((end - state) * 8));
			self.page[state + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		break;
	case 6: /* the futex words */
		switch (chaos_below(rng, 4)) {
		case 0: atomic_store(&rp->req_seq, (uint32_t)chaos_rand(rng)); break;
		case 1: atomic_store(&rp->done_seq, (uint32_t)chaos_rand(rng)); break;
		case 2: atomic_store(&rp->client_sleeping, (uint32_t)chaos_rand(rng)); break;
		default: atomic_store(&rp->daemon_sleeping, (uint32_t)chaos_rand(rng)); break;
		}
		break;
	default: /* one more run of whatever the state now says */
		atomic_fetch_add(&rp->req_seq, 1);
		break;
	}
}

/* Scribbled futex words leave the owner waiting for an exit that hvd
 * will never report: now and then, report it in hvd's place so that the
 * owner goes on calling. */
static void release_owner(void)
{
	struct hvd_run_page *rp = (struct hvd_run_page *)self.page;

	atomic_store(&rp->done_seq, self.seq0 + atomic_load(&self.started));
	syscall(SYS_futex, &rp->done_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A scribbled state may be a guest that never exits: hvd's vCPU thread
 * would sit in it and look at nothing more. Kicking it brings it back to
 * the page. This thread may block behind the owner's call on the socket
 * (the library serialises them), so the scribbler does not do it. */
static void *kicker_main(void *arg)
{
	struct timespec ts = { 0, 500000 };

	(void)arg;
	for (unsigned long i = 0; i < MAX_SCRIBBLES; i++) {
		nanosleep(&ts, NULL);
		(void)hv_vcpu_interrupt(&self.vcpu, 1);
		atomic_fetch_add(&self.kicks, 1);
	}
	return NULL;
}

static void *scribble_main(void *arg)
{
	struct scribbler *sc = arg;
	struct scribble_report rep = { 0 };
	uint64_t rng = sc->seed;
	char c = 'r';

	if (write(sc->ready, &c, 1) != 1)
		_exit(sys_fail(203, "write to the test: %s", strerror(errno)));
	while (rep.scribbles < MAX_SCRIBBLES) {
		scribble_once(&rng);
		if (++rep.scribbles % 64 == 0) {
			struct pollfd pf = { sc->stop, POLLIN, 0 };
			if (poll(&pf, 1, 0) != 0)
				break;
			if (rep.scribbles % 512 == 0)
				release_owner();
			/* Bursts: leave the CPU to hvd and the good client. */
			sched_yield();
		}
	}
	rep.runs = atomic_load(&self.runs);
	rep.run_ok = atomic_load(&self.run_ok);
	rep.rpcs = atomic_load(&self.rpcs);
	rep.kicks = atomic_load(&self.kicks);
	if (write(sc->report, &rep, sizeof(rep)) != sizeof(rep))
		_exit(sys_fail(204, "write to the test: %s", strerror(errno)));
	/* The owner thread may wait forever for an exit the scribbling
	 * lost: end the whole process here. */
	_exit(0);
}

static int scribbler_main(void *arg)
{
	struct scribbler *sc = arg;
	struct sys_vm vm;
	pthread_t t;
	uint64_t v;
	int r;

	for (int i = 0; i < 3; i++)
		close(sc->close_fds[i]);
	/* The scribbling client ends itself on the test's word; this is
	 * only the backstop. */
	alarm(60 * (unsigned)sys_slow());
	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_lcg))) ||
	    (r = sys_lcg_check(&vm, (uint32_t)sc->seed, 20)) || (r = find_run_page()))
		return r;
	self.vcpu = vm.vcpu;
	/* Quiescent now: done_seq is the library's count of runs. */
	self.seq0 = atomic_load(&((struct hvd_run_page *)self.page)->done_seq);
	if (pthread_create(&t, NULL, scribble_main, sc) != 0 ||
	    pthread_create(&t, NULL, kicker_main, NULL) != 0)
		return sys_fail(205, "pthread_create");
	/* The owner: runs, and the calls served on hvd's vCPU thread, whose
	 * results mean nothing any more. scribble_main ends the process. */
	for (unsigned long i = 0;; i++) {
		atomic_fetch_add(&self.started, 1);
		hv_return_t ret = hv_vcpu_run(vm.vcpu);
		atomic_fetch_add(&self.runs, 1);
		if (ret == HV_SUCCESS)
			atomic_fetch_add(&self.run_ok, 1);
		if (i % 8 == 0) {
			(void)hv_vcpu_read_msr(vm.vcpu, 0x174, &v);
			(void)hv_vcpu_get_exec_time(vm.vcpu, &v);
			(void)hv_vcpu_write_register(vm.vcpu, HV_X86_DR0, v);
			atomic_fetch_add(&self.rpcs, 1);
		}
		if (i % 32 == 0)
			(void)sys_vm_reload(&vm, SYS_GUEST(sys_lcg));
	}
}

/* ---- the test ---- */

Test(chaos, scribbling_on_the_run_page_hurts_only_the_scribbler)
{
	uint64_t seed = chaos_seed("chaos.scribble", 0xc4a05eed0002ull);
	struct scribbler sc[SCRIBBLERS];
	pid_t pid[SCRIBBLERS];
	struct chaos_counts fresh, base;
	int ready[2], stop[2], report[2];

	/* Info: a run of a scribbled state that KVM refuses is only a debug
	 * line (about 100 lines in all), and a scribbler's VM that ends (its
	 * worker lost, its session closed) must say why in the output. */
	chaos_hvd_start_at(&hvd, "info");
	chaos_counts_baseline(&hvd, &fresh);
	chaos_quota_probe(&hvd);
	chaos_expect_baseline(&hvd, &fresh, 1 << 20, "the warm-up");
	chaos_counts_baseline(&hvd, &base);

	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(stop, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(report, O_CLOEXEC), 0);
	for (int i = 0; i < SCRIBBLERS; i++) {
		sc[i] = (struct scribbler){ seed + 0x1000u * (uint64_t)i, ready[1], stop[0],
					    report[1], { ready[0], stop[1], report[0] } };
		pid[i] = sys_spawn(scribbler_main, &sc[i]);
		cr_assert_gt(pid[i], 0, "fork: %s", strerror(errno));
	}
	close(ready[1]);
	close(stop[0]);
	close(report[1]);
	for (int i = 0; i < SCRIBBLERS; i++) {
		struct pollfd pf = { ready[0], POLLIN, 0 };
		char c;
		cr_assert(poll(&pf, 1, SYS_WAIT_MS) == 1 && read(ready[0], &c, 1) == 1,
			  "a scribbling client died before it scribbled (see its message)");
	}

	/* While they scribble: a well-behaved client, twice, checking every
	 * value its guest computes. */
	chaos_expect_good_client(&hvd, 0x5eed1, GOOD_ROUNDS, GOOD_STEPS,
				 "a well-behaved client next to the scribblers");
	cr_assert(sys_hvd_alive(&hvd.sys), "hvd died under the scribbling");
	chaos_expect_good_client(&hvd, 0x5eed2, GOOD_ROUNDS, GOOD_STEPS,
				 "a second well-behaved client next to the scribblers");
	cr_assert(sys_hvd_alive(&hvd.sys), "hvd died under the scribbling");

	/* hvd really ran what the scribblers wrote: its count of their
	 * vCPUs' exits. A scribbled vCPU may also wedge itself for good (say,
	 * in the HLT activity state, waiting for a kick), so this asks for a
	 * modest number, polling rather than at one moment. */
	char why[512];
	for (int i = 0; i < SCRIBBLERS; i++) {
		long long exits = -1;
		for (long long end = sys_now_ms() + SYS_WAIT_MS; sys_now_ms() < end;) {
			json_object *list = chaos_hvctl_json(&hvd, "list", why, sizeof(why));
			cr_assert_not_null(list, "%s", why);
			json_object *vms, *vm, *v;
			cr_assert(json_object_object_get_ex(list, "vms", &vms));
			for (size_t j = 0; j < json_object_array_length(vms); j++) {
				vm = json_object_array_get_idx(vms, j);
				if (json_object_object_get_ex(vm, "pid", &v) &&
				    json_object_get_int64(v) == pid[i] &&
				    json_object_object_get_ex(vm, "exits", &v))
					exits = json_object_get_int64(v);
			}
			if (exits < 20 && sys_now_ms() + 50 >= end)
				fprintf(stderr, "chaos.scribble: hvd's VMs when it gave up on client %d: %s\n",
					(int)pid[i], json_object_to_json_string(vms));
			json_object_put(list);
			if (exits >= 20)
				break;
			sys_sleep_ms(50);
		}
		fprintf(stderr, "chaos.scribble: hvd ran the scribbled vCPU of client %d to %lld "
			"exits\n", (int)pid[i], exits);
		cr_assert_geq(exits, 20, "hvd shows %lld exits for the scribbling client %d: "
			     "the scribbling did not reach hvd", exits, (int)pid[i]);
	}

	close(stop[1]);
	for (int i = 0; i < SCRIBBLERS; i++) {
		struct scribble_report rep;
		struct pollfd pf = { report[0], POLLIN, 0 };
		cr_assert(poll(&pf, 1, SYS_WAIT_MS) == 1 &&
			  read(report[0], &rep, sizeof(rep)) == (ssize_t)sizeof(rep),
			  "a scribbling client did not report (it died: see above)");
		fprintf(stderr, "chaos.scribble: %lu scribbles; %lu runs returned (%lu "
			"HV_SUCCESS), %lu rounds of vCPU-thread calls, %lu kicks\n",
			rep.scribbles, rep.runs, rep.run_ok, rep.rpcs, rep.kicks);
		cr_assert_gt(rep.scribbles, 0);
	}
	for (int i = 0; i < SCRIBBLERS; i++)
		sys_expect_child_ok(pid[i], "a scribbling client");
	close(report[0]);
	close(ready[0]);

	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the scribblers left");
	chaos_expect_good_client(&hvd, 0x600d, 3, 30, "a fresh client after the scribblers");
	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the fresh client");
	chaos_hvd_expect_clean_stop(&hvd);
}
