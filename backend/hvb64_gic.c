/*
 * hvb64_gic: Apple's in-framework GICv3 (hv_gic_*, macOS 15) on KVM/arm64's
 * in-kernel vGICv3 (KVM_DEV_TYPE_ARM_VGIC_V3).
 *
 * Order. Apple creates the GIC after the VM and before any vCPU; KVM
 * wants its vGIC initialised (KVM_DEV_ARM_VGIC_CTRL_INIT) after the last
 * vCPU, and refuses register access and SPIs before that. So the device
 * and its addresses are made at hv_gic_create and the initialisation is
 * deferred to the first call that needs it: the first run, or the first
 * register, SPI, MSI or state call. From then on KVM refuses new vCPUs
 * (EBUSY: HV_BUSY), and a call that needs the vGIC while no vCPU exists
 * is EBUSY too (KVM cannot initialise a vGIC without vCPUs).
 *
 * Registers go through the device's attribute groups: distributor and
 * redistributor 32 bits at a time (the 64-bit GICD_IROUTER<n> and
 * GICR_TYPER as two halves), CPU interface registers by their sysreg
 * encoding (Apple's hv_gic_icc_reg_t values are that encoding), all but
 * the distributor addressed by the vCPU's MPIDR_EL1 affinity.
 *
 * MSI. KVM has no GICv2m frame (only an ITS, which Apple's API does not
 * describe, and KVM_SIGNAL_MSI needs one). The frame is ours: its IPA
 * range has no memory slot, so a guest's access exits as KVM_EXIT_MMIO; a
 * write of an INTID in the MSI range to GICM_SET_SPI_NSR raises that SPI
 * (an edge), GICM_TYPER reads back the range, the rest is RAZ/WI; the run
 * goes on without an exit for the client (Apple handles the frame in the
 * framework). hv_gic_send_msi raises the SPI the same way.
 *
 * State. An own format: a header (magic, version, geometry, a checksum)
 * and a list of register writes in the order a restore makes them; see
 * struct state_hdr. Pending state in it is KVM's user-space view (the
 * latch; line levels apart), not the architectural one the register
 * calls give (pending_rw). The reset state is the one KVM gives right after
 * initialisation, captured then: hv_gic_reset restores it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hvb64_priv.h"


#define GICD_CTLR 0x0000u
#define GICD_IGROUPR 0x0080u
#define GICD_ISENABLER 0x0100u
#define GICD_ISPENDR 0x0200u
#define GICD_ISACTIVER 0x0300u
#define GICD_IPRIORITYR 0x0400u
#define GICD_ICFGR 0x0c00u
#define GICD_IROUTER 0x6000u
#define GICR_TYPER 0x0008u
#define GICR_SGI 0x10000u /* the SGI frame: RD_base + 64 KiB */
#define GICM_TYPER 0x0008u
#define GICM_SET_SPI_NSR 0x0040u
#define IC_OFFSET 0x80u   /* ICENABLER/ICPENDR/ICACTIVER follow their IS* by 0x80 */

struct hvb64_gic {
	int fd;
	struct hvb_a64_gic_config cfg;
	bool ready;                         /* KVM_DEV_ARM_VGIC_CTRL_INIT done */
	void *reset_blob;                   /* the state right after it */
	size_t reset_size;
	struct hvb_vcpu *vcpu[HVB_MAX_VCPUS]; /* by vCPU id (KVM's index) */
};

/* ---- KVM access ---- */

static int attr_rw(int fd, uint32_t group, uint64_t attr, void *val, bool write)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val };
	if (ioctl(fd, write ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a) < 0)
		return -errno;
	return 0;
}

/* The vCPU's affinity as the attribute groups take it (Aff3.Aff2.Aff1.Aff0
 * in bits 63:32). The client may have rewritten MPIDR_EL1 (Apple's GIC
 * routes by it): the backend's copy follows every write (hvb64_priv.h). */
static int mpidr_attr(const struct hvb_vcpu *v, uint64_t *attr)
{
	uint64_t mpidr = atomic_load(&v->mpidr);
	*attr = ((mpidr & 0xffffffull) | ((mpidr >> 32 & 0xffu) << 24)) << 32;
	return 0;
}

static int dist32(struct hvb64_gic *g, uint32_t off, uint32_t *val, bool write)
{
	return attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, off, val, write);
}

static int redist32(struct hvb64_gic *g, uint64_t mpidr, uint32_t off, uint32_t *val, bool write)
{
	return attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, mpidr | off, val, write);
}

/* Line levels of the 32 interrupts from `intid` (a multiple of 32; below
 * 32 the vCPU's own). */
static int level32(struct hvb64_gic *g, uint64_t mpidr, uint32_t intid, uint32_t *val, bool write)
{
	uint64_t attr = mpidr | ((uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT) |
			intid;
	return attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, attr, val, write);
}

static int spi_line(struct hvb_vm *vm, uint32_t intid, bool level)
{
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | intid,
		.level = level,
	};
	return ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

/* An MSI: an edge on the SPI. A pulse, so that an SPI the guest left
 * level-sensitive (GICv2m wants edge) is not held high for ever. */
static int msi_raise(struct hvb_vm *vm, uint32_t intid)
{
	int e = spi_line(vm, intid, true);
	return e ? e : spi_line(vm, intid, false);
}

static bool in_msi_range(const struct hvb64_gic *g, uint32_t intid)
{
	return g->cfg.msi_count && intid >= g->cfg.msi_intid_base &&
	       intid - g->cfg.msi_intid_base < g->cfg.msi_count;
}

/* ---- creation and initialisation ---- */

int hvb64__gic_create(struct hvb_vm *vm, const struct hvb_a64_gic_config *cfg)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	uint32_t nr_irqs = HVB64_GIC_NR_IRQS;
	pthread_mutex_lock(&vm->lock);
	int e = vm->gic ? -EEXIST : vm->nvcpus ? -EBUSY : 0;
	struct hvb64_gic *g = e ? NULL : calloc(1, sizeof(*g));
	if (!e && !g)
		e = -ENOMEM;
	if (e)
		goto out;
	if (ioctl(vm->fd, KVM_CREATE_DEVICE, &cd) < 0) {
		e = -errno;
		goto fail_free;
	}
	g->fd = (int)cd.fd;
	g->cfg = *cfg;
	uint64_t dist = cfg->dist_base, redist = cfg->redist_base;
	/* The redistributor region's size follows the vCPUs KVM has at
	 * initialisation (KVM_VGIC_V3_ADDR_TYPE_REDIST), one 128 KiB frame
	 * pair each in vCPU order. */
	e = attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist, true);
	if (!e)
		e = attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist, true);
	if (!e)
		e = attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, true);
	if (e)
		goto fail_close;
	vm->gic = g;
	goto out;
fail_close:
	/* KVM keeps the vGIC of a VM until the VM goes: this VM cannot have
	 * another one. The device fd is all we can drop. */
	close(g->fd);
fail_free:
	free(g);
out:
	pthread_mutex_unlock(&vm->lock);
	/* KVM: an address outside the IPA space is E2BIG. */
	return e == -E2BIG ? -EINVAL : e;
}

void hvb64__gic_vm_destroy(struct hvb_vm *vm)
{
	struct hvb64_gic *g = vm->gic;
	if (!g)
		return;
	close(g->fd);
	free(g->reset_blob);
	free(g);
	vm->gic = NULL;
}

void hvb64__gic_vcpu_add(struct hvb_vcpu *v)
{
	if (v->vm->gic && v->id < HVB_MAX_VCPUS)
		v->vm->gic->vcpu[v->id] = v;
}

void hvb64__gic_vcpu_remove(struct hvb_vcpu *v)
{
	pthread_mutex_lock(&v->vm->lock);
	if (v->vm->gic && v->id < HVB_MAX_VCPUS)
		v->vm->gic->vcpu[v->id] = NULL;
	pthread_mutex_unlock(&v->vm->lock);
}

static int state_save(struct hvb64_gic *g, void **blob, size_t *size);

/* The vGIC initialised, once: under vm->lock, so that no vCPU is created
 * meanwhile; no vCPU has run yet (each run comes here first), so the
 * reset state can be read from all of them. */
static int gic_ready(struct hvb_vm *vm)
{
	struct hvb64_gic *g = vm->gic;
	if (!g)
		return -ENODEV;
	pthread_mutex_lock(&vm->lock);
	int e = 0;
	if (!g->ready) {
		e = vm->nvcpus ? attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, true)
			       : -EBUSY;
		if (!e) {
			g->ready = true;
			e = state_save(g, &g->reset_blob, &g->reset_size);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return e;
}

int hvb64__gic_before_run(struct hvb_vcpu *v)
{
	if (!v->vm->gic)
		return 0;
	/* KVM refuses KVM_ARM_IRQ_TYPE_CPU lines beside an in-kernel vGIC:
	 * there is no way to assert the vCPU's IRQ/FIQ past it. */
	if (v->st.ctl & (HA64_CTL_IRQ | HA64_CTL_FIQ))
		return -ENOTSUP;
	return gic_ready(v->vm);
}

/* ---- interrupts ---- */

int hvb64__gic_set_spi(struct hvb_vm *vm, uint32_t intid, bool level)
{
	int e = gic_ready(vm);
	if (e)
		return e;
	if (intid < 32 || intid >= HVB64_GIC_NR_IRQS || in_msi_range(vm->gic, intid))
		return -EINVAL;
	/* KVM's edge-triggered SPI latches pending on level 1 and ignores 0;
	 * a level-sensitive one follows the line: Apple's contract. */
	return spi_line(vm, intid, level);
}

int hvb64__gic_send_msi(struct hvb_vm *vm, uint64_t addr, uint32_t intid)
{
	int e = gic_ready(vm);
	if (e)
		return e;
	struct hvb64_gic *g = vm->gic;
	if (!g->cfg.msi_count || addr != g->cfg.msi_base + GICM_SET_SPI_NSR || !in_msi_range(g, intid))
		return -EINVAL;
	return msi_raise(vm, intid);
}

static uint32_t msi_typer(const struct hvb64_gic *g)
{
	/* GICv2m MSI_TYPER: first SPI in bits 25:16, the number in 9:0. */
	return (g->cfg.msi_intid_base & 0x3ffu) << 16 | (g->cfg.msi_count & 0x3ffu);
}

bool hvb64__gic_mmio(struct hvb_vcpu *v)
{
	struct hvb64_gic *g = v->vm->gic;
	uint64_t pa = v->run->mmio.phys_addr;
	if (!g || !g->cfg.msi_count || pa < g->cfg.msi_base || pa - g->cfg.msi_base >= HVB64_GIC_MSI_SIZE)
		return false;
	uint64_t off = pa - g->cfg.msi_base;
	uint32_t len = v->run->mmio.len <= 8 ? v->run->mmio.len : 8;
	if (v->run->mmio.is_write) {
		uint64_t val = 0;
		memcpy(&val, v->run->mmio.data, len); /* little-endian guest */
		/* Anything but an INTID of the range is ignored, as by GICv2m. */
		if (off == GICM_SET_SPI_NSR && val <= UINT32_MAX && in_msi_range(g, (uint32_t)val))
			msi_raise(v->vm, (uint32_t)val);
	} else {
		uint64_t val = off == GICM_TYPER ? msi_typer(g) : 0;
		memset(v->run->mmio.data, 0, sizeof(v->run->mmio.data));
		memcpy(v->run->mmio.data, &val, len); /* KVM completes the load on the next KVM_RUN */
	}
	return true;
}

/* ---- registers ---- */

/* EBUSY when a vCPU of the VM is in KVM_RUN (KVM's attribute calls lock
 * all vCPUs), found with one cheap call before a call of many. */
static int none_running(struct hvb64_gic *g)
{
	uint32_t v;
	return dist32(g, GICD_CTLR, &v, false);
}


/* Level-sensitive interrupts among 32 (bit set), from their two ICFGR
 * words (Int_config bit 1 of each 2-bit field: 1 edge, 0 level). */
static uint32_t level_mask(uint32_t cfg_lo, uint32_t cfg_hi)
{
	uint32_t m = 0;
	for (unsigned i = 0; i < 16; i++) {
		if (!(cfg_lo >> (2 * i + 1) & 1u))
			m |= 1u << i;
		if (!(cfg_hi >> (2 * i + 1) & 1u))
			m |= 1u << (16 + i);
	}
	return m;
}

/*
 * KVM's user-space view of pending state is not the architectural one:
 * GICD_ISPENDR<n> (and GICR_ISPENDR0) read the software latch only and a
 * write sets the latch to exactly the value; ICPENDR is RAZ/WI. Apple's
 * calls speak the architecture (a write of 1 sets, of 1 to IC* clears; a
 * read includes a level-sensitive line held high), made here from the
 * latch, the line levels and the configuration. Read-modify-write: the
 * VM is meant to be stopped (Apple: the owner, or VM-wide calls).
 */
static int pending_rw(struct hvb64_gic *g, bool redist, uint64_t mpidr, uint32_t reg, bool write,
		      uint32_t *val)
{
	uint32_t base = redist ? GICR_SGI + GICD_ISPENDR : GICD_ISPENDR;
	bool clear = reg >= base + IC_OFFSET;
	uint32_t is = clear ? reg - IC_OFFSET : reg, n = (is - base) / 4u, intid = n * 32u;
	uint32_t cfg = (redist ? GICR_SGI : 0) + GICD_ICFGR + 8u * n;
	uint32_t latch, lv, c0, c1;
	int e = redist ? redist32(g, mpidr, is, &latch, false) : dist32(g, is, &latch, false);
	if (!e && write) {
		latch = clear ? latch & ~*val : latch | *val;
		return redist ? redist32(g, mpidr, is, &latch, true) : dist32(g, is, &latch, true);
	}
	if (!e)
		e = level32(g, mpidr, intid, &lv, false);
	if (!e)
		e = redist ? redist32(g, mpidr, cfg, &c0, false) : dist32(g, cfg, &c0, false);
	if (!e)
		e = redist ? redist32(g, mpidr, cfg + 4, &c1, false) : dist32(g, cfg + 4, &c1, false);
	if (!e)
		*val = latch | (lv & level_mask(c0, c1));
	return e;
}

static bool is_pending_reg(bool redist, uint32_t reg)
{
	if (redist)
		return reg == GICR_SGI + GICD_ISPENDR || reg == GICR_SGI + GICD_ISPENDR + IC_OFFSET;
	/* ISPENDR0 and ICPENDR0 (the private interrupts) are RAZ/WI here. */
	return (reg >= GICD_ISPENDR + 4 && reg < GICD_ISPENDR + IC_OFFSET) ||
	       (reg >= GICD_ISPENDR + IC_OFFSET + 4 && reg < GICD_ISPENDR + 2 * IC_OFFSET);
}

static bool dist_is64(uint32_t reg)
{
	return reg >= GICD_IROUTER + 8u * 32u && reg < GICD_IROUTER + 8u * 1020u;
}

static struct hvb_vcpu *first_vcpu(struct hvb64_gic *g)
{
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++)
		if (g->vcpu[i])
			return g->vcpu[i];
	return NULL;
}

#define ICC_AP0R0 0xc644u
#define ICC_AP1R0 0xc648u
#define ICC_RPR 0xc65bu
#define ICC_CTLR 0xc664u

static int icc_rw(struct hvb64_gic *g, uint64_t mpidr, uint32_t reg, uint64_t *value, bool write)
{
	return attr_rw(g->fd, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, mpidr | (reg & KVM_DEV_ARM_VGIC_SYSREG_INSTR_MASK),
		       value, write);
}

/* ICC_RPR_EL1, which KVM does not give: the group priority of the
 * highest active priority, from the active-priority registers (bit n of
 * AP0R<m>/AP1R<m> = group priority (32m + n) << (8 - bits), where bits =
 * ICC_CTLR_EL1.PRIbits + 1 and there are 2^(bits - 5) of each); 0xff when
 * nothing is active. */
static int icc_rpr(struct hvb64_gic *g, uint64_t mpidr, uint64_t *value)
{
	uint64_t ctlr;
	int e = icc_rw(g, mpidr, ICC_CTLR, &ctlr, false);
	unsigned bits = (unsigned)(ctlr >> 8 & 7u) + 1u;
	if (e || bits < 5)
		return e ? e : -ENOTSUP;
	for (unsigned m = 0; m < 1u << (bits - 5); m++) {
		uint64_t a0, a1;
		if ((e = icc_rw(g, mpidr, ICC_AP0R0 + m, &a0, false)) ||
		    (e = icc_rw(g, mpidr, ICC_AP1R0 + m, &a1, false)))
			return e;
		uint32_t act = (uint32_t)(a0 | a1);
		if (act) {
			*value = (uint64_t)(32u * m + (unsigned)__builtin_ctz(act)) << (8u - bits);
			return 0;
		}
	}
	*value = 0xff;
	return 0;
}

int hvb64__gic_reg(struct hvb_vm *vm, struct hvb_vcpu *vcpu, enum hvb_a64_gic_space space,
		   uint32_t reg, bool write, uint64_t *value)
{
	if (space == HVB_GIC_ICH || space == HVB_GIC_ICV)
		return -ENOTSUP; /* EL2 guests only; KVM here has no nested virtualisation */
	int e = gic_ready(vm);
	if (e)
		return e;
	struct hvb64_gic *g = vm->gic;
	uint64_t mpidr = 0;
	if (space == HVB_GIC_REDIST || space == HVB_GIC_ICC) {
		if (!vcpu)
			return -EINVAL;
		if ((e = mpidr_attr(vcpu, &mpidr)))
			return e;
	} else if (space == HVB_GIC_DIST && is_pending_reg(false, reg)) {
		/* SPI line levels are read through a vCPU (any): the first,
		 * unless one is running (its MPIDR would wait for its exit). */
		pthread_mutex_lock(&vm->lock);
		struct hvb_vcpu *v0 = first_vcpu(g);
		e = v0 ? none_running(g) : -EBUSY;
		if (!e)
			e = mpidr_attr(v0, &mpidr);
		pthread_mutex_unlock(&vm->lock);
		if (e)
			return e;
	}
	uint32_t lo = (uint32_t)*value, hi = (uint32_t)(*value >> 32);
	bool is64;
	switch (space) {
	case HVB_GIC_DIST:
	case HVB_GIC_REDIST:
		is64 = space == HVB_GIC_DIST ? dist_is64(reg) : reg == GICR_TYPER;
		if (write && !is64 && hi)
			return -EINVAL;
		if (is_pending_reg(space == HVB_GIC_REDIST, reg))
			e = pending_rw(g, space == HVB_GIC_REDIST, mpidr, reg, write, &lo);
		else
			e = space == HVB_GIC_DIST ? dist32(g, reg, &lo, write) : redist32(g, mpidr, reg, &lo, write);
		if (!e && is64)
			e = space == HVB_GIC_DIST ? dist32(g, reg + 4, &hi, write)
						  : redist32(g, mpidr, reg + 4, &hi, write);
		if (!e && !write)
			*value = (uint64_t)(is64 ? hi : 0) << 32 | lo;
		break;
	case HVB_GIC_ICC:
		/* KVM has every ICC register of Apple's list but ICC_RPR_EL1
		 * (read-only), made here. */
		if (reg == ICC_RPR)
			e = write ? -EINVAL : icc_rpr(g, mpidr, value);
		else
			e = icc_rw(g, mpidr, reg, value, write);
		if (e == -ENXIO || e == -ENOENT)
			e = -ENOTSUP;
		break;
	case HVB_GIC_MSI:
		if (!g->cfg.msi_count)
			return -EINVAL;
		if (reg == GICM_TYPER && !write)
			*value = msi_typer(g);
		else if (reg == GICM_SET_SPI_NSR && write)
			e = *value <= UINT32_MAX && in_msi_range(g, (uint32_t)*value) ? msi_raise(vm, (uint32_t)*value)
										       : -EINVAL;
		else
			e = -EINVAL; /* TYPER is read-only, SET_SPI_NSR write-only */
		break;
	default:
		e = -EINVAL;
	}
	/* KVM: no such register in the group. */
	return e == -ENXIO ? -EINVAL : e;
}

int hvb64__gic_redist_base(struct hvb_vm *vm, struct hvb_vcpu *vcpu, uint64_t *base)
{
	if (!vm->gic)
		return -ENODEV;
	/* KVM lays the redistributors out in vCPU order, whatever MPIDR_EL1
	 * says (Apple: by affinity; the same for clients that number
	 * affinities in creation order). */
	*base = vm->gic->cfg.redist_base + (uint64_t)vcpu->id * HVB64_GIC_REDIST_SIZE;
	return 0;
}

/* ---- state ---- */

/*
 * The blob: a header, then `count` entries, each a register write of the
 * restore in order. Pending, active and enable bits are written after
 * clearing all of the word's bits (the IC* register 0x80 above; for
 * pending, where KVM's ISPENDR write sets the latch exactly and ICPENDR
 * is WI, that is harmless); line levels are restored before them. The
 * checksum (FNV-1a, 64 bits, over header with
 * sum 0 and entries) guards against damage, not forgery: every entry is
 * also checked against the registers it may name before anything is
 * written.
 */
#define STATE_MAGIC 0x33434748u /* "HGC3" */
#define STATE_VERSION 1u

struct state_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_size;
	uint32_t nr_irqs;
	uint32_t count;
	uint64_t vcpus;   /* the vCPU ids whose redistributors are in it */
	uint64_t sum;
};

enum ent_kind { ENT_DIST = 1, ENT_REDIST = 2, ENT_LEVEL = 3 };
#define ENT_CLEAR_FIRST 1u

struct state_ent {
	uint16_t kind;
	uint16_t vcpu;    /* REDIST, LEVEL: the vCPU id */
	uint32_t offset;  /* register offset; LEVEL: the first INTID of 32 */
	uint32_t value;
	uint32_t flags;
};

struct builder {
	struct state_ent *ent;
	uint32_t n, cap;
	int err;
};

static void put(struct builder *b, uint16_t kind, uint16_t vcpu, uint32_t off, uint32_t val, uint32_t flags)
{
	if (b->err)
		return;
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2u : 1024u;
		struct state_ent *p = realloc(b->ent, cap * sizeof(*p));
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->ent = p;
		b->cap = cap;
	}
	b->ent[b->n++] = (struct state_ent){ kind, vcpu, off, val, flags };
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t state_sum(const struct state_hdr *h, const struct state_ent *ent)
{
	struct state_hdr z = *h;
	z.sum = 0;
	uint64_t s = fnv1a(0xcbf29ce484222325ull, &z, sizeof(z));
	return fnv1a(s, ent, (size_t)h->count * sizeof(*ent));
}

/* Pending, active, enabled (in that order) of one group of 32. */
static void put_bits(struct builder *b, struct hvb64_gic *g, uint16_t kind, uint16_t vcpu, uint64_t mpidr,
		     uint32_t is_pend, uint32_t is_act, uint32_t is_en)
{
	const uint32_t regs[3] = { is_pend, is_act, is_en };
	for (unsigned i = 0; i < 3 && !b->err; i++) {
		uint32_t v;
		int e = kind == ENT_DIST ? dist32(g, regs[i], &v, false) : redist32(g, mpidr, regs[i], &v, false);
		if (e) {
			b->err = e;
			return;
		}
		put(b, kind, vcpu, regs[i], v, ENT_CLEAR_FIRST);
	}
}

/* One register read into an entry. */
static void put_read(struct builder *b, struct hvb64_gic *g, uint16_t kind, uint16_t vcpu, uint64_t mpidr,
		     uint32_t off)
{
	uint32_t v;
	if (b->err)
		return;
	int e = kind == ENT_DIST ? dist32(g, off, &v, false) : redist32(g, mpidr, off, &v, false);
	if (e)
		b->err = e;
	else
		put(b, kind, vcpu, off, v, 0);
}

static int state_save(struct hvb64_gic *g, void **blob, size_t *size)
{
	struct builder b = { 0 };
	struct hvb_vcpu *v0 = first_vcpu(g);
	uint64_t mpidr = 0, vcpus = 0;
	if (!v0)
		return -EBUSY;
	b.err = none_running(g);
	if (!b.err)
		b.err = mpidr_attr(v0, &mpidr);
	/* Distributor: control, groups, configuration, priorities, routes,
	 * then levels, pending, active, enabled. IROUTER's upper word (Aff3)
	 * is RAZ/WI in KVM and left out. */
	put_read(&b, g, ENT_DIST, 0, 0, GICD_CTLR);
	for (uint32_t i = 32; i < HVB64_GIC_NR_IRQS; i += 32)
		put_read(&b, g, ENT_DIST, 0, 0, GICD_IGROUPR + i / 8);
	for (uint32_t i = 32; i < HVB64_GIC_NR_IRQS; i += 16)
		put_read(&b, g, ENT_DIST, 0, 0, GICD_ICFGR + i / 4);
	for (uint32_t i = 32; i < HVB64_GIC_NR_IRQS; i += 4)
		put_read(&b, g, ENT_DIST, 0, 0, GICD_IPRIORITYR + i);
	for (uint32_t i = 32; i < HVB64_GIC_NR_IRQS; i++)
		put_read(&b, g, ENT_DIST, 0, 0, GICD_IROUTER + 8 * i);
	for (uint32_t i = 32; i < HVB64_GIC_NR_IRQS && !b.err; i += 32) {
		uint32_t lv;
		if ((b.err = level32(g, mpidr, i, &lv, false)))
			break;
		put(&b, ENT_LEVEL, (uint16_t)v0->id, i, lv, 0);
		put_bits(&b, g, ENT_DIST, 0, 0, GICD_ISPENDR + i / 8, GICD_ISACTIVER + i / 8, GICD_ISENABLER + i / 8);
	}
	/* Each vCPU's redistributor (SGI frame): group, PPI configuration,
	 * priorities, levels, pending, active, enabled. */
	for (unsigned id = 0; id < HVB_MAX_VCPUS && !b.err; id++) {
		struct hvb_vcpu *v = g->vcpu[id];
		uint64_t m;
		uint32_t lv;
		if (!v)
			continue;
		vcpus |= 1ull << id;
		if ((b.err = mpidr_attr(v, &m)))
			break;
		put_read(&b, g, ENT_REDIST, (uint16_t)id, m, GICR_SGI + GICD_IGROUPR);
		put_read(&b, g, ENT_REDIST, (uint16_t)id, m, GICR_SGI + GICD_ICFGR + 4);
		for (uint32_t i = 0; i < 32; i += 4)
			put_read(&b, g, ENT_REDIST, (uint16_t)id, m, GICR_SGI + GICD_IPRIORITYR + i);
		if (!b.err)
			b.err = level32(g, m, 0, &lv, false);
		if (b.err)
			break;
		put(&b, ENT_LEVEL, (uint16_t)id, 0, lv, 0);
		put_bits(&b, g, ENT_REDIST, (uint16_t)id, m, GICR_SGI + GICD_ISPENDR, GICR_SGI + GICD_ISACTIVER,
			 GICR_SGI + GICD_ISENABLER);
	}
	if (b.err) {
		free(b.ent);
		return b.err == -ENXIO ? -EIO : b.err;
	}
	size_t n = sizeof(struct state_hdr) + (size_t)b.n * sizeof(struct state_ent);
	struct state_hdr *h = malloc(n);
	if (!h) {
		free(b.ent);
		return -ENOMEM;
	}
	*h = (struct state_hdr){ .magic = STATE_MAGIC, .version = STATE_VERSION,
				 .hdr_size = sizeof(struct state_hdr), .nr_irqs = HVB64_GIC_NR_IRQS,
				 .count = b.n, .vcpus = vcpus };
	memcpy(h + 1, b.ent, (size_t)b.n * sizeof(struct state_ent));
	free(b.ent);
	h->sum = state_sum(h, (const struct state_ent *)(h + 1));
	*blob = h;
	*size = n;
	return 0;
}

/* An entry names a register the save makes, of a vCPU the blob has. */
static bool ent_ok(const struct state_hdr *h, const struct state_ent *e)
{
	uint32_t o = e->offset;
	if (e->flags & ~ENT_CLEAR_FIRST)
		return false;
	switch (e->kind) {
	case ENT_DIST:
		if (e->vcpu)
			return false;
		if (e->flags)
			return o >= GICD_ISENABLER + 4 && o < GICD_ISACTIVER + 0x80 && !(o & 0x80) && !(o & 3);
		return o == GICD_CTLR || (o >= GICD_IGROUPR + 4 && o < GICD_IGROUPR + 0x80 && !(o & 3)) ||
		       (o >= GICD_ICFGR + 8 && o < GICD_ICFGR + 0x100 && !(o & 3)) ||
		       (o >= GICD_IPRIORITYR + 32 && o < GICD_IPRIORITYR + HVB64_GIC_NR_IRQS && !(o & 3)) ||
		       (o >= GICD_IROUTER + 8 * 32 && o < GICD_IROUTER + 8 * HVB64_GIC_NR_IRQS && !(o & 7));
	case ENT_REDIST:
		if (e->vcpu >= HVB_MAX_VCPUS || !(h->vcpus >> e->vcpu & 1u))
			return false;
		if (e->flags)
			return o == GICR_SGI + GICD_ISPENDR || o == GICR_SGI + GICD_ISACTIVER ||
			       o == GICR_SGI + GICD_ISENABLER;
		return o == GICR_SGI + GICD_IGROUPR || o == GICR_SGI + GICD_ICFGR + 4 ||
		       (o >= GICR_SGI + GICD_IPRIORITYR && o < GICR_SGI + GICD_IPRIORITYR + 32 && !(o & 3));
	case ENT_LEVEL:
		return !e->flags && e->vcpu < HVB_MAX_VCPUS && (h->vcpus >> e->vcpu & 1u) && !(o & 31) &&
		       o < HVB64_GIC_NR_IRQS;
	default:
		return false;
	}
}

static int state_apply(struct hvb64_gic *g, const struct state_hdr *h, const struct state_ent *ent);

/* The client's bytes may sit anywhere: checked and applied from an
 * aligned copy. */
static int state_load(struct hvb64_gic *g, const void *blob, size_t size)
{
	struct state_hdr h;
	if (size < sizeof(h))
		return -EINVAL;
	memcpy(&h, blob, sizeof(h));
	if (h.magic != STATE_MAGIC || h.version != STATE_VERSION || h.hdr_size != sizeof(h) ||
	    h.nr_irqs != HVB64_GIC_NR_IRQS || size != sizeof(h) + (size_t)h.count * sizeof(struct state_ent))
		return -EINVAL;
	struct state_ent *ent = malloc(h.count ? (size_t)h.count * sizeof(*ent) : 1);
	if (!ent)
		return -ENOMEM;
	memcpy(ent, (const unsigned char *)blob + sizeof(h), (size_t)h.count * sizeof(*ent));
	int e = state_sum(&h, ent) == h.sum ? none_running(g) : -EINVAL;
	if (!e)
		e = state_apply(g, &h, ent);
	free(ent);
	return e;
}

static int state_apply(struct hvb64_gic *g, const struct state_hdr *h, const struct state_ent *ent)
{
	/* The vCPUs must be the ones saved (their ids; affinities are read
	 * now, so a client that sets MPIDR_EL1 before restoring is fine). */
	uint64_t mpidr[HVB_MAX_VCPUS] = { 0 };
	for (unsigned id = 0; id < HVB_MAX_VCPUS; id++) {
		bool have = g->vcpu[id] != NULL;
		if (have != (bool)(h->vcpus >> id & 1u))
			return -EINVAL;
		if (have) {
			int e = mpidr_attr(g->vcpu[id], &mpidr[id]);
			if (e)
				return e;
		}
	}
	for (uint32_t i = 0; i < h->count; i++)
		if (!ent_ok(h, &ent[i]))
			return -EINVAL;
	for (uint32_t i = 0; i < h->count; i++) {
		const struct state_ent *e = &ent[i];
		uint32_t val = e->value, ones = ~0u;
		int r = 0;
		switch (e->kind) {
		case ENT_DIST:
			if (e->flags & ENT_CLEAR_FIRST)
				r = dist32(g, e->offset + IC_OFFSET, &ones, true);
			if (!r)
				r = dist32(g, e->offset, &val, true);
			break;
		case ENT_REDIST:
			if (e->flags & ENT_CLEAR_FIRST)
				r = redist32(g, mpidr[e->vcpu], e->offset + IC_OFFSET, &ones, true);
			if (!r)
				r = redist32(g, mpidr[e->vcpu], e->offset, &val, true);
			break;
		case ENT_LEVEL:
			r = level32(g, mpidr[e->vcpu], e->offset, &val, true);
			break;
		}
		if (r)
			return r == -ENXIO ? -EIO : r;
	}
	return 0;
}

int hvb64__gic_state_get(struct hvb_vm *vm, void **blob, size_t *size)
{
	int e = gic_ready(vm);
	if (e)
		return e;
	pthread_mutex_lock(&vm->lock);
	e = state_save(vm->gic, blob, size);
	pthread_mutex_unlock(&vm->lock);
	return e;
}

int hvb64__gic_state_set(struct hvb_vm *vm, const void *blob, size_t size)
{
	int e = gic_ready(vm);
	if (e)
		return e;
	pthread_mutex_lock(&vm->lock);
	e = state_load(vm->gic, blob, size);
	pthread_mutex_unlock(&vm->lock);
	return e;
}

int hvb64__gic_reset(struct hvb_vm *vm)
{
	int e = gic_ready(vm);
	if (e)
		return e;
	pthread_mutex_lock(&vm->lock);
	struct hvb64_gic *g = vm->gic;
	e = g->reset_blob ? state_load(g, g->reset_blob, g->reset_size) : -EIO;
	pthread_mutex_unlock(&vm->lock);
	return e;
}
