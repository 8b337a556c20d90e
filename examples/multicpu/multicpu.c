/*
 * multicpu: several vCPUs, one host thread each.
 *
 * Hypervisor.framework's rule is that a vCPU belongs to the thread that
 * created it: only that thread may run it, read or write its registers and
 * VMCS, or destroy it. The one call allowed from any thread is
 * hv_vcpu_interrupt(), which forces the vCPU out of the guest.
 *
 * The main thread creates the VM and maps the memory every vCPU shares.
 * NCPUS worker threads each create a vCPU, set it up in 32-bit protected
 * mode, give it its slice index in EBX with hv_vcpu_write_register(), and
 * run the same guest code (slice.asm): count the primes in the slice,
 * report the count with an OUT, then spin until released. A kicker thread
 * waits until every slice is reported and kicks each spinning vCPU with
 * hv_vcpu_interrupt(); its owner thread sees VMX_REASON_IRQ, writes EBX to
 * release the guest's wait loop, and the guest says goodbye and halts. The
 * main thread joins everything and checks the combined count against its
 * own sieve.
 *
 * Only <Hypervisor/hv.h> and <Hypervisor/hv_vmx.h> are used.
 */
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char guest_slice_start[], guest_slice_end[];

#define NCPUS       4
#define SLICE       2500u        /* must match slice.asm */
#define RESULT_PORT 0x20
#define BYE_PORT    0x21

#define GUEST_RAM   (1u << 20)
#define GDT         0x0500u
#define TSS         0x0700u
#define CODE        0x1000u
#define STACKS      0x10000u     /* one 4 KiB stack per vCPU below this */

#define SEL_CODE32  0x08u
#define SEL_DATA    0x10u
#define SEL_TSS     0x18u

#define CR0_PE      0x1ull
#define CR0_ET      0x10ull
#define CR0_NE      0x20ull
#define CR4_VMXE    0x2000ull

struct cpu {
	unsigned index;
	pthread_t thread;
	hv_vcpuid_t vcpu;
	/* Guarded by `lock`. */
	int created;        /* vcpu is valid */
	int reported;       /* the guest reported its slice */
	int release;        /* the kicker asks this vCPU to leave its loop */
	int kicked;         /* hv_vcpu_interrupt() for it has returned */
	int finished;       /* the thread is done (successfully or not) */
	/* Written by the owner thread only. */
	uint32_t count;     /* primes in the slice, from the guest */
	uint64_t spins;     /* wait-loop iterations, from the guest */
	unsigned irq_exits; /* VMX_REASON_IRQ returns from hv_vcpu_run */
	int failed;
};

static struct cpu cpus[NCPUS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static uint8_t *ram;

static void die(hv_return_t r, const char *what)
{
	fprintf(stderr, "multicpu: %s failed: 0x%08x\n", what, (unsigned)r);
	exit(1);
}

static void check(hv_return_t r, const char *what)
{
	if (r != HV_SUCCESS)
		die(r, what);
}

static uint64_t cap2ctrl(hv_vmx_capability_t cap, uint64_t want)
{
	uint64_t v;

	check(hv_vmx_read_capability(cap, &v), "hv_vmx_read_capability");
	return (want | (v & 0xffffffff)) & (v >> 32);
}

static void wvmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value)
{
	check(hv_vmx_vcpu_write_vmcs(vcpu, field, value), "hv_vmx_vcpu_write_vmcs");
}

static uint64_t rvmcs(hv_vcpuid_t vcpu, uint32_t field)
{
	uint64_t v;

	check(hv_vmx_vcpu_read_vmcs(vcpu, field, &v), "hv_vmx_vcpu_read_vmcs");
	return v;
}

static uint64_t rreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg)
{
	uint64_t v;

	check(hv_vcpu_read_register(vcpu, reg, &v), "hv_vcpu_read_register");
	return v;
}

static void wreg(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value)
{
	check(hv_vcpu_write_register(vcpu, reg, value), "hv_vcpu_write_register");
}

static void put_desc(unsigned sel, uint64_t desc)
{
	memcpy(ram + GDT + sel, &desc, sizeof(desc));
}

static void write_gdt(void)
{
	put_desc(0, 0);
	put_desc(SEL_CODE32, 0x00cf9b000000ffffull);   /* flat 32-bit code */
	put_desc(SEL_DATA, 0x00cf93000000ffffull);     /* flat data */
	put_desc(SEL_TSS, 0x00008b0000000067ull | ((uint64_t)TSS << 16));
}

/* Flat 32-bit protected mode, no paging; called by the owner thread. */
static void protected_mode(hv_vcpuid_t vcpu, unsigned index)
{
	static const uint32_t seg[][4] = {
		{ VMCS_GUEST_ES, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_CS, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
		{ VMCS_GUEST_SS, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
		{ VMCS_GUEST_DS, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_FS, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};

	wvmcs(vcpu, VMCS_CTRL_PIN_BASED, cap2ctrl(HV_VMX_CAP_PINBASED, 0));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED, cap2ctrl(HV_VMX_CAP_PROCBASED,
		CPU_BASED_HLT | CPU_BASED_UNCOND_IO | CPU_BASED_SECONDARY_CTLS));
	wvmcs(vcpu, VMCS_CTRL_CPU_BASED2, cap2ctrl(HV_VMX_CAP_PROCBASED2, 0));
	wvmcs(vcpu, VMCS_CTRL_VMENTRY_CONTROLS, cap2ctrl(HV_VMX_CAP_ENTRY,
		VMENTRY_LOAD_EFER));
	wvmcs(vcpu, VMCS_CTRL_EXC_BITMAP, 0);

	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
		int cs = seg[i][0] == VMCS_GUEST_CS;

		wvmcs(vcpu, seg[i][0], cs ? SEL_CODE32 : SEL_DATA);
		wvmcs(vcpu, seg[i][1], 0);
		wvmcs(vcpu, seg[i][2], 0xffffffff);
		wvmcs(vcpu, seg[i][3], cs ? 0xc09b : 0xc093);
	}
	wvmcs(vcpu, VMCS_GUEST_LDTR, 0);
	wvmcs(vcpu, VMCS_GUEST_LDTR_BASE, 0);
	wvmcs(vcpu, VMCS_GUEST_LDTR_LIMIT, 0);
	wvmcs(vcpu, VMCS_GUEST_LDTR_AR, 0x10000);      /* unusable */
	wvmcs(vcpu, VMCS_GUEST_TR, SEL_TSS);
	wvmcs(vcpu, VMCS_GUEST_TR_BASE, TSS);
	wvmcs(vcpu, VMCS_GUEST_TR_LIMIT, 0x67);
	wvmcs(vcpu, VMCS_GUEST_TR_AR, 0x8b);           /* 32-bit busy TSS */
	wvmcs(vcpu, VMCS_GUEST_GDTR_BASE, GDT);
	wvmcs(vcpu, VMCS_GUEST_GDTR_LIMIT, SEL_TSS + 7);
	wvmcs(vcpu, VMCS_GUEST_IDTR_BASE, 0);
	wvmcs(vcpu, VMCS_GUEST_IDTR_LIMIT, 0);
	wvmcs(vcpu, VMCS_GUEST_CR0, CR0_NE | CR0_ET | CR0_PE);
	wvmcs(vcpu, VMCS_GUEST_CR3, 0);
	wvmcs(vcpu, VMCS_GUEST_CR4, CR4_VMXE);
	wvmcs(vcpu, VMCS_GUEST_IA32_EFER, 0);
	wvmcs(vcpu, VMCS_GUEST_RFLAGS, 0x2);
	wvmcs(vcpu, VMCS_GUEST_RSP, STACKS - index * 0x1000);
	wvmcs(vcpu, VMCS_GUEST_RIP, CODE);
}

static void set_flag(int *flag)
{
	pthread_mutex_lock(&lock);
	*flag = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static int get_flag(const int *flag)
{
	int v;

	pthread_mutex_lock(&lock);
	v = *flag;
	pthread_mutex_unlock(&lock);
	return v;
}

static void wait_flag(const int *flag)
{
	pthread_mutex_lock(&lock);
	while (!*flag)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

/* A vCPU's owner thread: create, set up, run, destroy. */
static void *vcpu_thread(void *arg)
{
	struct cpu *c = arg;
	hv_vcpuid_t vcpu;

	check(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), "hv_vcpu_create");
	protected_mode(vcpu, c->index);
	wreg(vcpu, HV_X86_RBX, c->index);   /* which slice is ours */
	pthread_mutex_lock(&lock);
	c->vcpu = vcpu;
	c->created = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);

	for (;;) {
		check(hv_vcpu_run(vcpu), "hv_vcpu_run");
		uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON) & 0xffff;
		uint64_t rip = rvmcs(vcpu, VMCS_GUEST_RIP);

		if (reason == VMX_REASON_HLT)
			break;
		if (reason == VMX_REASON_IRQ) {
			/* A kick from another thread (or a spurious return).
			 * Only now, back on the owner thread, can we change the
			 * guest's registers. */
			c->irq_exits++;
			if (get_flag(&c->release))
				wreg(vcpu, HV_X86_RBX, 1);
			continue;
		}
		if (reason == VMX_REASON_IO) {
			uint16_t port = (uint16_t)(rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC) >> 16);
			uint32_t eax = (uint32_t)rreg(vcpu, HV_X86_RAX);

			if (port == RESULT_PORT) {
				c->count = eax;
				set_flag(&c->reported);
			} else if (port == BYE_PORT) {
				c->spins = eax;
			} else {
				fprintf(stderr, "multicpu: vcpu %u: OUT to unknown port %#x\n",
					c->index, port);
				c->failed = 1;
				break;
			}
			wreg(vcpu, HV_X86_RIP, rip + rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN));
			continue;
		}
		fprintf(stderr, "multicpu: vcpu %u: unexpected exit %" PRIu64
			" at RIP %#" PRIx64 "\n", c->index, reason, rip);
		c->failed = 1;
		break;
	}
	/* Do not destroy the vCPU while the kicker may still name it. A
	 * failed vCPU cannot have been released, so it does not wait. */
	if (!c->failed)
		wait_flag(&c->kicked);
	check(hv_vcpu_destroy(vcpu), "hv_vcpu_destroy");
	set_flag(&c->finished);
	return NULL;
}

/* Waits until every slice is in, then kicks each spinning vCPU. */
static void *kicker_thread(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < NCPUS; i++) {
		pthread_mutex_lock(&lock);
		while (!cpus[i].reported && !cpus[i].finished)
			pthread_cond_wait(&changed, &lock);
		pthread_mutex_unlock(&lock);
	}
	for (unsigned i = 0; i < NCPUS; i++) {
		hv_vcpuid_t id;
		hv_return_t r;

		pthread_mutex_lock(&lock);
		if (cpus[i].finished) {     /* it failed: nothing to kick */
			pthread_mutex_unlock(&lock);
			continue;
		}
		cpus[i].release = 1;
		id = cpus[i].vcpu;
		pthread_mutex_unlock(&lock);
		r = hv_vcpu_interrupt(&id, 1);
		if (r != HV_SUCCESS)
			die(r, "hv_vcpu_interrupt");
		set_flag(&cpus[i].kicked);
	}
	return NULL;
}

/* The host's own answer: a sieve. */
static unsigned host_count(unsigned lo, unsigned hi)
{
	static unsigned char composite[NCPUS * SLICE];
	static int done;
	unsigned n = 0;

	if (!done) {
		composite[0] = composite[1] = 1;
		for (unsigned i = 2; i * i < NCPUS * SLICE; i++)
			if (!composite[i])
				for (unsigned j = i * i; j < NCPUS * SLICE; j += i)
					composite[j] = 1;
		done = 1;
	}
	for (unsigned i = lo; i < hi; i++)
		n += !composite[i];
	return n;
}

int main(void)
{
	pthread_t kicker;
	unsigned total = 0;
	int ok = 1;

	check(hv_vm_create(HV_VM_DEFAULT), "hv_vm_create");
	ram = valloc(GUEST_RAM);
	if (!ram)
		return 1;
	memset(ram, 0, GUEST_RAM);
	memcpy(ram + CODE, guest_slice_start,
	       (size_t)(guest_slice_end - guest_slice_start));
	write_gdt();
	check(hv_vm_map(ram, 0, GUEST_RAM, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC),
	      "hv_vm_map");

	for (unsigned i = 0; i < NCPUS; i++) {
		cpus[i].index = i;
		if (pthread_create(&cpus[i].thread, NULL, vcpu_thread, &cpus[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	if (pthread_create(&kicker, NULL, kicker_thread, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	pthread_join(kicker, NULL);
	for (unsigned i = 0; i < NCPUS; i++)
		pthread_join(cpus[i].thread, NULL);

	for (unsigned i = 0; i < NCPUS; i++) {
		struct cpu *c = &cpus[i];
		unsigned lo = i * SLICE, hi = lo + SLICE;

		if (c->failed) {
			printf("vcpu %u: failed\n", i);
			ok = 0;
			continue;
		}
		printf("vcpu %u: [%u, %u): %" PRIu32 " primes; kicked out of its "
		       "wait loop after %" PRIu64 " spins\n", i, lo, hi, c->count,
		       c->spins);
		if (c->count != host_count(lo, hi)) {
			fprintf(stderr, "mismatch: vcpu %u, host says %u\n", i,
				host_count(lo, hi));
			ok = 0;
		}
		if (c->irq_exits == 0) {
			fprintf(stderr, "vcpu %u left its loop without a kick\n", i);
			ok = 0;
		}
		total += c->count;
	}
	printf("primes below %u: %u (host: %u)\n", NCPUS * SLICE, total,
	       host_count(0, NCPUS * SLICE));
	if (total != host_count(0, NCPUS * SLICE))
		ok = 0;
	puts(ok ? "ok" : "MISMATCH");
	fflush(stdout);

	check(hv_vm_unmap(0, GUEST_RAM), "hv_vm_unmap");
	check(hv_vm_destroy(), "hv_vm_destroy");
	free(ram);
	return ok ? 0 : 1;
}
