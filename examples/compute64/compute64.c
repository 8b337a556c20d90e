/*
 * compute64: a 64-bit long-mode guest doing real work.
 *
 * The host builds everything a long-mode guest needs in guest memory (a
 * GDT, a TSS, identity-mapped page tables) and enters long mode directly
 * through VMCS writes: CR0.PG|PE, CR4.PAE, EFER.LME|LMA and the IA-32e
 * VM-entry control, as Apple's Intel clients do. It places an input buffer
 * in guest memory and passes its address in registers. The guest computes
 * a sum of squares, the CRC-32 of the buffer and the first 1000 primes,
 * stores the results in a block the host reads back, and signals
 * completion with an OUT. The host prints the results and checks them
 * against the same computation done natively.
 *
 * Only <Hypervisor/hv.h> and <Hypervisor/hv_vmx.h> are used.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char guest_compute_start[], guest_compute_end[];

/* Guest-physical layout (compute.asm uses CODE, CRC table at 0x8000). */
#define GUEST_RAM   (1u << 20)
#define GDT         0x0500u
#define TSS         0x0700u
#define CODE        0x1000u
#define PML4        0x10000u    /* PML4, PDPT, PD: three pages */
#define RESULTS     0x20000u
#define INPUT       0x30000u
#define INPUT_LEN   4096u
#define STACK_TOP   0x80000u

#define SEL_CODE64  0x08u
#define SEL_DATA    0x10u
#define SEL_TSS     0x18u

#define CR0_PE      0x1ull
#define CR0_ET      0x10ull
#define CR0_NE      0x20ull
#define CR0_PG      0x80000000ull
#define CR4_PAE     0x20ull
#define CR4_VMXE    0x2000ull
#define EFER_LME    0x100ull
#define EFER_LMA    0x400ull

#define DONE_PORT   0xf4
#define SQUARES_N   100000u
#define NPRIMES     1000u
#define MAGIC       0x3436657475706d63ull   /* "cmpute64" */

/* The block the guest fills; offsets match compute.asm. */
struct results {
	uint64_t magic;
	uint64_t sum_squares;
	uint32_t crc32;
	uint32_t nprimes;
	uint64_t prime_sum;
	uint32_t primes[NPRIMES];
};

static uint8_t *ram;

static void check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS) {
		fprintf(stderr, "compute64: %s failed: 0x%08x\n", what, (unsigned)r);
		exit(1);
	}
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

static void wreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	check(hv_vcpu_write_register(vcpu, reg, value), "hv_vcpu_write_register");
}

static void put_desc(unsigned sel, uint64_t desc)
{
	memcpy(ram + GDT + sel, &desc, sizeof(desc));
}

/* GDT entries matching the hidden segment state written to the VMCS. */
static void write_gdt(void)
{
	put_desc(0, 0);
	put_desc(SEL_CODE64, 0x00af9b000000ffffull);   /* 64-bit code, L=1 */
	put_desc(SEL_DATA, 0x00cf93000000ffffull);     /* flat data */
	put_desc(SEL_TSS, 0x00008b0000000067ull | ((uint64_t)TSS << 16));
	put_desc(SEL_TSS + 8, 0);                      /* 16-byte descriptor */
}

/* Identity map of the first GiB with 2 MiB pages. */
static void write_page_tables(void)
{
	uint64_t *pml4 = (uint64_t *)(ram + PML4);
	uint64_t *pdpt = (uint64_t *)(ram + PML4 + 0x1000);
	uint64_t *pd = (uint64_t *)(ram + PML4 + 0x2000);

	pml4[0] = (PML4 + 0x1000) | 0x3;        /* present, writable */
	pdpt[0] = (PML4 + 0x2000) | 0x3;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | 0x83;       /* present, writable, 2 MiB */
}

static void long_mode(hv_vcpuid_t vcpu)
{
	static const uint32_t seg[][4] = {
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};

	wvmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED,
		CPU_BASED_HLT | CPU_BASED_UNCOND_IO | CPU_BASED_SECONDARY_CTLS));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0));
	wvmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY,
		VMENTRY_GUEST_IA32E | VMENTRY_LOAD_EFER));
	wvmcs(vcpu, VMCS_CTRL_EXC_BITMAP, 0);

	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
		int cs = seg[i][0] == VMCS_GUEST_CS;

		wvmcs(vcpu, seg[i][0], cs ? SEL_CODE64 : SEL_DATA);
		wvmcs(vcpu, seg[i][1], 0);
		wvmcs(vcpu, seg[i][2], 0xffffffff);
		wvmcs(vcpu, seg[i][3], cs ? 0xa09b : 0xc093);
	}
	wvmcs(vcpu, VMCS_GUEST_LDTR, 0);
	wvmcs(vcpu, VMCS_GUEST_LDTR_BASE, 0);
	wvmcs(vcpu, VMCS_GUEST_LDTR_LIMIT, 0);
	wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);      /* unusable */
	wvmcs(vcpu, VMCS_GUEST_TR, SEL_TSS);
	wvmcs(vcpu, VMCS_GUEST_TR_BASE, TSS);
	wvmcs(vcpu, VMCS_GUEST_TR_LIMIT, 0x67);
	wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x8b);           /* 64-bit busy TSS */
	wvmcs(vcpu, VMCS_GUEST_GDTR_BASE, GDT);
	wvmcs(vcpu, VMCS_GUEST_GDTR_LIMIT, SEL_TSS + 15);
	/* No IDT: an unexpected exception becomes a triple-fault exit. */
	wvmcs(vcpu, VMCS_GUEST_IDTR_BASE, 0);
	wvmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0);

	wvmcs(vcpu, VMCS_GUEST_CR0, CR0_PG | CR0_NE | CR0_ET | CR0_PE);
	wvmcs(vcpu, VMCS_GUEST_CR3, PML4);
	wvmcs(vcpu, VMCS_GUEST_CR4, CR4_VMXE | CR4_PAE);
	wvmcs(vcpu, VMCS_GUEST_IA32_EFER, EFER_LME | EFER_LMA);
	/* The guest sees VMXE clear and cannot change CD/NW. */
	wvmcs(vcpu, VMCS_CTRL_CR0_MASK, 0x60000000);
	wvmcs(vcpu, VMCS_CTRL_CR0_SHADOW, 0);
	wvmcs(vcpu, VMCS_CTRL_CR4_MASK, CR4_VMXE);
	wvmcs(vcpu, VMCS_CTRL_CR4_SHADOW, 0);

	wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
	wvmcs(vcpu, VMCS_GUEST_RSP, STACK_TOP);
	wvmcs(vcpu, VMCS_GUEST_RIP, CODE);
}

/* ---- the same computations on the host ---- */

static uint32_t host_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffff;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

static uint64_t host_sum_squares(uint64_t n)
{
	return n * (n + 1) * (2 * n + 1) / 6;
}

static void host_primes(uint32_t *primes, uint32_t n)
{
	uint32_t count = 0;

	for (uint32_t c = 2; count < n; c++) {
		int prime = 1;

		for (uint32_t d = 2; d * d <= c; d++)
			if (c % d == 0) {
				prime = 0;
				break;
			}
		if (prime)
			primes[count++] = c;
	}
}

/* Deterministic input: a 32-bit xorshift stream. */
static void fill_input(uint8_t *p, size_t n)
{
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* Runs the guest until it signals completion on DONE_PORT. */
static void run_guest(hv_vcpuid_t vcpu)
{
	for (;;) {
		check(hv_vcpu_run(vcpu), "hv_vcpu_run");
		uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON);
		uint64_t rip = rvmcs(vcpu, VMCS_GUEST_RIP);

		if ((reason & 0xffff) == VMX_REASON_IRQ)
			continue;               /* spurious return: run again */
		if ((reason & 0xffff) == VMX_REASON_IO &&
		    (rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC) >> 16) == DONE_PORT)
			return;
		fprintf(stderr, "compute64: unexpected exit reason %#" PRIx64
			" at RIP %#" PRIx64 " (qualification %#" PRIx64 ")\n",
			reason, rip, rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC));
		exit(1);
	}
}

int main(void)
{
	static uint32_t want_primes[NPRIMES];
	struct results res;
	hv_vcpuid_t vcpu;
	uint64_t want_sum = 0;
	uint32_t want_crc;
	int ok = 1;

	check(hv_vm_create(HV_VM_DEFAULT), "hv_vm_create");
	ram = valloc(GUEST_RAM);
	if (!ram)
		return 1;
	memset(ram, 0, GUEST_RAM);
	memcpy(ram + CODE, guest_compute_start,
	       (size_t)(guest_compute_end - guest_compute_start));
	write_gdt();
	write_page_tables();
	fill_input(ram + INPUT, INPUT_LEN);
	check(hv_vm_map(ram, 0, GUEST_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
	      "hv_vm_map");
	check(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create");
	long_mode(vcpu);
	/* Arguments, System V style. */
	wreg(vcpu, HV_X86_RDI, RESULTS);
	wreg(vcpu, HV_X86_RSI, INPUT);
	wreg(vcpu, HV_X86_RDX, INPUT_LEN);

	run_guest(vcpu);
	memcpy(&res, ram + RESULTS, sizeof(res));

	want_crc = host_crc32(ram + INPUT, INPUT_LEN);
	host_primes(want_primes, NPRIMES);
	for (uint32_t i = 0; i < NPRIMES; i++)
		want_sum += want_primes[i];

	if (res.magic != MAGIC) {
		fprintf(stderr, "compute64: the guest did not publish its results\n");
		return 1;
	}
	printf("sum of squares 1..%u = %" PRIu64 "\n", SQUARES_N, res.sum_squares);
	printf("crc32 of the %u-byte input = 0x%08" PRIx32 "\n", INPUT_LEN, res.crc32);
	printf("first %" PRIu32 " primes: %" PRIu32 " %" PRIu32 " %" PRIu32
	       " ... %" PRIu32 ", sum %" PRIu64 "\n", res.nprimes, res.primes[0],
	       res.primes[1], res.primes[2],
	       res.nprimes ? res.primes[res.nprimes - 1] : 0, res.prime_sum);

	if (res.sum_squares != host_sum_squares(SQUARES_N)) {
		fprintf(stderr, "mismatch: sum of squares, host says %" PRIu64 "\n",
			host_sum_squares(SQUARES_N));
		ok = 0;
	}
	if (res.crc32 != want_crc) {
		fprintf(stderr, "mismatch: crc32, host says 0x%08" PRIx32 "\n", want_crc);
		ok = 0;
	}
	if (res.nprimes != NPRIMES || res.prime_sum != want_sum ||
	    memcmp(res.primes, want_primes, sizeof(want_primes)) != 0) {
		fprintf(stderr, "mismatch: primes, host says sum %" PRIu64 "\n", want_sum);
		ok = 0;
	}
	puts(ok ? "ok" : "MISMATCH");
	fflush(stdout);

	check(hv_vcpu_destroy(vcpu), "hv_vcpu_destroy");
	check(hv_vm_unmap(0, GUEST_RAM), "hv_vm_unmap");
	check(hv_vm_destroy(), "hv_vm_destroy");
	free(ram);
	return ok ? 0 : 1;
}
