/*
 * The connection to hvd: a SOCK_SEQPACKET Unix socket named by HVD_SOCKET
 * (else HVD_DEFAULT_SOCKET), a Hello handshake, then one request and one
 * response at a time, encoded with nanopb. Every way the connection fails
 * is said here (hvc_err), once, with its fix; a Response with id 0 is
 * hvd's last word before it ends the session (docs/protocol.md) and says
 * why.
 */
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>


#include "hvd_hint.h"
#include "hvs_errmap.h"
#include "hvc.h"

static struct {
	pthread_mutex_t lock;          /* the socket: one exchange at a time */
	int fd;
	uint32_t next_id;
	uint64_t caps[33];
	uint32_t caps_status[33];
	uint32_t max_vcpus;
	uint64_t nonce;                /* this connection's, from HelloReply */
	hvdp_Arm64Host arm64_host;     /* arm64 */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];  /* for messages */
	char gone[HVC_ERR_MAX];        /* why the connection ended ("" while it lasts) */
} conn = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static int send_msg(int fd, const uint8_t *buf, size_t len, int send_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (send_fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	for (;;) {
		if (sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static ssize_t recv_msg(int fd, uint8_t *buf, size_t len, int *recv_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int one;
			memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (recv_fd && *recv_fd < 0)
				*recv_fd = one;
			else
				close(one);
		}
	}
	if (n == 0)
		return -ECONNRESET;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

/* hvd's reasons (Response.error), per thread: a response is read by the
 * thread that waits for it. Longer ones are cut, not refused. */
static _Thread_local char resp_error[512];

static bool decode_error(pb_istream_t *in, const pb_field_t *field, void **arg)
{
	char *buf = *arg;
	size_t n = in->bytes_left < sizeof(resp_error) - 1 ? in->bytes_left :
							      sizeof(resp_error) - 1;
	(void)field;
	if (!pb_read(in, (pb_byte_t *)buf, n))
		return false;
	buf[n] = '\0';
	return pb_read(in, NULL, in->bytes_left);
}

const char *hvc_resp_error(const hvdp_Response *resp)
{
	return resp->error.arg ? resp->error.arg : "";
}

static bool decode_resp(const uint8_t *buf, size_t n, hvdp_Response *resp)
{
	pb_istream_t in = pb_istream_from_buffer(buf, n);
	memset(resp, 0, sizeof(*resp));
	resp_error[0] = '\0';
	resp->error.funcs.decode = decode_error;
	resp->error.arg = resp_error;
	return pb_decode(&in, hvdp_Response_fields, resp);
}

/* With conn.lock held: hvd's last word (a Response with id 0) says why it
 * ends the session; said at once, and kept for every later call. */
static void notice(const hvdp_Response *resp)
{
	const char *why = hvc_resp_error(resp);
	snprintf(conn.gone, sizeof(conn.gone), "hvd at %s ended this process's session: %s — "
		 "its VM and vCPUs are gone; hvd's log and audit say more", conn.path,
		 *why ? why : "no reason given");
	hvc_err(HVC_CAUSE_GONE, "%s", conn.gone);
}

/* With conn.lock held, the connection found broken (`err`): read what hvd
 * left in the socket before it closed it (its last word may still be
 * queued when our send already failed), close, and say why. */
static void lost(int err)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	hvdp_Response resp;
	ssize_t n;

	while (conn.gone[0] == '\0' &&
	       (n = recv(conn.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) > 0)
		if (decode_resp(buf, (size_t)n, &resp) && resp.id == 0)
			notice(&resp);
	close(conn.fd);
	conn.fd = -1;
	if (conn.gone[0])
		return;
	if (err == -EPROTO)
		snprintf(conn.gone, sizeof(conn.gone), "hvd's reply does not decode — hvd at %s "
			 "and libhvclient disagree on the protocol; use the libhvclient that "
			 "came with hvd", conn.path);
	else
		snprintf(conn.gone, sizeof(conn.gone), "hvd at %s closed the connection (%s) — "
			 "it stopped, or refused this client; see its log", conn.path,
			 strerror(-err));
	hvc_err(err == -EPROTO ? HVC_CAUSE_PROTOCOL : HVC_CAUSE_GONE, "%s", conn.gone);
}

/* With conn.lock held. */
static int exchange(hvdp_Request *req, int send_fd, hvdp_Response *resp, int *recv_fd)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	pb_ostream_t out = pb_ostream_from_buffer(buf, sizeof(buf));
	int r;

	if (recv_fd)
		*recv_fd = -1;
	if (conn.fd < 0) {
		/* An earlier exchange found hvd gone: this thread learns why. */
		hvc_err(HVC_CAUSE_CALL, "%s", conn.gone[0] ? conn.gone : "not connected to hvd");
		return -ENOTCONN;
	}
	req->id = ++conn.next_id;
	if (req->id == 0)
		req->id = ++conn.next_id; /* 0 is hvd's last word's */
	if (!pb_encode(&out, hvdp_Request_fields, req))
		return -EMSGSIZE;
	if ((r = send_msg(conn.fd, buf, out.bytes_written, send_fd)) < 0)
		goto broken;
	for (;;) {
		ssize_t n = recv_msg(conn.fd, buf, sizeof(buf), recv_fd);
		if (n < 0) {
			r = (int)n;
			goto broken;
		}
		if (!decode_resp(buf, (size_t)n, resp)) {
			r = -EPROTO;
			goto broken;
		}
		if (resp->id == req->id)
			return 0;
		if (resp->id != 0) {
			r = -EPROTO;
			goto broken;
		}
		/* hvd's last word; the end of the connection follows. */
		notice(resp);
	}
broken:
	/* hvd went away or spoke nonsense: every later call fails fast. */
	if (recv_fd && *recv_fd >= 0) {
		close(*recv_fd);
		*recv_fd = -1;
	}
	lost(r);
	return r;
}

bool hvc_conn_check_gone(void)
{
	struct pollfd p;
	bool gone;

	pthread_mutex_lock(&conn.lock);
	if (conn.fd >= 0) {
		p.fd = conn.fd;
		p.events = POLLIN | POLLRDHUP;
		p.revents = 0;
		/* Nothing is outstanding while we hold the lock: anything to
		 * read is hvd's last word, or the end. */
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)))
			lost(-ECONNRESET);
	}
	gone = conn.fd < 0;
	if (gone)
		hvc_err(HVC_CAUSE_CALL, "%s", conn.gone[0] ? conn.gone : "not connected to hvd");
	pthread_mutex_unlock(&conn.lock);
	return gone;
}

int hvc_rpc(hvdp_Request *req, int send_fd, hvdp_Response *resp, int *recv_fd)
{
	pthread_mutex_lock(&conn.lock);
	int r = exchange(req, send_fd, resp, recv_fd);
	pthread_mutex_unlock(&conn.lock);
	return r;
}

/* With conn.lock held: a failed connect() said, with hvctl's fix. */
static void connect_failed(int err)
{
	char msg[HVC_ERR_MAX];
	enum hvc_cause c;

	err = hvd_hint_connect_errno(err, conn.path);
	switch (err) {
	case ENOENT: c = HVC_CAUSE_NOENT; break;
	case ECONNREFUSED: c = HVC_CAUSE_REFUSED; break;
	case EACCES: case EPERM: c = HVC_CAUSE_ACCESS; break;
	case ENOTSOCK: case EPROTOTYPE: c = HVC_CAUSE_NOTSOCK; break;
	default: c = HVC_CAUSE_CONNECT; break;
	}
	hvc_err(c, "%s", hvd_hint_connect_msg(msg, sizeof(msg), conn.path, err, HVD_HINT_CLIENT));
}

/* With conn.lock held: a HelloReply of a daemon this library cannot
 * work with said; false if it is fine. */
static bool hello_mismatch(const hvdp_Response *resp)
{
	char msg[HVC_ERR_MAX];
	/* hvd before the arm64 port sent no arch: x86. */
	uint32_t arch = resp->hello.arch ? resp->hello.arch : HVD_ARCH_X86_64;
	bool host_ok = HVD_ARCH == HVD_ARCH_ARM64 ?
		resp->hello.has_arm64_host &&
			resp->hello.arm64_host.feature_count == 14 &&
			resp->hello.arm64_host.ccsidr_count == 16 :
		resp->hello.vmx_caps_count == 33 && resp->hello.vmx_caps_status_count == 33;

	if (!resp->has_hello || resp->hello.version != HVD_PROTOCOL_VERSION)
		hvd_hint_protocol_msg(msg, sizeof(msg), conn.path,
				      resp->has_hello ? resp->hello.version : 0,
				      HVD_PROTOCOL_VERSION, HVD_HINT_CLIENT);
	else if (arch != HVD_ARCH)
		snprintf(msg, sizeof(msg), "hvd at %s serves the %s API, this libhvclient the "
			 "%s one — use a libhvclient built for hvd's architecture", conn.path,
			 arch == HVD_ARCH_ARM64 ? "arm64" : "x86_64",
			 HVD_ARCH == HVD_ARCH_ARM64 ? "arm64" : "x86_64");
	else if (resp->hello.run_page_version != HVD_RUN_PAGE_VERSION ||
		 resp->hello.run_page_size != sizeof(struct hvd_run_page) || !host_ok)
		snprintf(msg, sizeof(msg), "hvd at %s uses run page version %u of %u bytes, "
			 "libhvclient version %u of %zu — use the libhvclient that came with "
			 "this hvd", conn.path, (unsigned)resp->hello.run_page_version,
			 (unsigned)resp->hello.run_page_size, (unsigned)HVD_RUN_PAGE_VERSION,
			 sizeof(struct hvd_run_page));
	else
		return false;
	hvc_err(HVC_CAUSE_PROTOCOL, "%s", msg);
	return true;
}

int hvc_connect(void)
{
	struct sockaddr_un addr;
	const char *path = getenv("HVD_SOCKET");
	int r = 0;

	if (!path || !*path)
		path = HVD_DEFAULT_SOCKET;
	pthread_mutex_lock(&conn.lock);
	if (conn.fd >= 0)
		goto out;
	snprintf(conn.path, sizeof(conn.path), "%s", path);
	if (strlen(path) >= sizeof(addr.sun_path)) {
		hvc_err(HVC_CAUSE_CONNECT, "the socket path in HVD_SOCKET is longer than %zu "
			"bytes — %s", sizeof(addr.sun_path) - 1,
			hvd_hint_connect(ENAMETOOLONG, HVD_HINT_CLIENT));
		r = -ENAMETOOLONG;
		goto out;
	}
	conn.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (conn.fd < 0) {
		r = -errno;
		hvc_err(HVC_CAUSE_CONNECT, "socket: %s", strerror(-r));
		goto out;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	if (connect(conn.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		connect_failed(-r);
		close(conn.fd);
		conn.fd = -1;
		goto out;
	}
	/* A new session: what ended the last one is history. */
	conn.gone[0] = '\0';
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	req.which_op = hvdp_Request_hello_tag;
	req.op.hello.version = HVD_PROTOCOL_VERSION;
	if ((r = exchange(&req, -1, &resp, NULL)) < 0)
		goto out;
	if (resp.status == (int32_t)HV_NO_RESOURCES) {
		/* hvd is at its max_clients limit. */
		const char *why = hvc_resp_error(&resp);
		hvc_err(HVC_CAUSE_QUOTA, "hvd at %s refused the connection: HV_NO_RESOURCES: "
			"%s — %s", conn.path, *why ? why : hvd_hint_status_why(resp.status),
			hvd_hint_status_fix(resp.status, HVD_HINT_CLIENT));
		close(conn.fd);
		conn.fd = -1;
		r = -ENOSPC;
		goto out;
	}
	/* A daemon of another version or architecture: refuse rather than
	 * guess. hvd answers a version it does not speak with its own in a
	 * HelloReply and HV_UNSUPPORTED. */
	bool other_version = resp.has_hello && resp.hello.version != HVD_PROTOCOL_VERSION;
	if (resp.status != 0 && !other_version) {
		/* A policy may refuse the connection itself. */
		const char *name = hvd_hint_status_name(resp.status);
		const char *why = hvc_resp_error(&resp);
		const char *fix = hvd_hint_status_fix(resp.status, HVD_HINT_CLIENT);
		hvc_err(resp.status == HV_DENIED ? HVC_CAUSE_DENIED : HVC_CAUSE_PROTOCOL,
			"hvd at %s refused the connection: %s: %s — %s", conn.path,
			name ? name : "?", *why ? why : hvd_hint_status_why(resp.status),
			fix ? fix : "see hvd's log");
		r = -EPROTONOSUPPORT;
	} else if (hello_mismatch(&resp)) {
		r = -EPROTONOSUPPORT;
	}
	if (r < 0) {
		close(conn.fd);
		conn.fd = -1;
		goto out;
	}
	memcpy(conn.caps, resp.hello.vmx_caps, sizeof(conn.caps));
	memcpy(conn.caps_status, resp.hello.vmx_caps_status, sizeof(conn.caps_status));
	conn.arm64_host = resp.hello.arm64_host;
	conn.max_vcpus = resp.hello.max_vcpus;
	conn.nonce = resp.hello.session_nonce;
out:
	pthread_mutex_unlock(&conn.lock);
	return r;
}

bool hvc_connected(void)
{
	return __atomic_load_n(&conn.fd, __ATOMIC_RELAXED) >= 0;
}

bool hvc_daemon_alive(void)
{
	struct pollfd p;
	pthread_mutex_lock(&conn.lock);
	p.fd = conn.fd;
	p.events = POLLRDHUP;
	p.revents = 0;
	bool alive = conn.fd >= 0 && poll(&p, 1, 0) >= 0 &&
		     !(p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL));
	pthread_mutex_unlock(&conn.lock);
	return alive;
}

int hvc_vmx_capability(unsigned cap, uint64_t *value)
{
	if (cap >= 33)
		return -EINVAL;
	int r = hvc_connect();
	if (r < 0)
		return r;
	if (conn.caps_status[cap])
		return -(int)conn.caps_status[cap];
	*value = conn.caps[cap];
	return 0;
}

int hvc_arm64_host(hvdp_Arm64Host *out)
{
	int r = hvc_connect();
	if (r == 0)
		*out = conn.arm64_host;
	return r;
}

uint32_t hvc_max_vcpus(void)
{
	return conn.max_vcpus;
}

uint64_t hvc_session_nonce(void)
{
	return conn.nonce;
}

void hvc_conn_forget(void)
{
	/* Only this process's copy of the descriptor: the parent keeps its
	 * session. */
	if (conn.fd >= 0)
		close(conn.fd);
	conn.fd = -1;
	conn.gone[0] = '\0';
	pthread_mutex_init(&conn.lock, NULL);
}
