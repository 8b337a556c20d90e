/*
 * sys_hvd.c: see sys_hvd.h.
 */
#include "sys_hvd.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "hvd_stop.h"

int sys_slow(void)
{
	static int slow;

	if (!slow) {
		const char *env = getenv("HVD_TEST_SLOW");
		char *end;
		long n = env ? strtol(env, &end, 10) : 1;
		slow = env && *env && *end == '\0' && n > 1 && n <= 100 ? (int)n : 1;
	}
	return slow;
}

long sys_slow_ms(long ms)
{
	return ms * sys_slow();
}

long long sys_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sys_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void sys_hvd_spawn(struct sys_hvd *d)
{
	sys_hvd_spawn_config(d, NULL);
}

void sys_hvd_spawn_config(struct sys_hvd *d, const char *config)
{
	const char *bin = getenv("HVD_TEST_DAEMON");
	pid_t parent = getpid();
	char conf[160];

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	cr_assert_not_null(bin, "HVD_TEST_DAEMON does not name the hvd binary");
	strcpy(d->dir, "/tmp/hvd-system.XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir), "mkdtemp: %s", strerror(errno));
	snprintf(d->sock, sizeof(d->sock), "%s/hvd.sock", d->dir);
	snprintf(conf, sizeof(conf), "%s/hvd.conf", d->dir);
	if (config) {
		FILE *f = fopen(conf, "w");
		cr_assert_not_null(f);
		for (const char *p = config; *p; p++) {
			if (strncmp(p, "@AUDIT@", 7) == 0) {
				fprintf(f, "%s/audit.jsonl", d->dir);
				p += 6;
			} else {
				fputc(*p, f);
			}
		}
		fclose(f);
	}
	d->pid = fork();
	cr_assert_neq(d->pid, -1, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		/* hvd goes when the test goes, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Only stdio: the test runner's descriptors would otherwise
		 * count as hvd's own and outlive the test in hvd. */
		close_range(3, ~0u, 0);
		/* Tenant objects in the test's directory, not the host's. */
		char state[160];
		snprintf(state, sizeof(state), "%s/state", d->dir);
		if (config)
			execl(bin, bin, "--socket", d->sock, "--config", conf, "--state-dir", state,
			      "--log-level", "warn", (char *)NULL);
		else
			execl(bin, bin, "--socket", d->sock, "--state-dir", state, "--log-level",
			      "warn", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
}

/* hvd binds under a temporary name, listens, and only then renames the
 * socket into place: the path exists exactly when connections are taken.
 * Checking the file (not connecting) opens no session that hvd would
 * still be tearing down when the test counts its descriptors. */
static bool listening(struct sys_hvd *d)
{
	struct stat st;
	return stat(d->sock, &st) == 0 && S_ISSOCK(st.st_mode);
}

void sys_hvd_start(struct sys_hvd *d)
{
	sys_hvd_start_config(d, NULL);
}

void sys_hvd_start_config(struct sys_hvd *d, const char *config)
{
	sys_hvd_spawn_config(d, config);
	for (long long end = sys_now_ms() + SYS_WAIT_MS; sys_now_ms() < end;) {
		if (listening(d)) {
			setenv("HVD_SOCKET", d->sock, 1);
			return;
		}
		cr_assert(sys_hvd_alive(d), "hvd exited during startup");
		sys_sleep_ms(5);
	}
	cr_assert_fail("hvd did not create %s", d->sock);
}

bool sys_hvd_alive(struct sys_hvd *d)
{
	char path[64], state = '?';
	FILE *f;

	if (d->pid <= 0 || kill(d->pid, 0) < 0)
		return false;
	/* kill(pid, 0) succeeds on a zombie: look at its state too. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)d->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = '?';
	fclose(f);
	return state != 'Z' && state != 'X' && state != '?';
}

bool sys_hvd_kill_wait(struct sys_hvd *d, int sig)
{
	if (d->pid <= 0)
		return true;
	if (!hvd_stop_signal_wait(d->pid, sig, d->sock, SYS_WAIT_MS, &d->status))
		return false;
	d->pid = -1;
	return true;
}

void sys_hvd_stop(struct sys_hvd *d)
{
	if (d->pid > 0 && !sys_hvd_kill_wait(d, SIGTERM)) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->status, 0);
		d->pid = -1;
	}
	if (d->dir[0]) {
		char path[160];

		unlink(d->sock);
		/* What sys_hvd_spawn_config wrote, and the audit log there. */
		snprintf(path, sizeof(path), "%s/hvd.conf", d->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/audit.jsonl", d->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/state", d->dir);
		rmdir(path);
		rmdir(d->dir);
		d->dir[0] = '\0';
	}
}

int sys_proc_count(pid_t pid, const char *dir)
{
	char path[64];
	struct dirent *e;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, dir);
	dp = opendir(path);
	if (!dp)
		return -1;
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

bool sys_under_valgrind(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	/* valgrind runs a program inside its tool, installed as
	 * .../valgrind/<tool>-<arch>-linux. */
	char *base = strrchr(exe, '/');
	if (!base || base - exe < 9 || strncmp(base - 9, "/valgrind", 9) != 0)
		return false;
	n = (ssize_t)strlen(base);
	return n > 6 && strcmp(base + n - 6, "-linux") == 0;
}

/* valgrind's own descriptors: the N_RESERVED_FDS (12) just below the soft
 * RLIMIT_NOFILE it set for the process, which /proc/<pid>/limits shows. */
#define VALGRIND_RESERVED_FDS 12

static long valgrind_fd_floor(pid_t pid)
{
	char path[64], line[256];
	long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if (!(f = fopen(path, "re")))
		return LONG_MAX;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %ld", &soft) == 1)
			break;
	fclose(f);
	return soft > VALGRIND_RESERVED_FDS ? soft - VALGRIND_RESERVED_FDS : LONG_MAX;
}

static bool fd_stat(pid_t pid, long fd, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", (int)pid, fd);
	return stat(path, st) == 0;
}

int sys_hvd_fds(struct sys_hvd *d)
{
	struct stat tool[VALGRIND_RESERVED_FDS], st;
	long floor = LONG_MAX, *fds = NULL;
	size_t nfds = 0, cap = 0;
	int ntool = 0, n = 0;
	struct dirent *e;
	char path[64];
	DIR *dp;

	if (!sys_under_valgrind(d->pid))
		return sys_proc_count(d->pid, "fd");
	floor = valgrind_fd_floor(d->pid);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	if (!(dp = opendir(path)))
		return -1;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		if (nfds == cap) {
			long *more = realloc(fds, (cap = cap ? 2 * cap : 256) * sizeof(*fds));
			cr_assert_not_null(more);
			fds = more;
		}
		fds[nfds++] = strtol(e->d_name, NULL, 10);
	}
	closedir(dp);
	/* Files valgrind holds in its range; only regular files (its log):
	 * every anon_inode descriptor shares one inode, and so would match
	 * hvd's epoll, eventfd and KVM descriptors. */
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] >= floor && ntool < VALGRIND_RESERVED_FDS &&
		    fd_stat(d->pid, fds[i], &tool[ntool]) && S_ISREG(tool[ntool].st_mode))
			ntool++;
	for (size_t i = 0; i < nfds; i++) {
		bool mine = fds[i] < floor;
		/* An entry that went away since readdir counts as it was. */
		if (mine && fd_stat(d->pid, fds[i], &st))
			for (int t = 0; t < ntool && mine; t++)
				mine = st.st_dev != tool[t].st_dev || st.st_ino != tool[t].st_ino;
		n += mine;
	}
	free(fds);
	return n;
}

/* The parent and name of process `pid` (from /proc/PID/stat). */
static bool proc_parent(int pid, int *ppid, char *comm, size_t len)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	if (!l || !r || r < l || sscanf(r + 2, "%*c %d", ppid) != 1)
		return false;
	snprintf(comm, len, "%.*s", (int)(r - l - 1), l + 1);
	return true;
}

/* hvd's hvd-zygote (its child of that name) among /proc's entries, -1
 * if none; `dp` is rewound for the caller. */
static int find_zygote(struct sys_hvd *d, DIR *dp)
{
	char comm[32];
	int zygote = -1, ppid;
	struct dirent *e;
	while ((e = readdir(dp)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    proc_parent(atoi(e->d_name), &ppid, comm, sizeof(comm)) &&
		    ppid == (int)d->pid && strcmp(comm, "hvd-zygote") == 0)
			zygote = atoi(e->d_name);
	rewinddir(dp);
	return zygote;
}

/* Threads of hvd's worker processes (children of hvd-zygote, a child of
 * hvd) other than each worker's own loop thread: the vCPU threads and
 * teardown threads that lived in hvd before VMs moved into workers. */
static int worker_threads(struct sys_hvd *d)
{
	char comm[32], path[320];
	int n = 0, ppid;
	DIR *dp = opendir("/proc");
	struct dirent *e;

	if (!dp)
		return 0;
	int zygote = find_zygote(d, dp);
	while (zygote > 0 && (e = readdir(dp))) {
		int pid = atoi(e->d_name);
		if (pid <= 0 || !proc_parent(pid, &ppid, comm, sizeof(comm)) || ppid != zygote)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		DIR *tp = opendir(path);
		struct dirent *t;
		while (tp && (t = readdir(tp))) {
			if (t->d_name[0] == '.' || atoi(t->d_name) == pid)
				continue;
			char tc[32] = "";
			snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid, t->d_name);
			FILE *f = fopen(path, "re");
			if (f) {
				if (!fgets(tc, sizeof(tc), f))
					tc[0] = '\0';
				fclose(f);
			}
			n += strncmp(tc, "kvm-", 4) != 0;
		}
		if (tp)
			closedir(tp);
	}
	closedir(dp);
	return n;
}

int sys_hvd_busy_workers(struct sys_hvd *d, pid_t *pids, int max)
{
	char comm[32], path[64];
	int n = 0, ppid;
	DIR *dp = opendir("/proc");
	struct dirent *e;

	if (!dp)
		return 0;
	int zygote = find_zygote(d, dp);
	while (zygote > 0 && n < max && (e = readdir(dp))) {
		int pid = atoi(e->d_name), threads = 0;
		if (pid <= 0 || !proc_parent(pid, &ppid, comm, sizeof(comm)) || ppid != zygote)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		DIR *tp = opendir(path);
		struct dirent *t;
		while (tp && (t = readdir(tp)))
			threads += t->d_name[0] != '.';
		if (tp)
			closedir(tp);
		if (threads > 1)
			pids[n++] = pid;
	}
	closedir(dp);
	return n;
}

int sys_hvd_threads(struct sys_hvd *d)
{
	char path[320], comm[32];
	struct dirent *e;
	DIR *dp;
	int n = worker_threads(d);

	snprintf(path, sizeof(path), "/proc/%d/task", (int)d->pid);
	dp = opendir(path);
	if (!dp)
		return -1;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)d->pid, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue; /* the thread just ended */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, "kvm-", 4) != 0)
			n++;
	}
	closedir(dp);
	return n;
}

void sys_hvd_steady(struct sys_hvd *d, int *fds, int *threads)
{
	int same = 0;
	*fds = sys_hvd_fds(d);
	*threads = sys_hvd_threads(d);
	for (long long end = sys_now_ms() + SYS_WAIT_MS; same < 10 && sys_now_ms() < end;) {
		sys_sleep_ms(20);
		int f = sys_hvd_fds(d), t = sys_hvd_threads(d);
		same = f == *fds && t == *threads ? same + 1 : 0;
		*fds = f;
		*threads = t;
	}
}

bool sys_hvd_settles(struct sys_hvd *d, int fds, int threads, int *seen_fds,
    int *seen_threads)
{
	for (long long end = sys_now_ms() + SYS_WAIT_MS;;) {
		*seen_fds = sys_hvd_fds(d);
		*seen_threads = sys_hvd_threads(d);
		if (*seen_fds == fds && *seen_threads == threads)
			return true;
		if (sys_now_ms() >= end)
			return false;
		sys_sleep_ms(10);
	}
}

int sys_wait_child(pid_t pid)
{
	int status;

	for (long long end = sys_now_ms() + SYS_WAIT_MS; sys_now_ms() < end;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		sys_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void sys_expect_child_ok(pid_t pid, const char *what)
{
	int status;

	cr_assert_gt(pid, 0, "fork for %s failed", what);
	status = sys_wait_child(pid);
	cr_assert_neq(status, -1, "%s did not finish within %d ms", what, SYS_WAIT_MS);
	cr_assert(WIFEXITED(status), "%s died (status %#x)", what, status);
	cr_assert_eq(WEXITSTATUS(status), 0, "%s failed at step %d", what,
	    WEXITSTATUS(status));
}
