/*
 * Apple's GIC calls (hv_gic_config.h, hv_gic_parameters.h, hv_gic.h,
 * hv_gic_state.h; macOS 15) and SME calls (hv_sme_config.h and the SME
 * part of hv_vcpu.h; 15.2) over the arm64 transport. Every argument check
 * is here: configuration alignments and ranges, the order (the GIC after
 * the VM and before any vCPU), register offsets of Apple's enums, the MSI
 * frame's address and range; the transport only does what passed.
 *
 * SME: KVM/arm64 gives guests no SME (6.12), so the host has none for
 * guests, and Apple's calls answer as on a Mac without SME:
 * HV_UNSUPPORTED (after the usual argument checks).
 */
#include <stdlib.h>
#include <string.h>

#include "hva64.h"
#include "hva64_priv.h"

#define API __attribute__((visibility("default")))

struct hv_gic_config_s {
	uint32_t magic, refs;
	struct hva64_gic_config c;
	bool dist_set, redist_set, msi_base_set;
};

struct hv_gic_state_s {
	uint32_t magic, refs;
	size_t size;
	unsigned char data[];
};

/* The VM's GIC as created (under the front end's lock; `exists` also
 * read without it, hence atomic). */
static struct {
	bool exists;
	struct hva64_gic_config cfg;
} gic;

static const struct hva64_transport *T = &hva64_transport;

bool hva64__gic_exists(void)
{
	return __atomic_load_n(&gic.exists, __ATOMIC_ACQUIRE);
}

void hva64__gic_vm_gone(void)
{
	__atomic_store_n(&gic.exists, false, __ATOMIC_RELEASE);
	memset(&gic.cfg, 0, sizeof(gic.cfg));
}

/* ---- geometry (hv_gic_parameters.h) ---- */

API hv_return_t hv_gic_get_distributor_size(size_t *size)
{
	if (!size)
		return HV_BAD_ARGUMENT;
	*size = HVA64_GIC_DIST_SIZE;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_get_distributor_base_alignment(size_t *alignment)
{
	if (!alignment)
		return HV_BAD_ARGUMENT;
	*alignment = HVA64_GIC_ALIGN;
	return HV_SUCCESS;
}

/* Redistributors for as many vCPUs as a VM may have. */
static hv_return_t redist_region_size(uint64_t *size)
{
	uint32_t n;
	hv_return_t r = hv_vm_get_max_vcpu_count(&n);
	if (r == HV_SUCCESS)
		*size = (uint64_t)n * HVA64_GIC_REDIST_SIZE;
	return r;
}

API hv_return_t hv_gic_get_redistributor_region_size(size_t *size)
{
	uint64_t n;
	hv_return_t r = size ? redist_region_size(&n) : HV_BAD_ARGUMENT;
	if (r == HV_SUCCESS)
		*size = (size_t)n;
	return r;
}

API hv_return_t hv_gic_get_redistributor_size(size_t *size)
{
	if (!size)
		return HV_BAD_ARGUMENT;
	*size = HVA64_GIC_REDIST_SIZE;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_get_redistributor_base_alignment(size_t *alignment)
{
	if (!alignment)
		return HV_BAD_ARGUMENT;
	*alignment = HVA64_GIC_ALIGN;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_get_msi_region_size(size_t *size)
{
	if (!size)
		return HV_BAD_ARGUMENT;
	*size = HVA64_GIC_MSI_SIZE;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_get_msi_region_base_alignment(size_t *alignment)
{
	if (!alignment)
		return HV_BAD_ARGUMENT;
	*alignment = HVA64_GIC_ALIGN;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_get_spi_interrupt_range(uint32_t *base, uint32_t *count)
{
	if (!base || !count)
		return HV_BAD_ARGUMENT;
	*base = HVA64_GIC_SPI_BASE;
	*count = HVA64_GIC_SPI_COUNT;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_get_intid(hv_gic_intid_t interrupt, uint32_t *intid)
{
	if (!intid)
		return HV_BAD_ARGUMENT;
	/* KVM's PPIs are the same: PMU 23 (KVM_ARM_VCPU_PMU_V3_IRQ), vtimer
	 * 27 and ptimer 30 (its defaults); 25 and 26 exist only for EL2
	 * guests, which this port cannot have. */
	switch (interrupt) {
	case HV_GIC_INT_PERFORMANCE_MONITOR:
	case HV_GIC_INT_MAINTENANCE:
	case HV_GIC_INT_EL2_PHYSICAL_TIMER:
	case HV_GIC_INT_EL1_VIRTUAL_TIMER:
	case HV_GIC_INT_EL1_PHYSICAL_TIMER:
		*intid = interrupt;
		return HV_SUCCESS;
	default:
		return HV_BAD_ARGUMENT;
	}
}

/* ---- configuration (hv_gic_config.h) ---- */

static bool config_ok(hv_gic_config_t c)
{
	return c && c->magic == HVA64_GIC_CONFIG_MAGIC;
}

static bool gic_aligned(uint64_t a)
{
	return (a & (HVA64_GIC_ALIGN - 1u)) == 0;
}

API hv_gic_config_t hv_gic_config_create(void)
{
	hv_gic_config_t c = calloc(1, sizeof(*c));
	if (c) {
		c->magic = HVA64_GIC_CONFIG_MAGIC;
		c->refs = 1;
	}
	return c;
}

API hv_return_t hv_gic_config_set_distributor_base(hv_gic_config_t c, hv_ipa_t base)
{
	if (!config_ok(c) || !gic_aligned(base) || base + HVA64_GIC_DIST_SIZE < base)
		return HV_BAD_ARGUMENT;
	c->c.dist_base = base;
	c->dist_set = true;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_config_set_redistributor_base(hv_gic_config_t c, hv_ipa_t base)
{
	if (!config_ok(c) || !gic_aligned(base))
		return HV_BAD_ARGUMENT;
	c->c.redist_base = base;
	c->redist_set = true;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_config_set_msi_region_base(hv_gic_config_t c, hv_ipa_t base)
{
	if (!config_ok(c) || !gic_aligned(base) || base + HVA64_GIC_MSI_SIZE < base)
		return HV_BAD_ARGUMENT;
	c->c.msi_base = base;
	c->msi_base_set = true;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_config_set_msi_interrupt_range(hv_gic_config_t c, uint32_t base, uint32_t count)
{
	if (!config_ok(c) || !count || base < HVA64_GIC_SPI_BASE ||
	    base - HVA64_GIC_SPI_BASE >= HVA64_GIC_SPI_COUNT ||
	    count > HVA64_GIC_SPI_COUNT - (base - HVA64_GIC_SPI_BASE))
		return HV_BAD_ARGUMENT;
	c->c.msi_intid_base = base;
	c->c.msi_count = count;
	return HV_SUCCESS;
}

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* ---- the GIC (hv_gic.h) ---- */

API hv_return_t hv_gic_create(hv_gic_config_t c)
{
	if (!config_ok(c) || !c->dist_set || !c->redist_set)
		return HV_BAD_ARGUMENT;
	uint64_t rsize;
	hv_return_t r = redist_region_size(&rsize);
	if (r != HV_SUCCESS)
		return r;
	struct hva64_gic_config cfg = c->c;
	/* MSI needs both the frame and a range (Apple's rule); else none. */
	if (!c->msi_base_set || !cfg.msi_count)
		cfg.msi_base = cfg.msi_intid_base = cfg.msi_count = 0;
	if (cfg.redist_base + rsize < cfg.redist_base ||
	    overlap(cfg.dist_base, HVA64_GIC_DIST_SIZE, cfg.redist_base, rsize) ||
	    (cfg.msi_count && (overlap(cfg.msi_base, HVA64_GIC_MSI_SIZE, cfg.dist_base, HVA64_GIC_DIST_SIZE) ||
			       overlap(cfg.msi_base, HVA64_GIC_MSI_SIZE, cfg.redist_base, rsize))))
		return HV_BAD_ARGUMENT;
	hva64__lock();
	if (!hva64__vm())
		r = HV_BAD_ARGUMENT;
	else if (hva64__gic_exists() || hva64__any_vcpu())
		r = HV_BUSY; /* one per VM, before the first vCPU (Apple's code UNCONFIRMED) */
	else if ((r = T->gic_create(hva64__vm(), &cfg)) == HV_SUCCESS) {
		gic.cfg = cfg;
		__atomic_store_n(&gic.exists, true, __ATOMIC_RELEASE);
	}
	hva64__unlock();
	return r;
}

/* The VM with its GIC, or NULL; the GIC's calls that need no vCPU run
 * without the lock once it exists (Apple: any thread), as the VM cannot
 * go while they run unless the client destroys it meanwhile. */
static struct hva64_vm *gic_vm(void)
{
	hva64__lock();
	struct hva64_vm *vm = hva64__gic_exists() ? hva64__vm() : NULL;
	hva64__unlock();
	return vm;
}

static bool in_msi_range(uint32_t intid)
{
	return gic.cfg.msi_count && intid >= gic.cfg.msi_intid_base &&
	       intid - gic.cfg.msi_intid_base < gic.cfg.msi_count;
}

static bool spi(uint32_t intid)
{
	return intid >= HVA64_GIC_SPI_BASE && intid - HVA64_GIC_SPI_BASE < HVA64_GIC_SPI_COUNT;
}

API hv_return_t hv_gic_set_spi(uint32_t intid, bool level)
{
	struct hva64_vm *vm = gic_vm();
	if (!vm || !spi(intid) || in_msi_range(intid))
		return HV_BAD_ARGUMENT;
	return T->gic_set_spi(vm, intid, level);
}

API hv_return_t hv_gic_send_msi(hv_ipa_t address, uint32_t intid)
{
	struct hva64_vm *vm = gic_vm();
	if (!vm || !gic.cfg.msi_count || address != gic.cfg.msi_base + HV_GIC_REG_GICM_SET_SPI_NSR ||
	    !in_msi_range(intid))
		return HV_BAD_ARGUMENT;
	return T->gic_send_msi(vm, address, intid);
}

/* Offsets of hv_gic_distributor_reg_t: the per-interrupt arrays up to
 * INTID 1019 (registers past the vGIC's 992 interrupts read as zero). */
static bool dist_reg_ok(uint32_t r)
{
	if (r & 3u)
		return false;
	return r == HV_GIC_DISTRIBUTOR_REG_GICD_CTLR || r == HV_GIC_DISTRIBUTOR_REG_GICD_TYPER ||
	       r == HV_GIC_DISTRIBUTOR_REG_GICD_PIDR2 ||
	       (r >= HV_GIC_DISTRIBUTOR_REG_GICD_IGROUPR0 && r <= HV_GIC_DISTRIBUTOR_REG_GICD_ICACTIVER31) ||
	       (r >= HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR0 && r <= HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR254) ||
	       (r >= HV_GIC_DISTRIBUTOR_REG_GICD_ICFGR0 && r <= HV_GIC_DISTRIBUTOR_REG_GICD_ICFGR63) ||
	       (r >= HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER32 && r <= HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER1019 &&
		!(r & 7u));
}

static bool redist_reg_ok(uint32_t r)
{
	if (r & 3u)
		return false;
	switch (r) {
	case HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_PIDR2:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_IGROUPR0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ICENABLER0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ISPENDR0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ICPENDR0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ISACTIVER0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ICACTIVER0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ICFGR0:
	case HV_GIC_REDISTRIBUTOR_REG_GICR_ICFGR1:
		return true;
	default:
		return r >= HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR0 && r <= HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR7;
	}
}

/* hv_gic_icc_reg_t without ICC_SRE_EL2 (EL2 guests only, which this port
 * cannot have), plus AP0R1-3 and AP1R1-3 by their encodings: Apple's
 * header lets clients step from AP0R0/AP1R0 over the arrays (QEMU does
 * for more than 5 priority bits). */
static bool icc_reg_ok(uint32_t r)
{
	if ((r >= HV_GIC_ICC_REG_AP0R0_EL1 && r <= HV_GIC_ICC_REG_AP0R0_EL1 + 3) ||
	    (r >= HV_GIC_ICC_REG_AP1R0_EL1 && r <= HV_GIC_ICC_REG_AP1R0_EL1 + 3))
		return true;
	switch (r) {
	case HV_GIC_ICC_REG_PMR_EL1:
	case HV_GIC_ICC_REG_BPR0_EL1:
	case HV_GIC_ICC_REG_RPR_EL1:
	case HV_GIC_ICC_REG_BPR1_EL1:
	case HV_GIC_ICC_REG_CTLR_EL1:
	case HV_GIC_ICC_REG_SRE_EL1:
	case HV_GIC_ICC_REG_IGRPEN0_EL1:
	case HV_GIC_ICC_REG_IGRPEN1_EL1:
		return true;
	default:
		return false;
	}
}

static hv_return_t vm_reg(enum hva64_gic_space space, uint32_t reg, bool write, uint64_t *value)
{
	struct hva64_vm *vm = gic_vm();
	if (!vm)
		return HV_BAD_ARGUMENT;
	return T->gic_reg(vm, NULL, space, reg, write, value);
}

API hv_return_t hv_gic_get_distributor_reg(hv_gic_distributor_reg_t reg, uint64_t *value)
{
	if (!value || !dist_reg_ok(reg))
		return HV_BAD_ARGUMENT;
	return vm_reg(HVA64_GIC_DIST, reg, false, value);
}

API hv_return_t hv_gic_set_distributor_reg(hv_gic_distributor_reg_t reg, uint64_t value)
{
	if (!dist_reg_ok(reg))
		return HV_BAD_ARGUMENT;
	return vm_reg(HVA64_GIC_DIST, reg, true, &value);
}

/* A vCPU's register: the calling thread must own it (Apple's "O"). */
static hv_return_t vcpu_reg(hv_vcpu_t vcpu, enum hva64_gic_space space, uint32_t reg, bool write,
			    uint64_t *value)
{
	struct hva64_vcpu *t = hva64__owned(vcpu);
	struct hva64_vm *vm = gic_vm();
	if (!t || !vm)
		return HV_BAD_ARGUMENT;
	return T->gic_reg(vm, t, space, reg, write, value);
}

API hv_return_t hv_gic_get_redistributor_reg(hv_vcpu_t vcpu, hv_gic_redistributor_reg_t reg, uint64_t *value)
{
	if (!value || !redist_reg_ok(reg))
		return HV_BAD_ARGUMENT;
	return vcpu_reg(vcpu, HVA64_GIC_REDIST, reg, false, value);
}

API hv_return_t hv_gic_set_redistributor_reg(hv_vcpu_t vcpu, hv_gic_redistributor_reg_t reg, uint64_t value)
{
	if (!redist_reg_ok(reg))
		return HV_BAD_ARGUMENT;
	return vcpu_reg(vcpu, HVA64_GIC_REDIST, reg, true, &value);
}

API hv_return_t hv_gic_get_icc_reg(hv_vcpu_t vcpu, hv_gic_icc_reg_t reg, uint64_t *value)
{
	if (!value || !icc_reg_ok(reg))
		return HV_BAD_ARGUMENT;
	return vcpu_reg(vcpu, HVA64_GIC_ICC, reg, false, value);
}

API hv_return_t hv_gic_set_icc_reg(hv_vcpu_t vcpu, hv_gic_icc_reg_t reg, uint64_t value)
{
	if (!icc_reg_ok(reg))
		return HV_BAD_ARGUMENT;
	return vcpu_reg(vcpu, HVA64_GIC_ICC, reg, true, &value);
}

/* ICH and ICV registers exist only in VMs with EL2 enabled, and this
 * port's VMs never have it (hv_vm_config_set_el2_enabled(true) is
 * HV_UNSUPPORTED): Apple's "error unless EL2 enabled". */
API hv_return_t hv_gic_get_ich_reg(hv_vcpu_t vcpu, hv_gic_ich_reg_t reg, uint64_t *value)
{
	(void)vcpu;
	(void)reg;
	(void)value;
	return HV_BAD_ARGUMENT;
}

API hv_return_t hv_gic_set_ich_reg(hv_vcpu_t vcpu, hv_gic_ich_reg_t reg, uint64_t value)
{
	(void)vcpu;
	(void)reg;
	(void)value;
	return HV_BAD_ARGUMENT;
}

API hv_return_t hv_gic_get_icv_reg(hv_vcpu_t vcpu, hv_gic_icv_reg_t reg, uint64_t *value)
{
	(void)vcpu;
	(void)reg;
	(void)value;
	return HV_BAD_ARGUMENT;
}

API hv_return_t hv_gic_set_icv_reg(hv_vcpu_t vcpu, hv_gic_icv_reg_t reg, uint64_t value)
{
	(void)vcpu;
	(void)reg;
	(void)value;
	return HV_BAD_ARGUMENT;
}

/* The MSI frame: GICM_TYPER read-only, GICM_SET_SPI_NSR write-only (a
 * write is an MSI for the INTID written, which must be in the range). */
API hv_return_t hv_gic_get_msi_reg(hv_gic_msi_reg_t reg, uint64_t *value)
{
	if (!value || reg != HV_GIC_REG_GICM_TYPER || !hva64__gic_exists() || !gic.cfg.msi_count)
		return HV_BAD_ARGUMENT;
	return vm_reg(HVA64_GIC_MSI, reg, false, value);
}

API hv_return_t hv_gic_set_msi_reg(hv_gic_msi_reg_t reg, uint64_t value)
{
	if (reg != HV_GIC_REG_GICM_SET_SPI_NSR || !hva64__gic_exists() || !gic.cfg.msi_count ||
	    value > UINT32_MAX || !in_msi_range((uint32_t)value))
		return HV_BAD_ARGUMENT;
	return vm_reg(HVA64_GIC_MSI, reg, true, &value);
}

API hv_return_t hv_gic_get_redistributor_base(hv_vcpu_t vcpu, hv_ipa_t *base)
{
	if (!base)
		return HV_BAD_ARGUMENT;
	/* Not an owner-only call (Apple's header has no "O" for it). */
	hva64__lock();
	struct hva64_vcpu *t = hva64__vcpu(vcpu);
	hv_return_t r = t && hva64__gic_exists() ? T->gic_redist_base(hva64__vm(), t, base) : HV_BAD_ARGUMENT;
	hva64__unlock();
	return r;
}

API hv_return_t hv_gic_reset(void)
{
	struct hva64_vm *vm = gic_vm();
	return vm ? T->gic_reset(vm) : HV_BAD_ARGUMENT;
}

/* ---- state (hv_gic_state.h, hv_gic_set_state) ---- */

API hv_gic_state_t hv_gic_state_create(void)
{
	struct hva64_vm *vm = gic_vm();
	void *blob;
	size_t size;
	if (!vm || T->gic_state_get(vm, &blob, &size) != HV_SUCCESS)
		return NULL;
	hv_gic_state_t s = malloc(sizeof(*s) + size);
	if (s) {
		s->magic = HVA64_GIC_STATE_MAGIC;
		s->refs = 1;
		s->size = size;
		memcpy(s->data, blob, size);
	}
	free(blob);
	return s;
}

static bool state_ok(hv_gic_state_t s)
{
	return s && s->magic == HVA64_GIC_STATE_MAGIC;
}

API hv_return_t hv_gic_state_get_size(hv_gic_state_t s, size_t *size)
{
	if (!state_ok(s) || !size)
		return HV_BAD_ARGUMENT;
	*size = s->size;
	return HV_SUCCESS;
}

API hv_return_t hv_gic_state_get_data(hv_gic_state_t s, void *data)
{
	if (!state_ok(s) || !data)
		return HV_BAD_ARGUMENT;
	memcpy(data, s->data, s->size);
	return HV_SUCCESS;
}

API hv_return_t hv_gic_set_state(const void *data, size_t size)
{
	struct hva64_vm *vm = gic_vm();
	if (!vm || !data || !size)
		return HV_BAD_ARGUMENT;
	return T->gic_state_set(vm, data, size);
}

/* ---- SME: none for KVM/arm64 guests ---- */

API hv_return_t hv_sme_config_get_max_svl_bytes(size_t *value)
{
	return value ? HV_UNSUPPORTED : HV_BAD_ARGUMENT;
}

/* A vCPU's SME call: checks, then HV_UNSUPPORTED (no SME for guests). */
static hv_return_t sme(hv_vcpu_t vcpu, bool args_ok)
{
	return hva64__owned(vcpu) && args_ok ? HV_UNSUPPORTED : HV_BAD_ARGUMENT;
}

API hv_return_t hv_vcpu_get_sme_state(hv_vcpu_t vcpu, hv_vcpu_sme_state_t *state)
{
	return sme(vcpu, state != NULL);
}

API hv_return_t hv_vcpu_set_sme_state(hv_vcpu_t vcpu, const hv_vcpu_sme_state_t *state)
{
	return sme(vcpu, state != NULL);
}

API hv_return_t hv_vcpu_get_sme_z_reg(hv_vcpu_t vcpu, hv_sme_z_reg_t reg, uint8_t *value, size_t length)
{
	return sme(vcpu, reg <= HV_SME_Z_REG_31 && value && length);
}

API hv_return_t hv_vcpu_set_sme_z_reg(hv_vcpu_t vcpu, hv_sme_z_reg_t reg, const uint8_t *value, size_t length)
{
	return sme(vcpu, reg <= HV_SME_Z_REG_31 && value && length);
}

API hv_return_t hv_vcpu_get_sme_p_reg(hv_vcpu_t vcpu, hv_sme_p_reg_t reg, uint8_t *value, size_t length)
{
	return sme(vcpu, reg <= HV_SME_P_REG_15 && value && length);
}

API hv_return_t hv_vcpu_set_sme_p_reg(hv_vcpu_t vcpu, hv_sme_p_reg_t reg, const uint8_t *value, size_t length)
{
	return sme(vcpu, reg <= HV_SME_P_REG_15 && value && length);
}

API hv_return_t hv_vcpu_get_sme_za_reg(hv_vcpu_t vcpu, uint8_t *value, size_t length)
{
	return sme(vcpu, value && length);
}

API hv_return_t hv_vcpu_set_sme_za_reg(hv_vcpu_t vcpu, const uint8_t *value, size_t length)
{
	return sme(vcpu, value && length);
}

API hv_return_t hv_vcpu_get_sme_zt0_reg(hv_vcpu_t vcpu, hv_sme_zt0_uchar64_t *value)
{
	return sme(vcpu, value != NULL);
}

API hv_return_t hv_vcpu_set_sme_zt0_reg(hv_vcpu_t vcpu, const hv_sme_zt0_uchar64_t *value)
{
	return sme(vcpu, value != NULL);
}
