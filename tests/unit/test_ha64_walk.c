/*
 * The guest's stage-1 walk (a64/ha64_walk.c) over tables built here, in a
 * flat "guest memory" buffer: the 4K granule with 48-bit and 39-bit inputs
 * (4 and 3 levels), 64K with 42 bits (2 levels), 16K with 47 bits, blocks
 * and pages, TTBR1 for the upper half, and the faults (an invalid entry, a
 * disabled half, a non-canonical address, a table outside guest memory).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "ha64_walk.h"

#define MEM (1u << 22)
static uint64_t mem[MEM / 8];

static int rd(void *ctx, uint64_t ipa, uint64_t *out)
{
	(void)ctx;
	if (ipa % 8 || ipa >= MEM)
		return -1;
	*out = mem[ipa / 8];
	return 0;
}

static void put(uint64_t table, unsigned index, uint64_t desc)
{
	mem[table / 8 + index] = desc;
}

#define TABLE(next) ((next) | 3u)
#define PAGE(oa) ((oa) | 0x403u)  /* AF, page/table bit, valid */
#define BLOCK(oa) ((oa) | 0x401u) /* AF, block, valid */

static uint64_t tr(const struct ha64_mmu *m, uint64_t va)
{
	uint64_t ipa = 0xdeadbeef;
	cr_assert_eq(ha64_translate(m, va, rd, NULL, &ipa), 0, "%#llx did not translate",
		     (unsigned long long)va);
	return ipa;
}

static bool faults(const struct ha64_mmu *m, uint64_t va)
{
	uint64_t ipa;
	return ha64_translate(m, va, rd, NULL, &ipa) < 0;
}

Test(walk, mmu_off_is_identity)
{
	struct ha64_mmu m = { 0 };
	cr_assert_eq(tr(&m, 0x123456789ull), 0x123456789ull);
}

Test(walk, granule_4k_48_bits_four_levels)
{
	memset(mem, 0, sizeof(mem));
	/* T0SZ 16, TG0 4K; T1 disabled (EPD1). */
	struct ha64_mmu m = { .sctlr = 1, .tcr = 16 | (1ull << 23), .ttbr0 = 0x1000 };
	uint64_t va = 0x0000123456789abcull;
	unsigned i0 = (va >> 39) & 511, i1 = (va >> 30) & 511, i2 = (va >> 21) & 511, i3 = (va >> 12) & 511;
	put(0x1000, i0, TABLE(0x2000));
	put(0x2000, i1, TABLE(0x3000));
	put(0x3000, i2, TABLE(0x4000));
	put(0x4000, i3, PAGE(0x300000));
	cr_assert_eq(tr(&m, va), 0x300000 | (va & 0xfff));
	/* The neighbouring page has no entry. */
	cr_assert(faults(&m, va + 0x1000));
	/* A 2 MiB block at level 2. */
	put(0x3000, i2 + 1, BLOCK(0x200000));
	cr_assert_eq(tr(&m, va + 0x200000), 0x200000 | ((va + 0x200000) & 0x1fffff));
	/* Upper half: disabled. Non-canonical: refused. */
	cr_assert(faults(&m, 0xffff000000001000ull));
	cr_assert(faults(&m, 0x0001000000000000ull));
}

Test(walk, granule_4k_39_bits_three_levels_and_ttbr1)
{
	memset(mem, 0, sizeof(mem));
	/* T0SZ 25 and T1SZ 25, TG0 4K, TG1 4K (0b10). */
	struct ha64_mmu m = { .sctlr = 1, .tcr = 25 | (25ull << 16) | (2ull << 30),
			      .ttbr0 = 0x1000 | (5ull << 48) /* an ASID */, .ttbr1 = 0x8000 };
	put(0x1000, 1, BLOCK(0x0)); /* VA 1 GiB.. -> IPA 0 (a 1 GiB block) */
	cr_assert_eq(tr(&m, 0x40010000ull), 0x10000);
	cr_assert(faults(&m, 0x10000)); /* entry 0 invalid */
	/* TTBR1: VA 0xffffff8000000000 is its first byte. */
	put(0x8000, 0, TABLE(0x9000));
	put(0x9000, 0, TABLE(0xa000));
	put(0xa000, 3, PAGE(0x7000));
	cr_assert_eq(tr(&m, 0xffffff8000003123ull), 0x7123);
	/* Above T1SZ's range but with bit 55 set: not canonical. */
	cr_assert(faults(&m, 0xff00008000003123ull));
}

Test(walk, granule_64k_42_bits_two_levels)
{
	memset(mem, 0, sizeof(mem));
	/* T0SZ 22, TG0 64K (0b01). */
	struct ha64_mmu m = { .sctlr = 1, .tcr = 22 | (1ull << 14) | (1ull << 23), .ttbr0 = 0x10000 };
	uint64_t va = 0x000002abcdef1234ull & ((1ull << 42) - 1);
	unsigned i2 = (va >> 29) & 0x1fff, i3 = (va >> 16) & 0x1fff;
	put(0x10000, i2, TABLE(0x20000));
	put(0x20000, i3, PAGE(0x350000));
	cr_assert_eq(tr(&m, va), 0x350000 | (va & 0xffff));
	/* A 512 MiB block at level 2. */
	put(0x10000, i2 ^ 1, BLOCK(0x20000000));
	uint64_t vb = (va & ~((1ull << 30) - 1)) | ((uint64_t)(i2 ^ 1) << 29) | 0x1234;
	cr_assert_eq(tr(&m, vb), 0x20000000 | 0x1234);
}

Test(walk, granule_16k_47_bits)
{
	memset(mem, 0, sizeof(mem));
	/* T0SZ 17, TG0 16K (0b10): levels 1..3, 11 bits each (level 1: 47-36 = 11). */
	struct ha64_mmu m = { .sctlr = 1, .tcr = 17 | (2ull << 14) | (1ull << 23), .ttbr0 = 0x4000 };
	uint64_t va = 0x00004567890a4321ull & ((1ull << 47) - 1);
	unsigned i1 = (va >> 36) & 0x7ff, i2 = (va >> 25) & 0x7ff, i3 = (va >> 14) & 0x7ff;
	put(0x4000, i1, TABLE(0x8000));
	put(0x8000, i2, TABLE(0xc000));
	put(0xc000, i3, PAGE(0x3fc000));
	cr_assert_eq(tr(&m, va), 0x3fc000 | (va & 0x3fff));
	/* 16K: no block at level 1. */
	put(0x4000, i1, BLOCK(0x0));
	cr_assert(faults(&m, va));
}

Test(walk, tables_outside_guest_memory_fault)
{
	memset(mem, 0, sizeof(mem));
	struct ha64_mmu m = { .sctlr = 1, .tcr = 25 | (1ull << 23), .ttbr0 = 0x1000 };
	put(0x1000, 0, TABLE(0x40000000)); /* beyond MEM */
	cr_assert(faults(&m, 0x1000));
	m.ttbr0 = 0x7ffffff000ull;          /* the root itself beyond */
	cr_assert(faults(&m, 0x1000));
	m.tcr = 25 | (3ull << 14);          /* TG0 0b11: reserved */
	cr_assert(faults(&m, 0x1000));
}
