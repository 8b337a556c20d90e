/*
 * The state of one vCPU as Apple's API shows it: registers, VMCS fields and
 * the last exit, held without KVM. The backend keeps one per vCPU and
 * exchanges it with KVM's sync-regs area at entry and exit; the run page
 * that hvd shares with libhvclient carries one too, so register and VMCS
 * access between runs is plain memory access on both sides. The accessors
 * here are pure functions of this struct (hvs_state.c).
 */
#ifndef HVS_H
#define HVS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

/* The last exit, in VMX terms. */
struct hvs_exit {
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

#define HVS_EXTRA_FIELDS 36

/* Controls and other VMCS state that has no KVM home. */
struct hvs_ctls {
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
	uint64_t extra[HVS_EXTRA_FIELDS]; /* fields with no effect (hvs_fields.c) */
};

/* Guest MSRs that back VMCS fields, cached so reads need no ioctl. */
enum hvs_msrc {
	HVS_MSRC_SYSENTER_CS,
	HVS_MSRC_SYSENTER_ESP,
	HVS_MSRC_SYSENTER_EIP,
	HVS_MSRC_PAT,
	HVS_MSRC_COUNT
};

struct hvs_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	uint32_t dirty;               /* KVM_SYNC_X86_* groups written */
	uint32_t msr_dirty;           /* 1 << enum hvs_msrc written */
	uint64_t msr[HVS_MSRC_COUNT];
	/* The client's view where it differs from what KVM is given:
	 * CR4.VMXE (VMX's fixed bit) and, while the hidden real-mode IVT is
	 * installed, the IDTR. */
	uint8_t cr4_vmxe;             /* 0 or 1; bytes, not bool: the run page */
	uint8_t idt_hidden;           /* is client-writable memory */
	uint64_t idt_base;
	uint32_t idt_limit;
	struct hvs_ctls c;
	struct hvs_exit exit;
};

/* Index of a cached MSR, or -1. */
int hvs_msrc_index(uint32_t msr);
uint32_t hvs_msrc_msr(enum hvs_msrc i);

void hvs_init_ctls(struct hvs_ctls *c);
void hvs_seg_from_ar(struct kvm_segment *s, uint32_t ar);
uint32_t hvs_seg_to_ar(const struct kvm_segment *s);

/* VMCS field and register access on the state alone. -ENOENT: unknown
 * field; -EINVAL: read-only field, or value outside the write masks;
 * -EAGAIN: the value lives only in KVM (debug registers, XCR0), ask the
 * vCPU. Writes mark what changed dirty. */
int hvs_read_vmcs(const struct hvs_state *st, uint32_t field, uint64_t *value);
int hvs_write_vmcs(struct hvs_state *st, uint32_t field, uint64_t value);
int hvs_cap_write_vmcs(const struct hvs_state *st, uint32_t field,
		       uint64_t *allowed0, uint64_t *allowed1);
int hvs_read_reg(const struct hvs_state *st, unsigned reg, uint64_t *value);
int hvs_write_reg(struct hvs_state *st, unsigned reg, uint64_t value);
/* hv_vmx_capability_t values as this backend honours them. */
int hvs_caps_read(unsigned cap, uint64_t *value);
/* Force the controls into the capability masks (for state that did not
 * come through hvs_write_vmcs). */
void hvs_clamp_ctls(struct hvs_ctls *c);

#endif
