/* hvd internals: sessions, vCPU threads, dispatch, logging. */
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
#include "hvd.pb-c.h"
#include "hvd_protocol.h"
#include "hvp.h"
#include "hvd_testhooks.h"

/* ---- logging (hvd_log.c) ---- */

enum hvd_log_level { HVD_LOG_ERROR, HVD_LOG_WARN, HVD_LOG_INFO, HVD_LOG_DEBUG };

void hvd_log_set_level(enum hvd_log_level level);
int hvd_log_parse_level(const char *name, enum hvd_log_level *out);
void hvd_log(enum hvd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define hvd_err(...) hvd_log(HVD_LOG_ERROR, __VA_ARGS__)
#define hvd_warn(...) hvd_log(HVD_LOG_WARN, __VA_ARGS__)
#define hvd_info(...) hvd_log(HVD_LOG_INFO, __VA_ARGS__)
#define hvd_debug(...) hvd_log(HVD_LOG_DEBUG, __VA_ARGS__)

/* ---- the daemon ---- */

struct hvd_session;

/*
 * A tenant's CPU budget (max_cpu_percent): a token bucket of nanoseconds
 * of vCPU-thread CPU time, filled at `percent` of one CPU and holding at
 * most HVD_CPU_PERIOD_NS worth. Its vCPU threads charge what they used
 * before each guest entry and wait while it is empty (hvd_vcpu.c).
 */
struct hvd_cpu_budget {
	pthread_mutex_t lock;
	uint32_t percent;              /* 0: unlimited */
	int64_t tokens_ns;             /* may go negative: a debt to wait off */
	uint64_t refill_ns;            /* CLOCK_MONOTONIC of the last refill */
};

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
	unsigned refs;
	struct hvp_rate admin_rate;
	uint64_t admin_audit_ms;       /* last admin rate refusal audited */
	uint64_t refused_log_ms;       /* last connection refusal logged */
	unsigned refused_since;        /* refusals not logged since */
};

struct hvd_ident;

struct hvd_daemon {
	uv_loop_t *loop;
	struct hvb_host *host;
	struct hvp_policy *policy;
	char *config_path;             /* NULL: built-in default */
	struct hvd_ident *ident;       /* the hvd-ident helper (hvd_ident.c) */
	FILE *audit;
	char *audit_path;              /* what `audit` is open on (NULL: stderr) */
	uid_t started_uid;             /* before any privilege drop: "hvd's own uid" in the
	                                * built-in policy */
	struct hvd_uid_share *shares;
	struct hvd_tenant *tenants;
	uint64_t start_ms;
	int listen_fd;
	uv_poll_t listen_poll;
	uv_timer_t accept_retry;       /* resumes accepting after EMFILE */
	char *socket_path;             /* NULL when socket-activated */
	int janitor_fd;                /* hvd-janitor removes the path (-1: hvd does) */
	int janitor_ack;
	bool activated;
	struct hvd_session *sessions;  /* doubly linked */
	unsigned nsessions;
	uint64_t next_session_id;
	bool stopping;
	struct hvd_testhooks test;     /* read once at start (hvd_testhooks.c) */
};

/* ---- vCPUs (hvd_vcpu.c) ---- */

/* A vCPU call forwarded from the loop thread to the vCPU's own thread, so
 * the loop never waits for KVM. */
struct hvd_op {
	struct hvd_op *next;
	struct hvd_session *session;
	uint32_t request_id;
	Hvd__Request *req;             /* owned; freed after the reply */
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
	_Atomic uint64_t exits[72];    /* by basic exit reason; [71] = other */
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
};

int hvd_vcpu_start(struct hvd_session *s, struct hvd_vcpu **out);
/* Queue a vCPU call; the reply goes out through the session's async. */
void hvd_vcpu_post(struct hvd_vcpu *v, struct hvd_op *op);
/* hv_vcpu_interrupt: force the vCPU out of the guest. Any thread. */
void hvd_vcpu_kick(struct hvd_vcpu *v);
/* Ask the thread to end (session teardown) without a reply. */
void hvd_vcpu_stop(struct hvd_vcpu *v);
/* Charge the vCPU's CPU time to budget `b` from now on (NULL: nobody). */
void hvd_vcpu_set_budget(struct hvd_vcpu *v, struct hvd_cpu_budget *b);
/* Set a budget's rate (percent of one CPU, 0 = unlimited). */
void hvd_cpu_budget_set(struct hvd_cpu_budget *b, uint32_t percent);
void hvd_vcpu_free(struct hvd_vcpu *v);

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
	unsigned inflight;             /* vCPU requests queued, not answered */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int pidfd;                     /* the peer process, against pid reuse */
	struct hvd_uid_share *share;
	struct hvp_identity ident;
	bool identified;               /* hvd-ident answered: requests are read from now on */
	bool exe_bound;                /* rights come from the executable: re-checked at vm_create */
	uint64_t nonce;                /* in HelloReply; vm_create of an exe_bound session
	                                * must carry it */
	bool waiting;                  /* a request waits for hvd-ident: the socket is not read */
	Hvd__Request *deferred;        /* that request */
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
	struct hvd_backing *backings;
	pthread_mutex_t done_lock;
	struct hvd_op *done;           /* completed ops to reply to */
	unsigned handles;              /* uv handles still open */
	/* A guest-memory change running on a thread of its own (the session
	 * is not read meanwhile), and a teardown waiting for it. */
	struct hvd_memop *memop;
	bool reap_after_memop;
};

/* Room for one descriptor in a message's control data. */
union hvd_fd_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};
/* Attach `fd` to `msg` (SCM_RIGHTS) in `ctl`; nothing if fd < 0. */
void hvd_msg_attach_fd(struct msghdr *msg, union hvd_fd_cmsg *ctl, int fd);

int hvd_server_init(struct hvd_daemon *d, const char *path);
/* A uid's share record, counted (hvd_session.c). */
struct hvd_uid_share *hvd_share_get(struct hvd_daemon *d, uid_t uid);
void hvd_share_put(struct hvd_daemon *d, struct hvd_uid_share *u);
/* Open sessions of `uid` that have (or have not) completed Hello. */
unsigned hvd_sessions_of_uid(struct hvd_daemon *d, uid_t uid, bool hello_done);
void hvd_server_stop(struct hvd_daemon *d);
/* Started as root, hvd will not be allowed to remove its socket file once
 * it is another uid: fork hvd-janitor (before hvd_server_init), which
 * removes `path` when hvd ends, if it is still the socket hvd made. */
int hvd_server_janitor(struct hvd_daemon *d, const char *path);
/* Reply to a request; `fd` >= 0 travels with it (SCM_RIGHTS). */
int hvd_session_reply(struct hvd_session *s, Hvd__Response *resp, int fd);
void hvd_session_close(struct hvd_session *s, const char *why);
/* Read the session's socket again (after a memory change), unless it is
 * closing or waiting out its request rate. */
void hvd_session_resume(struct hvd_session *s);
/* pthread_create for hvd's helper threads (reaper, memory changes): the
 * new thread blocks every signal, which belong to the loop thread. */
int hvd_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* Tear down a closed session's vCPUs and VM off the loop thread. */
void hvd_session_reap(struct hvd_session *s);
/* Answer the session's memory change if its thread has finished (called
 * from the session's async; hvd_dispatch.c). */
void hvd_memop_poll(struct hvd_session *s);

/* ---- least privilege (hvd_sandbox.c) ---- */

/* The seccomp filter of a vCPU thread; applies to the calling thread. */
int hvd_sandbox_vcpu_thread(void);
/* Started as root: the uid (a configured `hvd` user, else a free one) hvd
 * and hvd-ident become. `out->drop` false when hvd runs as another uid. */
struct hvd_identity_drop;
int hvd_sandbox_choose_uid(struct hvd_identity_drop *out);
/* hvd's own drop: to that uid, no capabilities left, no_new_privs. */
int hvd_sandbox_drop_all(const struct hvd_identity_drop *drop);
/* hvd-ident's: to that uid keeping CAP_SYS_PTRACE, under its own filter
 * (read-only opens). */
int hvd_sandbox_ident_process(const struct hvd_identity_drop *drop);
/* Set by --no-sandbox (for debugging with tools the filter would stop). */
extern bool hvd_sandbox_off;

/* ---- policy, tenants and audit (hvd_policy.c) ---- */

uint64_t hvd_now_ms(void);
/* Load the configuration (or the built-in default when `path` is NULL)
 * and open the audit destination. On a broken file the old policy stays
 * and `err` says why. */
int hvd_policy_load(struct hvd_daemon *d, const char *path, char *err, size_t len);
/* Who is on the other end of a new connection, as far as the loop thread
 * finds out cheaply: credentials, groups, a pidfd bound to the process.
 * The executable comes later, from hvd-ident (hvd_policy_set_exe). */
int hvd_policy_identify(struct hvd_session *s);
/* Take hvd-ident's answer about the peer's executable (err < 0: none). */
void hvd_policy_set_exe(struct hvd_session *s, int err, const struct hvp_identity *id);
/* Does `now` (a fresh probe of the peer) still describe the process and
 * code the session was identified as? NULL if so, else why not. */
const char *hvd_policy_same_process(const struct hvd_session *s, int err,
				    const struct hvp_identity *now);
/* Apply the current policy to a session (at open and after a reload). */
void hvd_policy_evaluate(struct hvd_session *s);
void hvd_policy_release(struct hvd_session *s);
/* One JSON line per decision. */
void hvd_audit(struct hvd_session *s, const char *request, const char *decision,
	       const char *reason);
int hvd_policy_reload(struct hvd_daemon *d, char *err, size_t len);

/* ---- admin requests (hvd_admin.c) ---- */

int hvd_admin_status(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
int hvd_admin_list_vms(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
int hvd_admin_show_vm(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
int hvd_admin_kill_vm(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
int hvd_admin_clients(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
int hvd_admin_policy_reload(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
int hvd_admin_policy_explain(struct hvd_session *s, Hvd__Request *req, Hvd__Response *resp, int fd);
/* Free what an admin handler allocated for its reply. */
void hvd_admin_reply_free(Hvd__Response *resp);

/* Stop reading a session's requests for `ms`: a client over its request
 * rate waits in its own socket instead of costing the loop thread. */
void hvd_session_pause(struct hvd_session *s, uint64_t ms);

/* ---- dispatch (hvd_dispatch.c) ---- */

/* A loop handler's answer when the reply comes later: the request is now
 * the handler's (s->deferred or a memory change), and the session is not
 * read until then. */
#define HVD_REPLY_LATER (-2)

/* Handle one decoded request; `fd` is the descriptor that came with it
 * (or -1), owned by the handler. */
void hvd_dispatch(struct hvd_session *s, Hvd__Request *req, int fd);
/* Execute a forwarded vCPU call on the vCPU's thread. */
void hvd_dispatch_vcpu_op(struct hvd_vcpu *v, struct hvd_op *op);
/* NULL if every row of the dispatch table names a policy decision, else
 * the name of a row that does not (checked at start-up and by a test). */
const char *hvd_dispatch_check_table(void);
/* errno -> hv_return_t, in one place. */
int32_t hvd_status_from_errno(int err);

#endif
