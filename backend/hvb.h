/*
 * hvb: Hypervisor.framework (Intel VMX flavour) semantics on KVM.
 *
 * An in-process library with explicit objects and no process-wide mutable
 * state: a host (the /dev/kvm handle and what was probed about it), VMs and
 * vCPUs. Every function returns 0 or a negative errno; the API layers
 * (libhvdirect, hvd) map errors to hv_return_t / protocol status once.
 *
 * Threading: VM-wide calls may come from any thread (a VM lock serialises
 * them). vCPU calls other than hvb_vcpu_kick must come from one thread at a
 * time; the caller enforces ownership (Apple's vCPU-per-thread rule).
 * Every KVM vCPU ioctl is issued from inside hvb_vcpu_* calls, so the caller
 * decides which thread talks to KVM.
 */
#ifndef HVB_H
#define HVB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hvb_host;
struct hvb_vm;
struct hvb_vcpu;

/* Upper bound on vCPUs per VM (hv_capability HV_CAP_VCPUMAX). */
#define HVB_MAX_VCPUS 64

/* Guest memory permission bits; the values of HV_MEMORY_READ/WRITE/EXEC. */
#define HVB_MEM_READ  0x1u
#define HVB_MEM_WRITE 0x2u
#define HVB_MEM_EXEC  0x4u

/* What was measured about the host's KVM at start-up. */
struct hvb_host_info {
	int api_version;
	int vcpu_mmap_size;
	bool out_rip_after;      /* OUT exits arrive with RIP past the OUT */
	bool msr_filter;         /* KVM_X86_SET_MSR_FILTER usable */
	bool tsc_writable;       /* guest RDTSC follows writes to IA32_TSC */
	bool hw_breakpoints;     /* KVM_GUESTDBG_USE_HW_BP breakpoints are hit */
	uint32_t max_vcpus;
	uint32_t max_vcpu_id;      /* KVM vCPU ids a VM may use */
	uint32_t nr_memslots;
	uint32_t xsave_size;     /* bytes of hv_vcpu_read_fpstate's buffer */
	uint64_t tsc_khz;
};

/* Open /dev/kvm (or `dev_path` if not NULL), check the capabilities the
 * backend needs, and probe the host's exit flavour with a scratch VM. */
int hvb_host_create(const char *dev_path, struct hvb_host **out);
void hvb_host_destroy(struct hvb_host *host);
const struct hvb_host_info *hvb_host_info(const struct hvb_host *host);

/* Signal used to kick a vCPU thread out of KVM_RUN. hvb_host_create installs
 * a no-op SA_RESTART handler for it. */
int hvb_kick_signal(void);
/* Make every copy the backend makes of guest memory fail with -EFAULT
 * instead of raising SIGBUS (a process-wide SIGBUS handler; hvd installs
 * it, libhvdirect does not: there the memory is the caller's own). Call
 * before starting threads; threads must not block SIGBUS. */
int hvb_guard_install(void);

/* ---- VM ---- */

int hvb_vm_create(struct hvb_host *host, uint64_t options, struct hvb_vm **out);
/* Fails with -EBUSY while vCPUs exist. */
int hvb_vm_destroy(struct hvb_vm *vm);

/* Forget a VM in a forked child: release the child's copies of its file
 * descriptors and memory without touching KVM or locks (the parent still
 * owns the VM). */
void hvb_vm_abandon(struct hvb_vm *vm);

/* Map `size` bytes of host memory at `hva` to guest-physical `gpa`. All three
 * page aligned, size > 0, no overlap with an existing mapping. */
int hvb_vm_map(struct hvb_vm *vm, void *hva, uint64_t gpa, uint64_t size,
	       uint32_t flags);
/* Unmap or reprotect a range that is entirely mapped; mappings that straddle
 * the range's ends are split. */
int hvb_vm_unmap(struct hvb_vm *vm, uint64_t gpa, uint64_t size);
int hvb_vm_protect(struct hvb_vm *vm, uint64_t gpa, uint64_t size,
		   uint32_t flags);
/* Set every vCPU's TSC to `tsc` at its next entry; -ENOTSUP where KVM
 * cannot move the guest TSC. */
int hvb_vm_sync_tsc(struct hvb_vm *vm, uint64_t tsc);
/* The MSR filter a VM's vCPUs start with, set ahead of the first vCPU
 * (its grace period then off vcpu_create's path). Any thread, with no
 * vCPU created meanwhile; 0 where there is nothing to do. */
int hvb_vm_prepare(struct hvb_vm *vm);
/* Bytes of guest memory mapped and the number of mappings (memslots). */
void hvb_vm_usage(struct hvb_vm *vm, uint64_t *bytes, uint32_t *mappings);
/* The mappings, for reports: up to `max` entries, returns the count. */
struct hvb_map_info {
	uint64_t gpa, size;
	uint32_t flags;
};
size_t hvb_vm_maps(struct hvb_vm *vm, struct hvb_map_info *out, size_t max);
/* True if any mapping still uses host memory in [hva, hva+size). */
bool hvb_vm_hva_in_use(struct hvb_vm *vm, const void *hva, uint64_t size);
/* Copy guest-physical memory out of the VM; -EFAULT where unmapped. */
int hvb_vm_read_phys(struct hvb_vm *vm, uint64_t gpa, void *buf, size_t len);
int hvb_vm_write_phys(struct hvb_vm *vm, uint64_t gpa, const void *buf,
		      size_t len);

/* ---- vCPU ---- */

int hvb_vcpu_create(struct hvb_vm *vm, uint64_t options, struct hvb_vcpu **out);
int hvb_vcpu_destroy(struct hvb_vcpu *vcpu);
unsigned hvb_vcpu_id(const struct hvb_vcpu *vcpu);

/* Enter the guest until the next exit; the exit is read through VMCS fields.
 * Returns 0 whenever an exit (including a failed VM entry) was produced;
 * -ENOMEM when the kernel gave KVM no page for a guest access to memory
 * mapped for it (the exit record, an EPT violation, names the GPA). */
int hvb_vcpu_run(struct hvb_vcpu *vcpu);
/* A KVM_RUN that runs no guest code, on the thread that will run `vcpu`,
 * before its first run: KVM's first entry on a thread costs it ~20 us
 * more, which this takes off the first run's path (bench/README.md). */
int hvb_vcpu_prepare(struct hvb_vcpu *vcpu);
/* Force `vcpu` out of (or, if not running, past its next) guest entry with a
 * VMX_REASON_IRQ exit. Any thread. */
int hvb_vcpu_kick(struct hvb_vcpu *vcpu);

/*
 * Throttling, for a CPU quota kept by the caller. `fn` is called on the
 * vCPU's thread before every entry into the guest, including the entries
 * hvb_vcpu_run makes on its own; it returns 0 to enter now or how many
 * nanoseconds to wait first (then it is asked again). The wait ends early
 * on a kick, which ends the run as usual. A KVM_RUN interrupted by a signal
 * that is not a kick (the caller's CPU-time timer) goes back through `fn`
 * instead of ending the run. NULL: no throttling.
 */
typedef uint64_t (*hvb_throttle_fn)(void *ctx);
void hvb_vcpu_set_throttle(struct hvb_vcpu *vcpu, hvb_throttle_fn fn, void *ctx);

/* hv_x86_reg_t access. */
int hvb_vcpu_read_reg(struct hvb_vcpu *vcpu, unsigned reg, uint64_t *value);
int hvb_vcpu_write_reg(struct hvb_vcpu *vcpu, unsigned reg, uint64_t value);

/* VMCS field access (Apple's field encodings). -ENOENT for an unknown field,
 * -EPERM for a read-only field, -EINVAL for a value outside the write masks. */
int hvb_vcpu_read_vmcs(struct hvb_vcpu *vcpu, uint32_t field, uint64_t *value);
int hvb_vcpu_write_vmcs(struct hvb_vcpu *vcpu, uint32_t field, uint64_t value);
int hvb_vcpu_cap_write_vmcs(struct hvb_vcpu *vcpu, uint32_t field,
			    uint64_t *allowed0, uint64_t *allowed1);
/* hv_vmx_capability_t values as this backend honours them. */
int hvb_vmx_read_capability(const struct hvb_host *host, unsigned cap,
			    uint64_t *value);

int hvb_vcpu_read_msr(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t *value);
int hvb_vcpu_write_msr(struct hvb_vcpu *vcpu, uint32_t msr, uint64_t value);
int hvb_vcpu_enable_native_msr(struct hvb_vcpu *vcpu, uint32_t msr, bool on);

int hvb_vcpu_read_fpstate(struct hvb_vcpu *vcpu, void *buf, size_t size);
int hvb_vcpu_write_fpstate(struct hvb_vcpu *vcpu, const void *buf, size_t size);

struct hvs_state;
/* Take the API-visible state from a copy the client edited (hvd's run
 * page): groups marked dirty are adopted, controls are forced into the
 * capability masks, read-only exit information is kept. The caller copies
 * the shared page into `client` first, so nothing is read twice. */
void hvb_vcpu_import(struct hvb_vcpu *vcpu, const struct hvs_state *client);
/* Give the client its view of the state after a run or a vCPU call. */
void hvb_vcpu_export(const struct hvb_vcpu *vcpu, struct hvs_state *out);

/* Nanoseconds this vCPU's thread spent inside KVM_RUN. */
int hvb_vcpu_exec_time(struct hvb_vcpu *vcpu, uint64_t *ns);
/* Drop cached guest translations so host-side page-table edits take effect. */
int hvb_vcpu_invalidate_tlb(struct hvb_vcpu *vcpu);

#endif
