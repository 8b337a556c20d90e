/*
 * The exit round trip on KVM/arm64, three ways side by side in one run: a
 * raw KVM_RUN loop, Apple's API in-process (libhvdirect) and Apple's API
 * through hvd (libhvclient). Both libraries are loaded with dlopen into
 * this one process (each keeps its own VM), so the rounds interleave and
 * the machine's noise falls on all three alike; only the ratios mean
 * anything in the emulated lab. Two exits: an MMIO store (a data abort the
 * client completes by advancing PC; KVM's own completion run is part of
 * its cost, docs/arm64.md) and an HVC.
 *
 *   scripts/lab.sh arm64 run -- "$PWD/build-arm64/bench/arm64/a64_exit_bench" [exits [rounds]]
 *
 * (lab.sh cross-builds build-arm64 and starts hvd with HVD_SOCKET set.)
 */
#include <dlfcn.h>
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

#include "hvb64_uapi.h" /* the SMCCC filter, newer than the build headers */

#define RAM 0x10000ull
#define MMIO 0x9000000ull
#define MAX_ROUNDS 16

/* 1: str x1, [x2]; b 1b  -- and at +0x100: 2: hvc #0; b 2b */
static const uint32_t mmio_loop[] = { 0xf9000041, 0x17ffffff };
static const uint32_t hvc_loop[] = { 0xd4000002, 0x17ffffff };

enum exit_kind { EXIT_MMIO, EXIT_HVC };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void guest_code(void *mem)
{
	memcpy(mem, mmio_loop, sizeof(mmio_loop));
	memcpy((char *)mem + 0x100, hvc_loop, sizeof(hvc_loop));
}

/* ---- raw KVM ---- */

struct raw {
	int kvm, vm, cpu;
	struct kvm_run *run;
};

static int set_one(int fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };
	return ioctl(fd, KVM_SET_ONE_REG, &r);
}

#define REG_X(n) (0x6030000000100000ull + 2u * (n))
#define REG_PC 0x6030000000100040ull

static int raw_up(struct raw *r)
{
	r->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	r->vm = ioctl(r->kvm, KVM_CREATE_VM, 0);
	void *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->kvm < 0 || r->vm < 0 || mem == MAP_FAILED)
		return -1;
	guest_code(mem);
	struct kvm_userspace_memory_region reg = { .slot = 0, .guest_phys_addr = RAM,
						   .memory_size = 0x10000,
						   .userspace_addr = (uint64_t)(uintptr_t)mem };
	struct kvm_vcpu_init init;
	if (ioctl(r->vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0 ||
	    (r->cpu = ioctl(r->vm, KVM_CREATE_VCPU, 0)) < 0 ||
	    ioctl(r->vm, KVM_ARM_PREFERRED_TARGET, &init) < 0 ||
	    ioctl(r->cpu, KVM_ARM_VCPU_INIT, &init) < 0)
		return -1;
	r->run = mmap(NULL, (size_t)ioctl(r->kvm, KVM_GET_VCPU_MMAP_SIZE, 0),
		      PROT_READ | PROT_WRITE, MAP_SHARED, r->cpu, 0);
	return r->run == MAP_FAILED ? -1 : set_one(r->cpu, REG_X(2), MMIO);
}

/* Without the SMCCC filter an HVC never reaches user space on raw KVM
 * (KVM answers it): the raw HVC loop uses KVM_ARM_VM_SMCCC_FILTER too. */
static int raw_hvc_filter(struct raw *r)
{
	struct kvm_smccc_filter f = { .base = 0, .nr_functions = 0x80000000u,
				      .action = KVM_SMCCC_FILTER_FWD_TO_USER };
	struct kvm_device_attr a = { .group = KVM_ARM_VM_SMCCC_CTRL,
				     .attr = KVM_ARM_VM_SMCCC_FILTER,
				     .addr = (uint64_t)(uintptr_t)&f };
	return ioctl(r->vm, KVM_SET_DEVICE_ATTR, &a);
}

static double raw_loop(struct raw *r, enum exit_kind k, long n)
{
	if (set_one(r->cpu, REG_PC, k == EXIT_MMIO ? RAM : RAM + 0x100) < 0)
		return -1;
	unsigned want = k == EXIT_MMIO ? KVM_EXIT_MMIO : KVM_EXIT_HYPERCALL;
	double t0 = now();
	for (long i = 0; i < n; i++)
		if (ioctl(r->cpu, KVM_RUN, 0) < 0 || r->run->exit_reason != want)
			return -1;
	return (now() - t0) / (double)n;
}

/* ---- Apple's API, from one of the two libraries ---- */

struct api {
	const char *name;
	void *lib;
	hv_return_t (*vm_create)(hv_vm_config_t);
	hv_return_t (*vm_allocate)(void **, size_t, hv_allocate_flags_t);
	hv_return_t (*vm_map)(void *, hv_ipa_t, size_t, hv_memory_flags_t);
	hv_return_t (*vcpu_create)(hv_vcpu_t *, hv_vcpu_exit_t **, hv_vcpu_config_t);
	hv_return_t (*get_reg)(hv_vcpu_t, hv_reg_t, uint64_t *);
	hv_return_t (*set_reg)(hv_vcpu_t, hv_reg_t, uint64_t);
	hv_return_t (*run)(hv_vcpu_t);
	hv_vcpu_t vcpu;
	hv_vcpu_exit_t *exit;
};

static int api_load(struct api *a, const char *name, const char *path)
{
	a->name = name;
	a->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!a->lib) {
		fprintf(stderr, "a64_exit_bench: %s\n", dlerror());
		return -1;
	}
#define SYM(field, sym) if (!(*(void **)&a->field = dlsym(a->lib, #sym))) return -1
	SYM(vm_create, hv_vm_create);
	SYM(vm_allocate, hv_vm_allocate);
	SYM(vm_map, hv_vm_map);
	SYM(vcpu_create, hv_vcpu_create);
	SYM(get_reg, hv_vcpu_get_reg);
	SYM(set_reg, hv_vcpu_set_reg);
	SYM(run, hv_vcpu_run);
#undef SYM
	void *mem;
	if (a->vm_create(NULL) || a->vm_allocate(&mem, 0x10000, HV_ALLOCATE_DEFAULT))
		return -1;
	guest_code(mem);
	if (a->vm_map(mem, RAM, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC) ||
	    a->vcpu_create(&a->vcpu, &a->exit, NULL) ||
	    a->set_reg(a->vcpu, HV_REG_CPSR, 0x3c5) || a->set_reg(a->vcpu, HV_REG_X2, MMIO))
		return -1;
	return 0;
}

static double api_loop(struct api *a, enum exit_kind k, long n)
{
	if (a->set_reg(a->vcpu, HV_REG_PC, k == EXIT_MMIO ? RAM : RAM + 0x100))
		return -1;
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if (a->run(a->vcpu) || a->exit->reason != HV_EXIT_REASON_EXCEPTION)
			return -1;
		if (k == EXIT_MMIO) {
			/* The client completes the store, as on macOS. */
			uint64_t pc;
			a->get_reg(a->vcpu, HV_REG_PC, &pc);
			a->set_reg(a->vcpu, HV_REG_PC, pc + 4);
		}
	}
	return (now() - t0) / (double)n;
}

static int cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	struct raw raw;
	struct api direct, hvd;

	if (n <= 0 || rounds <= 0 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: a64_exit_bench [exits > 0 [rounds 1..%d]]\n", MAX_ROUNDS);
		return 2;
	}
	if (raw_up(&raw) < 0 || raw_hvc_filter(&raw) < 0) {
		perror("a64_exit_bench: raw KVM set-up");
		return 1;
	}
	if (api_load(&direct, "libhvdirect", HVD_BENCH_HVDIRECT) < 0 ||
	    api_load(&hvd, "libhvclient", HVD_BENCH_HVCLIENT) < 0) {
		fprintf(stderr, "a64_exit_bench: Apple's API set-up failed (is hvd running? "
			"HVD_SOCKET)\n");
		return 1;
	}
	static const char *const kinds[] = { "MMIO store", "HVC" };
	for (int k = EXIT_MMIO; k <= EXIT_HVC; k++) {
		double t[3][MAX_ROUNDS];
		for (int i = 0; i < rounds; i++) {
			t[0][i] = raw_loop(&raw, k, n);
			t[1][i] = api_loop(&direct, k, n);
			t[2][i] = api_loop(&hvd, k, n);
			if (t[0][i] < 0 || t[1][i] < 0 || t[2][i] < 0) {
				fprintf(stderr, "a64_exit_bench: a %s run failed\n", kinds[k]);
				return 1;
			}
		}
		double r = median(t[0], rounds), d = median(t[1], rounds), h = median(t[2], rounds);
		printf("a64_exit_bench: %s exit, median of %d rounds of %ld: raw KVM_RUN %.1f us, "
		       "libhvdirect %.1f us, hvd (libhvclient) %.1f us; ratio to raw: direct %.2f, "
		       "hvd %.2f; hvd/direct %.2f\n",
		       kinds[k], rounds, n, r * 1e6, d * 1e6, h * 1e6, d / r, h / r, h / d);
	}
	return 0;
}
