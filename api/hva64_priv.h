/*
 * What the arm64 front end's files share (api/hva64_api.c, hva64_gic.c):
 * the process's VM and vCPU table under the front end's lock, and the
 * GIC's few effects on the rest of the API. Nothing else includes it.
 */
#ifndef HVA64_PRIV_H
#define HVA64_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "hva64.h"

/* api/hva64_api.c. The lock is the one every lifecycle call takes. */
void hva64__lock(void);
void hva64__unlock(void);
/* Under the lock: the VM (NULL: none); whether any vCPU exists; vCPU
 * `vcpu` of any thread (NULL: no such). */
struct hva64_vm *hva64__vm(void);
bool hva64__any_vcpu(void);
struct hva64_vcpu *hva64__vcpu(hv_vcpu_t vcpu);
/* No lock: the calling thread's own vCPU `vcpu` (NULL: not its owner). */
struct hva64_vcpu *hva64__owned(hv_vcpu_t vcpu);

/* api/hva64_gic.c. Whether the VM has its GIC (CNTP_* become reachable,
 * pending IRQ/FIQ cannot be had); forget it (under the lock, when
 * hv_vm_destroy succeeded). */
bool hva64__gic_exists(void);
void hva64__gic_vm_gone(void);

/* hv_gic_config_t and hv_gic_state_t are os objects like the
 * configuration objects: {magic, refs} first, one allocation, freed by
 * os_release. */
#define HVA64_GIC_CONFIG_MAGIC 0x68766763u
#define HVA64_GIC_STATE_MAGIC 0x68766773u

static inline bool hva64__gic_object(uint32_t magic)
{
	return magic == HVA64_GIC_CONFIG_MAGIC || magic == HVA64_GIC_STATE_MAGIC;
}

#endif
