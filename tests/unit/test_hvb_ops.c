/*
 * The backend interface (backend/hvb_ops.h) as the x86/KVM backend fills
 * it: every entry set, each the backend function of its name (entries of
 * one signature could be swapped without the compiler noticing), the arch
 * state is struct hvs_state, and calls through the table reach the
 * backend. Only the last test needs KVM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include <Hypervisor/hv_vmx.h>

#include "hvb_ops.h"
#include "hvs.h"

/* No pointer-sized slot of [from, to) of `p` is zero. Function pointers
 * are pointer-sized and unpadded on Linux; a member added to the table and
 * left out of a backend's initializer is NULL and fails here. */
static void expect_all_set(const void *p, size_t from, size_t to, const char *what)
{
	for (size_t off = from; off < to; off += sizeof(void *)) {
		uintptr_t slot;
		memcpy(&slot, (const char *)p + off, sizeof(slot));
		cr_expect_neq(slot, 0, "%s: the entry at offset %zu is NULL", what, off);
	}
}

Test(hvb_ops, every_entry_is_set)
{
	cr_expect_str_eq(hvb_x86_ops.name, "x86-kvm");
	expect_all_set(&hvb_x86_ops, offsetof(struct hvb_ops, kick_signal),
		       offsetof(struct hvb_ops, arm64), "hvb_x86_ops");
	cr_expect_null(hvb_x86_ops.arm64, "an x86 backend has no arm64 calls");
	cr_assert_not_null(hvb_x86_ops.x86);
	expect_all_set(hvb_x86_ops.x86, 0, sizeof(struct hvb_arch_x86), "x86 calls");
}

Test(hvb_ops, entries_are_the_backend_functions)
{
	const struct hvb_ops *o = &hvb_x86_ops;
	const struct hvb_arch_x86 *x = o->x86;

	cr_expect(o->kick_signal == hvb_kick_signal);
	cr_expect(o->guard_install == hvb_guard_install);
	cr_expect(o->host_create == hvb_host_create);
	cr_expect(o->host_destroy == hvb_host_destroy);
	cr_expect(o->host_info == hvb_host_info);
	cr_expect(o->vm_create == hvb_vm_create);
	cr_expect(o->vm_destroy == hvb_vm_destroy);
	cr_expect(o->vm_abandon == hvb_vm_abandon);
	cr_expect(o->vm_map == hvb_vm_map);
	cr_expect(o->vm_unmap == hvb_vm_unmap);
	cr_expect(o->vm_protect == hvb_vm_protect);
	cr_expect(o->vm_usage == hvb_vm_usage);
	cr_expect(o->vm_maps == hvb_vm_maps);
	cr_expect(o->vm_hva_in_use == hvb_vm_hva_in_use);
	cr_expect(o->vcpu_create == hvb_vcpu_create);
	cr_expect(o->vcpu_destroy == hvb_vcpu_destroy);
	cr_expect(o->vcpu_id == hvb_vcpu_id);
	cr_expect(o->vcpu_run == hvb_vcpu_run);
	cr_expect(o->vcpu_kick == hvb_vcpu_kick);
	cr_expect(o->vcpu_set_throttle == hvb_vcpu_set_throttle);
	cr_expect(o->vcpu_exec_time == hvb_vcpu_exec_time);

	cr_expect(x->read_reg == hvb_vcpu_read_reg);
	cr_expect(x->write_reg == hvb_vcpu_write_reg);
	cr_expect(x->read_vmcs == hvb_vcpu_read_vmcs);
	cr_expect(x->write_vmcs == hvb_vcpu_write_vmcs);
	cr_expect(x->cap_write_vmcs == hvb_vcpu_cap_write_vmcs);
	cr_expect(x->read_capability == hvb_vmx_read_capability);
	cr_expect(x->read_msr == hvb_vcpu_read_msr);
	cr_expect(x->write_msr == hvb_vcpu_write_msr);
	cr_expect(x->enable_native_msr == hvb_vcpu_enable_native_msr);
	cr_expect(x->read_fpstate == hvb_vcpu_read_fpstate);
	cr_expect(x->write_fpstate == hvb_vcpu_write_fpstate);
	cr_expect(x->sync_tsc == hvb_vm_sync_tsc);
	cr_expect(x->invalidate_tlb == hvb_vcpu_invalidate_tlb);
}

Test(hvb_ops, the_arch_state_is_the_vmcs_model)
{
	cr_expect_eq(hvb_x86_ops.arch, HVB_ARCH_X86_64);
	cr_expect_eq(hvb_x86_ops.arch_state_size, sizeof(struct hvs_state));
}

Test(hvb_ops, calls_reach_the_backend)
{
	struct hvb_host *host = NULL;
	cr_expect_eq(hvb_x86_ops.kick_signal(), SIGRTMAX - 2);
	cr_expect_eq(hvb_x86_ops.host_create("/nonexistent/kvm", &host), -ENOENT);
	cr_expect_null(host);
}

/* On a real vCPU (KVM): the state goes out and back through the table as
 * an opaque struct hvb_arch_state, edited with the VMCS model between. */
Test(hvb_ops, the_state_crosses_as_an_opaque_arch_state)
{
	const struct hvb_ops *o = &hvb_x86_ops;
	struct hvb_host *host;
	struct hvb_vm *vm;
	struct hvb_vcpu *vcpu;
	struct hvs_state st;
	uint64_t v;

	cr_assert_eq(o->host_create(NULL, &host), 0);
	cr_assert_eq(o->vm_create(host, 0, &vm), 0);
	cr_assert_eq(o->vcpu_create(vm, 0, &vcpu), 0);

	o->vcpu_export(vcpu, (struct hvb_arch_state *)&st);
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_GUEST_RIP, 0x1234), 0);
	cr_assert_eq(hvs_write_vmcs(&st, VMCS_CTRL_EXC_BITMAP, 0x40), 0);
	o->vcpu_import(vcpu, (const struct hvb_arch_state *)&st);
	cr_assert_eq(o->x86->read_vmcs(vcpu, VMCS_GUEST_RIP, &v), 0);
	cr_expect_eq(v, 0x1234);
	cr_assert_eq(o->x86->read_vmcs(vcpu, VMCS_CTRL_EXC_BITMAP, &v), 0);
	cr_expect_eq(v, 0x40);

	memset(&st, 0, sizeof(st));
	o->vcpu_export(vcpu, (struct hvb_arch_state *)&st);
	cr_assert_eq(hvs_read_vmcs(&st, VMCS_GUEST_RIP, &v), 0);
	cr_expect_eq(v, 0x1234);

	cr_expect_eq(o->vcpu_destroy(vcpu), 0);
	cr_expect_eq(o->vm_destroy(vm), 0);
	o->host_destroy(host);
}
