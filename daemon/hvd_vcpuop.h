/* Forwarded vCPU calls (hvd_vcpuop.c). */
#ifndef HVD_VCPUOP_H
#define HVD_VCPUOP_H

#include "hvd.h"

/* The vCPU a forwarded request is for (UINT32_MAX: not a vCPU call).
 * Loop thread. */
uint32_t hvd_vcpuop_target(const Hvdp__Request *req);
/* Execute a forwarded vCPU call, filling op->status, value and data.
 * vCPU thread only, with the run page's state imported. */
void hvd_vcpuop_run(struct hvd_vcpu *v, struct hvd_op *op);

#endif
