/*
 * sys_hvd.h: a real hvd for each system test, and what a test observes of
 * it from outside (liveness, threads, open descriptors).
 *
 * HVD_TEST_DAEMON names the hvd binary (set by CMake). Each test starts its
 * own hvd on a socket in a private directory and points HVD_SOCKET at it,
 * so forked clients inherit it. hvd gets PR_SET_PDEATHSIG: none outlives a
 * crashed test.
 *
 * Nothing here asserts on time. Waits poll for a condition and give up
 * only after SYS_WAIT_MS, so that a broken hvd fails the test instead of
 * hanging it.
 *
 * The same tests run with hvd under ThreadSanitizer (scripts/tsan.sh) and
 * valgrind (scripts/valgrind.sh), which make hvd slower and add threads,
 * descriptors and mappings of their own. What a test checks does not
 * change for them:
 *  - HVD_TEST_SLOW=N (a whole number, default 1) makes every bound on a
 *    wait N times longer (SYS_WAIT_MS, sys_slow_ms()); the scripts set it.
 *  - Counts of hvd's threads and descriptors are compared with a baseline
 *    taken from the running hvd, never with absolute numbers, so a tool's
 *    own threads and descriptors are in the baseline. ThreadSanitizer
 *    starts its background thread at startup only when asked for a memory
 *    profile: scripts/tsan.sh sets TSAN_OPTIONS=profile_memory=... so that
 *    the thread is there before any baseline is taken.
 *  - Descriptors that belong to valgrind, not to hvd, are recognised by
 *    what they are (sys_hvd_fds()) and not counted at all; so are the
 *    mappings of memory valgrind and TSan keep for themselves, which the
 *    chaos tests count (tests/chaos/chaos.c).
 */
#ifndef SYS_HVD_H
#define SYS_HVD_H

#include <stdbool.h>
#include <sys/types.h>

/* HVD_TEST_SLOW, read once: 1 unless set to a whole number above 1. */
int sys_slow(void);

/* `ms` times HVD_TEST_SLOW: a bound on a wait, or a time hvd is given. */
long sys_slow_ms(long ms);

/* How long any wait for hvd or a client lasts before the test fails:
 * 10 s, times HVD_TEST_SLOW. */
#define SYS_WAIT_MS ((int)sys_slow_ms(10000))

struct sys_hvd {
	pid_t pid;            /* -1 once reaped */
	int status;           /* waitpid status, once reaped */
	char dir[64];
	char sock[128];
};

/* Forks and execs hvd on a new private socket, without waiting. */
void sys_hvd_spawn(struct sys_hvd *d);

/* The same with a policy file whose text is `config` (written into the
 * private directory; "@AUDIT@" in it is replaced by a path there). */
void sys_hvd_spawn_config(struct sys_hvd *d, const char *config);

/* Starts hvd with a policy (see sys_hvd_spawn_config) and waits for it. */
void sys_hvd_start_config(struct sys_hvd *d, const char *config);

/* Starts hvd, waits for its socket, sets HVD_SOCKET. Asserts. */
void sys_hvd_start(struct sys_hvd *d);

/* Stops hvd with SIGTERM (SIGKILL if it does not go within SYS_WAIT_MS)
 * if it still runs, and removes the directory. Safe to call twice. */
void sys_hvd_stop(struct sys_hvd *d);

/* Sends `sig` and waits for hvd to exit; returns false if it did not
 * within SYS_WAIT_MS. */
bool sys_hvd_kill_wait(struct sys_hvd *d, int sig);

/* Is hvd still running (not exited, not a zombie)? */
bool sys_hvd_alive(struct sys_hvd *d);

/* Entries of /proc/<pid>/<dir> ("fd" or "task"), or -1. */
int sys_proc_count(pid_t pid, const char *dir);

/* Is process `pid` a program running under valgrind (its /proc/<pid>/exe
 * is valgrind's tool, e.g. memcheck-amd64-linux)? */
bool sys_under_valgrind(pid_t pid);

/* Descriptors of hvd itself: /proc/<pid>/fd without valgrind's own.
 * valgrind keeps its descriptors (its log, the client's executable, its
 * pipe, vgdb's FIFO) in the 12 it reserves just below the process's
 * soft RLIMIT_NOFILE, where the program under it cannot open any; a
 * descriptor below them that is open on the same file as one of them
 * (the log) is valgrind's too. Without valgrind this is the number of
 * entries of /proc/<pid>/fd. -1 if hvd is gone. */
int sys_hvd_fds(struct sys_hvd *d);

/* Threads of hvd itself, and those of its worker processes but each
 * worker's loop thread (so vCPU threads count as when VMs lived in hvd):
 * /proc/<pid>/task without KVM's per-VM workers (kvm-nx-lpage-recovery,
 * which since Linux 6.13 runs as a task of the process that owns the VM
 * and comes and goes with the VM's first run). */
int sys_hvd_threads(struct sys_hvd *d);
/* hvd's worker processes that run more than their loop thread (a VM with
 * a vCPU): up to `max` pids, returns how many. */
int sys_hvd_busy_workers(struct sys_hvd *d, pid_t *pids, int max);
/* hvd's fds and threads once they stop changing (200 ms alike): after a
 * VM was made, hvd starts a worker for its pool (hvd_worker.c) and holds
 * one more descriptor when it is in. */
void sys_hvd_steady(struct sys_hvd *d, int *fds, int *threads);

/* Polls until hvd has exactly `fds` open descriptors (sys_hvd_fds) and
 * `threads` threads (sys_hvd_threads); false if that did not happen
 * within SYS_WAIT_MS. The last counts seen are stored for messages. */
bool sys_hvd_settles(struct sys_hvd *d, int fds, int threads, int *seen_fds,
    int *seen_threads);

/* Waits for child `pid` to exit within SYS_WAIT_MS (else SIGKILLs it) and
 * returns its waitpid status, or -1 if it had to be killed. */
int sys_wait_child(pid_t pid);

/* Waits for child `pid` and asserts that it exited with status 0; `what`
 * names it in the failure message (the child printed its own reason). */
void sys_expect_child_ok(pid_t pid, const char *what);

/* Sleeps for `ms` milliseconds: the poll interval of the waits. */
void sys_sleep_ms(long ms);

/* Milliseconds on the monotonic clock. */
long long sys_now_ms(void);

#endif /* SYS_HVD_H */
