/*
 * libhvclient says why it fails (client/hvc_err.c): for each cause a
 * client meets through hvd (no socket, a socket nobody listens on, a
 * regular file at the path, no permission on the socket, another
 * protocol, a policy denial, a quota, a VM killed by an administrator)
 * the Apple call returns its code, one line naming the cause and its fix
 * goes to stderr the first time only, HVD_QUIET=1 silences it, HVD_DEBUG=1
 * repeats it for every failing call, and hvd_last_error() returns the
 * text in the thread that failed.
 *
 * Every client is a forked child whose stderr and stdout go to files the
 * test reads afterwards; the child prints the codes it got and
 * hvd_last_error() on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <Hypervisor/hv.h>
#include <hvd/hvclient.h>

#include "hvd.pb-c.h"
#include "hvd_protocol.h"
#include "sys_client.h"
#include "sys_hvd.h"

static struct sys_hvd hvd;
static char scratch[64];

static void setup(void)
{
	strcpy(scratch, "/tmp/hvd-clerr.XXXXXX");
	cr_assert_not_null(mkdtemp(scratch));
	hvd.pid = -1;
}

static void teardown(void)
{
	char cmd[128];
	if (hvd.pid > 0)
		sys_hvd_stop(&hvd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", scratch);
}

TestSuite(client_errors, .init = setup, .fini = teardown);

/* What a client child left: its exit status, stdout and stderr. */
struct run {
	int status;
	char out[8192];
	char err[8192];
};

static void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* Runs fn(arg) in a child with `env` ("NAME=VALUE" or NULL) set and its
 * stdout and stderr in files. */
static void run_client(struct run *r, int (*fn)(void *), void *arg, const char *env)
{
	char outp[128], errp[128];
	snprintf(outp, sizeof(outp), "%s/out", scratch);
	snprintf(errp, sizeof(errp), "%s/err", scratch);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(98);
		unsetenv("HVD_QUIET");
		unsetenv("HVD_DEBUG");
		if (env)
			putenv((char *)env);
		int code = fn(arg);
		fflush(stdout);
		_exit(code);
	}
	r->status = sys_wait_child(pid);
	slurp(outp, r->out, sizeof(r->out));
	slurp(errp, r->err, sizeof(r->err));
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Two hv_vm_create calls; prints both codes and the last error. */
static int create_twice(void *arg)
{
	(void)arg;
	hv_return_t a = hv_vm_create(HV_VM_DEFAULT);
	hv_return_t b = hv_vm_create(HV_VM_DEFAULT);
	printf("codes %#x %#x\nlast: %s\n", (unsigned)a, (unsigned)b, hvd_last_error());
	return 0;
}

/* The child got `code` twice, said `line` exactly once on stderr (and
 * nothing else), and hvd_last_error() holds `line` too. */
static void expect_said_once(const struct run *r, hv_return_t code, const char *line)
{
	char codes[64];
	snprintf(codes, sizeof(codes), "codes %#x %#x\n", (unsigned)code, (unsigned)code);
	cr_assert_eq(r->status, 0, "the client crashed (%d): %s", r->status, r->err);
	cr_expect(strstr(r->out, codes), "expected %s got: %s", codes, r->out);
	cr_expect_eq(count(r->err, "libhvclient: "), 1, "one line on stderr: [%s]", r->err);
	cr_expect_eq(count(r->err, line), 1, "stderr says '%s': [%s]", line, r->err);
	const char *last = strstr(r->out, "last: ");
	cr_expect(last && strstr(last, line), "hvd_last_error() says '%s': %s", line, r->out);
}

/* HVD_QUIET=1: nothing on stderr, the text still kept. HVD_DEBUG=1: a
 * line for each of the two failing calls. */
static void expect_quiet_and_debug(const char *line)
{
	static struct run r;
	run_client(&r, create_twice, NULL, "HVD_QUIET=1");
	cr_expect_eq(r.err[0], '\0', "HVD_QUIET=1 and still: [%s]", r.err);
	cr_expect(strstr(r.out, line), "quiet, hvd_last_error() still says '%s': %s", line, r.out);
	run_client(&r, create_twice, NULL, "HVD_DEBUG=1");
	cr_expect_eq(count(r.err, line), 2, "HVD_DEBUG=1 says it for both calls: [%s]", r.err);
}

static void use_socket(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", scratch, name);
	setenv("HVD_SOCKET", path, 1);
}

Test(client_errors, no_socket_at_the_path)
{
	static struct run r;
	char path[128], line[512];
	use_socket("nothing.sock", path, sizeof(path));
	run_client(&r, create_twice, NULL, NULL);
	snprintf(line, sizeof(line), "cannot reach hvd at %s: No such file or directory — "
		 "is hvd running? Start it (systemctl start hvd), or name its socket with "
		 "HVD_SOCKET", path);
	expect_said_once(&r, HV_NO_DEVICE, line);
	expect_quiet_and_debug(line);
}

Test(client_errors, a_socket_nobody_listens_on)
{
	static struct run r;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char path[128], line[512];
	use_socket("stale.sock", path, sizeof(path));
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(a.sun_path, path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd); /* hvd gone, its socket left */
	run_client(&r, create_twice, NULL, NULL);
	snprintf(line, sizeof(line), "cannot reach hvd at %s: Connection refused — nothing "
		 "listens there (hvd stopped and left its socket); start hvd", path);
	expect_said_once(&r, HV_NO_DEVICE, line);
}

Test(client_errors, a_regular_file_at_the_path)
{
	static struct run r;
	char path[128], line[512];
	use_socket("file", path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT, 0666);
	cr_assert_geq(fd, 0);
	close(fd);
	run_client(&r, create_twice, NULL, NULL);
	snprintf(line, sizeof(line), "cannot reach hvd at %s: not a socket — that path is not "
		 "hvd's socket; check HVD_SOCKET", path);
	expect_said_once(&r, HV_NO_DEVICE, line);
}

static int as_nobody(void *arg)
{
	if (setgid(65534) < 0 || setuid(65534) < 0)
		return 97;
	return create_twice(arg);
}

Test(client_errors, no_permission_on_the_socket)
{
	static struct run r;
	char line[512];
	if (geteuid() != 0)
		cr_skip_test("needs root to run a client as another uid");
	sys_hvd_start(&hvd);
	/* Only the socket's own mode keeps the client out. */
	cr_assert_eq(chmod(hvd.dir, 0711), 0);
	cr_assert_eq(chmod(hvd.sock, 0), 0);
	run_client(&r, as_nobody, NULL, NULL);
	snprintf(line, sizeof(line), "cannot reach hvd at %s: Permission denied — you may not "
		 "open hvd's socket; join the group that owns it, or run as root", hvd.sock);
	expect_said_once(&r, HV_NO_DEVICE, line);
}

/* A daemon of another protocol version: answers every Hello with its
 * own version and HV_UNSUPPORTED, as hvd does. */
static void *other_version(void *arg)
{
	int lfd = *(int *)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			return NULL;
		uint8_t buf[512];
		ssize_t n = recv(c, buf, sizeof(buf), 0);
		Hvdp__Request *req = n > 0 ? hvdp__request__unpack(NULL, (size_t)n, buf) : NULL;
		if (req) {
			Hvdp__Response resp = HVDP__RESPONSE__INIT;
			Hvdp__HelloReply hello = HVDP__HELLO_REPLY__INIT;
			hello.version = HVD_PROTOCOL_VERSION + 41;
			resp.id = req->id;
			resp.status = HV_UNSUPPORTED;
			resp.hello = &hello;
			size_t len = hvdp__response__pack(&resp, buf);
			if (send(c, buf, len, MSG_NOSIGNAL) < 0)
				fprintf(stderr, "fake hvd: send: %s\n", strerror(errno));
			hvdp__request__free_unpacked(req, NULL);
		}
		close(c);
	}
}

Test(client_errors, another_protocol_version)
{
	static struct run r;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char path[128], line[512];
	pthread_t t;
	use_socket("old.sock", path, sizeof(path));
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	strcpy(a.sun_path, path);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 8), 0);
	cr_assert_eq(pthread_create(&t, NULL, other_version, &lfd), 0);
	run_client(&r, create_twice, NULL, NULL);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(lfd);
	snprintf(line, sizeof(line), "hvd at %s speaks protocol %d, libhvclient speaks %d — use "
		 "the libhvclient that came with this hvd", path, HVD_PROTOCOL_VERSION + 41,
		 HVD_PROTOCOL_VERSION);
	expect_said_once(&r, HV_NO_DEVICE, line);
}

Test(client_errors, a_policy_denial_says_hvds_reason)
{
	static struct run r;
	/* A policy with no rule for root: root gets nothing. */
	sys_hvd_start_config(&hvd, "[hvd]\naudit = @AUDIT@\n[rule someone]\nuid = 4242\n"
			     "entitlements = com.apple.security.hypervisor\n");
	run_client(&r, create_twice, NULL, NULL);
	const char *line = "hv_vm_create: HV_DENIED: no com.apple.security.hypervisor entitlement "
			   "(no rule or grant applies) — hvd's policy "
			   "gives this program no right to it; ask hvd's administrator for a rule "
			   "or grant";
	expect_said_once(&r, HV_DENIED, line);
	expect_quiet_and_debug(line);
}

Test(client_errors, a_quota_refusal_says_which_limit)
{
	static struct run r;
	sys_hvd_start_config(&hvd, "[hvd]\naudit = @AUDIT@\n[tenant shut]\nmax_vms = 0\n"
			     "[rule root]\nuid = 0\nentitlements = com.apple.security.hypervisor\n"
			     "tenant = shut\n");
	run_client(&r, create_twice, NULL, NULL);
	expect_said_once(&r, HV_NO_RESOURCES, "hv_vm_create: HV_NO_RESOURCES: max_vms 0 reached");
	cr_expect(strstr(r.err, "ask hvd's administrator to raise the limit"), "the fix: %s",
		  r.err);
}

/* A client with a VM that waits, then finds itself killed: two calls
 * fail after the kill. */
struct victim {
	int ready_w, go_r;
};

/* The same, killed while its vCPU runs a guest that never exits: the
 * run fails, and so does the next. */
static int victim_in_run(void *arg)
{
	struct victim *v = arg;
	struct sys_vm vm;
	uint32_t reason;
	char c = sys_vm_start(&vm, SYS_GUEST(sys_count)) == 0 ? 'y' : 'n';
	if (write(v->ready_w, &c, 1) != 1 || c != 'y')
		return 3;
	hv_return_t a = sys_run(&vm, &reason);
	hv_return_t b = hv_vcpu_run(vm.vcpu);
	printf("codes %#x %#x\nlast: %s\n", (unsigned)a, (unsigned)b, hvd_last_error());
	return 0;
}

static int victim(void *arg)
{
	struct victim *v = arg;
	char c = 'n';
	void *ram = NULL;
	if (hv_vm_create(HV_VM_DEFAULT) == HV_SUCCESS && hv_vm_allocate(&ram, 0x10000, 0) == HV_SUCCESS &&
	    hv_vm_map(ram, 0, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE) == HV_SUCCESS)
		c = 'y';
	if (write(v->ready_w, &c, 1) != 1 || c != 'y')
		return 3;
	if (read(v->go_r, &c, 1) != 1)
		return 4;
	hv_return_t a = hv_vm_unmap(0, 0x10000);
	hv_return_t b = hv_vm_map(ram, 0, 0x10000, HV_MEMORY_READ);
	printf("codes %#x %#x\nlast: %s\n", (unsigned)a, (unsigned)b, hvd_last_error());
	return 0;
}

/* hvctl's output, run against the test's hvd. */
static int hvctl(char *out, size_t len, const char *a1, const char *a2)
{
	char cmd[512];
	const char *bin = getenv("HVD_TEST_HVCTL");
	cr_assert_not_null(bin, "HVD_TEST_HVCTL names hvctl");
	snprintf(cmd, sizeof(cmd), "%s --socket %s %s %s", bin, hvd.sock, a1, a2 ? a2 : "");
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

/* Kills the one VM on the test's hvd while `fn` runs in a client child. */
static void kill_while(struct run *r, int (*fn)(void *), bool tell)
{
	struct victim v;
	int ready[2], go[2];
	char out[4096], c;
	sys_hvd_start(&hvd);
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	v.ready_w = ready[1];
	v.go_r = go[0];
	/* The victim runs in run_client's child; a second child kills its
	 * VM meanwhile. */
	pid_t killer = fork();
	cr_assert_geq(killer, 0);
	if (killer == 0) {
		close(ready[1]);
		close(go[0]);
		if (read(ready[0], &c, 1) != 1 || c != 'y')
			_exit(2);
		unsigned long long id = 0;
		if (hvctl(out, sizeof(out), "list", "--json") != 0)
			_exit(3);
		const char *p = strstr(out, "\"id\"");
		if (!p || (sscanf(p, "\"id\" : %llu", &id) != 1 && sscanf(p, "\"id\":%llu", &id) != 1))
			_exit(4);
		char ids[32];
		snprintf(ids, sizeof(ids), "%llu", id);
		if (hvctl(out, sizeof(out), "kill", ids) != 0)
			_exit(5);
		_exit(!tell || write(go[1], "g", 1) == 1 ? 0 : 6);
	}
	run_client(r, fn, &v, NULL);
	close(go[1]);
	close(ready[0]);
	sys_expect_child_ok(killer, "the killer (hvctl list and kill)");
}

static void expect_killed(const struct run *r)
{
	expect_said_once(r, HV_ERROR, "ended this process's session: VM ");
	cr_expect(strstr(r->err, "was killed by session "), "the reason is hvd's: %s", r->err);
	cr_expect(strstr(r->err, ") with 'hvctl kill' — its VM and vCPUs are gone"), "%s", r->err);
}

Test(client_errors, a_vm_killed_by_an_administrator_is_told_why)
{
	static struct run r;
	kill_while(&r, victim, true);
	expect_killed(&r);
}

Test(client_errors, a_vm_killed_in_hv_vcpu_run_is_told_why)
{
	static struct run r;
	kill_while(&r, victim_in_run, false);
	expect_killed(&r);
}

/* Two hv_vm_unmap calls of nothing: plain refusals. */
static int unmap_nothing(void *arg)
{
	(void)arg;
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS)
		return 2;
	hv_return_t a = hv_vm_unmap(0x100000, 0x1000);
	hv_return_t b = hv_vm_unmap(0x100000, 0x1000);
	printf("codes %#x %#x\nlast: %s\n", (unsigned)a, (unsigned)b, hvd_last_error());
	return 0;
}

/* A refusal that is the program's own business (an argument hvd rejects)
 * is not said, only kept, unless HVD_DEBUG asks for every failing call. */
Test(client_errors, plain_refusals_are_said_only_with_hvd_debug)
{
	static struct run r;
	const char *text = "hv_vm_unmap: HV_BAD_ARGUMENT: ";
	sys_hvd_start(&hvd);
	run_client(&r, unmap_nothing, NULL, NULL);
	cr_assert_eq(r.status, 0, "the client failed (%d): %s", r.status, r.err);
	char codes[64];
	snprintf(codes, sizeof(codes), "codes %#x %#x", (unsigned)HV_BAD_ARGUMENT,
		 (unsigned)HV_BAD_ARGUMENT);
	cr_expect(strstr(r.out, codes), "%s: %s", codes, r.out);
	cr_expect(!strstr(r.err, "libhvclient: "), "nothing said: %s", r.err);
	cr_expect(strstr(r.out, text), "but kept: %s", r.out);
	run_client(&r, unmap_nothing, NULL, "HVD_DEBUG=1");
	cr_expect_eq(count(r.err, text), 2, "HVD_DEBUG=1 says both: [%s]", r.err);
}
