/*
 * Who a peer is, found out in a process of its own: hvd-ident.
 *
 * Identifying a client means reading its executable (to hash it for
 * grants), its memory map (to check that only that executable and system
 * libraries are mapped as code) and a few lines of /proc. All of it is
 * under the client's control: the executable may be an 8 GiB sparse file,
 * the map 65536 lines long. None of it runs on hvd's loop thread. And
 * reading another user's /proc/PID/exe or maps takes CAP_SYS_PTRACE, which
 * with a plain open(2) would also open /proc/PID/mem of any process for
 * writing: so the capability lives only here, in a process that does
 * nothing else, under a seccomp filter that opens files read-only, and
 * answers only with the identity it found (never file contents). hvd
 * itself keeps no capability at all.
 *
 * hvd forks the helper at start, before it drops its own privileges; the
 * helper runs as hvd's unprivileged uid with CAP_SYS_PTRACE alone and dies
 * with hvd (PR_SET_PDEATHSIG, and EOF on its socket). Requests and
 * replies are fixed-size structs on a SOCK_SEQPACKET socketpair, one per
 * packet; the request carries the peer's pidfd (SCM_RIGHTS), so the helper
 * can tell at the end whether the pid still named the same process
 * throughout. IDENT_THREADS threads serve requests; hvd sends at most one
 * request per uid at a time (and one file an administrator asks about,
 * `policy explain --exe`), so one uid's slow executables delay only that
 * uid's connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvd.h"
#include "hvd_ident.h"
#include "hvd_log.h"
#include "hvd_msg.h"
#include "hvd_sandbox.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* ThreadSanitizer's runtime has a thread of its own, so hvd is already
 * multi-threaded when it forks, and TSan kills a child of such a process
 * that starts threads: its helper serves with one. */
#if defined(__SANITIZE_THREAD__)
#define IDENT_THREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IDENT_THREADS 1
#endif
#endif
#ifndef IDENT_THREADS
#define IDENT_THREADS 3
#endif

enum ident_kind {
	IDENT_PROBE = 0,               /* a process: the descriptor is its pidfd */
	IDENT_HASH_FD = 1,             /* a file: the descriptor is the file */
};

struct ident_req {
	uint64_t job;
	int32_t pid;
	uint32_t max_maps;
	uint64_t max_exe_size;
	uint32_t kind;                 /* enum ident_kind */
	uint32_t pad;
};

struct ident_reply {
	uint64_t job;
	int32_t err;                   /* 0 or a negative errno */
	uint32_t alive;                /* the pidfd's process lived to the end */
	struct hvp_identity id;
};

struct hvd_ident_job {
	struct hvd_ident_job *next;
	uint64_t id;
	struct hvd_session *s;         /* NULL: the session went away */
	uid_t uid;
	uint64_t tenant_socket;        /* with uid: the share asking (hvd_tenant.c) */
	pid_t pid;
	int pidfd;                     /* a dup, sent along; -1 if none */
	enum ident_kind kind;
	hvd_ident_done_fn done;
	void *arg;
};

struct hvd_ident {
	struct hvd_daemon *d;
	int fd;                        /* -1: the helper is gone */
	pid_t pid;
	uv_poll_t poll;
	struct hvd_ident_job *queue;   /* not sent yet, in order */
	struct hvd_ident_job *sent;    /* at the helper */
	unsigned nsent;
	uint64_t next_id;
};

/* ---- the helper process ---- */

static int helper_fd;
static struct hvp_hash_cache *helper_cache;

static bool pidfd_alive(int pidfd, pid_t pid)
{
	if (pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM)
			return true;
		if (errno != ENOSYS)
			return false;
	}
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void *helper_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct ident_req req;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { &req, sizeof(req) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(helper_fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* hvd is gone */
		int pidfd = -1;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
		if (n != sizeof(req)) {
			if (pidfd >= 0)
				close(pidfd);
			continue;
		}
		struct ident_reply *rep = calloc(1, sizeof(*rep));
		if (!rep)
			_exit(1);
		rep->job = req.job;
		if (req.kind == IDENT_HASH_FD) {
			/* A file an administrator asks about (`policy explain
			 * --exe`): checked and hashed here, off hvd's loop,
			 * under the same size limit as a peer's executable. */
			rep->err = pidfd < 0 ? -EBADF :
				   hvp_identity_fd(helper_cache, pidfd, req.max_exe_size, &rep->id);
			rep->alive = 1;
		} else {
			rep->err = hvp_identity_probe(helper_cache, req.pid, req.max_exe_size,
						      req.max_maps, &rep->id);
			/* Checked last: alive now means the pid named this
			 * process for the whole probe (a pid is not reused
			 * while its process lives). */
			rep->alive = pidfd_alive(pidfd, req.pid);
		}
		if (pidfd >= 0)
			close(pidfd);
		while (send(helper_fd, rep, sizeof(*rep), MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
		free(rep);
	}
	return NULL;
}

static void helper_main(int fd, const struct hvd_identity_drop *drop)
{
	/* Die with hvd, whatever way it goes. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	prctl(PR_SET_NAME, "hvd-ident");
	hvd_ignore_group_signals();
	/* Only the socket and stderr (for log lines). The socket keeps its
	 * number: a sanitizer runtime may have a descriptor of its own open
	 * (TSan's memory profile), and moving the socket onto a low number
	 * could put it under the runtime's writes. */
	helper_fd = fd;
	for (int i = 0; i < 3; i++)
		if (i != STDERR_FILENO && i != fd)
			close(i);
	if ((fd > 3 && syscall(SYS_close_range, 3, fd - 1, 0) < 0) ||
	    syscall(SYS_close_range, fd + 1, ~0u, 0) < 0)
		for (int i = 3; i < 1024; i++)
			if (i != fd)
				close(i);
	/* libuv's handlers belong to hvd's loop, which is not here. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (hvp_hash_cache_create(&helper_cache) < 0)
		_exit(1);
	if (!hvd_sandbox_off) {
		int r = hvd_sandbox_ident_process(drop);
		if (r < 0 && r != -ENOTSUP) {
			hvd_err("hvd-ident: cannot confine itself: %s", strerror(-r));
			_exit(1);
		}
	}
	for (int i = 1; i < IDENT_THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, helper_thread, NULL) == 0)
			pthread_detach(t);
	}
	helper_thread(NULL);
	_exit(0);
}

/* ---- hvd's side ---- */

static void ident_read(uv_poll_t *h, int status, int events);

static void job_finish(struct hvd_ident *in, struct hvd_ident_job *j, int err,
		       const struct hvp_identity *id)
{
	(void)in;
	if (j->pidfd >= 0)
		close(j->pidfd);
	if (j->s)
		j->done(j->s, err, id, j->arg);
	free(j);
}

/* One job at a time per share and kind at the helper: an administrator's
 * explain of a large file delays neither its own new connections' probes
 * nor anyone else's; root on a tenant's socket waits behind that socket's
 * own requests, not behind root's on the main socket. */
static bool uid_busy(struct hvd_ident *in, const struct hvd_ident_job *k)
{
	for (struct hvd_ident_job *j = in->sent; j; j = j->next)
		if (j->kind == k->kind && j->tenant_socket == k->tenant_socket &&
		    (k->tenant_socket || j->uid == k->uid))
			return true;
	return false;
}

/* Send what may go now: at most IDENT_THREADS requests at the helper, at
 * most one per uid. */
static void pump(struct hvd_ident *in)
{
	struct hvd_ident_job **pp = &in->queue;

	while (*pp && in->nsent < IDENT_THREADS && in->fd >= 0) {
		struct hvd_ident_job *j = *pp;
		if (j->s == NULL) {
			*pp = j->next;
			job_finish(in, j, -ECANCELED, NULL);
			continue;
		}
		if (uid_busy(in, j)) {
			pp = &j->next;
			continue;
		}
		const struct hvp_limits *lim = hvp_limits(in->d->policy);
		struct ident_req req = {
			.job = j->id,
			.pid = j->pid,
			.max_maps = HVP_DEFAULT_MAX_MAPS,
			.max_exe_size = lim->max_exe_size,
			.kind = j->kind,
		};
		union hvd_fd_cmsg ctl;
		struct iovec iov = { &req, sizeof(req) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		hvd_msg_attach_fd(&msg, &ctl, j->pidfd);
		if (sendmsg(in->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN)
				return; /* a reply will come and call us again */
			*pp = j->next;
			job_finish(in, j, -errno, NULL);
			continue;
		}
		*pp = j->next;
		j->next = in->sent;
		in->sent = j;
		in->nsent++;
	}
}

static void helper_gone(struct hvd_ident *in, const char *why)
{
	hvd_err("hvd-ident (pid %d) is gone (%s): new clients get no executable-bound rights",
		(int)in->pid, why);
	uv_poll_stop(&in->poll);
	uv_close((uv_handle_t *)&in->poll, NULL);
	close(in->fd);
	in->fd = -1;
	while (in->sent) {
		struct hvd_ident_job *j = in->sent;
		in->sent = j->next;
		job_finish(in, j, -EIO, NULL);
	}
	in->nsent = 0;
	while (in->queue) {
		struct hvd_ident_job *j = in->queue;
		in->queue = j->next;
		job_finish(in, j, -EIO, NULL);
	}
}

static void ident_read(uv_poll_t *h, int status, int events)
{
	struct hvd_ident *in = h->data;
	struct ident_reply *rep;

	(void)events;
	if (status < 0) {
		helper_gone(in, uv_strerror(status));
		return;
	}
	rep = malloc(sizeof(*rep));
	if (!rep)
		return;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(in->fd, &msg, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		free(rep);
		return;
	}
	if (n != (ssize_t)sizeof(*rep)) {
		free(rep);
		helper_gone(in, n == 0 ? "closed its socket" : "bad reply");
		return;
	}
	for (struct hvd_ident_job **pp = &in->sent; *pp; pp = &(*pp)->next) {
		struct hvd_ident_job *j = *pp;
		if (j->id != rep->job)
			continue;
		*pp = j->next;
		in->nsent--;
		rep->id.exe[sizeof(rep->id.exe) - 1] = '\0';
		rep->id.exe_refused[sizeof(rep->id.exe_refused) - 1] = '\0';
		int err = rep->err;
		if (err == 0 && !rep->alive)
			err = -ESRCH;
		job_finish(in, j, err, &rep->id);
		break;
	}
	free(rep);
	pump(in);
}

int hvd_ident_init(struct hvd_daemon *d, const struct hvd_identity_drop *drop)
{
	int sv[2];
	struct hvd_ident *in = calloc(1, sizeof(*in));

	if (!in)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(in);
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		free(in);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		free(in);
		helper_main(sv[1], drop);
	}
	close(sv[1]);
	in->d = d;
	in->fd = sv[0];
	in->pid = pid;
	fcntl(in->fd, F_SETFL, fcntl(in->fd, F_GETFL) | O_NONBLOCK);
	in->poll.data = in;
	uv_poll_init(d->loop, &in->poll, in->fd);
	uv_poll_start(&in->poll, UV_READABLE | UV_DISCONNECT, ident_read);
	d->ident = in;
	return 0;
}

static void ident_closed(uv_handle_t *h)
{
	free(h->data);
}

void hvd_ident_fini(struct hvd_daemon *d)
{
	struct hvd_ident *in = d->ident;
	if (!in)
		return;
	d->ident = NULL;
	while (in->sent) {
		struct hvd_ident_job *j = in->sent;
		in->sent = j->next;
		j->s = NULL;
		job_finish(in, j, -ECANCELED, NULL);
	}
	while (in->queue) {
		struct hvd_ident_job *j = in->queue;
		in->queue = j->next;
		j->s = NULL;
		job_finish(in, j, -ECANCELED, NULL);
	}
	if (in->fd < 0) {
		/* helper_gone closed the handle already. */
		free(in);
		return;
	}
	/* EOF ends the helper (and hvd's exit, through PR_SET_PDEATHSIG). The
	 * handle is freed when libuv is done with it. */
	uv_poll_stop(&in->poll);
	close(in->fd);
	in->fd = -1;
	uv_close((uv_handle_t *)&in->poll, ident_closed);
}

pid_t hvd_ident_pid(const struct hvd_daemon *d)
{
	return d->ident && d->ident->fd >= 0 ? d->ident->pid : -1;
}

static int submit(struct hvd_session *s, enum ident_kind kind, pid_t pid, int fd,
		  hvd_ident_done_fn done, void *arg)
{
	struct hvd_ident *in = s->d->ident;
	struct hvd_ident_job *j;

	if (!in || in->fd < 0)
		return -EIO;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->id = ++in->next_id;
	j->s = s;
	j->uid = s->uid; /* fairness is by who asks */
	j->tenant_socket = s->share ? s->share->tenant_socket : 0;
	j->pid = pid;
	j->kind = kind;
	j->done = done;
	j->arg = arg;
	j->pidfd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd >= 0 && j->pidfd < 0) {
		int e = errno;
		free(j);
		return -e;
	}
	struct hvd_ident_job **pp = &in->queue;
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
	pump(in);
	return 0;
}

int hvd_ident_submit(struct hvd_session *s, pid_t pid, int pidfd, hvd_ident_done_fn done,
		     void *arg)
{
	return submit(s, IDENT_PROBE, pid, pidfd, done, arg);
}

int hvd_ident_submit_file(struct hvd_session *s, int fd, hvd_ident_done_fn done, void *arg)
{
	if (fd < 0)
		return -EBADF;
	return submit(s, IDENT_HASH_FD, 0, fd, done, arg);
}

void hvd_ident_cancel(struct hvd_session *s)
{
	struct hvd_ident *in = s->d->ident;
	if (!in)
		return;
	for (struct hvd_ident_job *j = in->queue; j; j = j->next)
		if (j->s == s)
			j->s = NULL;
	for (struct hvd_ident_job *j = in->sent; j; j = j->next)
		if (j->s == s)
			j->s = NULL;
}
