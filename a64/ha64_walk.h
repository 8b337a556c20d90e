/*
 * The guest's stage-1 translation (EL1&0 regime), for the one thing the
 * backend reads through it: the instruction at PC when KVM reports an MMIO
 * access without its syndrome (a guest with its MMU on runs at virtual
 * addresses, and the instruction must be fetched to rebuild ESR).
 *
 * VMSAv8-64 with 4K, 16K and 64K granules, any TxSZ, 48-bit output
 * addresses (no LPA/LPA2), TTBR0 or TTBR1 by bit 55, EPDx honoured, table
 * and block descriptors; little-endian tables (SCTLR_EL1.EE = 0). Access
 * permissions are not checked: the guest has executed the instruction.
 * Pure: tables are read through `read`, unit-tested on any host.
 */
#ifndef HA64_WALK_H
#define HA64_WALK_H

#include <stdint.h>

/* The registers that decide the translation. */
struct ha64_mmu {
	uint64_t sctlr, tcr, ttbr0, ttbr1;
};

/* The 8 bytes at guest-physical `ipa`, or -1 when they are not guest
 * memory (the walk then fails). */
typedef int (*ha64_read64_fn)(void *ctx, uint64_t ipa, uint64_t *out);

/* `va`'s IPA: 0, or -1 for a translation fault (or a table outside guest
 * memory). With the MMU off, the IPA is the address. */
int ha64_translate(const struct ha64_mmu *m, uint64_t va, ha64_read64_fn read, void *ctx,
		   uint64_t *ipa);

#endif
