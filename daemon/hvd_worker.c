/*
 * Worker processes: every VM lives in a process of its own, and hvd is
 * the broker (docs/architecture.md, "Processes").
 *
 *   hvd ──(SEQPACKET: spawn, place, kill / spawned, exited)── hvd-zygote
 *    │                                                           │ fork
 *    └──(SEQPACKET: the client's VM requests, re-tagged)──────── hvd-worker (one per VM)
 *
 * - hvd-zygote is forked by hvd's main() before anything else, while hvd
 *   is one thread with its privileges. It opens KVM itself, keeps only
 *   CAP_SETUID, CAP_SETGID and CAP_KILL, and forks workers on hvd's
 *   request. Only it may change a worker (uid, cgroup, SIGKILL): workers
 *   run as another uid than hvd, which hvd cannot signal.
 * - A worker is hvd's own code (sessions, dispatch, vCPU threads, memory
 *   changes) serving exactly one session: hvd's connection to it. It runs
 *   as the workers' uid (not hvd's), with no capabilities, not dumpable,
 *   under the loop thread's seccomp filter, and holds only its VM's
 *   memory and descriptors. It dies with the zygote (PDEATHSIG) and when
 *   hvd closes its connection.
 * - hvd keeps every decision: identity, policy, quotas, audit and admin.
 *   A request passes hvd's checks, then goes to the session's worker with
 *   a tag of hvd's own (a client's ids mean nothing to hvd's accounting);
 *   the worker's answer goes back to the client under the client's id.
 *   hvd learns what the VM holds (vCPUs, memory) from those answers, and
 *   reads the worker's counters from a page it maps read-only.
 * - The data path does not pass through hvd: run pages and guest memory
 *   are memfds shared by the client and the worker.
 * - A worker is taken from a pool of started ones at vm_create, so that
 *   creating a VM does not wait for a fork.
 * - A worker that dies (crash, kill, OOM) ends its client's session with
 *   the reason: only that VM is lost.
 *
 * The worker is trusted less than hvd: hvd checks each answer (its tag,
 * its size, a vCPU id in range) and never uses a number from it as a size
 * or index unchecked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvd.h"
#include "hvd_audit.h"
#include "hvd_cgroup.h"
#include "hvd_log.h"
#include "hvd_msg.h"
#include "hvd_policy.h"
#include "hvd_sandbox.h"
#include "hvd_session.h"
#include "hvd_time.h"
#include "hvd_vcpu.h"
#include "hvd_worker.h"

/* Requests at a worker before hvd stops reading the client: below the
 * kernel's queue of a SEQPACKET socket (net.unix.max_dgram_qlen, 10 by
 * default), so a send to a live worker does not fail for room. */
#define FWD_MAX 8

/* ---- hvd <-> hvd-zygote ---- */

/* Z_PLACE and Z_LIMIT carry the tenant's limits (--cgroups); Z_STOP asks
 * the zygote to end its workers and remove the cgroups before hvd exits. */
enum { Z_SPAWN = 1, Z_PLACE, Z_KILL, Z_LIMIT, Z_STOP };
enum { Z_SPAWNED = 1, Z_EXITED, Z_FAILED, Z_PLACED, Z_STOPPED };

struct zcmd {
	uint32_t op;
	int32_t pid;
	char tenant[HVP_NAME_MAX];
	uint32_t max_cpu_percent;
	uint64_t max_memory;
};

struct zmsg {
	uint32_t op;
	int32_t pid;
	int32_t status;                /* Z_EXITED: wait status; Z_FAILED: errno; Z_PLACED: 0 or -errno */
	uint32_t flags;                /* Z_EXITED: Z_OOM */
};

/* Z_EXITED: the kernel's OOM killer ended the worker for its tenant
 * cgroup's memory limit (its oom_kill count went up as it died). */
#define Z_OOM 1u

/* ---- hvd's side ---- */

struct fwd {
	struct fwd *next;
	uint32_t tag;
	uint32_t client_id;
	int op;                        /* Hvdp__Request__OpCase */
	uint32_t vcpu;                 /* vcpu_destroy: which */
	uint64_t asker;                /* admin show: the asking session (0: the owner) */
	uint64_t start_ns;             /* when the client's request reached hvd (0: not timed) */
};

struct hvd_worker {
	struct hvd_worker *next;       /* in the pool */
	struct hvd_daemon *d;
	struct hvd_session *s;         /* NULL while in the pool */
	pid_t pid;
	int fd;
	uv_poll_t poll;
	struct hvd_wstats *stats;      /* mapped read-only */
	struct fwd *pending;
	unsigned npending;
	unsigned nserial;              /* pending requests that change hvd's accounts */
	uint32_t next_tag;
	bool hup;                      /* its connection ended: waiting for the zygote's word */
	bool closing;
	bool placing;                  /* Z_PLACE sent, no Z_PLACED yet */
	bool placed;                   /* in cg_tenant's cgroup: the kernel holds its limits */
	char cg_tenant[HVP_NAME_MAX];  /* the tenant whose cgroup it is in */
	char cg_want[HVP_NAME_MAX];    /* the tenant of the last Z_PLACE (tried once each) */
	Hvdp__Request *held;           /* the vm_create waiting for the placement */
};

struct hvd_workers {
	struct hvd_worker_config cfg;
	int zfd;
	pid_t zpid;
	uv_poll_t zpoll;
	struct hvd_worker *pool;
	unsigned npool, spawning;
	struct hvd_session *waiters;   /* FIFO through wait_next */
	bool stopping;
};

static void worker_lost(struct hvd_worker *w, const char *why);
static void worker_hup(struct hvd_worker *w, const char *why);

static int zsend_limits(struct hvd_workers *W, uint32_t op, pid_t pid, const char *tenant,
			const struct hvp_quota *q)
{
	struct zcmd c;
	memset(&c, 0, sizeof(c));
	c.op = op;
	c.pid = pid;
	if (tenant)
		snprintf(c.tenant, sizeof(c.tenant), "%s", tenant);
	if (q) {
		c.max_cpu_percent = q->max_cpu_percent;
		c.max_memory = q->max_memory;
	}
	struct iovec iov = { &c, sizeof(c) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (sendmsg(W->zfd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(c)) {
		hvd_err("hvd-zygote: cannot send it a request: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int zsend(struct hvd_workers *W, uint32_t op, pid_t pid, const char *tenant)
{
	return zsend_limits(W, op, pid, tenant, NULL);
}

static unsigned waiting(const struct hvd_workers *W)
{
	unsigned n = 0;
	for (const struct hvd_session *s = W->waiters; s; s = s->wait_next)
		n++;
	return n;
}

/* Keep the pool full, and a start under way for each session waiting. */
static void refill(struct hvd_daemon *d)
{
	struct hvd_workers *W = d->workers;
	while (!W->stopping && W->npool + W->spawning < W->cfg.pool + waiting(W)) {
		if (zsend(W, Z_SPAWN, 0, NULL) < 0)
			return;
		W->spawning++;
	}
}

/* Requests whose answer changes what hvd accounts for (the VM, its vCPUs
 * and memory): the session is not read until the answer is in, as when
 * they ran on hvd's loop, so that the next request is decided on what
 * the VM really holds (a vm_map right after vm_create, a quota checked
 * against the mapping before). */
static bool serial(int op)
{
	switch (op) {
	case HVDP__REQUEST__OP_VM_CREATE:
	case HVDP__REQUEST__OP_VM_DESTROY:
	case HVDP__REQUEST__OP_VM_MAP:
	case HVDP__REQUEST__OP_VM_UNMAP:
	case HVDP__REQUEST__OP_VM_PROTECT:
	case HVDP__REQUEST__OP_VCPU_CREATE:
	case HVDP__REQUEST__OP_VCPU_DESTROY:
		return true;
	default:
		return false;
	}
}

/* Whether the session's socket is read: not while the worker has as many
 * requests as allowed, or one that changes the accounts. */
static void flow(struct hvd_session *s)
{
	struct hvd_worker *w = s->worker;
	bool full = w && (w->npending >= FWD_MAX || w->nserial);
	if (full && !s->fwd_full) {
		s->fwd_full = true;
		uv_poll_stop(&s->poll);
	} else if (!full && s->fwd_full) {
		s->fwd_full = false;
		hvd_session_resume(s);
	}
}

static struct fwd *fwd_take(struct hvd_worker *w, uint32_t tag)
{
	for (struct fwd **pp = &w->pending; *pp; pp = &(*pp)->next) {
		struct fwd *f = *pp;
		if (f->tag == tag) {
			*pp = f->next;
			w->npending--;
			w->nserial -= serial(f->op) && !f->asker;
			return f;
		}
	}
	return NULL;
}

static struct hvd_session *session_by_id(struct hvd_daemon *d, uint64_t id)
{
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		if (s->id == id && !s->closing)
			return s;
	return NULL;
}

static void reply_status(struct hvd_session *s, uint32_t id, int32_t status, const char *error)
{
	Hvdp__Response resp = HVDP__RESPONSE__INIT;
	resp.id = id;
	resp.status = status;
	resp.error = (char *)error;
	hvd_session_reply(s, &resp, -1);
}

static void worker_close_cb(uv_handle_t *h)
{
	struct hvd_worker *w = h->data;
	if (w->stats)
		munmap(w->stats, sizeof(*w->stats));
	if (w->held)
		hvdp__request__free_unpacked(w->held, NULL);
	close(w->fd);
	while (w->pending) {
		struct fwd *f = w->pending;
		w->pending = f->next;
		free(f);
	}
	free(w);
}

/* Answer what the worker will not answer any more, kill it, let it go. */
static void worker_free(struct hvd_worker *w, const char *why)
{
	struct hvd_daemon *d = w->d;
	if (w->closing)
		return;
	w->closing = true;
	for (struct fwd *f = w->pending; f; f = f->next) {
		struct hvd_session *asker = f->asker ? session_by_id(d, f->asker) : NULL;
		if (asker)
			reply_status(asker, f->client_id, HV_BAD_ARGUMENT, why);
	}
	uv_poll_stop(&w->poll);
	/* The worker also ends on its own when the connection closes; the
	 * kill is for one that does not (stuck, or no longer hvd's code). */
	if (d->workers && !d->workers->stopping)
		zsend(d->workers, Z_KILL, w->pid, NULL);
	uv_close((uv_handle_t *)&w->poll, worker_close_cb);
}

static void pool_remove(struct hvd_workers *W, struct hvd_worker *w)
{
	for (struct hvd_worker **pp = &W->pool; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			W->npool--;
			return;
		}
	}
}

/* ---- sending to a worker ---- */

static int send_req(struct hvd_worker *w, Hvdp__Request *req, int fd)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	union hvd_fd_cmsg ctl;
	struct iovec iov;
	struct msghdr msg;

	size_t len = hvdp__request__get_packed_size(req);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	hvdp__request__pack(req, buf);
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	hvd_msg_attach_fd(&msg, &ctl, fd);
	if (sendmsg(w->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/* Send `req` (the worker answers `asker`, or the owner when 0). Takes
 * req; fd stays the caller's. */
static int forward(struct hvd_worker *w, Hvdp__Request *req, int fd, uint64_t asker)
{
	struct fwd *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->tag = ++w->next_tag ? w->next_tag : ++w->next_tag; /* 0: no answer awaited */
	f->client_id = req->id;
	f->op = req->op_case;
	f->asker = asker;
	if (req->op_case == HVDP__REQUEST__OP_VCPU_DESTROY)
		f->vcpu = req->vcpu_destroy->vcpu;
	req->id = f->tag;
	int r = send_req(w, req, fd);
	req->id = f->client_id;
	if (r < 0) {
		free(f);
		return r;
	}
	f->next = w->pending;
	w->pending = f;
	w->npending++;
	w->nserial += serial(f->op) && !asker;
	return 0;
}

void hvd_worker_forward(struct hvd_session *s, Hvdp__Request *req, int fd, uint64_t start_ns)
{
	struct hvd_worker *w = s->worker;
	int r = w && !w->closing ? forward(w, req, fd, 0) : -ENODEV;
	if (r == 0)
		w->pending->start_ns = start_ns; /* forward() put it first */
	if (fd >= 0)
		close(fd); /* the worker has its own copy now */
	if (r < 0) {
		/* A full queue is a busy worker; anything else, a lost one
		 * (its hang-up ends the session). */
		reply_status(s, req->id, r == -EAGAIN ? HV_BUSY : HV_ERROR,
			     r == -EAGAIN ? "the VM's worker is not keeping up" :
			     "the VM's worker process is gone");
	} else {
		flow(s);
	}
	hvdp__request__free_unpacked(req, NULL);
}

/* ---- binding a worker to a session ---- */

/* The CPU quota the worker meters itself: none when the kernel holds it
 * (its cgroup is its tenant's), else the two limits would double up. */
static uint32_t worker_cpu_quota(const struct hvd_session *s, const struct hvd_worker *w)
{
	if (w->placed && strcmp(w->cg_tenant, s->grant.tenant) == 0)
		return 0;
	return s->grant.quota.max_cpu_percent;
}

/* Ask the zygote to move the worker into the cgroup of the session's
 * tenant (made and limited first, as for a new VM). Returns true if
 * Z_PLACED is to come. */
static bool worker_place(struct hvd_session *s, struct hvd_worker *w)
{
	snprintf(w->cg_want, sizeof(w->cg_want), "%s", s->grant.tenant);
	if (zsend_limits(s->d->workers, Z_PLACE, w->pid, s->grant.tenant, &s->grant.quota) < 0)
		return false;
	w->placing = true;
	return true;
}

/* Bind a worker to the session. Returns true if the session's vm_create
 * must wait for the worker's placement in its tenant's cgroup. */
static bool worker_bind(struct hvd_session *s, struct hvd_worker *w)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__WorkerHello hello = HVDP__WORKER_HELLO__INIT;

	s->worker = w;
	w->s = s;
	hello.session = s->id;
	hello.max_cpu_percent = worker_cpu_quota(s, w);
	hello.log_level = (uint32_t)hvd_log_get_level() + 1;
	req.op_case = HVDP__REQUEST__OP_WORKER_HELLO;
	req.worker_hello = &hello;
	/* Tagged as every request is: an empty answer (id 0) would read as
	 * the end of the connection. */
	int r = forward(w, &req, -1, 0);
	if (r < 0)
		hvd_warn("session %llu: worker %d: %s", (unsigned long long)s->id, (int)w->pid,
			 strerror(-r));
	hvd_info("session %llu: VM in worker process %d", (unsigned long long)s->id, (int)w->pid);
	if (!s->d->workers->cfg.cgroups)
		return false;
	/* Into the tenant's cgroup before the VM exists, so that what KVM
	 * allocates for it is charged there: vm_create waits for Z_PLACED. */
	return worker_place(s, w);
}

/* Hold the session's vm_create until the worker is placed (its socket
 * unread meanwhile, as while a worker starts). */
static void hold(struct hvd_session *s, struct hvd_worker *w, Hvdp__Request *req)
{
	w->held = req;
	s->waiting = true;
	uv_poll_stop(&s->poll);
}

static void worker_placed(struct hvd_worker *w, int status)
{
	if (!w->placing)
		return;
	w->placing = false;
	/* A worker moved from another tenant's cgroup that the new one
	 * refused stays in the old one (the zygote puts it back). */
	bool moving = w->placed;
	if (status == 0) {
		w->placed = true;
		snprintf(w->cg_tenant, sizeof(w->cg_tenant), "%s", w->cg_want);
	}
	struct hvd_session *s = w->s;
	if (!s)
		return;
	if (status < 0 && moving)
		hvd_warn("session %llu: worker process %d not moved to tenant %s's cgroup (%s): "
			 "it stays in tenant %s's, and hvd meters its CPU quota itself",
			 (unsigned long long)s->id, (int)w->pid, w->cg_want, strerror(-status),
			 w->cg_tenant);
	else if (status < 0)
		hvd_warn("session %llu: worker process %d not in tenant %s's cgroup (%s): hvd "
			 "meters its CPU quota itself, its memory is not held by the kernel",
			 (unsigned long long)s->id, (int)w->pid, w->cg_want, strerror(-status));
	if (s->grant.quota.max_cpu_percent || strcmp(w->cg_want, s->grant.tenant) != 0)
		hvd_worker_update(s); /* the kernel holds the CPU quota now, or the tenant
				       * changed while the zygote placed the worker */
	Hvdp__Request *req = w->held;
	w->held = NULL;
	if (!req)
		return;
	s->waiting = false;
	hvd_worker_forward(s, req, -1, 0);
	hvd_session_resume(s);
}

static void waiter_remove(struct hvd_workers *W, struct hvd_session *s)
{
	for (struct hvd_session **pp = &W->waiters; *pp; pp = &(*pp)->wait_next) {
		if (*pp == s) {
			*pp = s->wait_next;
			s->wait_next = NULL;
			return;
		}
	}
}

int hvd_worker_vm_create(struct hvd_session *s, Hvdp__Request *req)
{
	struct hvd_workers *W = s->d->workers;
	if (!s->worker) {
		struct hvd_worker *w = W->pool;
		if (!w) {
			/* None started yet: wait for one, the socket unread
			 * meanwhile (as for hvd-ident). */
			s->deferred = req;
			s->waiting = true;
			uv_poll_stop(&s->poll);
			struct hvd_session **pp = &W->waiters;
			while (*pp)
				pp = &(*pp)->wait_next;
			*pp = s;
			refill(s->d);
			return 0;
		}
		pool_remove(W, w);
		bool wait = worker_bind(s, w);
		refill(s->d);
		if (wait) {
			hold(s, w, req);
			return 0;
		}
	}
	hvd_worker_forward(s, req, -1, 0);
	return 0;
}

int hvd_worker_show(struct hvd_session *asker, struct hvd_session *target, Hvdp__Request *req)
{
	struct hvd_worker *w = target->worker;
	if (!w || w->closing)
		return -ENODEV;
	return forward(w, req, -1, asker->id);
}

void hvd_worker_release(struct hvd_session *s)
{
	struct hvd_workers *W = s->d->workers;
	if (W)
		waiter_remove(W, s);
	if (!s->worker)
		return;
	struct hvd_worker *w = s->worker;
	s->worker = NULL;
	w->s = NULL;
	worker_free(w, "the VM ended");
}

pid_t hvd_worker_pid(const struct hvd_session *s)
{
	return s->worker ? s->worker->pid : 0;
}

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void hvd_worker_counters(const struct hvd_session *s, uint64_t *runs, uint64_t *cpu_ns,
			 uint64_t *exit_rate)
{
	const struct hvd_wstats *st = s->worker ? s->worker->stats : NULL;
	*runs = st ? load64(&st->runs) : 0;
	*cpu_ns = st ? load64(&st->cpu_ns) : 0;
	*exit_rate = st ? load64(&st->exit_rate) : 0;
}

void hvd_worker_exit_hist(const struct hvd_session *s, uint64_t hist[HVD_EXIT_BUCKETS + 1],
			  uint64_t *ns)
{
	const struct hvd_wstats *st = s->worker ? s->worker->stats : NULL;
	for (unsigned b = 0; b <= HVD_EXIT_BUCKETS; b++)
		hist[b] += st ? load64(&st->exit_hist[b]) : 0;
	*ns += st ? load64(&st->exit_handling_ns) : 0;
	for (unsigned i = 0; !st && i < HVB_MAX_VCPUS; i++) {
		struct hvd_vcpu *v = s->vcpus[i];
		if (!v)
			continue;
		for (unsigned b = 0; b <= HVD_EXIT_BUCKETS; b++)
			hist[b] += atomic_load_explicit(&v->exit_hist[b], memory_order_relaxed);
		*ns += atomic_load_explicit(&v->exit_handling_ns, memory_order_relaxed);
	}
}

/* ---- answers from a worker ---- */

/* What the answer says the VM now holds, into hvd's and the tenant's
 * accounts. */
static void account(struct hvd_session *s, const struct fwd *f, const Hvdp__Response *resp)
{
	struct hvd_tenant *t = s->tenant;
	bool ok = resp->status == HV_SUCCESS;

	switch (f->op) {
	case HVDP__REQUEST__OP_VM_CREATE:
		if (ok && !s->remote_vm) {
			s->remote_vm = true;
			s->vm_created_ms = hvd_now_ms();
			if (t)
				t->usage.vms++;
			hvd_info("session %llu: VM created", (unsigned long long)s->id);
		}
		return;
	case HVDP__REQUEST__OP_VCPU_CREATE:
		if (ok && resp->vcpu < HVB_MAX_VCPUS && !(s->remote_vcpus & (1ull << resp->vcpu))) {
			s->remote_vcpus |= 1ull << resp->vcpu;
			if (t)
				t->usage.vcpus++;
		}
		return;
	case HVDP__REQUEST__OP_VCPU_DESTROY:
		if (ok && f->vcpu < HVB_MAX_VCPUS && (s->remote_vcpus & (1ull << f->vcpu))) {
			s->remote_vcpus &= ~(1ull << f->vcpu);
			if (t)
				t->usage.vcpus--;
		}
		return;
	case HVDP__REQUEST__OP_VM_DESTROY:
		if (ok && s->remote_vm) {
			s->remote_vm = false;
			if (t)
				t->usage.vms--;
		}
		/* fall through: the memory it held */
		__attribute__((fallthrough));
	case HVDP__REQUEST__OP_VM_MAP:
	case HVDP__REQUEST__OP_VM_UNMAP:
	case HVDP__REQUEST__OP_VM_PROTECT:
		if (t) {
			t->usage.memory += resp->mem_bytes - s->mem_bytes;
			t->usage.mappings += resp->mappings - s->mappings;
		}
		s->mem_bytes = resp->mem_bytes;
		s->mappings = resp->mappings;
		return;
	default:
		return;
	}
}

/* An admin's `show`: the worker knows the VM, hvd knows who holds it. */
static void show_reply(struct hvd_worker *w, const struct fwd *f, Hvdp__Response *resp, int fd)
{
	struct hvd_session *asker = session_by_id(w->d, f->asker);
	struct hvd_session *s = w->s;
	if (fd >= 0)
		close(fd);
	if (!asker)
		return;
	Hvdp__VmInfo *vi = resp->vm_info;
	if (resp->status != HV_SUCCESS || !vi || !s) {
		reply_status(asker, f->client_id, resp->status ? resp->status : HV_ERROR,
			     "the VM's worker did not describe it");
		return;
	}
	/* Identity is hvd's to say, never the worker's. */
	char *tenant = vi->tenant, *exe = vi->exe;
	vi->id = s->id;
	vi->tenant = s->grant.tenant;
	vi->pid = s->pid;
	vi->uid = s->uid;
	vi->exe = s->ident.exe;
	vi->worker_pid = w->pid;
	vi->age_ms = hvd_now_ms() - s->vm_created_ms;
	resp->id = f->client_id;
	hvd_session_reply(asker, resp, -1);
	vi->tenant = tenant;
	vi->exe = exe;
}

static void on_worker(uv_poll_t *h, int status, int events)
{
	struct hvd_worker *w = h->data;
	uint8_t buf[HVD_MAX_ADMIN_MESSAGE];
	union hvd_fd_cmsg ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg;
	int fd = -1;

	(void)events;
	if (status < 0) {
		worker_hup(w, uv_strerror(status));
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	ssize_t n = recvmsg(w->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (n >= 0 && c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (n <= 0) {
		if (fd >= 0)
			close(fd);
		worker_hup(w, n == 0 ? "its connection ended" : strerror(errno));
		return;
	}
	Hvdp__Response *resp = NULL;
	if (!(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		resp = hvdp__response__unpack(NULL, (size_t)n, buf);
	struct fwd *f = resp && resp->id ? fwd_take(w, resp->id) : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		if (resp)
			hvdp__response__free_unpacked(resp, NULL);
		worker_lost(w, "sent an answer to nothing it was asked");
		return;
	}
	if (f->op == HVDP__REQUEST__OP_WORKER_HELLO) {
		if (fd >= 0)
			close(fd);
	} else if (f->asker) {
		show_reply(w, f, resp, fd);
	} else if (w->s) {
		struct hvd_session *s = w->s;
		account(s, f, resp);
		resp->id = f->client_id;
		resp->mem_bytes = 0;
		resp->mappings = 0;
		hvd_session_reply(s, resp, fd);
		if (f->start_ns)
			hvd_metrics_rpc(&w->d->metrics, f->start_ns);
		if (fd >= 0)
			close(fd); /* hvd's copy: the client has its own */
		flow(s);
	} else if (fd >= 0) {
		close(fd);
	}
	free(f);
	hvdp__response__free_unpacked(resp, NULL);
}

/* The connection ended: the worker is dead or no longer hvd's. The
 * zygote says how it ended (Z_EXITED), after a kill for one that lives
 * on. */
static void worker_hup(struct hvd_worker *w, const char *why)
{
	if (w->hup || w->closing)
		return;
	hvd_debug("worker process %d: %s", (int)w->pid, why);
	w->hup = true;
	uv_poll_stop(&w->poll);
	if (zsend(w->d->workers, Z_KILL, w->pid, NULL) < 0)
		worker_lost(w, "its connection to hvd ended");
}

static void worker_lost(struct hvd_worker *w, const char *why)
{
	struct hvd_daemon *d = w->d;
	if (w->closing)
		return;
	if (!w->s) {
		hvd_warn("worker process %d (not in use) lost: %s", (int)w->pid, why);
		pool_remove(d->workers, w);
		worker_free(w, why);
		refill(d);
		return;
	}
	struct hvd_session *s = w->s;
	char line[200];
	snprintf(line, sizeof(line), "the VM's worker process %d %s", (int)w->pid, why);
	hvd_warn("session %llu: %s", (unsigned long long)s->id, line);
	hvd_audit(s, "worker", "lost", line);
	hvd_session_close(s, line); /* releases the worker */
}

/* ---- hvd-zygote's messages ---- */

static void describe_status(int st, char *out, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(out, len, "killed by signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
			 WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(out, len, "exited with status %d", WEXITSTATUS(st));
}

static struct hvd_worker *worker_by_pid(struct hvd_daemon *d, pid_t pid)
{
	for (struct hvd_worker *w = d->workers->pool; w; w = w->next)
		if (w->pid == pid)
			return w;
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		if (s->worker && s->worker->pid == pid)
			return s->worker;
	return NULL;
}

static void worker_arrived(struct hvd_daemon *d, pid_t pid, int fd, int stats_fd)
{
	struct hvd_workers *W = d->workers;
	struct hvd_worker *w = calloc(1, sizeof(*w));
	void *st = stats_fd >= 0 ? mmap(NULL, sizeof(struct hvd_wstats), PROT_READ, MAP_SHARED,
					stats_fd, 0) : MAP_FAILED;
	if (stats_fd >= 0)
		close(stats_fd);
	if (!w || st == MAP_FAILED || fd < 0) {
		hvd_err("worker process %d: cannot take it in", (int)pid);
		free(w);
		if (st != MAP_FAILED)
			munmap(st, sizeof(struct hvd_wstats));
		if (fd >= 0)
			close(fd);
		zsend(W, Z_KILL, pid, NULL);
		return;
	}
	w->d = d;
	w->pid = pid;
	w->fd = fd;
	w->stats = st;
	w->poll.data = w;
	uv_poll_init(d->loop, &w->poll, fd);
	uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, on_worker);
	struct hvd_session *s = W->waiters;
	if (!s) {
		w->next = W->pool;
		W->pool = w;
		W->npool++;
		return;
	}
	W->waiters = s->wait_next;
	s->wait_next = NULL;
	Hvdp__Request *req = s->deferred;
	s->deferred = NULL;
	s->waiting = false;
	if (worker_bind(s, w)) {
		hold(s, w, req);
		return;
	}
	hvd_worker_forward(s, req, -1, 0);
	hvd_session_resume(s);
}

static void on_zygote(uv_poll_t *h, int status, int events)
{
	struct hvd_daemon *d = h->data;
	struct hvd_workers *W = d->workers;
	struct zmsg m;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg;
	int fds[2] = { -1, -1 };

	(void)events;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	ssize_t n = status < 0 ? -1 : recvmsg(W->zfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && status >= 0 && (errno == EAGAIN || errno == EINTR))
		return;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && i < 2; i++)
			memcpy(&fds[i], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (n != (ssize_t)sizeof(m)) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (n <= 0 && !W->stopping) {
			/* Without it no VM can be made; the ones running go on. */
			hvd_err("hvd-zygote is gone: no new VMs (restart hvd)");
			uv_poll_stop(&W->zpoll);
			W->stopping = true;
			/* Its workers die with it (PDEATHSIG). */
			for (struct hvd_session *s = d->sessions; s; s = s->next)
				if (s->worker && !s->closing)
					worker_lost(s->worker, "ended with hvd-zygote");
			for (struct hvd_session *s = W->waiters; s; s = W->waiters) {
				W->waiters = s->wait_next;
				s->wait_next = NULL;
				hvd_session_close(s, "hvd cannot start worker processes");
			}
		}
		return;
	}
	char why[160];
	switch (m.op) {
	case Z_SPAWNED:
		if (W->spawning)
			W->spawning--;
		worker_arrived(d, m.pid, fds[0], fds[1]);
		return;
	case Z_FAILED:
		if (W->spawning)
			W->spawning--;
		hvd_err("hvd-zygote cannot start a worker: %s", strerror(m.status));
		/* The first waiter gets the refusal, not a hang. */
		if (W->waiters) {
			struct hvd_session *s = W->waiters;
			W->waiters = s->wait_next;
			s->wait_next = NULL;
			Hvdp__Request *req = s->deferred;
			s->deferred = NULL;
			s->waiting = false;
			reply_status(s, req->id, HV_NO_RESOURCES, "hvd cannot start a worker process");
			hvdp__request__free_unpacked(req, NULL);
			hvd_session_resume(s);
		}
		return;
	case Z_PLACED: {
		struct hvd_worker *w = worker_by_pid(d, m.pid);
		if (w && !w->closing)
			worker_placed(w, m.status);
		return;
	}
	case Z_EXITED: {
		describe_status(m.status, why, sizeof(why));
		if (m.flags & Z_OOM)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 ": out of memory, its tenant's cgroup at its limit "
				 "(max_memory + %llu MiB)",
				 (unsigned long long)(HVD_CGROUP_WORKER_ALLOWANCE >> 20));
		struct hvd_worker *w = worker_by_pid(d, m.pid);
		if (w && !w->closing) {
			worker_lost(w, why);
		} else {
			/* Released workers are killed: only another end is news. */
			bool clean = (WIFEXITED(m.status) && WEXITSTATUS(m.status) == 0) ||
				     (WIFSIGNALED(m.status) && WTERMSIG(m.status) == SIGKILL);
			hvd_log(clean ? HVD_LOG_DEBUG : HVD_LOG_WARN, "worker process %d %s",
				(int)m.pid, why);
		}
		return;
	}
	default:
		hvd_warn("hvd-zygote: unknown message %u", m.op);
	}
}

/* ---- hvd-zygote ---- */

/* hvd's cgroup subtree (--cgroups), and why there is none if setting it
 * up failed: the answer to every placement then. */
static struct hvd_cgroup zcg;
static int zcg_error = -ENODEV;

struct zchild {
	pid_t pid;
	bool placed;
	char tenant[HVP_NAME_MAX];     /* placed: in this tenant's cgroup */
	uint64_t ooms;                 /* the tenant's oom_kill count, last seen */
};

static int zreply_flags(int fd, uint32_t op, pid_t pid, int status, uint32_t flags,
			const int *fds, int nfds)
{
	struct zmsg m = { op, pid, status, flags };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int zreply(int fd, uint32_t op, pid_t pid, int status, const int *fds, int nfds)
{
	return zreply_flags(fd, op, pid, status, 0, fds, nfds);
}

/* In the zygote's child: become a worker and serve. Never returns. */
static int zygote_sfd = -1;

static void worker_child(struct hvd_daemon *d, const struct hvd_worker_config *cfg, int zfd,
			 int chan, int stats_fd, pid_t broker, pid_t zygote)
{
	sigset_t none;
	close(zfd);
	close(zygote_sfd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != zygote)
		_exit(1);
	prctl(PR_SET_NAME, "hvd-worker", 0, 0, 0);
	int r = 0;
	if (!hvd_sandbox_off)
		r = hvd_sandbox_worker_process(&cfg->drop);
	if (r < 0) {
		hvd_err("worker: cannot drop privileges: %s", strerror(-r));
		_exit(1);
	}
	/* The change of uid cleared the parent-death signal: again, and
	 * the zygote must still be there. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != zygote)
		_exit(1);
	_exit(hvd_worker_main(d, chan, stats_fd, broker));
}

static int spawn(struct hvd_daemon *d, const struct hvd_worker_config *cfg, int zfd,
		 pid_t broker, struct zchild *kids, size_t nkids)
{
	size_t slot = nkids;
	for (size_t i = 0; i < nkids; i++)
		if (!kids[i].pid) {
			slot = i;
			break;
		}
	if (slot == nkids)
		return -EAGAIN; /* as many workers as the zygote tracks */
	int sv[2], one = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Before hvd can send: a message queued while the receiver did not
	 * ask for credentials carries none, and the worker takes only hvd's. */
	if (setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	int st = memfd_create("hvd-wstats", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (st < 0 || ftruncate(st, sizeof(struct hvd_wstats)) < 0 ||
	    fcntl(st, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = errno;
		if (st >= 0)
			close(st);
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	pid_t zygote = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(st);
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		worker_child(d, cfg, zfd, sv[1], st, broker, zygote);
	}
	close(sv[1]);
	kids[slot].pid = pid;
	kids[slot].placed = false;
	kids[slot].tenant[0] = 0;
	kids[slot].ooms = 0;
	int fds[2] = { sv[0], st };
	int r = zreply(zfd, Z_SPAWNED, pid, 0, fds, 2);
	close(sv[0]);
	close(st);
	return r;
}

static struct zchild *kid(struct zchild *kids, size_t n, pid_t pid)
{
	for (size_t i = 0; pid > 0 && i < n; i++)
		if (kids[i].pid == pid)
			return &kids[i];
	return NULL;
}

#define ZYGOTE_MAX_WORKERS 4096

/* Did the OOM killer end `k` (just killed by SIGKILL)? Its tenant's
 * oom_kill count is up since the zygote last looked; a count seen is
 * not news to the tenant's other workers. */
static bool oom_killed(struct zchild *kids, size_t n, struct zchild *k)
{
	if (!k->tenant[0])
		return false;
	uint64_t now = hvd_cgroup_oom_kills(&zcg, k->tenant);
	bool oom = now > k->ooms;
	for (size_t i = 0; oom && i < n; i++)
		if (kids[i].pid && strcmp(kids[i].tenant, k->tenant) == 0)
			kids[i].ooms = now;
	return oom;
}

static int zygote_main(struct hvd_daemon *d, const struct hvd_worker_config *cfg, int zfd,
		       pid_t broker)
{
	static struct zchild kids[ZYGOTE_MAX_WORKERS];
	bool stopping = false;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 1;
	zygote_sfd = sfd;
	for (;;) {
		struct pollfd p[2] = { { zfd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			int st;
			pid_t pid;
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
				struct zchild *k = kid(kids, ZYGOTE_MAX_WORKERS, pid);
				uint32_t flags = 0;
				if (k && k->placed && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL &&
				    oom_killed(kids, ZYGOTE_MAX_WORKERS, k))
					flags |= Z_OOM;
				if (k)
					k->pid = 0;
				zreply_flags(zfd, Z_EXITED, pid, st, flags, NULL, 0);
			}
		}
		if (!p[0].revents)
			continue;
		struct zcmd c;
		ssize_t n = recv(zfd, &c, sizeof(c), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break; /* hvd is gone: so are its workers */
		if (n != (ssize_t)sizeof(c))
			continue;
		bool stop = false;
		/* hvd is trusted less than the zygote: each request names
		 * one of the zygote's own children, or nothing. */
		struct zchild *k = kid(kids, ZYGOTE_MAX_WORKERS, c.pid);
		switch (c.op) {
		case Z_SPAWN: {
			int r = spawn(d, cfg, zfd, broker, kids, ZYGOTE_MAX_WORKERS);
			if (r < 0)
				zreply(zfd, Z_FAILED, 0, -r, NULL, 0);
			break;
		}
		case Z_PLACE: {
			/* At its binding, and again when its VM becomes another
			 * tenant's (a reload). */
			if (!k)
				break;
			char err[PATH_MAX + 200];
			c.tenant[sizeof(c.tenant) - 1] = 0;
			int r = zcg.kind == HVD_CG_NONE ? zcg_error :
				hvd_cgroup_limit(&zcg, c.tenant, c.max_cpu_percent, c.max_memory,
						 err, sizeof(err));
			bool moved = false;
			if (r == 0) {
				r = hvd_cgroup_place(&zcg, c.tenant, k->pid, err, sizeof(err));
				moved = true;
			}
			if (r < 0 && zcg.kind != HVD_CG_NONE)
				hvd_warn("hvd-zygote: worker %d, tenant %s: %s", (int)k->pid,
					 c.tenant, err);
			if (r == 0) {
				k->placed = true;
				snprintf(k->tenant, sizeof(k->tenant), "%s", c.tenant);
				k->ooms = hvd_cgroup_oom_kills(&zcg, c.tenant);
			} else if (moved && k->placed) {
				/* Not half in each (v1: cpu moved, memory not): back
				 * into the old tenant's cgroup, wholly. */
				char err2[PATH_MAX + 200];
				if (hvd_cgroup_place(&zcg, k->tenant, k->pid, err2, sizeof(err2)) < 0)
					hvd_warn("hvd-zygote: worker %d, back to tenant %s: %s",
						 (int)k->pid, k->tenant, err2);
			}
			zreply(zfd, Z_PLACED, k->pid, r, NULL, 0);
			break;
		}
		case Z_LIMIT: {
			/* Only for a worker placed: a tenant cgroup that exists. */
			if (!k || !k->placed || zcg.kind == HVD_CG_NONE)
				break;
			char err[PATH_MAX + 200];
			c.tenant[sizeof(c.tenant) - 1] = 0;
			if (hvd_cgroup_limit(&zcg, c.tenant, c.max_cpu_percent, c.max_memory, err,
					     sizeof(err)) < 0)
				hvd_warn("hvd-zygote: tenant %s: %s", c.tenant, err);
			break;
		}
		case Z_STOP:
			stop = true;
			break;
		case Z_KILL:
			if (k)
				kill(k->pid, SIGKILL);
			break;
		default:
			break;
		}
		if (stop) {
			stopping = true;
			break;
		}
	}
	for (size_t i = 0; i < ZYGOTE_MAX_WORKERS; i++)
		if (kids[i].pid)
			kill(kids[i].pid, SIGKILL);
	/* A cgroup goes only once its processes have: wait for the workers
	 * (killed, so not for long) before removing the tenants' cgroups. */
	if (zcg.kind != HVD_CG_NONE) {
		for (size_t i = 0; i < ZYGOTE_MAX_WORKERS; i++)
			if (kids[i].pid)
				waitpid(kids[i].pid, NULL, 0);
		hvd_cgroup_teardown(&zcg);
	}
	if (stopping)
		zreply(zfd, Z_STOPPED, 0, 0, NULL, 0);
	return 0;
}

int hvd_zygote_start(struct hvd_daemon *d, const struct hvd_worker_config *cfg)
{
	int sv[2];
	if (!cfg->enabled)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t broker = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != broker)
			_exit(1);
		prctl(PR_SET_NAME, "hvd-zygote", 0, 0, 0);
		hvd_ignore_group_signals();
		/* hvd's cgroup subtree while the zygote has hvd's privileges
		 * (a v1 hierarchy's root directory is root's, mode 0555): the
		 * limits and placements later need only the files' owner. */
		if (cfg->cgroups) {
			char err[PATH_MAX + 200];
			zcg_error = hvd_cgroup_setup(&zcg, cfg->cgroup_root, broker, err,
						     sizeof(err));
			if (zcg_error < 0) {
				zcg.kind = HVD_CG_NONE;
				hvd_err("cgroups: %s; hvd meters CPU quotas itself and the "
					"kernel holds no tenant's limits", err);
			} else {
				hvd_info("cgroups: tenants' cgroups in %s (v%d)%s%s", zcg.cpu,
					 zcg.kind == HVD_CG_V2 ? 2 : 1,
					 zcg.kind == HVD_CG_V1 ? " and " : "",
					 zcg.kind == HVD_CG_V1 ? zcg.memory : "");
			}
		}
		/* Workers inherit the guard and KVM from here. */
		int r = d->be->guard_install();
		if (r == 0)
			r = d->be->host_create(NULL, &d->host);
		if (r == 0 && !hvd_sandbox_off)
			r = hvd_sandbox_zygote_process();
		if (r < 0) {
			hvd_err("hvd-zygote: %s", strerror(-r));
			_exit(1);
		}
		_exit(zygote_main(d, cfg, sv[1], broker));
	}
	close(sv[1]);
	/* One zygote per hvd: its state is static, so that the start-up's
	 * error exits after this point leave nothing allocated behind. */
	static struct hvd_workers workers;
	struct hvd_workers *W = &workers;
	memset(W, 0, sizeof(*W));
	W->cfg = *cfg;
	W->zfd = sv[0];
	W->zpid = pid;
	d->workers = W;
	return 0;
}

int hvd_workers_init(struct hvd_daemon *d)
{
	struct hvd_workers *W = d->workers;
	if (!W)
		return 0;
	W->zpoll.data = d;
	uv_poll_init(d->loop, &W->zpoll, W->zfd);
	uv_poll_start(&W->zpoll, UV_READABLE | UV_DISCONNECT, on_zygote);
	refill(d);
	/* Ready means ready: the first VMs find the pool full (a bounded
	 * wait; a slow start only means the first vm_create waits). */
	for (uint64_t end = hvd_now_ms() + 5000; W->spawning && !W->stopping &&
	     hvd_now_ms() < end;)
		uv_run(d->loop, UV_RUN_ONCE);
	return 0;
}

/* The zygote's socket once hvd stops listening to it, for
 * hvd_workers_finish. */
static int zfd_left = -1;
static bool zfd_cgroups;
static pid_t zpid_left;
static char zcg_root_left[HVP_NAME_MAX];

static void zpoll_closed(uv_handle_t *h)
{
	struct hvd_daemon *d = h->data;
	zfd_left = d->workers->zfd;
	zfd_cgroups = d->workers->cfg.cgroups;
	zpid_left = d->workers->zpid;
	snprintf(zcg_root_left, sizeof(zcg_root_left), "%s", d->workers->cfg.cgroup_root);
	d->workers = NULL;
}

/* How long hvd's stop waits for the zygote's Z_STOPPED: a worker that
 * cannot die (a process stuck in the kernel, in D state) must not hold
 * hvd's stop for ever. */
#define ZSTOP_WAIT_MS 5000

/* The stop's wait for the zygote ran out: say what is left. */
static void zstop_late(const char *why)
{
	/* The zygote's children, as /proc has them (best effort). */
	char path[64], kids[200] = "";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)zpid_left,
		 (int)zpid_left);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, kids, sizeof(kids) - 1);
		kids[n > 0 ? n : 0] = '\0';
		close(fd);
		size_t l = strlen(kids);
		if (n == (ssize_t)sizeof(kids) - 1) {
			/* More than fit: no half pid, and say so. */
			while (l && kids[l - 1] != ' ')
				kids[--l] = '\0';
			snprintf(kids + l, sizeof(kids) - l, "...");
			l = strlen(kids);
		}
		while (l && kids[l - 1] == ' ')
			kids[--l] = '\0';
	}
	hvd_warn("shutdown: hvd-zygote (pid %d) did not stop within %d s (%s); left behind: "
		 "the zygote, its processes%s%s%s, and the tenants' cgroups (tenant-* in hvd's "
		 "cgroup %s), which it has not removed; hvd stops anyway",
		 (int)zpid_left, ZSTOP_WAIT_MS / 1000, why, kids[0] ? " (pids " : "", kids,
		 kids[0] ? ")" : "", zcg_root_left);
}

void hvd_workers_finish(void)
{
	if (zfd_left < 0)
		return;
	/* With cgroups the zygote removes them, which it can only do after
	 * its workers are gone: hvd waits for its word, or for its end, so
	 * that they are gone when hvd is. */
	if (zfd_cgroups) {
		struct zcmd c;
		memset(&c, 0, sizeof(c));
		c.op = Z_STOP;
		struct iovec iov = { &c, sizeof(c) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		/* sendmsg and recvmsg: what the loop's seccomp filter allows;
		 * blocking again (FIONBIO: libuv made the socket non-blocking),
		 * for as long as the zygote takes to reap killed workers, up to
		 * ZSTOP_WAIT_MS in all (SO_RCVTIMEO and SO_SNDTIMEO, set to
		 * what is left before each call). */
		int off = 0;
		ioctl(zfd_left, FIONBIO, &off);
		uint64_t end = hvd_now_ms() + ZSTOP_WAIT_MS;
		const char *late = NULL;
		for (bool sent = false;;) {
			uint64_t now = hvd_now_ms();
			if (now >= end) {
				late = sent ? "no answer to the stop" : "the stop not taken";
				break;
			}
			uint64_t left = end - now;
			struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
			setsockopt(zfd_left, SOL_SOCKET, sent ? SO_RCVTIMEO : SO_SNDTIMEO, &tv,
				   sizeof(tv));
			ssize_t n;
			if (!sent) {
				n = sendmsg(zfd_left, &msg, MSG_NOSIGNAL);
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				if (n != (ssize_t)sizeof(c))
					break; /* the zygote is gone */
				sent = true;
				continue;
			}
			struct zmsg m;
			struct iovec in = { &m, sizeof(m) };
			struct msghdr rmsg = { .msg_iov = &in, .msg_iovlen = 1 };
			n = recvmsg(zfd_left, &rmsg, MSG_CMSG_CLOEXEC);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0 || (n == (ssize_t)sizeof(m) && m.op == Z_STOPPED))
				break;
		}
		if (late)
			zstop_late(late);
	}
	close(zfd_left);
	zfd_left = -1;
}

void hvd_workers_stop(struct hvd_daemon *d)
{
	struct hvd_workers *W = d->workers;
	if (!W || uv_is_closing((uv_handle_t *)&W->zpoll))
		return;
	while (W->pool) {
		struct hvd_worker *w = W->pool;
		W->pool = w->next;
		W->npool--;
		worker_free(w, "hvd stopping");
	}
	W->stopping = true;
	uv_poll_stop(&W->zpoll);
	uv_close((uv_handle_t *)&W->zpoll, zpoll_closed);
}

/* ---- the worker process ---- */

static void store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

struct wtimer {
	uv_timer_t t;                  /* first: the callback's handle is the struct */
	struct hvd_daemon *d;
	uint64_t rate_at_ms, rate_runs;
};

/* The counters' page, a few times a second. */
static void on_stats(uv_timer_t *t)
{
	struct wtimer *ws = (struct wtimer *)t;
	struct hvd_daemon *d = ws->d;
	struct hvd_wstats *st = d->wstats;
	struct hvd_session *s = d->sessions;
	uint64_t cpu = 0, runs = 0, hist[HVD_EXIT_BUCKETS + 1] = { 0 }, handling = 0;

	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++) {
		struct hvd_vcpu *v = s ? s->vcpus[i] : NULL;
		struct hvd_wstats_vcpu *o = &st->vcpu[i];
		if (!v || atomic_load(&v->exited)) {
			__atomic_store_n(&o->live, 0, __ATOMIC_RELAXED);
			continue;
		}
		for (unsigned b = 0; b <= HVD_EXIT_BUCKETS; b++)
			hist[b] += atomic_load_explicit(&v->exit_hist[b], memory_order_relaxed);
		handling += atomic_load_explicit(&v->exit_handling_ns, memory_order_relaxed);
		uint64_t c = hvd_vcpu_cpu_ns(v), n = atomic_load(&v->runs);
		__atomic_store_n(&o->tid, atomic_load(&v->tid), __ATOMIC_RELAXED);
		store64(&o->cpu_ns, c);
		store64(&o->runs, n);
		__atomic_store_n(&o->last_exit, atomic_load(&v->last_exit), __ATOMIC_RELAXED);
		__atomic_store_n(&o->live, 1, __ATOMIC_RELAXED);
		cpu += c;
		runs += n;
	}
	store64(&st->cpu_ns, cpu);
	store64(&st->runs, runs);
	for (unsigned b = 0; b <= HVD_EXIT_BUCKETS; b++)
		store64(&st->exit_hist[b], hist[b]);
	store64(&st->exit_handling_ns, handling);
	uint64_t now = hvd_now_ms();
	if (now - ws->rate_at_ms >= 1000) {
		if (ws->rate_at_ms && runs >= ws->rate_runs)
			store64(&st->exit_rate, (runs - ws->rate_runs) * 1000 / (now - ws->rate_at_ms));
		ws->rate_at_ms = now;
		ws->rate_runs = runs;
	}
}

void hvd_worker_update(struct hvd_session *s)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__WorkerHello hello = HVDP__WORKER_HELLO__INIT;
	struct hvd_worker *w = s->worker;
	if (!w || w->closing)
		return;
	/* The kernel's limits follow the policy too (a reload): rewritten
	 * for the tenant whose cgroup the worker is in, if still its own;
	 * a worker whose VM is now another tenant's moves to that tenant's
	 * cgroup (hvd meters the new quota until Z_PLACED says it is there). */
	if (w->placed && strcmp(w->cg_tenant, s->grant.tenant) == 0)
		zsend_limits(s->d->workers, Z_LIMIT, w->pid, w->cg_tenant, &s->grant.quota);
	if (s->d->workers && s->d->workers->cfg.cgroups && !w->placing &&
	    strcmp(w->cg_want, s->grant.tenant) != 0)
		worker_place(s, w);
	hello.session = s->id;
	hello.max_cpu_percent = worker_cpu_quota(s, w);
	hello.log_level = (uint32_t)hvd_log_get_level() + 1;
	hello.cpu_only = true;
	req.op_case = HVDP__REQUEST__OP_WORKER_HELLO;
	req.worker_hello = &hello;
	int r = forward(s->worker, &req, -1, 0);
	if (r < 0)
		hvd_warn("session %llu: worker %d: the new CPU quota not sent: %s",
			 (unsigned long long)s->id, (int)s->worker->pid, strerror(-r));
}

void hvd_workers_log_level(struct hvd_daemon *d)
{
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		hvd_worker_update(s);
	if (!d->workers)
		return;
	for (struct hvd_worker *w = d->workers->pool; w; w = w->next) {
		Hvdp__Request req = HVDP__REQUEST__INIT;
		Hvdp__WorkerHello hello = HVDP__WORKER_HELLO__INIT;
		hello.log_level = (uint32_t)hvd_log_get_level() + 1;
		hello.cpu_only = true;
		req.op_case = HVDP__REQUEST__OP_WORKER_HELLO;
		req.worker_hello = &hello;
		if (!w->closing)
			forward(w, &req, -1, 0);
	}
}

int hvd_worker_rpc_hello(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	Hvdp__WorkerHello *h = req->worker_hello;
	(void)fd;
	(void)resp;
	/* Only a worker takes it (the policy refuses it to clients). */
	if (!s->d->worker)
		return -1;
	if (h->session)
		s->id = h->session;
	/* hvd's log level, so that `hvctl log-level` reaches its workers. */
	if (h->log_level >= 1 && h->log_level <= HVD_LOG_DEBUG + 1)
		hvd_log_set_level((enum hvd_log_level)(h->log_level - 1));
	/* The tenant's max_cpu_percent, metered on the vCPU threads as hvd
	 * did (hvd_cpuquota.c), for this VM: an account of the worker's own,
	 * since the tenant's other VMs are in other processes. */
	if (!s->tenant) {
		struct hvd_tenant *t = calloc(1, sizeof(*t));
		if (!t)
			return -1;
		snprintf(t->name, sizeof(t->name), "worker");
		pthread_mutex_init(&t->cpu.lock, NULL);
		t->refs = 1;
		s->tenant = t;
	}
	hvd_cpu_budget_set(&s->tenant->cpu, h->max_cpu_percent);
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		if (s->vcpus[i])
			hvd_vcpu_set_budget(s->vcpus[i], &s->tenant->cpu);
	return -1;
}

int hvd_worker_main(struct hvd_daemon *d, int fd, int stats_fd, pid_t broker)
{
	char err[256];
	void *st = mmap(NULL, sizeof(struct hvd_wstats), PROT_READ | PROT_WRITE, MAP_SHARED,
			stats_fd, 0);
	close(stats_fd);
	if (st == MAP_FAILED)
		return 1;
	/* This process's daemon: the zygote's copy of hvd's, less what
	 * belongs to hvd (policy, audit, clients, helpers). */
	d->worker = true;
	d->wstats = st;
	d->wstats->magic = HVD_WSTATS_MAGIC;
	d->workers = NULL;
	d->sessions = NULL;
	d->nsessions = 0;
	d->tenants = NULL;
	d->shares = NULL;
	d->ident = NULL;
	d->audit = NULL;
	d->audit_path = NULL;
	d->listen_fd = -1;
	d->janitor_fd = d->janitor_ack = -1;
	d->policy = NULL;
	d->config_path = NULL;
	if (hvd_policy_load(d, NULL, err, sizeof(err)) < 0)
		return 1;
	d->audit = NULL;
	d->loop = uv_default_loop();
	if (!hvd_sandbox_off) {
		int r = hvd_sandbox_loop_thread();
		if (r < 0 && r != -ENOTSUP) {
			hvd_err("worker: cannot install the seccomp filter: %s", strerror(-r));
			return 1;
		}
	}
	if (hvd_session_open_trusted(d, fd, broker) < 0)
		return 1;
	struct wtimer stats;
	memset(&stats, 0, sizeof(stats));
	stats.d = d;
	uv_timer_init(d->loop, &stats.t);
	uv_timer_start(&stats.t, on_stats, 250, 250);
	uv_run(d->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&stats.t);
	uv_close((uv_handle_t *)&stats.t, NULL);
	uv_run(d->loop, UV_RUN_NOWAIT);
	return 0;
}
