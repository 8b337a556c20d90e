/*
 * KVM/arm64 UAPI newer than the 6.1 headers Debian 12 cross-compiles with
 * (linux-libc-dev): the SMCCC filter (6.4). The values are the kernel's
 * (include/uapi/linux/kvm.h, arch/arm64/include/uapi/asm/kvm.h); the
 * backend checks at run time whether the running kernel has it.
 */
#ifndef HVB64_UAPI_H
#define HVB64_UAPI_H

#include <linux/kvm.h>

#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL 0
#define KVM_ARM_VM_SMCCC_FILTER 0
struct kvm_smccc_filter {
	__u32 base;
	__u32 nr_functions;
	__u8 action;
	__u8 pad[15];
};
#define KVM_SMCCC_FILTER_FWD_TO_USER 2
#define KVM_HYPERCALL_EXIT_SMC (1u << 0)
#endif
#ifndef KVM_CAP_COUNTER_OFFSET
#define KVM_CAP_COUNTER_OFFSET 227
#endif
#ifndef KVM_ARM_SET_COUNTER_OFFSET
struct kvm_arm_counter_offset {
	__u64 counter_offset;
	__u64 reserved;
};
#define KVM_ARM_SET_COUNTER_OFFSET _IOW(KVMIO, 0xb5, struct kvm_arm_counter_offset)
#endif

#endif
