/*
 * libhvclient's own additions to Apple's API (not part of
 * Hypervisor.framework; every name starts with hvd_ so that none can
 * collide with Apple's). Apple's calls return only an hv_return_t; when
 * one fails because of hvd (hvd not running, a socket that is not hvd's,
 * no permission, another protocol version, a policy denial, a quota, a VM
 * killed by an administrator, memory hv_vm_map cannot share), libhvclient
 * also writes one line naming the cause and its fix on stderr, the first
 * time that cause happens in the process, and keeps the text for the
 * thread that made the call:
 *
 *   HVD_QUIET=1   no lines on stderr at all (the text is still kept);
 *   HVD_DEBUG=1   a line for every failing call, with hvd's reason.
 *
 * Include it after <Hypervisor/hv.h>; link with -lhvclient
 * (pkg-config hvclient). libhvdirect does not provide it.
 */
#ifndef HVD_HVCLIENT_H
#define HVD_HVCLIENT_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The text of the last failure libhvclient saw in the calling thread, in
 * the form of its stderr line without the "libhvclient: " prefix, e.g.
 * "hv_vm_create: HV_DENIED: no rule or grant applies — ...". "" when this
 * thread has seen none. Like errno it is not cleared by a call that
 * succeeds; a call refused by the API layer before it reaches hvd (an
 * argument checked locally) leaves it as it was. The string belongs to
 * the library, one buffer per thread: the pointer stays valid until the
 * thread exits, and the thread's next failure replaces the text in it
 * (copy it to keep it). Other threads' failures never touch it.
 */
extern __attribute__((__visibility__("default"))) const char *hvd_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
