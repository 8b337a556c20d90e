/*
 * hvscale: one hvd, hundreds of VMs, hundreds of client processes, four
 * tenants. See docs/scale.md; run it through bench/scale/run.sh.
 *
 *   hvscale HVD HVCTL DIR
 *
 * The driver (this process, root) writes a policy into DIR, starts hvd on
 * it, and forks every client itself: each child drops to its tenant's uid
 * (setresuid), connects through libhvclient, makes exactly one VM with one
 * vCPU (Apple's rule: one VM per process) and then does what its role
 * says. Children coordinate with the driver through one shared anonymous
 * page (futexes), never through hvd. Every child has PR_SET_PDEATHSIG
 * (SIGKILL), hvd has it too (SIGTERM), so nothing outlives the driver.
 *
 * The driver itself never calls the hv_* API: a forked child starts
 * without a connection.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "hvbench.h"
#include "hvd_runpage.h"

extern const unsigned char guest_spin_start[], guest_spin_end[];

/* ---- parameters ---- */

#define NTENANTS 4
#define UID_BASE 61001u          /* tenant k runs as uid 61001 + k */
#define GID_CLIENTS 61000u
#define NOISY 3                  /* tenant index of the noisy tenant */
static const char *const tenant_name[NTENANTS] = { "alpha", "beta", "gamma", "noisy" };

#define MAX_SLOTS 2048
#define MAX_ROUNDS 64
#define POOL_CAP (4u << 20)      /* samples per (metric, condition) */
#define HVCTL_CHECKS 5           /* hvctl status calls per round of phase 4 */

static struct {
	unsigned vms, batch, load, rounds, round_ms, ram_kib;
	unsigned flooders, spinners, greedy, noisy_rate, noisy_cpu, noisy_nice;
	unsigned cgroups;              /* HVSCALE_CGROUPS: hvd --cgroups */
	const char *hvd, *hvctl, *dir;
} P;

/* ---- shared state between the driver and its children ---- */

enum role { R_IDLE, R_LOAD, R_MEASURE, R_FLOOD, R_SPIN, R_GREEDY };
enum { ST_NONE, ST_READY, ST_FAILED };
enum metric { M_EXIT, M_EXEC, M_CAP, M_N };
enum cond { C_IDLE, C_LOAD, C_QUIET, C_NOISY, C_N };
enum cmd { CMD_EXITS = 1, CMD_RPC, CMD_QUIT };

static const char *const metric_name[M_N] = {
	"exit round trip", "RPC hv_vcpu_get_exec_time", "RPC hv_capability",
};
static const char *const cond_name[C_N] = { "idle", "load", "quiet", "noisy" };

struct slot {
	_Atomic uint32_t state;
	int32_t err;              /* hv_return_t of the failed step */
	char what[40];            /* the failed step */
	pid_t pid;
	uint64_t create_ns;       /* hv_vm_create .. first exit */
	uint64_t ready_ns;        /* fork .. ready (driver's clock) */
	int32_t vcpu2;            /* flooders: status of a second vCPU */
	int32_t vm_status;        /* greedy: status of hv_vm_create */
	_Atomic uint64_t runs;    /* load and spin: exits so far */
	_Atomic uint64_t ok, nores, other; /* flooders: answers */
} __attribute__((aligned(64)));

struct shared {
	_Atomic uint32_t ready;   /* futex: children that reported (ok or not) */
	_Atomic uint32_t load;    /* futex: how many R_LOAD clients out-loop */
	_Atomic uint32_t noisy;   /* futex: R_FLOOD and R_SPIN work while 1 */
	_Atomic uint32_t cmd_seq; /* futex: measurer's next command */
	_Atomic uint32_t done_seq;/* futex: measurer finished it */
	uint32_t cmd, cond;
	uint64_t fork_ns[MAX_SLOTS];
	struct slot slot[MAX_SLOTS];
};

static struct shared *sh;
static uint32_t *pool[M_N][C_N];
static _Atomic uint32_t *pool_n[M_N][C_N];
/* pool index at the start and end of each round, per metric and cond */
static uint32_t round_lo[M_N][C_N][MAX_ROUNDS], round_hi[M_N][C_N][MAX_ROUNDS];
static unsigned nround[C_N];

static pid_t driver_pid, hvd_pid = -1;
static unsigned nslots;
static char sock_path[256], conf_path[256], audit_path[256], log_path[256];

/* ---- small helpers ---- */

static uint64_t now_ns(void) { return hvbench_now_ns(); }

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000l };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void kill_everything(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	va_start(ap, fmt);
	fputs("hvscale: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (getpid() == driver_pid) {
		kill_everything();
		FILE *f = fopen(log_path, "re");
		if (f) {
			char line[512];
			fputs("hvd log:\n", stderr);
			while (fgets(line, sizeof(line), f))
				fprintf(stderr, "  %s", line);
			fclose(f);
		}
	}
	_exit(1);
}

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	unsigned long x = strtoul(v, &end, 0);
	if (*end || x > 1000000)
		die("%s: bad value '%s'", name, v);
	return (unsigned)x;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Percentile (0..100) of a sorted array, nearest rank. */
static double pct(const uint32_t *v, size_t n, double p)
{
	if (!n)
		return 0.0 / 0.0;
	size_t k = (size_t)(p / 100.0 * (double)n + 0.5);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* ---- the guest side of a client (runs in children) ---- */

static struct slot *me;

static void child_fail(const char *what, hv_return_t r) __attribute__((noreturn));
static void child_fail(const char *what, hv_return_t r)
{
	me->err = (int32_t)r;
	snprintf(me->what, sizeof(me->what), "%s", what);
	atomic_store(&me->state, ST_FAILED);
	atomic_fetch_add(&sh->ready, 1);
	hvd_runpage_futex_wake(&sh->ready);
	_exit(1);
}

static void check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS)
		child_fail(what, r);
}

static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t v;
	check(hv_vmx_read_capability(cap, &v), "hv_vmx_read_capability");
	return (want | (v & 0xffffffff)) & (v >> 32);
}

static void wvmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	check(hv_vmx_vcpu_write_vmcs(vcpu, field, value), "hv_vmx_vcpu_write_vmcs");
}

static uint64_t rvmcs(hv_vcpuid_t vcpu, uint32_t field)
{
	uint64_t v;
	check(hv_vmx_vcpu_read_vmcs(vcpu, field, &v), "hv_vmx_vcpu_read_vmcs");
	return v;
}

static uint64_t rreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg)
{
	uint64_t v;
	check(hv_vcpu_read_register(vcpu, reg, &v), "hv_vcpu_read_register");
	return v;
}

/* Real mode at 0000:1000, as in examples/hello/hello.c. */
static void real_mode(hv_vcpuid_t vcpu)
{
	static const uint32_t seg[][4] = {
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	};
	wvmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED,
		CPU_BASED_HLT | CPU_BASED_SECONDARY_CTLS));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2,
		CPU_BASED2_UNRESTRICTED));
	wvmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0));
	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
		wvmcs(vcpu, seg[i][0], 0);
		wvmcs(vcpu, seg[i][1], 0);
		wvmcs(vcpu, seg[i][2], 0xffff);
		wvmcs(vcpu, seg[i][3], i == 0 ? 0x9b : 0x93);
	}
	wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);   /* unusable */
	wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x83);        /* 16-bit busy TSS */
	wvmcs(vcpu, VMCS_GUEST_TR_LIMIT, 0xffff);
	wvmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	wvmcs(vcpu, VMCS_GUEST_GDTR_LIMIT, 0);
	wvmcs(vcpu, VMCS_GUEST_CR0, 0x20);          /* NE: VMX's fixed bit */
	wvmcs(vcpu, VMCS_GUEST_CR4, 0x2000);        /* VMXE: VMX's fixed bit */
	wvmcs(vcpu, VMCS_GUEST_RIP, HVBENCH_LOAD_ADDR);
	wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
	wvmcs(vcpu, VMCS_GUEST_RSP, 0x8000);
}

/* One exit as a VMM handles it (the same work as bench/hvbench_api.c):
 * run, read reason, qualification, length, RAX, RIP, step RIP. */
static inline void round_trip(hv_vcpuid_t vcpu, unsigned port)
{
	check(hv_vcpu_run(vcpu), "hv_vcpu_run");
	uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON) & 0xffff;
	if (reason == VMX_REASON_IRQ)
		return;
	uint64_t qual = rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC);
	uint64_t len = rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN);
	uint64_t rax = rreg(vcpu, HV_X86_RAX);
	uint64_t rip = rreg(vcpu, HV_X86_RIP);
	if (reason != VMX_REASON_IO || (qual >> 16) != port || (rax & 0xff) != HVBENCH_AL)
		child_fail("unexpected exit", (hv_return_t)reason);
	check(hv_vcpu_write_register(vcpu, HV_X86_RIP, rip + len), "hv_vcpu_write_register");
}

/* The one VM of this process: create, map, one vCPU, set up, first exit. */
static hv_vcpuid_t vm_up(bool spin)
{
	size_t size = (size_t)P.ram_kib << 10;
	hv_vcpuid_t vcpu;
	uint64_t t0 = now_ns();

	check(hv_vm_create(HV_VM_DEFAULT), "hv_vm_create");
	void *ram = valloc(size);
	if (!ram)
		child_fail("valloc", HV_NO_RESOURCES);
	memset(ram, 0, size);
	if (spin)
		memcpy((char *)ram + HVBENCH_LOAD_ADDR, guest_spin_start,
		       (size_t)(guest_spin_end - guest_spin_start));
	else
		hvbench_load_guest(ram);
	check(hv_vm_map(ram, 0, size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
	      "hv_vm_map");
	check(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create");
	real_mode(vcpu);
	round_trip(vcpu, spin ? 0x11 : HVBENCH_PORT);
	me->create_ns = now_ns() - t0;
	return vcpu;
}

static void report_ready(void)
{
	atomic_store(&me->state, ST_READY);
	atomic_fetch_add(&sh->ready, 1);
	hvd_runpage_futex_wake(&sh->ready);
}

/* Wait until *w is `val`; 0 = off. */
static void wait_for(_Atomic uint32_t *w, uint32_t val)
{
	uint32_t cur;
	while ((cur = atomic_load(w)) != val)
		hvd_runpage_futex_wait(w, cur, 0);
}

static void measure_exits(hv_vcpuid_t vcpu, enum cond c)
{
	uint32_t *out = pool[M_EXIT][c];
	_Atomic uint32_t *n = pool_n[M_EXIT][c];
	uint64_t end = now_ns() + (uint64_t)P.round_ms * 1000000ull;
	for (unsigned i = 0; i < 200; i++)   /* warm-up: spin loops settle */
		round_trip(vcpu, HVBENCH_PORT);
	for (uint64_t t = now_ns(); t < end;) {
		round_trip(vcpu, HVBENCH_PORT);
		uint64_t t1 = now_ns();
		uint32_t k = atomic_load(n);
		if (k < POOL_CAP) {
			out[k] = (uint32_t)(t1 - t);
			atomic_store(n, k + 1);
		}
		t = t1;
	}
}

static void measure_rpcs(hv_vcpuid_t vcpu, enum cond c)
{
	uint64_t end = now_ns() + (uint64_t)P.round_ms * 1000000ull;
	uint64_t v;
	for (unsigned i = 0; now_ns() < end; i++) {
		bool exec = i % 2 == 0;
		enum metric m = exec ? M_EXEC : M_CAP;
		uint64_t t0 = now_ns();
		hv_return_t r = exec ? hv_vcpu_get_exec_time(vcpu, &v)
				     : hv_capability(HV_CAP_VCPUMAX, &v);
		uint64_t t1 = now_ns();
		check(r, exec ? "hv_vcpu_get_exec_time" : "hv_capability");
		uint32_t k = atomic_load(pool_n[m][c]);
		if (k < POOL_CAP) {
			pool[m][c][k] = (uint32_t)(t1 - t0);
			atomic_store(pool_n[m][c], k + 1);
		}
	}
}

/* A thread may own only one vCPU: the second is asked for from another. */
static void *second_vcpu(void *arg)
{
	hv_vcpuid_t v;
	hv_return_t r = hv_vcpu_create(&v, HV_VCPU_DEFAULT);
	*(int32_t *)arg = (int32_t)r;
	if (r == HV_SUCCESS)
		hv_vcpu_destroy(v);
	return NULL;
}

static void child_main(unsigned idx, enum role role, unsigned tenant)
{
	uid_t uid = UID_BASE + tenant;
	gid_t gid = GID_CLIENTS;

	me = &sh->slot[idx];
	me->pid = getpid();
	/* The noisy tenant's own processes at a lower CPU priority, as a host
	 * that confines its tenants' processes would run them (hvd's part is
	 * its quotas; the clients' own CPU is the host's to share). */
	if (tenant == NOISY && P.noisy_nice && setpriority(PRIO_PROCESS, 0, (int)P.noisy_nice) < 0)
		child_fail("setpriority", HV_ERROR);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		child_fail("setresuid", HV_ERROR);
	/* Cleared by the credential change: set it now. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != driver_pid)
		_exit(1);

	if (role == R_GREEDY) {
		/* Over the tenant's max_vms: must be refused. */
		me->vm_status = (int32_t)hv_vm_create(HV_VM_DEFAULT);
		report_ready();
		pause();
		_exit(0);
	}

	hv_vcpuid_t vcpu = vm_up(role == R_SPIN);
	if (role == R_FLOOD) {
		/* Over max_vcpus_per_vm = 1: must be refused. */
		pthread_t t;
		if (pthread_create(&t, NULL, second_vcpu, &me->vcpu2) != 0)
			child_fail("pthread_create", HV_ERROR);
		pthread_join(t, NULL);
	}
	report_ready();

	switch (role) {
	case R_IDLE:
	case R_GREEDY:
		/* An idle VM: its vCPU is never run again. */
		for (;;)
			pause();
	case R_LOAD:
		/* Loaded client j runs while more than j clients are asked to. */
		for (uint32_t j = idx - 1, cur;;) {
			while ((cur = atomic_load(&sh->load)) <= j)
				hvd_runpage_futex_wait(&sh->load, cur, 0);
			while (atomic_load_explicit(&sh->load, memory_order_relaxed) > j) {
				round_trip(vcpu, HVBENCH_PORT);
				atomic_fetch_add_explicit(&me->runs, 1, memory_order_relaxed);
			}
		}
	case R_SPIN:
		for (;;) {
			wait_for(&sh->noisy, 1);
			while (atomic_load_explicit(&sh->noisy, memory_order_relaxed)) {
				round_trip(vcpu, 0x11);
				atomic_fetch_add_explicit(&me->runs, 1, memory_order_relaxed);
			}
		}
	case R_FLOOD:
		for (;;) {
			wait_for(&sh->noisy, 1);
			uint64_t v;
			for (unsigned i = 0;
			     atomic_load_explicit(&sh->noisy, memory_order_relaxed); i++) {
				hv_return_t r = i % 2 ? hv_capability(HV_CAP_VCPUMAX, &v)
						      : hv_vcpu_get_exec_time(vcpu, &v);
				if (r == HV_SUCCESS)
					atomic_fetch_add_explicit(&me->ok, 1, memory_order_relaxed);
				else if (r == HV_NO_RESOURCES)
					atomic_fetch_add_explicit(&me->nores, 1, memory_order_relaxed);
				else
					atomic_fetch_add_explicit(&me->other, 1, memory_order_relaxed);
			}
		}
	case R_MEASURE: {
		uint32_t seen = 0;
		for (;;) {
			uint32_t s;
			while ((s = atomic_load(&sh->cmd_seq)) == seen)
				hvd_runpage_futex_wait(&sh->cmd_seq, seen, 0);
			seen = s;
			if (sh->cmd == CMD_EXITS)
				measure_exits(vcpu, (enum cond)sh->cond);
			else if (sh->cmd == CMD_RPC)
				measure_rpcs(vcpu, (enum cond)sh->cond);
			else
				_exit(0);
			atomic_store(&sh->done_seq, seen);
			hvd_runpage_futex_wake(&sh->done_seq);
		}
	}
	}
	_exit(0);
}

/* ---- driver: processes ---- */

static unsigned spawn(enum role role, unsigned tenant)
{
	if (nslots >= MAX_SLOTS)
		die("too many clients (at most %d)", MAX_SLOTS);
	unsigned idx = nslots++;
	fflush(stdout);
	fflush(stderr);
	sh->fork_ns[idx] = now_ns();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child_main(idx, role, tenant);
	sh->slot[idx].pid = pid;
	return idx;
}

/* Wait until `target` children have reported; die on failures. */
static void wait_ready(unsigned target, unsigned first, const char *what)
{
	uint64_t deadline = now_ns() + 60ull * 1000000000ull;
	uint32_t cur;
	while ((cur = atomic_load(&sh->ready)) < target) {
		if (now_ns() > deadline)
			die("%s: only %u of %u clients became ready in 60 s", what, cur, target);
		hvd_runpage_futex_wait(&sh->ready, cur, 100000000l);
	}
	for (unsigned i = first; i < nslots; i++) {
		struct slot *s = &sh->slot[i];
		if (atomic_load(&s->state) == ST_FAILED)
			die("%s: client %u (pid %d) failed: %s: 0x%08x", what, i, (int)s->pid,
			    s->what, (unsigned)s->err);
		if (!s->ready_ns)
			s->ready_ns = now_ns() - sh->fork_ns[i];
	}
}

/* A client that failed after it was ready (a run that went wrong). */
static void check_failures(const char *what)
{
	for (unsigned i = 0; i < nslots; i++) {
		struct slot *s = &sh->slot[i];
		if (atomic_load(&s->state) == ST_FAILED)
			die("%s: client %u (pid %d) failed: %s: 0x%08x", what, i, (int)s->pid,
			    s->what, (unsigned)s->err);
	}
}

static void measurer_do(uint32_t cmd, enum cond c)
{
	sh->cmd = cmd;
	sh->cond = c;
	uint32_t seq = atomic_load(&sh->cmd_seq) + 1;
	atomic_store(&sh->cmd_seq, seq);
	hvd_runpage_futex_wake(&sh->cmd_seq);
	uint64_t deadline = now_ns() + 120ull * 1000000000ull;
	while (atomic_load(&sh->done_seq) != seq) {
		if (now_ns() > deadline)
			die("the measuring client does not answer");
		hvd_runpage_futex_wait(&sh->done_seq, seq - 1, 100000000l);
		int st;
		if (waitpid(sh->slot[0].pid, &st, WNOHANG) == sh->slot[0].pid)
			die("the measuring client died: %s: 0x%08x", sh->slot[0].what,
			    (unsigned)sh->slot[0].err);
	}
}

static void kill_everything(void)
{
	for (unsigned i = 0; i < nslots; i++)
		if (sh->slot[i].pid > 0)
			kill(sh->slot[i].pid, SIGKILL);
	for (unsigned i = 0; i < nslots; i++)
		if (sh->slot[i].pid > 0) {
			waitpid(sh->slot[i].pid, NULL, 0);
			sh->slot[i].pid = 0;
		}
	if (hvd_pid > 0) {
		kill(hvd_pid, SIGTERM);
		for (int i = 0; i < 1000; i++) {
			if (waitpid(hvd_pid, NULL, WNOHANG) == hvd_pid) {
				hvd_pid = -1;
				return;
			}
			sleep_ms(10);
		}
		kill(hvd_pid, SIGKILL);
		waitpid(hvd_pid, NULL, 0);
		hvd_pid = -1;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	kill_everything();
	_exit(130);
}

/* ---- driver: /proc ---- */

struct mem {
	/* smaps_rollup, kB */
	long rss, pss, pss_anon, pss_file, pss_shmem, priv_dirty, shared_dirty;
	/* smaps by mapping, Rss / Pss kB */
	long guest_rss, guest_pss, run_rss, run_pss, kvm_rss, anon_rss, anon_pss, file_rss;
	long guest_maps, run_maps;
	long threads, fds;
	/* /proc/meminfo, kB */
	long sunreclaim, kstack, ptables, avail;
};

static long field_kb(const char *line, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(line, name, n) || line[n] != ':')
		return -1;
	return strtol(line + n + 1, NULL, 10);
}

/* false if the process is gone (its smaps cannot be opened). */
static bool try_read_mem(pid_t pid, struct mem *m)
{
	char path[64], line[512];
	FILE *f;
	long v;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		if ((v = field_kb(line, "Rss")) >= 0) m->rss = v;
		else if ((v = field_kb(line, "Pss")) >= 0) m->pss = v;
		else if ((v = field_kb(line, "Pss_Anon")) >= 0) m->pss_anon = v;
		else if ((v = field_kb(line, "Pss_File")) >= 0) m->pss_file = v;
		else if ((v = field_kb(line, "Pss_Shmem")) >= 0) m->pss_shmem = v;
		else if ((v = field_kb(line, "Private_Dirty")) >= 0) m->priv_dirty = v;
		else if ((v = field_kb(line, "Shared_Dirty")) >= 0) m->shared_dirty = v;
	}
	fclose(f);

	/* Per mapping: which of hvd's resident memory is guest RAM (the
	 * clients' memfds), run pages, KVM's own (kvm_run), anonymous. */
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	enum { K_ANON, K_GUEST, K_RUN, K_KVM, K_FILE } kind = K_ANON;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];
		int off = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &lo, &hi, perms, &off) == 3 && off) {
			const char *name = line + off;
			while (*name == ' ')
				name++;
			if (strstr(name, "hv-guest-ram")) {
				kind = K_GUEST;
				m->guest_maps++;
			} else if (strstr(name, "hvd-run-page")) {
				kind = K_RUN;
				m->run_maps++;
			} else if (strstr(name, "anon_inode:kvm")) {
				kind = K_KVM;
			} else if (*name == '/' && !strstr(name, "memfd:")) {
				kind = K_FILE;
			} else {
				kind = K_ANON;   /* heap, stacks, anonymous, [vdso] */
			}
			continue;
		}
		if ((v = field_kb(line, "Rss")) >= 0) {
			switch (kind) {
			case K_GUEST: m->guest_rss += v; break;
			case K_RUN: m->run_rss += v; break;
			case K_KVM: m->kvm_rss += v; break;
			case K_FILE: m->file_rss += v; break;
			case K_ANON: m->anon_rss += v; break;
			}
		} else if ((v = field_kb(line, "Pss")) >= 0) {
			if (kind == K_GUEST) m->guest_pss += v;
			else if (kind == K_RUN) m->run_pss += v;
			else if (kind == K_ANON) m->anon_pss += v;
		}
	}
	fclose(f);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Threads:", 8))
				m->threads = strtol(line + 8, NULL, 10);
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			m->fds += e->d_name[0] != '.';
		closedir(d);
	}
	if ((f = fopen("/proc/meminfo", "re"))) {
		while (fgets(line, sizeof(line), f)) {
			if ((v = field_kb(line, "SUnreclaim")) >= 0) m->sunreclaim = v;
			else if ((v = field_kb(line, "KernelStack")) >= 0) m->kstack = v;
			else if ((v = field_kb(line, "PageTables")) >= 0) m->ptables = v;
			else if ((v = field_kb(line, "MemAvailable")) >= 0) m->avail = v;
		}
		fclose(f);
	}
	return true;
}

static void read_mem(pid_t pid, struct mem *m)
{
	if (!try_read_mem(pid, m))
		die("/proc/%d/smaps: %s", (int)pid, strerror(errno));
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	int ppid = 0;
	return p && sscanf(p + 2, "%*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

/* The memory of hvd's descendants (hvd-zygote, the workers that hold the
 * VMs, hvd-ident), summed; `procs` counts them. */
static void read_tree_mem(pid_t root, struct mem *sum, long *procs)
{
	memset(sum, 0, sizeof(*sum));
	*procs = 0;
	DIR *d = opendir("/proc");
	if (!d)
		die("/proc: %s", strerror(errno));
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 1 || pid == root)
			continue;
		pid_t up = pid;
		for (int depth = 0; depth < 8 && up > 1 && up != root; depth++)
			up = parent_of(up);
		struct mem m;
		if (up != root || !try_read_mem(pid, &m))
			continue;
		(*procs)++;
		sum->rss += m.rss;
		sum->pss += m.pss;
		sum->pss_anon += m.pss_anon;
		sum->pss_file += m.pss_file;
		sum->pss_shmem += m.pss_shmem;
		sum->priv_dirty += m.priv_dirty;
		sum->guest_rss += m.guest_rss;
		sum->guest_pss += m.guest_pss;
		sum->threads += m.threads;
		sum->fds += m.fds;
	}
	closedir(d);
}

/* CPU seconds hvd used, and the host's busy/total jiffies. */
struct cpu {
	double hvd_s;
	unsigned long long busy, total;
	uint64_t t_ns;
};

static void read_cpu(struct cpu *c)
{
	char path[64], buf[1024];
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->t_ns = now_ns();
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)hvd_pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			unsigned long ut = 0, st = 0;
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
					&ut, &st) == 2)
				c->hvd_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		}
		fclose(f);
	}
	if ((f = fopen("/proc/stat", "re"))) {
		unsigned long long v[10] = { 0 };
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
			for (int i = 0; i < 8; i++)
				c->total += v[i];
			c->busy = c->total - v[3] - v[4];
		}
		fclose(f);
	}
}

/* hvd CPU as % of one CPU; host busy as % of all CPUs. */
static void cpu_delta(const struct cpu *a, const struct cpu *b, double *hvd_pct, double *host_pct)
{
	double dt = (double)(b->t_ns - a->t_ns) / 1e9;
	*hvd_pct = dt > 0 ? 100.0 * (b->hvd_s - a->hvd_s) / dt : 0;
	*host_pct = b->total > a->total ?
		100.0 * (double)(b->busy - a->busy) / (double)(b->total - a->total) : 0;
}

/* hvctl status --json as root: its wall time in ms and the VM count;
 * -1 when it failed or took more than 10 s. */
static int hvctl_status(double *ms, long *vms)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	uint64_t t0 = now_ns();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(P.hvctl, P.hvctl, "--socket", sock_path, "status", "--json", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	int st = -1;
	bool done = false;
	while (!done) {
		n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
				len += (size_t)n;
			done = true;
		} else if (now_ns() - t0 > 10ull * 1000000000ull) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			close(p[0]);
			return -1;
		} else {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
	}
	close(p[0]);
	*ms = (double)(now_ns() - t0) / 1e6;
	buf[len] = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	char *v = strstr(buf, "\"vms\"");
	if (!v || !(v = strchr(v, ':')))
		return -1;
	*vms = strtol(v + 1, NULL, 10);
	return 0;
}

/* Audit lines containing each of `needles`; also the file's size. */
static void audit_count(const char *const *needles, unsigned n, unsigned long *counts,
			unsigned long *lines, long *bytes)
{
	FILE *f = fopen(audit_path, "re");
	char *line = NULL;
	size_t cap = 0;
	memset(counts, 0, n * sizeof(*counts));
	*lines = 0;
	*bytes = 0;
	if (!f)
		return;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		(*lines)++;
		*bytes += len;
		for (unsigned i = 0; i < n; i++)
			if (strstr(line, needles[i]))
				counts[i]++;
	}
	free(line);
	fclose(f);
}

/* ---- driver: setup ---- */

static void write_config(const unsigned *per_tenant)
{
	FILE *f = fopen(conf_path, "we");
	if (!f)
		die("%s: %s", conf_path, strerror(errno));
	fprintf(f, "# written by hvscale\n[hvd]\naudit = %s\n\n", audit_path);
	for (unsigned k = 0; k < NTENANTS; k++) {
		if (k == NOISY) {
			/* Exactly what it is given: its population share, its
			 * flooders and spinners; the greedy ones are refused. */
			unsigned vms = per_tenant[k] + P.flooders + P.spinners;
			fprintf(f, "[tenant %s]\nmax_vms = %u\nmax_vcpus = %u\n"
				   "max_vcpus_per_vm = 1\nmax_memory = 1G\nmax_rpc_rate = %u\n"
				   "max_cpu_percent = %u\n\n",
				tenant_name[k], vms, vms, P.noisy_rate, P.noisy_cpu);
		} else {
			unsigned vms = per_tenant[k] + 8;
			fprintf(f, "[tenant %s]\nmax_vms = %u\nmax_vcpus = %u\n"
				   "max_vcpus_per_vm = 1\nmax_memory = 1G\nmax_rpc_rate = 100000\n\n",
				tenant_name[k], vms, vms);
		}
	}
	for (unsigned k = 0; k < NTENANTS; k++)
		fprintf(f, "[rule %s]\nuid = %u\nentitlements = com.apple.security.hypervisor\n"
			   "tenant = %s\n\n", tenant_name[k], UID_BASE + k, tenant_name[k]);
	fclose(f);
}

static void start_hvd(void)
{
	fflush(stdout);
	hvd_pid = fork();
	if (hvd_pid < 0)
		die("fork: %s", strerror(errno));
	if (hvd_pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* The clients' uids are in no group of the socket's: it is
		 * opened to all, and the policy decides. */
		if (P.cgroups)
			execl(P.hvd, P.hvd, "--socket", sock_path, "--socket-mode", "0666",
			      "--config", conf_path, "--log-level", "warn", "--cgroups",
			      "--cgroup-root", "hvscale", (char *)NULL);
		else
			execl(P.hvd, P.hvd, "--socket", sock_path, "--socket-mode", "0666",
			      "--config", conf_path, "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		struct stat st;
		if (stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		if (waitpid(hvd_pid, NULL, WNOHANG) == hvd_pid) {
			hvd_pid = -1;
			die("hvd exited at start");
		}
		sleep_ms(10);
	}
	die("hvd did not create %s", sock_path);
}

static void *map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu: %s", size, strerror(errno));
	return p;
}

/* ---- driver: reporting ---- */

struct stats { size_t n; double mean, p50, p90, p99, max; };

static struct stats stats_of(enum metric m, enum cond c, int round)
{
	struct stats s = { 0 };
	uint32_t lo = 0, hi = atomic_load(pool_n[m][c]);
	if (round >= 0) {
		lo = round_lo[m][c][round];
		hi = round_hi[m][c][round];
	}
	size_t n = hi - lo;
	if (!n)
		return s;
	uint32_t *v = malloc(n * sizeof(*v));
	if (!v)
		die("out of memory");
	memcpy(v, pool[m][c] + lo, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u32);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s.n = n;
	s.mean = sum / (double)n / 1e3;
	s.p50 = pct(v, n, 50) / 1e3;
	s.p90 = pct(v, n, 90) / 1e3;
	s.p99 = pct(v, n, 99) / 1e3;
	s.max = v[n - 1] / 1e3;
	free(v);
	return s;
}

/* One table: each metric, the two conditions, and b/a ratios. */
static void print_compare(enum cond a, enum cond b)
{
	printf("  %-26s %-6s %8s %9s %9s %9s %9s %10s   per-round p50\n", "µs", "cond", "n",
	       "mean", "p50", "p90", "p99", "max");
	for (int m = 0; m < M_N; m++) {
		struct stats s[2] = { stats_of(m, a, -1), stats_of(m, b, -1) };
		enum cond cs[2] = { a, b };
		for (int i = 0; i < 2; i++) {
			printf("  %-26s %-6s %8zu %9.2f %9.2f %9.2f %9.2f %10.1f  ",
			       i == 0 ? metric_name[m] : "", cond_name[cs[i]], s[i].n, s[i].mean,
			       s[i].p50, s[i].p90, s[i].p99, s[i].max);
			for (unsigned r = 0; r < nround[cs[i]]; r++)
				printf(" %.1f", stats_of(m, cs[i], (int)r).p50);
			printf("\n");
		}
		printf("  %-26s %-6s %8s %8.2fx %8.2fx %8.2fx %8.2fx\n", "", "ratio", "",
		       s[1].mean / s[0].mean, s[1].p50 / s[0].p50, s[1].p90 / s[0].p90,
		       s[1].p99 / s[0].p99);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median over rounds of each round's p50 (or p99): every round counts
 * once, however many calls it made. Pooled samples over-weight fast
 * rounds, and a round is fast or slow as a whole on this host (where the
 * scheduler put the client and its threads), in either condition. */
static double round_median(enum metric m, enum cond c, bool p99)
{
	double v[MAX_ROUNDS];
	unsigned n = nround[c];
	if (!n)
		return 0;
	for (unsigned r = 0; r < n; r++) {
		struct stats st = stats_of(m, c, (int)r);
		v[r] = p99 ? st.p99 : st.p50;
	}
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Samples of at least `ns` in the pool. */
static size_t count_over(enum metric m, enum cond c, uint32_t ns)
{
	size_t k = 0, n = atomic_load(pool_n[m][c]);
	for (size_t i = 0; i < n; i++)
		k += pool[m][c][i] >= ns;
	return k;
}

static void print_stalls(enum cond a, enum cond b)
{
	printf("  calls that took >= 0.9 s:");
	for (int m = 0; m < M_N; m++)
		printf(" %s %zu/%zu", metric_name[m], count_over(m, a, 900000000u) + count_over(m, b, 900000000u),
		       (size_t)atomic_load(pool_n[m][a]) + atomic_load(pool_n[m][b]));
	printf("\n");
}

static void begin_round(enum cond c)
{
	unsigned r = nround[c];
	if (r >= MAX_ROUNDS)
		die("too many rounds");
	for (int m = 0; m < M_N; m++)
		round_lo[m][c][r] = atomic_load(pool_n[m][c]);
}

static void end_round(enum cond c)
{
	unsigned r = nround[c]++;
	for (int m = 0; m < M_N; m++)
		round_hi[m][c][r] = atomic_load(pool_n[m][c]);
}

static uint64_t sum_runs(enum role role, const enum role *roles)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < nslots; i++)
		if (roles[i] == role)
			s += atomic_load(&sh->slot[i].runs);
	return s;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s HVD HVCTL DIR   (use bench/scale/run.sh)\n", argv[0]);
		return 2;
	}
	P.hvd = argv[1];
	P.hvctl = argv[2];
	P.dir = argv[3];
	P.vms = env_uint("HVSCALE_VMS", 200);
	P.batch = env_uint("HVSCALE_BATCH", 20);
	P.load = env_uint("HVSCALE_LOAD", 16);
	P.rounds = env_uint("HVSCALE_ROUNDS", 7);
	P.round_ms = env_uint("HVSCALE_ROUND_MS", 500);
	P.ram_kib = env_uint("HVSCALE_RAM_KIB", 64);
	P.flooders = env_uint("HVSCALE_FLOODERS", 4);
	P.spinners = env_uint("HVSCALE_SPINNERS", 2);
	P.greedy = env_uint("HVSCALE_GREEDY", 2);
	P.noisy_rate = env_uint("HVSCALE_NOISY_RATE", 2000);
	/* 0: the noisy tenant's CPU is not metered (to see what that does). */
	P.noisy_cpu = env_uint("HVSCALE_NOISY_CPU", 20);
	/* Nice value of the noisy tenant's client processes (0: as everyone). */
	P.noisy_nice = env_uint("HVSCALE_NOISY_NICE", 0);
	P.cgroups = env_uint("HVSCALE_CGROUPS", 0);
	if (P.vms < NTENANTS || P.batch == 0 || P.load > P.vms || P.rounds == 0 ||
	    P.rounds > MAX_ROUNDS || P.round_ms == 0 || P.ram_kib < 8 || P.ram_kib % 4 ||
	    P.noisy_rate == 0 || P.noisy_nice > 19)
		die("bad parameters");
	if (geteuid() != 0)
		die("must run as root (clients run as uids %u..%u via setresuid)", UID_BASE,
		    UID_BASE + NTENANTS - 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	driver_pid = getpid();
	snprintf(sock_path, sizeof(sock_path), "%s/hvd.sock", P.dir);
	snprintf(conf_path, sizeof(conf_path), "%s/hvd.conf", P.dir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.log", P.dir);
	snprintf(log_path, sizeof(log_path), "%s/hvd.log", P.dir);
	/* libhvclient in every child finds hvd here. */
	setenv("HVD_SOCKET", sock_path, 1);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);

	sh = map_shared(sizeof(*sh));
	for (int m = 0; m < M_N; m++)
		for (int c = 0; c < C_N; c++) {
			pool[m][c] = map_shared((size_t)POOL_CAP * sizeof(uint32_t));
			pool_n[m][c] = map_shared(4096);
		}
	static enum role roles[MAX_SLOTS];

	/* Population: client i belongs to tenant i % 4; the first `load`
	 * of them (spread over all tenants) are the loaded ones. */
	unsigned per_tenant[NTENANTS] = { 0 };
	for (unsigned i = 0; i < P.vms; i++)
		per_tenant[i % NTENANTS]++;
	per_tenant[0]++;   /* the measuring client is in alpha */
	write_config(per_tenant);
	per_tenant[0]--;

	unsigned total_clients = 1 + P.vms + P.flooders + P.spinners + P.greedy;
	printf("hvscale: one hvd, %u client processes (one VM + one vCPU each, %u KiB guest RAM),\n"
	       "         %d tenants by uid (%u..%u); config %s\n",
	       total_clients, P.ram_kib, NTENANTS, UID_BASE, UID_BASE + NTENANTS - 1, conf_path);
	printf("population: %u idle VMs (%u/%u/%u/%u in %s/%s/%s/%s) + 1 measuring client (alpha)\n",
	       P.vms, per_tenant[0], per_tenant[1], per_tenant[2], per_tenant[3], tenant_name[0],
	       tenant_name[1], tenant_name[2], tenant_name[3]);
	printf("rounds: %u per condition, %u ms exits + %u ms RPCs each, conditions interleaved\n\n",
	       P.rounds, P.round_ms, P.round_ms);

	start_hvd();
	sleep_ms(200);
	struct mem m0, m1, tm0, tm1;
	long procs0, procs1;
	read_mem(hvd_pid, &m0);
	read_tree_mem(hvd_pid, &tm0, &procs0);

	/* The measuring client first: it exists through every phase. */
	roles[spawn(R_MEASURE, 0)] = R_MEASURE;
	wait_ready(1, 0, "measuring client");

	/* ---- 1. ramp-up ---- */
	printf("== 1. ramp-up: %u VMs, %u clients forked per batch; batch done when all its VMs ran their first exit ==\n",
	       P.vms, P.batch);
	printf("  each client: fork + setresuid + connect + hv_vm_create + valloc/map %u KiB +\n"
	       "  hv_vcpu_create + VMCS setup + first hv_vcpu_run (OUT exit)\n", P.ram_kib);
	printf("  %6s %8s %9s %9s %12s\n", "batch", "VMs", "ms", "VMs/s", "hvd threads");
	uint64_t ramp0 = now_ns();
	double first_rate = 0, last_rate = 0;
	unsigned nbatch = 0;
	for (unsigned done = 0; done < P.vms;) {
		unsigned n = P.vms - done < P.batch ? P.vms - done : P.batch;
		unsigned first = nslots;
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < n; i++) {
			unsigned k = done + i;
			enum role r = k < P.load ? R_LOAD : R_IDLE;
			roles[spawn(r, k % NTENANTS)] = r;
		}
		wait_ready(1 + done + n, first, "ramp-up");
		uint64_t t1 = now_ns();
		done += n;
		double rate = n / ((double)(t1 - t0) / 1e9);
		if (nbatch++ == 0)
			first_rate = rate;
		last_rate = rate;
		char path[64], line[256];
		long threads = 0;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)hvd_pid);
		FILE *f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "Threads:", 8))
				threads = strtol(line + 8, NULL, 10);
		if (f)
			fclose(f);
		printf("  %6u %8u %9.1f %9.1f %12ld\n", nbatch, done, (double)(t1 - t0) / 1e6, rate,
		       threads);
	}
	uint64_t ramp1 = now_ns();
	double ramp_s = (double)(ramp1 - ramp0) / 1e9;
	{
		uint32_t lat[MAX_SLOTS], rdy[MAX_SLOTS];
		size_t n = 0;
		for (unsigned i = 1; i < nslots; i++) {
			lat[n] = (uint32_t)(sh->slot[i].create_ns / 1000);
			rdy[n++] = (uint32_t)(sh->slot[i].ready_ns / 1000);
		}
		qsort(lat, n, sizeof(*lat), cmp_u32);
		qsort(rdy, n, sizeof(*rdy), cmp_u32);
		printf("  total: %u VMs in %.2f s = %.1f VMs/s (first batch %.1f VMs/s, last batch %.1f VMs/s)\n",
		       P.vms, ramp_s, P.vms / ramp_s, first_rate, last_rate);
		printf("  per VM, inside the client, hv_vm_create .. first exit: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
		       pct(lat, n, 50) / 1e3, pct(lat, n, 90) / 1e3, pct(lat, n, 99) / 1e3,
		       lat[n - 1] / 1e3);
		printf("  per VM, fork .. ready (driver's view, includes waiting for the batch's CPU):\n"
		       "       p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n\n",
		       pct(rdy, n, 50) / 1e3, pct(rdy, n, 90) / 1e3, pct(rdy, n, 99) / 1e3,
		       rdy[n - 1] / 1e3);
	}

	/* ---- 2. memory ---- */
	sleep_ms(1500);   /* every vCPU thread asleep */
	struct cpu ci0, ci1;
	read_cpu(&ci0);
	sleep_ms(2000);
	read_cpu(&ci1);
	read_mem(hvd_pid, &m1);
	read_tree_mem(hvd_pid, &tm1, &procs1);
	unsigned nvm = 1 + P.vms;
	double hvd_idle_pct, host_idle_pct;
	cpu_delta(&ci0, &ci1, &hvd_idle_pct, &host_idle_pct);
	printf("== 2. hvd's memory: before any client vs. with %u VMs (all idle) ==\n", nvm);
	printf("  %-44s %10s %10s %10s %10s\n", "kB (hvd = pid of hvd)", "before", "after",
	       "delta", "per VM");
#define ROW(label, f) printf("  %-44s %10ld %10ld %10ld %10.1f\n", label, m0.f, m1.f, \
			     m1.f - m0.f, (double)(m1.f - m0.f) / nvm)
	ROW("smaps_rollup Rss", rss);
	ROW("smaps_rollup Pss", pss);
	ROW("smaps_rollup Pss_Anon", pss_anon);
	ROW("smaps_rollup Pss_Shmem", pss_shmem);
	ROW("smaps_rollup Pss_File", pss_file);
	ROW("smaps_rollup Private_Dirty", priv_dirty);
	ROW("smaps_rollup Shared_Dirty", shared_dirty);
	ROW("  Rss of guest RAM memfds (hv-guest-ram)", guest_rss);
	ROW("  Pss of guest RAM memfds", guest_pss);
	ROW("  Rss of run pages (hvd-run-page memfds)", run_rss);
	ROW("  Rss of KVM mappings (kvm_run, anon_inode)", kvm_rss);
	ROW("  Rss anonymous (heap, thread stacks)", anon_rss);
	ROW("  Rss files (hvd and its libraries)", file_rss);
	ROW("guest RAM memfd mappings", guest_maps);
	ROW("threads", threads);
	ROW("open fds", fds);
	printf("  system-wide (/proc/meminfo; includes the %u client processes and KVM):\n", nvm);
	ROW("  SUnreclaim (kernel slab: KVM VM/vCPU structs..)", sunreclaim);
	ROW("  KernelStack", kstack);
	ROW("  PageTables", ptables);
	printf("  %-44s %10ld %10ld %10ld %10.1f\n", "  MemAvailable (drop)", m0.avail, m1.avail,
	       m0.avail - m1.avail, (double)(m0.avail - m1.avail) / nvm);
#undef ROW
	long beyond = (m1.rss - m0.rss) - (m1.guest_rss - m0.guest_rss);
	long beyond_pss = (m1.pss - m0.pss) - (m1.guest_pss - m0.guest_pss);
	printf("  hvd memory per VM beyond guest RAM: Rss %.1f kB, Pss %.1f kB\n"
	       "    (= delta Rss/Pss minus the delta of the guest RAM memfd mappings; guest RAM is\n"
	       "     mapped %u KiB per VM but only pages the guest touched are resident in hvd)\n",
	       (double)beyond / nvm, (double)beyond_pss / nvm, P.ram_kib);
	printf("  hvd's other processes (hvd-zygote, the workers holding the VMs, hvd-ident), summed:\n");
	printf("  %-44s %10ld %10ld %10ld %10.1f\n", "  processes", procs0, procs1, procs1 - procs0,
	       (double)(procs1 - procs0) / nvm);
#define TROW(label, f) printf("  %-44s %10ld %10ld %10ld %10.1f\n", label, tm0.f, tm1.f, \
			      tm1.f - tm0.f, (double)(tm1.f - tm0.f) / nvm)
	TROW("  Rss", rss);
	TROW("  Pss", pss);
	TROW("  Pss_Anon", pss_anon);
	TROW("  Pss_File", pss_file);
	TROW("  Pss_Shmem", pss_shmem);
	TROW("  Pss of guest RAM memfds", guest_pss);
	TROW("  threads", threads);
	TROW("  open fds", fds);
#undef TROW
	long tree_pss = (tm1.pss - tm0.pss) - (tm1.guest_pss - tm0.guest_pss);
	printf("  memory per VM beyond guest RAM, hvd and its workers: Pss %.1f kB\n"
	       "    (the workers' Pss less their guest RAM mappings', plus hvd's; Pss splits\n"
	       "     the pages the workers share, hvd's code and libraries, between them)\n",
	       (double)(tree_pss + beyond_pss) / nvm);
	printf("  hvd CPU with %u idle VMs: %.2f%% of one CPU over %.1f s (host busy %.1f%%)\n\n",
	       nvm, hvd_idle_pct, (double)(ci1.t_ns - ci0.t_ns) / 1e9, host_idle_pct);

	/* ---- 3. idle vs load ---- */
	printf("== 3. exit round trip and RPC latency of the measuring client (alpha): idle vs load ==\n");
	printf("  idle: the other %u VMs exist, none runs; load: %u of them (all tenants) run\n"
	       "  out-loops back to back (hv_vcpu_run .. OUT exit .. step RIP) as fast as they can\n",
	       P.vms, P.load);
	double hvd_pct[C_N] = { 0 }, host_pct[C_N] = { 0 }, load_rate = 0;
	unsigned ncpu[C_N] = { 0 };
	for (unsigned r = 0; r < P.rounds; r++) {
		enum cond order[2] = { C_IDLE, C_LOAD };
		if (r % 2) {
			order[0] = C_LOAD;
			order[1] = C_IDLE;
		}
		for (int k = 0; k < 2; k++) {
			enum cond c = order[k];
			atomic_store(&sh->load, c == C_LOAD ? P.load : 0);
			hvd_runpage_futex_wake(&sh->load);
			sleep_ms(100);
			struct cpu a, b;
			uint64_t runs0 = sum_runs(R_LOAD, roles);
			read_cpu(&a);
			begin_round(c);
			measurer_do(CMD_EXITS, c);
			measurer_do(CMD_RPC, c);
			end_round(c);
			read_cpu(&b);
			uint64_t runs1 = sum_runs(R_LOAD, roles);
			double hp, sp;
			cpu_delta(&a, &b, &hp, &sp);
			hvd_pct[c] += hp;
			host_pct[c] += sp;
			ncpu[c]++;
			if (c == C_LOAD)
				load_rate += (double)(runs1 - runs0) / ((double)(b.t_ns - a.t_ns) / 1e9);
			atomic_store(&sh->load, 0);
		}
	}
	check_failures("idle vs load");
	print_compare(C_IDLE, C_LOAD);
	print_stalls(C_IDLE, C_LOAD);
	printf("  hvd CPU: idle %.0f%%, load %.0f%% of one CPU; host busy: idle %.0f%%, load %.0f%%\n",
	       hvd_pct[C_IDLE] / ncpu[C_IDLE], hvd_pct[C_LOAD] / ncpu[C_LOAD],
	       host_pct[C_IDLE] / ncpu[C_IDLE], host_pct[C_LOAD] / ncpu[C_LOAD]);
	printf("  exits served to the %u loaded clients: %.0f exits/s in total (%.0f per client)\n\n",
	       P.load, load_rate / ncpu[C_LOAD], load_rate / ncpu[C_LOAD] / (P.load ? P.load : 1));

	/* Aggregate exit throughput against the number of out-looping
	 * clients: how the exit path shares 2 CPUs. */
	printf("  aggregate exits/s vs. number of out-looping clients (no measuring client; %u ms each):\n",
	       2 * P.round_ms);
	printf("  %8s %12s %12s %10s %10s\n", "clients", "exits/s", "per client", "hvd CPU%",
	       "host busy%");
	for (unsigned k = 1; k <= P.load; k = k < P.load && 2 * k > P.load ? P.load : 2 * k) {
		atomic_store(&sh->load, k);
		hvd_runpage_futex_wake(&sh->load);
		sleep_ms(100);
		struct cpu a, b;
		uint64_t r0 = sum_runs(R_LOAD, roles);
		read_cpu(&a);
		sleep_ms(2 * P.round_ms);
		read_cpu(&b);
		uint64_t r1 = sum_runs(R_LOAD, roles);
		atomic_store(&sh->load, 0);
		double hp, sp, dt = (double)(b.t_ns - a.t_ns) / 1e9;
		cpu_delta(&a, &b, &hp, &sp);
		printf("  %8u %12.0f %12.0f %10.0f %10.0f\n", k, (double)(r1 - r0) / dt,
		       (double)(r1 - r0) / dt / k, hp, sp);
		sleep_ms(50);
	}
	printf("\n");

	/* ---- 4. noisy tenant ---- */
	printf("== 4. noisy tenant (uid %u, tenant %s: max_rpc_rate = %u, max_cpu_percent = %u, "
	       "max_vms = %u, max_vcpus_per_vm = 1; its processes at nice %u%s) ==\n",
	       UID_BASE + NOISY, tenant_name[NOISY], P.noisy_rate, P.noisy_cpu,
	       per_tenant[NOISY] + P.flooders + P.spinners, P.noisy_nice,
	       P.cgroups ? "; hvd --cgroups: each tenant's workers in a cgroup of their own" : "");
	unsigned noisy_first = nslots;
	for (unsigned i = 0; i < P.flooders; i++)
		roles[spawn(R_FLOOD, NOISY)] = R_FLOOD;
	for (unsigned i = 0; i < P.spinners; i++)
		roles[spawn(R_SPIN, NOISY)] = R_SPIN;
	wait_ready(nslots, noisy_first, "noisy tenant");
	unsigned greedy_first = nslots;
	for (unsigned i = 0; i < P.greedy; i++)
		roles[spawn(R_GREEDY, NOISY)] = R_GREEDY;
	wait_ready(nslots, greedy_first, "greedy clients");
	printf("  %u flooders: each its own VM, then a tight loop of RPCs (hv_vcpu_get_exec_time and\n"
	       "  hv_capability alternately); %u spinners: guests that spin ~ms between exits;\n"
	       "  quota probes: each flooder asks for a 2nd vCPU, %u more processes ask for a VM\n",
	       P.flooders, P.spinners, P.greedy);
	{
		unsigned v_nores = 0, v_other = 0, g_nores = 0, g_other = 0;
		for (unsigned i = noisy_first; i < nslots; i++) {
			if (roles[i] == R_FLOOD)
				sh->slot[i].vcpu2 == (int32_t)HV_NO_RESOURCES ? v_nores++ : v_other++;
			if (roles[i] == R_GREEDY)
				sh->slot[i].vm_status == (int32_t)HV_NO_RESOURCES ? g_nores++ : g_other++;
		}
		for (unsigned i = noisy_first; i < nslots; i++) {
			if (roles[i] == R_FLOOD && sh->slot[i].vcpu2 != (int32_t)HV_NO_RESOURCES)
				printf("  flooder %u: 2nd vCPU answered 0x%08x\n", i, (unsigned)sh->slot[i].vcpu2);
			if (roles[i] == R_GREEDY && sh->slot[i].vm_status != (int32_t)HV_NO_RESOURCES)
				printf("  greedy %u: hv_vm_create answered 0x%08x\n", i, (unsigned)sh->slot[i].vm_status);
		}
		printf("  quota probes: 2nd vCPU refused with HV_NO_RESOURCES %u/%u (other answers %u);\n"
		       "                VM over max_vms refused with HV_NO_RESOURCES %u/%u (other answers %u)\n",
		       v_nores, P.flooders, v_other, g_nores, P.greedy, g_other);
	}
	double noisy_window_s = 0, ctl_ms[C_N][MAX_ROUNDS * HVCTL_CHECKS];
	unsigned nctl[C_N] = { 0 }, ctl_fail[C_N] = { 0 };
	uint64_t ok0 = 0, nores0 = 0, other0 = 0, spin0 = sum_runs(R_SPIN, roles);
	for (unsigned i = 0; i < nslots; i++)
		if (roles[i] == R_FLOOD) {
			ok0 += atomic_load(&sh->slot[i].ok);
			nores0 += atomic_load(&sh->slot[i].nores);
			other0 += atomic_load(&sh->slot[i].other);
		}
	static const char *const needles[] = { "rate of requests above", "max_vms", "max_vcpus_per_vm" };
	unsigned long acount0[3], alines0;
	long abytes0;
	audit_count(needles, 3, acount0, &alines0, &abytes0);
	for (unsigned r = 0; r < P.rounds; r++) {
		enum cond order[2] = { C_QUIET, C_NOISY };
		if (r % 2) {
			order[0] = C_NOISY;
			order[1] = C_QUIET;
		}
		for (int k = 0; k < 2; k++) {
			enum cond c = order[k];
			uint64_t w0 = now_ns();
			atomic_store(&sh->noisy, c == C_NOISY);
			hvd_runpage_futex_wake(&sh->noisy);
			sleep_ms(100);
			struct cpu a, b;
			read_cpu(&a);
			begin_round(c);
			measurer_do(CMD_EXITS, c);
			measurer_do(CMD_RPC, c);
			end_round(c);
			read_cpu(&b);
			/* Does hvd's loop still answer an administrator? */
			for (int i = 0; i < HVCTL_CHECKS; i++) {
				double ms;
				long vms;
				if (hvctl_status(&ms, &vms) < 0)
					ctl_fail[c]++;
				else
					ctl_ms[c][nctl[c]++] = ms;
			}
			atomic_store(&sh->noisy, 0);
			if (c == C_NOISY)
				noisy_window_s += (double)(now_ns() - w0) / 1e9;
			double hp, sp;
			cpu_delta(&a, &b, &hp, &sp);
			hvd_pct[c] += hp;
			host_pct[c] += sp;
			ncpu[c]++;
			sleep_ms(50);   /* flooders see the flag and stop */
		}
	}
	uint64_t ok1 = 0, nores1 = 0, other1 = 0, spin1 = sum_runs(R_SPIN, roles);
	for (unsigned i = 0; i < nslots; i++)
		if (roles[i] == R_FLOOD) {
			ok1 += atomic_load(&sh->slot[i].ok);
			nores1 += atomic_load(&sh->slot[i].nores);
			other1 += atomic_load(&sh->slot[i].other);
		}
	check_failures("noisy tenant");
	unsigned long acount1[3], alines1;
	long abytes1;
	audit_count(needles, 3, acount1, &alines1, &abytes1);
	printf("  victim = the measuring client (tenant alpha); quiet = noisy tenant stopped, noisy = flooding + spinning\n");
	print_compare(C_QUIET, C_NOISY);
	print_stalls(C_QUIET, C_NOISY);
	{
		struct stats q = stats_of(M_EXEC, C_QUIET, -1), n = stats_of(M_EXEC, C_NOISY, -1);
		struct stats q2 = stats_of(M_CAP, C_QUIET, -1), n2 = stats_of(M_CAP, C_NOISY, -1);
		printf("  goal: victim RPC latency within 2x of quiet: exec_time p50 %.2fx p99 %.2fx, capability p50 %.2fx p99 %.2fx -> %s\n",
		       n.p50 / q.p50, n.p99 / q.p99, n2.p50 / q2.p50, n2.p99 / q2.p99,
		       (n.p50 / q.p50 <= 2 && n.p99 / q.p99 <= 2 && n2.p50 / q2.p50 <= 2 &&
			n2.p99 / q2.p99 <= 2) ? "met" : "NOT met");
		double r[4] = {
			round_median(M_EXEC, C_NOISY, false) / round_median(M_EXEC, C_QUIET, false),
			round_median(M_EXEC, C_NOISY, true) / round_median(M_EXEC, C_QUIET, true),
			round_median(M_CAP, C_NOISY, false) / round_median(M_CAP, C_QUIET, false),
			round_median(M_CAP, C_NOISY, true) / round_median(M_CAP, C_QUIET, true),
		};
		printf("  the same, each round counted once (median over rounds of the round's p50 and p99):\n"
		       "        exec_time p50 %.2fx p99 %.2fx, capability p50 %.2fx p99 %.2fx -> %s\n",
		       r[0], r[1], r[2], r[3],
		       (r[0] <= 2 && r[1] <= 2 && r[2] <= 2 && r[3] <= 2) ? "met" : "NOT met");
	}
	printf("  hvd CPU: quiet %.0f%%, noisy %.0f%% of one CPU; host busy: quiet %.0f%%, noisy %.0f%%\n",
	       hvd_pct[C_QUIET] / ncpu[C_QUIET], hvd_pct[C_NOISY] / ncpu[C_NOISY],
	       host_pct[C_QUIET] / ncpu[C_QUIET], host_pct[C_NOISY] / ncpu[C_NOISY]);
	for (int c = C_QUIET; c <= C_NOISY; c++) {
		double mx = 0, sum = 0;
		unsigned slow = 0;
		uint32_t us[MAX_ROUNDS * HVCTL_CHECKS];
		for (unsigned i = 0; i < nctl[c]; i++) {
			sum += ctl_ms[c][i];
			us[i] = (uint32_t)(ctl_ms[c][i] * 1000);
			slow += ctl_ms[c][i] >= 100;
			if (ctl_ms[c][i] > mx)
				mx = ctl_ms[c][i];
		}
		qsort(us, nctl[c], sizeof(*us), cmp_u32);
		printf("  hvctl status (fork+exec+connect+admin_status), %s: %u answered, %u failed;\n"
		       "    mean %.1f ms, p50 %.1f ms, max %.1f ms, %u took >= 100 ms\n",
		       cond_name[c], nctl[c], ctl_fail[c], nctl[c] ? sum / nctl[c] : 0.0,
		       pct(us, nctl[c], 50) / 1e3, mx, slow);
	}
	uint64_t ok = ok1 - ok0, nores = nores1 - nores0, other = other1 - other0;
	double bound = P.noisy_rate * noisy_window_s + (double)P.noisy_rate * P.rounds;
	printf("  flood: %.2f s flooding in total; %" PRIu64 " RPCs answered HV_SUCCESS (%.0f/s), %" PRIu64
	       " HV_NO_RESOURCES (%.0f/s), %" PRIu64 " other\n",
	       noisy_window_s, ok, ok / noisy_window_s, nores, nores / noisy_window_s, other);
	printf("  held to max_rpc_rate: %s (accepted %" PRIu64 " <= %.0f = %u/s x %.2f s + one full bucket of %u per round)\n",
	       ok <= bound ? "yes" : "NO", ok, bound, P.noisy_rate, noisy_window_s, P.noisy_rate);
	printf("  audit log during the flood: +%lu lines, +%.1f MB (%.0f lines/s); rate refusals audited %lu,\n"
	       "    max_vms refusals %lu, max_vcpus_per_vm refusals %lu (whole run)\n",
	       alines1 - alines0, (double)(abytes1 - abytes0) / 1e6,
	       (double)(alines1 - alines0) / noisy_window_s, acount1[0] - acount0[0], acount1[1],
	       acount1[2]);
	printf("  spinner exits during the flood: %" PRIu64 " (%.0f/s; each follows ~ms of guest spinning)\n\n",
	       spin1 - spin0, (double)(spin1 - spin0) / noisy_window_s);

	/* ---- 5. teardown ---- */
	unsigned nclients = nslots;
	long vms_before = -1;
	double ms;
	if (hvctl_status(&ms, &vms_before) < 0)
		die("hvctl status failed before teardown");
	struct mem m2;
	read_mem(hvd_pid, &m2);
	uint64_t k0 = now_ns();
	for (unsigned i = 0; i < nslots; i++)
		if (sh->slot[i].pid > 0)
			kill(sh->slot[i].pid, SIGKILL);
	for (unsigned i = 0; i < nslots; i++)
		if (sh->slot[i].pid > 0) {
			waitpid(sh->slot[i].pid, NULL, 0);
			sh->slot[i].pid = 0;
		}
	uint64_t k1 = now_ns();
	long vms = -1;
	int polls = 0;
	while (polls++ < 600) {
		if (hvctl_status(&ms, &vms) == 0 && vms == 0)
			break;
		sleep_ms(50);
	}
	uint64_t k2 = now_ns();
	struct mem m3, m4;
	read_mem(hvd_pid, &m3);
	/* Teardown finishes off the loop thread (reaper threads, KVM's own
	 * per-VM thread): give it a few seconds to settle. */
	for (int i = 0; i < 50; i++) {
		sleep_ms(100);
		read_mem(hvd_pid, &m4);
		if (m4.threads <= m0.threads && m4.fds <= m0.fds)
			break;
	}
	printf("== 5. teardown: SIGKILL to all %u clients ==\n", nclients);
	printf("  VMs before: %ld; all clients reaped after %.0f ms; hvd reports %ld VMs after %.0f ms\n",
	       vms_before, (double)(k1 - k0) / 1e6, vms, (double)(k2 - k0) / 1e6);
	printf("  hvd when it reports 0 VMs: Rss %ld kB, threads %ld, fds %ld; %.1f s later: Rss %ld kB, threads %ld, fds %ld\n"
	       "  (at the start: Rss %ld kB, threads %ld, fds %ld; before teardown: Rss %ld kB, threads %ld, fds %ld)\n",
	       m3.rss, m3.threads, m3.fds, (double)(now_ns() - k2) / 1e9, m4.rss, m4.threads, m4.fds,
	       m0.rss, m0.threads, m0.fds, m2.rss, m2.threads, m2.fds);
	if (vms != 0)
		die("hvd still reports %ld VMs after the clients died", vms);

	kill(hvd_pid, SIGTERM);
	int st = 0;
	uint64_t t0 = now_ns();
	for (;;) {
		if (waitpid(hvd_pid, &st, WNOHANG) == hvd_pid)
			break;
		if (now_ns() - t0 > 10ull * 1000000000ull) {
			kill(hvd_pid, SIGKILL);
			waitpid(hvd_pid, &st, 0);
			hvd_pid = -1;
			die("hvd did not stop on SIGTERM in 10 s");
		}
		sleep_ms(10);
	}
	hvd_pid = -1;
	printf("  hvd stopped on SIGTERM in %.0f ms, exit status %d\n",
	       (double)(now_ns() - t0) / 1e6, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
