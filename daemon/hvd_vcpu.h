/* vCPU threads (hvd_vcpu.c): one per vCPU, owning every KVM call on it.
 * Called on the loop thread unless said otherwise. */
#ifndef HVD_VCPU_H
#define HVD_VCPU_H

#include "hvd.h"

int hvd_vcpu_start(struct hvd_session *s, struct hvd_vcpu **out);
/* Start the thread of the VM's next vCPU before the client asks for the
 * vCPU: it sets itself (and the VM) up and waits for hvd_vcpu_take, or a
 * stop (then hvd_vcpu_free). */
int hvd_vcpu_ahead(struct hvd_session *s, struct hvd_vcpu **out);
/* hvd_vcpu_start for a thread started ahead: creates the backend's vCPU
 * and gives it to the thread. 0, or the backend's -errno (the thread
 * still waits then). */
int hvd_vcpu_take(struct hvd_vcpu *v);
/* Queue a vCPU call; the reply goes out through the session's async. */
void hvd_vcpu_post(struct hvd_vcpu *v, struct hvd_op *op);
/* hv_vcpu_interrupt: force the vCPU out of the guest. Any thread. */
void hvd_vcpu_kick(struct hvd_vcpu *v);
/* Ask the thread to end (session teardown) without a reply. */
void hvd_vcpu_stop(struct hvd_vcpu *v);
/* Charge the vCPU's CPU time to budget `b` from now on (NULL: nobody). */
void hvd_vcpu_set_budget(struct hvd_vcpu *v, struct hvd_cpu_budget *b);
/* Join the thread (which must have been stopped or destroyed) and free
 * `v`. The loop thread or a session's reaper. */
void hvd_vcpu_free(struct hvd_vcpu *v);
/* The vCPU thread's CPU time (user + system), from its clock. */
uint64_t hvd_vcpu_cpu_ns(struct hvd_vcpu *v);

#endif
