/*
 * test_memory.c: hv_vm_map / hv_vm_unmap / hv_vm_protect, checked both by
 * their return codes and by what a guest sees when it touches the memory.
 *
 * The probe guests (guests/probe32.asm) do the touching: each access either
 * completes or stops at the instruction with an EPT violation (exit 48),
 * whose qualification, guest-physical address and RIP a client relies on to
 * emulate MMIO.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"

#define RW (HV_MEMORY_READ | HV_MEMORY_WRITE)
#define RWX (HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)
#define REGION_SIZE (CF_REGION_PAGES * CF_PAGE)

static uint8_t *region_alloc(void)
{
	void *p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap failed");
	return p;
}

/* Puts a distinct 32-bit value at the start of each page of the region. */
static void region_fill(uint8_t *region)
{
	for (uint32_t i = 0; i < CF_REGION_PAGES; i++) {
		uint32_t v = 0x5eed0000 + i;

		memcpy(region + i * CF_PAGE, &v, sizeof(v));
	}
}

static uint32_t region_word(const uint8_t *region, unsigned page)
{
	uint32_t v;

	memcpy(&v, region + page * CF_PAGE, sizeof(v));
	return v;
}

static uint64_t page_gpa(unsigned page)
{
	return CF_REGION + (uint64_t)page * CF_PAGE;
}

/* Asserts a guest read of the page works and sees the host's value. */
static void expect_read_ok(struct cf_vm *vm, const uint8_t *region,
    unsigned page)
{
	struct cf_access a;

	cf_probe_read(vm, page_gpa(page), &a);
	cr_assert_not(a.faulted, "read of page %u faulted: qualification %#"
	    PRIx64, page, a.exit.qual);
	cr_assert_eq(a.value, region_word(region, page),
	    "read of page %u returned %#" PRIx64, page, a.value);
}

/* Asserts a guest write to the page works and reaches host memory. */
static void expect_write_ok(struct cf_vm *vm, const uint8_t *region,
    unsigned page, uint32_t value)
{
	struct cf_access a;

	cf_probe_write(vm, page_gpa(page), value, &a);
	cr_assert_not(a.faulted, "write to page %u faulted: qualification %#"
	    PRIx64, page, a.exit.qual);
	cr_assert_eq(region_word(region, page), value,
	    "the guest's write to page %u did not reach host memory", page);
}

/* Asserts an EPT violation for `access` (CF_EPT_READ or CF_EPT_WRITE) at
 * gpa, with the page permissions `perms` in bits 3-5. */
static void expect_violation(const struct cf_access *a, uint64_t gpa,
    uint64_t access, uint64_t perms)
{
	uint64_t q = a->exit.qual;

	cr_assert(a->faulted, "access to %#" PRIx64 " did not exit", gpa);
	cr_assert_eq(a->exit.reason, VMX_REASON_EPT_VIOLATION);
	cr_assert_eq(a->exit.gpa, gpa, "guest-physical address %#" PRIx64
	    ", expected %#" PRIx64, a->exit.gpa, gpa);
	cr_assert_eq(q & (CF_EPT_READ | CF_EPT_WRITE), access,
	    "qualification %#" PRIx64 ": wrong access bits", q);
	cr_assert_eq(q & CF_EPT_FETCH, 0, "qualification %#" PRIx64
	    ": a data access reported as a fetch", q);
	cr_assert_eq(q & CF_EPT_PERMS, perms, "qualification %#" PRIx64
	    ": permission bits, expected %#" PRIx64, q, perms);
}

Test(memory, map_rejects_unaligned_or_empty_ranges)
{
	uint8_t *region = region_alloc();

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(region + 0x800, CF_REGION, CF_PAGE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(region, CF_REGION + 0x800, CF_PAGE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(region, CF_REGION, 0x800, RW));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(region, CF_REGION, CF_PAGE + 1, RW));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(region, CF_REGION, 0, RW));
	/* None of the failed calls may have left a mapping behind. */
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	HV_CHECK(hv_vm_unmap(CF_REGION, REGION_SIZE));
	HV_CHECK(hv_vm_destroy());
}

/* Only READ, WRITE and EXEC have a meaning for the Intel API. */
Test(memory, map_rejects_unknown_flags)
{
	uint8_t *region = region_alloc();

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_map(region, CF_REGION, CF_PAGE, RW | (1ull << 20)));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_map(region, CF_REGION, CF_PAGE, RW | (1ull << 63)));
	HV_CHECK(hv_vm_destroy());
}

Test(memory, map_accepts_every_subset_of_rwx)
{
	uint8_t *region = mmap(NULL, 8 * CF_PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(region, MAP_FAILED);
	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	for (uint64_t flags = 0; flags < 8; flags++)
		HV_CHECK(hv_vm_map(region + flags * CF_PAGE,
		    0x200000 + flags * CF_PAGE, CF_PAGE, flags));
	for (uint64_t flags = 0; flags < 8; flags++)
		HV_CHECK(hv_vm_unmap(0x200000 + flags * CF_PAGE, CF_PAGE));
	HV_CHECK(hv_vm_destroy());
}

Test(memory, map_rejects_overlapping_ranges)
{
	uint8_t *region = region_alloc();
	uint8_t *other = region_alloc();

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_map(other, CF_REGION, REGION_SIZE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_map(other, CF_REGION + CF_PAGE, CF_PAGE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_map(other, CF_REGION - CF_PAGE, 2 * CF_PAGE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_map(other, CF_REGION + REGION_SIZE - CF_PAGE, 2 * CF_PAGE, RW));
	/* Adjacent ranges do not overlap. */
	HV_CHECK(hv_vm_map(other, CF_REGION + REGION_SIZE, CF_PAGE, RW));
	HV_CHECK(hv_vm_map(other + CF_PAGE, CF_REGION - CF_PAGE, CF_PAGE, RW));
	HV_CHECK(hv_vm_destroy());
}

Test(memory, unmap_requires_an_aligned_mapped_range)
{
	uint8_t *region = region_alloc();

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(CF_REGION + 0x800, CF_PAGE));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(CF_REGION, 0x800));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(0x300000, CF_PAGE));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_unmap(CF_REGION - CF_PAGE, 2 * CF_PAGE));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_unmap(CF_REGION + REGION_SIZE - CF_PAGE, 2 * CF_PAGE));
	/* The failed calls left the mapping whole. */
	HV_CHECK(hv_vm_unmap(CF_REGION, REGION_SIZE));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(CF_REGION, CF_PAGE));
	HV_CHECK(hv_vm_destroy());
}

Test(memory, protect_requires_an_aligned_mapped_range)
{
	uint8_t *region = region_alloc();

	HV_CHECK(hv_vm_create(HV_VM_DEFAULT));
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_protect(CF_REGION + 0x800, CF_PAGE, HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_protect(CF_REGION, 0x800, HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_protect(0x300000, CF_PAGE, HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_protect(CF_REGION + REGION_SIZE - CF_PAGE, 2 * CF_PAGE,
	    HV_MEMORY_READ));
	HV_EXPECT(HV_BAD_ARGUMENT,
	    hv_vm_protect(CF_REGION, CF_PAGE, RW | (1ull << 20)));
	HV_CHECK(hv_vm_protect(CF_REGION, REGION_SIZE, HV_MEMORY_READ));
	HV_CHECK(hv_vm_destroy());
}

/* Memory a client filled before hv_vm_map is what the guest sees, and
 * guest writes land in the client's own mapping (same pointer). */
Test(memory, guest_shares_the_client_memory)
{
	uint8_t *region = region_alloc();
	struct cf_vm vm;

	region_fill(region);
	cf_vm_create(&vm);
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RWX));
	cf_probe_start(&vm, CF_PROT32);
	for (unsigned i = 0; i < CF_REGION_PAGES; i++)
		expect_read_ok(&vm, region, i);
	expect_write_ok(&vm, region, 2, 0xfeedf00d);
	/* Host writes between runs are visible too. */
	region_fill(region);
	expect_read_ok(&vm, region, 2);
	cf_destroy(&vm);
}

static void readonly_write_faults(uint64_t flags, uint64_t perms)
{
	uint8_t *region = region_alloc();
	struct cf_access a;
	struct cf_vm vm;

	region_fill(region);
	cf_vm_create(&vm);
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, flags));
	cf_probe_start(&vm, CF_PROT32);
	expect_read_ok(&vm, region, 1);
	cf_probe_write(&vm, page_gpa(1), 0xbad0bad0, &a);
	expect_violation(&a, page_gpa(1), CF_EPT_WRITE, perms);
	cr_assert_eq(region_word(region, 1), 0x5eed0001,
	    "a write to read-only memory changed it");
	/* The client finds the data in the source register, as on VMX. */
	cr_assert_eq(cf_probe_complete_write(&vm), 0xbad0bad0);
	cr_assert_eq(region_word(region, 1), 0x5eed0001);
	expect_read_ok(&vm, region, 1);
	cf_destroy(&vm);
}

Test(memory, write_to_read_only_mapping_exits)
{
	readonly_write_faults(HV_MEMORY_READ, CF_EPT_READABLE);
}

Test(memory, write_to_read_exec_mapping_exits)
{
	readonly_write_faults(HV_MEMORY_READ | HV_MEMORY_EXEC,
	    CF_EPT_READABLE | CF_EPT_EXECUTABLE);
}

/* The MMIO pattern: a read of unmapped memory stops at the instruction,
 * the client supplies the value and steps over it, the guest goes on. */
Test(memory, read_of_unmapped_memory_exits_for_emulation)
{
	struct cf_access a;
	struct cf_vm vm;

	cf_vm_create(&vm);
	cf_probe_start(&vm, CF_PROT32);
	cf_probe_read(&vm, CF_MMIO + 0x10, &a);
	expect_violation(&a, CF_MMIO + 0x10, CF_EPT_READ, 0);
	cf_probe_complete_read(&vm, 0x12345678);
	/* And again, to show the emulation left the guest in a sane state. */
	cf_probe_read(&vm, CF_MMIO + 0x20, &a);
	expect_violation(&a, CF_MMIO + 0x20, CF_EPT_READ, 0);
	cf_probe_complete_read(&vm, 0x9abcdef0);
	cf_destroy(&vm);
}

Test(memory, write_to_unmapped_memory_exits_for_emulation)
{
	struct cf_access a;
	struct cf_vm vm;

	cf_vm_create(&vm);
	cf_probe_start(&vm, CF_PROT32);
	cf_probe_write(&vm, CF_MMIO + 0x30, 0xbeefcafe, &a);
	expect_violation(&a, CF_MMIO + 0x30, CF_EPT_WRITE, 0);
	cr_assert_eq(cf_probe_complete_write(&vm), 0xbeefcafe);
	cf_probe_write(&vm, CF_MMIO + 0x34, 0x01020304, &a);
	expect_violation(&a, CF_MMIO + 0x34, CF_EPT_WRITE, 0);
	cr_assert_eq(cf_probe_complete_write(&vm), 0x01020304);
	cf_destroy(&vm);
}

/* Unmapping the middle of a mapping leaves both ends mapped, with their
 * contents and as separate mappings. */
Test(memory, partial_unmap_splits_the_mapping)
{
	uint8_t *region = region_alloc();
	struct cf_access a;
	struct cf_vm vm;

	region_fill(region);
	cf_vm_create(&vm);
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	cf_probe_start(&vm, CF_PROT32);
	HV_CHECK(hv_vm_unmap(page_gpa(1), CF_PAGE));
	expect_read_ok(&vm, region, 0);
	cf_probe_read(&vm, page_gpa(1), &a);
	expect_violation(&a, page_gpa(1), CF_EPT_READ, 0);
	cf_probe_complete_read(&vm, 0);
	expect_read_ok(&vm, region, 2);
	expect_read_ok(&vm, region, 3);
	expect_write_ok(&vm, region, 3, 0x33333333);
	expect_write_ok(&vm, region, 0, 0x00000000);
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(page_gpa(1), CF_PAGE));
	HV_EXPECT(HV_BAD_ARGUMENT, hv_vm_unmap(page_gpa(0), 2 * CF_PAGE));
	/* The hole can take other memory, which the guest then sees. */
	uint8_t *other = region_alloc();
	region_fill(other);
	memcpy(other, "hole", 4);
	HV_CHECK(hv_vm_map(other, page_gpa(1), CF_PAGE, RW));
	cf_probe_read(&vm, page_gpa(1), &a);
	cr_assert_not(a.faulted, "read of the remapped hole faulted");
	cr_assert_eq(a.value, region_word(other, 0));
	HV_CHECK(hv_vm_unmap(page_gpa(1), CF_PAGE));
	HV_CHECK(hv_vm_unmap(page_gpa(0), CF_PAGE));
	HV_CHECK(hv_vm_unmap(page_gpa(2), 2 * CF_PAGE));
	cf_probe_read(&vm, page_gpa(3), &a);
	expect_violation(&a, page_gpa(3), CF_EPT_READ, 0);
	cf_probe_complete_read(&vm, 0);
	cf_destroy(&vm);
}

/* Protecting the middle of a mapping changes only that page. */
Test(memory, partial_protect_splits_the_mapping)
{
	uint8_t *region = region_alloc();
	struct cf_access a;
	struct cf_vm vm;

	region_fill(region);
	cf_vm_create(&vm);
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	cf_probe_start(&vm, CF_PROT32);
	HV_CHECK(hv_vm_protect(page_gpa(2), CF_PAGE, HV_MEMORY_READ));
	expect_write_ok(&vm, region, 0, 0xa0a0a0a0);
	expect_write_ok(&vm, region, 1, 0xa1a1a1a1);
	expect_write_ok(&vm, region, 3, 0xa3a3a3a3);
	cf_probe_write(&vm, page_gpa(2), 0xa2a2a2a2, &a);
	expect_violation(&a, page_gpa(2), CF_EPT_WRITE, CF_EPT_READABLE);
	cr_assert_eq(cf_probe_complete_write(&vm), 0xa2a2a2a2);
	cr_assert_eq(region_word(region, 2), 0x5eed0002);
	expect_read_ok(&vm, region, 2);
	cf_destroy(&vm);
}

Test(memory, protect_removes_and_restores_write)
{
	uint8_t *region = region_alloc();
	struct cf_access a;
	struct cf_vm vm;

	region_fill(region);
	cf_vm_create(&vm);
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RWX));
	cf_probe_start(&vm, CF_PROT32);
	expect_write_ok(&vm, region, 0, 0x11111111);
	HV_CHECK(hv_vm_protect(CF_REGION, REGION_SIZE,
	    HV_MEMORY_READ | HV_MEMORY_EXEC));
	cf_probe_write(&vm, page_gpa(0), 0x22222222, &a);
	expect_violation(&a, page_gpa(0), CF_EPT_WRITE,
	    CF_EPT_READABLE | CF_EPT_EXECUTABLE);
	cf_probe_complete_write(&vm);
	cr_assert_eq(region_word(region, 0), 0x11111111);
	HV_CHECK(hv_vm_protect(CF_REGION, REGION_SIZE, RWX));
	expect_write_ok(&vm, region, 0, 0x33333333);
	cf_destroy(&vm);
}

/* After hv_vm_unmap the guest no longer reaches the memory. */
Test(memory, unmapped_range_is_no_longer_accessible)
{
	uint8_t *region = region_alloc();
	struct cf_access a;
	struct cf_vm vm;

	region_fill(region);
	cf_vm_create(&vm);
	HV_CHECK(hv_vm_map(region, CF_REGION, REGION_SIZE, RW));
	cf_probe_start(&vm, CF_PROT32);
	expect_read_ok(&vm, region, 0);
	HV_CHECK(hv_vm_unmap(CF_REGION, REGION_SIZE));
	cf_probe_write(&vm, page_gpa(0), 0x44444444, &a);
	expect_violation(&a, page_gpa(0), CF_EPT_WRITE, 0);
	cf_probe_complete_write(&vm);
	cr_assert_eq(region_word(region, 0), 0x5eed0000);
	cf_destroy(&vm);
}
