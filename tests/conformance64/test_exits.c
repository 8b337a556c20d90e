/*
 * test_exits.c: the exception exits a guest makes (HVC, SMC, data aborts,
 * instruction aborts, debug exceptions), their syndromes, and who moves PC.
 */
#include <string.h>

#include "harness.h"

/* HVC #imm exits with EC 0x16, IL and the immediate, PC already after the
 * HVC (QEMU and libkrun do not advance it); no FAR or IPA. */
Test(exits, hvc_reports_its_immediate)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc));
	cf64_expect_hvc(&vm, 0);
	cr_assert_eq(vm.exit->exception.syndrome, 0x5a000000u);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(hvc, hvc_0) + 4, "PC after HVC #0");
	cf64_expect_hvc(&vm, 0x42);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(hvc, hvc_42) + 4);
	cf64_expect_hvc(&vm, 0xffff);
	cr_assert_eq(vm.exit->exception.syndrome, 0x5a00ffffu);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(hvc, hvc_ffff) + 4);
	cf64_destroy(&vm);
}

/* SMC #0 exits with EC 0x17 and PC on the SMC: the client steps over it
 * (QEMU's advance_pc), as on macOS; the backend moves KVM's PC back. */
Test(exits, smc_leaves_pc_on_the_smc)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc));
	cf64_wreg(&vm, HV_REG_PC, GUEST_AT(hvc, hvc_smc));
	cf64_expect_exception(&vm, CF64_ESR_SMC(0));
	cr_assert_eq(vm.exit->exception.syndrome, 0x5e000000u);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(hvc, hvc_smc), "PC on the SMC");
	cf64_skip(&vm);
	cf64_expect_hvc(&vm, 1);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(hvc, hvc_last) + 4);
	cf64_destroy(&vm);
}

/* PSCI (function ids 0x84000000-) reaches the client, which implements
 * it, as QEMU's hvf and libkrun do on macOS. */
Test(exits, psci_calls_reach_the_client)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc));
	cf64_wreg(&vm, HV_REG_PC, GUEST_AT(hvc, hvc_0));
	cf64_wreg(&vm, HV_REG_X0, 0x84000000u); /* PSCI_VERSION */
	cf64_expect_hvc(&vm, 0);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X0), 0x84000000u, "the function id in x0");
	cf64_destroy(&vm);
}

/* Difference (docs/arm64.md): KVM answers the Arm architecture calls
 * itself, so HVC with x0 = SMCCC_VERSION (0x80000000) never exits; the
 * guest gets KVM's answer (SMCCC 1.1, 0x10001) and goes on. On macOS every
 * HVC exits. */
Test(exits, arm_architecture_calls_do_not_exit)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc_arch));
	cf64_expect_hvc(&vm, 2);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X1), 0x10001u, "SMCCC_VERSION as KVM answers it: %#llx",
	    (unsigned long long)cf64_rreg(&vm, HV_REG_X1));
	cf64_destroy(&vm);
}

/* Difference (docs/arm64.md): KVM does not forward an SMC with an
 * immediate; it steps over it and returns SMCCC's NOT_SUPPORTED (-1) in
 * x0. On macOS SMC #5 exits. */
Test(exits, smc_with_an_immediate_does_not_exit)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(smc_imm));
	cf64_expect_hvc(&vm, 3);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X1), ~0ull, "x0 after SMC #5: %#llx",
	    (unsigned long long)cf64_rreg(&vm, HV_REG_X1));
	cf64_destroy(&vm);
}

/* Each of mmio.S's accesses: where it is, what its syndrome says, and
 * the value (a store's, as the client finds it in Rt; a load's, as the
 * client gives it). */
static const struct access {
	const uint8_t *label;
	const char *what;
	bool write;
	unsigned sas, srt;
	bool sse, sf, ar;
	uint64_t offset;
	uint64_t value;
} accesses[] = {
	{ mmio_strb, "strb w1, [x20]", true, 0, 1, false, false, false, 0, 0x11 },
	{ mmio_strh, "strh w2, [x20, #2]", true, 1, 2, false, false, false, 2, 0x2222 },
	{ mmio_strw, "str w3, [x20, #4]", true, 2, 3, false, false, false, 4, 0x33333333 },
	{ mmio_strx, "str x4, [x20, #8]", true, 3, 4, false, true, false, 8, 0x4444444444444444 },
	{ mmio_str_xzr, "str xzr, [x20, #16]", true, 3, 31, false, true, false, 16, 0 },
	{ mmio_ldrb, "ldrb w5, [x20, #0x20]", false, 0, 5, false, false, false, 0x20, 0x55 },
	{ mmio_ldrh, "ldrh w6, [x20, #0x22]", false, 1, 6, false, false, false, 0x22, 0x6666 },
	{ mmio_ldrw, "ldr w7, [x20, #0x24]", false, 2, 7, false, false, false, 0x24, 0x77777777 },
	{ mmio_ldrx, "ldr x8, [x20, #0x28]", false, 3, 8, false, true, false, 0x28, 0x8888888888888888 },
	{ mmio_ldrsb, "ldrsb x9, [x20, #0x30]", false, 0, 9, true, true, false, 0x30, 0xffffffffffffff99 },
	{ mmio_ldrsw, "ldrsw x10, [x20, #0x34]", false, 2, 10, true, true, false, 0x34, 0xffffffffaaaaaaaa },
	{ mmio_ldr_reg, "ldr x11, [x20, x21]", false, 3, 11, false, true, false, 0x40, 0xbbbb },
	{ mmio_ldur, "ldur x12, [x20, #-8]", false, 3, 12, false, true, false, (uint64_t)-8, 0xcccc },
	{ mmio_stlr, "stlr x13, [x20]", true, 3, 13, false, true, true, 0, 0xdddd },
};

/* Data aborts on unmapped IPAs (MMIO), as QEMU's hvf handles them: the
 * syndrome has ISV, SAS, SSE, SRT, SF, AR and WnR, FAR and the IPA are the
 * address, PC is on the access; the client moves data through Rt and steps
 * PC. DFSC is 0x07 (translation fault, level 3; Apple's exact DFSC is not
 * documented, docs/arm64.md). */
Test(exits, mmio_data_aborts)
{
	struct cf64 vm;
	const size_t n = sizeof(accesses) / sizeof(accesses[0]);

	cf64_start(&vm, GUEST(mmio));
	cf64_wreg(&vm, HV_REG_X20, CF64_MMIO);
	cf64_wreg(&vm, HV_REG_X21, 0x40);
	for (size_t i = 0; i < n; i++)
		if (accesses[i].write && accesses[i].srt != 31)
			cf64_wreg(&vm, (hv_reg_t)(HV_REG_X0 + accesses[i].srt), accesses[i].value);
	for (size_t i = 0; i < n; i++) {
		const struct access *a = &accesses[i];
		uint64_t esr = cf64_esr_dabt(a->write, a->sas, a->sse, a->srt, a->sf, a->ar,
		    CF64_DFSC_TRANSLATION_L3);
		cr_assert_eq(cf64_run(&vm), HV_EXIT_REASON_EXCEPTION, "%s: %s", a->what, cf64_exit_describe(&vm));
		cr_assert_eq(vm.exit->exception.syndrome, esr, "%s: ESR %#llx, expected %#llx", a->what,
		    (unsigned long long)vm.exit->exception.syndrome, (unsigned long long)esr);
		cr_assert_eq(vm.exit->exception.physical_address, CF64_MMIO + a->offset, "%s: %s", a->what,
		    cf64_exit_describe(&vm));
		cr_assert_eq(vm.exit->exception.virtual_address, CF64_MMIO + a->offset, "%s: %s", a->what,
		    cf64_exit_describe(&vm));
		uint64_t pc = cf64_rreg(&vm, HV_REG_PC);
		cr_assert_eq(pc, CF64_RAM + (uint64_t)(a->label - guest_mmio_start), "%s: PC %#llx", a->what,
		    (unsigned long long)pc);
		if (a->write) {
			uint64_t v = a->srt == 31 ? 0 : cf64_rreg(&vm, (hv_reg_t)(HV_REG_X0 + a->srt));
			cr_assert_eq(v, a->value, "%s: the client reads %#llx from Rt", a->what, (unsigned long long)v);
		} else {
			cf64_wreg(&vm, (hv_reg_t)(HV_REG_X0 + a->srt), a->value);
		}
		cf64_wreg(&vm, HV_REG_PC, pc + 4);
	}
	cf64_expect_hvc(&vm, 0x24);
	for (size_t i = 0; i < n; i++)
		if (!accesses[i].write)
			cr_expect_eq(cf64_rreg(&vm, (hv_reg_t)(HV_REG_X0 + accesses[i].srt)), accesses[i].value,
			    "%s: the guest got the client's value", accesses[i].what);
	cf64_destroy(&vm);
}

/* Level-1 block descriptors of an identity map (4 KiB granule, 39-bit
 * VA): 0-1 GiB device nGnRnE (MAIR attr 0), 1-2 GiB normal write-back
 * (attr 1); AF set, inner shareable. */
#define MMU_TABLE (CF64_RAM + 0x8000u)
#define MMU_TCR 0x803519u /* T0SZ 25, WB WA walks, inner shareable, EPD1 */
#define MMU_MAIR 0xff00u

/* With the guest's MMU on the backend walks the guest's tables to fetch
 * the instruction (main's e15d6a1, docs/arm64.md "Data aborts"): an MMIO
 * data abort has its full syndrome, FAR the VA (identity-mapped here),
 * and HVC its immediate, as on macOS. */
Test(exits, mmio_and_hvc_with_the_mmu_on)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(mmu_store));
	uint64_t *l1 = cf64_ptr(&vm, MMU_TABLE);
	l1[0] = 0x00000000u | 0x401u;            /* AF, attr 0, block */
	l1[1] = 0x40000000u | 0x705u;            /* AF, SH inner, attr 1, block */
	cf64_wsys(&vm, HV_SYS_REG_MAIR_EL1, MMU_MAIR);
	cf64_wsys(&vm, HV_SYS_REG_TCR_EL1, MMU_TCR);
	cf64_wsys(&vm, HV_SYS_REG_TTBR0_EL1, MMU_TABLE);
	cf64_wreg(&vm, HV_REG_X20, CF64_MMIO);
	cf64_wreg(&vm, HV_REG_X1, 0x1234);
	cf64_expect_exception(&vm, cf64_esr_dabt(true, 3, false, 1, true, false, CF64_DFSC_TRANSLATION_L3));
	cr_assert_eq(vm.exit->exception.physical_address, CF64_MMIO);
	cr_assert_eq(vm.exit->exception.virtual_address, CF64_MMIO);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(mmu_store, mmu_store_access));
	cr_assert(cf64_rsys(&vm, HV_SYS_REG_SCTLR_EL1) & 1u, "the MMU is on");
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X1), 0x1234u, "the store's Rt");
	cf64_skip(&vm);
	cf64_expect_hvc(&vm, 0x26);
	cf64_destroy(&vm);
}

/* A load the client completes without stepping PC runs again: the exit
 * comes back, at the same place. */
Test(exits, mmio_access_repeats_until_the_client_steps_pc)
{
	struct cf64 vm;
	uint64_t esr = cf64_esr_dabt(false, 3, false, 1, true, false, CF64_DFSC_TRANSLATION_L3);

	cf64_start(&vm, GUEST(load));
	cf64_wreg(&vm, HV_REG_X20, CF64_MMIO);
	cf64_expect_exception(&vm, esr);
	cf64_expect_exception(&vm, esr);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(load, load_access));
	cf64_wreg(&vm, HV_REG_X1, 99);
	cf64_skip(&vm);
	cf64_expect_hvc(&vm, 0x12);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X1), 99u);
	cf64_destroy(&vm);
}

/* Difference (docs/arm64.md): an MMIO access the architecture gives no
 * syndrome (here a load pair) reaches KVM's ENOSYS, and the run fails
 * (HV_ERROR); on macOS it exits as a data abort with ISV = 0. */
Test(exits, mmio_without_a_syndrome_fails_the_run)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(pair));
	cf64_wreg(&vm, HV_REG_X20, CF64_MMIO);
	HV_EXPECT(HV_ERROR, hv_vcpu_run(vm.vcpu));
	cf64_destroy(&vm);
}

/* Difference (not in docs/arm64.md yet): KVM injects an instruction
 * abort on an unmapped IPA into the guest instead of exiting (Apple: an
 * exception exit, EC 0x20, the IPA). The guest's own vector gets EC 0x21
 * (same EL) with FAR_EL1 = the address; pinned here through the vectors
 * guest, whose handler reports it. */
Test(exits, instruction_fetch_from_unmapped_memory)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(vectors));
	cf64_wsys(&vm, HV_SYS_REG_VBAR_EL1, CF64_RAM);
	cf64_wreg(&vm, HV_REG_PC, CF64_UNMAPPED);
	/* A cancel after 2 s turns a guest stuck in the fault into a failure. */
	cr_assert_eq(cf64_run_with_cancel(&vm, 2000), HV_EXIT_REASON_EXCEPTION, "%s",
	    cf64_exit_describe(&vm));
	uint64_t esr = vm.exit->exception.syndrome;
	if (CF64_EC(esr) == CF64_EC_IABT_LOW) {
		cr_assert_fail("an instruction-abort exit (Apple's behaviour): update this test and "
		    "docs/arm64.md; %s", cf64_exit_describe(&vm));
	}
	cr_assert_eq(esr, CF64_ESR_HVC(0xe0), "%s", cf64_exit_describe(&vm));
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X19), 0x200u, "the current-EL synchronous vector");
	uint64_t esr1 = cf64_rreg(&vm, HV_REG_X1);
	cr_assert_eq(CF64_EC(esr1), CF64_EC_IABT_CUR, "ESR_EL1 %#llx", (unsigned long long)esr1);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X2), CF64_UNMAPPED, "FAR_EL1");
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X3), CF64_UNMAPPED, "ELR_EL1");
	cf64_destroy(&vm);
}

/* Without trap_debug_exceptions a BRK is the guest's: its vector gets
 * EC 0x3c with the immediate, ELR on the BRK. */
Test(exits, brk_goes_to_the_guest_by_default)
{
	struct cf64 vm;
	bool trap = true;

	cf64_start(&vm, GUEST(vectors));
	HV_CHECK(hv_vcpu_get_trap_debug_exceptions(vm.vcpu, &trap));
	cr_assert(!trap, "debug exceptions are not trapped by default");
	cf64_wsys(&vm, HV_SYS_REG_VBAR_EL1, CF64_RAM);
	cf64_wreg(&vm, HV_REG_PC, GUEST_AT(vectors, vectors_brk));
	cf64_expect_hvc(&vm, 0xe0);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X19), 0x200u);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X1), 0xf2000077u, "ESR_EL1 of BRK #0x77");
	cr_assert_eq(cf64_rreg(&vm, HV_REG_X3), GUEST_AT(vectors, vectors_brk), "ELR_EL1");
	cf64_destroy(&vm);
}

/* With trap_debug_exceptions a BRK is an exception exit with ESR
 * 0xf2000077 (EC 0x3c, IL, immediate) and PC on the BRK, as QEMU's
 * EC_AA64_BKPT expects (docs/arm64.md: BRK only). This test found the
 * exit reported as HV_EXIT_REASON_UNKNOWN (no KVM_EXIT_DEBUG case),
 * fixed in main's 6994c52. */
Test(exits, brk_exits_with_trap_debug_exceptions)
{
	struct cf64 vm;
	bool trap = false;

	cf64_start(&vm, GUEST(vectors));
	cf64_wsys(&vm, HV_SYS_REG_VBAR_EL1, CF64_RAM);
	cf64_wreg(&vm, HV_REG_PC, GUEST_AT(vectors, vectors_brk));
	HV_CHECK(hv_vcpu_set_trap_debug_exceptions(vm.vcpu, true));
	HV_CHECK(hv_vcpu_get_trap_debug_exceptions(vm.vcpu, &trap));
	cr_assert(trap);
	cf64_expect_exception(&vm, 0xf2000077u);
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(vectors, vectors_brk), "PC on the BRK");
	/* Trapping off again, the BRK is the guest's. */
	HV_CHECK(hv_vcpu_set_trap_debug_exceptions(vm.vcpu, false));
	cf64_expect_hvc(&vm, 0xe0);
	cf64_destroy(&vm);
}

/* docs/arm64.md: KVM handles debug-register accesses itself, so they
 * cannot be trapped; turning the trap off is fine. */
Test(exits, debug_register_access_traps_are_unsupported)
{
	struct cf64 vm;
	bool on = true;

	cf64_start(&vm, GUEST(hvc));
	HV_EXPECT(HV_UNSUPPORTED, hv_vcpu_set_trap_debug_reg_accesses(vm.vcpu, true));
	HV_CHECK(hv_vcpu_set_trap_debug_reg_accesses(vm.vcpu, false));
	HV_CHECK(hv_vcpu_get_trap_debug_reg_accesses(vm.vcpu, &on));
	cr_assert(!on);
	cf64_destroy(&vm);
}

/* Difference (docs/arm64.md): WFI never exits (KVM blocks in the
 * kernel). With nothing to wake it, the vCPU sleeps until hv_vcpus_exit
 * (CANCELED), past the WFI; on macOS WFI exits with EC 0x01 and PC on it. */
Test(exits, wfi_does_not_exit)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(wfi));
	cr_assert_eq(cf64_run_with_cancel(&vm, 300), HV_EXIT_REASON_CANCELED, "%s",
	    cf64_exit_describe(&vm));
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(wfi, wfi_wfi) + 4, "PC past the WFI");
	cf64_expect_hvc(&vm, 0x35);
	cf64_destroy(&vm);
}

/* The same difference, with a vtimer: the timer fires (VTIMER_ACTIVATED,
 * the mask set), and the client asserts the vCPU's IRQ as an Apple client
 * does for a pending vtimer; that wakes the WFI (DAIF masked: WFI wakes on
 * a pending interrupt without taking it) and the guest goes on. */
Test(exits, pending_irq_wakes_a_wfi_after_a_vtimer_exit)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(wfi_timer));
	cr_assert_eq(cf64_run(&vm), HV_EXIT_REASON_VTIMER_ACTIVATED, "%s", cf64_exit_describe(&vm));
	HV_CHECK(hv_vcpu_set_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, true));
	cf64_expect_hvc(&vm, 0x34);
	cf64_destroy(&vm);
}

/* The same difference, without the IRQ: after a VTIMER_ACTIVATED exit
 * (mask set, nothing asserted) the expired vtimer does not wake a WFI
 * under KVM's user-space irqchip; the vCPU sleeps until hv_vcpus_exit.
 * On macOS the WFI exits (EC 0x01). Without the cancel this test would
 * hang: Criterion's --timeout was seen not to end it. */
Test(exits, wfi_after_a_vtimer_exit_sleeps_until_canceled)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(wfi_timer));
	cr_assert_eq(cf64_run(&vm), HV_EXIT_REASON_VTIMER_ACTIVATED, "%s", cf64_exit_describe(&vm));
	cr_assert_eq(cf64_run_with_cancel(&vm, 300), HV_EXIT_REASON_CANCELED, "%s",
	    cf64_exit_describe(&vm));
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), GUEST_AT(wfi_timer, wfi_timer_wfi) + 4, "PC past the WFI");
	cf64_expect_hvc(&vm, 0x34);
	cf64_destroy(&vm);
}

/* Difference (with instruction_fetch_from_unmapped_memory): when the
 * guest's vector is unmapped too, KVM's injected instruction abort
 * faults again at the vector, forever, inside KVM_RUN: nothing reaches
 * the client until hv_vcpus_exit. On macOS the first fetch exits with
 * EC 0x20. (A guest that takes any exception with VBAR_EL1 at an unmapped
 * IPA ends up here: an UNDEF at VBAR_EL1 = 0 did.) */
Test(exits, fault_loop_runs_until_canceled)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc));
	cf64_wsys(&vm, HV_SYS_REG_VBAR_EL1, CF64_UNMAPPED);
	cf64_wreg(&vm, HV_REG_PC, CF64_UNMAPPED);
	cr_assert_eq(cf64_run_with_cancel(&vm, 300), HV_EXIT_REASON_CANCELED, "%s",
	    cf64_exit_describe(&vm));
	cf64_destroy(&vm);
}
