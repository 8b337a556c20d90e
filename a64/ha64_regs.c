/*
 * The register table: every register of Apple's arm64 API with its KVM
 * ONE_REG id (../shared/reference/hv-api-arm64.md §2.4, §2.6, §6.2).
 * hv_sys_reg_t is op0<<14|op1<<11|CRn<<7|CRm<<3|op2, bit for bit KVM's
 * sysreg index, so most ids are SYS(v); the exceptions are KVM's core
 * registers (SP_EL0, SP_EL1, ELR_EL1, SPSR_EL1), the vtimer's CVAL (KVM's
 * CVAL and CNT ids are swapped against the architectural encodings), and
 * what KVM cannot reach at all.
 */
#include "ha64.h"

#define CORE(off) (0x6030000000100000ull + (off))
#define CORE32(off) (0x6020000000100000ull + (off))
#define SYS(v) (0x6030000000130000ull | (v))
#define GPR(n) { "X" #n, n, HA64_GPR, 0, CORE(2u * (n)) }
#define Q(n) { "Q" #n, n, HA64_SIMD, 0, 0x6040000000100054ull + 4u * (n) }
#define R(name, v, flags, id) { #name, v, HA64_SYS, flags, id }
#define S(name, v) R(name, v, 0, SYS(v))
#define E(name, v) R(name, v, HA64_RF_EL2, SYS(v))
#define DBG(n) S(DBGBVR##n##_EL1, 0x8004 + 8 * (n)), S(DBGBCR##n##_EL1, 0x8005 + 8 * (n)), \
	S(DBGWVR##n##_EL1, 0x8006 + 8 * (n)), S(DBGWCR##n##_EL1, 0x8007 + 8 * (n))

const struct ha64_reg ha64_regs[HA64_NREGS] = {
	GPR(0), GPR(1), GPR(2), GPR(3), GPR(4), GPR(5), GPR(6), GPR(7), GPR(8), GPR(9),
	GPR(10), GPR(11), GPR(12), GPR(13), GPR(14), GPR(15), GPR(16), GPR(17), GPR(18),
	GPR(19), GPR(20), GPR(21), GPR(22), GPR(23), GPR(24), GPR(25), GPR(26), GPR(27),
	GPR(28), GPR(29), GPR(30),
	{ "PC", HA64_REG_PC, HA64_GPR, 0, CORE(0x40) },
	{ "FPCR", HA64_REG_FPCR, HA64_GPR, HA64_RF_U32, CORE32(0xd5) },
	{ "FPSR", HA64_REG_FPSR, HA64_GPR, HA64_RF_U32, CORE32(0xd4) },
	{ "CPSR", HA64_REG_CPSR, HA64_GPR, 0, CORE(0x42) },
	Q(0), Q(1), Q(2), Q(3), Q(4), Q(5), Q(6), Q(7), Q(8), Q(9), Q(10), Q(11), Q(12),
	Q(13), Q(14), Q(15), Q(16), Q(17), Q(18), Q(19), Q(20), Q(21), Q(22), Q(23), Q(24),
	Q(25), Q(26), Q(27), Q(28), Q(29), Q(30), Q(31),
	S(MDCCINT_EL1, 0x8010),
	S(MDSCR_EL1, 0x8012),
	S(MIDR_EL1, 0xc000),
	S(MPIDR_EL1, 0xc005),
	S(ID_AA64PFR0_EL1, 0xc020),
	S(ID_AA64PFR1_EL1, 0xc021),
	S(ID_AA64ZFR0_EL1, 0xc024),
	S(ID_AA64SMFR0_EL1, 0xc025),
	S(ID_AA64DFR0_EL1, 0xc028),
	S(ID_AA64DFR1_EL1, 0xc029),
	S(ID_AA64ISAR0_EL1, 0xc030),
	S(ID_AA64ISAR1_EL1, 0xc031),
	S(ID_AA64MMFR0_EL1, 0xc038),
	S(ID_AA64MMFR1_EL1, 0xc039),
	S(ID_AA64MMFR2_EL1, 0xc03a),
	S(SCTLR_EL1, 0xc080),
	R(ACTLR_EL1, 0xc081, HA64_RF_DERIVED, 0), /* only EnTSO: no TSO here */
	S(CPACR_EL1, 0xc082),
	R(SMPRI_EL1, 0xc094, HA64_RF_NOKVM, 0),
	R(SMCR_EL1, 0xc096, HA64_RF_NOKVM, 0),
	S(TTBR0_EL1, 0xc100),
	S(TTBR1_EL1, 0xc101),
	S(TCR_EL1, 0xc102),
	S(APIAKEYLO_EL1, 0xc108),
	S(APIAKEYHI_EL1, 0xc109),
	S(APIBKEYLO_EL1, 0xc10a),
	S(APIBKEYHI_EL1, 0xc10b),
	S(APDAKEYLO_EL1, 0xc110),
	S(APDAKEYHI_EL1, 0xc111),
	S(APDBKEYLO_EL1, 0xc112),
	S(APDBKEYHI_EL1, 0xc113),
	S(APGAKEYLO_EL1, 0xc118),
	S(APGAKEYHI_EL1, 0xc119),
	R(SPSR_EL1, 0xc200, 0, CORE(0x48)),
	R(ELR_EL1, 0xc201, 0, CORE(0x46)),
	R(SP_EL0, 0xc208, 0, CORE(0x3e)),
	S(AFSR0_EL1, 0xc288),
	S(AFSR1_EL1, 0xc289),
	S(ESR_EL1, 0xc290),
	S(FAR_EL1, 0xc300),
	S(PAR_EL1, 0xc3a0),
	S(MAIR_EL1, 0xc510),
	S(AMAIR_EL1, 0xc518),
	S(VBAR_EL1, 0xc600),
	S(CONTEXTIDR_EL1, 0xc681),
	S(TPIDR_EL1, 0xc684),
	R(SCXTNUM_EL1, 0xc687, HA64_RF_NOKVM, 0),
	S(CNTKCTL_EL1, 0xc708),
	S(CSSELR_EL1, 0xd000),
	S(TPIDR_EL0, 0xde82),
	S(TPIDRRO_EL0, 0xde83),
	R(TPIDR2_EL0, 0xde85, HA64_RF_NOKVM, 0),
	R(SCXTNUM_EL0, 0xde87, HA64_RF_NOKVM, 0),
	S(CNTV_CTL_EL0, 0xdf19),
	R(CNTV_CVAL_EL0, 0xdf1a, 0, SYS(0xdf02)), /* KVM_REG_ARM_TIMER_CVAL */
	R(SP_EL1, 0xe208, 0, CORE(0x44)),
	R(CNTP_CTL_EL0, 0xdf11, HA64_RF_GIC, SYS(0xdf11)),
	R(CNTP_CVAL_EL0, 0xdf12, HA64_RF_GIC, SYS(0xdf12)),
	R(CNTP_TVAL_EL0, 0xdf10, HA64_RF_GIC | HA64_RF_DERIVED, 0), /* CVAL - count */
	E(CNTHCTL_EL2, 0xe708),
	E(CNTHP_CTL_EL2, 0xe711),
	E(CNTHP_CVAL_EL2, 0xe712),
	E(CNTHP_TVAL_EL2, 0xe710),
	E(CNTVOFF_EL2, 0xe703),
	E(CPTR_EL2, 0xe08a),
	E(ELR_EL2, 0xe201),
	E(ESR_EL2, 0xe290),
	E(FAR_EL2, 0xe300),
	E(HCR_EL2, 0xe088),
	E(HPFAR_EL2, 0xe304),
	E(MAIR_EL2, 0xe510),
	E(MDCR_EL2, 0xe089),
	E(SCTLR_EL2, 0xe080),
	E(SPSR_EL2, 0xe200),
	E(SP_EL2, 0xf208),
	E(TCR_EL2, 0xe102),
	E(TPIDR_EL2, 0xe682),
	E(TTBR0_EL2, 0xe100),
	E(TTBR1_EL2, 0xe101),
	E(VBAR_EL2, 0xe600),
	E(VMPIDR_EL2, 0xe005),
	E(VPIDR_EL2, 0xe000),
	E(VTCR_EL2, 0xe10a),
	E(VTTBR_EL2, 0xe108),
	DBG(0), DBG(1), DBG(2), DBG(3), DBG(4), DBG(5), DBG(6), DBG(7),
	DBG(8), DBG(9), DBG(10), DBG(11), DBG(12), DBG(13), DBG(14), DBG(15),
};

int ha64_gpr_index(uint32_t hv_reg)
{
	return hv_reg < HA64_NGPR ? (int)hv_reg : -1;
}

int ha64_simd_index(uint32_t hv_simd_reg)
{
	return hv_simd_reg < HA64_NSIMD ? (int)(HA64_SIMD_BASE + hv_simd_reg) : -1;
}

int ha64_sys_index(uint32_t hv_sys_reg)
{
	/* The debug registers are the table's last 64 rows, in encoding
	 * order: DBG{B,W}{V,C}Rn_EL1 = 0x8004 + 8n + 0..3. */
	if (hv_sys_reg >= 0x8004 && hv_sys_reg <= 0x807f && (hv_sys_reg & 7u) >= 4u)
		return (int)(HA64_NREGS - 64u + ((hv_sys_reg - 0x8004u) >> 3) * 4u + (hv_sys_reg & 3u));
	for (unsigned i = HA64_SYS_BASE; i < HA64_NREGS - 64u; i++)
		if (ha64_regs[i].apple == hv_sys_reg)
			return (int)i;
	return -1;
}

bool ha64_check(struct ha64_state *st)
{
	if (st->op != HA64_OP_RUN && st->op != HA64_OP_SYNC)
		return false;
	st->ctl &= HA64_CTL_KNOWN;
	unsigned tail = HA64_NREGS % 64u;
	if (tail) {
		uint64_t keep = (1ull << tail) - 1u;
		st->want[HA64_WORDS - 1] &= keep;
		st->valid[HA64_WORDS - 1] &= keep;
		st->dirty[HA64_WORDS - 1] &= keep;
	}
	return true;
}
