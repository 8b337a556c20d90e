/*
 * Worker processes (hvd_worker.c): each VM lives in a process of its own,
 * hvd stays the broker. See docs/architecture.md, "Processes".
 */
#ifndef HVD_WORKER_H
#define HVD_WORKER_H

#include "hvd.h"
#include "hvd_sandbox.h"

/* How workers are run, from hvd's options. */
struct hvd_worker_config {
	bool enabled;                  /* false: VMs live in hvd itself (--in-process) */
	unsigned pool;                 /* workers kept started, waiting for a VM */
	struct hvd_identity_drop drop; /* the uid workers run as (drop.drop false: hvd's) */
	bool cgroups;                  /* --cgroups: each tenant's workers in a cgroup */
	const char *cgroup_root;       /* --cgroup-root: hvd's subtree's name */
};

/*
 * A worker's counters, in a page of its own that hvd maps read-only: what
 * listings and `hvctl top` show without asking the worker. The worker
 * writes it from its loop thread a few times a second; hvd takes every
 * field as a number that may be wrong (a worker can be compromised), never
 * as a size or an index it trusts.
 */
#define HVD_WSTATS_MAGIC 0x68766477u /* "hvdw" */
struct hvd_wstats_vcpu {
	uint32_t live;                 /* 1: a vCPU has this id */
	int32_t tid;                   /* its thread */
	uint64_t cpu_ns;               /* that thread's CPU time (user + system) */
	uint64_t runs;
	uint64_t exits;
	uint32_t last_exit;
	uint32_t pad;
};
struct hvd_wstats {
	uint32_t magic;
	uint32_t pad;
	uint64_t cpu_ns;               /* all vCPU threads' CPU time */
	uint64_t runs;                 /* exits, all vCPUs */
	uint64_t exit_rate;            /* per second, over about the last second */
	uint64_t exit_hist[HVD_EXIT_BUCKETS + 1]; /* exit handling, live vCPUs (hvd_metrics.h) */
	uint64_t exit_handling_ns;
	struct hvd_wstats_vcpu vcpu[HVB_MAX_VCPUS];
};

/* Before anything else in main(): while hvd is one thread with its
 * privileges, fork hvd-zygote, which starts the workers. */
int hvd_zygote_start(struct hvd_daemon *d, const struct hvd_worker_config *cfg);
/* Once the loop exists: listen to the zygote and fill the pool. */
int hvd_workers_init(struct hvd_daemon *d);
/* Shutdown: no more workers; the zygote ends them all when hvd ends. */
void hvd_workers_stop(struct hvd_daemon *d);
/* The very end: with --cgroups, wait for the zygote to end its workers
 * and remove the tenants' cgroups. */
void hvd_workers_finish(void);

/* vm_create through a worker: takes `req` (a reply follows later).
 * Returns 0, or a negative errno with `req` still the caller's. */
int hvd_worker_vm_create(struct hvd_session *s, Hvdp__Request *req);
/* Forward a request of the session's VM to its worker; takes req and fd
 * and answers the client when the worker does. `start_ns` (hvd_now_ns,
 * when the request arrived; 0: not timed) is for the RPC histogram. */
void hvd_worker_forward(struct hvd_session *s, Hvdp__Request *req, int fd, uint64_t start_ns);
/* Forward an admin `show` of `target` on behalf of `asker`. */
int hvd_worker_show(struct hvd_session *asker, struct hvd_session *target, Hvdp__Request *req);
/* The session ends: its worker is killed (the kernel tears the VM down). */
void hvd_worker_release(struct hvd_session *s);
/* Listings: what the worker's counters say (zeros when none). */
void hvd_worker_counters(const struct hvd_session *s, uint64_t *runs, uint64_t *cpu_ns,
			 uint64_t *exit_rate);
/* The exit-handling histogram of the session's VM, added to `hist` and
 * `*ns` (its worker's counters, or its own vCPUs in hvd). */
void hvd_worker_exit_hist(const struct hvd_session *s, uint64_t hist[HVD_EXIT_BUCKETS + 1],
			  uint64_t *ns);
pid_t hvd_worker_pid(const struct hvd_session *s);

/* A policy reload changed the session's CPU quota, or the log level
 * changed: tell its worker. */
void hvd_worker_update(struct hvd_session *s);
/* The log level changed: tell every worker, those in the pool too. */
void hvd_workers_log_level(struct hvd_daemon *d);
/* The worker_hello row (hvd_dispatch.c): in a worker, the session it now
 * serves. */
int hvd_worker_rpc_hello(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd);

/* In the worker process: serve one session from hvd on `fd`. Returns the
 * process's exit status. */
int hvd_worker_main(struct hvd_daemon *d, int fd, int stats_fd, pid_t broker);

#endif
