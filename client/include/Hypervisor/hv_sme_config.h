/*
 * hv_sme_config.h: what the host offers arm64 guests of SME.
 */
#ifndef __HYPERVISOR_HV_SME_CONFIG__
#define __HYPERVISOR_HV_SME_CONFIG__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <arm64/hv/hv_kern_types.h>

HV_DECLS_BEGIN

/* Stores the largest streaming vector length, in bytes, a guest may use;
 * HV_UNSUPPORTED when the host has no SME. */
HV_EXPORT hv_return_t hv_sme_config_get_max_svl_bytes(size_t *value);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_SME_CONFIG__ */
