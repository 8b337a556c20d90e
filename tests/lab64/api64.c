/*
 * Apple's arm64 API on real KVM/arm64 in the arm64 lab, built twice:
 * in-process (api64_direct, libhvdirect) and through hvd (api64_hvd,
 * libhvclient). Written only against <Hypervisor/Hypervisor.h>: a guest's MMIO store
 * and load handled the way QEMU's hvf does (syndrome decode, Rt, PC + 4),
 * HVC, system registers, the vtimer with Apple's mask, hv_vcpus_exit from
 * another thread, and the error cases. Plain C: `ok`/`FAIL` lines,
 * non-zero exit on failures.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <Hypervisor/Hypervisor.h>

#include "check64.h"

#define RAM 0x10000ull
#define MMIO 0x9000000ull

static hv_vcpu_t vcpu;

static void *cancel_later(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	hv_vcpus_exit(&vcpu, 1);
	return NULL;
}

static void *other_thread(void *arg)
{
	uint64_t v;
	*(hv_return_t *)arg = hv_vcpu_get_reg(vcpu, HV_REG_PC, &v);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint32_t max_ipa = 0, def_ipa = 0, max_vcpus = 0;
	CHECK(hv_vm_config_get_max_ipa_size(&max_ipa) == HV_SUCCESS && max_ipa >= 32,
	      "max IPA size %u", max_ipa);
	CHECK(hv_vm_config_get_default_ipa_size(&def_ipa) == HV_SUCCESS && def_ipa <= max_ipa,
	      "default IPA size %u", def_ipa);
	CHECK(hv_vm_get_max_vcpu_count(&max_vcpus) == HV_SUCCESS && max_vcpus >= 1, "max vCPUs %u",
	      max_vcpus);
	hv_vm_config_t cfg = hv_vm_config_create();
	CHECK(hv_vm_config_set_ipa_size(cfg, max_ipa + 1) == HV_BAD_ARGUMENT, "IPA size above max refused");
	CHECK(hv_vm_config_set_ipa_size(cfg, 36) == HV_SUCCESS, "IPA size 36");
	bool el2 = true;
	CHECK(hv_vm_config_get_el2_supported(&el2) == HV_SUCCESS, "EL2 supported: %d", el2);
	if (!el2)
		CHECK(hv_vm_config_set_el2_enabled(cfg, true) == HV_UNSUPPORTED, "EL2 refused where absent");
	CHECK(hv_vm_destroy() == HV_BAD_ARGUMENT, "no VM to destroy yet");
	CHECK(hv_vm_create(cfg) == HV_SUCCESS, "hv_vm_create");
	os_release(cfg);
	CHECK(hv_vm_create(NULL) == HV_BUSY, "a second VM: HV_BUSY");

	uint32_t *ram = NULL;
	CHECK(hv_vm_allocate((void **)&ram, 0x10000, HV_ALLOCATE_DEFAULT) == HV_SUCCESS, "hv_vm_allocate");
	static const uint32_t code[] = {
		0xd2824681, /* movz x1, #0x1234 */
		0xd2a12002, /* movz x2, #0x900, lsl #16 */
		0xf9000041, /* str x1, [x2] */
		0xf9400443, /* ldr x3, [x2, #8] */
		0xd4000842, /* hvc #0x42 */
		0x14000000, /* b . */
	};
	memcpy(ram, code, sizeof(code));
	static const uint32_t timer[] = {
		0xd53be040, 0x91004000, 0xd51be340, /* cval = cntvct + 16 */
		0xd2800021, 0xd51be321, 0xd5033fdf, /* ctl = enabled; isb */
		0x14000000,                         /* b . */
	};
	memcpy(ram + 0x400, timer, sizeof(timer));
	ram[0x800] = 0xd53be041; /* mrs x1, cntvct_el0 */
	ram[0x801] = 0xf9000041; /* str x1, [x2] */
	CHECK(hv_vm_map(ram, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) == HV_SUCCESS,
	      "hv_vm_map");
	CHECK(hv_vm_map(ram, RAM + 0x1000, 0x1000, HV_MEMORY_READ) == HV_BAD_ARGUMENT,
	      "an overlapping map refused");
	CHECK(hv_vm_map(ram, RAM + 1, 0x1000, HV_MEMORY_READ) == HV_BAD_ARGUMENT, "unaligned IPA refused");

	hv_vcpu_exit_t *exit = NULL;
	CHECK(hv_vcpu_create(&vcpu, &exit, NULL) == HV_SUCCESS && exit, "hv_vcpu_create");
	hv_vcpu_t second;
	hv_vcpu_exit_t *exit2;
	CHECK(hv_vcpu_create(&second, &exit2, NULL) == HV_BUSY, "one vCPU per thread");
	pthread_t t;
	hv_return_t other = HV_SUCCESS;
	pthread_create(&t, NULL, other_thread, &other);
	pthread_join(t, NULL);
	CHECK(other == HV_BAD_ARGUMENT, "another thread cannot use the vCPU");
	CHECK(hv_vm_destroy() == HV_BUSY, "hv_vm_destroy with a vCPU: HV_BUSY");

	hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM);
	hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5);
	uint64_t v = 0;
	CHECK(hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_VBAR_EL1, 0x8000) == HV_SUCCESS &&
	      hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_VBAR_EL1, &v) == HV_SUCCESS && v == 0x8000,
	      "VBAR_EL1 round trip (%#llx)", (unsigned long long)v);
	CHECK(hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_HCR_EL2, &v) == HV_BAD_ARGUMENT, "HCR_EL2 without EL2 refused");
	CHECK(hv_vcpu_get_sys_reg(vcpu, (hv_sys_reg_t)0x1234, &v) == HV_BAD_ARGUMENT, "unknown sysreg refused");
	CHECK(hv_vcpu_get_reg(vcpu, (hv_reg_t)35, &v) == HV_BAD_ARGUMENT, "hv_reg_t 35 refused");
	CHECK(hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_MIDR_EL1, &v) == HV_SUCCESS && v, "MIDR_EL1 %#llx",
	      (unsigned long long)v);
	CHECK(hv_vcpu_set_trap_debug_reg_accesses(vcpu, true) == HV_UNSUPPORTED,
	      "debug-register access traps: HV_UNSUPPORTED (KVM keeps them)");
	hv_simd_fp_uchar16_t q;
	memset(&q, 0xa5, sizeof(q));
	hv_simd_fp_uchar16_t q2;
	CHECK(hv_vcpu_set_simd_fp_reg(vcpu, HV_SIMD_FP_REG_Q7, q) == HV_SUCCESS &&
	      hv_vcpu_run(vcpu) == HV_SUCCESS && hv_vcpu_get_simd_fp_reg(vcpu, HV_SIMD_FP_REG_Q7, &q2) == HV_SUCCESS &&
	      memcmp(&q, &q2, 16) == 0, "Q7 written, through a run, read back");

	/* That run was the store. */
	uint64_t esr = exit->exception.syndrome;
	CHECK(exit->reason == HV_EXIT_REASON_EXCEPTION && (esr >> 26) == 0x24 &&
	      exit->exception.physical_address == MMIO, "store: data abort at %#llx (esr %#llx)",
	      (unsigned long long)exit->exception.physical_address, (unsigned long long)esr);
	unsigned srt = (esr >> 16) & 31;
	uint64_t data = 0, pc = 0;
	hv_vcpu_get_reg(vcpu, HV_REG_X0 + srt, &data);
	hv_vcpu_get_reg(vcpu, HV_REG_PC, &pc);
	CHECK((esr >> 6 & 1) && srt == 1 && data == 0x1234 && pc == RAM + 8,
	      "the client sees Rt x1 = %#llx at PC %#llx", (unsigned long long)data, (unsigned long long)pc);
	hv_vcpu_set_reg(vcpu, HV_REG_PC, pc + 4);

	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS, "run to the load");
	esr = exit->exception.syndrome;
	srt = (esr >> 16) & 31;
	CHECK((esr >> 26) == 0x24 && !(esr >> 6 & 1) && srt == 3 && exit->exception.physical_address == MMIO + 8,
	      "load: data abort, read into x3 (esr %#llx)", (unsigned long long)esr);
	hv_vcpu_set_reg(vcpu, HV_REG_X0 + srt, 0xfeedface);
	hv_vcpu_get_reg(vcpu, HV_REG_PC, &pc);
	hv_vcpu_set_reg(vcpu, HV_REG_PC, pc + 4);

	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS, "run to the HVC");
	esr = exit->exception.syndrome;
	CHECK((esr >> 26) == 0x16 && (esr & 0xffff) == 0x42, "hvc #0x42: EC 0x16, imm 0x42 (esr %#llx)",
	      (unsigned long long)esr);
	hv_vcpu_get_reg(vcpu, HV_REG_X3, &v);
	CHECK(v == 0xfeedface, "the guest got the client's load value (%#llx)", (unsigned long long)v);

	hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM + 0x1000);
	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS && exit->reason == HV_EXIT_REASON_VTIMER_ACTIVATED,
	      "vtimer: VTIMER_ACTIVATED (reason %u)", exit->reason);
	bool masked = false;
	CHECK(hv_vcpu_get_vtimer_mask(vcpu, &masked) == HV_SUCCESS && masked, "the exit set the mask");
	pthread_create(&t, NULL, cancel_later, NULL);
	hv_return_t r = hv_vcpu_run(vcpu);
	pthread_join(t, NULL);
	CHECK(r == HV_SUCCESS && exit->reason == HV_EXIT_REASON_CANCELED,
	      "masked: no vtimer exit; hv_vcpus_exit from another thread: CANCELED (reason %u)", exit->reason);
	hv_vcpu_set_vtimer_mask(vcpu, false);
	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS && exit->reason == HV_EXIT_REASON_VTIMER_ACTIVATED,
	      "unmasked: VTIMER_ACTIVATED again");
	/* CNTVCT_EL0 = host counter - offset, as the guest reads it. */
	uint64_t off, before, after, seen = 0;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(off));
	off /= 2; /* guest time = half the host's: no wrap to worry about */
	CHECK(hv_vcpu_set_vtimer_offset(vcpu, off) == HV_SUCCESS, "hv_vcpu_set_vtimer_offset");
	hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM + 0x2000);
	hv_vcpu_set_reg(vcpu, HV_REG_X2, MMIO);
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(before));
	r = hv_vcpu_run(vcpu);
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(after));
	hv_vcpu_get_reg(vcpu, HV_REG_X1, &seen);
	CHECK(r == HV_SUCCESS && (exit->exception.syndrome >> 26) == 0x24 && seen >= before - off &&
	      seen <= after - off, "the guest's counter is the host's minus the offset (%llu in [%llu, %llu])",
	      (unsigned long long)seen, (unsigned long long)(before - off), (unsigned long long)(after - off));
	uint64_t got = 0;
	CHECK(hv_vcpu_get_vtimer_offset(vcpu, &got) == HV_SUCCESS && got == off, "offset read back");
	uint64_t ns = 0;
	CHECK(hv_vcpu_get_exec_time(vcpu, &ns) == HV_SUCCESS && ns > 0, "exec time %llu ns",
	      (unsigned long long)ns);

	CHECK(hv_vm_unmap(RAM, 0x10000) == HV_SUCCESS, "hv_vm_unmap");
	CHECK(hv_vm_unmap(RAM, 0x10000) == HV_BAD_ARGUMENT, "unmapping it again refused");
	CHECK(hv_vcpu_destroy(vcpu) == HV_SUCCESS, "hv_vcpu_destroy");
	CHECK(hv_vm_destroy() == HV_SUCCESS, "hv_vm_destroy");
	CHECK(hv_vm_deallocate(ram, 0x10000) == HV_SUCCESS, "hv_vm_deallocate");
	return check64_done("api64");
}
