/*
 * dosrun: runs a DOS .COM program, in the style of hvdos.
 *
 *   dosrun PROGRAM.COM [ARGS...]
 *
 * The program is loaded at offset 0x100 of a 64 KiB segment whose first
 * 256 bytes are the Program Segment Prefix (PSP): INT 20h at offset 0 (so
 * a final RET exits), the command tail at 0x80. The vCPU starts in real
 * mode with CS = DS = ES = SS = that segment.
 *
 * There is no DOS in the guest. The real-mode IDT limit is 0 and every
 * exception is intercepted, so each INT instruction finds no vector, raises
 * #GP, and exits to us as VMX_REASON_EXC_NMI with the IDT-vectoring
 * information naming the software interrupt and RIP at the INT. We act as
 * DOS, update the registers and step over the two-byte instruction.
 *
 * INT 20h and these INT 21h functions are implemented:
 *   00h terminate                  30h get DOS version (reports 5.0)
 *   01h read character, echo       3Fh read from handle (0: stdin)
 *   02h write character in DL      40h write to handle (1: stdout, 2: stderr)
 *   08h read character, no echo    4Ch terminate with exit status AL
 *   09h write '$'-terminated string at DS:DX
 * Any other function, interrupt, exception or port access ends the run
 * with a message and status 1.
 *
 * Console output is translated DOS-to-Unix: CR LF becomes LF. On input, a
 * LF read by AH=01h/08h is returned as CR (the Enter key); AH=3Fh returns
 * the bytes as read. AH=01h echoes the character unless stdin is a
 * terminal (which has echoed it already).
 *
 * Only <Hypervisor/hv.h> and <Hypervisor/hv_vmx.h> are used.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUEST_RAM   (1u << 20)     /* conventional memory and then some */
#define PSP_SEG     0x1000u        /* the program's segment */
#define PSP         (PSP_SEG << 4)
#define COM_MAX     (0x10000u - 0x100 - 0x200)   /* leave room for a stack */

/* DOS error codes returned in AX with CF set. */
#define DOSERR_ACCESS_DENIED 5
#define DOSERR_BAD_HANDLE    6

static uint8_t *ram;
static hv_vcpuid_t vcpu;

static void check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS) {
		fprintf(stderr, "dosrun: %s failed: 0x%08x\n", what, (unsigned)r);
		exit(1);
	}
}

static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t v;

	check(hv_vmx_read_capability(cap, &v), "hv_vmx_read_capability");
	return (want | (v & 0xffffffff)) & (v >> 32);
}

static void wvmcs(uint32_t field, uint64_t value)
{
	check(hv_vmx_vcpu_write_vmcs(vcpu, field, value), "hv_vmx_vcpu_write_vmcs");
}

static uint64_t rvmcs(uint32_t field)
{
	uint64_t v;

	check(hv_vmx_vcpu_read_vmcs(vcpu, field, &v), "hv_vmx_vcpu_read_vmcs");
	return v;
}

static uint64_t rreg(hv_x86_reg_t reg)
{
	uint64_t v;

	check(hv_vcpu_read_register(vcpu, reg, &v), "hv_vcpu_read_register");
	return v;
}

static void wreg(hv_x86_reg_t reg, uint64_t value)
{
	check(hv_vcpu_write_register(vcpu, reg, value), "hv_vcpu_write_register");
}

/* 16-bit register views. */
static uint16_t reg16(hv_x86_reg_t reg)
{
	return (uint16_t)rreg(reg);
}

static void set_reg16(hv_x86_reg_t reg, uint16_t value)
{
	wreg(reg, (rreg(reg) & ~0xffffull) | value);
}

static void set_al(uint8_t value)
{
	wreg(HV_X86_RAX, (rreg(HV_X86_RAX) & ~0xffull) | value);
}

static void set_carry(int on)
{
	uint64_t flags = rreg(HV_X86_RFLAGS);

	wreg(HV_X86_RFLAGS, on ? flags | 1 : flags & ~1ull);
}

/* The guest byte at seg_base:off, with 16-bit offset wrap-around. */
static uint8_t *guest(uint64_t seg_base, uint32_t off)
{
	return ram + ((seg_base + (off & 0xffff)) & (GUEST_RAM - 1));
}

static void real_mode(void)
{
	static const uint32_t seg[][4] = {
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	};

	wvmcs(VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	wvmcs(VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED,
		CPU_BASED_HLT | CPU_BASED_UNCOND_IO | CPU_BASED_SECONDARY_CTLS));
	wvmcs(VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2,
		CPU_BASED2_UNRESTRICTED));
	wvmcs(VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY, 0));
	/* hvdos: intercept every exception, and give the guest no vectors,
	 * so that every INT n raises #GP and comes to us. */
	wvmcs(VMCS_CTRL_EXC_BITMAP, 0xffffffff);

	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
		wvmcs(seg[i][0], PSP_SEG);
		wvmcs(seg[i][1], PSP);
		wvmcs(seg[i][2], 0xffff);
		wvmcs(seg[i][3], i == 0 ? 0x9b : 0x93);
	}
	wvmcs(VMCS_GUEST_LDTR, 0);
	wvmcs(VMCS_GUEST_LDTR_BASE, 0);
	wvmcs(VMCS_GUEST_LDTR_LIMIT, 0);
	wvmcs(VMCS_GUEST_LDTR_AR, 0x10000);   /* unusable */
	wvmcs(VMCS_GUEST_TR, 0);
	wvmcs(VMCS_GUEST_TR_BASE, 0);
	wvmcs(VMCS_GUEST_TR_LIMIT, 0xffff);
	wvmcs(VMCS_GUEST_TR_AR, 0x83);        /* 16-bit busy TSS */
	wvmcs(VMCS_GUEST_GDTR_BASE, 0);
	wvmcs(VMCS_GUEST_GDTR_LIMIT, 0);
	wvmcs(VMCS_GUEST_IDTR_BASE, 0);
	wvmcs(VMCS_GUEST_IDTR_LIMIT, 0);      /* no vectors at all */
	wvmcs(VMCS_GUEST_CR0, 0x30);          /* NE (VMX's fixed bit), ET */
	wvmcs(VMCS_GUEST_CR3, 0);
	wvmcs(VMCS_GUEST_CR4, 0x2000);        /* VMXE (VMX's fixed bit) */
	wvmcs(VMCS_GUEST_IA32_EFER, 0);
	/* The program sees CR4.VMXE clear and cannot touch CD/NW. */
	wvmcs(VMCS_CTRL_CR0_MASK, 0x60000000);
	wvmcs(VMCS_CTRL_CR0_SHADOW, 0);
	wvmcs(VMCS_CTRL_CR4_MASK, 0x2000);
	wvmcs(VMCS_CTRL_CR4_SHADOW, 0);

	/* What MS-DOS hands a .COM program. */
	wvmcs(VMCS_GUEST_RFLAGS, 0x202);
	wvmcs(VMCS_GUEST_RIP, 0x100);
	wvmcs(VMCS_GUEST_RSP, 0xfffe);
	wreg(HV_X86_RAX, 0);
	wreg(HV_X86_RBX, 0);
	wreg(HV_X86_RCX, 0xff);
	wreg(HV_X86_RDX, PSP_SEG);
	wreg(HV_X86_RSI, 0x100);
	wreg(HV_X86_RDI, 0xfffe);
	wreg(HV_X86_RBP, 0x91c);
}

/* The PSP: INT 20h at 0, the top of memory at 2, the command tail at 0x80
 * (length byte, text starting with the blank after the program name, CR). */
static void build_psp(int argc, char **argv)
{
	uint8_t *psp = ram + PSP;
	size_t len = 0;

	psp[0x00] = 0xcd;
	psp[0x01] = 0x20;
	psp[0x02] = 0x00;              /* first segment beyond us: A000h */
	psp[0x03] = 0xa0;
	memset(psp + 0x5c, ' ', 0x80 - 0x5c);   /* two blank FCBs */
	psp[0x5c] = psp[0x6c] = 0;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (len + 1 + n > 126) {
			fprintf(stderr, "dosrun: command tail longer than 126 bytes\n");
			exit(1);
		}
		psp[0x81 + len++] = ' ';
		memcpy(psp + 0x81 + len, argv[i], n);
		len += n;
	}
	psp[0x80] = (uint8_t)len;
	psp[0x81 + len] = '\r';
}

static void load_com(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "dosrun: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	n = fread(ram + PSP + 0x100, 1, COM_MAX, f);
	if (ferror(f) || n == 0 || fgetc(f) != EOF) {
		fprintf(stderr, "dosrun: %s: %s\n", path, ferror(f) ? strerror(errno) :
			n == 0 ? "empty file" : "too big for a .COM program");
		exit(1);
	}
	fclose(f);
}

/* ---- console ---- */

/* CR LF -> LF on the way out; a CR is held until we see what follows. */
static int pending_cr[3];

static void con_put(int handle, uint8_t c)
{
	FILE *f = handle == 2 ? stderr : stdout;

	if (handle == 2)
		fflush(stdout);         /* keep the two streams in order */
	if (pending_cr[handle] && c != '\n')
		putc('\r', f);
	pending_cr[handle] = c == '\r';
	if (c != '\r')
		putc(c, f);
}

static void con_flush(void)
{
	for (int h = 1; h <= 2; h++)
		if (pending_cr[h])
			putc('\r', h == 2 ? stderr : stdout);
	fflush(stdout);
	fflush(stderr);
}

/* One byte from stdin for AH=01h/08h: LF reads as CR, end of input as
 * Ctrl-Z (DOS's end-of-file character). */
static uint8_t con_getc(int echo)
{
	unsigned char c;

	fflush(stdout);
	if (read(STDIN_FILENO, &c, 1) != 1)
		return 0x1a;
	if (c == '\n')
		c = '\r';
	if (echo && !isatty(STDIN_FILENO)) {
		con_put(1, c);
		if (c == '\r')
			con_put(1, '\n');
	}
	return c;
}

/* ---- DOS ---- */

static _Noreturn void terminate(int status)
{
	con_flush();
	check(hv_vcpu_destroy(vcpu), "hv_vcpu_destroy");
	check(hv_vm_unmap(0, GUEST_RAM), "hv_vm_unmap");
	check(hv_vm_destroy(), "hv_vm_destroy");
	free(ram);
	exit(status);
}

static void where(char *buf, size_t size)
{
	snprintf(buf, size, "%04" PRIx64 ":%04" PRIx64, rvmcs(VMCS_GUEST_CS),
		 rreg(HV_X86_RIP));
}

static void int21(void)
{
	uint16_t ax = reg16(HV_X86_RAX);
	uint8_t ah = (uint8_t)(ax >> 8), al = (uint8_t)ax;
	uint16_t dx = reg16(HV_X86_RDX);
	uint16_t cx = reg16(HV_X86_RCX);
	uint16_t bx = reg16(HV_X86_RBX);
	uint64_t ds = rvmcs(VMCS_GUEST_DS_BASE);
	char at[16];

	switch (ah) {
	case 0x00:      /* terminate */
		terminate(0);
	case 0x01:      /* read character with echo */
	case 0x08:      /* read character without echo */
		set_al(con_getc(ah == 0x01));
		break;
	case 0x02:      /* write character */
		con_put(1, (uint8_t)dx);
		set_al((uint8_t)dx);
		break;
	case 0x09:      /* write '$'-terminated string */
		for (uint32_t i = 0; i < 0x10000 && *guest(ds, dx + i) != '$'; i++)
			con_put(1, *guest(ds, dx + i));
		set_al('$');
		break;
	case 0x30:      /* DOS version: 5.0, MS-DOS OEM number */
		set_reg16(HV_X86_RAX, 0x0005);
		set_reg16(HV_X86_RBX, 0xff00);
		set_reg16(HV_X86_RCX, 0);
		break;
	case 0x3f: {    /* read from handle */
		uint8_t buf[0x10000];
		ssize_t n;

		if (bx != 0) {
			set_reg16(HV_X86_RAX, DOSERR_BAD_HANDLE);
			set_carry(1);
			break;
		}
		fflush(stdout);
		do
			n = read(STDIN_FILENO, buf, cx);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			set_reg16(HV_X86_RAX, DOSERR_ACCESS_DENIED);
			set_carry(1);
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			*guest(ds, dx + (uint32_t)i) = buf[i];
		set_reg16(HV_X86_RAX, (uint16_t)n);
		set_carry(0);
		break;
	}
	case 0x40:      /* write to handle */
		if (bx != 1 && bx != 2) {
			set_reg16(HV_X86_RAX, DOSERR_BAD_HANDLE);
			set_carry(1);
			break;
		}
		for (uint32_t i = 0; i < cx; i++)
			con_put(bx, *guest(ds, dx + i));
		set_reg16(HV_X86_RAX, cx);
		set_carry(0);
		break;
	case 0x4c:      /* terminate with exit status */
		terminate(al);
	default:
		where(at, sizeof(at));
		con_flush();
		fprintf(stderr, "dosrun: unsupported DOS function INT 21h AH=%02Xh "
			"(AX=%04X) at %s\n", ah, ax, at);
		exit(1);
	}
}

static const char *exception_name(unsigned vector)
{
	static const char *const names[] = {
		"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
		"#OF overflow", "#BR BOUND range exceeded",
		"#UD invalid opcode", "#NM device not available", "#DF double fault",
		"coprocessor segment overrun", "#TS invalid TSS",
		"#NP segment not present", "#SS stack fault",
		"#GP general protection", "#PF page fault", "reserved",
		"#MF x87 floating-point error", "#AC alignment check",
		"#MC machine check", "#XM SIMD floating-point error",
	};

	return vector < sizeof(names) / sizeof(names[0]) ? names[vector] : "exception";
}

/* An exception exit: a trapped INT n, or a real fault in the program. */
static void exception(void)
{
	uint64_t idt = rvmcs(VMCS_RO_IDT_VECTOR_INFO);
	uint64_t irq = rvmcs(VMCS_RO_VMEXIT_IRQ_INFO);
	char at[16];

	if ((idt & IRQ_INFO_VALID) && (idt & IRQ_INFO_TYPE_MASK) == IRQ_INFO_SOFT_IRQ) {
		switch (idt & 0xff) {
		case 0x20:              /* terminate */
			terminate(0);
		case 0x21:
			int21();
			/* Step over INT 21h (CD 21) as if DOS had IRETed. */
			wreg(HV_X86_RIP, rreg(HV_X86_RIP) + 2);
			return;
		default:
			where(at, sizeof(at));
			con_flush();
			fprintf(stderr, "dosrun: unsupported interrupt INT %02" PRIX64
				"h (AX=%04X) at %s\n", idt & 0xff, reg16(HV_X86_RAX), at);
			exit(1);
		}
	}
	where(at, sizeof(at));
	con_flush();
	fprintf(stderr, "dosrun: the program raised exception %" PRIu64 " (%s) at %s\n",
		irq & 0xff, exception_name((unsigned)(irq & 0xff)), at);
	exit(1);
}

int main(int argc, char **argv)
{
	char at[16];

	if (argc < 2) {
		fprintf(stderr, "usage: dosrun PROGRAM.COM [ARGS...]\n");
		return 2;
	}
	check(hv_vm_create(HV_VM_DEFAULT), "hv_vm_create");
	ram = valloc(GUEST_RAM);
	if (!ram)
		return 1;
	memset(ram, 0, GUEST_RAM);
	build_psp(argc - 2, argv + 2);
	load_com(argv[1]);
	check(hv_vm_map(ram, 0, GUEST_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
	      "hv_vm_map");
	check(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create");
	real_mode();

	for (;;) {
		check(hv_vcpu_run(vcpu), "hv_vcpu_run");
		uint64_t reason = rvmcs(VMCS_RO_EXIT_REASON);

		switch (reason & 0xffff) {
		case VMX_REASON_IRQ:            /* spurious return */
			continue;
		case VMX_REASON_EXC_NMI:
			exception();
			continue;
		case VMX_REASON_TRIPLE_FAULT:
			where(at, sizeof(at));
			con_flush();
			fprintf(stderr, "dosrun: the program crashed the CPU (triple fault) "
				"at %s\n", at);
			return 1;
		case VMX_REASON_HLT:
			where(at, sizeof(at));
			con_flush();
			fprintf(stderr, "dosrun: the program halted at %s\n", at);
			return 1;
		case VMX_REASON_IO: {
			uint64_t q = rvmcs(VMCS_RO_EXIT_QUALIFIC);

			where(at, sizeof(at));
			con_flush();
			fprintf(stderr, "dosrun: the program accessed I/O port %04" PRIX64
				"h (%s) at %s: no devices here\n", q >> 16,
				(q & 8) ? "IN" : "OUT", at);
			return 1;
		}
		default:
			where(at, sizeof(at));
			con_flush();
			fprintf(stderr, "dosrun: unexpected VM exit %#" PRIx64 " at %s\n",
				reason, at);
			return 1;
		}
	}
}
