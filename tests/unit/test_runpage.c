/*
 * The run-page hand-off (proto/hvd_runpage.c) with two real threads and
 * no KVM: a client thread doing what libhvclient's hv_vcpu_run does, a
 * server thread doing what hvd's vCPU thread does, on a page in shared
 * memory. The "run" the server serves is a small computation on `state`,
 * so a reply that raced ahead of the state, or answered the wrong
 * request, shows.
 *
 * A lost wake-up would not hang a side forever (every sleep is bounded),
 * it would make one round trip last a whole sleep: the tests sleep in
 * stretches of LONG_NS and fail any round trip that takes SLOW_NS.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "hvd_runpage.h"

#define LONG_NS 30000000000l    /* a sleep no test may ever wait out */
#define SLOW_NS 10000000000ull  /* a round trip this long lost a wake-up */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct hvd_run_page *page_new(void)
{
	void *p = mmap(NULL, hvd_runpage_size(), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	hvd_runpage_server_init(p);
	return p;
}

/* A few hundred pause loops at random, so each side reaches its sleep at
 * every point of the other's. */
static void jitter(unsigned *seed)
{
	unsigned n = (unsigned)rand_r(seed) % 3000;
	for (unsigned i = 0; i < n; i++)
		__builtin_ia32_pause();
	if (rand_r(seed) % 16 == 0)
		sched_yield();
}

/* ---- the server: hvd's vCPU thread, in miniature ---- */

struct server {
	struct hvd_run_page *page;
	_Atomic uint32_t wake;         /* the server's own word (posts, stops) */
	_Atomic bool stop;
	uint64_t spin_ns;
	bool jitter;
	/* What it saw: requests served in order, and the last value of its
	 * own word. */
	uint32_t served, out_of_order;
	_Atomic uint32_t wake_seen;
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct hvd_run_page *p = s->page;
	uint32_t done = 0;
	unsigned seed = 1;

	while (!atomic_load(&s->stop)) {
		uint32_t w = atomic_load(&s->wake);
		atomic_store(&s->wake_seen, w);
		uint32_t req = hvd_runpage_server_request(p);
		if (req != done) {
			if (req != done + 1)
				s->out_of_order++;
			hvd_runpage_server_begin(p);
			if (s->jitter)
				jitter(&seed);
			/* The run: rax = rbx * 3 + the request's number. */
			p->state.regs.rax = p->state.regs.rbx * 3 + req;
			s->served++;
			hvd_runpage_server_reply(p, req, (int32_t)req);
			done = req;
			continue;
		}
		hvd_runpage_server_wait(p, done, &s->wake, w, s->spin_ns, &s->stop, LONG_NS);
	}
	return NULL;
}

static void server_start(struct server *s, pthread_t *t)
{
	cr_assert_eq(pthread_create(t, NULL, server_main, s), 0);
}

static void server_stop(struct server *s, pthread_t t)
{
	atomic_store(&s->stop, true);
	hvd_runpage_server_wake(&s->wake);
	cr_assert_eq(pthread_join(t, NULL), 0);
}

/* ---- the client ---- */

static bool always_alive(void *ctx)
{
	(void)ctx;
	return true;
}

/* `n` runs; each must come back with its own answer, and fast. */
static void client_runs(struct hvd_run_page *p, unsigned n, uint64_t spin_ns, bool jitter_on)
{
	uint32_t seq;
	unsigned seed = 2;
	uint64_t worst = 0;

	cr_assert(hvd_runpage_client_attach(p, &seq));
	for (unsigned i = 0; i < n; i++) {
		int32_t result = -1;
		p->state.regs.rbx = i;
		uint64_t t0 = now_ns();
		int r = hvd_runpage_client_run(p, ++seq, spin_ns, LONG_NS, always_alive, NULL,
					       &result);
		uint64_t dt = now_ns() - t0;
		worst = dt > worst ? dt : worst;
		cr_assert_eq(r, 0);
		cr_assert_eq(result, (int32_t)seq, "run %u answered request %d", seq, result);
		cr_assert_eq(p->state.regs.rax, (uint64_t)i * 3 + seq,
		    "run %u: the reply came before the state it answers", seq);
		if (jitter_on)
			jitter(&seed);
	}
	cr_assert_lt(worst, SLOW_NS, "a round trip took %llu ms: a wake-up was lost",
	    (unsigned long long)(worst / 1000000));
}

Test(runpage, requests_and_replies_pass_in_order)
{
	struct server s = { .page = page_new(), .spin_ns = 50000 };
	pthread_t t;

	server_start(&s, &t);
	client_runs(s.page, 20000, 100000, false);
	server_stop(&s, t);
	cr_assert_eq(s.served, 20000);
	cr_assert_eq(s.out_of_order, 0);
	cr_assert_eq(atomic_load(&s.page->done_seq), 20000);
}

/* No polling on either side: every hand-off goes through a sleep, with
 * the other side arriving at random points around it. */
Test(runpage, no_wake_up_is_lost_when_both_sides_sleep)
{
	struct server s = { .page = page_new(), .spin_ns = 0, .jitter = true };
	pthread_t t;

	server_start(&s, &t);
	client_runs(s.page, 5000, 0, true);
	server_stop(&s, t);
	cr_assert_eq(s.served, 5000);
	cr_assert_eq(s.out_of_order, 0);
}

/* The client keeps numbering from where the page says the last run was
 * answered (a vCPU's page outlives nothing, but hvd may have served runs
 * on it before the client mapped it). */
Test(runpage, attach_checks_the_magic_and_numbers_from_the_last_answer)
{
	struct hvd_run_page *p = page_new();
	uint32_t seq = 0;

	atomic_store(&p->done_seq, 41);
	cr_assert(hvd_runpage_client_attach(p, &seq));
	cr_assert_eq(seq, 41);
	p->magic = 0;
	cr_assert_not(hvd_runpage_client_attach(p, &seq));
	cr_assert_geq(hvd_runpage_size(), sizeof(*p));
	cr_assert_eq(hvd_runpage_size() % 4096, 0);
}

/* A reply to another request (a scribbled word, a stale answer) is not
 * the answer: the client waits on, and gives up only when alive() says
 * the server is gone. */
static bool gone_after_three(void *ctx)
{
	unsigned *calls = ctx;
	return ++*calls < 3;
}

Test(runpage, the_client_gives_up_only_when_the_server_is_gone)
{
	struct hvd_run_page *p = page_new();
	unsigned calls = 0;
	int32_t result = 7;

	atomic_store(&p->done_seq, 4); /* not the 5 asked for */
	uint64_t t0 = now_ns();
	int r = hvd_runpage_client_run(p, 5, 0, 10000000l, gone_after_three, &calls, &result);
	uint64_t dt = now_ns() - t0;
	cr_assert_eq(r, -ECONNRESET);
	cr_assert_eq(calls, 3, "alive() asked after every stretch: %u", calls);
	cr_assert_eq(result, 7, "no result without an answer");
	cr_assert_geq(dt, 25000000ull, "three 10 ms stretches took %llu us",
	    (unsigned long long)(dt / 1000));
	cr_assert_eq(atomic_load(&p->req_seq), 5, "the request was made");
	cr_assert_eq(atomic_load(&p->client_sleeping), 0);
}

/* The kick/cancel path of hvd: a post or a stop bumps the server's own
 * word, which must end its sleep though no run was asked for. */
struct waiter {
	struct server *s;
	uint64_t returned_ns;
};

static void *wait_once(void *arg)
{
	struct waiter *w = arg;
	uint32_t seen = atomic_load(&w->s->wake);
	hvd_runpage_server_wait(w->s->page, 0, &w->s->wake, seen, 0, &w->s->stop, LONG_NS);
	w->returned_ns = now_ns();
	return NULL;
}

Test(runpage, the_servers_own_word_ends_its_sleep)
{
	struct server s = { .page = page_new() };
	struct waiter w = { .s = &s };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, wait_once, &w), 0);
	/* Until it sleeps (it says so on the page). */
	uint64_t t0 = now_ns();
	while (!atomic_load(&s.page->daemon_sleeping))
		cr_assert_lt(now_ns() - t0, SLOW_NS, "the server never went to sleep");
	struct timespec ms = { 0, 20000000l };
	nanosleep(&ms, NULL);
	uint64_t woken = now_ns();
	hvd_runpage_server_wake(&s.wake);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_lt(w.returned_ns - woken, SLOW_NS, "the wake-up was lost");
	cr_assert_eq(atomic_load(&s.page->daemon_sleeping), 0);
	cr_assert_eq(atomic_load(&s.page->req_seq), 0, "no run was asked for");
}

/* A post that lands between the server's look at its queue and its
 * sleep: the word it read before looking has moved, so it does not
 * sleep at all. */
Test(runpage, a_wake_before_the_sleep_is_not_lost)
{
	struct server s = { .page = page_new() };
	uint32_t seen = atomic_load(&s.wake);

	hvd_runpage_server_wake(&s.wake);
	uint64_t t0 = now_ns();
	hvd_runpage_server_wait(s.page, 0, &s.wake, seen, 0, &s.stop, LONG_NS);
	cr_assert_lt(now_ns() - t0, SLOW_NS, "slept through a wake-up it had missed");
	cr_assert_eq(atomic_load(&s.wake), seen + 1);
}

/* The same for a run asked for just before the server sleeps. */
Test(runpage, a_request_before_the_sleep_is_not_lost)
{
	struct server s = { .page = page_new() };
	uint32_t seen = atomic_load(&s.wake);

	atomic_store(&s.page->req_seq, 1);
	uint64_t t0 = now_ns();
	hvd_runpage_server_wait(s.page, 0, &s.wake, seen, 0, &s.stop, LONG_NS);
	cr_assert_lt(now_ns() - t0, SLOW_NS, "slept through a request");
	cr_assert_eq(hvd_runpage_server_request(s.page), 1);
}

/* A server told to stop does not go to sleep again. */
Test(runpage, a_stopped_server_does_not_sleep)
{
	struct server s = { .page = page_new() };

	atomic_store(&s.stop, true);
	uint64_t t0 = now_ns();
	hvd_runpage_server_wait(s.page, 0, &s.wake, atomic_load(&s.wake), 0, &s.stop, LONG_NS);
	cr_assert_lt(now_ns() - t0, SLOW_NS, "a stopped server slept");
}

/* Many wake-ups of its own while runs go on: none is lost, none costs a
 * run, and a stop then ends the server. */
static void *poster_main(void *arg)
{
	struct server *s = arg;
	struct timespec us = { 0, 50000 };
	for (unsigned i = 0; i < 2000; i++) {
		hvd_runpage_server_wake(&s->wake);
		nanosleep(&us, NULL);
	}
	return NULL;
}

Test(runpage, posts_and_runs_together)
{
	struct server s = { .page = page_new(), .spin_ns = 0, .jitter = true };
	pthread_t t, poster;

	server_start(&s, &t);
	cr_assert_eq(pthread_create(&poster, NULL, poster_main, &s), 0);
	client_runs(s.page, 3000, 0, true);
	cr_assert_eq(pthread_join(poster, NULL), 0);
	/* The last post must reach the server too, asleep or not. */
	uint64_t t0 = now_ns();
	while (atomic_load(&s.wake_seen) != atomic_load(&s.wake) && now_ns() - t0 < SLOW_NS) {
		struct timespec ms = { 0, 1000000l };
		nanosleep(&ms, NULL);
	}
	cr_assert_eq(atomic_load(&s.wake_seen), 2000, "the server's word is at %u, it saw %u",
	    atomic_load(&s.wake), atomic_load(&s.wake_seen));
	server_stop(&s, t);
	cr_assert_eq(s.served, 3000);
	cr_assert_eq(s.out_of_order, 0);
}
