/*
 * The arm64 Apple-API front end (hva64_*) and the transports under it: the
 * arm64 counterpart of hva.h, with the same split. The front end holds
 * Apple's process model (one VM per process, each vCPU owned by the thread
 * that created it), the configuration objects, every argument check, and
 * the vCPU state between runs: registers, pending interrupts, the vtimer's
 * mask and offset, the exit record and the exec time are plain memory in a
 * struct ha64_state (a64/ha64.h) that the transport hands over at vcpu_create
 * and that stays valid until vcpu_destroy says the vCPU is gone. What needs
 * the hypervisor goes through `hva64_transport`: libhvdirect's calls the
 * arm64 backend in-process (direct/hv_direct64.c); libhvclient's goes to
 * hvd over the socket and the run page (client/hvc_remote64.c).
 *
 * Every operation returns an hv_return_t: each transport maps its own
 * errors in its one place, and the front end passes the result on.
 */
#ifndef HVA64_H
#define HVA64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Hypervisor/Hypervisor.h>

#include "ha64.h"

/* vCPU ids (hv_vcpu_t values) are below this in every transport. */
#define HVA64_MAX_VCPUS 64

struct hva64_vm;
struct hva64_vcpu;

/* The host as the API reports it; the same fields as the backend's
 * struct hvb_a64_host, without the backend's header. */
struct hva64_host {
	uint32_t ipa_max, ipa_default;
	uint32_t max_vcpus;
	bool el2;
	bool smccc_filter;
	bool counter_offset;
	uint64_t feature[14];     /* by hv_feature_reg_t */
	uint64_t ccsidr[2][8];    /* by hv_cache_type_t, level 1..8 */
};

/* hv_gic_config_t's contents, checked by the front end (alignment, ranges). */
struct hva64_gic_config {
	uint64_t dist_base;
	uint64_t redist_base;
	uint64_t msi_base;
	uint32_t msi_intid_base, msi_count;  /* count 0: no MSI */
};

/* hv_gic_*_reg's register space; the values of enum hvb_a64_gic_space. */
enum hva64_gic_space {
	HVA64_GIC_DIST = 1,
	HVA64_GIC_REDIST = 2,
	HVA64_GIC_ICC = 3,
	HVA64_GIC_ICH = 4,
	HVA64_GIC_ICV = 5,
	HVA64_GIC_MSI = 6,
};

/*
 * What a transport does. "VM lock": runs under the front end's lock (no other
 * lifecycle call meanwhile); "owner": on the vCPU's owning thread, with no lock
 * of the front end's; "any": any thread, no lock.
 */
struct hva64_transport {
	/* Before the VM lock: reach the hypervisor (NULL: nothing to reach). */
	hv_return_t (*vm_open)(void);
	/* Any: the host's limits and ID registers (reaches the hypervisor if
	 * needed; no VM needed). */
	hv_return_t (*host_info)(struct hva64_host *out);

	/* VM lock: options are HA64_VMOPT_*, checked against host_info. */
	hv_return_t (*vm_create)(uint64_t options, struct hva64_vm **out);
	hv_return_t (*vm_destroy)(struct hva64_vm *vm);
	/* In a forked child: drop this process's copies of the parent's
	 * objects (vCPUs included) without touching the parent's. */
	void (*fork_child)(struct hva64_vm *vm);

	/* VM lock. map: flags are R/W/X bits, uva/ipa/size page aligned,
	 * size > 0, no wrap. unmap/protect: aligned, size > 0. */
	hv_return_t (*vm_map)(struct hva64_vm *vm, void *uva, uint64_t ipa, size_t size,
			      uint64_t flags);
	hv_return_t (*vm_unmap)(struct hva64_vm *vm, uint64_t ipa, size_t size);
	hv_return_t (*vm_protect)(struct hva64_vm *vm, uint64_t ipa, size_t size, uint64_t flags);
	/* No VM needed; arguments checked as in hva.h. */
	hv_return_t (*vm_allocate)(void **uvap, size_t size);
	hv_return_t (*vm_deallocate)(void *uva, size_t size);

	/* VM lock, on the thread that will own it (which owns no other): on
	 * success *id < HVA64_MAX_VCPUS, *state the vCPU's state (refreshed
	 * registers: none; exit record zero), *out the vCPU. */
	hv_return_t (*vcpu_create)(struct hva64_vm *vm, uint32_t *id, struct ha64_state **state,
				   struct hva64_vcpu **out);
	/* VM lock, owner. *gone: the vCPU no longer exists for this process
	 * (handle and state freed), whatever the result. */
	hv_return_t (*vcpu_destroy)(struct hva64_vcpu *vcpu, bool *gone);
	/* Owner: do state->op (HA64_OP_RUN or HA64_OP_SYNC) on the vCPU. */
	hv_return_t (*vcpu_enter)(struct hva64_vcpu *vcpu);
	/* Any (hv_vcpus_exit): each vCPU's current run, or its next one if it
	 * is not running, ends with HV_EXIT_REASON_CANCELED. `ids` are the
	 * front end's, already checked to name live vCPUs of `vm`. */
	hv_return_t (*vcpus_exit)(struct hva64_vm *vm, const uint32_t *ids, unsigned n);

	/* The GIC (VM lock unless said): the front end checked the config,
	 * the order (after vm_create, before any vCPU) and the ranges. */
	hv_return_t (*gic_create)(struct hva64_vm *vm, const struct hva64_gic_config *cfg);
	/* Any. */
	hv_return_t (*gic_set_spi)(struct hva64_vm *vm, uint32_t intid, bool level);
	hv_return_t (*gic_send_msi)(struct hva64_vm *vm, uint64_t addr, uint32_t intid);
	/* Any for DIST/MSI (vcpu NULL); owner of `vcpu` for the others. */
	hv_return_t (*gic_reg)(struct hva64_vm *vm, struct hva64_vcpu *vcpu, enum hva64_gic_space space,
			       uint32_t reg, bool write, uint64_t *value);
	hv_return_t (*gic_redist_base)(struct hva64_vm *vm, struct hva64_vcpu *vcpu, uint64_t *base);
	/* *blob malloc'd; the front end frees it. */
	hv_return_t (*gic_state_get)(struct hva64_vm *vm, void **blob, size_t *size);
	hv_return_t (*gic_state_set)(struct hva64_vm *vm, const void *blob, size_t size);
	hv_return_t (*gic_reset)(struct hva64_vm *vm);
};

/* The transport of the library the front end is linked into. */
extern const struct hva64_transport hva64_transport;

/* GIC geometry the front end reports (hv_gic_get_*) and the backends
 * build: GICv3 distributor 64 KiB, a redistributor 2 x 64 KiB per vCPU,
 * 64 KiB alignment, SPIs 32..991 (KVM's vGIC has at most 992 interrupts:
 * NR_IRQS is at most 1023 and a multiple of 32), one 64 KiB GICv2m-style
 * MSI frame. */
#define HVA64_GIC_DIST_SIZE 0x10000ull
#define HVA64_GIC_REDIST_SIZE 0x20000ull
#define HVA64_GIC_ALIGN 0x10000ull
#define HVA64_GIC_MSI_SIZE 0x10000ull
#define HVA64_GIC_SPI_BASE 32u
#define HVA64_GIC_SPI_COUNT 960u

#endif
