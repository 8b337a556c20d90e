/*
 * hv_os_object.h: os_retain() and os_release() for the arm64 API's
 * objects.
 *
 * On macOS the configuration and state objects (hv_vm_config_t,
 * hv_vcpu_config_t, hv_gic_config_t, hv_gic_state_t) are os_objects and
 * clients free them with os_release() from libdispatch's <os/object.h>.
 * Linux has no such header, so the Hypervisor libraries provide the two
 * functions and this header declares them with libdispatch's prototypes.
 * A program that brings its own <os/object.h> (libdispatch's guard is
 * __OS_OBJECT__) or defines the names as macros keeps its own: the
 * declarations are skipped, and if its header comes second it redeclares
 * the same prototypes, which is legal.
 */
#ifndef __HYPERVISOR_HV_OS_OBJECT__
#define __HYPERVISOR_HV_OS_OBJECT__

#include <Hypervisor/hv_base.h>

#if !defined(__OS_OBJECT__) && !defined(os_retain) && !defined(os_release)

HV_DECLS_BEGIN

/* Adds a reference to an object made by an hv_*_create() function and
 * returns the object. */
HV_EXPORT void *os_retain(void *object);

/* Drops a reference; the last one frees the object. */
HV_EXPORT void os_release(void *object);

HV_DECLS_END

#endif

#endif /* __HYPERVISOR_HV_OS_OBJECT__ */
