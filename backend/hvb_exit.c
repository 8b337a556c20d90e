/*
 * Exit translation: KVM exits become Apple's VMX exits with Intel's
 * qualification, instruction length, guest-physical address and
 * interruption information (kvm-notes.md §1-§7). Exits whose instruction
 * KVM has not finished (IN, MMIO reads, RDMSR/WRMSR) are "flushed" with
 * immediate_exit and rewound to the instruction, so the client emulates
 * it exactly as with VMX; where KVM reports RIP past the instruction it is
 * found by decoding backwards.
 */
#include <errno.h>
#include <string.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_run.h"

/* ---- exit helpers ---- */

static uint64_t ept_perms(struct hvb_vcpu *v, uint64_t gpa)
{
	uint64_t q = 0;
	pthread_mutex_lock(&v->vm->lock);
	struct hvb_region *r = hvb__vm_find(v->vm, gpa);
	if (r && (r->flags & HVB_MEM_READ)) {
		q |= 1ull << 3;
		if (r->flags & HVB_MEM_WRITE)
			q |= 1ull << 4;
		if (r->flags & HVB_MEM_EXEC)
			q |= 1ull << 5;
	}
	pthread_mutex_unlock(&v->vm->lock);
	return q;
}

static uint64_t seg_base(struct kvm_sregs *s, enum hvb_seg seg)
{
	switch (seg) {
	case HVB_SEG_ES: return s->es.base;
	case HVB_SEG_CS: return s->cs.base;
	case HVB_SEG_SS: return s->ss.base;
	case HVB_SEG_FS: return s->fs.base;
	case HVB_SEG_GS: return s->gs.base;
	default: return s->ds.base;
	}
}

static void gprs(const struct kvm_regs *g, uint64_t out[16])
{
	out[0] = g->rax; out[1] = g->rcx; out[2] = g->rdx; out[3] = g->rbx;
	out[4] = g->rsp; out[5] = g->rbp; out[6] = g->rsi; out[7] = g->rdi;
	out[8] = g->r8; out[9] = g->r9; out[10] = g->r10; out[11] = g->r11;
	out[12] = g->r12; out[13] = g->r13; out[14] = g->r14; out[15] = g->r15;
}

static uint64_t rip_linear(struct hvb_vcpu *v, uint64_t rip)
{
	struct kvm_sregs *s = sregs_of(v);
	enum hvb_cpu_mode m = hvb__cpu_mode(s);
	if (m == HVB_MODE_LONG64)
		return rip;
	if (m == HVB_MODE_PROT32)
		return (s->cs.base + rip) & 0xffffffffull;
	return (s->cs.base + (rip & 0xffff)) & 0xffffffffull;
}

static int decode_at(struct hvb_vcpu *v, uint64_t rip, struct hvb_insn *insn)
{
	uint8_t bytes[HVB_INSN_MAX];
	int n = hvb__read_linear(v, rip_linear(v, rip), bytes, sizeof(bytes));
	if (n < 0)
		return n;
	return hvb_decode(bytes, (size_t)n, hvb__cpu_mode(sregs_of(v)), insn);
}

static uint64_t addr_mask(unsigned size)
{
	return size == 8 ? ~0ull : size == 4 ? 0xffffffffull : 0xffffull;
}

/* ---- port I/O (kvm-notes.md §1) ---- */

static bool io_matches(const struct hvb_insn *insn, const struct kvm_run *run,
		       const struct kvm_regs *g, struct hvb_io_insn *io)
{
	if (!hvb_insn_is_io(insn, io))
		return false;
	if (io->in != (run->io.direction == KVM_EXIT_IO_IN) || io->size != run->io.size)
		return false;
	uint16_t port = io->imm_port ? io->port_imm : (uint16_t)g->rdx;
	return port == run->io.port;
}

static enum hvb_step exit_io(struct hvb_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs r0 = *regs_of(v), *g = regs_of(v);
	struct kvm_sregs *s = sregs_of(v);
	bool in = run->io.direction == KVM_EXIT_IO_IN;
	unsigned size = run->io.size, count = run->io.count;
	struct hvb_insn insn = { .addrsize = 2 };
	struct hvb_io_insn io = { 0 };
	uint64_t start = r0.rip;
	unsigned len = 0;
	bool found = false, string = false;

	/* INS: make the completion's memory write a no-op by handing KVM the
	 * bytes that are already there. */
	if (in && decode_at(v, r0.rip, &insn) == 0 && hvb_insn_is_io(&insn, &io) && io.string) {
		uint64_t di = r0.rdi & addr_mask(insn.addrsize);
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		if (hvb__read_linear(v, s->es.base + di, data, (size_t)count * size) < 0)
			memset(data, 0, (size_t)count * size);
	}
	bool pending = in || !v->vm->host->info.out_rip_after;
	if (pending) {
		if (hvb__flush(v) < 0)
			return HVB_STEP_EXIT;
		if (g->rip != r0.rip) {
			start = r0.rip;
			len = (unsigned)(g->rip - r0.rip);
			if (decode_at(v, start, &insn) == 0 && io_matches(&insn, run, &r0, &io)) {
				string = io.string;
			} else {
				memset(&insn, 0, sizeof(insn));
				memset(&io, 0, sizeof(io));
			}
			found = true;
		}
	}
	if (!found && decode_at(v, r0.rip, &insn) == 0 && io_matches(&insn, run, &r0, &io) &&
	    io.string && (io.in || (r0.rflags & RFLAGS_RF) || insn.rep)) {
		/* A string instruction still under way: RIP is at it. */
		found = true;
		string = true;
		start = r0.rip;
		len = insn.len;
	}
	if (!found) {
		/* RIP is past the instruction: find it by decoding backwards. */
		for (unsigned n = 1; n <= HVB_INSN_MAX && n <= r0.rip; n++) {
			if (decode_at(v, r0.rip - n, &insn) == 0 && insn.len == n &&
			    io_matches(&insn, run, &r0, &io)) {
				found = true;
				string = io.string;
				start = r0.rip - n;
				len = n;
				break;
			}
		}
		if (!found)
			hvb__log("vcpu %u: cannot find the I/O instruction before rip 0x%llx",
				 v->id, (unsigned long long)r0.rip);
	}

	/* Rewind to the state before the instruction (for this element). */
	*g = r0;
	g->rip = start;
	if (found && string && !io.in) {
		/* OUTS: KVM already stepped RSI (and RCX with REP) for the
		 * elements it reported. */
		uint64_t step = (uint64_t)count * size;
		uint64_t m = addr_mask(insn.addrsize);
		uint64_t si = (r0.rflags & RFLAGS_DF) ? r0.rsi + step : r0.rsi - step;
		g->rsi = (r0.rsi & ~m) | (si & m);
		if (insn.rep)
			g->rcx = (r0.rcx & ~m) | ((r0.rcx + count) & m);
	}
	regs_dirty(v);

	struct hvs_exit *x = &v->st.exit;
	exit_clear(x);
	x->reason = VMX_REASON_IO;
	x->qual = (uint64_t)(size - 1) | (in ? 1u << 3 : 0) | (string ? 1u << 4 : 0) |
		  (found && insn.rep && string ? 1u << 5 : 0) |
		  (found && io.imm_port ? 1u << 6 : 0) | ((uint64_t)run->io.port << 16);
	x->instr_len = found ? len : 0;
	if (string) {
		unsigned asz = insn.addrsize == 8 ? 2 : insn.addrsize == 4 ? 1 : 0;
		unsigned seg = in ? HVB_SEG_ES :
			       (insn.seg == HVB_SEG_NONE ? HVB_SEG_DS : insn.seg);
		x->instr_info = (asz << 7) | (seg << 15);
		x->gla = in ? s->es.base + (g->rdi & addr_mask(insn.addrsize)) :
			      seg_base(s, seg) + (g->rsi & addr_mask(insn.addrsize));
	}
	x->io_rcx = g->rcx;
	x->io_rsi = g->rsi;
	x->io_rdi = g->rdi;
	x->io_rip = g->rip;
	return HVB_STEP_EXIT;
}

/* ---- MMIO: EPT violations (kvm-notes.md §2) ---- */

static void ept_exit(struct hvb_vcpu *v, uint64_t gpa, uint64_t access, unsigned len)
{
	struct hvs_exit *x = &v->st.exit;
	exit_clear(x);
	x->reason = VMX_REASON_EPT_VIOLATION;
	x->qual = access | ept_perms(v, gpa);
	x->gpa = gpa;
	x->instr_len = len;
}

/* Does `insn`, executed with registers `g` (before the instruction),
 * write `len` bytes at guest-physical `gpa`? */
static bool writes_at(struct hvb_vcpu *v, const struct hvb_insn *insn,
		      const struct kvm_regs *g, uint64_t next_rip, uint64_t gpa,
		      unsigned len)
{
	unsigned size;
	uint64_t r[16], ea, lin, pa;
	if (!hvb_insn_mem_write(insn, &size) || size != len)
		return false;
	gprs(g, r);
	if (hvb_insn_mem_ea(insn, r, next_rip, &ea) < 0)
		return false;
	lin = seg_base(sregs_of(v), hvb_insn_mem_seg(insn)) + ea;
	if (hvb__gla_to_gpa(v, lin, true, &pa) < 0)
		return false;
	return pa == gpa;
}

static enum hvb_step exit_mmio(struct hvb_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs r0 = *regs_of(v), *g = regs_of(v);
	uint64_t gpa = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	struct hvb_insn insn;

	if (!run->mmio.is_write) {
		/* KVM waits for the data; finish with zeros, then rewind. */
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		if (hvb__flush(v) < 0)
			return HVB_STEP_EXIT;
		unsigned ilen = (g->rip > r0.rip && g->rip - r0.rip <= HVB_INSN_MAX) ?
				(unsigned)(g->rip - r0.rip) : 0;
		*g = r0;
		regs_dirty(v);
		ept_exit(v, gpa, EPT_READ, ilen);
		return HVB_STEP_EXIT;
	}

	/* Writes: KVM's emulator finished the instruction before exiting. A
	 * string store under way is still at RIP (RF set); otherwise search
	 * backwards for the instruction that wrote here. */
	uint64_t start = 0;
	unsigned ilen = 0;
	struct kvm_regs pre = r0;
	if ((r0.rflags & RFLAGS_RF) && decode_at(v, r0.rip, &insn) == 0 &&
	    insn.map == 0 && (insn.opcode == 0xaa || insn.opcode == 0xab ||
			      insn.opcode == 0xa4 || insn.opcode == 0xa5)) {
		start = r0.rip;
		ilen = insn.len;
	} else {
		for (unsigned n = 1; n <= HVB_INSN_MAX && n <= r0.rip; n++) {
			if (decode_at(v, r0.rip - n, &insn) < 0 || insn.len != n)
				continue;
			pre = r0;
			bool str = insn.map == 0 && (insn.opcode == 0xaa || insn.opcode == 0xab ||
						     insn.opcode == 0xa4 || insn.opcode == 0xa5);
			if (str) {
				uint64_t m = addr_mask(insn.addrsize);
				uint64_t d = (r0.rflags & RFLAGS_DF) ? -(uint64_t)len : len;
				pre.rdi = (r0.rdi & ~m) | ((r0.rdi - d) & m);
				if (insn.opcode == 0xa4 || insn.opcode == 0xa5)
					pre.rsi = (r0.rsi & ~m) | ((r0.rsi - d) & m);
				if (insn.rep)
					pre.rcx = (r0.rcx & ~m) | ((r0.rcx + 1) & m);
			}
			if (writes_at(v, &insn, &pre, r0.rip, gpa, len)) {
				start = r0.rip - n;
				ilen = n;
				break;
			}
		}
	}
	if (ilen) {
		if (start == r0.rip) {
			/* Undo the element KVM already stepped. */
			uint64_t m = addr_mask(insn.addrsize);
			uint64_t d = (r0.rflags & RFLAGS_DF) ? -(uint64_t)len : len;
			pre = r0;
			pre.rdi = (r0.rdi & ~m) | ((r0.rdi - d) & m);
			if (insn.opcode == 0xa4 || insn.opcode == 0xa5)
				pre.rsi = (r0.rsi & ~m) | ((r0.rsi - d) & m);
			if (insn.rep)
				pre.rcx = (r0.rcx & ~m) | ((r0.rcx + 1) & m);
		}
		*g = pre;
		g->rip = start;
		regs_dirty(v);
	} else {
		hvb__log("vcpu %u: MMIO write at 0x%llx: instruction before rip 0x%llx not "
			 "found; reporting rip after it", v->id, (unsigned long long)gpa,
			 (unsigned long long)r0.rip);
	}
	ept_exit(v, gpa, EPT_WRITE, ilen);
	return HVB_STEP_EXIT;
}

/* ---- MSRs (kvm-notes.md §5) ---- */

static bool vcpu_native(const struct hvb_vcpu *v, uint32_t msr)
{
	for (unsigned i = 0; i < v->nnative; i++)
		if (v->native_msrs[i] == msr)
			return true;
	return false;
}

static enum hvb_step exit_msr(struct hvb_vcpu *v, bool write)
{
	struct kvm_run *run = v->run;
	uint32_t index = run->msr.index;

	if (vcpu_native(v, index)) {
		/* Native for this vCPU but filtered for the VM: complete it
		 * here, invisibly. */
		int r;
		if (write) {
			r = hvb__msr_set(v, index, run->msr.data);
		} else {
			uint64_t val = 0;
			r = hvb__msr_get(v, index, &val);
			run->msr.data = val;
		}
		run->msr.error = r < 0;
		return HVB_STEP_CONTINUE;
	}
	struct kvm_regs r0 = *regs_of(v);
	run->msr.error = 0;
	run->msr.data = 0;
	if (hvb__flush(v) < 0)
		return HVB_STEP_EXIT;
	*regs_of(v) = r0;
	regs_dirty(v);
	exit_clear(&v->st.exit);
	v->st.exit.reason = write ? VMX_REASON_WRMSR : VMX_REASON_RDMSR;
	v->st.exit.instr_len = 2;
	return HVB_STEP_EXIT;
}

/* ---- emulation failures ---- */

static enum hvb_step exit_internal(struct hvb_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs *g = regs_of(v);
	uint64_t gpa;

	/* An instruction fetch from memory the guest may not execute shows up
	 * as an emulation failure at the fetch address. */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    hvb__gla_to_gpa(v, rip_linear(v, g->rip), false, &gpa) == 0) {
		pthread_mutex_lock(&v->vm->lock);
		struct hvb_region *r = hvb__vm_find(v->vm, gpa);
		bool readable = r && (r->flags & HVB_MEM_READ);
		pthread_mutex_unlock(&v->vm->lock);
		if (!readable) {
			ept_exit(v, gpa, EPT_FETCH, 0);
			return HVB_STEP_EXIT;
		}
	}
	/* An invalid opcode (UD2, or bytes that are no instruction) raises #UD
	 * on real hardware; KVM's emulator reports a failure instead. Raise
	 * the #UD ourselves: intercepted if the exception bitmap says so,
	 * else delivered to the guest. */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
		struct hvb_insn insn;
		int d = decode_at(v, g->rip, &insn);
		if (d == -EINVAL || (d == 0 && insn.map == 1 && insn.opcode == 0x0b)) {
			if (!(sregs_of(v)->cr0 & CR0_PE))
				return hvb__rm_event(v, 6, 3, 0, (uint16_t)g->rip, (uint16_t)g->rip);
			if (v->st.c.exc_bitmap & (1u << 6)) {
				exit_clear(&v->st.exit);
				v->st.exit.reason = VMX_REASON_EXC_NMI;
				v->st.exit.irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 6;
				return HVB_STEP_EXIT;
			}
			struct kvm_vcpu_events *ev = &run->s.regs.events;
			ev->exception.injected = 1;
			ev->exception.nr = 6;
			ev->exception.has_error_code = 0;
			run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
			return HVB_STEP_CONTINUE;
		}
	}
	/* Anything else the emulator cannot run would raise an exception the
	 * guest has no way to take here; report it as the triple fault real
	 * hardware ends in (docs/differences.md). */
	exit_clear(&v->st.exit);
	v->st.exit.reason = VMX_REASON_TRIPLE_FAULT;
	v->st.exit.qual = 0;
	return HVB_STEP_EXIT;
}

void hvb__exit_simple(struct hvb_vcpu *v, uint32_t reason)
{
	exit_clear(&v->st.exit);
	v->st.exit.reason = reason;
}

/* ---- interrupt window ---- */

/* VMX's interrupt window is open when RFLAGS.IF = 1 and neither STI nor
 * MOV SS blocking is in effect. */
bool hvb__irq_window_open(struct hvb_vcpu *v)
{
	return (regs_of(v)->rflags & RFLAGS_IF) &&
	       !(v->run->s.regs.events.interrupt.shadow &
		 (KVM_X86_SHADOW_INT_STI | KVM_X86_SHADOW_INT_MOV_SS));
}

enum hvb_step hvb__window_exit(struct hvb_vcpu *v)
{
	exit_clear(&v->st.exit);
	v->st.exit.reason = VMX_REASON_IRQ_WND;
	return HVB_STEP_EXIT;
}

/* ---- the translation ---- */

enum hvb_step hvb__translate(struct hvb_vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return exit_io(v);
	case KVM_EXIT_MMIO:
		return exit_mmio(v);
	case KVM_EXIT_HLT:
		if (v->st.idt_hidden && v->trap_stub &&
		    rip_linear(v, regs_of(v)->rip - 1) == HVB_TRAP_LINEAR)
			return hvb__exit_rm_trap(v);
		/* KVM is past the HLT; VMX reports it at the HLT. */
		regs_of(v)->rip -= 1;
		regs_dirty(v);
		hvb__exit_simple(v, VMX_REASON_HLT);
		v->st.exit.instr_len = 1;
		return HVB_STEP_EXIT;
	case KVM_EXIT_SHUTDOWN:
		hvb__exit_simple(v, VMX_REASON_TRIPLE_FAULT);
		return HVB_STEP_EXIT;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		hvb__exit_simple(v, VMX_REASON_IRQ_WND);
		return HVB_STEP_EXIT;
	case KVM_EXIT_X86_RDMSR:
		return exit_msr(v, false);
	case KVM_EXIT_X86_WRMSR:
		return exit_msr(v, true);
	case KVM_EXIT_DEBUG:
		if (v->st.idt_hidden && run->debug.arch.pc == HVB_TRAP_LINEAR)
			return hvb__exit_rm_trap(v);
		if (v->debug_flags & KVM_GUESTDBG_SINGLESTEP)
			return hvb__irq_window_open(v) ? hvb__window_exit(v) : HVB_STEP_CONTINUE;
		hvb__exit_simple(v, VMX_REASON_EXC_NMI);
		v->st.exit.irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 1;
		v->st.exit.qual = run->debug.arch.dr6 & 0x600f;
		return HVB_STEP_EXIT;
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal(v);
	case KVM_EXIT_FAIL_ENTRY:
		hvb__exit_simple(v, EXIT_FAILED_ENTRY | VMX_REASON_VMENTRY_GUEST);
		return HVB_STEP_EXIT;
	case KVM_EXIT_INTR:
		hvb__exit_simple(v, VMX_REASON_IRQ);
		return HVB_STEP_EXIT;
	default:
		hvb__log("vcpu %u: unexpected KVM exit %u", v->id, run->exit_reason);
		hvb__exit_simple(v, VMX_REASON_TRIPLE_FAULT);
		return HVB_STEP_EXIT;
	}
}

/* On every VM exit VMX clears the valid bit of the entry interruption
 * field and stores EFER.LMA into the "IA-32e mode guest" control. */
void hvb__exit_common(struct hvb_vcpu *v)
{
	v->st.c.entry_irq &= ~IRQ_INFO_VALID;
	if (sregs_of(v)->efer & EFER_LMA)
		v->st.c.entry |= VMENTRY_GUEST_IA32E;
	else
		v->st.c.entry &= ~VMENTRY_GUEST_IA32E;
	hvb__exit_idt(v);
}
