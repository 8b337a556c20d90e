/*
 * hv_gic_state.h: snapshots of the arm64 in-kernel GIC.
 */
#ifndef __HYPERVISOR_HV_GIC_STATE__
#define __HYPERVISOR_HV_GIC_STATE__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_gic_types.h>

HV_DECLS_BEGIN

/* Captures the GIC's state while the VM is stopped; NULL if there is no
 * GIC or the state cannot be represented. Release with os_release(). */
HV_EXPORT hv_gic_state_t hv_gic_state_create(void);

/* Stores the size of the state's data. */
HV_EXPORT hv_return_t hv_gic_state_get_size(hv_gic_state_t state,
    size_t *gic_state_size);

/* Copies the state's opaque, versioned data (not the GIC CPU registers,
 * saved with the icc/ich/icv getters) to gic_state_data. */
HV_EXPORT hv_return_t hv_gic_state_get_data(hv_gic_state_t state,
    void *gic_state_data);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_GIC_STATE__ */
