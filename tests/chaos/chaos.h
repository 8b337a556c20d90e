/*
 * chaos.h: the harness of the chaos tests. Each test starts its own hvd
 * (with a configuration file whose quotas are tight enough that a leaked
 * count shows), throws misbehaving clients at it, and then checks from
 * outside that hvd is back exactly where it started: open descriptors,
 * threads, memory mappings (/proc/<pid>/{fd,task,maps}), and what
 * `hvctl status --json` reports.
 *
 * It builds on the system tests' helpers (tests/system/sys_hvd.c and
 * sys_client.c are compiled into every chaos executable).
 *
 * Environment (set by CMake): HVD_TEST_DAEMON (hvd), HVD_TEST_HVCTL
 * (hvctl); CHAOS_SEED replaces a test's fixed random seed; HVD_TEST_SLOW
 * scales every wait, for hvd under ThreadSanitizer or valgrind (sys_hvd.h).
 *
 * Nothing here asserts on time: waits poll for a condition and give up
 * after SYS_WAIT_MS, so that a broken hvd fails a test instead of hanging
 * it.
 */
#ifndef CHAOS_H
#define CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "sys_client.h"
#include "sys_hvd.h"

/*
 * The quota every chaos hvd gives the test's uid. A client of the kill
 * test holds at most one VM, CHAOS_CLIENT_VCPUS vCPUs, CHAOS_CLIENT_MAPS
 * mappings and CHAOS_CLIENT_MEMORY bytes; the quota is exactly
 * CHAOS_QUOTA_CLIENTS such clients, so that chaos_quota_probe() fills it to
 * the last byte and a single leaked count makes one of its clients fail.
 */
#define CHAOS_QUOTA_CLIENTS 10
#define CHAOS_CLIENT_VCPUS 2
#define CHAOS_EXTRA_MAPS 3                      /* besides guest RAM */
#define CHAOS_CLIENT_MAPS (1 + CHAOS_EXTRA_MAPS)
#define CHAOS_EXTRA_MAX (4u << 20)              /* largest extra mapping */
#define CHAOS_CLIENT_MEMORY ((uint64_t)SYS_RAM_SIZE + CHAOS_EXTRA_MAPS * (uint64_t)CHAOS_EXTRA_MAX)
/* Guest-physical address of extra mapping `i`, clear of guest RAM. */
#define CHAOS_EXTRA_GPA(i) (0x1000000ull * ((i) + 1))

struct chaos_hvd {
	struct sys_hvd sys;   /* pid, directory, socket: the sys_hvd_* calls work */
	char conf[160];
	char audit[160];
	const char *log_level;   /* hvd's --log-level */
};

/* What hvd holds, seen from outside. */
struct chaos_counts {
	int fds;      /* /proc/<pid>/fd entries without valgrind's (sys_hvd_fds) */
	int threads;  /* threads without KVM's kvm-* workers (sys_hvd_threads) */
	int maps;     /* /proc/<pid>/maps lines, without those of memory that
		       * valgrind or ThreadSanitizer keeps for itself (chaos.c) */
	int memfd;    /* of which map a memfd (guest memory, run pages) */
};

/* `hvctl status --json`, the fields the tests check. */
struct chaos_status {
	long long clients, vms, vcpus, guest_memory;
};

/* The test's seed: CHAOS_SEED if set, else `fixed`. Printed, so that a
 * failure can be repeated. */
uint64_t chaos_seed(const char *test, uint64_t fixed);

/* splitmix64: a small generator whose whole state is one word, so that
 * every forked client can carry its own. */
uint64_t chaos_rand(uint64_t *state);
/* Uniform in [0, n) (n > 0). */
uint32_t chaos_below(uint64_t *state, uint32_t n);

/* Makes a private directory with the configuration file, starts hvd on it,
 * waits for its socket and points HVD_SOCKET at it. Asserts. */
void chaos_hvd_start(struct chaos_hvd *h);

/* The same, with hvd logging at `level` ("error" where the test makes hvd
 * warn by design, thousands of times). */
void chaos_hvd_start_at(struct chaos_hvd *h, const char *level);

/* Starts hvd again on the same directory, configuration and socket path
 * (the previous one must have exited). Asserts. */
void chaos_hvd_restart(struct chaos_hvd *h);

/* Stops hvd with SIGTERM and asserts that it exited cleanly (status 0)
 * within SYS_WAIT_MS. */
void chaos_hvd_expect_clean_stop(struct chaos_hvd *h);

/* Stops hvd if it runs (SIGKILL if SIGTERM does not do) and removes the
 * directory. Safe to call twice: the .fini of every suite. */
void chaos_hvd_stop(struct chaos_hvd *h);

/* Reads hvd's counts now. */
void chaos_counts_read(struct chaos_hvd *h, struct chaos_counts *c);
/* The counts at rest, for a baseline (the sample with fewest threads). */
void chaos_counts_baseline(struct chaos_hvd *h, struct chaos_counts *c);

/* Runs `hvctl --socket SOCK <cmd> --json` and parses its output (caller
 * puts it); NULL, with the reason in `why`, if hvctl failed. */
json_object *chaos_hvctl_json(struct chaos_hvd *h, const char *cmd, char *why, size_t len);

/* Runs `hvctl status --json` and parses it; false (with the reason in
 * `why`) if hvctl failed or printed something unexpected. */
bool chaos_status_read(struct chaos_hvd *h, struct chaos_status *st, char *why, size_t len);

/*
 * Polls until hvd is back at `base`: the same descriptors and threads, the
 * same number of memfd mappings, a maps line count within `maps_slack` of
 * the baseline, and `hvctl status` reporting only hvctl itself (clients 1,
 * no VM, no vCPU, no guest memory). False, with what was last seen in
 * `why`, if that did not happen within SYS_WAIT_MS.
 */
bool chaos_settles(struct chaos_hvd *h, const struct chaos_counts *base, int maps_slack,
		   char *why, size_t len);

/* Asserts chaos_settles(), naming `after` in the message. */
void chaos_expect_baseline(struct chaos_hvd *h, const struct chaos_counts *base,
			   int maps_slack, const char *after);

/*
 * Fills the whole quota: CHAOS_QUOTA_CLIENTS client processes at once,
 * each with a VM, CHAOS_CLIENT_VCPUS vCPUs, CHAOS_CLIENT_MAPS mappings of
 * CHAOS_CLIENT_MEMORY bytes in all, each running a checked guest. While
 * they all hold, `hvctl status` must count exactly them. Asserts: a count
 * leaked into the tenant's usage makes the last request over the quota
 * fail with HV_NO_RESOURCES.
 */
void chaos_quota_probe(struct chaos_hvd *h);

/* Runs one well-behaved client (sys_client_lcg) to completion and says
 * how long it took; asserts. If it does not finish in time, prints where
 * its threads and hvd's are and what `hvctl list` shows. */
void chaos_expect_good_client(struct chaos_hvd *h, uint32_t seed, unsigned rounds,
			      unsigned steps, const char *what);

/* Microseconds on the monotonic clock. */
long long chaos_now_us(void);

#endif /* CHAOS_H */
