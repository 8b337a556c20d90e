/*
 * libhvdirect: Apple's Hypervisor.framework API in-process, on the backend.
 *
 * Apple's API is process-global by design (one VM per process, vCPUs owned
 * by threads), so this layer holds the process's one VM and the vCPU-to-
 * thread table; the backend underneath has no globals. Backend errors
 * (negative errno) become hv_return_t in exactly one place, hv_from_errno.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

#include "hvb.h"
#include "hvs_errmap.h"

/* The one place libhvdirect maps backend errors. */
static hv_return_t hv_from_errno(int err)
{
	return hvs_errno_to_hv(err);
}

struct vcpu_slot {
	struct hvb_vcpu *vcpu;
	pthread_t owner;
};

static struct {
	pthread_mutex_t lock;
	struct hvb_host *host;
	struct hvb_vm *vm;
	struct vcpu_slot vcpus[HVB_MAX_VCPUS];
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	pthread_mutex_lock(&g.lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&g.lock);
}

/* A forked child has no VM (Apple models a VM as its process): drop the
 * child's copies of the parent's objects. */
static void fork_child(void)
{
	if (g.vm)
		hvb_vm_abandon(g.vm);
	if (g.host)
		hvb_host_destroy(g.host);
	memset(g.vcpus, 0, sizeof(g.vcpus));
	g.vm = NULL;
	g.host = NULL;
	pthread_mutex_init(&g.lock, NULL);
}

static void fork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Look up a vCPU the calling thread owns. */
static hv_return_t own_vcpu(hv_vcpuid_t id, struct hvb_vcpu **out)
{
	hv_return_t ret = HV_SUCCESS;
	pthread_mutex_lock(&g.lock);
	if (!g.vm)
		ret = HV_NO_DEVICE;
	else if (id >= HVB_MAX_VCPUS || !g.vcpus[id].vcpu ||
		 !pthread_equal(g.vcpus[id].owner, pthread_self()))
		ret = HV_BAD_ARGUMENT;
	else
		*out = g.vcpus[id].vcpu;
	pthread_mutex_unlock(&g.lock);
	return ret;
}

#define WITH_VCPU(id, v)                             \
	struct hvb_vcpu *v = NULL;                   \
	do {                                         \
		hv_return_t wr_ = own_vcpu((id), &v); \
		if (wr_ != HV_SUCCESS)               \
			return wr_;                  \
	} while (0)

/* ---- VM ---- */

hv_return_t hv_capability(hv_capability_t capability, uint64_t *value)
{
	hv_return_t ret = HV_SUCCESS;
	if (!value)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&g.lock);
	if (!g.host) {
		ret = HV_NO_DEVICE;
	} else if (capability == HV_CAP_VCPUMAX) {
		*value = hvb_host_info(g.host)->max_vcpus;
	} else if (capability == HV_CAP_ADDRSPACEMAX) {
		*value = 1; /* the default space only: KVM has one per VM */
	} else {
		ret = HV_BAD_ARGUMENT;
	}
	pthread_mutex_unlock(&g.lock);
	return ret;
}

hv_return_t hv_vm_create(hv_vm_options_t flags)
{
	const hv_vm_options_t known = HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE |
		HV_VM_MITIGATION_B_ENABLE | HV_VM_MITIGATION_C_ENABLE |
		HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE;
	int r = 0;

	if (flags & HV_VM_ACCEL_APIC)
		return HV_UNSUPPORTED;
	if (flags & ~known)
		return HV_BAD_ARGUMENT;
	pthread_once(&fork_once, fork_register);
	pthread_mutex_lock(&g.lock);
	if (g.vm) {
		r = -EBUSY;
		goto out;
	}
	if (!g.host && (r = hvb_host_create(NULL, &g.host)) < 0) {
		g.host = NULL;
		if (r == -ENOENT)
			r = -ENODEV;
		goto out;
	}
	r = hvb_vm_create(g.host, flags, &g.vm);
	if (r < 0)
		g.vm = NULL;
out:
	pthread_mutex_unlock(&g.lock);
	return hv_from_errno(r);
}

hv_return_t hv_vm_destroy(void)
{
	int r;
	pthread_mutex_lock(&g.lock);
	if (!g.vm) {
		pthread_mutex_unlock(&g.lock);
		return HV_NO_DEVICE;
	}
	r = hvb_vm_destroy(g.vm);
	if (r == 0)
		g.vm = NULL;
	pthread_mutex_unlock(&g.lock);
	return hv_from_errno(r);
}

/* VM-wide calls: the backend locks the VM itself; g.lock only guards the
 * pointer against a concurrent hv_vm_destroy. */
static hv_return_t with_vm(struct hvb_vm **vm)
{
	pthread_mutex_lock(&g.lock);
	*vm = g.vm;
	pthread_mutex_unlock(&g.lock);
	return *vm ? HV_SUCCESS : HV_NO_DEVICE;
}

static uint32_t mem_flags(hv_memory_flags_t f, bool *ok)
{
	*ok = !(f & ~(hv_memory_flags_t)(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
	return (uint32_t)f;
}

hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size,
		      hv_memory_flags_t flags)
{
	struct hvb_vm *vm;
	bool ok;
	uint32_t f = mem_flags(flags, &ok);
	hv_return_t ret = with_vm(&vm);
	if (ret != HV_SUCCESS)
		return ret;
	if (!ok)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vm_map(vm, (void *)(uintptr_t)uva, gpa, size, f));
}

hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size)
{
	struct hvb_vm *vm;
	hv_return_t ret = with_vm(&vm);
	if (ret != HV_SUCCESS)
		return ret;
	return hv_from_errno(hvb_vm_unmap(vm, gpa, size));
}

hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags)
{
	struct hvb_vm *vm;
	bool ok;
	uint32_t f = mem_flags(flags, &ok);
	hv_return_t ret = with_vm(&vm);
	if (ret != HV_SUCCESS)
		return ret;
	if (!ok)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vm_protect(vm, gpa, size, f));
}

hv_return_t hv_vm_sync_tsc(uint64_t tsc)
{
	struct hvb_vm *vm;
	hv_return_t ret = with_vm(&vm);
	if (ret != HV_SUCCESS)
		return ret;
	return hv_from_errno(hvb_vm_sync_tsc(vm, tsc));
}

hv_return_t hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags)
{
	if (!uvap || size == 0 || (size & 4095) || flags != HV_ALLOCATE_DEFAULT)
		return HV_BAD_ARGUMENT;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return HV_NO_RESOURCES;
	*uvap = p;
	return HV_SUCCESS;
}

hv_return_t hv_vm_deallocate(void *uva, size_t size)
{
	if (!uva || ((uintptr_t)uva & 4095) || size == 0 || (size & 4095))
		return HV_BAD_ARGUMENT;
	return munmap(uva, size) == 0 ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

/* ---- vCPU lifecycle ---- */

hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags)
{
	struct hvb_vcpu *v;
	int r;

	if (!vcpu)
		return HV_BAD_ARGUMENT;
	if (flags & HV_VCPU_TSC_RELATIVE)
		return HV_UNSUPPORTED;
	if (flags & ~(hv_vcpu_options_t)HV_VCPU_ACCEL_RDPMC)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&g.lock);
	if (!g.vm) {
		pthread_mutex_unlock(&g.lock);
		return HV_NO_DEVICE;
	}
	/* One vCPU per thread. */
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++) {
		if (g.vcpus[i].vcpu && pthread_equal(g.vcpus[i].owner, pthread_self())) {
			pthread_mutex_unlock(&g.lock);
			return HV_BUSY;
		}
	}
	r = hvb_vcpu_create(g.vm, flags, &v);
	if (r == 0) {
		unsigned id = hvb_vcpu_id(v);
		g.vcpus[id].vcpu = v;
		g.vcpus[id].owner = pthread_self();
		*vcpu = id;
	}
	pthread_mutex_unlock(&g.lock);
	return hv_from_errno(r);
}

hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu)
{
	WITH_VCPU(vcpu, v);
	pthread_mutex_lock(&g.lock);
	g.vcpus[vcpu].vcpu = NULL;
	int r = hvb_vcpu_destroy(v);
	pthread_mutex_unlock(&g.lock);
	return hv_from_errno(r);
}

hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid)
{
	WITH_VCPU(vcpu, v);
	(void)v;
	return asid == HV_VM_SPACE_DEFAULT ? HV_SUCCESS : HV_UNSUPPORTED;
}

/* ---- vCPU state ---- */

hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_read_reg(v, (unsigned)reg, value));
}

hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	return hv_from_errno(hvb_vcpu_write_reg(v, (unsigned)reg, value));
}

hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	WITH_VCPU(vcpu, v);
	if (!buffer)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_read_fpstate(v, buffer, size));
}

hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	WITH_VCPU(vcpu, v);
	if (!buffer)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_write_fpstate(v, buffer, size));
}

hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	WITH_VCPU(vcpu, v);
	return hv_from_errno(hvb_vcpu_enable_native_msr(v, msr, enable));
}

hv_return_t hv_vcpu_enable_managed_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)msr; (void)enable;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_set_msr_access(hv_vcpuid_t vcpu, uint32_t msr, hv_msr_flags_t flags)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)msr; (void)flags;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_read_msr(v, msr, value));
}

hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	return hv_from_errno(hvb_vcpu_write_msr(v, msr, value));
}

hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu)
{
	/* Deprecated in macOS 11; Apple's returns HV_UNSUPPORTED. */
	WITH_VCPU(vcpu, v);
	(void)v;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu)
{
	WITH_VCPU(vcpu, v);
	return hv_from_errno(hvb_vcpu_invalidate_tlb(v));
}

hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu)
{
	WITH_VCPU(vcpu, v);
	return hv_from_errno(hvb_vcpu_run(v));
}

hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline)
{
	WITH_VCPU(vcpu, v);
	/* Deadlines need the VMX preemption timer, which this backend does
	 * not offer (HV_VMX_CAP_PREEMPTION_TIMER reads 0): Apple's answer for
	 * such CPUs is HV_UNSUPPORTED. */
	if (deadline != HV_DEADLINE_FOREVER)
		return HV_UNSUPPORTED;
	return hv_from_errno(hvb_vcpu_run(v));
}

hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count)
{
	hv_return_t ret = HV_SUCCESS;
	if (!vcpus || vcpu_count == 0)
		return HV_BAD_ARGUMENT;
	pthread_mutex_lock(&g.lock);
	if (!g.vm) {
		ret = HV_NO_DEVICE;
		goto out;
	}
	for (unsigned i = 0; i < vcpu_count; i++) {
		if (vcpus[i] >= HVB_MAX_VCPUS || !g.vcpus[vcpus[i]].vcpu) {
			ret = HV_BAD_ARGUMENT;
			goto out;
		}
	}
	for (unsigned i = 0; i < vcpu_count; i++)
		hvb_vcpu_kick(g.vcpus[vcpus[i]].vcpu);
out:
	pthread_mutex_unlock(&g.lock);
	return ret;
}

hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	WITH_VCPU(vcpu, v);
	if (!time)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_exec_time(v, time));
}

hv_return_t hv_vcpu_get_idle_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	WITH_VCPU(vcpu, v);
	(void)v;
	if (!time)
		return HV_BAD_ARGUMENT;
	/* HLT always exits to the client here, so no time is spent idling
	 * inside the hypervisor. */
	*time = 0;
	return HV_SUCCESS;
}

hv_return_t hv_vcpu_set_tsc_relative(hv_vcpuid_t vcpu, int64_t offset)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)offset;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_vmx_status(hv_vcpuid_t vcpu, uint32_t *status)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)status;
	return HV_UNSUPPORTED;
}

/* ---- VMX ---- */

hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_read_vmcs(v, field, value));
}

hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	return hv_from_errno(hvb_vcpu_write_vmcs(v, field, value));
}

hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu, uint32_t field,
					   uint64_t *allowed_0, uint64_t *allowed_1)
{
	WITH_VCPU(vcpu, v);
	if (!allowed_0 || !allowed_1)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vcpu_cap_write_vmcs(v, field, allowed_0, allowed_1));
}

/* Nested VMX (shadow VMCS) needs KVM_CAP_NESTED_STATE, absent here. */
hv_return_t hv_vmx_vcpu_read_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)field; (void)value;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_write_shadow_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)field; (void)value;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_set_shadow_access(hv_vcpuid_t vcpu, uint32_t field,
					  hv_shadow_flags_t flags)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)field; (void)flags;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value)
{
	if (!value)
		return HV_BAD_ARGUMENT;
	return hv_from_errno(hvb_vmx_read_capability(NULL, (unsigned)field, value));
}

hv_return_t hv_vmx_vcpu_set_apic_address(hv_vcpuid_t vcpu, hv_gpaddr_t gpa)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)gpa;
	return HV_UNSUPPORTED;
}

hv_return_t hv_vmx_vcpu_set_apic_address_space(hv_vcpuid_t vcpu, hv_vm_space_t asid,
					       hv_gpaddr_t gpa)
{
	WITH_VCPU(vcpu, v);
	(void)v; (void)asid; (void)gpa;
	return HV_UNSUPPORTED;
}
