/*
 * hello: the smallest complete Hypervisor.framework program. It creates a
 * VM, maps guest RAM, sets up a real-mode vCPU through VMCS writes exactly
 * as on macOS, and emulates a serial port: the guest's message appears on
 * stdout. Only <Hypervisor/hv.h> and <Hypervisor/hv_vmx.h> are used.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char guest_serial_start[], guest_serial_end[];

#define GUEST_RAM (1u << 20)
#define LOAD_ADDR 0x1000

static int check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS) {
		fprintf(stderr, "hello: %s failed: 0x%08x\n", what, (unsigned)r);
		exit(1);
	}
	return 0;
}

/* Controls: what we want, adjusted to what the hypervisor allows. */
static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t v;
	check(hv_vmx_read_capability(cap, &v), "hv_vmx_read_capability");
	return (want | (v & 0xffffffff)) & (v >> 32);
}

static void wvmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	check(hv_vmx_vcpu_write_vmcs(vcpu, field, value), "hv_vmx_vcpu_write_vmcs");
}

static uint64_t rvmcs(hv_vcpuid_t vcpu, uint32_t field)
{
	uint64_t v;
	check(hv_vmx_vcpu_read_vmcs(vcpu, field, &v), "hv_vmx_vcpu_read_vmcs");
	return v;
}

static void real_mode(hv_vcpuid_t vcpu)
{
	static const uint32_t seg[][4] = {
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	};
	wvmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED,
		CPU_BASED_HLT | CPU_BASED_SECONDARY_CTLS));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2,
		CPU_BASED2_UNRESTRICTED));
	wvmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0));
	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
		wvmcs(vcpu, seg[i][0], 0);
		wvmcs(vcpu, seg[i][1], 0);
		wvmcs(vcpu, seg[i][2], 0xffff);
		wvmcs(vcpu, seg[i][3], i == 0 ? 0x9b : 0x93);
	}
	wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);   /* unusable */
	wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x83);        /* 16-bit busy TSS */
	wvmcs(vcpu, VMCS_GUEST_TR_LIMIT, 0xffff);
	wvmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	wvmcs(vcpu, VMCS_GUEST_GDTR_LIMIT, 0);
	wvmcs(vcpu, VMCS_GUEST_CR0, 0x20);          /* NE: VMX's fixed bit */
	wvmcs(vcpu, VMCS_GUEST_CR4, 0x2000);        /* VMXE: VMX's fixed bit */
	wvmcs(vcpu, VMCS_GUEST_RIP, LOAD_ADDR);
	wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
	wvmcs(vcpu, VMCS_GUEST_RSP, 0x8000);
}

int main(void)
{
	hv_vcpuid_t vcpu;
	void *ram;

	check(hv_vm_create(HV_VM_DEFAULT), "hv_vm_create");
	ram = valloc(GUEST_RAM);
	if (!ram)
		return 1;
	memset(ram, 0, GUEST_RAM);
	memcpy((char *)ram + LOAD_ADDR, guest_serial_start,
	       (size_t)(guest_serial_end - guest_serial_start));
	check(hv_vm_map(ram, 0, GUEST_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
	      "hv_vm_map");
	check(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create");
	real_mode(vcpu);

	for (;;) {
		check(hv_vcpu_run(vcpu), "hv_vcpu_run");
		uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON) & 0xffff;
		uint64_t rip = rvmcs(vcpu, VMCS_GUEST_RIP);
		uint64_t len = rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN);

		if (reason == VMX_REASON_HLT)
			break;
		if (reason == VMX_REASON_IRQ)
			continue;
		if (reason != VMX_REASON_IO) {
			fprintf(stderr, "hello: unexpected exit %llu at 0x%llx\n",
				(unsigned long long)reason, (unsigned long long)rip);
			return 1;
		}
		uint64_t qual = rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC);
		uint16_t port = (uint16_t)(qual >> 16);
		int in = (qual >> 3) & 1;
		uint64_t rax;
		check(hv_vcpu_read_register(vcpu, HV_X86_RAX, &rax), "read RAX");
		if (in && port == 0x3fd)        /* line status: transmitter empty */
			rax = (rax & ~0xffull) | 0x20;
		else if (!in && port == 0x3f8)  /* transmit holding register */
			putchar((int)(rax & 0xff));
		check(hv_vcpu_write_register(vcpu, HV_X86_RAX, rax), "write RAX");
		check(hv_vcpu_write_register(vcpu, HV_X86_RIP, rip + len), "write RIP");
	}
	fflush(stdout);
	check(hv_vcpu_destroy(vcpu), "hv_vcpu_destroy");
	check(hv_vm_unmap(0, GUEST_RAM), "hv_vm_unmap");
	check(hv_vm_destroy(), "hv_vm_destroy");
	free(ram);
	return 0;
}
