/*
 * arm64/hv/hv_kern_types.h: hv_return_t, its codes and the memory flags of
 * the Apple Silicon Hypervisor API.
 *
 * Apple ships this file in the SDK's usr/include/arm64/hv/ and every arm64
 * Hypervisor header includes it; the x86 counterpart of the codes is
 * Hypervisor/hv_error.h. The arm64 list differs from the x86 one:
 * HV_ILLEGAL_GUEST_STATE (0xfae94004) and HV_EXISTS (0xfae94008) exist and
 * HV_FAULT does not, so the two headers are never included together: the
 * contents here are only seen on arm64 (__arm64__, or __aarch64__, the only
 * one Linux compilers define).
 */
#ifndef _HV_ARM64_KERN_TYPES_H_
#define _HV_ARM64_KERN_TYPES_H_

#if defined(__arm64__) || defined(__aarch64__)

#include <Hypervisor/hv_base.h>

/* The subset of <mach/error.h> needed to spell and take apart the codes,
 * word for word as in Hypervisor/hv_error.h; a client's own copy wins. */
#ifndef err_system
#define err_system(x) ((int)((((unsigned)(x)) & 0x3f) << 26))
#endif
#ifndef err_sub
#define err_sub(x) (((x) & 0xfff) << 14)
#endif
#ifndef err_local
#define err_local err_system(0x3e)
#endif
#ifndef err_get_system
#define err_get_system(err) (((err) >> 26) & 0x3f)
#endif
#ifndef err_get_sub
#define err_get_sub(err) (((err) >> 14) & 0xfff)
#endif
#ifndef err_get_code
#define err_get_code(err) ((err) & 0x3fff)
#endif

#define err_sub_hypervisor err_sub(0xba5)
#define err_common_hypervisor (err_local | err_sub_hypervisor)

HV_DECLS_BEGIN

/* Return codes of every Hypervisor function; HV_SUCCESS is 0. err_system()
 * yields an int, so the codes are negative ints whose bit patterns are
 * Apple's (HV_ERROR is 0xfae94001). */
enum {
	HV_SUCCESS = 0,
	HV_ERROR = err_common_hypervisor | 0x01,               /* 0xfae94001 */
	HV_BUSY = err_common_hypervisor | 0x02,                /* 0xfae94002 */
	HV_BAD_ARGUMENT = err_common_hypervisor | 0x03,        /* 0xfae94003 */
	HV_ILLEGAL_GUEST_STATE = err_common_hypervisor | 0x04, /* 0xfae94004 */
	HV_NO_RESOURCES = err_common_hypervisor | 0x05,        /* 0xfae94005 */
	HV_NO_DEVICE = err_common_hypervisor | 0x06,           /* 0xfae94006 */
	HV_DENIED = err_common_hypervisor | 0x07,              /* 0xfae94007 */
	HV_EXISTS = err_common_hypervisor | 0x08,              /* 0xfae94008 */
	HV_UNSUPPORTED = err_common_hypervisor | 0x0f          /* 0xfae9400f */
};

typedef mach_error_t hv_return_t;

/* Guest memory permissions for hv_vm_map() and hv_vm_protect(). */
enum {
	HV_MEMORY_READ = (1ull << 0),
	HV_MEMORY_WRITE = (1ull << 1),
	HV_MEMORY_EXEC = (1ull << 2)
};

typedef uint64_t hv_memory_flags_t;

/* Kernel-side record of a monitored data abort (Apple's private
 * hv_vm_monitor_data_abort); no public function uses it. */
typedef struct __attribute__((packed)) {
	uint64_t context;
	uint64_t ipa;
	uint64_t value;
	uint32_t access_size;
	uint32_t access_type;
} hv_data_abort_notification_t;

typedef struct {
	mach_msg_header_t header;
	hv_data_abort_notification_t body;
} hv_vm_mem_access_msg_t;

HV_DECLS_END

#endif /* __arm64__ || __aarch64__ */

#endif /* _HV_ARM64_KERN_TYPES_H_ */
