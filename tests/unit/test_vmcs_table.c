/*
 * The VMCS model's field table (vmcs/hvs_fields.c) on a plain struct
 * hvs_state, with no KVM: every row is found and readable, read-only rows
 * refuse writes, writes read back and mark exactly the row's dirty group,
 * the controls refuse what the capabilities forbid, and encodings without
 * a row are refused. test_vmcs checks the same fields through a real KVM
 * vCPU.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <Hypervisor/hv_vmx.h>

#include "hvs_priv.h"
#include "vmcs_fields.h"

static struct hvs_state st;

static void setup(void)
{
	memset(&st, 0, sizeof(st));
	hvs_init_ctls(&st.c);
}

TestSuite(vmcs_table, .init = setup);

static uint64_t width_mask(uint32_t field)
{
	switch ((field >> 13) & 3) {
	case 0: return 0xffff;
	case 2: return 0xffffffff;
	default: return ~0ull;
	}
}

Test(vmcs_table, rows_are_sorted_by_encoding)
{
	cr_assert_gt(hvs__nfields, 0);
	for (size_t i = 1; i < hvs__nfields; i++)
		cr_expect_lt(hvs__fields[i - 1].enc, hvs__fields[i].enc,
			     "row %zu (0x%x) is not after row %zu (0x%x): the lookup "
			     "would miss it", i, hvs__fields[i].enc, i - 1,
			     hvs__fields[i - 1].enc);
}

Test(vmcs_table, every_row_is_found_and_readable)
{
	for (size_t i = 0; i < hvs__nfields; i++) {
		const struct hvs_field *f = &hvs__fields[i];
		uint64_t v;
		cr_expect_eq(hvs__field_find(f->enc), f, "lookup of 0x%x", f->enc);
		int r = hvs_read_vmcs(&st, f->enc, &v);
		/* DR7 lives in KVM only: the vCPU answers. */
		if (f->enc == VMCS_GUEST_DR7)
			cr_expect_eq(r, -EAGAIN);
		else
			cr_expect_eq(r, 0, "field 0x%x not readable: %d", f->enc, r);
	}
}

Test(vmcs_table, every_apple_field_has_a_row)
{
	for (size_t i = 0; i < N_APPLE_VMCS_FIELDS; i++)
		cr_expect_not_null(hvs__field_find(apple_vmcs_fields[i]),
				   "no row for 0x%x", apple_vmcs_fields[i]);
	/* Apple's fields, plus the host RSP its header does not name. */
	cr_expect_eq(hvs__nfields, N_APPLE_VMCS_FIELDS + 1);
}

Test(vmcs_table, stored_fields_do_not_overlap)
{
	for (size_t i = 0; i < hvs__nfields; i++) {
		const struct hvs_field *a = &hvs__fields[i];
		if (!a->size)
			continue;
		cr_expect_leq(a->off + a->size, sizeof(struct hvs_state));
		for (size_t k = i + 1; k < hvs__nfields; k++) {
			const struct hvs_field *b = &hvs__fields[k];
			if (!b->size)
				continue;
			cr_expect(a->off + a->size <= b->off || b->off + b->size <= a->off,
				  "0x%x and 0x%x share storage", a->enc, b->enc);
		}
	}
}

/* The dirty group a write must mark follows from where the field lives:
 * what KVM's sync-regs groups hold, a cached MSR, or backend state. */
static unsigned group_of_home(size_t off)
{
	/* Unsigned: an offset below the member wraps round and is not in it. */
#define IN(m) (off - offsetof(struct hvs_state, m) < sizeof(((struct hvs_state *)0)->m))
	if (IN(regs))
		return KVM_SYNC_X86_REGS;
	if (IN(sregs))
		return KVM_SYNC_X86_SREGS;
	if (IN(events))
		return KVM_SYNC_X86_EVENTS;
	if (IN(msr))
		return HVS__DIRTY_MSR;
	return HVS__DIRTY_NONE;
#undef IN
}

Test(vmcs_table, the_dirty_group_follows_the_home)
{
	for (size_t i = 0; i < hvs__nfields; i++) {
		const struct hvs_field *f = &hvs__fields[i];
		/* DR7 and the preemption timer have no home here. */
		if (!f->writable || f->enc == VMCS_GUEST_DR7 ||
		    f->enc == VMCS_GUEST_VMX_TIMER_VALUE)
			continue;
		cr_expect_eq(f->dirty, group_of_home(f->off),
			     "0x%x marks 0x%x, its home is in group 0x%x", f->enc, f->dirty,
			     group_of_home(f->off));
	}
}

Test(vmcs_table, readonly_rows_refuse_writes)
{
	unsigned n = 0;
	for (size_t i = 0; i < hvs__nfields; i++) {
		const struct hvs_field *f = &hvs__fields[i];
		uint64_t a0 = 1, a1 = 1;
		if (f->writable)
			continue;
		struct hvs_state before = st;
		cr_expect_eq(hvs_write_vmcs(&st, f->enc, 0), -EINVAL, "0x%x", f->enc);
		cr_expect_eq(hvs_write_vmcs(&st, f->enc, 1), -EINVAL, "0x%x", f->enc);
		cr_expect_eq(memcmp(&before, &st, sizeof(st)), 0, "0x%x changed the state",
			     f->enc);
		cr_expect_eq(hvs_cap_write_vmcs(&st, f->enc, &a0, &a1), 0);
		cr_expect_eq(a0 | a1, 0, "0x%x: write masks of a read-only field", f->enc);
		n++;
	}
	/* The exit information, TSC offset, APIC access and Apple's
	 * framework-owned controls. */
	cr_expect_geq(n, 45, "only %u read-only rows", n);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_RO_EXIT_REASON, 0), -EINVAL);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_CTRL_TSC_OFFSET, 0), -EINVAL);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_CTRL_EPTP, 0), -EINVAL);
}

/* What a write of `f` must have marked, from the row. */
static void expect_dirty(const struct hvs_field *f, const struct hvs_state *s)
{
	if (f->dirty == HVS__DIRTY_MSR) {
		unsigned i = (unsigned)((f->off - offsetof(struct hvs_state, msr)) / 8);
		cr_expect_eq(s->msr_dirty, 1u << i, "0x%x: msr_dirty 0x%x", f->enc, s->msr_dirty);
		cr_expect_eq(s->dirty, 0, "0x%x", f->enc);
	} else {
		cr_expect_eq(s->dirty, f->dirty, "0x%x: dirty 0x%x, the row says 0x%x",
			     f->enc, s->dirty, f->dirty);
		cr_expect_eq(s->msr_dirty, 0, "0x%x", f->enc);
	}
}

Test(vmcs_table, writes_read_back_and_mark_their_group)
{
	unsigned n = 0;
	for (size_t i = 0; i < hvs__nfields; i++) {
		const struct hvs_field *f = &hvs__fields[i];
		uint64_t a0, a1, v, back;
		if (!f->writable || f->enc == VMCS_GUEST_DR7 ||
		    f->enc == VMCS_GUEST_VMX_TIMER_VALUE)
			continue;
		cr_assert_eq(hvs_cap_write_vmcs(&st, f->enc, &a0, &a1), 0);
		v = (a0 | (0x0123456789abcdefull * (i + 1) & a1)) & width_mask(f->enc);
		if (f->size && f->size < 8)
			v &= (1ull << (8 * f->size)) - 1; /* what the home can hold */
		if (f->enc == VMCS_GUEST_IDTR_LIMIT)
			v &= 0xffff; /* KVM's IDTR limit, like the GDTR's */
		if (f->enc >= VMCS_GUEST_ES_AR && f->enc <= VMCS_GUEST_TR_AR)
			v &= 0x1f0ff; /* AR bits 8-11 and 17-31 are reserved */
		if (f->enc == VMCS_GUEST_CR0)
			v &= ~(CR0_CD | CR0_NW);
		if (f->enc == VMCS_CTRL_CR3_COUNT)
			v = 3;
		if (f->enc == VMCS_CTRL_VMENTRY_INSTR_LEN)
			v = 15;
		setup();
		cr_assert_eq(hvs_write_vmcs(&st, f->enc, v), 0, "write 0x%x = 0x%llx", f->enc,
			     (unsigned long long)v);
		cr_assert_eq(hvs_read_vmcs(&st, f->enc, &back), 0);
		cr_expect_eq(back, v, "field 0x%x wrote 0x%llx read 0x%llx", f->enc,
			     (unsigned long long)v, (unsigned long long)back);
		expect_dirty(f, &st);
		n++;
	}
	cr_expect_geq(n, 110, "only %u fields written", n);
}

Test(vmcs_table, values_wider_than_the_field_are_refused)
{
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_GUEST_CS, 0x10000), -EINVAL);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_CTRL_EXC_BITMAP, 1ull << 32), -EINVAL);
	cr_expect_eq(st.dirty, 0);
}

Test(vmcs_table, controls_refuse_what_the_capabilities_forbid)
{
	static const struct { unsigned cap; uint32_t field; } ctl[] = {
		{ HV_VMX_CAP_PINBASED, VMCS_CTRL_PIN_BASED },
		{ HV_VMX_CAP_PROCBASED, VMCS_CTRL_CPU_BASED },
		{ HV_VMX_CAP_PROCBASED2, VMCS_CTRL_CPU_BASED2 },
		{ HV_VMX_CAP_ENTRY, VMCS_CTRL_VMENTRY_CONTROLS },
		{ HV_VMX_CAP_EXIT, VMCS_CTRL_VMEXIT_CONTROLS },
	};
	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		uint64_t cap, a0, a1, v, back;
		uint32_t f = ctl[i].field;
		cr_assert_eq(hvs_caps_read(ctl[i].cap, &cap), 0);
		cr_assert_eq(hvs_cap_write_vmcs(&st, f, &a0, &a1), 0);
		cr_expect_eq(a0, cap & 0xffffffff, "0x%x", f);
		cr_expect_eq(a1, cap >> 32, "0x%x", f);
		/* The client's usual recipe is accepted... */
		v = (0xffffffff | a0) & a1;
		cr_expect_eq(hvs_write_vmcs(&st, f, v), 0, "0x%x", f);
		/* ...a missing must-be-1 bit or a bit that may not be 1 is not,
		 * and leaves the control as it was. */
		for (unsigned b = 0; b < 32; b++) {
			uint64_t bit = 1ull << b;
			if (a0 & bit)
				cr_expect_eq(hvs_write_vmcs(&st, f, v & ~bit), -EINVAL,
					     "0x%x without must-be-1 bit %u", f, b);
			if (!(a1 & bit))
				cr_expect_eq(hvs_write_vmcs(&st, f, v | bit), -EINVAL,
					     "0x%x with forbidden bit %u", f, b);
		}
		cr_assert_eq(hvs_read_vmcs(&st, f, &back), 0);
		cr_expect_eq(back, v, "0x%x", f);
	}
	/* Activity and interruptibility are checked against their masks too. */
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_GUEST_ACTIVITY_STATE, 2), -EINVAL);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_GUEST_INTERRUPTIBILITY, 0x10), -EINVAL);
	cr_expect_eq(st.dirty, 0, "a refused write marked state dirty");
}

Test(vmcs_table, unknown_encodings_are_refused)
{
	unsigned known = 0;
	for (uint32_t enc = 0; enc <= 0xffff; enc++) {
		uint64_t v, a0, a1;
		if (hvs__field_find(enc)) {
			known++;
			continue;
		}
		cr_expect_eq(hvs_read_vmcs(&st, enc, &v), -ENOENT, "read 0x%x", enc);
		cr_expect_eq(hvs_write_vmcs(&st, enc, 0), -ENOENT, "write 0x%x", enc);
		cr_expect_eq(hvs_cap_write_vmcs(&st, enc, &a0, &a1), -ENOENT, "cap 0x%x", enc);
	}
	cr_expect_eq(known, hvs__nfields);
	uint64_t v;
	cr_expect_eq(hvs_read_vmcs(&st, 0x0801, &v), -ENOENT); /* a high half */
	cr_expect_eq(hvs_read_vmcs(&st, 0x10800, &v), -ENOENT);
	cr_expect_eq(hvs_write_vmcs(&st, 0xffffffff, 0), -ENOENT);
}

Test(vmcs_table, cr4_vmxe_stays_in_the_clients_view)
{
	uint64_t v;
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_CR4, CR4_VMXE | 0x20), 0);
	cr_expect_eq(st.sregs.cr4, 0x20, "VMXE reached KVM's CR4");
	cr_expect_eq(st.cr4_vmxe, 1);
	cr_assert_eq(hvs_read_vmcs(&st, VMCS_GUEST_CR4, &v), 0);
	cr_expect_eq(v, CR4_VMXE | 0x20);
	cr_expect_eq(st.dirty, KVM_SYNC_X86_SREGS);
}

Test(vmcs_table, idtr_writes_stay_in_the_clients_view_while_hidden)
{
	uint64_t v;
	st.idt_hidden = 1;
	st.sregs.idt.base = 0x1000;
	st.sregs.idt.limit = 0x3ff;
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_IDTR_BASE, 0x5000), 0);
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_IDTR_LIMIT, 0x7f), 0);
	cr_expect_eq(st.sregs.idt.base, 0x1000, "the hidden IVT was replaced");
	cr_expect_eq(st.sregs.idt.limit, 0x3ff);
	cr_expect_eq(st.dirty, 0, "nothing for KVM while the IVT is hidden");
	cr_assert_eq(hvs_read_vmcs(&st, VMCS_GUEST_IDTR_BASE, &v), 0);
	cr_expect_eq(v, 0x5000);
	cr_assert_eq(hvs_read_vmcs(&st, VMCS_GUEST_IDTR_LIMIT, &v), 0);
	cr_expect_eq(v, 0x7f);

	st.idt_hidden = 0;
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_IDTR_BASE, 0x6000), 0);
	cr_expect_eq(st.sregs.idt.base, 0x6000);
	cr_expect_eq(st.dirty, KVM_SYNC_X86_SREGS);
}

Test(vmcs_table, interruptibility_maps_to_kvm_events)
{
	uint64_t v;
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_INTERRUPTIBILITY,
				    GUEST_INTRBILITY_MOVSS_BLOCKING |
				    GUEST_INTRBILITY_NMI_BLOCKING), 0);
	cr_expect_eq(st.events.interrupt.shadow, KVM_X86_SHADOW_INT_MOV_SS);
	cr_expect_eq(st.events.nmi.masked, 1);
	cr_expect(st.events.flags & KVM_VCPUEVENT_VALID_SHADOW);
	cr_expect_eq(st.dirty, KVM_SYNC_X86_EVENTS);
	cr_assert_eq(hvs_read_vmcs(&st, VMCS_GUEST_INTERRUPTIBILITY, &v), 0);
	cr_expect_eq(v, GUEST_INTRBILITY_MOVSS_BLOCKING | GUEST_INTRBILITY_NMI_BLOCKING);
}

Test(vmcs_table, segment_rows_reach_their_segment)
{
	/* The selector, limit, base and access rights of LDTR land in
	 * KVM's ldt segment and nowhere else. */
	struct hvs_state before = st;
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_LDTR, 0x28), 0);
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_LDTR_LIMIT, 0xfff), 0);
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_LDTR_BASE, 0x12340000), 0);
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_LDTR_AR, 0x82), 0);
	cr_expect_eq(st.sregs.ldt.selector, 0x28);
	cr_expect_eq(st.sregs.ldt.limit, 0xfff);
	cr_expect_eq(st.sregs.ldt.base, 0x12340000);
	cr_expect_eq(st.sregs.ldt.type, 2);
	cr_expect_eq(st.sregs.ldt.present, 1);
	st.sregs.ldt = before.sregs.ldt;
	st.dirty = before.dirty;
	cr_expect_eq(memcmp(&before, &st, sizeof(st)), 0, "another field changed");
}

Test(vmcs_table, cr0_refuses_cache_disable)
{
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_GUEST_CR0, CR0_NE | CR0_CD), -EINVAL);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_GUEST_CR0, CR0_NE | CR0_NW), -EINVAL);
	cr_expect_eq(hvs_write_vmcs(&st, VMCS_GUEST_CR0, CR0_NE | 1), 0);
}
