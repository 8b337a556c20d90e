/*
 * libhvclient's transport under the API front end (api/): every call goes
 * to hvd.
 *
 * VM-wide calls and the rare vCPU calls are RPCs. Registers and VMCS
 * fields live in each vCPU's run page, shared with hvd: reading and
 * writing them is plain memory access through the VMCS model's pure state
 * accessors (the same code hvd runs), and hv_vcpu_run is the client's side
 * of the run-page hand-off (proto/hvd_runpage.c). What the arm64 transport
 * does the same way is in hvc_calls.c; errors are mapped to hv_return_t
 * there, in hvc_status.
 */
#include <errno.h>
#include <string.h>

#include "hva.h"
#include "hvc.h"

_Static_assert(HVC_MAX_VCPUS <= HVA_MAX_VCPUS, "hvd's vCPU ids fit the front end's table");

/* The VM is hvd's; this side only knows that there is one. */
struct hva_vm {
	int unused;
};

static struct hva_vm the_vm;

/* A vCPU: its run page (hvc.h). Indexed by hvd's id; the front end's VM
 * lock guards creation and destruction, the owner thread the rest. */
struct hva_vcpu {
	struct hvc_vcpu c;
};

static struct hva_vcpu vcpus[HVC_MAX_VCPUS];

/* An RPC with a value in its answer (NULL: none wanted). */
static hv_return_t value_call(hvdp_Request *req, uint64_t *value)
{
	return hvc_call(req, -1, value, NULL);
}

/* ---- VM ---- */

static hv_return_t remote_vm_open(void)
{
	return hvc_open();
}

static hv_return_t remote_vm_create(hv_vm_options_t flags, struct hva_vm **out)
{
	hv_return_t ret = hvc_vm_create(flags);
	if (ret == HV_SUCCESS)
		*out = &the_vm;
	return ret;
}

static hv_return_t remote_vm_destroy(struct hva_vm *vm)
{
	(void)vm;
	return hvc_vm_destroy();
}

static void remote_fork_child(struct hva_vm *vm)
{
	(void)vm;
	for (unsigned i = 0; i < HVC_MAX_VCPUS; i++)
		hvc_vcpu_forget(&vcpus[i].c);
	hvc_fork_child();
}

/* hvd answers it only for a process with a VM. */
static hv_return_t remote_capability(struct hva_vm *vm, hv_capability_t cap, uint64_t *value)
{
	if (!vm)
		return HV_NO_DEVICE;
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_capability_tag;
	req.op.capability.which = cap;
	return value_call(&req, value);
}

static hv_return_t remote_vmx_read_capability(hv_vmx_capability_t field, uint64_t *value)
{
	int r = hvc_vmx_capability((unsigned)field, value);
	return r == -ECONNREFUSED || r == -ENOENT ? HV_NO_DEVICE : hvc_status(r);
}

static hv_return_t remote_vm_map(struct hva_vm *vm, void *uva, hv_gpaddr_t gpa, size_t size,
				 hv_memory_flags_t flags)
{
	(void)vm;
	return hvc_vm_map(uva, gpa, size, flags);
}

static hv_return_t remote_vm_unmap(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size)
{
	(void)vm;
	return hvc_vm_unmap(gpa, size);
}

static hv_return_t remote_vm_protect(struct hva_vm *vm, hv_gpaddr_t gpa, size_t size,
				     hv_memory_flags_t flags)
{
	(void)vm;
	return hvc_vm_protect(gpa, size, flags);
}

static hv_return_t remote_vm_sync_tsc(struct hva_vm *vm, uint64_t tsc)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_vm_sync_tsc_tag;
	req.op.vm_sync_tsc.tsc = tsc;
	return value_call(&req, NULL);
}

/* Guest memory must be shareable with hvd: a memfd from the start. */
static hv_return_t remote_vm_allocate(void **uvap, size_t size)
{
	return hvc_status(hvc_mem_allocate(uvap, size));
}

static hv_return_t remote_vm_deallocate(void *uva, size_t size)
{
	return hvc_status(hvc_mem_deallocate(uva, size));
}

/* ---- vCPU lifecycle ---- */

static hv_return_t remote_vcpu_create(struct hva_vm *vm, hv_vcpu_options_t flags,
				      hv_vcpuid_t *id, struct hva_vcpu **out)
{
	struct hvc_vcpu c;
	(void)vm;
	hv_return_t r = hvc_vcpu_create(flags, &c);
	if (r != HV_SUCCESS)
		return r;
	struct hva_vcpu *v = &vcpus[c.id];
	v->c = c;
	*id = c.id;
	*out = v;
	return HV_SUCCESS;
}

static hv_return_t remote_vcpu_destroy(struct hva_vcpu *v, bool *gone)
{
	return hvc_vcpu_destroy(&v->c, gone);
}

static hv_return_t remote_interrupt(struct hva_vm *vm, const hv_vcpuid_t *ids, unsigned n)
{
	(void)vm;
	return hvc_vcpus_interrupt(ids, n);
}

/* ---- registers and VMCS: the run page ---- */

/* A field that lives only in KVM (debug registers, XCR0): ask hvd. */
static hv_return_t slow_reg(struct hva_vcpu *v, unsigned reg, uint64_t *value, bool write)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_reg_tag;
	req.op.vcpu_reg.vcpu = v->c.id;
	req.op.vcpu_reg.reg = reg;
	req.op.vcpu_reg.value = write ? *value : 0;
	req.op.vcpu_reg.write = write;
	return value_call(&req, write ? NULL : value);
}

static hv_return_t slow_vmcs(struct hva_vcpu *v, uint32_t field, uint64_t *value, bool write)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_vmcs_tag;
	req.op.vcpu_vmcs.vcpu = v->c.id;
	req.op.vcpu_vmcs.field = field;
	req.op.vcpu_vmcs.value = write ? *value : 0;
	req.op.vcpu_vmcs.write = write;
	return value_call(&req, write ? NULL : value);
}

static hv_return_t remote_read_reg(struct hva_vcpu *v, hv_x86_reg_t reg, uint64_t *value)
{
	int r = hvs_read_reg(&v->c.page->state, (unsigned)reg, value);
	if (r == -EAGAIN)
		return slow_reg(v, (unsigned)reg, value, false);
	return hvc_status(r);
}

static hv_return_t remote_write_reg(struct hva_vcpu *v, hv_x86_reg_t reg, uint64_t value)
{
	int r = hvs_write_reg(&v->c.page->state, (unsigned)reg, value);
	if (r == -EAGAIN)
		return slow_reg(v, (unsigned)reg, &value, true);
	return hvc_status(r);
}

static hv_return_t remote_read_vmcs(struct hva_vcpu *v, uint32_t field, uint64_t *value)
{
	int r = hvs_read_vmcs(&v->c.page->state, field, value);
	if (r == -EAGAIN)
		return slow_vmcs(v, field, value, false);
	return hvc_status(r);
}

static hv_return_t remote_write_vmcs(struct hva_vcpu *v, uint32_t field, uint64_t value)
{
	int r = hvs_write_vmcs(&v->c.page->state, field, value);
	if (r == -EAGAIN)
		return slow_vmcs(v, field, &value, true);
	return hvc_status(r);
}

static hv_return_t remote_cap_write_vmcs(struct hva_vcpu *v, uint32_t field,
					 uint64_t *allowed_0, uint64_t *allowed_1)
{
	return hvc_status(hvs_cap_write_vmcs(&v->c.page->state, field, allowed_0, allowed_1));
}

/* ---- vCPU calls served by hvd's vCPU thread ---- */

static hv_return_t remote_read_msr(struct hva_vcpu *v, uint32_t msr, uint64_t *value)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_msr_tag;
	req.op.vcpu_msr.vcpu = v->c.id;
	req.op.vcpu_msr.msr = msr;
	return value_call(&req, value);
}

static hv_return_t remote_write_msr(struct hva_vcpu *v, uint32_t msr, uint64_t value)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_msr_tag;
	req.op.vcpu_msr.vcpu = v->c.id;
	req.op.vcpu_msr.msr = msr;
	req.op.vcpu_msr.value = value;
	req.op.vcpu_msr.write = true;
	return value_call(&req, NULL);
}

static hv_return_t remote_enable_native_msr(struct hva_vcpu *v, uint32_t msr, bool enable)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_native_msr_tag;
	req.op.vcpu_native_msr.vcpu = v->c.id;
	req.op.vcpu_native_msr.msr = msr;
	req.op.vcpu_native_msr.enable = enable;
	return value_call(&req, NULL);
}

/* The message carries at most 4 KiB of it. */
static hv_return_t remote_read_fpstate(struct hva_vcpu *v, void *buffer, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	req.which_op = hvdp_Request_vcpu_fpstate_tag;
	req.op.vcpu_fpstate.vcpu = v->c.id;
	req.op.vcpu_fpstate.size = (uint32_t)(size > 4096 ? 4096 : size);
	int r = hvc_rpc(&req, -1, &resp, NULL);
	if (r < 0)
		return hvc_status(r);
	if (resp.status == HV_SUCCESS) {
		memset(buffer, 0, size);
		memcpy(buffer, resp.data.bytes, resp.data.size < size ? resp.data.size : size);
	}
	return resp.status;
}

static hv_return_t remote_write_fpstate(struct hva_vcpu *v, const void *buffer, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	size_t n = size > 4096 ? 4096 : size;
	req.which_op = hvdp_Request_vcpu_fpstate_tag;
	req.op.vcpu_fpstate.vcpu = v->c.id;
	req.op.vcpu_fpstate.write = true;
	req.op.vcpu_fpstate.data.size = (pb_size_t)n;
	memcpy(req.op.vcpu_fpstate.data.bytes, buffer, n);
	return value_call(&req, NULL);
}

static hv_return_t remote_invalidate_tlb(struct hva_vcpu *v)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_invalidate_tlb_tag;
	req.op.vcpu_invalidate_tlb.vcpu = v->c.id;
	return value_call(&req, NULL);
}

static hv_return_t remote_exec_time(struct hva_vcpu *v, uint64_t *ns)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_exec_time_tag;
	req.op.vcpu_exec_time.vcpu = v->c.id;
	return value_call(&req, ns);
}

/* ---- running ---- */

static hv_return_t remote_run(struct hva_vcpu *v)
{
	return hvc_vcpu_enter(&v->c);
}

const struct hva_transport hva_transport = {
	/* What one VcpuInterrupt message holds. */
	.max_interrupt = HVC_MAX_VCPUS,

	.vm_open = remote_vm_open,
	.vm_create = remote_vm_create,
	.vm_destroy = remote_vm_destroy,
	.fork_child = remote_fork_child,

	.capability = remote_capability,
	.vmx_read_capability = remote_vmx_read_capability,
	.vm_map = remote_vm_map,
	.vm_unmap = remote_vm_unmap,
	.vm_protect = remote_vm_protect,
	.vm_sync_tsc = remote_vm_sync_tsc,
	.vm_allocate = remote_vm_allocate,
	.vm_deallocate = remote_vm_deallocate,

	.vcpu_create = remote_vcpu_create,
	.vcpu_destroy = remote_vcpu_destroy,
	.interrupt = remote_interrupt,

	.read_reg = remote_read_reg,
	.write_reg = remote_write_reg,
	.read_vmcs = remote_read_vmcs,
	.write_vmcs = remote_write_vmcs,
	.cap_write_vmcs = remote_cap_write_vmcs,
	.read_msr = remote_read_msr,
	.write_msr = remote_write_msr,
	.enable_native_msr = remote_enable_native_msr,
	.read_fpstate = remote_read_fpstate,
	.write_fpstate = remote_write_fpstate,
	.invalidate_tlb = remote_invalidate_tlb,
	.exec_time = remote_exec_time,
	.run = remote_run,
};
