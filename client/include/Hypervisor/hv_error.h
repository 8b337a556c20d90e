/*
 * hv_error.h: hv_return_t and its codes.
 *
 * The codes are built the Mach way, as on macOS: system 0x3e ("local"),
 * subsystem 0xba5, code in the low bits. Mach's err_system() yields a signed
 * int, so the codes are negative ints (HV_ERROR is 0xfae94001 as a bit
 * pattern) and compare with an hv_return_t without sign warnings.
 */
#ifndef __HYPERVISOR_HV_RETURN__
#define __HYPERVISOR_HV_RETURN__

#include <Hypervisor/hv_base.h>

/* The subset of <mach/error.h> needed to spell and take apart the codes. */
#define err_system(x) ((int)((((unsigned)(x)) & 0x3f) << 26))
#define err_sub(x) (((x) & 0xfff) << 14)
#define err_local err_system(0x3e)
#define err_get_system(err) (((err) >> 26) & 0x3f)
#define err_get_sub(err) (((err) >> 14) & 0xfff)
#define err_get_code(err) ((err) & 0x3fff)

#define err_sub_hypervisor err_sub(0xba5)
#define err_common_hypervisor (err_local | err_sub_hypervisor)

HV_DECLS_BEGIN

/* Return codes of every Hypervisor function; HV_SUCCESS is 0. */
enum {
	HV_SUCCESS = 0,
	HV_ERROR = err_common_hypervisor | 0x01,        /* 0xfae94001 */
	HV_BUSY = err_common_hypervisor | 0x02,         /* 0xfae94002 */
	HV_BAD_ARGUMENT = err_common_hypervisor | 0x03, /* 0xfae94003 */
	HV_NO_RESOURCES = err_common_hypervisor | 0x05, /* 0xfae94005 */
	HV_NO_DEVICE = err_common_hypervisor | 0x06,    /* 0xfae94006 */
	HV_DENIED = err_common_hypervisor | 0x07,       /* 0xfae94007 */
	HV_FAULT = err_common_hypervisor | 0x08,        /* 0xfae94008 */
	HV_UNSUPPORTED = err_common_hypervisor | 0x0f   /* 0xfae9400f */
};

typedef mach_error_t hv_return_t;

HV_DECLS_END

#endif /* __HYPERVISOR_HV_RETURN__ */
