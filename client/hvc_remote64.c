/*
 * libhvclient's transport under the arm64 front end (api/hva64.h): every
 * call goes to hvd.
 *
 * VM-wide calls are RPCs, the same messages as x86's (VmCreate carries the
 * HA64_VMOPT_* options, VmMap the memfd). A vCPU's whole state, registers
 * and exit record, is the struct ha64_state on its run page, shared with
 * hvd: the front end reads and writes it as plain memory, and both a run
 * and a write-through (HA64_OP_RUN, HA64_OP_SYNC) are one hand-off of the
 * page (proto/hvd_runpage.c). The host's limits and ID registers came with
 * the handshake. The GIC calls are VM-wide RPCs; its state travels in a
 * sealed memfd. What the Intel transport does the same way is in
 * hvc_calls.c; errors are mapped to hv_return_t there, in hvc_status.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hva64.h"
#include "hvc.h"

_Static_assert(HVC_MAX_VCPUS <= HVA64_MAX_VCPUS, "hvd's vCPU ids fit the front end's table");

/* The VM is hvd's; this side only knows that there is one. */
struct hva64_vm {
	int unused;
};

static struct hva64_vm the_vm;

/* A vCPU: its run page (hvc.h). Indexed by hvd's id; the front end's VM
 * lock guards creation and destruction, the owner thread the rest. */
struct hva64_vcpu {
	struct hvc_vcpu c;
};

static struct hva64_vcpu vcpus[HVC_MAX_VCPUS];

static hv_return_t call(hvdp_Request *req, int send_fd)
{
	return hvc_call(req, send_fd, NULL, NULL);
}

/* ---- host and VM ---- */

static hv_return_t remote_vm_open(void)
{
	return hvc_open();
}

static hv_return_t remote_host_info(struct hva64_host *out)
{
	hvdp_Arm64Host h;
	int r = hvc_arm64_host(&h);
	if (r < 0)
		return r == -ENOSPC ? HV_NO_RESOURCES : HV_NO_DEVICE;
	*out = (struct hva64_host){ .ipa_max = h.ipa_max, .ipa_default = h.ipa_default,
				    .max_vcpus = hvc_max_vcpus(), .el2 = h.el2,
				    .smccc_filter = h.smccc_filter,
				    .counter_offset = h.counter_offset };
	/* hvc_connect checked both counts. */
	_Static_assert(sizeof(out->feature) == sizeof(h.feature), "14 feature registers");
	_Static_assert(sizeof(out->ccsidr) == sizeof(h.ccsidr), "2 x 8 cache levels");
	memcpy(out->feature, h.feature, sizeof(out->feature));
	memcpy(out->ccsidr, h.ccsidr, sizeof(out->ccsidr));
	return HV_SUCCESS;
}

static hv_return_t remote_vm_create(uint64_t options, struct hva64_vm **out)
{
	hv_return_t ret = hvc_vm_create(options);
	if (ret == HV_SUCCESS)
		*out = &the_vm;
	return ret;
}

static hv_return_t remote_vm_destroy(struct hva64_vm *vm)
{
	(void)vm;
	return hvc_vm_destroy();
}

static void remote_fork_child(struct hva64_vm *vm)
{
	(void)vm;
	for (unsigned i = 0; i < HVC_MAX_VCPUS; i++)
		hvc_vcpu_forget(&vcpus[i].c);
	hvc_fork_child();
}

static hv_return_t remote_vm_map(struct hva64_vm *vm, void *uva, uint64_t ipa, size_t size,
				 uint64_t flags)
{
	(void)vm;
	return hvc_vm_map(uva, ipa, size, flags);
}

static hv_return_t remote_vm_unmap(struct hva64_vm *vm, uint64_t ipa, size_t size)
{
	(void)vm;
	return hvc_vm_unmap(ipa, size);
}

static hv_return_t remote_vm_protect(struct hva64_vm *vm, uint64_t ipa, size_t size,
				     uint64_t flags)
{
	(void)vm;
	return hvc_vm_protect(ipa, size, flags);
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

/* ---- vCPUs ---- */

static hv_return_t remote_vcpu_create(struct hva64_vm *vm, uint32_t *id, struct ha64_state **state,
				      struct hva64_vcpu **out)
{
	struct hvc_vcpu c;
	(void)vm;
	hv_return_t r = hvc_vcpu_create(0, &c);
	if (r != HV_SUCCESS)
		return r;
	struct hva64_vcpu *v = &vcpus[c.id];
	v->c = c;
	*id = c.id;
	*state = &c.page->state;
	*out = v;
	return HV_SUCCESS;
}

static hv_return_t remote_vcpu_destroy(struct hva64_vcpu *v, bool *gone)
{
	return hvc_vcpu_destroy(&v->c, gone);
}

/* A run or a write-through (state->op): one hand-off of the run page. */
static hv_return_t remote_vcpu_enter(struct hva64_vcpu *v)
{
	return hvc_vcpu_enter(&v->c);
}

static hv_return_t remote_vcpus_exit(struct hva64_vm *vm, const uint32_t *ids, unsigned n)
{
	(void)vm;
	return hvc_vcpus_interrupt(ids, n);
}

/* ---- the GIC: VM-wide RPCs (hvd_gic.c) ---- */

static hv_return_t remote_gic_create(struct hva64_vm *vm, const struct hva64_gic_config *cfg)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_gic_create_tag;
	req.op.gic_create = (hvdp_GicCreate){ .dist_base = cfg->dist_base,
					      .redist_base = cfg->redist_base,
					      .msi_base = cfg->msi_base,
					      .msi_intid_base = cfg->msi_intid_base,
					      .msi_count = cfg->msi_count };
	return call(&req, -1);
}

static hv_return_t remote_gic_set_spi(struct hva64_vm *vm, uint32_t intid, bool level)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_gic_spi_tag;
	req.op.gic_spi.intid = intid;
	req.op.gic_spi.level = level;
	return call(&req, -1);
}

static hv_return_t remote_gic_send_msi(struct hva64_vm *vm, uint64_t addr, uint32_t intid)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_gic_msi_tag;
	req.op.gic_msi.addr = addr;
	req.op.gic_msi.intid = intid;
	return call(&req, -1);
}

static hv_return_t remote_gic_reg(struct hva64_vm *vm, struct hva64_vcpu *vcpu,
				  enum hva64_gic_space space, uint32_t reg, bool write, uint64_t *value)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_gic_reg_tag;
	req.op.gic_reg.space = (uint32_t)space;
	req.op.gic_reg.reg = reg;
	req.op.gic_reg.write = write;
	req.op.gic_reg.value = write ? *value : 0;
	req.op.gic_reg.vcpu = vcpu ? vcpu->c.id : 0;
	return hvc_call(&req, -1, write ? NULL : value, NULL);
}

/* GicReg's space 0 (hvd_gic.c). */
static hv_return_t remote_gic_redist_base(struct hva64_vm *vm, struct hva64_vcpu *vcpu, uint64_t *base)
{
	return remote_gic_reg(vm, vcpu, (enum hva64_gic_space)0, 0, false, base);
}

/* The blob comes in a sealed memfd of hvd's. */
static hv_return_t remote_gic_state_get(struct hva64_vm *vm, void **blob, size_t *size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	uint64_t n = 0;
	int fd = -1;
	(void)vm;
	req.which_op = hvdp_Request_gic_state_tag;
	hv_return_t r = hvc_call(&req, -1, &n, &fd);
	if (r == HV_SUCCESS && (fd < 0 || n == 0 || n > HVD_MAX_GIC_STATE))
		r = HV_ERROR;
	void *b = r == HV_SUCCESS ? malloc((size_t)n) : NULL;
	if (r == HV_SUCCESS && !b)
		r = HV_NO_RESOURCES;
	if (b && pread(fd, b, (size_t)n, 0) != (ssize_t)n) {
		free(b);
		b = NULL;
		r = HV_ERROR;
	}
	if (fd >= 0)
		close(fd);
	if (r == HV_SUCCESS) {
		*blob = b;
		*size = (size_t)n;
	}
	return r;
}

/* The blob goes in a memfd sealed against shrinking (hvd refuses any
 * other descriptor). */
static hv_return_t remote_gic_state_set(struct hva64_vm *vm, const void *blob, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	if (size == 0 || size > HVD_MAX_GIC_STATE)
		return HV_BAD_ARGUMENT;
	int fd = memfd_create("hvclient-gic-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return HV_NO_RESOURCES;
	if (pwrite(fd, blob, size, 0) != (ssize_t)size ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		close(fd);
		return HV_NO_RESOURCES;
	}
	req.which_op = hvdp_Request_gic_state_tag;
	req.op.gic_state.write = true;
	req.op.gic_state.size = size;
	hv_return_t r = call(&req, fd);
	close(fd);
	return r;
}

static hv_return_t remote_gic_reset(struct hva64_vm *vm)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_gic_reset_tag;
	return call(&req, -1);
}

const struct hva64_transport hva64_transport = {
	.vm_open = remote_vm_open,
	.host_info = remote_host_info,
	.vm_create = remote_vm_create,
	.vm_destroy = remote_vm_destroy,
	.fork_child = remote_fork_child,
	.vm_map = remote_vm_map,
	.vm_unmap = remote_vm_unmap,
	.vm_protect = remote_vm_protect,
	.vm_allocate = remote_vm_allocate,
	.vm_deallocate = remote_vm_deallocate,
	.vcpu_create = remote_vcpu_create,
	.vcpu_destroy = remote_vcpu_destroy,
	.vcpu_enter = remote_vcpu_enter,
	.vcpus_exit = remote_vcpus_exit,
	.gic_create = remote_gic_create,
	.gic_set_spi = remote_gic_set_spi,
	.gic_send_msi = remote_gic_send_msi,
	.gic_reg = remote_gic_reg,
	.gic_redist_base = remote_gic_redist_base,
	.gic_state_get = remote_gic_state_get,
	.gic_state_set = remote_gic_state_set,
	.gic_reset = remote_gic_reset,
};
