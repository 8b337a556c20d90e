/*
 * Clients that do not hold up their end of the conversation: connections
 * that never say Hello, sessions that set up a VM and then say nothing,
 * and clients that send request after request without reading a reply
 * (until hvd drops them, or a burst and then away). They speak the wire
 * protocol directly (protobuf-c), as a foreign client would.
 *
 * While they are there hvd must keep serving everyone else: a
 * well-behaved client completes checked guest runs while SILENT silent
 * connections are open and the flooders flood. When they have gone, hvd
 * must be back at its baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "chaos.h"
#include "hvd.pb-c.h"

/* proto/hvd_protocol.h; repeated so that this file depends on the wire
 * only, as a foreign client would. */
#define WIRE_VERSION 1
#define WIRE_MAX_MESSAGE 8192

#define SILENT 50          /* connections that never send Hello */
#define IDLE 5             /* sessions with a VM and a vCPU that go quiet */
#define FLOODERS 3
#define FLOOD_ROUNDS 20
/* A flooder gives up waiting to be dropped after this many requests. */
#define MAX_SENDS 200000
#define BURST 64           /* requests sent before a bursting client leaves */
#define GOOD_ROUNDS 20
#define GOOD_STEPS 50
/* See test_kill.c: glibc's arenas and cached thread stacks. */
#define MAPS_SLACK 14

static struct chaos_hvd hvd;

static void hvd_down(void)
{
	chaos_hvd_stop(&hvd);
}

/* The time limit is Criterion's --timeout (CMakeLists.txt). */
TestSuite(chaos, .fini = hvd_down);

/* ---- the raw client: runs in forked children, so no assertions ---- */

static int raw_connect(const char *sock)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static size_t raw_pack(Hvdp__Request *req, uint8_t *buf)
{
	return hvdp__request__pack(req, buf);
}

/* One request and its reply; the reply's descriptor (a run page) is
 * closed. Returns the status, or -1 if hvd did not answer. */
static int64_t raw_call(int fd, Hvdp__Request *req, uint32_t *vcpu)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct pollfd pf = { fd, POLLIN, 0 };

	size_t len = raw_pack(req, buf);
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	if (poll(&pf, 1, SYS_WAIT_MS) != 1)
		return -1;
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int one;
			memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(one);
		}
	}
	Hvdp__Response *resp = hvdp__response__unpack(NULL, (size_t)n, buf);
	if (!resp || resp->id != req->id) {
		if (resp)
			hvdp__response__free_unpacked(resp, NULL);
		return -1;
	}
	int64_t status = (uint32_t)resp->status;
	if (vcpu)
		*vcpu = resp->vcpu;
	hvdp__response__free_unpacked(resp, NULL);
	return status;
}

static int raw_hello(int fd)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;

	hello.version = WIRE_VERSION;
	req.id = 1;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	return raw_call(fd, &req, NULL) == HV_SUCCESS ? 0 : -1;
}

/* Hello, a VM and a vCPU; the vCPU's id in *vcpu. */
static int raw_session_with_vcpu(int fd, uint32_t *vcpu)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;
	Hvdp__VcpuCreate vc = HVDP__VCPU_CREATE__INIT;

	if (raw_hello(fd) < 0)
		return -1;
	req.id = 2;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	if (raw_call(fd, &req, NULL) != HV_SUCCESS)
		return -1;
	req.id = 3;
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &vc;
	return raw_call(fd, &req, vcpu) == HV_SUCCESS ? 0 : -1;
}

/* ---- the silent and idle sessions: one process holds them all ---- */

struct holder {
	const char *sock;
	int ready;          /* write end */
	int go;             /* read end: EOF lets the holder go */
	int close_fds[2];
};

static int holder_main(void *arg)
{
	struct holder *h = arg;
	int fds[SILENT + IDLE];
	uint32_t vcpu;
	char c = 'r';

	close(h->close_fds[0]);
	close(h->close_fds[1]);
	for (int i = 0; i < SILENT + IDLE; i++) {
		if ((fds[i] = raw_connect(h->sock)) < 0)
			return sys_fail(1, "connection %d: %s", i, strerror(errno));
		if (i >= SILENT && raw_session_with_vcpu(fds[i], &vcpu) < 0)
			return sys_fail(2, "idle session %d: no VM and vCPU", i - SILENT);
	}
	if (write(h->ready, &c, 1) != 1)
		return sys_fail(3, "write to the test: %s", strerror(errno));
	while (read(h->go, &c, 1) < 0 && errno == EINTR)
		;
	/* Leaving closes them all at once. */
	return 0;
}

/* ---- the flooders ---- */

struct flooder {
	const char *sock;
	uint64_t seed;
	int close_fds[2];
};

/* Sends requests without reading until hvd drops the session. Returns
 * the number sent, or -1 if hvd never dropped it. */
static long flood(int fd, uint32_t vcpu, bool with_vcpu, uint64_t *rng)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Capability cap = HVDP__CAPABILITY__INIT;
	Hvdp__VcpuExecTime et = HVDP__VCPU_EXEC_TIME__INIT;
	Hvdp__VcpuReg reg = HVDP__VCPU_REG__INIT;
	struct timeval tv = { 0, 100000 };
	uint8_t buf[256];

	/* Blocking sends, so that hvd reads every request and answers each
	 * until the replies nobody reads fill the socket. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cap.which = HV_CAP_VCPUMAX;
	et.vcpu = vcpu;
	reg.vcpu = vcpu;
	reg.reg = HV_X86_DR0;   /* lives in KVM: served on the vCPU thread */
	for (long sent = 0; sent < MAX_SENDS;) {
		req.id = (uint32_t)sent + 10;
		switch (with_vcpu ? chaos_below(rng, 3) : 0) {
		case 0:
			req.op_case = HVDP__REQUEST__OP_CAPABILITY;
			req.capability = &cap;
			break;
		case 1:
			req.op_case = HVDP__REQUEST__OP_VCPU_EXEC_TIME;
			req.vcpu_exec_time = &et;
			break;
		default:
			req.op_case = HVDP__REQUEST__OP_VCPU_REG;
			req.vcpu_reg = &reg;
			break;
		}
		size_t len = raw_pack(&req, buf);
		if (send(fd, buf, len, MSG_NOSIGNAL) >= 0) {
			sent++;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return sent;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd p = { fd, POLLRDHUP, 0 };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)))
			return sent;
	}
	return -1;
}

static int flooder_main(void *arg)
{
	struct flooder *f = arg;
	uint64_t rng = f->seed;
	uint8_t buf[256];

	close(f->close_fds[0]);
	close(f->close_fds[1]);
	for (int round = 0; round < FLOOD_ROUNDS; round++) {
		uint32_t vcpu = 0;
		bool with_vcpu = chaos_below(&rng, 2);
		int fd = raw_connect(f->sock);

		if (fd < 0)
			return sys_fail(10, "round %d: connect: %s", round, strerror(errno));
		if ((with_vcpu ? raw_session_with_vcpu(fd, &vcpu) : raw_hello(fd)) < 0)
			return sys_fail(11, "round %d: hvd refused the setup", round);
		if (chaos_below(&rng, 2)) {
			/* A burst, then away without reading any of it. */
			Hvdp__Request req = HVDP__REQUEST__INIT;
			Hvdp__VcpuExecTime et = HVDP__VCPU_EXEC_TIME__INIT;
			Hvdp__Capability cap = HVDP__CAPABILITY__INIT;
			et.vcpu = vcpu;
			cap.which = HV_CAP_VCPUMAX;
			for (int i = 0; i < BURST; i++) {
				req.id = (uint32_t)i + 10;
				if (with_vcpu && i % 2) {
					req.op_case = HVDP__REQUEST__OP_VCPU_EXEC_TIME;
					req.vcpu_exec_time = &et;
				} else {
					req.op_case = HVDP__REQUEST__OP_CAPABILITY;
					req.capability = &cap;
				}
				size_t len = raw_pack(&req, buf);
				if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
					return sys_fail(12, "round %d: send: %s", round,
							strerror(errno));
			}
		} else if (flood(fd, vcpu, with_vcpu, &rng) < 0) {
			return sys_fail(13, "round %d: hvd kept a client that sent %d requests "
					"without reading a reply", round, MAX_SENDS);
		}
		close(fd);
	}
	return 0;
}

/* ---- the test ---- */

Test(chaos, silent_and_unread_clients_do_not_stall_hvd)
{
	uint64_t seed = chaos_seed("chaos.silent", 0xc4a05eed0003ull);
	struct chaos_counts fresh, base, now;
	struct chaos_status st;
	struct holder h;
	struct flooder f[FLOODERS];
	pid_t holder, flooders[FLOODERS];
	int ready[2], go[2];
	char why[512], c;

	chaos_hvd_start(&hvd);
	chaos_counts_read(&hvd, &fresh);
	chaos_quota_probe(&hvd);
	chaos_expect_baseline(&hvd, &fresh, 1 << 20, "the warm-up");
	chaos_counts_read(&hvd, &base);

	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	h = (struct holder){ hvd.sys.sock, ready[1], go[0], { ready[0], go[1] } };
	holder = sys_spawn(holder_main, &h);
	cr_assert_gt(holder, 0, "fork: %s", strerror(errno));
	close(ready[1]);
	close(go[0]);
	struct pollfd pf = { ready[0], POLLIN, 0 };
	cr_assert(poll(&pf, 1, SYS_WAIT_MS) == 1 && read(ready[0], &c, 1) == 1,
		  "the silent connections could not be opened (see the message above)");
	/* hvd has accepted every one of them. */
	for (long long end = sys_now_ms() + SYS_WAIT_MS;; sys_sleep_ms(10)) {
		chaos_counts_read(&hvd, &now);
		if (now.fds >= base.fds + SILENT + IDLE)
			break;
		cr_assert_lt(sys_now_ms(), end, "hvd holds %d fds with %d connections open, "
			     "expected at least %d", now.fds, SILENT + IDLE,
			     base.fds + SILENT + IDLE);
	}

	for (int i = 0; i < FLOODERS; i++) {
		f[i] = (struct flooder){ hvd.sys.sock, seed + 977u * (uint64_t)i,
					 { ready[0], go[1] } };
		flooders[i] = sys_spawn(flooder_main, &f[i]);
		cr_assert_gt(flooders[i], 0, "fork: %s", strerror(errno));
	}

	/* Everyone else is still served: an administrator, and a client
	 * checking every value its guest computes. */
	cr_assert(chaos_status_read(&hvd, &st, why, sizeof(why)), "%s", why);
	cr_assert_geq(st.clients, SILENT + IDLE + 1,
		      "hvctl status counts %lld clients with %d connections open",
		      st.clients, SILENT + IDLE);
	cr_assert_geq(st.vms, IDLE);
	chaos_expect_good_client(&hvd, 0x5eed3, GOOD_ROUNDS, GOOD_STEPS,
				 "a well-behaved client next to silent and flooding ones");
	cr_assert(sys_hvd_alive(&hvd.sys), "hvd died");

	for (int i = 0; i < FLOODERS; i++)
		sys_expect_child_ok(flooders[i], "a flooding client");
	/* The silent ones are still there: still served after the flood. */
	chaos_expect_good_client(&hvd, 0x5eed4, 3, GOOD_STEPS,
				 "a well-behaved client after the flood");
	close(go[1]);
	sys_expect_child_ok(holder, "the holder of the silent connections");
	close(ready[0]);

	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the silent and flooding clients left");
	chaos_expect_good_client(&hvd, 0x600d, 3, 30, "a fresh client afterwards");
	chaos_expect_baseline(&hvd, &base, MAPS_SLACK, "the fresh client");
	chaos_hvd_expect_clean_stop(&hvd);
}
