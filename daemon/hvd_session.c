/*
 * The listening socket and one session per connection. Messages are
 * SOCK_SEQPACKET packets (one protobuf message each, at most
 * HVD_MAX_MESSAGE bytes, at most one fd attached). Anything malformed ends
 * that session only; teardown releases the VM, its vCPU threads and its
 * memory without blocking the loop.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>
#include <systemd/sd-daemon.h>

#include "hvd.h"
#include "hvd_audit.h"
#include "hvd_ident.h"
#include "hvd_log.h"
#include "hvd_msg.h"
#include "hvd_policy.h"
#include "hvd_sandbox.h"
#include "hvd_session.h"
#include "hvd_tenant.h"
#include "hvd_time.h"
#include "hvd_vcpu.h"
#include "hvd_worker.h"

static void session_read(uv_poll_t *h, int status, int events);

/* ---- replies ---- */

int hvd_session_reply(struct hvd_session *s, Hvdp__Response *resp, int fd)
{
	uint8_t small[HVD_MAX_MESSAGE], *buf = small;
	union hvd_fd_cmsg ctl;
	struct iovec iov;
	struct msghdr msg;
	size_t len;

	if (s->closing)
		return -EPIPE;
	len = hvdp__response__get_packed_size(resp);
	if (len > HVD_MAX_ADMIN_MESSAGE) {
		hvd_err("session %llu: reply of %zu bytes exceeds the limit",
			(unsigned long long)s->id, len);
		return -EMSGSIZE;
	}
	/* Only admin listings outgrow the stack buffer. */
	if (len > sizeof(small) && !(buf = malloc(len)))
		return -ENOMEM;
	hvdp__response__pack(resp, buf);
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	hvd_msg_attach_fd(&msg, &ctl, fd);
	/* Never block the loop: a client that does not read its replies has
	 * left the protocol (it waits for each one). */
	ssize_t sent = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	int e = errno;
	if (buf != small)
		free(buf);
	if (sent < 0) {
		hvd_session_close(s, e == EAGAIN ? "client does not read its replies" :
				     "send failed");
		return -e;
	}
	return 0;
}

/* Replies to vCPU ops completed on vCPU threads, and to a finished
 * memory change. */
static void session_async(uv_async_t *h)
{
	struct hvd_session *s = h->data;
	struct hvd_op *list;

	s->d->calls->woken(s);

	pthread_mutex_lock(&s->done_lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->done_lock);
	while (list) {
		struct hvd_op *op = list;
		list = op->next;
		if (s->inflight)
			s->inflight--;
		if (!s->closing) {
			Hvdp__Response resp = HVDP__RESPONSE__INIT;
			resp.id = op->request_id;
			resp.status = op->status;
			resp.value = op->value;
			if (op->data) {
				resp.data.data = op->data;
				resp.data.len = op->data_len;
			}
			hvd_session_reply(s, &resp, -1);
		}
		if (op->destroy && !s->closing) {
			/* The thread has ended: reap it and free the id. */
			for (unsigned i = 0; i < HVB_MAX_VCPUS; i++) {
				struct hvd_vcpu *v = s->vcpus[i];
				/* The backend vCPU is gone (the thread cleared
				 * it before answering); the thread itself is on
				 * its way out, so joining it here is short. */
				if (v && v->vcpu == NULL && v->id == (unsigned)op->value) {
					s->vcpus[i] = NULL;
					hvd_vcpu_free(v);
					if (s->tenant && op->status == 0)
						s->tenant->usage.vcpus--;
				}
			}
		}
		hvdp__request__free_unpacked(op->req, NULL);
		free(op->data);
		free(op);
	}
}

/* ---- teardown ---- */

static void session_free(struct hvd_session *s)
{
	struct hvd_daemon *d = s->d;
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	d->nsessions--;
	/* The vCPU threads are gone (the reaper joined them), but take the
	 * list the way they gave it: under its lock. That is also what orders
	 * their writes to the ops before the frees below for ThreadSanitizer,
	 * which cannot see the order through libuv's async handles (libuv is
	 * not instrumented): tsan.sh reported it once in chaos.silent. */
	pthread_mutex_lock(&s->done_lock);
	struct hvd_op *list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->done_lock);
	while (list) {
		struct hvd_op *op = list;
		list = op->next;
		hvdp__request__free_unpacked(op->req, NULL);
		free(op->data);
		free(op);
	}
	pthread_mutex_destroy(&s->done_lock);
	if (s->deferred)
		hvdp__request__free_unpacked(s->deferred, NULL);
	free(s->probe);
	hvd_share_put(d, s->share);
	/* In a worker, the session is hvd's: hvd says when its client goes. */
	hvd_log(d->worker ? HVD_LOG_DEBUG : HVD_LOG_INFO, "session %llu closed (pid %d)",
		(unsigned long long)s->id, (int)s->pid);
	free(s);
	/* The last client gone: give the memory the vCPU threads' malloc
	 * arenas kept back to the system, so that an idle hvd is small again
	 * after a burst of VMs. */
	if (d->nsessions == 0)
		malloc_trim(0);
	/* A worker serves one session: with it gone, the worker is done. */
	if (d->worker && d->nsessions == 0)
		uv_stop(d->loop);
}

static void handle_closed(uv_handle_t *h)
{
	struct hvd_session *s = h->data;
	if (--s->handles == 0)
		session_free(s);
}

/* Joins the vCPU threads and destroys the VM off the loop thread. */
static void *reaper_main(void *arg)
{
	struct hvd_session *s = arg;

	if (s->ahead) {
		hvd_vcpu_free(s->ahead);
		s->ahead = NULL;
	}
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++) {
		if (s->vcpus[i]) {
			hvd_vcpu_free(s->vcpus[i]);
			s->vcpus[i] = NULL;
		}
	}
	if (s->vm) {
		int r = s->d->be->vm_destroy(s->vm);
		if (r < 0)
			hvd_err("session %llu: VM destroy failed: %s",
				(unsigned long long)s->id, strerror(-r));
		s->vm = NULL;
	}
	while (s->backings) {
		struct hvd_backing *b = s->backings;
		s->backings = b->next;
		munmap(b->addr, b->size);
		close(b->fd);
		free(b);
	}
	/* A release that session_free's lock of done_lock acquires: the
	 * order of this thread's use of the session before its free, which
	 * ThreadSanitizer cannot see through the async handle below. */
	pthread_mutex_lock(&s->done_lock);
	pthread_mutex_unlock(&s->done_lock);
	uv_async_send(&s->reaped);
	return NULL;
}

/* The reaper finished: the session's remaining handles can go. */
static void reaper_done(uv_async_t *h)
{
	struct hvd_session *s = h->data;
	uv_close((uv_handle_t *)&s->async, handle_closed);
	uv_close((uv_handle_t *)&s->reaped, handle_closed);
}

void hvd_session_close(struct hvd_session *s, const char *why)
{
	if (s->closing)
		return;
	s->closing = true;
	hvd_slog(s->d->worker ? HVD_LOG_DEBUG : HVD_LOG_INFO, s, "session %llu: closing: %s",
		 (unsigned long long)s->id, why);
	/* Quotas are released exactly when the resources are: now, since the
	 * teardown below cannot fail. */
	hvd_policy_release(s);
	hvd_ident_cancel(s);
	hvd_worker_release(s);
	hvd_audit(s, "session", "closed", why);
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, handle_closed);
	uv_timer_stop(&s->hello_timer);
	uv_close((uv_handle_t *)&s->hello_timer, handle_closed);
	uv_timer_stop(&s->rate_timer);
	uv_close((uv_handle_t *)&s->rate_timer, handle_closed);
	/* Stop the vCPUs before the client can see the connection gone: a
	 * run it asks for afterwards must not succeed. */
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		if (s->vcpus[i])
			hvd_vcpu_stop(s->vcpus[i]);
	if (s->ahead)
		hvd_vcpu_stop(s->ahead);
	close(s->fd);
	s->fd = -1;
	/* A memory change still running on the thread pool uses the VM:
	 * the reaper starts when it is done (hvd_memop.c). */
	if (s->memop) {
		s->reap_after_memop = true;
		return;
	}
	hvd_session_reap(s);
}

int hvd_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	/* Faults stay deliverable: a blocked SIGBUS in a guest-memory copy
	 * (memory changes touch guest memory too) would kill hvd. */
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

void hvd_session_reap(struct hvd_session *s)
{
	pthread_t t;

	if (hvd_thread_start(&t, reaper_main, s) == 0) {
		pthread_detach(t);
		return;
	}
	/* No thread to spare: the vCPU threads were told to stop and kicked,
	 * so joining them here is short. */
	hvd_warn("session %llu: tearing down on the loop thread", (unsigned long long)s->id);
	reaper_main(s);
}

static void on_rate_resume(uv_timer_t *t)
{
	struct hvd_session *s = t->data;
	/* Not while a memory change is running: the next request waits for
	 * its answer. */
	if (!s->closing && !s->memop && !s->waiting && s->identified && !s->fwd_full)
		uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, session_read);
}

void hvd_session_resume(struct hvd_session *s)
{
	if (!s->closing && !s->memop && !s->waiting && s->identified && !s->fwd_full &&
	    !uv_is_active((uv_handle_t *)&s->rate_timer))
		uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, session_read);
}

void hvd_session_pause(struct hvd_session *s, uint64_t ms)
{
	if (s->closing)
		return;
	uv_poll_stop(&s->poll);
	uv_timer_start(&s->rate_timer, on_rate_resume, ms ? ms : 1, 0);
}

/* ---- receiving ---- */

static void session_read(uv_poll_t *h, int status, int events)
{
	struct hvd_session *s = h->data;
	uint8_t buf[HVD_MAX_MESSAGE + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg;
	int fd = -1;
	bool have_cred = false;
	struct ucred cred;

	(void)events;
	if (status < 0) {
		hvd_session_close(s, uv_strerror(status));
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		hvd_session_close(s, strerror(errno));
		return;
	}
	/* Collect descriptors first so that none leaks, whatever follows. */
	int nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			have_cred = true;
			continue;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int one;
			memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds++ == 0)
				fd = one;
			else
				close(one);
		}
	}
	if (n == 0) {
		if (fd >= 0)
			close(fd);
		hvd_session_close(s, "client disconnected");
		return;
	}
	const struct hvp_limits *lim = hvp_limits(s->d->policy);
	const char *bad = NULL;
	/* The kernel stamps every message with its sender (SO_PASSCRED).
	 * A connection belongs to the process that made it: one passed to
	 * or inherited by another process is worth nothing there, so rights
	 * bound to the connecting process's identity stay with it. */
	if (!have_cred || cred.pid != s->pid) {
		char why[128];
		snprintf(why, sizeof(why), "a message from pid %d, not from the process that "
			 "connected (pid %d)", have_cred ? (int)cred.pid : -1, (int)s->pid);
		if (fd >= 0)
			close(fd);
		hvd_warn("session %llu: %s", (unsigned long long)s->id, why);
		hvd_audit(s, "session", "deny", why);
		hvd_session_close(s, why);
		return;
	}
	if ((msg.msg_flags & MSG_TRUNC) || (lim->max_message && (size_t)n > lim->max_message))
		bad = "message larger than the limit (max_message)";
	else if (msg.msg_flags & MSG_CTRUNC || nfds > 1 || (unsigned)nfds > lim->max_fds)
		bad = "too many file descriptors in one message (max_fds)";
	Hvdp__Request *req = NULL;
	if (!bad) {
		req = hvdp__request__unpack(NULL, (size_t)n, buf);
		if (!req)
			bad = "malformed message";
		else if (!s->hello_done && req->op_case != HVDP__REQUEST__OP_HELLO)
			bad = "first message is not Hello";
	}
	if (bad) {
		if (fd >= 0)
			close(fd);
		if (req)
			hvdp__request__free_unpacked(req, NULL);
		hvd_session_close(s, bad);
		return;
	}
	s->d->calls->request(s, req, fd);
}

/* ---- what a session holds ---- */

struct hvd_vcpu *hvd_session_vcpu(struct hvd_session *s, uint32_t id)
{
	if (id >= HVB_MAX_VCPUS)
		return NULL;
	struct hvd_vcpu *v = s->vcpus[id];
	return v && !atomic_load(&v->exited) ? v : NULL;
}

unsigned hvd_session_vcpu_slots(const struct hvd_session *s)
{
	unsigned n = (unsigned)__builtin_popcountll(s->remote_vcpus);
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		n += s->vcpus[i] != NULL;
	return n;
}

/* ---- accepting ---- */

static void on_hello_timeout(uv_timer_t *t)
{
	struct hvd_session *s = t->data;
	if (!s->hello_done)
		hvd_session_close(s, "no Hello in time (hello_timeout_ms)");
}

/* ---- per-uid shares ---- */

struct hvd_uid_share *hvd_share_get(struct hvd_daemon *d, uid_t uid, uint64_t tenant_socket)
{
	struct hvd_uid_share *u;
	for (u = d->shares; u; u = u->next) {
		if (tenant_socket ? u->tenant_socket == tenant_socket :
		    !u->tenant_socket && u->uid == uid) {
			u->refs++;
			return u;
		}
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->uid = uid;
	u->tenant_socket = tenant_socket;
	u->refs = 1;
	u->next = d->shares;
	d->shares = u;
	return u;
}

void hvd_share_put(struct hvd_daemon *d, struct hvd_uid_share *u)
{
	if (!u || --u->refs)
		return;
	for (struct hvd_uid_share **pp = &d->shares; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	}
	free(u);
}

/* By share, not uid: the connections on a tenant's socket are that
 * tenant's share, so root flooding one cannot crowd out root on another
 * socket, nor the main socket's uids. */
unsigned hvd_sessions_of_share(struct hvd_daemon *d, const struct hvd_uid_share *u,
			       bool hello_done)
{
	unsigned n = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		n += !o->closing && o->share == u && o->hello_done == hello_done;
	return n;
}

/* Every message will carry its sender's pid (session_read): set on the
 * listening socket before it listens, since a connection takes the
 * setting over when it is made, and on each accepted socket for
 * connections made before (socket activation). Messages a client sent
 * before hvd accepted carry their sender anyway. */
static int pass_creds(int fd)
{
	int one = 1;
	return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ? -errno : 0;
}

static void getrandom_nonce(uint64_t *out)
{
	while (getrandom(out, sizeof(*out), 0) != sizeof(*out))
		;
}

/*
 * Admit a connection that has not said Hello yet. Its uid may hold
 * max_unauthenticated_per_uid of them; past that the new one is refused.
 * When the host-wide max_unauthenticated is reached, the oldest such
 * connection of the uid holding most of them makes room, so no uid can
 * keep the others out. Returns false if `s` itself was closed.
 */
static bool unauth_admit(struct hvd_session *s)
{
	struct hvd_daemon *d = s->d;
	const struct hvp_limits *lim = hvp_limits(d->policy);

	if (lim->max_unauthenticated_per_uid &&
	    hvd_sessions_of_share(d, s->share, false) > lim->max_unauthenticated_per_uid) {
		/* A line a second per uid, with the count: a uid reconnecting
		 * in a loop must not fill the disk with them. */
		uint64_t now = hvd_now_ms();
		s->share->refused_since++;
		if (now - s->share->refused_log_ms >= 1000) {
			hvd_warn("uid %u: %u connections refused since the last line: too many "
				 "without Hello from this uid (max_unauthenticated_per_uid %u)",
				 (unsigned)s->uid, s->share->refused_since,
				 lim->max_unauthenticated_per_uid);
			s->share->refused_log_ms = now;
			s->share->refused_since = 0;
		}
		hvd_session_close(s, "too many connections without Hello from this uid "
				  "(max_unauthenticated_per_uid)");
		return false;
	}
	unsigned unauth = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		unauth += !o->closing && !o->hello_done;
	if (!lim->max_unauthenticated || unauth <= lim->max_unauthenticated)
		return true;
	/* Evict: the oldest of the largest holder's (sessions are listed
	 * newest first, so the last one seen is the oldest). */
	struct hvd_uid_share *worst = s->share;
	unsigned most = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next) {
		if (o->closing || o->hello_done)
			continue;
		unsigned n = hvd_sessions_of_share(d, o->share, false);
		if (n > most) {
			most = n;
			worst = o->share;
		}
	}
	struct hvd_session *victim = NULL;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		if (!o->closing && !o->hello_done && o->share == worst)
			victim = o;
	if (!victim)
		victim = s;
	hvd_warn("session %llu (pid %d uid %u): closed to make room for a new connection "
		 "(max_unauthenticated %u reached)", (unsigned long long)victim->id,
		 (int)victim->pid, (unsigned)victim->uid, lim->max_unauthenticated);
	hvd_session_close(victim, "too many connections without Hello (max_unauthenticated): "
			  "the oldest of the uid holding most made room");
	return victim != s;
}

/* hvd-ident has read the peer's executable: decide its rights and start
 * reading its requests. */
static void session_identified(struct hvd_session *s, int err, const struct hvp_identity *id,
			       void *arg)
{
	(void)arg;
	if (s->closing)
		return;
	hvd_policy_set_exe(s, err, id);
	hvd_slog(HVD_LOG_INFO, s, "session %llu opened (pid %d uid %d %s)",
		 (unsigned long long)s->id, (int)s->pid, (int)s->uid, s->ident.exe[0] ? s->ident.exe : "(executable unknown)");
	hvd_policy_evaluate(s);
	hvd_session_resume(s);
}

/* What every session needs once it has a peer: its handles, its place in
 * the list. */
static void session_start(struct hvd_session *s)
{
	struct hvd_daemon *d = s->d;
	pass_creds(s->fd);
	getrandom_nonce(&s->nonce);
	pthread_mutex_init(&s->done_lock, NULL);
	s->poll.data = s;
	s->async.data = s;
	s->reaped.data = s;
	s->hello_timer.data = s;
	s->rate_timer.data = s;
	uv_poll_init(d->loop, &s->poll, s->fd);
	uv_async_init(d->loop, &s->async, session_async);
	uv_async_init(d->loop, &s->reaped, reaper_done);
	uv_timer_init(d->loop, &s->hello_timer);
	uv_timer_init(d->loop, &s->rate_timer);
	s->handles = 5;
	s->next = d->sessions;
	if (d->sessions)
		d->sessions->prev = s;
	d->sessions = s;
	d->nsessions++;
}

int hvd_session_open_trusted(struct hvd_daemon *d, int fd, pid_t broker)
{
	struct hvd_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->id = ++d->next_session_id;
	s->fd = fd;
	s->opened_ms = hvd_now_ms();
	s->pidfd = -1;
	/* hvd checked the client; the worker checks that each message is
	 * hvd's (the sender's pid, as for any session). */
	s->pid = broker;
	s->uid = getuid();
	s->gid = getgid();
	if (!(s->share = hvd_share_get(d, s->uid, 0))) {
		free(s);
		return -ENOMEM;
	}
	session_start(s);
	s->identified = true;
	s->hello_done = true;
	hvd_session_resume(s);
	return 0;
}

static void on_accept(uv_poll_t *h, int status, int events);

static void on_accept_retry(uv_timer_t *t)
{
	struct hvd_daemon *d = t->data;
	if (!d->stopping)
		uv_poll_start(&d->listen_poll, UV_READABLE, on_accept);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct hvd_daemon *d = h->data;
	int fd;

	(void)events;
	if (status < 0)
		return;
	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Out of descriptors: the pending connection stays
			 * readable, so stop polling for a moment instead of
			 * spinning on it. */
			hvd_warn("accept: %s; pausing new connections", strerror(errno));
			uv_poll_stop(&d->listen_poll);
			uv_timer_start(&d->accept_retry, on_accept_retry, 200, 0);
		} else if (errno != EAGAIN && errno != EINTR) {
			hvd_warn("accept: %s", strerror(errno));
		}
		return;
	}
	hvd_session_open(d, fd, 0);
}

void hvd_session_open(struct hvd_daemon *d, int fd, uint64_t bound)
{
	if (d->stopping) {
		close(fd);
		return;
	}
	struct hvd_session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return;
	}
	s->d = d;
	s->id = ++d->next_session_id;
	s->fd = fd;
	s->opened_ms = hvd_now_ms();
	s->bound = bound;
	if (hvd_policy_identify(s) < 0 || !(s->share = hvd_share_get(d, s->uid, bound))) {
		hvd_warn("cannot identify a new peer: %s", strerror(errno));
		if (s->pidfd >= 0)
			close(s->pidfd);
		close(fd);
		free(s);
		return;
	}
	session_start(s);
	/* The rights of a session with no executable yet: its uid's and
	 * groups' (a tenant to charge from the start). */
	hvd_policy_evaluate(s);

	/* Connections that have not said Hello cost a descriptor, a session
	 * and a probe each: few of them per uid, and not for long. */
	const struct hvp_limits *lim = hvp_limits(d->policy);
	if (!unauth_admit(s))
		return;
	if (lim->hello_timeout_ms)
		uv_timer_start(&s->hello_timer, on_hello_timeout, lim->hello_timeout_ms, 0);
	/* The executable is read by hvd-ident, off this thread; requests are
	 * read once it has answered (and a hang-up seen then: a client that
	 * half-closed after its requests still gets its answers). */
	if (hvd_ident_submit(s, s->pid, s->pidfd, session_identified, NULL) < 0)
		session_identified(s, -EIO, NULL, NULL);
}

/* Start listening. Under systemd socket activation (hvd.socket) the
 * listening socket is handed over as fd 3 and used as is. */
int hvd_server_init(struct hvd_daemon *d, const char *path,
		    const struct hvd_session_calls *calls)
{
	struct sockaddr_un addr;
	int fd, r;

	d->calls = calls;
	int n = sd_listen_fds(1);
	if (n < 0)
		return n;
	if (n > 1) {
		hvd_err("socket activation passed %d sockets; hvd.socket declares one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
			hvd_err("the activated socket is not a listening SOCK_SEQPACKET Unix socket");
			return -EINVAL;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		d->activated = true;
		goto listening;
	}

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Before anyone can connect: a connection inherits it when made. */
	if ((r = pass_creds(fd)) < 0) {
		close(fd);
		return r;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	/* A stale socket from a crashed hvd would block bind; a live one must
	 * not be stolen. */
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		bool live = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0;
		close(probe);
		if (live) {
			close(fd);
			return -EADDRINUSE;
		}
	}
	/* Bind under a temporary name and rename into place once listening:
	 * the socket path appears only when connections are accepted. */
	char tmp[sizeof(addr.sun_path)];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid()) >= sizeof(tmp)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, tmp);
	unlink(tmp);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 128) < 0 ||
	    /* Mode and group first (--socket-mode, --socket-group): who may
	     * connect at all, as hvd.socket says for an activated socket. */
	    chmod(tmp, d->socket_mode) < 0 ||
	    (d->socket_gid != (gid_t)-1 && chown(tmp, (uid_t)-1, d->socket_gid) < 0) ||
	    rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		close(fd);
		return r;
	}
	d->socket_path = strdup(path);
	if (d->janitor_fd >= 0) {
		struct stat st;
		struct { uint64_t dev, ino; } made = { 0, 0 };
		if (lstat(path, &st) == 0) {
			made.dev = st.st_dev;
			made.ino = st.st_ino;
		}
		if (write(d->janitor_fd, &made, sizeof(made)) != sizeof(made))
			hvd_warn("hvd-janitor does not listen: %s will stay behind", path);
	}
listening:
	/* Connections made before this (systemd's socket, before hvd ran)
	 * get it at accept (on_accept). */
	if ((r = pass_creds(fd)) < 0) {
		close(fd);
		return r;
	}
	d->listen_fd = fd;
	d->listen_poll.data = d;
	d->accept_retry.data = d;
	uv_timer_init(d->loop, &d->accept_retry);
	uv_poll_init(d->loop, &d->listen_poll, fd);
	uv_poll_start(&d->listen_poll, UV_READABLE, on_accept);
	return 0;
}

static void janitor_main(const char *path, int cmd, int ack)
{
	struct stat now;
	struct { uint64_t dev, ino; } made;

	prctl(PR_SET_NAME, "hvd-janitor");
	/* Only hvd's end ends it: not a terminal's ^C to the process group,
	 * which would leave the socket behind. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++)
		if (i != STDERR_FILENO)
			close(i);
	for (int i = 3; i < 1024; i++)
		if (i != cmd && i != ack)
			close(i);
	if (!hvd_sandbox_off && hvd_sandbox_janitor() < 0)
		_exit(1);
	char c;
	/* First which socket hvd made (none: it was handed one by systemd,
	 * or it failed before it listened). */
	ssize_t n;
	while ((n = read(cmd, &made, sizeof(made))) < 0 && errno == EINTR)
		;
	/* Then a byte (a clean stop) or EOF (hvd died): either way, remove
	 * the socket, if it is still the one hvd made. */
	while (n == sizeof(made) && read(cmd, &c, 1) < 0 && errno == EINTR)
		;
	if (n == sizeof(made) && lstat(path, &now) == 0 && S_ISSOCK(now.st_mode) &&
	    now.st_ino == made.ino && now.st_dev == made.dev)
		unlink(path);
	c = 'k';
	while (write(ack, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

int hvd_server_janitor(struct hvd_daemon *d, const char *path)
{
	int cmd[2], ack[2];

	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ack, O_CLOEXEC) < 0) {
		int e = errno;
		close(cmd[0]);
		close(cmd[1]);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(cmd[0]);
		close(cmd[1]);
		close(ack[0]);
		close(ack[1]);
		return -e;
	}
	if (pid == 0)
		janitor_main(path, cmd[0], ack[1]);
	close(cmd[0]);
	close(ack[1]);
	d->janitor_fd = cmd[1];
	d->janitor_ack = ack[0];
	return 0;
}

void hvd_server_stop(struct hvd_daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	hvd_tenants_stop(d);
	if (d->listen_fd >= 0) {
		uv_poll_stop(&d->listen_poll);
		uv_close((uv_handle_t *)&d->listen_poll, NULL);
		uv_timer_stop(&d->accept_retry);
		uv_close((uv_handle_t *)&d->accept_retry, NULL);
		close(d->listen_fd);
		d->listen_fd = -1;
		/* An activated socket belongs to systemd, path and all. */
		if (d->socket_path && d->janitor_fd >= 0) {
			char c = 'u';
			if (write(d->janitor_fd, &c, 1) == 1)
				while (read(d->janitor_ack, &c, 1) < 0 && errno == EINTR)
					;
			close(d->janitor_fd);
			close(d->janitor_ack);
			d->janitor_fd = d->janitor_ack = -1;
		} else if (d->socket_path) {
			unlink(d->socket_path);
		}
		if (d->janitor_fd >= 0) {
			/* Activated: nothing for it to do; EOF ends it. */
			close(d->janitor_fd);
			close(d->janitor_ack);
			d->janitor_fd = d->janitor_ack = -1;
		}
		free(d->socket_path);
		d->socket_path = NULL;
	}
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		hvd_session_close(s, "hvd is stopping");
}
