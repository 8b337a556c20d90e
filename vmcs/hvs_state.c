/*
 * The VMCS shadow: every VMCS field Apple's API names has a home in
 * struct hvs_state. Guest state is in KVM's sync-regs format (registers,
 * segment state, control registers, events), four guest fields are cached
 * MSRs, and controls, exit information and host state are plain fields.
 * Pure functions: libhvclient runs the same code on its run page.
 */
#include <errno.h>
#include <string.h>

#include <Hypervisor/hv_vmx.h>

#include "hvs.h"

#define CR0_NE (1ull << 5)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_VMXE (1ull << 13)

/*
 * Controls: allowed-0 (must be 1) and allowed-1 (may be 1) bits.
 * A bit is "must be 1" when the backend always behaves that way (every HLT,
 * port access and MSR access outside the native set exits, EPT and
 * unrestricted guest are always on), "may be 1" only when the backend
 * honours both settings, and otherwise it must be 0.
 */
#define PIN_MUST (PIN_BASED_INTR | PIN_BASED_NMI)
#define PIN_MAY PIN_MUST
#define CPU_MUST (CPU_BASED_HLT | CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS | \
		  CPU_BASED_SECONDARY_CTLS)
#define CPU_MAY (CPU_MUST | CPU_BASED_IRQ_WND)
#define CPU2_MUST (CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED | CPU_BASED2_RDTSCP | \
		   CPU_BASED2_INVPCID | CPU_BASED2_XSAVES_XRSTORS)
#define CPU2_MAY (CPU2_MUST | CPU_BASED2_VPID)
#define ENTRY_MUST 0u
#define ENTRY_MAY (VMENTRY_LOAD_DBG_CONTROLS | VMENTRY_GUEST_IA32E | \
		   VMENTRY_LOAD_IA32_PAT | VMENTRY_LOAD_EFER)
#define EXIT_MUST 0u
#define EXIT_MAY (VMEXIT_SAVE_DBG_CONTROLS | VMEXIT_HOST_IA32E | VMEXIT_ACK_INTR | \
		  VMEXIT_SAVE_IA32_PAT | VMEXIT_LOAD_IA32_PAT | VMEXIT_SAVE_EFER | \
		  VMEXIT_LOAD_EFER)

/* CR4 bits a guest may set: what KVM accepts on x86-64 hosts of this kind,
 * plus VMXE which VMX requires and the backend hides from KVM. */
#define CR4_MAY 0x3727ffull

static uint64_t ctl_cap(uint32_t must, uint32_t may)
{
	return (uint64_t)must | ((uint64_t)may << 32);
}

int hvs_caps_read(unsigned cap, uint64_t *value)
{
	switch (cap) {
	case HV_VMX_CAP_PINBASED:
	case HV_VMX_CAP_TRUE_PINBASED:
		*value = ctl_cap(PIN_MUST, PIN_MAY);
		return 0;
	case HV_VMX_CAP_PROCBASED:
	case HV_VMX_CAP_TRUE_PROCBASED:
		*value = ctl_cap(CPU_MUST, CPU_MAY);
		return 0;
	case HV_VMX_CAP_PROCBASED2:
		*value = ctl_cap(CPU2_MUST, CPU2_MAY);
		return 0;
	case HV_VMX_CAP_ENTRY:
	case HV_VMX_CAP_TRUE_ENTRY:
		*value = ctl_cap(ENTRY_MUST, ENTRY_MAY);
		return 0;
	case HV_VMX_CAP_EXIT:
	case HV_VMX_CAP_TRUE_EXIT:
		*value = ctl_cap(EXIT_MUST, EXIT_MAY);
		return 0;
	case HV_VMX_CAP_BASIC:
		/* Revision 1, 4 KiB region, write-back, INS/OUTS info, TRUE_*. */
		*value = 1ull | (0x1000ull << 32) | (6ull << 50) | (1ull << 54) |
			 VMX_BASIC_TRUE_CTLS;
		return 0;
	case HV_VMX_CAP_MISC:
		/* Bit 5: EFER.LMA is stored into "IA-32e mode guest" on exit;
		 * bit 6: the HLT activity state is supported. */
		*value = (1ull << 5) | (1ull << 6);
		return 0;
	case HV_VMX_CAP_CR0_FIXED0:
		/* Unrestricted guest is always on: only NE is fixed to 1. */
		*value = CR0_NE;
		return 0;
	case HV_VMX_CAP_CR0_FIXED1:
		*value = 0xffffffffull & ~(CR0_CD | CR0_NW);
		return 0;
	case HV_VMX_CAP_CR4_FIXED0:
		*value = CR4_VMXE;
		return 0;
	case HV_VMX_CAP_CR4_FIXED1:
		*value = CR4_MAY;
		return 0;
	case HV_VMX_CAP_VMCS_ENUM:
		*value = 0x2e << 1;
		return 0;
	case HV_VMX_CAP_EPT_VPID_CAP:
		/* 4-level walk, WB, 2 MiB pages; no execute-only pages (memslots
		 * cannot drop EXEC, kvm-notes.md §2), no accessed/dirty bits. */
		*value = (1ull << 6) | (1ull << 14) | (1ull << 16);
		return 0;
	case HV_VMX_CAP_PREEMPTION_TIMER:
		*value = 0;
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- segments ---- */

static struct kvm_segment *seg_of(struct kvm_sregs *s, unsigned idx)
{
	switch (idx) {
	case 0: return &s->es;
	case 1: return &s->cs;
	case 2: return &s->ss;
	case 3: return &s->ds;
	case 4: return &s->fs;
	case 5: return &s->gs;
	case 6: return &s->ldt;
	default: return &s->tr;
	}
}

void hvs_seg_from_ar(struct kvm_segment *s, uint32_t ar)
{
	s->type = ar & 0xf;
	s->s = (ar >> 4) & 1;
	s->dpl = (ar >> 5) & 3;
	s->present = (ar >> 7) & 1;
	s->avl = (ar >> 12) & 1;
	s->l = (ar >> 13) & 1;
	s->db = (ar >> 14) & 1;
	s->g = (ar >> 15) & 1;
	s->unusable = (ar >> 16) & 1;
}

uint32_t hvs_seg_to_ar(const struct kvm_segment *s)
{
	return (uint32_t)(s->type & 0xf) | (uint32_t)(s->s & 1) << 4 |
	       (uint32_t)(s->dpl & 3) << 5 | (uint32_t)(s->present & 1) << 7 |
	       (uint32_t)(s->avl & 1) << 12 | (uint32_t)(s->l & 1) << 13 |
	       (uint32_t)(s->db & 1) << 14 | (uint32_t)(s->g & 1) << 15 |
	       (uint32_t)(s->unusable & 1) << 16;
}

void hvs_clamp_ctls(struct hvs_ctls *c)
{
	c->pin = (c->pin | PIN_MUST) & PIN_MAY;
	c->cpu = (c->cpu | CPU_MUST) & CPU_MAY;
	c->cpu2 = (c->cpu2 | CPU2_MUST) & CPU2_MAY;
	c->entry = (c->entry | ENTRY_MUST) & ENTRY_MAY;
	c->exit = (c->exit | EXIT_MUST) & EXIT_MAY;
	if (c->activity > 1)
		c->activity = 0;
	if (c->cr3_count > 4)
		c->cr3_count = 4;
	if (c->entry_instr_len > 15)
		c->entry_instr_len = 15;
}

void hvs_init_ctls(struct hvs_ctls *c)
{
	memset(c, 0, sizeof(*c));
	c->pin = PIN_MUST;
	c->cpu = CPU_MUST;
	c->cpu2 = CPU2_MUST;
	c->link_ptr = ~0ull;
}

/* ---- MSR-backed guest fields ---- */

static const uint32_t msrc_msr[HVS_MSRC_COUNT] = {
	[HVS_MSRC_SYSENTER_CS] = 0x174,
	[HVS_MSRC_SYSENTER_ESP] = 0x175,
	[HVS_MSRC_SYSENTER_EIP] = 0x176,
	[HVS_MSRC_PAT] = 0x277,
};

int hvs_msrc_index(uint32_t msr)
{
	for (int i = 0; i < HVS_MSRC_COUNT; i++)
		if (msrc_msr[i] == msr)
			return i;
	return -1;
}

uint32_t hvs_msrc_msr(enum hvs_msrc i)
{
	return msrc_msr[i];
}

static int msrc_write(struct hvs_state *st, enum hvs_msrc i, uint64_t value)
{
	st->msr[i] = value;
	st->msr_dirty |= 1u << i;
	return 0;
}

/*
 * Fields with no effect here, kept so clients can read and (where the
 * client owns them on VMX) write them: framework-owned controls (bitmaps,
 * EPTP, MSR-list addresses: Apple manages them, so writes are refused) and
 * guest state for features KVM does not expose to this guest (stored only;
 * docs/differences.md).
 */
static const struct {
	uint32_t field;
	bool writable;
} extra_fields[HVS_EXTRA_FIELDS] = {
	{ VMCS_CTRL_POSTED_INT_N_VECTOR, false },
	{ VMCS_CTRL_EPTP_INDEX, false },
	{ VMCS_GUEST_INT_STATUS, true },
	{ VMCS_GUESTPML_INDEX, true },
	{ VMCS_CTRL_IO_BITMAP_A, false },
	{ VMCS_CTRL_IO_BITMAP_B, false },
	{ VMCS_CTRL_MSR_BITMAPS, false },
	{ VMCS_CTRL_VMEXIT_MSR_STORE_ADDR, false },
	{ VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR, false },
	{ VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR, false },
	{ VMCS_CTRL_EXECUTIVE_VMCS_PTR, false },
	{ VMCS_CTRL_PML_ADDR, false },
	{ VMCS_CTRL_POSTED_INT_DESC_ADDR, false },
	{ VMCS_CTRL_VMFUNC_CTRL, false },
	{ VMCS_CTRL_EPTP, false },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_0, false },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_1, false },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_2, false },
	{ VMCS_CTRL_EOI_EXIT_BITMAP_3, false },
	{ VMCS_CTRL_EPTP_LIST_ADDR, false },
	{ VMCS_CTRL_VMREAD_BITMAP_ADDR, false },
	{ VMCS_CTRL_VMWRITE_BITMAP_ADDR, false },
	{ VMCS_CTRL_VIRT_EXC_INFO_ADDR, false },
	{ VMCS_CTRL_XSS_EXITING_BITMAP, false },
	{ VMCS_CTRL_ENCLS_EXITING_BITMAP, false },
	{ VMCS_CTRL_SPP_TABLE, false },
	{ VMCS_CTRL_TSC_MULTIPLIER, false },
	{ VMCS_CTRL_ENCLV_EXITING_BITMAP, false },
	{ VMCS_GUEST_IA32_RTIT_CTL, true },
	{ VMCS_GUEST_IA32_PKRS, true },
	{ VMCS_CTRL_VMEXIT_MSR_STORE_COUNT, false },
	{ VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT, false },
	{ VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT, false },
	{ VMCS_GUEST_IA32_S_CET, true },
	{ VMCS_GUEST_SSP, true },
	{ VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR, true },
};

static int extra_index(uint32_t field)
{
	for (int i = 0; i < HVS_EXTRA_FIELDS; i++)
		if (extra_fields[i].field == field)
			return i;
	return -1;
}

/* Width mask of a field from its encoding (Intel SDM appendix B). */
static uint64_t field_mask(uint32_t field)
{
	switch ((field >> 13) & 3) {
	case 0: return 0xffff;
	case 2: return 0xffffffff;
	default: return ~0ull;
	}
}

/* Interruptibility <-> KVM events. */
static uint64_t intr_get(const struct kvm_vcpu_events *ev)
{
	uint64_t v = 0;
	if (ev->interrupt.shadow & KVM_X86_SHADOW_INT_STI)
		v |= GUEST_INTRBILITY_STI_BLOCKING;
	if (ev->interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS)
		v |= GUEST_INTRBILITY_MOVSS_BLOCKING;
	if (ev->nmi.masked)
		v |= GUEST_INTRBILITY_NMI_BLOCKING;
	return v;
}

static void intr_set(struct kvm_vcpu_events *ev, uint64_t v)
{
	ev->interrupt.shadow = 0;
	if (v & GUEST_INTRBILITY_STI_BLOCKING)
		ev->interrupt.shadow |= KVM_X86_SHADOW_INT_STI;
	if (v & GUEST_INTRBILITY_MOVSS_BLOCKING)
		ev->interrupt.shadow |= KVM_X86_SHADOW_INT_MOV_SS;
	ev->nmi.masked = !!(v & GUEST_INTRBILITY_NMI_BLOCKING);
	ev->flags |= KVM_VCPUEVENT_VALID_SHADOW;
}

static bool host_field(uint32_t field, unsigned *slot)
{
	/* Host-state fields: 16-bit 0x0c00-0x0c0c, 64-bit 0x2c00-0x2c06,
	 * 32-bit 0x4c00, natural 0x6c00-0x6c1c. Stored, never used: hvd and
	 * KVM own the host. */
	if (field >= 0x0c00 && field <= 0x0c0c && !(field & 1)) {
		*slot = (field - 0x0c00) / 2;
		return true;
	}
	if (field >= 0x2c00 && field <= 0x2c06 && !(field & 1)) {
		*slot = 7 + (field - 0x2c00) / 2;
		return true;
	}
	if (field == 0x4c00) {
		*slot = 11;
		return true;
	}
	if (field >= 0x6c00 && field <= 0x6c1c && !(field & 1)) {
		*slot = 12 + (field - 0x6c00) / 2;
		return true;
	}
	return false;
}

/*
 * The guest IDTR as the client sees it. While the hidden real-mode IVT is
 * installed the real one points at the backend's page.
 */
static void idtr_get(const struct hvs_state *st, uint64_t *base, uint32_t *limit)
{
	const struct kvm_sregs *s = &st->sregs;
	if (st->idt_hidden) {
		*base = st->idt_base;
		*limit = st->idt_limit;
	} else {
		*base = s->idt.base;
		*limit = s->idt.limit;
	}
}

int hvs_read_vmcs(const struct hvs_state *st, uint32_t field, uint64_t *value)
{
	/* seg_of() hands out pointers for both directions; nothing is
	 * written through it here. */
	struct kvm_sregs *s = (struct kvm_sregs *)&st->sregs;
	const struct hvs_ctls *c = &st->c;
	const struct hvs_exit *x = &st->exit;
	uint64_t base;
	uint32_t limit;
	unsigned slot;

	if (field >= VMCS_GUEST_ES && field <= VMCS_GUEST_TR && !(field & 1)) {
		*value = seg_of(s, (field - VMCS_GUEST_ES) / 2)->selector;
		return 0;
	}
	if (field >= VMCS_GUEST_ES_LIMIT && field <= VMCS_GUEST_TR_LIMIT && !(field & 1)) {
		*value = seg_of(s, (field - VMCS_GUEST_ES_LIMIT) / 2)->limit;
		return 0;
	}
	if (field >= VMCS_GUEST_ES_AR && field <= VMCS_GUEST_TR_AR && !(field & 1)) {
		*value = hvs_seg_to_ar(seg_of(s, (field - VMCS_GUEST_ES_AR) / 2));
		return 0;
	}
	if (field >= VMCS_GUEST_ES_BASE && field <= VMCS_GUEST_TR_BASE && !(field & 1)) {
		*value = seg_of(s, (field - VMCS_GUEST_ES_BASE) / 2)->base;
		return 0;
	}
	if (host_field(field, &slot)) {
		*value = c->host[slot];
		return 0;
	}
	int ex = extra_index(field);
	if (ex >= 0) {
		*value = c->extra[ex];
		return 0;
	}

	switch (field) {
	case VMCS_GUEST_GDTR_BASE: *value = s->gdt.base; return 0;
	case VMCS_GUEST_GDTR_LIMIT: *value = s->gdt.limit; return 0;
	case VMCS_GUEST_IDTR_BASE: idtr_get(st, &base, &limit); *value = base; return 0;
	case VMCS_GUEST_IDTR_LIMIT: idtr_get(st, &base, &limit); *value = limit; return 0;
	case VMCS_GUEST_CR0: *value = s->cr0; return 0;
	case VMCS_GUEST_CR3: *value = s->cr3; return 0;
	case VMCS_GUEST_CR4: *value = s->cr4 | (st->cr4_vmxe ? CR4_VMXE : 0); return 0;
	case VMCS_GUEST_DR7: return -EAGAIN;
	case VMCS_GUEST_RSP: *value = st->regs.rsp; return 0;
	case VMCS_GUEST_RIP: *value = st->regs.rip; return 0;
	case VMCS_GUEST_RFLAGS: *value = st->regs.rflags; return 0;
	case VMCS_GUEST_IA32_EFER: *value = s->efer; return 0;
	case VMCS_GUEST_IA32_PAT: *value = st->msr[HVS_MSRC_PAT]; return 0;
	case VMCS_GUEST_SYSENTER_ESP: *value = st->msr[HVS_MSRC_SYSENTER_ESP]; return 0;
	case VMCS_GUEST_SYSENTER_EIP: *value = st->msr[HVS_MSRC_SYSENTER_EIP]; return 0;
	case VMCS_GUEST_IA32_SYSENTER_CS: *value = st->msr[HVS_MSRC_SYSENTER_CS]; return 0;
	case VMCS_GUEST_INTERRUPTIBILITY: *value = intr_get(&st->events); return 0;
	case VMCS_GUEST_ACTIVITY_STATE: *value = c->activity; return 0;
	case VMCS_GUEST_SMBASE: *value = c->smbase; return 0;
	case VMCS_GUEST_DEBUG_EXC: *value = c->pending_dbg; return 0;
	case VMCS_GUEST_LINK_POINTER: *value = c->link_ptr; return 0;
	case VMCS_GUEST_IA32_DEBUGCTL: *value = c->debugctl; return 0;
	case VMCS_GUEST_IA32_PERF_GLOBAL_CTRL: *value = c->perf_global_ctrl; return 0;
	case VMCS_GUEST_IA32_BNDCFGS: *value = c->bndcfgs; return 0;
	case VMCS_GUEST_PDPTE0: *value = c->pdpte[0]; return 0;
	case VMCS_GUEST_PDPTE1: *value = c->pdpte[1]; return 0;
	case VMCS_GUEST_PDPTE2: *value = c->pdpte[2]; return 0;
	case VMCS_GUEST_PDPTE3: *value = c->pdpte[3]; return 0;
	case VMCS_GUEST_VMX_TIMER_VALUE: *value = 0; return 0;

	case VMCS_VPID: *value = c->vpid; return 0;
	case VMCS_CTRL_PIN_BASED: *value = c->pin; return 0;
	case VMCS_CTRL_CPU_BASED: *value = c->cpu; return 0;
	case VMCS_CTRL_CPU_BASED2: *value = c->cpu2; return 0;
	case VMCS_CTRL_VMENTRY_CONTROLS: *value = c->entry; return 0;
	case VMCS_CTRL_VMEXIT_CONTROLS: *value = c->exit; return 0;
	case VMCS_CTRL_EXC_BITMAP: *value = c->exc_bitmap; return 0;
	case VMCS_CTRL_PF_ERROR_MASK: *value = c->pf_mask; return 0;
	case VMCS_CTRL_PF_ERROR_MATCH: *value = c->pf_match; return 0;
	case VMCS_CTRL_CR3_COUNT: *value = c->cr3_count; return 0;
	case VMCS_CTRL_VMENTRY_IRQ_INFO: *value = c->entry_irq; return 0;
	case VMCS_CTRL_VMENTRY_EXC_ERROR: *value = c->entry_exc_err; return 0;
	case VMCS_CTRL_VMENTRY_INSTR_LEN: *value = c->entry_instr_len; return 0;
	case VMCS_CTRL_TPR_THRESHOLD: *value = c->tpr_threshold; return 0;
	case VMCS_CTRL_PLE_GAP: *value = c->ple_gap; return 0;
	case VMCS_CTRL_PLE_WINDOW: *value = c->ple_window; return 0;
	case VMCS_CTRL_CR0_MASK: *value = c->cr0_mask; return 0;
	case VMCS_CTRL_CR4_MASK: *value = c->cr4_mask; return 0;
	case VMCS_CTRL_CR0_SHADOW: *value = c->cr0_shadow; return 0;
	case VMCS_CTRL_CR4_SHADOW: *value = c->cr4_shadow; return 0;
	case VMCS_CTRL_CR3_VALUE0: *value = c->cr3_target[0]; return 0;
	case VMCS_CTRL_CR3_VALUE1: *value = c->cr3_target[1]; return 0;
	case VMCS_CTRL_CR3_VALUE2: *value = c->cr3_target[2]; return 0;
	case VMCS_CTRL_CR3_VALUE3: *value = c->cr3_target[3]; return 0;
	case VMCS_CTRL_TSC_OFFSET: *value = c->tsc_offset; return 0;
	case VMCS_CTRL_APIC_ACCESS: *value = c->apic_access; return 0;
	case VMCS_CTRL_VIRTUAL_APIC: *value = c->virtual_apic; return 0;

	case VMCS_RO_INSTR_ERROR: *value = x->instr_error; return 0;
	case VMCS_RO_EXIT_REASON: *value = x->reason; return 0;
	case VMCS_RO_VMEXIT_IRQ_INFO: *value = x->irq_info; return 0;
	case VMCS_RO_VMEXIT_IRQ_ERROR: *value = x->irq_error; return 0;
	case VMCS_RO_IDT_VECTOR_INFO: *value = x->idt_info; return 0;
	case VMCS_RO_IDT_VECTOR_ERROR: *value = x->idt_error; return 0;
	case VMCS_RO_VMEXIT_INSTR_LEN: *value = x->instr_len; return 0;
	case VMCS_RO_VMX_INSTR_INFO: *value = x->instr_info; return 0;
	case VMCS_RO_EXIT_QUALIFIC: *value = x->qual; return 0;
	case VMCS_RO_IO_RCX: *value = x->io_rcx; return 0;
	case VMCS_RO_IO_RSI: *value = x->io_rsi; return 0;
	case VMCS_RO_IO_RDI: *value = x->io_rdi; return 0;
	case VMCS_RO_IO_RIP: *value = x->io_rip; return 0;
	case VMCS_RO_GUEST_LIN_ADDR: *value = x->gla; return 0;
	case VMCS_GUEST_PHYSICAL_ADDRESS: *value = x->gpa; return 0;
	default:
		return -ENOENT;
	}
}

static int check_ctl(uint64_t value, uint32_t must, uint32_t may)
{
	if (value >> 32)
		return -EINVAL;
	if ((value & must) != must || (value & ~(uint64_t)may))
		return -EINVAL;
	return 0;
}

static bool is_readonly(uint32_t field)
{
	int ex = extra_index(field);
	if (ex >= 0)
		return !extra_fields[ex].writable;
	switch (field) {
	case VMCS_RO_INSTR_ERROR: case VMCS_RO_EXIT_REASON:
	case VMCS_RO_VMEXIT_IRQ_INFO: case VMCS_RO_VMEXIT_IRQ_ERROR:
	case VMCS_RO_IDT_VECTOR_INFO: case VMCS_RO_IDT_VECTOR_ERROR:
	case VMCS_RO_VMEXIT_INSTR_LEN: case VMCS_RO_VMX_INSTR_INFO:
	case VMCS_RO_EXIT_QUALIFIC: case VMCS_RO_IO_RCX: case VMCS_RO_IO_RSI:
	case VMCS_RO_IO_RDI: case VMCS_RO_IO_RIP: case VMCS_RO_GUEST_LIN_ADDR:
	case VMCS_GUEST_PHYSICAL_ADDRESS:
	/* Apple: TSC offset and APIC-access address are read-only controls. */
	case VMCS_CTRL_TSC_OFFSET: case VMCS_CTRL_APIC_ACCESS:
		return true;
	default:
		return false;
	}
}

int hvs_cap_write_vmcs(const struct hvs_state *st, uint32_t field,
		       uint64_t *allowed0, uint64_t *allowed1)
{
	uint64_t dummy;
	int r = hvs_read_vmcs(st, field, &dummy);
	if (r < 0 && r != -EAGAIN)
		return r;
	if (is_readonly(field)) {
		*allowed0 = *allowed1 = 0;
		return 0;
	}
	*allowed0 = 0;
	*allowed1 = field_mask(field);
	switch (field) {
	case VMCS_CTRL_PIN_BASED: *allowed0 = PIN_MUST; *allowed1 = PIN_MAY; break;
	case VMCS_CTRL_CPU_BASED: *allowed0 = CPU_MUST; *allowed1 = CPU_MAY; break;
	case VMCS_CTRL_CPU_BASED2: *allowed0 = CPU2_MUST; *allowed1 = CPU2_MAY; break;
	case VMCS_CTRL_VMENTRY_CONTROLS: *allowed0 = ENTRY_MUST; *allowed1 = ENTRY_MAY; break;
	case VMCS_CTRL_VMEXIT_CONTROLS: *allowed0 = EXIT_MUST; *allowed1 = EXIT_MAY; break;
	case VMCS_GUEST_CR0: *allowed0 = CR0_NE; *allowed1 = 0xffffffffull & ~(CR0_CD | CR0_NW); break;
	case VMCS_GUEST_CR4: *allowed0 = CR4_VMXE; *allowed1 = CR4_MAY; break;
	case VMCS_GUEST_ACTIVITY_STATE: *allowed1 = 1; break;
	case VMCS_GUEST_INTERRUPTIBILITY: *allowed1 = 0xf; break;
	default: break;
	}
	return 0;
}

int hvs_write_vmcs(struct hvs_state *st, uint32_t field, uint64_t value)
{
	struct kvm_sregs *s = &st->sregs;
	struct hvs_ctls *c = &st->c;
	unsigned slot;
	int r;

	if (is_readonly(field)) {
		uint64_t dummy;
		return hvs_read_vmcs(st, field, &dummy) == -ENOENT ? -ENOENT : -EINVAL;
	}
	if (value & ~field_mask(field))
		return -EINVAL;

	if (field >= VMCS_GUEST_ES && field <= VMCS_GUEST_TR && !(field & 1)) {
		seg_of(s, (field - VMCS_GUEST_ES) / 2)->selector = (uint16_t)value;
		goto sregs_dirty;
	}
	if (field >= VMCS_GUEST_ES_LIMIT && field <= VMCS_GUEST_TR_LIMIT && !(field & 1)) {
		seg_of(s, (field - VMCS_GUEST_ES_LIMIT) / 2)->limit = (uint32_t)value;
		goto sregs_dirty;
	}
	if (field >= VMCS_GUEST_ES_AR && field <= VMCS_GUEST_TR_AR && !(field & 1)) {
		hvs_seg_from_ar(seg_of(s, (field - VMCS_GUEST_ES_AR) / 2), (uint32_t)value);
		goto sregs_dirty;
	}
	if (field >= VMCS_GUEST_ES_BASE && field <= VMCS_GUEST_TR_BASE && !(field & 1)) {
		seg_of(s, (field - VMCS_GUEST_ES_BASE) / 2)->base = value;
		goto sregs_dirty;
	}
	if (host_field(field, &slot)) {
		c->host[slot] = value;
		return 0;
	}
	int ex = extra_index(field);
	if (ex >= 0) {
		if (!extra_fields[ex].writable)
			return -EINVAL;
		c->extra[ex] = value;
		return 0;
	}

	switch (field) {
	case VMCS_GUEST_GDTR_BASE: s->gdt.base = value; goto sregs_dirty;
	case VMCS_GUEST_GDTR_LIMIT: s->gdt.limit = (uint16_t)value; goto sregs_dirty;
	case VMCS_GUEST_IDTR_BASE:
		st->idt_base = value;
		if (st->idt_hidden)
			return 0;
		s->idt.base = value;
		goto sregs_dirty;
	case VMCS_GUEST_IDTR_LIMIT:
		st->idt_limit = (uint32_t)value;
		if (st->idt_hidden)
			return 0;
		s->idt.limit = (uint16_t)value;
		goto sregs_dirty;
	case VMCS_GUEST_CR0:
		if (value & (CR0_CD | CR0_NW))
			return -EINVAL;
		s->cr0 = value;
		goto sregs_dirty;
	case VMCS_GUEST_CR3: s->cr3 = value; goto sregs_dirty;
	case VMCS_GUEST_CR4:
		/* KVM has no nested VMX here; VMXE is VMX's fixed bit and
		 * stays in the client's view only. */
		st->cr4_vmxe = !!(value & CR4_VMXE);
		s->cr4 = value & ~CR4_VMXE;
		goto sregs_dirty;
	case VMCS_GUEST_DR7: return -EAGAIN;
	case VMCS_GUEST_RSP: st->regs.rsp = value; goto regs_dirty;
	case VMCS_GUEST_RIP: st->regs.rip = value; goto regs_dirty;
	case VMCS_GUEST_RFLAGS: st->regs.rflags = value; goto regs_dirty;
	case VMCS_GUEST_IA32_EFER: s->efer = value; goto sregs_dirty;
	case VMCS_GUEST_IA32_PAT: return msrc_write(st, HVS_MSRC_PAT, value);
	case VMCS_GUEST_SYSENTER_ESP: return msrc_write(st, HVS_MSRC_SYSENTER_ESP, value);
	case VMCS_GUEST_SYSENTER_EIP: return msrc_write(st, HVS_MSRC_SYSENTER_EIP, value);
	case VMCS_GUEST_IA32_SYSENTER_CS: return msrc_write(st, HVS_MSRC_SYSENTER_CS, value);
	case VMCS_GUEST_INTERRUPTIBILITY:
		if (value & ~0xfull)
			return -EINVAL;
		intr_set(&st->events, value);
		st->dirty |= KVM_SYNC_X86_EVENTS;
		return 0;
	case VMCS_GUEST_ACTIVITY_STATE:
		/* Apple: only ACTIVE (0) or HLT (1). */
		if (value > 1)
			return -EINVAL;
		c->activity = (uint32_t)value;
		return 0;
	case VMCS_GUEST_SMBASE: c->smbase = (uint32_t)value; return 0;
	case VMCS_GUEST_DEBUG_EXC: c->pending_dbg = value; return 0;
	case VMCS_GUEST_LINK_POINTER: c->link_ptr = value; return 0;
	case VMCS_GUEST_IA32_DEBUGCTL: c->debugctl = value; return 0;
	case VMCS_GUEST_IA32_PERF_GLOBAL_CTRL: c->perf_global_ctrl = value; return 0;
	case VMCS_GUEST_IA32_BNDCFGS: c->bndcfgs = value; return 0;
	case VMCS_GUEST_PDPTE0: c->pdpte[0] = value; return 0;
	case VMCS_GUEST_PDPTE1: c->pdpte[1] = value; return 0;
	case VMCS_GUEST_PDPTE2: c->pdpte[2] = value; return 0;
	case VMCS_GUEST_PDPTE3: c->pdpte[3] = value; return 0;
	case VMCS_GUEST_VMX_TIMER_VALUE: return 0;

	case VMCS_VPID: c->vpid = value; return 0;
	case VMCS_CTRL_PIN_BASED:
		if ((r = check_ctl(value, PIN_MUST, PIN_MAY)) < 0)
			return r;
		c->pin = (uint32_t)value;
		return 0;
	case VMCS_CTRL_CPU_BASED:
		if ((r = check_ctl(value, CPU_MUST, CPU_MAY)) < 0)
			return r;
		c->cpu = (uint32_t)value;
		return 0;
	case VMCS_CTRL_CPU_BASED2:
		if ((r = check_ctl(value, CPU2_MUST, CPU2_MAY)) < 0)
			return r;
		c->cpu2 = (uint32_t)value;
		return 0;
	case VMCS_CTRL_VMENTRY_CONTROLS:
		if ((r = check_ctl(value, ENTRY_MUST, ENTRY_MAY)) < 0)
			return r;
		c->entry = (uint32_t)value;
		return 0;
	case VMCS_CTRL_VMEXIT_CONTROLS:
		if ((r = check_ctl(value, EXIT_MUST, EXIT_MAY)) < 0)
			return r;
		c->exit = (uint32_t)value;
		return 0;
	case VMCS_CTRL_EXC_BITMAP: c->exc_bitmap = (uint32_t)value; return 0;
	case VMCS_CTRL_PF_ERROR_MASK: c->pf_mask = (uint32_t)value; return 0;
	case VMCS_CTRL_PF_ERROR_MATCH: c->pf_match = (uint32_t)value; return 0;
	case VMCS_CTRL_CR3_COUNT:
		if (value > 4)
			return -EINVAL;
		c->cr3_count = (uint32_t)value;
		return 0;
	case VMCS_CTRL_VMENTRY_IRQ_INFO: c->entry_irq = (uint32_t)value; return 0;
	case VMCS_CTRL_VMENTRY_EXC_ERROR: c->entry_exc_err = (uint32_t)value; return 0;
	case VMCS_CTRL_VMENTRY_INSTR_LEN:
		if (value > 15)
			return -EINVAL;
		c->entry_instr_len = (uint32_t)value;
		return 0;
	case VMCS_CTRL_TPR_THRESHOLD: c->tpr_threshold = (uint32_t)value; return 0;
	case VMCS_CTRL_PLE_GAP: c->ple_gap = (uint32_t)value; return 0;
	case VMCS_CTRL_PLE_WINDOW: c->ple_window = (uint32_t)value; return 0;
	case VMCS_CTRL_CR0_MASK: c->cr0_mask = value; return 0;
	case VMCS_CTRL_CR4_MASK: c->cr4_mask = value; return 0;
	case VMCS_CTRL_CR0_SHADOW: c->cr0_shadow = value; return 0;
	case VMCS_CTRL_CR4_SHADOW: c->cr4_shadow = value; return 0;
	case VMCS_CTRL_CR3_VALUE0: c->cr3_target[0] = value; return 0;
	case VMCS_CTRL_CR3_VALUE1: c->cr3_target[1] = value; return 0;
	case VMCS_CTRL_CR3_VALUE2: c->cr3_target[2] = value; return 0;
	case VMCS_CTRL_CR3_VALUE3: c->cr3_target[3] = value; return 0;
	case VMCS_CTRL_VIRTUAL_APIC: c->virtual_apic = value; return 0;
	default:
		return -ENOENT;
	}

regs_dirty:
	st->dirty |= KVM_SYNC_X86_REGS;
	return 0;
sregs_dirty:
	st->dirty |= KVM_SYNC_X86_SREGS;
	return 0;
}

/* ---- registers (hv_x86_reg_t) ---- */

static __u64 *gpr_ptr(struct kvm_regs *regs, unsigned reg)
{
	switch (reg) {
	case HV_X86_RAX: return &regs->rax;
	case HV_X86_RCX: return &regs->rcx;
	case HV_X86_RDX: return &regs->rdx;
	case HV_X86_RBX: return &regs->rbx;
	case HV_X86_RSI: return &regs->rsi;
	case HV_X86_RDI: return &regs->rdi;
	case HV_X86_RBP: return &regs->rbp;
	case HV_X86_R8: return &regs->r8;
	case HV_X86_R9: return &regs->r9;
	case HV_X86_R10: return &regs->r10;
	case HV_X86_R11: return &regs->r11;
	case HV_X86_R12: return &regs->r12;
	case HV_X86_R13: return &regs->r13;
	case HV_X86_R14: return &regs->r14;
	case HV_X86_R15: return &regs->r15;
	default: return NULL;
	}
}

/* Registers that are VMCS fields under another name. */
static uint32_t reg_field(unsigned reg)
{
	switch (reg) {
	case HV_X86_RIP: return VMCS_GUEST_RIP;
	case HV_X86_RFLAGS: return VMCS_GUEST_RFLAGS;
	case HV_X86_RSP: return VMCS_GUEST_RSP;
	case HV_X86_CS: return VMCS_GUEST_CS;
	case HV_X86_SS: return VMCS_GUEST_SS;
	case HV_X86_DS: return VMCS_GUEST_DS;
	case HV_X86_ES: return VMCS_GUEST_ES;
	case HV_X86_FS: return VMCS_GUEST_FS;
	case HV_X86_GS: return VMCS_GUEST_GS;
	case HV_X86_IDT_BASE: return VMCS_GUEST_IDTR_BASE;
	case HV_X86_IDT_LIMIT: return VMCS_GUEST_IDTR_LIMIT;
	case HV_X86_GDT_BASE: return VMCS_GUEST_GDTR_BASE;
	case HV_X86_GDT_LIMIT: return VMCS_GUEST_GDTR_LIMIT;
	case HV_X86_LDTR: return VMCS_GUEST_LDTR;
	case HV_X86_LDT_BASE: return VMCS_GUEST_LDTR_BASE;
	case HV_X86_LDT_LIMIT: return VMCS_GUEST_LDTR_LIMIT;
	case HV_X86_LDT_AR: return VMCS_GUEST_LDTR_AR;
	case HV_X86_TR: return VMCS_GUEST_TR;
	case HV_X86_TSS_BASE: return VMCS_GUEST_TR_BASE;
	case HV_X86_TSS_LIMIT: return VMCS_GUEST_TR_LIMIT;
	case HV_X86_TSS_AR: return VMCS_GUEST_TR_AR;
	case HV_X86_CR0: return VMCS_GUEST_CR0;
	case HV_X86_CR3: return VMCS_GUEST_CR3;
	case HV_X86_CR4: return VMCS_GUEST_CR4;
	case HV_X86_DR7: return VMCS_GUEST_DR7;
	default: return 0;
	}
}

int hvs_read_reg(const struct hvs_state *st, unsigned reg, uint64_t *value)
{
	__u64 *g = gpr_ptr((struct kvm_regs *)&st->regs, reg);
	uint32_t field;

	if (g) {
		*value = *g;
		return 0;
	}
	if ((field = reg_field(reg)))
		return hvs_read_vmcs(st, field, value);
	switch (reg) {
	case HV_X86_CR1: *value = 0; return 0;
	case HV_X86_CR2: *value = st->sregs.cr2; return 0;
	case HV_X86_TPR: *value = st->sregs.cr8; return 0;
	case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3:
	case HV_X86_DR4: case HV_X86_DR5: case HV_X86_DR6: case HV_X86_XCR0:
		return -EAGAIN;
	default: return -EINVAL;
	}
}

int hvs_write_reg(struct hvs_state *st, unsigned reg, uint64_t value)
{
	__u64 *g = gpr_ptr(&st->regs, reg);
	uint32_t field;

	if (g) {
		*g = value;
		st->dirty |= KVM_SYNC_X86_REGS;
		return 0;
	}
	if ((field = reg_field(reg)))
		return hvs_write_vmcs(st, field, value);
	switch (reg) {
	case HV_X86_CR1: return 0;
	case HV_X86_CR2:
		st->sregs.cr2 = value;
		st->dirty |= KVM_SYNC_X86_SREGS;
		return 0;
	case HV_X86_TPR:
		if (value > 15)
			return -EINVAL;
		st->sregs.cr8 = value;
		st->dirty |= KVM_SYNC_X86_SREGS;
		return 0;
	case HV_X86_DR0: case HV_X86_DR1: case HV_X86_DR2: case HV_X86_DR3:
	case HV_X86_DR4: case HV_X86_DR5: case HV_X86_DR6: case HV_X86_XCR0:
		return -EAGAIN;
	default: return -EINVAL;
	}
}
