/*
 * policy_client: a real libhvclient client for the policy tests, run under
 * whatever uid the test chose. It does what its arguments say, printing one
 * line per call with the hv_return_t the call returned:
 *
 *   policy_client [--no-create] [--map SIZE]... [--vcpu] [--hold]
 *
 *   (default)     hv_vm_create(HV_VM_DEFAULT)      -> "create=0x..."
 *   --no-create   connect only (hv_vmx_read_capability)   -> "cap=0x..."
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
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

static int failed;
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

static int usage(void)
{
	fprintf(stderr, "usage: policy_client [--no-create] [--map SIZE]... [--vcpu] [--hold]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int create = 1, hold = 0;

	sem_init(&vcpu_done, 0, 0);

	/* First pass: options that change the start. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-create") == 0)
			create = 0;
		else if (strcmp(argv[i], "--hold") == 0)
			hold = 1;
		else if (strcmp(argv[i], "--map") == 0 && i + 1 < argc)
			i++;
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
