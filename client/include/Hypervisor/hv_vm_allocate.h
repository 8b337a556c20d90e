/*
 * hv_vm_allocate.h: allocation of memory meant to back guest RAM.
 *
 * Shared by both architectures, as Apple's is; only where hv_return_t
 * comes from differs (hv_error.h on x86, arm64/hv/hv_kern_types.h on
 * arm64, whose code lists differ).
 */
#ifndef __HYPERVISOR_HV_VM_ALLOCATE__
#define __HYPERVISOR_HV_VM_ALLOCATE__

#include <Hypervisor/hv_base.h>
#if defined(__arm64__) || defined(__aarch64__)
#include <Hypervisor/hv_vm_types.h>
#include <arm64/hv/hv_kern_types.h>
#else
#include <Hypervisor/hv_error.h>
#endif

HV_DECLS_BEGIN

/* Options for hv_vm_allocate(). */
enum {
	HV_ALLOCATE_DEFAULT = 0
};

typedef uint64_t hv_allocate_flags_t;

/* Allocates `size` bytes (a multiple of the page size) of zeroed, readable
 * and writable memory suitable for hv_vm_map() and stores its address in
 * *uvap. */
HV_EXPORT hv_return_t hv_vm_allocate(void **uvap, size_t size,
    hv_allocate_flags_t flags);

/* Frees memory obtained from hv_vm_allocate(); uva and size must match. */
HV_EXPORT hv_return_t hv_vm_deallocate(void *uva, size_t size);

HV_DECLS_END

#endif /* __HYPERVISOR_HV_VM_ALLOCATE__ */
