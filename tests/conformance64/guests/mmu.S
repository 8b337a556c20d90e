/*
 * mmu_store: turns the MMU on with the tables test_exits.c wrote (TTBR0,
 * TCR, MAIR set by the host; the identity map keeps PC valid), stores x1
 * to x20 (device memory, unmapped IPA), then HVC #0x26.
 */
#include "guest.inc"

GUEST_BEGIN mmu_store
	mrs x2, sctlr_el1
	orr x2, x2, #1
	msr sctlr_el1, x2
	isb
LABEL mmu_store_access
	str x1, [x20]
	REPORT 0x26
GUEST_END mmu_store
