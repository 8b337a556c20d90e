/*
 * Includes the headers the way xhyve (include/xhyve/vmm/intel/vmcs.h) and
 * hvdos (vmcs.h) do: hv.h, then hv_vmx.h, then FreeBSD-style VMCS_* macros
 * of their own, several spelled like Apple's enumerators. That compiles
 * without a redefinition warning only while Apple's names stay enumerators.
 *
 * The functions below let test_headers.c check that this file compiled as
 * intended.
 */
#include <Hypervisor/hv.h>

#include <stdint.h>

uint32_t test_headers_macros_guest_rip(void);
uint32_t test_headers_macros_host_rsp(void);
uint32_t test_headers_macros_vpid(void);
uint32_t test_headers_macros_guest_physical_address(void);
int test_headers_macros_hv_h_alone_has_vmx(void);
int test_headers_macros_probe(void);

/* hv.h must not pull in hv_vmx.h or hv_arch_vmx.h. */
#if defined(__VMCS_HOST_RSP) || defined(__HYPERVISOR_HV_ARCH_VMX__) || \
    defined(__HYPERVISOR_HV_VMX__) || defined(GUEST_INTRBILITY_STI_BLOCKING)
#define HV_H_ALONE_HAS_VMX 1
#else
#define HV_H_ALONE_HAS_VMX 0
#endif

/*
 * Nor may hv.h declare the VMX names some other way: if any of these were an
 * enumerator in scope here, the locals below would shadow it, and that is
 * made an error for this one function.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wshadow"
int test_headers_macros_probe(void)
{
	int VMCS_GUEST_RIP = 0, VMCS_HOST_RSP = 0, VMCS_VPID = 0;
	int VMCS_GUEST_PHYSICAL_ADDRESS = 0, VMCS_RO_EXIT_REASON = 0;
	int PIN_BASED_INTR = 0, CPU_BASED_HLT = 0, VMX_REASON_HLT = 0;
	int IRQ_INFO_VALID = 0, HV_MSR_IA32_TSC = 0, HV_VMX_CAP_PINBASED = 0;
	int HV_SHADOW_VMCS_READ = 0, VMX_BASIC_TRUE_CTLS = 0;

	return VMCS_GUEST_RIP + VMCS_HOST_RSP + VMCS_VPID +
	    VMCS_GUEST_PHYSICAL_ADDRESS + VMCS_RO_EXIT_REASON + PIN_BASED_INTR +
	    CPU_BASED_HLT + VMX_REASON_HLT + IRQ_INFO_VALID + HV_MSR_IA32_TSC +
	    HV_VMX_CAP_PINBASED + HV_SHADOW_VMCS_READ + VMX_BASIC_TRUE_CTLS;
}
#pragma GCC diagnostic pop

#include <Hypervisor/hv_vmx.h>

#if defined(VMCS_GUEST_RIP) || defined(VMCS_HOST_RSP) || \
    defined(VMCS_VPID) || defined(VMCS_GUEST_PHYSICAL_ADDRESS)
#error "Apple's VMCS names must be enumerators, not macros"
#endif

/* As in xhyve's vmcs.h (VMCS_HOST_RSP spelled with upper-case hex there). */
#define VMCS_GUEST_RIP 0x0000681e
#define VMCS_HOST_RSP 0x00006C14
#define VMCS_VPID 0x00000000
#define VMCS_GUEST_PHYSICAL_ADDRESS 0x00002400

uint32_t test_headers_macros_guest_rip(void)
{
	return VMCS_GUEST_RIP;
}

uint32_t test_headers_macros_host_rsp(void)
{
	return VMCS_HOST_RSP;
}

uint32_t test_headers_macros_vpid(void)
{
	return VMCS_VPID;
}

uint32_t test_headers_macros_guest_physical_address(void)
{
	return VMCS_GUEST_PHYSICAL_ADDRESS;
}

int test_headers_macros_hv_h_alone_has_vmx(void)
{
	return HV_H_ALONE_HAS_VMX;
}
