/*
 * libhvdirect: Apple's Hypervisor.framework API in-process, on the backend.
 *
 * The front end (api/) holds Apple's process model and checks the
 * arguments; this is its local transport: each call goes to the backend
 * through its ops table (backend/hvb_ops.h). The backend has no globals;
 * this file keeps the one host the process opens with its first VM.
 * Backend errors (negative errno) become hv_return_t in exactly one place,
 * hv_from_errno.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "hva.h"
#include "hvb_ops.h"
#include "hvs_errmap.h"

_Static_assert(HVB_MAX_VCPUS <= HVA_MAX_VCPUS, "backend vCPU ids fit the front end's table");

#define BE (&hvb_x86_ops)

/* The one place libhvdirect maps backend errors. */
static hv_return_t hv_from_errno(int err)
{
	return hvs_errno_to_hv(err);
}

/* The front end's handles are the backend's objects. */
static struct hvb_vm *vm_of(struct hva_vm *vm)
{
	return (struct hvb_vm *)vm;
}

static struct hvb_vcpu *vcpu_of(struct hva_vcpu *vcpu)
{
	return (struct hvb_vcpu *)vcpu;
}

/* Opened by the first hv_vm_create and kept for the process's later VMs;
 * written under the front end's VM lock, read by hv_capability without
 * it. */
static _Atomic(struct hvb_host *) host;

/* ---- VM ---- */

static hv_return_t direct_vm_create(hv_vm_options_t flags, struct hva_vm **out)
{
	struct hvb_host *h = atomic_load(&host);
	struct hvb_vm *vm;
	int r;

	if (!h) {
		if ((r = BE->host_create(NULL, &h)) < 0)
			return hv_from_errno(r == -ENOENT ? -ENODEV : r);
		atomic_store(&host, h);
	}
	r = BE->vm_create(h, flags, &vm);
	if (r == 0)
		*out = (struct hva_vm *)vm;
	return hv_from_errno(r);
}

static hv_return_t direct_vm_destroy(struct hva_vm *vm)
{
	return hv_from_errno(BE->vm_destroy(vm_of(vm)));
}

/* The child's copies of the parent's VM and host, without KVM calls. */
static void direct_fork_child(struct hva_vm *vm)
{
	struct hvb_host *h = atomic_load(&host);
	if (vm)
		BE->vm_abandon(vm_of(vm));
	if (h)
		BE->host_destroy(h);
	atomic_store(&host, NULL);
}

/* Needs the host only, not a VM: it answers after hv_vm_destroy too. */
static hv_return_t direct_capability(struct hva_vm *vm, hv_capability_t cap, uint64_t *value)
{
	struct hvb_host *h = atomic_load(&host);
	(void)vm;
	if (!h)
		return HV_NO_DEVICE;
	if (cap == HV_CAP_VCPUMAX)
		*value = BE->host_info(h)->max_vcpus;
	else if (cap == HV_CAP_ADDRSPACEMAX)
		*value = 1; /* the default space only: KVM has one per VM */
	else
		return HV_BAD_ARGUMENT;
	return HV_SUCCESS;
}

static hv_return_t direct_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value)
{
	return hv_from_errno(BE->x86->read_capability(NULL, (unsigned)field, value));
}

static hv_return_t direct_vm_map(struct hva_vm *vm, void *uva, hv_gpaddr_t gpa, size_t size,
				 hv_memory_flags_t flags)
{
	return hv_from_errno(BE->vm_map(vm_of(vm), uva, gpa, size, (uint32_t)flags));
}

static hv_return_t direct_vm_unmap(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size)
{
	return hv_from_errno(BE->vm_unmap(vm_of(vm), gpa, size));
}

static hv_return_t direct_vm_protect(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size,
				     hv_memory_flags_t flags)
{
	/* The backend checks the flags. */
	return hv_from_errno(BE->vm_protect(vm_of(vm), gpa, size, (uint32_t)flags));
}

static hv_return_t direct_vm_sync_tsc(struct hva_vm *vm, uint64_t tsc)
{
	return hv_from_errno(BE->x86->sync_tsc(vm_of(vm), tsc));
}

/* The caller's own memory is guest memory already: plain anonymous
 * memory. */
static hv_return_t direct_vm_allocate(void **uvap, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return HV_NO_RESOURCES;
	*uvap = p;
	return HV_SUCCESS;
}

static hv_return_t direct_vm_deallocate(void *uva, size_t size)
{
	return munmap(uva, size) == 0 ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

/* ---- vCPUs ---- */

static hv_return_t direct_vcpu_create(struct hva_vm *vm, hv_vcpu_options_t flags,
				      hv_vcpuid_t *id, struct hva_vcpu **out)
{
	struct hvb_vcpu *v;
	int r = BE->vcpu_create(vm_of(vm), flags, &v);
	if (r == 0) {
		*id = BE->vcpu_id(v);
		*out = (struct hva_vcpu *)v;
	}
	return hv_from_errno(r);
}

static hv_return_t direct_vcpu_destroy(struct hva_vcpu *vcpu, bool *gone)
{
	*gone = true;
	return hv_from_errno(BE->vcpu_destroy(vcpu_of(vcpu)));
}

/* Under the VM lock, so none of the vCPUs is destroyed meanwhile. */
static hv_return_t direct_interrupt(struct hva_vm *vm, const hv_vcpuid_t *ids, unsigned n)
{
	(void)vm;
	for (unsigned i = 0; i < n; i++)
		if (!hva_vcpu_lookup(ids[i]))
			return HV_BAD_ARGUMENT;
	for (unsigned i = 0; i < n; i++)
		BE->vcpu_kick(vcpu_of(hva_vcpu_lookup(ids[i])));
	return HV_SUCCESS;
}

static hv_return_t direct_read_reg(struct hva_vcpu *vcpu, hv_x86_reg_t reg, uint64_t *value)
{
	return hv_from_errno(BE->x86->read_reg(vcpu_of(vcpu), (unsigned)reg, value));
}

static hv_return_t direct_write_reg(struct hva_vcpu *vcpu, hv_x86_reg_t reg, uint64_t value)
{
	return hv_from_errno(BE->x86->write_reg(vcpu_of(vcpu), (unsigned)reg, value));
}

static hv_return_t direct_read_vmcs(struct hva_vcpu *vcpu, uint32_t field, uint64_t *value)
{
	return hv_from_errno(BE->x86->read_vmcs(vcpu_of(vcpu), field, value));
}

static hv_return_t direct_write_vmcs(struct hva_vcpu *vcpu, uint32_t field, uint64_t value)
{
	return hv_from_errno(BE->x86->write_vmcs(vcpu_of(vcpu), field, value));
}

static hv_return_t direct_cap_write_vmcs(struct hva_vcpu *vcpu, uint32_t field,
					 uint64_t *allowed_0, uint64_t *allowed_1)
{
	return hv_from_errno(BE->x86->cap_write_vmcs(vcpu_of(vcpu), field, allowed_0, allowed_1));
}

static hv_return_t direct_read_msr(struct hva_vcpu *vcpu, uint32_t msr, uint64_t *value)
{
	return hv_from_errno(BE->x86->read_msr(vcpu_of(vcpu), msr, value));
}

static hv_return_t direct_write_msr(struct hva_vcpu *vcpu, uint32_t msr, uint64_t value)
{
	return hv_from_errno(BE->x86->write_msr(vcpu_of(vcpu), msr, value));
}

static hv_return_t direct_enable_native_msr(struct hva_vcpu *vcpu, uint32_t msr, bool enable)
{
	return hv_from_errno(BE->x86->enable_native_msr(vcpu_of(vcpu), msr, enable));
}

static hv_return_t direct_read_fpstate(struct hva_vcpu *vcpu, void *buffer, size_t size)
{
	return hv_from_errno(BE->x86->read_fpstate(vcpu_of(vcpu), buffer, size));
}

static hv_return_t direct_write_fpstate(struct hva_vcpu *vcpu, const void *buffer, size_t size)
{
	return hv_from_errno(BE->x86->write_fpstate(vcpu_of(vcpu), buffer, size));
}

static hv_return_t direct_invalidate_tlb(struct hva_vcpu *vcpu)
{
	return hv_from_errno(BE->x86->invalidate_tlb(vcpu_of(vcpu)));
}

static hv_return_t direct_exec_time(struct hva_vcpu *vcpu, uint64_t *ns)
{
	return hv_from_errno(BE->vcpu_exec_time(vcpu_of(vcpu), ns));
}

static hv_return_t direct_run(struct hva_vcpu *vcpu)
{
	return hv_from_errno(BE->vcpu_run(vcpu_of(vcpu)));
}

const struct hva_transport hva_transport = {
	/* Each id is checked; there is no message to fill. */
	.max_interrupt = ~0u,

	.vm_open = NULL,
	.vm_create = direct_vm_create,
	.vm_destroy = direct_vm_destroy,
	.fork_child = direct_fork_child,

	.capability = direct_capability,
	.vmx_read_capability = direct_vmx_read_capability,
	.vm_map = direct_vm_map,
	.vm_unmap = direct_vm_unmap,
	.vm_protect = direct_vm_protect,
	.vm_sync_tsc = direct_vm_sync_tsc,
	.vm_allocate = direct_vm_allocate,
	.vm_deallocate = direct_vm_deallocate,

	.vcpu_create = direct_vcpu_create,
	.vcpu_destroy = direct_vcpu_destroy,
	.interrupt = direct_interrupt,

	.read_reg = direct_read_reg,
	.write_reg = direct_write_reg,
	.read_vmcs = direct_read_vmcs,
	.write_vmcs = direct_write_vmcs,
	.cap_write_vmcs = direct_cap_write_vmcs,
	.read_msr = direct_read_msr,
	.write_msr = direct_write_msr,
	.enable_native_msr = direct_enable_native_msr,
	.read_fpstate = direct_read_fpstate,
	.write_fpstate = direct_write_fpstate,
	.invalidate_tlb = direct_invalidate_tlb,
	.exec_time = direct_exec_time,
	.run = direct_run,
};
