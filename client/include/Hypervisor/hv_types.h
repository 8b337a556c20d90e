/*
 * hv_types.h: the scalar types and option flags of the Intel API.
 *
 * As in Apple's header, each flag set is an anonymous enum next to a
 * fixed-width typedef, so the constants have Apple's values while the
 * parameters have Apple's widths.
 */
#ifndef __HYPERVISOR_HV_TYPES__
#define __HYPERVISOR_HV_TYPES__

#include <Hypervisor/hv_base.h>

HV_DECLS_BEGIN

/* Capability IDs for hv_capability(). */
enum {
	HV_CAP_VCPUMAX = 0,
	HV_CAP_ADDRSPACEMAX = 1
};

typedef uint64_t hv_capability_t;

/* Guest physical address space IDs; the default space always exists. */
enum {
	HV_VM_SPACE_DEFAULT = 0ull
};

typedef unsigned hv_vm_space_t;

/* Options for hv_vm_create(). */
enum {
	HV_VM_DEFAULT = (0ull << 0),
	HV_VM_SPECIFY_MITIGATIONS = (1ull << 0),
	HV_VM_MITIGATION_A_ENABLE = (1ull << 1),
	HV_VM_MITIGATION_B_ENABLE = (1ull << 2),
	HV_VM_MITIGATION_C_ENABLE = (1ull << 3),
	HV_VM_MITIGATION_D_ENABLE = (1ull << 4),
	HV_VM_MITIGATION_E_ENABLE = (1ull << 6),
	HV_VM_ACCEL_APIC = (UINT64_C(1) << 10)
};

typedef uint64_t hv_vm_options_t;

/* Options for hv_vcpu_create(). */
enum {
	HV_VCPU_DEFAULT = 0ull,
	HV_VCPU_ACCEL_RDPMC = (1ull << 0),
	HV_VCPU_TSC_RELATIVE = (1ull << 1)
};

typedef uint64_t hv_vcpu_options_t;

/* Guest memory permissions for hv_vm_map() and hv_vm_protect(). */
enum {
	HV_MEMORY_READ = (1ull << 0),
	HV_MEMORY_WRITE = (1ull << 1),
	HV_MEMORY_EXEC = (1ull << 2),
	HV_MEMORY_UEXEC = (1ull << 3),
	HV_MEMORY_MAXPROT = (1ull << 4),
	HV_MEMORY_MAXPROT_READ = (1ull << 5),
	HV_MEMORY_MAXPROT_WRITE = (1ull << 6),
	HV_MEMORY_MAXPROT_EXEC = (1ull << 7),
	HV_MEMORY_MAXPROT_UEXEC = (1ull << 8)
};

typedef uint64_t hv_memory_flags_t;

/* Guest access to a managed MSR, for hv_vcpu_set_msr_access(). */
enum {
	HV_MSR_NONE = 0,
	HV_MSR_READ = (1u << 0),
	HV_MSR_WRITE = (1u << 1)
};

typedef uint32_t hv_msr_flags_t;

/* The kernel's spelling of the I/O notifier flags (xnu hv_io_notifier.h). */
enum {
	kHV_ION_NONE = (0u << 0),
	kHV_ION_ANY_VALUE = (1u << 1),
	kHV_ION_ANY_SIZE = (1u << 2),
	kHV_ION_EXIT_FULL = (1u << 3)
};

/* Options for hv_vm_add_pio_notifier(): match any value, match any size,
 * return when the notification queue is full. */
enum {
	HV_ION_NONE = kHV_ION_NONE,
	HV_ION_ANY_VALUE = kHV_ION_ANY_VALUE,
	HV_ION_ANY_SIZE = kHV_ION_ANY_SIZE,
	HV_ION_EXIT_FULL = kHV_ION_EXIT_FULL
};

typedef uint32_t hv_ion_flags_t;

/* Message a port-I/O notifier sends: the address, size and value of the
 * guest's access between a Mach header and trailer. */
typedef struct {
	mach_msg_header_t header;
	uint64_t addr;
	uint64_t size;
	uint64_t value;
	mach_msg_trailer_t trailer;
} hv_ion_message_t;

/* ID of a vCPU (Apple's documentation spells it hv_vcpu_id_t). */
typedef unsigned hv_vcpuid_t;

/* Host (user) virtual address. */
typedef const void *hv_uvaddr_t;

/* Guest physical address. */
typedef uint64_t hv_gpaddr_t;

/* What hv_vcpu_exit_info() reports about the last exit. */
typedef uint32_t hv_vm_exitinfo_t;
enum {
	HV_VM_EXITINFO_VMX = 1,
	HV_VM_EXITINFO_INIT_AP = 2,
	HV_VM_EXITINFO_STARTUP_AP = 3,
	HV_VM_EXITINFO_IOAPIC_EOI = 4,
	HV_VM_EXITINFO_INJECT_EXCP = 5,
	HV_VM_EXITINFO_SMI = 6,
	HV_VM_EXITINFO_APIC_ACCESS_READ = 7
};

/* APIC emulation controls for hv_vcpu_apic_ctrl(). */
typedef uint64_t hv_apic_ctrl_t;
enum {
	HV_APIC_CTRL_DEFAULT = 0,
	HV_APIC_CTRL_EOI_ICR_TPR = (UINT64_C(1) << 0),
	HV_APIC_CTRL_GUEST_IDLE = (UINT64_C(1) << 1),
	HV_APIC_CTRL_NO_TIMER = (UINT64_C(1) << 2),
	HV_APIC_CTRL_IOAPIC_EOI = (UINT64_C(1) << 3)
};

/* Local vector table entries for hv_vcpu_apic_trigger_lvt(). */
typedef uint32_t hv_apic_lvt_flavor_t;
enum {
	HV_APIC_LVT_FLAVOR_TIMER = 1
};

/* Trigger modes for hv_vm_lapic_set_intr(). */
typedef uint32_t hv_apic_intr_trigger_t;
enum {
	HV_APIC_EDGE_TRIGGER = 0,
	HV_APIC_EDGE_TRIGGER_AEOI = 1,
	HV_APIC_LEVEL_TRIGGER = 2
};

HV_DECLS_END

#endif /* __HYPERVISOR_HV_TYPES__ */
