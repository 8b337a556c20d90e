/*
 * Fault-safe copies of guest memory, without a system call on the way.
 *
 * Guest memory is host memory a client gave: in hvd a memfd the client
 * made. hvd accepts only shmem memfds sealed against shrinking and growing
 * (hvd_dispatch.c), so none of it should fault; but a page that cannot be
 * faulted in (a file system out of memory, a mapping hvd did not expect)
 * would raise SIGBUS inside a memcpy and kill hvd with every tenant's VMs.
 * With the guard installed (hvd installs it once at start), a copy runs
 * with a per-thread recovery point: SIGBUS during it jumps back and the
 * copy fails with -EFAULT, failing that vCPU's run only. A SIGBUS anywhere
 * else gets the default action, as without a handler. Without the guard
 * (libhvdirect, in the client's own process) a copy is a plain memcpy:
 * the memory is the caller's own, as with Apple's framework.
 *
 * The guard costs a sigsetjmp without the signal mask (no system call)
 * per copy, where process_vm_readv on our own pid cost one system call per
 * copy: on the exit round trip that was 10-15% (bench/run.sh).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "hvb_priv.h"

static _Atomic bool guard_on;
/* volatile, and the fences below: the handler reads it; without them the
 * compiler may drop the store before the copy as dead. */
static _Thread_local sigjmp_buf *volatile guard_jmp;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	sigjmp_buf *j = guard_jmp;
	if (j) {
		guard_jmp = NULL;
		siglongjmp(*j, 1);
	}
	/* Not a guarded copy: what SIGBUS would have done. Returning re-runs
	 * the faulting instruction, which now meets the default action. Where
	 * a seccomp filter refuses the change (hvd's vCPU threads), a trap
	 * ends the process instead (a forced signal: delivered even if
	 * blocked), rather than faulting here for ever. */
	if (signal(sig, SIG_DFL) == SIG_ERR)
		__builtin_trap();
}

int hvb_guard_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* SA_NODEFER: SIGBUS stays unblocked after the jump out of the
	 * handler, ready for the next fault. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	atomic_store(&guard_on, true);
	return 0;
}

int hvb__guarded_copy(void *dst, const void *src, size_t len)
{
	if (!atomic_load_explicit(&guard_on, memory_order_relaxed)) {
		memcpy(dst, src, len);
		return 0;
	}
	sigjmp_buf j;
	if (sigsetjmp(j, 0))
		return -EFAULT;
	guard_jmp = &j;
	atomic_signal_fence(memory_order_seq_cst);
	memcpy(dst, src, len);
	atomic_signal_fence(memory_order_seq_cst);
	guard_jmp = NULL;
	return 0;
}
