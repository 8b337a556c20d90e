/*
 * A grant bound to an executable's hash is for that code, run by the
 * process that connected, not for any code of the uid (issue: "a grant
 * bound to an executable's hash was usable by any code of that uid").
 *
 * Set-up: a signed grant of com.apple.security.hypervisor for
 * policy_client's hash, and no rule giving uid B (UID_B, the attacker)
 * anything. Then, with real processes against a real hvd:
 *
 *   granted_client_creates_a_vm       the control: the grant works.
 *   ld_preload_of_foreign_code_is_refused
 *                                     the granted binary run with
 *                                     LD_PRELOAD of a library uid B owns
 *                                     gets HV_DENIED; the audit names it.
 *   ld_preload_of_a_system_library_is_allowed
 *                                     a root-owned library in root-only
 *                                     directories does not block.
 *   passed_connection_creates_no_vm   connect, queue Hello and VmCreate,
 *                                     pass the socket to another process
 *                                     over SCM_RIGHTS, exec the granted
 *                                     binary before hvd accepts: no VM.
 *   exec_after_hello_is_refused       identified as a granted program,
 *                                     read the nonce, exec another program
 *                                     (a copy: same hash, another file)
 *                                     that sends vm_create with the nonce
 *                                     on the inherited descriptor:
 *                                     refused. (The other direction,
 *                                     identified as an ungranted program
 *                                     and exec'd into a granted one, gives
 *                                     nothing: rights are decided when hvd
 *                                     identifies the process; when that
 *                                     happens after the exec it is the
 *                                     passed-connection case.)
 *   code_loaded_after_hello_is_refused
 *                                     identified as a granted program,
 *                                     dlopen foreign code, vm_create with
 *                                     the nonce: refused.
 *
 * The raw wire (Hello, VmCreate, their replies) is encoded by hand here:
 * the policy tests do not link protobuf-c, and a foreign client would not
 * either. Field numbers are proto/hvd.proto's.
 *
 * For the last two the test binary itself is granted too (a second grant
 * for its own hash), and a copy of it, run with HVD_IDENTITY_HELPER set,
 * is the program exec'd after the Hello: a constructor below does its
 * work (send VmCreate on an inherited descriptor) before Criterion's main.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "pol.h"

extern char **environ;

/* proto/hvd_protocol.h's HVD_PROTOCOL_VERSION. */
#define WIRE_VERSION 1
#define WIRE_MAX_MESSAGE 8192

/* A library to preload: any shared library will do, copied where uid B
 * owns it (it is the mapping hvd must notice, not what the code does). */
#define SYSTEM_LIB "/usr/lib/x86_64-linux-gnu/libz.so.1"

/* ---- the raw wire ---- */

static size_t put_fixed64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return 8;
}

/* Request { id = 1; oneof op { hello = 10; vm_create = 11 } } */
static size_t enc_request(uint8_t *buf, uint32_t id, unsigned field, const uint8_t *sub,
			  size_t sublen)
{
	size_t n = 0;
	buf[n++] = 0x08;
	n += pol_put_varint(buf + n, id);
	buf[n++] = (uint8_t)(field << 3 | 2);
	n += pol_put_varint(buf + n, sublen);
	memcpy(buf + n, sub, sublen);
	return n + sublen;
}

static int wire_send(int fd, const uint8_t *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

/* Hello { version = 1 } */
static int wire_hello(int fd, uint32_t id)
{
	uint8_t sub[16], buf[64];
	size_t n = 0;
	sub[n++] = 0x08;
	n += pol_put_varint(sub + n, WIRE_VERSION);
	return wire_send(fd, buf, enc_request(buf, id, 10, sub, n));
}

/* VmCreate { flags = 1; fixed64 session_nonce = 2 } (flags 0) */
static int wire_vm_create(int fd, uint32_t id, uint64_t nonce)
{
	uint8_t sub[16], buf[64];
	size_t n = 0;
	if (nonce) {
		sub[n++] = 0x11;
		n += put_fixed64(sub + n, nonce);
	}
	return wire_send(fd, buf, enc_request(buf, id, 11, sub, n));
}

struct wire_reply {
	uint32_t id;
	uint32_t status;         /* hv_return_t */
	uint64_t nonce;          /* HelloReply.session_nonce */
	char error[256];
};

/* Walks the fields of one message; calls `f` for each. */
static int walk(const uint8_t *p, const uint8_t *end,
		void (*f)(void *arg, unsigned field, uint64_t v, const uint8_t *data, size_t len),
		void *arg)
{
	while (p < end) {
		uint64_t key, v = 0, len = 0;
		const uint8_t *data = NULL;
		if (!pol_get_varint(&p, end, &key))
			return -1;
		switch (key & 7) {
		case 0:
			if (!pol_get_varint(&p, end, &v))
				return -1;
			break;
		case 1:
			if (end - p < 8)
				return -1;
			for (int i = 0; i < 8; i++)
				v |= (uint64_t)p[i] << (8 * i);
			p += 8;
			break;
		case 2:
			if (!pol_get_varint(&p, end, &len) || (uint64_t)(end - p) < len)
				return -1;
			data = p;
			p += len;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
		f(arg, (unsigned)(key >> 3), v, data, (size_t)len);
	}
	return 0;
}

static void hello_field(void *arg, unsigned field, uint64_t v, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	if (field == 7)
		((struct wire_reply *)arg)->nonce = v;
}

/* Response { id = 1; status = 2; hello = 6; error = 7 } */
static void response_field(void *arg, unsigned field, uint64_t v, const uint8_t *data,
			   size_t len)
{
	struct wire_reply *r = arg;
	if (field == 1)
		r->id = (uint32_t)v;
	else if (field == 2)
		r->status = (uint32_t)v;
	else if (field == 6 && data)
		walk(data, data + len, hello_field, r);
	else if (field == 7 && data)
		snprintf(r->error, sizeof(r->error), "%.*s", (int)len, (const char *)data);
}

/* The next reply: 1, or 0 if hvd closed the session, -1 on a timeout or
 * an undecodable reply. Descriptors that come with it are closed. */
static int wire_recv(int fd, struct wire_reply *r)
{
	uint8_t buf[WIRE_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct pollfd p = { .fd = fd, .events = POLLIN };

	memset(r, 0, sizeof(*r));
	if (poll(&p, 1, POL_WAIT_MS) != 1)
		return -1;
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n == 0 || errno == ECONNRESET ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int one;
			memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(one);
		}
	}
	return walk(buf, buf + n, response_field, r) < 0 ? -1 : 1;
}

/* Connects to hvd's socket; the descriptor is inherited across exec
 * unless `cloexec`. -errno on failure. */
static int wire_connect(const char *sock, bool cloexec)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);
	if (fd < 0)
		return -errno;
	if (strlen(sock) >= sizeof(addr.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, sock, strlen(sock) + 1);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* "KEY=0x..." for a reply, "KEY=closed" if hvd closed the session,
 * "KEY=timeout" if it said nothing (with the error text, if any). */
static void report(int out, const char *key, int got, const struct wire_reply *r)
{
	char line[400];
	int n;
	if (got == 1)
		n = snprintf(line, sizeof(line), "%s=%#x nonce=%llx error=%s\n", key,
			     (unsigned)r->status, (unsigned long long)r->nonce, r->error);
	else
		n = snprintf(line, sizeof(line), "%s=%s\n", key, got == 0 ? "closed" : "timeout");
	if (write(out, line, (size_t)n) != n)
		_exit(3);
}

/* ---- the helper: a copy of this binary, exec'd after the Hello ---- */

/*
 * HVD_IDENTITY_HELPER=vm_create: descriptor HVD_IDENTITY_FD is a session
 * that said Hello; send VmCreate with nonce HVD_IDENTITY_NONCE (hex),
 * print "create=..." and exit, before Criterion sees the process.
 */
__attribute__((constructor)) static void identity_helper(void)
{
	const char *mode = getenv("HVD_IDENTITY_HELPER");
	const char *fds = getenv("HVD_IDENTITY_FD"), *nonce = getenv("HVD_IDENTITY_NONCE");
	struct wire_reply r;

	if (!mode)
		return;
	if (strcmp(mode, "vm_create") != 0 || !fds || !nonce)
		_exit(2);
	int fd = atoi(fds);
	int got = wire_vm_create(fd, 2, strtoull(nonce, NULL, 16)) < 0 ? 0 : wire_recv(fd, &r);
	report(1, "create", got, &r);
	/* Hold the session (and a VM, if hvd made one) until the test is
	 * done looking: it kills the process. */
	for (;;)
		pause();
}

/* ---- set-up ---- */

static struct pol_hvd H;
static char admin_key[300], admin_pub[300], ent_plist[256], grants_dir[128];
static char self_exe[PATH_MAX];

static const char entitlements[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	"<plist version=\"1.0\"><dict>\n"
	"\t<key>com.apple.security.hypervisor</key><true/>\n"
	"</dict></plist>\n";

/* Children forked here (not by pol.c), killed at the end of a test. */
static pid_t mine[16];

static void track(pid_t pid)
{
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		if (mine[i] <= 0) {
			mine[i] = pid;
			return;
		}
	}
}

static void reap_mine(void)
{
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		if (mine[i] > 0) {
			kill(mine[i], SIGKILL);
			waitpid(mine[i], NULL, 0);
			mine[i] = 0;
		}
	}
}

static void sign(const char *name, const char *exe)
{
	char out[300], *err = NULL;
	snprintf(out, sizeof(out), "%s/%.64s.grant", grants_dir, name);
	int r = pol_hvctl(NULL, 0, NULL, &err, "grant", "sign", "--key", admin_key, "--exe", exe,
			  "--entitlements", ent_plist, "--out", out, NULL);
	cr_assert_eq(r, 0, "hvctl grant sign (%s) exited %d: %s", name, r, err);
	free(err);
}

static void setup(void)
{
	char base[200], *err = NULL;

	pol_init(&H);
	snprintf(base, sizeof(base), "%.64s/admin", H.dir);
	int r = pol_hvctl(NULL, 0, NULL, &err, "keygen", "--out", base, NULL);
	cr_assert_eq(r, 0, "hvctl keygen exited %d: %s", r, err);
	free(err);
	snprintf(admin_key, sizeof(admin_key), "%s.key", base);
	snprintf(admin_pub, sizeof(admin_pub), "%s.pub", base);
	snprintf(ent_plist, sizeof(ent_plist), "%s/ent.plist", H.dir);
	pol_write_file(&H, ent_plist, entitlements, strlen(entitlements));
	snprintf(grants_dir, sizeof(grants_dir), "%s/grants", H.dir);
	cr_assert_eq(mkdir(grants_dir, 0755), 0);

	char *pub = pol_read_file(admin_pub, NULL), conf[1024];
	cr_assert(pub && strspn(pub, "0123456789abcdef") == 64, "bad public key: %s", pub);
	/* No rule: uid B has nothing but what a grant gives. */
	snprintf(conf, sizeof(conf),
		 "[hvd]\n"
		 "audit = @AUDIT@\n"
		 "trusted_key = %.64s\n"
		 "grants = @DIR@/grants\n", pub);
	free(pub);
	pol_write_conf(&H, conf);
	sign("policy_client", pol_client_path());

	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	cr_assert_gt(n, 0);
	self_exe[n] = '\0';
}

static void teardown(void)
{
	reap_mine();
	pol_cleanup();
}

TestSuite(identity, .init = setup, .fini = teardown, .timeout = 60);

/* In a forked child: become uid B, die with the test. */
static void become_b(void)
{
	gid_t g = GID_USERS;
	if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
	    setresuid(UID_B, UID_B, UID_B) < 0)
		_exit(126);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Copies `src` to `dst` with `mode`, owned by `uid`. */
static void copy_file(const char *src, const char *dst, mode_t mode, uid_t uid)
{
	size_t len;
	char *data = pol_read_file(src, &len);
	cr_assert_not_null(data, "%s: %s", src, strerror(errno));
	FILE *f = fopen(dst, "we");
	cr_assert_not_null(f, "%s: %s", dst, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(dst, mode), 0);
	cr_assert_eq(chown(dst, uid, GID_USERS), 0);
	free(data);
}

/* The attacker's library: a copy of a system library in a directory of
 * uid B's, owned by uid B. */
static void attacker_lib(char *path, size_t len)
{
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/attacker", H.dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(chown(dir, UID_B, GID_USERS), 0);
	snprintf(path, len, "%s/libevil.so", dir);
	copy_file(SYSTEM_LIB, path, 0755, UID_B);
}

/* Audit lines with this decision, request and pid (-1: any) whose reason
 * contains `needle`; the first one's reason goes to `reason`. */
static int audit_with(const char *decision, const char *request, long pid, const char *needle,
		      char *reason, size_t len)
{
	char *text = pol_read_file(H.audit, NULL), *save = NULL;
	int n = 0;
	for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line), *v;
		cr_assert_not_null(o, "audit line is not JSON: %s", line);
		const char *why = json_object_object_get_ex(o, "reason", &v) ?
			json_object_get_string(v) : "";
		if (json_object_object_get_ex(o, "decision", &v) &&
		    strcmp(json_object_get_string(v), decision) == 0 &&
		    json_object_object_get_ex(o, "request", &v) &&
		    strcmp(json_object_get_string(v), request) == 0 &&
		    (pid < 0 || (json_object_object_get_ex(o, "pid", &v) &&
				 json_object_get_int64(v) == pid)) &&
		    strstr(why, needle)) {
			if (n++ == 0 && reason)
				snprintf(reason, len, "%s", why);
		}
		json_object_put(o);
	}
	free(text);
	return n;
}

/* The whole audit log, for failure messages (caller frees). */
static char *audit_text(void)
{
	char *t = pol_read_file(H.audit, NULL);
	return t ? t : strdup("(no audit log)");
}

/* hvd still runs and answers; no VM is owned by `pid`, none at all. */
static void expect_no_vm_of(pid_t pid)
{
	cr_expect_eq(kill(H.pid, 0), 0, "hvd is gone");
	cr_expect_eq(waitpid(H.pid, NULL, WNOHANG), 0, "hvd has exited");
	json_object *l = pol_hvctl_json(&H, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", pid);
	cr_expect_null(vm, "hvd created a VM for pid %d: %s", (int)pid,
		       json_object_to_json_string(l));
	cr_expect_eq(json_object_array_length(pol_get(l, "vms")), 0, "VMs exist: %s",
		     json_object_to_json_string(l));
	json_object_put(l);
}

/* Reads one line of a child's report pipe (without the newline). */
static void read_line(int fd, char *buf, size_t len, const char *who)
{
	size_t n = 0;
	long long end = pol_now_ms() + POL_WAIT_MS;
	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - pol_now_ms();
		cr_assert_gt(left, 0, "%s reported nothing within %d ms (so far '%.*s')", who,
			     POL_WAIT_MS, (int)n, buf);
		if (poll(&p, 1, (int)left) != 1)
			continue;
		ssize_t r = read(fd, buf + n, 1);
		cr_assert_eq(r, 1, "%s ended its report (so far '%.*s')", who, (int)n, buf);
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
}

/* "KEY=0x..." -> the status; "KEY=closed" -> -1; anything else fails. */
static long long line_status(const char *line, const char *key)
{
	size_t k = strlen(key);
	cr_assert(strncmp(line, key, k) == 0 && line[k] == '=', "expected %s=..., got '%s'", key,
		  line);
	if (strncmp(line + k + 1, "closed", 6) == 0)
		return -1;
	cr_assert(strncmp(line + k + 1, "0x", 2) == 0 || line[k + 1] == '0',
		  "no reply: '%s'", line);
	return (long long)strtoul(line + k + 1, NULL, 16);
}

static const char *hv_name(long long st)
{
	return st == ST_SUCCESS ? "HV_SUCCESS" : st == ST_DENIED ? "HV_DENIED" :
	       st == -1 ? "the session closed" : "another status";
}

/* ---- 1. the control ---- */

Test(identity, granted_client_creates_a_vm)
{
	pol_start(&H);
	cr_expect_eq(pol_client_once(&H, UID_B, 0, NULL), ST_SUCCESS,
		     "the grant gives uid %d's policy_client a VM: %s", UID_B, audit_text());
	cr_expect_eq(pol_audit_count(&H, "allow", "vm_create", UID_B, -1, NULL, 0), 1);
	pol_done();
}

/* ---- 2. LD_PRELOAD ---- */

/* policy_client as uid B with LD_PRELOAD=`lib`, holding its connection
 * (and its VM, if hvd made one) until pol_client_finish; returns the
 * status of its hv_vm_create. */
static unsigned preloaded_create(const char *lib, struct pol_proc *p)
{
	char line[64];

	setenv("LD_PRELOAD", lib, 1);
	/* In the AddressSanitizer build the client refuses to start with a
	 * library preloaded before ASan's runtime; the runtime is a system
	 * library and the order changes nothing the test checks. */
	const char *asan = getenv("ASAN_OPTIONS");
	char *saved = asan ? strdup(asan) : NULL;
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
	pol_client_start(&H, p, UID_B, 0, "--no-create", "--hold", NULL);
	unsetenv("LD_PRELOAD");
	if (saved)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	cr_assert_eq(pol_client_result(p, "cap"), ST_SUCCESS, "connecting is not refused");
	pol_client_line(p, line, sizeof(line));
	cr_assert_str_eq(line, "ready");

	/* The loader did map it (ld.so ignores a preload it cannot load). */
	char maps_path[64];
	snprintf(maps_path, sizeof(maps_path), "/proc/%d/maps", (int)p->pid);
	char *maps = pol_read_file(maps_path, NULL);
	char real[PATH_MAX];
	cr_assert_not_null(realpath(lib, real));
	cr_assert(maps && strstr(maps, real), "%s is not mapped in the client: %s", real, maps);
	free(maps);

	return pol_client_cmd(p, "create", "create");
}

Test(identity, ld_preload_of_foreign_code_is_refused)
{
	char lib[256], reason[1024] = "";
	struct pol_proc p;

	attacker_lib(lib, sizeof(lib));
	pol_start(&H);
	unsigned st = preloaded_create(lib, &p);
	cr_expect_eq(st, ST_DENIED, "the granted binary with uid %d's library preloaded got %#x "
		     "(%s) from hv_vm_create, not HV_DENIED: the library's code ran under the "
		     "grant", UID_B, st, hv_name(st));
	cr_expect_geq(audit_with("deny", "vm_create", p.pid, "libevil.so", reason,
				 sizeof(reason)), 1,
		      "a deny line for vm_create names the library; the audit log:\n%s",
		      audit_text());
	cr_expect(strstr(reason, "is mapped"), "and says it is mapped: %s", reason);
	expect_no_vm_of(p.pid);
	pol_client_finish(&p);
	pol_done();
}

Test(identity, ld_preload_of_a_system_library_is_allowed)
{
	struct pol_proc p;

	pol_start(&H);
	unsigned st = preloaded_create(SYSTEM_LIB, &p);
	cr_expect_eq(st, ST_SUCCESS, "a root-owned system library (%s) preloaded blocked the "
		     "grant (%#x): %s", SYSTEM_LIB, st, audit_text());
	pol_client_finish(&p);
	pol_done();
}

/* ---- 3. exec after connect, with the socket passed on ---- */

static void wait_stopped(pid_t pid, bool stopped)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (long long end = pol_now_ms() + POL_WAIT_MS; pol_now_ms() < end;) {
		char *st = pol_read_file(path, NULL);
		char *p = st ? strrchr(st, ')') : NULL;
		bool is = p && (p[2] == 'T' || p[2] == 't');
		free(st);
		if (is == stopped)
			return;
		pol_sleep_ms(2);
	}
	kill(pid, SIGCONT);
	cr_assert_fail("hvd (pid %d) did not %s", (int)pid, stopped ? "stop" : "continue");
}

/* Waits until `pid` runs `exe`. */
static bool wait_exec(pid_t pid, const char *exe)
{
	char path[64], link[PATH_MAX], real[PATH_MAX];
	if (!realpath(exe, real))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	for (long long end = pol_now_ms() + POL_WAIT_MS; pol_now_ms() < end;) {
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (strcmp(link, real) == 0)
				return true;
		}
		pol_sleep_ms(2);
	}
	return false;
}

/* The second process: receives the connection over `sp`, reads the
 * replies to what the first one queued, then sends a VmCreate of its own
 * with the nonce it read once `go` says so. Reports "hello=", "queued=",
 * "own=" on `out`. */
static void receiver(int sp, int out, int go)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { &c, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = sp, .events = POLLIN };
	struct wire_reply r;
	int fd = -1;

	if (poll(&p, 1, POL_WAIT_MS) != 1 || recvmsg(sp, &msg, 0) != 1)
		_exit(4);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		_exit(5);
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));

	int got = wire_recv(fd, &r);
	report(out, "hello", got, &r);
	uint64_t nonce = got == 1 ? r.nonce : 0;
	if (got == 1)
		got = wire_recv(fd, &r);
	report(out, "queued", got, &r);
	if (read(go, &c, 1) != 1)
		_exit(8);
	/* Its own request, with the nonce it read: the session is the
	 * granted program's, the sender is not. */
	if (got == 1)
		got = wire_vm_create(fd, 3, nonce) < 0 ? 0 : wire_recv(fd, &r);
	report(out, "own", got, &r);
	for (;;)
		pause();
}

Test(identity, passed_connection_creates_no_vm)
{
	int sp[2], rep[2], cin[2], cout[2], go[2];
	pid_t parent = getpid();

	pol_start(&H);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(cin, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(cout, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);

	/* The second process (uid B): drives the connection it is given. */
	pid_t y = fork();
	cr_assert_neq(y, -1);
	if (y == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		become_b();
		receiver(sp[1], rep[1], go[0]);
	}
	track(y);
	close(sp[1]);
	close(rep[1]);
	close(go[0]);

	/* The window the attack needs (hvd has not accepted yet when the
	 * process execs) made certain: hvd is stopped while the first
	 * process connects, queues, passes the socket and execs. A busy hvd
	 * opens the same window. */
	cr_assert_eq(kill(H.pid, SIGSTOP), 0);
	wait_stopped(H.pid, true);

	pid_t x = fork();
	if (x == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(cin[0], 0);
		dup2(cout[1], 1);
		become_b();
		int fd = wire_connect(H.sock, true);
		if (fd < 0 || wire_hello(fd, 1) < 0 || wire_vm_create(fd, 2, 0) < 0)
			_exit(6);
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 'x';
		struct iovec iov = { &c, 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sp[0], &msg, MSG_NOSIGNAL) != 1)
			_exit(7);
		/* The granted binary, in a mode that connects on its own
		 * (a session of its own, which is fine) and then waits. */
		setenv("HVD_SOCKET", H.sock, 1);
		const char *client = pol_client_path();
		execl(client, client, "--no-create", "--hold", (char *)NULL);
		_exit(127);
	}
	if (x > 0)
		track(x);
	close(sp[0]);
	close(cin[0]);
	close(cout[1]);
	bool execd = x > 0 && wait_exec(x, pol_client_path());
	kill(H.pid, SIGCONT);
	wait_stopped(H.pid, false);
	cr_assert(execd, "the first process did not exec %s", pol_client_path());

	char hello[400], queued[400], own[400];
	read_line(rep[0], hello, sizeof(hello), "the second process");
	read_line(rep[0], queued, sizeof(queued), "the second process");
	/* No VM from what was queued before the exec. */
	expect_no_vm_of(x);
	cr_assert_eq(write(go[1], "g", 1), 1);
	read_line(rep[0], own, sizeof(own), "the second process");
	cr_log_info("second process: %s | %s | %s", hello, queued, own);
	cr_expect_eq(line_status(hello, "hello"), ST_SUCCESS, "the queued Hello: %s", hello);
	long long q = line_status(queued, "queued");
	cr_expect_eq(q, ST_DENIED, "the VmCreate queued before the exec got %s (%s), not "
		     "HV_DENIED", hv_name(q), queued);
	cr_expect(q != ST_SUCCESS, "a VM was created for a request queued before the exec");
	long long o = line_status(own, "own");
	cr_expect_eq(o, -1, "the second process's own VmCreate (with the nonce it read) got %s "
		     "(%s): hvd must end the session", hv_name(o), own);
	cr_expect_geq(pol_log_count(&H, "not from the process that connected"), 1,
		      "hvd's log says the message was not from the process that connected");
	char reason[512] = "";
	cr_expect_eq(audit_with("deny", "session", x, "not from the process that connected", reason,
				sizeof(reason)), 1, "one session deny line: %s", audit_text());
	cr_expect(strstr(reason, "from pid"), "naming the sender: %s", reason);

	/* The exec'd binary's own session is served (it printed cap= and
	 * ready) and holds no VM. */
	FILE *xo = fdopen(cout[0], "r");
	char line[128];
	cr_assert_not_null(fgets(line, sizeof(line), xo), "policy_client printed nothing");
	cr_expect_str_eq(line, "cap=0\n", "policy_client's own session: %s", line);
	expect_no_vm_of(x);
	close(cin[1]);
	fclose(xo);
	close(rep[0]);
	close(go[1]);
	reap_mine();
	pol_done();
}

/* ---- 4 and 5: a granted process changes after its Hello ---- */

/* Forks a uid B child of this (granted) binary that connects, says Hello
 * and reads the nonce, then runs `then`, whose report goes to the pipe
 * returned in *out. */
static pid_t granted_child(void (*then)(int fd, uint64_t nonce, int out), int *out)
{
	int rep[2];
	pid_t parent = getpid();

	cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct wire_reply r;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(rep[1], 1);
		become_b();
		int fd = wire_connect(H.sock, false);
		if (fd < 0)
			_exit(6);
		int got = wire_hello(fd, 1) < 0 ? 0 : wire_recv(fd, &r);
		report(1, "hello", got, &r);
		if (got != 1)
			_exit(0);
		then(fd, r.nonce, 1);
		for (;;)
			pause();
	}
	track(pid);
	close(rep[1]);
	*out = rep[0];
	return pid;
}

static void create_now(int fd, uint64_t nonce, int out)
{
	struct wire_reply r;
	int got = wire_vm_create(fd, 2, nonce) < 0 ? 0 : wire_recv(fd, &r);
	report(out, "create", got, &r);
}

static char copy_path[200], lib_path[256];

static void exec_copy(int fd, uint64_t nonce, int out)
{
	char fds[16], hex[32];
	(void)out;
	snprintf(fds, sizeof(fds), "%d", fd);
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)nonce);
	setenv("HVD_IDENTITY_HELPER", "vm_create", 1);
	setenv("HVD_IDENTITY_FD", fds, 1);
	setenv("HVD_IDENTITY_NONCE", hex, 1);
	execle(copy_path, copy_path, (char *)NULL, environ);
	_exit(127);
}

static void load_then_create(int fd, uint64_t nonce, int out)
{
	if (!dlopen(lib_path, RTLD_NOW | RTLD_LOCAL)) {
		dprintf(out, "create=dlopen-failed %s\n", dlerror());
		return;
	}
	create_now(fd, nonce, out);
}

/* Runs a granted child to its end; returns the status of its VmCreate
 * (-1: hvd closed the session). The child holds its session until
 * reap_mine. */
static long long run_granted(void (*then)(int, uint64_t, int), pid_t *pidp)
{
	int out;
	char hello[400], create[400];
	pid_t pid = granted_child(then, &out);
	read_line(out, hello, sizeof(hello), "the child");
	cr_assert_eq(line_status(hello, "hello"), ST_SUCCESS, "%s", hello);
	read_line(out, create, sizeof(create), "the child");
	cr_log_info("child %d: %s | %s", (int)pid, hello, create);
	close(out);
	if (pidp)
		*pidp = pid;
	return line_status(create, "create");
}

/* This binary is granted too: what a process runs at its Hello. */
static void grant_self(void)
{
	sign("self", self_exe);
}

Test(identity, exec_after_hello_is_refused)
{
	grant_self();
	/* Another program with the same bytes: only the exec differs. */
	snprintf(copy_path, sizeof(copy_path), "%s/copy", H.dir);
	copy_file(self_exe, copy_path, 0755, 0);
	pol_start(&H);

	/* The control: the granted binary, with the nonce, no exec. */
	long long st = run_granted(create_now, NULL);
	cr_expect_eq(st, ST_SUCCESS, "the granted test binary with the nonce got %s: %s",
		     hv_name(st), audit_text());
	reap_mine();
	pol_wait_vms(&H, 0);

	/* Identified as the granted binary; exec'd another one that sends
	 * vm_create with the nonce on the inherited descriptor. */
	pid_t pid;
	st = run_granted(exec_copy, &pid);
	cr_expect_eq(st, ST_DENIED, "vm_create after an exec into another program got %s, not "
		     "HV_DENIED", hv_name(st));
	char reason[512] = "";
	cr_expect_eq(audit_with("deny", "vm_create", pid, "executed another program", reason,
				sizeof(reason)), 1, "a deny line says why: %s", audit_text());
	expect_no_vm_of(pid);
	reap_mine();
	pol_done();
}

Test(identity, code_loaded_after_hello_is_refused)
{
	grant_self();
	attacker_lib(lib_path, sizeof(lib_path));
	pol_start(&H);

	pid_t pid;
	long long st = run_granted(load_then_create, &pid);
	cr_expect_eq(st, ST_DENIED, "vm_create after dlopen of uid %d's library got %s, not "
		     "HV_DENIED", UID_B, hv_name(st));
	char reason[512] = "";
	cr_expect_eq(audit_with("deny", "vm_create", pid, "libevil.so", reason, sizeof(reason)), 1,
		     "a deny line names the library: %s", audit_text());
	cr_expect(strstr(reason, "is mapped"), "%s", reason);
	expect_no_vm_of(pid);
	reap_mine();
	pol_done();
}
