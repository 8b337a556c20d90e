/*
 * vCPU lifetime on real KVM/arm64 in the arm64 lab; built twice:
 * in-process (vcpus64_direct) and through hvd (vcpus64_hvd). Written only
 * against <Hypervisor/Hypervisor.h>.
 *
 * KVM cannot destroy a vCPU: the backend keeps a destroyed one and resets
 * it for the next hv_vcpu_create. So: 100 create/run/destroy rounds on one
 * thread (more than the 64 vCPUs a VM may have at once), each new vCPU in
 * its reset state (a register the last one wrote reads 0) and with the
 * ids below the limit; a vCPU that trapped debug exceptions leaves no trap
 * behind (a BRK of its successor goes to the guest's own vector); and a
 * vCPU destroyed on one thread while another thread's vCPU lives. Plain C:
 * `ok`/`FAIL` lines, non-zero exit on failures.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <Hypervisor/Hypervisor.h>

#include "check64.h"

#define RAM 0x10000ull

/* A vCPU at `pc`, run once: the exit's syndrome, or ~0 if the run failed. */
static uint64_t run_once(hv_vcpu_t *id, uint64_t pc, uint64_t *x5_before, bool trap_debug, bool keep)
{
	hv_vcpu_exit_t *exit;
	if (hv_vcpu_create(id, &exit, NULL) != HV_SUCCESS)
		return ~0ull;
	hv_vcpu_get_reg(*id, HV_REG_X5, x5_before);
	hv_vcpu_set_reg(*id, HV_REG_X5, 0x55);
	hv_vcpu_set_reg(*id, HV_REG_PC, pc);
	hv_vcpu_set_reg(*id, HV_REG_CPSR, 0x3c5);
	hv_vcpu_set_sys_reg(*id, HV_SYS_REG_VBAR_EL1, RAM + 0x800);
	if (trap_debug)
		hv_vcpu_set_trap_debug_exceptions(*id, true);
	uint64_t esr = hv_vcpu_run(*id) == HV_SUCCESS && exit->reason == HV_EXIT_REASON_EXCEPTION ?
		exit->exception.syndrome : ~0ull;
	if (!keep && hv_vcpu_destroy(*id) != HV_SUCCESS)
		return ~0ull;
	return esr;
}

static void *other_thread(void *arg)
{
	hv_vcpu_t id;
	uint64_t x5;
	*(uint64_t *)arg = run_once(&id, RAM, &x5, false, false);
	return NULL;
}

int main(void)
{
	uint32_t *ram;
	CHECK(hv_vm_create(NULL) == HV_SUCCESS, "hv_vm_create");
	CHECK(hv_vm_allocate((void **)&ram, 0x10000, HV_ALLOCATE_DEFAULT) == HV_SUCCESS, "hv_vm_allocate");
	ram[0] = 0xd4000002;           /* RAM: hvc #0 */
	ram[0x100 / 4] = 0xd4200000;   /* RAM + 0x100: brk #0 */
	ram[0xa00 / 4] = 0xd4000022;   /* VBAR + 0x200 (sync, current EL, SPx): hvc #1 */
	CHECK(hv_vm_map(ram, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_EXEC) == HV_SUCCESS, "hv_vm_map");

	int bad_exit = 0, dirty = 0, high_id = 0;
	for (int i = 0; i < 100; i++) {
		hv_vcpu_t id;
		uint64_t x5 = ~0ull;
		uint64_t esr = run_once(&id, RAM, &x5, false, false);
		bad_exit += esr != 0x5a000000ull;
		dirty += x5 != 0;
		high_id += id >= 64;
	}
	CHECK(bad_exit == 0, "100 create/run/destroy rounds: every run an HVC exit (%d not)", bad_exit);
	CHECK(dirty == 0, "every new vCPU in its reset state (%d saw the last one's X5)", dirty);
	CHECK(high_id == 0, "every id below 64 (%d not)", high_id);

	hv_vcpu_t id;
	uint64_t x5;
	uint64_t esr = run_once(&id, RAM + 0x100, &x5, true, false);
	CHECK(esr >> 26 == 0x3c, "with trap_debug_exceptions, BRK exits (ESR %#llx)", (unsigned long long)esr);
	esr = run_once(&id, RAM + 0x100, &x5, false, false);
	CHECK(esr == 0x5a000001ull, "its successor's BRK goes to the guest's vector (ESR %#llx)",
	      (unsigned long long)esr);

	hv_vcpu_t mine;
	esr = run_once(&mine, RAM, &x5, false, true);
	CHECK(esr == 0x5a000000ull, "a vCPU kept on this thread");
	uint64_t theirs = 0;
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		pthread_create(&t, NULL, other_thread, &theirs);
		pthread_join(t, NULL);
		CHECK(theirs == 0x5a000000ull, "another thread's vCPU %d created, run, destroyed meanwhile", i);
	}
	hv_vcpu_exit_t *exit;
	hv_vcpu_t again;
	CHECK(hv_vcpu_create(&again, &exit, NULL) == HV_BUSY, "a second vCPU on this thread: HV_BUSY");
	CHECK(hv_vcpu_destroy(mine) == HV_SUCCESS && hv_vm_destroy() == HV_SUCCESS, "destroy it and the VM");

	return check64_done("vcpus64");
}
