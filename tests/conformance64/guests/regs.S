/*
 * Register guests (test_regs.c).
 *
 * dump: stores what the host put in x0-x30, q0-q31, FPCR and FPSR to the
 * stack (SP_EL1, set by the host): x<n> at [sp, #8n], q<n> at
 * [sp, #256 + 16n], FPCR at [sp, #768], FPSR at [sp, #776]; then HVC #1.
 *
 * fill: loads x<n> = n << 32 | 0x5a5a0000 | n (w0 stays a forwarded HVC
 * function id), every byte of q<n> = 0x40 + n, FPCR = x19 and FPSR = x20
 * as the host set them before; then HVC #2 without touching x0.
 *
 * compute: x2 = x0 + x1, x3 = x0 * x1, d2 = d0 / d1 under the host's FPCR,
 * v3.2d = v0.2d + v1.2d; then HVC #3 (x0 is not cleared: the host sets a
 * forwarded function id in it).
 */
#include "guest.inc"

GUEST_BEGIN dump
	stp x0, x1, [sp, #0]
	stp x2, x3, [sp, #16]
	stp x4, x5, [sp, #32]
	stp x6, x7, [sp, #48]
	stp x8, x9, [sp, #64]
	stp x10, x11, [sp, #80]
	stp x12, x13, [sp, #96]
	stp x14, x15, [sp, #112]
	stp x16, x17, [sp, #128]
	stp x18, x19, [sp, #144]
	stp x20, x21, [sp, #160]
	stp x22, x23, [sp, #176]
	stp x24, x25, [sp, #192]
	stp x26, x27, [sp, #208]
	stp x28, x29, [sp, #224]
	str x30, [sp, #240]
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	str q\n, [sp, #256 + 16 * \n]
	.endr
	mrs x0, fpcr
	mrs x1, fpsr
	str x0, [sp, #768]
	str x1, [sp, #776]
	REPORT 1
GUEST_END dump

GUEST_BEGIN fill
	msr fpcr, x19
	msr fpsr, x20
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
	movz x\n, #\n, lsl #32
	movk x\n, #0x5a5a, lsl #16
	movk x\n, #\n
	.endr
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	movi v\n\().16b, #(0x40 + \n)
	.endr
	hvc #2
GUEST_END fill

GUEST_BEGIN compute
	add x2, x0, x1
	mul x3, x0, x1
	fdiv d2, d0, d1
	add v3.2d, v0.2d, v1.2d
	hvc #3
GUEST_END compute

/*
 * sysregs: reads TPIDR_EL1, VBAR_EL1, CONTEXTIDR_EL1 and SP_EL0 into
 * x1-x4 and SP (SP_EL1 at EL1h) into x8, writes x5 to TPIDR_EL0, x6 to
 * TPIDRRO_EL0 and x7 to ELR_EL1; then HVC #4 (x0 as the host set it).
 */
GUEST_BEGIN sysregs
	mrs x1, tpidr_el1
	mrs x2, vbar_el1
	mrs x3, contextidr_el1
	mrs x4, sp_el0
	msr tpidr_el0, x5
	msr tpidrro_el0, x6
	msr elr_el1, x7
	mov x8, sp
	hvc #4
GUEST_END sysregs

/* sp: the current SP into x8, then HVC #5. */
GUEST_BEGIN sp
	mov x8, sp
	REPORT 5
GUEST_END sp
