/*
 * hv_vm_unmap and hv_vm_protect on parts of a mapping, as Apple allows,
 * on real KVM/arm64 in the arm64 lab; built twice: in-process
 * (memory64_direct) and through hvd (memory64_hvd). Written only against
 * <Hypervisor/Hypervisor.h>.
 *
 * Four pages of data are mapped as one range. The guest stores x1 at the
 * address in x2, then makes an HVC: a store the mapping allows ends in the
 * HVC and shows in host memory; one it does not is a data abort (EC 0x24)
 * with WnR set at that address, permission (DFSC 0x0f) on a read-only page
 * and translation (0x07) on an unmapped one. Plain C: `ok`/`FAIL` lines,
 * non-zero exit on failures.
 */
#include <stdio.h>
#include <string.h>

#include <Hypervisor/Hypervisor.h>

#include "check64.h"

#define CODE 0x10000ull
#define DATA 0x40000ull
#define PAGE 0x1000ull

static hv_vcpu_t vcpu;
static hv_vcpu_exit_t *vexit;

enum outcome { STORED, PERMISSION, TRANSLATION, OTHER };

static const char *const names[] = { "stored", "permission fault", "translation fault", "other" };

/* The guest's store of `value` at `ipa`. */
static enum outcome store(uint64_t ipa, uint64_t value)
{
	hv_vcpu_set_reg(vcpu, HV_REG_PC, CODE);
	hv_vcpu_set_reg(vcpu, HV_REG_X1, value);
	hv_vcpu_set_reg(vcpu, HV_REG_X2, ipa);
	if (hv_vcpu_run(vcpu) != HV_SUCCESS || vexit->reason != HV_EXIT_REASON_EXCEPTION)
		return OTHER;
	uint64_t esr = vexit->exception.syndrome;
	if (esr >> 26 == 0x16)
		return STORED;
	if (esr >> 26 != 0x24 || !(esr >> 6 & 1) || vexit->exception.physical_address != ipa)
		return OTHER;
	switch (esr & 0x3f) {
	case 0x0f: return PERMISSION;
	case 0x07: return TRANSLATION;
	default: return OTHER;
	}
}

#define EXPECT(page, want, what)                                                          \
	do {                                                                              \
		enum outcome got_ = store(DATA + (page) * PAGE + 8, 0x1000 + (page));     \
		CHECK(got_ == (want), "page %d %s: %s (%s)", (page), what, names[got_], names[want]); \
	} while (0)

int main(void)
{
	static const uint32_t code[] = {
		0xf9000041, /* str x1, [x2] */
		0xd4000002, /* hvc #0 */
		0x14000000, /* b . */
	};
	void *text, *data;
	CHECK(hv_vm_create(NULL) == HV_SUCCESS, "hv_vm_create");
	CHECK(hv_vm_allocate(&text, 0x10000, HV_ALLOCATE_DEFAULT) == HV_SUCCESS &&
	      hv_vm_allocate(&data, 4 * PAGE, HV_ALLOCATE_DEFAULT) == HV_SUCCESS, "hv_vm_allocate");
	memcpy(text, code, sizeof(code));
	CHECK(hv_vm_map(text, CODE, 0x10000, HV_MEMORY_READ | HV_MEMORY_EXEC) == HV_SUCCESS, "map code");
	CHECK(hv_vm_map(data, DATA, 4 * PAGE, HV_MEMORY_READ | HV_MEMORY_WRITE) == HV_SUCCESS,
	      "map four data pages as one range");
	CHECK(hv_vcpu_create(&vcpu, &vexit, NULL) == HV_SUCCESS, "hv_vcpu_create");
	hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5);
	uint64_t *word = (uint64_t *)data;

	for (int p = 0; p < 4; p++)
		EXPECT(p, STORED, "writable");
	CHECK(word[1] == 0x1000 && word[PAGE / 8 * 3 + 1] == 0x1003, "the stores reached host memory");

	CHECK(hv_vm_protect(DATA + PAGE, PAGE, HV_MEMORY_READ) == HV_SUCCESS,
	      "protect page 1 of the range read-only");
	EXPECT(0, STORED, "still writable");
	EXPECT(1, PERMISSION, "read-only");
	EXPECT(2, STORED, "still writable");

	CHECK(hv_vm_unmap(DATA + 2 * PAGE, PAGE) == HV_SUCCESS, "unmap page 2");
	EXPECT(2, TRANSLATION, "unmapped");
	EXPECT(3, STORED, "past the hole, still writable");
	CHECK(hv_vm_unmap(DATA + 2 * PAGE, PAGE) == HV_BAD_ARGUMENT, "unmap it again: HV_BAD_ARGUMENT");
	CHECK(hv_vm_protect(DATA + PAGE, 2 * PAGE, HV_MEMORY_READ) == HV_BAD_ARGUMENT,
	      "protect over the hole: HV_BAD_ARGUMENT");
	CHECK(hv_vm_unmap(DATA + 1, PAGE) == HV_BAD_ARGUMENT, "unaligned unmap: HV_BAD_ARGUMENT");

	/* Across the cut parts: pages 0 and 1 are two mappings now. */
	CHECK(hv_vm_protect(DATA, 2 * PAGE, HV_MEMORY_READ | HV_MEMORY_WRITE) == HV_SUCCESS,
	      "protect pages 0-1 writable (two mappings now)");
	EXPECT(1, STORED, "writable again");
	CHECK(word[PAGE / 8 + 1] == 0x1001, "page 1's store in host memory");
	CHECK(hv_vm_map((char *)data + 2 * PAGE, DATA + 2 * PAGE, PAGE,
			HV_MEMORY_READ | HV_MEMORY_WRITE) == HV_SUCCESS, "map page 2 back");
	EXPECT(2, STORED, "mapped back");
	CHECK(hv_vm_unmap(DATA, 4 * PAGE) == HV_SUCCESS, "unmap the whole range (four mappings)");
	EXPECT(0, TRANSLATION, "gone");
	EXPECT(3, TRANSLATION, "gone");

	return check64_done("memory64");
}
