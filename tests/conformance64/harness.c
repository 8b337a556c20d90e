/*
 * harness.c: the arm64 conformance tests' client (harness.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"

const char *cf64_strret(hv_return_t ret)
{
	switch (ret) {
	case HV_SUCCESS: return "HV_SUCCESS";
	case HV_ERROR: return "HV_ERROR";
	case HV_BUSY: return "HV_BUSY";
	case HV_BAD_ARGUMENT: return "HV_BAD_ARGUMENT";
	case HV_ILLEGAL_GUEST_STATE: return "HV_ILLEGAL_GUEST_STATE";
	case HV_NO_RESOURCES: return "HV_NO_RESOURCES";
	case HV_NO_DEVICE: return "HV_NO_DEVICE";
	case HV_DENIED: return "HV_DENIED";
	case HV_UNSUPPORTED: return "HV_UNSUPPORTED";
	default: return "(unknown hv_return_t)";
	}
}

void cf64_vm_create(struct cf64 *vm)
{
	void *ram = NULL;

	memset(vm, 0, sizeof(*vm));
	HV_CHECK(hv_vm_create(NULL));
	HV_CHECK(hv_vm_allocate(&ram, CF64_RAM_SIZE, HV_ALLOCATE_DEFAULT));
	cr_assert_not_null(ram);
	vm->ram = ram;
	HV_CHECK(hv_vm_map(ram, CF64_RAM, CF64_RAM_SIZE,
	    HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
}

void cf64_vcpu_create(struct cf64 *vm)
{
	HV_CHECK(hv_vcpu_create(&vm->vcpu, &vm->exit, NULL));
	cr_assert_not_null(vm->exit, "hv_vcpu_create gave no exit record");
	vm->has_vcpu = true;
	cf64_wreg(vm, HV_REG_CPSR, CF64_CPSR_EL1H);
	cf64_wreg(vm, HV_REG_PC, CF64_RAM);
	cf64_wsys(vm, HV_SYS_REG_SP_EL1, CF64_STACK);
	cf64_wsys(vm, HV_SYS_REG_CPACR_EL1, CF64_CPACR_FPEN);
}

void cf64_load(struct cf64 *vm, struct cf64_guest guest)
{
	cr_assert_leq(guest.size, CF64_DATA - CF64_RAM, "guest too big");
	memcpy(vm->ram, guest.start, guest.size);
	if (vm->has_vcpu)
		cf64_wreg(vm, HV_REG_PC, CF64_RAM);
}

void cf64_start(struct cf64 *vm, struct cf64_guest guest)
{
	cf64_vm_create(vm);
	cf64_vcpu_create(vm);
	cf64_load(vm, guest);
}

void cf64_destroy(struct cf64 *vm)
{
	if (vm->has_vcpu) {
		HV_CHECK(hv_vcpu_destroy(vm->vcpu));
		vm->has_vcpu = false;
	}
	HV_CHECK(hv_vm_unmap(CF64_RAM, CF64_RAM_SIZE));
	HV_CHECK(hv_vm_destroy());
	HV_CHECK(hv_vm_deallocate(vm->ram, CF64_RAM_SIZE));
	vm->ram = NULL;
}

void *cf64_ptr(struct cf64 *vm, uint64_t ipa)
{
	cr_assert(ipa >= CF64_RAM && ipa < CF64_RAM + CF64_RAM_SIZE,
	    "IPA %#llx is not in the RAM", (unsigned long long)ipa);
	return vm->ram + (ipa - CF64_RAM);
}

uint64_t cf64_rreg(struct cf64 *vm, hv_reg_t reg)
{
	uint64_t v = 0;
	HV_CHECK(hv_vcpu_get_reg(vm->vcpu, reg, &v));
	return v;
}

void cf64_wreg(struct cf64 *vm, hv_reg_t reg, uint64_t value)
{
	HV_CHECK(hv_vcpu_set_reg(vm->vcpu, reg, value));
}

uint64_t cf64_rsys(struct cf64 *vm, hv_sys_reg_t reg)
{
	uint64_t v = 0;
	HV_CHECK(hv_vcpu_get_sys_reg(vm->vcpu, reg, &v));
	return v;
}

void cf64_wsys(struct cf64 *vm, hv_sys_reg_t reg, uint64_t value)
{
	HV_CHECK(hv_vcpu_set_sys_reg(vm->vcpu, reg, value));
}

void cf64_skip(struct cf64 *vm)
{
	cf64_wreg(vm, HV_REG_PC, cf64_rreg(vm, HV_REG_PC) + 4);
}

uint32_t cf64_run(struct cf64 *vm)
{
	HV_CHECK(hv_vcpu_run(vm->vcpu));
	return vm->exit->reason;
}

const char *cf64_exit_describe(struct cf64 *vm)
{
	static __thread char buf[160];
	const hv_vcpu_exit_t *e = vm->exit;
	uint64_t pc = 0;

	hv_vcpu_get_reg(vm->vcpu, HV_REG_PC, &pc);
	snprintf(buf, sizeof(buf), "reason %u, ESR %#llx (EC %#x), FAR %#llx, IPA %#llx, PC %#llx",
	    e->reason, (unsigned long long)e->exception.syndrome, CF64_EC(e->exception.syndrome),
	    (unsigned long long)e->exception.virtual_address,
	    (unsigned long long)e->exception.physical_address, (unsigned long long)pc);
	return buf;
}

void cf64_expect_exception(struct cf64 *vm, uint64_t esr)
{
	uint32_t reason = cf64_run(vm);

	cr_assert(reason == HV_EXIT_REASON_EXCEPTION && vm->exit->exception.syndrome == esr,
	    "expected an exception exit with ESR %#llx, got %s", (unsigned long long)esr,
	    cf64_exit_describe(vm));
}

void cf64_expect_hvc(struct cf64 *vm, uint16_t imm)
{
	cf64_expect_exception(vm, CF64_ESR_HVC(imm));
}

uint64_t cf64_esr_dabt(bool write, unsigned sas, bool sse, unsigned srt,
    bool sf, bool ar, unsigned dfsc)
{
	return (uint64_t)CF64_EC_DABT_LOW << 26 | CF64_IL | 1ull << 24 /* ISV */ |
	    (uint64_t)sas << 22 | (uint64_t)sse << 21 | (uint64_t)srt << 16 |
	    (uint64_t)sf << 15 | (uint64_t)ar << 14 | (uint64_t)write << 6 | dfsc;
}

struct canceller {
	hv_vcpu_t vcpu;
	unsigned ms;
	hv_return_t ret;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = { (time_t)(c->ms / 1000u), (long)(c->ms % 1000u) * 1000000l };

	nanosleep(&ts, NULL);
	c->ret = hv_vcpus_exit(&c->vcpu, 1);
	return NULL;
}

uint32_t cf64_run_with_cancel(struct cf64 *vm, unsigned ms)
{
	struct canceller c = { vm->vcpu, ms, HV_ERROR };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
	hv_return_t ret = hv_vcpu_run(vm->vcpu);
	pthread_join(t, NULL);
	HV_CHECK(c.ret);
	HV_EXPECT(HV_SUCCESS, ret);
	return vm->exit->reason;
}
