/*
 * The rest of the VMCS model around the field table (hvs_fields.c): the
 * capabilities the controls are checked against, segment access rights in
 * KVM's format, the controls' initial and clamped values, the cached MSRs
 * and the registers of hv_x86_reg_t (most of them VMCS fields under
 * another name). Pure functions: libhvclient runs the same code on its run
 * page.
 */
#include <errno.h>
#include <string.h>

#include "hvs_priv.h"

/* A control's capability: allowed-0 bits low, allowed-1 bits high. */
static uint64_t ctl_cap(enum hvs__cap cap)
{
	return hvs__caps[cap].must | (hvs__caps[cap].may << 32);
}

int hvs_caps_read(unsigned cap, uint64_t *value)
{
	switch (cap) {
	case HV_VMX_CAP_PINBASED:
	case HV_VMX_CAP_TRUE_PINBASED:
		*value = ctl_cap(HVS__CAP_PIN);
		return 0;
	case HV_VMX_CAP_PROCBASED:
	case HV_VMX_CAP_TRUE_PROCBASED:
		*value = ctl_cap(HVS__CAP_CPU);
		return 0;
	case HV_VMX_CAP_PROCBASED2:
		*value = ctl_cap(HVS__CAP_CPU2);
		return 0;
	case HV_VMX_CAP_ENTRY:
	case HV_VMX_CAP_TRUE_ENTRY:
		*value = ctl_cap(HVS__CAP_ENTRY);
		return 0;
	case HV_VMX_CAP_EXIT:
	case HV_VMX_CAP_TRUE_EXIT:
		*value = ctl_cap(HVS__CAP_EXIT);
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
		*value = hvs__caps[HVS__CAP_CR0].must;
		return 0;
	case HV_VMX_CAP_CR0_FIXED1:
		*value = hvs__caps[HVS__CAP_CR0].may;
		return 0;
	case HV_VMX_CAP_CR4_FIXED0:
		*value = hvs__caps[HVS__CAP_CR4].must;
		return 0;
	case HV_VMX_CAP_CR4_FIXED1:
		*value = hvs__caps[HVS__CAP_CR4].may;
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
