/*
 * The hidden real-mode IVT (kvm-notes.md §3). In real mode the guest's
 * IDTR points at the backend's IVT page, whose every vector leads to one
 * linear address; reaching it (an HLT exit on the stub page, or a hardware
 * breakpoint when client memory is there) is the trap, and the backend
 * then applies the client's IDTR limit and exception bitmap itself and
 * delivers or reports the vector as VMX would. The pages themselves are
 * placed by hvb_vm.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_run.h"

/*
 * Guest debugging serves two backend features: the hardware breakpoint of
 * the hidden real-mode IVT, and single-stepping while an interrupt window is
 * awaited. The ioctl is issued only when the combination changes.
 */
int hvb__update_guest_debug(struct hvb_vcpu *v, bool step)
{
	struct kvm_guest_debug dbg;
	uint32_t flags = 0;

	if (v->st.idt_hidden && !v->trap_stub) {
		/* Without a breakpoint that is hit, the guest would run the
		 * client's memory at the trap address as if it were code. */
		if (!v->vm->host->info.hw_breakpoints)
			return -ENOTSUP;
		flags |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
	}
	if (step)
		flags |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
	if (flags == v->debug_flags)
		return 0;
	memset(&dbg, 0, sizeof(dbg));
	dbg.control = flags;
	if (flags & KVM_GUESTDBG_USE_HW_BP) {
		dbg.arch.debugreg[0] = HVB_TRAP_LINEAR;
		dbg.arch.debugreg[7] = 0x1; /* L0, execute, 1 byte */
	}
	if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
		return -errno;
	v->debug_flags = flags;
	return 0;
}

/* ---- the hidden IVT in and out ---- */

/*
 * Real mode: load the hidden IVT so every vector traps to the backend,
 * which then applies the client's IDTR limit and exception bitmap itself
 * (kvm-notes.md §3). Protected mode: give the guest its own IDTR back.
 */
int hvb__entry_idt(struct hvb_vcpu *v)
{
	struct kvm_sregs *s = sregs_of(v);
	struct hvb_vm *vm = v->vm;
	int r;

	if (!(s->cr0 & CR0_PE)) {
		pthread_mutex_lock(&vm->lock);
		r = hvb__vm_ivt_place(vm);
		uint64_t gpa = vm->ivt_gpa;
		v->trap_stub = hvb__vm_stub_place(vm);
		pthread_mutex_unlock(&vm->lock);
		if (r < 0)
			return r;
		if (!v->st.idt_hidden) {
			v->st.idt_base = s->idt.base;
			v->st.idt_limit = s->idt.limit;
			v->st.idt_hidden = true;
		}
		if (s->idt.base != gpa || s->idt.limit != 0x3ff) {
			s->idt.base = gpa;
			s->idt.limit = 0x3ff;
			sregs_dirty(v);
		}
	} else if (v->st.idt_hidden) {
		s->idt.base = v->st.idt_base;
		s->idt.limit = (uint16_t)v->st.idt_limit;
		v->st.idt_hidden = false;
		sregs_dirty(v);
	}
	return 0;
}

/* After an exit: a real-mode LIDT replaced the hidden IVT; adopt it as the
 * client's IDTR (the next entry hides it again). */
void hvb__exit_idt(struct hvb_vcpu *v)
{
	struct kvm_sregs *s = sregs_of(v);
	if (v->st.idt_hidden && (s->idt.base != v->vm->ivt_gpa || s->idt.limit != 0x3ff)) {
		v->st.idt_base = s->idt.base;
		v->st.idt_limit = s->idt.limit;
		s->idt.base = v->vm->ivt_gpa;
		s->idt.limit = 0x3ff;
		sregs_dirty(v);
	}
}

/* ---- real-mode vector trap (kvm-notes.md §3) ---- */

/*
 * Raise a fault on the way to delivering `vec` (whose frame the guest just
 * pushed and we popped): VMX's handling of a vector beyond the IDT limit is
 * a #GP, intercepted if the exception bitmap says so, else delivered, and a
 * fault while delivering that ends in a triple fault.
 */
enum hvb_step hvb__rm_event(struct hvb_vcpu *v, unsigned vec, unsigned type,
			  unsigned ilen, uint16_t ret_ip, uint16_t fault_ip)
{
	struct hvs_exit *x = &v->st.exit;
	bool intercept = false;

	/* Exceptions the bitmap intercepts exit before delivery. */
	if ((type == 3 || type == 6) && vec < 32 && (v->st.c.exc_bitmap & (1u << vec)))
		intercept = true;
	if (intercept) {
		exit_clear(x);
		x->reason = VMX_REASON_EXC_NMI;
		x->irq_info = IRQ_INFO_VALID | (type << 8) | vec;
		x->instr_len = type == 6 ? ilen : 0;
		regs_of(v)->rip = fault_ip;
		regs_dirty(v);
		return HVB_STEP_EXIT;
	}
	if (hvb__real_mode_deliver(v, vec, ret_ip) == 0)
		return HVB_STEP_CONTINUE;

	/* Beyond the client's IDT limit: #GP. */
	regs_of(v)->rip = fault_ip;
	regs_dirty(v);
	if (v->st.c.exc_bitmap & (1u << 13)) {
		exit_clear(x);
		x->reason = VMX_REASON_EXC_NMI;
		x->irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 13;
		x->idt_info = IRQ_INFO_VALID | (type << 8) | vec;
		x->instr_len = (type == 4 || type == 5 || type == 6) ? ilen : 0;
		return HVB_STEP_EXIT;
	}
	if (vec != 13 && vec != 8 && hvb__real_mode_deliver(v, 13, fault_ip) == 0)
		return HVB_STEP_CONTINUE;
	if (vec != 8 && (v->st.c.exc_bitmap & (1u << 8))) {
		exit_clear(x);
		x->reason = VMX_REASON_EXC_NMI;
		x->irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | IRQ_INFO_ERROR_VALID | 8;
		return HVB_STEP_EXIT;
	}
	if (vec != 8 && hvb__real_mode_deliver(v, 8, fault_ip) == 0)
		return HVB_STEP_CONTINUE;
	exit_clear(x);
	x->reason = VMX_REASON_TRIPLE_FAULT;
	return HVB_STEP_EXIT;
}

enum hvb_step hvb__exit_rm_trap(struct hvb_vcpu *v)
{
	struct kvm_regs *g = regs_of(v);
	struct kvm_sregs *s = sregs_of(v);
	unsigned vec = 0xffffu - s->cs.selector;
	uint8_t frame[6], code[2] = { 0, 0 };

	if (vec > 255 || hvb_vm_read_phys(v->vm, s->ss.base + (g->rsp & 0xffff), frame, 6) < 0) {
		exit_clear(&v->st.exit);
		v->st.exit.reason = VMX_REASON_TRIPLE_FAULT;
		return HVB_STEP_EXIT;
	}
	uint16_t ip = (uint16_t)(frame[0] | frame[1] << 8);
	uint16_t cs = (uint16_t)(frame[2] | frame[3] << 8);
	uint16_t fl = (uint16_t)(frame[4] | frame[5] << 8);

	/* Pop the frame: the vector is re-delivered (or reported) by us. */
	g->rsp = (g->rsp & ~0xffffull) | (uint16_t)(g->rsp + 6);
	g->rflags = (g->rflags & ~0xffffull & ~RFLAGS_RF) | fl;
	set_seg_real(&s->cs, cs);
	regs_dirty(v);
	sregs_dirty(v);

	uint64_t at = ((uint64_t)cs << 4);
	(void)hvb_vm_read_phys(v->vm, at + (uint16_t)(ip - 2), code, 2);
	if (code[0] == 0xcd && code[1] == vec)
		return hvb__rm_event(v, vec, 4, 2, ip, (uint16_t)(ip - 2));
	(void)hvb_vm_read_phys(v->vm, at + (uint16_t)(ip - 1), code, 1);
	if ((vec == 3 && code[0] == 0xcc) || (vec == 4 && code[0] == 0xce))
		return hvb__rm_event(v, vec, 6, 1, ip, (uint16_t)(ip - 1));
	if (vec == 1 && code[0] == 0xf1)
		return hvb__rm_event(v, vec, 5, 1, ip, (uint16_t)(ip - 1));
	/* A fault: the pushed IP is the faulting instruction. */
	return hvb__rm_event(v, vec, 3, 0, ip, ip);
}
