/*
 * Hostile clients of an arm64 hvd (run in the arm64 lab with hvd started:
 * scripts/lab.sh arm64 test). Each attack runs in a forked child, next to
 * or before a well-behaved client in another child; the test asserts that
 * hvd is still alive and that the good client's guest computed exactly
 * what it should, so nothing of another tenant was touched.
 *
 * The run page holds the vCPU's whole struct ha64_state (registers,
 * want/valid/dirty bits, the exit record). libhvclient keeps it to itself;
 * the attacker finds it as any code in the process could, the shared
 * mapping of "/memfd:hvd-run-page" in /proc/self/maps, and writes garbage
 * over it before and during runs. hvd copies the state once before it
 * looks (docs/protocol.md), so this may only hurt the attacker's own vCPU.
 * The raw-protocol attack sends the x86-only vCPU calls to an arm64 hvd,
 * which has no x86 ops table to call.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <Hypervisor/Hypervisor.h>

#include "hvd.pb-c.h"
#include "hvd_protocol.h"

#define RAM 0x10000ull
#define GOOD_ROUNDS 300

/* add x0, x0, #1; hvc #0; b .-8: every run is one HVC exit, X0 counting. */
static const uint32_t counter[] = { 0x91000400, 0xd4000002, 0x17fffffe };

static hv_vcpu_t vcpu;
static hv_vcpu_exit_t *vexit;

/* A VM with the counter guest at RAM and this thread's vCPU at its start.
 * In a child: any failure is the child's exit status. */
static int guest_up(void)
{
	void *ram;
	if (hv_vm_create(NULL) != HV_SUCCESS)
		return 10;
	if (hv_vm_allocate(&ram, 0x10000, HV_ALLOCATE_DEFAULT) != HV_SUCCESS)
		return 11;
	memcpy(ram, counter, sizeof(counter));
	if (hv_vm_map(ram, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) !=
	    HV_SUCCESS)
		return 12;
	if (hv_vcpu_create(&vcpu, &vexit, NULL) != HV_SUCCESS)
		return 13;
	if (hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM) != HV_SUCCESS ||
	    hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5) != HV_SUCCESS ||
	    hv_vcpu_set_reg(vcpu, HV_REG_X0, 0) != HV_SUCCESS)
		return 14;
	return 0;
}

/* The well-behaved tenant: every run an HVC exit with the right syndrome
 * and X0 one more than before. 0 when all were exact. */
static int good_client(int rounds)
{
	int r = guest_up();
	if (r)
		return r;
	for (int i = 1; i <= rounds; i++) {
		uint64_t x0 = 0;
		if (hv_vcpu_run(vcpu) != HV_SUCCESS)
			return 20;
		if (vexit->reason != HV_EXIT_REASON_EXCEPTION ||
		    vexit->exception.syndrome != 0x5a000000ull)
			return 21;
		if (hv_vcpu_get_reg(vcpu, HV_REG_X0, &x0) != HV_SUCCESS || x0 != (uint64_t)i)
			return 22;
	}
	return 0;
}

/* The run page's vCPU state, found the way any code in the process could. */
static hvd_run_state *find_state(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	void *page = NULL;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo;
		char perms[8];
		if (strstr(line, "/memfd:hvd-run-page") &&
		    sscanf(line, "%lx-%*x %7s", &lo, perms) == 2 && perms[1] == 'w')
			page = (void *)lo;
	}
	if (f)
		fclose(f);
	return page ? &((struct hvd_run_page *)page)->state : NULL;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void scribble(void *p, size_t n, uint64_t *seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)xorshift(seed);
}

/* A run the garbage sent somewhere that never exits must still end: kick
 * it after a while (hv_vcpus_exit, from this thread). */
static atomic_bool watch_stop;

static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&watch_stop)) {
		usleep(200000);
		hv_vcpus_exit(&vcpu, 1);
	}
	return NULL;
}

static pid_t child(int (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t p = fork();
	if (p == 0)
		_exit(fn(arg));
	cr_assert(p > 0, "fork: %s", strerror(errno));
	return p;
}

static int status_of(pid_t p)
{
	int st = 0;
	cr_assert(waitpid(p, &st, 0) == p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_good(void *arg)
{
	return good_client((int)(intptr_t)arg);
}

/* hvd answers a fresh client, whose guest computes exactly. */
static void assert_hvd_serves(const char *after)
{
	int st = status_of(child(run_good, (void *)(intptr_t)GOOD_ROUNDS));
	cr_assert_eq(st, 0, "after %s, a good client failed (status %d): hvd is gone or "
		     "its VM was disturbed", after, st);
}

/* ---- garbage over the whole state before each run ---- */

static int garbage_runs(void *arg)
{
	(void)arg;
	int r = guest_up();
	if (r)
		return r;
	hvd_run_state *st = find_state();
	if (!st)
		return 30;
	pthread_t w;
	pthread_create(&w, NULL, watchdog, NULL);
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned returned = 0;
	for (int i = 0; i < 200; i++) {
		scribble(st, sizeof(*st), &seed);
		hv_vcpu_run(vcpu); /* anything but a crash or a hang of hvd */
		returned++;
	}
	atomic_store(&watch_stop, true);
	pthread_join(w, NULL);
	return returned == 200 ? 0 : 31;
}

Test(hostile64, garbage_state_before_runs, .timeout = 240)
{
	int st = status_of(child(garbage_runs, NULL));
	cr_assert_eq(st, 0, "the attacker's 200 runs over garbage state did not all return "
		     "(status %d)", st);
	assert_hvd_serves("200 runs over garbage state");
}

/* ---- every register dirty with an all-ones value ---- */

static int dirty_all(void *arg)
{
	(void)arg;
	int r = guest_up();
	if (r)
		return r;
	hvd_run_state *st = find_state();
	if (!st)
		return 30;
	pthread_t w;
	pthread_create(&w, NULL, watchdog, NULL);
	for (int i = 0; i < 20; i++) {
		memset(st->want, 0xff, sizeof(st->want));
		memset(st->dirty, 0xff, sizeof(st->dirty));
		memset(st->val, 0xff, sizeof(st->val));
		hv_vcpu_run(vcpu);
	}
	atomic_store(&watch_stop, true);
	pthread_join(w, NULL);
	/* KVM refuses some of those writes (read-only ID registers): the
	 * state says which, and the call did not pretend all went in. */
	return st->error != 0 ? 0 : 32;
}

Test(hostile64, every_register_dirty, .timeout = 240)
{
	int st = status_of(child(dirty_all, NULL));
	cr_assert_eq(st, 0, "writing every register with all ones: status %d (32: no "
		     "refused write was reported)", st);
	assert_hvd_serves("writing every register with all ones");
}

/* ---- garbage while a run is in progress, next to a good client ---- */

static atomic_bool scribbling;

static void *scribbler(void *arg)
{
	hvd_run_state *st = arg;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	while (atomic_load(&scribbling)) {
		size_t off = xorshift(&seed) % sizeof(*st);
		size_t n = 1 + xorshift(&seed) % 256;
		if (off + n > sizeof(*st))
			n = sizeof(*st) - off;
		scribble((uint8_t *)st + off, n, &seed);
	}
	return NULL;
}

static int scribble_runs(void *arg)
{
	(void)arg;
	int r = guest_up();
	if (r)
		return r;
	hvd_run_state *st = find_state();
	if (!st)
		return 30;
	pthread_t w, s;
	atomic_store(&scribbling, true);
	pthread_create(&w, NULL, watchdog, NULL);
	pthread_create(&s, NULL, scribbler, st);
	for (int i = 0; i < 1000; i++)
		hv_vcpu_run(vcpu);
	atomic_store(&scribbling, false);
	atomic_store(&watch_stop, true);
	pthread_join(s, NULL);
	pthread_join(w, NULL);
	return 0;
}

Test(hostile64, scribble_during_runs_next_to_a_good_client, .timeout = 240)
{
	pid_t bad = child(scribble_runs, NULL);
	pid_t good = child(run_good, (void *)(intptr_t)(GOOD_ROUNDS * 3));
	int g = status_of(good);
	int b = status_of(bad);
	cr_assert_eq(g, 0, "the good client next to the scribbler failed (status %d)", g);
	cr_assert_eq(b, 0, "the scribbler's runs did not all return (status %d)", b);
	assert_hvd_serves("a client scribbling on its run page during runs");
}

/* ---- x86 calls sent to an arm64 hvd ---- */

static int sock;
static uint32_t next_id = 1;

/* One exchange on the raw connection, `send_fd` (or -1) with the request. */
static Hvdp__Response *rpc_fd(Hvdp__Request *req, int send_fd, int *fd_out)
{
	static uint8_t buf[HVD_MAX_ADMIN_MESSAGE];
	req->id = next_id++;
	size_t len = hvdp__request__get_packed_size(req);
	cr_assert(len <= sizeof(buf));
	hvdp__request__pack(req, buf);
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (send_fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.b;
		msg.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	cr_assert_eq(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len, "send: %s", strerror(errno));
	iov = (struct iovec){ buf, sizeof(buf) };
	msg = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			       .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	cr_assert(n > 0, "hvd closed the connection (or failed: %s) on request %u",
		  strerror(errno), req->op_case);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (fd_out)
		*fd_out = c && c->cmsg_type == SCM_RIGHTS ? *(int *)CMSG_DATA(c) : -1;
	Hvdp__Response *resp = hvdp__response__unpack(NULL, (size_t)n, buf);
	cr_assert(resp, "hvd's reply does not decode");
	return resp;
}

static Hvdp__Response *rpc(Hvdp__Request *req, int *fd_out)
{
	return rpc_fd(req, -1, fd_out);
}

static Hvdp__Response *gic_create_call(void)
{
	Hvdp__GicCreate gc = HVDP__GIC_CREATE__INIT;
	gc.dist_base = 0x08000000;
	gc.redist_base = 0x080a0000;
	Hvdp__Request req = HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_GIC_CREATE;
	req.gic_create = &gc;
	return rpc(&req, NULL);
}

/* Connected, greeted, with a VM (and a GIC if `gic`) and one vCPU (its id
 * in *vcpu_id). */
static void raw_session(uint32_t *vcpu_id, bool gic)
{
	const char *path = getenv("HVD_SOCKET");
	cr_assert(path, "HVD_SOCKET is set by the lab");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert(connect(sock, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
		  strerror(errno));
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;
	hello.version = HVD_PROTOCOL_VERSION;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	Hvdp__Response *r = rpc(&req, NULL);
	cr_assert_eq(r->status, HV_SUCCESS);
	Hvdp__VmCreate vc = HVDP__VM_CREATE__INIT;
	vc.session_nonce = r->hello->session_nonce;
	hvdp__response__free_unpacked(r, NULL);
	req = (Hvdp__Request)HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vc;
	r = rpc(&req, NULL);
	cr_assert_eq(r->status, HV_SUCCESS);
	hvdp__response__free_unpacked(r, NULL);
	if (gic) {
		r = gic_create_call();
		cr_assert_eq(r->status, HV_SUCCESS, "hv_gic_create: %#x", (unsigned)r->status);
		hvdp__response__free_unpacked(r, NULL);
	}
	Hvdp__VcpuCreate cc = HVDP__VCPU_CREATE__INIT;
	req = (Hvdp__Request)HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &cc;
	int page = -1;
	r = rpc(&req, &page);
	cr_assert_eq(r->status, HV_SUCCESS);
	*vcpu_id = r->vcpu;
	hvdp__response__free_unpacked(r, NULL);
	if (page >= 0)
		close(page);
}

Test(hostile64, x86_calls_refused)
{
	uint32_t id;
	Hvdp__Request req;
	Hvdp__Response *r;
	raw_session(&id, false);

	/* Each x86 call: refused with HV_UNSUPPORTED, hvd still answering. */
	Hvdp__VcpuReg reg = HVDP__VCPU_REG__INIT;
	Hvdp__VcpuVmcs vmcs = HVDP__VCPU_VMCS__INIT;
	Hvdp__VcpuMsr msr = HVDP__VCPU_MSR__INIT;
	Hvdp__VcpuNativeMsr nmsr = HVDP__VCPU_NATIVE_MSR__INIT;
	Hvdp__VcpuFpstate fp = HVDP__VCPU_FPSTATE__INIT;
	Hvdp__VcpuInvalidateTlb tlb = HVDP__VCPU_INVALIDATE_TLB__INIT;
	Hvdp__VmSyncTsc tsc = HVDP__VM_SYNC_TSC__INIT;
	Hvdp__Capability cap = HVDP__CAPABILITY__INIT;
	reg.vcpu = vmcs.vcpu = msr.vcpu = nmsr.vcpu = fp.vcpu = tlb.vcpu = id;
	fp.size = 512;
	struct {
		Hvdp__Request__OpCase op;
		void *msg;
		const char *name;
	} calls[] = {
		{ HVDP__REQUEST__OP_VCPU_REG, &reg, "vcpu_reg" },
		{ HVDP__REQUEST__OP_VCPU_VMCS, &vmcs, "vcpu_vmcs" },
		{ HVDP__REQUEST__OP_VCPU_MSR, &msr, "vcpu_msr" },
		{ HVDP__REQUEST__OP_VCPU_NATIVE_MSR, &nmsr, "vcpu_native_msr" },
		{ HVDP__REQUEST__OP_VCPU_FPSTATE, &fp, "vcpu_fpstate" },
		{ HVDP__REQUEST__OP_VCPU_INVALIDATE_TLB, &tlb, "vcpu_invalidate_tlb" },
		{ HVDP__REQUEST__OP_VM_SYNC_TSC, &tsc, "vm_sync_tsc" },
		{ HVDP__REQUEST__OP_CAPABILITY, &cap, "capability" },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		req = (Hvdp__Request)HVDP__REQUEST__INIT;
		req.op_case = calls[i].op;
		/* Every op member of the oneof shares one pointer slot. */
		req.vcpu_reg = calls[i].msg;
		r = rpc(&req, NULL);
		cr_expect_eq(r->status, HV_UNSUPPORTED, "%s: status %#x, not HV_UNSUPPORTED",
			     calls[i].name, (unsigned)r->status);
		hvdp__response__free_unpacked(r, NULL);
	}
	close(sock);
	assert_hvd_serves("x86-only calls to an arm64 hvd");
}

/* ---- registers between runs need no hvd ---- */

/* hvd's pid, from the socket it listens on. */
static pid_t hvd_pid(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", getenv("HVD_SOCKET"));
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.pid = -1;
	close(s);
	return cred.pid;
}

/* With hvd stopped (SIGSTOP), every register read and written between
 * runs still answers: they are the run page's, no call reaches hvd (one
 * that did would wait for ever; the alarm turns that into a failure). */
static volatile sig_atomic_t stage;

/* The call of `stage` waited for hvd: exit 50 + stage. */
static void stalled(int sig)
{
	(void)sig;
	_exit(50 + stage);
}

static int regs_offline(void *arg)
{
	pid_t daemon = (pid_t)(intptr_t)arg;
	int r = guest_up();
	if (r)
		return r;
	uint64_t v;
	hv_simd_fp_uchar16_t q;
	/* Read once: from now on refreshed at every exit. */
	for (unsigned i = HV_REG_X0; i <= HV_REG_CPSR; i++)
		if (hv_vcpu_get_reg(vcpu, (hv_reg_t)i, &v) != HV_SUCCESS)
			return 40;
	for (unsigned i = HV_SIMD_FP_REG_Q0; i <= HV_SIMD_FP_REG_Q31; i++)
		if (hv_vcpu_get_simd_fp_reg(vcpu, (hv_simd_fp_reg_t)i, &q) != HV_SUCCESS)
			return 41;
	if (hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_SCTLR_EL1, &v) != HV_SUCCESS ||
	    hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_VBAR_EL1, &v) != HV_SUCCESS)
		return 42;
	if (hv_vcpu_run(vcpu) != HV_SUCCESS)
		return 43;
	if (kill(daemon, SIGSTOP) < 0)
		return 44;
	signal(SIGALRM, stalled);
	alarm(20);
	int bad = 0;
	for (int round = 0; round < 1000; round++) {
		stage = 1;
		for (unsigned i = HV_REG_X0; i <= HV_REG_CPSR; i++)
			bad |= hv_vcpu_get_reg(vcpu, (hv_reg_t)i, &v) != HV_SUCCESS;
		stage = 2;
		for (unsigned i = HV_SIMD_FP_REG_Q0; i <= HV_SIMD_FP_REG_Q31; i++)
			bad |= hv_vcpu_get_simd_fp_reg(vcpu, (hv_simd_fp_reg_t)i, &q) != HV_SUCCESS;
		stage = 3;
		bad |= hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_SCTLR_EL1, &v) != HV_SUCCESS;
		stage = 4;
		bad |= hv_vcpu_set_reg(vcpu, HV_REG_X5, (uint64_t)round) != HV_SUCCESS;
		stage = 5;
		bad |= hv_vcpu_get_reg(vcpu, HV_REG_X5, &v) != HV_SUCCESS || v != (uint64_t)round;
	}
	alarm(0);
	kill(daemon, SIGCONT);
	if (bad)
		return 45;
	/* And the written X5 reached the vCPU at the next run. */
	if (hv_vcpu_run(vcpu) != HV_SUCCESS || hv_vcpu_get_reg(vcpu, HV_REG_X5, &v) != HV_SUCCESS ||
	    v != 999)
		return 46;
	return 0;
}

Test(hostile64, registers_between_runs_need_no_hvd, .timeout = 120)
{
	pid_t daemon = hvd_pid();
	cr_assert(daemon > 0, "hvd's pid from SO_PEERCRED");
	int st = status_of(child(regs_offline, (void *)(intptr_t)daemon));
	kill(daemon, SIGCONT); /* whatever the child managed */
	cr_assert_eq(st, 0, "register access with hvd stopped: status %d (51..55: the call "
		     "of that stage waited for hvd)", st);
	assert_hvd_serves("register access with hvd stopped");
}

/* ---- the GIC calls with hostile arguments ---- */

/* GicReg.space values (docs/protocol.md; api/hva64.h's HVA64_GIC_*). */
enum { SPACE_DIST = 1, SPACE_ICC = 3 };

static int32_t gic_state_write(int fd, uint64_t size)
{
	Hvdp__GicState g = HVDP__GIC_STATE__INIT;
	g.write = true;
	g.size = size;
	Hvdp__Request req = HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_GIC_STATE;
	req.gic_state = &g;
	Hvdp__Response *r = rpc_fd(&req, fd, NULL);
	int32_t st = r->status;
	hvdp__response__free_unpacked(r, NULL);
	return st;
}

static int32_t gic_reg(uint32_t space, uint32_t vcpu_id)
{
	Hvdp__GicReg g = HVDP__GIC_REG__INIT;
	g.space = space;
	g.vcpu = vcpu_id;
	Hvdp__Request req = HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_GIC_REG;
	req.gic_reg = &g;
	Hvdp__Response *r = rpc(&req, NULL);
	int32_t st = r->status;
	hvdp__response__free_unpacked(r, NULL);
	return st;
}

static int sealed_memfd(const void *data, size_t n, unsigned seals)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert(fd >= 0);
	cr_assert(write(fd, data, n) == (ssize_t)n);
	if (seals)
		cr_assert(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

Test(hostile64, gic_calls_with_hostile_arguments, .timeout = 120)
{
	uint32_t id;
	raw_session(&id, false);
	/* Without a GIC: refused, nothing else. */
	cr_expect_neq(gic_reg(SPACE_DIST, 0), HV_SUCCESS, "a GIC register without a GIC");
	/* Apple's order: the GIC before any vCPU (this session has one). */
	Hvdp__Response *r = gic_create_call();
	cr_expect_eq(r->status, HV_BUSY, "a GIC after a vCPU: %#x", (unsigned)r->status);
	hvdp__response__free_unpacked(r, NULL);
	close(sock);

	raw_session(&id, true);
	r = gic_create_call();
	cr_expect_neq(r->status, HV_SUCCESS, "a second GIC");
	hvdp__response__free_unpacked(r, NULL);
	cr_expect_eq(gic_reg(SPACE_DIST, 0), HV_SUCCESS, "GICD_CTLR reads");

	cr_expect_eq(gic_reg(99, id), HV_BAD_ARGUMENT, "an unknown GIC space");
	cr_expect_eq(gic_reg(SPACE_ICC, 63), HV_BAD_ARGUMENT, "a vCPU of no one's");

	/* State blobs: each refused, and hvd not stalled by any of them. */
	static uint8_t junk[4096];
	memset(junk, 0x5a, sizeof(junk));
	int pipefd[2];
	cr_assert(pipe(pipefd) == 0);
	int sp[2];
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	int unsealed = sealed_memfd(junk, sizeof(junk), 0);
	int short_fd = sealed_memfd(junk, 16, F_SEAL_SHRINK | F_SEAL_GROW);
	int garbage = sealed_memfd(junk, sizeof(junk), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	cr_expect_eq(gic_state_write(-1, sizeof(junk)), HV_BAD_ARGUMENT, "no descriptor");
	cr_expect_eq(gic_state_write(pipefd[0], sizeof(junk)), HV_BAD_ARGUMENT, "a pipe (a read would block)");
	cr_expect_eq(gic_state_write(sp[0], sizeof(junk)), HV_BAD_ARGUMENT, "a socket");
	cr_expect_eq(gic_state_write(unsealed, sizeof(junk)), HV_BAD_ARGUMENT, "a memfd that may shrink");
	cr_expect_eq(gic_state_write(short_fd, sizeof(junk)), HV_BAD_ARGUMENT, "a size beyond the memfd");
	cr_expect_eq(gic_state_write(garbage, (uint64_t)HVD_MAX_GIC_STATE + 1), HV_BAD_ARGUMENT,
		     "more than HVD_MAX_GIC_STATE");
	cr_expect_eq(gic_state_write(garbage, sizeof(junk)), HV_BAD_ARGUMENT,
		     "garbage state (the backend's check)");
	close(pipefd[0]);
	close(pipefd[1]);
	close(sp[0]);
	close(sp[1]);
	close(unsealed);
	close(short_fd);
	close(garbage);
	close(sock);
	assert_hvd_serves("GIC calls with hostile arguments");
}

/* The handshake says what hvd serves; VM options and vCPU flags an arm64
 * hvd does not know are refused. */
Test(hostile64, arm64_handshake_and_unknown_options)
{
	const char *path = getenv("HVD_SOCKET");
	cr_assert(path, "HVD_SOCKET is set by the lab");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert(connect(sock, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
		  strerror(errno));
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__Hello hello = HVDP__HELLO__INIT;
	hello.version = HVD_PROTOCOL_VERSION;
	req.op_case = HVDP__REQUEST__OP_HELLO;
	req.hello = &hello;
	Hvdp__Response *r = rpc(&req, NULL);
	cr_assert_eq(r->status, HV_SUCCESS);
	cr_assert(r->hello && r->hello->arch == HVD_ARCH_ARM64 && r->hello->arm64_host,
		  "an arm64 hvd says so and reports its host");
	cr_assert_eq(r->hello->arm64_host->n_feature, 14);
	cr_assert(r->hello->arm64_host->ipa_max >= 32, "IPA max %u", r->hello->arm64_host->ipa_max);
	uint64_t nonce = r->hello->session_nonce;
	hvdp__response__free_unpacked(r, NULL);

	Hvdp__VmCreate vc = HVDP__VM_CREATE__INIT;
	vc.session_nonce = nonce;
	vc.flags = 1ull << 40; /* no HA64_VMOPT_* */
	req = (Hvdp__Request)HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_VM_CREATE;
	req.vm_create = &vc;
	r = rpc(&req, NULL);
	cr_assert_eq(r->status, HV_BAD_ARGUMENT, "unknown VM options refused");
	hvdp__response__free_unpacked(r, NULL);
	vc.flags = 0;
	r = rpc(&req, NULL);
	cr_assert_eq(r->status, HV_SUCCESS);
	hvdp__response__free_unpacked(r, NULL);

	Hvdp__VcpuCreate cc = HVDP__VCPU_CREATE__INIT;
	cc.flags = 1; /* arm64 vCPUs take no flags */
	req = (Hvdp__Request)HVDP__REQUEST__INIT;
	req.op_case = HVDP__REQUEST__OP_VCPU_CREATE;
	req.vcpu_create = &cc;
	r = rpc(&req, NULL);
	cr_assert_eq(r->status, HV_BAD_ARGUMENT, "vCPU flags refused");
	hvdp__response__free_unpacked(r, NULL);
	close(sock);
	assert_hvd_serves("unknown options to an arm64 hvd");
}
