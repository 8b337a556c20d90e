/*
 * The connection to hvd: a SOCK_SEQPACKET Unix socket named by HVD_SOCKET
 * (else HVD_DEFAULT_SOCKET), a Hello handshake, then one request and one
 * response at a time, encoded with nanopb.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>


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

/* With conn.lock held. */
static int exchange(hvdp_Request *req, int send_fd, hvdp_Response *resp, int *recv_fd)
{
	uint8_t buf[HVD_MAX_MESSAGE];
	pb_ostream_t out = pb_ostream_from_buffer(buf, sizeof(buf));
	int r;

	if (conn.fd < 0)
		return -ENOTCONN;
	req->id = ++conn.next_id;
	if (!pb_encode(&out, hvdp_Request_fields, req))
		return -EMSGSIZE;
	if ((r = send_msg(conn.fd, buf, out.bytes_written, send_fd)) < 0)
		goto broken;
	if (recv_fd)
		*recv_fd = -1;
	ssize_t n = recv_msg(conn.fd, buf, sizeof(buf), recv_fd);
	if (n < 0) {
		r = (int)n;
		goto broken;
	}
	pb_istream_t in = pb_istream_from_buffer(buf, (size_t)n);
	memset(resp, 0, sizeof(*resp));
	if (!pb_decode(&in, hvdp_Response_fields, resp) || resp->id != req->id) {
		r = -EPROTO;
		goto broken;
	}
	return 0;
broken:
	/* hvd went away or spoke nonsense: every later call fails fast. */
	if (recv_fd && *recv_fd >= 0) {
		close(*recv_fd);
		*recv_fd = -1;
	}
	close(conn.fd);
	conn.fd = -1;
	return r;
}

int hvc_rpc(hvdp_Request *req, int send_fd, hvdp_Response *resp, int *recv_fd)
{
	pthread_mutex_lock(&conn.lock);
	int r = exchange(req, send_fd, resp, recv_fd);
	pthread_mutex_unlock(&conn.lock);
	return r;
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
	if (strlen(path) >= sizeof(addr.sun_path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	conn.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (conn.fd < 0) {
		r = -errno;
		goto out;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	if (connect(conn.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		close(conn.fd);
		conn.fd = -1;
		goto out;
	}
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	req.which_op = hvdp_Request_hello_tag;
	req.op.hello.version = HVD_PROTOCOL_VERSION;
	if ((r = exchange(&req, -1, &resp, NULL)) < 0)
		goto out;
	if (resp.status == (int32_t)HV_NO_RESOURCES) {
		/* hvd is at its max_clients limit. */
		close(conn.fd);
		conn.fd = -1;
		r = -ENOSPC;
		goto out;
	}
	/* hvd before the arm64 port sent no arch: x86. */
	uint32_t arch = resp.hello.arch ? resp.hello.arch : HVD_ARCH_X86_64;
	bool host_ok = HVD_ARCH == HVD_ARCH_ARM64 ?
		resp.hello.has_arm64_host &&
			resp.hello.arm64_host.feature_count == 14 &&
			resp.hello.arm64_host.ccsidr_count == 16 :
		resp.hello.vmx_caps_count == 33 && resp.hello.vmx_caps_status_count == 33;
	if (resp.status != 0 || !resp.has_hello ||
	    resp.hello.version != HVD_PROTOCOL_VERSION ||
	    resp.hello.run_page_version != HVD_RUN_PAGE_VERSION ||
	    resp.hello.run_page_size != sizeof(struct hvd_run_page) ||
	    arch != HVD_ARCH || !host_ok) {
		/* A daemon of another version or architecture: refuse rather
		 * than guess. */
		close(conn.fd);
		conn.fd = -1;
		r = -EPROTONOSUPPORT;
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
	pthread_mutex_init(&conn.lock, NULL);
}
