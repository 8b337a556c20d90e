/*
 * pol.c: see pol.h.
 */
#include "pol.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "hvd_stop.h"

#define MAX_ARGS 32

long long pol_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pol_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *env_path(const char *name)
{
	const char *p = getenv(name);
	cr_assert(p && *p, "%s is not set (ctest sets it)", name);
	return p;
}

const char *pol_client_path(void)
{
	return env_path("HVD_TEST_POLICY_CLIENT");
}

const char *pol_hvctl_path(void)
{
	return env_path("HVD_TEST_HVCTL");
}

char *pol_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	if (lenp)
		*lenp = len;
	return buf;
}

/* ---- hvd ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static void remove_dir(const char *dir)
{
	if (getenv("HVD_TEST_KEEP"))
		fprintf(stderr, "keeping %s\n", dir);
	else
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A failed assertion in a suite's .init ends the test process without its
 * .fini (or atexit handlers): a janitor child removes the directory once
 * the test process is gone, however it went. It waits for the end of a
 * pipe only the test process holds (close-on-exec, and every other child
 * closes its inherited descriptors).
 */
static void janitor(const char *dir)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		char c;
		dup2(p[0], 0);
		close_range(3, ~0u, 0);
		while (read(0, &c, 1) != 0 && (errno == EINTR || errno == EAGAIN))
			;
		/* hvd (killed by its parent-death signal) may still be
		 * removing its socket: try until the directory is gone. */
		for (int i = 0; i < 200 && access(dir, F_OK) == 0; i++) {
			remove_dir(dir);
			if (getenv("HVD_TEST_KEEP"))
				break;
			pol_sleep_ms(10);
		}
		_exit(0);
	}
	close(p[0]);
	/* p[1] stays open for the life of the test process. */
}

static void become(uid_t uid, gid_t extra_gid);

/* Can the test users run policy_client and hvctl (the build directory
 * must be reachable and libhvclient loadable)? Exit 2 is the client's
 * usage error: it ran. */
static void preflight(void)
{
	const char *client = pol_client_path(), *hvctl = pol_hvctl_path();
	int status;

	if (geteuid() != 0)
		cr_skip_test("the policy tests run clients as other uids: they need root");
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		close_range(3, ~0u, 0);
		become(UID_A, 0);
		if (access(hvctl, X_OK) < 0)
			_exit(125);
		execl(client, client, "--no-such-option", (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2,
		  "uid %d cannot run %s and %s (status %#x): build in a directory every user "
		  "can reach, e.g. under /tmp", UID_A, client, hvctl, status);
}

void pol_init(struct pol_hvd *h)
{
	preflight();
	memset(h, 0, sizeof(*h));
	h->pid = -1;
	strcpy(h->dir, "/tmp/hvd-policy.XXXXXX");
	cr_assert_not_null(mkdtemp(h->dir), "mkdtemp: %s", strerror(errno));
	janitor(h->dir);
	/* The test users must reach the socket inside. */
	chmod(h->dir, 0755);
	snprintf(h->sock, sizeof(h->sock), "%s/hvd.sock", h->dir);
	snprintf(h->conf, sizeof(h->conf), "%s/hvd.conf", h->dir);
	snprintf(h->audit, sizeof(h->audit), "%s/audit.log", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/hvd.log", h->dir);
	snprintf(h->state, sizeof(h->state), "%s/state", h->dir);
}

static char *replace_all(const char *text, const char *from, const char *to)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	const char *p = text, *q;

	while ((q = strstr(p, from))) {
		fwrite(p, 1, (size_t)(q - p), m);
		fputs(to, m);
		p = q + strlen(from);
	}
	fputs(p, m);
	fclose(m);
	return out;
}

void pol_write_file(struct pol_hvd *h, const char *path, const char *text, size_t len)
{
	char full[512];
	if (path[0] == '/')
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "%s/%s", h->dir, path);
	/* Write a new file and rename it over: hvd never reads half a file. */
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", full);
	FILE *f = fopen(tmp, "we");
	cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, full), 0, "rename %s: %s", full, strerror(errno));
}

void pol_write_conf(struct pol_hvd *h, const char *text)
{
	char *a = replace_all(text, "@AUDIT@", h->audit);
	char *b = replace_all(a, "@DIR@", h->dir);
	pol_write_file(h, h->conf, b, strlen(b));
	free(a);
	free(b);
}

/* Everything this test process started, for pol_cleanup. */
static struct pol_hvd *started[8];
static pid_t children[64];

void pol_track_child(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] <= 0) {
			children[i] = pid;
			return;
		}
	}
}

void pol_untrack_child(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

static bool wait_exit(pid_t pid, int *status, long ms)
{
	for (long long end = pol_now_ms() + ms; pol_now_ms() < end;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		pol_sleep_ms(2);
	}
	return false;
}

/* In hvd's child: hvd's own /dev/kvm (a node of the same device, owned by
 * run_uid, bound over /dev/kvm in a private mount namespace), then
 * run_uid and run_gid. The parent-death signal goes with the uid change,
 * so it is set again after it. */
static void become_hvd_user(const struct pol_hvd *h, pid_t parent)
{
	char kvm[sizeof(h->dir) + 8];
	struct stat st;
	snprintf(kvm, sizeof(kvm), "%s/kvm", h->dir);
	const char *step = "stat /dev/kvm";
	if (stat("/dev/kvm", &st) < 0 || (step = "unshare", unshare(CLONE_NEWNS) < 0) ||
	    (step = "private /", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) ||
	    (step = "mknod", mknod(kvm, S_IFCHR | 0600, st.st_rdev) < 0) ||
	    (step = "chown", chown(kvm, h->run_uid, h->run_gid) < 0) ||
	    (step = "bind", mount(kvm, "/dev/kvm", NULL, MS_BIND, NULL) < 0) ||
	    (step = "setgroups", setgroups(0, NULL) < 0) ||
	    (step = "setresgid", setresgid(h->run_gid, h->run_gid, h->run_gid) < 0) ||
	    (step = "setresuid", setresuid(h->run_uid, h->run_uid, h->run_uid) < 0)) {
		fprintf(stderr, "cannot become uid %u (%s): %s\n", (unsigned)h->run_uid, step,
			strerror(errno));
		_exit(127);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

void pol_start(struct pol_hvd *h)
{
	const char *bin = env_path("HVD_TEST_DAEMON");
	pid_t parent = getpid();
	struct stat st;

	h->pid = fork();
	cr_assert_neq(h->pid, -1, "fork: %s", strerror(errno));
	if (h->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		close_range(3, ~0u, 0);
		/* A cgroup of hvd's own (tests/policy/test_tenant_cgroups.c). */
		for (size_t i = 0; i < 2 && h->cgroup_procs[i]; i++) {
			int cg = open(h->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
			if (cg < 0 || write(cg, "0", 1) != 1) {
				fprintf(stderr, "cannot enter %s: %s\n", h->cgroup_procs[i],
					strerror(errno));
				_exit(127);
			}
			close(cg);
		}
		if (h->run_uid)
			become_hvd_user(h, parent);
		/* The test users (uids 60001..) are in no group of the
		 * socket's: it is opened to all, and the policy decides. */
		const char *argv[32] = { bin, "--socket", h->sock, "--socket-mode", "0666",
					 "--config", h->conf, "--state-dir", h->state,
					 "--log-level", "warn" };
		size_t n = 11;
		for (size_t i = 0; i < sizeof(h->args) / sizeof(h->args[0]) && h->args[i]; i++)
			argv[n++] = h->args[i];
		argv[n] = NULL;
		execv(bin, (char **)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++) {
		if (!started[i]) {
			started[i] = h;
			break;
		}
	}
	for (long long end = pol_now_ms() + POL_WAIT_MS; pol_now_ms() < end;) {
		if (stat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		int status;
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = -1;
			char *log = pol_read_file(h->log, NULL);
			cr_assert_fail("hvd exited during startup: %s", log ? log : "");
		}
		pol_sleep_ms(5);
	}
	cr_assert_fail("hvd did not create %s", h->sock);
}

void pol_stop(struct pol_hvd *h)
{
	int status = 0;
	if (h->pid > 0) {
		bool stopped = hvd_stop_signal_wait(h->pid, SIGTERM, h->sock, POL_WAIT_MS, &status);
		if (!stopped) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
		}
		h->pid = -1;
		/* hvd stops cleanly on SIGTERM: anything else (a crash, a
		 * sanitizer's report) fails the test, with hvd's log. */
		if (!stopped || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *log = pol_read_file(h->log, NULL);
			cr_expect_fail("hvd did not stop cleanly on SIGTERM (%s, status %#x); "
				       "its log:\n%s", stopped ? "exited" : "hung", status,
				       log ? log : "");
			free(log);
		}
	}
	if (h->dir[0]) {
		remove_dir(h->dir);
		h->dir[0] = '\0';
	}
	for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++)
		if (started[i] == h)
			started[i] = NULL;
}

void pol_cleanup(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++)
		if (started[i])
			pol_stop(started[i]);
}

void pol_done(void)
{
	pol_cleanup();
}

int pol_log_count(struct pol_hvd *h, const char *needle)
{
	char *log = pol_read_file(h->log, NULL);
	int n = 0;
	for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/* ---- processes as other users ---- */

/* In a forked child: become `uid` (0: stay root). */
static void become(uid_t uid, gid_t extra_gid)
{
	if (uid == 0)
		return;
	gid_t groups[2] = { GID_USERS, extra_gid };
	if (setgroups(extra_gid ? 2 : 1, groups) < 0 ||
	    setresgid(GID_USERS, GID_USERS, GID_USERS) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		fprintf(stderr, "cannot become uid %u: %s\n", (unsigned)uid, strerror(errno));
		_exit(126);
	}
	/* Changing credentials cleared it: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void collect_args(const char **argv, int first, va_list ap)
{
	int n = first;
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL) {
		cr_assert_lt(n, MAX_ARGS - 1, "too many arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
}

static void client_spawn(struct pol_hvd *h, struct pol_proc *p, uid_t uid, gid_t extra_gid,
			 va_list ap)
{
	const char *argv[MAX_ARGS];
	int in[2], out[2];
	pid_t parent = getpid();

	argv[0] = pol_client_path();
	collect_args(argv, 1, ap);
	memset(p, 0, sizeof(*p));
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	p->pid = fork();
	cr_assert_neq(p->pid, -1, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close_range(3, ~0u, 0);
		become(uid, extra_gid);
		setenv("HVD_SOCKET", h->sock, 1);
		execv(argv[0], (char **)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	pol_track_child(p->pid);
	close(in[0]);
	close(out[1]);
	p->in = in[1];
	p->out = out[0];
}

void pol_client_start(struct pol_hvd *h, struct pol_proc *p, uid_t uid, gid_t extra_gid, ...)
{
	va_list ap;
	va_start(ap, extra_gid);
	client_spawn(h, p, uid, extra_gid, ap);
	va_end(ap);
}

void pol_client_line(struct pol_proc *p, char *line, size_t len)
{
	long long end = pol_now_ms() + POL_WAIT_MS;
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (nl) {
			size_t n = (size_t)(nl - p->buf);
			snprintf(line, len, "%.*s", (int)n, p->buf);
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			return;
		}
		long long left = end - pol_now_ms();
		cr_assert_gt(left, 0, "client %d printed no line within %d ms (so far: '%.*s')",
			     (int)p->pid, POL_WAIT_MS, (int)p->len, p->buf);
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		cr_assert_lt(p->len, sizeof(p->buf) - 1, "client output too long");
		ssize_t n = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		cr_assert_gt(n, 0, "client %d ended its output without a line (so far: '%.*s')",
			     (int)p->pid, (int)p->len, p->buf);
		p->len += (size_t)n;
	}
}

unsigned pol_client_result(struct pol_proc *p, const char *key)
{
	char line[256], *end;
	size_t k = strlen(key);

	pol_client_line(p, line, sizeof(line));
	cr_assert(strncmp(line, key, k) == 0 && line[k] == '=',
		  "client %d: expected '%s=...', got '%s'", (int)p->pid, key, line);
	unsigned long v = strtoul(line + k + 1, &end, 16);
	cr_assert(*end == '\0' && end != line + k + 1, "client %d: bad result '%s'",
		  (int)p->pid, line);
	return (unsigned)v;
}

unsigned pol_client_cmd(struct pol_proc *p, const char *key, const char *cmd)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);
	cr_assert_eq(write(p->in, line, (size_t)n), n, "write to client: %s", strerror(errno));
	return pol_client_result(p, key);
}

int pol_client_finish(struct pol_proc *p)
{
	int status;
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	bool done = wait_exit(p->pid, &status, POL_WAIT_MS);
	if (!done) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &status, 0);
	}
	pol_untrack_child(p->pid);
	close(p->out);
	p->out = -1;
	cr_assert(done, "client %d did not exit after its stdin closed", (int)p->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

unsigned pol_client_once(struct pol_hvd *h, uid_t uid, gid_t extra_gid, ...)
{
	struct pol_proc p;
	char line[256];
	va_list ap;

	va_start(ap, extra_gid);
	client_spawn(h, &p, uid, extra_gid, ap);
	va_end(ap);
	pol_client_line(&p, line, sizeof(line));
	char *eq = strchr(line, '=');
	cr_assert_not_null(eq, "client: unexpected output '%s'", line);
	unsigned v = (unsigned)strtoul(eq + 1, NULL, 16);
	pol_client_finish(&p);
	return v;
}

/* ---- hvctl ---- */

static char *read_memfd(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	char *buf = calloc(1, (size_t)st.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	return buf;
}

static int hvctl_run(struct pol_hvd *h, uid_t uid, char **out, char **err, va_list ap)
{
	const char *argv[MAX_ARGS];
	int n = 0, status;
	pid_t parent = getpid();

	argv[n++] = pol_hvctl_path();
	if (h) {
		argv[n++] = "--socket";
		argv[n++] = h->sock;
	}
	collect_args(argv, n, ap);
	int ofd = memfd_create("hvctl-out", MFD_CLOEXEC);
	int efd = memfd_create("hvctl-err", MFD_CLOEXEC);
	cr_assert(ofd >= 0 && efd >= 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		close_range(3, ~0u, 0);
		become(uid, 0);
		execv(argv[0], (char **)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	pol_track_child(pid);
	bool done = wait_exit(pid, &status, POL_WAIT_MS);
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	pol_untrack_child(pid);
	char *o = read_memfd(ofd), *e = read_memfd(efd);
	close(ofd);
	close(efd);
	cr_assert(done, "hvctl %s did not finish (stdout '%s', stderr '%s')", argv[h ? 3 : 1],
		  o, e);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int pol_hvctl(struct pol_hvd *h, uid_t uid, char **out, char **err, ...)
{
	va_list ap;
	va_start(ap, err);
	int r = hvctl_run(h, uid, out, err, ap);
	va_end(ap);
	return r;
}

json_object *pol_hvctl_json(struct pol_hvd *h, uid_t uid, ...)
{
	char *out = NULL, *err = NULL;
	va_list ap;
	va_start(ap, uid);
	int r = hvctl_run(h, uid, &out, &err, ap);
	va_end(ap);
	cr_assert_eq(r, 0, "hvctl (as uid %u) exited %d: %s", (unsigned)uid, r, err);
	json_object *o = json_tokener_parse(out);
	cr_assert_not_null(o, "hvctl printed no JSON: '%s'", out);
	free(out);
	free(err);
	return o;
}

json_object *pol_show_vm(struct pol_hvd *h, pid_t pid)
{
	json_object *l = pol_hvctl_json(h, 0, "list", "--json", NULL);
	json_object *vm = pol_find(pol_get(l, "vms"), "pid", pid);
	cr_assert_not_null(vm, "hvctl list has no VM of pid %d: %s", (int)pid,
			   json_object_to_json_string(l));
	char id[32];
	snprintf(id, sizeof(id), "%lld", pol_int(vm, "id"));
	json_object_put(l);
	return pol_hvctl_json(h, 0, "show", id, "--json", NULL);
}

void pol_wait_vms(struct pol_hvd *h, unsigned vms)
{
	long long seen = -1;
	for (long long end = pol_now_ms() + POL_WAIT_MS; pol_now_ms() < end;) {
		json_object *st = pol_hvctl_json(h, 0, "status", "--json", NULL);
		seen = pol_int(st, "vms");
		json_object_put(st);
		if (seen == (long long)vms)
			return;
		pol_sleep_ms(10);
	}
	cr_assert_fail("hvd still reports %lld VMs, expected %u", seen, vms);
}

/* ---- audit ---- */

int pol_audit_count(struct pol_hvd *h, const char *decision, const char *request, long uid,
		    long pid, char *reason, size_t reason_len)
{
	char *text = pol_read_file(h->audit, NULL);
	int n = 0;
	char *save = NULL;

	if (!text)
		return 0;
	/* A last line without its newline is one hvd is still writing
	 * (slow under valgrind): only whole lines count. */
	char *last = strrchr(text, '\n');
	if (last)
		last[1] = '\0';
	else
		text[0] = '\0';
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line);
		cr_assert_not_null(o, "audit line is not JSON: %s", line);
		json_object *v;
		bool match = true;
		if (decision && !(json_object_object_get_ex(o, "decision", &v) &&
				  strcmp(json_object_get_string(v), decision) == 0))
			match = false;
		if (request && !(json_object_object_get_ex(o, "request", &v) &&
				 strcmp(json_object_get_string(v), request) == 0))
			match = false;
		if (uid >= 0 && !(json_object_object_get_ex(o, "uid", &v) &&
				  json_object_get_int64(v) == uid))
			match = false;
		if (pid >= 0 && !(json_object_object_get_ex(o, "pid", &v) &&
				  json_object_get_int64(v) == pid))
			match = false;
		if (match) {
			if (n == 0 && reason && json_object_object_get_ex(o, "reason", &v))
				snprintf(reason, reason_len, "%s", json_object_get_string(v));
			n++;
		}
		json_object_put(o);
	}
	free(text);
	return n;
}

/* ---- json ---- */

json_object *pol_get(json_object *o, const char *key)
{
	json_object *v = NULL;
	cr_assert(o && json_object_object_get_ex(o, key, &v), "JSON has no \"%s\": %s", key,
		  o ? json_object_to_json_string(o) : "(null)");
	return v;
}

long long pol_int(json_object *o, const char *key)
{
	json_object *v = pol_get(o, key);
	cr_assert(json_object_is_type(v, json_type_int), "\"%s\" is not an integer: %s", key,
		  json_object_to_json_string(o));
	return (long long)json_object_get_int64(v);
}

const char *pol_str(json_object *o, const char *key)
{
	json_object *v = pol_get(o, key);
	cr_assert(json_object_is_type(v, json_type_string), "\"%s\" is not a string: %s", key,
		  json_object_to_json_string(o));
	return json_object_get_string(v);
}

bool pol_bool(json_object *o, const char *key)
{
	json_object *v = pol_get(o, key);
	cr_assert(json_object_is_type(v, json_type_boolean), "\"%s\" is not a boolean: %s", key,
		  json_object_to_json_string(o));
	return json_object_get_boolean(v);
}

bool pol_strv_has(json_object *arr, const char *s)
{
	cr_assert(json_object_is_type(arr, json_type_array), "not an array: %s",
		  json_object_to_json_string(arr));
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (json_object_is_type(e, json_type_string) &&
		    strcmp(json_object_get_string(e), s) == 0)
			return true;
	}
	return false;
}

json_object *pol_find(json_object *arr, const char *key, long long v)
{
	cr_assert(json_object_is_type(arr, json_type_array), "not an array: %s",
		  json_object_to_json_string(arr));
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		json_object *f;
		if (json_object_object_get_ex(e, key, &f) && json_object_get_int64(f) == v)
			return e;
	}
	return NULL;
}

size_t pol_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

bool pol_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}
