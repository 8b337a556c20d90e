/*
 * The Apple-API front end (hva_*) and the transports under it.
 *
 * Apple's model is process-wide: one VM per process, each vCPU owned by
 * the thread that created it. The front end (api/) holds that model once
 * for every library that implements the API: the VM singleton, the
 * vCPU-to-thread table, the checks of arguments, fork, the calls this
 * implementation does not offer. What differs is how a call reaches a
 * hypervisor, a transport: libhvclient's goes to hvd over the socket and
 * the run page (client/), libhvdirect's calls the backend in-process
 * (direct/). Each of those libraries defines `hva_transport`; the front
 * end calls nothing else of it.
 *
 * Every operation returns an hv_return_t: each transport maps its own
 * errors (errno, a lost connection) in its one place, and the front end
 * passes the result on unchanged.
 */
#ifndef HVA_H
#define HVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

/* vCPU ids are below this in every transport (the backend's and hvd's
 * limit), so the front end's table is indexed by id. */
#define HVA_MAX_VCPUS 64

/* A transport's VM and vCPU, opaque to the front end. There is at most one
 * VM; a vCPU handle stays valid until vcpu_destroy says it is gone. */
struct hva_vm;
struct hva_vcpu;

/*
 * What a transport does. Calls marked "VM lock" run under the front end's
 * lock (no other VM or vCPU lifecycle call runs meanwhile); "owner" calls
 * run on the vCPU's owning thread, without any lock of the front end's.
 * The front end has already checked the arguments it documents
 * (api/hva_api.c); what is left to a transport is said here.
 */
struct hva_transport {
	/* The most vCPUs one hv_vcpu_interrupt may name. */
	unsigned max_interrupt;

	/* hv_vm_create, before the VM lock: reach the hypervisor (NULL: there
	 * is nothing to reach). */
	hv_return_t (*vm_open)(void);
	/* VM lock: the flags are valid ones; *out is non-NULL on success. */
	hv_return_t (*vm_create)(hv_vm_options_t flags, struct hva_vm **out);
	/* VM lock. The VM stays the process's unless HV_SUCCESS. */
	hv_return_t (*vm_destroy)(struct hva_vm *vm);
	/* In a forked child, with the parent's VM (or NULL): drop this
	 * process's copies of the parent's objects, vCPUs included, without
	 * touching the parent's. */
	void (*fork_child)(struct hva_vm *vm);

	/* hv_capability; `vm` is NULL when the process has no VM. */
	hv_return_t (*capability)(struct hva_vm *vm, hv_capability_t cap, uint64_t *value);
	hv_return_t (*vmx_read_capability)(hv_vmx_capability_t field, uint64_t *value);
	/* Guest memory. map: flags are valid, gpa page-aligned and gpa + size
	 * does not wrap. protect: nothing checked yet. */
	hv_return_t (*vm_map)(struct hva_vm *vm, void *uva, hv_gpaddr_t gpa, size_t size,
			      hv_memory_flags_t flags);
	hv_return_t (*vm_unmap)(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size);
	hv_return_t (*vm_protect)(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size,
				  hv_memory_flags_t flags);
	hv_return_t (*vm_sync_tsc)(struct hva_vm *vm, uint64_t tsc);
	/* No VM needed. allocate: uvap set, size a non-zero multiple of the
	 * page size. deallocate: uva and size page-aligned and non-zero. */
	hv_return_t (*vm_allocate)(void **uvap, size_t size);
	hv_return_t (*vm_deallocate)(void *uva, size_t size);

	/* VM lock: the flags are valid ones and the calling thread owns no
	 * vCPU. On success *id < HVA_MAX_VCPUS and *out is the vCPU. */
	hv_return_t (*vcpu_create)(struct hva_vm *vm, hv_vcpu_options_t flags, hv_vcpuid_t *id,
				   struct hva_vcpu **out);
	/* VM lock, on the owner. *gone: the vCPU no longer exists for this
	 * process (its handle is freed), whatever the result. */
	hv_return_t (*vcpu_destroy)(struct hva_vcpu *vcpu, bool *gone);
	/* VM lock, any thread: `n` ids (1 <= n <= max_interrupt), not
	 * checked yet (hva_vcpu_lookup finds their vCPUs). */
	hv_return_t (*interrupt)(struct hva_vm *vm, const hv_vcpuid_t *ids, unsigned n);

	/* Owner. Pointers are non-NULL; fpstate sizes are >= 512. */
	hv_return_t (*read_reg)(struct hva_vcpu *vcpu, hv_x86_reg_t reg, uint64_t *value);
	hv_return_t (*write_reg)(struct hva_vcpu *vcpu, hv_x86_reg_t reg, uint64_t value);
	hv_return_t (*read_vmcs)(struct hva_vcpu *vcpu, uint32_t field, uint64_t *value);
	hv_return_t (*write_vmcs)(struct hva_vcpu *vcpu, uint32_t field, uint64_t value);
	hv_return_t (*cap_write_vmcs)(struct hva_vcpu *vcpu, uint32_t field,
				      uint64_t *allowed_0, uint64_t *allowed_1);
	hv_return_t (*read_msr)(struct hva_vcpu *vcpu, uint32_t msr, uint64_t *value);
	hv_return_t (*write_msr)(struct hva_vcpu *vcpu, uint32_t msr, uint64_t value);
	hv_return_t (*enable_native_msr)(struct hva_vcpu *vcpu, uint32_t msr, bool enable);
	hv_return_t (*read_fpstate)(struct hva_vcpu *vcpu, void *buffer, size_t size);
	hv_return_t (*write_fpstate)(struct hva_vcpu *vcpu, const void *buffer, size_t size);
	hv_return_t (*invalidate_tlb)(struct hva_vcpu *vcpu);
	hv_return_t (*exec_time)(struct hva_vcpu *vcpu, uint64_t *ns);
	/* Run until the next exit for the client. */
	hv_return_t (*run)(struct hva_vcpu *vcpu);
};

/* Under the VM lock (in a transport's interrupt): the process's vCPU `id`,
 * whichever thread owns it, or NULL. */
struct hva_vcpu *hva_vcpu_lookup(hv_vcpuid_t id);

/* The transport of the library the front end is linked into; each of
 * libhvclient and libhvdirect defines it. */
extern const struct hva_transport hva_transport;

#endif
