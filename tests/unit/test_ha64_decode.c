/*
 * The syndromes the arm64 backend rebuilds (a64/ha64_decode.c): each
 * instruction word below is what aarch64-linux-gnu-as makes of the text in
 * its comment; the fields expected are read off that text by hand (Arm ARM
 * D13.2.40), so a decoder that gets an encoding wrong fails here.
 */
#include <criterion/criterion.h>

#include "ha64_decode.h"

struct want {
	uint32_t insn;
	const char *text;
	unsigned sas, srt, rn;
	bool sse, sf, ar, write;
	int rm;
	int64_t imm;
};

static const struct want accesses[] = {
	{ 0xf9000041, "str x1, [x2]", 3, 1, 2, false, true, false, true, -1, 0 },
	{ 0xb9400883, "ldr w3, [x4, #8]", 2, 3, 4, false, false, false, false, -1, 8 },
	{ 0x397ffcc5, "ldrb w5, [x6, #4095]", 0, 5, 6, false, false, false, false, -1, 4095 },
	{ 0x79800507, "ldrsh x7, [x8, #2]", 1, 7, 8, true, true, false, false, -1, 2 },
	{ 0xb98013e9, "ldrsw x9, [sp, #16]", 2, 9, 31, true, true, false, false, -1, 16 },
	{ 0x39c0016a, "ldrsb w10, [x11]", 0, 10, 11, true, false, false, false, -1, 0 },
	{ 0x79000d9f, "strh wzr, [x12, #6]", 1, 31, 12, false, false, false, true, -1, 6 },
	{ 0xf85f81cd, "ldur x13, [x14, #-8]", 3, 13, 14, false, true, false, false, -1, -8 },
	{ 0xb80ffa0f, "sttr w15, [x16, #255]", 2, 15, 16, false, false, false, true, -1, 255 },
	{ 0xf8737a51, "ldr x17, [x18, x19, lsl #3]", 3, 17, 18, false, true, false, false, 19, 0 },
	{ 0xb836cab4, "str w20, [x21, w22, sxtw]", 2, 20, 21, false, false, false, true, 22, 0 },
	{ 0x38796b17, "ldrb w23, [x24, x25]", 0, 23, 24, false, false, false, false, 25, 0 },
	{ 0xc8dfff7a, "ldar x26, [x27]", 3, 26, 27, false, true, true, false, -1, 0 },
	{ 0x889fffbc, "stlr w28, [x29]", 2, 28, 29, false, false, true, true, -1, 0 },
};

Test(ha64_decode, accesses_with_a_syndrome)
{
	for (size_t i = 0; i < sizeof(accesses) / sizeof(accesses[0]); i++) {
		const struct want *w = &accesses[i];
		struct ha64_ldst d;
		cr_assert(ha64_decode_ldst(w->insn, &d), "%s: not decoded", w->text);
		cr_expect_eq(d.sas, w->sas, "%s: sas", w->text);
		cr_expect_eq(d.srt, w->srt, "%s: srt", w->text);
		cr_expect_eq(d.rn, w->rn, "%s: rn", w->text);
		cr_expect_eq(d.sse, w->sse, "%s: sse", w->text);
		cr_expect_eq(d.sf, w->sf, "%s: sf", w->text);
		cr_expect_eq(d.ar, w->ar, "%s: ar", w->text);
		cr_expect_eq(d.write, w->write, "%s: write", w->text);
		cr_expect_eq(d.rm, w->rm, "%s: rm", w->text);
		if (w->rm < 0)
			cr_expect_eq(d.imm, w->imm, "%s: imm %lld", w->text, (long long)d.imm);
	}
}

Test(ha64_decode, no_syndrome_without_isv)
{
	static const struct { uint32_t insn; const char *text; } none[] = {
		{ 0xf8408441, "ldr x1, [x2], #8 (post-index writeback)" },
		{ 0xf8408c41, "ldr x1, [x2, #8]! (pre-index writeback)" },
		{ 0xf9800020, "prfm pldl1keep, [x1]" },
		{ 0x3dc00020, "ldr q0, [x1] (SIMD&FP)" },
		{ 0xa9400861, "ldp x1, x2, [x3] (pair)" },
		{ 0xc85f7c41, "ldxr x1, [x2] (exclusive)" },
		{ 0xd4024682, "hvc #0x1234" },
		{ 0x00000000, "udf #0" },
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		struct ha64_ldst d;
		cr_expect_not(ha64_decode_ldst(none[i].insn, &d), "%s decoded", none[i].text);
	}
}

Test(ha64_decode, virtual_addresses)
{
	struct ha64_ldst d;
	cr_assert(ha64_decode_ldst(0xf85f81cd, &d)); /* ldur x13, [x14, #-8] */
	cr_expect_eq(ha64_ldst_va(&d, 0x1000, 0), 0xff8);
	cr_assert(ha64_decode_ldst(0xf8737a51, &d)); /* ldr x17, [x18, x19, lsl #3] */
	cr_expect_eq(ha64_ldst_va(&d, 0x1000, 5), 0x1028);
	cr_assert(ha64_decode_ldst(0xb836cab4, &d)); /* str w20, [x21, w22, sxtw] */
	cr_expect_eq(ha64_ldst_va(&d, 0x1000, 0xfffffffffffffff0ull), 0xff0);
	cr_expect_eq(ha64_ldst_va(&d, 0x1000, 0x1fffffff0ull), 0xff0, "only W22's 32 bits count");
	cr_assert(ha64_decode_ldst(0x397ffcc5, &d)); /* ldrb w5, [x6, #4095] */
	cr_expect_eq(ha64_ldst_va(&d, 0x9000000, 0), 0x9000fff);
}

Test(ha64_decode, data_abort_syndromes)
{
	struct ha64_ldst d;
	cr_assert(ha64_decode_ldst(0xf9000041, &d)); /* str x1, [x2] */
	/* EC 0x24, IL, ISV, SAS 3, SRT 1, SF, WnR, DFSC 0x07 */
	cr_expect_eq(ha64_data_abort_esr(&d, true, 0x07), 0x93c18047ull);
	cr_assert(ha64_decode_ldst(0x79800507, &d)); /* ldrsh x7, [x8, #2] */
	/* SAS 1, SSE, SRT 7, SF, read */
	cr_expect_eq(ha64_data_abort_esr(&d, false, 0x07), 0x93678007ull);
	cr_expect_eq(ha64_data_abort_esr(NULL, true, 0x0f), 0x9200004full, "ISV 0: WnR and DFSC only");
}

Test(ha64_decode, hvc_and_smc)
{
	uint16_t imm;
	bool smc;
	cr_assert(ha64_decode_hvc_smc(0xd4024682, &imm, &smc)); /* hvc #0x1234 */
	cr_expect_eq(imm, 0x1234);
	cr_expect_not(smc);
	cr_assert(ha64_decode_hvc_smc(0xd40000e3, &imm, &smc)); /* smc #7 */
	cr_expect_eq(imm, 7);
	cr_expect(smc);
	cr_expect_not(ha64_decode_hvc_smc(0xd4000001, &imm, &smc), "svc #0");
	cr_expect_not(ha64_decode_hvc_smc(0xf9000041, &imm, &smc));
	cr_expect_eq(ha64_hvc_smc_esr(false, 0x1234), 0x5a001234ull);
	cr_expect_eq(ha64_hvc_smc_esr(true, 7), 0x5e000007ull);
}
