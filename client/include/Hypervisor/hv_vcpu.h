/*
 * hv_vcpu.h: arm64 vCPUs: creation, registers, interrupts, debug traps,
 * running, and the virtual timer.
 *
 * Threading: "owner" below means the call must come from the thread that
 * created the vCPU (each thread has at most one). Every hv_return_t
 * function returns HV_SUCCESS (0) or an HV_* code.
 */
#ifndef __HYPERVISOR_HV_VCPU__
#define __HYPERVISOR_HV_VCPU__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_vcpu_types.h>

HV_DECLS_BEGIN

/* Creates a vCPU owned by the calling thread, stores its ID in *vcpu and
 * a pointer to its exit record, which every hv_vcpu_run() fills, in *exit;
 * config may be NULL for the defaults. */
HV_EXPORT hv_return_t hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit,
    hv_vcpu_config_t config);

/* Destroys the vCPU (owner). */
HV_EXPORT hv_return_t hv_vcpu_destroy(hv_vcpu_t vcpu);

/* Stores the value of register `reg` in *value (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_reg(hv_vcpu_t vcpu, hv_reg_t reg,
    uint64_t *value);

/* Sets register `reg` (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_reg(hv_vcpu_t vcpu, hv_reg_t reg,
    uint64_t value);

/* Stores the value of Q register `reg` in *value (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_simd_fp_reg(hv_vcpu_t vcpu,
    hv_simd_fp_reg_t reg, hv_simd_fp_uchar16_t *value);

/* Sets Q register `reg`; the value is passed by value (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_simd_fp_reg(hv_vcpu_t vcpu,
    hv_simd_fp_reg_t reg, hv_simd_fp_uchar16_t value);

/* Stores PSTATE.SM and PSTATE.ZA in *sme_state; HV_UNSUPPORTED without
 * SME (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_sme_state(hv_vcpu_t vcpu,
    hv_vcpu_sme_state_t *sme_state);

/* Sets PSTATE.SM and PSTATE.ZA; HV_UNSUPPORTED without SME (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_sme_state(hv_vcpu_t vcpu,
    const hv_vcpu_sme_state_t *sme_state);

/* Copies Z register `reg` (length = the maximum SVL in bytes; streaming
 * mode only) into value (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_sme_z_reg(hv_vcpu_t vcpu, hv_sme_z_reg_t reg,
    uint8_t *value, size_t length);

/* Loads Z register `reg` from value (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_sme_z_reg(hv_vcpu_t vcpu, hv_sme_z_reg_t reg,
    const uint8_t *value, size_t length);

/* Copies predicate register `reg` (length = SVL / 8) into value (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_sme_p_reg(hv_vcpu_t vcpu, hv_sme_p_reg_t reg,
    uint8_t *value, size_t length);

/* Loads predicate register `reg` from value (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_sme_p_reg(hv_vcpu_t vcpu, hv_sme_p_reg_t reg,
    const uint8_t *value, size_t length);

/* Copies ZA (length = SVL * SVL; needs PSTATE.ZA) into value (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_sme_za_reg(hv_vcpu_t vcpu, uint8_t *value,
    size_t length);

/* Loads ZA from value (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_sme_za_reg(hv_vcpu_t vcpu,
    const uint8_t *value, size_t length);

/* Stores ZT0 in *value; needs PSTATE.ZA (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_sme_zt0_reg(hv_vcpu_t vcpu,
    hv_sme_zt0_uchar64_t *value);

/* Loads ZT0 from *value; needs PSTATE.ZA (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_sme_zt0_reg(hv_vcpu_t vcpu,
    const hv_sme_zt0_uchar64_t *value);

/* Stores the value of system register `reg` in *value (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg,
    uint64_t *value);

/* Sets system register `reg` (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_sys_reg(hv_vcpu_t vcpu, hv_sys_reg_t reg,
    uint64_t value);

/* Stores whether an IRQ or FIQ is pending for the next run (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_pending_interrupt(hv_vcpu_t vcpu,
    hv_interrupt_type_t type, bool *pending);

/* Makes an IRQ or FIQ pending for the next hv_vcpu_run(), which clears it
 * on return: set it before every run (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_pending_interrupt(hv_vcpu_t vcpu,
    hv_interrupt_type_t type, bool pending);

/* Stores whether guest debug exceptions exit to the host (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_trap_debug_exceptions(hv_vcpu_t vcpu,
    bool *value);

/* Makes guest debug exceptions exit to the host, or not (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_trap_debug_exceptions(hv_vcpu_t vcpu,
    bool value);

/* Stores whether guest accesses to DBGBCR/DBGBVR/DBGWCR/DBGWVR<n>_EL1 and
 * MDSCR_EL1 exit to the host (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_trap_debug_reg_accesses(hv_vcpu_t vcpu,
    bool *value);

/* Makes those debug register accesses exit to the host, or not (owner). */
HV_EXPORT hv_return_t hv_vcpu_set_trap_debug_reg_accesses(hv_vcpu_t vcpu,
    bool value);

/* Runs the guest until the next exit, described in the vCPU's exit
 * record, or until hv_vcpus_exit() (owner). */
HV_EXPORT hv_return_t hv_vcpu_run(hv_vcpu_t vcpu);

/* Makes each of the vcpu_count listed vCPUs leave hv_vcpu_run() with
 * HV_EXIT_REASON_CANCELED (a vCPU not running does so on its next run);
 * any thread. */
HV_EXPORT hv_return_t hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t vcpu_count);

/* Stores the vCPU's cumulative guest execution time in *time (owner). */
HV_EXPORT hv_return_t hv_vcpu_get_exec_time(hv_vcpu_t vcpu, uint64_t *time);

/* Stores whether the virtual timer is masked. */
HV_EXPORT hv_return_t hv_vcpu_get_vtimer_mask(hv_vcpu_t vcpu,
    bool *vtimer_is_masked);

/* Masks or unmasks the virtual timer; unmask once the guest has handled
 * an HV_EXIT_REASON_VTIMER_ACTIVATED interrupt. */
HV_EXPORT hv_return_t hv_vcpu_set_vtimer_mask(hv_vcpu_t vcpu,
    bool vtimer_is_masked);

/* Stores the vtimer offset: CNTVCT_EL0 = mach_absolute_time() - offset. */
HV_EXPORT hv_return_t hv_vcpu_get_vtimer_offset(hv_vcpu_t vcpu,
    uint64_t *vtimer_offset);

/* Sets the vtimer offset. */
HV_EXPORT hv_return_t hv_vcpu_set_vtimer_offset(hv_vcpu_t vcpu,
    uint64_t vtimer_offset);

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_VCPU__ */
