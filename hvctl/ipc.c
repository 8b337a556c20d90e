/*
 * The connection to hvd. hvctl is a client like any other: it says hello
 * with HVD_PROTOCOL_VERSION and then sends one request per packet. Replies
 * to admin requests may be up to HVD_MAX_ADMIN_MESSAGE bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


#include "hvs_errmap.h"
#include "hvd_hint.h"
#include "hvd_protocol.h"
#include "ipc.h"
#include "out.h"

/* hvd answers admin requests from its event loop; a daemon that has not
 * answered in this long is stuck, and hanging with it helps nobody. */
#define HVCTL_TIMEOUT_MS 10000

const char *hvctl_socket_path(const struct hvctl *ctx)
{
	const char *p = ctx->socket;

	if (!p || !*p)
		p = getenv("HVD_SOCKET");
	if (!p || !*p)
		p = HVD_DEFAULT_SOCKET;
	return p;
}

/* Messages about the connection, unless the caller wants none. */
static void conn_err(const struct hvctl_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void conn_err(const struct hvctl_conn *c, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	if (c->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hvctl_err(c->cmd, "%s", msg);
}

static int send_req(struct hvctl_conn *c, Hvdp__Request *req, int fd)
{
	size_t len = hvdp__request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (!buf) {
		conn_err(c, "out of memory");
		return HVCTL_EXIT_FAILED;
	}
	hvdp__request__pack(req, buf);
	iov.iov_base = buf;
	iov.iov_len = len;
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int err = errno;
	free(buf);
	if (n < 0) {
		conn_err(c, "sending to hvd at %s: %s — hvd closed the connection; "
			 "see its log", c->path, strerror(err));
		return HVCTL_EXIT_UNREACHABLE;
	}
	return HVCTL_EXIT_OK;
}

static int recv_resp(struct hvctl_conn *c, uint32_t id, Hvdp__Response **out)
{
	uint8_t *buf = malloc(HVD_MAX_ADMIN_MESSAGE);
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	struct iovec iov = { .iov_base = buf, .iov_len = HVD_MAX_ADMIN_MESSAGE };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int r = HVCTL_EXIT_UNREACHABLE;
	ssize_t n;
	int err;

	if (!buf) {
		conn_err(c, "out of memory");
		return HVCTL_EXIT_FAILED;
	}
	do
		n = poll(&p, 1, HVCTL_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		conn_err(c, "hvd at %s did not answer in %d s — it is stuck or "
			 "overloaded; see its log", c->path, HVCTL_TIMEOUT_MS / 1000);
		goto out_buf;
	}
	do
		n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	err = errno;
	if (n < 0) {
		conn_err(c, "reading from hvd at %s: %s — see hvd's log", c->path,
			 strerror(err));
		goto out_buf;
	}
	if (n == 0) {
		conn_err(c, "hvd at %s closed the connection — it refused this "
			 "client or stopped; see its log", c->path);
		goto out_buf;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		conn_err(c, "hvd's reply is larger than %d bytes — hvd and hvctl "
			 "disagree on the protocol; use the hvctl that came with hvd",
			 HVD_MAX_ADMIN_MESSAGE);
		goto out_buf;
	}
	*out = hvdp__response__unpack(NULL, (size_t)n, buf);
	if (!*out) {
		conn_err(c, "hvd's reply does not decode — hvd and hvctl disagree "
			 "on the protocol; use the hvctl that came with hvd");
		goto out_buf;
	}
	if ((*out)->id != id) {
		conn_err(c, "hvd answered request %u, expected %u — protocol "
			 "error; use the hvctl that came with hvd", (*out)->id, id);
		hvdp__response__free_unpacked(*out, NULL);
		*out = NULL;
		goto out_buf;
	}
	r = HVCTL_EXIT_OK;
out_buf:
	free(buf);
	return r;
}

int hvctl_call(struct hvctl_conn *c, Hvdp__Request *req, Hvdp__Response **resp)
{
	return hvctl_call_fd(c, req, -1, resp);
}

int hvctl_call_fd(struct hvctl_conn *c, Hvdp__Request *req, int fd, Hvdp__Response **resp)
{
	int r;

	*resp = NULL;
	req->id = c->next_id++;
	if ((r = send_req(c, req, fd)) != HVCTL_EXIT_OK)
		return r;
	return recv_resp(c, req->id, resp);
}

int hvctl_open(const struct hvctl *ctx, const char *cmd, struct hvctl_conn *c, int quiet)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;
	Hvdp__Response *resp;
	int r, err;

	c->fd = -1;
	c->next_id = 1;
	c->path = hvctl_socket_path(ctx);
	c->cmd = cmd;
	c->quiet = quiet;
	if (strlen(c->path) >= sizeof(addr.sun_path)) {
		conn_err(c, "socket path %s is longer than %zu bytes — use a "
			 "shorter path", c->path, sizeof(addr.sun_path) - 1);
		return HVCTL_EXIT_UNREACHABLE;
	}
	strcpy(addr.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = errno;
		conn_err(c, "socket: %s", strerror(err));
		return HVCTL_EXIT_UNREACHABLE;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		char msg[768];
		err = hvd_hint_connect_errno(errno, c->path);
		conn_err(c, "%s", hvd_hint_connect_msg(msg, sizeof(msg), c->path, err,
							HVD_HINT_HVCTL));
		goto out_fd;
	}

	hello.version = HVD_PROTOCOL_VERSION;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	r = hvctl_call(c, &req, &resp);
	if (r != HVCTL_EXIT_OK)
		goto out_fd;
	if (resp->hello && resp->hello->version != HVD_PROTOCOL_VERSION) {
		char msg[512];
		conn_err(c, "%s", hvd_hint_protocol_msg(msg, sizeof(msg), c->path,
							 resp->hello->version, HVD_PROTOCOL_VERSION,
							 HVD_HINT_HVCTL));
		hvdp__response__free_unpacked(resp, NULL);
		goto out_fd;
	}
	if (resp->status != HV_SUCCESS || !resp->hello) {
		/* hvd is there and said no: that is a failed operation, not an
		 * unreachable daemon. */
		if (!quiet)
			hvctl_report_status(cmd, resp, NULL);
		hvdp__response__free_unpacked(resp, NULL);
		close(c->fd);
		c->fd = -1;
		return HVCTL_EXIT_FAILED;
	}
	hvdp__response__free_unpacked(resp, NULL);
	return HVCTL_EXIT_OK;

out_fd:
	close(c->fd);
	c->fd = -1;
	return HVCTL_EXIT_UNREACHABLE;
}

void hvctl_close(struct hvctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void hvctl_report_status(const char *cmd, const Hvdp__Response *resp, const char *hint)
{
	const char *name = hvctl_status_name(resp->status);
	const char *why = resp->error && *resp->error ? resp->error : NULL;
	char num[16];

	if (!name) {
		snprintf(num, sizeof(num), "0x%08x", (unsigned)resp->status);
		name = num;
	}
	if (!why)
		why = hvd_hint_status_why(resp->status);
	if (resp->status == HV_BAD_ARGUMENT && hint)
		;
	else if (hvd_hint_status_fix(resp->status, HVD_HINT_HVCTL))
		hint = hvd_hint_status_fix(resp->status, HVD_HINT_HVCTL);
	else if (!hint)
		hint = "see hvd's log";
	hvctl_err(cmd, "%s: %s — %s", name, why, hint);
}

int hvctl_admin(const struct hvctl *ctx, const char *cmd, Hvdp__Request *req,
		const char *hint, Hvdp__Response **resp)
{
	return hvctl_admin_fd(ctx, cmd, req, -1, hint, resp);
}

int hvctl_admin_fd(const struct hvctl *ctx, const char *cmd, Hvdp__Request *req, int fd,
		   const char *hint, Hvdp__Response **resp)
{
	struct hvctl_conn c;
	int r;

	*resp = NULL;
	if ((r = hvctl_open(ctx, cmd, &c, 0)) != HVCTL_EXIT_OK)
		return r;
	r = hvctl_call_fd(&c, req, fd, resp);
	hvctl_close(&c);
	if (r != HVCTL_EXIT_OK)
		return r;
	if ((*resp)->status != HV_SUCCESS) {
		hvctl_report_status(cmd, *resp, hint);
		hvdp__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return HVCTL_EXIT_FAILED;
	}
	return HVCTL_EXIT_OK;
}
