/*
 * harness.c: the conformance suite's Hypervisor.framework client.
 *
 * See harness.h. Only hv_* calls reach the hypervisor; everything else is
 * plain memory the client owns, as on macOS.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* A client gives up re-running after this many spurious VMX_REASON_IRQ
 * returns in a row; a correct backend produces a handful at most. */
#define CF_MAX_SPURIOUS 1000

/* Probe guest commands (guests/probe32.asm). */
#define PROBE_READ 1
#define PROBE_WRITE 2

/* LABELS entries of the probe guests. */
enum { PROBE_REQUEST, PROBE_READ_INSN, PROBE_WRITE_INSN, PROBE_REPORT };

uint64_t cf_cap2ctrl(uint64_t cap, uint64_t want)
{
	return (want | (cap & 0xffffffffull)) & (cap >> 32);
}

const char *cf_strret(hv_return_t ret)
{
	switch (ret) {
	case HV_SUCCESS: return "HV_SUCCESS";
	case HV_ERROR: return "HV_ERROR";
	case HV_BUSY: return "HV_BUSY";
	case HV_BAD_ARGUMENT: return "HV_BAD_ARGUMENT";
	case HV_NO_RESOURCES: return "HV_NO_RESOURCES";
	case HV_NO_DEVICE: return "HV_NO_DEVICE";
	case HV_DENIED: return "HV_DENIED";
	case HV_FAULT: return "HV_FAULT";
	case HV_UNSUPPORTED: return "HV_UNSUPPORTED";
	default: return "(unknown hv_return_t)";
	}
}

uint64_t cf_rvmcs(struct cf_vm *vm, uint32_t field)
{
	uint64_t value = 0;
	hv_return_t ret = hv_vmx_vcpu_read_vmcs(vm->vcpu, field, &value);

	cr_assert_eq(ret, HV_SUCCESS, "reading VMCS field %#x: %s", field,
	    cf_strret(ret));
	return value;
}

void cf_wvmcs(struct cf_vm *vm, uint32_t field, uint64_t value)
{
	hv_return_t ret = hv_vmx_vcpu_write_vmcs(vm->vcpu, field, value);

	cr_assert_eq(ret, HV_SUCCESS, "writing %#" PRIx64 " to VMCS field %#x: %s",
	    value, field, cf_strret(ret));
}

uint64_t cf_rreg(struct cf_vm *vm, hv_x86_reg_t reg)
{
	uint64_t value = 0;
	hv_return_t ret = hv_vcpu_read_register(vm->vcpu, reg, &value);

	cr_assert_eq(ret, HV_SUCCESS, "reading register %d: %s", (int)reg,
	    cf_strret(ret));
	return value;
}

void cf_wreg(struct cf_vm *vm, hv_x86_reg_t reg, uint64_t value)
{
	hv_return_t ret = hv_vcpu_write_register(vm->vcpu, reg, value);

	cr_assert_eq(ret, HV_SUCCESS, "writing %#" PRIx64 " to register %d: %s",
	    value, (int)reg, cf_strret(ret));
}

void cf_vm_create(struct cf_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	/* Private anonymous memory, as valloc() gives an Apple client. */
	vm->ram = mmap(NULL, CF_RAM_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(vm->ram, MAP_FAILED, "mmap of guest RAM failed");
	HV_CHECK(hv_vm_map(vm->ram, 0, CF_RAM_SIZE,
	    HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
}

static void put_desc(struct cf_vm *vm, unsigned sel, uint64_t desc)
{
	memcpy(vm->ram + CF_GDT + sel, &desc, sizeof(desc));
}

/* GDT entries matching the segment state below, so that anything the
 * guest does with selectors (IRET, interrupt delivery) finds them. */
static void write_gdt(struct cf_vm *vm)
{
	put_desc(vm, 0, 0);
	put_desc(vm, CF_SEL_CODE32, 0x00cf9b000000ffffull);
	put_desc(vm, CF_SEL_DATA, 0x00cf93000000ffffull);
	put_desc(vm, CF_SEL_CODE64, 0x00af9b000000ffffull);
	/* Busy TSS at CF_TSS, limit 0x67; 16 bytes so it also suits long mode. */
	put_desc(vm, CF_SEL_TSS, 0x00008b0000000067ull | ((uint64_t)CF_TSS << 16));
	put_desc(vm, CF_SEL_TSS + 8, 0);
}

/* Identity map of the first GiB with 2 MiB pages. RAM ends far below, so
 * guest accesses above CF_RAM_SIZE reach unmapped guest-physical memory. */
static void write_page_tables(struct cf_vm *vm)
{
	uint64_t *pml4 = (uint64_t *)(vm->ram + CF_PML4);
	uint64_t *pdpt = (uint64_t *)(vm->ram + CF_PML4 + CF_PAGE);
	uint64_t *pd = (uint64_t *)(vm->ram + CF_PML4 + 2 * CF_PAGE);

	memset(pml4, 0, 3 * CF_PAGE);
	pml4[0] = (CF_PML4 + CF_PAGE) | 0x3;
	pdpt[0] = (CF_PML4 + 2 * CF_PAGE) | 0x3;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB */
}

struct seg_fields {
	uint32_t sel, base, limit, ar;
};

static const struct seg_fields segs[] = {
	{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
	{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
	{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
	{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
	{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
};

static void set_seg(struct cf_vm *vm, const struct seg_fields *f, uint64_t sel,
    uint64_t base, uint64_t limit, uint64_t ar)
{
	cf_wvmcs(vm, f->sel, sel);
	cf_wvmcs(vm, f->base, base);
	cf_wvmcs(vm, f->limit, limit);
	cf_wvmcs(vm, f->ar, ar);
}

static void setup_controls(struct cf_vm *vm, enum cf_mode mode)
{
	uint64_t pin, proc, proc2, entry;
	uint64_t want_entry = VMENTRY_LOAD_EFER;

	HV_CHECK(hv_vmx_read_capability(HV_VMX_CAP_PINBASED, &pin));
	HV_CHECK(hv_vmx_read_capability(HV_VMX_CAP_PROCBASED, &proc));
	HV_CHECK(hv_vmx_read_capability(HV_VMX_CAP_PROCBASED2, &proc2));
	HV_CHECK(hv_vmx_read_capability(HV_VMX_CAP_ENTRY, &entry));
	if (mode == CF_LONG64)
		want_entry |= VMENTRY_GUEST_IA32E;

	/* What xhyve asks for: HLT and I/O exits, MSR bitmaps (exits for
	 * every MSR not made native), and an unrestricted guest for real
	 * mode. */
	cf_wvmcs(vm, VMCS_CTRL_PIN_BASED, cf_cap2ctrl(pin, 0));
	cf_wvmcs(vm, VMCS_CTRL_CPU_BASED, cf_cap2ctrl(proc,
	    CPU_BASED_HLT | CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS |
	    CPU_BASED_SECONDARY_CTLS));
	cf_wvmcs(vm, VMCS_CTRL_CPU_BASED2, cf_cap2ctrl(proc2,
	    CPU_BASED2_UNRESTRICTED));
	cf_wvmcs(vm, VMCS_CTRL_VMENTRY_CONTROLS, cf_cap2ctrl(entry, want_entry));
	cf_wvmcs(vm, VMCS_CTRL_EXC_BITMAP, 0);
	/* hvdos's CR0 handling: the guest may not change CD/NW. */
	cf_wvmcs(vm, VMCS_CTRL_CR0_MASK, 0x60000000);
	cf_wvmcs(vm, VMCS_CTRL_CR0_SHADOW, 0);
	cf_wvmcs(vm, VMCS_CTRL_CR4_MASK, 0);
	cf_wvmcs(vm, VMCS_CTRL_CR4_SHADOW, 0);
}

static void setup_real16(struct cf_vm *vm)
{
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		set_seg(vm, &segs[i], 0, 0, 0xffff,
		    segs[i].sel == VMCS_GUEST_CS ? 0x9b : 0x93);
	cf_wvmcs(vm, VMCS_GUEST_LDTR, 0);
	cf_wvmcs(vm, VMCS_GUEST_LDTR_BASE, 0);
	cf_wvmcs(vm, VMCS_GUEST_LDTR_LIMIT, 0);
	cf_wvmcs(vm, VMCS_GUEST_LDTR_AR, 0x10000); /* unusable */
	cf_wvmcs(vm, VMCS_GUEST_TR, 0);
	cf_wvmcs(vm, VMCS_GUEST_TR_BASE, 0);
	cf_wvmcs(vm, VMCS_GUEST_TR_LIMIT, 0);
	cf_wvmcs(vm, VMCS_GUEST_TR_AR, 0x83); /* 16-bit busy TSS */
	cf_wvmcs(vm, VMCS_GUEST_GDTR_BASE, 0);
	cf_wvmcs(vm, VMCS_GUEST_GDTR_LIMIT, 0);
	/* The real-mode IVT at 0 covering all 256 vectors. */
	cf_wvmcs(vm, VMCS_GUEST_IDTR_BASE, 0);
	cf_wvmcs(vm, VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	cf_wvmcs(vm, VMCS_GUEST_CR0, CF_CR0_NE | CF_CR0_ET);
	cf_wvmcs(vm, VMCS_GUEST_CR3, 0);
	cf_wvmcs(vm, VMCS_GUEST_CR4, CF_CR4_VMXE);
	cf_wvmcs(vm, VMCS_GUEST_IA32_EFER, 0);
}

static void setup_protected(struct cf_vm *vm, enum cf_mode mode)
{
	bool lm = mode == CF_LONG64;

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		if (segs[i].sel == VMCS_GUEST_CS)
			set_seg(vm, &segs[i], lm ? CF_SEL_CODE64 : CF_SEL_CODE32,
			    0, 0xffffffff, lm ? 0xa09b : 0xc09b);
		else
			set_seg(vm, &segs[i], CF_SEL_DATA, 0, 0xffffffff, 0xc093);
	}
	cf_wvmcs(vm, VMCS_GUEST_LDTR, 0);
	cf_wvmcs(vm, VMCS_GUEST_LDTR_BASE, 0);
	cf_wvmcs(vm, VMCS_GUEST_LDTR_LIMIT, 0);
	cf_wvmcs(vm, VMCS_GUEST_LDTR_AR, 0x10000);
	cf_wvmcs(vm, VMCS_GUEST_TR, CF_SEL_TSS);
	cf_wvmcs(vm, VMCS_GUEST_TR_BASE, CF_TSS);
	cf_wvmcs(vm, VMCS_GUEST_TR_LIMIT, 0x67);
	cf_wvmcs(vm, VMCS_GUEST_TR_AR, 0x8b); /* 32/64-bit busy TSS */
	cf_wvmcs(vm, VMCS_GUEST_GDTR_BASE, CF_GDT);
	cf_wvmcs(vm, VMCS_GUEST_GDTR_LIMIT, CF_SEL_TSS + 15);
	/* No IDT: an exception the guest does not expect ends in a triple
	 * fault instead of running off into zeroed memory. */
	cf_wvmcs(vm, VMCS_GUEST_IDTR_BASE, 0);
	cf_wvmcs(vm, VMCS_GUEST_IDTR_LIMIT, 0);
	if (lm) {
		cf_wvmcs(vm, VMCS_GUEST_CR0,
		    CF_CR0_PG | CF_CR0_NE | CF_CR0_ET | CF_CR0_PE);
		cf_wvmcs(vm, VMCS_GUEST_CR3, CF_PML4);
		cf_wvmcs(vm, VMCS_GUEST_CR4, CF_CR4_VMXE | CF_CR4_PAE);
		cf_wvmcs(vm, VMCS_GUEST_IA32_EFER, CF_EFER_LME | CF_EFER_LMA);
	} else {
		cf_wvmcs(vm, VMCS_GUEST_CR0, CF_CR0_NE | CF_CR0_ET | CF_CR0_PE);
		cf_wvmcs(vm, VMCS_GUEST_CR3, 0);
		cf_wvmcs(vm, VMCS_GUEST_CR4, CF_CR4_VMXE);
		cf_wvmcs(vm, VMCS_GUEST_IA32_EFER, 0);
	}
}

void cf_vcpu_setup(struct cf_vm *vm, enum cf_mode mode)
{
	vm->mode = mode;
	setup_controls(vm, mode);
	if (mode == CF_REAL16) {
		setup_real16(vm);
	} else {
		write_gdt(vm);
		if (mode == CF_LONG64)
			write_page_tables(vm);
		setup_protected(vm, mode);
	}
	cf_wvmcs(vm, VMCS_GUEST_RFLAGS, 0x2);
	cf_wvmcs(vm, VMCS_GUEST_RSP, CF_STACK);
	cf_wvmcs(vm, VMCS_GUEST_RIP, CF_CODE);
	cf_wvmcs(vm, VMCS_GUEST_DR7, 0x400);
}

void cf_vcpu_create(struct cf_vm *vm, enum cf_mode mode)
{
	HV_CHECK(hv_vcpu_create(&vm->vcpu, HV_VCPU_DEFAULT));
	vm->has_vcpu = true;
	cf_vcpu_setup(vm, mode);
}

void cf_load(struct cf_vm *vm, const uint8_t *image, size_t size)
{
	cr_assert_leq(size, (size_t)(CF_DATA - CF_CODE), "guest image too big");
	memcpy(vm->ram + CF_CODE, image, size);
	cf_wreg(vm, HV_X86_RIP, CF_CODE);
}

void cf_start(struct cf_vm *vm, enum cf_mode mode, const uint8_t *image,
    size_t size)
{
	cf_vm_create(vm);
	cf_vcpu_create(vm, mode);
	cf_load(vm, image, size);
}

void cf_destroy(struct cf_vm *vm)
{
	if (vm->has_vcpu)
		HV_CHECK(hv_vcpu_destroy(vm->vcpu));
	vm->has_vcpu = false;
	HV_CHECK(hv_vm_unmap(0, CF_RAM_SIZE));
	HV_CHECK(hv_vm_destroy());
	munmap(vm->ram, CF_RAM_SIZE);
	vm->ram = NULL;
}

uint64_t cf_label(struct cf_vm *vm, unsigned n)
{
	uint32_t addr;

	memcpy(&addr, vm->ram + CF_CODE + 4 + 4 * n, sizeof(addr));
	return addr;
}

uint32_t cf_run_raw(struct cf_vm *vm)
{
	HV_CHECK(hv_vcpu_run(vm->vcpu));
	return (uint32_t)cf_rvmcs(vm, VMCS_RO_EXIT_REASON);
}

uint32_t cf_run(struct cf_vm *vm)
{
	for (int i = 0; i < CF_MAX_SPURIOUS; i++) {
		uint32_t reason = cf_run_raw(vm);

		if ((reason & 0xffff) != VMX_REASON_IRQ || (reason >> 31))
			return reason & 0xffff;
	}
	cr_assert_fail("hv_vcpu_run returned VMX_REASON_IRQ %d times in a row",
	    CF_MAX_SPURIOUS);
	return 0;
}

void cf_exit_get(struct cf_vm *vm, struct cf_exit *exit)
{
	exit->reason = (uint32_t)cf_rvmcs(vm, VMCS_RO_EXIT_REASON);
	exit->qual = cf_rvmcs(vm, VMCS_RO_EXIT_QUALIFIC);
	exit->rip = cf_rvmcs(vm, VMCS_GUEST_RIP);
	exit->len = cf_rvmcs(vm, VMCS_RO_VMEXIT_INSTR_LEN);
	exit->gpa = cf_rvmcs(vm, VMCS_GUEST_PHYSICAL_ADDRESS);
	exit->idt_info = cf_rvmcs(vm, VMCS_RO_IDT_VECTOR_INFO);
}

const char *cf_exit_describe(struct cf_vm *vm)
{
	static char buf[256];
	struct cf_exit e;

	cf_exit_get(vm, &e);
	snprintf(buf, sizeof(buf),
	    "exit reason %#x, qualification %#" PRIx64 ", RIP %#" PRIx64
	    ", length %" PRIu64 ", GPA %#" PRIx64 ", IDT-vectoring %#" PRIx64,
	    e.reason, e.qual, e.rip, e.len, e.gpa, e.idt_info);
	return buf;
}

void cf_advance(struct cf_vm *vm, uint64_t n)
{
	cf_wreg(vm, HV_X86_RIP, cf_rreg(vm, HV_X86_RIP) + n);
}

void cf_skip(struct cf_vm *vm)
{
	cf_advance(vm, cf_rvmcs(vm, VMCS_RO_VMEXIT_INSTR_LEN));
}

void cf_expect_exit(struct cf_vm *vm, uint32_t reason)
{
	uint32_t got = cf_run(vm);

	cr_assert_eq(got, reason, "expected exit reason %u, got %s", reason,
	    cf_exit_describe(vm));
}

void cf_expect_hlt(struct cf_vm *vm, unsigned label)
{
	cf_expect_exit(vm, VMX_REASON_HLT);
	cr_assert_eq(cf_rreg(vm, HV_X86_RIP), cf_label(vm, label),
	    "HLT exit at the wrong place: %s (expected RIP %#" PRIx64 ")",
	    cf_exit_describe(vm), cf_label(vm, label));
	cr_assert_eq(cf_rvmcs(vm, VMCS_RO_VMEXIT_INSTR_LEN), 1,
	    "HLT exit length: %s", cf_exit_describe(vm));
}

void cf_check_io(struct cf_vm *vm, int label, uint16_t port, unsigned size,
    bool in, bool imm, unsigned len)
{
	uint64_t want = CF_IOQ(port, size, in, imm);

	cr_assert_eq(cf_rvmcs(vm, VMCS_RO_EXIT_REASON) & 0xffff, VMX_REASON_IO,
	    "expected an I/O exit: %s", cf_exit_describe(vm));
	cr_assert_eq(cf_rvmcs(vm, VMCS_RO_EXIT_QUALIFIC), want,
	    "I/O qualification, expected %#" PRIx64 ": %s", want,
	    cf_exit_describe(vm));
	if (label >= 0)
		cr_assert_eq(cf_rreg(vm, HV_X86_RIP), cf_label(vm, (unsigned)label),
		    "I/O exit RIP, expected %#" PRIx64 ": %s",
		    cf_label(vm, (unsigned)label), cf_exit_describe(vm));
	cr_assert_eq(cf_rvmcs(vm, VMCS_RO_VMEXIT_INSTR_LEN), len,
	    "I/O instruction length, expected %u: %s", len, cf_exit_describe(vm));
}

void cf_expect_io(struct cf_vm *vm, int label, uint16_t port, unsigned size,
    bool in, bool imm, unsigned len)
{
	cf_expect_exit(vm, VMX_REASON_IO);
	cf_check_io(vm, label, port, size, in, imm, len);
}

/* ---- probe guests ---- */

/* The probe's access instructions, as the client decodes them. */
static const uint8_t probe32_read[] = { 0x8b, 0x0b };       /* mov ecx,[ebx] */
static const uint8_t probe32_write[] = { 0x89, 0x0b };      /* mov [ebx],ecx */
static const uint8_t probe64_read[] = { 0x48, 0x8b, 0x0b }; /* mov rcx,[rbx] */
static const uint8_t probe64_write[] = { 0x48, 0x89, 0x0b };/* mov [rbx],rcx */

static uint64_t probe_mask(struct cf_vm *vm)
{
	return vm->mode == CF_LONG64 ? UINT64_MAX : 0xffffffffull;
}

/* Checks that RIP sits on a probe access instruction and returns its
 * length, as a client's instruction decoder would. */
static uint64_t probe_decode(struct cf_vm *vm, bool write)
{
	bool lm = vm->mode == CF_LONG64;
	const uint8_t *insn = write ? (lm ? probe64_write : probe32_write)
	                            : (lm ? probe64_read : probe32_read);
	uint64_t len = lm ? 3 : 2;
	uint64_t rip = cf_rreg(vm, HV_X86_RIP);
	uint64_t want = cf_label(vm, write ? PROBE_WRITE_INSN : PROBE_READ_INSN);

	cr_assert_eq(rip, want, "EPT-violation RIP is not at the access "
	    "instruction (%#" PRIx64 "): %s", want, cf_exit_describe(vm));
	cr_assert_eq(cf_rvmcs(vm, VMCS_GUEST_RIP), rip,
	    "VMCS_GUEST_RIP and HV_X86_RIP disagree");
	cr_assert(memcmp(vm->ram + rip, insn, len) == 0,
	    "no access instruction at RIP %#" PRIx64, rip);
	return len;
}

static void probe_expect_request(struct cf_vm *vm)
{
	cf_expect_io(vm, PROBE_REQUEST, 0xf0, 1, false, true, 2);
}

void cf_probe_start(struct cf_vm *vm, enum cf_mode mode)
{
	cr_assert(mode == CF_PROT32 || mode == CF_LONG64);
	cf_vcpu_create(vm, mode);
	if (mode == CF_LONG64)
		cf_load(vm, GUEST(probe64));
	else
		cf_load(vm, GUEST(probe32));
	probe_expect_request(vm);
}

static void probe_command(struct cf_vm *vm, uint64_t cmd, uint64_t addr,
    uint64_t value, struct cf_access *out)
{
	uint32_t reason;

	memset(out, 0, sizeof(*out));
	cf_wreg(vm, HV_X86_RAX, cmd);
	cf_wreg(vm, HV_X86_RBX, addr);
	cf_wreg(vm, HV_X86_RCX, value);
	cf_advance(vm, 2);
	reason = cf_run(vm);
	if (reason == VMX_REASON_EPT_VIOLATION) {
		out->faulted = true;
		cf_exit_get(vm, &out->exit);
		probe_decode(vm, cmd == PROBE_WRITE);
		return;
	}
	cr_assert_eq(reason, VMX_REASON_IO, "probe access at %#" PRIx64
	    ": unexpected %s", addr, cf_exit_describe(vm));
	if (cmd == PROBE_READ) {
		cf_check_io(vm, PROBE_REPORT, 0xf1, 4, false, true, 2);
		out->value = cf_rreg(vm, HV_X86_RAX) & probe_mask(vm);
		cf_advance(vm, 2);
		probe_expect_request(vm);
	} else {
		cf_check_io(vm, PROBE_REQUEST, 0xf0, 1, false, true, 2);
	}
}

void cf_probe_read(struct cf_vm *vm, uint64_t addr, struct cf_access *out)
{
	probe_command(vm, PROBE_READ, addr, 0, out);
}

void cf_probe_write(struct cf_vm *vm, uint64_t addr, uint64_t value,
    struct cf_access *out)
{
	probe_command(vm, PROBE_WRITE, addr, value, out);
}

void cf_probe_complete_read(struct cf_vm *vm, uint64_t value)
{
	uint64_t len = probe_decode(vm, false);

	value &= probe_mask(vm);
	cf_wreg(vm, HV_X86_RCX, value);
	cf_advance(vm, len);
	cf_expect_io(vm, PROBE_REPORT, 0xf1, 4, false, true, 2);
	cr_assert_eq(cf_rreg(vm, HV_X86_RAX) & probe_mask(vm), value,
	    "the guest did not continue with the emulated value");
	cf_advance(vm, 2);
	probe_expect_request(vm);
}

uint64_t cf_probe_complete_write(struct cf_vm *vm)
{
	uint64_t len = probe_decode(vm, true);
	uint64_t value = cf_rreg(vm, HV_X86_RCX) & probe_mask(vm);

	cf_advance(vm, len);
	probe_expect_request(vm);
	return value;
}
