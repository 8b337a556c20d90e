/*
 * The arm64 backend (backend/hvb64.c) on real KVM/arm64, in the arm64 lab:
 * a guest's MMIO store and load, HVC and SMC come back as Apple's exits
 * (syndrome, addresses, PC where Apple leaves it), the client's own
 * completion (Rt, PC + 4) is what the guest sees, and a kick cancels.
 * Plain C: prints `ok`/`FAIL` lines, exits non-zero on the first failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "ha64.h"
#include "hvb_ops.h"
#include "check64.h"

static const struct hvb_ops *be = &hvb_a64_ops;
static struct hvb_vcpu *vcpu;
static struct ha64_state st;
static int enter(uint32_t op)
{
	st.op = op;
	be->vcpu_import(vcpu, (const struct hvb_arch_state *)&st);
	int r = be->vcpu_run(vcpu);
	be->vcpu_export(vcpu, (struct hvb_arch_state *)&st);
	return r;
}

static uint64_t rd(unsigned i)
{
	if (!ha64_bit(st.valid, i)) {
		ha64_set_bit(st.want, i);
		enter(HA64_OP_SYNC);
	}
	return st.val[i][0];
}

static void wr(unsigned i, uint64_t v)
{
	st.val[i][0] = v;
	ha64_set_bit(st.dirty, i);
	ha64_set_bit(st.valid, i);
}

static void *cancel_later(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	be->vcpu_kick(vcpu);
	return NULL;
}

#define CODE 0x10000ull
#define TIMER (CODE + 0x1000)
#define VBAR (CODE + 0x2000)
#define MMIO 0x90000000ull

int main(void)
{
	struct hvb_host *host;
	struct hvb_vm *vm;
	struct hvb_a64_host hi;
	setvbuf(stdout, NULL, _IOLBF, 0); /* a stalled test still shows how far it got */
	int r = be->host_create(NULL, &host);
	CHECK(r == 0, "host_create: %s", strerror(-r));
	if (r)
		return 1;
	be->arm64->host_query(host, &hi);
	printf("fact ipa_max %u\nfact ipa_default %u\nfact max_vcpus %u\n", hi.ipa_max,
	       hi.ipa_default, hi.max_vcpus);
	r = be->vm_create(host, 0, &vm);
	CHECK(r == 0, "vm_create: %s", strerror(-r));
	if (r)
		return 1;
	be->arm64->host_query(host, &hi);
	printf("fact smccc_filter %d\n", hi.smccc_filter);

	uint32_t *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static const uint32_t code[] = {
		0xd2824681, /* movz x1, #0x1234 */
		0xd2b20002, /* movz x2, #0x9000, lsl #16 */
		0xf9000041, /* str x1, [x2] */
		0xf9400443, /* ldr x3, [x2, #8] */
		0xd4000842, /* hvc #0x42 */
		0xd4000003, /* smc #0 (KVM refuses SMC with an immediate: UNDEF) */
		0x14000000, /* b . */
	};
	memcpy(mem, code, sizeof(code));
	static const uint32_t timer[] = {
		0xd53be040, /* mrs x0, cntvct_el0 */
		0x91004000, /* add x0, x0, #16 */
		0xd51be340, /* msr cntv_cval_el0, x0 */
		0xd2800021, /* mov x1, #1 */
		0xd51be321, /* msr cntv_ctl_el0, x1: enabled, not masked */
		0xd5033fdf, /* isb */
		0x14000000, /* b . */
	};
	memcpy((char *)mem + (TIMER - CODE), timer, sizeof(timer));
	/* IRQ from the current EL with SP_ELx: VBAR + 0x280. */
	mem[(VBAR - CODE + 0x280) / 4] = 0xd40000e2; /* hvc #7 */
	r = be->vm_map(vm, mem, CODE, 0x10000, HVB_MEM_READ | HVB_MEM_WRITE | HVB_MEM_EXEC);
	CHECK(r == 0, "vm_map: %s", strerror(-r));
	r = be->vcpu_create(vm, 0, &vcpu);
	CHECK(r == 0, "vcpu_create: %s", strerror(-r));
	if (r)
		return 1;

	const unsigned PC = HA64_REG_PC, CPSR = HA64_REG_CPSR;
	wr(PC, CODE);
	wr(CPSR, 0x3c5); /* EL1h, DAIF masked */
	r = enter(HA64_OP_RUN);
	uint64_t esr = st.exit.syndrome;
	CHECK(r == 0 && st.exit.reason == HA64_EXIT_EXCEPTION && (esr >> 26) == 0x24,
	      "store to unmapped IPA: data abort (r %d reason %u esr %#llx)", r, st.exit.reason,
	      (unsigned long long)esr);
	CHECK((esr >> 24 & 1) && (esr >> 22 & 3) == 3 && (esr >> 16 & 31) == 1 && (esr >> 6 & 1),
	      "syndrome: ISV, 8 bytes, Rt x1, write (esr %#llx)", (unsigned long long)esr);
	CHECK(st.exit.physical_address == MMIO && st.exit.virtual_address == MMIO,
	      "addresses: pa %#llx va %#llx", (unsigned long long)st.exit.physical_address,
	      (unsigned long long)st.exit.virtual_address);
	CHECK(rd(PC) == CODE + 8, "PC on the store (%#llx)", (unsigned long long)rd(PC));
	CHECK(rd(1) == 0x1234, "x1 holds the data (%#llx)", (unsigned long long)rd(1));
	wr(PC, rd(PC) + 4);

	wr(3, 0x5555);
	r = enter(HA64_OP_RUN);
	esr = st.exit.syndrome;
	CHECK(r == 0 && (esr >> 26) == 0x24 && !(esr >> 6 & 1) && (esr >> 16 & 31) == 3 &&
	      st.exit.physical_address == MMIO + 8,
	      "load: data abort, read, Rt x3, pa +8 (esr %#llx)", (unsigned long long)esr);
	CHECK(rd(PC) == CODE + 12, "PC on the load");
	CHECK(rd(3) == 0x5555, "x3 untouched by KVM's completion (%#llx)", (unsigned long long)rd(3));
	wr(3, 0xabcdef);
	wr(PC, rd(PC) + 4);

	r = enter(HA64_OP_RUN);
	esr = st.exit.syndrome;
	if (!hi.smccc_filter) {
		printf("inconclusive: no SMCCC filter (kernel < 6.4): HVC never exits\n");
	} else {
		CHECK(r == 0 && (esr >> 26) == 0x16 && (esr & 0xffff) == 0x42,
		      "hvc #0x42: EC 0x16 with the immediate (esr %#llx)", (unsigned long long)esr);
		CHECK(rd(PC) == CODE + 20, "PC past the HVC (%#llx)", (unsigned long long)rd(PC));
		CHECK(rd(3) == 0xabcdef, "the guest saw the client's load value");
		r = enter(HA64_OP_RUN);
		esr = st.exit.syndrome;
		CHECK(r == 0 && (esr >> 26) == 0x17 && (esr & 0xffff) == 0,
		      "smc #0: EC 0x17 (esr %#llx)", (unsigned long long)esr);
		CHECK(rd(PC) == CODE + 20, "PC on the SMC, as Apple leaves it (%#llx)",
		      (unsigned long long)rd(PC));
		wr(PC, rd(PC) + 4);
	}

	/* The vtimer: an exit when it fires, Apple's mask set by it, no
	 * second one while masked. */
	wr(PC, TIMER);
	r = enter(HA64_OP_RUN);
	CHECK(r == 0 && st.exit.reason == HA64_EXIT_VTIMER, "vtimer fired: VTIMER_ACTIVATED (reason %u)",
	      st.exit.reason);
	CHECK(st.ctl & HA64_CTL_VTIMER_MASK, "the exit set the vtimer mask");
	pthread_t t;
	pthread_create(&t, NULL, cancel_later, NULL);
	r = enter(HA64_OP_RUN);
	pthread_join(t, NULL);
	CHECK(r == 0 && st.exit.reason == HA64_EXIT_CANCELED,
	      "masked: no second vtimer exit; a kick from another thread cancels (reason %u)",
	      st.exit.reason);
	st.ctl &= ~HA64_CTL_VTIMER_MASK;
	r = enter(HA64_OP_RUN);
	CHECK(r == 0 && st.exit.reason == HA64_EXIT_VTIMER,
	      "unmasked while still asserted: VTIMER_ACTIVATED again (reason %u)", st.exit.reason);

	/* A pending IRQ for one run: taken through VBAR_EL1 + 0x280. */
	int cntv_ctl = ha64_sys_index(0xdf19), vbar = ha64_sys_index(0xc600);
	wr((unsigned)cntv_ctl, 0);
	wr((unsigned)vbar, VBAR);
	wr(CPSR, 0x345); /* EL1h, IRQs unmasked */
	wr(PC, TIMER + 24);
	st.ctl |= HA64_CTL_IRQ;
	r = enter(HA64_OP_RUN);
	esr = st.exit.syndrome;
	CHECK(r == 0 && st.exit.reason == HA64_EXIT_EXCEPTION && (esr >> 26) == 0x16 &&
	      (esr & 0xffff) == 7, "pending IRQ taken: the handler's hvc #7 (reason %u esr %#llx)",
	      st.exit.reason, (unsigned long long)esr);
	CHECK(!(st.ctl & HA64_CTL_IRQ), "the pending IRQ is cleared when the run returns");

	be->vcpu_kick(vcpu);
	r = enter(HA64_OP_RUN);
	CHECK(r == 0 && st.exit.reason == HA64_EXIT_CANCELED, "a kick before the run cancels it");
	uint64_t ns = st.exec_ns;
	CHECK(ns > 0, "exec time counted (%llu ns)", (unsigned long long)ns);

	CHECK(be->vm_destroy(vm) == -EBUSY, "VM with a vCPU is busy");
	CHECK(be->vcpu_destroy(vcpu) == 0, "vcpu_destroy");
	CHECK(be->vm_destroy(vm) == 0, "vm_destroy");
	be->host_destroy(host);
	return check64_done("backend64");
}
