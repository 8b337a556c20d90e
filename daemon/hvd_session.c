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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>
#include <systemd/sd-daemon.h>

#include "hvd.h"

static void session_read(uv_poll_t *h, int status, int events);

/* ---- replies ---- */

int hvd_session_reply(struct hvd_session *s, Hvd__Response *resp, int fd)
{
	uint8_t small[HVD_MAX_MESSAGE], *buf = small;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr msg;
	size_t len;

	if (s->closing)
		return -EPIPE;
	len = hvd__response__get_packed_size(resp);
	if (len > HVD_MAX_ADMIN_MESSAGE) {
		hvd_err("session %llu: reply of %zu bytes exceeds the limit",
			(unsigned long long)s->id, len);
		return -EMSGSIZE;
	}
	/* Only admin listings outgrow the stack buffer. */
	if (len > sizeof(small) && !(buf = malloc(len)))
		return -ENOMEM;
	hvd__response__pack(resp, buf);
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
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

	hvd_memop_poll(s);

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
			Hvd__Response resp = HVD__RESPONSE__INIT;
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
		hvd__request__free_unpacked(op->req, NULL);
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
		hvd__request__free_unpacked(op->req, NULL);
		free(op->data);
		free(op);
	}
	pthread_mutex_destroy(&s->done_lock);
	hvd_info("session %llu closed (pid %d)", (unsigned long long)s->id, (int)s->pid);
	free(s);
	/* The last client gone: give the memory the vCPU threads' malloc
	 * arenas kept back to the system, so that an idle hvd is small again
	 * after a burst of VMs. */
	if (d->nsessions == 0)
		malloc_trim(0);
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

	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++) {
		if (s->vcpus[i]) {
			hvd_vcpu_free(s->vcpus[i]);
			s->vcpus[i] = NULL;
		}
	}
	if (s->vm) {
		int r = hvb_vm_destroy(s->vm);
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
	hvd_info("session %llu: closing: %s", (unsigned long long)s->id, why);
	/* Quotas are released exactly when the resources are: now, since the
	 * teardown below cannot fail. */
	hvd_policy_release(s);
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
	close(s->fd);
	s->fd = -1;
	/* A memory change still running on the thread pool uses the VM:
	 * the reaper starts when it is done (hvd_dispatch.c). */
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
	if (!s->closing && !s->memop)
		uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, session_read);
}

void hvd_session_resume(struct hvd_session *s)
{
	if (!s->closing && !s->memop && !uv_is_active((uv_handle_t *)&s->rate_timer))
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
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg;
	int fd = -1;

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
	if ((msg.msg_flags & MSG_TRUNC) || (lim->max_message && (size_t)n > lim->max_message))
		bad = "message larger than the limit (max_message)";
	else if (msg.msg_flags & MSG_CTRUNC || nfds > 1 || (unsigned)nfds > lim->max_fds)
		bad = "too many file descriptors in one message (max_fds)";
	Hvd__Request *req = NULL;
	if (!bad) {
		req = hvd__request__unpack(NULL, (size_t)n, buf);
		if (!req)
			bad = "malformed message";
		else if (!s->hello_done && req->op_case != HVD__REQUEST__OP_HELLO)
			bad = "first message is not Hello";
	}
	if (bad) {
		if (fd >= 0)
			close(fd);
		if (req)
			hvd__request__free_unpacked(req, NULL);
		hvd_session_close(s, bad);
		return;
	}
	hvd_dispatch(s, req, fd);
}

/* ---- accepting ---- */

static void on_hello_timeout(uv_timer_t *t)
{
	struct hvd_session *s = t->data;
	if (!s->hello_done)
		hvd_session_close(s, "no Hello in time (hello_timeout_ms)");
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
	if (hvd_policy_identify(s) < 0) {
		hvd_warn("cannot identify a new peer: %s", strerror(errno));
		if (s->pidfd >= 0)
			close(s->pidfd);
		close(fd);
		free(s);
		return;
	}
	pthread_mutex_init(&s->done_lock, NULL);
	s->poll.data = s;
	s->async.data = s;
	s->reaped.data = s;
	s->hello_timer.data = s;
	s->rate_timer.data = s;
	uv_poll_init(d->loop, &s->poll, fd);
	uv_async_init(d->loop, &s->async, session_async);
	uv_async_init(d->loop, &s->reaped, reaper_done);
	uv_timer_init(d->loop, &s->hello_timer);
	uv_timer_init(d->loop, &s->rate_timer);
	s->handles = 5;
	uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, session_read);
	s->next = d->sessions;
	if (d->sessions)
		d->sessions->prev = s;
	d->sessions = s;
	d->nsessions++;
	hvd_info("session %llu opened (pid %d uid %d %s)", (unsigned long long)s->id,
		 (int)s->pid, (int)s->uid, s->ident.exe);
	hvd_policy_evaluate(s);

	/* Connections that have not said Hello cost a descriptor and a
	 * session each: few of them, and not for long. */
	const struct hvp_limits *lim = hvp_limits(d->policy);
	unsigned unauth = 0;
	for (struct hvd_session *o = d->sessions; o; o = o->next)
		unauth += !o->closing && !o->hello_done;
	if (lim->max_unauthenticated && unauth > lim->max_unauthenticated) {
		hvd_session_close(s, "too many connections without Hello (max_unauthenticated)");
		return;
	}
	if (lim->hello_timeout_ms)
		uv_timer_start(&s->hello_timer, on_hello_timeout, lim->hello_timeout_ms, 0);
}

/* Start listening. Under systemd socket activation (hvd.socket) the
 * listening socket is handed over as fd 3 and used as is. */
int hvd_server_init(struct hvd_daemon *d, const char *path)
{
	struct sockaddr_un addr;
	int fd, r;

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
	    /* Who may use hvd is the policy's business, not the file mode's. */
	    chmod(tmp, 0666) < 0 || rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		close(fd);
		return r;
	}
	d->socket_path = strdup(path);
listening:
	d->listen_fd = fd;
	d->listen_poll.data = d;
	d->accept_retry.data = d;
	uv_timer_init(d->loop, &d->accept_retry);
	uv_poll_init(d->loop, &d->listen_poll, fd);
	uv_poll_start(&d->listen_poll, UV_READABLE, on_accept);
	return 0;
}

void hvd_server_stop(struct hvd_daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	if (d->listen_fd >= 0) {
		uv_poll_stop(&d->listen_poll);
		uv_close((uv_handle_t *)&d->listen_poll, NULL);
		uv_timer_stop(&d->accept_retry);
		uv_close((uv_handle_t *)&d->accept_retry, NULL);
		close(d->listen_fd);
		d->listen_fd = -1;
		/* An activated socket belongs to systemd, path and all. */
		if (d->socket_path)
			unlink(d->socket_path);
		free(d->socket_path);
		d->socket_path = NULL;
	}
	for (struct hvd_session *s = d->sessions; s; s = s->next)
		hvd_session_close(s, "hvd is stopping");
}
