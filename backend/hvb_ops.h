/*
 * The backend interface: everything a front end (libhvdirect, hvd) asks of
 * a hypervisor backend, as one table of functions, so that a second
 * backend (Apple's arm64 API on KVM/arm64, a software one) can sit beside
 * the x86/KVM one without the front end or hvd's sessions changing.
 *
 * The objects stay opaque handles (struct hvb_host, hvb_vm, hvb_vcpu);
 * each backend defines them. A vCPU's architectural state, the part of the
 * Apple API that is plain memory between runs (hvd's run page), crosses as
 * an opaque struct hvb_arch_state of arch_state_size bytes, laid out by the
 * backend's architecture: for x86, struct hvs_state (vmcs/hvs.h). Calls
 * only one architecture has are in its own table (`x86` below; an arm64
 * backend adds `arm64` and leaves `x86` NULL).
 *
 * Every function returns 0 or a negative errno, with the contract of the
 * function of the same name in hvb.h.
 */
#ifndef HVB_OPS_H
#define HVB_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvb.h"

/* A vCPU's architectural state; x86: struct hvs_state. */
struct hvb_arch_state;

enum hvb_arch {
	HVB_ARCH_X86_64 = 1,
	HVB_ARCH_ARM64 = 2,
};

/* Calls of Apple's x86 API that need the vCPU or the host (the rest of it
 * is done on the arch state: vmcs/hvs.h). */
struct hvb_arch_x86 {
	/* Registers and VMCS fields the state does not hold (-EAGAIN there):
	 * debug registers, XCR0. */
	int (*read_reg)(struct hvb_vcpu *vcpu, unsigned reg, uint64_t *value);
	int (*write_reg)(struct hvb_vcpu *vcpu, unsigned reg, uint64_t value);
	int (*read_vmcs)(struct hvb_vcpu *vcpu, uint32_t field, uint64_t *value);
	int (*write_vmcs)(struct hvb_vcpu *vcpu, uint32_t field, uint64_t value);
	int (*cap_write_vmcs)(struct hvb_vcpu *vcpu, uint32_t field,
			      uint64_t *allowed0, uint64_t *allowed1);
	int (*read_capability)(const struct hvb_host *host, unsigned cap, uint64_t *value);
	int (*read_msr)(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t *value);
	int (*write_msr)(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t value);
	int (*enable_native_msr)(struct hvb_vcpu *vcpu, uint32_t msr, bool on);
	int (*read_fpstate)(struct hvb_vcpu *vcpu, void *buf, size_t size);
	int (*write_fpstate)(struct hvb_vcpu *vcpu, const void *buf, size_t size);
	int (*sync_tsc)(struct hvb_vm *vm, uint64_t tsc);
	int (*invalidate_tlb)(struct hvb_vcpu *vcpu);
	/* Before the VM's first vCPU, from any thread, with no vCPU made
	 * meanwhile: the once-per-VM set-up that waits for a KVM grace
	 * period (the MSR filter), so that vcpu_create does not. Optional. */
	int (*vm_prepare)(struct hvb_vm *vm);
};

/* The arm64 host as the arm64 API reports it (hv_vm_config_get_*,
 * hv_vcpu_config_get_*, hv_vm_get_max_vcpu_count). */
struct hvb_a64_host {
	uint32_t ipa_max, ipa_default;  /* bits */
	uint32_t max_vcpus;
	bool el2;                       /* EL2 guests possible (nested virt) */
	bool smccc_filter;              /* HVC/SMC reach the client (6.4+) */
	bool counter_offset;            /* KVM_ARM_SET_COUNTER_OFFSET */
	/* hv_feature_reg_t 0..13 (0 where KVM has none) and CCSIDR_EL1 for
	 * hv_cache_type_t DATA, INSTRUCTION at levels 1..8 (0: no cache). */
	uint64_t feature[14];
	uint64_t ccsidr[2][8];
};

/* The GIC as hv_gic_config sets it (all addresses IPAs; a 0 size or count
 * means "not configured"). */
struct hvb_a64_gic_config {
	uint64_t dist_base;
	uint64_t redist_base;
	uint64_t msi_base;              /* with msi_count != 0 */
	uint32_t msi_intid_base, msi_count;
};

/* Register spaces of the GIC calls (hv_gic_get/set_*_reg). */
enum hvb_a64_gic_space {
	HVB_GIC_DIST = 1,    /* reg: hv_gic_distributor_reg_t offset; no vCPU */
	HVB_GIC_REDIST = 2,  /* reg: hv_gic_redistributor_reg_t offset of the vCPU's */
	HVB_GIC_ICC = 3,     /* reg: hv_gic_icc_reg_t sysreg encoding, the vCPU's */
	HVB_GIC_ICH = 4,     /* EL2 only */
	HVB_GIC_ICV = 5,     /* EL2 only */
	HVB_GIC_MSI = 6,     /* reg: hv_gic_msi_reg_t offset in the MSI frame; no vCPU */
};

/* Calls of Apple's arm64 API beyond the generic table. The vCPU's state is
 * struct ha64_state (a64/ha64.h): vcpu_import/vcpu_export copy it, and
 * vcpu_run does its `op` (RUN or SYNC). vcpu_import reads each byte of the
 * client's state at most once and checks what it took (ha64_check), so hvd
 * imports straight from the shared run page; vcpu_export writes the
 * scalars, bitmaps, exit record and the valid registers only. vm_create's options are
 * HA64_VMOPT_*; vcpu_create's are 0. */
struct hvb_arch_arm64 {
	int (*host_query)(const struct hvb_host *host, struct hvb_a64_host *out);
	/* One GIC per VM, after vm_create and before the first vCPU. */
	int (*gic_create)(struct hvb_vm *vm, const struct hvb_a64_gic_config *cfg);
	int (*gic_set_spi)(struct hvb_vm *vm, uint32_t intid, bool level);
	int (*gic_send_msi)(struct hvb_vm *vm, uint64_t addr, uint32_t intid);
	/* `vcpu` for REDIST/ICC/ICH/ICV (the caller is its owner), NULL else. */
	int (*gic_reg)(struct hvb_vm *vm, struct hvb_vcpu *vcpu, enum hvb_a64_gic_space space,
		       uint32_t reg, bool write, uint64_t *value);
	int (*gic_redist_base)(struct hvb_vm *vm, struct hvb_vcpu *vcpu, uint64_t *base);
	/* The GIC's state as an opaque versioned blob (malloc'd, caller frees),
	 * and back; reset to the architectural reset values. */
	int (*gic_state_get)(struct hvb_vm *vm, void **blob, size_t *size);
	int (*gic_state_set)(struct hvb_vm *vm, const void *blob, size_t size);
	int (*gic_reset)(struct hvb_vm *vm);
	/* The vCPU's last exit, for statistics (hvctl show): Apple's reason and
	 * the syndrome's EC (0 unless an exception). */
	void (*last_exit)(const struct hvb_vcpu *vcpu, uint32_t *reason, uint32_t *ec);
};

struct hvb_ops {
	const char *name;             /* for logs: "x86-kvm" */
	enum hvb_arch arch;
	size_t arch_state_size;       /* bytes of struct hvb_arch_state */

	/* Process-wide set-up (hvb_kick_signal, hvb_guard_install). */
	int (*kick_signal)(void);
	int (*guard_install)(void);

	/* The host: the hypervisor device and what was probed about it. */
	int (*host_create)(const char *dev_path, struct hvb_host **out);
	void (*host_destroy)(struct hvb_host *host);
	const struct hvb_host_info *(*host_info)(const struct hvb_host *host);

	/* VMs and their guest-physical memory. */
	int (*vm_create)(struct hvb_host *host, uint64_t options, struct hvb_vm **out);
	int (*vm_destroy)(struct hvb_vm *vm);
	void (*vm_abandon)(struct hvb_vm *vm);
	int (*vm_map)(struct hvb_vm *vm, void *hva, uint64_t gpa, uint64_t size,
		      uint32_t flags);
	int (*vm_unmap)(struct hvb_vm *vm, uint64_t gpa, uint64_t size);
	int (*vm_protect)(struct hvb_vm *vm, uint64_t gpa, uint64_t size, uint32_t flags);
	void (*vm_usage)(struct hvb_vm *vm, uint64_t *bytes, uint32_t *mappings);
	size_t (*vm_maps)(struct hvb_vm *vm, struct hvb_map_info *out, size_t max);
	bool (*vm_hva_in_use)(struct hvb_vm *vm, const void *hva, uint64_t size);

	/* vCPUs: lifecycle, running, and the state between runs. */
	int (*vcpu_create)(struct hvb_vm *vm, uint64_t options, struct hvb_vcpu **out);
	int (*vcpu_destroy)(struct hvb_vcpu *vcpu);
	unsigned (*vcpu_id)(const struct hvb_vcpu *vcpu);
	int (*vcpu_run)(struct hvb_vcpu *vcpu);
	/* On the thread that will run the vCPU, before its first run and
	 * ahead of it: KVM's first entry set-up, without guest code.
	 * Optional; errors are the first run's to meet. */
	int (*vcpu_prepare)(struct hvb_vcpu *vcpu);
	int (*vcpu_kick)(struct hvb_vcpu *vcpu);
	void (*vcpu_set_throttle)(struct hvb_vcpu *vcpu, hvb_throttle_fn fn, void *ctx);
	int (*vcpu_exec_time)(struct hvb_vcpu *vcpu, uint64_t *ns);
	/* Take the state from a copy the client edited; give the client its
	 * view (hvb_vcpu_import, hvb_vcpu_export). */
	void (*vcpu_import)(struct hvb_vcpu *vcpu, const struct hvb_arch_state *client);
	void (*vcpu_export)(const struct hvb_vcpu *vcpu, struct hvb_arch_state *out);

	/* The architecture's own calls: the one matching `arch` is set. */
	const struct hvb_arch_x86 *x86;
	const struct hvb_arch_arm64 *arm64;
};

/* Apple's Intel API on x86 KVM. */
extern const struct hvb_ops hvb_x86_ops;
/* Apple's arm64 API on KVM/arm64 (backend/hvb64_*.c, arm64 builds only). */
extern const struct hvb_ops hvb_a64_ops;

#endif
