/*
 * hv_base.h: what every Hypervisor header needs on Linux.
 *
 * Apple's hv_base.h pulls in <os/availability.h>, <os/base.h> and the Mach
 * headers. Linux has none of them, so this file supplies the little the
 * Intel API uses: the C/C++ linkage brackets, the export attribute, empty
 * availability macros, and minimal stand-ins for the Mach types that appear
 * in public signatures (mach_error_t, mach_port_t, the message header and
 * trailer of hv_ion_message_t). See docs/headers.md for why each differs.
 */
#ifndef __HYPERVISOR_HV_BASE__
#define __HYPERVISOR_HV_BASE__

/*
 * Every public function carries HV_EXPORT: the libraries are built with
 * -fvisibility=hidden, so only what the headers declare is exported.
 */
#define HV_EXPORT extern __attribute__((__visibility__("default")))

/* Apple tags declarations with the macOS release that added them; Linux has
 * one release of this API, so the tags expand to nothing. */
#define HV_API_AVAILABLE_X86_64(...)
#define HV_API_AVAILABLE_ARM64(...)

#ifdef __cplusplus
#define HV_DECLS_BEGIN extern "C" {
#define HV_DECLS_END }
#else
#define HV_DECLS_BEGIN
#define HV_DECLS_END
#endif

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

HV_DECLS_BEGIN

/* Mach error code, the base type of hv_return_t (kern_return_t is int). */
typedef int mach_error_t;

/* Mach port name as seen from user space (natural_t). */
typedef unsigned int mach_port_t;

/* Layout of the Mach message header (user-space view, 24 bytes), so that
 * hv_ion_message_t has the same shape and field names as on macOS. */
typedef struct {
	unsigned int msgh_bits;
	unsigned int msgh_size;
	mach_port_t msgh_remote_port;
	mach_port_t msgh_local_port;
	mach_port_t msgh_voucher_port;
	int msgh_id;
} mach_msg_header_t;

/* Layout of the minimal Mach message trailer (8 bytes). */
typedef struct {
	unsigned int msgh_trailer_type;
	unsigned int msgh_trailer_size;
} mach_msg_trailer_t;

HV_DECLS_END

#endif /* __ASSEMBLER__ */

#endif /* __HYPERVISOR_HV_BASE__ */
