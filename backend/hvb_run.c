/*
 * The run loop (hvb_vcpu_run): the API state goes into KVM's sync-regs
 * area before the first KVM_RUN and comes back after the exit, so register
 * and VMCS access between runs is a memory access; in between, entry
 * (hvb_entry.c, hvb_ivt.c), KVM_RUN, and translation (hvb_exit.c) until an
 * exit for the client, with the caller's throttle before each entry.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_run.h"

/* The API state (hvs_state) and KVM's sync-regs area are exchanged only
 * here: what the client changed goes in before the entry, everything comes
 * back after the exit. */
static int state_in(struct hvb_vcpu *v)
{
	struct hvs_state *st = &v->st;
	struct kvm_sync_regs *sr = &v->run->s.regs;

	if (st->dirty & KVM_SYNC_X86_REGS)
		sr->regs = st->regs;
	if (st->dirty & KVM_SYNC_X86_SREGS)
		sr->sregs = st->sregs;
	if (st->dirty & KVM_SYNC_X86_EVENTS)
		sr->events = st->events;
	v->run->kvm_dirty_regs = st->dirty;
	st->dirty = 0;
	for (int i = 0; i < HVS_MSRC_COUNT; i++) {
		if (!(st->msr_dirty & (1u << i)))
			continue;
		int r = hvb__msr_set(v, hvs_msrc_msr(i), st->msr[i]);
		if (r < 0)
			return r;
		st->msr_dirty &= ~(1u << i);
	}
	return 0;
}

static void state_out(struct hvb_vcpu *v)
{
	struct hvs_state *st = &v->st;
	struct kvm_sync_regs *sr = &v->run->s.regs;

	st->regs = sr->regs;
	st->sregs = sr->sregs;
	st->events = sr->events;
	/* Rewinds made while translating the exit are still to be applied. */
	st->dirty = v->run->kvm_dirty_regs;
	v->run->kvm_dirty_regs = 0;
	/* A native MSR can change without an exit: refresh its cache. */
	for (int i = 0; i < HVS_MSRC_COUNT; i++) {
		for (unsigned k = 0; k < v->nnative; k++) {
			if (v->native_msrs[k] == hvs_msrc_msr(i))
				(void)hvb__msr_get(v, hvs_msrc_msr(i), &st->msr[i]);
		}
	}
}

/* Wait as long as the caller's throttle asks, or until a kick. */
static void throttle_wait(struct hvb_vcpu *v)
{
	uint64_t ns;

	if (!v->throttle)
		return;
	while (!atomic_load(&v->kick) && (ns = v->throttle(v->throttle_ctx)) > 0) {
		struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
		syscall(SYS_futex, &v->kick, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
}

/* Times a guest access to memory it may make is run again before the
 * host's refusal of the page is the answer (run_loop). */
#define REFUSED_RETRIES 3

/*
 * Did KVM stop at memory the client mapped for this very access? KVM
 * exits to user space (as MMIO) when it cannot get the page: the kernel
 * refused it, as a memory cgroup at its limit with the OOM killer not
 * acting does. A mapping changed by another thread meanwhile looks the
 * same for a moment (ept_perms reads the mapping as it is now), so the
 * access is run again first; exit_mmio has put the registers back before
 * the instruction for that.
 */
static bool refused_page(const struct hvb_vcpu *v)
{
	const struct hvs_exit *x = &v->st.exit;
	uint64_t access = x->qual & (EPT_READ | EPT_WRITE | EPT_FETCH);
	uint64_t allowed = (x->qual >> 3) & 7;
	return (x->reason & 0xffff) == VMX_REASON_EPT_VIOLATION && access &&
	       (access & allowed) == access;
}

static int run_loop(struct hvb_vcpu *v)
{
	bool failed;
	unsigned refused = 0;
	int r;

	if (!hvb__entry_state_ok(v)) {
		hvb__exit_simple(v, EXIT_FAILED_ENTRY | VMX_REASON_VMENTRY_GUEST);
		return 0;
	}
	hvb__entry_efer(v);
	if ((r = hvb__entry_inject(v, &failed)) < 0)
		return r;
	if (failed) {
		v->st.c.entry_irq &= ~IRQ_INFO_VALID;
		hvb__exit_simple(v, VMX_REASON_TRIPLE_FAULT);
		return 0;
	}
	bool window = v->st.c.cpu & CPU_BASED_IRQ_WND;
	bool injecting = v->run->kvm_dirty_regs & KVM_SYNC_X86_EVENTS;
	if (v->st.c.activity == 1) {
		/* HLT activity state: nothing runs until an event is injected
		 * (entry_inject made the vCPU active) or the vCPU is kicked. */
		while (!atomic_load(&v->kick))
			syscall(SYS_futex, &v->kick, FUTEX_WAIT, 0, NULL, NULL, 0);
		atomic_store(&v->kick, 0);
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		hvb__exit_simple(v, VMX_REASON_IRQ);
		hvb__exit_common(v);
		return 0;
	}
	if (window && !injecting && hvb__irq_window_open(v)) {
		/* VMX exits before the first instruction. */
		hvb__window_exit(v);
		hvb__exit_common(v);
		return 0;
	}
	for (;;) {
		/* KVM's own window exit is not reliable on every flavour (it
		 * never comes on PVM): single-step while the window is closed. */
		bool step = window && !hvb__irq_window_open(v);
		if ((r = hvb__entry_idt(v)) < 0 || (r = hvb__entry_misc(v)) < 0 ||
		    (r = hvb__update_guest_debug(v, step)) < 0)
			return r;
		throttle_wait(v);
		r = hvb__kvm_run_once(v, false);
		if (r == -EINTR && v->throttle && !atomic_load(&v->kick))
			continue; /* the throttle's timer, not a kick */
		if (r == -EINTR || r == -EAGAIN) {
			/* A kick, or a stray signal: Apple's spurious return. */
			atomic_store(&v->kick, 0);
			__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			hvb__exit_simple(v, VMX_REASON_IRQ);
			hvb__exit_common(v);
			return 0;
		}
		if (r == -EINVAL) {
			/* KVM refused the guest state we handed it. */
			v->run->kvm_dirty_regs = 0;
			hvb__exit_simple(v, EXIT_FAILED_ENTRY | VMX_REASON_VMENTRY_GUEST);
			return 0;
		}
		if (r < 0)
			return r;
		if (hvb__translate(v) != HVB_STEP_EXIT)
			continue;
		if (!refused_page(v))
			break;
		/* A write whose instruction was not found was finished by KVM
		 * and cannot be run again. */
		bool again = v->st.exit.instr_len || !(v->st.exit.qual & EPT_WRITE);
		if (!again || ++refused > REFUSED_RETRIES) {
			/* The exit record says where (VMCS_GUEST_PHYSICAL_ADDRESS). */
			hvb__exit_common(v);
			return -ENOMEM;
		}
	}
	hvb__exit_common(v);
	return 0;
}

int hvb_vcpu_run(struct hvb_vcpu *v)
{
	int r = state_in(v);
	if (r < 0)
		return r;
	r = run_loop(v);
	state_out(v);
	return r;
}
