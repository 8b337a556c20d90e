/*
 * hv_vcpu_config.h: the arm64 vCPU configuration object and the host's
 * feature registers it reports.
 */
#ifndef __HYPERVISOR_HV_VCPU_CONFIG__
#define __HYPERVISOR_HV_VCPU_CONFIG__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_vcpu_types.h>

HV_DECLS_BEGIN

/* Feature (ID) registers readable from a vCPU configuration. */
enum {
	HV_FEATURE_REG_ID_AA64DFR0_EL1 = 0,
	HV_FEATURE_REG_ID_AA64DFR1_EL1 = 1,
	HV_FEATURE_REG_ID_AA64ISAR0_EL1 = 2,
	HV_FEATURE_REG_ID_AA64ISAR1_EL1 = 3,
	HV_FEATURE_REG_ID_AA64MMFR0_EL1 = 4,
	HV_FEATURE_REG_ID_AA64MMFR1_EL1 = 5,
	HV_FEATURE_REG_ID_AA64MMFR2_EL1 = 6,
	HV_FEATURE_REG_ID_AA64PFR0_EL1 = 7,
	HV_FEATURE_REG_ID_AA64PFR1_EL1 = 8,
	HV_FEATURE_REG_CTR_EL0 = 9,
	HV_FEATURE_REG_CLIDR_EL1 = 10,
	HV_FEATURE_REG_DCZID_EL0 = 11,
	HV_FEATURE_REG_ID_AA64SMFR0_EL1 = 12,
	HV_FEATURE_REG_ID_AA64ZFR0_EL1 = 13
};

typedef uint32_t hv_feature_reg_t;

/* Returns a new vCPU configuration, or NULL; release it with
 * os_release(). */
HV_EXPORT hv_vcpu_config_t hv_vcpu_config_create(void);

/* Stores the value of the feature register the host supports. */
HV_EXPORT hv_return_t hv_vcpu_config_get_feature_reg(hv_vcpu_config_t config,
    hv_feature_reg_t feature_reg, uint64_t *value);

/* Stores the eight CCSIDR_EL1 values (one per CSSELR_EL1 level) of the
 * cache type. */
HV_EXPORT hv_return_t hv_vcpu_config_get_ccsidr_el1_sys_reg_values(
    hv_vcpu_config_t config, hv_cache_type_t cache_type, uint64_t values[8]);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_VCPU_CONFIG__ */
