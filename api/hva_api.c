/*
 * Apple's API entry points: the checks of arguments and of the process's
 * state, then the transport (hva.h). One copy for libhvclient and
 * libhvdirect, so both answer a call the same way up to the transport;
 * where they used to check in a different order, libhvdirect's order is
 * kept (argument checks first).
 */
#include "hva_priv.h"

#define T (&hva_transport)

/* The calling thread's vCPU `id` as `v`, or return the error. */
#define WITH_VCPU(id, v)                              \
	struct hva_vcpu *v = NULL;                    \
	do {                                          \
		hv_return_t wr_ = hva__own((id), &v); \
		if (wr_ != HV_SUCCESS)                \
			return wr_;                   \
	} while (0)

/* The process's VM as `vm`, or HV_NO_DEVICE. */
#define WITH_VM(vm)                               \
	struct hva_vm *vm = hva__vm();            \
	do {                                      \
		if (!vm)                          \
			return HV_NO_DEVICE;      \
	} while (0)

static bool memory_flags_ok(hv_memory_flags_t flags)
{
	return !(flags & ~(hv_memory_flags_t)(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
}

/* ---- VM ---- */

hv_return_t hv_capability(hv_capability_t capability, uint64_t *value)
{
	if (!value)
		return HV_BAD_ARGUMENT;
	return T->capability(hva__vm(), capability, value);
}

hv_return_t hv_vm_create(hv_vm_options_t flags)
{
	const hv_vm_options_t known = HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE |
		HV_VM_MITIGATION_B_ENABLE | HV_VM_MITIGATION_C_ENABLE |
		HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE;
	hv_return_t ret;

	if (flags & HV_VM_ACCEL_APIC)
		return HV_UNSUPPORTED;
	if (flags & ~known)
		return HV_BAD_ARGUMENT;
	hva__fork_register();
	if (T->vm_open && (ret = T->vm_open()) != HV_SUCCESS)
		return ret;
	hva__lock();
	if (hva__vm_locked()) {
		ret = HV_BUSY;
	} else {
		struct hva_vm *vm = NULL;
		ret = T->vm_create(flags, &vm);
		if (ret == HV_SUCCESS)
			hva__vm_set(vm);
	}
	hva__unlock();
	return ret;
}

hv_return_t hv_vm_destroy(void)
{
	hv_return_t ret;
	hva__lock();
	struct hva_vm *vm = hva__vm_locked();
	if (!vm) {
		ret = HV_NO_DEVICE;
	} else {
		ret = T->vm_destroy(vm);
		if (ret == HV_SUCCESS)
			hva__vm_set(NULL);
	}
	hva__unlock();
	return ret;
}

hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags)
{
	WITH_VM(vm);
	if (!memory_flags_ok(flags))
		return HV_BAD_ARGUMENT;
	if ((gpa & 4095) || gpa + size < gpa)
		return HV_BAD_ARGUMENT;
	return T->vm_map(vm, (void *)(uintptr_t)uva, gpa, size, flags);
}

hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size)
{
	WITH_VM(vm);
	return T->vm_unmap(vm, gpa, size);
}

hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags)
{
	WITH_VM(vm);
	return T->vm_protect(vm, gpa, size, flags);
}

hv_return_t hv_vm_sync_tsc(uint64_t tsc)
{
	WITH_VM(vm);
	return T->vm_sync_tsc(vm, tsc);
}

hv_return_t hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags)
{
	if (!uvap || size == 0 || (size & 4095) || flags != HV_ALLOCATE_DEFAULT)
		return HV_BAD_ARGUMENT;
	return T->vm_allocate(uvap, size);
}

hv_return_t hv_vm_deallocate(void *uva, size_t size)
{
	if (!uva || ((uintptr_t)uva & 4095) || size == 0 || (size & 4095))
		return HV_BAD_ARGUMENT;
	return T->vm_deallocate(uva, size);
}

/* ---- vCPU lifecycle ---- */

hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags)
{
	hv_return_t ret;

	if (!vcpu)
		return HV_BAD_ARGUMENT;
	if (flags & HV_VCPU_TSC_RELATIVE)
		return HV_UNSUPPORTED;
	if (flags & ~(hv_vcpu_options_t)HV_VCPU_ACCEL_RDPMC)
		return HV_BAD_ARGUMENT;
	hva__lock();
	struct hva_vm *vm = hva__vm_locked();
	if (!vm) {
		ret = HV_NO_DEVICE;
	} else if (hva__thread_has_vcpu()) {
		ret = HV_BUSY; /* one vCPU per thread */
	} else {
		struct hva_vcpu *v = NULL;
		hv_vcpuid_t id = 0;
		ret = T->vcpu_create(vm, flags, &id, &v);
		if (ret == HV_SUCCESS) {
			hva__vcpu_add(id, v);
			*vcpu = id;
		}
	}
	hva__unlock();
	return ret;
}

hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu)
{
	WITH_VCPU(vcpu, v);
	bool gone = false;
	hva__lock();
	hv_return_t ret = T->vcpu_destroy(v, &gone);
	if (gone)
		hva__vcpu_remove(vcpu);
	hva__unlock();
	return ret;
}

hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid)
{
	WITH_VCPU(vcpu, v);
	(void)v;
	return asid == HV_VM_SPACE_DEFAULT ? HV_SUCCESS : HV_UNSUPPORTED;
}

/* ---- registers and VMCS ---- */

hv_return_t hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	return T->read_reg(v, reg, value);
}

hv_return_t hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	return T->write_reg(v, reg, value);
}

hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	return T->read_vmcs(v, field, value);
}

hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	return T->write_vmcs(v, field, value);
}

hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu, uint32_t field,
					   uint64_t *allowed_0, uint64_t *allowed_1)
{
	WITH_VCPU(vcpu, v);
	if (!allowed_0 || !allowed_1)
		return HV_BAD_ARGUMENT;
	return T->cap_write_vmcs(v, field, allowed_0, allowed_1);
}

hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value)
{
	if (!value)
		return HV_BAD_ARGUMENT;
	return T->vmx_read_capability(field, value);
}

/* ---- MSRs, FPU state, TLB, time ---- */

hv_return_t hv_vcpu_read_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t *value)
{
	WITH_VCPU(vcpu, v);
	if (!value)
		return HV_BAD_ARGUMENT;
	return T->read_msr(v, msr, value);
}

hv_return_t hv_vcpu_write_msr(hv_vcpuid_t vcpu, uint32_t msr, uint64_t value)
{
	WITH_VCPU(vcpu, v);
	return T->write_msr(v, msr, value);
}

hv_return_t hv_vcpu_enable_native_msr(hv_vcpuid_t vcpu, uint32_t msr, bool enable)
{
	WITH_VCPU(vcpu, v);
	return T->enable_native_msr(v, msr, enable);
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

/* Apple's buffer holds at least the legacy 512-byte FXSAVE area. */
hv_return_t hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	WITH_VCPU(vcpu, v);
	if (!buffer || size < 512)
		return HV_BAD_ARGUMENT;
	return T->read_fpstate(v, buffer, size);
}

hv_return_t hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size)
{
	WITH_VCPU(vcpu, v);
	if (!buffer || size < 512)
		return HV_BAD_ARGUMENT;
	return T->write_fpstate(v, buffer, size);
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
	return T->invalidate_tlb(v);
}

hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time)
{
	WITH_VCPU(vcpu, v);
	if (!time)
		return HV_BAD_ARGUMENT;
	return T->exec_time(v, time);
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

/* ---- running ---- */

hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu)
{
	WITH_VCPU(vcpu, v);
	return T->run(v);
}

hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline)
{
	WITH_VCPU(vcpu, v);
	/* Deadlines need the VMX preemption timer, which neither transport
	 * offers (HV_VMX_CAP_PREEMPTION_TIMER reads 0): Apple's answer for
	 * such CPUs is HV_UNSUPPORTED. */
	if (deadline != HV_DEADLINE_FOREVER)
		return HV_UNSUPPORTED;
	return T->run(v);
}

/* Any thread may interrupt any of the process's vCPUs. */
hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count)
{
	hv_return_t ret;

	if (!vcpus || vcpu_count == 0 || vcpu_count > T->max_interrupt)
		return HV_BAD_ARGUMENT;
	hva__lock();
	struct hva_vm *vm = hva__vm_locked();
	if (!vm) {
		ret = HV_NO_DEVICE;
		goto out;
	}
	ret = T->interrupt(vm, vcpus, vcpu_count);
out:
	hva__unlock();
	return ret;
}

/* ---- VMX extras this implementation does not offer ---- */

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
