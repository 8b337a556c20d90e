/*
 * Stopping a test's hvd with a signal, shared by the system, policy and
 * conformance test libraries.
 *
 * HVD_TEST_SIGNAL_RETRY_MS is set by scripts/tsan.sh only: ThreadSanitizer
 * defers asynchronous signals to its next intercepted call and now and then
 * never delivers one (hvd then sits in epoll_wait with nothing pending). The
 * signal is sent again every that many ms, as long as hvd's socket is still
 * there: hvd removes it as soon as it starts to stop, and a second SIGTERM
 * after that would cut its teardown short. Other builds send it once.
 */
#ifndef HVD_TESTS_HVD_STOP_H
#define HVD_TESTS_HVD_STOP_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline long long hvd_stop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends `sig` to hvd `pid` and waits for it to exit for up to `ms` (for
 * ever if `ms` < 0), storing its wait status in `*status` (may be NULL).
 * `sock` is hvd's socket path. True if it exited (or was already reaped). */
static inline bool hvd_stop_signal_wait(pid_t pid, int sig, const char *sock, long long ms,
					int *status)
{
	const char *e = getenv("HVD_TEST_SIGNAL_RETRY_MS");
	long long retry = e ? atoll(e) : 0, start = hvd_stop_now_ms(), next = start + retry;
	int st = 0;

	kill(pid, sig);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD)) {
			if (status && r == pid)
				*status = st;
			return true;
		}
		long long now = hvd_stop_now_ms();
		if (ms >= 0 && now - start >= ms)
			return false;
		if (retry > 0 && sig != SIGKILL && now >= next && access(sock, F_OK) == 0) {
			kill(pid, sig);
			next = now + retry;
		}
		struct timespec tick = { 0, 5 * 1000 * 1000 };
		nanosleep(&tick, NULL);
	}
}

#endif
