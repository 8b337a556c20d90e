/*
 * hvd's data model: the daemon, its tenants and per-uid shares, vCPUs and
 * the calls forwarded to them, sessions and the host memory they map.
 * Types only (and the one errno mapping): each file's functions are
 * declared in its own header (hvd_session.h, hvd_vcpu.h, ...), so that
 * the includes say which file uses which.
 */
#ifndef HVD_H
#define HVD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

#include "hvb.h"
#include "hvb_ops.h"
#include "hvs_errmap.h"
#include "hvd.pb-c.h"
#include "hvd_protocol.h"
#include "hvd_metrics.h"
#include "hvp.h"
#include "hvd_cpuquota.h"
#include "hvd_testhooks.h"

/* ---- the daemon ---- */

struct hvd_session;

/* A tenant's current use of resources, shared by all its sessions. */
struct hvd_tenant {
	struct hvd_tenant *next;
	char name[HVP_NAME_MAX];
	struct hvp_usage usage;
	struct hvp_rate rate;          /* the tenant's request rate */
	struct hvd_cpu_budget cpu;     /* its vCPU threads' CPU time */
	unsigned refs;
};

/* What one uid holds, whatever its tenant: admin calls are rate-limited
 * per uid, connections counted per uid (hvd_session.c). */
struct hvd_uid_share {
	struct hvd_uid_share *next;
	uid_t uid;
	uint64_t tenant_socket;        /* nonzero: not a uid's but the connections on
	                                * that tenant's socket (hvd_tenant.c) */
	unsigned refs;
	struct hvp_rate admin_rate;
	uint64_t admin_audit_ms;       /* last admin rate refusal audited */
	uint64_t refused_log_ms;       /* last connection refusal logged */
	unsigned refused_since;        /* refusals not logged since */
};

struct hvd_ident;
struct hvd_session_calls;
struct hvd_tenants;

struct hvd_daemon {
	uv_loop_t *loop;
	const struct hvb_ops *be;   /* the backend: hvb_x86_ops */
	struct hvb_host *host;
	/* An idle VM with one vCPU, never run, held for hvd's lifetime
	 * (hvd_main.c keep_kvm_warm). */
	struct hvb_vm *idle_vm;
	struct hvb_vcpu *idle_vcpu;
	struct hvp_policy *policy;
	char *config_path;             /* NULL: built-in default */
	struct hvd_ident *ident;       /* the hvd-ident helper (hvd_ident.c) */
	FILE *audit;
	char *audit_path;              /* what `audit` is open on (NULL: the fallback) */
	FILE *audit_fallback;          /* without an audit path: stderr (--audit-stderr) or NULL */
	uid_t started_uid;             /* before any privilege drop: "hvd's own uid" in the
	                                * built-in policy */
	uid_t started_euid;            /* to tell, in errors, that hvd gave up root since */
	struct hvd_uid_share *shares;
	struct hvd_tenant *tenants;
	struct hvd_tenants *tobjs;     /* tenants as objects, their sockets (hvd_tenant.c) */
	uint64_t start_ms;
	int listen_fd;
	uv_poll_t listen_poll;
	uv_timer_t accept_retry;       /* resumes accepting after EMFILE */
	char *socket_path;             /* NULL when socket-activated */
	int janitor_fd;                /* hvd-janitor removes the path (-1: hvd does) */
	int janitor_ack;
	bool activated;
	mode_t socket_mode;            /* of a socket hvd makes (--socket-mode) */
	gid_t socket_gid;              /* and its group ((gid_t)-1: hvd's own) */
	struct hvd_session *sessions;  /* doubly linked */
	unsigned nsessions;
	uint64_t next_session_id;
	bool stopping;
	struct hvd_testhooks test;     /* read once at start (hvd_testhooks.c) */
	/* Worker processes (hvd_worker.c): in hvd, the zygote and the pool
	 * (NULL: VMs live in hvd itself); in a worker, `worker` is set and
	 * `wstats` is its counters' page. */
	struct hvd_workers *workers;
	bool worker;
	struct hvd_wstats *wstats;
	const struct hvd_session_calls *calls; /* what sessions hand upward (hvd_session.h) */
	struct hvd_metrics metrics;    /* refusals, answer times (hvd_metrics.h) */
};

/* ---- vCPUs (hvd_vcpu.c) ---- */

/* A vCPU call forwarded from the loop thread to the vCPU's own thread, so
 * the loop never waits for KVM. */
struct hvd_op {
	struct hvd_op *next;
	struct hvd_session *session;
	uint32_t request_id;
	Hvdp__Request *req;             /* owned; freed after the reply */
	int32_t status;                /* hv_return_t */
	uint64_t value;
	uint8_t *data;                 /* fpstate read */
	size_t data_len;
	bool destroy;                  /* the op ends the vCPU thread */
};

struct hvd_vcpu {
	struct hvd_session *session;
	struct hvb_vcpu *vcpu;
	unsigned id;
	pthread_t thread;
	int page_fd;
	struct hvd_run_page *page;
	size_t page_size;
	pthread_mutex_t lock;          /* ops, stop */
	struct hvd_op *ops, **ops_tail;
	_Atomic bool stop;
	_Atomic bool exited;
	_Atomic uint32_t wake;         /* bumped by posts and stops: a futex word */
	_Atomic uint64_t runs;
	_Atomic uint32_t last_exit;
	/* x86: by basic exit reason, [71] = other. arm64: by exception
	 * class (0..63), then HVD_A64_EXIT_BASE + Apple's other reasons. */
	_Atomic uint64_t exits[72];
	/* Exit handling (hvd_metrics.h): runs by bucket, and their sum. */
	_Atomic uint64_t exit_hist[HVD_EXIT_BUCKETS + 1];
	_Atomic uint64_t exit_handling_ns;
	/* The CPU quota. `budget` is the tenant's, under `lock` (a reload
	 * may move the session to another tenant); the rest is the vCPU
	 * thread's own. */
	struct hvd_cpu_budget *budget;
	_Atomic bool metered;          /* budget with a rate: the throttle's fast path */
	bool charging;                 /* cpu_seen is valid */
	uint64_t cpu_seen;             /* thread CPU time already charged */
	bool has_timer, timer_armed;
	timer_t timer;                 /* thread CPU-time timer: kicks a guest that overstays */
	uint64_t wait_start;           /* a throttling wait began (0: none) */
	_Atomic uint64_t throttled_ns; /* for hvctl show */
	_Atomic pid_t tid;             /* the thread's id, once it runs */
	/* Started ahead (hvd_vcpu_ahead), under `lock` with `cond`: `parked`
	 * once the thread is set up and waits for its vCPU, `taken` once
	 * hv_vcpu_create has given it one. */
	bool ahead, parked, taken;
	pthread_cond_t cond;
	bool refused_said;             /* the thread logged a page the kernel refused */
};

/* ---- sessions (hvd_session.c) ---- */

/* Host memory hvd mapped from a client's memfd for guest RAM. */
struct hvd_backing {
	struct hvd_backing *next;
	uint8_t *addr;
	uint64_t size;
	int fd;
};

struct hvd_session {
	struct hvd_session *prev, *next;
	struct hvd_daemon *d;
	uint64_t id;
	int fd;
	uv_poll_t poll;
	uv_async_t async;              /* vCPU threads post replies here */
	uv_async_t reaped;             /* teardown finished off the loop */
	uv_timer_t hello_timer;        /* closes a connection that never says Hello */
	uv_timer_t rate_timer;         /* resumes reading after a rate refusal */
	uint64_t rate_audit_ms;        /* last rate refusal audited */
	uint64_t rate_refused;         /* refusals since then */
	uint64_t refusal_log_ms;       /* last denial or quota refusal logged */
	uint64_t refusals_unlogged;    /* refusals since then not logged */
	unsigned inflight;             /* vCPU requests queued, not answered */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int pidfd;                     /* the peer process, against pid reuse */
	struct hvd_uid_share *share;
	uint64_t bound;                /* came through this tenant object's socket: its
	                                * rights alone, never an administrator (0: the
	                                * main socket) */
	struct hvp_identity ident;
	bool identified;               /* hvd-ident answered: requests are read from now on */
	bool exe_bound;                /* rights come from the executable: re-checked at vm_create */
	uint64_t nonce;                /* in HelloReply; vm_create of an exe_bound session
	                                * must carry it */
	bool waiting;                  /* a request waits for hvd-ident: the socket is not read */
	Hvdp__Request *deferred;        /* that request */
	struct hvp_identity *probe;    /* admin_policy_explain: the process asked about */
	struct hvp_grant_result grant;
	bool admin;
	struct hvd_tenant *tenant;
	uint64_t opened_ms;
	uint64_t vm_created_ms;
	uint64_t mem_bytes;            /* guest memory mapped, charged to the tenant */
	uint32_t mappings;
	bool hello_done;
	bool closing;
	struct hvb_vm *vm;
	struct hvd_vcpu *vcpus[HVB_MAX_VCPUS];
	struct hvd_vcpu *ahead;        /* the next vCPU's thread, started ahead (hvd_vcpu_ahead) */
	struct hvd_backing *backings;
	pthread_mutex_t done_lock;
	struct hvd_op *done;           /* completed ops to reply to */
	unsigned handles;              /* uv handles still open */
	/* A guest-memory change running on a thread of its own (the session
	 * is not read meanwhile), and a teardown waiting for it. */
	struct hvd_memop *memop;
	bool reap_after_memop;
	/* With worker processes (hvd_worker.c), in hvd: the worker holding
	 * the VM, and what hvd knows of it from the worker's answers (`vm`
	 * and `vcpus` stay empty here). */
	struct hvd_worker *worker;
	bool remote_vm;
	uint64_t remote_vcpus;         /* bit i: vCPU i exists */
	bool fwd_full;                 /* as many requests at the worker as allowed: not read */
	struct hvd_session *wait_next; /* waiting for a worker to start */
};

/* Whether the session has a VM, here or in its worker. */
static inline bool hvd_session_has_vm(const struct hvd_session *s)
{
	return s->vm != NULL || s->remote_vm;
}

/* A loop handler's answer when the reply comes later: the request is now
 * the handler's (s->deferred or a memory change), and the session is not
 * read until then. */
#define HVD_REPLY_LATER (-2)

/* errno -> hv_return_t, in one place. */
static inline int32_t hvd_status_from_errno(int err)
{
	return hvs_errno_to_hv(err);
}

#endif
