/*
 * Apple's GIC API (hv_gic_*, macOS 15) on KVM/arm64's in-kernel vGICv3, in
 * the arm64 lab, built twice: in-process (gic64_direct, libhvdirect) and
 * through hvd (gic64_hvd, libhvclient). Written only against
 * <Hypervisor/Hypervisor.h>.
 * A guest enables its GIC CPU interface (ICC_SRE_EL1, ICC_PMR_EL1,
 * ICC_IGRPEN1_EL1), the distributor and three SPIs, and the vtimer's PPI
 * in its redistributor, then takes, by ICC_IAR1_EL1, an SPI the host
 * raises with hv_gic_set_spi, its vtimer (through the GIC, without a
 * VTIMER_ACTIVATED exit), an MSI it writes to the MSI frame itself (no
 * exit) and one the host sends with hv_gic_send_msi; each INTID is
 * reported by an MMIO store. Around it: geometry, configuration checks,
 * the order rules, register round trips in every space, state save and
 * restore, damaged state refused, reset, and the SME calls. Plain C:
 * `ok`/`FAIL` lines, non-zero exit on failures.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Hypervisor/Hypervisor.h>

#include "check64.h"

#define RAM 0x10000ull
#define GICD 0x8000000ull
#define MSI 0x8020000ull
#define GICR 0x80a0000ull
#define REPORT 0x9000000ull
#define SPI_HOST 40u   /* raised by hv_gic_set_spi (level) */
#define MSI_BASE 41u   /* MSI range 41..42 */
#define MSI_COUNT 2u

#define D(r) ((hv_gic_distributor_reg_t)(r))

/* The guest (EL1h, MMU off). x2 = REPORT, x3 = its RD_base, x4 = GICD,
 * x6 = the MSI frame. Reports: +0 ready, +8 the host's SPI, +16 the
 * vtimer, +24 its own MSI, +32 GICM_TYPER as it reads it, +40 the host's
 * MSI. Each wait: WFI until ICC_IAR1_EL1 gives an INTID (not 1023). */
static const uint32_t guest[] = {
	0xd2800020, /* mov x0, #1 */
	0xd518cca0, /* msr icc_sre_el1, x0 */
	0xd5033fdf, /* isb */
	0xd2801e00, /* mov x0, #0xf0 */
	0xd5184600, /* msr icc_pmr_el1, x0 */
	0xd2800020, /* mov x0, #1 */
	0xd518cce0, /* msr icc_igrpen1_el1, x0 */
	0xd5033fdf, /* isb */
	0x52800240, /* mov w0, #0x12: ARE | EnableGrp1 */
	0xb9000080, /* str w0, [x4]: GICD_CTLR */
	0x52a00500, /* mov w0, #0x280000: INTIDs 41, 42 edge (GICv2m's MSIs are) */
	0xb90c0880, /* str w0, [x4, #0xc08]: GICD_ICFGR2 */
	0x5280e000, /* mov w0, #0x700: INTIDs 40-42 */
	0xb9010480, /* str w0, [x4, #0x104]: GICD_ISENABLER1 */
	0x91404065, /* add x5, x3, #0x10, lsl #12: the SGI frame */
	0x52a10000, /* mov w0, #0x8000000: INTID 27 */
	0xb90100a0, /* str w0, [x5, #0x100]: GICR_ISENABLER0 */
	0xd2800021, /* mov x1, #1 */
	0xf9000041, /* str x1, [x2]: ready */
	0xd503207f, /* 1: wfi */
	0xd538cc00, /* mrs x0, icc_iar1_el1 */
	0xf10ffc1f, /* cmp x0, #1023 */
	0x54ffffa0, /* b.eq 1b */
	0xf9000440, /* str x0, [x2, #8] */
	0xd518cc20, /* msr icc_eoir1_el1, x0 */
	0xd53be040, /* mrs x0, cntvct_el0 */
	0x91040000, /* add x0, x0, #0x100 */
	0xd51be340, /* msr cntv_cval_el0, x0 */
	0xd2800020, /* mov x0, #1 */
	0xd51be320, /* msr cntv_ctl_el0, x0 */
	0xd5033fdf, /* isb */
	0xd503207f, /* 2: wfi */
	0xd538cc00, /* mrs x0, icc_iar1_el1 */
	0xf10ffc1f, /* cmp x0, #1023 */
	0x54ffffa0, /* b.eq 2b */
	0xf9000840, /* str x0, [x2, #16] */
	0xd51be33f, /* msr cntv_ctl_el0, xzr */
	0xd5033fdf, /* isb */
	0xd518cc20, /* msr icc_eoir1_el1, x0 */
	0x52800520, /* mov w0, #41 */
	0xb90040c0, /* str w0, [x6, #0x40]: GICM_SET_SPI_NSR */
	0xd503207f, /* 3: wfi */
	0xd538cc00, /* mrs x0, icc_iar1_el1 */
	0xf10ffc1f, /* cmp x0, #1023 */
	0x54ffffa0, /* b.eq 3b */
	0xf9000c40, /* str x0, [x2, #24] */
	0xd518cc20, /* msr icc_eoir1_el1, x0 */
	0xb94008c1, /* ldr w1, [x6, #8]: GICM_TYPER */
	0xf9001041, /* str x1, [x2, #32] */
	0xd503207f, /* 4: wfi */
	0xd538cc00, /* mrs x0, icc_iar1_el1 */
	0xf10ffc1f, /* cmp x0, #1023 */
	0x54ffffa0, /* b.eq 4b */
	0xf9001440, /* str x0, [x2, #40] */
	0xd518cc20, /* msr icc_eoir1_el1, x0 */
	0x14000000, /* b . */
};

static hv_vcpu_t vcpu;
static hv_vcpu_exit_t *vexit;
static _Atomic hv_vcpu_t watched; /* the vCPU whose run the watchdog times */

/* A guest waiting for an interrupt that never comes would block in KVM
 * for ever: a run longer than 10 s is cancelled (and then fails). */
static _Atomic long run_since;
static _Atomic bool done;

static long now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		long t = atomic_load(&run_since);
		if (t && now_s() - t > 10) {
			printf("     (a run took over 10 s: cancelled)\n");
			hv_vcpu_t w = atomic_load(&watched);
			hv_vcpus_exit(&w, 1);
			atomic_store(&run_since, 0);
		}
	}
	return NULL;
}

/* Runs to the guest's next report: its offset from REPORT and the value
 * stored (PC moved past the store, as a client does); false if the exit
 * was anything else. */
static bool report_of(hv_vcpu_t cpu, hv_vcpu_exit_t *ex, uint64_t *off, uint64_t *val)
{
	atomic_store(&watched, cpu);
	atomic_store(&run_since, now_s());
	hv_return_t r = hv_vcpu_run(cpu);
	atomic_store(&run_since, 0);
	uint64_t esr = ex->exception.syndrome, pa = ex->exception.physical_address;
	if (r != HV_SUCCESS || ex->reason != HV_EXIT_REASON_EXCEPTION || (esr >> 26) != 0x24 ||
	    pa < REPORT || pa >= REPORT + 0x100) {
		printf("     (run %#x: exit reason %u, esr %#llx, address %#llx)\n", r, ex->reason,
		       (unsigned long long)esr, (unsigned long long)pa);
		return false;
	}
	uint64_t pc;
	hv_vcpu_get_reg(cpu, HV_REG_X0 + ((esr >> 16) & 31), val);
	hv_vcpu_get_reg(cpu, HV_REG_PC, &pc);
	hv_vcpu_set_reg(cpu, HV_REG_PC, pc + 4);
	*off = pa - REPORT;
	return true;
}

static bool report(uint64_t *off, uint64_t *val)
{
	return report_of(vcpu, vexit, off, val);
}

static uint64_t dist(uint32_t reg)
{
	uint64_t v = ~0ull;
	if (hv_gic_get_distributor_reg(D(reg), &v) != HV_SUCCESS)
		printf("     (GICD %#x not readable)\n", reg);
	return v;
}

static void *create_vcpu_thread(void *arg)
{
	hv_vcpu_t other;
	hv_vcpu_exit_t *e;
	*(hv_return_t *)arg = hv_vcpu_create(&other, &e, NULL);
	if (*(hv_return_t *)arg == HV_SUCCESS)
		hv_vcpu_destroy(other);
	return NULL;
}

/* While the vCPU waits in WFI: a distributor call (KVM locks all vCPUs
 * for it: HV_BUSY), then an MSI, which must wake the vCPU. */
static void *msi_later(void *arg)
{
	hv_return_t *r = arg;
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	uint64_t v;
	nanosleep(&ts, NULL);
	r[0] = hv_gic_get_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_CTLR), &v);
	r[1] = hv_gic_send_msi(MSI + HV_GIC_REG_GICM_SET_SPI_NSR, MSI_BASE + 1);
	return NULL;
}

static hv_gic_config_t make_config(void);

/* Two vCPUs: the second, on its own thread, runs the guest; an SPI routed
 * to its affinity reaches it; redistributor bases, GICR_TYPER numbers and
 * Last bits, and the state cover both. */
static pthread_barrier_t step;
static hv_vcpu_t vcpu1;
static uint32_t *ram2;

static void *second_vcpu(void *arg)
{
	(void)arg;
	hv_vcpu_exit_t *e;
	uint64_t v = 0, off = ~0ull, val = 0;
	hv_ipa_t rd = 0;
	CHECK(hv_vcpu_create(&vcpu1, &e, NULL) == HV_SUCCESS, "second vCPU created (its own thread)");
	pthread_barrier_wait(&step); /* 1: both exist */
	CHECK(hv_vcpu_set_sys_reg(vcpu1, HV_SYS_REG_MPIDR_EL1, 0x80000200) == HV_SUCCESS, "its MPIDR_EL1 Aff1 = 2");
	CHECK(hv_gic_get_redistributor_base(vcpu1, &rd) == HV_SUCCESS && rd == GICR + 0x20000,
	      "its redistributor base %#llx", (unsigned long long)rd);
	hv_vcpu_set_reg(vcpu1, HV_REG_PC, RAM);
	hv_vcpu_set_reg(vcpu1, HV_REG_CPSR, 0x3c5);
	hv_vcpu_set_reg(vcpu1, HV_REG_X2, REPORT);
	hv_vcpu_set_reg(vcpu1, HV_REG_X3, rd);
	hv_vcpu_set_reg(vcpu1, HV_REG_X4, GICD);
	hv_vcpu_set_reg(vcpu1, HV_REG_X6, MSI);
	CHECK(report_of(vcpu1, e, &off, &val) && off == 0, "the second vCPU's guest set up its GIC");
	CHECK(hv_gic_get_redistributor_reg(vcpu1, HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0, &v) == HV_SUCCESS &&
	      (v >> 27 & 1), "its own redistributor took its write (GICR_ISENABLER0 %#llx)", (unsigned long long)v);
	CHECK(hv_gic_get_redistributor_reg(vcpu1, HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER, &v) == HV_SUCCESS &&
	      (v >> 32) == 0x200 && (v & 0x10) && ((v >> 8) & 0xffff) == 1,
	      "its GICR_TYPER %#llx: affinity 0.0.2.0, processor 1, Last", (unsigned long long)v);
	pthread_barrier_wait(&step); /* 2: ready; the main thread raises the SPI */
	pthread_barrier_wait(&step); /* 3 */
	CHECK(report_of(vcpu1, e, &off, &val) && off == 8 && val == SPI_HOST,
	      "the SPI routed to Aff1 = 2 reached the second vCPU (INTID %llu)", (unsigned long long)val);
	pthread_barrier_wait(&step); /* 4: the main thread saves and restores */
	pthread_barrier_wait(&step); /* 5 */
	CHECK(hv_vcpu_destroy(vcpu1) == HV_SUCCESS, "second vCPU destroyed");
	return NULL;
}

static void two_vcpus(void)
{
	hv_gic_config_t c = make_config();
	CHECK(hv_vm_create(NULL) == HV_SUCCESS && hv_gic_create(c) == HV_SUCCESS, "two vCPUs: VM and GIC");
	os_release(c);
	hv_vm_allocate((void **)&ram2, 0x10000, HV_ALLOCATE_DEFAULT);
	memcpy(ram2, guest, sizeof(guest));
	hv_vm_map(ram2, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC);
	hv_vcpu_exit_t *e;
	uint64_t v = 0;
	hv_ipa_t rd = 0;
	CHECK(hv_vcpu_create(&vcpu, &e, NULL) == HV_SUCCESS, "first vCPU");
	pthread_barrier_init(&step, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, second_vcpu, NULL);
	pthread_barrier_wait(&step); /* 1 */
	pthread_barrier_wait(&step); /* 2 */
	CHECK(hv_gic_get_redistributor_base(vcpu, &rd) == HV_SUCCESS && rd == GICR, "first redistributor %#llx",
	      (unsigned long long)rd);
	CHECK(hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER, &v) == HV_SUCCESS &&
	      !(v & 0x10) && ((v >> 8) & 0xffff) == 0, "the first one's GICR_TYPER %#llx: processor 0, not Last",
	      (unsigned long long)v);
	CHECK(hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER32 + 8 * (SPI_HOST - 32)), 0x200) ==
	      HV_SUCCESS && hv_gic_set_spi(SPI_HOST, true) == HV_SUCCESS, "SPI %u routed to Aff1 = 2 and raised", SPI_HOST);
	pthread_barrier_wait(&step); /* 3 */
	pthread_barrier_wait(&step); /* 4 */
	hv_gic_set_spi(SPI_HOST, false);
	hv_gic_set_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR1, 0x40404040);
	hv_gic_state_t s = hv_gic_state_create();
	size_t size = 0;
	void *blob = NULL;
	if (s && hv_gic_state_get_size(s, &size) == HV_SUCCESS && (blob = malloc(size)))
		hv_gic_state_get_data(s, blob);
	os_release(s);
	hv_gic_set_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR1, 0);
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER32 + 8 * (SPI_HOST - 32)), 0);
	CHECK(blob && hv_gic_set_state(blob, size) == HV_SUCCESS &&
	      hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR1, &v) == HV_SUCCESS &&
	      v == 0x40404040 && dist(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER32 + 8 * (SPI_HOST - 32)) == 0x200,
	      "two vCPUs: state (%zu bytes) restored, a redistributor's and a route", size);
	free(blob);
	pthread_barrier_wait(&step); /* 5 */
	pthread_join(t, NULL);
	pthread_barrier_destroy(&step);
	CHECK(hv_vcpu_destroy(vcpu) == HV_SUCCESS && hv_vm_destroy() == HV_SUCCESS, "two vCPUs: teardown");
	hv_vm_deallocate(ram2, 0x10000);
}

static hv_gic_config_t make_config(void)
{
	hv_gic_config_t c = hv_gic_config_create();
	if (c) {
		hv_gic_config_set_distributor_base(c, GICD);
		hv_gic_config_set_redistributor_base(c, GICR);
		hv_gic_config_set_msi_region_base(c, MSI);
		hv_gic_config_set_msi_interrupt_range(c, MSI_BASE, MSI_COUNT);
	}
	return c;
}

static void geometry_and_config(void)
{
	size_t sz = 0, al = 0;
	uint32_t base = 0, count = 0, id = 0, maxv = 0;
	CHECK(hv_gic_get_distributor_size(&sz) == HV_SUCCESS && sz == 0x10000, "distributor size %#zx", sz);
	CHECK(hv_gic_get_distributor_base_alignment(&al) == HV_SUCCESS && al == 0x10000,
	      "distributor alignment %#zx", al);
	CHECK(hv_gic_get_redistributor_size(&sz) == HV_SUCCESS && sz == 0x20000, "redistributor size %#zx", sz);
	hv_vm_get_max_vcpu_count(&maxv);
	CHECK(hv_gic_get_redistributor_region_size(&sz) == HV_SUCCESS && sz == (size_t)maxv * 0x20000 && sz,
	      "redistributor region %#zx for %u vCPUs", sz, maxv);
	CHECK(hv_gic_get_redistributor_base_alignment(&al) == HV_SUCCESS && al == 0x10000,
	      "redistributor alignment %#zx", al);
	CHECK(hv_gic_get_msi_region_size(&sz) == HV_SUCCESS && sz == 0x10000, "MSI frame size %#zx", sz);
	CHECK(hv_gic_get_msi_region_base_alignment(&al) == HV_SUCCESS && al == 0x10000, "MSI alignment %#zx", al);
	CHECK(hv_gic_get_spi_interrupt_range(&base, &count) == HV_SUCCESS && base == 32 && count == 960,
	      "SPIs %u..%u (KVM's vGIC: 992 interrupts)", base, base + count - 1);
	CHECK(hv_gic_get_intid(HV_GIC_INT_EL1_VIRTUAL_TIMER, &id) == HV_SUCCESS && id == 27, "vtimer INTID %u", id);
	CHECK(hv_gic_get_intid(HV_GIC_INT_EL1_PHYSICAL_TIMER, &id) == HV_SUCCESS && id == 30, "ptimer INTID %u", id);
	CHECK(hv_gic_get_intid(HV_GIC_INT_PERFORMANCE_MONITOR, &id) == HV_SUCCESS && id == 23, "PMU INTID %u", id);
	CHECK(hv_gic_get_intid((hv_gic_intid_t)24, &id) == HV_BAD_ARGUMENT, "unknown reserved interrupt refused");
	CHECK(hv_gic_get_distributor_size(NULL) == HV_BAD_ARGUMENT, "NULL size refused");

	hv_gic_config_t c = hv_gic_config_create();
	CHECK(c != NULL, "hv_gic_config_create");
	CHECK(hv_gic_config_set_distributor_base(c, GICD + 0x1000) == HV_BAD_ARGUMENT,
	      "misaligned distributor base refused");
	CHECK(hv_gic_config_set_redistributor_base(c, GICR + 0x8000) == HV_BAD_ARGUMENT,
	      "misaligned redistributor base refused");
	CHECK(hv_gic_config_set_msi_region_base(c, MSI + 4) == HV_BAD_ARGUMENT, "misaligned MSI base refused");
	CHECK(hv_gic_config_set_msi_interrupt_range(c, 16, 4) == HV_BAD_ARGUMENT, "MSI range below the SPIs refused");
	CHECK(hv_gic_config_set_msi_interrupt_range(c, 990, 4) == HV_BAD_ARGUMENT, "MSI range past the SPIs refused");
	CHECK(hv_gic_config_set_distributor_base(NULL, GICD) == HV_BAD_ARGUMENT, "NULL config refused");
	CHECK(hv_gic_create(c) == HV_BAD_ARGUMENT, "hv_gic_create without addresses refused");
	hv_gic_config_set_distributor_base(c, GICD);
	hv_gic_config_set_redistributor_base(c, GICD);
	CHECK(hv_gic_create(c) == HV_BAD_ARGUMENT, "overlapping distributor and redistributors refused");
	os_release(c);
	c = make_config();
	CHECK(hv_gic_create(c) == HV_BAD_ARGUMENT, "hv_gic_create before hv_vm_create refused");
	CHECK(hv_gic_set_spi(SPI_HOST, true) == HV_BAD_ARGUMENT, "hv_gic_set_spi without a GIC refused");
	CHECK(hv_sme_config_get_max_svl_bytes(&sz) == HV_UNSUPPORTED &&
	      hv_sme_config_get_max_svl_bytes(NULL) == HV_BAD_ARGUMENT, "SME: no SVL (HV_UNSUPPORTED)");

	/* The order: not after a vCPU. */
	CHECK(hv_vm_create(NULL) == HV_SUCCESS, "hv_vm_create");
	hv_vcpu_t v;
	hv_vcpu_exit_t *e;
	CHECK(hv_vcpu_create(&v, &e, NULL) == HV_SUCCESS, "a vCPU first");
	CHECK(hv_gic_create(c) == HV_BUSY, "hv_gic_create after a vCPU: HV_BUSY");
	uint64_t x;
	CHECK(hv_vcpu_get_sys_reg(v, HV_SYS_REG_CNTP_CTL_EL0, &x) == HV_BAD_ARGUMENT, "CNTP_CTL_EL0 without a GIC refused");
	CHECK(hv_vcpu_destroy(v) == HV_SUCCESS && hv_vm_destroy() == HV_SUCCESS, "that VM gone");
	os_release(c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t wd;
	pthread_create(&wd, NULL, watchdog, NULL);
	geometry_and_config();

	CHECK(hv_vm_create(NULL) == HV_SUCCESS, "hv_vm_create");
	hv_gic_config_t cfg = make_config();
	CHECK(hv_gic_create(cfg) == HV_SUCCESS, "hv_gic_create (distributor %#llx, redistributors %#llx, MSI %#llx)",
	      GICD, GICR, MSI);
	CHECK(hv_gic_create(cfg) == HV_BUSY, "a second GIC: HV_BUSY");
	os_release(cfg);
	uint64_t v = 0;
	CHECK(hv_gic_get_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_CTLR), &v) == HV_BUSY,
	      "distributor access before any vCPU: HV_BUSY (KVM initialises its vGIC only with vCPUs)");

	uint32_t *ram = NULL;
	hv_vm_allocate((void **)&ram, 0x10000, HV_ALLOCATE_DEFAULT);
	memcpy(ram, guest, sizeof(guest));
	CHECK(hv_vm_map(ram, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) == HV_SUCCESS,
	      "hv_vm_map");
	CHECK(hv_vcpu_create(&vcpu, &vexit, NULL) == HV_SUCCESS, "hv_vcpu_create");
	/* Affinity routing: the client numbers its vCPUs in MPIDR_EL1 (as
	 * libkrun does, in Aff1) and routes SPIs there. */
	CHECK(hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_MPIDR_EL1, 0x80000100) == HV_SUCCESS, "MPIDR_EL1 Aff1 = 1");
	hv_ipa_t rd = 0;
	CHECK(hv_gic_get_redistributor_base(vcpu, &rd) == HV_SUCCESS && rd == GICR, "redistributor base %#llx",
	      (unsigned long long)rd);
	CHECK(hv_gic_get_redistributor_base(7, &rd) == HV_BAD_ARGUMENT, "no vCPU 7: refused");

	/* Registers, before any run (the vGIC is initialised here). */
	uint64_t typer = dist(HV_GIC_DISTRIBUTOR_REG_GICD_TYPER);
	CHECK((typer & 0x1f) == 30, "GICD_TYPER %#llx: ITLinesNumber 30 (992 interrupts)", (unsigned long long)typer);
	CHECK(hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10), 0xa0a0a0a0) == HV_SUCCESS &&
	      dist(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10) == 0xa0a0a0a0, "GICD_IPRIORITYR10 round trip");
	CHECK(hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER50), 0x10203) == HV_SUCCESS &&
	      dist(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER50) == 0x10203, "GICD_IROUTER50 (64-bit) round trip");
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER50), 0);
	for (unsigned i = SPI_HOST; i <= MSI_BASE + 1; i++)
		hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER32 + 8 * (i - 32)), 0x100);
	CHECK(hv_gic_get_distributor_reg(D(0x6104), &v) == HV_BAD_ARGUMENT &&
	      hv_gic_get_distributor_reg(D(0x0002), &v) == HV_BAD_ARGUMENT &&
	      hv_gic_get_distributor_reg(D(0x8000), &v) == HV_BAD_ARGUMENT, "offsets outside Apple's enum refused");
	CHECK(hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10), 1ull << 32) ==
	      HV_BAD_ARGUMENT, "a 32-bit register with upper bits refused");
	uint64_t rtyper = 0, mpidr = 0;
	hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_MPIDR_EL1, &mpidr);
	CHECK(hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER, &rtyper) == HV_SUCCESS &&
	      (rtyper >> 32) == 0x100 && (mpidr & 0xffffff) == 0x100 && (rtyper & 0x10) &&
	      ((rtyper >> 8) & 0xffff) == 0,
	      "GICR_TYPER %#llx: the vCPU's affinity (MPIDR %#llx), Last", (unsigned long long)rtyper,
	      (unsigned long long)mpidr);
	CHECK(hv_gic_set_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR5, 0x80808080) ==
	      HV_SUCCESS && hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR5, &v) ==
	      HV_SUCCESS && v == 0x80808080, "GICR_IPRIORITYR5 round trip (%#llx)", (unsigned long long)v);
	CHECK(hv_gic_get_redistributor_reg(vcpu, 0x10004, &v) == HV_BAD_ARGUMENT, "unknown GICR offset refused");
	CHECK(hv_gic_set_icc_reg(vcpu, HV_GIC_ICC_REG_BPR1_EL1, 3) == HV_SUCCESS &&
	      hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_BPR1_EL1, &v) == HV_SUCCESS && v == 3,
	      "ICC_BPR1_EL1 round trip (%llu)", (unsigned long long)v);
	CHECK(hv_gic_set_icc_reg(vcpu, HV_GIC_ICC_REG_PMR_EL1, 0x80) == HV_SUCCESS &&
	      hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_PMR_EL1, &v) == HV_SUCCESS && v == 0x80,
	      "ICC_PMR_EL1 round trip (%#llx)", (unsigned long long)v);
	CHECK(hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_SRE_EL1, &v) == HV_SUCCESS && (v & 1),
	      "ICC_SRE_EL1.SRE set (%#llx)", (unsigned long long)v);
	uint64_t ctlr = 0;
	hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_CTLR_EL1, &ctlr);
	CHECK(hv_gic_set_icc_reg(vcpu, HV_GIC_ICC_REG_CTLR_EL1, ctlr) == HV_SUCCESS &&
	      hv_gic_set_icc_reg(vcpu, HV_GIC_ICC_REG_CTLR_EL1, ctlr ^ (1u << 8)) == HV_BAD_ARGUMENT,
	      "ICC_CTLR_EL1 %#llx written back; with other PRIbits refused (KVM)", (unsigned long long)ctlr);
	hv_return_t r = hv_gic_get_icc_reg(vcpu, (hv_gic_icc_reg_t)(HV_GIC_ICC_REG_AP1R0_EL1 + 1), &v);
	CHECK(((ctlr >> 8 & 7) + 1 >= 6) ? r == HV_SUCCESS : r == HV_BAD_ARGUMENT,
	      "ICC_AP1R1_EL1 by its encoding: there with 6 or more priority bits (here %u: %#x)",
	      (unsigned)(ctlr >> 8 & 7) + 1, r);
	CHECK(hv_gic_get_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ICPENDR0), &v) == HV_SUCCESS && v == 0 &&
	      hv_gic_get_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ISENABLER0), &v) == HV_SUCCESS && v == 0,
	      "the distributor's private banks read as zero");
	CHECK(hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_RPR_EL1, &v) == HV_SUCCESS && v == 0xff,
	      "ICC_RPR_EL1 %#llx: idle", (unsigned long long)v);
	CHECK(hv_gic_set_icc_reg(vcpu, HV_GIC_ICC_REG_RPR_EL1, 0) == HV_BAD_ARGUMENT, "ICC_RPR_EL1 is read-only");
	CHECK(hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_SRE_EL2, &v) == HV_BAD_ARGUMENT &&
	      hv_gic_get_ich_reg(vcpu, HV_GIC_ICH_REG_HCR_EL2, &v) == HV_BAD_ARGUMENT &&
	      hv_gic_get_icv_reg(vcpu, HV_GIC_ICV_REG_PMR_EL1, &v) == HV_BAD_ARGUMENT,
	      "ICC_SRE_EL2, ICH, ICV without EL2 refused");
	CHECK(hv_gic_get_msi_reg(HV_GIC_REG_GICM_TYPER, &v) == HV_SUCCESS && v == (MSI_BASE << 16 | MSI_COUNT),
	      "GICM_TYPER %#llx", (unsigned long long)v);
	CHECK(hv_gic_get_msi_reg(HV_GIC_REG_GICM_SET_SPI_NSR, &v) == HV_BAD_ARGUMENT &&
	      hv_gic_set_msi_reg(HV_GIC_REG_GICM_TYPER, 0) == HV_BAD_ARGUMENT, "MSI frame: TYPER RO, SET_SPI_NSR WO");
	CHECK(hv_gic_set_spi(31, true) == HV_BAD_ARGUMENT && hv_gic_set_spi(992, true) == HV_BAD_ARGUMENT &&
	      hv_gic_set_spi(MSI_BASE, true) == HV_BAD_ARGUMENT, "hv_gic_set_spi: a PPI, past the SPIs, in the MSI range refused");
	CHECK(hv_gic_send_msi(MSI + 0x40, SPI_HOST) == HV_BAD_ARGUMENT && hv_gic_send_msi(MSI, MSI_BASE) == HV_BAD_ARGUMENT,
	      "hv_gic_send_msi: outside the range, not at SET_SPI_NSR refused");
	CHECK(hv_vcpu_set_pending_interrupt(vcpu, HV_INTERRUPT_TYPE_IRQ, true) == HV_UNSUPPORTED &&
	      hv_vcpu_set_pending_interrupt(vcpu, HV_INTERRUPT_TYPE_IRQ, false) == HV_SUCCESS,
	      "pending IRQ with a GIC: HV_UNSUPPORTED (KVM has no CPU line beside its vGIC)");
	CHECK(hv_vcpu_get_sys_reg(vcpu, HV_SYS_REG_CNTP_CTL_EL0, &v) == HV_SUCCESS, "CNTP_CTL_EL0 with a GIC");
	hv_vcpu_sme_state_t sme;
	CHECK(hv_vcpu_get_sme_state(vcpu, &sme) == HV_UNSUPPORTED && hv_vcpu_get_sme_state(vcpu, NULL) ==
	      HV_BAD_ARGUMENT && hv_vcpu_get_sme_zt0_reg(9, NULL) == HV_BAD_ARGUMENT, "SME vCPU calls: HV_UNSUPPORTED");

	/* The guest. */
	hv_vcpu_set_reg(vcpu, HV_REG_PC, RAM);
	hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5);
	hv_vcpu_set_reg(vcpu, HV_REG_X2, REPORT);
	hv_vcpu_set_reg(vcpu, HV_REG_X3, rd);
	hv_vcpu_set_reg(vcpu, HV_REG_X4, GICD);
	hv_vcpu_set_reg(vcpu, HV_REG_X6, MSI);
	uint64_t off = ~0ull, val = 0;
	CHECK(report(&off, &val) && off == 0 && val == 1, "the guest set up its GIC (report %#llx = %llu)",
	      (unsigned long long)off, (unsigned long long)val);
	CHECK((dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISENABLER1) & 0x700) == 0x700 &&
	      (dist(HV_GIC_DISTRIBUTOR_REG_GICD_CTLR) & 2), "its distributor writes seen through the API");
	CHECK(hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_IGRPEN1_EL1, &v) == HV_SUCCESS && v == 1 &&
	      hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_PMR_EL1, &v) == HV_SUCCESS && v == 0xf0,
	      "its ICC_IGRPEN1_EL1 and ICC_PMR_EL1 seen through the API");
	CHECK(hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0, &v) == HV_SUCCESS &&
	      (v >> 27 & 1), "its redistributor write seen (GICR_ISENABLER0 %#llx)", (unsigned long long)v);

	CHECK(hv_gic_set_spi(SPI_HOST, true) == HV_SUCCESS, "hv_gic_set_spi(%u, true)", SPI_HOST);
	CHECK(report(&off, &val) && off == 8 && val == SPI_HOST, "the guest took INTID %llu from ICC_IAR1_EL1",
	      (unsigned long long)val);
	CHECK(dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISACTIVER1) & (1u << (SPI_HOST - 32)), "SPI %u active", SPI_HOST);
	CHECK(hv_gic_get_icc_reg(vcpu, HV_GIC_ICC_REG_RPR_EL1, &v) == HV_SUCCESS && v == 0xa0,
	      "ICC_RPR_EL1 %#llx: the running priority is SPI %u's (0xa0)", (unsigned long long)v, SPI_HOST);
	CHECK(hv_gic_set_spi(SPI_HOST, false) == HV_SUCCESS, "line lowered");

	CHECK(report(&off, &val) && off == 16 && val == 27,
	      "the vtimer reached the guest as INTID %llu through the GIC, no VTIMER_ACTIVATED exit",
	      (unsigned long long)val);
	CHECK(report(&off, &val) && off == 24 && val == MSI_BASE,
	      "the guest's own MSI write to the frame: no exit, INTID %llu taken", (unsigned long long)val);
	CHECK(report(&off, &val) && off == 32 && val == (MSI_BASE << 16 | MSI_COUNT),
	      "the guest read GICM_TYPER %#llx from the frame", (unsigned long long)val);
	hv_return_t later[2] = { 0, 0 };
	pthread_t t;
	pthread_create(&t, NULL, msi_later, later);
	bool got = report(&off, &val);
	pthread_join(t, NULL);
	CHECK(later[1] == HV_SUCCESS && got && off == 40 && val == MSI_BASE + 1,
	      "hv_gic_send_msi(%u) from another thread woke the guest in WFI; it took INTID %llu", MSI_BASE + 1,
	      (unsigned long long)val);
	CHECK(later[0] == HV_BUSY, "a distributor call while the vCPU runs: HV_BUSY (%#x; KVM locks all vCPUs)",
	      later[0]);

	hv_return_t other = HV_SUCCESS;
	pthread_create(&t, NULL, create_vcpu_thread, &other);
	pthread_join(t, NULL);
	CHECK(other == HV_BUSY, "a vCPU after the GIC is live: HV_BUSY (%#x)", other);

	/* State: save, change, restore. */
	/* Pending as the architecture has it (KVM's own view differs). */
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1), 1u << 12); /* INTID 44 pending */
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1), 1u << 14);
	CHECK((dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1) & (5u << 12)) == (5u << 12),
	      "GICD_ISPENDR1: writing 1 adds to what is pending");
	CHECK(hv_gic_set_spi(45, true) == HV_SUCCESS && (dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1) & (1u << 13)) &&
	      (dist(HV_GIC_DISTRIBUTOR_REG_GICD_ICPENDR1) & (1u << 13)), "a level SPI held high reads as pending");
	CHECK(hv_gic_set_spi(45, false) == HV_SUCCESS && !(dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1) & (1u << 13)),
	      "and not once lowered");
	CHECK(hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ICPENDR1), 1u << 14) == HV_SUCCESS &&
	      (dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1) & (5u << 12)) == (1u << 12), "GICD_ICPENDR1 clears one");
	hv_gic_state_t s = hv_gic_state_create();
	size_t size = 0;
	CHECK(s && hv_gic_state_get_size(s, &size) == HV_SUCCESS && size > 64, "hv_gic_state_create: %zu bytes", size);
	unsigned char *blob = malloc(size ? size : 1);
	CHECK(hv_gic_state_get_data(s, blob) == HV_SUCCESS, "hv_gic_state_get_data");
	CHECK(hv_gic_state_get_size(NULL, &size) == HV_BAD_ARGUMENT, "hv_gic_state_get_size(NULL) refused");
	os_release(s);
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ICENABLER1), 0x700);
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_ICPENDR1), 1u << 12);
	hv_gic_set_distributor_reg(D(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10), 0);
	hv_gic_set_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR5, 0);
	uint64_t en = dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISENABLER1), pend = dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1);
	CHECK((en & 0x700) == 0 && !(pend & (1u << 12)), "changed after the save (ISENABLER1 %#llx, ISPENDR1 %#llx)",
	      (unsigned long long)en, (unsigned long long)pend);
	CHECK(hv_gic_set_state(blob, size) == HV_SUCCESS, "hv_gic_set_state");
	CHECK((dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISENABLER1) & 0x700) == 0x700 &&
	      (dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1) & (1u << 12)) &&
	      dist(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10) == 0xa0a0a0a0,
	      "restored: enables, pending INTID 44, priorities");
	CHECK(hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR5, &v) == HV_SUCCESS &&
	      v == 0x80808080, "restored: the redistributor's priorities (%#llx)", (unsigned long long)v);
	unsigned char *odd = malloc(size + 1);
	memcpy(odd + 1, blob, size);
	CHECK(hv_gic_set_state(odd + 1, size) == HV_SUCCESS, "a state at an odd address restored");
	free(odd);
	unsigned char *bad = malloc(size ? size : 1);
	memcpy(bad, blob, size);
	bad[size / 2] ^= 0x40;
	CHECK(hv_gic_set_state(bad, size) == HV_BAD_ARGUMENT, "a damaged state refused");
	CHECK(hv_gic_set_state(blob, size - 16) == HV_BAD_ARGUMENT, "a truncated state refused");
	memset(bad, 0x5a, size);
	CHECK(hv_gic_set_state(bad, size) == HV_BAD_ARGUMENT, "garbage refused");
	CHECK(hv_gic_set_state(NULL, size) == HV_BAD_ARGUMENT && hv_gic_set_state(blob, 0) == HV_BAD_ARGUMENT,
	      "no state refused");
	CHECK(dist(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10) == 0xa0a0a0a0, "nothing written by a refused state");
	free(bad);

	CHECK(hv_gic_reset() == HV_SUCCESS, "hv_gic_reset");
	CHECK((dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISENABLER1) & 0x700) == 0 &&
	      dist(HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR1) == 0 && dist(HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR10) == 0 &&
	      !(dist(HV_GIC_DISTRIBUTOR_REG_GICD_CTLR) & 2), "reset: enables, pending, priorities, CTLR as at start");

	CHECK(hv_vcpu_destroy(vcpu) == HV_SUCCESS, "hv_vcpu_destroy");
	CHECK(hv_gic_set_state(blob, size) == HV_BAD_ARGUMENT, "a state of other vCPUs refused");
	free(blob);
	CHECK(hv_vm_destroy() == HV_SUCCESS, "hv_vm_destroy");
	CHECK(hv_gic_set_spi(SPI_HOST, true) == HV_BAD_ARGUMENT, "no GIC after hv_vm_destroy");
	cfg = make_config();
	CHECK(hv_vm_create(NULL) == HV_SUCCESS && hv_gic_create(cfg) == HV_SUCCESS && hv_vm_destroy() == HV_SUCCESS,
	      "a new VM gets a new GIC");
	os_release(cfg);
	hv_vm_deallocate(ram, 0x10000);
	two_vcpus();
	atomic_store(&done, true);
	pthread_join(wd, NULL);
	return check64_done("gic64");
}
