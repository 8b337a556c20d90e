/*
 * sys_client.c: see sys_client.h. The real-mode setup is the conformance
 * harness's (tests/conformance/harness.c), without its assertions.
 */
#include "sys_client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* A correct hvd returns a handful of spurious VMX_REASON_IRQ exits at
 * most; a client that sees this many in a row gives up. */
#define SYS_MAX_SPURIOUS 1000

int sys_fail(int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "client %d: %s (step %d)\n", (int)getpid(), msg, code);
	return code;
}

/* Evaluates an hv_* call and returns step code `code` from the enclosing
 * function if it fails. */
#define TRY(code, call)                                                       \
	do {                                                                  \
		hv_return_t try_ret_ = (call);                                \
		if (try_ret_ != HV_SUCCESS)                                   \
			return sys_fail((code), "%s returned %#x", #call,     \
			    (unsigned)try_ret_);                              \
	} while (0)

static uint64_t cap2ctrl(uint64_t cap, uint64_t want)
{
	return (want | (cap & 0xffffffffull)) & (cap >> 32);
}

static int wvmcs(struct sys_vm *vm, uint32_t field, uint64_t value)
{
	TRY(20, hv_vmx_vcpu_write_vmcs(vm->vcpu, field, value));
	return 0;
}

/* Selector, base, limit and access rights of each segment register. */
static const uint32_t segs[][4] = {
	{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
	{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
	{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
	{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
	{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
};

static int setup_real16(struct sys_vm *vm)
{
	const struct { uint32_t field; uint64_t value; } rest[] = {
		{ VMCS_GUEST_LDTR, 0 },
		{ VMCS_GUEST_LDTR_BASE, 0 },
		{ VMCS_GUEST_LDTR_LIMIT, 0 },
		{ VMCS_GUEST_LDTR_AR, 0x10000 },       /* unusable */
		{ VMCS_GUEST_TR, 0 },
		{ VMCS_GUEST_TR_BASE, 0 },
		{ VMCS_GUEST_TR_LIMIT, 0 },
		{ VMCS_GUEST_TR_AR, 0x83 },            /* 16-bit busy TSS */
		{ VMCS_GUEST_GDTR_BASE, 0 },
		{ VMCS_GUEST_GDTR_LIMIT, 0 },
		{ VMCS_GUEST_IDTR_BASE, 0 },
		{ VMCS_GUEST_IDTR_LIMIT, 0x3ff },
		{ VMCS_GUEST_CR0, 0x30 },              /* NE | ET */
		{ VMCS_GUEST_CR3, 0 },
		{ VMCS_GUEST_CR4, 0x2000 },            /* VMXE */
		{ VMCS_GUEST_IA32_EFER, 0 },
		{ VMCS_GUEST_RFLAGS, 0x2 },
		{ VMCS_GUEST_RSP, SYS_STACK },
		{ VMCS_GUEST_RIP, SYS_CODE },
		{ VMCS_GUEST_DR7, 0x400 },
	};
	int r;

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		if ((r = wvmcs(vm, segs[i][0], 0)) || (r = wvmcs(vm, segs[i][1], 0)) ||
		    (r = wvmcs(vm, segs[i][2], 0xffff)) ||
		    (r = wvmcs(vm, segs[i][3], segs[i][0] == VMCS_GUEST_CS ? 0x9b : 0x93)))
			return r;
	}
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		if ((r = wvmcs(vm, rest[i].field, rest[i].value)))
			return r;
	return 0;
}

/* xhyve's controls: HLT and I/O exits, an unrestricted guest. */
static int setup_controls(struct sys_vm *vm)
{
	uint64_t pin, proc, proc2, entry;
	int r;

	TRY(10, hv_vmx_read_capability(HV_VMX_CAP_PINBASED, &pin));
	TRY(10, hv_vmx_read_capability(HV_VMX_CAP_PROCBASED, &proc));
	TRY(10, hv_vmx_read_capability(HV_VMX_CAP_PROCBASED2, &proc2));
	TRY(10, hv_vmx_read_capability(HV_VMX_CAP_ENTRY, &entry));
	if ((r = wvmcs(vm, VMCS_CTRL_PIN_BASED, cap2ctrl(pin, 0))) ||
	    (r = wvmcs(vm, VMCS_CTRL_CPU_BASED, cap2ctrl(proc, CPU_BASED_HLT |
	        CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS | CPU_BASED_SECONDARY_CTLS))) ||
	    (r = wvmcs(vm, VMCS_CTRL_CPU_BASED2, cap2ctrl(proc2, CPU_BASED2_UNRESTRICTED))) ||
	    (r = wvmcs(vm, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(entry, VMENTRY_LOAD_EFER))) ||
	    (r = wvmcs(vm, VMCS_CTRL_EXC_BITMAP, 0)) ||
	    (r = wvmcs(vm, VMCS_CTRL_CR0_MASK, 0x60000000)) ||
	    (r = wvmcs(vm, VMCS_CTRL_CR0_SHADOW, 0)) ||
	    (r = wvmcs(vm, VMCS_CTRL_CR4_MASK, 0)) ||
	    (r = wvmcs(vm, VMCS_CTRL_CR4_SHADOW, 0)))
		return r;
	return 0;
}

int sys_vm_protected32(struct sys_vm *vm)
{
	/* Null, code 0x08, data 0x10, busy TSS 0x18: what the segment state
	 * below says, for anything that reads the table. */
	const uint64_t gdt[] = {
		0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull,
		0x00008b0000000067ull | ((uint64_t)SYS_TSS << 16),
	};
	const struct { uint32_t field; uint64_t value; } rest[] = {
		{ VMCS_GUEST_TR, 0x18 },
		{ VMCS_GUEST_TR_BASE, SYS_TSS },
		{ VMCS_GUEST_TR_LIMIT, 0x67 },
		{ VMCS_GUEST_TR_AR, 0x8b },            /* 32-bit busy TSS */
		{ VMCS_GUEST_GDTR_BASE, SYS_GDT },
		{ VMCS_GUEST_GDTR_LIMIT, sizeof(gdt) - 1 },
		{ VMCS_GUEST_IDTR_BASE, 0 },
		{ VMCS_GUEST_IDTR_LIMIT, 0 },          /* a fault ends in a triple fault */
		{ VMCS_GUEST_CR0, 0x31 },              /* NE | ET | PE */
	};
	int r;

	memcpy(vm->ram + SYS_GDT, gdt, sizeof(gdt));
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		bool cs = segs[i][0] == VMCS_GUEST_CS;
		if ((r = wvmcs(vm, segs[i][0], cs ? 0x08 : 0x10)) ||
		    (r = wvmcs(vm, segs[i][1], 0)) || (r = wvmcs(vm, segs[i][2], 0xffffffff)) ||
		    (r = wvmcs(vm, segs[i][3], cs ? 0xc09b : 0xc093)))
			return r;
	}
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		if ((r = wvmcs(vm, rest[i].field, rest[i].value)))
			return r;
	return 0;
}

int sys_vm_reload(struct sys_vm *vm, const uint8_t *image, size_t size)
{
	if (size > SYS_DATA - SYS_CODE)
		return sys_fail(30, "guest image of %zu bytes is too big", size);
	memcpy(vm->ram + SYS_CODE, image, size);
	TRY(31, hv_vcpu_write_register(vm->vcpu, HV_X86_RIP, SYS_CODE));
	return 0;
}

int sys_vm_start_on(struct sys_vm *vm, uint8_t *ram, const uint8_t *image, size_t size)
{
	TRY(1, hv_vm_create(HV_VM_DEFAULT));
	return sys_vm_attach(vm, ram, image, size);
}

int sys_vm_attach(struct sys_vm *vm, uint8_t *ram, const uint8_t *image, size_t size)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->ram = ram;
	TRY(3, hv_vm_map(vm->ram, 0, SYS_RAM_SIZE,
	    HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
	TRY(4, hv_vcpu_create(&vm->vcpu, HV_VCPU_DEFAULT));
	if ((r = setup_controls(vm)) || (r = setup_real16(vm)))
		return r;
	return sys_vm_reload(vm, image, size);
}

int sys_vm_start(struct sys_vm *vm, const uint8_t *image, size_t size)
{
	/* Private anonymous memory, as valloc() gives an Apple client. */
	uint8_t *ram = mmap(NULL, SYS_RAM_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r;

	if (ram == MAP_FAILED)
		return sys_fail(2, "mmap of guest RAM failed");
	r = sys_vm_start_on(vm, ram, image, size);
	vm->own_ram = true;
	return r;
}

int sys_vm_end(struct sys_vm *vm)
{
	TRY(40, hv_vcpu_destroy(vm->vcpu));
	TRY(41, hv_vm_unmap(0, SYS_RAM_SIZE));
	TRY(42, hv_vm_destroy());
	if (vm->own_ram)
		munmap(vm->ram, SYS_RAM_SIZE);
	vm->ram = NULL;
	return 0;
}

hv_return_t sys_run(struct sys_vm *vm, uint32_t *reason)
{
	for (int i = 0; i < SYS_MAX_SPURIOUS; i++) {
		uint64_t r = 0;
		hv_return_t ret = hv_vcpu_run(vm->vcpu);

		if (ret != HV_SUCCESS)
			return ret;
		ret = hv_vmx_vcpu_read_vmcs(vm->vcpu, VMCS_RO_EXIT_REASON, &r);
		if (ret != HV_SUCCESS)
			return ret;
		if ((r & 0xffff) != VMX_REASON_IRQ || (r >> 31)) {
			*reason = (uint32_t)r & 0xffff;
			return HV_SUCCESS;
		}
	}
	*reason = VMX_REASON_IRQ;
	return HV_SUCCESS;
}

int sys_lcg_check(struct sys_vm *vm, uint32_t seed, unsigned steps)
{
	uint64_t rax, qual, len, rip;
	uint32_t reason, x = seed, stored;

	TRY(50, hv_vcpu_write_register(vm->vcpu, HV_X86_RBX, seed));
	TRY(50, hv_vcpu_write_register(vm->vcpu, HV_X86_RCX, steps));
	for (unsigned i = 0; i < steps; i++) {
		x = sys_lcg_next(x);
		TRY(51, sys_run(vm, &reason));
		if (reason != VMX_REASON_IO)
			return sys_fail(52, "step %u: exit reason %u, expected an I/O exit",
			    i, reason);
		TRY(53, hv_vmx_vcpu_read_vmcs(vm->vcpu, VMCS_RO_EXIT_QUALIFIC, &qual));
		if ((qual >> 16) != SYS_PORT_LCG)
			return sys_fail(54, "step %u: OUT to port %#" PRIx64, i, qual >> 16);
		TRY(55, hv_vcpu_read_register(vm->vcpu, HV_X86_RAX, &rax));
		if ((uint32_t)rax != x)
			return sys_fail(56, "step %u: guest computed %#x, expected %#x", i,
			    (unsigned)(uint32_t)rax, (unsigned)x);
		TRY(57, hv_vmx_vcpu_read_vmcs(vm->vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len));
		TRY(57, hv_vcpu_read_register(vm->vcpu, HV_X86_RIP, &rip));
		TRY(57, hv_vcpu_write_register(vm->vcpu, HV_X86_RIP, rip + len));
	}
	TRY(58, sys_run(vm, &reason));
	if (reason != VMX_REASON_HLT)
		return sys_fail(59, "exit reason %u at the end, expected HLT", reason);
	memcpy(&stored, vm->ram + SYS_DATA, sizeof(stored));
	if (stored != x)
		return sys_fail(60, "guest stored %#x in RAM, expected %#x", (unsigned)stored,
		    (unsigned)x);
	return 0;
}

int sys_peek_run(struct sys_vm *vm, uint32_t *value)
{
	uint64_t rax, qual;
	uint32_t reason;

	TRY(70, sys_run(vm, &reason));
	if (reason != VMX_REASON_IO)
		return sys_fail(71, "exit reason %u, expected the OUT of sys_peek", reason);
	TRY(72, hv_vmx_vcpu_read_vmcs(vm->vcpu, VMCS_RO_EXIT_QUALIFIC, &qual));
	if ((qual >> 16) != SYS_PORT_PEEK)
		return sys_fail(73, "OUT to port %#" PRIx64 ", expected sys_peek's", qual >> 16);
	TRY(74, hv_vcpu_read_register(vm->vcpu, HV_X86_RAX, &rax));
	*value = (uint32_t)rax;
	return 0;
}

int sys_client_lcg(uint32_t seed, unsigned rounds, unsigned steps)
{
	struct sys_vm vm;
	int r;

	if ((r = sys_vm_start(&vm, SYS_GUEST(sys_lcg))))
		return r;
	for (unsigned i = 0; i < rounds; i++) {
		if ((r = sys_vm_reload(&vm, SYS_GUEST(sys_lcg))) ||
		    (r = sys_lcg_check(&vm, seed + i * 7919u, steps)))
			return r;
	}
	return sys_vm_end(&vm);
}

pid_t sys_spawn(int (*fn)(void *), void *arg)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0) {
		/* A client left behind by a failed test goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(99);
		_exit(fn(arg));
	}
	return pid;
}
