/*
 * Unit tests of the arm64 public headers, built on this x86 machine with
 * -D__arm64__ (test_headers_arm64) and again with -D__aarch64__
 * (test_headers_aarch64), the macro Linux compilers define: through
 * <Hypervisor/Hypervisor.h> every constant of Apple's arm64 API has the
 * reference's value, every type its width and layout.
 *
 * The expected values are test_headers_arm64_values.h, generated from
 * shared/reference/hv-api-arm64.md §2 by gen_arm64_values.sh (never from
 * the headers). The prototypes of §3 are checked at compile time by
 * test_headers_arm64_protos.c.
 */
#include <Hypervisor/Hypervisor.h>

#include <criterion/criterion.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__arm64__) && !defined(__aarch64__)
#error "build this file with -D__arm64__ or -D__aarch64__"
#endif

/* The umbrella chose the arm64 set, not the Intel one. */
#if !defined(__HYPERVISOR_HV_VCPU__) || !defined(__HYPERVISOR_HV_GIC__)
#error "Hypervisor.h did not include the arm64 headers"
#endif
#if defined(__HYPERVISOR_HV__) || defined(__HYPERVISOR_HV_VMX__) ||           \
    defined(__HYPERVISOR_HV_RETURN__)
#error "Hypervisor.h included Intel headers on arm64"
#endif

struct value {
	const char *name;
	unsigned long long got;
	unsigned long long want;
};

static const struct value values[] = {
#define C(name, bits)
#define V(name, value)                                                         \
	{ #name, (unsigned long long)(name), (unsigned long long)(value) },
#include "test_headers_arm64_values.h"
#undef V
#undef C
};

Test(headers_arm64, every_value_of_the_reference)
{
	size_t n = sizeof(values) / sizeof(values[0]);

	cr_assert_eq(n, (size_t)ARM64_VALUE_COUNT);
	cr_assert_gt(n, 1800, "the generated table shrank to %zu", n);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(values[i].got, values[i].want,
		    "%s is %#llx, expected %#llx", values[i].name,
		    values[i].got, values[i].want);
}

/* Every enumerator fits the integer type Apple gives its enum: an
 * hv_sys_reg_t or GIC register name truncated by its uint16_t would still
 * compare equal above, so compare after the conversion too. */
#define FITS(name, type)                                                       \
	cr_expect_eq((unsigned long long)(type)(name),                         \
	    (unsigned long long)(name), "%s does not fit %s", #name, #type)

Test(headers_arm64, enumerators_fit_their_types)
{
	FITS(HV_SYS_REG_SP_EL2, hv_sys_reg_t);
	FITS(HV_SYS_REG_DBGWCR15_EL1, hv_sys_reg_t);
	FITS(HV_GIC_DISTRIBUTOR_REG_GICD_PIDR2, hv_gic_distributor_reg_t);
	FITS(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER1019, hv_gic_distributor_reg_t);
	FITS(HV_GIC_REDISTRIBUTOR_REG_GICR_ICFGR1, hv_gic_redistributor_reg_t);
	FITS(HV_GIC_ICC_REG_SRE_EL2, hv_gic_icc_reg_t);
	FITS(HV_GIC_ICH_REG_LR15_EL2, hv_gic_ich_reg_t);
	FITS(HV_GIC_ICV_REG_IGRPEN1_EL1, hv_gic_icv_reg_t);
	FITS(HV_GIC_REG_GICM_SET_SPI_NSR, hv_gic_msi_reg_t);
	FITS(HV_GIC_INT_EL1_PHYSICAL_TIMER, hv_gic_intid_t);
	FITS(HV_MEMORY_EXEC, hv_memory_flags_t);
}

/* ---- return codes (arm64/hv/hv_kern_types.h) ---- */

struct code {
	const char *name;
	hv_return_t got;
	uint32_t want;
};

static const struct code codes[] = {
#define V(name, value)
#define C(name, bits) { #name, (name), (bits) },
#include "test_headers_arm64_values.h"
#undef V
#undef C
};

Test(headers_arm64, return_codes)
{
	size_t n = sizeof(codes) / sizeof(codes[0]);

	cr_assert_eq(n, (size_t)ARM64_CODE_COUNT);
	cr_assert_eq(n, 10);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq((uint32_t)codes[i].got, codes[i].want,
		    "%s is %#x, expected %#x", codes[i].name,
		    (unsigned)codes[i].got, (unsigned)codes[i].want);
		/* As on macOS, a code compares equal to the hv_return_t
		 * holding its bit pattern. */
		cr_expect_eq(codes[i].got, (hv_return_t)codes[i].want, "%s",
		    codes[i].name);
	}
	cr_expect_eq(err_get_system(HV_ERROR), 0x3e);
	cr_expect_eq(err_get_sub(HV_ERROR), 0xba5);
	cr_expect_eq(err_get_code(HV_UNSUPPORTED), 0x0f);
}

/* ---- types ---- */

#define IS_TYPE(expr, type) _Generic((expr), type: 1, default: 0)

#define CHECK_TYPE(type, base)                                                 \
	do {                                                                   \
		cr_expect(IS_TYPE((type)0, base), "%s is not %s", #type,       \
		    #base);                                                    \
		cr_expect_eq(sizeof(type), sizeof(base), "sizeof(%s)", #type); \
	} while (0)

Test(headers_arm64, scalar_types)
{
	cr_expect(IS_TYPE((hv_return_t)0, int), "hv_return_t is not int");
	CHECK_TYPE(mach_error_t, int);
	CHECK_TYPE(hv_memory_flags_t, uint64_t);
	CHECK_TYPE(hv_ipa_t, uint64_t);
	CHECK_TYPE(hv_allocate_flags_t, uint64_t);
	CHECK_TYPE(hv_vcpu_t, uint64_t);
	CHECK_TYPE(hv_exit_reason_t, uint32_t);
	CHECK_TYPE(hv_exception_syndrome_t, uint64_t);
	CHECK_TYPE(hv_exception_address_t, uint64_t);
	CHECK_TYPE(hv_reg_t, uint32_t);
	CHECK_TYPE(hv_simd_fp_reg_t, uint32_t);
	CHECK_TYPE(hv_sme_z_reg_t, uint32_t);
	CHECK_TYPE(hv_sme_p_reg_t, uint32_t);
	CHECK_TYPE(hv_sys_reg_t, uint16_t);
	CHECK_TYPE(hv_interrupt_type_t, uint32_t);
	CHECK_TYPE(hv_cache_type_t, uint32_t);
	CHECK_TYPE(hv_feature_reg_t, uint32_t);
	CHECK_TYPE(hv_ipa_granule_t, uint32_t);
	CHECK_TYPE(hv_gic_intid_t, uint16_t);
	CHECK_TYPE(hv_gic_distributor_reg_t, uint16_t);
	CHECK_TYPE(hv_gic_redistributor_reg_t, uint32_t);
	CHECK_TYPE(hv_gic_icc_reg_t, uint16_t);
	CHECK_TYPE(hv_gic_ich_reg_t, uint16_t);
	CHECK_TYPE(hv_gic_icv_reg_t, uint16_t);
	CHECK_TYPE(hv_gic_msi_reg_t, uint16_t);
}

Test(headers_arm64, object_types_are_opaque_pointers)
{
	cr_expect(IS_TYPE((hv_vm_config_t)0, struct hv_vm_config_s *));
	cr_expect(IS_TYPE((hv_vcpu_config_t)0, struct hv_vcpu_config_s *));
	cr_expect(IS_TYPE((hv_gic_config_t)0, struct hv_gic_config_s *));
	cr_expect(IS_TYPE((hv_gic_state_t)0, struct hv_gic_state_s *));
	/* os_retain/os_release take them, as libdispatch's do. */
	cr_expect(_Generic(&os_retain, void *(*)(void *): 1, default: 0));
	cr_expect(_Generic(&os_release, void (*)(void *): 1, default: 0));
}

#define CHECK_OFFSET(type, field, off)                                         \
	cr_expect_eq(offsetof(type, field), (size_t)(off),                     \
	    "offsetof(%s, %s) is %zu, expected %zu", #type, #field,            \
	    offsetof(type, field), (size_t)(off))

Test(headers_arm64, exit_record_layout)
{
	cr_expect_eq(sizeof(hv_vcpu_exit_exception_t), 24);
	CHECK_OFFSET(hv_vcpu_exit_exception_t, syndrome, 0);
	CHECK_OFFSET(hv_vcpu_exit_exception_t, virtual_address, 8);
	CHECK_OFFSET(hv_vcpu_exit_exception_t, physical_address, 16);

	cr_expect_eq(sizeof(hv_vcpu_exit_t), 32);
	cr_expect_eq(alignof(hv_vcpu_exit_t), 8);
	CHECK_OFFSET(hv_vcpu_exit_t, reason, 0);
	CHECK_OFFSET(hv_vcpu_exit_t, exception, 8);
	CHECK_OFFSET(hv_vcpu_exit_t, exception.syndrome, 8);
	CHECK_OFFSET(hv_vcpu_exit_t, exception.virtual_address, 16);
	CHECK_OFFSET(hv_vcpu_exit_t, exception.physical_address, 24);

	hv_vcpu_exit_t e = { 0 };
	cr_expect(IS_TYPE(e.reason, hv_exit_reason_t));
	cr_expect(IS_TYPE(e.exception.syndrome, hv_exception_syndrome_t));
	cr_expect(IS_TYPE(e.exception.virtual_address, hv_exception_address_t));
	cr_expect(IS_TYPE(e.exception.physical_address, hv_ipa_t));
}

Test(headers_arm64, vector_and_sme_types)
{
	hv_simd_fp_uchar16_t q = { 0 };
	hv_sme_zt0_uchar64_t zt0;

	cr_expect_eq(sizeof(hv_simd_fp_uchar16_t), 16);
	cr_expect_eq(alignof(hv_simd_fp_uchar16_t), 16);
	cr_expect_eq(sizeof(hv_sme_zt0_uchar64_t), 64);
	/* Elements are bytes, indexable as with ext_vector_type. */
	q[15] = 0xff;
	cr_expect_eq(sizeof(q[0]), 1);
	cr_expect_eq(q[15], 0xff);
	cr_expect_eq(sizeof(zt0[0]), 1);

	cr_expect_eq(sizeof(hv_vcpu_sme_state_t), 2);
	CHECK_OFFSET(hv_vcpu_sme_state_t, streaming_sve_mode_enabled, 0);
	CHECK_OFFSET(hv_vcpu_sme_state_t, za_storage_enabled, 1);
	hv_vcpu_sme_state_t st = { 0 };
	cr_expect(IS_TYPE(st.streaming_sve_mode_enabled, bool));
	cr_expect(IS_TYPE(st.za_storage_enabled, bool));
}

Test(headers_arm64, kernel_message_layouts)
{
	cr_expect_eq(sizeof(hv_data_abort_notification_t), 32);
	CHECK_OFFSET(hv_data_abort_notification_t, context, 0);
	CHECK_OFFSET(hv_data_abort_notification_t, ipa, 8);
	CHECK_OFFSET(hv_data_abort_notification_t, value, 16);
	CHECK_OFFSET(hv_data_abort_notification_t, access_size, 24);
	CHECK_OFFSET(hv_data_abort_notification_t, access_type, 28);
	CHECK_OFFSET(hv_vm_mem_access_msg_t, header, 0);
	CHECK_OFFSET(hv_vm_mem_access_msg_t, body, sizeof(mach_msg_header_t));
}
