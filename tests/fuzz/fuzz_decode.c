/*
 * The backend's x86 instruction decoder (backend/hvb_decode.c). hvd reads
 * up to 15 bytes of guest code at (or just before) RIP on every port I/O
 * and MMIO exit and decodes them, in its own process, to build the VMX
 * exit information (backend/hvb_exit.c: decode_at, io_matches,
 * writes_at): the bytes are entirely guest-controlled.
 *
 * Input:
 *   byte 0    control: bits 0-1 the CPU mode (enum hvb_cpu_mode); bit 2:
 *             also run the operand helpers on an input-built struct
 *             hvb_insn, not only on decoded ones (as hvb_exit.c does with
 *             the zeroed or stale `insn` it keeps after a failed decode);
 *             bits 3-7 an out-of-range mode that must be refused
 *   byte 1    `avail`: how many instruction bytes the decoder is given
 *             (clipped to what the input has)
 *   then      `avail` instruction bytes, copied into a heap buffer of
 *             exactly that size so that ASan sees any read past `avail`
 *   then      a stream (zeros past the end): the 16 general-purpose
 *             registers and next_rip for hvb_insn_mem_ea, 8 bytes each,
 *             big-endian; then the fields of the built struct (bit 2).
 *
 * Every public entry point of hvb_decode.h runs: hvb_decode (on the bytes,
 * on every shorter prefix of them, with 15 bytes, with different bytes
 * after the instruction, and with an invalid mode), then on each decoded
 * instruction hvb_insn_has_mem, hvb_insn_mem_ea, hvb_insn_mem_seg,
 * hvb_insn_is_io and hvb_insn_mem_write. The checks are the decoder's
 * contract and its own invariants: results in {0, -EAGAIN, -EINVAL};
 * -EAGAIN only with fewer than 15 bytes; `out` written only on success; a
 * length of 1..min(avail, 15) that the reported fields add up to (prefix
 * bytes, escapes, opcode, ModRM, SIB, displacement and immediate found at
 * their places in the bytes); prefixes, operand and address sizes and the
 * effective address recomputed independently; the helpers agreeing with
 * each other and their sizes in range.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "hvb_decode.h"

#define NGPR 16

static bool is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
		return true;
	default:
		return false;
	}
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t trunc_to(uint64_t v, unsigned bytes)
{
	return bytes >= 8 ? v : v & ((UINT64_C(1) << (8 * bytes)) - 1);
}

static int64_t sext(uint64_t v, unsigned bytes)
{
	switch (bytes) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	default: return (int64_t)v;
	}
}

/* Field-by-field comparison (the struct has padding). */
static bool same_insn(const struct hvb_insn *a, const struct hvb_insn *b)
{
	return a->len == b->len && a->opsize == b->opsize &&
	       a->addrsize == b->addrsize && a->seg == b->seg &&
	       a->rep == b->rep && a->repne == b->repne && a->lock == b->lock &&
	       a->rex == b->rex && a->map == b->map && a->opcode == b->opcode &&
	       a->has_modrm == b->has_modrm && a->modrm == b->modrm &&
	       a->has_sib == b->has_sib && a->sib == b->sib &&
	       a->disp_len == b->disp_len && a->disp == b->disp &&
	       a->imm_len == b->imm_len && a->imm == b->imm &&
	       a->rip_relative == b->rip_relative && a->prefix66 == b->prefix66;
}

/* hvb_decode, checking that `out` is left alone when it fails. */
static int decode(const uint8_t *bytes, size_t avail, enum hvb_cpu_mode mode,
		  struct hvb_insn *out)
{
	uint8_t canary[sizeof(struct hvb_insn)];
	memset(canary, 0xa5, sizeof(canary));
	memcpy(out, canary, sizeof(*out));
	int r = hvb_decode(bytes, avail, mode, out);
	FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EINVAL);
	if (r < 0)
		FUZZ_CHECK(memcmp(out, canary, sizeof(*out)) == 0);
	return r;
}

/* The layout of a decoded instruction in its bytes, and what the prefixes
 * in front of it mean, worked out independently of the decoder. */
static void check_layout(const uint8_t *b, const struct hvb_insn *in,
			 enum hvb_cpu_mode mode)
{
	bool long64 = mode == HVB_MODE_LONG64;
	unsigned mod = in->modrm >> 6, rm = in->modrm & 7;

	FUZZ_CHECK(in->len >= 1 && in->len <= HVB_INSN_MAX);
	FUZZ_CHECK(in->map <= 3);
	FUZZ_CHECK(in->opsize == 1 || in->opsize == 2 || in->opsize == 4 ||
		   in->opsize == 8);
	FUZZ_CHECK(in->opsize != 8 || long64);
	FUZZ_CHECK(in->disp_len == 0 || in->disp_len == 1 || in->disp_len == 2 ||
		   in->disp_len == 4);
	FUZZ_CHECK(in->imm_len <= 8);
	FUZZ_CHECK(in->imm_len >= 8 || in->imm >> (8 * in->imm_len) == 0);
	FUZZ_CHECK(!(in->rep && in->repne));
	FUZZ_CHECK(in->seg <= HVB_SEG_GS || in->seg == HVB_SEG_NONE);
	FUZZ_CHECK(in->rex == 0 || (long64 && (in->rex & 0xf0) == 0x40));
	FUZZ_CHECK(in->has_modrm || (in->modrm == 0 && !in->has_sib &&
				     in->disp_len == 0 && !in->rip_relative));

	/* Prefixes, escapes, opcode, ModRM, SIB, displacement, immediate:
	 * nothing else, and each where the fields say. */
	unsigned tail = in->has_modrm + in->has_sib + in->disp_len + in->imm_len;
	unsigned esc = in->map == 0 ? 0 : in->map == 1 ? 1 : 2;
	FUZZ_CHECK(in->len >= tail + 1 + esc);
	unsigned op_at = in->len - tail - 1, np = op_at - esc;
	FUZZ_CHECK(b[op_at] == in->opcode);
	if (in->map >= 1)
		FUZZ_CHECK(b[np] == 0x0f);
	if (in->map == 1)
		FUZZ_CHECK(in->opcode != 0x38 && in->opcode != 0x3a);
	if (in->map >= 2)
		FUZZ_CHECK(b[np + 1] == (in->map == 2 ? 0x38 : 0x3a));
	if (in->map == 0) {
		FUZZ_CHECK(in->opcode != 0x0f && !is_legacy_prefix(in->opcode));
		FUZZ_CHECK(!long64 || (in->opcode & 0xf0) != 0x40);
	}

	/* The prefixes as the header's rules read them. */
	bool p66 = false, p67 = false, lock = false, rep = false, repne = false;
	uint8_t seg = HVB_SEG_NONE, rex = 0;
	for (unsigned i = 0; i < np; i++) {
		uint8_t p = b[i];
		if (long64 && (p & 0xf0) == 0x40) {
			rex = p;
			continue;
		}
		FUZZ_CHECK(is_legacy_prefix(p));
		rex = 0;
		switch (p) {
		case 0x66: p66 = true; break;
		case 0x67: p67 = true; break;
		case 0xf0: lock = true; break;
		case 0xf2: repne = true; rep = false; break;
		case 0xf3: rep = true; repne = false; break;
		case 0x64: seg = HVB_SEG_FS; break;
		case 0x65: seg = HVB_SEG_GS; break;
		default:
			if (!long64 || (seg != HVB_SEG_FS && seg != HVB_SEG_GS))
				seg = (p >> 3) & 3;
			break;
		}
	}
	FUZZ_CHECK(in->prefix66 == p66 && in->lock == lock && in->rep == rep &&
		   in->repne == repne && in->seg == seg && in->rex == rex);
	unsigned asz = long64 ? (p67 ? 4 : 8) :
		       mode == HVB_MODE_PROT32 ? (p67 ? 2 : 4) : (p67 ? 4 : 2);
	FUZZ_CHECK(in->addrsize == asz);

	const uint8_t *t = b + op_at + 1;
	if (in->has_modrm)
		FUZZ_CHECK(*t++ == in->modrm);

	/* SIB and displacement as ModRM and the address size call for them
	 * (MOV CR/DR ignore mod: never any). */
	bool crdr = in->map == 1 && (in->opcode & 0xfc) == 0x20;
	bool sib = false, rip = false;
	unsigned dl = 0;
	if (in->has_modrm && mod != 3 && !crdr) {
		if (asz == 2) {
			dl = mod == 1 ? 1 : (mod == 2 || rm == 6) ? 2 : 0;
		} else {
			sib = rm == 4;
			uint8_t base = sib ? t[0] & 7 : 0;
			dl = mod == 1 ? 1 : mod == 2 ? 4 :
			     (rm == 5 || (sib && base == 5)) ? 4 : 0;
			rip = long64 && mod == 0 && rm == 5;
		}
	}
	FUZZ_CHECK(in->has_sib == sib && in->disp_len == dl && in->rip_relative == rip);
	if (in->has_sib)
		FUZZ_CHECK(*t++ == in->sib);
	FUZZ_CHECK(in->disp == sext(le(t, in->disp_len), in->disp_len));
	t += in->disp_len;

	/* The first immediate: ENTER's imm16 (then imm8), a far pointer's
	 * offset (then the selector), EXTRQ/INSERTQ's first ib. */
	unsigned first = in->imm_len;
	if (in->map == 0 && in->opcode == 0xc8)
		first = 2;
	else if (in->map == 0 && (in->opcode == 0x9a || in->opcode == 0xea))
		first = in->imm_len - 2;
	else if (in->map == 1 && in->opcode == 0x78 && in->imm_len == 2)
		first = 1;
	FUZZ_CHECK(first <= in->imm_len);
	FUZZ_CHECK(in->imm == le(t, first));
	FUZZ_CHECK(t + in->imm_len == b + in->len);
}

/* The ModRM / moffs / string effective address, recomputed. */
static bool ref_mem_ea(const struct hvb_insn *in, const uint64_t *gpr,
		       uint64_t next_rip, uint64_t *ea)
{
	unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
	uint8_t op = in->opcode;

	if (in->map == 0 && ((op >= 0x6c && op <= 0x6f) || (op >= 0xa4 && op <= 0xa7) ||
			     (op >= 0xaa && op <= 0xaf))) {
		bool dst = op == 0x6c || op == 0x6d || op == 0xa4 || op == 0xa5 ||
			   op == 0xaa || op == 0xab || op == 0xae || op == 0xaf;
		*ea = trunc_to(gpr[dst ? HVB_RDI : HVB_RSI], in->addrsize);
		return true;
	}
	if (in->map == 0 && op >= 0xa0 && op <= 0xa3) {
		*ea = trunc_to(in->imm, in->addrsize);
		return true;
	}
	if (!in->has_modrm || mod == 3 || (in->map == 1 && (op & 0xfc) == 0x20))
		return false;
	uint64_t a = (uint64_t)in->disp;
	if (in->addrsize == 2) {
		static const int8_t base[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
		static const int8_t index[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };
		if (!(mod == 0 && rm == 6))
			a += gpr[base[rm]];
		if (index[rm] >= 0)
			a += gpr[index[rm]];
	} else if (in->rip_relative) {
		a += next_rip;
	} else if (in->has_sib) {
		unsigned b = in->sib & 7, x = (in->sib >> 3) & 7;
		if (!(b == 5 && mod == 0))
			a += gpr[b | (in->rex & 1) << 3];
		x |= (in->rex & 2) << 2;
		if (x != 4)
			a += gpr[x] << (in->sib >> 6);
	} else if (!(rm == 5 && mod == 0)) {
		a += gpr[rm | (in->rex & 1) << 3];
	}
	*ea = trunc_to(a, in->addrsize);
	return true;
}

/* The helpers on a decoded instruction. */
static void check_helpers(const struct hvb_insn *in, const uint64_t *gpr,
			  uint64_t next_rip)
{
	uint64_t ea = 0, want = 0;
	bool has = hvb_insn_has_mem(in);
	int r = hvb_insn_mem_ea(in, gpr, next_rip, &ea);

	FUZZ_CHECK(r == 0 || r == -EINVAL);
	FUZZ_CHECK((r == 0) == has);
	FUZZ_CHECK(ref_mem_ea(in, gpr, next_rip, &want) == has);
	if (has) {
		FUZZ_CHECK(ea == want);
		FUZZ_CHECK(in->addrsize == 8 || ea >> (8 * in->addrsize) == 0);
	}
	fuzz_use(ea);

	enum hvb_seg seg = hvb_insn_mem_seg(in);
	FUZZ_CHECK(seg <= HVB_SEG_GS);
	bool str_dst = in->map == 0 &&
		       (in->opcode == 0x6c || in->opcode == 0x6d || in->opcode == 0xa4 ||
			in->opcode == 0xa5 || in->opcode == 0xaa || in->opcode == 0xab ||
			in->opcode == 0xae || in->opcode == 0xaf);
	if (str_dst)
		FUZZ_CHECK(seg == HVB_SEG_ES);
	else if (in->seg != HVB_SEG_NONE)
		FUZZ_CHECK(seg == in->seg);
	else
		FUZZ_CHECK(seg == HVB_SEG_DS || seg == HVB_SEG_SS);

	struct hvb_io_insn io;
	uint8_t op = in->opcode;
	bool want_io = in->map == 0 && ((op >= 0xe4 && op <= 0xe7) ||
					(op >= 0xec && op <= 0xef) ||
					(op >= 0x6c && op <= 0x6f));
	bool is_io = hvb_insn_is_io(in, &io);
	FUZZ_CHECK(is_io == want_io);
	if (is_io) {
		FUZZ_CHECK(io.size == ((op & 1) ? (in->opsize == 2 ? 2 : 4) : 1));
		FUZZ_CHECK(io.string == (op <= 0x6f));
		FUZZ_CHECK(!io.string || has);
		FUZZ_CHECK(io.in == (io.string ? op <= 0x6d : !(op & 2)));
		FUZZ_CHECK(io.imm_port == (op <= 0xe7 && op >= 0xe4));
		if (io.imm_port)
			FUZZ_CHECK(in->imm_len == 1 && io.port_imm == in->imm);
		else
			FUZZ_CHECK(io.port_imm == 0);
		fuzz_use(io.port_imm);
	}

	unsigned size = 0;
	if (hvb_insn_mem_write(in, &size)) {
		FUZZ_CHECK(has);
		FUZZ_CHECK(size == 1 || size == 2 || size == 4 || size == 8 || size == 16);
		fuzz_use(size);
	}
}

/* The helpers on any struct hvb_insn: no crash, no UB, no read outside
 * gpr[16], and what holds whatever the fields are. */
static void check_helpers_raw(struct fuzz_in *s, const uint64_t *gpr, uint64_t next_rip)
{
	struct hvb_insn in;
	uint64_t ea = 0;
	unsigned size = 0;
	struct hvb_io_insn io;

	memset(&in, 0, sizeof(in));
	in.len = (uint8_t)fuzz_take(s, 1);
	in.opsize = (uint8_t)fuzz_take(s, 1);
	in.addrsize = (uint8_t)fuzz_take(s, 1);
	in.seg = (uint8_t)fuzz_take(s, 1);
	uint64_t flags = fuzz_take(s, 2);
	in.rep = flags & 1;
	in.repne = flags & 2;
	in.lock = flags & 4;
	in.has_modrm = flags & 8;
	in.has_sib = flags & 16;
	in.rip_relative = flags & 32;
	in.prefix66 = flags & 64;
	in.rex = (uint8_t)fuzz_take(s, 1);
	in.map = (uint8_t)fuzz_take(s, 1);
	in.opcode = (uint8_t)fuzz_take(s, 1);
	in.modrm = (uint8_t)fuzz_take(s, 1);
	in.sib = (uint8_t)fuzz_take(s, 1);
	in.disp_len = (uint8_t)fuzz_take(s, 1);
	in.disp = (int64_t)fuzz_take(s, 8);
	in.imm_len = (uint8_t)fuzz_take(s, 1);
	in.imm = fuzz_take(s, 8);

	bool has = hvb_insn_has_mem(&in);
	int r = hvb_insn_mem_ea(&in, gpr, next_rip, &ea);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	FUZZ_CHECK((r == 0) == has);
	if (r == 0)
		FUZZ_CHECK(in.addrsize >= 8 || ea >> (8 * in.addrsize) == 0);
	fuzz_use(ea);
	fuzz_use(hvb_insn_mem_seg(&in));
	if (hvb_insn_is_io(&in, &io))
		FUZZ_CHECK(io.size == 1 || io.size == 2 || io.size == 4);
	if (hvb_insn_mem_write(&in, &size))
		fuzz_use(size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t ctl = data[0];
	enum hvb_cpu_mode mode = (enum hvb_cpu_mode)(ctl & 3);
	size_t avail = data[1];
	if (avail > size - 2)
		avail = size - 2;

	/* Exactly `avail` bytes on the heap: ASan reports any read past them. */
	uint8_t *bytes = malloc(avail);
	FUZZ_CHECK(bytes != NULL || avail == 0);
	if (avail)
		memcpy(bytes, data + 2, avail);
	struct fuzz_in s = { data + 2 + avail, size - 2 - avail };
	uint64_t *gpr = malloc(NGPR * sizeof(*gpr));
	FUZZ_CHECK(gpr != NULL);
	for (int i = 0; i < NGPR; i++)
		gpr[i] = fuzz_take(&s, 8);
	uint64_t next_rip = fuzz_take(&s, 8);

	struct hvb_insn in, again;
	int r = decode(bytes, avail, mode, &in);
	FUZZ_CHECK(decode(bytes, avail, (enum hvb_cpu_mode)(4 + (ctl >> 3)), &again) ==
		   -EINVAL);
	FUZZ_CHECK(r != -EAGAIN || avail < HVB_INSN_MAX);

	/* Every shorter prefix of the bytes: the same decode once it holds
	 * the whole instruction, -EAGAIN before; a prefix of bytes that need
	 * more is still short; of invalid bytes, invalid or short. */
	for (size_t k = 0; k < avail && k <= HVB_INSN_MAX; k++) {
		uint8_t *p = malloc(k);
		FUZZ_CHECK(p != NULL || k == 0);
		if (k)
			memcpy(p, bytes, k);
		int rk = decode(p, k, mode, &again);
		if (r == 0 && k >= in.len)
			FUZZ_CHECK(rk == 0 && same_insn(&in, &again));
		else if (r == 0 || r == -EAGAIN)
			FUZZ_CHECK(rk == -EAGAIN);
		else
			FUZZ_CHECK(rk == -EINVAL || rk == -EAGAIN);
		free(p);
	}

	/* More bytes than 15 never matter, nor bytes after the instruction. */
	uint8_t wide[2 * HVB_INSN_MAX];
	size_t w = avail < sizeof(wide) ? avail : sizeof(wide);
	for (int fill = 0; fill < 2; fill++) {
		memset(wide, fill ? 0xff : 0x00, sizeof(wide));
		if (w)
			memcpy(wide, bytes, r == 0 ? in.len : w);
		int rw = decode(wide, sizeof(wide), mode, &again);
		if (r == 0)
			FUZZ_CHECK(rw == 0 && same_insn(&in, &again));
		else if (r == -EINVAL || avail >= HVB_INSN_MAX)
			FUZZ_CHECK(rw == r);
		else
			FUZZ_CHECK(rw != -EAGAIN);
	}

	if (r == 0) {
		FUZZ_CHECK(in.len <= avail);
		check_layout(bytes, &in, mode);
		check_helpers(&in, gpr, next_rip);
	}
	if (ctl & 4)
		check_helpers_raw(&s, gpr, next_rip);

	free(gpr);
	free(bytes);
	return 0;
}
