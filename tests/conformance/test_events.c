/*
 * test_events.c: kicking a running vCPU, interrupt-window exiting and
 * VM-entry event injection.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"

struct kicker {
	hv_vcpuid_t vcpu;
	atomic_bool kicked;
	hv_return_t ret;
};

static void *kick_thread(void *arg)
{
	struct kicker *k = arg;
	const struct timespec delay = { 0, 50 * 1000 * 1000 };

	/* Let the guest get going first, so the kick hits a running vCPU. */
	nanosleep(&delay, NULL);
	atomic_store(&k->kicked, true);
	k->ret = hv_vcpu_interrupt(&k->vcpu, 1);
	return NULL;
}

/* hv_vcpu_interrupt from another thread makes hv_vcpu_run return with
 * VMX_REASON_IRQ while the guest spins; the guest then resumes where it
 * was. */
Test(events, interrupt_kicks_a_spinning_guest, .timeout = 20)
{
	struct kicker k = { .ret = HV_ERROR };
	struct cf_vm vm;
	pthread_t t;
	uint32_t reason;

	cf_start(&vm, CF_REAL16, GUEST(spin));
	k.vcpu = vm.vcpu;
	atomic_init(&k.kicked, false);
	cr_assert_eq(pthread_create(&t, NULL, kick_thread, &k), 0);
	/* Returns before the kick would be spurious ones; run again. */
	do {
		reason = cf_run_raw(&vm);
		cr_assert_eq(reason, VMX_REASON_IRQ, "a spinning guest exited: %s",
		    cf_exit_describe(&vm));
	} while (!atomic_load(&k.kicked));
	cr_assert_eq(pthread_join(t, NULL), 0);
	HV_CHECK(k.ret);
	vm.ram[CF_DATA] = 1;
	cf_expect_hlt(&vm, 0);
	cf_destroy(&vm);
}

/* With interrupt-window exiting on, the exit comes as soon as the guest
 * can take an interrupt: after the instruction that follows STI. */
Test(events, irq_window_exits_after_the_sti_shadow)
{
	struct cf_vm vm;
	uint64_t proc;

	cf_start(&vm, CF_REAL16, GUEST(irq_window));
	proc = cf_rvmcs(&vm, VMCS_CTRL_CPU_BASED);
	cf_wvmcs(&vm, VMCS_CTRL_CPU_BASED, proc | CPU_BASED_IRQ_WND);
	cf_expect_exit(&vm, VMX_REASON_IRQ_WND);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 0),
	    "interrupt window at the wrong place: %s", cf_exit_describe(&vm));
	cr_assert(cf_rreg(&vm, HV_X86_RFLAGS) & 0x200, "IF is clear");
	cf_wvmcs(&vm, VMCS_CTRL_CPU_BASED, proc);
	cf_expect_hlt(&vm, 1);
	cf_destroy(&vm);
}

/* LABELS of guests/inject.asm and inject_pm.asm. */
enum { INJ_READY, INJ_BACK, INJ_HANDLER_OUT };

/* Runs the injection guest to its ready point, injects `info` (and the
 * error code) at the next entry, and checks that the guest's handler ran,
 * reported `marker`, and returned to the interrupted code. */
static void inject_and_check(enum cf_mode mode, uint32_t info,
    uint32_t error, uint64_t marker, unsigned marker_size)
{
	struct cf_vm vm;

	if (mode == CF_PROT32)
		cf_start(&vm, mode, GUEST(inject_pm));
	else
		cf_start(&vm, mode, GUEST(inject));
	cf_expect_io(&vm, INJ_READY, 0x70, 1, false, true, 2);
	cf_skip(&vm);
	cf_wvmcs(&vm, VMCS_CTRL_VMENTRY_IRQ_INFO, info);
	if (info & IRQ_INFO_ERROR_VALID)
		cf_wvmcs(&vm, VMCS_CTRL_VMENTRY_EXC_ERROR, error);
	cf_expect_io(&vm, INJ_HANDLER_OUT, 0x80, marker_size, false, true, 2);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RAX) & (marker_size == 4 ? 0xffffffff : 0xff),
	    marker, "the handler reported %#" PRIx64,
	    cf_rreg(&vm, HV_X86_RAX));
	cr_assert_eq(cf_rvmcs(&vm, VMCS_CTRL_VMENTRY_IRQ_INFO) & IRQ_INFO_VALID, 0,
	    "the injected event is still marked valid after the exit");
	if (mode == CF_REAL16) {
		/* IRET brings the guest back to the instruction it was about
		 * to execute when the event arrived. */
		cf_skip(&vm);
		cf_expect_io(&vm, INJ_BACK, 0x71, 1, false, true, 2);
	}
	cf_destroy(&vm);
}

Test(events, injected_external_interrupt_runs_the_ivt_handler)
{
	inject_and_check(CF_REAL16, IRQ_INFO_VALID | IRQ_INFO_EXT_IRQ | 0x20,
	    0, 0x20, 1);
}

Test(events, injected_nmi_runs_the_ivt_handler)
{
	inject_and_check(CF_REAL16, IRQ_INFO_VALID | IRQ_INFO_NMI | 2, 0, 2, 1);
}

Test(events, injected_exception_runs_the_ivt_handler)
{
	inject_and_check(CF_REAL16, IRQ_INFO_VALID | IRQ_INFO_HARD_EXC | 5, 0, 5, 1);
}

/* In protected mode an exception can carry an error code, which the guest
 * handler finds on its stack. */
Test(events, injected_exception_delivers_its_error_code)
{
	inject_and_check(CF_PROT32, IRQ_INFO_VALID | IRQ_INFO_HARD_EXC |
	    IRQ_INFO_ERROR_VALID | 13, 0x1234, 0x1234, 4);
}

/* Without the valid bit nothing is injected. */
Test(events, entry_info_without_valid_bit_injects_nothing)
{
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(inject));
	cf_expect_io(&vm, INJ_READY, 0x70, 1, false, true, 2);
	cf_skip(&vm);
	cf_wvmcs(&vm, VMCS_CTRL_VMENTRY_IRQ_INFO, IRQ_INFO_EXT_IRQ | 0x20);
	cf_expect_io(&vm, INJ_BACK, 0x71, 1, false, true, 2);
	cf_destroy(&vm);
}

/* A vCPU put into the HLT activity state runs nothing until an event is
 * injected: hv_vcpu_run waits, a kick ends the wait with VMX_REASON_IRQ,
 * and injecting an interrupt wakes it into the handler. */
Test(events, hlt_activity_state_waits_for_an_event, .timeout = 20)
{
	struct kicker k = { .ret = HV_ERROR };
	struct cf_vm vm;
	pthread_t t;

	cf_start(&vm, CF_REAL16, GUEST(inject));
	cf_expect_io(&vm, INJ_READY, 0x70, 1, false, true, 2);
	cf_skip(&vm);
	cf_wvmcs(&vm, VMCS_GUEST_ACTIVITY_STATE, 1);
	k.vcpu = vm.vcpu;
	atomic_init(&k.kicked, false);
	cr_assert_eq(pthread_create(&t, NULL, kick_thread, &k), 0);
	cr_assert_eq(cf_run_raw(&vm), VMX_REASON_IRQ, "a halted vCPU exited: %s",
	    cf_exit_describe(&vm));
	cr_assert(atomic_load(&k.kicked), "the halted vCPU returned before the kick");
	cr_assert_eq(pthread_join(t, NULL), 0);
	HV_CHECK(k.ret);
	cr_assert_eq(cf_rvmcs(&vm, VMCS_GUEST_ACTIVITY_STATE), 1);
	cf_wvmcs(&vm, VMCS_CTRL_VMENTRY_IRQ_INFO, IRQ_INFO_VALID | IRQ_INFO_EXT_IRQ | 0x20);
	cf_expect_io(&vm, INJ_HANDLER_OUT, 0x80, 1, false, true, 2);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RAX) & 0xff, 0x20);
	cr_assert_eq(cf_rvmcs(&vm, VMCS_GUEST_ACTIVITY_STATE), 0);
	cf_destroy(&vm);
}
