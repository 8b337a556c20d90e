/*
 * A64 load/store and HVC/SMC decoding for syndromes KVM does not give
 * (ha64_decode.h). Encodings: Arm ARM C4.1 "Loads and Stores"; the ISS
 * fields: D13.2.40 (ESR_EL2, data abort).
 */
#include "ha64_decode.h"

static uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
	return (v >> lo) & ((1u << (hi - lo + 1u)) - 1u);
}

static int64_t sext(uint64_t v, unsigned width)
{
	uint64_t m = 1ull << (width - 1u);
	return (int64_t)((v ^ m) - m);
}

/* size/opc of the "load/store register" classes into the syndrome's view;
 * false for PRFM and the unallocated combinations. */
static bool size_opc(uint32_t size, uint32_t opc, struct ha64_ldst *d)
{
	d->sas = (uint8_t)size;
	switch (opc) {
	case 0: /* STRx */
		d->write = true;
		d->sf = size == 3;
		return true;
	case 1: /* LDRx, zero-extending */
		d->sf = size == 3;
		return true;
	case 2: /* LDRSx to a X register; size 3 is PRFM */
		if (size == 3)
			return false;
		d->sse = true;
		d->sf = true;
		return true;
	default: /* LDRSx to a W register: bytes and halfwords only */
		if (size >= 2)
			return false;
		d->sse = true;
		return true;
	}
}

bool ha64_decode_ldst(uint32_t insn, struct ha64_ldst *out)
{
	struct ha64_ldst d = { .rm = -1 };
	uint32_t size = bits(insn, 31, 30);

	d.srt = (uint8_t)bits(insn, 4, 0);
	d.rn = (uint8_t)bits(insn, 9, 5);
	if ((insn & 0x3f000000u) == 0x08000000u) {
		/* Load/store ordered: LDAR, STLR, LDLAR, STLLR (o2 = 1, o1 = 0).
		 * Exclusives (o2 = 0) and compare-and-swap report no syndrome. */
		if (!bits(insn, 23, 23) || bits(insn, 21, 21))
			return false;
		d.sas = (uint8_t)size;
		d.write = !bits(insn, 22, 22);
		d.sf = size == 3;
		d.ar = true;
		*out = d;
		return true;
	}
	/* The register classes: bits 29:27 = 111, V (bit 26) = 0 (SIMD&FP
	 * accesses have no syndrome). */
	if (bits(insn, 29, 27) != 7 || bits(insn, 26, 26))
		return false;
	if (!size_opc(size, bits(insn, 23, 22), &d))
		return false;
	if (bits(insn, 25, 24) == 1) {
		/* Unsigned offset, scaled by the access size. */
		d.imm = (int64_t)((uint64_t)bits(insn, 21, 10) << size);
	} else if (bits(insn, 25, 24) != 0) {
		return false;
	} else if (!bits(insn, 21, 21)) {
		/* imm9: 00 unscaled (LDUR), 10 unprivileged (LDTR); 01 and 11
		 * write the base back: no syndrome. */
		uint32_t idx = bits(insn, 11, 10);
		if (idx == 1 || idx == 3)
			return false;
		d.imm = sext(bits(insn, 20, 12), 9);
	} else if (bits(insn, 11, 10) == 2) {
		/* Register offset: option 2, 3, 6, 7; S shifts by the size. */
		uint32_t option = bits(insn, 15, 13);
		if (!(option & 2u))
			return false;
		d.rm = (int8_t)bits(insn, 20, 16);
		d.extend = (uint8_t)option;
		d.shift = bits(insn, 12, 12) ? (uint8_t)size : 0;
	} else {
		return false; /* atomics, PAC loads */
	}
	*out = d;
	return true;
}

uint64_t ha64_ldst_va(const struct ha64_ldst *d, uint64_t base, uint64_t index)
{
	if (d->rm < 0)
		return base + (uint64_t)d->imm;
	uint64_t off;
	switch (d->extend) {
	case 2: off = (uint32_t)index; break;                      /* UXTW */
	case 6: off = (uint64_t)(int64_t)(int32_t)index; break;    /* SXTW */
	default: off = index; break;                               /* LSL/UXTX, SXTX */
	}
	return base + (off << d->shift);
}

#define ESR_EC_SHIFT 26
#define ESR_IL (1ull << 25)

uint64_t ha64_data_abort_esr(const struct ha64_ldst *d, bool write, unsigned dfsc)
{
	uint64_t esr = (0x24ull << ESR_EC_SHIFT) | ESR_IL | (dfsc & 0x3fu);
	if (!d)
		return esr | (write ? 1ull << 6 : 0);
	esr |= 1ull << 24; /* ISV */
	esr |= (uint64_t)(d->sas & 3u) << 22;
	esr |= (uint64_t)d->sse << 21;
	esr |= (uint64_t)(d->srt & 31u) << 16;
	esr |= (uint64_t)d->sf << 15;
	esr |= (uint64_t)d->ar << 14;
	esr |= (uint64_t)d->write << 6;
	return esr;
}

bool ha64_decode_hvc_smc(uint32_t insn, uint16_t *imm, bool *smc)
{
	/* HVC #imm: d4000002 | imm << 5; SMC #imm: d4000003 | imm << 5. */
	if ((insn & 0xffe0001eu) != 0xd4000002u)
		return false;
	*imm = (uint16_t)bits(insn, 20, 5);
	*smc = insn & 1u;
	return true;
}

uint64_t ha64_hvc_smc_esr(bool smc, uint16_t imm)
{
	return ((smc ? 0x17ull : 0x16ull) << ESR_EC_SHIFT) | ESR_IL | imm;
}
