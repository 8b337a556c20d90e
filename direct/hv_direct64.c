/*
 * libhvdirect on arm64: the arm64 front end's in-process transport, on the
 * arm64 backend's ops table (backend/hvb_ops.h, hvb_a64_ops). The vCPU's
 * ha64_state is the transport's own, imported into the backend before each
 * op and exported after. Backend errors (negative errno) become
 * hv_return_t in one place, hv_from_errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hva64.h"
#include "hvb_ops.h"
#include "hvs_errmap.h"

#define BE (&hvb_a64_ops)

/* The one errno table of every boundary (vmcs/hvs_errmap.h). */
static hv_return_t hv_from_errno(int err)
{
	return hvs_errno_to_hv(err);
}

struct vcpu {
	struct hvb_vcpu *b;
	struct ha64_state st;
};

static struct hvb_host *host;
static struct vcpu *vcpus[HVA64_MAX_VCPUS];

static hv_return_t d_vm_open(void)
{
	if (host)
		return HV_SUCCESS;
	/* No /dev/kvm is no device, not a bad argument. */
	int e = BE->host_create(NULL, &host);
	return hv_from_errno(e == -ENOENT ? -ENODEV : e);
}

static hv_return_t d_host_info(struct hva64_host *out)
{
	hv_return_t r = d_vm_open();
	struct hvb_a64_host h;
	if (r == HV_SUCCESS && (r = hv_from_errno(BE->arm64->host_query(host, &h))) == HV_SUCCESS) {
		*out = (struct hva64_host){ .ipa_max = h.ipa_max, .ipa_default = h.ipa_default,
					    .max_vcpus = h.max_vcpus, .el2 = h.el2,
					    .smccc_filter = h.smccc_filter,
					    .counter_offset = h.counter_offset };
		memcpy(out->feature, h.feature, sizeof(out->feature));
		memcpy(out->ccsidr, h.ccsidr, sizeof(out->ccsidr));
	}
	return r;
}

static hv_return_t d_vm_create(uint64_t options, struct hva64_vm **out)
{
	struct hvb_vm *vm;
	hv_return_t r = hv_from_errno(BE->vm_create(host, options, &vm));
	if (r == HV_SUCCESS)
		*out = (struct hva64_vm *)vm;
	return r;
}

static hv_return_t d_vm_destroy(struct hva64_vm *vm)
{
	return hv_from_errno(BE->vm_destroy((struct hvb_vm *)vm));
}

static void d_fork_child(struct hva64_vm *vm)
{
	if (vm)
		BE->vm_abandon((struct hvb_vm *)vm);
}

static hv_return_t d_vm_map(struct hva64_vm *vm, void *uva, uint64_t ipa, size_t size, uint64_t flags)
{
	return hv_from_errno(BE->vm_map((struct hvb_vm *)vm, uva, ipa, size, (uint32_t)flags));
}

static hv_return_t d_vm_unmap(struct hva64_vm *vm, uint64_t ipa, size_t size)
{
	int e = BE->vm_unmap((struct hvb_vm *)vm, ipa, size);
	return hv_from_errno(e); /* -ENOENT, no such mapping: HV_BAD_ARGUMENT */
}

static hv_return_t d_vm_protect(struct hva64_vm *vm, uint64_t ipa, size_t size, uint64_t flags)
{
	int e = BE->vm_protect((struct hvb_vm *)vm, ipa, size, (uint32_t)flags);
	return hv_from_errno(e); /* -ENOENT, no such mapping: HV_BAD_ARGUMENT */
}

static hv_return_t d_vm_allocate(void **uvap, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return HV_NO_RESOURCES;
	*uvap = p;
	return HV_SUCCESS;
}

static hv_return_t d_vm_deallocate(void *uva, size_t size)
{
	return munmap(uva, size) == 0 ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

static hv_return_t d_vcpu_create(struct hva64_vm *vm, uint32_t *id, struct ha64_state **state,
				 struct hva64_vcpu **out)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return HV_NO_RESOURCES;
	int e = BE->vcpu_create((struct hvb_vm *)vm, 0, &v->b);
	if (e == 0 && BE->vcpu_id(v->b) >= HVA64_MAX_VCPUS) {
		BE->vcpu_destroy(v->b);
		e = -ENOSPC;
	}
	if (e) {
		free(v);
		return hv_from_errno(e);
	}
	BE->vcpu_export(v->b, (struct hvb_arch_state *)&v->st);
	*id = BE->vcpu_id(v->b);
	vcpus[*id] = v;
	*state = &v->st;
	*out = (struct hva64_vcpu *)v;
	return HV_SUCCESS;
}

static hv_return_t d_vcpu_destroy(struct hva64_vcpu *vcpu, bool *gone)
{
	struct vcpu *v = (struct vcpu *)vcpu;
	unsigned id = BE->vcpu_id(v->b);
	int e = BE->vcpu_destroy(v->b);
	*gone = e == 0;
	if (e == 0) {
		__atomic_store_n(&vcpus[id], NULL, __ATOMIC_RELEASE);
		free(v);
	}
	return hv_from_errno(e);
}

static hv_return_t d_vcpu_enter(struct hva64_vcpu *vcpu)
{
	struct vcpu *v = (struct vcpu *)vcpu;
	BE->vcpu_import(v->b, (const struct hvb_arch_state *)&v->st);
	int e = BE->vcpu_run(v->b);
	/* The backend clears each dirty bit as it writes the register: what
	 * stays dirty (after a refused write) is tried again next time. */
	BE->vcpu_export(v->b, (struct hvb_arch_state *)&v->st);
	return hv_from_errno(e);
}

static hv_return_t d_vcpus_exit(struct hva64_vm *vm, const uint32_t *ids, unsigned n)
{
	(void)vm;
	hv_return_t r = HV_SUCCESS;
	for (unsigned i = 0; i < n; i++) {
		struct vcpu *v = __atomic_load_n(&vcpus[ids[i]], __ATOMIC_ACQUIRE);
		if (v && BE->vcpu_kick(v->b) < 0)
			r = HV_ERROR;
	}
	return r;
}

/* ---- the GIC: the backend's vGICv3 (backend/hvb64_gic.c) ---- */

static hv_return_t d_gic_create(struct hva64_vm *vm, const struct hva64_gic_config *cfg)
{
	struct hvb_a64_gic_config c = { .dist_base = cfg->dist_base, .redist_base = cfg->redist_base,
					.msi_base = cfg->msi_base, .msi_intid_base = cfg->msi_intid_base,
					.msi_count = cfg->msi_count };
	return hv_from_errno(BE->arm64->gic_create((struct hvb_vm *)vm, &c));
}

static hv_return_t d_gic_set_spi(struct hva64_vm *vm, uint32_t intid, bool level)
{
	return hv_from_errno(BE->arm64->gic_set_spi((struct hvb_vm *)vm, intid, level));
}

static hv_return_t d_gic_send_msi(struct hva64_vm *vm, uint64_t addr, uint32_t intid)
{
	return hv_from_errno(BE->arm64->gic_send_msi((struct hvb_vm *)vm, addr, intid));
}

static hv_return_t d_gic_reg(struct hva64_vm *vm, struct hva64_vcpu *vcpu, enum hva64_gic_space space,
			     uint32_t reg, bool write, uint64_t *value)
{
	struct hvb_vcpu *b = vcpu ? ((struct vcpu *)vcpu)->b : NULL;
	/* enum hva64_gic_space has enum hvb_a64_gic_space's values. */
	return hv_from_errno(BE->arm64->gic_reg((struct hvb_vm *)vm, b, (enum hvb_a64_gic_space)space, reg,
						 write, value));
}

static hv_return_t d_gic_redist_base(struct hva64_vm *vm, struct hva64_vcpu *vcpu, uint64_t *base)
{
	return hv_from_errno(BE->arm64->gic_redist_base((struct hvb_vm *)vm, ((struct vcpu *)vcpu)->b, base));
}

static hv_return_t d_gic_state_get(struct hva64_vm *vm, void **blob, size_t *size)
{
	return hv_from_errno(BE->arm64->gic_state_get((struct hvb_vm *)vm, blob, size));
}

static hv_return_t d_gic_state_set(struct hva64_vm *vm, const void *blob, size_t size)
{
	return hv_from_errno(BE->arm64->gic_state_set((struct hvb_vm *)vm, blob, size));
}

static hv_return_t d_gic_reset(struct hva64_vm *vm)
{
	return hv_from_errno(BE->arm64->gic_reset((struct hvb_vm *)vm));
}

const struct hva64_transport hva64_transport = {
	.vm_open = d_vm_open,
	.host_info = d_host_info,
	.vm_create = d_vm_create,
	.vm_destroy = d_vm_destroy,
	.fork_child = d_fork_child,
	.vm_map = d_vm_map,
	.vm_unmap = d_vm_unmap,
	.vm_protect = d_vm_protect,
	.vm_allocate = d_vm_allocate,
	.vm_deallocate = d_vm_deallocate,
	.vcpu_create = d_vcpu_create,
	.vcpu_destroy = d_vcpu_destroy,
	.vcpu_enter = d_vcpu_enter,
	.vcpus_exit = d_vcpus_exit,
	.gic_create = d_gic_create,
	.gic_set_spi = d_gic_set_spi,
	.gic_send_msi = d_gic_send_msi,
	.gic_reg = d_gic_reg,
	.gic_redist_base = d_gic_redist_base,
	.gic_state_get = d_gic_state_get,
	.gic_state_set = d_gic_state_set,
	.gic_reset = d_gic_reset,
};
