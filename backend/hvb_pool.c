/*
 * The VM's pool of KVM vCPUs. KVM cannot destroy a vCPU: a destroyed one
 * waits here with its kvm_run mapping and is reset to the power-on state
 * (captured from the VM's first vCPU) for the next create.
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

static int reset_capture(struct hvb_vm *vm, int fd)
{
	struct hvb_reset *rs = calloc(1, sizeof(*rs));
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
	vm->reset = rs;
	return 0;
}

static int reset_apply(struct hvb_vm *vm, int fd)
{
	struct hvb_reset *rs = vm->reset;
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
	reset_free(vm->reset);
	vm->reset = NULL;
}

int hvb__pool_get(struct hvb_vm *vm, int *fd, struct kvm_run **run)
{
	size_t size = (size_t)vm->host->info.vcpu_mmap_size;
	int r;

	while (vm->nspares) {
		struct hvb_spare sp = vm->spares[--vm->nspares];
		if (reset_apply(vm, sp.fd) == 0) {
			*fd = sp.fd;
			*run = sp.run;
			return 0;
		}
		munmap(sp.run, size);
		close(sp.fd);
	}
	if (vm->next_kvm_id >= vm->host->info.max_vcpu_id)
		return -ENOSPC;
	*fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)vm->next_kvm_id);
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
	if (!vm->reset && (r = reset_capture(vm, *fd)) < 0)
		goto err_run;
	return 0;

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
