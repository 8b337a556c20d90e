/*
 * Least privilege inside hvd, in one place.
 *
 * 1. Capabilities: once listening, hvd keeps only CAP_SYS_PTRACE (reading
 *    /proc/PID/exe of other users' clients, to hash their executables for
 *    grants) and drops every other capability, from its bounding set too,
 *    with no_new_privs. /dev/kvm is already open; KVM needs no capability.
 *
 * 2. A seccomp filter per vCPU thread (the threads that run guest-facing
 *    code and digest client-written run pages). Everything not listed
 *    below fails with EPERM: a failing call is an error hvd already
 *    handles, while killing the process would take every tenant's VMs down
 *    with one thread. The list, with why each call is there:
 */
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvd.h"

static const struct {
	int nr;
	const char *why;
} vcpu_allowed[] = {
	{ SCMP_SYS(ioctl), "KVM_RUN and the vCPU/VM ioctls of the backend" },
	{ SCMP_SYS(futex), "the run-page hand-off, locks, condition waits" },
	{ SCMP_SYS(futex_waitv), "waiting on the run page and the wake word at once" },
	{ SCMP_SYS(clock_gettime), "guest time accounting (when not served by the vDSO)" },
	{ SCMP_SYS(getcpu), "sched_getcpu for the spin decision (when not in the vDSO)" },
	{ SCMP_SYS(rt_sigreturn), "returning from the kick signal's handler" },
	{ SCMP_SYS(rt_sigprocmask), "glibc around thread exit and signal handling" },
	{ SCMP_SYS(write), "log lines to stderr" },
	{ SCMP_SYS(writev), "log lines (stdio may use writev)" },
	{ SCMP_SYS(mmap), "malloc (FPU-state replies, glibc arenas)" },
	{ SCMP_SYS(munmap), "free" },
	{ SCMP_SYS(mprotect), "malloc growing an arena" },
	{ SCMP_SYS(madvise), "free, and glibc releasing the thread's stack at exit" },
	{ SCMP_SYS(brk), "malloc in the main arena" },
	{ SCMP_SYS(sched_yield), "spin loops of glibc locks" },
	{ SCMP_SYS(exit), "the thread ending" },
	{ SCMP_SYS(gettid), "glibc thread bookkeeping" },
	{ SCMP_SYS(getpid), "glibc (raise, abort paths)" },
	{ SCMP_SYS(tgkill), "glibc's pthread_kill if a thread kicks itself" },
	{ SCMP_SYS(restart_syscall), "a wait interrupted by the kick signal" },
	{ SCMP_SYS(timer_settime), "per-tenant CPU quota: arming the CPU-time timer that kicks "
				   "the vCPU out of KVM_RUN after its slice (hvd_vcpu.c)" },
	{ SCMP_SYS(timer_delete), "per-tenant CPU quota: the thread's timer, at its end" },
};

bool hvd_sandbox_off;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HVD_SANITIZER_BUILD 1
#else
#define HVD_SANITIZER_BUILD 0
#endif

int hvd_sandbox_vcpu_thread(void)
{
	/* Sanitizer runtimes make calls of their own from any thread (and
	 * hang when refused); the filter is for production builds, and the
	 * test suite checks it in the normal build. */
	if (HVD_SANITIZER_BUILD)
		return -ENOTSUP;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(vcpu_allowed) / sizeof(vcpu_allowed[0]); i++) {
		if (vcpu_allowed[i].nr < 0)
			continue; /* not a syscall on this architecture */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, vcpu_allowed[i].nr, 0)) < 0)
			goto out;
	}
	/* Only this thread: the loop thread keeps its own (wider) rights. */
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

int hvd_sandbox_drop_privileges(void)
{
	if (geteuid() != 0)
		return 0; /* under systemd the unit already did this */
	/* Nothing hvd does later needs a setuid binary or new privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (cap == CAP_SYS_PTRACE)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[CAP_SYS_PTRACE / 32].effective = 1u << (CAP_SYS_PTRACE % 32);
	data[CAP_SYS_PTRACE / 32].permitted = 1u << (CAP_SYS_PTRACE % 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}
