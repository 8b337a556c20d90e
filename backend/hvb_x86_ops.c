/*
 * The x86/KVM backend as a struct hvb_ops: the functions of hvb.h, with
 * struct hvs_state (vmcs/hvs.h) as the architectural state.
 */
#include "hvb_ops.h"
#include "hvs.h"

static void x86_import(struct hvb_vcpu *vcpu, const struct hvb_arch_state *client)
{
	hvb_vcpu_import(vcpu, (const struct hvs_state *)client);
}

static void x86_export(const struct hvb_vcpu *vcpu, struct hvb_arch_state *out)
{
	hvb_vcpu_export(vcpu, (struct hvs_state *)out);
}

static const struct hvb_arch_x86 x86_calls = {
	.read_reg = hvb_vcpu_read_reg,
	.write_reg = hvb_vcpu_write_reg,
	.read_vmcs = hvb_vcpu_read_vmcs,
	.write_vmcs = hvb_vcpu_write_vmcs,
	.cap_write_vmcs = hvb_vcpu_cap_write_vmcs,
	.read_capability = hvb_vmx_read_capability,
	.read_msr = hvb_vcpu_read_msr,
	.write_msr = hvb_vcpu_write_msr,
	.enable_native_msr = hvb_vcpu_enable_native_msr,
	.read_fpstate = hvb_vcpu_read_fpstate,
	.write_fpstate = hvb_vcpu_write_fpstate,
	.sync_tsc = hvb_vm_sync_tsc,
	.invalidate_tlb = hvb_vcpu_invalidate_tlb,
	.vm_prepare = hvb_vm_prepare,
};

const struct hvb_ops hvb_x86_ops = {
	.name = "x86-kvm",
	.arch = HVB_ARCH_X86_64,
	.arch_state_size = sizeof(struct hvs_state),

	.kick_signal = hvb_kick_signal,
	.guard_install = hvb_guard_install,

	.host_create = hvb_host_create,
	.host_destroy = hvb_host_destroy,
	.host_info = hvb_host_info,

	.vm_create = hvb_vm_create,
	.vm_destroy = hvb_vm_destroy,
	.vm_abandon = hvb_vm_abandon,
	.vm_map = hvb_vm_map,
	.vm_unmap = hvb_vm_unmap,
	.vm_protect = hvb_vm_protect,
	.vm_usage = hvb_vm_usage,
	.vm_maps = hvb_vm_maps,
	.vm_hva_in_use = hvb_vm_hva_in_use,

	.vcpu_create = hvb_vcpu_create,
	.vcpu_destroy = hvb_vcpu_destroy,
	.vcpu_id = hvb_vcpu_id,
	.vcpu_run = hvb_vcpu_run,
	.vcpu_prepare = hvb_vcpu_prepare,
	.vcpu_kick = hvb_vcpu_kick,
	.vcpu_set_throttle = hvb_vcpu_set_throttle,
	.vcpu_exec_time = hvb_vcpu_exec_time,
	.vcpu_import = x86_import,
	.vcpu_export = x86_export,

	.x86 = &x86_calls,
};
