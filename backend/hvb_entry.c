/*
 * The way into the guest: VM-entry checks that KVM would not make, EFER
 * from the IA-32e entry control, VM-entry event injection (real mode in
 * software, through the client's IVT; otherwise KVM's events,
 * kvm-notes.md §6), and the TSC and interrupt-window requests before each
 * KVM_RUN.
 */
#include <errno.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_run.h"

/* VM-entry checks on guest state that KVM would not make (SDM 26.3.1). */
bool hvb__entry_state_ok(struct hvb_vcpu *v)
{
	struct kvm_sregs *s = sregs_of(v);
	bool ia32e = v->st.c.entry & VMENTRY_GUEST_IA32E;

	if (!v->st.cr4_vmxe || !(s->cr0 & CR0_NE))
		return false;
	if ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE))
		return false;
	if (ia32e && (!(s->cr0 & CR0_PG) || !(s->cr4 & CR4_PAE)))
		return false;
	if (v->st.c.activity > 1)
		return false;
	return true;
}

/* VMX loads EFER.LMA (and LME when paging) from the "IA-32e mode guest"
 * entry control; KVM wants EFER to say it. */
void hvb__entry_efer(struct hvb_vcpu *v)
{
	struct kvm_sregs *s = sregs_of(v);
	uint64_t efer = s->efer;
	bool ia32e = v->st.c.entry & VMENTRY_GUEST_IA32E;

	efer = ia32e ? (efer | EFER_LMA) : (efer & ~EFER_LMA);
	if (s->cr0 & CR0_PG)
		efer = ia32e ? (efer | EFER_LME) : (efer & ~EFER_LME);
	if (efer != s->efer) {
		s->efer = efer;
		sregs_dirty(v);
	}
}

/* ---- event injection ---- */

static int push16(struct hvb_vcpu *v, uint16_t value)
{
	struct kvm_regs *g = regs_of(v);
	struct kvm_sregs *s = sregs_of(v);
	uint16_t sp = (uint16_t)(g->rsp - 2);
	int r = hvb_vm_write_phys(v->vm, s->ss.base + sp, &value, 2);
	if (r < 0)
		return r;
	g->rsp = (g->rsp & ~0xffffull) | sp;
	return 0;
}

/* Read the client's real-mode IVT entry for `vec`; -ERANGE when the
 * client's IDTR limit does not cover it. */
static int client_ivt(struct hvb_vcpu *v, unsigned vec, uint16_t *ip, uint16_t *cs)
{
	uint8_t e[4];
	if (4u * vec + 3 > v->st.idt_limit)
		return -ERANGE;
	int r = hvb_vm_read_phys(v->vm, v->st.idt_base + 4u * vec, e, 4);
	if (r < 0)
		return r;
	*ip = (uint16_t)(e[0] | e[1] << 8);
	*cs = (uint16_t)(e[2] | e[3] << 8);
	return 0;
}

/* Deliver a real-mode event exactly as the CPU would: push FLAGS, CS, IP,
 * clear IF/TF/AC, load CS:IP from the client's IVT. */
int hvb__real_mode_deliver(struct hvb_vcpu *v, unsigned vec, uint16_t ret_ip)
{
	struct kvm_regs *g = regs_of(v);
	struct kvm_sregs *s = sregs_of(v);
	uint16_t ip, cs;
	int r = client_ivt(v, vec, &ip, &cs);
	if (r < 0)
		return r;
	if ((r = push16(v, (uint16_t)g->rflags)) < 0 ||
	    (r = push16(v, s->cs.selector)) < 0 ||
	    (r = push16(v, ret_ip)) < 0)
		return r;
	g->rflags &= ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC | RFLAGS_RF);
	set_seg_real(&s->cs, cs);
	g->rip = ip;
	regs_dirty(v);
	sregs_dirty(v);
	return 0;
}

/*
 * VM-entry event injection (VMCS_CTRL_VMENTRY_IRQ_INFO). Real mode is done
 * here in software, exactly; protected and long mode go through KVM's
 * event injection (kvm-notes.md §6).
 */
int hvb__entry_inject(struct hvb_vcpu *v, bool *failed)
{
	uint32_t info = v->st.c.entry_irq;
	unsigned vec = info & 0xff, type = (info >> 8) & 7;
	struct kvm_regs *g = regs_of(v);
	struct kvm_vcpu_events *ev = &v->run->s.regs.events;

	*failed = false;
	if (!(info & IRQ_INFO_VALID))
		return 0;
	v->st.c.activity = 0;
	if (!(sregs_of(v)->cr0 & CR0_PE)) {
		uint16_t ret = (uint16_t)g->rip;
		if (type == 4 || type == 5 || type == 6)
			ret = (uint16_t)(ret + v->st.c.entry_instr_len);
		int r = hvb__real_mode_deliver(v, vec, ret);
		if (r == -ERANGE) {
			*failed = true; /* #GP during delivery with no handler */
			return 0;
		}
		return r;
	}
	switch (type) {
	case 0: /* external interrupt */
		ev->interrupt.injected = 1;
		ev->interrupt.nr = (uint8_t)vec;
		ev->interrupt.soft = 0;
		break;
	case 2: /* NMI */
		ev->nmi.injected = 1;
		break;
	case 3: /* hardware exception */
		ev->exception.injected = 1;
		ev->exception.nr = (uint8_t)vec;
		ev->exception.has_error_code = !!(info & IRQ_INFO_ERROR_VALID);
		ev->exception.error_code = v->st.c.entry_exc_err;
		break;
	default: /* software interrupt / exception: return address after it */
		g->rip += v->st.c.entry_instr_len;
		regs_dirty(v);
		if (type == 6 && vec < 32) {
			ev->exception.injected = 1;
			ev->exception.nr = (uint8_t)vec;
			ev->exception.has_error_code = 0;
		} else {
			ev->interrupt.injected = 1;
			ev->interrupt.nr = (uint8_t)vec;
			ev->interrupt.soft = 0;
		}
		break;
	}
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
	return 0;
}

int hvb__entry_misc(struct hvb_vcpu *v)
{
	uint64_t gen = atomic_load(&v->vm->tsc_gen);
	if (gen != v->tsc_gen) {
		pthread_mutex_lock(&v->vm->lock);
		uint64_t tsc = v->vm->tsc_value;
		pthread_mutex_unlock(&v->vm->lock);
		int r = hvb__msr_set(v, 0x10, tsc);
		if (r < 0)
			return r;
		v->tsc_gen = gen;
	}
	v->run->request_interrupt_window = !!(v->st.c.cpu & CPU_BASED_IRQ_WND);
	return 0;
}
