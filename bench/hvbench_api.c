/*
 * hvbench-direct / hvbench-client: the Hypervisor.framework side of the
 * benchmark. This one source is linked once against libhvdirect and once
 * against libhvclient (both export the same hv_* symbols), so both
 * implementations run exactly the same client code. Only the public
 * headers are used; the vCPU is set up as examples/hello/hello.c does.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvbench.h"

static void check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS)
		hvbench_die("%s failed: 0x%08x", what, (unsigned)r);
}

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

static uint64_t rreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg)
{
	uint64_t v;
	check(hv_vcpu_read_register(vcpu, reg, &v), "hv_vcpu_read_register");
	return v;
}

static void wreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	check(hv_vcpu_write_register(vcpu, reg, value), "hv_vcpu_write_register");
}

/* Real mode at 0000:1000, as in examples/hello/hello.c. */
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
	wvmcs(vcpu, VMCS_GUEST_RIP, HVBENCH_LOAD_ADDR);
	wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
	wvmcs(vcpu, VMCS_GUEST_RSP, 0x8000);
}

/*
 * One exit round trip, as a VMM does it: run, read the exit reason,
 * qualification and instruction length, read RAX (the OUT data), step RIP
 * past the instruction. Returns RAX so the compiler keeps the read.
 */
static inline uint64_t round_trip(hv_vcpuid_t vcpu)
{
	check(hv_vcpu_run(vcpu), "hv_vcpu_run");
	uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON) & 0xffff;
	uint64_t qual = rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC);
	uint64_t len = rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN);
	uint64_t rax = rreg(vcpu, HV_X86_RAX);
	uint64_t rip = rreg(vcpu, HV_X86_RIP);
	if (reason != VMX_REASON_IO || (qual >> 16) != HVBENCH_PORT || (qual & 8) ||
	    (rax & 0xff) != HVBENCH_AL)
		hvbench_die("unexpected exit: reason %llu qual 0x%llx rax 0x%llx rip 0x%llx",
			    (unsigned long long)reason, (unsigned long long)qual,
			    (unsigned long long)rax, (unsigned long long)rip);
	wreg(vcpu, HV_X86_RIP, rip + len);
	return rax;
}

struct vm {
	hv_vcpuid_t vcpu;
	void *ram;
	size_t size;
};

/* hv_vm_create + valloc + hv_vm_map + hv_vcpu_create + setup + first
 * exit: everything "create" times. */
/* When each step of the last vm_up ended (hvbench_now_ns), for the
 * per-step lines of "create". */
enum { STEP_VM, STEP_MAP, STEP_VCPU, STEP_SETUP, STEP_RUN, NSTEPS };
static const char *const step_name[NSTEPS] = { "vm_create", "map", "vcpu_create", "setup", "first_run" };
static uint64_t step_end[NSTEPS];

static void vm_up(struct vm *vm, size_t size)
{
	check(hv_vm_create(HV_VM_DEFAULT), "hv_vm_create");
	step_end[STEP_VM] = hvbench_now_ns();
	vm->size = size;
	vm->ram = valloc(size);
	if (!vm->ram)
		hvbench_die("valloc failed");
	hvbench_load_guest(vm->ram);
	check(hv_vm_map(vm->ram, 0, size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
	      "hv_vm_map");
	step_end[STEP_MAP] = hvbench_now_ns();
	check(hv_vcpu_create(&vm->vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create");
	step_end[STEP_VCPU] = hvbench_now_ns();
	real_mode(vm->vcpu);
	step_end[STEP_SETUP] = hvbench_now_ns();
	(void)round_trip(vm->vcpu);
	step_end[STEP_RUN] = hvbench_now_ns();
}

static void vm_down(struct vm *vm)
{
	check(hv_vcpu_destroy(vm->vcpu), "hv_vcpu_destroy");
	check(hv_vm_unmap(0, vm->size), "hv_vm_unmap");
	check(hv_vm_destroy(), "hv_vm_destroy");
	free(vm->ram);
}

int main(int argc, char **argv)
{
	struct hvbench_args a;
	struct vm vm;
	volatile uint64_t sink = 0;

	hvbench_parse(argc, argv, HVBENCH_NAME, &a);
	if (a.hw_bp)
		hvbench_die("--hw-bp: only for hvbench-raw");
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (a.mode) {
	case HVBENCH_EXITS: {
		vm_up(&vm, HVBENCH_EXIT_RAM);
		for (unsigned i = 0; i < HVBENCH_WARMUP; i++)
			sink += round_trip(vm.vcpu);
		uint64_t t0 = hvbench_now_ns();
		for (unsigned long i = 0; i < a.count; i++)
			sink += round_trip(vm.vcpu);
		uint64_t t1 = hvbench_now_ns();
		printf("exit_us %.4f\n", (double)(t1 - t0) / 1e3 / (double)a.count);
		vm_down(&vm);
		break;
	}
	case HVBENCH_REGS: {
		vm_up(&vm, HVBENCH_EXIT_RAM);
		uint64_t t0 = 0, t1 = 0;
		if (a.marker)
			hvbench_marker();
		else
			t0 = hvbench_now_ns();
		for (unsigned long i = 0; i < a.count; i++) {
			uint64_t rax;
			check(hv_vcpu_read_register(vm.vcpu, HV_X86_RAX, &rax),
			      "hv_vcpu_read_register");
			/* Flip a bit of AH so every write changes the value. */
			check(hv_vcpu_write_register(vm.vcpu, HV_X86_RAX, rax ^ 0x100),
			      "hv_vcpu_write_register");
		}
		if (a.marker)
			hvbench_marker();
		else
			t1 = hvbench_now_ns();
		/* The writes reached the vCPU: the next exit carries them. */
		wreg(vm.vcpu, HV_X86_RAX, 0x1200 | HVBENCH_AL);
		if (round_trip(vm.vcpu) != (0x1200 | HVBENCH_AL))
			hvbench_die("register write did not reach the guest");
		if (!a.marker)
			printf("regs_ns %.4f\n", (double)(t1 - t0) / (double)a.count);
		vm_down(&vm);
		break;
	}
	case HVBENCH_CREATE:
		for (unsigned long i = 0; i < a.count; i++) {
			uint64_t t0 = hvbench_now_ns();
			vm_up(&vm, HVBENCH_CREATE_RAM);
			uint64_t t1 = hvbench_now_ns();
			printf("create_us %lu %.2f\n", i, (double)(t1 - t0) / 1e3);
			for (unsigned k = 0; k < NSTEPS; k++)
				printf("step_us %lu %s %.2f\n", i, step_name[k],
				       (double)(step_end[k] - (k ? step_end[k - 1] : t0)) / 1e3);
			vm_down(&vm);
		}
		break;
	}
	(void)sink;
	return 0;
}
