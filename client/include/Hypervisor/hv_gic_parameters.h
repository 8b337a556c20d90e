/*
 * hv_gic_parameters.h: sizes, alignments and interrupt ranges of the arm64
 * in-kernel GIC.
 */
#ifndef __HYPERVISOR_HV_GIC_PARAMETERS__
#define __HYPERVISOR_HV_GIC_PARAMETERS__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_gic_types.h>
#include <arm64/hv/hv_kern_types.h>

HV_DECLS_BEGIN

/* Stores the size of the distributor region. */
HV_EXPORT hv_return_t hv_gic_get_distributor_size(size_t *distributor_size);

/* Stores the alignment the distributor's base needs. */
HV_EXPORT hv_return_t hv_gic_get_distributor_base_alignment(
    size_t *distributor_base_alignment);

/* Stores the size of the whole redistributor region: one redistributor,
 * two contiguous 64 KiB frames, per vCPU. */
HV_EXPORT hv_return_t hv_gic_get_redistributor_region_size(
    size_t *redistributor_region_size);

/* Stores the size of one redistributor. */
HV_EXPORT hv_return_t hv_gic_get_redistributor_size(
    size_t *redistributor_size);

/* Stores the alignment the redistributor region's base needs. */
HV_EXPORT hv_return_t hv_gic_get_redistributor_base_alignment(
    size_t *redistributor_base_alignment);

/* Stores the size of the MSI frame. */
HV_EXPORT hv_return_t hv_gic_get_msi_region_size(size_t *msi_region_size);

/* Stores the alignment the MSI frame's base needs. */
HV_EXPORT hv_return_t hv_gic_get_msi_region_base_alignment(
    size_t *msi_region_base_alignment);

/* Stores the first SPI INTID and the number of SPIs. */
HV_EXPORT hv_return_t hv_gic_get_spi_interrupt_range(uint32_t *spi_intid_base,
    uint32_t *spi_intid_count);

/* Stores the INTID of a reserved interrupt. */
HV_EXPORT hv_return_t hv_gic_get_intid(hv_gic_intid_t interrupt,
    uint32_t *intid);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_GIC_PARAMETERS__ */
