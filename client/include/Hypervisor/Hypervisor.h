/*
 * Hypervisor.h: umbrella header of the Hypervisor.framework API.
 *
 * Selects the header set by architecture, as Apple's umbrella does: the
 * Apple Silicon set when the compiler targets arm64 (__arm64__ on Apple's
 * compilers, __aarch64__ on Linux ones, which never define __arm64__), the
 * Intel set otherwise. The arm64 test is made first so that a build for
 * arm64 never sees the Intel declarations, whose names (hv_vcpu_create,
 * hv_vm_map, ...) have other prototypes there.
 */
#ifndef __HYPERVISOR_HYPERVISOR__
#define __HYPERVISOR_HYPERVISOR__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_gic.h>
#include <Hypervisor/hv_gic_config.h>
#include <Hypervisor/hv_gic_parameters.h>
#include <Hypervisor/hv_gic_state.h>
#include <Hypervisor/hv_gic_types.h>
#include <Hypervisor/hv_os_object.h>
#include <Hypervisor/hv_sme_config.h>
#include <Hypervisor/hv_vcpu.h>
#include <Hypervisor/hv_vcpu_config.h>
#include <Hypervisor/hv_vcpu_types.h>
#include <Hypervisor/hv_vm.h>
#include <Hypervisor/hv_vm_config.h>
#include <Hypervisor/hv_vm_types.h>

#else

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_intr.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_vmx.h>

#endif

#include <Hypervisor/hv_vm_allocate.h>

#endif /* __HYPERVISOR_HYPERVISOR__ */
