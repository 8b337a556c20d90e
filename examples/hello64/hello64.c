/*
 * hello64: the arm64 counterpart of examples/hello. An AArch64 guest prints
 * a message through an emulated PL011 UART (its data register UARTDR at
 * IPA 0x9000000, where QEMU's virt machine has one) and powers off with
 * PSCI SYSTEM_OFF over HVC. Written only against Apple's arm64 API
 * (<Hypervisor/Hypervisor.h>); the UART is emulated the way QEMU's hvf
 * does MMIO: decode the data abort's syndrome, take the byte from Rt,
 * step PC past the store.
 *
 * Built for arm64 as hello64 (through hvd) and hello64-direct
 * (in-process); in the arm64 lab, with hvd started:
 *   scripts/lab.sh arm64 run -- "$PWD/build-arm64/examples/hello64/hello64"
 */
#include <stdio.h>
#include <string.h>

#include <Hypervisor/Hypervisor.h>

#define RAM 0x40000000ull
#define UART 0x9000000ull         /* PL011 UARTDR */
#define PSCI_SYSTEM_OFF 0x84000008ull

static const uint32_t guest[] = {
	0xd2a12002, /*     movz x2, #0x900, lsl #16   UART */
	0x38401423, /* 1:  ldrb w3, [x1], #1          x1: the message */
	0x34000063, /*     cbz  w3, 2f */
	0x39000043, /*     strb w3, [x2]              to UARTDR */
	0x17fffffd, /*     b    1b */
	0xd2800100, /* 2:  movz x0, #0x8 */
	0xf2b08000, /*     movk x0, #0x8400, lsl #16  PSCI SYSTEM_OFF */
	0xd4000002, /*     hvc  #0 */
	0x14000000, /*     b    . */
};

static const char message[] = "Hello from an arm64 guest, through a PL011 UART at 0x9000000\n";

#define TRY(call) do { hv_return_t r_ = (call); if (r_ != HV_SUCCESS) { \
	fprintf(stderr, "hello64: %s: %#x\n", #call, (unsigned)r_); return 1; } } while (0)

int main(void)
{
	void *ram;
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;

	TRY(hv_vm_create(NULL));
	TRY(hv_vm_allocate(&ram, 0x10000, HV_ALLOCATE_DEFAULT));
	memcpy(ram, guest, sizeof(guest));
	memcpy((char *)ram + 0x1000, message, sizeof(message));
	TRY(hv_vm_map(ram, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
	TRY(hv_vcpu_create(&vcpu, &exit, NULL));
	TRY(hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM));
	TRY(hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5)); /* EL1h, interrupts masked */
	TRY(hv_vcpu_set_reg(vcpu, HV_REG_X1, RAM + 0x1000));

	for (;;) {
		TRY(hv_vcpu_run(vcpu));
		if (exit->reason != HV_EXIT_REASON_EXCEPTION) {
			fprintf(stderr, "hello64: unexpected exit reason %u\n", exit->reason);
			return 1;
		}
		uint64_t esr = exit->exception.syndrome, pc, value;
		unsigned ec = (unsigned)(esr >> 26) & 0x3f;
		if (ec == 0x24 && (esr & (1u << 24)) && (esr & (1u << 6)) &&
		    exit->exception.physical_address == UART) {
			unsigned rt = (unsigned)(esr >> 16) & 31;
			value = 0;
			if (rt != 31)
				TRY(hv_vcpu_get_reg(vcpu, HV_REG_X0 + rt, &value));
			putchar((int)(value & 0xff));
			TRY(hv_vcpu_get_reg(vcpu, HV_REG_PC, &pc));
			TRY(hv_vcpu_set_reg(vcpu, HV_REG_PC, pc + 4));
		} else if (ec == 0x16) {
			TRY(hv_vcpu_get_reg(vcpu, HV_REG_X0, &value));
			if (value == PSCI_SYSTEM_OFF)
				break;
			fprintf(stderr, "hello64: unknown HVC function %#llx\n", (unsigned long long)value);
			return 1;
		} else {
			fprintf(stderr, "hello64: unexpected exception, ESR %#llx at IPA %#llx\n",
				(unsigned long long)esr, (unsigned long long)exit->exception.physical_address);
			return 1;
		}
	}
	fflush(stdout);
	TRY(hv_vcpu_destroy(vcpu));
	TRY(hv_vm_destroy());
	return 0;
}
