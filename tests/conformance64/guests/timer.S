/*
 * Timer and time guests (test_timer.c, test_events.c).
 *
 * vtimer: programs the EL1 virtual timer to fire 16 ticks from now
 * (CNTV_CVAL_EL0 = CNTVCT_EL0 + 16, CNTV_CTL_EL0 = ENABLE) and spins.
 * vtimer_off: disables the virtual timer and reports HVC #0x31.
 * counter: reads CNTVCT_EL0 into x1, HVC #0x30.
 * spin: waits until the word at x20 is non-zero, then HVC #0x32.
 * busy: counts x1 down to zero, then HVC #0x33.
 */
#include "guest.inc"

GUEST_BEGIN vtimer
	mrs x1, cntvct_el0
	add x1, x1, #16
	msr cntv_cval_el0, x1
	mov x1, #1
	msr cntv_ctl_el0, x1
	isb
LABEL vtimer_loop
1:	b 1b
GUEST_END vtimer

GUEST_BEGIN vtimer_off
	msr cntv_ctl_el0, xzr
	isb
	REPORT 0x31
GUEST_END vtimer_off

GUEST_BEGIN counter
	isb
	mrs x1, cntvct_el0
	REPORT 0x30
GUEST_END counter

GUEST_BEGIN spin
LABEL spin_loop
1:	ldr x1, [x20]
	cbz x1, 1b
	REPORT 0x32
GUEST_END spin

GUEST_BEGIN busy
1:	subs x1, x1, #1
	b.ne 1b
	REPORT 0x33
GUEST_END busy

/*
 * wfi_timer: programs the virtual timer 16 ticks ahead and waits for
 * interrupt (DAIF masked: WFI still wakes on a pending interrupt), then
 * HVC #0x34.
 * wfi: waits for interrupt with nothing armed, then HVC #0x35.
 */
GUEST_BEGIN wfi_timer
	mrs x1, cntvct_el0
	add x1, x1, #16
	msr cntv_cval_el0, x1
	mov x1, #1
	msr cntv_ctl_el0, x1
	isb
LABEL wfi_timer_wfi
	wfi
	REPORT 0x34
GUEST_END wfi_timer

GUEST_BEGIN wfi
LABEL wfi_wfi
	wfi
	REPORT 0x35
GUEST_END wfi
