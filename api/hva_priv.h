/* Between the front end's files: Apple's process model (hva_process.c),
 * used by the API's entry points (hva_api.c). */
#ifndef HVA_PRIV_H
#define HVA_PRIV_H

#include "hva.h"

/* The VM lock: guards the VM singleton and the vCPU table. */
void hva__lock(void);
void hva__unlock(void);

/* VM lock held: the process's VM (NULL: none), and setting it. */
struct hva_vm *hva__vm_locked(void);
void hva__vm_set(struct hva_vm *vm);
/* Any thread: the VM as it is now (NULL: none). */
struct hva_vm *hva__vm(void);

/*
 * The calling thread's own vCPU, as the table said when the thread last
 * looked it up (hva_process.c): Apple's one-vCPU-per-thread rule lets the
 * owner find its vCPU here, with no lock, on every register access and
 * run. Only the owner changes its entry in the table (hv_vcpu_destroy),
 * and a vCPU in the table keeps the VM (hv_vm_destroy refuses while one
 * lives), so an entry found here is one the table still holds.
 */
struct hva__self {
	struct hva_vcpu *vcpu;         /* NULL: look in the table */
	hv_vcpuid_t id;
};
extern __thread struct hva__self hva__self;

/* The table's answer, under the VM lock (and remembered in hva__self). */
hv_return_t hva__own_slow(hv_vcpuid_t id, struct hva_vcpu **out);

/* The calling thread's vCPU `id`: HV_NO_DEVICE without a VM,
 * HV_BAD_ARGUMENT for an id the thread does not own. */
static inline hv_return_t hva__own(hv_vcpuid_t id, struct hva_vcpu **out)
{
	if (hva__self.vcpu && hva__self.id == id) {
		*out = hva__self.vcpu;
		return HV_SUCCESS;
	}
	return hva__own_slow(id, out);
}

/* VM lock held. Whether the calling thread owns a vCPU; a new vCPU owned
 * by the calling thread; the end of one. (Any thread's: hva_vcpu_lookup.) */
bool hva__thread_has_vcpu(void);
void hva__vcpu_add(hv_vcpuid_t id, struct hva_vcpu *vcpu);
void hva__vcpu_remove(hv_vcpuid_t id);

/* Make a forked child start without a VM (once per process). */
void hva__fork_register(void);

#endif
