/*
 * The VMCS shadow: every VMCS field Apple's API names has one row below
 * saying where it lives in struct hvs_state, whether the client may write
 * it, what a write marks dirty for the backend, its write masks and any
 * further check. Reading, writing and the write masks
 * (hv_vmx_vcpu_read_cap_write_vmcs) all walk this one table. Guest state
 * is in KVM's sync-regs format (registers, segment state, control
 * registers, events), four guest fields are cached MSRs, and controls,
 * exit information and host state are plain fields.
 *
 * Adding a field is one row, in encoding order (the unit test checks the
 * order). Pure functions: libhvclient runs the same code on its run page.
 */
#include <errno.h>
#include <string.h>

#include "hvs_priv.h"

_Static_assert(sizeof(struct hvs_state) <= UINT16_MAX, "hvs_field.off is 16 bits");

const struct hvs__mask hvs__caps[HVS__CAP_COUNT] = {
	[HVS__CAP_PIN] = { PIN_MUST, PIN_MAY },
	[HVS__CAP_CPU] = { CPU_MUST, CPU_MAY },
	[HVS__CAP_CPU2] = { CPU2_MUST, CPU2_MAY },
	[HVS__CAP_ENTRY] = { ENTRY_MUST, ENTRY_MAY },
	[HVS__CAP_EXIT] = { EXIT_MUST, EXIT_MAY },
	/* Unrestricted guest is always on: only NE is fixed to 1. */
	[HVS__CAP_CR0] = { CR0_NE, 0xffffffffull & ~(CR0_CD | CR0_NW) },
	[HVS__CAP_CR4] = { CR4_VMXE, CR4_MAY },
	/* Apple: only ACTIVE (0) or HLT (1). */
	[HVS__CAP_ACTIVITY] = { 0, 1 },
	[HVS__CAP_INTR] = { 0, 0xf },
};

/* Width mask of a field from its encoding (Intel SDM appendix B). */
static uint64_t field_mask(uint32_t field)
{
	switch ((field >> 13) & 3) {
	case 0: return 0xffff;
	case 2: return 0xffffffff;
	default: return ~0ull;
	}
}

/* ---- checks ---- */

/* Within the row's capability masks: every must-be-1 bit, no other bit
 * than the may-be-1 ones. */
static int in_caps(const struct hvs_field *f, uint64_t value)
{
	const struct hvs__mask *m = &hvs__caps[f->cap];
	if ((value & m->must) != m->must || (value & ~m->may))
		return -EINVAL;
	return 0;
}

/* CD and NW are refused (KVM cannot honour them); the other bits of the
 * write masks are not enforced, as before the table. */
static int cr0_ok(const struct hvs_field *f, uint64_t value)
{
	(void)f;
	return value & (CR0_CD | CR0_NW) ? -EINVAL : 0;
}

static int cr3_count_ok(const struct hvs_field *f, uint64_t value)
{
	(void)f;
	return value > 4 ? -EINVAL : 0;
}

static int instr_len_ok(const struct hvs_field *f, uint64_t value)
{
	(void)f;
	return value > 15 ? -EINVAL : 0;
}

/* ---- computed fields ---- */

static struct kvm_segment *seg_at(struct hvs_state *st, const struct hvs_field *f)
{
	return (struct kvm_segment *)((char *)st + f->off);
}

static int ar_get(const struct hvs_state *st, const struct hvs_field *f, uint64_t *value)
{
	*value = hvs_seg_to_ar(seg_at((struct hvs_state *)st, f));
	return 0;
}

static int ar_set(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	hvs_seg_from_ar(seg_at(st, f), (uint32_t)value);
	return 0;
}

/*
 * The guest IDTR as the client sees it. While the hidden real-mode IVT is
 * installed the real one points at the backend's page, and writes stay in
 * the client's view until the backend gives the guest its IDTR back.
 */
static int idtr_base_get(const struct hvs_state *st, const struct hvs_field *f,
			 uint64_t *value)
{
	(void)f;
	*value = st->idt_hidden ? st->idt_base : st->sregs.idt.base;
	return 0;
}

static int idtr_base_set(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	(void)f;
	st->idt_base = value;
	if (st->idt_hidden)
		return HVS__KEPT;
	st->sregs.idt.base = value;
	return 0;
}

static int idtr_limit_get(const struct hvs_state *st, const struct hvs_field *f,
			  uint64_t *value)
{
	(void)f;
	*value = st->idt_hidden ? st->idt_limit : st->sregs.idt.limit;
	return 0;
}

static int idtr_limit_set(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	(void)f;
	st->idt_limit = (uint32_t)value;
	if (st->idt_hidden)
		return HVS__KEPT;
	st->sregs.idt.limit = (uint16_t)value;
	return 0;
}

/* KVM has no nested VMX here; VMXE is VMX's fixed bit and stays in the
 * client's view only. */
static int cr4_get(const struct hvs_state *st, const struct hvs_field *f, uint64_t *value)
{
	(void)f;
	*value = st->sregs.cr4 | (st->cr4_vmxe ? CR4_VMXE : 0);
	return 0;
}

static int cr4_set(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	(void)f;
	st->cr4_vmxe = !!(value & CR4_VMXE);
	st->sregs.cr4 = value & ~CR4_VMXE;
	return 0;
}

/* Interruptibility <-> KVM events. */
static int intr_get(const struct hvs_state *st, const struct hvs_field *f, uint64_t *value)
{
	const struct kvm_vcpu_events *ev = &st->events;
	uint64_t v = 0;

	(void)f;
	if (ev->interrupt.shadow & KVM_X86_SHADOW_INT_STI)
		v |= GUEST_INTRBILITY_STI_BLOCKING;
	if (ev->interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS)
		v |= GUEST_INTRBILITY_MOVSS_BLOCKING;
	if (ev->nmi.masked)
		v |= GUEST_INTRBILITY_NMI_BLOCKING;
	*value = v;
	return 0;
}

static int intr_set(struct hvs_state *st, const struct hvs_field *f, uint64_t v)
{
	struct kvm_vcpu_events *ev = &st->events;

	(void)f;
	ev->interrupt.shadow = 0;
	if (v & GUEST_INTRBILITY_STI_BLOCKING)
		ev->interrupt.shadow |= KVM_X86_SHADOW_INT_STI;
	if (v & GUEST_INTRBILITY_MOVSS_BLOCKING)
		ev->interrupt.shadow |= KVM_X86_SHADOW_INT_MOV_SS;
	ev->nmi.masked = !!(v & GUEST_INTRBILITY_NMI_BLOCKING);
	ev->flags |= KVM_VCPUEVENT_VALID_SHADOW;
	return 0;
}

/* DR7 lives only in KVM: the vCPU answers (-EAGAIN). */
static int in_kvm_get(const struct hvs_state *st, const struct hvs_field *f, uint64_t *value)
{
	(void)st, (void)f, (void)value;
	return -EAGAIN;
}

static int in_kvm_set(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	(void)st, (void)f, (void)value;
	return -EAGAIN;
}

/* The VMX preemption timer does not exist here (its capability is 0):
 * it reads 0 and ignores writes. */
static int zero_get(const struct hvs_state *st, const struct hvs_field *f, uint64_t *value)
{
	(void)st, (void)f;
	*value = 0;
	return 0;
}

static int zero_set(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	(void)st, (void)f, (void)value;
	return 0;
}

static const struct hvs__access seg_ar = { ar_get, ar_set };
static const struct hvs__access idtr_base = { idtr_base_get, idtr_base_set };
static const struct hvs__access idtr_limit = { idtr_limit_get, idtr_limit_set };
static const struct hvs__access cr4 = { cr4_get, cr4_set };
static const struct hvs__access intr = { intr_get, intr_set };
static const struct hvs__access in_kvm = { in_kvm_get, in_kvm_set };
static const struct hvs__access zero = { zero_get, zero_set };

/* ---- the table ---- */

/* Where: the bytes of a member, or a member that `acc` computes from. */
#define AT(home) offsetof(struct hvs_state, home), sizeof(((struct hvs_state *)0)->home), NULL
#define FN(home, acc) offsetof(struct hvs_state, home), 0, &(acc)
#define NOWHERE(acc) 0, 0, &(acc)
#define RO 0
#define RW 1
/* What a write marks dirty. */
#define NONE HVS__DIRTY_NONE
#define REGS KVM_SYNC_X86_REGS
#define SREGS KVM_SYNC_X86_SREGS
#define EVENTS KVM_SYNC_X86_EVENTS
#define MSR HVS__DIRTY_MSR
/* Write masks. */
#define CAP(c) HVS__CAP_##c

/*
 * Framework-owned controls (bitmaps, EPTP, MSR-list addresses: Apple
 * manages them, so writes are refused) and guest state for features KVM
 * does not expose to this guest (stored only; docs/differences.md) have
 * no effect: they live in c.extra[]. Host-state fields are stored, never
 * used (hvd and KVM own the host): c.host[].
 */
const struct hvs_field hvs__fields[] = {
	/* encoding                            where                            rw  dirty   caps           check */
	/* 16-bit */
	{ VMCS_VPID,                           AT(c.vpid),                      RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_POSTED_INT_N_VECTOR,       AT(c.extra[0]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EPTP_INDEX,                AT(c.extra[1]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_ES,                       AT(sregs.es.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_CS,                       AT(sregs.cs.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SS,                       AT(sregs.ss.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_DS,                       AT(sregs.ds.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_FS,                       AT(sregs.fs.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_GS,                       AT(sregs.gs.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_LDTR,                     AT(sregs.ldt.selector),          RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_TR,                       AT(sregs.tr.selector),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_INT_STATUS,               AT(c.extra[2]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUESTPML_INDEX,                 AT(c.extra[3]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_ES,                        AT(c.host[0]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_CS,                        AT(c.host[1]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_SS,                        AT(c.host[2]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_DS,                        AT(c.host[3]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_FS,                        AT(c.host[4]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_GS,                        AT(c.host[5]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_TR,                        AT(c.host[6]),                   RW, NONE,   CAP(WIDTH),    NULL },
	/* 64-bit */
	{ VMCS_CTRL_IO_BITMAP_A,               AT(c.extra[4]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_IO_BITMAP_B,               AT(c.extra[5]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_MSR_BITMAPS,               AT(c.extra[6]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMEXIT_MSR_STORE_ADDR,     AT(c.extra[7]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR,      AT(c.extra[8]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR,     AT(c.extra[9]),                  RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EXECUTIVE_VMCS_PTR,        AT(c.extra[10]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_PML_ADDR,                  AT(c.extra[11]),                 RO, NONE,   CAP(WIDTH),    NULL },
	/* Apple: TSC offset and APIC-access address are read-only controls. */
	{ VMCS_CTRL_TSC_OFFSET,                AT(c.tsc_offset),                RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VIRTUAL_APIC,              AT(c.virtual_apic),              RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_APIC_ACCESS,               AT(c.apic_access),               RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_POSTED_INT_DESC_ADDR,      AT(c.extra[12]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMFUNC_CTRL,               AT(c.extra[13]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EPTP,                      AT(c.extra[14]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_0,         AT(c.extra[15]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_1,         AT(c.extra[16]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_2,         AT(c.extra[17]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_3,         AT(c.extra[18]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_EPTP_LIST_ADDR,            AT(c.extra[19]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMREAD_BITMAP_ADDR,        AT(c.extra[20]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMWRITE_BITMAP_ADDR,       AT(c.extra[21]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VIRT_EXC_INFO_ADDR,        AT(c.extra[22]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_XSS_EXITING_BITMAP,        AT(c.extra[23]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_ENCLS_EXITING_BITMAP,      AT(c.extra[24]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_SPP_TABLE,                 AT(c.extra[25]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_TSC_MULTIPLIER,            AT(c.extra[26]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_ENCLV_EXITING_BITMAP,      AT(c.extra[27]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_PHYSICAL_ADDRESS,         AT(exit.gpa),                    RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_LINK_POINTER,             AT(c.link_ptr),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_DEBUGCTL,            AT(c.debugctl),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_PAT,                 AT(msr[HVS_MSRC_PAT]),           RW, MSR,    CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_EFER,                AT(sregs.efer),                  RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_PERF_GLOBAL_CTRL,    AT(c.perf_global_ctrl),          RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_PDPTE0,                   AT(c.pdpte[0]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_PDPTE1,                   AT(c.pdpte[1]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_PDPTE2,                   AT(c.pdpte[2]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_PDPTE3,                   AT(c.pdpte[3]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_BNDCFGS,             AT(c.bndcfgs),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_RTIT_CTL,            AT(c.extra[28]),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_PKRS,                AT(c.extra[29]),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_PAT,                  AT(c.host[7]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_EFER,                 AT(c.host[8]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_PERF_GLOBAL_CTRL,     AT(c.host[9]),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_PKRS,                 AT(c.host[10]),                  RW, NONE,   CAP(WIDTH),    NULL },
	/* 32-bit */
	{ VMCS_CTRL_PIN_BASED,                 AT(c.pin),                       RW, NONE,   CAP(PIN),      in_caps },
	{ VMCS_CTRL_CPU_BASED,                 AT(c.cpu),                       RW, NONE,   CAP(CPU),      in_caps },
	{ VMCS_CTRL_EXC_BITMAP,                AT(c.exc_bitmap),                RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_PF_ERROR_MASK,             AT(c.pf_mask),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_PF_ERROR_MATCH,            AT(c.pf_match),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR3_COUNT,                 AT(c.cr3_count),                 RW, NONE,   CAP(WIDTH),    cr3_count_ok },
	{ VMCS_CTRL_VMEXIT_CONTROLS,           AT(c.exit),                      RW, NONE,   CAP(EXIT),     in_caps },
	{ VMCS_CTRL_VMEXIT_MSR_STORE_COUNT,    AT(c.extra[30]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT,     AT(c.extra[31]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMENTRY_CONTROLS,          AT(c.entry),                     RW, NONE,   CAP(ENTRY),    in_caps },
	{ VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT,    AT(c.extra[32]),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMENTRY_IRQ_INFO,          AT(c.entry_irq),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMENTRY_EXC_ERROR,         AT(c.entry_exc_err),             RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_VMENTRY_INSTR_LEN,         AT(c.entry_instr_len),           RW, NONE,   CAP(WIDTH),    instr_len_ok },
	{ VMCS_CTRL_TPR_THRESHOLD,             AT(c.tpr_threshold),             RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CPU_BASED2,                AT(c.cpu2),                      RW, NONE,   CAP(CPU2),     in_caps },
	{ VMCS_CTRL_PLE_GAP,                   AT(c.ple_gap),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_PLE_WINDOW,                AT(c.ple_window),                RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_INSTR_ERROR,                 AT(exit.instr_error),            RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_EXIT_REASON,                 AT(exit.reason),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_VMEXIT_IRQ_INFO,             AT(exit.irq_info),               RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_VMEXIT_IRQ_ERROR,            AT(exit.irq_error),              RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_IDT_VECTOR_INFO,             AT(exit.idt_info),               RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_IDT_VECTOR_ERROR,            AT(exit.idt_error),              RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_VMEXIT_INSTR_LEN,            AT(exit.instr_len),              RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_VMX_INSTR_INFO,              AT(exit.instr_info),             RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_ES_LIMIT,                 AT(sregs.es.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_CS_LIMIT,                 AT(sregs.cs.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SS_LIMIT,                 AT(sregs.ss.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_DS_LIMIT,                 AT(sregs.ds.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_FS_LIMIT,                 AT(sregs.fs.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_GS_LIMIT,                 AT(sregs.gs.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_LDTR_LIMIT,               AT(sregs.ldt.limit),             RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_TR_LIMIT,                 AT(sregs.tr.limit),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_GDTR_LIMIT,               AT(sregs.gdt.limit),             RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IDTR_LIMIT,               FN(sregs.idt.limit, idtr_limit), RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_ES_AR,                    FN(sregs.es, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_CS_AR,                    FN(sregs.cs, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SS_AR,                    FN(sregs.ss, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_DS_AR,                    FN(sregs.ds, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_FS_AR,                    FN(sregs.fs, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_GS_AR,                    FN(sregs.gs, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_LDTR_AR,                  FN(sregs.ldt, seg_ar),           RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_TR_AR,                    FN(sregs.tr, seg_ar),            RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_INTERRUPTIBILITY,         FN(events, intr),                RW, EVENTS, CAP(INTR),     in_caps },
	{ VMCS_GUEST_ACTIVITY_STATE,           AT(c.activity),                  RW, NONE,   CAP(ACTIVITY), in_caps },
	{ VMCS_GUEST_SMBASE,                   AT(c.smbase),                    RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_SYSENTER_CS,         AT(msr[HVS_MSRC_SYSENTER_CS]),   RW, MSR,    CAP(WIDTH),    NULL },
	{ VMCS_GUEST_VMX_TIMER_VALUE,          NOWHERE(zero),                   RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_SYSENTER_CS,          AT(c.host[11]),                  RW, NONE,   CAP(WIDTH),    NULL },
	/* natural width */
	{ VMCS_CTRL_CR0_MASK,                  AT(c.cr0_mask),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR4_MASK,                  AT(c.cr4_mask),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR0_SHADOW,                AT(c.cr0_shadow),                RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR4_SHADOW,                AT(c.cr4_shadow),                RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR3_VALUE0,                AT(c.cr3_target[0]),             RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR3_VALUE1,                AT(c.cr3_target[1]),             RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR3_VALUE2,                AT(c.cr3_target[2]),             RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_CTRL_CR3_VALUE3,                AT(c.cr3_target[3]),             RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_EXIT_QUALIFIC,               AT(exit.qual),                   RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_IO_RCX,                      AT(exit.io_rcx),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_IO_RSI,                      AT(exit.io_rsi),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_IO_RDI,                      AT(exit.io_rdi),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_IO_RIP,                      AT(exit.io_rip),                 RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_RO_GUEST_LIN_ADDR,              AT(exit.gla),                    RO, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_CR0,                      AT(sregs.cr0),                   RW, SREGS,  CAP(CR0),      cr0_ok },
	{ VMCS_GUEST_CR3,                      AT(sregs.cr3),                   RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_CR4,                      FN(sregs.cr4, cr4),              RW, SREGS,  CAP(CR4),      NULL },
	{ VMCS_GUEST_ES_BASE,                  AT(sregs.es.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_CS_BASE,                  AT(sregs.cs.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SS_BASE,                  AT(sregs.ss.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_DS_BASE,                  AT(sregs.ds.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_FS_BASE,                  AT(sregs.fs.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_GS_BASE,                  AT(sregs.gs.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_LDTR_BASE,                AT(sregs.ldt.base),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_TR_BASE,                  AT(sregs.tr.base),               RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_GDTR_BASE,                AT(sregs.gdt.base),              RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IDTR_BASE,                FN(sregs.idt.base, idtr_base),   RW, SREGS,  CAP(WIDTH),    NULL },
	{ VMCS_GUEST_DR7,                      NOWHERE(in_kvm),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_RSP,                      AT(regs.rsp),                    RW, REGS,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_RIP,                      AT(regs.rip),                    RW, REGS,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_RFLAGS,                   AT(regs.rflags),                 RW, REGS,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_DEBUG_EXC,                AT(c.pending_dbg),               RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SYSENTER_ESP,             AT(msr[HVS_MSRC_SYSENTER_ESP]),  RW, MSR,    CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SYSENTER_EIP,             AT(msr[HVS_MSRC_SYSENTER_EIP]),  RW, MSR,    CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_S_CET,               AT(c.extra[33]),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_SSP,                      AT(c.extra[34]),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR, AT(c.extra[35]),                 RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_CR0,                       AT(c.host[12]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_CR3,                       AT(c.host[13]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_CR4,                       AT(c.host[14]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_FS_BASE,                   AT(c.host[15]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_GS_BASE,                   AT(c.host[16]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_TR_BASE,                   AT(c.host[17]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_GDTR_BASE,                 AT(c.host[18]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IDTR_BASE,                 AT(c.host[19]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_SYSENTER_ESP,         AT(c.host[20]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_SYSENTER_EIP,         AT(c.host[21]),                  RW, NONE,   CAP(WIDTH),    NULL },
	/* Host RSP: Apple's header has no name for it; Intel's encoding. */
	{ 0x6c14,                              AT(c.host[22]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_RIP,                       AT(c.host[23]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_S_CET,                AT(c.host[24]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_SSP,                       AT(c.host[25]),                  RW, NONE,   CAP(WIDTH),    NULL },
	{ VMCS_HOST_IA32_INTR_SSP_TABLE_ADDR,  AT(c.host[26]),                  RW, NONE,   CAP(WIDTH),    NULL },
};

const size_t hvs__nfields = sizeof(hvs__fields) / sizeof(hvs__fields[0]);

const struct hvs_field *hvs__field_find(uint32_t enc)
{
	size_t lo = 0, hi = sizeof(hvs__fields) / sizeof(hvs__fields[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t e = hvs__fields[mid].enc;
		if (e == enc)
			return &hvs__fields[mid];
		if (e < enc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- access ---- */

static uint64_t load(const struct hvs_state *st, const struct hvs_field *f)
{
	const unsigned char *p = (const unsigned char *)st + f->off;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (f->size) {
	case 1:
		return *p;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

/* Stores the low `size` bytes: a field wider than its home (the GDTR
 * limit in KVM's 16 bits) keeps what fits, as the hardware does. */
static void store(struct hvs_state *st, const struct hvs_field *f, uint64_t value)
{
	unsigned char *p = (unsigned char *)st + f->off;
	uint16_t v16 = (uint16_t)value;
	uint32_t v32 = (uint32_t)value;

	switch (f->size) {
	case 1:
		*p = (unsigned char)value;
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	default:
		memcpy(p, &value, 8);
		break;
	}
}

static void mark_dirty(struct hvs_state *st, const struct hvs_field *f)
{
	if (f->dirty == HVS__DIRTY_MSR)
		st->msr_dirty |= 1u << ((f->off - offsetof(struct hvs_state, msr)) /
					sizeof(st->msr[0]));
	else
		st->dirty |= f->dirty;
}

int hvs_read_vmcs(const struct hvs_state *st, uint32_t field, uint64_t *value)
{
	const struct hvs_field *f = hvs__field_find(field);

	if (!f)
		return -ENOENT;
	if (f->fn)
		return f->fn->get(st, f, value);
	*value = load(st, f);
	return 0;
}

int hvs_write_vmcs(struct hvs_state *st, uint32_t field, uint64_t value)
{
	const struct hvs_field *f = hvs__field_find(field);
	int r;

	if (f && !f->writable)
		return -EINVAL;
	/* Checked before the lookup's verdict: a value wider than the
	 * encoding's width is -EINVAL even for an unknown field. */
	if (value & ~field_mask(field))
		return -EINVAL;
	if (!f)
		return -ENOENT;
	if (f->check && (r = f->check(f, value)) < 0)
		return r;
	if (f->fn) {
		r = f->fn->set(st, f, value);
		if (r < 0)
			return r;
		if (r == HVS__KEPT)
			return 0;
	} else {
		store(st, f, value);
	}
	mark_dirty(st, f);
	return 0;
}

int hvs_cap_write_vmcs(const struct hvs_state *st, uint32_t field,
		       uint64_t *allowed0, uint64_t *allowed1)
{
	const struct hvs_field *f = hvs__field_find(field);

	(void)st;
	if (!f)
		return -ENOENT;
	if (!f->writable) {
		*allowed0 = *allowed1 = 0;
	} else if (f->cap != HVS__CAP_WIDTH) {
		*allowed0 = hvs__caps[f->cap].must;
		*allowed1 = hvs__caps[f->cap].may;
	} else {
		*allowed0 = 0;
		*allowed1 = field_mask(field);
	}
	return 0;
}
