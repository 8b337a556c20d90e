/*
 * Least privilege inside hvd, in one place.
 *
 * 1. Capabilities: once listening, hvd keeps only CAP_SYS_PTRACE (reading
 *    /proc/PID/exe of other users' clients, to hash their executables for
 *    grants) and drops every other capability, from its bounding set too,
 *    with no_new_privs. /dev/kvm is already open; KVM needs no capability.
 *
 * 2. A seccomp filter per thread role (libseccomp), each call allowed with
 *    the reason it is there:
 *
 *    - The loop thread's (loop_allowed[]), installed on the main thread by
 *      hvd_main.c once hvd listens and has dropped capabilities, without
 *      TSYNC: no other thread exists then, and the filter goes to the main
 *      thread only. Every thread started later (vCPU threads, session
 *      reapers) inherits it. Filters stack, and a call must pass every
 *      filter its thread holds, so this list also carries what those
 *      threads do: thread start-up and exit, loading the vCPU filter, and
 *      every call of the vCPU list (checked when the filter is built: hvd
 *      refuses to start otherwise).
 *    - The vCPU threads' (vcpu_allowed[]), stacked by each vCPU thread on
 *      the one it inherited (hvd_vcpu.c): these threads run guest-facing
 *      code and digest client-written run pages, and need far less.
 *
 *    What a refused call gets:
 *    - EPERM, for any call outside a list: a failing call is an error hvd
 *      already handles, while killing the process would take every
 *      tenant's VMs down because one path made a call the list missed.
 *    - The process killed (SECCOMP_RET_KILL_PROCESS, with a core dump and
 *      a kernel audit record), for the calls in hostile[]: running a
 *      program, tracing or reading another process, changing mounts or
 *      namespaces, loading code into the kernel. Neither hvd nor its
 *      libraries make them on any path; a process that does is running an
 *      intruder's code, not hvd's, and serving tenants from it is worse
 *      than restarting it (hvd.service has Restart=on-failure). An EPERM
 *      would let the intruder go on trying with the rest of hvd's rights.
 *      The same for calls through another ABI (i386 `int 0x80`, x32),
 *      which no part of hvd uses. Through the loop filter this applies to
 *      vCPU threads as well.
 *
 *    Where it buys something, a call is allowed only with the arguments hvd
 *    passes (seccomp sees the integer arguments, not memory): only threads
 *    can be created, no executable memory, sockets only for sd_notify and
 *    tenants' listening sockets (AF_UNIX SOCK_SEQPACKET, bound and listened
 *    on, never connected), signals only to hvd's own threads, ioctls only
 *    KVM's.
 *
 *    The lists were found by running the test suites (examples, conformance
 *    through hvd, system, policy, chaos, activation, sandbox) with every
 *    hvd under `strace -f`, attached to hvd's own pid so that signals still
 *    reach it, and splitting the calls by thread role: the main thread
 *    from the end of set-up (the capability drop) on, the vCPU threads
 *    before and after their own filter, the reapers. Paths the suites do
 *    not reach were driven by hand under strace: sd_notify with
 *    NOTIFY_SOCKET set, SIGHUP and hvctl reloads with user and group names
 *    (found and missing), a new audit log and 200 grants, descriptors
 *    running out (accept pauses), shutdown with clients running, and the
 *    peer-liveness fallbacks of kernels without SO_PEERPIDFD or pidfd
 *    signals (simulated). To check a change, run the suites and look for
 *    `= -1 EPERM` in `strace -f -p PID` of hvd.
 *
 *    The journal (hvd_log.c, under systemd) needs nothing new: libsystemd
 *    sends each line as a datagram on an AF_UNIX SOCK_DGRAM socket made
 *    at the first line (before the filter), addressed in sendmsg itself,
 *    with SO_SNDBUF enlarged, the calls sd_notify already makes. Lines
 *    too large for a datagram would go through a memfd (allowed, for run
 *    pages); hvd's lines are at most 2 kB. The vCPU filter allows no
 *    sendmsg: a vCPU thread's rare line goes to stderr, with its "<N>"
 *    priority prefix under the journal's stream.
 *
 *    Refused on purpose, and handled: on a reload, glibc's NSS asks nscd
 *    and systemd's userdb over AF_UNIX stream sockets, and may load a
 *    module (executable mapping); both fail, so names resolve from
 *    /etc/passwd and /etc/group only. A stream socket and connect() would
 *    let a compromised hvd reach any local service its uid may use.
 *
 *    Not covered: --no-sandbox turns both filters off (debugging,
 *    valgrind), and sanitizer builds have none (their runtimes make calls
 *    of their own, and hang when refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include "hvd_log.h"
#include "hvd_sandbox.h"
#include "hvd_testhooks.h"

/* One rule: a call, allowed when every argument check holds (none: any
 * arguments). A call may have several rules; any one of them allows it. */
struct rule {
	int nr;                        /* negative: not a call on this architecture */
	unsigned nargs;
	struct scmp_arg_cmp args[2];
	const char *why;
};

#define ANY(call, reason) { .nr = SCMP_SYS(call), .why = reason }
#define IF(call, check, reason) { .nr = SCMP_SYS(call), .nargs = 1, .args = { check }, .why = reason }
#define IF2(call, c1, c2, reason) \
	{ .nr = SCMP_SYS(call), .nargs = 2, .args = { c1, c2 }, .why = reason }
/* Argument `n` equals `v`. Compared on all 64 bits: a caller setting high
 * bits the kernel ignores only gets refused. */
#define EQ(n, v) { .arg = (n), .op = SCMP_CMP_EQ, .datum_a = (v) }
/* Argument `n`, masked with `m`, equals `v`. */
#define MASKED(n, m, v) { .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (m), .datum_b = (v) }
/* Stands for hvd's own pid, filled in when the filter is built. */
#define SELF ((scmp_datum_t)-1)

/* Per-tenant CPU quota (hvd_vcpu.c): each vCPU thread arms a CPU-time timer
 * that kicks it out of KVM_RUN, re-arms it after every charge and deletes
 * it at the end. In both lists (the vCPU filter stacks on the loop's). */
#define WHY_QUOTA_TIMER "per-tenant CPU quota: the vCPU thread's CPU-time timer (hvd_vcpu.c)"
#define QUOTA_TIMER_RULES \
	ANY(timer_create, WHY_QUOTA_TIMER), \
	ANY(timer_settime, WHY_QUOTA_TIMER), \
	ANY(timer_delete, WHY_QUOTA_TIMER)

static const struct rule vcpu_allowed[] = {
	ANY(ioctl, "KVM_RUN and the vCPU/VM ioctls of the backend"),
	ANY(futex, "the run-page hand-off, locks, condition waits, the quota's throttling wait"),
	ANY(futex_waitv, "waiting on the run page and the wake word at once"),
	ANY(clock_gettime, "guest time accounting (when not served by the vDSO), the "
			   "thread's CPU time for the quota (never in the vDSO)"),
	ANY(getcpu, "sched_getcpu for the spin decision (when not in the vDSO)"),
	ANY(rt_sigreturn, "returning from the kick signal's handler"),
	ANY(rt_sigprocmask, "glibc around thread exit and signal handling"),
	ANY(write, "log lines to stderr; uv_async_send's eventfd write waking the loop"),
	ANY(writev, "log lines (stdio may use writev)"),
	ANY(mmap, "malloc (FPU-state replies, glibc arenas)"),
	ANY(munmap, "free"),
	ANY(mprotect, "malloc growing an arena"),
	ANY(madvise, "free, and glibc releasing the thread's stack at exit"),
	ANY(brk, "malloc in the main arena"),
	ANY(sched_yield, "spin loops of glibc locks"),
	ANY(exit, "the thread ending"),
	ANY(gettid, "glibc thread bookkeeping"),
	ANY(getpid, "glibc (raise, abort paths)"),
	ANY(tgkill, "glibc's pthread_kill if a thread kicks itself"),
	ANY(restart_syscall, "a wait interrupted by the kick signal"),
	QUOTA_TIMER_RULES,
};

static const struct rule loop_allowed[] = {
	/* The event loop and the clients' socket. */
	/* arm64 has only the p/at forms of some calls (glibc's epoll_wait,
	 * readlink and unlink make them): the x86 names are pseudo-numbers
	 * there, which libseccomp leaves out. */
	ANY(epoll_wait, "libuv waiting for events"),
	ANY(epoll_pwait, "libuv waiting for events (arm64's only form)"),
	ANY(epoll_ctl, "libuv watching and unwatching descriptors"),
	ANY(accept4, "new client connections"),
	ANY(recvmsg, "requests, with the descriptor they may carry (SCM_RIGHTS)"),
	ANY(sendmsg, "replies, with a descriptor (SCM_RIGHTS); sd_notify's datagram; log lines "
		     "to the journal (sd_journal_sendv: a datagram to /run/systemd/journal/socket, "
		     "addressed in the call: no connect)"),
	IF(getsockopt, EQ(1, SOL_SOCKET),
	   "a peer's identity (SO_PEERCRED, SO_PEERGROUPS, SO_PEERPIDFD); sd_notify (SO_SNDBUF)"),
	IF(setsockopt, EQ(1, SOL_SOCKET), "sd_notify and the journal client enlarging their "
					  "sockets' send buffers"),
	IF2(socket, EQ(0, AF_UNIX), MASKED(1, 0xf, SOCK_DGRAM),
	    "sd_notify (READY=1, STOPPING=1) and the journal client (hvd_log.c, opened at the "
	    "first line, before the filter, and again only if it was closed): datagrams to "
	    "systemd; no other socket"),
	/* Tenant sockets (hvd_tenant.c): `hvctl tenant add` makes a listening
	 * socket while hvd runs. Only AF_UNIX SOCK_SEQPACKET, hvd's own kind;
	 * no connect(), so a compromised hvd still reaches no local service
	 * with them. The mode comes from the umask at bind: no chmod, no
	 * chown (hvd has no capability to give a file away anyway). */
	IF2(socket, EQ(0, AF_UNIX), MASKED(1, 0xf, SOCK_SEQPACKET),
	    "a tenant's listening socket (hvctl tenant add)"),
	ANY(bind, "a tenant's socket at its path (bind creates it, never replaces a file)"),
	ANY(listen, "a tenant's socket"),
	ANY(umask, "a tenant socket's mode, set at bind instead of a chmod of its path"),
	ANY(close, "ended sessions' descriptors, files read, sd_notify's socket; reapers: "
		   "guest memory and VM descriptors"),
	ANY(read, "config, grants, /proc/PID/status, executables being hashed; libuv's signal "
		  "pipe and wake-up eventfd"),
	ANY(write, "log lines to stderr, audit lines; libuv waking the loop (eventfd, signal pipe)"),
	ANY(writev, "in the vCPU list (stdio may use it for log lines)"),
	IF(ioctl, MASKED(1, 0xff00, KVMIO << 8),
	   "KVM: creating VMs and vCPUs, memory slots, the vCPU calls of the backend, KVM_RUN "
	   "(only KVM's ioctl type, 0xAE)"),
	IF(ioctl, EQ(1, FIONBIO), "libuv making a watched descriptor non-blocking"),

	/* Files: the policy on SIGHUP, peers' executables, the shutdown. */
	/* hvd keeps no capability and runs as its own uid: what it can open
	 * is what that uid may. Never for truncating or for read-write, and
	 * for writing only appending to a file (the audit log). */
	IF(openat, MASKED(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY),
	   "config and grants (SIGHUP); /proc/PID/status of a process asked about; "
	   "glibc: /etc/localtime, NSS files, /sys/devices/system/cpu/online"),
	IF(openat, MASKED(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_WRONLY | O_CREAT | O_APPEND),
	   "the audit log, when a reload names a new one (fopen \"ae\")"),
	/* The tenant state file is replaced whole: a new file (O_EXCL: never
	 * an existing one opened for writing), fsync, rename over the old
	 * one. A compromised hvd can thus replace files of its own uid, which
	 * it could as well have appended to or unlinked; root's stay out of
	 * its reach. */
	IF(openat, MASKED(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_EXCL,
			  O_WRONLY | O_CREAT | O_EXCL),
	   "a new version of the tenant state file (hvd_tenant.c)"),
	ANY(fsync, "the tenant state file and its directory, before and after the rename"),
	ANY(renameat, "the tenant state file's new version into place"),
	ANY(renameat2, "the same (arm64's only form)"),
	ANY(newfstatat, "fstat: executables' cache key, stdio, the grants directory"),
	ANY(lseek, "stdio: the audit log opened for appending, /etc/localtime"),
	ANY(getdents64, "listing the grants directory (SIGHUP)"),
	ANY(unlink, "removing the socket path at shutdown, a tenant's socket path at its "
		    "removal, the tenant state file's stale temporary"),
	ANY(unlinkat, "the same (arm64's only form)"),

	/* Memory: never executable (as hvd.service's MemoryDenyWriteExecute). */
	IF(mmap, MASKED(2, PROT_EXEC, 0),
	   "malloc, thread stacks, guest memory and run pages (memfds), VM and vCPU mappings"),
	ANY(munmap, "free, guest memory, run pages, thread stacks"),
	IF(mprotect, MASKED(2, PROT_EXEC, 0), "glibc: thread stacks' guard pages, arenas growing"),
	ANY(madvise, "free, and glibc releasing a finished thread's stack"),
	ANY(brk, "malloc in the main arena"),
	ANY(mremap, "realloc of large blocks"),
	ANY(memfd_create, "a vCPU's run page"),
	ANY(ftruncate, "sizing a run page"),
	ANY(fstatfs, "guest memory must be on shmem: a memfd's file system (hvd_memop.c)"),
	IF(fcntl, EQ(1, F_GET_SEALS),
	   "guest memory must be a memfd sealed against shrinking and growing"),
	IF(fcntl, EQ(1, F_ADD_SEALS), "sealing a run page"),
	IF(fcntl, EQ(1, F_DUPFD_CLOEXEC), "a peer's pidfd, duplicated for hvd-ident (hvd_ident.c)"),

	/* Threads: vCPU threads and session reapers, started here. */
	IF(clone, MASKED(0, CLONE_THREAD, CLONE_THREAD),
	   "pthread_create (only threads: no new process)"),
	ANY(set_robust_list, "a new thread's start (glibc)"),
	ANY(rseq, "a new thread's start (glibc registers rseq)"),
	ANY(exit, "a thread ending"),
	ANY(futex, "locks, condition waits, pthread_join, the run-page hand-off"),
	ANY(futex_waitv, "in the vCPU list: waiting on the run page and the wake word at once"),
	ANY(sched_yield, "spin loops of glibc locks"),
	ANY(getcpu, "in the vCPU list: sched_getcpu (when not in the vDSO)"),
	ANY(gettid, "glibc thread bookkeeping; the quota timer's target thread"),
	IF(prctl, EQ(0, PR_SET_NO_NEW_PRIVS), "a vCPU thread loading its filter (libseccomp)"),
	IF(prctl, EQ(0, PR_SET_NAME), "a vCPU thread naming itself hvd-vcpu (for top -H, ps -L)"),
	ANY(seccomp, "a vCPU thread loading its filter, libseccomp probing the kernel first; "
		     "a filter can only take rights away"),

	/* Signals: libuv's handlers, the kick, glibc. */
	ANY(rt_sigaction, "glibc's first pthread_create; libuv restoring handlers at shutdown"),
	ANY(rt_sigprocmask, "new threads start with signals blocked; libuv's signal handling"),
	ANY(rt_sigreturn, "returning from a signal handler (SIGTERM, SIGHUP, the kick)"),
	ANY(restart_syscall, "a wait resumed after SIGSTOP/SIGCONT or a signal"),
	IF(tgkill, EQ(0, SELF), "kicking a vCPU thread (pthread_kill); raise and abort; only "
				"hvd's own threads"),
	ANY(getpid, "pthread_kill, raise"),

	/* Peers: is the client still there? Signal 0 only: hvd signals nobody. */
	ANY(pidfd_open, "a peer's pidfd when SO_PEERPIDFD is missing (kernels before 6.5)"),
	IF(pidfd_send_signal, EQ(1, 0), "whether the peer behind a pidfd still lives"),
	IF(kill, EQ(1, 0), "the same by pid, without pidfd signals (kernels before 5.1)"),

	/* Time. */
	ANY(clock_gettime, "timestamps, libuv's clock, the quota (when not served by the vDSO)"),
	QUOTA_TIMER_RULES,
	ANY(clock_nanosleep, "only with the tests' HVD_TEST_MEMOP_DELAY_MS or "
			     "HVD_TEST_DESTROY_DELAY_MS: a slow KVM call, injected (hvd_memop.c)"),

	/* Identity, randomness, the end. */
	ANY(getuid, "reloading the policy (the built-in default names hvd's own uid); sd_notify"),
	ANY(geteuid, "sd_notify"),
	ANY(getgid, "sd_notify"),
	ANY(getegid, "sd_notify"),
	ANY(getrandom, "libsodium's start on first use (hashing the first peer's executable)"),
	ANY(exit_group, "hvd stopping"),
};

/* Killed outright, not refused: see the top of this file. */
static const struct rule hostile[] = {
	ANY(execve, "hvd runs no program"),
	ANY(execveat, "hvd runs no program"),
	ANY(ptrace, "hvd traces no process"),
	ANY(process_vm_readv, "hvd reads no other process's memory"),
	ANY(process_vm_writev, "hvd writes no other process's memory"),
	ANY(mount, "hvd changes no mount"),
	ANY(umount2, "hvd changes no mount"),
	ANY(pivot_root, "hvd changes no mount"),
	ANY(chroot, "hvd changes no root"),
	ANY(open_tree, "hvd changes no mount"),
	ANY(move_mount, "hvd changes no mount"),
	ANY(fsopen, "hvd changes no mount"),
	ANY(fsmount, "hvd changes no mount"),
	ANY(fsconfig, "hvd changes no mount"),
	ANY(fspick, "hvd changes no mount"),
	ANY(mount_setattr, "hvd changes no mount"),
	ANY(unshare, "hvd enters no namespace"),
	ANY(setns, "hvd enters no namespace"),
	ANY(kexec_load, "hvd loads no kernel"),
	ANY(kexec_file_load, "hvd loads no kernel"),
	ANY(init_module, "hvd loads no kernel module"),
	ANY(finit_module, "hvd loads no kernel module"),
	ANY(delete_module, "hvd unloads no kernel module"),
	ANY(bpf, "hvd loads no BPF program (its filters go through seccomp(2))"),
	ANY(userfaultfd, "no use in hvd; a common aid to kernel exploits"),
	ANY(keyctl, "no use in hvd; the kernel keyring is a common aid to kernel exploits"),
	ANY(add_key, "no use in hvd; the kernel keyring is a common aid to kernel exploits"),
	ANY(request_key, "no use in hvd; the kernel keyring is a common aid to kernel exploits"),
	ANY(iopl, "hvd does no port I/O"),
	ANY(ioperm, "hvd does no port I/O"),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

bool hvd_sandbox_off;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HVD_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HVD_SANITIZER_BUILD 1
#endif
#endif
#ifndef HVD_SANITIZER_BUILD
#define HVD_SANITIZER_BUILD 0
#endif

static int add_rules(scmp_filter_ctx ctx, uint32_t action, const struct rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp args[2];
		int r;

		if (rules[i].nr < 0)
			continue; /* not a syscall on this architecture */
		memcpy(args, rules[i].args, sizeof(args));
		for (unsigned a = 0; a < rules[i].nargs; a++)
			if (args[a].op == SCMP_CMP_EQ && args[a].datum_a == SELF)
				args[a].datum_a = (scmp_datum_t)getpid();
		r = seccomp_rule_add_array(ctx, action, rules[i].nr, rules[i].nargs, args);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool listed(const struct rule *rules, size_t n, int nr)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].nr == nr)
			return true;
	return false;
}

static void log_call(const char *fmt, int nr)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	hvd_err(fmt, name ? name : "?");
	free(name);
}

int hvd_sandbox_loop_thread(void)
{
	if (HVD_SANITIZER_BUILD)
		return -ENOTSUP;
	/* A vCPU thread holds both filters: what its own list allows, the
	 * loop's must allow too. And no call is both allowed and hostile. */
	for (size_t i = 0; i < COUNT(vcpu_allowed); i++) {
		if (vcpu_allowed[i].nr >= 0 &&
		    !listed(loop_allowed, COUNT(loop_allowed), vcpu_allowed[i].nr)) {
			log_call("seccomp: %s is in the vCPU list but not the loop thread's",
				 vcpu_allowed[i].nr);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < COUNT(hostile); i++) {
		if (hostile[i].nr >= 0 && listed(loop_allowed, COUNT(loop_allowed), hostile[i].nr)) {
			log_call("seccomp: %s is both allowed and hostile", hostile[i].nr);
			return -EINVAL;
		}
	}

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r;

	if (!ctx)
		return -ENOMEM;
	/* Only this thread (no TSYNC): none other exists yet, and those to
	 * come inherit it. Another ABI's calls end the process. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = add_rules(ctx, SCMP_ACT_ALLOW, loop_allowed, COUNT(loop_allowed))) < 0 ||
	    (r = add_rules(ctx, SCMP_ACT_KILL_PROCESS, hostile, COUNT(hostile))) < 0)
		goto out;
	/* pthread_create tries clone3 first, whose flags seccomp cannot see
	 * (they are in memory); "not implemented" sends glibc to clone(2),
	 * where only threads are allowed. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		goto out;
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

void hvd_sandbox_loop_selftest(const struct hvd_testhooks *hooks)
{
	if (!hooks->sandbox_selftest)
		return;
	/* Outside the list (only AF_UNIX datagram sockets are): EPERM. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	hvd_warn("sandbox self-test: loop thread socket(AF_INET): %s",
		 fd < 0 ? strerror(errno) : "allowed");
	if (fd >= 0)
		close(fd);
	if (hooks->sandbox_selftest_kill) {
		/* Hostile: the process must die here. Unfiltered, executing
		 * a directory only fails (EACCES). */
		char *const argv[] = { NULL };
		hvd_warn("sandbox self-test: loop thread execve(): hvd must be killed");
		execve("/", argv, argv);
		hvd_err("sandbox self-test: loop thread execve() returned: %s", strerror(errno));
		exit(1);
	}
}

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
	/* Only this thread: the loop thread keeps its own (wider) rights. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0)) < 0)
		goto out;
	if ((r = add_rules(ctx, SCMP_ACT_ALLOW, vcpu_allowed, COUNT(vcpu_allowed))) < 0)
		goto out;
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

/* ---- uids and capabilities ---- */

/* systemd's range for dynamic users (DynamicUser=): not in /etc/passwd,
 * never a login. */
#define DYNAMIC_UID_FIRST 61184
#define DYNAMIC_UID_LAST 65519

int hvd_sandbox_choose_uid(struct hvd_identity_drop *out)
{
	memset(out, 0, sizeof(*out));
	if (geteuid() != 0)
		return 0; /* under systemd (User=hvd) or a user's own hvd: stay */
	struct passwd *pw = getpwnam("hvd");
	if (pw && pw->pw_uid != 0) {
		out->drop = true;
		out->uid = pw->pw_uid;
		out->gid = pw->pw_gid;
		return 0;
	}
	/* No hvd user (a development machine, a container): a uid nobody
	 * has, as systemd's DynamicUser= would pick. Every hvd started so
	 * picks the same one, so they are one identity, like the hvd user. */
	for (uid_t u = DYNAMIC_UID_FIRST; u <= DYNAMIC_UID_LAST; u++) {
		if (!getpwuid(u) && !getgrgid((gid_t)u)) {
			out->drop = true;
			out->uid = u;
			out->gid = (gid_t)u;
			return 0;
		}
	}
	return -EUSERS;
}

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(keep >> (32 * i));
		data[i].permitted = (uint32_t)(keep >> (32 * i));
	}
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* Become `drop`'s uid keeping only the capabilities in `keep` (a mask), with
 * an emptied bounding set and ambient set, and no_new_privs. */
static int become(const struct hvd_identity_drop *drop, uint64_t keep)
{
	if (geteuid() == 0) {
		/* While we may (CAP_SETPCAP): the bounding set, for good. */
		for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
			if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (drop && drop->drop) {
		if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return -errno;
		if (setgroups(0, NULL) < 0 || setresgid(drop->gid, drop->gid, drop->gid) < 0 ||
		    setresuid(drop->uid, drop->uid, drop->uid) < 0)
			return -errno;
		/* No way back: saved ids are gone too. */
		if (setuid(0) == 0)
			return -EPERM;
		/* The change of uid made the process non-dumpable, which keeps
		 * other processes of this uid out of its memory. Sanitizer
		 * builds need it dumpable: LeakSanitizer stops the process's
		 * threads with ptrace at exit. */
		if (HVD_SANITIZER_BUILD)
			prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	}
	int r = set_caps(keep);
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int hvd_sandbox_drop_all(const struct hvd_identity_drop *drop)
{
	return become(drop, 0);
}

static int pdeath_sig;
static pid_t pdeath_parent;

void hvd_sandbox_pdeath_save(void)
{
	int sig = 0;
	if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig > 0) {
		pdeath_sig = sig;
		pdeath_parent = getppid();
	}
}

void hvd_sandbox_pdeath_restore(void)
{
	if (!pdeath_sig)
		return;
	if (prctl(PR_SET_PDEATHSIG, pdeath_sig, 0, 0, 0) < 0)
		hvd_warn("cannot set the parent-death signal again: %s", strerror(errno));
	if (getppid() != pdeath_parent) {
		hvd_warn("the process that started hvd (pid %d) is gone: its parent-death "
			 "signal %d", (int)pdeath_parent, pdeath_sig);
		kill(getpid(), pdeath_sig);
	}
}

int hvd_sandbox_choose_worker_uid(const struct hvd_identity_drop *hvd,
				  struct hvd_identity_drop *out)
{
	memset(out, 0, sizeof(*out));
	if (!hvd->drop)
		return 0; /* not root: workers run as hvd's own uid */
	struct passwd *pw = getpwnam("hvd-worker");
	if (pw && pw->pw_uid != 0 && pw->pw_uid != hvd->uid) {
		out->drop = true;
		out->uid = pw->pw_uid;
		out->gid = pw->pw_gid;
		return 0;
	}
	/* The next free uid after hvd's: never hvd's own, so that a worker
	 * cannot signal or trace hvd. */
	for (uid_t u = DYNAMIC_UID_FIRST; u <= DYNAMIC_UID_LAST; u++) {
		if (u != hvd->uid && !getpwuid(u) && !getgrgid((gid_t)u)) {
			out->drop = true;
			out->uid = u;
			out->gid = (gid_t)u;
			return 0;
		}
	}
	return -EUSERS;
}

int hvd_sandbox_zygote_process(void)
{
	/* It starts workers as their uid (setuid, setgid), puts them in
	 * cgroups (files root owns: no capability needed) and kills them. */
	uint64_t keep = geteuid() == 0 ?
		(1ull << CAP_SETUID) | (1ull << CAP_SETGID) | (1ull << CAP_KILL) : 0;
	return become(NULL, keep);
}

int hvd_sandbox_worker_process(const struct hvd_identity_drop *drop)
{
	/* The zygote emptied the bounding set already (and kept no
	 * CAP_SETPCAP to do it again): only the uid changes here, which
	 * clears the capabilities left. */
	if (drop->drop) {
		if (setgroups(0, NULL) < 0 || setresgid(drop->gid, drop->gid, drop->gid) < 0 ||
		    setresuid(drop->uid, drop->uid, drop->uid) < 0)
			return -errno;
		if (setuid(0) == 0)
			return -EPERM;
	}
	int r = set_caps(0);
	if (r < 0)
		return r;
	/* Other workers share the uid: none may read this one's memory. */
	if (!HVD_SANITIZER_BUILD && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/*
 * hvd-ident's filter (hvd_ident.c): it reads requests, /proc and
 * executables, and answers. Files only read-only: with CAP_SYS_PTRACE an
 * open of /proc/PID/mem for writing would reach any process's memory.
 */
static const struct rule ident_allowed[] = {
	ANY(recvmsg, "requests from hvd, with the peer's pidfd"),
	ANY(sendto, "replies to hvd (send)"),
	ANY(sendmsg, "replies to hvd"),
	IF(openat, MASKED(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY),
	   "/proc/PID/exe, maps, stat and status of peers; only for reading"),
	ANY(read, "executables being hashed, /proc files"),
	ANY(close, "files read, pidfds"),
	ANY(newfstatat, "an executable's identity; the owners of mapped libraries"),
	ANY(readlink, "/proc/PID/exe: the executable's path"),
	ANY(readlinkat, "the same (arm64's only form)"),
	ANY(lseek, "stdio reading /proc/PID/maps"),
	IF(pidfd_send_signal, EQ(1, 0), "whether the peer still lives (signal 0 only)"),
	IF(kill, EQ(1, 0), "the same by pid, without pidfd signals"),
	ANY(write, "log lines to stderr"),
	ANY(writev, "log lines (stdio may use writev)"),
	IF(mmap, MASKED(2, PROT_EXEC, 0), "malloc, thread stacks"),
	ANY(munmap, "free"),
	IF(mprotect, MASKED(2, PROT_EXEC, 0), "glibc: thread stacks' guard pages"),
	ANY(madvise, "free"),
	ANY(brk, "malloc"),
	ANY(mremap, "realloc"),
	ANY(futex, "the hash cache's lock"),
	ANY(getrandom, "libsodium's start"),
	IF(clone, MASKED(0, CLONE_THREAD, CLONE_THREAD), "its worker threads (only threads)"),
	ANY(set_robust_list, "a new thread's start (glibc)"),
	ANY(rseq, "a new thread's start (glibc)"),
	ANY(rt_sigprocmask, "glibc around thread start and exit"),
	ANY(rt_sigaction, "glibc's first pthread_create"),
	ANY(rt_sigreturn, "returning from a signal handler"),
	ANY(restart_syscall, "a wait resumed after a signal"),
	ANY(sched_yield, "glibc lock spins"),
	ANY(getpid, "glibc"),
	ANY(gettid, "glibc"),
	ANY(clock_gettime, "glibc (when not served by the vDSO)"),
	ANY(exit, "a worker thread ending"),
	ANY(exit_group, "hvd gone: the helper ends"),
};

int hvd_sandbox_ident_process(const struct hvd_identity_drop *drop)
{
	uint64_t keep = 0;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	/* Keep CAP_SYS_PTRACE if hvd had it (root, or hvd.service's
	 * AmbientCapabilities): reading other users' /proc/PID/exe needs it. */
	if (syscall(SYS_capget, &hdr, data) == 0 &&
	    (data[CAP_SYS_PTRACE / 32].permitted & (1u << (CAP_SYS_PTRACE % 32))))
		keep = 1ull << CAP_SYS_PTRACE;
	int r = become(drop, keep);
	if (r < 0)
		return r;
	/* A change of credentials cleared it: hvd's death must end us. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	if (HVD_SANITIZER_BUILD)
		return -ENOTSUP;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = add_rules(ctx, SCMP_ACT_ALLOW, ident_allowed, COUNT(ident_allowed))) < 0 ||
	    (r = add_rules(ctx, SCMP_ACT_KILL_PROCESS, hostile, COUNT(hostile))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		goto out;
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

static const struct rule janitor_allowed[] = {
	ANY(read, "waiting for hvd's end"),
	ANY(write, "telling hvd the socket is gone"),
	ANY(newfstatat, "is the socket still the one hvd made?"),
	ANY(unlink, "removing it"),
	ANY(unlinkat, "the same (arm64's only form)"),
	ANY(exit_group, "the end"),
};

int hvd_sandbox_janitor(void)
{
	if (HVD_SANITIZER_BUILD)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r;
	if (!ctx)
		return -ENOMEM;
	if ((r = add_rules(ctx, SCMP_ACT_ALLOW, janitor_allowed, COUNT(janitor_allowed))) == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

void hvd_ignore_group_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_IGN);
}
