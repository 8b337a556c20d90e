/*
 * hv_vm.h: the arm64 VM of the calling process and its guest memory.
 *
 * Every hv_return_t function returns HV_SUCCESS (0) or an HV_* code.
 */
#ifndef __HYPERVISOR_HV_VM__
#define __HYPERVISOR_HV_VM__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_vm_types.h>

HV_DECLS_BEGIN

/* Stores in *max_vcpu_count the most vCPUs a VM may have. */
HV_EXPORT hv_return_t hv_vm_get_max_vcpu_count(uint32_t *max_vcpu_count);

/* Creates the one VM of the calling process; config may be NULL for the
 * defaults. */
HV_EXPORT hv_return_t hv_vm_create(hv_vm_config_t config);

/* Destroys the calling process's VM; destroy its vCPUs first. */
HV_EXPORT hv_return_t hv_vm_destroy(void);

/* Maps the page-aligned host range [addr, addr+size) at the page-aligned
 * guest address ipa with HV_MEMORY_* permissions. */
HV_EXPORT hv_return_t hv_vm_map(void *addr, hv_ipa_t ipa, size_t size,
    hv_memory_flags_t flags);

/* Unmaps [ipa, ipa+size). */
HV_EXPORT hv_return_t hv_vm_unmap(hv_ipa_t ipa, size_t size);

/* Replaces the permissions of [ipa, ipa+size). */
HV_EXPORT hv_return_t hv_vm_protect(hv_ipa_t ipa, size_t size,
    hv_memory_flags_t flags);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_VM__ */
