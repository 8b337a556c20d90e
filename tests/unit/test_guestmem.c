/*
 * The backend's own accesses to guest memory (hvb_vm_read_phys and
 * hvb_vm_write_phys, and through them real-mode event delivery, page-table
 * walks and instruction fetch) on pages that cannot be faulted in: they
 * must fail with an error, never kill the process with SIGBUS. In hvd that
 * process serves every tenant. The guard (hvb_guard_install) is what hvd
 * installs at start; libhvdirect does not, its memory being the caller's
 * own.
 *
 * Two kinds of such pages: a MAP_NORESERVE hugetlb mapping on a host with
 * no free huge page (its first touch raises SIGBUS), and a shared file
 * mapping beyond the file's end after a truncation. Criterion runs every
 * test in a process of its own, so a SIGBUS shows up as a crash.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb.h"
#include "hvs.h"

#define PAGE 4096ul
#define HUGE (2ul << 20)

static struct hvb_host *host;
static struct hvb_vm *vm;

static void setup(void)
{
	cr_assert_eq(hvb_guard_install(), 0);
	cr_assert_eq(hvb_host_create(NULL, &host), 0);
	cr_assert_eq(hvb_vm_create(host, 0, &vm), 0);
}

static void teardown(void)
{
	if (vm)
		hvb_vm_destroy(vm);
	if (host)
		hvb_host_destroy(host);
	vm = NULL;
	host = NULL;
}

TestSuite(guestmem, .init = setup, .fini = teardown);

/* Free huge pages on the host (HugePages_Free of /proc/meminfo). */
static long free_huge_pages(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* A hugetlb mapping with no page behind it, or the test is skipped. */
static void *unbacked_huge_mapping(void)
{
	int fd = memfd_create("guestmem-huge", MFD_CLOEXEC | MFD_HUGETLB);

	if (fd < 0)
		cr_skip_test("no hugetlbfs memfds: %s", strerror(errno));
	if (free_huge_pages() != 0) {
		close(fd);
		cr_skip_test("the host has free huge pages: nothing would fault");
	}
	cr_assert_eq(ftruncate(fd, (off_t)HUGE), 0, "ftruncate: %s", strerror(errno));
	void *p = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	close(fd);
	return p;
}

Test(guestmem, hugetlb_page_with_no_huge_page_reads_as_an_error)
{
	uint8_t buf[16] = { 0 };
	void *huge = unbacked_huge_mapping();

	cr_assert_eq(hvb_vm_map(vm, huge, 0x200000, HUGE, HVB_MEM_READ | HVB_MEM_WRITE), 0);
	cr_expect_eq(hvb_vm_read_phys(vm, 0x200000, buf, sizeof(buf)), -EFAULT);
	cr_expect_eq(hvb_vm_read_phys(vm, 0x200000 + HUGE - 4, buf, 4), -EFAULT);
	cr_expect_eq(hvb_vm_write_phys(vm, 0x200000, buf, sizeof(buf)), -EFAULT);
	cr_assert_eq(hvb_vm_unmap(vm, 0x200000, HUGE), 0);
	munmap(huge, HUGE);
}

Test(guestmem, file_mapping_beyond_eof_after_truncation_reads_as_an_error)
{
	uint8_t buf[PAGE], want[PAGE];
	int fd = memfd_create("guestmem-file", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 * PAGE), 0);
	uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	for (size_t i = 0; i < 4 * PAGE; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	cr_assert_eq(hvb_vm_map(vm, p, 0x10000, 4 * PAGE, HVB_MEM_READ | HVB_MEM_WRITE), 0);

	/* Before: every page reads, and writes land in the file. */
	cr_assert_eq(hvb_vm_read_phys(vm, 0x10000 + 2 * PAGE, buf, PAGE), 0);
	cr_assert_eq(memcmp(buf, p + 2 * PAGE, PAGE), 0);
	memset(want, 0x5a, sizeof(want));
	cr_assert_eq(hvb_vm_write_phys(vm, 0x10000 + 3 * PAGE, want, PAGE), 0);
	cr_assert_eq(memcmp(p + 3 * PAGE, want, PAGE), 0);

	/* The file shrinks under the mapping: pages 1..3 are past its end. */
	cr_assert_eq(ftruncate(fd, PAGE), 0);
	cr_expect_eq(hvb_vm_read_phys(vm, 0x10000 + PAGE, buf, 8), -EFAULT);
	cr_expect_eq(hvb_vm_read_phys(vm, 0x10000 + 3 * PAGE + 100, buf, 8), -EFAULT);
	cr_expect_eq(hvb_vm_write_phys(vm, 0x10000 + 2 * PAGE, want, 8), -EFAULT);
	/* Straddling the end: the whole copy fails. */
	cr_expect_eq(hvb_vm_read_phys(vm, 0x10000 + PAGE - 4, buf, 8), -EFAULT);
	/* What is still inside the file reads as before. */
	cr_assert_eq(hvb_vm_read_phys(vm, 0x10000 + 16, buf, 32), 0);
	cr_expect_eq(memcmp(buf, p + 16, 32), 0);

	cr_assert_eq(hvb_vm_unmap(vm, 0x10000, 4 * PAGE), 0);
	munmap(p, 4 * PAGE);
	close(fd);
}

static void wvmcs(struct hvb_vcpu *vcpu, uint32_t field, uint64_t value)
{
	cr_assert_eq(hvb_vcpu_write_vmcs(vcpu, field, value), 0, "VMCS %#x = %#llx", field,
	    (unsigned long long)value);
}

static uint64_t ctrl_of(unsigned cap, uint64_t want)
{
	uint64_t v;

	cr_assert_eq(hvs_caps_read(cap, &v), 0);
	return (want | (v & 0xffffffffull)) & (v >> 32);
}

/* Real mode at 0000:1000 with its IDTR at `ivt`. */
static void real_mode(struct hvb_vcpu *vcpu, uint64_t ivt)
{
	static const uint32_t segs[][4] = {
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};
	const struct { uint32_t field; uint64_t value; } rest[] = {
		{ VMCS_CTRL_PIN_BASED, ctrl_of(HV_VMX_CAP_PINBASED, 0) },
		{ VMCS_CTRL_CPU_BASED, ctrl_of(HV_VMX_CAP_PROCBASED, CPU_BASED_HLT |
		    CPU_BASED_UNCOND_IO | CPU_BASED_SECONDARY_CTLS) },
		{ VMCS_CTRL_CPU_BASED2, ctrl_of(HV_VMX_CAP_PROCBASED2, CPU_BASED2_UNRESTRICTED) },
		{ VMCS_CTRL_VMENTRY_CONTROLS, ctrl_of(HV_VMX_CAP_ENTRY, VMENTRY_LOAD_EFER) },
		{ VMCS_CTRL_EXC_BITMAP, 0 },
		{ VMCS_GUEST_LDTR_AR, 0x10000 },
		{ VMCS_GUEST_TR_AR, 0x83 },
		{ VMCS_GUEST_IDTR_BASE, ivt },
		{ VMCS_GUEST_IDTR_LIMIT, 0x3ff },
		{ VMCS_GUEST_CR0, 0x30 },
		{ VMCS_GUEST_CR4, 0x2000 },
		{ VMCS_GUEST_IA32_EFER, 0 },
		{ VMCS_GUEST_RFLAGS, 0x2 },
		{ VMCS_GUEST_RSP, 0xf000 },
		{ VMCS_GUEST_RIP, 0x1000 },
	};

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		wvmcs(vcpu, segs[i][0], 0);
		wvmcs(vcpu, segs[i][1], 0);
		wvmcs(vcpu, segs[i][2], 0xffff);
		wvmcs(vcpu, segs[i][3], segs[i][0] == VMCS_GUEST_CS ? 0x9b : 0x93);
	}
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		wvmcs(vcpu, rest[i].field, rest[i].value);
}

/* The same on a running vCPU: the backend delivers a real-mode event in
 * software, reading the IVT entry itself. With the IVT in memory that
 * cannot be faulted in, the run fails; the process goes on. */
Test(guestmem, real_mode_event_through_an_unbacked_ivt_fails_the_run)
{
	struct hvb_vcpu *vcpu;
	uint64_t reason;
	void *huge = unbacked_huge_mapping();
	uint8_t *ram = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(ram, MAP_FAILED);
	ram[0x1000] = 0xf4; /* hlt */
	cr_assert_eq(hvb_vm_map(vm, ram, 0, 0x10000,
	    HVB_MEM_READ | HVB_MEM_WRITE | HVB_MEM_EXEC), 0);
	cr_assert_eq(hvb_vm_map(vm, huge, 0x200000, HUGE, HVB_MEM_READ | HVB_MEM_WRITE), 0);
	cr_assert_eq(hvb_vcpu_create(vm, 0, &vcpu), 0);
	real_mode(vcpu, 0x200000);

	/* The first run only reaches the HLT. */
	cr_assert_eq(hvb_vcpu_run(vcpu), 0);
	cr_assert_eq(hvb_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason), 0);
	cr_assert_eq(reason & 0xffff, VMX_REASON_HLT, "exit reason %#llx",
	    (unsigned long long)reason);
	/* An external interrupt at entry: its IVT entry is unreadable. */
	wvmcs(vcpu, VMCS_CTRL_VMENTRY_IRQ_INFO, 0x80000020u);
	cr_expect_eq(hvb_vcpu_run(vcpu), -EFAULT);

	cr_assert_eq(hvb_vcpu_destroy(vcpu), 0);
	cr_assert_eq(hvb_vm_unmap(vm, 0x200000, HUGE), 0);
	cr_assert_eq(hvb_vm_unmap(vm, 0, 0x10000), 0);
	munmap(huge, HUGE);
	munmap(ram, 0x10000);
}
