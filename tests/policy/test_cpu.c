/*
 * The CPU quota (max_cpu_percent) with real guests on real vCPUs: a tenant
 * held to 10% of one CPU gets about that much guest time whether its guest
 * never exits (hvd's CPU-time timer has to kick it out) or exits back to
 * back (charged at every entry); hv_vcpu_interrupt still ends a run at once
 * while the vCPU waits off its debt; an unlimited tenant is never held
 * back; hvctl shows the quota and, live, the time a vCPU was held back; a
 * reload that moves a running vCPU into a metered tenant holds it at once.
 *
 * What is held is the CPU time of the tenant's vCPU threads, so that is
 * what the tests measure: utime + stime of hvd's threads named hvd-vcpu
 * (the loop thread's work, and that of a sanitizer's own threads, is
 * nobody's quota). The guest time hv_vcpu_get_exec_time reports is wall
 * time inside KVM_RUN and grows when a busy host preempts the vCPU thread
 * inside the guest.
 *
 * The bounds are the quota's, not speed targets: 10% of the wall time plus
 * the bucket's 100 ms burst (10 ms at 10%) plus overdraft and clock-tick
 * granularity can only be exceeded if the quota is not enforced, however
 * busy the machine.
 */
#include <dirent.h>
#include <signal.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;

#define UID_METERED UID_A
#define UID_FREE UID_B

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[tenant metered]\n"
	"max_cpu_percent = 10\n"
	"\n"
	"[rule metered]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n"
	"tenant = metered\n"
	"\n"
	"[rule free]\n"
	"uid = 60002\n"
	"entitlements = com.apple.security.hypervisor\n";

static void setup(void)
{
	pol_init(&H);
	pol_write_conf(&H, conf);
	pol_start(&H);
}

TestSuite(cpu, .init = setup, .fini = pol_cleanup);

struct burn {
	unsigned status;
	unsigned long long exec_ns, wall_ns, runs;
	unsigned long long vcpu_cpu_ns;  /* CPU time of hvd's vCPU threads meanwhile */
};

/* CPU time (utime + stime, in ns, clock-tick resolution) of each of hvd's
 * vCPU threads (named hvd-vcpu), by thread id. */
struct vcpu_times {
	size_t n;
	struct { long tid; unsigned long long ns; } t[64];
};

/* The parent of process `pid`, or -1. */
static int parent_of(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	char *stat = pol_read_file(path, NULL);
	const char *p = stat ? strrchr(stat, ')') : NULL;
	int ppid = -1;
	if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
		ppid = -1;
	free(stat);
	return ppid;
}

/* hvd and its worker processes (children of hvd-zygote, hvd's child):
 * the VMs' vCPU threads run in the workers (daemon/hvd_worker.c). */
static size_t hvd_processes(int *pids, size_t max)
{
	size_t n = 0;
	int zygote = -1;
	pids[n++] = (int)H.pid;
	DIR *d = opendir("/proc");
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (atoi(e->d_name) > 0 && parent_of(atoi(e->d_name)) == (int)H.pid)
			zygote = atoi(e->d_name); /* hvd-ident and the janitor have no workers */
	rewinddir(d);
	for (struct dirent *e; n < max && (e = readdir(d));) {
		int pid = atoi(e->d_name);
		if (pid > 0 && zygote > 0 && parent_of(parent_of(pid)) == (int)H.pid &&
		    parent_of(pid) > 0)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static void vcpu_times_read(struct vcpu_times *vt)
{
	int procs[256];
	size_t np = hvd_processes(procs, 256);
	vt->n = 0;
	for (size_t k = 0; k < np; k++) {
	char path[300];
	snprintf(path, sizeof(path), "/proc/%d/task", procs[k]);
	DIR *d = opendir(path);
	if (!d)
		continue; /* a worker that just ended */
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", procs[k], e->d_name);
		char *comm = pol_read_file(path, NULL);
		bool vcpu = comm && strcmp(comm, "hvd-vcpu\n") == 0;
		free(comm);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", procs[k], e->d_name);
		char *stat = vcpu ? pol_read_file(path, NULL) : NULL;
		if (!stat)
			continue;  /* not a vCPU thread, or it has just ended */
		/* Fields 14 and 15, counted after the ")" that ends the name. */
		const char *p = strrchr(stat, ')');
		unsigned long long ut = 0, st = 0;
		int n = p ? sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				   &ut, &st) : 0;
		free(stat);
		cr_assert_eq(n, 2, "cannot read %s", path);
		cr_assert_lt(vt->n, sizeof(vt->t) / sizeof(vt->t[0]));
		vt->t[vt->n].tid = atol(e->d_name);
		vt->t[vt->n++].ns = (ut + st) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
	}
	closedir(d);
	}
}

/* CPU time the vCPU threads alive at `now` used since `then` (a thread
 * started in between counts from zero). */
static unsigned long long vcpu_ns_since(const struct vcpu_times *then,
					const struct vcpu_times *now)
{
	unsigned long long sum = 0;
	for (size_t i = 0; i < now->n; i++) {
		unsigned long long before = 0;
		for (size_t j = 0; j < then->n; j++)
			if (then->t[j].tid == now->t[i].tid)
				before = then->t[j].ns;
		sum += now->t[i].ns - before;
	}
	return sum;
}

/* Runs policy_client MODE MS as `uid` and parses its report. The client
 * keeps its vCPU (--hold) until the vCPU threads' times are read: an
 * ended thread's time is no longer in /proc. */
static struct burn burn(uid_t uid, const char *mode, const char *ms)
{
	struct pol_proc p;
	struct burn b = { 0 };
	char line[256], ready[16], key[16];

	pol_client_start(&H, &p, uid, 0, mode, ms, "--hold", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	struct vcpu_times t0, t1;
	vcpu_times_read(&t0);
	pol_client_line(&p, line, sizeof(line));
	pol_client_line(&p, ready, sizeof(ready));
	cr_assert_str_eq(ready, "ready");
	vcpu_times_read(&t1);
	b.vcpu_cpu_ns = vcpu_ns_since(&t0, &t1);
	cr_assert_gt(t1.n, 0, "neither hvd nor its workers have a thread named hvd-vcpu");
	int n = sscanf(line, "%15[a-z]=%x exec_ns=%llu wall_ns=%llu runs=%llu", key, &b.status,
		       &b.exec_ns, &b.wall_ns, &b.runs);
	cr_assert_eq(n, 5, "client report: '%s'", line);
	cr_assert_eq(b.status, ST_SUCCESS, "client report: '%s'", line);
	cr_expect_eq(pol_client_finish(&p), 0);
	return b;
}

/* At most 10% of the wall time, plus the full bucket a tenant starts
 * with (10 ms), plus overdraft (a slice, 5 ms), the CPU timer's tick and
 * two clock ticks of /proc resolution. */
static void expect_held(const struct burn *b, const char *what)
{
	unsigned long long bound = b->wall_ns / 10 + 10000000ull + 40000000ull;
	cr_expect_leq(b->vcpu_cpu_ns, bound,
		      "%s: hvd's vCPU threads used %llu ns of CPU in %llu ns of wall time at "
		      "max_cpu_percent = 10 (bound %llu; guest time %llu ns)", what, b->vcpu_cpu_ns, b->wall_ns, bound,
		      b->exec_ns);
	/* It did run: the bucket starts full. */
	cr_expect_geq(b->exec_ns, 5000000ull, "%s ran for only %llu ns", what, b->exec_ns);
}

Test(cpu, a_guest_that_never_exits_is_held_to_the_quota)
{
	struct burn b = burn(UID_METERED, "--spin", "1000");
	expect_held(&b, "jmp $ guest");
	/* hv_vcpu_interrupt ended the run although the vCPU was mostly
	 * waiting off its debt: burn() read the client's report, so the
	 * interrupt was not lost. (How soon is not asserted: a busy CI host
	 * can delay any process by seconds.) */
	cr_expect_geq(b.wall_ns, 1000000000ull, "the run ended before it was interrupted");
	pol_done();
}

Test(cpu, a_guest_that_exits_back_to_back_is_held_to_the_quota)
{
	struct burn b = burn(UID_METERED, "--outloop", "1000");
	expect_held(&b, "out loop guest");
	cr_expect_gt(b.runs, 10, "the out loop made %llu runs", b.runs);
	pol_done();
}

/* The vCPU of the VM of `pid`, from `hvctl show --json` (the show output
 * in *show, to put). */
static json_object *show_vcpu(pid_t pid, json_object **show)
{
	*show = pol_show_vm(&H, pid);
	json_object *v = pol_get(*show, "vcpu");
	/* The client reports its VM before its vCPU exists: wait for it. */
	for (long long end = pol_now_ms() + POL_WAIT_MS;
	     json_object_array_length(v) == 0 && pol_now_ms() < end;) {
		pol_sleep_ms(10);
		json_object_put(*show);
		*show = pol_show_vm(&H, pid);
		v = pol_get(*show, "vcpu");
	}
	cr_assert_eq(json_object_array_length(v), 1, "%s", json_object_to_json_string(*show));
	return json_object_array_get_idx(v, 0);
}

/* Polls `hvctl show` while the guest of `pid` spins, until its vCPU reports
 * time held back or POL_WAIT_MS passes; returns throttled_ns (0 if never)
 * and the vCPU's exec_ns in *exec. */
static long long wait_throttled(pid_t pid, long long *exec)
{
	long long end = pol_now_ms() + POL_WAIT_MS, throttled = 0;
	*exec = 0;
	while (throttled == 0 && pol_now_ms() < end) {
		json_object *show;
		json_object *v = show_vcpu(pid, &show);
		throttled = pol_int(v, "throttled_ns");
		*exec = pol_int(v, "exec_ns");
		json_object_put(show);
		if (!throttled)
			pol_sleep_ms(50);
	}
	return throttled;
}

/* Spins for 500 ms as `uid`, keeps the VM, and returns its vCPU's
 * throttled_ns as hvctl shows it. */
static long long spin_and_show(uid_t uid, long long *exec)
{
	struct pol_proc p;
	char line[256];
	json_object *show;

	pol_client_start(&H, &p, uid, 0, "--spin", "500", "--hold", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	pol_client_line(&p, line, sizeof(line));
	cr_assert(strncmp(line, "spin=0 ", 7) == 0, "client report: '%s'", line);
	pol_client_line(&p, line, sizeof(line));
	cr_assert_str_eq(line, "ready");
	json_object *v = show_vcpu(p.pid, &show);
	long long throttled = pol_int(v, "throttled_ns");
	*exec = pol_int(v, "exec_ns");
	json_object_put(show);
	pol_client_finish(&p);
	return throttled;
}

Test(cpu, an_unlimited_tenant_is_not_held_back)
{
	long long held_exec, free_exec;
	long long held = spin_and_show(UID_METERED, &held_exec);
	long long free = spin_and_show(UID_FREE, &free_exec);
	/* Not a comparison of speeds (the machine may be busy): whether hvd
	 * held the vCPU back at all. */
	cr_expect_gt(held, 0, "the metered tenant's vCPU was never held back (guest time %lld ns)",
		     held_exec);
	cr_expect_eq(free, 0, "the unlimited tenant's vCPU was held back for %lld ns", free);
	cr_expect_gt(free_exec, 0, "the unlimited guest ran");
	pol_done();
}

Test(cpu, hvctl_shows_the_quota_and_the_time_held_back)
{
	struct pol_proc p;
	char pid[16];

	pol_client_start(&H, &p, UID_METERED, 0, "--spin", "4000", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);
	snprintf(pid, sizeof(pid), "%d", (int)p.pid);

	json_object *e = pol_hvctl_json(&H, 0, "policy", "explain", "--pid", pid, "--json", NULL);
	cr_expect_eq(pol_int(pol_get(e, "quota"), "max_cpu_percent"), 10, "%s",
		     json_object_to_json_string(e));
	json_object_put(e);

	long long exec, throttled = wait_throttled(p.pid, &exec);
	cr_expect_gt(throttled, 0, "hvctl show never reported time held back (exec_ns %lld)",
		     exec);
	char line[256];
	pol_client_line(&p, line, sizeof(line));
	cr_expect(strncmp(line, "spin=0 ", 7) == 0, "client report: '%s'", line);
	pol_client_finish(&p);
	pol_done();
}

Test(cpu, a_reload_meters_a_vcpu_that_is_already_running)
{
	struct pol_proc p;
	char line[256];

	/* Unlimited at first: its own uid tenant. */
	pol_client_start(&H, &p, UID_FREE, 0, "--spin", "3000", NULL);
	cr_assert_eq(pol_client_result(&p, "create"), ST_SUCCESS);

	/* Move uid 60002 into the metered tenant while its guest spins. */
	char moved[sizeof(conf) + 64];
	snprintf(moved, sizeof(moved), "%s%s", conf, "tenant = metered\n");
	pol_write_conf(&H, moved);
	char *out = NULL, *err = NULL;
	int r = pol_hvctl(&H, 0, &out, &err, "policy", "reload", NULL);
	cr_assert_eq(r, 0, "reload exited %d: %s %s", r, out, err);
	free(out);
	free(err);

	long long exec, throttled = wait_throttled(p.pid, &exec);
	cr_expect_gt(throttled, 0, "the running vCPU was not held back after the reload");
	pol_client_line(&p, line, sizeof(line));
	cr_expect(strncmp(line, "spin=0 ", 7) == 0, "client report: '%s'", line);
	pol_client_finish(&p);
	pol_done();
}

/* `hvctl top` ranks VMs by the CPU time of their vCPU threads (their
 * thread clocks), which counts a guest that never exits; `hvctl show`
 * names the worker process and the vCPU's thread in it. */
Test(cpu, hvctl_top_sees_a_guest_that_never_exits)
{
	struct pol_proc spin, idle;
	char *out = NULL, *err = NULL;

	pol_client_start(&H, &idle, UID_FREE, 0, "--spin", "1", "--hold", NULL);
	cr_assert_eq(pol_client_result(&idle, "create"), ST_SUCCESS);
	char line[256];
	pol_client_line(&idle, line, sizeof(line));
	pol_client_line(&idle, line, sizeof(line));
	pol_client_start(&H, &spin, UID_FREE, 0, "--spin", "6000", NULL);
	cr_assert_eq(pol_client_result(&spin, "create"), ST_SUCCESS);
	pol_sleep_ms(300);

	int r = pol_hvctl(&H, 0, &out, &err, "top", "-n", "2", "-d", "1", "--json", NULL);
	cr_assert_eq(r, 0, "hvctl top exited %d: %s", r, err);
	char *second = strchr(out, '\n');
	cr_assert(second && second[1], "hvctl top printed one frame: '%s'", out);
	json_object *frame = json_tokener_parse(second + 1);
	cr_assert_not_null(frame, "the second frame is not JSON: '%s'", second + 1);
	json_object *vms = pol_get(frame, "vms");
	json_object *hot = pol_find(vms, "pid", spin.pid), *cold = pol_find(vms, "pid", idle.pid);
	cr_assert(hot && cold, "hvctl top lacks a VM: %s", second + 1);
	json_object *pct;
	cr_assert(json_object_object_get_ex(hot, "cpu_percent", &pct) && pct,
		  "no cpu_percent for the spinning VM: %s", second + 1);
	/* One CPU flat out is 100%.  A loaded machine (ctest -j2 next to
	 * other spinning guests, a sanitizer build) gives it less: 16.6% was
	 * seen under ASan in CI.  What would show that top misses a guest that
	 * never exits is a spinning VM near the idle one, so the bar is 10%
	 * and three times what the idle VM shows. */
	double hot_pct = json_object_get_double(pct);
	json_object_object_get_ex(cold, "cpu_percent", &pct);
	double cold_pct = pct ? json_object_get_double(pct) : 0;
	/* Under a tool (HVD_TEST_SLOW > 1: valgrind, TSan) an idle vCPU
	 * thread's few wake-ups cost many times their native CPU. */
	const char *slow = getenv("HVD_TEST_SLOW");
	double idle_bar = 5.0 * (slow && atoi(slow) > 1 ? atoi(slow) : 1);
	cr_expect_lt(cold_pct, idle_bar, "the idle guest shows %.1f%% CPU", cold_pct);
	cr_expect_gt(hot_pct, 10.0, "the spinning guest shows %.1f%% CPU", hot_pct);
	cr_expect_gt(hot_pct, 3 * cold_pct, "the spinning guest shows %.1f%% CPU, the idle one %.1f%%",
		     hot_pct, cold_pct);
	cr_expect_eq(pol_int(json_object_array_get_idx(vms, 0), "pid"), spin.pid,
		     "the busiest VM is not listed first: %s", second + 1);

	/* The worker and the vCPU thread, by id. */
	long long worker = pol_int(hot, "worker_pid");
	if (getenv("HVD_TEST_IN_PROCESS")) {
		/* hvd --in-process (scripts/tsan.sh): the VM is hvd's own. */
		worker = H.pid;
	} else {
		cr_expect_gt(worker, 0, "no worker pid: %s", second + 1);
		cr_expect_neq(worker, (long long)H.pid, "the VM runs in hvd itself");
	}
	json_object *show;
	json_object *v = show_vcpu(spin.pid, &show);
	char task[96];
	snprintf(task, sizeof(task), "/proc/%lld/task/%lld", worker, pol_int(v, "tid"));
	cr_expect_eq(access(task, F_OK), 0, "vCPU thread %lld is not a thread of worker %lld",
		     pol_int(v, "tid"), worker);
	cr_expect_gt(pol_int(v, "cpu_ns"), 100000000ll, "the vCPU thread's CPU time: %s",
		     json_object_to_json_string(v));
	json_object_put(show);
	json_object_put(frame);
	free(out);
	free(err);
	kill(spin.pid, SIGKILL);
	pol_client_finish(&spin);
	pol_client_finish(&idle);
	pol_done();
}
