/*
 * policy_client: a real libhvclient client for the policy tests, run under
 * whatever uid the test chose. It does what its arguments say, printing one
 * line per call with the hv_return_t the call returned:
 *
 *   policy_client [--no-create] [--map SIZE]... [--vcpu] [--hold]
 *
 *   (default)     hv_vm_create(HV_VM_DEFAULT)      -> "create=0x..."
 *   --no-create   connect only (hv_vmx_read_capability)   -> "cap=0x..."
 *   --spin MS     run a real-mode guest that never exits (jmp $) for MS
 *                 milliseconds of wall time, ended by hv_vcpu_interrupt from
 *                 another thread (a run that ends before it, on a host
 *                 interrupt, is run again)
 *                   -> "spin=0x... exec_ns=N wall_ns=N runs=N"
 *   --outloop MS  run a guest that makes OUT exits back to back for MS
 *                 milliseconds     -> "outloop=0x... exec_ns=N wall_ns=N runs=N"
 *   --touch SIZE ROUNDS
 *                 ROUNDS times: hv_vm_map SIZE fresh bytes at 16 MiB, run a
 *                 32-bit guest that writes a byte to each of their pages,
 *                 and hv_vm_unmap them, keeping the memory. The pages stay
 *                 (the client holds them) and stay charged to the cgroup of
 *                 whoever first touched them: the guest's worker
 *                   -> "touched=N" after each round, then
 *                      "touch=0x... rounds=N" (rounds done)
 *   --map SIZE    hv_vm_map of SIZE fresh bytes at the next free guest
 *                 address (0, then right after)    -> "map=0x..."
 *   --vcpu        hv_vcpu_create on a new thread   -> "vcpu=0x..."
 *   --hold        print "ready", then run commands read from stdin, one
 *                 a line, until stdin closes:
 *                   map SIZE GPA   -> "map=0x..."
 *                   vcpu           -> "vcpu=0x..."
 *                   create         -> "create=0x..."
 *                   cap            -> "cap=0x..."
 *
 * Exit status: 0 if every call returned HV_SUCCESS, 1 if one did not,
 * 2 for a usage error. Output is flushed after every line, so the test
 * can read results while the client holds its VM.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

#include "sys_client.h"

static int failed;
static int hold;
static uint64_t next_gpa;

static void report(const char *what, hv_return_t r)
{
	printf("%s=%#x\n", what, (unsigned)r);
	fflush(stdout);
	if (r != HV_SUCCESS)
		failed = 1;
}

static void do_map(uint64_t size, uint64_t gpa)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		printf("map=mmap-failed\n");
		fflush(stdout);
		failed = 1;
		return;
	}
	report("map", hv_vm_map(mem, gpa, size, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
}

/* A vCPU belongs to the thread that created it, and a thread has at most
 * one: each --vcpu gets a thread of its own, which keeps the vCPU until the
 * process exits. */
static sem_t vcpu_done;
static hv_return_t vcpu_status;

static void *vcpu_thread(void *arg)
{
	hv_vcpuid_t vcpu;
	(void)arg;
	vcpu_status = hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT);
	sem_post(&vcpu_done);
	for (;;)
		pause();
	return NULL;
}

static void do_vcpu(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, vcpu_thread, NULL) != 0) {
		printf("vcpu=thread-failed\n");
		fflush(stdout);
		failed = 1;
		return;
	}
	pthread_detach(t);
	while (sem_wait(&vcpu_done) < 0)
		;
	report("vcpu", vcpu_status);
}

static void do_cap(void)
{
	/* Connects (the handshake) without needing a VM: hv_capability
	 * would want one. */
	uint64_t v = 0;
	report("cap", hv_vmx_read_capability(HV_VMX_CAP_PINBASED, &v));
}

/* ---- guests that burn CPU (the CPU quota tests) ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct burn {
	hv_vcpuid_t vcpu;
	uint64_t ms;
	sem_t ready;
	_Atomic bool fired;            /* the stopper's interrupt is sent */
};

static void *burn_stopper(void *arg)
{
	struct burn *b = arg;
	while (sem_wait(&b->ready) < 0)
		;
	struct timespec ts = { (time_t)(b->ms / 1000), (long)(b->ms % 1000) * 1000000l };
	nanosleep(&ts, NULL);
	atomic_store(&b->fired, true);
	hv_vcpu_interrupt(&b->vcpu, 1);
	return NULL;
}

/* --spin and --outloop: the guest burns CPU for `ms` of wall time; the
 * vCPU's guest time and the number of runs are reported. */
static void do_burn(const char *what, uint64_t ms, bool spin)
{
	/* jmp $ | out 0x10, al; jmp back to the out */
	static const uint8_t spin_code[] = { 0xeb, 0xfe };
	static const uint8_t out_code[] = { 0xe6, 0x10, 0xeb, 0xfc };
	struct burn b = { .ms = ms };
	uint64_t exec = 0, runs = 0, t0, t1;
	hv_return_t r = HV_SUCCESS;
	pthread_t stopper;

	/* The system tests' real-mode set-up (tests/system/sys_client.c). */
	struct sys_vm vm;
	uint8_t *mem = mmap(NULL, SYS_RAM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int step = mem == MAP_FAILED ? -1 :
		sys_vm_attach(&vm, mem, spin ? spin_code : out_code,
			      spin ? sizeof(spin_code) : sizeof(out_code));
	if (step) {
		printf("%s=setup-failed-%d\n", what, step);
		fflush(stdout);
		failed = 1;
		return;
	}
	b.vcpu = vm.vcpu;
	sem_init(&b.ready, 0, 0);
	if (spin && pthread_create(&stopper, NULL, burn_stopper, &b) != 0) {
		printf("%s=thread-failed\n", what);
		fflush(stdout);
		failed = 1;
		return;
	}
	t0 = mono_ns();
	if (spin) {
		sem_post(&b.ready);
		/* Runs until the stopper's hv_vcpu_interrupt. A run may also
		 * end early (VMX_REASON_IRQ for a host interrupt, which Apple
		 * documents and clients re-run): then run again. */
		do {
			r = hv_vcpu_run(b.vcpu);
			runs++;
		} while (r == HV_SUCCESS && !atomic_load(&b.fired));
		pthread_join(stopper, NULL);
	} else {
		do {
			r = hv_vcpu_run(b.vcpu);
			runs++;
		} while (r == HV_SUCCESS && mono_ns() - t0 < ms * 1000000ull);
	}
	t1 = mono_ns();
	hv_return_t e = hv_vcpu_get_exec_time(b.vcpu, &exec);
	if (r == HV_SUCCESS)
		r = e;
	printf("%s=%#x exec_ns=%llu wall_ns=%llu runs=%llu\n", what, (unsigned)r,
	       (unsigned long long)exec, (unsigned long long)(t1 - t0), (unsigned long long)runs);
	fflush(stdout);
	if (r != HV_SUCCESS)
		failed = 1;
	/* With --hold the vCPU stays, for hvctl show. */
	if (!hold)
		hv_vcpu_destroy(b.vcpu);
}

/* --touch: the guest's memory goes above 16 MiB, clear of sys_client's RAM. */
#define TOUCH_GPA 0x1000000ull

static void do_touch(uint64_t size, unsigned rounds)
{
	/* 1: mov byte [edi], 1; add edi, 4096; dec ecx; jnz 1b; out 0x10, al; hlt */
	static const uint8_t code[] = { 0xc6, 0x07, 0x01, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00,
					0x49, 0x75, 0xf4, 0xe6, 0x10, 0xf4 };
	struct sys_vm vm;
	uint8_t *mem = mmap(NULL, SYS_RAM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int step = mem == MAP_FAILED ? -1 : sys_vm_attach(&vm, mem, code, sizeof(code));
	if (!step)
		step = sys_vm_protected32(&vm);
	if (step) {
		printf("touch=setup-failed-%d\n", step);
		fflush(stdout);
		failed = 1;
		return;
	}
	hv_return_t r = HV_SUCCESS;
	unsigned done = 0;
	for (; done < rounds; done++) {
		uint32_t reason = 0;
		void *ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (ram == MAP_FAILED) {
			r = HV_NO_RESOURCES;
			break;
		}
		r = hv_vm_map(ram, TOUCH_GPA, size, HV_MEMORY_READ | HV_MEMORY_WRITE);
		if (r == HV_SUCCESS)
			r = hv_vcpu_write_register(vm.vcpu, HV_X86_RIP, SYS_CODE);
		if (r == HV_SUCCESS)
			r = hv_vcpu_write_register(vm.vcpu, HV_X86_RDI, TOUCH_GPA);
		if (r == HV_SUCCESS)
			r = hv_vcpu_write_register(vm.vcpu, HV_X86_RCX, size / 4096);
		if (r == HV_SUCCESS)
			r = sys_run(&vm, &reason);
		if (r == HV_SUCCESS && reason != VMX_REASON_IO) {
			fprintf(stderr, "policy_client: touch: exit reason %u, not an OUT\n",
				(unsigned)reason);
			r = HV_ERROR;
		}
		if (r == HV_SUCCESS)
			r = hv_vm_unmap(TOUCH_GPA, size);
		if (r != HV_SUCCESS)
			break;
		printf("touched=%u\n", done + 1);
		fflush(stdout);
	}
	printf("touch=%#x rounds=%u\n", (unsigned)r, done);
	fflush(stdout);
	if (r != HV_SUCCESS)
		failed = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: policy_client [--no-create] [--map SIZE]... [--vcpu] "
		"[--spin MS] [--outloop MS] [--touch SIZE ROUNDS] [--hold]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int create = 1;

	sem_init(&vcpu_done, 0, 0);

	/* First pass: options that change the start. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-create") == 0)
			create = 0;
		else if (strcmp(argv[i], "--hold") == 0)
			hold = 1;
		else if ((strcmp(argv[i], "--map") == 0 || strcmp(argv[i], "--spin") == 0 ||
			  strcmp(argv[i], "--outloop") == 0) && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--touch") == 0 && i + 2 < argc)
			i += 2;
		else if (strcmp(argv[i], "--vcpu") != 0)
			return usage();
	}
	if (create)
		report("create", hv_vm_create(HV_VM_DEFAULT));
	else
		do_cap();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--map") == 0) {
			uint64_t size = strtoull(argv[++i], NULL, 0);
			do_map(size, next_gpa);
			next_gpa += size;
		} else if (strcmp(argv[i], "--vcpu") == 0) {
			do_vcpu();
		} else if (strcmp(argv[i], "--spin") == 0) {
			do_burn("spin", strtoull(argv[++i], NULL, 0), true);
		} else if (strcmp(argv[i], "--outloop") == 0) {
			do_burn("outloop", strtoull(argv[++i], NULL, 0), false);
		} else if (strcmp(argv[i], "--touch") == 0) {
			uint64_t size = strtoull(argv[++i], NULL, 0);
			do_touch(size, (unsigned)strtoul(argv[++i], NULL, 0));
		}
	}
	if (!hold)
		return failed;

	printf("ready\n");
	fflush(stdout);
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long size, gpa;
		if (sscanf(line, "map %lli %lli", &size, &gpa) == 2)
			do_map(size, gpa);
		else if (strncmp(line, "vcpu", 4) == 0)
			do_vcpu();
		else if (strncmp(line, "create", 6) == 0)
			report("create", hv_vm_create(HV_VM_DEFAULT));
		else if (strncmp(line, "cap", 3) == 0)
			do_cap();
		else {
			printf("unknown=%s", line);
			fflush(stdout);
		}
	}
	return failed;
}
