/*
 * hv_vmx.h: raw VMX access — VMCS fields, shadow VMCS, VMX capabilities.
 *
 * Field IDs, control bits and exit reasons come from hv_arch_vmx.h, which
 * this header includes. All vCPU calls here must come from the thread that
 * created the vCPU ("owner").
 */
#ifndef __HYPERVISOR_HV_VMX__
#define __HYPERVISOR_HV_VMX__

#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_arch_x86.h>
#include <Hypervisor/hv_arch_vmx.h>

HV_DECLS_BEGIN

/* Guest VMREAD/VMWRITE permissions of a shadow VMCS field. */
enum {
	HV_SHADOW_VMCS_NONE = 0,
	HV_SHADOW_VMCS_READ = (1ull << 0),
	HV_SHADOW_VMCS_WRITE = (1ull << 1)
};

typedef uint64_t hv_shadow_flags_t;

/* IDs for hv_vmx_read_capability(). The control IDs return the layout of
 * the IA32_VMX_*_CTLS MSRs: low 32 bits must be 1, high 32 bits may be 1. */
typedef enum {
	HV_VMX_CAP_PINBASED = 0,
	HV_VMX_CAP_PROCBASED = 1,
	HV_VMX_CAP_PROCBASED2 = 2,
	HV_VMX_CAP_ENTRY = 3,
	HV_VMX_CAP_EXIT = 4,
	HV_VMX_CAP_BASIC = 5,
	HV_VMX_CAP_TRUE_PINBASED = 6,
	HV_VMX_CAP_TRUE_PROCBASED = 7,
	HV_VMX_CAP_TRUE_ENTRY = 8,
	HV_VMX_CAP_TRUE_EXIT = 9,
	HV_VMX_CAP_MISC = 10,
	HV_VMX_CAP_CR0_FIXED0 = 11,
	HV_VMX_CAP_CR0_FIXED1 = 12,
	HV_VMX_CAP_CR4_FIXED0 = 13,
	HV_VMX_CAP_CR4_FIXED1 = 14,
	HV_VMX_CAP_VMCS_ENUM = 15,
	HV_VMX_CAP_EPT_VPID_CAP = 16,
	HV_VMX_CAP_PREEMPTION_TIMER = 32
} hv_vmx_capability_t;

/* IDs for hv_vmx_get_msr_info(). */
enum {
	HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES = 0,
	HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES = 1,
	HV_VMX_VALID_MSR_IA32_PERFEVNTSEL = 2,
	HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL = 3,
	HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL = 4,
	HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS = 5,
	HV_VMX_VALID_MSR_IA32_DEBUGCTL = 6,
	HV_VMX_VALID_MSR_IA32_SPEC_CTRL = 7,
	HV_VMX_NEED_MSR_IA32_SPEC_CTRL = 8
};

typedef uint64_t hv_vmx_msr_info_t;

/* Stores the value of the VMCS field `field` (a VMCS_* ID) in *value
 * (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field,
    uint64_t *value);

/* Writes the VMCS field; may fail if value sets bits outside the masks of
 * hv_vmx_vcpu_get_cap_write_vmcs() (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field,
    uint64_t value);

/* Stores the write masks of the field: a bit with allowed_0 = allowed_1 = 0
 * must be 0, with 0/1 is free, with 1/1 must be 1 (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_get_cap_write_vmcs(hv_vcpuid_t vcpu,
    uint32_t field, uint64_t *allowed_0, uint64_t *allowed_1);

/* Stores the value of a shadow-VMCS field in *value (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_read_shadow_vmcs(hv_vcpuid_t vcpu,
    uint32_t field, uint64_t *value);

/* Writes a shadow-VMCS field (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_write_shadow_vmcs(hv_vcpuid_t vcpu,
    uint32_t field, uint64_t value);

/* Sets whether the guest may VMREAD/VMWRITE a shadow-VMCS field without an
 * exit (HV_SHADOW_VMCS_* flags) (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_set_shadow_access(hv_vcpuid_t vcpu,
    uint32_t field, hv_shadow_flags_t flags);

/* Stores in *value the host VMX capability `field` as the framework
 * permits it. */
HV_EXPORT hv_return_t hv_vmx_read_capability(hv_vmx_capability_t field,
    uint64_t *value);

/* Stores in *value the guest MSR configuration item `field`
 * (HV_VMX_*_MSR_* IDs). */
HV_EXPORT hv_return_t hv_vmx_get_msr_info(hv_vmx_msr_info_t field,
    uint64_t *value);

/* Sets the page-aligned guest physical address of the vCPU's APIC page in
 * the default address space (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_set_apic_address(hv_vcpuid_t vcpu,
    hv_gpaddr_t gpa);

/* Sets the guest physical address of the vCPU's APIC page in the address
 * space `asid` (owner). */
HV_EXPORT hv_return_t hv_vmx_vcpu_set_apic_address_space(hv_vcpuid_t vcpu,
    hv_vm_space_t asid, hv_gpaddr_t gpa);

HV_DECLS_END

#endif /* __HYPERVISOR_HV_VMX__ */
