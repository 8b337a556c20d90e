/*
 * vCPUs: creation, registers, MSRs, FPU state, and the run loop that turns
 * KVM exits into VMX exits (kvm-notes.md §1-§8).
 *
 * Guest state lives in kvm_run's sync-regs area, refreshed by KVM at every
 * exit; client writes go there too and are marked dirty, so KVM applies them
 * at the next KVM_RUN. Register and VMCS accesses between runs therefore
 * cost no system call. Exits whose instruction KVM has not finished (IN,
 * MMIO reads, RDMSR/WRMSR) are "flushed" with immediate_exit and then
 * rewound to the instruction, so the client emulates it exactly as with VMX.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_priv.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define EFER_LMA (1ull << 10)

int hvb__msr_get(struct hvb_vcpu *vcpu, uint32_t index, uint64_t *value);
int hvb__msr_set(struct hvb_vcpu *vcpu, uint32_t index, uint64_t value);

/* ---- creation ---- */

int hvb_vcpu_create(struct hvb_vm *vm, uint64_t options, struct hvb_vcpu **out)
{
	struct hvb_vcpu *vcpu;
	unsigned id;
	int r;

	(void)options;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;

	pthread_mutex_lock(&vm->lock);
	for (id = 0; id < vm->host->info.max_vcpus && vm->vcpus[id]; id++)
		;
	if (id >= vm->host->info.max_vcpus) {
		r = -ENOSPC;
		goto err_unlock;
	}
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		r = -errno;
		goto err_unlock;
	}
	vcpu->run_size = (size_t)vm->host->info.vcpu_mmap_size;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, vm->host->cpuid) < 0) {
		r = -errno;
		goto err_run;
	}
	/* Fill the sync-regs area once; from now on KVM refreshes it at
	 * every exit. */
	struct kvm_sync_regs *sr = &vcpu->run->s.regs;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &sr->regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sr->sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &sr->events) < 0) {
		r = -errno;
		goto err_run;
	}
	vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS |
				    KVM_SYNC_X86_EVENTS;
	vcpu->run->kvm_dirty_regs = 0;
	hvb__ctls_init(&vcpu->c);
	vcpu->cr0 = sr->sregs.cr0;
	vcpu->cr4 = sr->sregs.cr4;
	vcpu->tsc_gen = atomic_load(&vm->tsc_gen);

	vm->vcpus[id] = vcpu;
	vm->nvcpus++;
	r = hvb__vm_update_msr_filter(vm);
	if (r < 0) {
		vm->vcpus[id] = NULL;
		vm->nvcpus--;
		goto err_run;
	}
	pthread_mutex_unlock(&vm->lock);
	*out = vcpu;
	return 0;

err_run:
	munmap(vcpu->run, vcpu->run_size);
err_fd:
	close(vcpu->fd);
err_unlock:
	pthread_mutex_unlock(&vm->lock);
	free(vcpu);
	return r;
}

int hvb_vcpu_destroy(struct hvb_vcpu *vcpu)
{
	struct hvb_vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->lock);
	vm->vcpus[vcpu->id] = NULL;
	vm->nvcpus--;
	(void)hvb__vm_update_msr_filter(vm);
	pthread_mutex_unlock(&vm->lock);
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
	return 0;
}

unsigned hvb_vcpu_id(const struct hvb_vcpu *vcpu)
{
	return vcpu->id;
}

/* ---- guest memory through the vCPU's eyes ---- */

enum hvb_cpu_mode hvb__cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & CR0_PE))
		return HVB_MODE_REAL;
	if ((s->efer & EFER_LMA) && s->cs.l)
		return HVB_MODE_LONG64;
	return s->cs.db ? HVB_MODE_PROT32 : HVB_MODE_PROT16;
}

static int read_pte(struct hvb_vm *vm, uint64_t gpa, bool wide, uint64_t *pte)
{
	if (wide)
		return hvb_vm_read_phys(vm, gpa, pte, 8);
	uint32_t v;
	int r = hvb_vm_read_phys(vm, gpa, &v, 4);
	*pte = v;
	return r;
}

int hvb__gla_to_gpa(struct hvb_vcpu *vcpu, uint64_t gla, bool write,
		    uint64_t *gpa)
{
	struct kvm_sregs *s = &vcpu->run->s.regs.sregs;
	struct hvb_vm *vm = vcpu->vm;
	const uint64_t addr_mask = 0x000ffffffffff000ull;
	uint64_t pte;
	int r;

	(void)write;
	if (!(s->cr0 & CR0_PG)) {
		*gpa = (s->efer & EFER_LMA) ? gla : (gla & 0xffffffffull);
		return 0;
	}
	if (s->efer & EFER_LMA) {
		uint64_t table = s->cr3 & addr_mask;
		for (int level = 3; level >= 0; level--) {
			unsigned idx = (gla >> (12 + 9 * level)) & 0x1ff;
			if ((r = read_pte(vm, table + 8 * idx, true, &pte)) < 0)
				return r;
			if (!(pte & 1))
				return -EFAULT;
			if (level > 0 && level < 3 && (pte & 0x80)) {
				uint64_t span = 1ull << (12 + 9 * level);
				*gpa = (pte & addr_mask & ~(span - 1)) | (gla & (span - 1));
				return 0;
			}
			table = pte & addr_mask;
		}
		*gpa = table | (gla & 0xfff);
		return 0;
	}
	gla &= 0xffffffffull;
	if (s->cr4 & CR4_PAE) {
		uint64_t pdpt = s->cr3 & 0xffffffe0ull;
		if ((r = read_pte(vm, pdpt + 8 * (gla >> 30), true, &pte)) < 0)
			return r;
		if (!(pte & 1))
			return -EFAULT;
		uint64_t pd = pte & addr_mask;
		if ((r = read_pte(vm, pd + 8 * ((gla >> 21) & 0x1ff), true, &pte)) < 0)
			return r;
		if (!(pte & 1))
			return -EFAULT;
		if (pte & 0x80) {
			*gpa = (pte & addr_mask & ~0x1fffffull) | (gla & 0x1fffff);
			return 0;
		}
		uint64_t pt = pte & addr_mask;
		if ((r = read_pte(vm, pt + 8 * ((gla >> 12) & 0x1ff), true, &pte)) < 0)
			return r;
		if (!(pte & 1))
			return -EFAULT;
		*gpa = (pte & addr_mask) | (gla & 0xfff);
		return 0;
	}
	uint64_t pd = s->cr3 & 0xfffff000ull;
	if ((r = read_pte(vm, pd + 4 * (gla >> 22), false, &pte)) < 0)
		return r;
	if (!(pte & 1))
		return -EFAULT;
	if ((pte & 0x80) && (s->cr4 & CR4_PSE)) {
		*gpa = (pte & 0xffc00000ull) | (gla & 0x3fffff);
		return 0;
	}
	uint64_t pt = pte & 0xfffff000ull;
	if ((r = read_pte(vm, pt + 4 * ((gla >> 12) & 0x3ff), false, &pte)) < 0)
		return r;
	if (!(pte & 1))
		return -EFAULT;
	*gpa = (pte & 0xfffff000ull) | (gla & 0xfff);
	return 0;
}

/* Read `len` bytes at a linear address, page by page. Returns the number of
 * bytes read before the first unreadable page, or a negative errno if none. */
int hvb__read_linear(struct hvb_vcpu *vcpu, uint64_t gla, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		uint64_t gpa;
		size_t chunk = 4096 - ((gla + done) & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		if (hvb__gla_to_gpa(vcpu, gla + done, false, &gpa) < 0 ||
		    hvb_vm_read_phys(vcpu->vm, gpa, p + done, chunk) < 0)
			break;
		done += chunk;
	}
	return done ? (int)done : -EFAULT;
}

/* ---- registers ---- */

static __u64 *gpr_ptr(struct kvm_regs *regs, unsigned reg)
{
	switch (reg) {
	case HV_X86_RAX: return &regs->rax;
	case HV_X86_RCX: return &regs->rcx;
	case HV_X86_RDX: return &regs->rdx;
	case HV_X86_RBX: return &regs->rbx;
	case HV_X86_RSI: return &regs->rsi;
	case HV_X86_RDI: return &regs->rdi;
	case HV_X86_RBP: return &regs->rbp;
	case HV_X86_R8: return &regs->r8;
	case HV_X86_R9: return &regs->r9;
	case HV_X86_R10: return &regs->r10;
	case HV_X86_R11: return &regs->r11;
	case HV_X86_R12: return &regs->r12;
	case HV_X86_R13: return &regs->r13;
	case HV_X86_R14: return &regs->r14;
	case HV_X86_R15: return &regs->r15;
	default: return NULL;
	}
}

/* Registers that are VMCS fields under another name. */
static uint32_t reg_field(unsigned reg)
{
	switch (reg) {
	case HV_X86_RIP: return VMCS_GUEST_RIP;
	case HV_X86_RFLAGS: return VMCS_GUEST_RFLAGS;
	case HV_X86_RSP: return VMCS_GUEST_RSP;
	case HV_X86_CS: return VMCS_GUEST_CS;
	case HV_X86_SS: return VMCS_GUEST_SS;
	case HV_X86_DS: return VMCS_GUEST_DS;
	case HV_X86_ES: return VMCS_GUEST_ES;
	case HV_X86_FS: return VMCS_GUEST_FS;
	case HV_X86_GS: return VMCS_GUEST_GS;
	case HV_X86_IDT_BASE: return VMCS_GUEST_IDTR_BASE;
	case HV_X86_IDT_LIMIT: return VMCS_GUEST_IDTR_LIMIT;
	case HV_X86_GDT_BASE: return VMCS_GUEST_GDTR_BASE;
	case HV_X86_GDT_LIMIT: return VMCS_GUEST_GDTR_LIMIT;
	case HV_X86_LDTR: return VMCS_GUEST_LDTR;
	case HV_X86_LDT_BASE: return VMCS_GUEST_LDTR_BASE;
	case HV_X86_LDT_LIMIT: return VMCS_GUEST_LDTR_LIMIT;
	case HV_X86_LDT_AR: return VMCS_GUEST_LDTR_AR;
	case HV_X86_TR: return VMCS_GUEST_TR;
	case HV_X86_TSS_BASE: return VMCS_GUEST_TR_BASE;
	case HV_X86_TSS_LIMIT: return VMCS_GUEST_TR_LIMIT;
	case HV_X86_TSS_AR: return VMCS_GUEST_TR_AR;
	case HV_X86_CR0: return VMCS_GUEST_CR0;
	case HV_X86_CR3: return VMCS_GUEST_CR3;
	case HV_X86_CR4: return VMCS_GUEST_CR4;
	case HV_X86_DR7: return VMCS_GUEST_DR7;
	default: return 0;
	}
}

static int debugregs_rw(struct hvb_vcpu *vcpu, unsigned reg, uint64_t *value,
			bool write)
{
	struct kvm_debugregs d;
	__u64 *slot;
	if (ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &d) < 0)
		return -errno;
	switch (reg) {
	case HV_X86_DR0: slot = &d.db[0]; break;
	case HV_X86_DR1: slot = &d.db[1]; break;
	case HV_X86_DR2: slot = &d.db[2]; break;
	case HV_X86_DR3: slot = &d.db[3]; break;
	case HV_X86_DR4: /* DR4/DR5 alias DR6/DR7 with CR4.DE clear */
	case HV_X86_DR6: slot = &d.dr6; break;
	default: slot = &d.dr7; break;
	}
	if (!write) {
		*value = *slot;
		return 0;
	}
	*slot = *value;
	if (ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &d) < 0)
		return -errno;
	return 0;
}

static int xcr0_rw(struct hvb_vcpu *vcpu, uint64_t *value, bool write)
{
	struct kvm_xcrs x;
	if (ioctl(vcpu->fd, KVM_GET_XCRS, &x) < 0)
		return -errno;
	for (uint32_t i = 0; i < x.nr_xcrs; i++) {
		if (x.xcrs[i].xcr != 0)
			continue;
		if (!write) {
			*value = x.xcrs[i].value;
			return 0;
		}
		x.xcrs[i].value = *value;
		if (ioctl(vcpu->fd, KVM_SET_XCRS, &x) < 0)
			return -errno;
		return 0;
	}
	return -ENOTSUP;
}

int hvb_vcpu_read_reg(struct hvb_vcpu *vcpu, unsigned reg, uint64_t *value)
{
	struct kvm_sync_regs *sr = &vcpu->run->s.regs;
	__u64 *g = gpr_ptr(&sr->regs, reg);
	uint32_t field;

	if (g) {
		*value = *g;
		return 0;
	}
	if ((field = reg_field(reg)))
		return hvb_vcpu_read_vmcs(vcpu, field, value);
	switch (reg) {
	case HV_X86_CR1: *value = 0; return 0;
	case HV_X86_CR2: *value = sr->sregs.cr2; return 0;
	case HV_X86_TPR: *value = sr->sregs.cr8; return 0;
	case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3:
	case HV_X86_DR4: case HV_X86_DR5: case HV_X86_DR6:
		return debugregs_rw(vcpu, reg, value, false);
	case HV_X86_XCR0: return xcr0_rw(vcpu, value, false);
	default: return -EINVAL;
	}
}

int hvb_vcpu_write_reg(struct hvb_vcpu *vcpu, unsigned reg, uint64_t value)
{
	struct kvm_sync_regs *sr = &vcpu->run->s.regs;
	__u64 *g = gpr_ptr(&sr->regs, reg);
	uint32_t field;

	if (g) {
		*g = value;
		vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	if ((field = reg_field(reg)))
		return hvb_vcpu_write_vmcs(vcpu, field, value);
	switch (reg) {
	case HV_X86_CR1: return 0;
	case HV_X86_CR2:
		sr->sregs.cr2 = value;
		vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
		return 0;
	case HV_X86_TPR:
		if (value > 15)
			return -EINVAL;
		sr->sregs.cr8 = value;
		vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
		return 0;
	case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3:
	case HV_X86_DR4: case HV_X86_DR5: case HV_X86_DR6:
		return debugregs_rw(vcpu, reg, &value, true);
	case HV_X86_XCR0: return xcr0_rw(vcpu, &value, true);
	default: return -EINVAL;
	}
}

/* ---- MSRs, FPU, time ---- */

static bool is_native(const struct hvb_vcpu *vcpu, uint32_t msr)
{
	for (unsigned i = 0; i < vcpu->nnative; i++)
		if (vcpu->native_msrs[i] == msr)
			return true;
	return false;
}

int hvb_vcpu_read_msr(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t *value)
{
	/* EFER lives in sregs: keep one source of truth. */
	if (msr == 0xc0000080) {
		*value = vcpu->run->s.regs.sregs.efer;
		return 0;
	}
	return hvb__msr_get(vcpu, msr, value);
}

int hvb_vcpu_write_msr(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t value)
{
	if (msr == 0xc0000080)
		return hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_IA32_EFER, value);
	return hvb__msr_set(vcpu, msr, value);
}

int hvb_vcpu_enable_native_msr(struct hvb_vcpu *vcpu, uint32_t msr, bool on)
{
	struct hvb_vm *vm = vcpu->vm;
	uint64_t probe;
	int r = 0;

	/* Only MSRs KVM implements can be native. */
	if (on && hvb__msr_get(vcpu, msr, &probe) < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (on && !is_native(vcpu, msr)) {
		if (vcpu->nnative >= HVB_MAX_NATIVE_MSRS) {
			r = -ENOSPC;
			goto out;
		}
		vcpu->native_msrs[vcpu->nnative++] = msr;
	} else if (!on) {
		for (unsigned i = 0; i < vcpu->nnative; i++) {
			if (vcpu->native_msrs[i] == msr) {
				vcpu->native_msrs[i] = vcpu->native_msrs[--vcpu->nnative];
				break;
			}
		}
	}
	r = hvb__vm_update_msr_filter(vm);
out:
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int hvb_vcpu_read_fpstate(struct hvb_vcpu *vcpu, void *buf, size_t size)
{
	struct kvm_xsave x;
	if (size < 512)
		return -EINVAL;
	if (ioctl(vcpu->fd, KVM_GET_XSAVE, &x) < 0)
		return -errno;
	memset(buf, 0, size);
	memcpy(buf, x.region, size < sizeof(x.region) ? size : sizeof(x.region));
	return 0;
}

int hvb_vcpu_write_fpstate(struct hvb_vcpu *vcpu, const void *buf, size_t size)
{
	struct kvm_xsave x;
	if (size < 512)
		return -EINVAL;
	/* A short buffer replaces the leading part of the state only. */
	if (ioctl(vcpu->fd, KVM_GET_XSAVE, &x) < 0)
		return -errno;
	memcpy(x.region, buf, size < sizeof(x.region) ? size : sizeof(x.region));
	if (ioctl(vcpu->fd, KVM_SET_XSAVE, &x) < 0)
		return -errno;
	return 0;
}

int hvb_vcpu_exec_time(struct hvb_vcpu *vcpu, uint64_t *ns)
{
	*ns = vcpu->exec_ns;
	return 0;
}

int hvb_vcpu_invalidate_tlb(struct hvb_vcpu *vcpu)
{
	/* KVM has no TLB-flush ioctl; a CR3 load that differs from the current
	 * one resets the vCPU's MMU context, and loading it back restores the
	 * guest's value with fresh translations. */
	struct kvm_sregs s = vcpu->run->s.regs.sregs;
	if (vcpu->run->kvm_dirty_regs & KVM_SYNC_X86_SREGS)
		return 0; /* the pending sregs write resets it anyway */
	if (!(s.cr0 & CR0_PG))
		return 0;
	uint64_t cr3 = s.cr3;
	s.cr3 = cr3 ^ 0x1000;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	s.cr3 = cr3;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	return 0;
}

/* ---- kicking ---- */

int hvb_vcpu_kick(struct hvb_vcpu *vcpu)
{
	atomic_store(&vcpu->kick, 1);
	/* Close the race with a vCPU thread that is about to enter: KVM checks
	 * immediate_exit after entering the ioctl. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&vcpu->in_run))
		pthread_kill(atomic_load(&vcpu->thread), hvb_kick_signal());
	return 0;
}
