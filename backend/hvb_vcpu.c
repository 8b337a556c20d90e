/*
 * vCPUs: creation (the KVM vCPU comes from the VM's pool, hvb_pool.c),
 * register and VMCS access (the state itself is the VMCS model, vmcs/;
 * debug registers and XCR0 need the vCPU), MSRs, FPU state, guest memory
 * through the vCPU's paging, and the one KVM_RUN with its kick protocol
 * that the run loop (hvb_run.c) and exit translation (hvb_exit.c) use.
 *
 * Guest state lives in kvm_run's sync-regs area, refreshed by KVM at every
 * exit; client writes go there too and are marked dirty, so KVM applies them
 * at the next KVM_RUN. Register and VMCS accesses between runs therefore
 * cost no system call.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_priv.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define EFER_LMA (1ull << 10)


int hvb__msr_get(struct hvb_vcpu *vcpu, uint32_t index, uint64_t *value)
{
	HVB_KVM_MSRS(1) m;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	m.h.entries[0].index = index;

	int r = ioctl(vcpu->fd, KVM_GET_MSRS, &m.h);
	if (r < 0)
		return -errno;
	if (r != 1)
		return -EINVAL;
	*value = m.h.entries[0].data;
	return 0;
}

int hvb__msr_set(struct hvb_vcpu *vcpu, uint32_t index, uint64_t value)
{
	HVB_KVM_MSRS(1) m;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	m.h.entries[0].index = index;
	m.h.entries[0].data = value;

	int r = ioctl(vcpu->fd, KVM_SET_MSRS, &m.h);
	if (r < 0)
		return -errno;
	if (r != 1)
		return -EINVAL;
	return 0;
}

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
	vcpu->run_size = (size_t)vm->host->info.vcpu_mmap_size;
	struct hvs_state *st = &vcpu->st;
	if ((r = hvb__pool_get(vm, &vcpu->fd, &vcpu->run, st)) < 0)
		goto err_unlock;

	/* The API state starts as KVM's reset state (known already, or
	 * asked); from now on KVM's sync-regs area is exchanged with it at
	 * every entry and exit. */
	if (r == 0 &&
	    (ioctl(vcpu->fd, KVM_GET_REGS, &st->regs) < 0 ||
	     ioctl(vcpu->fd, KVM_GET_SREGS, &st->sregs) < 0 ||
	     ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)) {
		r = -errno;
		goto err_vcpu;
	}
	for (int i = 0; r == 0 && i < HVS_MSRC_COUNT; i++) {
		if ((r = hvb__msr_get(vcpu, hvs_msrc_msr(i), &st->msr[i])) < 0)
			goto err_vcpu;
	}
	vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS |
				    KVM_SYNC_X86_EVENTS;
	vcpu->run->kvm_dirty_regs = 0;
	vcpu->run->immediate_exit = 0;
	hvs_init_ctls(&st->c);
	vcpu->tsc_gen = atomic_load(&vm->tsc_gen);

	vm->vcpus[id] = vcpu;
	vm->nvcpus++;
	r = hvb__vm_update_msr_filter(vm);
	if (r < 0) {
		vm->vcpus[id] = NULL;
		vm->nvcpus--;
		goto err_vcpu;
	}
	pthread_mutex_unlock(&vm->lock);
	*out = vcpu;
	return 0;

err_vcpu:
	/* Back to the pool: the KVM vCPU itself is fine. */
	hvb__pool_put(vm, vcpu->fd, vcpu->run);
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
	hvb__pool_put(vm, vcpu->fd, vcpu->run);
	(void)hvb__vm_update_msr_filter(vm);
	pthread_mutex_unlock(&vm->lock);
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
	int r = hvs_read_reg(&vcpu->st, reg, value);
	if (r != -EAGAIN)
		return r;
	if (reg == HV_X86_XCR0)
		return xcr0_rw(vcpu, value, false);
	return debugregs_rw(vcpu, reg, value, false);
}

int hvb_vcpu_write_reg(struct hvb_vcpu *vcpu, unsigned reg, uint64_t value)
{
	int r = hvs_write_reg(&vcpu->st, reg, value);
	if (r != -EAGAIN)
		return r;
	if (reg == HV_X86_XCR0)
		return xcr0_rw(vcpu, &value, true);
	return debugregs_rw(vcpu, reg, &value, true);
}

int hvb_vcpu_read_vmcs(struct hvb_vcpu *vcpu, uint32_t field, uint64_t *value)
{
	int r = hvs_read_vmcs(&vcpu->st, field, value);
	if (r != -EAGAIN)
		return r;
	return debugregs_rw(vcpu, HV_X86_DR7, value, false);
}

int hvb_vcpu_write_vmcs(struct hvb_vcpu *vcpu, uint32_t field, uint64_t value)
{
	int r = hvs_write_vmcs(&vcpu->st, field, value);
	if (r != -EAGAIN)
		return r;
	return debugregs_rw(vcpu, HV_X86_DR7, &value, true);
}

int hvb_vcpu_cap_write_vmcs(struct hvb_vcpu *vcpu, uint32_t field,
			    uint64_t *allowed0, uint64_t *allowed1)
{
	return hvs_cap_write_vmcs(&vcpu->st, field, allowed0, allowed1);
}

int hvb_vmx_read_capability(const struct hvb_host *host, unsigned cap,
			    uint64_t *value)
{
	(void)host;
	return hvs_caps_read(cap, value);
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
	int i = hvs_msrc_index(msr);
	if (msr == 0xc0000080) {
		*value = vcpu->st.sregs.efer;
		return 0;
	}
	if (i >= 0 && !is_native(vcpu, msr)) {
		*value = vcpu->st.msr[i];
		return 0;
	}
	return hvb__msr_get(vcpu, msr, value);
}

int hvb_vcpu_write_msr(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t value)
{
	int i = hvs_msrc_index(msr);
	if (msr == 0xc0000080)
		return hvb_vcpu_write_vmcs(vcpu, VMCS_GUEST_IA32_EFER, value);
	if (i >= 0) {
		int r = hvb__msr_set(vcpu, msr, value);
		if (r == 0) {
			vcpu->st.msr[i] = value;
			vcpu->st.msr_dirty &= ~(1u << i);
		}
		return r;
	}
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

void hvb_vcpu_import(struct hvb_vcpu *vcpu, const struct hvs_state *client)
{
	struct hvs_state *st = &vcpu->st;
	uint32_t dirty = client->dirty & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS |
					  KVM_SYNC_X86_EVENTS);

	if (dirty & KVM_SYNC_X86_REGS)
		st->regs = client->regs;
	if (dirty & KVM_SYNC_X86_SREGS)
		st->sregs = client->sregs;
	if (dirty & KVM_SYNC_X86_EVENTS)
		st->events = client->events;
	st->dirty |= dirty;
	for (int i = 0; i < HVS_MSRC_COUNT; i++) {
		if (client->msr_dirty & (1u << i)) {
			st->msr[i] = client->msr[i];
			st->msr_dirty |= 1u << i;
		}
	}
	st->cr4_vmxe = client->cr4_vmxe != 0;
	/* While the hidden IVT is in place the client's IDTR lives here;
	 * otherwise it is part of sregs. Whether it is hidden is ours. */
	if (st->idt_hidden) {
		st->idt_base = client->idt_base;
		st->idt_limit = client->idt_limit;
	}
	st->c = client->c;
	hvs_clamp_ctls(&st->c);
}

void hvb_vcpu_export(const struct hvb_vcpu *vcpu, struct hvs_state *out)
{
	*out = vcpu->st;
}

int hvb_vcpu_exec_time(struct hvb_vcpu *vcpu, uint64_t *ns)
{
	/* Any thread may ask while the vCPU's own thread adds to it. */
	*ns = __atomic_load_n(&vcpu->exec_ns, __ATOMIC_RELAXED);
	return 0;
}

int hvb_vcpu_invalidate_tlb(struct hvb_vcpu *vcpu)
{
	/* KVM has no TLB-flush ioctl; a CR3 load that differs from the current
	 * one resets the vCPU's MMU context, and loading it back restores the
	 * guest's value with fresh translations. */
	struct kvm_sregs s = vcpu->st.sregs;
	if (vcpu->st.dirty & KVM_SYNC_X86_SREGS)
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

/* ---- entering KVM, kicking and throttling ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * One KVM_RUN. Returns 0 or a negative errno from the ioctl. Accounts the
 * time as guest execution time and keeps the kick protocol: a kick that
 * arrives at any point makes this (or the next) KVM_RUN return -EINTR.
 */
int hvb__kvm_run_once(struct hvb_vcpu *v, bool flush)
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

int hvb_vcpu_prepare(struct hvb_vcpu *vcpu)
{
	/* A new vCPU has nothing pending: this only enters and leaves KVM. */
	return hvb__flush(vcpu);
}

/*
 * Finish a pending I/O, MMIO or MSR completion inside KVM without running
 * guest code; sync regs are refreshed by it.
 */
int hvb__flush(struct hvb_vcpu *v)
{
	int r = hvb__kvm_run_once(v, true);
	if (r == -EINTR)
		return 0;
	if (r == 0) {
		hvb__log("vcpu %u: completion flush ran the guest", v->id);
		return -EIO;
	}
	return r;
}

void hvb_vcpu_set_throttle(struct hvb_vcpu *vcpu, hvb_throttle_fn fn, void *ctx)
{
	vcpu->throttle = fn;
	vcpu->throttle_ctx = ctx;
}

int hvb_vcpu_kick(struct hvb_vcpu *vcpu)
{
	atomic_store(&vcpu->kick, 1);
	/* Close the race with a vCPU thread that is about to enter: KVM checks
	 * immediate_exit after entering the ioctl. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&vcpu->in_run))
		pthread_kill(atomic_load(&vcpu->thread), hvb_kick_signal());
	/* A vCPU in the HLT activity state sleeps on the kick word. */
	syscall(SYS_futex, &vcpu->kick, FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}
