/*
 * The arm64 register table (a64/ha64_regs.c) against Apple's reference
 * (hv-api-arm64.md §2.4, §2.6, §6.2): every register is found under its
 * Apple value, the KVM ids of the special cases are KVM's, and a state
 * from outside is cleaned by ha64_check. Arch-neutral: runs on x86 too.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ha64.h"

Test(ha64, gpr_and_simd_rows)
{
	cr_assert_eq(ha64_gpr_index(0), 0);
	cr_assert_eq(ha64_gpr_index(34), 34);
	cr_assert_eq(ha64_gpr_index(35), -1);
	cr_assert_eq(ha64_regs[5].kvm_id, 0x6030000000100000ull + 10);
	cr_assert_eq(ha64_regs[30].kvm_id, 0x603000000010003cull);
	cr_assert_eq(ha64_regs[31].kvm_id, 0x6030000000100040ull); /* PC */
	cr_assert_eq(ha64_regs[32].kvm_id, 0x60200000001000d5ull); /* FPCR */
	cr_assert_eq(ha64_regs[33].kvm_id, 0x60200000001000d4ull); /* FPSR */
	cr_assert_eq(ha64_regs[34].kvm_id, 0x6030000000100042ull); /* CPSR */
	cr_assert_eq(ha64_simd_index(32), -1);
	cr_assert_eq(ha64_regs[ha64_simd_index(0)].kvm_id, 0x6040000000100054ull);
	cr_assert_eq(ha64_regs[ha64_simd_index(31)].kvm_id, 0x6040000000100054ull + 124);
}

/* Apple's values typed from the reference (§2.6), not from the table. */
static const uint16_t named[] = {
	0x8010, 0x8012, 0xc000, 0xc005, 0xc020, 0xc021, 0xc024, 0xc025, 0xc028, 0xc029,
	0xc030, 0xc031, 0xc038, 0xc039, 0xc03a, 0xc080, 0xc081, 0xc082, 0xc094, 0xc096,
	0xc100, 0xc101, 0xc102, 0xc108, 0xc109, 0xc10a, 0xc10b, 0xc110, 0xc111, 0xc112,
	0xc113, 0xc118, 0xc119, 0xc200, 0xc201, 0xc208, 0xc288, 0xc289, 0xc290, 0xc300,
	0xc3a0, 0xc510, 0xc518, 0xc600, 0xc681, 0xc684, 0xc687, 0xc708, 0xd000, 0xde82,
	0xde83, 0xde85, 0xde87, 0xdf19, 0xdf1a, 0xe208, 0xdf11, 0xdf12, 0xdf10, 0xe708,
	0xe711, 0xe712, 0xe710, 0xe703, 0xe08a, 0xe201, 0xe290, 0xe300, 0xe088, 0xe304,
	0xe510, 0xe089, 0xe080, 0xe200, 0xf208, 0xe102, 0xe682, 0xe100, 0xe101, 0xe600,
	0xe005, 0xe000, 0xe10a, 0xe108,
};

Test(ha64, every_system_register_once)
{
	cr_assert_eq(sizeof(named) / sizeof(named[0]), 84);
	bool seen[HA64_NREGS] = { false };
	for (size_t i = 0; i < 84; i++) {
		int k = ha64_sys_index(named[i]);
		cr_assert_geq(k, (int)HA64_SYS_BASE, "%#x", named[i]);
		cr_assert_eq(ha64_regs[k].apple, named[i]);
		cr_assert_not(seen[k]);
		seen[k] = true;
	}
	for (unsigned n = 0; n < 16; n++)
		for (unsigned r = 0; r < 4; r++) {
			uint16_t v = (uint16_t)(0x8004 + 8 * n + r);
			int k = ha64_sys_index(v);
			cr_assert_geq(k, 0, "%#x", v);
			cr_assert_eq(ha64_regs[k].apple, v);
			cr_assert_eq(ha64_regs[k].kvm_id, 0x6030000000130000ull | v);
			cr_assert_not(seen[k]);
			seen[k] = true;
		}
	for (unsigned i = HA64_SYS_BASE; i < HA64_NREGS; i++) {
		cr_assert(seen[i], "row %u (%s) not reached", i, ha64_regs[i].name);
		cr_assert_eq(ha64_regs[i].kind, HA64_SYS);
	}
	cr_assert_eq(ha64_sys_index(0x8000), -1);
	cr_assert_eq(ha64_sys_index(0xc032), -1); /* ID_AA64ISAR2_EL1: not in Apple's enum */
	cr_assert_eq(ha64_sys_index(0xffff), -1);
}

static uint64_t kvm_id(uint16_t v)
{
	return ha64_regs[ha64_sys_index(v)].kvm_id;
}

Test(ha64, kvm_exceptions)
{
	cr_assert_eq(kvm_id(0xc208), 0x603000000010003eull); /* SP_EL0: regs.sp */
	cr_assert_eq(kvm_id(0xe208), 0x6030000000100044ull); /* SP_EL1 */
	cr_assert_eq(kvm_id(0xc201), 0x6030000000100046ull); /* ELR_EL1 */
	cr_assert_eq(kvm_id(0xc200), 0x6030000000100048ull); /* SPSR_EL1 */
	cr_assert_eq(kvm_id(0xdf1a), 0x603000000013df02ull); /* CNTV_CVAL: KVM_REG_ARM_TIMER_CVAL */
	cr_assert_eq(kvm_id(0xdf19), 0x603000000013df19ull); /* CNTV_CTL */
	cr_assert_eq(kvm_id(0xc080), 0x603000000013c080ull); /* SCTLR_EL1 */
	cr_assert(ha64_regs[ha64_sys_index(0xe088)].flags & HA64_RF_EL2);  /* HCR_EL2 */
	cr_assert(ha64_regs[ha64_sys_index(0xdf11)].flags & HA64_RF_GIC);  /* CNTP_CTL */
	cr_assert(ha64_regs[ha64_sys_index(0xc096)].flags & HA64_RF_NOKVM); /* SMCR_EL1 */
	cr_assert(ha64_regs[ha64_sys_index(0xc081)].flags & HA64_RF_DERIVED); /* ACTLR_EL1 */
}

Test(ha64, check_cleans_outside_state)
{
	struct ha64_state st;
	memset(&st, 0xff, sizeof(st));
	cr_assert_not(ha64_check(&st), "op 0xffffffff refused");
	st.op = HA64_OP_RUN;
	cr_assert(ha64_check(&st));
	cr_assert_eq(st.ctl, HA64_CTL_KNOWN);
	unsigned last = HA64_NREGS - 1;
	cr_assert(ha64_bit(st.want, last));
	if (HA64_NREGS % 64) {
		cr_assert_not(ha64_bit(st.want, last + 1));
		cr_assert_not(ha64_bit(st.dirty, last + 1));
		cr_assert_not(ha64_bit(st.valid, last + 1));
	}
	st.op = HA64_OP_SYNC;
	cr_assert(ha64_check(&st));
	st.op = 0;
	cr_assert_not(ha64_check(&st));
}

Test(ha64, exit_record_is_apples_layout)
{
	cr_assert_eq(sizeof(struct ha64_exit), 32);
	cr_assert_eq(offsetof(struct ha64_exit, syndrome), 8);
	cr_assert_eq(offsetof(struct ha64_exit, virtual_address), 16);
	cr_assert_eq(offsetof(struct ha64_exit, physical_address), 24);
}
