/*
 * The run-page hand-off, both sides (hvd_runpage.h).
 *
 * Each side announces that it is about to sleep (client_sleeping,
 * daemon_sleeping) before it looks at its word for the last time, and the
 * other side publishes its word before it looks at that flag; all four are
 * sequentially consistent, so one of the two always sees the other: no
 * wake-up is lost, and a side that is not sleeping costs its peer no
 * system call.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hvd_runpage.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* The spin-wait hint: PAUSE on x86, YIELD on arm64. */
static inline void cpu_relax(void)
{
#if defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hvd_runpage_futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ns)
{
	struct timespec ts = { timeout_ns / 1000000000l, timeout_ns % 1000000000l };
	/* Shared futex: the word lives in memory another process maps too. */
	syscall(SYS_futex, word, FUTEX_WAIT, val, timeout_ns ? &ts : NULL, NULL, 0);
}

void hvd_runpage_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- the client ---- */

bool hvd_runpage_client_attach(const struct hvd_run_page *p, uint32_t *seq)
{
	if (p->magic != HVD_RUN_PAGE_MAGIC)
		return false;
	*seq = atomic_load(&p->done_seq);
	return true;
}

int hvd_runpage_client_run(struct hvd_run_page *p, uint32_t seq, uint64_t spin_ns,
			   long sleep_ns, bool (*alive)(void *ctx), void *ctx, int32_t *result)
{
	int cpu = sched_getcpu();
	atomic_store(&p->client_cpu, (uint32_t)cpu);
	atomic_store_explicit(&p->req_seq, seq, memory_order_release);
	if (atomic_load(&p->daemon_sleeping))
		hvd_runpage_futex_wake(&p->req_seq);
	/* Spinning on the CPU the server runs on would only delay the exit
	 * we wait for (kvm-notes.md §12): sleep at once then. */
	uint64_t until = cpu == (int)atomic_load(&p->daemon_cpu) ? 0 : now_ns() + spin_ns;
	while (atomic_load_explicit(&p->done_seq, memory_order_acquire) != seq) {
		if (now_ns() < until) {
			cpu_relax();
			continue;
		}
		atomic_store(&p->client_sleeping, 1);
		uint32_t cur = atomic_load(&p->done_seq);
		if (cur != seq)
			hvd_runpage_futex_wait(&p->done_seq, cur, sleep_ns);
		atomic_store(&p->client_sleeping, 0);
		if (atomic_load(&p->done_seq) != seq && !alive(ctx))
			return -ECONNRESET;
	}
	*result = p->result;
	return 0;
}

/* ---- the server ---- */

void hvd_runpage_server_init(struct hvd_run_page *p)
{
	p->magic = HVD_RUN_PAGE_MAGIC;
	p->version = HVD_RUN_PAGE_VERSION;
}

uint32_t hvd_runpage_server_request(const struct hvd_run_page *p)
{
	return atomic_load_explicit(&p->req_seq, memory_order_acquire);
}

void hvd_runpage_server_begin(struct hvd_run_page *p)
{
	atomic_store(&p->daemon_cpu, (uint32_t)sched_getcpu());
}

void hvd_runpage_server_reply(struct hvd_run_page *p, uint32_t seq, int32_t result)
{
	p->result = result;
	atomic_store_explicit(&p->done_seq, seq, memory_order_release);
	if (atomic_load(&p->client_sleeping))
		hvd_runpage_futex_wake(&p->done_seq);
}

/*
 * Sleep until the client asks for a run (req_seq leaves `done`) or the
 * server's own word leaves `wake_seen`. Waiting on both words at once
 * leaves no window for a lost wake-up. Kernels without futex_waitv
 * (before 5.16) poll the server's word every ms.
 */
static void sleep_on_both(struct hvd_run_page *p, uint32_t done, _Atomic uint32_t *wake,
			  uint32_t wake_seen, long sleep_ns)
{
	struct futex_waitv w[2] = {
		{ .val = done, .uaddr = (uintptr_t)&p->req_seq, .flags = FUTEX_32 },
		{ .val = wake_seen, .uaddr = (uintptr_t)wake, .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG },
	};
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += sleep_ns / 1000000000l;
	until.tv_nsec += sleep_ns % 1000000000l;
	if (until.tv_nsec >= 1000000000l) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000l;
	}
	if (syscall(SYS_futex_waitv, w, 2, 0, &until, CLOCK_MONOTONIC) < 0 && errno == ENOSYS)
		hvd_runpage_futex_wait(&p->req_seq, done, 1000000l);
}

void hvd_runpage_server_wait(struct hvd_run_page *p, uint32_t done, _Atomic uint32_t *wake,
			     uint32_t wake_seen, uint64_t spin_ns, const _Atomic bool *stop,
			     long sleep_ns)
{
	/* Polling while the client sits on this CPU only keeps it from
	 * asking. */
	uint64_t until = now_ns() + spin_ns;
	bool no_spin = !spin_ns || sched_getcpu() == (int)atomic_load(&p->client_cpu);
	while (!no_spin && now_ns() < until && atomic_load(&p->req_seq) == done &&
	       atomic_load(wake) == wake_seen)
		cpu_relax();
	if (atomic_load(&p->req_seq) != done || atomic_load(wake) != wake_seen)
		return;
	atomic_store(&p->daemon_sleeping, 1);
	if (atomic_load(&p->req_seq) == done && !atomic_load(stop))
		sleep_on_both(p, done, wake, wake_seen, sleep_ns);
	atomic_store(&p->daemon_sleeping, 0);
}

void hvd_runpage_server_wake(_Atomic uint32_t *wake)
{
	atomic_fetch_add(wake, 1);
	syscall(SYS_futex, wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
