/*
 * mmio: one access of each kind to unmapped IPAs based at x20 (the host
 * sets x20 = CF64_MMIO and x21 = 0x40), each a data-abort exit the host
 * completes (test_exits.c has the table of what each must report), then
 * HVC #0x24.
 */
#include "guest.inc"

GUEST_BEGIN mmio
LABEL mmio_strb
	strb w1, [x20]
LABEL mmio_strh
	strh w2, [x20, #2]
LABEL mmio_strw
	str w3, [x20, #4]
LABEL mmio_strx
	str x4, [x20, #8]
LABEL mmio_str_xzr
	str xzr, [x20, #16]
LABEL mmio_ldrb
	ldrb w5, [x20, #0x20]
LABEL mmio_ldrh
	ldrh w6, [x20, #0x22]
LABEL mmio_ldrw
	ldr w7, [x20, #0x24]
LABEL mmio_ldrx
	ldr x8, [x20, #0x28]
LABEL mmio_ldrsb
	ldrsb x9, [x20, #0x30]
LABEL mmio_ldrsw
	ldrsw x10, [x20, #0x34]
LABEL mmio_ldr_reg
	ldr x11, [x20, x21]
LABEL mmio_ldur
	ldur x12, [x20, #-8]
LABEL mmio_stlr
	stlr x13, [x20]
LABEL mmio_done
	REPORT 0x24
GUEST_END mmio

/*
 * load / store: one access at x20 (the host picks the address), then
 * HVC #0x12 / #0x13. load reads into x1, store writes x2.
 */
GUEST_BEGIN load
LABEL load_access
	ldr x1, [x20]
	REPORT 0x12
GUEST_END load

GUEST_BEGIN store
LABEL store_access
	str x2, [x20]
	REPORT 0x13
GUEST_END store

/* readwrite: x1 = [x20] + 1, stored to [x20, #8]; HVC #0x10. */
GUEST_BEGIN readwrite
	ldr x1, [x20]
	add x1, x1, #1
	str x1, [x20, #8]
	REPORT 0x10
GUEST_END readwrite

/* pair: a load pair at x20, an access the architecture gives no syndrome
 * for (ISV = 0); then HVC #0x25. */
GUEST_BEGIN pair
	ldp x1, x2, [x20]
	REPORT 0x25
GUEST_END pair
