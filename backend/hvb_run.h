/*
 * The pieces of hvb_vcpu_run, shared between the four files that make it:
 * hvb_entry.c (VM-entry checks and event injection), hvb_ivt.c (the hidden
 * real-mode IVT and its trap), hvb_exit.c (KVM exits into VMX exits) and
 * hvb_run.c (the loop). Not installed.
 */
#ifndef HVB_RUN_H
#define HVB_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hvb_priv.h"

#define CR0_PE (1ull << 0)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_AC (1ull << 18)

#define EXIT_FAILED_ENTRY 0x80000000u
#define EPT_READ (1ull << 0)
#define EPT_WRITE (1ull << 1)
#define EPT_FETCH (1ull << 2)

/* What the run loop does after translating one KVM exit. */
enum hvb_step { HVB_STEP_EXIT, HVB_STEP_CONTINUE };

/* Guest state in KVM's sync-regs area, valid between KVM_RUNs; changes
 * made here reach KVM at the next one once marked dirty. */
static inline struct kvm_regs *regs_of(struct hvb_vcpu *v)
{
	return &v->run->s.regs.regs;
}

static inline struct kvm_sregs *sregs_of(struct hvb_vcpu *v)
{
	return &v->run->s.regs.sregs;
}

static inline void regs_dirty(struct hvb_vcpu *v)
{
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

static inline void sregs_dirty(struct hvb_vcpu *v)
{
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
}

static inline void exit_clear(struct hvs_exit *x)
{
	memset(x, 0, sizeof(*x));
}

static inline void set_seg_real(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
}

/* hvb_entry.c */
/* VM-entry checks on guest state that KVM would not make (SDM 26.3.1). */
bool hvb__entry_state_ok(struct hvb_vcpu *v);
/* EFER.LMA/LME from the "IA-32e mode guest" entry control. */
void hvb__entry_efer(struct hvb_vcpu *v);
/* Inject VMCS_CTRL_VMENTRY_IRQ_INFO; *failed: delivery ends in a triple
 * fault (real mode, no handler). */
int hvb__entry_inject(struct hvb_vcpu *v, bool *failed);
/* The VM's TSC and the interrupt-window request, before each entry. */
int hvb__entry_misc(struct hvb_vcpu *v);
/* Deliver a real-mode event through the client's IVT as the CPU would;
 * -ERANGE when the client's IDTR limit does not cover `vec`. */
int hvb__real_mode_deliver(struct hvb_vcpu *v, unsigned vec, uint16_t ret_ip);

/* hvb_ivt.c */
/* Set KVM's guest debugging for the IVT breakpoint and single-stepping. */
int hvb__update_guest_debug(struct hvb_vcpu *v, bool step);
/* Real mode: hide the client's IDTR behind the backend's IVT; protected
 * mode: give it back. */
int hvb__entry_idt(struct hvb_vcpu *v);
/* After an exit: adopt an IDTR the guest loaded in real mode. */
void hvb__exit_idt(struct hvb_vcpu *v);
/* Deliver or report real-mode event `vec` as VMX would. */
enum hvb_step hvb__rm_event(struct hvb_vcpu *v, unsigned vec, unsigned type,
			    unsigned ilen, uint16_t ret_ip, uint16_t fault_ip);
/* A vector reached the hidden IVT's trap. */
enum hvb_step hvb__exit_rm_trap(struct hvb_vcpu *v);

/* hvb_exit.c */
/* Turn the KVM exit in v->run into a VMX exit in v->st.exit, or go on. */
enum hvb_step hvb__translate(struct hvb_vcpu *v);
/* What VMX does on every VM exit. */
void hvb__exit_common(struct hvb_vcpu *v);
/* An exit with only a reason. */
void hvb__exit_simple(struct hvb_vcpu *v, uint32_t reason);
bool hvb__irq_window_open(struct hvb_vcpu *v);
enum hvb_step hvb__window_exit(struct hvb_vcpu *v);

#endif
