/*
 * The freeze of issue 10, reproduced against a real hvd: "the executable
 * behind /proc/PID/exe was read and hashed on the loop thread with no
 * size or time limit, both at accept and for admin_policy_explain of any
 * pid (the permission check came after the hash). An 8 GiB sparse copy of
 * a small binary froze every client of every tenant for 32 s per request;
 * chmod forces a re-hash."
 *
 * The attacker, uid B, runs an 8 GiB sparse copy of policy_client (the
 * ELF runs; the rest of the file is a hole that costs no disk), chmod-ing
 * it between runs so that no cache saves hvd the work. A bystander of
 * uid A, a forked child of this test speaking to hvd's socket directly,
 * makes Capability round trips back to back the whole time and reports
 * the slowest one (including one still waiting when it is told to stop),
 * so a frozen loop shows up as a number, not as a hung test.
 *
 * 1. hvd identifies the 8 GiB executable without freezing anyone: it is
 *    not hashed (larger than max_exe_size, which `hvctl policy explain`
 *    shows in its reason), while a normal-size copy is.
 * 2. uid A asking hvd to explain uid B's 8 GiB process is refused at
 *    once, before any hashing, however often it asks.
 * 3. Admin calls of a non-administrator are held to max_admin_rate per
 *    second per uid (HV_NO_RESOURCES, naming max_admin_rate); other uids
 *    and root are not held back by it.
 *
 * Tests 1 and 2 use only configuration keys an hvd from before the fix
 * knows too (max_exe_size is at its default, 256M), so the same test run
 * against such an hvd shows the freeze instead of a refused
 * configuration. Every wait on hvd here has its own generous time-out
 * (FREEZE_WAIT_MS) and reports how long it took, rather than tripping
 * over the harness's 15 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "hvp.h"
#include "pol.h"

/* A round trip of the bystander, an explain refusal: answered within
 * this (generous: the point is "not frozen", not "fast"). */
#define RTT_BOUND_MS 2000
/* How long the test waits for anything hvd does, so that the old hvd's
 * freeze (about 30 s per 8 GiB hash here) is measured, not cut short. */
#define FREEZE_WAIT_MS 90000
/* The attack phases stop starting new rounds after this. */
#define ATTACK_BUDGET_MS 15000

#define BIG_SIZE (8ull << 30)
#define ATTACK_RUNS 3
#define EXPLAIN_RUNS 20

#define ERR_NOT_YOURS "only administrators may explain other users' processes"

static struct pol_hvd H;
static char big_exe[256], small_exe[256];

/* In a forked child: become `uid` (0: stay root). */
static void become(uid_t uid)
{
	if (uid != 0) {
		gid_t g = GID_USERS;
		if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			fprintf(stderr, "cannot become uid %u: %s\n", (unsigned)uid,
				strerror(errno));
			_exit(126);
		}
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
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

/* ---- a program run as some uid: its stdin and stdout are pipes ---- */

struct prog {
	pid_t pid;
	int in, out;
	char buf[4096];
	size_t len;
};

static void prog_start(struct prog *p, uid_t uid, const char *exe, const char *a1,
		       const char *a2)
{
	int in[2], out[2];
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	fflush(NULL);
	p->pid = fork();
	cr_assert_neq(p->pid, -1, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close_range(3, ~0u, 0);
		become(uid);
		setenv("HVD_SOCKET", H.sock, 1);
		execl(exe, exe, a1, a2, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	pol_track_child(p->pid);
	close(in[0]);
	close(out[1]);
	p->in = in[1];
	p->out = out[0];
}

/* The next output line, or false if there is none within `ms`. */
static bool prog_line(struct prog *p, char *line, size_t len, long ms)
{
	long long end = pol_now_ms() + ms;
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (nl) {
			size_t n = (size_t)(nl - p->buf);
			snprintf(line, len, "%.*s", (int)n, p->buf);
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			return true;
		}
		long long left = end - pol_now_ms();
		if (left <= 0 || p->len >= sizeof(p->buf) - 1)
			return false;
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		if (n <= 0)
			return false;
		p->len += (size_t)n;
	}
}

static void prog_stop(struct prog *p)
{
	if (p->pid <= 0)
		return;
	close(p->in);
	int status;
	if (!wait_exit(p->pid, &status, 5000)) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &status, 0);
	}
	pol_untrack_child(p->pid);
	close(p->out);
	p->pid = 0;
}

/* A client of uid B on executable `exe` that connects (no VM) and stays:
 * waits for its "ready" and returns how long that took, or -1. */
static long long holder_start(struct prog *p, const char *exe)
{
	char line[128];
	long long t0 = pol_now_ms();
	prog_start(p, UID_B, exe, "--no-create", "--hold");
	bool cap = prog_line(p, line, sizeof(line), FREEZE_WAIT_MS);
	cr_assert(cap && strncmp(line, "cap=", 4) == 0, "the client of uid B on %s did not "
		  "connect within %d ms (%s)", exe, FREEZE_WAIT_MS, cap ? line : "no line");
	cr_expect_str_eq(line, "cap=0", "uid B's client on %s: %s", exe, line);
	cr_assert(prog_line(p, line, sizeof(line), FREEZE_WAIT_MS) && strcmp(line, "ready") == 0,
		  "the client of uid B on %s did not get ready", exe);
	return pol_now_ms() - t0;
}

/* ---- hvctl with a time-out of our own, timed ---- */

static char *read_memfd(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	char *buf = calloc(1, (size_t)st.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	return buf;
}

/* Runs hvctl --socket SOCK ARGS... as `uid`; returns its exit status
 * (-1: killed, or not done within FREEZE_WAIT_MS) and how long it ran. */
static int hvctl_timed(uid_t uid, char **out, char **err, long long *ms, ...)
{
	const char *argv[16];
	int n = 0;
	va_list ap;
	pid_t parent = getpid();

	argv[n++] = pol_hvctl_path();
	argv[n++] = "--socket";
	argv[n++] = H.sock;
	va_start(ap, ms);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
		cr_assert_lt(n, 15);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	int ofd = memfd_create("hvctl-out", MFD_CLOEXEC);
	int efd = memfd_create("hvctl-err", MFD_CLOEXEC);
	cr_assert(ofd >= 0 && efd >= 0);
	long long t0 = pol_now_ms();
	fflush(NULL);
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
		become(uid);
		execv(argv[0], (char **)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	pol_track_child(pid);
	int status = 0;
	bool done = wait_exit(pid, &status, FREEZE_WAIT_MS);
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	*ms = pol_now_ms() - t0;
	pol_untrack_child(pid);
	char *o = read_memfd(ofd), *e = read_memfd(efd);
	close(ofd);
	close(efd);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	return done && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- the raw peer: hand-encoded protobuf on hvd's socket ---- */

/* Request fields (proto/hvd.proto). */
#define F_HELLO 10
#define F_CAPABILITY 17
#define F_ADMIN_STATUS 28

static int raw_connect(const char *sock, int timeout_s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { timeout_s, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%.100s", sock);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Request { id; <field> { payload } } */
static int raw_send(int fd, uint32_t id, unsigned field, const uint8_t *payload, size_t len)
{
	uint8_t req[64];
	size_t n = 0;
	req[n++] = 0x08;
	n += pol_put_varint(req + n, id);
	n += pol_put_varint(req + n, (uint64_t)field << 3 | 2);
	n += pol_put_varint(req + n, len);
	if (len)
		memcpy(req + n, payload, len);
	n += len;
	return send(fd, req, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* Reads one Response: its status (-1 if none came: `err` says why) and
 * its error text. */
static long long raw_recv(int fd, char *err, size_t errlen)
{
	static uint8_t buf[1 << 16];
	err[0] = '\0';
	ssize_t r = recv(fd, buf, sizeof(buf), 0);
	if (r <= 0) {
		snprintf(err, errlen, "no reply: %s", r == 0 ? "closed by hvd" : strerror(errno));
		return -1;
	}
	const uint8_t *p = buf, *end = buf + r;
	long long status = 0;
	while (p < end) {
		uint64_t key, v;
		if (!pol_get_varint(&p, end, &key))
			goto bad;
		switch (key & 7) {
		case 0:
			if (!pol_get_varint(&p, end, &v))
				goto bad;
			if ((key >> 3) == 2)
				status = (uint32_t)v;
			break;
		case 1:
			p += 8;
			break;
		case 5:
			p += 4;
			break;
		case 2:
			if (!pol_get_varint(&p, end, &v) || v > (uint64_t)(end - p))
				goto bad;
			if ((key >> 3) == 7) {
				size_t k = v < errlen - 1 ? (size_t)v : errlen - 1;
				memcpy(err, p, k);
				err[k] = '\0';
				for (size_t i = 0; i < k; i++)
					if (err[i] == '\n' || err[i] == '|')
						err[i] = ' ';
			}
			p += v;
			break;
		default:
			goto bad;
		}
	}
	return status;
bad:
	snprintf(err, errlen, "undecodable reply");
	return -1;
}

static long long raw_call(int fd, uint32_t id, unsigned field, const uint8_t *payload,
			  size_t len, char *err, size_t errlen)
{
	if (raw_send(fd, id, field, payload, len) < 0) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return -1;
	}
	return raw_recv(fd, err, errlen);
}

static const uint8_t hello_v1[] = { 0x08, 0x01 };   /* version = 1 */
static const uint8_t cap_vcpumax[] = { 0x08, 0x00 }; /* which = 0 */

/* A raw peer: a forked child as `uid`, its commands on stdin, its
 * replies on stdout, one line each. */
struct peer {
	struct prog io;
	uid_t uid;
};

static char peer_sock[128];

static void peer_reply(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * "watch": the bystander. Connects, says Hello, then makes Capability
 * round trips back to back until a line (or EOF) arrives on stdin, and
 * replies with how many it made and the slowest, counting the one still
 * waiting for its answer when it was told to stop.
 */
static void peer_watch(void)
{
	char err[256];
	int fd = raw_connect(peer_sock, 120);
	long long st = fd < 0 ? -1 : raw_call(fd, 1, F_HELLO, hello_v1, sizeof(hello_v1), err,
					       sizeof(err));
	if (st != 0) {
		peer_reply("watch error hello status %lld: %s", st, fd < 0 ? "connect" : err);
		return;
	}
	peer_reply("watching");
	long n = 0, failed = 0, slow = 0;
	long long max = 0, max_at = 0, start = pol_now_ms();
	bool stop = false, inflight = false;
	for (uint32_t id = 2; !stop; id++) {
		long long t0 = pol_now_ms();
		if (raw_send(fd, id, F_CAPABILITY, cap_vcpumax, sizeof(cap_vcpumax)) < 0) {
			failed++;
			break;
		}
		for (;;) {
			struct pollfd p[2] = { { fd, POLLIN, 0 }, { 0, POLLIN, 0 } };
			poll(p, 2, 100);
			if (p[0].revents) {
				long long r = raw_recv(fd, err, sizeof(err));
				if (r < 0)
					failed++;
				break;
			}
			if (p[1].revents) {
				stop = inflight = true;
				break;
			}
		}
		long long dt = pol_now_ms() - t0;
		if (dt > max) {
			max = dt;
			max_at = t0 - start;
		}
		if (dt >= RTT_BOUND_MS)
			slow++;
		if (failed)
			break;
		if (!inflight)
			n++;
		pol_sleep_ms(2);
	}
	peer_reply("watch n=%ld max=%lld at=%lld slow=%ld failed=%ld inflight=%d", n, max, max_at,
		   slow, failed, (int)inflight);
}

/* "flood N CONNS": N admin_status calls, one after another, spread over
 * CONNS connections (each with its Hello); counts the answers. */
static void peer_flood(long n, long conns)
{
	char err[256], first_nores[256] = "-", first_other[256] = "-";
	int fds[4];
	if (conns < 1 || conns > 4)
		conns = 1;
	for (long c = 0; c < conns; c++) {
		fds[c] = raw_connect(peer_sock, 10);
		long long st = fds[c] < 0 ? -1 :
			raw_call(fds[c], 1, F_HELLO, hello_v1, sizeof(hello_v1), err, sizeof(err));
		if (st != 0) {
			peer_reply("flood error hello status %lld: %s", st,
				   fds[c] < 0 ? "connect" : err);
			return;
		}
	}
	long ok = 0, nores = 0, other = 0;
	long long t0 = pol_now_ms();
	for (long i = 0; i < n; i++) {
		long long st = raw_call(fds[i % conns], (uint32_t)i + 2, F_ADMIN_STATUS, NULL, 0, err,
					sizeof(err));
		if (st == 0) {
			ok++;
		} else if (st == (long long)ST_NO_RESOURCES) {
			if (!nores++)
				snprintf(first_nores, sizeof(first_nores), "%s", err[0] ? err : "(none)");
		} else if (!other++) {
			snprintf(first_other, sizeof(first_other), "status %#llx: %.200s",
				 (unsigned long long)st, err);
		}
	}
	long long ms = pol_now_ms() - t0;
	for (long c = 0; c < conns; c++)
		close(fds[c]);
	peer_reply("flood ok=%ld nores=%ld other=%ld ms=%lld err=%s|other=%s", ok, nores, other,
		   ms, first_nores, first_other);
}

static void peer_main(uid_t uid)
{
	become(uid);
	char line[256];
	if (!fgets(line, sizeof(line), stdin))
		_exit(0);
	long a = 0, b = 0;
	char what[32] = "";
	sscanf(line, "%31s %ld %ld", what, &a, &b);
	if (strcmp(what, "watch") == 0)
		peer_watch();
	else if (strcmp(what, "flood") == 0)
		peer_flood(a, b);
	else
		peer_reply("error unknown command %s", what);
	/* Stay until told to go (EOF). */
	while (fgets(line, sizeof(line), stdin))
		;
	_exit(0);
}

static void peer_start(struct peer *p, uid_t uid, const char *fmt, ...)
{
	int cmd[2], rep[2];
	pid_t parent = getpid();
	char line[128];
	va_list ap;

	memset(p, 0, sizeof(*p));
	p->uid = uid;
	cr_assert_eq(pipe2(cmd, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(rep, O_CLOEXEC), 0);
	snprintf(peer_sock, sizeof(peer_sock), "%s", H.sock);
	fflush(NULL);
	p->io.pid = fork();
	cr_assert_neq(p->io.pid, -1, "fork: %s", strerror(errno));
	if (p->io.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		dup2(cmd[0], 0);
		dup2(rep[1], 1);
		close_range(3, ~0u, 0);
		peer_main(uid);
	}
	pol_track_child(p->io.pid);
	close(cmd[0]);
	close(rep[1]);
	p->io.in = cmd[1];
	p->io.out = rep[0];
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	cr_assert_eq(write(p->io.in, line, (size_t)n), n);
}

/* The peer's next line, which must start with `what`. */
static void peer_read(struct peer *p, const char *what, char *line, size_t len, long ms)
{
	cr_assert(prog_line(&p->io, line, len, ms), "the peer of uid %u did not answer '%s' "
		  "within %ld ms", (unsigned)p->uid, what, ms);
	cr_assert(strncmp(line, what, strlen(what)) == 0, "peer of uid %u: expected '%s ...', "
		  "got '%s'", (unsigned)p->uid, what, line);
}

/* ---- the bystander: uid A's round trips, timed inside its peer ---- */

struct watch {
	long n, slow, failed;
	long long max, at;
	int inflight;
};

static void watch_start(struct peer *w)
{
	char line[256];
	peer_start(w, UID_A, "watch");
	peer_read(w, "watching", line, sizeof(line), POL_WAIT_MS);
}

static void watch_stop(struct peer *w, struct watch *r, const char *during)
{
	char line[512];
	cr_assert_eq(write(w->io.in, "stop\n", 5), 5);
	peer_read(w, "watch n=", line, sizeof(line), 5000);
	cr_assert_eq(sscanf(line, "watch n=%ld max=%lld at=%lld slow=%ld failed=%ld inflight=%d",
			    &r->n, &r->max, &r->at, &r->slow, &r->failed, &r->inflight), 6, "%s",
		     line);
	prog_stop(&w->io);
	cr_log_info("bystander (uid A) during %s: %ld round trips, slowest %lld ms (%lld ms "
		    "in), %ld of %d ms or more%s", during, r->n, r->max, r->at, r->slow,
		    RTT_BOUND_MS, r->inflight ? ", one still unanswered at the end" : "");
	cr_expect_eq(r->failed, 0, "the bystander's session of uid A failed during %s", during);
	cr_expect_gt(r->n, 0, "the bystander of uid A got no answer at all during %s", during);
	cr_expect_lt(r->max, RTT_BOUND_MS, "during %s a round trip of uid A's bystander took "
		     "%lld ms (%lld ms in; %ld round trips, %ld slower than %d ms%s): hvd's loop "
		     "was frozen", during, r->max, r->at, r->n, r->slow, RTT_BOUND_MS,
		     r->inflight ? ", the last still unanswered" : "");
}

static void expect_hvd_alive(void)
{
	int status;
	cr_expect(H.pid > 0 && waitpid(H.pid, &status, WNOHANG) == 0 && kill(H.pid, 0) == 0,
		  "hvd is gone after the attack");
	long long ms;
	char *err = NULL;
	int r = hvctl_timed(0, NULL, &err, &ms, "status", "--json", NULL);
	cr_expect_eq(r, 0, "hvctl status after the attack exited %d after %lld ms: %s", r, ms,
		     err);
	free(err);
}

/* ---- the executables ---- */

/* A copy of policy_client in the test's directory, `size` bytes long
 * (the rest a hole), executable by everyone. */
static void copy_client(const char *path, unsigned long long size)
{
	size_t len;
	char *elf = pol_read_file(pol_client_path(), &len);
	cr_assert(elf && len > 0, "cannot read %s", pol_client_path());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, elf, len), (ssize_t)len);
	if (size > len)
		cr_assert_eq(ftruncate(fd, (off_t)size), 0, "ftruncate %s to %llu: %s", path, size,
			     strerror(errno));
	cr_assert_eq(fchmod(fd, 0755), 0);
	cr_assert_eq(close(fd), 0);
	free(elf);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((unsigned long long)st.st_size, size > len ? size : len);
	cr_log_info("%s: %lld bytes, %lld KiB on disk", path, (long long)st.st_size,
		    (long long)st.st_blocks / 2);
}

static void make_copies(void)
{
	snprintf(big_exe, sizeof(big_exe), "%s/big_client", H.dir);
	snprintf(small_exe, sizeof(small_exe), "%s/small_client", H.dir);
	copy_client(big_exe, BIG_SIZE);
	copy_client(small_exe, 0);
}

/* A chmod: a new ctime, so no cache of (dev, ino, size, mtime, ctime)
 * can spare hvd the hash. */
static void touch_mode(int i)
{
	cr_assert_eq(chmod(big_exe, i % 2 ? 0775 : 0755), 0, "chmod %s: %s", big_exe,
		     strerror(errno));
}

static void remove_copies(void)
{
	if (big_exe[0])
		unlink(big_exe);
	if (small_exe[0])
		unlink(small_exe);
	big_exe[0] = small_exe[0] = '\0';
}

/* ---- the suite ---- */

static void fini(void)
{
	remove_copies();
	pol_cleanup();
}

TestSuite(freeze, .fini = fini);

static const char entitlements[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<plist version=\"1.0\"><dict>\n"
	"\t<key>com.apple.security.hypervisor</key><true/>\n"
	"</dict></plist>\n";

/* A trusted key and a grant of com.apple.security.hypervisor to uid B
 * running the normal-size copy: with a grant loaded, an explanation says
 * why grants were or were not considered. */
static void grant_small_copy(char *conf, size_t len)
{
	char name[200], pub[220], plist[200], gdir[200], grant[240], *err = NULL;
	snprintf(name, sizeof(name), "%s/admin", H.dir);
	int r = pol_hvctl(NULL, 0, NULL, &err, "keygen", "--out", name, NULL);
	cr_assert_eq(r, 0, "hvctl keygen exited %d: %s", r, err);
	free(err);
	snprintf(pub, sizeof(pub), "%s.pub", name);
	char *hex = pol_read_file(pub, NULL);
	cr_assert(hex && strspn(hex, "0123456789abcdef") == 64, "%s: %s", pub, hex);
	hex[64] = '\0';
	snprintf(plist, sizeof(plist), "%s/ent.plist", H.dir);
	pol_write_file(&H, plist, entitlements, strlen(entitlements));
	snprintf(gdir, sizeof(gdir), "%s/grants", H.dir);
	cr_assert_eq(mkdir(gdir, 0755), 0);
	snprintf(grant, sizeof(grant), "%s/small.grant", gdir);
	snprintf(name, sizeof(name), "%s/admin.key", H.dir);
	err = NULL;
	r = pol_hvctl(NULL, 0, NULL, &err, "grant", "sign", "--key", name, "--exe", small_exe,
		      "--entitlements", plist, "--uid", "60002", "--out", grant, NULL);
	cr_assert_eq(r, 0, "hvctl grant sign exited %d: %s", r, err);
	free(err);
	snprintf(conf, len,
		 "[hvd]\n"
		 "audit = @AUDIT@\n"
		 "trusted_key = %s\n"
		 "grants = @DIR@/grants\n", hex);
	free(hex);
}

static void hex_of(const char *path, char *hex)
{
	uint8_t hash[HVP_HASH_BYTES];
	cr_assert_eq(hvp_hash_file(path, hash), 0, "cannot hash %s", path);
	for (int i = 0; i < HVP_HASH_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
}

/* `hvctl policy explain --pid PID --json` as root, timed. */
static json_object *explain_root(pid_t pid, long long *ms)
{
	char spid[32], *out = NULL, *err = NULL;
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	int r = hvctl_timed(0, &out, &err, ms, "policy", "explain", "--pid", spid, "--json", NULL);
	cr_assert_eq(r, 0, "hvctl policy explain --pid %s (as root) exited %d after %lld ms: %s",
		     spid, r, *ms, err);
	json_object *o = json_tokener_parse(out);
	cr_assert_not_null(o, "hvctl printed no JSON: '%s'", out);
	free(out);
	free(err);
	return o;
}

/*
 * 1. uid B runs the 8 GiB copy of policy_client three times, chmod-ing it
 * before each run: uid A's round trips stay answered, hvd stays up, and
 * the explanation of the 8 GiB process says it was not hashed because of
 * max_exe_size, while the normal-size copy is hashed and gets its grant.
 */
Test(freeze, big_executable_does_not_freeze_the_loop, .timeout = 240)
{
	struct peer w;
	struct watch r;
	struct prog p;
	char conf[512], line[128];

	pol_init(&H);
	make_copies();
	grant_small_copy(conf, sizeof(conf));
	pol_write_conf(&H, conf);
	pol_start(&H);

	watch_start(&w);
	pol_sleep_ms(100);
	long long runs_ms[ATTACK_RUNS] = { 0 }, t_attack = pol_now_ms();
	int runs = 0;
	for (; runs < ATTACK_RUNS && pol_now_ms() - t_attack < ATTACK_BUDGET_MS; runs++) {
		touch_mode(runs);
		long long t0 = pol_now_ms();
		prog_start(&p, UID_B, big_exe, "--no-create", NULL);
		bool got = prog_line(&p, line, sizeof(line), FREEZE_WAIT_MS);
		runs_ms[runs] = pol_now_ms() - t0;
		prog_stop(&p);
		cr_expect(got && strncmp(line, "cap=", 4) == 0, "run %d of the 8 GiB client (uid "
			  "B) printed '%s' after %lld ms", runs + 1, got ? line : "nothing",
			  runs_ms[runs]);
		cr_log_info("run %d of the 8 GiB client as uid B: '%s' after %lld ms", runs + 1,
			    got ? line : "nothing", runs_ms[runs]);
	}
	pol_sleep_ms(100);
	watch_stop(&w, &r, "the 8 GiB executable's runs");
	cr_expect_eq(runs, ATTACK_RUNS, "only %d runs of the 8 GiB client fit in %d ms (%lld, "
		     "%lld ms)", runs, ATTACK_BUDGET_MS, runs_ms[0], runs_ms[1]);
	for (int i = 0; i < runs; i++)
		cr_expect_lt(runs_ms[i], RTT_BOUND_MS, "run %d of the 8 GiB client took %lld ms "
			     "to connect", i + 1, runs_ms[i]);
	expect_hvd_alive();

	/* What hvd made of each executable. */
	struct prog big, small;
	touch_mode(runs);
	long long big_ms = holder_start(&big, big_exe);
	long long small_ms = holder_start(&small, small_exe);
	long long ex_big_ms, ex_small_ms;
	json_object *eb = explain_root(big.pid, &ex_big_ms);
	json_object *es = explain_root(small.pid, &ex_small_ms);
	const char *jb = json_object_to_json_string(eb), *js = json_object_to_json_string(es);
	cr_log_info("the 8 GiB holder connected in %lld ms, explained in %lld ms: %s", big_ms,
		    ex_big_ms, jb);
	cr_log_info("the normal-size holder connected in %lld ms, explained in %lld ms: %s",
		    small_ms, ex_small_ms, js);
	cr_expect_lt(ex_big_ms, RTT_BOUND_MS, "explaining the 8 GiB process took %lld ms",
		     ex_big_ms);

	cr_expect_eq(pol_int(eb, "uid"), UID_B, "%s", jb);
	cr_expect_str_eq(pol_str(eb, "exe"), big_exe, "%s", jb);
	cr_expect_str_eq(pol_str(eb, "exe_blake2b"), "", "the 8 GiB executable was hashed: %s",
			 jb);
	const char *reason = pol_str(eb, "reason");
	cr_expect(strstr(reason, "larger than max_exe_size"), "the explanation of the 8 GiB "
		  "process does not say it is larger than max_exe_size: %s", reason);
	cr_expect(strstr(reason, "grants not considered"), "%s", reason);
	cr_expect_not(pol_strv_has(pol_get(eb, "entitlements"), "com.apple.security.hypervisor"),
		      "the 8 GiB executable has an executable-bound right: %s", jb);

	char hex[2 * HVP_HASH_BYTES + 1];
	hex_of(small_exe, hex);
	cr_expect_str_eq(pol_str(es, "exe"), small_exe, "%s", js);
	cr_expect_str_eq(pol_str(es, "exe_blake2b"), hex, "the normal-size copy: %s", js);
	cr_expect(pol_strv_has(pol_get(es, "entitlements"), "com.apple.security.hypervisor"),
		  "the normal-size copy did not get its grant: %s", js);
	cr_expect_not(strstr(pol_str(es, "reason"), "max_exe_size"), "%s", js);
	json_object_put(eb);
	json_object_put(es);

	prog_stop(&big);
	prog_stop(&small);
	remove_copies();
	pol_done();
}

/* Opens and reads of the watched file since the last call (inotify
 * reports them whatever path was used, /proc/PID/exe included). */
static int file_uses(int ino)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int n = 0;
	for (;;) {
		ssize_t len = read(ino, buf, sizeof(buf));
		if (len <= 0)
			return n;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			n += (ev->mask & (IN_OPEN | IN_ACCESS)) != 0;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/*
 * 2. uid A, no administrator, asks hvd to explain uid B's 8 GiB process,
 * twenty times with a chmod before each: every time it is refused at
 * once with "only administrators may explain other users' processes",
 * and uid A's bystander is answered throughout. hvd does not even open
 * the executable for these (inotify on the file sees no open): whose
 * process it is was checked first. Root's explanation of the same
 * process still works and does open it (the process is there, the watch
 * sees opens; the refusal is about who asks).
 */
Test(freeze, explain_of_another_uid_is_refused_before_any_work, .timeout = 240)
{
	struct peer w;
	struct watch r;
	struct prog big;
	char spid[32];

	pol_init(&H);
	snprintf(big_exe, sizeof(big_exe), "%s/big_client", H.dir);
	copy_client(big_exe, BIG_SIZE);
	pol_write_conf(&H, "[hvd]\naudit = @AUDIT@\n");
	pol_start(&H);

	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	cr_assert_geq(ino, 0, "inotify_init1: %s", strerror(errno));
	cr_assert_geq(inotify_add_watch(ino, big_exe, IN_OPEN | IN_ACCESS), 0,
		      "inotify_add_watch %s: %s", big_exe, strerror(errno));
	long long big_ms = holder_start(&big, big_exe);
	cr_log_info("the 8 GiB holder of uid B connected in %lld ms", big_ms);
	snprintf(spid, sizeof(spid), "%d", (int)big.pid);
	/* Its exec and its identification (done before hvd answered its
	 * Hello) are over: from here on, nothing should open the file. */
	pol_sleep_ms(100);
	file_uses(ino);

	watch_start(&w);
	pol_sleep_ms(100);
	long long max = 0, total = 0, t_attack = pol_now_ms();
	int runs = 0, refused = 0, max_run = 0;
	char first_bad[512] = "";
	for (; runs < EXPLAIN_RUNS && pol_now_ms() - t_attack < ATTACK_BUDGET_MS; runs++) {
		touch_mode(runs);
		char *out = NULL, *err = NULL;
		long long ms;
		int x = hvctl_timed(UID_A, &out, &err, &ms, "policy", "explain", "--pid", spid,
				    NULL);
		total += ms;
		if (ms > max) {
			max = ms;
			max_run = runs + 1;
		}
		if (x != 0 && strstr(err, ERR_NOT_YOURS))
			refused++;
		else if (!first_bad[0])
			snprintf(first_bad, sizeof(first_bad), "run %d: exit %d after %lld ms, "
				 "stdout '%.150s', stderr '%.200s'", runs + 1, x, ms, out, err);
		free(out);
		free(err);
	}
	watch_stop(&w, &r, "uid A's explanations of uid B's 8 GiB process");
	int uses = file_uses(ino);
	cr_log_info("uid A's %d explanations of uid B's process: %d refused as not its own, "
		    "slowest %lld ms (run %d), %lld ms in all; the executable was opened or read "
		    "%d times meanwhile", runs, refused, max, max_run, total, uses);
	cr_expect_eq(uses, 0, "while refusing uid A's %d explanations of uid B's process, hvd "
		     "opened or read its executable %d times: the permission check does not come "
		     "first", runs, uses);
	cr_expect_eq(runs, EXPLAIN_RUNS, "only %d of uid A's %d explanations fit in %d ms "
		     "(slowest %lld ms)", runs, EXPLAIN_RUNS, ATTACK_BUDGET_MS, max);
	cr_expect_eq(refused, runs, "%d of uid A's %d explanations of uid B's process were not "
		     "refused with '%s': %s", runs - refused, runs, ERR_NOT_YOURS, first_bad);
	cr_expect_lt(max, RTT_BOUND_MS, "an explanation of uid B's process asked by uid A took "
		     "%lld ms (run %d) to be refused", max, max_run);
	cr_expect_eq(pol_audit_count(&H, "deny", "admin_policy_explain", UID_A, -1, NULL, 0), runs,
		     "every refusal is audited");
	expect_hvd_alive();

	long long ms;
	json_object *e = explain_root(big.pid, &ms);
	cr_expect_eq(pol_int(e, "uid"), UID_B, "%s", json_object_to_json_string(e));
	cr_expect_lt(ms, RTT_BOUND_MS, "root's explanation of the 8 GiB process took %lld ms", ms);
	json_object_put(e);
	uses = file_uses(ino);
	cr_log_info("root's explanation: %lld ms, the executable opened or read %d times", ms,
		    uses);
	cr_expect_gt(uses, 0, "root's explanation did not open the executable: the watch sees "
		     "nothing, so its silence above proves nothing");
	close(ino);

	prog_stop(&big);
	remove_copies();
	pol_done();
}

/*
 * 3. With max_admin_rate = 2, uid A makes 30 admin_status calls back to
 * back on two connections: the first ones are answered, the rest mostly
 * refused with HV_NO_RESOURCES naming max_admin_rate (one bucket per uid,
 * whatever the connection), about 2 a second get through, and the
 * refusals are audited. hvctl of uid A says so too. uid B, another uid,
 * and root, an administrator, are not held back. (A low rate: the bucket
 * refills every 500 ms, and the hvctl part needs some of its ten calls to
 * come faster than that; at 5 a second, on a loaded machine, each hvctl
 * took longer than a refill and all were answered.)
 */
#define ADMIN_RATE 2
#define FLOOD 30

struct flood {
	long ok, nores, other;
	long long ms;
	char err[256], other_err[256];
};

static void flood(uid_t uid, long n, long conns, struct flood *f)
{
	struct peer p;
	char line[1024];
	memset(f, 0, sizeof(*f));
	peer_start(&p, uid, "flood %ld %ld", n, conns);
	peer_read(&p, "flood ok=", line, sizeof(line), POL_WAIT_MS + 500L * n);
	prog_stop(&p.io);
	cr_assert_eq(sscanf(line, "flood ok=%ld nores=%ld other=%ld ms=%lld", &f->ok, &f->nores,
			    &f->other, &f->ms), 4, "%s", line);
	const char *e = strstr(line, " err="), *o = strstr(line, "|other=");
	cr_assert(e && o && o > e, "%s", line);
	snprintf(f->err, sizeof(f->err), "%.*s", (int)(o - e - 5), e + 5);
	snprintf(f->other_err, sizeof(f->other_err), "%s", o + 7);
	cr_log_info("uid %u: %ld admin_status calls in %lld ms: %ld answered, %ld "
		    "HV_NO_RESOURCES (%s), %ld other (%s)", (unsigned)uid, n, f->ms, f->ok,
		    f->nores, f->err, f->other, f->other_err);
}

Test(freeze, admin_calls_are_rate_limited_per_uid, .timeout = 120)
{
	struct flood a, b, root;
	char conf[256];

	pol_init(&H);
	snprintf(conf, sizeof(conf), "[hvd]\naudit = @AUDIT@\nmax_admin_rate = %d\n", ADMIN_RATE);
	pol_write_conf(&H, conf);
	pol_start(&H);

	flood(UID_A, FLOOD, 2, &a);
	cr_expect_eq(a.other, 0, "uid A's admin calls failed otherwise: %s", a.other_err);
	cr_expect_geq(a.ok, 1, "none of uid A's admin calls was answered");
	cr_expect_gt(a.nores, 0, "uid A made %d admin calls in %lld ms at a limit of %d/s and "
		     "none was refused", FLOOD, a.ms, ADMIN_RATE);
	cr_expect(strstr(a.err, "max_admin_rate"), "the refusal does not name max_admin_rate: %s",
		  a.err);
	/* The bucket holds a second's worth, and fills at the rate. */
	long allowed = ADMIN_RATE + (long)(a.ms * ADMIN_RATE / 1000) + 2;
	cr_expect_leq(a.ok, allowed, "uid A got %ld admin calls answered in %lld ms at %d/s "
		      "(at most %ld expected)", a.ok, a.ms, ADMIN_RATE, allowed);
	cr_expect_geq(pol_audit_count(&H, "quota", "admin_status", UID_A, -1, NULL, 0), 1,
		      "the refusals of uid A are not audited");

	/* hvctl of uid A, while its bucket is empty. */
	int hv_refused = 0, hv_ok = 0;
	char hv_err[512] = "";
	for (int i = 0; i < 10; i++) {
		char *err = NULL;
		long long ms;
		int x = hvctl_timed(UID_A, NULL, &err, &ms, "status", NULL);
		if (x == 0) {
			hv_ok++;
		} else if (strstr(err, "max_admin_rate")) {
			hv_refused++;
			if (!hv_err[0])
				snprintf(hv_err, sizeof(hv_err), "%.*s", (int)strcspn(err, "\n"),
					 err);
		}
		free(err);
	}
	cr_log_info("hvctl status as uid A, 10 times: %d refused (%s), %d answered", hv_refused,
		    hv_err, hv_ok);
	cr_expect_gt(hv_refused, 0, "no hvctl status of uid A was refused naming max_admin_rate");

	/* Another uid has a bucket of its own. */
	flood(UID_B, ADMIN_RATE, 1, &b);
	cr_expect_eq(b.ok, ADMIN_RATE, "uid B, which made no admin call yet, got only %ld of %d "
		     "answered (%s%s)", b.ok, ADMIN_RATE, b.err, b.other_err);

	/* Root is an administrator: not limited. */
	flood(0, FLOOD, 2, &root);
	cr_expect_eq(root.ok, FLOOD, "root got only %ld of %d admin calls answered (%s %s)",
		     root.ok, FLOOD, root.err, root.other_err);
	expect_hvd_alive();
	pol_done();
}
