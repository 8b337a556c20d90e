/*
 * vectors: an EL1 vector table at the start of the guest (VBAR_EL1 =
 * CF64_RAM) whose every entry reports the exception to the host with
 * HVC #0xe0: x19 = the entry's offset (0x200 synchronous, 0x280 IRQ,
 * 0x300 FIQ, 0x380 SError for the current EL with SP_ELx), x1 = ESR_EL1,
 * x2 = FAR_EL1, x3 = ELR_EL1, x4 = SPSR_EL1. After the table, entry
 * points (test_events.c, test_exits.c):
 *
 * vectors_irq: sets VBAR_EL1 itself, unmasks IRQ and FIQ, and reports
 * HVC #0x99 if no interrupt came.
 * vectors_brk: BRK #0x77, then HVC #0x98 if the BRK did not stop it.
 */
#include "guest.inc"

.macro ENTRY offset
	.balign 0x80
	mov x19, #\offset
	b vectors_report
.endm

GUEST_BEGIN vectors
vectors_base:
	.irp off, 0x000, 0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, 0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780
	ENTRY \off
	.endr
	.balign 0x80
vectors_report:
	mrs x1, esr_el1
	mrs x2, far_el1
	mrs x3, elr_el1
	mrs x4, spsr_el1
	REPORT 0xe0

LABEL vectors_irq
	adr x5, vectors_base
	msr vbar_el1, x5
	isb
	msr daifclr, #3
	isb
LABEL vectors_irq_unmasked
	nop
	REPORT 0x99

LABEL vectors_brk
	brk #0x77
	REPORT 0x98
GUEST_END vectors
