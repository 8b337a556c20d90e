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
 * sealed memfd. Errors are mapped to hv_return_t in one place, hvc_status.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hva64.h"
#include "hvc.h"
#include "hvd_runpage.h"
#include "hvs_errmap.h"

/* hvd's ids are below this; a VcpuInterrupt names at most this many. */
#define MAX_VCPUS 64
_Static_assert(MAX_VCPUS <= HVA64_MAX_VCPUS, "hvd's vCPU ids fit the front end's table");

/* How long a run polls for the exit before sleeping, and how often a
 * sleeping run checks that hvd is still there (as on x86). */
#define SPIN_NS 100000ull
#define LIVENESS_NS 100000000l

/* The VM is hvd's; this side only knows that there is one. */
struct hva64_vm {
	int unused;
};

static struct hva64_vm the_vm;

/* A vCPU: its run page. Indexed by hvd's id; the front end's VM lock
 * guards creation and destruction, the owner thread the rest. */
struct hva64_vcpu {
	uint32_t id;
	struct hvd_run_page *page;
	size_t page_size;
	uint32_t seq;
};

static struct hva64_vcpu vcpus[MAX_VCPUS];

/* The one place this transport turns errors into hv_return_t: a negative
 * errno from this library, or the lost connection to hvd. */
static hv_return_t hvc_status(int err)
{
	switch (-err) {
	case ECONNRESET: case EPIPE: case ENOTCONN: case EPROTO:
		return HV_ERROR;
	case ECONNREFUSED: case EPROTONOSUPPORT: case ENOENT:
		return HV_NO_DEVICE;
	default:
		return hvs_errno_to_hv(err);
	}
}

/* An RPC whose only result is its status. */
static hv_return_t call(hvdp_Request *req, int send_fd)
{
	hvdp_Response resp;
	int r = hvc_rpc(req, send_fd, &resp, NULL);
	return r < 0 ? hvc_status(r) : (hv_return_t)resp.status;
}

/* ---- host and VM ---- */

static hv_return_t remote_vm_open(void)
{
	int r = hvc_connect();
	if (r < 0)
		return r == -ENOSPC ? HV_NO_RESOURCES : HV_NO_DEVICE;
	return HV_SUCCESS;
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
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vm_create_tag;
	req.op.vm_create.flags = options;
	req.op.vm_create.session_nonce = hvc_session_nonce();
	hv_return_t ret = call(&req, -1);
	if (ret == HV_SUCCESS)
		*out = &the_vm;
	return ret;
}

static hv_return_t remote_vm_destroy(struct hva64_vm *vm)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_vm_destroy_tag;
	return call(&req, -1);
}

/* The child's copies of the run pages, the guest memory and the
 * connection are the parent's session: let go of them. */
static void remote_fork_child(struct hva64_vm *vm)
{
	(void)vm;
	for (unsigned i = 0; i < MAX_VCPUS; i++)
		if (vcpus[i].page)
			munmap(vcpus[i].page, vcpus[i].page_size);
	memset(vcpus, 0, sizeof(vcpus));
	hvc_mem_fork_child();
	hvc_conn_forget();
}

static hv_return_t remote_vm_map(struct hva64_vm *vm, void *uva, uint64_t ipa, size_t size,
				 uint64_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	uint64_t offset;
	int fd, r;

	(void)vm;
	if ((r = hvc_mem_share(uva, size, &fd, &offset)) < 0)
		return r == -EFAULT ? HV_BAD_ARGUMENT : hvc_status(r);
	req.which_op = hvdp_Request_vm_map_tag;
	req.op.vm_map.gpa = ipa;
	req.op.vm_map.size = size;
	req.op.vm_map.flags = flags;
	req.op.vm_map.offset = offset;
	return call(&req, fd);
}

static hv_return_t remote_vm_unmap(struct hva64_vm *vm, uint64_t ipa, size_t size)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_vm_unmap_tag;
	req.op.vm_unmap.gpa = ipa;
	req.op.vm_unmap.size = size;
	return call(&req, -1);
}

static hv_return_t remote_vm_protect(struct hva64_vm *vm, uint64_t ipa, size_t size,
				     uint64_t flags)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	req.which_op = hvdp_Request_vm_protect_tag;
	req.op.vm_protect.gpa = ipa;
	req.op.vm_protect.size = size;
	req.op.vm_protect.flags = flags;
	return call(&req, -1);
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
	hvdp_Request req = hvdp_Request_init_zero;
	hvdp_Response resp;
	int fd = -1, r;

	(void)vm;
	req.which_op = hvdp_Request_vcpu_create_tag;
	if ((r = hvc_rpc(&req, -1, &resp, &fd)) < 0)
		return hvc_status(r);
	if (resp.status != HV_SUCCESS) {
		if (fd >= 0)
			close(fd);
		return resp.status;
	}
	size_t size = hvd_runpage_size();
	void *page = fd >= 0 && resp.vcpu < MAX_VCPUS ?
		mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	uint32_t seq;
	if (fd >= 0)
		close(fd);
	if (page == MAP_FAILED || !hvd_runpage_client_attach(page, &seq)) {
		if (page != MAP_FAILED)
			munmap(page, size);
		return HV_ERROR;
	}
	struct hva64_vcpu *v = &vcpus[resp.vcpu];
	v->id = resp.vcpu;
	v->page = page;
	v->page_size = size;
	v->seq = seq;
	*id = resp.vcpu;
	*state = &v->page->state;
	*out = v;
	return HV_SUCCESS;
}

/* The run page goes with the vCPU, or when hvd is gone (then the vCPU is
 * gone with it). */
static hv_return_t remote_vcpu_destroy(struct hva64_vcpu *v, bool *gone)
{
	hvdp_Request req = hvdp_Request_init_zero;
	req.which_op = hvdp_Request_vcpu_destroy_tag;
	req.op.vcpu_destroy.vcpu = v->id;
	hv_return_t ret = call(&req, -1);
	*gone = ret == HV_SUCCESS || !hvc_daemon_alive();
	if (*gone) {
		munmap(v->page, v->page_size);
		memset(v, 0, sizeof(*v));
	}
	return ret;
}

static bool daemon_alive(void *ctx)
{
	(void)ctx;
	return hvc_daemon_alive();
}

/* A run or a write-through (state->op): hand the run page to hvd's vCPU
 * thread and wait for its answer. */
static hv_return_t remote_vcpu_enter(struct hva64_vcpu *v)
{
	int32_t result;
	if (!hvc_connected())
		return HV_ERROR; /* an earlier call found hvd gone */
	if (hvd_runpage_client_run(v->page, ++v->seq, SPIN_NS, LIVENESS_NS, daemon_alive, NULL,
				   &result) < 0)
		return HV_ERROR;
	return result;
}

/* hvd checks the ids again: it knows the same ones. */
static hv_return_t remote_vcpus_exit(struct hva64_vm *vm, const uint32_t *ids, unsigned n)
{
	hvdp_Request req = hvdp_Request_init_zero;
	(void)vm;
	if (n > MAX_VCPUS)
		return HV_BAD_ARGUMENT;
	req.which_op = hvdp_Request_vcpu_interrupt_tag;
	req.op.vcpu_interrupt.vcpus_count = (pb_size_t)n;
	memcpy(req.op.vcpu_interrupt.vcpus, ids, n * sizeof(uint32_t));
	return call(&req, -1);
}

/* ---- the GIC: VM-wide RPCs (hvd_gic.c) ---- */

/* An RPC with a value in its answer (NULL: none wanted). */
static hv_return_t value_call(hvdp_Request *req, int send_fd, uint64_t *value, int *recv_fd)
{
	hvdp_Response resp;
	int r = hvc_rpc(req, send_fd, &resp, recv_fd);
	if (r < 0)
		return hvc_status(r);
	if (value && resp.status == HV_SUCCESS)
		*value = resp.value;
	return resp.status;
}

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
	req.op.gic_reg.vcpu = vcpu ? vcpu->id : 0;
	return value_call(&req, -1, write ? NULL : value, NULL);
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
	hv_return_t r = value_call(&req, -1, &n, &fd);
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
