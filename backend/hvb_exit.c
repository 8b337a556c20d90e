/*
 * The run loop: VM-entry checks and event injection on the way in, KVM exit
 * translation into VMX exits on the way out (kvm-notes.md §1-§7).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_priv.h"

#define CR0_PE (1ull << 0)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_VMXE (1ull << 13)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_AC (1ull << 18)

#define EXIT_FAILED_ENTRY 0x80000000u
#define EPT_READ (1ull << 0)
#define EPT_WRITE (1ull << 1)
#define EPT_FETCH (1ull << 2)

int hvb__msr_get(struct hvb_vcpu *vcpu, uint32_t index, uint64_t *value);
int hvb__msr_set(struct hvb_vcpu *vcpu, uint32_t index, uint64_t value);

/* What the run loop does after translating one KVM exit. */
enum step { STEP_EXIT, STEP_CONTINUE };

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct kvm_regs *regs_of(struct hvb_vcpu *v)
{
	return &v->run->s.regs.regs;
}

static struct kvm_sregs *sregs_of(struct hvb_vcpu *v)
{
	return &v->run->s.regs.sregs;
}

static void regs_dirty(struct hvb_vcpu *v)
{
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

static void sregs_dirty(struct hvb_vcpu *v)
{
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
}

static void exit_clear(struct hvs_exit *x)
{
	memset(x, 0, sizeof(*x));
}

static void set_seg_real(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
}

/*
 * One KVM_RUN. Returns 0 or a negative errno from the ioctl. Accounts the
 * time as guest execution time and keeps the kick protocol: a kick that
 * arrives at any point makes this (or the next) KVM_RUN return -EINTR.
 */
static int kvm_run_once(struct hvb_vcpu *v, bool flush)
{
	uint64_t t0 = now_ns();
	int r;

	atomic_store(&v->thread, pthread_self());
	atomic_store(&v->in_run, 1);
	if (flush || atomic_load(&v->kick))
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	r = ioctl(v->fd, KVM_RUN, 0);
	if (r < 0)
		r = -errno;
	atomic_store(&v->in_run, 0);
	__atomic_store_n(&v->run->immediate_exit, atomic_load(&v->kick) ? 1 : 0,
			 __ATOMIC_SEQ_CST);
	/* Only this thread writes the counter; hvd's loop thread reads it
	 * (hvctl show) while the vCPU runs: a relaxed atomic store. */
	if (!flush)
		__atomic_store_n(&v->exec_ns, v->exec_ns + (now_ns() - t0), __ATOMIC_RELAXED);
	return r;
}

/*
 * Finish a pending I/O, MMIO or MSR completion inside KVM without running
 * guest code; sync regs are refreshed by it.
 */
static int flush(struct hvb_vcpu *v)
{
	int r = kvm_run_once(v, true);
	if (r == -EINTR)
		return 0;
	if (r == 0) {
		hvb__log("vcpu %u: completion flush ran the guest", v->id);
		return -EIO;
	}
	return r;
}

/* ---- entry ---- */

/* VM-entry checks on guest state that KVM would not make (SDM 26.3.1). */
static bool entry_state_ok(struct hvb_vcpu *v)
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
static void entry_efer(struct hvb_vcpu *v)
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

/*
 * Guest debugging serves two backend features: the hardware breakpoint of
 * the hidden real-mode IVT, and single-stepping while an interrupt window is
 * awaited. The ioctl is issued only when the combination changes.
 */
static int update_guest_debug(struct hvb_vcpu *v, bool step)
{
	struct kvm_guest_debug dbg;
	uint32_t flags = 0;

	if (v->st.idt_hidden && !v->trap_stub)
		flags |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
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

/*
 * Real mode: load the hidden IVT so every vector traps to the backend,
 * which then applies the client's IDTR limit and exception bitmap itself
 * (kvm-notes.md §3). Protected mode: give the guest its own IDTR back.
 */
static int entry_idt(struct hvb_vcpu *v)
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
static void exit_idt(struct hvb_vcpu *v)
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
static int real_mode_deliver(struct hvb_vcpu *v, unsigned vec, uint16_t ret_ip)
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
static int entry_inject(struct hvb_vcpu *v, bool *failed)
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
		int r = real_mode_deliver(v, vec, ret);
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

static int entry_misc(struct hvb_vcpu *v)
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

static enum step exit_io(struct hvb_vcpu *v)
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
		if (flush(v) < 0)
			return STEP_EXIT;
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
	return STEP_EXIT;
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

static enum step exit_mmio(struct hvb_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs r0 = *regs_of(v), *g = regs_of(v);
	uint64_t gpa = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	struct hvb_insn insn;

	if (!run->mmio.is_write) {
		/* KVM waits for the data; finish with zeros, then rewind. */
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		if (flush(v) < 0)
			return STEP_EXIT;
		unsigned ilen = (g->rip > r0.rip && g->rip - r0.rip <= HVB_INSN_MAX) ?
				(unsigned)(g->rip - r0.rip) : 0;
		*g = r0;
		regs_dirty(v);
		ept_exit(v, gpa, EPT_READ, ilen);
		return STEP_EXIT;
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
	return STEP_EXIT;
}

/* ---- MSRs (kvm-notes.md §5) ---- */

static bool vcpu_native(const struct hvb_vcpu *v, uint32_t msr)
{
	for (unsigned i = 0; i < v->nnative; i++)
		if (v->native_msrs[i] == msr)
			return true;
	return false;
}

static enum step exit_msr(struct hvb_vcpu *v, bool write)
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
		return STEP_CONTINUE;
	}
	struct kvm_regs r0 = *regs_of(v);
	run->msr.error = 0;
	run->msr.data = 0;
	if (flush(v) < 0)
		return STEP_EXIT;
	*regs_of(v) = r0;
	regs_dirty(v);
	exit_clear(&v->st.exit);
	v->st.exit.reason = write ? VMX_REASON_WRMSR : VMX_REASON_RDMSR;
	v->st.exit.instr_len = 2;
	return STEP_EXIT;
}

/* ---- real-mode vector trap (kvm-notes.md §3) ---- */

/*
 * Raise a fault on the way to delivering `vec` (whose frame the guest just
 * pushed and we popped): VMX's handling of a vector beyond the IDT limit is
 * a #GP, intercepted if the exception bitmap says so, else delivered, and a
 * fault while delivering that ends in a triple fault.
 */
static enum step rm_event(struct hvb_vcpu *v, unsigned vec, unsigned type,
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
		return STEP_EXIT;
	}
	if (real_mode_deliver(v, vec, ret_ip) == 0)
		return STEP_CONTINUE;

	/* Beyond the client's IDT limit: #GP. */
	regs_of(v)->rip = fault_ip;
	regs_dirty(v);
	if (v->st.c.exc_bitmap & (1u << 13)) {
		exit_clear(x);
		x->reason = VMX_REASON_EXC_NMI;
		x->irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 13;
		x->idt_info = IRQ_INFO_VALID | (type << 8) | vec;
		x->instr_len = (type == 4 || type == 5 || type == 6) ? ilen : 0;
		return STEP_EXIT;
	}
	if (vec != 13 && vec != 8 && real_mode_deliver(v, 13, fault_ip) == 0)
		return STEP_CONTINUE;
	if (vec != 8 && (v->st.c.exc_bitmap & (1u << 8))) {
		exit_clear(x);
		x->reason = VMX_REASON_EXC_NMI;
		x->irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | IRQ_INFO_ERROR_VALID | 8;
		return STEP_EXIT;
	}
	if (vec != 8 && real_mode_deliver(v, 8, fault_ip) == 0)
		return STEP_CONTINUE;
	exit_clear(x);
	x->reason = VMX_REASON_TRIPLE_FAULT;
	return STEP_EXIT;
}

static enum step exit_rm_trap(struct hvb_vcpu *v)
{
	struct kvm_regs *g = regs_of(v);
	struct kvm_sregs *s = sregs_of(v);
	unsigned vec = 0xffffu - s->cs.selector;
	uint8_t frame[6], code[2] = { 0, 0 };

	if (vec > 255 || hvb_vm_read_phys(v->vm, s->ss.base + (g->rsp & 0xffff), frame, 6) < 0) {
		exit_clear(&v->st.exit);
		v->st.exit.reason = VMX_REASON_TRIPLE_FAULT;
		return STEP_EXIT;
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
		return rm_event(v, vec, 4, 2, ip, (uint16_t)(ip - 2));
	(void)hvb_vm_read_phys(v->vm, at + (uint16_t)(ip - 1), code, 1);
	if ((vec == 3 && code[0] == 0xcc) || (vec == 4 && code[0] == 0xce))
		return rm_event(v, vec, 6, 1, ip, (uint16_t)(ip - 1));
	if (vec == 1 && code[0] == 0xf1)
		return rm_event(v, vec, 5, 1, ip, (uint16_t)(ip - 1));
	/* A fault: the pushed IP is the faulting instruction. */
	return rm_event(v, vec, 3, 0, ip, ip);
}

/* ---- emulation failures ---- */

static enum step exit_internal(struct hvb_vcpu *v)
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
			return STEP_EXIT;
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
				return rm_event(v, 6, 3, 0, (uint16_t)g->rip, (uint16_t)g->rip);
			if (v->st.c.exc_bitmap & (1u << 6)) {
				exit_clear(&v->st.exit);
				v->st.exit.reason = VMX_REASON_EXC_NMI;
				v->st.exit.irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 6;
				return STEP_EXIT;
			}
			struct kvm_vcpu_events *ev = &run->s.regs.events;
			ev->exception.injected = 1;
			ev->exception.nr = 6;
			ev->exception.has_error_code = 0;
			run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
			return STEP_CONTINUE;
		}
	}
	/* Anything else the emulator cannot run would raise an exception the
	 * guest has no way to take here; report it as the triple fault real
	 * hardware ends in (docs/differences.md). */
	exit_clear(&v->st.exit);
	v->st.exit.reason = VMX_REASON_TRIPLE_FAULT;
	v->st.exit.qual = 0;
	return STEP_EXIT;
}

static void exit_simple(struct hvb_vcpu *v, uint32_t reason)
{
	exit_clear(&v->st.exit);
	v->st.exit.reason = reason;
}

/* ---- interrupt window ---- */

/* VMX's interrupt window is open when RFLAGS.IF = 1 and neither STI nor
 * MOV SS blocking is in effect. */
static bool irq_window_open(struct hvb_vcpu *v)
{
	return (regs_of(v)->rflags & RFLAGS_IF) &&
	       !(v->run->s.regs.events.interrupt.shadow &
		 (KVM_X86_SHADOW_INT_STI | KVM_X86_SHADOW_INT_MOV_SS));
}

static enum step window_exit(struct hvb_vcpu *v)
{
	exit_clear(&v->st.exit);
	v->st.exit.reason = VMX_REASON_IRQ_WND;
	return STEP_EXIT;
}

/* ---- the loop ---- */

static enum step translate(struct hvb_vcpu *v)
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
			return exit_rm_trap(v);
		/* KVM is past the HLT; VMX reports it at the HLT. */
		regs_of(v)->rip -= 1;
		regs_dirty(v);
		exit_simple(v, VMX_REASON_HLT);
		v->st.exit.instr_len = 1;
		return STEP_EXIT;
	case KVM_EXIT_SHUTDOWN:
		exit_simple(v, VMX_REASON_TRIPLE_FAULT);
		return STEP_EXIT;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		exit_simple(v, VMX_REASON_IRQ_WND);
		return STEP_EXIT;
	case KVM_EXIT_X86_RDMSR:
		return exit_msr(v, false);
	case KVM_EXIT_X86_WRMSR:
		return exit_msr(v, true);
	case KVM_EXIT_DEBUG:
		if (v->st.idt_hidden && run->debug.arch.pc == HVB_TRAP_LINEAR)
			return exit_rm_trap(v);
		if (v->debug_flags & KVM_GUESTDBG_SINGLESTEP)
			return irq_window_open(v) ? window_exit(v) : STEP_CONTINUE;
		exit_simple(v, VMX_REASON_EXC_NMI);
		v->st.exit.irq_info = IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 1;
		v->st.exit.qual = run->debug.arch.dr6 & 0x600f;
		return STEP_EXIT;
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal(v);
	case KVM_EXIT_FAIL_ENTRY:
		exit_simple(v, EXIT_FAILED_ENTRY | VMX_REASON_VMENTRY_GUEST);
		return STEP_EXIT;
	case KVM_EXIT_INTR:
		exit_simple(v, VMX_REASON_IRQ);
		return STEP_EXIT;
	default:
		hvb__log("vcpu %u: unexpected KVM exit %u", v->id, run->exit_reason);
		exit_simple(v, VMX_REASON_TRIPLE_FAULT);
		return STEP_EXIT;
	}
}

/* On every VM exit VMX clears the valid bit of the entry interruption
 * field and stores EFER.LMA into the "IA-32e mode guest" control. */
static void exit_common(struct hvb_vcpu *v)
{
	v->st.c.entry_irq &= ~IRQ_INFO_VALID;
	if (sregs_of(v)->efer & EFER_LMA)
		v->st.c.entry |= VMENTRY_GUEST_IA32E;
	else
		v->st.c.entry &= ~VMENTRY_GUEST_IA32E;
	exit_idt(v);
}

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

static int run_loop(struct hvb_vcpu *v)
{
	bool failed;
	int r;

	if (!entry_state_ok(v)) {
		exit_simple(v, EXIT_FAILED_ENTRY | VMX_REASON_VMENTRY_GUEST);
		return 0;
	}
	entry_efer(v);
	if ((r = entry_inject(v, &failed)) < 0)
		return r;
	if (failed) {
		v->st.c.entry_irq &= ~IRQ_INFO_VALID;
		exit_simple(v, VMX_REASON_TRIPLE_FAULT);
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
		exit_simple(v, VMX_REASON_IRQ);
		exit_common(v);
		return 0;
	}
	if (window && !injecting && irq_window_open(v)) {
		/* VMX exits before the first instruction. */
		window_exit(v);
		exit_common(v);
		return 0;
	}
	for (;;) {
		/* KVM's own window exit is not reliable on every flavour (it
		 * never comes on PVM): single-step while the window is closed. */
		bool step = window && !irq_window_open(v);
		if ((r = entry_idt(v)) < 0 || (r = entry_misc(v)) < 0 ||
		    (r = update_guest_debug(v, step)) < 0)
			return r;
		throttle_wait(v);
		r = kvm_run_once(v, false);
		if (r == -EINTR && v->throttle && !atomic_load(&v->kick))
			continue; /* the throttle's timer, not a kick */
		if (r == -EINTR || r == -EAGAIN) {
			/* A kick, or a stray signal: Apple's spurious return. */
			atomic_store(&v->kick, 0);
			__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			exit_simple(v, VMX_REASON_IRQ);
			exit_common(v);
			return 0;
		}
		if (r == -EINVAL) {
			/* KVM refused the guest state we handed it. */
			v->run->kvm_dirty_regs = 0;
			exit_simple(v, EXIT_FAILED_ENTRY | VMX_REASON_VMENTRY_GUEST);
			return 0;
		}
		if (r < 0)
			return r;
		if (translate(v) == STEP_EXIT)
			break;
	}
	exit_common(v);
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
