/*
 * hv_vm_types.h: the arm64 VM types.
 *
 * Apple's os_object types are plain opaque pointers here, as Apple's own
 * headers declare them in C without Objective-C (OS_OBJECT_USE_OBJC 0);
 * free them with os_release() (hv_os_object.h).
 */
#ifndef __HYPERVISOR_HV_VM_TYPES__
#define __HYPERVISOR_HV_VM_TYPES__

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_os_object.h>
#include <arm64/hv/hv_kern_types.h>

HV_DECLS_BEGIN

/* Configuration of a VM, made by hv_vm_config_create(). */
typedef struct hv_vm_config_s *hv_vm_config_t;

/* Intermediate physical address: a guest physical address. */
typedef uint64_t hv_ipa_t;

/* Apple repeats this typedef of hv_kern_types.h here; the same type twice
 * is legal C11. */
typedef uint64_t hv_memory_flags_t;

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* __HYPERVISOR_HV_VM_TYPES__ */
