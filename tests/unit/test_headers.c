/*
 * Unit tests of the public headers: every constant of the Intel API has
 * Apple's value, every type Apple's width, every function Apple's signature,
 * and the names Apple spells as enumerators are not macros.
 *
 * Expected values are transcribed from shared/reference/hv-api.md (§2-§4).
 * test_headers_macros.c, linked into the same executable, includes the
 * headers the way xhyve and hvdos do.
 */
#include <Hypervisor/Hypervisor.h>

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Defined in test_headers_macros.c. */
uint32_t test_headers_macros_guest_rip(void);
uint32_t test_headers_macros_host_rsp(void);
uint32_t test_headers_macros_vpid(void);
uint32_t test_headers_macros_guest_physical_address(void);
int test_headers_macros_hv_h_alone_has_vmx(void);
int test_headers_macros_probe(void);

/* Compares as unsigned 64-bit so enumerators of any type compare by value. */
#define CHECK(name, value)                                                     \
	cr_expect_eq((unsigned long long)(name), (unsigned long long)(value),  \
	    "%s is %#llx, expected %#llx", #name,                              \
	    (unsigned long long)(name), (unsigned long long)(value))

#define IS_TYPE(expr, type) _Generic((expr), type: 1, default: 0)

#define CHECK_TYPE(expr, type)                                                 \
	cr_expect(IS_TYPE(expr, type), "%s is not of type %s", #expr, #type)

/* Holds when the function was declared with exactly this prototype. */
#define CHECK_SIGNATURE(fn, ret, ...)                                          \
	cr_expect(_Generic(&fn, ret (*)(__VA_ARGS__): 1, default: 0),          \
	    "%s does not have Apple's signature", #fn)

#define CHECK_OFFSET(type, field, off)                                         \
	cr_expect_eq(offsetof(type, field), (size_t)(off),                     \
	    "offsetof(%s, %s) is %zu, expected %d", #type, #field,             \
	    offsetof(type, field), (off))

#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- hv_error.h ---- */

#define CHECK_CODE(name, bits, as_int)                                         \
	do {                                                                   \
		CHECK((uint32_t)(name), bits);                                 \
		cr_expect_eq((name), (hv_return_t)(bits), "%s", #name);        \
		cr_expect_eq((hv_return_t)(name), (as_int), "%s", #name);      \
	} while (0)

Test(headers, return_codes)
{
	CHECK_CODE(HV_SUCCESS, 0x00000000u, 0);
	CHECK_CODE(HV_ERROR, 0xfae94001u, -85377023);
	CHECK_CODE(HV_BUSY, 0xfae94002u, -85377022);
	CHECK_CODE(HV_BAD_ARGUMENT, 0xfae94003u, -85377021);
	CHECK_CODE(HV_NO_RESOURCES, 0xfae94005u, -85377019);
	CHECK_CODE(HV_NO_DEVICE, 0xfae94006u, -85377018);
	CHECK_CODE(HV_DENIED, 0xfae94007u, -85377017);
	CHECK_CODE(HV_FAULT, 0xfae94008u, -85377016);
	CHECK_CODE(HV_UNSUPPORTED, 0xfae9400fu, -85377009);
}

Test(headers, error_helpers)
{
	CHECK((uint32_t)err_local, 0xf8000000u);
	CHECK(err_sub_hypervisor, 0x02e94000u);
	CHECK((uint32_t)err_common_hypervisor, 0xfae94000u);
	CHECK(err_get_system(HV_ERROR), 0x3e);
	CHECK(err_get_sub(HV_ERROR), 0xba5);
	CHECK(err_get_code(HV_UNSUPPORTED), 0x0f);
}

/*
 * Client code compares and switches on hv_return_t with the HV_* names; with
 * Apple's Mach definitions that is int against int. Any sign-compare
 * warning here fails the build.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wsign-compare"
static int classify(hv_return_t ret);
static int classify(hv_return_t ret)
{
	if (ret == HV_ERROR)
		return 1;
	if (HV_BUSY == ret)
		return 2;
	switch (ret) {
	case HV_SUCCESS:
		return 0;
	case HV_UNSUPPORTED:
		return 3;
	default:
		return -1;
	}
}
#pragma GCC diagnostic pop

Test(headers, return_codes_compare_as_hv_return_t)
{
	cr_expect(HV_ERROR == (hv_return_t)0xfae94001);
	cr_expect_eq(classify((hv_return_t)0xfae94001), 1);
	cr_expect_eq(classify((hv_return_t)0xfae94002), 2);
	cr_expect_eq(classify(0), 0);
	cr_expect_eq(classify((hv_return_t)0xfae9400f), 3);
	cr_expect_eq(classify((hv_return_t)0xfae94003), -1);
	CHECK_TYPE(HV_ERROR, int);
	CHECK_TYPE(HV_SUCCESS, int);
}

/* ---- types ---- */

Test(headers, scalar_types)
{
	cr_expect_eq(sizeof(hv_return_t), 4);
	CHECK_TYPE((hv_return_t)0, int);
	CHECK_TYPE((mach_error_t)0, int);
	CHECK_TYPE((mach_port_t)0, unsigned int);
	cr_expect_eq(sizeof(hv_vcpuid_t), sizeof(unsigned));
	CHECK_TYPE((hv_vcpuid_t)0, unsigned int);
	CHECK_TYPE((hv_uvaddr_t)0, const void *);
	cr_expect_eq(sizeof(hv_gpaddr_t), 8);
	CHECK_TYPE((hv_gpaddr_t)0, uint64_t);
	CHECK_TYPE((hv_vm_options_t)0, uint64_t);
	CHECK_TYPE((hv_vcpu_options_t)0, uint64_t);
	CHECK_TYPE((hv_memory_flags_t)0, uint64_t);
	CHECK_TYPE((hv_capability_t)0, uint64_t);
	CHECK_TYPE((hv_vm_space_t)0, unsigned int);
	CHECK_TYPE((hv_msr_flags_t)0, uint32_t);
	CHECK_TYPE((hv_ion_flags_t)0, uint32_t);
	CHECK_TYPE((hv_vm_exitinfo_t)0, uint32_t);
	CHECK_TYPE((hv_apic_ctrl_t)0, uint64_t);
	CHECK_TYPE((hv_apic_lvt_flavor_t)0, uint32_t);
	CHECK_TYPE((hv_apic_intr_trigger_t)0, uint32_t);
	CHECK_TYPE((hv_shadow_flags_t)0, uint64_t);
	CHECK_TYPE((hv_vmx_msr_info_t)0, uint64_t);
	CHECK_TYPE((hv_allocate_flags_t)0, uint64_t);
	cr_expect_eq(sizeof(hv_x86_reg_t), 4);
	cr_expect_eq(sizeof(hv_vmx_capability_t), 4);
	cr_expect_eq(sizeof(enum hv_boot_state), 4);
}

Test(headers, ion_message_layout)
{
	cr_expect_eq(sizeof(mach_msg_header_t), 24);
	cr_expect_eq(sizeof(mach_msg_trailer_t), 8);
	CHECK_OFFSET(hv_ion_message_t, header, 0);
	CHECK_OFFSET(hv_ion_message_t, addr, 24);
	CHECK_OFFSET(hv_ion_message_t, size, 32);
	CHECK_OFFSET(hv_ion_message_t, value, 40);
	CHECK_OFFSET(hv_ion_message_t, trailer, 48);
	cr_expect_eq(sizeof(hv_ion_message_t), 56);
}

/* Offsets follow from Apple's field order with natural alignment. */
Test(headers, apic_state_layout)
{
	CHECK_OFFSET(struct hv_apic_state, apic_gpa, 0);
	CHECK_OFFSET(struct hv_apic_state, apic_controls, 8);
	CHECK_OFFSET(struct hv_apic_state, tsc_deadline, 16);
	CHECK_OFFSET(struct hv_apic_state, apic_id, 24);
	CHECK_OFFSET(struct hv_apic_state, ver, 28);
	CHECK_OFFSET(struct hv_apic_state, tpr, 32);
	CHECK_OFFSET(struct hv_apic_state, apr, 36);
	CHECK_OFFSET(struct hv_apic_state, ldr, 40);
	CHECK_OFFSET(struct hv_apic_state, dfr, 44);
	CHECK_OFFSET(struct hv_apic_state, svr, 48);
	CHECK_OFFSET(struct hv_apic_state, isr, 52);
	CHECK_OFFSET(struct hv_apic_state, tmr, 84);
	CHECK_OFFSET(struct hv_apic_state, irr, 116);
	CHECK_OFFSET(struct hv_apic_state, esr, 148);
	CHECK_OFFSET(struct hv_apic_state, lvt, 152);
	CHECK_OFFSET(struct hv_apic_state, icr, 180);
	CHECK_OFFSET(struct hv_apic_state, icr_timer, 188);
	CHECK_OFFSET(struct hv_apic_state, dcr_timer, 192);
	CHECK_OFFSET(struct hv_apic_state, ccr_timer, 196);
	CHECK_OFFSET(struct hv_apic_state, esr_pending, 200);
	CHECK_OFFSET(struct hv_apic_state, boot_state, 204);
	CHECK_OFFSET(struct hv_apic_state, aeoi, 208);
	cr_expect_eq(sizeof(struct hv_apic_state), 240);
	CHECK_OFFSET(hv_apic_state_ext_t, version, 0);
	CHECK_OFFSET(hv_apic_state_ext_t, state, 8);
	cr_expect_eq(sizeof(hv_apic_state_ext_t), 248);
	CHECK(HV_BS_INIT, 0);
	CHECK(HV_BS_SIPI, 1);
	CHECK(HV_BS_RUNNING, 2);
	CHECK(HV_APIC_STATE_EXT_VER, 100);
}

Test(headers, atpic_state_layout)
{
	CHECK_OFFSET(struct hv_atpic_state, ready, 0);
	CHECK_OFFSET(struct hv_atpic_state, icw_num, 1);
	CHECK_OFFSET(struct hv_atpic_state, rd_cmd_reg, 2);
	CHECK_OFFSET(struct hv_atpic_state, aeoi, 3);
	CHECK_OFFSET(struct hv_atpic_state, poll, 4);
	CHECK_OFFSET(struct hv_atpic_state, rotate, 5);
	CHECK_OFFSET(struct hv_atpic_state, sfn, 6);
	CHECK_OFFSET(struct hv_atpic_state, irq_base, 7);
	CHECK_OFFSET(struct hv_atpic_state, request, 8);
	CHECK_OFFSET(struct hv_atpic_state, service, 9);
	CHECK_OFFSET(struct hv_atpic_state, mask, 10);
	CHECK_OFFSET(struct hv_atpic_state, smm, 11);
	CHECK_OFFSET(struct hv_atpic_state, last_request, 12);
	CHECK_OFFSET(struct hv_atpic_state, lowprio, 13);
	CHECK_OFFSET(struct hv_atpic_state, intr_raised, 14);
	CHECK_OFFSET(struct hv_atpic_state, elc, 15);
	cr_expect_eq(sizeof(struct hv_atpic_state), 16);
	CHECK_OFFSET(hv_atpic_state_ext_t, state, 4);
	cr_expect_eq(sizeof(hv_atpic_state_ext_t), 20);
	CHECK(HV_ATPIC_STATE_EXT_VER, 100);
}

Test(headers, ioapic_state_layout)
{
	CHECK_OFFSET(struct hv_ioapic_state, rtbl, 0);
	cr_expect_eq(sizeof(((struct hv_ioapic_state *)0)->rtbl), 32 * 8);
	CHECK_OFFSET(struct hv_ioapic_state, irr, 256);
	CHECK_OFFSET(struct hv_ioapic_state, ioa_id, 260);
	CHECK_OFFSET(struct hv_ioapic_state, ioregsel, 264);
	cr_expect_eq(sizeof(struct hv_ioapic_state), 272);
	CHECK_OFFSET(hv_ioapic_state_ext_t, state, 8);
	cr_expect_eq(sizeof(hv_ioapic_state_ext_t), 280);
	CHECK(HV_IOAPIC_STATE_EXT_VER, 100);
}

/* ---- hv_types.h constants (§3.2) ---- */

Test(headers, capability_and_space_ids)
{
	CHECK(HV_CAP_VCPUMAX, 0);
	CHECK(HV_CAP_ADDRSPACEMAX, 1);
	CHECK(HV_VM_SPACE_DEFAULT, 0);
}

Test(headers, vm_options)
{
	CHECK(HV_VM_DEFAULT, 0);
	CHECK(HV_VM_SPECIFY_MITIGATIONS, 0x1);
	CHECK(HV_VM_MITIGATION_A_ENABLE, 0x2);
	CHECK(HV_VM_MITIGATION_B_ENABLE, 0x4);
	CHECK(HV_VM_MITIGATION_C_ENABLE, 0x8);
	CHECK(HV_VM_MITIGATION_D_ENABLE, 0x10);
	CHECK(HV_VM_MITIGATION_E_ENABLE, 0x40);
	CHECK(HV_VM_ACCEL_APIC, 0x400);
}

Test(headers, vcpu_options)
{
	CHECK(HV_VCPU_DEFAULT, 0);
	CHECK(HV_VCPU_ACCEL_RDPMC, 0x1);
	CHECK(HV_VCPU_TSC_RELATIVE, 0x2);
}

Test(headers, memory_flags)
{
	CHECK(HV_MEMORY_READ, 0x1);
	CHECK(HV_MEMORY_WRITE, 0x2);
	CHECK(HV_MEMORY_EXEC, 0x4);
	CHECK(HV_MEMORY_UEXEC, 0x8);
	CHECK(HV_MEMORY_MAXPROT, 0x10);
	CHECK(HV_MEMORY_MAXPROT_READ, 0x20);
	CHECK(HV_MEMORY_MAXPROT_WRITE, 0x40);
	CHECK(HV_MEMORY_MAXPROT_EXEC, 0x80);
	CHECK(HV_MEMORY_MAXPROT_UEXEC, 0x100);
}

Test(headers, msr_and_ion_flags)
{
	CHECK(HV_MSR_NONE, 0);
	CHECK(HV_MSR_READ, 1);
	CHECK(HV_MSR_WRITE, 2);
	CHECK(kHV_ION_NONE, 0);
	CHECK(kHV_ION_ANY_VALUE, 2);
	CHECK(kHV_ION_ANY_SIZE, 4);
	CHECK(kHV_ION_EXIT_FULL, 8);
	CHECK(HV_ION_NONE, 0);
	CHECK(HV_ION_ANY_VALUE, 2);
	CHECK(HV_ION_ANY_SIZE, 4);
	CHECK(HV_ION_EXIT_FULL, 8);
}

Test(headers, allocate_and_deadline)
{
	CHECK(HV_ALLOCATE_DEFAULT, 0);
	CHECK(HV_DEADLINE_FOREVER, 0xffffffffffffffffull);
}

Test(headers, exitinfo_and_apic_enums)
{
	CHECK(HV_VM_EXITINFO_VMX, 1);
	CHECK(HV_VM_EXITINFO_INIT_AP, 2);
	CHECK(HV_VM_EXITINFO_STARTUP_AP, 3);
	CHECK(HV_VM_EXITINFO_IOAPIC_EOI, 4);
	CHECK(HV_VM_EXITINFO_INJECT_EXCP, 5);
	CHECK(HV_VM_EXITINFO_SMI, 6);
	CHECK(HV_VM_EXITINFO_APIC_ACCESS_READ, 7);
	CHECK(HV_APIC_CTRL_DEFAULT, 0);
	CHECK(HV_APIC_CTRL_EOI_ICR_TPR, 0x1);
	CHECK(HV_APIC_CTRL_GUEST_IDLE, 0x2);
	CHECK(HV_APIC_CTRL_NO_TIMER, 0x4);
	CHECK(HV_APIC_CTRL_IOAPIC_EOI, 0x8);
	CHECK(HV_APIC_LVT_FLAVOR_TIMER, 1);
	CHECK(HV_APIC_EDGE_TRIGGER, 0);
	CHECK(HV_APIC_EDGE_TRIGGER_AEOI, 1);
	CHECK(HV_APIC_LEVEL_TRIGGER, 2);
}

/* ---- hv_arch_x86.h (§3.3) ---- */

Test(headers, x86_register_ids)
{
	CHECK(HV_X86_RIP, 0);
	CHECK(HV_X86_RFLAGS, 1);
	CHECK(HV_X86_RAX, 2);
	CHECK(HV_X86_RCX, 3);
	CHECK(HV_X86_RDX, 4);
	CHECK(HV_X86_RBX, 5);
	CHECK(HV_X86_RSI, 6);
	CHECK(HV_X86_RDI, 7);
	CHECK(HV_X86_RSP, 8);
	CHECK(HV_X86_RBP, 9);
	CHECK(HV_X86_R8, 10);
	CHECK(HV_X86_R9, 11);
	CHECK(HV_X86_R10, 12);
	CHECK(HV_X86_R11, 13);
	CHECK(HV_X86_R12, 14);
	CHECK(HV_X86_R13, 15);
	CHECK(HV_X86_R14, 16);
	CHECK(HV_X86_R15, 17);
	CHECK(HV_X86_CS, 18);
	CHECK(HV_X86_SS, 19);
	CHECK(HV_X86_DS, 20);
	CHECK(HV_X86_ES, 21);
	CHECK(HV_X86_FS, 22);
	CHECK(HV_X86_GS, 23);
	CHECK(HV_X86_IDT_BASE, 24);
	CHECK(HV_X86_IDT_LIMIT, 25);
	CHECK(HV_X86_GDT_BASE, 26);
	CHECK(HV_X86_GDT_LIMIT, 27);
	CHECK(HV_X86_LDTR, 28);
	CHECK(HV_X86_LDT_BASE, 29);
	CHECK(HV_X86_LDT_LIMIT, 30);
	CHECK(HV_X86_LDT_AR, 31);
	CHECK(HV_X86_TR, 32);
	CHECK(HV_X86_TSS_BASE, 33);
	CHECK(HV_X86_TSS_LIMIT, 34);
	CHECK(HV_X86_TSS_AR, 35);
	CHECK(HV_X86_CR0, 36);
	CHECK(HV_X86_CR1, 37);
	CHECK(HV_X86_CR2, 38);
	CHECK(HV_X86_CR3, 39);
	CHECK(HV_X86_CR4, 40);
	CHECK(HV_X86_DR0, 41);
	CHECK(HV_X86_DR1, 42);
	CHECK(HV_X86_DR2, 43);
	CHECK(HV_X86_DR3, 44);
	CHECK(HV_X86_DR4, 45);
	CHECK(HV_X86_DR5, 46);
	CHECK(HV_X86_DR6, 47);
	CHECK(HV_X86_DR7, 48);
	CHECK(HV_X86_TPR, 49);
	CHECK(HV_X86_XCR0, 50);
	CHECK(HV_X86_REGISTERS_MAX, 51);
	CHECK(__HV_X86_RIP, 0);
	CHECK(__HV_X86_RFLAGS, 1);
	CHECK(__HV_X86_RAX, 2);
	CHECK(__HV_X86_RCX, 3);
	CHECK(__HV_X86_RDX, 4);
	CHECK(__HV_X86_RBX, 5);
	CHECK(__HV_X86_RSI, 6);
	CHECK(__HV_X86_RDI, 7);
	CHECK(__HV_X86_RSP, 8);
	CHECK(__HV_X86_RBP, 9);
	CHECK(__HV_X86_R8, 10);
	CHECK(__HV_X86_R9, 11);
	CHECK(__HV_X86_R10, 12);
	CHECK(__HV_X86_R11, 13);
	CHECK(__HV_X86_R12, 14);
	CHECK(__HV_X86_R13, 15);
	CHECK(__HV_X86_R14, 16);
	CHECK(__HV_X86_R15, 17);
	CHECK(__HV_X86_CS, 18);
	CHECK(__HV_X86_SS, 19);
	CHECK(__HV_X86_DS, 20);
	CHECK(__HV_X86_ES, 21);
	CHECK(__HV_X86_FS, 22);
	CHECK(__HV_X86_GS, 23);
	CHECK(__HV_X86_IDT_BASE, 24);
	CHECK(__HV_X86_IDT_LIMIT, 25);
	CHECK(__HV_X86_GDT_BASE, 26);
	CHECK(__HV_X86_GDT_LIMIT, 27);
	CHECK(__HV_X86_LDTR, 28);
	CHECK(__HV_X86_LDT_BASE, 29);
	CHECK(__HV_X86_LDT_LIMIT, 30);
	CHECK(__HV_X86_LDT_AR, 31);
	CHECK(__HV_X86_TR, 32);
	CHECK(__HV_X86_TSS_BASE, 33);
	CHECK(__HV_X86_TSS_LIMIT, 34);
	CHECK(__HV_X86_TSS_AR, 35);
	CHECK(__HV_X86_CR0, 36);
	CHECK(__HV_X86_CR1, 37);
	CHECK(__HV_X86_CR2, 38);
	CHECK(__HV_X86_CR3, 39);
	CHECK(__HV_X86_CR4, 40);
	CHECK(__HV_X86_DR0, 41);
	CHECK(__HV_X86_DR1, 42);
	CHECK(__HV_X86_DR2, 43);
	CHECK(__HV_X86_DR3, 44);
	CHECK(__HV_X86_DR4, 45);
	CHECK(__HV_X86_DR5, 46);
	CHECK(__HV_X86_DR6, 47);
	CHECK(__HV_X86_DR7, 48);
	CHECK(__HV_X86_TPR, 49);
	CHECK(__HV_X86_XCR0, 50);
	CHECK(__HV_X86_REGISTERS_MAX, 51);
}

/* ---- hv_vmx.h (§3.4) ---- */

Test(headers, shadow_flags)
{
	CHECK(HV_SHADOW_VMCS_NONE, 0);
	CHECK(HV_SHADOW_VMCS_READ, 0x1);
	CHECK(HV_SHADOW_VMCS_WRITE, 0x2);
}

Test(headers, vmx_capability_ids)
{
	CHECK(HV_VMX_CAP_PINBASED, 0);
	CHECK(HV_VMX_CAP_PROCBASED, 1);
	CHECK(HV_VMX_CAP_PROCBASED2, 2);
	CHECK(HV_VMX_CAP_ENTRY, 3);
	CHECK(HV_VMX_CAP_EXIT, 4);
	CHECK(HV_VMX_CAP_BASIC, 5);
	CHECK(HV_VMX_CAP_TRUE_PINBASED, 6);
	CHECK(HV_VMX_CAP_TRUE_PROCBASED, 7);
	CHECK(HV_VMX_CAP_TRUE_ENTRY, 8);
	CHECK(HV_VMX_CAP_TRUE_EXIT, 9);
	CHECK(HV_VMX_CAP_MISC, 10);
	CHECK(HV_VMX_CAP_CR0_FIXED0, 11);
	CHECK(HV_VMX_CAP_CR0_FIXED1, 12);
	CHECK(HV_VMX_CAP_CR4_FIXED0, 13);
	CHECK(HV_VMX_CAP_CR4_FIXED1, 14);
	CHECK(HV_VMX_CAP_VMCS_ENUM, 15);
	CHECK(HV_VMX_CAP_EPT_VPID_CAP, 16);
	CHECK(HV_VMX_CAP_PREEMPTION_TIMER, 32);
}

Test(headers, vmx_msr_info_ids)
{
	CHECK(HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES, 0);
	CHECK(HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES, 1);
	CHECK(HV_VMX_VALID_MSR_IA32_PERFEVNTSEL, 2);
	CHECK(HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL, 3);
	CHECK(HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL, 4);
	CHECK(HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS, 5);
	CHECK(HV_VMX_VALID_MSR_IA32_DEBUGCTL, 6);
	CHECK(HV_VMX_VALID_MSR_IA32_SPEC_CTRL, 7);
	CHECK(HV_VMX_NEED_MSR_IA32_SPEC_CTRL, 8);
}

/* ---- hv_arch_vmx.h: VMCS field encodings (§3.5) ---- */

Test(headers, vmcs_fields_16bit)
{
	CHECK(VMCS_VPID, 0x00000000);
	CHECK(VMCS_CTRL_POSTED_INT_N_VECTOR, 0x00000002);
	CHECK(VMCS_CTRL_EPTP_INDEX, 0x00000004);
	CHECK(VMCS_GUEST_ES, 0x00000800);
	CHECK(VMCS_GUEST_CS, 0x00000802);
	CHECK(VMCS_GUEST_SS, 0x00000804);
	CHECK(VMCS_GUEST_DS, 0x00000806);
	CHECK(VMCS_GUEST_FS, 0x00000808);
	CHECK(VMCS_GUEST_GS, 0x0000080a);
	CHECK(VMCS_GUEST_LDTR, 0x0000080c);
	CHECK(VMCS_GUEST_TR, 0x0000080e);
	CHECK(VMCS_GUEST_INT_STATUS, 0x00000810);
	CHECK(VMCS_GUESTPML_INDEX, 0x00000812);
	CHECK(VMCS_HOST_ES, 0x00000c00);
	CHECK(VMCS_HOST_CS, 0x00000c02);
	CHECK(VMCS_HOST_SS, 0x00000c04);
	CHECK(VMCS_HOST_DS, 0x00000c06);
	CHECK(VMCS_HOST_FS, 0x00000c08);
	CHECK(VMCS_HOST_GS, 0x00000c0a);
	CHECK(VMCS_HOST_TR, 0x00000c0c);
}

Test(headers, vmcs_fields_64bit)
{
	CHECK(VMCS_CTRL_IO_BITMAP_A, 0x00002000);
	CHECK(VMCS_CTRL_IO_BITMAP_B, 0x00002002);
	CHECK(VMCS_CTRL_MSR_BITMAPS, 0x00002004);
	CHECK(VMCS_CTRL_VMEXIT_MSR_STORE_ADDR, 0x00002006);
	CHECK(VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR, 0x00002008);
	CHECK(VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR, 0x0000200a);
	CHECK(VMCS_CTRL_EXECUTIVE_VMCS_PTR, 0x0000200c);
	CHECK(VMCS_CTRL_PML_ADDR, 0x0000200e);
	CHECK(VMCS_CTRL_TSC_OFFSET, 0x00002010);
	CHECK(VMCS_CTRL_VIRTUAL_APIC, 0x00002012);
	CHECK(VMCS_CTRL_APIC_ACCESS, 0x00002014);
	CHECK(VMCS_CTRL_POSTED_INT_DESC_ADDR, 0x00002016);
	CHECK(VMCS_CTRL_VMFUNC_CTRL, 0x00002018);
	CHECK(VMCS_CTRL_EPTP, 0x0000201a);
	CHECK(VMCS_CTRL_EOI_EXIT_BITMAP_0, 0x0000201c);
	CHECK(VMCS_CTRL_EOI_EXIT_BITMAP_1, 0x0000201e);
	CHECK(VMCS_CTRL_EOI_EXIT_BITMAP_2, 0x00002020);
	CHECK(VMCS_CTRL_EOI_EXIT_BITMAP_3, 0x00002022);
	CHECK(VMCS_CTRL_EPTP_LIST_ADDR, 0x00002024);
	CHECK(VMCS_CTRL_VMREAD_BITMAP_ADDR, 0x00002026);
	CHECK(VMCS_CTRL_VMWRITE_BITMAP_ADDR, 0x00002028);
	CHECK(VMCS_CTRL_VIRT_EXC_INFO_ADDR, 0x0000202a);
	CHECK(VMCS_CTRL_XSS_EXITING_BITMAP, 0x0000202c);
	CHECK(VMCS_CTRL_ENCLS_EXITING_BITMAP, 0x0000202e);
	CHECK(VMCS_CTRL_SPP_TABLE, 0x00002030);
	CHECK(VMCS_CTRL_TSC_MULTIPLIER, 0x00002032);
	CHECK(VMCS_CTRL_ENCLV_EXITING_BITMAP, 0x00002036);
	CHECK(VMCS_GUEST_PHYSICAL_ADDRESS, 0x00002400);
	CHECK(VMCS_GUEST_LINK_POINTER, 0x00002800);
	CHECK(VMCS_GUEST_IA32_DEBUGCTL, 0x00002802);
	CHECK(VMCS_GUEST_IA32_PAT, 0x00002804);
	CHECK(VMCS_GUEST_IA32_EFER, 0x00002806);
	CHECK(VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, 0x00002808);
	CHECK(VMCS_GUEST_PDPTE0, 0x0000280a);
	CHECK(VMCS_GUEST_PDPTE1, 0x0000280c);
	CHECK(VMCS_GUEST_PDPTE2, 0x0000280e);
	CHECK(VMCS_GUEST_PDPTE3, 0x00002810);
	CHECK(VMCS_GUEST_IA32_BNDCFGS, 0x00002812);
	CHECK(VMCS_GUEST_IA32_RTIT_CTL, 0x00002814);
	CHECK(VMCS_GUEST_IA32_PKRS, 0x00002818);
	CHECK(VMCS_HOST_IA32_PAT, 0x00002c00);
	CHECK(VMCS_HOST_IA32_EFER, 0x00002c02);
	CHECK(VMCS_HOST_IA32_PERF_GLOBAL_CTRL, 0x00002c04);
	CHECK(VMCS_HOST_IA32_PKRS, 0x00002c06);
}

Test(headers, vmcs_fields_32bit)
{
	CHECK(VMCS_CTRL_PIN_BASED, 0x00004000);
	CHECK(VMCS_CTRL_CPU_BASED, 0x00004002);
	CHECK(VMCS_CTRL_EXC_BITMAP, 0x00004004);
	CHECK(VMCS_CTRL_PF_ERROR_MASK, 0x00004006);
	CHECK(VMCS_CTRL_PF_ERROR_MATCH, 0x00004008);
	CHECK(VMCS_CTRL_CR3_COUNT, 0x0000400a);
	CHECK(VMCS_CTRL_VMEXIT_CONTROLS, 0x0000400c);
	CHECK(VMCS_CTRL_VMEXIT_MSR_STORE_COUNT, 0x0000400e);
	CHECK(VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT, 0x00004010);
	CHECK(VMCS_CTRL_VMENTRY_CONTROLS, 0x00004012);
	CHECK(VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT, 0x00004014);
	CHECK(VMCS_CTRL_VMENTRY_IRQ_INFO, 0x00004016);
	CHECK(VMCS_CTRL_VMENTRY_EXC_ERROR, 0x00004018);
	CHECK(VMCS_CTRL_VMENTRY_INSTR_LEN, 0x0000401a);
	CHECK(VMCS_CTRL_TPR_THRESHOLD, 0x0000401c);
	CHECK(VMCS_CTRL_CPU_BASED2, 0x0000401e);
	CHECK(VMCS_CTRL_PLE_GAP, 0x00004020);
	CHECK(VMCS_CTRL_PLE_WINDOW, 0x00004022);
	CHECK(VMCS_RO_INSTR_ERROR, 0x00004400);
	CHECK(VMCS_RO_EXIT_REASON, 0x00004402);
	CHECK(VMCS_RO_VMEXIT_IRQ_INFO, 0x00004404);
	CHECK(VMCS_RO_VMEXIT_IRQ_ERROR, 0x00004406);
	CHECK(VMCS_RO_IDT_VECTOR_INFO, 0x00004408);
	CHECK(VMCS_RO_IDT_VECTOR_ERROR, 0x0000440a);
	CHECK(VMCS_RO_VMEXIT_INSTR_LEN, 0x0000440c);
	CHECK(VMCS_RO_VMX_INSTR_INFO, 0x0000440e);
	CHECK(VMCS_GUEST_ES_LIMIT, 0x00004800);
	CHECK(VMCS_GUEST_CS_LIMIT, 0x00004802);
	CHECK(VMCS_GUEST_SS_LIMIT, 0x00004804);
	CHECK(VMCS_GUEST_DS_LIMIT, 0x00004806);
	CHECK(VMCS_GUEST_FS_LIMIT, 0x00004808);
	CHECK(VMCS_GUEST_GS_LIMIT, 0x0000480a);
	CHECK(VMCS_GUEST_LDTR_LIMIT, 0x0000480c);
	CHECK(VMCS_GUEST_TR_LIMIT, 0x0000480e);
	CHECK(VMCS_GUEST_GDTR_LIMIT, 0x00004810);
	CHECK(VMCS_GUEST_IDTR_LIMIT, 0x00004812);
	CHECK(VMCS_GUEST_ES_AR, 0x00004814);
	CHECK(VMCS_GUEST_CS_AR, 0x00004816);
	CHECK(VMCS_GUEST_SS_AR, 0x00004818);
	CHECK(VMCS_GUEST_DS_AR, 0x0000481a);
	CHECK(VMCS_GUEST_FS_AR, 0x0000481c);
	CHECK(VMCS_GUEST_GS_AR, 0x0000481e);
	CHECK(VMCS_GUEST_LDTR_AR, 0x00004820);
	CHECK(VMCS_GUEST_TR_AR, 0x00004822);
	CHECK(VMCS_GUEST_INTERRUPTIBILITY, 0x00004824);
	CHECK(VMCS_GUEST_IGNORE_IRQ, 0x00004824);
	CHECK(VMCS_GUEST_ACTIVITY_STATE, 0x00004826);
	CHECK(VMCS_GUEST_SMBASE, 0x00004828);
	CHECK(VMCS_GUEST_IA32_SYSENTER_CS, 0x0000482a);
	CHECK(VMCS_GUEST_VMX_TIMER_VALUE, 0x0000482e);
	CHECK(VMCS_HOST_IA32_SYSENTER_CS, 0x00004c00);
}

Test(headers, vmcs_fields_natural_width)
{
	CHECK(VMCS_CTRL_CR0_MASK, 0x00006000);
	CHECK(VMCS_CTRL_CR4_MASK, 0x00006002);
	CHECK(VMCS_CTRL_CR0_SHADOW, 0x00006004);
	CHECK(VMCS_CTRL_CR4_SHADOW, 0x00006006);
	CHECK(VMCS_CTRL_CR3_VALUE0, 0x00006008);
	CHECK(VMCS_CTRL_CR3_VALUE1, 0x0000600a);
	CHECK(VMCS_CTRL_CR3_VALUE2, 0x0000600c);
	CHECK(VMCS_CTRL_CR3_VALUE3, 0x0000600e);
	CHECK(VMCS_RO_EXIT_QUALIFIC, 0x00006400);
	CHECK(VMCS_RO_IO_RCX, 0x00006402);
	CHECK(VMCS_RO_IO_RSI, 0x00006404);
	CHECK(VMCS_RO_IO_RDI, 0x00006406);
	CHECK(VMCS_RO_IO_RIP, 0x00006408);
	CHECK(VMCS_RO_GUEST_LIN_ADDR, 0x0000640a);
	CHECK(VMCS_GUEST_CR0, 0x00006800);
	CHECK(VMCS_GUEST_CR3, 0x00006802);
	CHECK(VMCS_GUEST_CR4, 0x00006804);
	CHECK(VMCS_GUEST_ES_BASE, 0x00006806);
	CHECK(VMCS_GUEST_CS_BASE, 0x00006808);
	CHECK(VMCS_GUEST_SS_BASE, 0x0000680a);
	CHECK(VMCS_GUEST_DS_BASE, 0x0000680c);
	CHECK(VMCS_GUEST_FS_BASE, 0x0000680e);
	CHECK(VMCS_GUEST_GS_BASE, 0x00006810);
	CHECK(VMCS_GUEST_LDTR_BASE, 0x00006812);
	CHECK(VMCS_GUEST_TR_BASE, 0x00006814);
	CHECK(VMCS_GUEST_GDTR_BASE, 0x00006816);
	CHECK(VMCS_GUEST_IDTR_BASE, 0x00006818);
	CHECK(VMCS_GUEST_DR7, 0x0000681a);
	CHECK(VMCS_GUEST_RSP, 0x0000681c);
	CHECK(VMCS_GUEST_RIP, 0x0000681e);
	CHECK(VMCS_GUEST_RFLAGS, 0x00006820);
	CHECK(VMCS_GUEST_DEBUG_EXC, 0x00006822);
	CHECK(VMCS_GUEST_SYSENTER_ESP, 0x00006824);
	CHECK(VMCS_GUEST_SYSENTER_EIP, 0x00006826);
	CHECK(VMCS_GUEST_IA32_S_CET, 0x00006828);
	CHECK(VMCS_GUEST_SSP, 0x0000682a);
	CHECK(VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR, 0x0000682c);
	CHECK(VMCS_HOST_CR0, 0x00006c00);
	CHECK(VMCS_HOST_CR3, 0x00006c02);
	CHECK(VMCS_HOST_CR4, 0x00006c04);
	CHECK(VMCS_HOST_FS_BASE, 0x00006c06);
	CHECK(VMCS_HOST_GS_BASE, 0x00006c08);
	CHECK(VMCS_HOST_TR_BASE, 0x00006c0a);
	CHECK(VMCS_HOST_GDTR_BASE, 0x00006c0c);
	CHECK(VMCS_HOST_IDTR_BASE, 0x00006c0e);
	CHECK(VMCS_HOST_IA32_SYSENTER_ESP, 0x00006c10);
	CHECK(VMCS_HOST_IA32_SYSENTER_EIP, 0x00006c12);
	CHECK(VMCS_HOST_RSP, 0x00006c14);
	CHECK(VMCS_HOST_RIP, 0x00006c16);
	CHECK(VMCS_HOST_IA32_S_CET, 0x00006c18);
	CHECK(VMCS_HOST_SSP, 0x00006c1a);
	CHECK(VMCS_HOST_IA32_INTR_SSP_TABLE_ADDR, 0x00006c1c);
}

Test(headers, vmcs_aliases_and_sentinels)
{
	CHECK(VMCS_MAX, 0x00006d00);
	CHECK(VMCS_INVALID, 0x00006d00);
	CHECK(VMCS_INVALID, VMCS_MAX);
	CHECK(VMCS_GUEST_IGNORE_IRQ, VMCS_GUEST_INTERRUPTIBILITY);
	CHECK(__VMCS_HOST_RSP, 0x00006c14);
	CHECK(VMCS_HOST_RSP, __VMCS_HOST_RSP);
}

/* ---- hv_arch_vmx.h: control and capability bits (§3.6) ---- */

Test(headers, pin_based_controls)
{
	CHECK(PIN_BASED_INTR, UINT32_C(1) << 0);
	CHECK(PIN_BASED_NMI, UINT32_C(1) << 3);
	CHECK(PIN_BASED_VIRTUAL_NMI, UINT32_C(1) << 5);
	CHECK(PIN_BASED_PREEMPTION_TIMER, UINT32_C(1) << 6);
	CHECK(PIN_BASED_POSTED_INTR, UINT32_C(1) << 7);
}

Test(headers, primary_cpu_based_controls)
{
	CHECK(CPU_BASED_IRQ_WND, UINT32_C(1) << 2);
	CHECK(CPU_BASED_TSC_OFFSET, UINT32_C(1) << 3);
	CHECK(CPU_BASED_HLT, UINT32_C(1) << 7);
	CHECK(CPU_BASED_INVLPG, UINT32_C(1) << 9);
	CHECK(CPU_BASED_MWAIT, UINT32_C(1) << 10);
	CHECK(CPU_BASED_RDPMC, UINT32_C(1) << 11);
	CHECK(CPU_BASED_RDTSC, UINT32_C(1) << 12);
	CHECK(CPU_BASED_CR3_LOAD, UINT32_C(1) << 15);
	CHECK(CPU_BASED_CR3_STORE, UINT32_C(1) << 16);
	CHECK(CPU_BASED_CR8_LOAD, UINT32_C(1) << 19);
	CHECK(CPU_BASED_CR8_STORE, UINT32_C(1) << 20);
	CHECK(CPU_BASED_TPR_SHADOW, UINT32_C(1) << 21);
	CHECK(CPU_BASED_VIRTUAL_NMI_WND, UINT32_C(1) << 22);
	CHECK(CPU_BASED_MOV_DR, UINT32_C(1) << 23);
	CHECK(CPU_BASED_UNCOND_IO, UINT32_C(1) << 24);
	CHECK(CPU_BASED_IO_BITMAPS, UINT32_C(1) << 25);
	CHECK(CPU_BASED_MTF, UINT32_C(1) << 27);
	CHECK(CPU_BASED_MSR_BITMAPS, UINT32_C(1) << 28);
	CHECK(CPU_BASED_MONITOR, UINT32_C(1) << 29);
	CHECK(CPU_BASED_PAUSE, UINT32_C(1) << 30);
	CHECK(CPU_BASED_SECONDARY_CTLS, UINT32_C(1) << 31);
}

Test(headers, secondary_cpu_based_controls)
{
	CHECK(CPU_BASED2_VIRTUAL_APIC, UINT32_C(1) << 0);
	CHECK(CPU_BASED2_EPT, UINT32_C(1) << 1);
	CHECK(CPU_BASED2_DESC_TABLE, UINT32_C(1) << 2);
	CHECK(CPU_BASED2_RDTSCP, UINT32_C(1) << 3);
	CHECK(CPU_BASED2_X2APIC, UINT32_C(1) << 4);
	CHECK(CPU_BASED2_VPID, UINT32_C(1) << 5);
	CHECK(CPU_BASED2_WBINVD, UINT32_C(1) << 6);
	CHECK(CPU_BASED2_UNRESTRICTED, UINT32_C(1) << 7);
	CHECK(CPU_BASED2_APIC_REG_VIRT, UINT32_C(1) << 8);
	CHECK(CPU_BASED2_VIRT_INTR_DELIVERY, UINT32_C(1) << 9);
	CHECK(CPU_BASED2_PAUSE_LOOP, UINT32_C(1) << 10);
	CHECK(CPU_BASED2_RDRAND, UINT32_C(1) << 11);
	CHECK(CPU_BASED2_INVPCID, UINT32_C(1) << 12);
	CHECK(CPU_BASED2_VMFUNC, UINT32_C(1) << 13);
	CHECK(CPU_BASED2_VMCS_SHADOW, UINT32_C(1) << 14);
	CHECK(CPU_BASED2_ENCLS_EXIT_MAP, UINT32_C(1) << 15);
	CHECK(CPU_BASED2_RDSEED, UINT32_C(1) << 16);
	CHECK(CPU_BASED2_PML, UINT32_C(1) << 17);
	CHECK(CPU_BASED2_EPT_VE, UINT32_C(1) << 18);
	CHECK(CPU_BASED2_PT_CONCEAL_VMX, UINT32_C(1) << 19);
	CHECK(CPU_BASED2_XSAVES_XRSTORS, UINT32_C(1) << 20);
	CHECK(CPU_BASED2_EPT_MODE_BASED_EXEC, UINT32_C(1) << 22);
	CHECK(CPU_BASED2_EPT_SUBPAGE_WRITE, UINT32_C(1) << 23);
	CHECK(CPU_BASED2_PT_GUEST_PHYSICAL, UINT32_C(1) << 24);
	CHECK(CPU_BASED2_TSC_SCALING, UINT32_C(1) << 25);
	CHECK(CPU_BASED2_USER_WAIT_PAUSE, UINT32_C(1) << 26);
	CHECK(CPU_BASED2_ENCLV_EXIT_MAP, UINT32_C(1) << 28);
}

Test(headers, ept_vpid_capability_bits)
{
	CHECK(VMX_EPT_VPID_SUPPORT_EXONLY, UINT32_C(1) << 0);
	CHECK(VMX_EPT_VPID_SUPPORT_AD, UINT32_C(1) << 21);
	CHECK(VMX_EPT_VPID_ADV_VMEXIT_INFO, UINT32_C(1) << 22);
	CHECK(VMX_BASIC_TRUE_CTLS, 1ull << 55);
}

Test(headers, vmexit_controls)
{
	CHECK(VMEXIT_SAVE_DBG_CONTROLS, UINT32_C(1) << 2);
	CHECK(VMEXIT_HOST_IA32E, UINT32_C(1) << 9);
	CHECK(VMEXIT_LOAD_IA32_PERF_GLOBAL_CTRL, UINT32_C(1) << 12);
	CHECK(VMEXIT_ACK_INTR, UINT32_C(1) << 15);
	CHECK(VMEXIT_SAVE_IA32_PAT, UINT32_C(1) << 18);
	CHECK(VMEXIT_LOAD_IA32_PAT, UINT32_C(1) << 19);
	CHECK(VMEXIT_SAVE_EFER, UINT32_C(1) << 20);
	CHECK(VMEXIT_LOAD_EFER, UINT32_C(1) << 21);
	CHECK(VMEXIT_SAVE_VMX_TIMER, UINT32_C(1) << 22);
	CHECK(VMEXIT_CLEAR_IA32_BNDCFGS, UINT32_C(1) << 23);
	CHECK(VMEXIT_PT_CONCEAL_VMX, UINT32_C(1) << 24);
	CHECK(VMEXIT_CLEAR_IA32_RTIT_CTL, UINT32_C(1) << 25);
	CHECK(VMEXIT_LOAD_CET_STATE, UINT32_C(1) << 28);
	CHECK(VMEXIT_LOAD_PKRS, UINT32_C(1) << 29);
}

Test(headers, vmentry_controls)
{
	CHECK(VMENTRY_LOAD_DBG_CONTROLS, UINT32_C(1) << 2);
	CHECK(VMENTRY_GUEST_IA32E, UINT32_C(1) << 9);
	CHECK(VMENTRY_SMM, UINT32_C(1) << 10);
	CHECK(VMENTRY_DEACTIVATE_DUAL_MONITOR, UINT32_C(1) << 11);
	CHECK(VMENTRY_LOAD_IA32_PERF_GLOBAL_CTRL, UINT32_C(1) << 13);
	CHECK(VMENTRY_LOAD_IA32_PAT, UINT32_C(1) << 14);
	CHECK(VMENTRY_LOAD_EFER, UINT32_C(1) << 15);
	CHECK(VMENTRY_LOAD_IA32_BNDCFGS, UINT32_C(1) << 16);
	CHECK(VMENTRY_PT_CONCEAL_VMX, UINT32_C(1) << 17);
	CHECK(VMENTRY_LOAD_IA32_RTIT_CTL, UINT32_C(1) << 18);
	CHECK(VMENTRY_LOAD_CET_STATE, UINT32_C(1) << 20);
	CHECK(VMENTRY_LOAD_PKRS, UINT32_C(1) << 22);
}

/* ---- hv_arch_vmx.h: exit reasons (§3.7) ---- */

Test(headers, exit_reasons)
{
	CHECK(VMX_REASON_EXC_NMI, 0);
	CHECK(VMX_REASON_IRQ, 1);
	CHECK(VMX_REASON_TRIPLE_FAULT, 2);
	CHECK(VMX_REASON_INIT, 3);
	CHECK(VMX_REASON_SIPI, 4);
	CHECK(VMX_REASON_IO_SMI, 5);
	CHECK(VMX_REASON_OTHER_SMI, 6);
	CHECK(VMX_REASON_IRQ_WND, 7);
	CHECK(VMX_REASON_VIRTUAL_NMI_WND, 8);
	CHECK(VMX_REASON_TASK, 9);
	CHECK(VMX_REASON_CPUID, 10);
	CHECK(VMX_REASON_GETSEC, 11);
	CHECK(VMX_REASON_HLT, 12);
	CHECK(VMX_REASON_INVD, 13);
	CHECK(VMX_REASON_INVLPG, 14);
	CHECK(VMX_REASON_RDPMC, 15);
	CHECK(VMX_REASON_RDTSC, 16);
	CHECK(VMX_REASON_RSM, 17);
	CHECK(VMX_REASON_VMCALL, 18);
	CHECK(VMX_REASON_VMCLEAR, 19);
	CHECK(VMX_REASON_VMLAUNCH, 20);
	CHECK(VMX_REASON_VMPTRLD, 21);
	CHECK(VMX_REASON_VMPTRST, 22);
	CHECK(VMX_REASON_VMREAD, 23);
	CHECK(VMX_REASON_VMRESUME, 24);
	CHECK(VMX_REASON_VMWRITE, 25);
	CHECK(VMX_REASON_VMOFF, 26);
	CHECK(VMX_REASON_VMON, 27);
	CHECK(VMX_REASON_MOV_CR, 28);
	CHECK(VMX_REASON_MOV_DR, 29);
	CHECK(VMX_REASON_IO, 30);
	CHECK(VMX_REASON_RDMSR, 31);
	CHECK(VMX_REASON_WRMSR, 32);
	CHECK(VMX_REASON_VMENTRY_GUEST, 33);
	CHECK(VMX_REASON_VMENTRY_MSR, 34);
	CHECK(VMX_REASON_MWAIT, 36);
	CHECK(VMX_REASON_MTF, 37);
	CHECK(VMX_REASON_MONITOR, 39);
	CHECK(VMX_REASON_PAUSE, 40);
	CHECK(VMX_REASON_VMENTRY_MC, 41);
	CHECK(VMX_REASON_TPR_THRESHOLD, 43);
	CHECK(VMX_REASON_APIC_ACCESS, 44);
	CHECK(VMX_REASON_VIRTUALIZED_EOI, 45);
	CHECK(VMX_REASON_GDTR_IDTR, 46);
	CHECK(VMX_REASON_LDTR_TR, 47);
	CHECK(VMX_REASON_EPT_VIOLATION, 48);
	CHECK(VMX_REASON_EPT_MISCONFIG, 49);
	CHECK(VMX_REASON_EPT_INVEPT, 50);
	CHECK(VMX_REASON_RDTSCP, 51);
	CHECK(VMX_REASON_VMX_TIMER_EXPIRED, 52);
	CHECK(VMX_REASON_INVVPID, 53);
	CHECK(VMX_REASON_WBINVD, 54);
	CHECK(VMX_REASON_XSETBV, 55);
	CHECK(VMX_REASON_APIC_WRITE, 56);
	CHECK(VMX_REASON_RDRAND, 57);
	CHECK(VMX_REASON_INVPCID, 58);
	CHECK(VMX_REASON_VMFUNC, 59);
	CHECK(VMX_REASON_ENCLS, 60);
	CHECK(VMX_REASON_RDSEED, 61);
	CHECK(VMX_REASON_PML_FULL, 62);
	CHECK(VMX_REASON_XSAVES, 63);
	CHECK(VMX_REASON_XRSTORS, 64);
	CHECK(VMX_REASON_SPP_EVENT, 66);
	CHECK(VMX_REASON_UMWAIT, 67);
	CHECK(VMX_REASON_TPAUSE, 68);
}

/* ---- hv_arch_vmx.h: interruption info (§3.8) ---- */

Test(headers, irq_info_bits)
{
	CHECK(IRQ_INFO_EXT_IRQ, 0x000);
	CHECK(IRQ_INFO_VECTOR_MASK, 0xff);
	CHECK(IRQ_INFO_NMI, 0x200);
	CHECK(IRQ_INFO_HARD_EXC, 0x300);
	CHECK(IRQ_INFO_SOFT_IRQ, 0x400);
	CHECK(IRQ_INFO_PRIV_SOFT_EXC, 0x500);
	CHECK(IRQ_INFO_SOFT_EXC, 0x600);
	CHECK(IRQ_INFO_TYPE_MASK, 0x700);
	CHECK(IRQ_INFO_ERROR_VALID, 0x800);
	CHECK(IRQ_INFO_VALID, 0x80000000u);
}

Test(headers, guest_interruptibility_bits)
{
	CHECK(GUEST_INTRBILITY_STI_BLOCKING, 0x1);
	CHECK(GUEST_INTRBILITY_MOVSS_BLOCKING, 0x2);
	CHECK(GUEST_INTRBILITY_SMI_BLOCKING, 0x4);
	CHECK(GUEST_INTRBILITY_NMI_BLOCKING, 0x8);
	CHECK_TYPE(GUEST_INTRBILITY_STI_BLOCKING, unsigned long long);
}

/* ---- hv_arch_vmx.h: managed MSRs (§3.9) ---- */

Test(headers, managed_msr_ids)
{
	CHECK(HV_MSR_IA32_TSC, 0x00000010);
	CHECK(HV_MSR_IA32_SPEC_CTRL, 0x00000048);
	CHECK(HV_MSR_IA32_PRED_CMD, 0x00000049);
	CHECK(HV_MSR_IA32_PMC0, 0x000000c1);
	CHECK(HV_MSR_IA32_PMC7, 0x000000c8);
	CHECK(HV_MSR_IA32_ARCH_CAPABILITIES, 0x0000010a);
	CHECK(HV_MSR_IA32_FLUSH_CMD, 0x0000010b);
	CHECK(HV_MSR_IA32_SYSENTER_CS, 0x00000174);
	CHECK(HV_MSR_IA32_SYSENTER_ESP, 0x00000175);
	CHECK(HV_MSR_IA32_SYSENTER_EIP, 0x00000176);
	CHECK(HV_MSR_IA32_PERFEVNTSEL0, 0x00000186);
	CHECK(HV_MSR_IA32_PERFEVNTSEL7, 0x0000018d);
	CHECK(HV_MSR_LBR_SELECT, 0x000001c8);
	CHECK(HV_MSR_LASTBRANCH_TOS, 0x000001c9);
	CHECK(HV_MSR_LASTINT_FROM_IP, 0x000001dd);
	CHECK(HV_MSR_LASTINT_TO_IP, 0x000001de);
	CHECK(HV_MSR_IA32_DEBUGCTL, 0x000001d9);
	CHECK(HV_MSR_IA32_FIXED_CTR0, 0x00000309);
	CHECK(HV_MSR_IA32_FIXED_CTR1, 0x0000030a);
	CHECK(HV_MSR_IA32_FIXED_CTR2, 0x0000030b);
	CHECK(HV_MSR_IA32_FIXED_CTR3, 0x0000030c);
	CHECK(HV_MSR_PERF_METRICS, 0x00000329);
	CHECK(HV_MSR_IA32_FIXED_CTR_CTRL, 0x0000038d);
	CHECK(HV_MSR_IA32_PERF_GLOBAL_STATUS, 0x0000038e);
	CHECK(HV_MSR_IA32_PERF_GLOBAL_CTRL, 0x0000038f);
	CHECK(HV_MSR_IA32_PERF_GLOBAL_STATUS_RESET, 0x00000390);
	CHECK(HV_MSR_IA32_PERF_GLOBAL_STATUS_SET, 0x00000391);
	CHECK(HV_MSR_IA32_PERF_GLOBAL_INUSE, 0x00000392);
	CHECK(HV_MSR_IA32_A_PMC0, 0x000004c1);
	CHECK(HV_MSR_IA32_A_PMC7, 0x000004c8);
	CHECK(HV_MSR_LASTBRANCH_0_FROM_IP, 0x00000680);
	CHECK(HV_MSR_LASTBRANCH_31_FROM_IP, 0x0000069f);
	CHECK(HV_MSR_LASTBRANCH_0_TO_IP, 0x000006c0);
	CHECK(HV_MSR_LASTBRANCH_31_TO_IP, 0x000006df);
	CHECK(HV_MSR_IA32_XSS, 0x00000da0);
	CHECK(HV_MSR_LASTBRANCH_INFO_0, 0x00000dc0);
	CHECK(HV_MSR_LASTBRANCH_INFO_31, 0x00000ddf);
	CHECK(HV_MSR_IA32_EFER, 0xc0000080);
	CHECK(HV_MSR_IA32_STAR, 0xc0000081);
	CHECK(HV_MSR_IA32_LSTAR, 0xc0000082);
	CHECK(HV_MSR_IA32_CSTAR, 0xc0000083);
	CHECK(HV_MSR_IA32_FMASK, 0xc0000084);
	CHECK(HV_MSR_IA32_FS_BASE, 0xc0000100);
	CHECK(HV_MSR_IA32_GS_BASE, 0xc0000101);
	CHECK(HV_MSR_IA32_KERNEL_GS_BASE, 0xc0000102);
	CHECK(HV_MSR_IA32_TSC_AUX, 0xc0000103);
}

/* ---- enumerators versus macros ---- */

/* Apple's VMCS/VMX/IRQ/MSR names must not be macros: clients define
 * same-named macros after including the headers. */
static const char *const names_defined_as_macros[] = {
#ifdef VMCS_VPID
	"VMCS_VPID",
#endif
#ifdef VMCS_GUEST_RIP
	"VMCS_GUEST_RIP",
#endif
#ifdef VMCS_HOST_RSP
	"VMCS_HOST_RSP",
#endif
#ifdef VMCS_GUEST_PHYSICAL_ADDRESS
	"VMCS_GUEST_PHYSICAL_ADDRESS",
#endif
#ifdef VMCS_MAX
	"VMCS_MAX",
#endif
#ifdef VMX_BASIC_TRUE_CTLS
	"VMX_BASIC_TRUE_CTLS",
#endif
#ifdef PIN_BASED_INTR
	"PIN_BASED_INTR",
#endif
#ifdef CPU_BASED_HLT
	"CPU_BASED_HLT",
#endif
#ifdef CPU_BASED2_EPT
	"CPU_BASED2_EPT",
#endif
#ifdef VMX_EPT_VPID_SUPPORT_AD
	"VMX_EPT_VPID_SUPPORT_AD",
#endif
#ifdef VMEXIT_HOST_IA32E
	"VMEXIT_HOST_IA32E",
#endif
#ifdef VMENTRY_GUEST_IA32E
	"VMENTRY_GUEST_IA32E",
#endif
#ifdef VMX_REASON_HLT
	"VMX_REASON_HLT",
#endif
#ifdef IRQ_INFO_VALID
	"IRQ_INFO_VALID",
#endif
#ifdef HV_MSR_IA32_EFER
	"HV_MSR_IA32_EFER",
#endif
#ifdef HV_X86_RIP
	"HV_X86_RIP",
#endif
#ifdef HV_ERROR
	"HV_ERROR",
#endif
#ifdef HV_DEADLINE_FOREVER
	"HV_DEADLINE_FOREVER",
#endif
	NULL
};

Test(headers, vmx_names_are_enumerators_not_macros)
{
	for (size_t i = 0; names_defined_as_macros[i] != NULL; i++)
		cr_expect_fail("%s is a macro", names_defined_as_macros[i]);
}

/* The names Apple does spell as macros, usable from #if and assembler. */
static const char *const macros_missing[] = {
#ifndef __VMCS_HOST_RSP
	"__VMCS_HOST_RSP",
#endif
#ifndef __HV_X86_RIP
	"__HV_X86_RIP",
#endif
#ifndef __HV_X86_REGISTERS_MAX
	"__HV_X86_REGISTERS_MAX",
#endif
#ifndef GUEST_INTRBILITY_NMI_BLOCKING
	"GUEST_INTRBILITY_NMI_BLOCKING",
#endif
#ifndef err_sub_hypervisor
	"err_sub_hypervisor",
#endif
#ifndef err_common_hypervisor
	"err_common_hypervisor",
#endif
#ifndef HV_APIC_STATE_EXT_VER
	"HV_APIC_STATE_EXT_VER",
#endif
#ifndef HV_ATPIC_STATE_EXT_VER
	"HV_ATPIC_STATE_EXT_VER",
#endif
#ifndef HV_IOAPIC_STATE_EXT_VER
	"HV_IOAPIC_STATE_EXT_VER",
#endif
	NULL
};

Test(headers, apple_macros_are_macros)
{
	for (size_t i = 0; macros_missing[i] != NULL; i++)
		cr_expect_fail("%s is not a macro", macros_missing[i]);
#if __HV_X86_REGISTERS_MAX != 51 || __VMCS_HOST_RSP != 0x6c14
	cr_expect_fail("macro values differ in the preprocessor");
#endif
}

Test(headers, xhyve_style_macros_after_include)
{
	cr_expect_eq(test_headers_macros_guest_rip(), VMCS_GUEST_RIP);
	cr_expect_eq(test_headers_macros_host_rsp(), VMCS_HOST_RSP);
	cr_expect_eq(test_headers_macros_vpid(), VMCS_VPID);
	cr_expect_eq(test_headers_macros_guest_physical_address(),
	    VMCS_GUEST_PHYSICAL_ADDRESS);
}

Test(headers, hv_h_does_not_include_vmx_headers)
{
	cr_expect_eq(test_headers_macros_hv_h_alone_has_vmx(), 0);
	cr_expect_eq(test_headers_macros_probe(), 0);
}

Test(headers, export_attribute)
{
	cr_expect(strstr(STR(HV_EXPORT), "visibility") != NULL);
	cr_expect(strstr(STR(HV_EXPORT), "\"default\"") != NULL);
}

/* ---- function signatures (§4.1-§4.4) ---- */

Test(headers, vm_signatures)
{
	CHECK_SIGNATURE(hv_capability, hv_return_t, hv_capability_t, uint64_t *);
	CHECK_SIGNATURE(hv_vm_create, hv_return_t, hv_vm_options_t);
	CHECK_SIGNATURE(hv_vm_destroy, hv_return_t, void);
	CHECK_SIGNATURE(hv_vm_map, hv_return_t, hv_uvaddr_t, hv_gpaddr_t, size_t,
	    hv_memory_flags_t);
	CHECK_SIGNATURE(hv_vm_unmap, hv_return_t, hv_gpaddr_t, size_t);
	CHECK_SIGNATURE(hv_vm_protect, hv_return_t, hv_gpaddr_t, size_t,
	    hv_memory_flags_t);
	CHECK_SIGNATURE(hv_vm_space_create, hv_return_t, hv_vm_space_t *);
	CHECK_SIGNATURE(hv_vm_space_destroy, hv_return_t, hv_vm_space_t);
	CHECK_SIGNATURE(hv_vm_map_space, hv_return_t, hv_vm_space_t, hv_uvaddr_t,
	    hv_gpaddr_t, size_t, hv_memory_flags_t);
	CHECK_SIGNATURE(hv_vm_unmap_space, hv_return_t, hv_vm_space_t,
	    hv_gpaddr_t, size_t);
	CHECK_SIGNATURE(hv_vm_protect_space, hv_return_t, hv_vm_space_t,
	    hv_gpaddr_t, size_t, hv_memory_flags_t);
	CHECK_SIGNATURE(hv_vm_sync_tsc, hv_return_t, uint64_t);
	CHECK_SIGNATURE(hv_vm_add_pio_notifier, hv_return_t, uint16_t, size_t,
	    uint32_t, mach_port_t, hv_ion_flags_t);
	CHECK_SIGNATURE(hv_vm_remove_pio_notifier, hv_return_t, uint16_t, size_t,
	    uint32_t, mach_port_t, hv_ion_flags_t);
	CHECK_SIGNATURE(hv_vm_allocate, hv_return_t, void **, size_t,
	    hv_allocate_flags_t);
	CHECK_SIGNATURE(hv_vm_deallocate, hv_return_t, void *, size_t);
}

Test(headers, vcpu_signatures)
{
	CHECK_SIGNATURE(hv_vcpu_create, hv_return_t, hv_vcpuid_t *,
	    hv_vcpu_options_t);
	CHECK_SIGNATURE(hv_vcpu_destroy, hv_return_t, hv_vcpuid_t);
	CHECK_SIGNATURE(hv_vcpu_set_space, hv_return_t, hv_vcpuid_t,
	    hv_vm_space_t);
	CHECK_SIGNATURE(hv_vcpu_read_register, hv_return_t, hv_vcpuid_t,
	    hv_x86_reg_t, uint64_t *);
	CHECK_SIGNATURE(hv_vcpu_write_register, hv_return_t, hv_vcpuid_t,
	    hv_x86_reg_t, uint64_t);
	CHECK_SIGNATURE(hv_vcpu_read_fpstate, hv_return_t, hv_vcpuid_t, void *,
	    size_t);
	CHECK_SIGNATURE(hv_vcpu_write_fpstate, hv_return_t, hv_vcpuid_t, void *,
	    size_t);
	CHECK_SIGNATURE(hv_vcpu_enable_native_msr, hv_return_t, hv_vcpuid_t,
	    uint32_t, bool);
	CHECK_SIGNATURE(hv_vcpu_enable_managed_msr, hv_return_t, hv_vcpuid_t,
	    uint32_t, bool);
	CHECK_SIGNATURE(hv_vcpu_set_msr_access, hv_return_t, hv_vcpuid_t,
	    uint32_t, hv_msr_flags_t);
	CHECK_SIGNATURE(hv_vcpu_read_msr, hv_return_t, hv_vcpuid_t, uint32_t,
	    uint64_t *);
	CHECK_SIGNATURE(hv_vcpu_write_msr, hv_return_t, hv_vcpuid_t, uint32_t,
	    uint64_t);
	CHECK_SIGNATURE(hv_vcpu_flush, hv_return_t, hv_vcpuid_t);
	CHECK_SIGNATURE(hv_vcpu_invalidate_tlb, hv_return_t, hv_vcpuid_t);
	CHECK_SIGNATURE(hv_vcpu_run, hv_return_t, hv_vcpuid_t);
	CHECK_SIGNATURE(hv_vcpu_run_until, hv_return_t, hv_vcpuid_t, uint64_t);
	CHECK_SIGNATURE(hv_vcpu_interrupt, hv_return_t, hv_vcpuid_t *,
	    unsigned int);
	CHECK_SIGNATURE(hv_vcpu_get_exec_time, hv_return_t, hv_vcpuid_t,
	    uint64_t *);
	CHECK_SIGNATURE(hv_vcpu_get_idle_time, hv_return_t, hv_vcpuid_t,
	    uint64_t *);
	CHECK_SIGNATURE(hv_tsc_clock, uint64_t, void);
	CHECK_SIGNATURE(hv_vcpu_set_tsc_relative, hv_return_t, hv_vcpuid_t,
	    int64_t);
	CHECK_SIGNATURE(hv_vcpu_vmx_status, hv_return_t, hv_vcpuid_t,
	    uint32_t *);
}

Test(headers, interrupt_controller_signatures)
{
	CHECK_SIGNATURE(hv_vm_lapic_set_intr, hv_return_t, hv_vcpuid_t, uint8_t,
	    hv_apic_intr_trigger_t);
	CHECK_SIGNATURE(hv_vm_lapic_msi, hv_return_t, uint64_t, uint64_t);
	CHECK_SIGNATURE(hv_vm_ioapic_assert_irq, hv_return_t, int);
	CHECK_SIGNATURE(hv_vm_ioapic_deassert_irq, hv_return_t, int);
	CHECK_SIGNATURE(hv_vm_ioapic_pulse_irq, hv_return_t, int);
	CHECK_SIGNATURE(hv_vm_ioapic_read, hv_return_t, hv_gpaddr_t, uint32_t *);
	CHECK_SIGNATURE(hv_vm_ioapic_write, hv_return_t, hv_gpaddr_t, uint32_t);
	CHECK_SIGNATURE(hv_vm_ioapic_get_state, hv_return_t,
	    hv_ioapic_state_ext_t *);
	CHECK_SIGNATURE(hv_vm_ioapic_put_state, hv_return_t,
	    const hv_ioapic_state_ext_t *);
	CHECK_SIGNATURE(hv_vm_send_ioapic_intr, hv_return_t, uint64_t);
	CHECK_SIGNATURE(hv_vm_atpic_assert_irq, hv_return_t, int);
	CHECK_SIGNATURE(hv_vm_atpic_deassert_irq, hv_return_t, int);
	CHECK_SIGNATURE(hv_vm_atpic_port_read, hv_return_t, int, uint8_t *);
	CHECK_SIGNATURE(hv_vm_atpic_port_write, hv_return_t, int, uint8_t);
	CHECK_SIGNATURE(hv_vm_atpic_get_state, hv_return_t,
	    hv_atpic_state_ext_t *, bool);
	CHECK_SIGNATURE(hv_vm_atpic_put_state, hv_return_t,
	    const hv_atpic_state_ext_t *, bool);
	CHECK_SIGNATURE(hv_vm_set_apic_bus_freq, hv_return_t, uint64_t);
	CHECK_SIGNATURE(hv_vcpu_inject_extint, hv_return_t, hv_vcpuid_t);
	CHECK_SIGNATURE(hv_vcpu_apic_read, hv_return_t, hv_vcpuid_t, uint32_t,
	    uint32_t *);
	CHECK_SIGNATURE(hv_vcpu_apic_write, hv_return_t, hv_vcpuid_t, uint32_t,
	    uint32_t, bool *);
	CHECK_SIGNATURE(hv_vcpu_apic_get_state, hv_return_t, hv_vcpuid_t,
	    hv_apic_state_ext_t *);
	CHECK_SIGNATURE(hv_vcpu_apic_put_state, hv_return_t, hv_vcpuid_t,
	    const hv_apic_state_ext_t *);
	CHECK_SIGNATURE(hv_vcpu_exit_info, hv_return_t, hv_vcpuid_t,
	    hv_vm_exitinfo_t *);
	CHECK_SIGNATURE(hv_vcpu_exit_init_ap, hv_return_t, hv_vcpuid_t, bool *,
	    unsigned);
	CHECK_SIGNATURE(hv_vcpu_exit_startup_ap, hv_return_t, hv_vcpuid_t,
	    bool *, unsigned, uint64_t *);
	CHECK_SIGNATURE(hv_vcpu_exit_ioapic_eoi, hv_return_t, hv_vcpuid_t,
	    uint8_t *);
	CHECK_SIGNATURE(hv_vcpu_exit_apic_access_read, hv_return_t, hv_vcpuid_t,
	    uint32_t *);
	CHECK_SIGNATURE(hv_vcpu_exit_inject_excp, hv_return_t, hv_vcpuid_t,
	    uint8_t *, bool *, uint32_t *, bool *);
	CHECK_SIGNATURE(hv_vcpu_apic_lsc_enter_r32, hv_return_t, hv_vcpuid_t,
	    bool, uint64_t, unsigned, uint16_t, hv_x86_reg_t, uint64_t *,
	    unsigned);
	CHECK_SIGNATURE(hv_vcpu_apic_lsc_enter_imm32, hv_return_t, hv_vcpuid_t,
	    uint64_t, unsigned, uint16_t, uint32_t, uint64_t *, unsigned);
	CHECK_SIGNATURE(hv_vcpu_apic_lsc_invalidate, hv_return_t, hv_vcpuid_t);
	CHECK_SIGNATURE(hv_vcpu_apic_ctrl, hv_return_t, hv_vcpuid_t,
	    hv_apic_ctrl_t);
	CHECK_SIGNATURE(hv_vcpu_apic_trigger_lvt, hv_return_t, hv_vcpuid_t,
	    hv_apic_lvt_flavor_t);
}

Test(headers, vmx_signatures)
{
	CHECK_SIGNATURE(hv_vmx_vcpu_read_vmcs, hv_return_t, hv_vcpuid_t,
	    uint32_t, uint64_t *);
	CHECK_SIGNATURE(hv_vmx_vcpu_write_vmcs, hv_return_t, hv_vcpuid_t,
	    uint32_t, uint64_t);
	CHECK_SIGNATURE(hv_vmx_vcpu_get_cap_write_vmcs, hv_return_t, hv_vcpuid_t,
	    uint32_t, uint64_t *, uint64_t *);
	CHECK_SIGNATURE(hv_vmx_vcpu_read_shadow_vmcs, hv_return_t, hv_vcpuid_t,
	    uint32_t, uint64_t *);
	CHECK_SIGNATURE(hv_vmx_vcpu_write_shadow_vmcs, hv_return_t, hv_vcpuid_t,
	    uint32_t, uint64_t);
	CHECK_SIGNATURE(hv_vmx_vcpu_set_shadow_access, hv_return_t, hv_vcpuid_t,
	    uint32_t, hv_shadow_flags_t);
	CHECK_SIGNATURE(hv_vmx_read_capability, hv_return_t, hv_vmx_capability_t,
	    uint64_t *);
	CHECK_SIGNATURE(hv_vmx_get_msr_info, hv_return_t, hv_vmx_msr_info_t,
	    uint64_t *);
	CHECK_SIGNATURE(hv_vmx_vcpu_set_apic_address, hv_return_t, hv_vcpuid_t,
	    hv_gpaddr_t);
	CHECK_SIGNATURE(hv_vmx_vcpu_set_apic_address_space, hv_return_t,
	    hv_vcpuid_t, hv_vm_space_t, hv_gpaddr_t);
}
