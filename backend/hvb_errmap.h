/*
 * The one table from the backend's negative errno values to Apple's
 * hv_return_t codes. Each boundary (libhvdirect, hvd) maps errors in one
 * function built from it.
 */
#ifndef HVB_ERRMAP_H
#define HVB_ERRMAP_H

#include <errno.h>

#include <Hypervisor/hv_error.h>

#define HVB_ERRNO_MAP(X)            \
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
static inline hv_return_t hvb_errno_to_hv(int err)
{
	if (err >= 0)
		return HV_SUCCESS;
	switch (-err) {
#define HVB_X(e, hv) case e: return hv;
	HVB_ERRNO_MAP(HVB_X)
#undef HVB_X
	default:
		return HV_ERROR;
	}
}

#endif
