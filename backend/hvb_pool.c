/*
 * The VM's pool of KVM vCPUs. KVM cannot destroy a vCPU: a destroyed one
 * waits here with its kvm_run mapping and is reset to the power-on state
 * for the next create.
 *
 * The power-on state is captured once per host, from the host probe's vCPU
 * (hvb_host.c), or else the first KVM vCPU 0 made: every VM's vCPU 0
 * starts in it (KVM's reset values, and what the
 * host's CPUID implies: the same CPUID for every vCPU). A new vCPU 0 then
 * needs no KVM_GET_* calls at all: 14 ioctls of ~7 us each on this host,
 * about a fifth of a warm VM start-up (bench/README.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvb_priv.h"

/* MSRs a reused vCPU gets back at their power-on values. */
static const uint32_t reset_msrs[] = {
	0x174, 0x175, 0x176, 0x277, 0x1a0, 0xc0000081, 0xc0000082, 0xc0000083,
	0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103,
};
#define NRESET_MSRS (sizeof(reset_msrs) / sizeof(reset_msrs[0]))

struct hvb_reset {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	HVB_KVM_MSRS(NRESET_MSRS) *msrs;  /* its own allocation: see HVB_KVM_MSRS */
	struct kvm_xsave xsave;           /* last: it ends in a flexible array */
};

static void reset_free(struct hvb_reset *rs)
{
	if (rs)
		free(rs->msrs);
	free(rs);
}

int hvb__reset_capture(struct hvb_host *host, int fd)
{
	struct hvb_reset *rs = calloc(1, sizeof(*rs)), *none = NULL;
	if (rs)
		rs->msrs = calloc(1, sizeof(*rs->msrs));
	if (!rs || !rs->msrs) {
		reset_free(rs);
		return -ENOMEM;
	}
	rs->msrs->h.nmsrs = NRESET_MSRS;
	for (size_t i = 0; i < NRESET_MSRS; i++)
		rs->msrs->h.entries[i].index = reset_msrs[i];
	if (ioctl(fd, KVM_GET_REGS, &rs->regs) < 0 ||
	    ioctl(fd, KVM_GET_SREGS, &rs->sregs) < 0 ||
	    ioctl(fd, KVM_GET_VCPU_EVENTS, &rs->events) < 0 ||
	    ioctl(fd, KVM_GET_DEBUGREGS, &rs->debugregs) < 0 ||
	    ioctl(fd, KVM_GET_XCRS, &rs->xcrs) < 0 ||
	    ioctl(fd, KVM_GET_XSAVE, &rs->xsave) < 0) {
		int e = -errno;
		reset_free(rs);
		return e;
	}
	int n = ioctl(fd, KVM_GET_MSRS, &rs->msrs->h);
	rs->msrs->h.nmsrs = n > 0 ? (uint32_t)n : 0; /* the ones KVM knows, in order */
	/* Two VMs' first vCPUs may race here: the same state, one kept. */
	if (!atomic_compare_exchange_strong(&host->reset, &none, rs))
		reset_free(rs);
	return 0;
}

/* `st` as the power-on state `rs` has it (hvb_vcpu_create's first look
 * at a vCPU), or false if `rs` lacks one of the cached MSRs. */
static bool reset_fill(const struct hvb_reset *rs, struct hvs_state *st)
{
	st->regs = rs->regs;
	st->sregs = rs->sregs;
	st->events = rs->events;
	for (int i = 0; i < HVS_MSRC_COUNT; i++) {
		uint32_t k;
		for (k = 0; k < rs->msrs->h.nmsrs; k++)
			if (rs->msrs->h.entries[k].index == hvs_msrc_msr(i))
				break;
		if (k == rs->msrs->h.nmsrs)
			return false;
		st->msr[i] = rs->msrs->h.entries[k].data;
	}
	return true;
}

static int reset_apply(struct hvb_reset *rs, int fd)
{
	struct kvm_guest_debug nodebug;
	memset(&nodebug, 0, sizeof(nodebug));
	if (ioctl(fd, KVM_SET_GUEST_DEBUG, &nodebug) < 0 ||
	    ioctl(fd, KVM_SET_REGS, &rs->regs) < 0 ||
	    ioctl(fd, KVM_SET_SREGS, &rs->sregs) < 0 ||
	    ioctl(fd, KVM_SET_VCPU_EVENTS, &rs->events) < 0 ||
	    ioctl(fd, KVM_SET_DEBUGREGS, &rs->debugregs) < 0 ||
	    ioctl(fd, KVM_SET_XCRS, &rs->xcrs) < 0 ||
	    ioctl(fd, KVM_SET_XSAVE, &rs->xsave) < 0)
		return -errno;
	if (rs->msrs->h.nmsrs && ioctl(fd, KVM_SET_MSRS, &rs->msrs->h) < 0)
		return -errno;
	return 0;
}

void hvb__pool_free(struct hvb_vm *vm)
{
	for (unsigned i = 0; i < vm->nspares; i++) {
		munmap(vm->spares[i].run, (size_t)vm->host->info.vcpu_mmap_size);
		close(vm->spares[i].fd);
	}
	vm->nspares = 0;
}

void hvb__reset_free(struct hvb_host *host)
{
	reset_free(atomic_exchange(&host->reset, NULL));
}

int hvb__pool_get(struct hvb_vm *vm, int *fd, struct kvm_run **run, struct hvs_state *st)
{
	size_t size = (size_t)vm->host->info.vcpu_mmap_size;
	struct hvb_reset *rs = atomic_load(&vm->host->reset);
	int r;

	/* A spare exists only after a vCPU was made, so the state is known. */
	while (vm->nspares && rs) {
		struct hvb_spare sp = vm->spares[--vm->nspares];
		if (reset_apply(rs, sp.fd) == 0) {
			*fd = sp.fd;
			*run = sp.run;
			return 0;
		}
		munmap(sp.run, size);
		close(sp.fd);
	}
	if (vm->next_kvm_id >= vm->host->info.max_vcpu_id)
		return -ENOSPC;
	unsigned kvm_id = vm->next_kvm_id;
	*fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)kvm_id);
	if (*fd < 0)
		return -errno;
	vm->next_kvm_id++;
	*run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (*run == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	if (ioctl(*fd, KVM_SET_CPUID2, vm->host->cpuid) < 0) {
		r = -errno;
		goto err_run;
	}
	/* Only vCPU 0 is in the captured state: KVM makes it the boot
	 * processor (the APIC base says so); the others ask KVM. */
	if (kvm_id != 0)
		return 0;
	if (!rs) {
		if ((r = hvb__reset_capture(vm->host, *fd)) < 0)
			goto err_run;
		return 0;
	}
	return reset_fill(rs, st) ? 1 : 0;

err_run:
	munmap(*run, size);
err_fd:
	close(*fd);
	return r;
}

void hvb__pool_put(struct hvb_vm *vm, int fd, struct kvm_run *run)
{
	vm->spares[vm->nspares++] = (struct hvb_spare){ fd, run };
}
