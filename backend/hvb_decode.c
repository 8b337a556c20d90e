/*
 * x86 instruction length and operand decoder (see hvb_decode.h).
 *
 * The decoder follows the Intel SDM Vol. 2 opcode maps (Appendix A) and
 * resolves every choice where Intel and AMD differ the Intel way, because
 * the clients of this backend were written against Intel VMX:
 *
 *  - In 64-bit mode near branches (Jcc, JMP, CALL, RET, LOOP, JrCXZ and
 *    FF /2, FF /4) always use a 64-bit operand size: a 66 prefix is ignored
 *    and the displacement stays 32 bits.
 *  - 3DNow! (0F 0F), XOP (8F with ModRM.reg != 0), VEX (C4/C5) and EVEX (62)
 *    are rejected with -EINVAL. Outside 64-bit mode C4, C5 and 62 are the
 *    legacy LES, LDS and BOUND when ModRM.mod != 3, and VEX/EVEX (or #UD)
 *    otherwise.
 *
 * Prefix rules:
 *
 *  - Any number of legacy prefixes in any order, as long as the whole
 *    instruction stays within HVB_INSN_MAX bytes.
 *  - REX (40-4F, 64-bit mode only) counts only when it is the last prefix
 *    before the opcode; a REX followed by another prefix is ignored, as the
 *    hardware does. It still counts towards the length.
 *  - When several segment overrides are present the last one wins, except
 *    that in 64-bit mode ES/CS/SS/DS overrides are ignored by the hardware
 *    and therefore never displace an FS or GS override.
 *  - When both F2 and F3 are present the last one wins (it is the one the
 *    processor uses both as REP and as a mandatory SSE prefix), so at most
 *    one of rep/repne is set.
 *  - REX.W takes precedence over 66.
 *
 * Reported values that the header leaves open:
 *
 *  - moffs (A0-A3) is reported as an immediate: imm_len is the address size
 *    (2, 4 or 8 bytes) and imm the zero-extended offset.
 *  - ENTER reports imm_len 3 and imm = the 16-bit frame size. Far pointers
 *    (9A, EA) report imm_len = offset size + 2 and imm = the offset. EXTRQ and
 *    INSERTQ (66/F2 0F 78) report imm_len 2 and imm = the first byte.
 *  - For MOV to/from control and debug registers (0F 20-23) the processor
 *    ignores ModRM.mod and always treats it as 3, so no SIB or displacement
 *    follows; these report has_modrm with the raw byte but no memory operand.
 *    Their opsize, and that of VMREAD/VMWRITE, is 8 in 64-bit mode and 4
 *    otherwise, since neither honours 66.
 *
 * Opcodes the 0F38 and 0F3A maps leave undefined are accepted (ModRM, plus
 * imm8 for 0F3A) rather than rejected: the maps are sparse and growing, and
 * the length is the same for every defined entry.
 */
#include "hvb_decode.h"

#include <errno.h>
#include <string.h>

/* Immediate kinds, in bits 8-11 of the opcode attributes. */
enum imm_kind {
	IMM_NONE = 0,
	IMM_B,      /* imm8 */
	IMM_W,      /* imm16 whatever the operand size (RET/RETF imm16) */
	IMM_Z,      /* 16 or 32 bits: 32 for both 32- and 64-bit operands */
	IMM_V,      /* operand size: 16, 32 or 64 bits (MOV r, imm) */
	IMM_WB,     /* ENTER: imm16 then imm8 */
	IMM_MOFFS,  /* moffs: address size */
	IMM_FAR,    /* ptr16:16 / ptr16:32: offset then selector */
	IMM_GRP3,   /* F6/F7: /0 and /1 (TEST) take ib/iz, the rest nothing */
	IMM_0F78,   /* 0F 78: EXTRQ/INSERTQ ib,ib with 66/F2, else VMREAD */
};

/* Opcode attributes. */
#define MR    0x0001u  /* a ModRM byte follows */
#define BY    0x0002u  /* byte operation: operand size 1 */
#define D64   0x0004u  /* 64-bit mode: operand size 64, or 16 with 66 */
#define F64   0x0008u  /* 64-bit mode: operand size 64, 66 ignored */
#define X64   0x0010u  /* invalid in 64-bit mode */
#define INV   0x0020u  /* invalid, or not decoded here, in every mode */
#define MEM   0x0040u  /* ModRM must address memory (mod != 3) */
#define IMM(k) ((uint16_t)((k) << 8))
#define IMM_KIND(f) ((enum imm_kind)(((f) >> 8) & 0xf))

#define IB IMM(IMM_B)
#define IW IMM(IMM_W)
#define IZ IMM(IMM_Z)
#define IV IMM(IMM_V)
#define ALU MR | BY, MR, MR | BY, MR, IB | BY, IZ /* 6 ALU forms of a row */

/*
 * One-byte map. Prefix bytes and the 0F escape never reach the table; they
 * are 0 here. 40-4F are INC/DEC outside 64-bit mode and REX inside it.
 */
static const uint16_t map_1byte[] = {
	/* 00 */ ALU, X64, X64, ALU, X64, 0,
	/* 10 */ ALU, X64, X64, ALU, X64, X64,
	/* 20 */ ALU, 0, X64, ALU, 0, X64,
	/* 30 */ ALU, 0, X64, ALU, 0, X64,
	/* 40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 50 */ D64, D64, D64, D64, D64, D64, D64, D64,
		 D64, D64, D64, D64, D64, D64, D64, D64,
	/* 60 */ X64, X64, MR | MEM | X64, MR, 0, 0, 0, 0,
		 IZ | D64, MR | IZ, IB | D64, MR | IB, BY, 0, BY, 0,
	/* 70 */ IB | F64, IB | F64, IB | F64, IB | F64,
		 IB | F64, IB | F64, IB | F64, IB | F64,
		 IB | F64, IB | F64, IB | F64, IB | F64,
		 IB | F64, IB | F64, IB | F64, IB | F64,
	/* 80 */ MR | IB | BY, MR | IZ, MR | IB | BY | X64, MR | IB,
		 MR | BY, MR, MR | BY, MR, MR | BY, MR, MR | BY, MR,
		 MR, MR | MEM, MR, MR | D64,
	/* 90 */ 0, 0, 0, 0, 0, 0, 0, 0,
		 0, 0, IMM(IMM_FAR) | X64, 0, D64, D64, 0, 0,
	/* A0 */ IMM(IMM_MOFFS) | BY, IMM(IMM_MOFFS), IMM(IMM_MOFFS) | BY,
		 IMM(IMM_MOFFS), BY, 0, BY, 0,
		 IB | BY, IZ, BY, 0, BY, 0, BY, 0,
	/* B0 */ IB | BY, IB | BY, IB | BY, IB | BY,
		 IB | BY, IB | BY, IB | BY, IB | BY,
		 IV, IV, IV, IV, IV, IV, IV, IV,
	/* C0 */ MR | IB | BY, MR | IB, IW | F64, F64,
		 MR | MEM | X64, MR | MEM | X64, MR | IB | BY, MR | IZ,
		 IMM(IMM_WB) | D64, D64, IW, 0, 0, IB, X64, 0,
	/* D0 */ MR | BY, MR, MR | BY, MR, IB | X64, IB | X64, X64, BY,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* E0 */ IB | F64, IB | F64, IB | F64, IB | F64,
		 IB | BY, IB, IB | BY, IB,
		 IZ | F64, IZ | F64, IMM(IMM_FAR) | X64, IB | F64,
		 BY, 0, BY, 0,
	/* F0 */ 0, 0, 0, 0, 0, 0, MR | BY | IMM(IMM_GRP3), MR | IMM(IMM_GRP3),
		 0, 0, 0, 0, 0, 0, MR | BY, MR,
};

/* Two-byte map (0F xx). 38 and 3A are escapes handled before the table. */
static const uint16_t map_0f[] = {
	/* 00 */ MR, MR, MR, MR, INV, 0, 0, 0,
		 0, 0, INV, 0, INV, MR, 0, INV,
	/* 10 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* 20 */ MR, MR, MR, MR, INV, INV, INV, INV,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* 30 */ 0, 0, 0, 0, 0, 0, INV, 0,
		 0, INV, 0, INV, INV, INV, INV, INV,
	/* 40 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* 50 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* 60 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* 70 */ MR | IB, MR | IB, MR | IB, MR | IB, MR, MR, MR, 0,
		 MR | IMM(IMM_0F78), MR, INV, INV, MR, MR, MR, MR,
	/* 80 */ IZ | F64, IZ | F64, IZ | F64, IZ | F64,
		 IZ | F64, IZ | F64, IZ | F64, IZ | F64,
		 IZ | F64, IZ | F64, IZ | F64, IZ | F64,
		 IZ | F64, IZ | F64, IZ | F64, IZ | F64,
	/* 90 */ MR | BY, MR | BY, MR | BY, MR | BY,
		 MR | BY, MR | BY, MR | BY, MR | BY,
		 MR | BY, MR | BY, MR | BY, MR | BY,
		 MR | BY, MR | BY, MR | BY, MR | BY,
	/* A0 */ D64, D64, 0, MR, MR | IB, MR, INV, INV,
		 D64, D64, 0, MR, MR | IB, MR, MR, MR,
	/* B0 */ MR | BY, MR, MR | MEM, MR, MR | MEM, MR | MEM, MR, MR,
		 MR, MR, MR | IB, MR, MR, MR, MR, MR,
	/* C0 */ MR | BY, MR, MR | IB, MR, MR | IB, MR | IB, MR | IB, MR,
		 0, 0, 0, 0, 0, 0, 0, 0,
	/* D0 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* E0 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
	/* F0 */ MR, MR, MR, MR, MR, MR, MR, MR,
		 MR, MR, MR, MR, MR, MR, MR, MR,
};

_Static_assert(sizeof(map_1byte) == 256 * sizeof(uint16_t), "one-byte map");
_Static_assert(sizeof(map_0f) == 256 * sizeof(uint16_t), "0F map");

#undef ALU
#undef IB
#undef IW
#undef IZ
#undef IV

/* Bytes of the instruction consumed so far, bounded by `avail` and by
 * HVB_INSN_MAX. */
struct cursor {
	const uint8_t *bytes;
	size_t avail;
	size_t pos;
};

/*
 * Read `n` bytes little-endian. Running past HVB_INSN_MAX is checked first:
 * such an instruction is invalid however many bytes the caller could supply,
 * whereas running past `avail` only means the caller must fetch more.
 */
static int fetch(struct cursor *c, size_t n, uint64_t *val)
{
	uint64_t v = 0;

	if (c->pos + n > HVB_INSN_MAX)
		return -EINVAL;
	if (c->pos + n > c->avail)
		return -EAGAIN;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->bytes[c->pos + i] << (8 * i);
	c->pos += n;
	*val = v;
	return 0;
}

static int fetch8(struct cursor *c, uint8_t *val)
{
	uint64_t v;
	int r = fetch(c, 1, &v);

	if (r == 0)
		*val = (uint8_t)v;
	return r;
}

static int64_t sign_extend(uint64_t v, unsigned bytes)
{
	switch (bytes) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	default: return (int64_t)v;
	}
}

static uint64_t truncate_to(uint64_t v, unsigned bytes)
{
	return bytes >= 8 ? v : v & ((UINT64_C(1) << (8 * bytes)) - 1);
}

/* Prefix state that the decoder needs but struct hvb_insn does not keep. */
struct prefixes {
	bool p66;
	bool p67;
};

static int parse_prefixes(struct cursor *c, enum hvb_cpu_mode mode,
			  struct hvb_insn *in, struct prefixes *pf,
			  uint8_t *opcode)
{
	for (;;) {
		uint8_t b;
		int r = fetch8(c, &b);

		if (r < 0)
			return r;
		switch (b) {
		case 0x66:
			pf->p66 = true;
			break;
		case 0x67:
			pf->p67 = true;
			break;
		case 0xf0:
			in->lock = true;
			break;
		case 0xf2:
			in->repne = true;
			in->rep = false;
			break;
		case 0xf3:
			in->rep = true;
			in->repne = false;
			break;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			if (mode != HVB_MODE_LONG64 ||
			    (in->seg != HVB_SEG_FS && in->seg != HVB_SEG_GS))
				in->seg = (uint8_t)((b >> 3) & 3);
			break;
		case 0x64:
			in->seg = HVB_SEG_FS;
			break;
		case 0x65:
			in->seg = HVB_SEG_GS;
			break;
		default:
			if (mode == HVB_MODE_LONG64 && (b & 0xf0) == 0x40) {
				in->rex = b;
				continue;
			}
			*opcode = b;
			return 0;
		}
		/* A legacy prefix after a REX makes the processor ignore it. */
		in->rex = 0;
	}
}

/* Operand size from the opcode attributes, prefixes and mode. */
static uint8_t operand_size(uint16_t attr, enum hvb_cpu_mode mode,
			    const struct hvb_insn *in, const struct prefixes *pf)
{
	bool rexw = in->rex & 0x08;

	if (attr & BY)
		return 1;
	if (mode == HVB_MODE_LONG64) {
		if (attr & F64)
			return 8;
		if (attr & D64)
			return pf->p66 && !rexw ? 2 : 8;
		if (rexw)
			return 8;
		return pf->p66 ? 2 : 4;
	}
	if (mode == HVB_MODE_PROT32)
		return pf->p66 ? 2 : 4;
	return pf->p66 ? 4 : 2;
}

static uint8_t address_size(enum hvb_cpu_mode mode, const struct prefixes *pf)
{
	switch (mode) {
	case HVB_MODE_LONG64:
		return pf->p67 ? 4 : 8;
	case HVB_MODE_PROT32:
		return pf->p67 ? 2 : 4;
	default:
		return pf->p67 ? 4 : 2;
	}
}

/* Reject the encodings that need ModRM to tell them apart from valid ones:
 * undefined group members, register forms of memory-only instructions and
 * the VEX/EVEX/XOP escapes that reuse legacy opcodes. */
static bool modrm_valid(const struct hvb_insn *in, uint16_t attr)
{
	unsigned mod = in->modrm >> 6, reg = (in->modrm >> 3) & 7;

	if ((attr & MEM) && mod == 3)
		return false;
	if (in->map != 0)
		return true;
	switch (in->opcode) {
	case 0x8f:  /* POP Ev; other reg values are XOP */
		return reg == 0;
	case 0xc6:  /* MOV Eb,Ib and XABORT (C6 F8 ib) */
	case 0xc7:  /* MOV Ev,Iz and XBEGIN (C7 F8 cz) */
		return reg == 0 || in->modrm == 0xf8;
	case 0xfe:  /* INC/DEC Eb */
		return reg < 2;
	case 0xff:  /* CALLF/JMPF need memory; /7 is undefined */
		if (reg == 7)
			return false;
		return !((reg == 3 || reg == 5) && mod == 3);
	default:
		return true;
	}
}

/* Attributes that depend on ModRM.reg or on a mandatory prefix. */
static uint16_t refine_attr(const struct hvb_insn *in, uint16_t attr)
{
	unsigned reg = (in->modrm >> 3) & 7;

	if (in->map == 0 && in->opcode == 0xff) {
		if (reg == 2 || reg == 4)
			attr |= F64;
		else if (reg == 6)
			attr |= D64;
	}
	return attr;
}

/* Operand sizes fixed by the instruction rather than by prefixes. */
static bool fixed_operand_size(const struct hvb_insn *in,
			       const struct prefixes *pf)
{
	if (in->map != 1)
		return false;
	/* MOV to/from CR and DR */
	if (in->opcode >= 0x20 && in->opcode <= 0x23)
		return true;
	/* VMREAD/VMWRITE, unless 66/F2 turn 0F 78/79 into EXTRQ/INSERTQ */
	return (in->opcode == 0x78 || in->opcode == 0x79) && !pf->p66 &&
	       !in->repne && !in->rep;
}

/* Sizes in bytes of the first and second immediate. */
static void immediate_sizes(uint16_t attr, const struct hvb_insn *in,
			    const struct prefixes *pf, unsigned *first,
			    unsigned *second)
{
	unsigned z = in->opsize == 2 ? 2 : 4;

	*first = 0;
	*second = 0;
	switch (IMM_KIND(attr)) {
	case IMM_NONE:
		break;
	case IMM_B:
		*first = 1;
		break;
	case IMM_W:
		*first = 2;
		break;
	case IMM_Z:
		*first = z;
		break;
	case IMM_V:
		*first = in->opsize;
		break;
	case IMM_WB:
		*first = 2;
		*second = 1;
		break;
	case IMM_MOFFS:
		*first = in->addrsize;
		break;
	case IMM_FAR:
		*first = z;
		*second = 2;
		break;
	case IMM_GRP3:
		if (((in->modrm >> 3) & 7) < 2)
			*first = in->opsize == 1 ? 1 : z;
		break;
	case IMM_0F78:
		if (pf->p66 || in->repne) {
			*first = 1;
			*second = 1;
		}
		break;
	}
}

/* SIB and displacement that follow ModRM. */
static int decode_modrm_tail(struct cursor *c, enum hvb_cpu_mode mode,
			     struct hvb_insn *in)
{
	unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
	uint64_t disp;
	int r;

	if (mod == 3)
		return 0;
	if (in->addrsize == 2) {
		if (mod == 1)
			in->disp_len = 1;
		else if (mod == 2 || rm == 6)
			in->disp_len = 2;
	} else {
		if (rm == 4) {
			r = fetch8(c, &in->sib);
			if (r < 0)
				return r;
			in->has_sib = true;
		}
		if (mod == 1) {
			in->disp_len = 1;
		} else if (mod == 2) {
			in->disp_len = 4;
		} else if (rm == 5) {
			in->disp_len = 4;
			in->rip_relative = mode == HVB_MODE_LONG64;
		} else if (rm == 4 && (in->sib & 7) == 5) {
			in->disp_len = 4;
		}
	}
	if (in->disp_len == 0)
		return 0;
	r = fetch(c, in->disp_len, &disp);
	if (r < 0)
		return r;
	in->disp = sign_extend(disp, in->disp_len);
	return 0;
}

int hvb_decode(const uint8_t *bytes, size_t avail, enum hvb_cpu_mode mode,
	       struct hvb_insn *out)
{
	struct cursor c = { .bytes = bytes, .avail = avail, .pos = 0 };
	struct prefixes pf = { false, false };
	struct hvb_insn in;
	unsigned imm1, imm2;
	uint16_t attr;
	uint64_t v;
	uint8_t b;
	int r;

	if ((unsigned)mode > HVB_MODE_LONG64)
		return -EINVAL;
	memset(&in, 0, sizeof(in));
	in.seg = HVB_SEG_NONE;

	r = parse_prefixes(&c, mode, &in, &pf, &b);
	if (r < 0)
		return r;
	if (b == 0x0f) {
		r = fetch8(&c, &b);
		if (r < 0)
			return r;
		if (b == 0x38 || b == 0x3a) {
			in.map = b == 0x38 ? 2 : 3;
			r = fetch8(&c, &b);
			if (r < 0)
				return r;
			attr = in.map == 2 ? MR : MR | IMM(IMM_B);
		} else {
			in.map = 1;
			attr = map_0f[b];
		}
	} else {
		in.map = 0;
		attr = map_1byte[b];
	}
	in.opcode = b;

	if ((attr & INV) || ((attr & X64) && mode == HVB_MODE_LONG64))
		return -EINVAL;

	in.addrsize = address_size(mode, &pf);
	if (attr & MR) {
		r = fetch8(&c, &in.modrm);
		if (r < 0)
			return r;
		in.has_modrm = true;
		if (!modrm_valid(&in, attr))
			return -EINVAL;
		attr = refine_attr(&in, attr);
	}

	if (fixed_operand_size(&in, &pf))
		in.opsize = mode == HVB_MODE_LONG64 ? 8 : 4;
	else
		in.opsize = operand_size(attr, mode, &in, &pf);

	/* MOV to/from CR/DR ignore mod: never a SIB or displacement. */
	if (in.has_modrm && !(in.map == 1 && (in.opcode & 0xfc) == 0x20)) {
		r = decode_modrm_tail(&c, mode, &in);
		if (r < 0)
			return r;
	}

	immediate_sizes(attr, &in, &pf, &imm1, &imm2);
	if (imm1) {
		r = fetch(&c, imm1, &v);
		if (r < 0)
			return r;
		in.imm = v;
	}
	if (imm2) {
		r = fetch(&c, imm2, &v);
		if (r < 0)
			return r;
	}
	in.imm_len = (uint8_t)(imm1 + imm2);
	in.len = (uint8_t)c.pos;
	in.prefix66 = pf.p66;
	*out = in;
	return 0;
}

/* String instructions with implicit memory operands, and which register
 * addresses the operand mem_ea reports: the destination (ES:rDI) for STOS,
 * MOVS, INS and SCAS, the source (seg:rSI) for LODS, OUTS and CMPS. */
enum str_operand { STR_NONE, STR_SRC, STR_DST };

static enum str_operand string_operand(const struct hvb_insn *in)
{
	if (in->map != 0)
		return STR_NONE;
	switch (in->opcode) {
	case 0x6c: case 0x6d:  /* INS */
	case 0xa4: case 0xa5:  /* MOVS */
	case 0xaa: case 0xab:  /* STOS */
	case 0xae: case 0xaf:  /* SCAS */
		return STR_DST;
	case 0x6e: case 0x6f:  /* OUTS */
	case 0xa6: case 0xa7:  /* CMPS */
	case 0xac: case 0xad:  /* LODS */
		return STR_SRC;
	default:
		return STR_NONE;
	}
}

static bool is_moffs(const struct hvb_insn *in)
{
	return in->map == 0 && in->opcode >= 0xa0 && in->opcode <= 0xa3;
}

/* ModRM that addresses memory; MOV CR/DR never do whatever mod says. */
static bool modrm_mem(const struct hvb_insn *in)
{
	if (!in->has_modrm || (in->modrm >> 6) == 3)
		return false;
	return !(in->map == 1 && (in->opcode & 0xfc) == 0x20);
}

bool hvb_insn_has_mem(const struct hvb_insn *insn)
{
	return modrm_mem(insn) || is_moffs(insn) ||
	       string_operand(insn) != STR_NONE;
}

/* Base and index of the 16-bit ModRM forms, by rm; -1 for none. */
static const int8_t modrm16_base[8] = {
	HVB_RBX, HVB_RBX, HVB_RBP, HVB_RBP, HVB_RSI, HVB_RDI, HVB_RBP, HVB_RBX,
};
static const int8_t modrm16_index[8] = {
	HVB_RSI, HVB_RDI, HVB_RSI, HVB_RDI, -1, -1, -1, -1,
};

/*
 * Base register of a 32/64-bit ModRM memory operand, or -1 when there is
 * none (disp32 only, or RIP-relative). REX.B extends the register number
 * but never changes which encodings are special: rm = 100 always means SIB,
 * and rm = 101 / SIB base = 101 with mod = 00 always mean "no base".
 */
static int modrm32_base(const struct hvb_insn *in)
{
	unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
	unsigned rexb = (in->rex & 1) << 3;

	if (in->has_sib) {
		if ((in->sib & 7) == 5 && mod == 0)
			return -1;
		return (int)((in->sib & 7) | rexb);
	}
	if (rm == 5 && mod == 0)
		return -1;
	return (int)(rm | rexb);
}

/* Index register of a SIB byte, or -1: index 100 means none unless REX.X
 * makes it R12. */
static int sib_index(const struct hvb_insn *in)
{
	unsigned index = ((in->sib >> 3) & 7) | ((in->rex & 2) << 2);

	if (!in->has_sib || index == HVB_RSP)
		return -1;
	return (int)index;
}

/*
 * The address is computed in 64 bits and truncated to the address size,
 * which is exactly the modular arithmetic the processor does: 16-bit
 * addressing wraps at 64 KiB (so [bx+si+disp] with a carry out of bit 15
 * wraps), 32-bit at 4 GiB, and RIP-relative with a 67 prefix uses EIP.
 *
 * String instructions report the current element (before the rSI/rDI
 * step): the destination ES:rDI for STOS, MOVS, INS and SCAS, the source
 * seg:rSI for LODS, OUTS and CMPS. MMIO writes arrive after KVM has already
 * stepped rSI/rDI, so a caller matching an MMIO write must pass the
 * registers as they were before the instruction.
 *
 * BTS/BTR/BTC/BT with a register bit offset and a memory operand access
 * EA + opsize * (offset div (8 * opsize)), not EA itself; this returns EA.
 */
int hvb_insn_mem_ea(const struct hvb_insn *insn, const uint64_t gpr[16],
		    uint64_t next_rip, uint64_t *ea)
{
	uint64_t addr;

	switch (string_operand(insn)) {
	case STR_DST:
		*ea = truncate_to(gpr[HVB_RDI], insn->addrsize);
		return 0;
	case STR_SRC:
		*ea = truncate_to(gpr[HVB_RSI], insn->addrsize);
		return 0;
	case STR_NONE:
		break;
	}
	if (is_moffs(insn)) {
		*ea = truncate_to(insn->imm, insn->addrsize);
		return 0;
	}
	if (!modrm_mem(insn))
		return -EINVAL;

	addr = (uint64_t)insn->disp;
	if (insn->addrsize == 2) {
		unsigned mod = insn->modrm >> 6, rm = insn->modrm & 7;

		if (!(mod == 0 && rm == 6))
			addr += gpr[modrm16_base[rm]];
		if (modrm16_index[rm] >= 0)
			addr += gpr[modrm16_index[rm]];
	} else if (insn->rip_relative) {
		addr += next_rip;
	} else {
		int base = modrm32_base(insn), index = sib_index(insn);

		if (base >= 0)
			addr += gpr[base];
		if (index >= 0)
			addr += gpr[index] << (insn->sib >> 6);
	}
	*ea = truncate_to(addr, insn->addrsize);
	return 0;
}

enum hvb_seg hvb_insn_mem_seg(const struct hvb_insn *insn)
{
	enum str_operand s = string_operand(insn);

	/* ES for string destinations cannot be overridden. */
	if (s == STR_DST)
		return HVB_SEG_ES;
	if (insn->seg != HVB_SEG_NONE)
		return (enum hvb_seg)insn->seg;
	if (s == STR_SRC || is_moffs(insn) || !modrm_mem(insn))
		return HVB_SEG_DS;
	if (insn->addrsize == 2) {
		unsigned mod = insn->modrm >> 6, rm = insn->modrm & 7;

		if (rm == 2 || rm == 3 || (rm == 6 && mod != 0))
			return HVB_SEG_SS;
		return HVB_SEG_DS;
	}
	if (insn->rip_relative)
		return HVB_SEG_DS;
	switch (modrm32_base(insn)) {
	case HVB_RSP:
	case HVB_RBP:
		return HVB_SEG_SS;
	default:
		return HVB_SEG_DS;
	}
}

bool hvb_insn_is_io(const struct hvb_insn *insn, struct hvb_io_insn *io)
{
	uint8_t op = insn->opcode;

	if (insn->map != 0)
		return false;
	if (!((op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef) ||
	      (op >= 0x6c && op <= 0x6f)))
		return false;
	memset(io, 0, sizeof(*io));
	/* Byte forms are the even opcodes; I/O has no 64-bit form, so REX.W
	 * still transfers 4 bytes. */
	io->size = !(op & 1) ? 1 : insn->opsize == 2 ? 2 : 4;
	if (op >= 0x6c && op <= 0x6f) {
		io->string = true;
		io->in = op <= 0x6d;
	} else {
		io->in = !(op & 2);
		io->imm_port = op <= 0xe7;
		if (io->imm_port)
			io->port_imm = (uint8_t)insn->imm;
	}
	return true;
}

/* Bytes written by the one-byte-map instructions that write memory. */
static unsigned write_size_1byte(const struct hvb_insn *in, bool mem)
{
	unsigned reg = (in->modrm >> 3) & 7;
	uint8_t op = in->opcode;

	switch (op) {
	case 0xa2: case 0xa3:  /* MOV moffs, rAX */
	case 0xa4: case 0xa5:  /* MOVS */
	case 0xaa: case 0xab:  /* STOS */
		return in->opsize;
	default:
		break;
	}
	if (!mem)
		return 0;
	/* ALU Eb,Gb / Ev,Gv, except CMP (38, 39), which only reads. */
	if (op < 0x38 && (op & 7) <= 1)
		return in->opsize;
	switch (op) {
	case 0x80: case 0x81: case 0x82: case 0x83:  /* group 1; /7 is CMP */
		return reg != 7 ? in->opsize : 0;
	case 0x86: case 0x87:  /* XCHG */
	case 0x88: case 0x89:  /* MOV Ev,Gv */
	case 0x8f:             /* POP Ev */
	case 0xc0: case 0xc1:  /* shifts and rotates */
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return in->opsize;
	case 0x8c:             /* MOV m16, Sreg stores 16 bits always */
		return 2;
	case 0xc6: case 0xc7:  /* MOV Ev,Iz */
		return reg == 0 ? in->opsize : 0;
	case 0xf6: case 0xf7:  /* NOT, NEG */
		return reg == 2 || reg == 3 ? in->opsize : 0;
	case 0xfe: case 0xff:  /* INC, DEC */
		return reg <= 1 ? in->opsize : 0;
	default:
		return 0;
	}
}

/* Bytes written by the 0F-map instructions that write memory (mod != 3).
 * For SSE forms the mandatory prefix selects the instruction: F2/F3 take
 * precedence over 66. */
static unsigned write_size_0f(const struct hvb_insn *in)
{
	unsigned reg = (in->modrm >> 3) & 7;
	bool rexw = in->rex & 0x08;
	bool none = !in->prefix66 && !in->rep && !in->repne;
	bool p66 = in->prefix66 && !in->rep && !in->repne;
	uint8_t op = in->opcode;

	if (op >= 0x90 && op <= 0x9f)  /* SETcc */
		return 1;
	switch (op) {
	case 0x11:  /* MOVUPS/MOVUPD, MOVSS (F3), MOVSD (F2) */
		return in->rep ? 4 : in->repne ? 8 : 16;
	case 0x13:  /* MOVLPS/MOVLPD m64 */
	case 0x17:  /* MOVHPS/MOVHPD m64 */
		return none || p66 ? 8 : 0;
	case 0x29:  /* MOVAPS/MOVAPD */
	case 0x2b:  /* MOVNTPS/MOVNTPD */
		return none || p66 ? 16 : 0;
	case 0x7e:  /* MOVD/MOVQ r/m, mm or xmm; F3 0F 7E is a load */
		return none || p66 ? (rexw ? 8 : 4) : 0;
	case 0x7f:  /* MOVQ m64, mm; MOVDQA (66); MOVDQU (F3) */
		return none ? 8 : p66 || in->rep ? 16 : 0;
	case 0xd6:  /* MOVQ m64, xmm (66 only) */
		return p66 ? 8 : 0;
	case 0xe7:  /* MOVNTQ m64, mm; MOVNTDQ (66) */
		return none ? 8 : p66 ? 16 : 0;
	case 0xa4: case 0xa5:  /* SHLD */
	case 0xac: case 0xad:  /* SHRD */
	case 0xab:             /* BTS */
	case 0xb3:             /* BTR */
	case 0xbb:             /* BTC */
	case 0xb0: case 0xb1:  /* CMPXCHG */
	case 0xc0: case 0xc1:  /* XADD */
	case 0xc3:             /* MOVNTI */
		return in->opsize;
	case 0xba:             /* BTS/BTR/BTC Ev, Ib; /4 is BT */
		return reg >= 5 ? in->opsize : 0;
	case 0xc7:             /* CMPXCHG8B / CMPXCHG16B */
		return reg == 1 ? (rexw ? 16 : 8) : 0;
	default:
		return 0;
	}
}

/*
 * Beyond the header's list this also reports the other plain stores a
 * driver may aim at MMIO: MOV m16,Sreg (8C), POP m (8F), SHLD/SHRD,
 * CMPXCHG8B/16B, MOVBE (0F38 F1), MOVLPS/MOVHPS (0F 13/17), MOVNTPS (0F 2B)
 * and MOVNTQ/MOVNTDQ (0F E7). Forms that only read their memory operand
 * (CMP, TEST, BT, the Gv,Ev ALU direction) are not writes. INS is left out:
 * its destination write follows an I/O exit, which is handled as I/O.
 * Sizes above 8 (SSE, CMPXCHG16B) exceed what one KVM MMIO exit carries
 * (mmio.len <= 8; KVM splits the access into 8-byte fragments), so a caller
 * matching an exit must allow for that.
 */
bool hvb_insn_mem_write(const struct hvb_insn *insn, unsigned *size)
{
	unsigned n = 0;

	if (insn->map == 0)
		n = write_size_1byte(insn, modrm_mem(insn));
	else if (insn->map == 1 && modrm_mem(insn))
		n = write_size_0f(insn);
	else if (insn->map == 2 && insn->opcode == 0xf1 && !insn->repne &&
		 modrm_mem(insn))
		n = insn->opsize;  /* MOVBE m, r (F2 0F38 F1 is CRC32) */
	if (n == 0)
		return false;
	*size = n;
	return true;
}
