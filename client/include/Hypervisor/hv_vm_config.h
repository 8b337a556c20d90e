/*
 * hv_vm_config.h: the arm64 VM configuration object passed to
 * hv_vm_create(): IPA size, EL2 (nested virtualization), IPA granule.
 */
#ifndef __HYPERVISOR_HV_VM_CONFIG__
#define __HYPERVISOR_HV_VM_CONFIG__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_vm_types.h>

HV_DECLS_BEGIN

/* Translation granule of the guest's IPA space. */
enum {
	HV_IPA_GRANULE_4KB = 0,
	HV_IPA_GRANULE_16KB = 1
};

typedef uint32_t hv_ipa_granule_t;

/* Returns a new configuration with the defaults, or NULL; release it with
 * os_release(). */
HV_EXPORT hv_vm_config_t hv_vm_config_create(void);

/* Stores the largest IPA size, in bits, a VM may have. */
HV_EXPORT hv_return_t hv_vm_config_get_max_ipa_size(uint32_t *ipa_bit_length);

/* Stores the IPA size, in bits, used when none is set. */
HV_EXPORT hv_return_t hv_vm_config_get_default_ipa_size(
    uint32_t *ipa_bit_length);

/* Sets the IPA size in bits (at most the maximum). */
HV_EXPORT hv_return_t hv_vm_config_set_ipa_size(hv_vm_config_t config,
    uint32_t ipa_bit_length);

/* Stores the configuration's IPA size in bits. */
HV_EXPORT hv_return_t hv_vm_config_get_ipa_size(hv_vm_config_t config,
    uint32_t *ipa_bit_length);

/* Stores whether the host can give guests EL2. */
HV_EXPORT hv_return_t hv_vm_config_get_el2_supported(bool *el2_supported);

/* Stores whether the configuration enables EL2. */
HV_EXPORT hv_return_t hv_vm_config_get_el2_enabled(hv_vm_config_t config,
    bool *el2_enabled);

/* Enables or disables EL2 for the VM. */
HV_EXPORT hv_return_t hv_vm_config_set_el2_enabled(hv_vm_config_t config,
    bool el2_enabled);

/* Stores the IPA granule used when none is set. */
HV_EXPORT hv_return_t hv_vm_config_get_default_ipa_granule(
    hv_ipa_granule_t *granule);

/* Stores the configuration's IPA granule. */
HV_EXPORT hv_return_t hv_vm_config_get_ipa_granule(hv_vm_config_t config,
    hv_ipa_granule_t *granule);

/* Sets the IPA granule. */
HV_EXPORT hv_return_t hv_vm_config_set_ipa_granule(hv_vm_config_t config,
    hv_ipa_granule_t granule);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_VM_CONFIG__ */
