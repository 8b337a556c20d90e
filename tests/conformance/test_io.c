/*
 * test_io.c: port I/O exits (VMX_REASON_IO) as a VMX client sees them.
 *
 * On VMX the exit comes before the instruction has any effect: RIP is at
 * the instruction, the qualification describes it (Intel SDM table 28-5),
 * and the client emulates it and moves RIP on by the instruction length.
 * KVM completes I/O differently; these tests pin the VMX view.
 */
#include <inttypes.h>
#include <string.h>

#include "harness.h"

struct io_step {
	unsigned label;
	uint16_t port;
	unsigned size;
	bool imm;
	unsigned len;
	uint32_t value;
};

static uint64_t size_mask(unsigned size)
{
	return size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
}

Test(io, out_exits_before_the_instruction)
{
	static const struct io_step steps[] = {
		{ 0, 0x10, 1, true, 2, 0x11 },
		{ 1, 0x12, 2, true, 2, 0x2222 },
		{ 2, 0x14, 4, true, 3, 0x33333333 },
		{ 3, 0x3f8, 1, false, 1, 0x44 },
		{ 4, 0x3f8, 2, false, 1, 0x5555 },
		{ 5, 0x3f8, 4, false, 2, 0x66666666 },
		{ 6, 0x3f8, 1, false, 1, 0x77 },
		{ 7, 0x3f8, 1, false, 1, 0x77 },
	};
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(io_out));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct io_step *s = &steps[i];

		cf_expect_io(&vm, (int)s->label, s->port, s->size, false, s->imm,
		    s->len);
		cr_assert_eq(cf_rreg(&vm, HV_X86_RAX) & size_mask(s->size), s->value,
		    "OUT #%zu: the client does not see the guest's value", i);
		cf_skip(&vm);
	}
	cf_expect_hlt(&vm, 8);
	cf_destroy(&vm);
}

/* IN stops with the destination still unchanged; the client merges its
 * value into RAX (AL and AX keep the upper bits) and the guest continues
 * with it. */
Test(io, in_takes_the_value_the_client_writes)
{
	static const struct io_step steps[] = {
		{ 0, 0x20, 1, true, 2, 0x01 },
		{ 1, 0x22, 2, true, 2, 0x0302 },
		{ 2, 0x24, 4, true, 3, 0x07060504 },
		{ 3, 0x60, 1, false, 1, 0x08 },
		{ 4, 0x60, 2, false, 1, 0x0a09 },
		{ 5, 0x60, 4, false, 2, 0x0e0d0c0b },
	};
	static const uint32_t stored[] = {
		0xaabbcc01, 0xaabb0302, 0x07060504, 0x07060508, 0x07060a09, 0x0e0d0c0b,
	};
	uint32_t eax = 0xaabbccdd;
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(io_in));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct io_step *s = &steps[i];
		uint64_t rax;

		cf_expect_io(&vm, (int)s->label, s->port, s->size, true, s->imm,
		    s->len);
		rax = cf_rreg(&vm, HV_X86_RAX);
		cr_assert_eq((uint32_t)rax, eax, "IN #%zu: EAX %#" PRIx64
		    " already changed at the exit", i, rax);
		rax = (rax & ~size_mask(s->size)) | s->value;
		if (s->size == 4)
			rax = s->value;
		cf_wreg(&vm, HV_X86_RAX, rax);
		cf_skip(&vm);
		eax = stored[i];
	}
	cf_expect_hlt(&vm, 6);
	for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
		uint32_t got;

		memcpy(&got, vm.ram + CF_DATA + 4 * i, sizeof(got));
		cr_expect_eq(got, stored[i], "IN #%zu: the guest stored %#x, "
		    "expected %#x", i, got, stored[i]);
	}
	cf_destroy(&vm);
}

/* Emulates one element of a string OUT the Intel way: the data is at
 * DS:(E)SI, which then moves on, and a REP instruction is re-executed
 * until (E)CX is 0. Works whether the backend exits per element or not. */
Test(io, rep_outsb_sends_every_byte)
{
	const uint64_t qual = CF_IOQ(0xe9, 1, false, false) | CF_IOQ_STRING |
	    CF_IOQ_REP;
	char out[16] = { 0 };
	size_t n = 0;
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(io_rep_outsb));
	while (n < sizeof(out) - 1) {
		uint64_t rsi, rcx, ds;

		if (cf_run(&vm) == VMX_REASON_HLT)
			break;
		cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_EXIT_REASON), VMX_REASON_IO,
		    "%s", cf_exit_describe(&vm));
		cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_EXIT_QUALIFIC), qual,
		    "qualification, expected %#" PRIx64 ": %s", qual,
		    cf_exit_describe(&vm));
		cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 0),
		    "REP OUTSB exit not at the instruction: %s",
		    cf_exit_describe(&vm));
		cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_VMEXIT_INSTR_LEN), 2);
		rsi = cf_rreg(&vm, HV_X86_RSI) & 0xffff;
		rcx = cf_rreg(&vm, HV_X86_RCX) & 0xffff;
		ds = cf_rvmcs(&vm, VMCS_GUEST_DS_BASE);
		cr_assert_gt(rcx, 0, "string exit with CX already 0");
		out[n++] = (char)vm.ram[ds + rsi];
		cf_wreg(&vm, HV_X86_RSI, rsi + 1);
		cf_wreg(&vm, HV_X86_RCX, rcx - 1);
		if (rcx == 1)
			cf_skip(&vm);
	}
	cr_assert_str_eq(out, "HELLO");
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 1));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RCX) & 0xffff, 0);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RSI) & 0xffff, cf_label(&vm, 2) + 5);
	cf_destroy(&vm);
}

/* The INS counterpart: the client writes each element to ES:(E)DI. */
Test(io, rep_insb_receives_every_byte)
{
	const uint64_t qual = CF_IOQ(0x60, 1, true, false) | CF_IOQ_STRING |
	    CF_IOQ_REP;
	static const char data[] = "WXYZ";
	unsigned exits = 0;
	size_t n = 0;
	struct cf_vm vm;

	cf_start(&vm, CF_REAL16, GUEST(io_rep_insb));
	memset(vm.ram + CF_DATA, '.', 8);
	while (exits < 16) {
		uint64_t rdi, rcx, es;

		if (cf_run(&vm) == VMX_REASON_HLT)
			break;
		exits++;
		cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_EXIT_REASON), VMX_REASON_IO,
		    "%s", cf_exit_describe(&vm));
		cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_EXIT_QUALIFIC), qual,
		    "qualification, expected %#" PRIx64 ": %s", qual,
		    cf_exit_describe(&vm));
		cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 0),
		    "REP INSB exit not at the instruction: %s",
		    cf_exit_describe(&vm));
		cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_VMEXIT_INSTR_LEN), 2);
		rdi = cf_rreg(&vm, HV_X86_RDI) & 0xffff;
		rcx = cf_rreg(&vm, HV_X86_RCX) & 0xffff;
		es = cf_rvmcs(&vm, VMCS_GUEST_ES_BASE);
		cr_assert_eq(rdi, CF_DATA + n, "DI %#" PRIx64 " does not point at "
		    "the next element", rdi);
		cr_assert_eq(rcx, 4 - n, "CX %" PRIu64 " is not the remaining "
		    "count", rcx);
		/* Bytes the client has not written yet must be untouched. */
		cr_assert_eq(vm.ram[es + rdi], '.',
		    "the backend wrote guest memory for an IN");
		vm.ram[es + rdi] = (uint8_t)data[n++];
		cf_wreg(&vm, HV_X86_RDI, rdi + 1);
		cf_wreg(&vm, HV_X86_RCX, rcx - 1);
		if (rcx == 1)
			cf_skip(&vm);
	}
	cr_assert_eq(n, 4, "%zu elements transferred", n);
	cr_assert_arr_eq(vm.ram + CF_DATA, "WXYZ....", 8);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 1));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RDI) & 0xffff, CF_DATA + 4);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RCX) & 0xffff, 0);
	cf_destroy(&vm);
}

/* A single OUTSW: RSI still points at the word at the exit. */
Test(io, outsw_exits_before_the_instruction)
{
	const uint64_t qual = CF_IOQ(0x3f8, 2, false, false) | CF_IOQ_STRING;
	struct cf_vm vm;
	uint64_t rsi;
	uint16_t word;

	cf_start(&vm, CF_REAL16, GUEST(io_outsw));
	cf_expect_exit(&vm, VMX_REASON_IO);
	cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_EXIT_QUALIFIC), qual,
	    "qualification, expected %#" PRIx64 ": %s", qual, cf_exit_describe(&vm));
	cr_assert_eq(cf_rreg(&vm, HV_X86_RIP), cf_label(&vm, 0),
	    "%s", cf_exit_describe(&vm));
	cr_assert_eq(cf_rvmcs(&vm, VMCS_RO_VMEXIT_INSTR_LEN), 1);
	rsi = cf_rreg(&vm, HV_X86_RSI) & 0xffff;
	cr_assert_eq(rsi, cf_label(&vm, 2), "SI %#" PRIx64 " already moved", rsi);
	memcpy(&word, vm.ram + cf_rvmcs(&vm, VMCS_GUEST_DS_BASE) + rsi, 2);
	cr_assert_eq(word, 0xbeef);
	cf_wreg(&vm, HV_X86_RSI, rsi + 2);
	cf_skip(&vm);
	cf_expect_hlt(&vm, 1);
	cr_assert_eq(cf_rreg(&vm, HV_X86_RSI) & 0xffff, cf_label(&vm, 2) + 2);
	cf_destroy(&vm);
}
