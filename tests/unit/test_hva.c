/*
 * The API front end (api/) on a fake transport: Apple's process model
 * (one VM, vCPUs owned by threads, the owner's lock-free slot, fork) and
 * the checks made before a transport is called, with no hypervisor at
 * all. The fake records what reached it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hva.h"

struct hva_vm {
	int n;
};

struct hva_vcpu {
	hv_vcpuid_t id;
	unsigned generation;           /* which create made this handle */
	bool live;
};

static struct {
	struct hva_vm vm;
	struct hva_vcpu vcpus[HVA_MAX_VCPUS];
	unsigned generation;
	hv_return_t destroy_result;    /* what vcpu_destroy answers */
	bool destroy_gone;
	hv_return_t vm_destroy_result;
	_Atomic unsigned calls;        /* transport calls of any kind */
	struct hva_vcpu *last;         /* the vCPU the last owner call got */
	hv_vcpuid_t kicked[8];
	unsigned nkicked;
	struct hva_vm *fork_vm;
	bool forked;
} fake;

static void called(void)
{
	atomic_fetch_add(&fake.calls, 1);
}

static hv_return_t f_vm_create(hv_vm_options_t flags, struct hva_vm **out)
{
	(void)flags;
	called();
	*out = &fake.vm;
	return HV_SUCCESS;
}

static hv_return_t f_vm_destroy(struct hva_vm *vm)
{
	cr_assert_eq(vm, &fake.vm);
	called();
	return fake.vm_destroy_result;
}

static void f_fork_child(struct hva_vm *vm)
{
	fake.forked = true;
	fake.fork_vm = vm;
}

static hv_return_t f_capability(struct hva_vm *vm, hv_capability_t cap, uint64_t *value)
{
	(void)cap;
	called();
	*value = vm ? 1 : 0;
	return HV_SUCCESS;
}

static hv_return_t f_vmx_cap(hv_vmx_capability_t field, uint64_t *value)
{
	(void)field;
	called();
	*value = 0;
	return HV_SUCCESS;
}

static hv_return_t f_map(struct hva_vm *vm, void *uva, hv_gpaddr_t gpa, size_t size,
			 hv_memory_flags_t flags)
{
	(void)vm; (void)uva; (void)gpa; (void)size; (void)flags;
	called();
	return HV_SUCCESS;
}

static hv_return_t f_unmap(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size)
{
	(void)vm; (void)gpa; (void)size;
	called();
	return HV_SUCCESS;
}

static hv_return_t f_protect(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size,
			     hv_memory_flags_t flags)
{
	(void)vm; (void)gpa; (void)size; (void)flags;
	called();
	return HV_SUCCESS;
}

static hv_return_t f_sync_tsc(struct hva_vm *vm, uint64_t tsc)
{
	(void)vm; (void)tsc;
	called();
	return HV_SUCCESS;
}

static hv_return_t f_allocate(void **uvap, size_t size)
{
	(void)uvap; (void)size;
	called();
	return HV_SUCCESS;
}

static hv_return_t f_deallocate(void *uva, size_t size)
{
	(void)uva; (void)size;
	called();
	return HV_SUCCESS;
}

static hv_return_t f_vcpu_create(struct hva_vm *vm, hv_vcpu_options_t flags, hv_vcpuid_t *id,
				 struct hva_vcpu **out)
{
	(void)flags;
	cr_assert_eq(vm, &fake.vm);
	called();
	for (unsigned i = 0; i < HVA_MAX_VCPUS; i++) {
		if (!fake.vcpus[i].live) {
			fake.vcpus[i] = (struct hva_vcpu){ i, ++fake.generation, true };
			*id = i;
			*out = &fake.vcpus[i];
			return HV_SUCCESS;
		}
	}
	return HV_NO_RESOURCES;
}

static hv_return_t f_vcpu_destroy(struct hva_vcpu *v, bool *gone)
{
	called();
	*gone = fake.destroy_gone;
	if (*gone)
		v->live = false;
	return fake.destroy_result;
}

static hv_return_t f_interrupt(struct hva_vm *vm, const hv_vcpuid_t *ids, unsigned n)
{
	(void)vm;
	called();
	for (unsigned i = 0; i < n; i++)
		if (!hva_vcpu_lookup(ids[i]))
			return HV_BAD_ARGUMENT;
	memcpy(fake.kicked, ids, n * sizeof(*ids));
	fake.nkicked = n;
	return HV_SUCCESS;
}

/* Every owner call lands here: it records the handle it was given. */
static hv_return_t owner_call(struct hva_vcpu *v)
{
	cr_assert(v->live, "the front end handed a destroyed vCPU to the transport");
	called();
	fake.last = v;
	return HV_SUCCESS;
}

static hv_return_t f_read_reg(struct hva_vcpu *v, hv_x86_reg_t reg, uint64_t *value)
{
	(void)reg;
	*value = v->generation;
	return owner_call(v);
}

static hv_return_t f_write_reg(struct hva_vcpu *v, hv_x86_reg_t reg, uint64_t value)
{
	(void)reg; (void)value;
	return owner_call(v);
}

static hv_return_t f_read_vmcs(struct hva_vcpu *v, uint32_t field, uint64_t *value)
{
	(void)field;
	*value = 0;
	return owner_call(v);
}

static hv_return_t f_write_vmcs(struct hva_vcpu *v, uint32_t field, uint64_t value)
{
	(void)field; (void)value;
	return owner_call(v);
}

static hv_return_t f_cap_vmcs(struct hva_vcpu *v, uint32_t field, uint64_t *a0, uint64_t *a1)
{
	(void)field;
	*a0 = *a1 = 0;
	return owner_call(v);
}

static hv_return_t f_read_msr(struct hva_vcpu *v, uint32_t msr, uint64_t *value)
{
	(void)msr;
	*value = 0;
	return owner_call(v);
}

static hv_return_t f_write_msr(struct hva_vcpu *v, uint32_t msr, uint64_t value)
{
	(void)msr; (void)value;
	return owner_call(v);
}

static hv_return_t f_native_msr(struct hva_vcpu *v, uint32_t msr, bool enable)
{
	(void)msr; (void)enable;
	return owner_call(v);
}

static hv_return_t f_read_fp(struct hva_vcpu *v, void *buffer, size_t size)
{
	(void)buffer; (void)size;
	return owner_call(v);
}

static hv_return_t f_write_fp(struct hva_vcpu *v, const void *buffer, size_t size)
{
	(void)buffer; (void)size;
	return owner_call(v);
}

static hv_return_t f_tlb(struct hva_vcpu *v)
{
	return owner_call(v);
}

static hv_return_t f_exec_time(struct hva_vcpu *v, uint64_t *ns)
{
	*ns = 0;
	return owner_call(v);
}

static hv_return_t f_run(struct hva_vcpu *v)
{
	return owner_call(v);
}

const struct hva_transport hva_transport = {
	.max_interrupt = 4,
	.vm_open = NULL,
	.vm_create = f_vm_create,
	.vm_destroy = f_vm_destroy,
	.fork_child = f_fork_child,
	.capability = f_capability,
	.vmx_read_capability = f_vmx_cap,
	.vm_map = f_map,
	.vm_unmap = f_unmap,
	.vm_protect = f_protect,
	.vm_sync_tsc = f_sync_tsc,
	.vm_allocate = f_allocate,
	.vm_deallocate = f_deallocate,
	.vcpu_create = f_vcpu_create,
	.vcpu_destroy = f_vcpu_destroy,
	.interrupt = f_interrupt,
	.read_reg = f_read_reg,
	.write_reg = f_write_reg,
	.read_vmcs = f_read_vmcs,
	.write_vmcs = f_write_vmcs,
	.cap_write_vmcs = f_cap_vmcs,
	.read_msr = f_read_msr,
	.write_msr = f_write_msr,
	.enable_native_msr = f_native_msr,
	.read_fpstate = f_read_fp,
	.write_fpstate = f_write_fp,
	.invalidate_tlb = f_tlb,
	.exec_time = f_exec_time,
	.run = f_run,
};

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.destroy_gone = true;
}

/* Criterion runs each test in its own process: each starts without a VM. */
TestSuite(hva, .init = setup);

/* ---- the VM ---- */

Test(hva, vm_calls_need_the_vm_and_never_reach_the_transport_without_it)
{
	static uint8_t page[4096];
	uint64_t v;

	cr_assert_eq(hv_vm_map(page, 0, 4096, HV_MEMORY_READ), HV_NO_DEVICE);
	cr_assert_eq(hv_vm_unmap(0, 4096), HV_NO_DEVICE);
	cr_assert_eq(hv_vm_protect(0, 4096, HV_MEMORY_READ), HV_NO_DEVICE);
	cr_assert_eq(hv_vm_sync_tsc(0), HV_NO_DEVICE);
	cr_assert_eq(hv_vm_destroy(), HV_NO_DEVICE);
	cr_assert_eq(hv_vcpu_read_register(0, HV_X86_RAX, &v), HV_NO_DEVICE);
	cr_assert_eq(hv_vcpu_interrupt((hv_vcpuid_t[]){ 0 }, 1), HV_NO_DEVICE);
	cr_assert_eq(atomic_load(&fake.calls), 0);
	/* The transport decides whether capabilities need a VM: it is told. */
	cr_assert_eq(hv_capability(HV_CAP_VCPUMAX, &v), HV_SUCCESS);
	cr_assert_eq(v, 0, "no VM was passed");
	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_capability(HV_CAP_VCPUMAX, &v), HV_SUCCESS);
	cr_assert_eq(v, 1, "the VM was passed");
}

Test(hva, one_vm_per_process)
{
	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_BUSY);
	fake.vm_destroy_result = HV_BUSY;
	cr_assert_eq(hv_vm_destroy(), HV_BUSY);
	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_BUSY, "a failed destroy keeps the VM");
	fake.vm_destroy_result = HV_SUCCESS;
	cr_assert_eq(hv_vm_destroy(), HV_SUCCESS);
	cr_assert_eq(hv_vm_destroy(), HV_NO_DEVICE);
	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
}

/* Bad arguments are answered before anything else, without the
 * transport. */
Test(hva, arguments_are_checked_before_the_transport)
{
	static uint8_t page[4096];
	void *p;
	hv_vcpuid_t vcpu;

	cr_assert_eq(hv_vm_create(HV_VM_ACCEL_APIC), HV_UNSUPPORTED);
	cr_assert_eq(hv_vm_create(1ull << 40), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_create(&vcpu, HV_VCPU_TSC_RELATIVE), HV_UNSUPPORTED,
	    "flags first, even without a VM");
	cr_assert_eq(hv_vcpu_create(&vcpu, 0x80), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_create(NULL, 0), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_capability(HV_CAP_VCPUMAX, NULL), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vmx_read_capability(HV_VMX_CAP_PINBASED, NULL), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_allocate(&p, 100, HV_ALLOCATE_DEFAULT), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_allocate(NULL, 4096, HV_ALLOCATE_DEFAULT), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_allocate(&p, 4096, 1), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_deallocate(page + 1, 4096), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_deallocate(page, 0), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_interrupt(NULL, 1), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_interrupt(&vcpu, 0), HV_BAD_ARGUMENT);
	cr_assert_eq(atomic_load(&fake.calls), 0);

	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	unsigned before = atomic_load(&fake.calls);
	cr_assert_eq(hv_vm_map(page, 0, 4096, 0x100), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_map(page, 1, 4096, HV_MEMORY_READ), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vm_map(page, ~0xfffull, 8192, HV_MEMORY_READ), HV_BAD_ARGUMENT,
	    "a range that wraps");
	/* More vCPUs than the transport can name in one call. */
	cr_assert_eq(hv_vcpu_interrupt((hv_vcpuid_t[5]){ 0 }, 5), HV_BAD_ARGUMENT);
	cr_assert_eq(atomic_load(&fake.calls), before);
	cr_assert_eq(hv_vcpu_create(&vcpu, 0), HV_SUCCESS);
	before = atomic_load(&fake.calls);
	uint64_t v;
	cr_assert_eq(hv_vcpu_read_register(vcpu, HV_X86_RAX, NULL), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vmx_vcpu_read_vmcs(vcpu, 0, NULL), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vmx_vcpu_get_cap_write_vmcs(vcpu, 0, &v, NULL), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_read_fpstate(vcpu, page, 511), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_write_fpstate(vcpu, NULL, 4096), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_get_exec_time(vcpu, NULL), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_run_until(vcpu, 5), HV_UNSUPPORTED);
	cr_assert_eq(atomic_load(&fake.calls), before);
}

/* ---- vCPUs and their threads ---- */

struct other {
	hv_vcpuid_t vcpu;
	hv_return_t read, run, destroy, create, interrupt;
	hv_vcpuid_t own;
};

static void *other_thread(void *arg)
{
	struct other *o = arg;
	uint64_t v;

	o->read = hv_vcpu_read_register(o->vcpu, HV_X86_RAX, &v);
	o->run = hv_vcpu_run(o->vcpu);
	o->destroy = hv_vcpu_destroy(o->vcpu);
	o->interrupt = hv_vcpu_interrupt(&o->vcpu, 1);
	o->create = hv_vcpu_create(&o->own, 0);
	return NULL;
}

Test(hva, a_vcpu_is_its_creators_alone_but_any_thread_may_interrupt_it)
{
	struct other o = { 0 };
	pthread_t t;
	uint64_t v;

	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&o.vcpu, 0), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_read_register(o.vcpu, HV_X86_RAX, &v), HV_SUCCESS);
	cr_assert_eq(fake.last, &fake.vcpus[o.vcpu]);
	unsigned before = atomic_load(&fake.calls);
	cr_assert_eq(pthread_create(&t, NULL, other_thread, &o), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(o.read, HV_BAD_ARGUMENT);
	cr_assert_eq(o.run, HV_BAD_ARGUMENT);
	cr_assert_eq(o.destroy, HV_BAD_ARGUMENT);
	cr_assert_eq(o.interrupt, HV_SUCCESS);
	cr_assert_eq(fake.nkicked, 1);
	cr_assert_eq(fake.kicked[0], o.vcpu);
	cr_assert_eq(o.create, HV_SUCCESS, "the other thread may have its own");
	cr_assert_neq(o.own, o.vcpu);
	/* interrupt and create reached the transport; nothing else did. */
	cr_assert_eq(atomic_load(&fake.calls), before + 2);
	/* And this thread may not use the other's. */
	cr_assert_eq(hv_vcpu_read_register(o.own, HV_X86_RAX, &v), HV_BAD_ARGUMENT);
	/* Unknown ids are the transport's to judge (hva_vcpu_lookup). */
	cr_assert_eq(hv_vcpu_interrupt((hv_vcpuid_t[]){ o.vcpu, 40 }, 2), HV_BAD_ARGUMENT);
}

Test(hva, one_vcpu_per_thread)
{
	hv_vcpuid_t a, b;

	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&a, 0), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&b, 0), HV_BUSY);
	cr_assert_eq(hv_vcpu_destroy(a), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&b, 0), HV_SUCCESS);
}

/* The owner's slot must follow the table: a destroyed vCPU's id is no
 * longer the thread's, and a new vCPU with the same id is the new one. */
Test(hva, the_owners_slot_follows_destroy_and_create)
{
	hv_vcpuid_t a, b;
	uint64_t gen;

	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&a, 0), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_read_register(a, HV_X86_RAX, &gen), HV_SUCCESS);
	cr_assert_eq(gen, 1);
	cr_assert_eq(hv_vcpu_destroy(a), HV_SUCCESS);
	unsigned before = atomic_load(&fake.calls);
	cr_assert_eq(hv_vcpu_read_register(a, HV_X86_RAX, &gen), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_run(a), HV_BAD_ARGUMENT);
	cr_assert_eq(atomic_load(&fake.calls), before, "a destroyed vCPU reached the transport");
	cr_assert_eq(hv_vcpu_create(&b, 0), HV_SUCCESS);
	cr_assert_eq(b, a, "the fake gives the id again");
	cr_assert_eq(hv_vcpu_read_register(b, HV_X86_RAX, &gen), HV_SUCCESS);
	cr_assert_eq(gen, 2, "the new vCPU's handle, not the old one's");
}

/* A destroy the transport could not do leaves the vCPU the thread's. */
Test(hva, a_failed_destroy_keeps_the_vcpu)
{
	hv_vcpuid_t a, b;
	uint64_t v;

	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&a, 0), HV_SUCCESS);
	fake.destroy_gone = false;
	fake.destroy_result = HV_ERROR;
	cr_assert_eq(hv_vcpu_destroy(a), HV_ERROR);
	cr_assert_eq(hv_vcpu_read_register(a, HV_X86_RAX, &v), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&b, 0), HV_BUSY);
	/* Gone although the call failed (hvd died): the id is free. */
	fake.destroy_gone = true;
	cr_assert_eq(hv_vcpu_destroy(a), HV_ERROR);
	cr_assert_eq(hv_vcpu_read_register(a, HV_X86_RAX, &v), HV_BAD_ARGUMENT);
	cr_assert_eq(hv_vcpu_create(&b, 0), HV_SUCCESS);
}

/* ---- fork ---- */

enum { CHILD_OK, CHILD_NO_FORK_CALL, CHILD_WRONG_VM, CHILD_VCPU_KEPT, CHILD_VM_KEPT,
       CHILD_CREATE_FAILED };

static int child_main(hv_vcpuid_t parents)
{
	uint64_t v;
	hv_vcpuid_t mine;

	if (!fake.forked)
		return CHILD_NO_FORK_CALL;
	if (fake.fork_vm != &fake.vm)
		return CHILD_WRONG_VM;
	/* The forking thread's own slot is gone too. */
	if (hv_vcpu_read_register(parents, HV_X86_RAX, &v) != HV_NO_DEVICE)
		return CHILD_VCPU_KEPT;
	if (hv_vm_destroy() != HV_NO_DEVICE)
		return CHILD_VM_KEPT;
	memset(fake.vcpus, 0, sizeof(fake.vcpus));
	if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS || hv_vcpu_create(&mine, 0) != HV_SUCCESS)
		return CHILD_CREATE_FAILED;
	return CHILD_OK;
}

Test(hva, a_forked_child_starts_without_the_vm)
{
	hv_vcpuid_t vcpu;
	uint64_t v;
	int status;

	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_create(&vcpu, 0), HV_SUCCESS);
	cr_assert_eq(hv_vcpu_read_register(vcpu, HV_X86_RAX, &v), HV_SUCCESS);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(child_main(vcpu));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), CHILD_OK, "child step %d", WEXITSTATUS(status));
	cr_assert_not(fake.forked, "the parent keeps its objects");
	cr_assert_eq(hv_vcpu_read_register(vcpu, HV_X86_RAX, &v), HV_SUCCESS);
	cr_assert_eq(hv_vm_create(HV_VM_DEFAULT), HV_BUSY);
}
