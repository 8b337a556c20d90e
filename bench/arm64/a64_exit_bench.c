/*
 * The MMIO exit round trip on KVM/arm64: a raw KVM_RUN loop against
 * Apple's API in-process (libhvdirect's arm64 path), measured side by side
 * in one run; only the ratio means anything in the emulated lab.
 *
 *   aarch64-linux-gnu-gcc -static -O2 -std=gnu11 -D_GNU_SOURCE -Ia64 -Iapi -Ibackend \
 *     -Iclient/include a64/ha64_*.c backend/hvb64.c api/hva64_api.c direct/hv_direct64.c \
 *     bench/arm64/a64_exit_bench.c -lpthread -o a64_exit_bench
 *   scripts/lab.sh arm64 run -- "$PWD/a64_exit_bench" [iterations]
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <Hypervisor/Hypervisor.h>

static const uint32_t loop[] = {
	0xf9000041, /* 1: str x1, [x2] */
	0x17ffffff, /* b 1b */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_reg(int fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };
	return ioctl(fd, KVM_SET_ONE_REG, &r);
}

static double raw(long n)
{
	int kvm = open("/dev/kvm", O_RDWR), vm = ioctl(kvm, KVM_CREATE_VM, 0);
	void *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(mem, loop, sizeof(loop));
	struct kvm_userspace_memory_region reg = { .slot = 0, .guest_phys_addr = 0x10000,
						   .memory_size = 0x10000,
						   .userspace_addr = (uint64_t)(uintptr_t)mem };
	ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg);
	int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	struct kvm_vcpu_init init;
	ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init);
	ioctl(cpu, KVM_ARM_VCPU_INIT, &init);
	struct kvm_run *run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0),
				   PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	set_reg(cpu, 0x6030000000100040ull, 0x10000);          /* PC */
	set_reg(cpu, 0x6030000000100000ull + 4, 0x9000000);    /* x2 */
	double t0 = now();
	for (long i = 0; i < n; i++)
		if (ioctl(cpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_MMIO)
			return -1;
	double t = (now() - t0) / (double)n;
	close(cpu);
	close(vm);
	close(kvm);
	return t;
}

static double api(long n)
{
	void *mem;
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;
	if (hv_vm_create(NULL) || hv_vm_allocate(&mem, 0x10000, HV_ALLOCATE_DEFAULT))
		return -1;
	memcpy(mem, loop, sizeof(loop));
	hv_vm_map(mem, 0x10000, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC);
	hv_vcpu_create(&vcpu, &exit, NULL);
	hv_vcpu_set_reg(vcpu, HV_REG_PC, 0x10000);
	hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5);
	hv_vcpu_set_reg(vcpu, HV_REG_X2, 0x9000000);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		uint64_t pc;
		if (hv_vcpu_run(vcpu) || exit->reason != HV_EXIT_REASON_EXCEPTION)
			return -1;
		hv_vcpu_get_reg(vcpu, HV_REG_PC, &pc); /* the client completes the store */
		hv_vcpu_set_reg(vcpu, HV_REG_PC, pc + 4);
	}
	double t = (now() - t0) / (double)n;
	hv_vcpu_destroy(vcpu);
	hv_vm_destroy();
	return t;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	double r1 = raw(n), a1 = api(n), r2 = raw(n), a2 = api(n);
	if (r1 < 0 || a1 < 0 || r2 < 0 || a2 < 0) {
		printf("a64_exit_bench: a run failed\n");
		return 1;
	}
	double r = (r1 + r2) / 2, a = (a1 + a2) / 2;
	printf("a64_exit_bench: %ld MMIO exits each: raw KVM_RUN %.1f us, Apple API in-process %.1f us, "
	       "ratio %.2f\n", n, r * 1e6, a * 1e6, a / r);
	return 0;
}
