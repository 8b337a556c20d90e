/*
 * hv_gic_config.h: the arm64 GIC configuration object passed to
 * hv_gic_create(): where the distributor, redistributors and MSI frame sit
 * in the guest's IPA space.
 */
#ifndef __HYPERVISOR_HV_GIC_CONFIG__
#define __HYPERVISOR_HV_GIC_CONFIG__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_gic_types.h>
#include <Hypervisor/hv_vm_types.h>

HV_DECLS_BEGIN

/* Returns a new GIC configuration, or NULL; create it after the VM and
 * release it with os_release(). */
HV_EXPORT hv_gic_config_t hv_gic_config_create(void);

/* Sets the distributor's base address (aligned to
 * hv_gic_get_distributor_base_alignment()). */
HV_EXPORT hv_return_t hv_gic_config_set_distributor_base(
    hv_gic_config_t config, hv_ipa_t distributor_base_address);

/* Sets the base of the redistributor region, which holds one
 * redistributor per vCPU the VM supports (aligned to
 * hv_gic_get_redistributor_base_alignment()). */
HV_EXPORT hv_return_t hv_gic_config_set_redistributor_base(
    hv_gic_config_t config, hv_ipa_t redistributor_base_address);

/* Sets the MSI frame's base address (aligned to
 * hv_gic_get_msi_region_base_alignment()); MSIs also need a range. */
HV_EXPORT hv_return_t hv_gic_config_set_msi_region_base(
    hv_gic_config_t config, hv_ipa_t msi_region_base_address);

/* Reserves the SPIs [msi_intid_base, msi_intid_base + msi_intid_count) for
 * MSIs; they must lie within hv_gic_get_spi_interrupt_range(). */
HV_EXPORT hv_return_t hv_gic_config_set_msi_interrupt_range(
    hv_gic_config_t config, uint32_t msi_intid_base, uint32_t msi_intid_count);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_GIC_CONFIG__ */
