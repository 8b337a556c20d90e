/*
 * Hypervisor.h: umbrella header for the Intel Hypervisor.framework API.
 *
 * Includes what Apple's umbrella includes on x86_64. The Apple Silicon
 * headers (hv_vcpu.h, hv_gic.h, ...) have no counterpart here.
 */
#ifndef __HYPERVISOR_HYPERVISOR__
#define __HYPERVISOR_HYPERVISOR__

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_intr.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_vmx.h>
#include <Hypervisor/hv_vm_allocate.h>

#endif /* __HYPERVISOR_HYPERVISOR__ */
