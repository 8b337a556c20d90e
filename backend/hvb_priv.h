/* Backend internals shared between the backend's files. Not installed. */
#ifndef HVB_PRIV_H
#define HVB_PRIV_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>

#include "hvb.h"
#include "hvb_decode.h"

/* Log with context to stderr; the backend never aborts. */
void hvb__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct hvb_host {
	int kvm_fd;
	struct hvb_host_info info;
	struct kvm_cpuid2 *cpuid;     /* what every vCPU is given */
};

/* One contiguous guest-physical mapping, backed by one KVM memslot. */
struct hvb_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint32_t flags;               /* HVB_MEM_* */
	uint32_t slot;                /* KVM slot id; unused when !READ */
	bool has_slot;
};

/* Guest-physical page that holds the backend's hidden real-mode IVT
 * (kvm-notes.md §3). Its address moves if the client maps over it. */
#define HVB_TRAP_LINEAR 0x100F00ull

struct hvb_vm {
	struct hvb_host *host;
	int fd;
	pthread_mutex_t lock;         /* regions, slots, vcpus, msr filter */
	struct hvb_region *regions;   /* sorted by gpa, non-overlapping */
	size_t nregions, cap_regions;
	uint8_t *slot_used;           /* one byte per KVM slot id */
	uint32_t nslots;

	uint8_t *ivt_page;            /* 4 KiB, read-only to the guest */
	uint64_t ivt_gpa;
	uint32_t ivt_slot;
	bool ivt_mapped;

	struct hvb_vcpu *vcpus[HVB_MAX_VCPUS];
	unsigned nvcpus;
	uint64_t filter_gen;          /* bumps when the MSR filter must change */
	_Atomic uint64_t tsc_gen;
	uint64_t tsc_value;
};

/* The last exit, in VMX terms. */
struct hvb_exit {
	uint32_t reason;
	uint64_t qual;
	uint32_t instr_len;
	uint32_t instr_info;
	uint32_t irq_info, irq_error;
	uint32_t idt_info, idt_error;
	uint64_t gpa, gla;
	uint64_t io_rcx, io_rsi, io_rdi, io_rip;
	uint32_t instr_error;
};

#define HVB_EXTRA_FIELDS 36

/* Controls and other VMCS state that has no KVM home. */
struct hvb_ctls {
	uint32_t pin, cpu, cpu2, entry, exit;
	uint32_t exc_bitmap, pf_mask, pf_match, cr3_count;
	uint32_t entry_irq, entry_exc_err, entry_instr_len;
	uint32_t tpr_threshold, ple_gap, ple_window;
	uint64_t cr0_mask, cr4_mask, cr0_shadow, cr4_shadow;
	uint64_t cr3_target[4];
	uint64_t tsc_offset, apic_access, virtual_apic, vpid;
	uint64_t link_ptr, debugctl, pending_dbg, perf_global_ctrl, bndcfgs;
	uint64_t pdpte[4];
	uint32_t activity, smbase;
	uint64_t host[32];            /* host-state fields, stored only */
	uint64_t extra[HVB_EXTRA_FIELDS]; /* fields with no effect (hvb_vmcs.c) */
};

#define HVB_MAX_NATIVE_MSRS 16

struct hvb_vcpu {
	struct hvb_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;

	struct hvb_ctls c;
	struct hvb_exit exit;

	/* The client's view of state that the backend shows differently to
	 * KVM: CR0/CR4 fixed bits (CR4.VMXE) and the real-mode IDTR. */
	uint64_t cr0, cr4;
	uint64_t idt_base;
	uint32_t idt_limit;
	bool state_pushed;            /* client view folded into s.regs */

	bool guest_debug_on;          /* hidden-IVT breakpoint installed */
	uint64_t filter_gen;
	uint64_t tsc_gen;

	uint32_t native_msrs[HVB_MAX_NATIVE_MSRS];
	unsigned nnative;

	_Atomic int in_run;
	_Atomic int kick;
	_Atomic pthread_t thread;
	uint64_t exec_ns;
};

/* hvb_vm.c */
struct hvb_region *hvb__vm_find(struct hvb_vm *vm, uint64_t gpa);
int hvb__vm_update_msr_filter(struct hvb_vm *vm);
int hvb__vm_ivt_place(struct hvb_vm *vm);

/* hvb_vmcs.c */
void hvb__ctls_init(struct hvb_ctls *c);
void hvb__seg_from_ar(struct kvm_segment *s, uint32_t ar);
uint32_t hvb__seg_to_ar(const struct kvm_segment *s);

/* hvb_vcpu.c: guest memory seen through the vCPU's paging. */
int hvb__gla_to_gpa(struct hvb_vcpu *vcpu, uint64_t gla, bool write,
		    uint64_t *gpa);
int hvb__read_linear(struct hvb_vcpu *vcpu, uint64_t gla, void *buf,
		     size_t len);
enum hvb_cpu_mode hvb__cpu_mode(const struct kvm_sregs *s);

#endif
