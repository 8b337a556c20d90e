/*
 * The one table from negative errno values (the backend's and the VMCS
 * model's) to Apple's hv_return_t codes. Each boundary (libhvclient,
 * libhvdirect, hvd) maps errors in one function built from it. It lives in
 * this leaf module because all three link it and libhvclient links nothing
 * else of the hypervisor. On arm64, where there is no VMCS model, it is all
 * that vmcs/ provides.
 */
#ifndef HVS_ERRMAP_H
#define HVS_ERRMAP_H

#include <errno.h>

/* Apple's codes and memory flags: x86's hv_error.h and hv_types.h and
 * arm64's hv_kern_types.h define the same names (each with a few of its
 * own) and never go together, so code of either architecture that needs
 * only these takes them from here. */
#if defined(__aarch64__) || defined(__arm64__)
#include <arm64/hv/hv_kern_types.h>
/* arm64 has no HV_FAULT: a bad client address is a bad argument there. */
#define HVS_HV_FAULT HV_BAD_ARGUMENT
#else
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_types.h>
#define HVS_HV_FAULT HV_FAULT
#endif

#define HVS_ERRNO_MAP(X)            \
	X(EINVAL, HV_BAD_ARGUMENT)  \
	X(ENOENT, HV_BAD_ARGUMENT)  \
	X(EEXIST, HV_BAD_ARGUMENT)  \
	X(ERANGE, HV_BAD_ARGUMENT)  \
	X(EBUSY, HV_BUSY)           \
	X(ENOMEM, HV_NO_RESOURCES)  \
	X(ENOSPC, HV_NO_RESOURCES)  \
	X(EDQUOT, HV_NO_RESOURCES)  \
	X(ENODEV, HV_NO_DEVICE)     \
	X(ENXIO, HV_NO_DEVICE)      \
	X(EACCES, HV_DENIED)        \
	X(EPERM, HV_DENIED)         \
	X(EFAULT, HVS_HV_FAULT)     \
	X(ENOTSUP, HV_UNSUPPORTED)

/* hv_return_t for a negative errno (0 -> HV_SUCCESS). */
static inline hv_return_t hvs_errno_to_hv(int err)
{
	if (err >= 0)
		return HV_SUCCESS;
	switch (-err) {
#define HVS_X(e, hv) case e: return hv;
	HVS_ERRNO_MAP(HVS_X)
#undef HVS_X
	default:
		return HV_ERROR;
	}
}

#endif
