/* The guest's stage-1 translation (ha64_walk.h), after the Arm ARM's
 * VMSAv8-64 translation table walk (D8.2). */
#include <stdbool.h>

#include "ha64_walk.h"

#define OA_MASK 0x0000fffffffff000ull  /* output address bits 47:12 */

/* TCR_EL1 fields of one half (TTBR0: shift 0; TTBR1: 16). */
static unsigned txsz(uint64_t tcr, bool hi)
{
	return (unsigned)(tcr >> (hi ? 16 : 0)) & 0x3fu;
}

/* The granule's log2 size, or 0 for a reserved encoding. */
static unsigned granule(uint64_t tcr, bool hi)
{
	unsigned tg = (unsigned)(tcr >> (hi ? 30 : 14)) & 3u;
	if (hi)
		return tg == 2 ? 12 : tg == 1 ? 14 : tg == 3 ? 16 : 0;
	return tg == 0 ? 12 : tg == 2 ? 14 : tg == 1 ? 16 : 0;
}

int ha64_translate(const struct ha64_mmu *m, uint64_t va, ha64_read64_fn read, void *ctx,
		   uint64_t *ipa)
{
	if (!(m->sctlr & 1u)) {
		*ipa = va;
		return 0;
	}
	bool hi = (va >> 55) & 1u;
	if ((m->tcr >> (hi ? 23 : 7)) & 1u) /* EPD1 / EPD0: walks disabled */
		return -1;
	unsigned t = txsz(m->tcr, hi), g = granule(m->tcr, hi);
	unsigned inbits = 64u - t;
	if (!g || inbits < 16 || inbits > 48 || inbits <= g)
		return -1;
	/* The bits above the input size must all be bit 55's. */
	uint64_t top = va >> inbits, want = hi ? (~0ull >> inbits) : 0;
	if (top != want)
		return -1;
	unsigned stride = g - 3u;
	unsigned levels = (inbits - g + stride - 1u) / stride;
	uint64_t gmask = (1ull << g) - 1u;
	/* BADDR: the ASID above and CnP (bit 0) below left out. */
	uint64_t table = (hi ? m->ttbr1 : m->ttbr0) & 0x0000fffffffffffeull;
	for (unsigned level = 4u - levels; level < 4u; level++) {
		unsigned shift = g + (3u - level) * stride;
		unsigned width = level == 4u - levels ? inbits - shift : stride;
		uint64_t index = (va >> shift) & ((1ull << width) - 1u);
		uint64_t desc;
		if (read(ctx, table + index * 8u, &desc) < 0 || !(desc & 1u))
			return -1;
		uint64_t out_mask = OA_MASK & ~((1ull << shift) - 1u);
		if (level == 3u) {
			if (!(desc & 2u))
				return -1; /* reserved at level 3 */
			*ipa = (desc & out_mask) | (va & ((1ull << shift) - 1u));
			return 0;
		}
		if (!(desc & 2u)) {
			/* A block: not at level 0 (nor level 1 with 16K/64K). */
			if (level == 0u || (level == 1u && g != 12))
				return -1;
			*ipa = (desc & out_mask) | (va & ((1ull << shift) - 1u));
			return 0;
		}
		table = desc & OA_MASK & ~gmask;
	}
	return -1;
}
