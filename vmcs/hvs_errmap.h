/*
 * The one table from negative errno values (the backend's and the VMCS
 * model's) to Apple's hv_return_t codes. Each boundary (libhvclient,
 * libhvdirect, hvd) maps errors in one function built from it. It lives in
 * this leaf module because all three link it and libhvclient links nothing
 * else of the hypervisor.
 */
#ifndef HVS_ERRMAP_H
#define HVS_ERRMAP_H

#include <errno.h>

#include <Hypervisor/hv_error.h>

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
	X(EFAULT, HV_FAULT)         \
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
