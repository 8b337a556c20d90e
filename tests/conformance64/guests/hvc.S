/*
 * HVC and SMC guests (test_exits.c).
 *
 * hvc: HVC #0, #0x42 and #0xffff, SMC #0, then HVC #1 (x0 = 0 throughout).
 * hvc_arch: HVC #0 with x0 = 0x80000000 (SMCCC_VERSION, an Arm
 * architecture call KVM answers itself), then HVC #2 with the answer in x1.
 * smc_imm: SMC #5 (KVM does not forward an SMC with an immediate), then
 * HVC #3 with x0 as the SMC left it in x1.
 */
#include "guest.inc"

GUEST_BEGIN hvc
	mov x0, #0
LABEL hvc_0
	hvc #0
LABEL hvc_42
	hvc #0x42
LABEL hvc_ffff
	hvc #0xffff
LABEL hvc_smc
	smc #0
LABEL hvc_last
	hvc #1
GUEST_END hvc

GUEST_BEGIN hvc_arch
	mov x0, #0x80000000
	hvc #0
	mov x1, x0
	REPORT 2
GUEST_END hvc_arch

GUEST_BEGIN smc_imm
	mov x0, #0
	smc #5
	mov x1, x0
	REPORT 3
GUEST_END smc_imm
