/*
 * Hostile clients that speak to hvd's socket directly, without
 * libhvclient: garbage, truncated and oversized packets, requests before
 * Hello, descriptors where none belong, guest memory hvd must not accept,
 * and clients that vanish mid-request.
 *
 * After each, hvd must still run, hold exactly the descriptors and threads
 * it held before (a descriptor passed with SCM_RIGHTS and dropped without a
 * close would show up there), keep serving a bystander session that was
 * open all along, and serve a new well-behaved client running a guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <criterion/criterion.h>

#include "hvd.pb-c.h"
/* The run page's layout (the shared-memory half of the wire) and the pure
 * VMCS accessors on its state, for the test that runs a vCPU raw. */
#include "hvd_protocol.h"
#include "sys_client.h"
#include "sys_hvd.h"

/* proto/hvd_protocol.h; repeated so that this file depends on the wire
 * only, as a foreign client would. */
#define WIRE_VERSION 1
#define WIRE_MAX_MESSAGE 8192

static struct sys_hvd hvd;
static int base_fds, base_threads;
static int bystander = -1;
static int with_fds, with_threads;

/* ---- the raw client ---- */

static int raw_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	strcpy(addr.sun_path, hvd.sock);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0,
	    "connect to hvd: %s", strerror(errno));
	return fd;
}

/* Sends one packet with `nfds` descriptors attached. */
static void raw_send_bytes(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	cr_assert_leq(nfds, 16);
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	cr_assert_eq(sendmsg(fd, &msg, MSG_NOSIGNAL), (ssize_t)len, "sendmsg: %s",
	    strerror(errno));
}

static void raw_send(int fd, const Hvdp__Request *req, const int *fds, int nfds)
{
	size_t len = hvdp__request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);

	cr_assert_not_null(buf);
	hvdp__request__pack(req, buf);
	raw_send_bytes(fd, buf, len, fds, nfds);
	free(buf);
}

/* Receives the reply to request `id`; a descriptor that comes with it goes
 * to *rfd (or is closed). Fails the test if hvd closes the session or does
 * not answer within SYS_WAIT_MS. */
static Hvdp__Response *raw_recv(int fd, uint32_t id, int *rfd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	uint8_t buf[WIRE_MAX_MESSAGE];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct pollfd p = { fd, POLLIN, 0 };

	if (rfd)
		*rfd = -1;
	cr_assert_eq(poll(&p, 1, SYS_WAIT_MS), 1, "hvd did not answer request %u", id);
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	cr_assert_gt(n, 0, "hvd closed the session instead of answering request %u (%s)",
	    id, n < 0 ? strerror(errno) : "EOF");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int one;
			memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rfd && *rfd < 0)
				*rfd = one;
			else
				close(one);
		}
	}
	Hvdp__Response *resp = hvdp__response__unpack(NULL, (size_t)n, buf);
	cr_assert_not_null(resp, "hvd sent an undecodable reply");
	cr_assert_eq(resp->id, id, "reply to request %u carries id %u", id, resp->id);
	return resp;
}

/* One request, one reply: returns the status. */
static int32_t raw_call(int fd, Hvdp__Request *req, const int *fds, int nfds)
{
	static uint32_t next_id = 100;

	req->id = ++next_id;
	raw_send(fd, req, fds, nfds);
	Hvdp__Response *resp = raw_recv(fd, req->id, NULL);
	int32_t status = resp->status;
	hvdp__response__free_unpacked(resp, NULL);
	return status;
}

static void raw_hello(int fd)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;

	hello.version = WIRE_VERSION;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	cr_assert_eq(raw_call(fd, &req, NULL, 0), HV_SUCCESS, "Hello was refused");
}

static void raw_vm_create(int fd)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;

	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	cr_assert_eq(raw_call(fd, &req, NULL, 0), HV_SUCCESS, "VmCreate failed");
}

static int32_t raw_vm_map(int fd, uint64_t gpa, uint64_t size, uint64_t offset, int mem)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmMap map = HVDP__VM_MAP__INIT;

	map.gpa = gpa;
	map.size = size;
	map.offset = offset;
	map.flags = HV_MEMORY_READ | HV_MEMORY_WRITE;
	req.op_case = HVDP__REQUEST__OP_VM_MAP;
	req.vm_map = &map;
	return raw_call(fd, &req, &mem, mem >= 0 ? 1 : 0);
}

/* Capability needs no VM: the cheapest proof that a session is served. */
static void raw_expect_served(int fd, const char *who)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Capability cap = HVDP__CAPABILITY__INIT;

	cap.which = HV_CAP_VCPUMAX;
	req.op_case = HVDP__REQUEST__OP_CAPABILITY;
	req.capability = &cap;
	req.id = 7;
	raw_send(fd, &req, NULL, 0);
	Hvdp__Response *resp = raw_recv(fd, 7, NULL);
	cr_assert_eq(resp->status, HV_SUCCESS, "%s: Capability failed", who);
	cr_assert_gt(resp->value, 0, "%s: no vCPUs", who);
	hvdp__response__free_unpacked(resp, NULL);
}

/* hvd ended the session: the socket reads EOF (or a reset) without a
 * reply first. */
static void raw_expect_closed(int fd, const char *why)
{
	struct pollfd p = { fd, POLLIN | POLLRDHUP, 0 };
	char buf[WIRE_MAX_MESSAGE];

	cr_assert_eq(poll(&p, 1, SYS_WAIT_MS), 1, "hvd kept the session after %s", why);
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	cr_assert(n == 0 || (n < 0 && errno == ECONNRESET),
	    "after %s hvd answered (%zd bytes) instead of closing the session", why, n);
}

/* A pipe whose write end goes to hvd: once every copy of it is closed,
 * the read end reports POLLHUP. That tells whether hvd let go of a
 * descriptor it was sent, however it was sent. */
struct probe {
	int rd, wr;
};

static struct probe probe_new(void)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	return (struct probe){ p[0], p[1] };
}

/* Drops the test's own copy of the write end and waits for hvd's. */
static void probe_expect_released(struct probe *pr, const char *what)
{
	struct pollfd p = { pr->rd, POLLIN, 0 };

	if (pr->wr >= 0)
		close(pr->wr);
	pr->wr = -1;
	cr_assert_eq(poll(&p, 1, SYS_WAIT_MS), 1, "hvd still holds %s", what);
	cr_assert(p.revents & POLLHUP, "hvd still holds %s", what);
	close(pr->rd);
}

static int memfd_sized(size_t size, unsigned seals)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0, "memfd_create: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (seals)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0, "F_ADD_SEALS: %s",
		    strerror(errno));
	return fd;
}

/* ---- per test: hvd, a bystander, and the checks afterwards ---- */

static void hvd_up(void)
{
	sys_hvd_start(&hvd);
	base_fds = sys_hvd_fds(&hvd);
	base_threads = sys_hvd_threads(&hvd);
	/* A session with a VM that stays open through the hostile act. */
	bystander = raw_connect();
	raw_hello(bystander);
	raw_vm_create(bystander);
	sys_hvd_steady(&hvd, &with_fds, &with_threads);
}

static void hvd_down(void)
{
	if (bystander >= 0)
		close(bystander);
	bystander = -1;
	sys_hvd_stop(&hvd);
}

static int good_client_main(void *arg)
{
	(void)arg;
	return sys_client_lcg(0x5eed, 3, 20);
}

/* hvd survived the hostile session, released all of it, still serves the
 * bystander, and serves a new client running a guest. */
static void expect_hvd_unharmed(void)
{
	int fds, threads;

	cr_assert(sys_hvd_alive(&hvd), "hvd died");
	cr_assert(sys_hvd_settles(&hvd, with_fds, with_threads, &fds, &threads),
	    "hvd holds %d fds and %d threads after the hostile session, expected %d and %d",
	    fds, threads, with_fds, with_threads);
	raw_expect_served(bystander, "the bystander session");
	sys_expect_child_ok(sys_spawn(good_client_main, NULL), "a well-behaved client");
	close(bystander);
	bystander = -1;
	cr_assert(sys_hvd_settles(&hvd, base_fds, base_threads, &fds, &threads),
	    "hvd holds %d fds and %d threads after every client left, expected %d and %d",
	    fds, threads, base_fds, base_threads);
	cr_assert(sys_hvd_alive(&hvd), "hvd died");
}

/* Each test's time limit is Criterion's --timeout, set in CMakeLists.txt
 * (and scaled by the tool scripts). */
TestSuite(hostile, .init = hvd_up, .fini = hvd_down);

/* ---- malformed packets ---- */

Test(hostile, garbage_bytes_end_only_that_session)
{
	uint8_t junk[300];
	int fd = raw_connect();

	raw_hello(fd);
	/* 0xff never ends a varint: no protobuf decoder can accept this. */
	memset(junk, 0xff, sizeof(junk));
	raw_send_bytes(fd, junk, sizeof(junk), NULL, 0);
	raw_expect_closed(fd, "garbage bytes");
	close(fd);
	expect_hvd_unharmed();
}

Test(hostile, garbage_instead_of_hello_ends_the_session)
{
	/* Bytes that start like a Request (field 1, varint) and then lie
	 * about a length. */
	static const uint8_t junk[] = { 0x08, 0x01, 0x52, 0x7f, 0x08 };
	int fd = raw_connect();

	raw_send_bytes(fd, junk, sizeof(junk), NULL, 0);
	raw_expect_closed(fd, "garbage before Hello");
	close(fd);
	expect_hvd_unharmed();
}

Test(hostile, truncated_request_ends_only_that_session)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmMap map = HVDP__VM_MAP__INIT;
	uint8_t buf[128];
	int fd = raw_connect();

	raw_hello(fd);
	raw_vm_create(fd);
	map.gpa = 0x100000;
	map.size = 0x200000;
	map.flags = HV_MEMORY_READ;
	map.offset = 0x1000;
	req.id = 9;
	req.op_case = HVDP__REQUEST__OP_VM_MAP;
	req.vm_map = &map;
	size_t len = hvdp__request__get_packed_size(&req);
	cr_assert_leq(len, sizeof(buf));
	hvdp__request__pack(&req, buf);
	/* Cut inside the VmMap: its length prefix promises more than
	 * follows. Make sure this really is undecodable. */
	size_t cut = len - 3;
	Hvdp__Request *check = hvdp__request__unpack(NULL, cut, buf);
	cr_assert_null(check, "the truncated request still decodes");
	raw_send_bytes(fd, buf, cut, NULL, 0);
	raw_expect_closed(fd, "a truncated request");
	close(fd);
	expect_hvd_unharmed();
}

/* A well-formed Request that is simply too big: the size limit, not the
 * decoder, must catch it. */
Test(hostile, oversized_packet_ends_only_that_session)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VcpuFpstate fp = HVDP__VCPU_FPSTATE__INIT;
	static uint8_t data[WIRE_MAX_MESSAGE + 800];
	int fd = raw_connect();

	raw_hello(fd);
	raw_vm_create(fd);
	memset(data, 0x5a, sizeof(data));
	fp.write = 1;
	fp.data.data = data;
	fp.data.len = sizeof(data);
	req.id = 11;
	req.op_case = HVDP__REQUEST__OP_VCPU_FPSTATE;
	req.vcpu_fpstate = &fp;
	cr_assert_gt(hvdp__request__get_packed_size(&req), WIRE_MAX_MESSAGE);
	raw_send(fd, &req, NULL, 0);
	raw_expect_closed(fd, "an oversized packet");
	close(fd);
	expect_hvd_unharmed();
}

Test(hostile, oversized_garbage_with_descriptors_releases_them)
{
	static uint8_t junk[WIRE_MAX_MESSAGE + 1];
	struct probe pr = probe_new();
	int fd = raw_connect();

	raw_hello(fd);
	memset(junk, 0xff, sizeof(junk));
	raw_send_bytes(fd, junk, sizeof(junk), &pr.wr, 1);
	raw_expect_closed(fd, "an oversized packet carrying a descriptor");
	close(fd);
	probe_expect_released(&pr, "the descriptor of an oversized packet");
	expect_hvd_unharmed();
}

/* ---- the handshake ---- */

Test(hostile, request_before_hello_ends_the_session)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;
	int fd = raw_connect();

	req.id = 1;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	raw_send(fd, &req, NULL, 0);
	raw_expect_closed(fd, "VmCreate before Hello");
	close(fd);
	expect_hvd_unharmed();
}

/* A refused Hello ends the session once the client has the reason: a
 * request after it finds the connection closed (or cannot be sent). */
Test(hostile, request_after_a_refused_hello_ends_the_session)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;
	int fd = raw_connect();

	hello.version = WIRE_VERSION + 1000;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	cr_assert_eq(raw_call(fd, &req, NULL, 0), HV_UNSUPPORTED,
	    "hvd accepted a protocol version it does not speak");
	req = (Hvdp__Request)HVDP__REQUEST__INIT;
	req.id = 2;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	uint8_t buf[64];
	size_t len = hvdp__request__pack(&req, buf);
	if (send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len)
		raw_expect_closed(fd, "VmCreate after a refused Hello");
	else
		cr_assert(errno == EPIPE || errno == ECONNRESET, "send: %s", strerror(errno));
	close(fd);
	expect_hvd_unharmed();
}

/* ---- descriptors ---- */

/* The protocol allows one descriptor per packet: more ends the session,
 * and hvd closes every one it received. */
Test(hostile, three_descriptors_end_the_session_and_are_released)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;
	struct probe pr[3] = { probe_new(), probe_new(), probe_new() };
	int fds[3] = { pr[0].wr, pr[1].wr, pr[2].wr };
	int fd = raw_connect();

	raw_hello(fd);
	req.id = 3;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	raw_send(fd, &req, fds, 3);
	raw_expect_closed(fd, "a request with three descriptors");
	close(fd);
	for (int i = 0; i < 3; i++)
		probe_expect_released(&pr[i], "a descriptor of a three-descriptor packet");
	expect_hvd_unharmed();
}

/* More descriptors than hvd's control buffer holds: the kernel truncates
 * the control data and must not leave the rest installed in hvd. */
Test(hostile, many_descriptors_on_a_vm_map_are_released)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VmMap map = HVDP__VM_MAP__INIT;
	struct probe pr[12];
	int fds[12];
	int fd = raw_connect();

	for (int i = 0; i < 12; i++) {
		pr[i] = probe_new();
		fds[i] = pr[i].wr;
	}
	raw_hello(fd);
	raw_vm_create(fd);
	map.size = 0x1000;
	map.flags = HV_MEMORY_READ;
	req.id = 4;
	req.op_case = HVDP__REQUEST__OP_VM_MAP;
	req.vm_map = &map;
	raw_send(fd, &req, fds, 12);
	raw_expect_closed(fd, "a VmMap with twelve descriptors");
	close(fd);
	for (int i = 0; i < 12; i++)
		probe_expect_released(&pr[i], "a descriptor of a twelve-descriptor packet");
	expect_hvd_unharmed();
}

Test(hostile, vm_map_of_a_pipe_is_refused)
{
	struct probe pr = probe_new();
	int fd = raw_connect();

	raw_hello(fd);
	raw_vm_create(fd);
	int32_t status = raw_vm_map(fd, 0, 0x1000, 0, pr.wr);
	cr_assert_neq(status, HV_SUCCESS, "hvd mapped a pipe as guest memory");
	cr_assert_eq(status, HV_BAD_ARGUMENT, "VmMap of a pipe: status %#x",
	    (unsigned)status);
	probe_expect_released(&pr, "the refused pipe");
	/* Refusing a request is not a reason to drop the session. */
	raw_expect_served(fd, "the session after the refused VmMap");
	close(fd);
	expect_hvd_unharmed();
}

/* Guest memory that the client could shrink under hvd would fault hvd's
 * own accesses: only memfds sealed against shrinking and growing are
 * accepted. */
Test(hostile, vm_map_of_an_unsealed_memfd_is_refused)
{
	int fd = raw_connect();
	int unsealed = memfd_sized(0x4000, 0);
	int grow_only = memfd_sized(0x4000, F_SEAL_GROW);
	int shrink_only = memfd_sized(0x4000, F_SEAL_SHRINK);
	int sealed = memfd_sized(0x4000, F_SEAL_SHRINK | F_SEAL_GROW);

	raw_hello(fd);
	raw_vm_create(fd);
	int before, threads;
	sys_hvd_steady(&hvd, &before, &threads); /* the pool's new worker in */

	int32_t status = raw_vm_map(fd, 0, 0x4000, 0, unsealed);
	cr_assert_eq(status, HV_BAD_ARGUMENT, "VmMap of an unsealed memfd: status %#x",
	    (unsigned)status);
	status = raw_vm_map(fd, 0, 0x4000, 0, grow_only);
	cr_assert_eq(status, HV_BAD_ARGUMENT,
	    "VmMap of a memfd sealed only against growing: status %#x", (unsigned)status);
	status = raw_vm_map(fd, 0, 0x4000, 0, shrink_only);
	cr_assert_eq(status, HV_BAD_ARGUMENT,
	    "VmMap of a memfd sealed only against shrinking: status %#x", (unsigned)status);
	/* The reply comes after hvd dealt with the descriptor. */
	cr_assert_eq(sys_hvd_fds(&hvd), before,
	    "hvd kept a refused memfd open");

	/* The same request with both seals is accepted: the refusals above
	 * were about the seals. */
	status = raw_vm_map(fd, 0, 0x4000, 0, sealed);
	cr_assert_eq(status, HV_SUCCESS, "VmMap of a sealed memfd: status %#x",
	    (unsigned)status);
	close(unsealed);
	close(grow_only);
	close(shrink_only);
	close(sealed);
	close(fd);
	expect_hvd_unharmed();
}

/* hvd must not map past the end of the memfd either. */
Test(hostile, vm_map_beyond_the_memfd_is_refused)
{
	int fd = raw_connect();
	int small = memfd_sized(0x2000, F_SEAL_SHRINK | F_SEAL_GROW);

	raw_hello(fd);
	raw_vm_create(fd);
	int32_t status = raw_vm_map(fd, 0, 0x4000, 0, small);
	cr_assert_eq(status, HV_BAD_ARGUMENT, "VmMap past the end: status %#x",
	    (unsigned)status);
	status = raw_vm_map(fd, 0, 0x2000, 0x1000, small);
	cr_assert_eq(status, HV_BAD_ARGUMENT, "VmMap of offset+size past the end: status %#x",
	    (unsigned)status);
	status = raw_vm_map(fd, 0, 0x1000, UINT64_MAX & ~0xfffull, small);
	cr_assert_eq(status, HV_BAD_ARGUMENT, "VmMap with a wrapping offset: status %#x",
	    (unsigned)status);
	close(small);
	raw_expect_served(fd, "the session after the refused VmMaps");
	close(fd);
	expect_hvd_unharmed();
}

/* ---- guest memory hvd could fault on ---- */

/* Why hvd is gone, once it is: reaps it (sys_hvd_stop copes) and says how
 * it ended. */
static const char *hvd_death(void)
{
	static char why[96];
	int st;

	if (hvd.pid <= 0 || waitpid(hvd.pid, &st, WNOHANG) != hvd.pid)
		return "state unknown";
	hvd.status = st;
	hvd.pid = -1;
	if (WIFSIGNALED(st))
		snprintf(why, sizeof(why), "killed by signal %d, %s", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(st));
	return why;
}

/* VcpuCreate on a raw session: the vCPU's run page, mapped. */
static struct hvd_run_page *raw_vcpu_create(int fd, size_t *size)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VcpuCreate vc = HVDP__VCPU_CREATE__INIT;
	int page_fd;

	req.id = 60;
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &vc;
	raw_send(fd, &req, NULL, 0);
	Hvdp__Response *resp = raw_recv(fd, 60, &page_fd);
	cr_assert_eq(resp->status, HV_SUCCESS, "VcpuCreate failed: %#x", (unsigned)resp->status);
	cr_assert_geq(page_fd, 0, "VcpuCreate came without its run page");
	hvdp__response__free_unpacked(resp, NULL);
	*size = (sizeof(struct hvd_run_page) + 4095) & ~(size_t)4095;
	struct hvd_run_page *page = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    page_fd, 0);
	close(page_fd);
	cr_assert_neq(page, MAP_FAILED, "mmap of the run page: %s", strerror(errno));
	cr_assert_eq(page->magic, HVD_RUN_PAGE_MAGIC, "not a run page");
	return page;
}

static void state_vmcs(struct hvs_state *st, uint32_t field, uint64_t value)
{
	cr_assert_eq(hvs_write_vmcs(st, field, value), 0, "VMCS field %#x = %#llx",
	    field, (unsigned long long)value);
}

static uint64_t ctrl_of(unsigned cap, uint64_t want)
{
	uint64_t v;

	cr_assert_eq(hvs_caps_read(cap, &v), 0);
	return (want | (v & 0xffffffffull)) & (v >> 32);
}

/* A real-mode vCPU as the system clients set one up (sys_client.c), at
 * 0000:1000, its IDTR at `ivt`. */
static void raw_real_mode(struct hvs_state *st, uint64_t ivt)
{
	static const uint32_t segs[][4] = {
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};
	const struct { uint32_t field; uint64_t value; } rest[] = {
		{ VMCS_CTRL_PIN_BASED, ctrl_of(HV_VMX_CAP_PINBASED, 0) },
		{ VMCS_CTRL_CPU_BASED, ctrl_of(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT |
		    CPU_BASED_UNCOND_IO | CPU_BASED_SECONDARY_CTLS) },
		{ VMCS_CTRL_CPU_BASED2, ctrl_of(HV_VMX_CAP_PROCBASED2, CPU_BASED2_UNRESTRICTED) },
		{ VMCS_CTRL_VMENTRY_CONTROLS, ctrl_of(HV_VMX_CAP_ENTRY, VMENTRY_LOAD_EFER) },
		{ VMCS_CTRL_EXC_BITMAP, 0 },
		{ VMCS_GUEST_LDTR_AR, 0x10000 },
		{ VMCS_GUEST_TR_AR, 0x83 },
		{ VMCS_GUEST_IDTR_BASE, ivt },
		{ VMCS_GUEST_IDTR_LIMIT, 0x3ff },
		{ VMCS_GUEST_CR0, 0x30 },
		{ VMCS_GUEST_CR4, 0x2000 },
		{ VMCS_GUEST_IA32_EFER, 0 },
		{ VMCS_GUEST_RFLAGS, 0x2 },
		{ VMCS_GUEST_RSP, 0xf000 },
		{ VMCS_GUEST_RIP, 0x1000 },
	};

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		state_vmcs(st, segs[i][0], 0);
		state_vmcs(st, segs[i][1], 0);
		state_vmcs(st, segs[i][2], 0xffff);
		state_vmcs(st, segs[i][3], segs[i][0] == VMCS_GUEST_CS ? 0x9b : 0x93);
	}
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		state_vmcs(st, rest[i].field, rest[i].value);
}

/* One hv_vcpu_run by hand on the run page (hvd_runpage_client_run's steps).
 * false if hvd never answered: it died, or took longer than SYS_WAIT_MS. */
static bool raw_run(struct hvd_run_page *page, int32_t *result)
{
	uint32_t seq = atomic_load(&page->done_seq) + 1;
	long long end = sys_now_ms() + SYS_WAIT_MS;

	atomic_store(&page->req_seq, seq);
	syscall(SYS_futex, &page->req_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	while (atomic_load(&page->done_seq) != seq) {
		struct timespec ts = { 0, 10 * 1000000l };
		if (!sys_hvd_alive(&hvd) || sys_now_ms() > end)
			return false;
		atomic_store(&page->client_sleeping, 1);
		uint32_t cur = atomic_load(&page->done_seq);
		if (cur != seq)
			syscall(SYS_futex, &page->done_seq, FUTEX_WAIT, cur, &ts, NULL, 0);
		atomic_store(&page->client_sleeping, 0);
	}
	*result = page->result;
	return true;
}

/*
 * A memfd on hugetlbfs, sealed against shrinking and growing, passes a
 * check on the seals alone. hvd maps it MAP_NORESERVE, so the mapping
 * succeeds even when the host has no huge page to give; the first touch
 * of it then raises SIGBUS. KVM's own accesses only fail KVM_RUN (EFAULT),
 * but hvd reads guest memory itself: here the real-mode IVT entry of an
 * event injected at VM entry. hvd must refuse such memory (only shmem is
 * accepted) and, whatever it maps, its reads must fail the run, never
 * kill hvd with every tenant's VMs.
 *
 * The attack needs no free huge page on the host (nr_hugepages 0, as on
 * a default host); with free ones it cannot fault, and the test still
 * checks that the memfd is refused.
 */
Test(hostile, vm_map_of_a_hugetlb_memfd_is_refused_and_hvd_survives_its_use)
{
	const uint64_t huge = 2u << 20, huge_gpa = 0x200000;
	int mem = memfd_create("hostile-huge", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);

	if (mem < 0)
		cr_skip_test("no hugetlbfs memfds on this host: %s", strerror(errno));
	cr_assert_eq(ftruncate(mem, (off_t)huge), 0, "ftruncate: %s", strerror(errno));
	cr_assert_eq(fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0,
	    "F_ADD_SEALS on a hugetlb memfd: %s", strerror(errno));
	/* Ordinary RAM at GPA 0 with a HLT at 0000:1000. */
	int ram = memfd_sized(0x10000, F_SEAL_SHRINK | F_SEAL_GROW);
	static const uint8_t hlt = 0xf4;
	cr_assert_eq(pwrite(ram, &hlt, 1, 0x1000), 1);

	int fd = raw_connect();
	raw_hello(fd);
	raw_vm_create(fd);
	cr_assert_eq(raw_vm_map(fd, 0, 0x10000, 0, ram), HV_SUCCESS, "VmMap of plain RAM");
	close(ram);
	int32_t map_status = raw_vm_map(fd, huge_gpa, huge, 0, mem);
	close(mem);

	/* A real-mode vCPU whose IVT is in the hugetlb memory. The first run
	 * only reaches the HLT (the backend takes over the IDTR then); the
	 * second injects an external interrupt at entry, which hvd delivers
	 * in software: it reads the IVT entry itself. */
	size_t page_size;
	struct hvd_run_page *page = raw_vcpu_create(fd, &page_size);
	raw_real_mode(&page->state, huge_gpa);
	int32_t result = HV_ERROR;
	bool answered = raw_run(page, &result);
	cr_assert(answered && result == HV_SUCCESS, "the first run (to the HLT) failed: %#x",
	    (unsigned)result);
	state_vmcs(&page->state, VMCS_CTRL_VMENTRY_IRQ_INFO, 0x80000020u);
	answered = raw_run(page, &result);

	cr_assert(sys_hvd_alive(&hvd),
	    "hvd died (%s) reading guest memory of a hugetlb memfd it had %s",
	    hvd_death(), map_status == HV_SUCCESS ? "accepted" : "refused");
	cr_assert(answered, "hvd did not answer the run within %d ms", SYS_WAIT_MS);
	cr_assert_eq(map_status, HV_BAD_ARGUMENT, "VmMap of a hugetlb memfd: status %#x",
	    (unsigned)map_status);
	/* No memory at the IVT: the run fails, an error of this vCPU only. */
	cr_assert_neq(result, HV_SUCCESS, "a run through an IVT in no memory succeeded");
	raw_expect_served(fd, "the session after the failed run");
	munmap(page, page_size);
	close(fd);
	expect_hvd_unharmed();
}

Test(hostile, descriptor_on_a_request_other_than_vm_map_is_refused)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Capability cap = HVDP__CAPABILITY__INIT;
	struct probe pr = probe_new();
	int fd = raw_connect();

	raw_hello(fd);
	cap.which = HV_CAP_VCPUMAX;
	req.op_case = HVDP__REQUEST__OP_CAPABILITY;
	req.capability = &cap;
	int32_t status = raw_call(fd, &req, &pr.wr, 1);
	cr_assert_eq(status, HV_BAD_ARGUMENT, "Capability with a descriptor: status %#x",
	    (unsigned)status);
	probe_expect_released(&pr, "the descriptor sent with Capability");
	raw_expect_served(fd, "the session after the refused request");
	close(fd);
	expect_hvd_unharmed();
}

/* ---- clients that vanish ---- */

/* Requests in flight when the client goes: hvd answers into a closed
 * socket, or finds it closed first. Either way nothing may stay. */
Test(hostile, disconnect_right_after_requests)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;
	Hvdp__VcpuCreate vc = HVDP__VCPU_CREATE__INIT;
	int fd = raw_connect();
	int mem = memfd_sized(0x10000, F_SEAL_SHRINK | F_SEAL_GROW);

	hello.version = WIRE_VERSION;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	raw_send(fd, &req, NULL, 0);
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	raw_send(fd, &req, NULL, 0);
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &vc;
	raw_send(fd, &req, NULL, 0);
	Hvdp__VmMap map = HVDP__VM_MAP__INIT;
	map.size = 0x10000;
	map.flags = HV_MEMORY_READ | HV_MEMORY_WRITE;
	req.op_case = HVDP__REQUEST__OP_VM_MAP;
	req.vm_map = &map;
	raw_send(fd, &req, &mem, 1);
	close(mem);
	close(fd);
	expect_hvd_unharmed();
}

/* The same requests, but the client only stops sending: hvd answers
 * them all (the VmMap takes the memfd), then sees the end of the stream
 * and must release the VM, the vCPU and the guest memory it was given. */
Test(hostile, half_closed_client_is_released_after_its_requests)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;
	Hvdp__VmCreate vm = HVDP__VM_CREATE__INIT;
	Hvdp__VcpuCreate vc = HVDP__VCPU_CREATE__INIT;
	Hvdp__VmMap map = HVDP__VM_MAP__INIT;
	int fd = raw_connect();
	int mem = memfd_sized(0x10000, F_SEAL_SHRINK | F_SEAL_GROW);

	hello.version = WIRE_VERSION;
	req.id = 1;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	raw_send(fd, &req, NULL, 0);
	req.id = 2;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vm;
	raw_send(fd, &req, NULL, 0);
	map.size = 0x10000;
	map.flags = HV_MEMORY_READ | HV_MEMORY_WRITE;
	req.id = 3;
	req.op_case = HVDP__REQUEST__OP_VM_MAP;
	req.vm_map = &map;
	raw_send(fd, &req, &mem, 1);
	close(mem);
	req.id = 4;
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &vc;
	raw_send(fd, &req, NULL, 0);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	for (uint32_t id = 1; id <= 4; id++) {
		int page;
		Hvdp__Response *resp = raw_recv(fd, id, &page);
		cr_assert_eq(resp->status, HV_SUCCESS, "request %u failed: %#x", id,
		    (unsigned)resp->status);
		hvdp__response__free_unpacked(resp, NULL);
		if (page >= 0)
			close(page);
	}
	raw_expect_closed(fd, "the end of the client's stream");
	close(fd);
	expect_hvd_unharmed();
}

/* A request that hvd forwards to a vCPU thread, whose reply comes back
 * through the loop after the client is gone. */
Test(hostile, disconnect_while_a_vcpu_request_is_in_flight)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__VcpuCreate vc = HVDP__VCPU_CREATE__INIT;
	Hvdp__VcpuExecTime et = HVDP__VCPU_EXEC_TIME__INIT;
	Hvdp__VcpuMsr msr = HVDP__VCPU_MSR__INIT;
	int page = -1;
	int fd = raw_connect();

	raw_hello(fd);
	raw_vm_create(fd);
	req.id = 50;
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &vc;
	raw_send(fd, &req, NULL, 0);
	Hvdp__Response *resp = raw_recv(fd, 50, &page);
	cr_assert_eq(resp->status, HV_SUCCESS, "VcpuCreate failed");
	cr_assert_geq(page, 0, "VcpuCreate came without its run page");
	et.vcpu = resp->vcpu;
	msr.vcpu = resp->vcpu;
	hvdp__response__free_unpacked(resp, NULL);
	close(page);

	msr.msr = 0x174; /* IA32_SYSENTER_CS */
	for (int i = 0; i < 8; i++) {
		req.op_case = HVDP__REQUEST__OP_VCPU_EXEC_TIME;
		req.vcpu_exec_time = &et;
		raw_send(fd, &req, NULL, 0);
		req.op_case = HVDP__REQUEST__OP_VCPU_MSR;
		req.vcpu_msr = &msr;
		raw_send(fd, &req, NULL, 0);
	}
	close(fd);
	expect_hvd_unharmed();
}

/* A client that sends and never reads fills its socket; hvd must drop it
 * rather than block its loop for everyone. */
Test(hostile, client_that_never_reads_replies_is_dropped)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Capability cap = HVDP__CAPABILITY__INIT;
	struct timeval tv = { 0, 100000 };
	uint8_t buf[64];
	int fd = raw_connect();
	bool dropped = false;

	raw_hello(fd);
	cap.which = HV_CAP_VCPUMAX;
	req.op_case = HVDP__REQUEST__OP_CAPABILITY;
	req.capability = &cap;
	size_t len = hvdp__request__get_packed_size(&req);
	hvdp__request__pack(&req, buf);
	/* Blocking sends, so that hvd reads every request and replies to
	 * each, until the unread replies exceed what the socket queues. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (long long end = sys_now_ms() + SYS_WAIT_MS; !dropped && sys_now_ms() < end;) {
		if (send(fd, buf, len, MSG_NOSIGNAL) >= 0)
			continue;
		cr_assert(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET,
		    "send: %s", strerror(errno));
		struct pollfd p = { fd, POLLRDHUP, 0 };
		dropped = errno != EAGAIN ||
		    (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)));
	}
	cr_assert(dropped, "hvd kept a client whose replies pile up");
	close(fd);
	expect_hvd_unharmed();
}

/* ---- the arm64 GIC calls sent to an x86 hvd ---- */

/* Each refused with HV_UNSUPPORTED; the memfd that came with a GIC state
 * write is released (expect_hvd_unharmed counts hvd's descriptors). */
Test(hostile, gic_calls_refused_by_an_x86_hvd)
{
	int fd = raw_connect();
	raw_hello(fd);
	raw_vm_create(fd);

	Hvdp__GicCreate create = HVDP__GIC_CREATE__INIT;
	Hvdp__GicSpi spi = HVDP__GIC_SPI__INIT;
	Hvdp__GicMsi msi = HVDP__GIC_MSI__INIT;
	Hvdp__GicReg reg = HVDP__GIC_REG__INIT;
	Hvdp__GicState state = HVDP__GIC_STATE__INIT;
	Hvdp__GicReset reset = HVDP__GIC_RESET__INIT;
	struct {
		Hvdp__Request__OpCase op;
		void *msg;
	} calls[] = {
		{ HVDP__REQUEST__OP_GIC_CREATE, &create }, { HVDP__REQUEST__OP_GIC_SPI, &spi },
		{ HVDP__REQUEST__OP_GIC_MSI, &msi },       { HVDP__REQUEST__OP_GIC_REG, &reg },
		{ HVDP__REQUEST__OP_GIC_STATE, &state },   { HVDP__REQUEST__OP_GIC_RESET, &reset },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		Hvdp__Request req = HVDP__REQUEST__INIT;
		req.op_case = calls[i].op;
		req.gic_create = calls[i].msg; /* the oneof's members share one slot */
		cr_expect_eq(raw_call(fd, &req, NULL, 0), HV_UNSUPPORTED, "GIC call %d", (int)calls[i].op);
	}
	state.write = true;
	state.size = 4096;
	int mem = memfd_sized(4096, F_SEAL_SHRINK | F_SEAL_GROW);
	Hvdp__Request req = HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_GIC_STATE;
	req.gic_state = &state;
	cr_expect_eq(raw_call(fd, &req, &mem, 1), HV_UNSUPPORTED, "a GIC state write");
	close(mem);
	close(fd);
	expect_hvd_unharmed();
}
