/*
 * MMIO data aborts from a guest running with its MMU on, on real KVM/arm64
 * in the arm64 lab; built twice: in-process (mmu64_direct) and through hvd
 * (mmu64_hvd). Written only against <Hypervisor/Hypervisor.h>.
 *
 * KVM reports an MMIO access without its syndrome; the backend rebuilds it
 * from the instruction at PC, which with the MMU on is a virtual address:
 * it must walk the guest's own tables to find it. The guest here runs from
 * VA 0x40010000, an alias (a second 1 GiB block) of IPA 0x10000, so an
 * implementation that took PC for an IPA finds no instruction and reports
 * ISV = 0. Tables: 4K granule, T0SZ 25 (39-bit VA, level-1 blocks),
 * TTBR1 walks disabled. Plain C: `ok`/`FAIL` lines, non-zero exit on
 * failures.
 */
#include <stdio.h>
#include <string.h>

#include <Hypervisor/Hypervisor.h>

#include "check64.h"

#define RAM 0x10000ull
#define TABLES 0x20000ull
#define ALIAS 0x40000000ull /* VA of IPA 0 through L1 entry 1 */
#define MMIO 0x9000000ull

int main(void)
{
	static const uint32_t code[] = {
		0xf9000041, /* str x1, [x2] */
		0xb9400843, /* ldr w3, [x2, #8] */
		0xd4000002, /* hvc #0 */
		0x14000000, /* b . */
	};
	uint8_t *ram;
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;
	uint64_t v = 0;

	CHECK(hv_vm_create(NULL) == HV_SUCCESS, "hv_vm_create");
	CHECK(hv_vm_allocate((void **)&ram, 0x20000, HV_ALLOCATE_DEFAULT) == HV_SUCCESS, "hv_vm_allocate");
	memcpy(ram, code, sizeof(code));
	/* L1 table at TABLES: entries 0 and 1 both 1 GiB blocks onto IPA 0,
	 * AF, inner shareable, MAIR attribute 0. */
	uint64_t *l1 = (uint64_t *)(ram + (TABLES - RAM));
	l1[0] = 0x0 | (1u << 10) | (3u << 8) | 1u;
	l1[1] = 0x0 | (1u << 10) | (3u << 8) | 1u;
	CHECK(hv_vm_map(ram, RAM, 0x20000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) == HV_SUCCESS,
	      "hv_vm_map");
	CHECK(hv_vcpu_create(&vcpu, &exit, NULL) == HV_SUCCESS, "hv_vcpu_create");

	/* The MMU on from the first instruction. */
	CHECK(hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_MAIR_EL1, 0xff) == HV_SUCCESS &&
	      hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_TCR_EL1, 25 | (25ull << 16) | (2ull << 30) | (1ull << 23)) ==
		      HV_SUCCESS &&
	      hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_TTBR0_EL1, TABLES) == HV_SUCCESS &&
	      hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_SCTLR_EL1, 0x30d00801) == HV_SUCCESS,
	      "MAIR, TCR, TTBR0 and SCTLR (M) set");
	hv_vcpu_set_reg(vcpu, HV_REG_PC, ALIAS + RAM);
	hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5);
	hv_vcpu_set_reg(vcpu, HV_REG_X1, 0x1234);
	hv_vcpu_set_reg(vcpu, HV_REG_X2, MMIO);

	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS && exit->reason == HV_EXIT_REASON_EXCEPTION, "run to the store");
	CHECK(exit->exception.syndrome == 0x93c18047ull,
	      "store with the MMU on: ESR %#llx (0x93c18047: ISV, SAS 3, SRT 1, SF, WnR, DFSC 0x07)",
	      (unsigned long long)exit->exception.syndrome);
	CHECK(exit->exception.physical_address == MMIO && exit->exception.virtual_address == MMIO,
	      "IPA %#llx, VA %#llx", (unsigned long long)exit->exception.physical_address,
	      (unsigned long long)exit->exception.virtual_address);
	hv_vcpu_get_reg(vcpu, HV_REG_PC, &v);
	CHECK(v == ALIAS + RAM, "PC on the store, at its virtual address (%#llx)", (unsigned long long)v);
	hv_vcpu_set_reg(vcpu, HV_REG_PC, v + 4);

	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS && exit->reason == HV_EXIT_REASON_EXCEPTION, "run to the load");
	CHECK(exit->exception.syndrome == 0x93830007ull,
	      "load with the MMU on: ESR %#llx (0x93830007: ISV, SAS 2, SRT 3, DFSC 0x07)",
	      (unsigned long long)exit->exception.syndrome);
	CHECK(exit->exception.virtual_address == MMIO + 8, "VA %#llx",
	      (unsigned long long)exit->exception.virtual_address);
	hv_vcpu_set_reg(vcpu, HV_REG_X3, 0xabcd);
	hv_vcpu_get_reg(vcpu, HV_REG_PC, &v);
	hv_vcpu_set_reg(vcpu, HV_REG_PC, v + 4);

	CHECK(hv_vcpu_run(vcpu) == HV_SUCCESS && exit->reason == HV_EXIT_REASON_EXCEPTION &&
	      exit->exception.syndrome == 0x5a000000ull, "then the HVC (%#llx)",
	      (unsigned long long)exit->exception.syndrome);
	CHECK(hv_vcpu_get_reg(vcpu, HV_REG_X3, &v) == HV_SUCCESS && v == 0xabcd,
	      "the load's value is the client's (%#llx)", (unsigned long long)v);

	return check64_done("mmu64");
}
