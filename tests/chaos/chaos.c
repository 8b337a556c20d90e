/*
 * chaos.c: see chaos.h.
 */
#include "chaos.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

long long chaos_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t chaos_seed(const char *test, uint64_t fixed)
{
	const char *env = getenv("CHAOS_SEED");
	uint64_t seed = fixed;

	if (env && *env)
		seed = strtoull(env, NULL, 0);
	/* stderr: Criterion shows it with the failure, ctest keeps it. */
	fprintf(stderr, "%s: seed %#" PRIx64 " (CHAOS_SEED=%#" PRIx64 " repeats this run)\n",
		test, seed, seed);
	return seed;
}

uint64_t chaos_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t chaos_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(chaos_rand(state) % n);
}

/* ---- hvd ---- */

static void write_conf(struct chaos_hvd *h)
{
	FILE *f = fopen(h->conf, "we");

	cr_assert_not_null(f, "%s: %s", h->conf, strerror(errno));
	/* Quotas sized to CHAOS_QUOTA_CLIENTS clients (chaos.h); no request
	 * rate limit, so that a flood is refused by the protocol rather than
	 * by the token bucket. The time to say Hello is hvd's default, scaled
	 * like every wait (sys_hvd.h): connections that the silent test keeps
	 * open must outlive it however slowly hvd runs. */
	fprintf(f,
		"[hvd]\n"
		"audit = %s\n"
		"hello_timeout_ms = %ld\n"
		/* The silent test holds 50 connections without Hello from
		 * one uid (root) on purpose: more than a uid's default share
		 * (system.limits and policy.limits test the share). */
		"max_unauthenticated_per_uid = 64\n"
		"\n"
		"[defaults]\n"
		"max_vms = %u\n"
		"max_vcpus = %u\n"
		"max_memory = %" PRIu64 "\n"
		"max_mappings = %u\n"
		"max_rpc_rate = 0\n"
		"\n"
		"[rule chaos]\n"
		"uid = %u\n"
		"entitlements = com.apple.security.hypervisor\n",
		h->audit, sys_slow_ms(10000), CHAOS_QUOTA_CLIENTS,
		CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_VCPUS, CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_MEMORY,
		CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_MAPS, (unsigned)getuid());
	cr_assert_eq(fclose(f), 0);
}

static void launch(struct chaos_hvd *h)
{
	const char *bin = getenv("HVD_TEST_DAEMON");
	pid_t parent = getpid();
	struct stat st;

	cr_assert_not_null(bin, "HVD_TEST_DAEMON does not name the hvd binary");
	h->sys.pid = fork();
	cr_assert_neq(h->sys.pid, -1, "fork: %s", strerror(errno));
	if (h->sys.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Only stdio: the runner's descriptors would count as hvd's. */
		close_range(3, ~0u, 0);
		char state[160];
		snprintf(state, sizeof(state), "%s/state", h->sys.dir);
		execl(bin, bin, "--socket", h->sys.sock, "--config", h->conf, "--state-dir", state,
		      "--log-level", h->log_level, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	/* hvd renames its socket into place once it listens (sys_hvd.c). */
	for (long long end = sys_now_ms() + SYS_WAIT_MS; sys_now_ms() < end;) {
		if (stat(h->sys.sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
			setenv("HVD_SOCKET", h->sys.sock, 1);
			return;
		}
		cr_assert(sys_hvd_alive(&h->sys), "hvd exited during startup");
		sys_sleep_ms(5);
	}
	cr_assert_fail("hvd did not create %s", h->sys.sock);
}

void chaos_hvd_start(struct chaos_hvd *h)
{
	chaos_hvd_start_at(h, "warn");
}

void chaos_hvd_start_at(struct chaos_hvd *h, const char *level)
{
	memset(h, 0, sizeof(*h));
	h->sys.pid = -1;
	h->log_level = level;
	strcpy(h->sys.dir, "/tmp/hvd-chaos.XXXXXX");
	cr_assert_not_null(mkdtemp(h->sys.dir), "mkdtemp: %s", strerror(errno));
	snprintf(h->sys.sock, sizeof(h->sys.sock), "%s/hvd.sock", h->sys.dir);
	snprintf(h->conf, sizeof(h->conf), "%s/hvd.conf", h->sys.dir);
	snprintf(h->audit, sizeof(h->audit), "%s/audit.log", h->sys.dir);
	write_conf(h);
	launch(h);
}

void chaos_hvd_restart(struct chaos_hvd *h)
{
	cr_assert_leq(h->sys.pid, 0, "the previous hvd still runs");
	launch(h);
}

void chaos_hvd_expect_clean_stop(struct chaos_hvd *h)
{
	cr_assert(sys_hvd_alive(&h->sys), "hvd died");
	cr_assert(sys_hvd_kill_wait(&h->sys, SIGTERM), "hvd did not stop on SIGTERM");
	cr_assert(WIFEXITED(h->sys.status) && WEXITSTATUS(h->sys.status) == 0,
		  "hvd did not stop cleanly on SIGTERM: %s %d",
		  WIFSIGNALED(h->sys.status) ? "killed by signal" : "exit status",
		  WIFSIGNALED(h->sys.status) ? WTERMSIG(h->sys.status) :
					       WEXITSTATUS(h->sys.status));
}

void chaos_hvd_stop(struct chaos_hvd *h)
{
	if (h->sys.pid > 0 && !sys_hvd_kill_wait(&h->sys, SIGTERM)) {
		kill(h->sys.pid, SIGKILL);
		waitpid(h->sys.pid, &h->sys.status, 0);
		h->sys.pid = -1;
	}
	if (h->sys.dir[0]) {
		unlink(h->sys.sock);
		unlink(h->conf);
		unlink(h->audit);
		char state[160];
		snprintf(state, sizeof(state), "%s/state", h->sys.dir);
		rmdir(state);
		rmdir(h->sys.dir);
		h->sys.dir[0] = '\0';
	}
}

/* ---- what hvd holds ---- */

/*
 * Lines of /proc/<pid>/maps for memory that a tool hvd runs under keeps
 * for itself, and whose number changes with what hvd did before (which
 * addresses its threads and mappings used), not with what it holds now.
 * They are left out of the count; hvd's own mappings are all still in it.
 *
 * valgrind: anonymous read-write-execute memory. valgrind maps its own
 * memory (translations, its heap) and the blocks of the malloc it puts in
 * the program's place that way; hvd maps nothing executable. (Leaks of
 * hvd's heap are valgrind's to report.)
 *
 * ThreadSanitizer (hvd links libtsan): memory outside the ranges its x86_64
 * layout (tsan_platform.h, as in gcc 12's libtsan) leaves to the program:
 * below 0x008000000000 (a binary built without PIE), 0x550000000000 to
 * 0x568000000000 (PIE binaries) and from 0x7b0000000000 on (its heap, then
 * libraries, mmap()ed memory and stacks). Between them lie its shadow,
 * meta shadow and trace memory. A layout that moved the program's ranges
 * would leave out fewer of TSan's lines, or some of hvd's heap, never a
 * mapping of memory hvd mmap()s.
 *
 * AddressSanitizer (hvd links libasan): anonymous read-write memory
 * without a name. ASan's allocator and its own bookkeeping (a context
 * for every thread ever started, kept for reuse; stack traces; chunks
 * waiting in its quarantine) map memory that way, and grow with the
 * number of threads hvd has started, not with what it holds. hvd's own
 * anonymous mappings are its threads' stacks (threads are counted
 * exactly) and each VM's interrupt-vector page (freed with the VM, whose
 * descriptors are counted exactly); the builds without ASan count them
 * as well. Leaks of hvd's heap are LeakSanitizer's to report.
 */
enum chaos_tool { TOOL_NONE, TOOL_VALGRIND, TOOL_TSAN, TOOL_ASAN };

/* A maps line of memory with no file or name behind it, mapped `want`. */
static bool anonymous(const char *line, const char *want)
{
	char perms[8];
	int path = 0;

	if (sscanf(line, "%*s %7s %*s %*s %*s %n", perms, &path) != 1 || !path)
		return false;
	return strcmp(perms, want) == 0 && (line[path] == '\n' || line[path] == '\0');
}

static bool tool_mapping(enum chaos_tool tool, const char *line)
{
	unsigned long long lo;

	switch (tool) {
	case TOOL_VALGRIND:
		return anonymous(line, "rwxp");
	case TOOL_TSAN:
		if (sscanf(line, "%llx-", &lo) != 1)
			return false;
		return (lo >= 0x008000000000ull && lo < 0x550000000000ull) ||
		       (lo >= 0x568000000000ull && lo < 0x7b0000000000ull);
	case TOOL_ASAN:
		return anonymous(line, "rw-p");
	default:
		return false;
	}
}

void chaos_counts_read(struct chaos_hvd *h, struct chaos_counts *c)
{
	char path[64], *line = NULL;
	size_t cap = 0, nlines = 0;
	enum chaos_tool tool = TOOL_NONE;
	char **lines = NULL;
	FILE *f;

	c->fds = sys_hvd_fds(&h->sys);
	c->threads = sys_hvd_threads(&h->sys);
	c->maps = c->memfd = -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)h->sys.pid);
	if (!(f = fopen(path, "re")))
		return;
	if (sys_under_valgrind(h->sys.pid))
		tool = TOOL_VALGRIND;
	/* Whole lines first: whether hvd links libtsan decides how each
	 * counts. */
	for (size_t size = 0; getline(&line, &cap, f) > 0; nlines++) {
		if (nlines == size) {
			char **more = realloc(lines, (size = size ? 2 * size : 1024) * sizeof(*lines));
			cr_assert_not_null(more);
			lines = more;
		}
		lines[nlines] = strdup(line);
		cr_assert_not_null(lines[nlines]);
		if (strstr(line, "/libtsan.so"))
			tool = TOOL_TSAN;
		else if (strstr(line, "/libasan.so"))
			tool = TOOL_ASAN;
	}
	free(line);
	fclose(f);
	c->maps = c->memfd = 0;
	for (size_t i = 0; i < nlines; i++) {
		if (!tool_mapping(tool, lines[i])) {
			c->maps++;
			if (strstr(lines[i], "/memfd:"))
				c->memfd++;
		}
		free(lines[i]);
	}
	free(lines);
}

json_object *chaos_hvctl_json(struct chaos_hvd *h, const char *cmd, char *why, size_t len)
{
	const char *bin = getenv("HVD_TEST_HVCTL");
	char out[65536];
	size_t n = 0;
	int p[2];

	cr_assert_not_null(bin, "HVD_TEST_HVCTL does not name the hvctl binary");
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		execl(bin, bin, "--socket", h->sys.sock, cmd, "--json", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (long long end = sys_now_ms() + SYS_WAIT_MS; n < sizeof(out) - 1;) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		long long left = end - sys_now_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			break;
		ssize_t k = read(p[0], out + n, sizeof(out) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	close(p[0]);
	int status = sys_wait_child(pid);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, len, "hvctl %s --json failed (status %#x)", cmd, status);
		return NULL;
	}
	json_object *o = json_tokener_parse(out);
	if (!o)
		snprintf(why, len, "hvctl %s --json printed no JSON: %s", cmd, out);
	return o;
}

bool chaos_status_read(struct chaos_hvd *h, struct chaos_status *st, char *why, size_t len)
{
	json_object *o = chaos_hvctl_json(h, "status", why, len);
	json_object *v;
	long long *dst[] = { &st->clients, &st->vms, &st->vcpus, &st->guest_memory };
	const char *keys[] = { "clients", "vms", "vcpus", "guest_memory" };

	if (!o)
		return false;
	for (size_t i = 0; i < 4; i++) {
		if (!json_object_object_get_ex(o, keys[i], &v) ||
		    !json_object_is_type(v, json_type_int)) {
			snprintf(why, len, "hvctl status --json printed no \"%s\": %s", keys[i],
				 json_object_to_json_string(o));
			json_object_put(o);
			return false;
		}
		*dst[i] = json_object_get_int64(v);
	}
	json_object_put(o);
	return true;
}

static bool counts_match(const struct chaos_counts *c, const struct chaos_counts *base,
			 int maps_slack)
{
	return c->fds == base->fds && c->threads == base->threads &&
	       c->memfd == base->memfd && c->maps >= base->maps - maps_slack &&
	       c->maps <= base->maps + maps_slack;
}

static void describe(char *why, size_t len, const struct chaos_counts *c,
		     const struct chaos_counts *base, int maps_slack)
{
	snprintf(why, len,
		 "hvd holds %d fds, %d threads, %d maps lines (%d of memfds); "
		 "its baseline is %d fds, %d threads, %d±%d maps lines (%d of memfds)",
		 c->fds, c->threads, c->maps, c->memfd, base->fds, base->threads, base->maps,
		 maps_slack, base->memfd);
}

/*
 * A baseline is taken at rest: a session's reaper or a memory change's
 * thread that is just ending would otherwise be counted in it, and hvd
 * then looks a thread short afterwards (seen under TSan). Samples for a
 * while and keeps the one with the fewest threads.
 */
void chaos_counts_baseline(struct chaos_hvd *h, struct chaos_counts *c)
{
	struct chaos_counts next;

	chaos_counts_read(h, c);
	for (int i = 0; i < 10; i++) {
		sys_sleep_ms(30);
		chaos_counts_read(h, &next);
		if (next.threads < c->threads)
			*c = next;
	}
}

/* Polls until the counts match, for at most `ms`. */
static bool counts_settle(struct chaos_hvd *h, const struct chaos_counts *base, int maps_slack,
			  long long ms, struct chaos_counts *seen)
{
	for (long long end = sys_now_ms() + ms;;) {
		chaos_counts_read(h, seen);
		if (counts_match(seen, base, maps_slack))
			return true;
		if (sys_now_ms() >= end)
			return false;
		sys_sleep_ms(10);
	}
}

bool chaos_settles(struct chaos_hvd *h, const struct chaos_counts *base, int maps_slack,
		   char *why, size_t len)
{
	struct chaos_counts seen;
	struct chaos_status st;

	for (long long end = sys_now_ms() + SYS_WAIT_MS;;) {
		if (!sys_hvd_alive(&h->sys)) {
			snprintf(why, len, "hvd died");
			return false;
		}
		long long left = end - sys_now_ms();
		if (!counts_settle(h, base, maps_slack, left > 0 ? left : 0, &seen)) {
			describe(why, len, &seen, base, maps_slack);
			return false;
		}
		if (!chaos_status_read(h, &st, why, len))
			return false;
		if (st.clients == 1 && st.vms == 0 && st.vcpus == 0 && st.guest_memory == 0) {
			/* hvctl's own session is being torn down: wait for
			 * the counts once more. */
			if (counts_settle(h, base, maps_slack, SYS_WAIT_MS, &seen))
				return true;
			describe(why, len, &seen, base, maps_slack);
			return false;
		}
		if (sys_now_ms() >= end) {
			snprintf(why, len,
				 "hvctl status: %lld clients (expected 1, hvctl itself), %lld VMs, "
				 "%lld vCPUs, %lld bytes of guest memory (expected none)",
				 st.clients, st.vms, st.vcpus, st.guest_memory);
			return false;
		}
		sys_sleep_ms(20);
	}
}

void chaos_expect_baseline(struct chaos_hvd *h, const struct chaos_counts *base,
			   int maps_slack, const char *after)
{
	char why[512];

	cr_assert(chaos_settles(h, base, maps_slack, why, sizeof(why)),
		  "after %s hvd is not back at its baseline: %s", after, why);
}

/* ---- clients ---- */

static int good_main(void *arg)
{
	const uint32_t *a = arg;

	return sys_client_lcg(a[0], a[1], a[2]);
}

/* One line per thread of `pid` on stderr: id, name, state, where it
 * sleeps in the kernel and the call it is in (number and arguments). */
static void dump_threads(const char *who, pid_t pid)
{
	char path[300];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		const char *files[] = { "comm", "wchan", "syscall", "stat" };
		char text[4][160];
		for (int i = 0; i < 4; i++) {
			snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)pid, e->d_name,
				 files[i]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			ssize_t n = fd >= 0 ? read(fd, text[i], sizeof(text[i]) - 1) : -1;
			if (fd >= 0)
				close(fd);
			text[i][n > 0 ? n : 0] = '\0';
			text[i][strcspn(text[i], "\n")] = '\0';
		}
		const char *state = strrchr(text[3], ')');
		fprintf(stderr, "  %s %d, thread %s (%s): state %c, in %s, call %s\n", who, (int)pid,
			e->d_name, text[0], state && state[1] ? state[2] : '?', text[1], text[2]);
	}
	closedir(d);
}

/*
 * How long a well-behaved client may take before it counts as hung: three
 * times the tests' usual bound. It takes 50-300 ms, but on a loaded host
 * next to clients whose guests exit back to back, each KVM memory or MSR
 * filter change of its VM (hv_vm_map, its vCPU, its first real-mode run)
 * waits for an SRCU grace period whose kernel work can wait seconds for
 * a CPU (docs/differences.md, "Memory changes can wait for the kernel");
 * single waits of 6-20 s were seen. What is checked here is that it
 * finishes, with correct results; its time is printed.
 */
#define GOOD_CLIENT_MS (3 * SYS_WAIT_MS)

void chaos_expect_good_client(struct chaos_hvd *h, uint32_t seed, unsigned rounds,
			      unsigned steps, const char *what)
{
	uint32_t args[3] = { seed, rounds, steps };
	pid_t pid = sys_spawn(good_main, args);
	long long start = sys_now_ms();
	int status = -1;

	cr_assert_gt(pid, 0, "fork for %s failed", what);
	while (sys_now_ms() < start + GOOD_CLIENT_MS) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		cr_assert_neq(r, -1, "waitpid: %s", strerror(errno));
		if (r == pid)
			break;
		sys_sleep_ms(5);
	}
	if (status == -1) {
		/* Where everyone is, for the report, before the client goes. */
		char why[512];
		fprintf(stderr, "%s did not finish within %d ms; its threads and hvd's:\n", what,
			GOOD_CLIENT_MS);
		dump_threads("client", pid);
		dump_threads("hvd", h->sys.pid);
		json_object *list = chaos_hvctl_json(h, "list", why, sizeof(why));
		fprintf(stderr, "  hvctl list: %s\n",
			list ? json_object_to_json_string(list) : why);
		json_object_put(list);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		cr_assert_fail("%s did not finish within %d ms", what, GOOD_CLIENT_MS);
	}
	cr_assert(WIFEXITED(status), "%s died (status %#x)", what, status);
	cr_assert_eq(WEXITSTATUS(status), 0, "%s failed at step %d", what, WEXITSTATUS(status));
	fprintf(stderr, "chaos: %s took %lld ms\n", what, sys_now_ms() - start);
}

struct probe_client {
	uint32_t seed;
	int ready;   /* write end: 'r' when holding its share, 'x' on failure */
	int go;      /* read end: EOF releases the client */
	int close_fds[2];   /* the test's ends */
};

static void *second_vcpu(void *arg)
{
	hv_vcpuid_t vcpu;

	/* The vCPU outlives this thread: hvd keeps it until the VM goes. */
	*(hv_return_t *)arg = hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT);
	return NULL;
}

static int probe_hold(struct probe_client *pc)
{
	struct sys_vm vm;
	pthread_t t;
	hv_return_t ret;
	int r;

	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_lcg))))
		return r;
	for (unsigned i = 0; i < CHAOS_EXTRA_MAPS; i++) {
		void *p = mmap(NULL, CHAOS_EXTRA_MAX, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return sys_fail(90, "mmap: %s", strerror(errno));
		ret = hv_vm_map(p, CHAOS_EXTRA_GPA(i), CHAOS_EXTRA_MAX,
				HV_MEMORY_READ | HV_MEMORY_WRITE);
		if (ret != HV_SUCCESS)
			return sys_fail(91, "extra mapping %u of the full quota: %#x%s", i,
					(unsigned)ret,
					ret == HV_NO_RESOURCES ? " (HV_NO_RESOURCES: usage leaked)" : "");
	}
	for (unsigned i = 1; i < CHAOS_CLIENT_VCPUS; i++) {
		if (pthread_create(&t, NULL, second_vcpu, &ret) != 0)
			return sys_fail(92, "pthread_create");
		pthread_join(t, NULL);
		if (ret != HV_SUCCESS)
			return sys_fail(93, "vCPU %u of the full quota: %#x%s", i, (unsigned)ret,
					ret == HV_NO_RESOURCES ? " (HV_NO_RESOURCES: usage leaked)" : "");
	}
	return sys_lcg_check(&vm, pc->seed, 20);
}

static int probe_main(void *arg)
{
	struct probe_client *pc = arg;
	char c;

	close(pc->close_fds[0]);
	close(pc->close_fds[1]);
	int r = probe_hold(pc);

	c = r ? 'x' : 'r';
	if (write(pc->ready, &c, 1) != 1)
		return r ? r : sys_fail(94, "write to the test: %s", strerror(errno));
	if (r)
		return r;
	/* Hold everything until the test has looked. */
	while (read(pc->go, &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

void chaos_quota_probe(struct chaos_hvd *h)
{
	struct probe_client pc[CHAOS_QUOTA_CLIENTS];
	pid_t pid[CHAOS_QUOTA_CLIENTS];
	int ready[2], go[2], failed = 0;
	struct chaos_status st = { -1, -1, -1, -1 };
	char why[512] = "";

	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	for (int i = 0; i < CHAOS_QUOTA_CLIENTS; i++) {
		pc[i] = (struct probe_client){ 0x9000u + 31u * (uint32_t)i, ready[1], go[0],
					       { ready[0], go[1] } };
		pid[i] = sys_spawn(probe_main, &pc[i]);
		cr_assert_gt(pid[i], 0, "fork: %s", strerror(errno));
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < CHAOS_QUOTA_CLIENTS; i++) {
		struct pollfd pf = { ready[0], POLLIN, 0 };
		char c = 'x';
		if (poll(&pf, 1, SYS_WAIT_MS) != 1 || read(ready[0], &c, 1) != 1)
			break;
		failed += c != 'r';
	}
	bool counted = false;
	if (!failed) {
		counted = chaos_status_read(h, &st, why, sizeof(why)) &&
			  st.vms == CHAOS_QUOTA_CLIENTS &&
			  st.vcpus == CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_VCPUS &&
			  st.guest_memory == (long long)(CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_MEMORY);
	}
	close(go[1]);
	close(ready[0]);
	for (int i = 0; i < CHAOS_QUOTA_CLIENTS; i++)
		sys_expect_child_ok(pid[i], "a client filling the whole quota");
	cr_assert_eq(failed, 0, "%d clients could not take their share of the quota", failed);
	cr_assert(counted,
		  "with the quota full, hvctl status shows %lld VMs, %lld vCPUs, %lld bytes "
		  "(expected %d, %d, %llu) %s",
		  st.vms, st.vcpus, st.guest_memory, CHAOS_QUOTA_CLIENTS,
		  CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_VCPUS,
		  (unsigned long long)(CHAOS_QUOTA_CLIENTS * CHAOS_CLIENT_MEMORY), why);
}
