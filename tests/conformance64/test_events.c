/*
 * test_events.c: asynchronous events: hv_vcpus_exit, pending IRQ and FIQ,
 * and the vCPU's execution time.
 */
#include <pthread.h>

#include "harness.h"

/* Before the run: the next hv_vcpu_run returns CANCELED without entering
 * the guest (its first instruction would be an HVC). */
Test(events, exit_before_the_run_cancels_it)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc));
	HV_CHECK(hv_vcpus_exit(&vm.vcpu, 1));
	cr_assert_eq(cf64_run(&vm), HV_EXIT_REASON_CANCELED, "%s", cf64_exit_describe(&vm));
	cr_assert_eq(cf64_rreg(&vm, HV_REG_PC), CF64_RAM, "the guest did not run");
	/* One cancel, one canceled run. */
	cf64_expect_hvc(&vm, 0);
	cf64_destroy(&vm);
}

/* While running (from another thread): the run returns CANCELED with the
 * guest where it was; the next run goes on from there. */
Test(events, exit_from_another_thread_cancels_a_running_vcpu)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(spin));
	uint64_t *flag = cf64_ptr(&vm, CF64_DATA);
	*flag = 0;
	cf64_wreg(&vm, HV_REG_X20, CF64_DATA);
	cr_assert_eq(cf64_run_with_cancel(&vm, 200), HV_EXIT_REASON_CANCELED, "%s",
	    cf64_exit_describe(&vm));
	uint64_t pc = cf64_rreg(&vm, HV_REG_PC);
	uint64_t loop = GUEST_AT(spin, spin_loop);
	cr_assert(pc == loop || pc == loop + 4, "PC %#llx is in the spin loop", (unsigned long long)pc);
	*flag = 1;
	cf64_expect_hvc(&vm, 0x32);
	cf64_destroy(&vm);
}

struct other_vcpu {
	uint8_t *ram;
	hv_vcpu_t vcpu;
	pthread_barrier_t created, exited;
	uint32_t reason;
	hv_return_t ret;
};

static void *run_other_vcpu(void *arg)
{
	struct other_vcpu *o = arg;
	struct cf64 vm = { .ram = o->ram };

	cf64_vcpu_create(&vm);
	o->vcpu = vm.vcpu;
	pthread_barrier_wait(&o->created);
	pthread_barrier_wait(&o->exited);
	o->ret = hv_vcpu_run(vm.vcpu);
	o->reason = vm.exit->reason;
	HV_CHECK(hv_vcpu_destroy(vm.vcpu));
	return NULL;
}

/* One hv_vcpus_exit names several vCPUs: each one's next run is
 * canceled. */
Test(events, exit_cancels_every_vcpu_it_names)
{
	struct cf64 vm;
	struct other_vcpu o = { 0 };
	pthread_t t;

	cf64_start(&vm, GUEST(hvc));
	o.ram = vm.ram;
	pthread_barrier_init(&o.created, NULL, 2);
	pthread_barrier_init(&o.exited, NULL, 2);
	cr_assert_eq(pthread_create(&t, NULL, run_other_vcpu, &o), 0);
	pthread_barrier_wait(&o.created);
	hv_vcpu_t both[2] = { vm.vcpu, o.vcpu };
	hv_return_t r = hv_vcpus_exit(both, 2);
	pthread_barrier_wait(&o.exited);
	pthread_join(t, NULL);
	HV_CHECK(r);
	HV_CHECK(o.ret);
	cr_assert_eq(o.reason, HV_EXIT_REASON_CANCELED, "the other vCPU's run: reason %u", o.reason);
	cr_assert_eq(cf64_run(&vm), HV_EXIT_REASON_CANCELED, "%s", cf64_exit_describe(&vm));
	cf64_destroy(&vm);
}

Test(events, exit_arguments_are_checked)
{
	struct cf64 vm;

	cf64_start(&vm, GUEST(hvc));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpus_exit(NULL, 1));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpus_exit(&vm.vcpu, 0));
	cf64_destroy(&vm);
}

/* Runs vectors.S's vectors_irq (which sets VBAR_EL1 and unmasks IRQ and
 * FIQ) and asserts that it took the interrupt at `vector`. */
static void expect_interrupt(struct cf64 *vm, uint64_t vector)
{
	cf64_expect_hvc(vm, 0xe0);
	cr_assert_eq(cf64_rreg(vm, HV_REG_X19), vector, "taken at vector %#llx",
	    (unsigned long long)cf64_rreg(vm, HV_REG_X19));
	uint64_t elr = cf64_rreg(vm, HV_REG_X3), at = GUEST_AT(vectors, vectors_irq_unmasked);
	cr_assert(elr == at || elr == at - 4, "ELR_EL1 %#llx: after the unmask", (unsigned long long)elr);
	cr_assert_eq(cf64_rsys(vm, HV_SYS_REG_VBAR_EL1), CF64_RAM, "the guest's VBAR_EL1");
}

static void start_irq_guest(struct cf64 *vm)
{
	cf64_start(vm, GUEST(vectors));
	cf64_wreg(vm, HV_REG_PC, GUEST_AT(vectors, vectors_irq));
}

Test(events, pending_irq_is_taken_by_the_guest)
{
	struct cf64 vm;
	bool pending = false;

	start_irq_guest(&vm);
	HV_CHECK(hv_vcpu_set_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, true));
	HV_CHECK(hv_vcpu_get_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, &pending));
	cr_assert(pending);
	expect_interrupt(&vm, 0x280);
	/* "automatically cleared after hv_vcpu_run returns" */
	HV_CHECK(hv_vcpu_get_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, &pending));
	cr_assert(!pending, "the pending IRQ was cleared by the run");
	cf64_destroy(&vm);
}

Test(events, pending_fiq_is_taken_by_the_guest)
{
	struct cf64 vm;
	bool pending = false;

	start_irq_guest(&vm);
	HV_CHECK(hv_vcpu_set_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_FIQ, true));
	HV_CHECK(hv_vcpu_get_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_FIQ, &pending));
	cr_assert(pending);
	HV_CHECK(hv_vcpu_get_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, &pending));
	cr_assert(!pending, "FIQ is not IRQ");
	expect_interrupt(&vm, 0x300);
	cf64_destroy(&vm);
}

Test(events, no_interrupt_without_a_pending_one)
{
	struct cf64 vm;

	start_irq_guest(&vm);
	cf64_expect_hvc(&vm, 0x99);
	/* The guest's msr daifclr, #3 as the client reads it in CPSR. */
	uint64_t cpsr = cf64_rreg(&vm, HV_REG_CPSR);
	cr_assert_eq(cpsr & 0x3cfu, 0x305u, "CPSR %#llx: D and A masked, I and F not, EL1h",
	    (unsigned long long)cpsr);
	cf64_destroy(&vm);
}

/* A pending interrupt lasts one run: asserted for a run in which the
 * guest keeps interrupts masked, it is gone for the next one. */
Test(events, pending_interrupt_lasts_one_run)
{
	struct cf64 vm;

	start_irq_guest(&vm);
	cf64_load(&vm, GUEST(hvc));
	HV_CHECK(hv_vcpu_set_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, true));
	cf64_expect_hvc(&vm, 0);
	cf64_load(&vm, GUEST(vectors));
	cf64_wreg(&vm, HV_REG_PC, GUEST_AT(vectors, vectors_irq));
	cf64_expect_hvc(&vm, 0x99);
	cf64_destroy(&vm);
}

Test(events, pending_interrupt_arguments_are_checked)
{
	struct cf64 vm;
	bool pending;

	cf64_start(&vm, GUEST(hvc));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_set_pending_interrupt(vm.vcpu, (hv_interrupt_type_t)2, true));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_pending_interrupt(vm.vcpu, (hv_interrupt_type_t)2, &pending));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_pending_interrupt(vm.vcpu, HV_INTERRUPT_TYPE_IRQ, NULL));
	cf64_destroy(&vm);
}

/* The execution time grows with the guest's running. */
Test(events, exec_time_increases)
{
	struct cf64 vm;
	uint64_t t0 = 1, t1 = 0, t2 = 0;

	cf64_start(&vm, GUEST(busy));
	HV_CHECK(hv_vcpu_get_exec_time(vm.vcpu, &t0));
	cf64_wreg(&vm, HV_REG_X1, 200000);
	cf64_expect_hvc(&vm, 0x33);
	HV_CHECK(hv_vcpu_get_exec_time(vm.vcpu, &t1));
	cr_assert_gt(t1, t0, "exec time %llu after, %llu before", (unsigned long long)t1,
	    (unsigned long long)t0);
	cf64_wreg(&vm, HV_REG_X1, 200000);
	cf64_wreg(&vm, HV_REG_PC, CF64_RAM);
	cf64_expect_hvc(&vm, 0x33);
	HV_CHECK(hv_vcpu_get_exec_time(vm.vcpu, &t2));
	cr_assert_gt(t2, t1, "exec time %llu after a second run, %llu before", (unsigned long long)t2,
	    (unsigned long long)t1);
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vcpu_get_exec_time(vm.vcpu, NULL));
	cf64_destroy(&vm);
}
