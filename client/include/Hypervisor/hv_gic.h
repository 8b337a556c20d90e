/*
 * hv_gic.h: the arm64 in-kernel GICv3: creation, interrupt injection,
 * register access and state restore.
 *
 * "owner" below means the call must come from the thread that owns the
 * vCPU. Every function returns HV_SUCCESS (0) or an HV_* code.
 */
#ifndef __HYPERVISOR_HV_GIC__
#define __HYPERVISOR_HV_GIC__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_gic_types.h>
#include <Hypervisor/hv_vcpu.h>
#include <Hypervisor/hv_vm_types.h>
#include <arm64/hv/hv_kern_types.h>

HV_DECLS_BEGIN

/* Creates the VM's one GIC; after hv_vm_create() and before the first
 * hv_vcpu_create(). */
HV_EXPORT hv_return_t hv_gic_create(hv_gic_config_t gic_config);

/* Sets (level true) or clears the SPI `intid`; for an edge-triggered SPI
 * true makes an edge and false is ignored. */
HV_EXPORT hv_return_t hv_gic_set_spi(uint32_t intid, bool level);

/* Sends an MSI for `intid` to the MSI frame register at `address`
 * (HV_GIC_REG_GICM_SET_SPI_NSR). */
HV_EXPORT hv_return_t hv_gic_send_msi(hv_ipa_t address, uint32_t intid);

/* Stores the value of distributor register `reg`. */
HV_EXPORT hv_return_t hv_gic_get_distributor_reg(hv_gic_distributor_reg_t reg,
    uint64_t *value);

/* Sets distributor register `reg`. */
HV_EXPORT hv_return_t hv_gic_set_distributor_reg(hv_gic_distributor_reg_t reg,
    uint64_t value);

/* Stores the base address of the vCPU's redistributor; its MPIDR_EL1
 * affinity must be set first. */
HV_EXPORT hv_return_t hv_gic_get_redistributor_base(hv_vcpu_t vcpu,
    hv_ipa_t *redistributor_base_address);

/* Stores the value of the vCPU's redistributor register `reg` (owner). */
HV_EXPORT hv_return_t hv_gic_get_redistributor_reg(hv_vcpu_t vcpu,
    hv_gic_redistributor_reg_t reg, uint64_t *value);

/* Sets the vCPU's redistributor register `reg` (owner). */
HV_EXPORT hv_return_t hv_gic_set_redistributor_reg(hv_vcpu_t vcpu,
    hv_gic_redistributor_reg_t reg, uint64_t value);

/* Stores the value of the vCPU's CPU interface register `reg` (owner). */
HV_EXPORT hv_return_t hv_gic_get_icc_reg(hv_vcpu_t vcpu, hv_gic_icc_reg_t reg,
    uint64_t *value);

/* Sets the vCPU's CPU interface register `reg` (owner). */
HV_EXPORT hv_return_t hv_gic_set_icc_reg(hv_vcpu_t vcpu, hv_gic_icc_reg_t reg,
    uint64_t value);

/* Stores the value of virtual interface control register `reg`; only with
 * EL2 enabled (owner). */
HV_EXPORT hv_return_t hv_gic_get_ich_reg(hv_vcpu_t vcpu, hv_gic_ich_reg_t reg,
    uint64_t *value);

/* Sets virtual interface control register `reg`; only with EL2 enabled
 * (owner). */
HV_EXPORT hv_return_t hv_gic_set_ich_reg(hv_vcpu_t vcpu, hv_gic_ich_reg_t reg,
    uint64_t value);

/* Stores the value of virtual CPU interface register `reg`; only with EL2
 * enabled (owner). */
HV_EXPORT hv_return_t hv_gic_get_icv_reg(hv_vcpu_t vcpu, hv_gic_icv_reg_t reg,
    uint64_t *value);

/* Sets virtual CPU interface register `reg`; only with EL2 enabled
 * (owner). */
HV_EXPORT hv_return_t hv_gic_set_icv_reg(hv_vcpu_t vcpu, hv_gic_icv_reg_t reg,
    uint64_t value);

/* Stores the value of MSI frame register `reg`. */
HV_EXPORT hv_return_t hv_gic_get_msi_reg(hv_gic_msi_reg_t reg,
    uint64_t *value);

/* Sets MSI frame register `reg`. */
HV_EXPORT hv_return_t hv_gic_set_msi_reg(hv_gic_msi_reg_t reg, uint64_t value);

/* Restores state saved with hv_gic_state_get_data(); after the GIC and
 * the vCPUs exist and before any vCPU runs. */
HV_EXPORT hv_return_t hv_gic_set_state(const void *gic_state_data,
    size_t gic_state_size);

/* Resets the distributor, the redistributors and the GIC's internal
 * state. Apple declares it with empty parentheses; (void) is the same
 * type and keeps -Wstrict-prototypes quiet. */
HV_EXPORT hv_return_t hv_gic_reset(void);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_GIC__ */
