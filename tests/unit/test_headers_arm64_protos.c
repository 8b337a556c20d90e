/*
 * Compile-only check of the arm64 prototypes: built with -D__arm64__ (and
 * again with -D__aarch64__) as an object library that nothing links, so
 * taking the functions' addresses needs no arm64 library on this machine.
 *
 * test_headers_arm64_protos.h, generated from shared/reference/
 * hv-api-arm64.md §3 by gen_arm64_values.sh --protos, lists every public
 * function with the reference's prototype. For each, <Hypervisor/
 * Hypervisor.h> alone must declare it with exactly that type: _Generic
 * selects on type compatibility, and the assignment to a pointer of the
 * reference's type would be a constraint violation otherwise. A missing
 * or different declaration fails the build.
 */
#include <Hypervisor/Hypervisor.h>

#if !defined(__arm64__) && !defined(__aarch64__)
#error "build this file with -D__arm64__ or -D__aarch64__"
#endif

/* The arm64 set, and only it, came through the umbrella. */
#if !defined(__HYPERVISOR_HV_VCPU__) || !defined(__HYPERVISOR_HV_GIC__) ||    \
    !defined(__HYPERVISOR_HV_SME_CONFIG__) || !defined(_HV_ARM64_KERN_TYPES_H_)
#error "Hypervisor.h did not include the arm64 headers"
#endif
#if defined(__HYPERVISOR_HV__) || defined(__HYPERVISOR_HV_VMX__) ||           \
    defined(__HYPERVISOR_HV_RETURN__) || defined(__HYPERVISOR_HV_TYPES__)
#error "Hypervisor.h included Intel headers on arm64"
#endif

#define P(ret, name, params)                                                   \
	_Static_assert(_Generic(&name, ret(*) params: 1, default: 0),          \
	    #name " is not declared with the reference's prototype");          \
	ret(*const test_arm64_proto_##name) params = name;
#include "test_headers_arm64_protos.h"
#undef P

/* os_retain/os_release come with the headers (hv_os_object.h), with
 * libdispatch's prototypes. */
_Static_assert(_Generic(&os_retain, void *(*)(void *): 1, default: 0),
    "os_retain");
_Static_assert(_Generic(&os_release, void (*)(void *): 1, default: 0),
    "os_release");
void *(*const test_arm64_proto_os_retain)(void *) = os_retain;
void (*const test_arm64_proto_os_release)(void *) = os_release;
