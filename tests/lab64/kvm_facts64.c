/*
 * kvm_facts64: raw KVM/arm64 measured in the arm64 lab host
 * (scripts/lab.sh arm64 test), as the arm64 backend will use it.
 *
 * A VM at the host's largest IPA size, one vCPU (the preferred target),
 * guest memory holding a few instruction words written here, PC and
 * PSTATE set through ONE_REG. The guest stores x1 to an unmapped IPA
 * (KVM_EXIT_MMIO: address, length, direction and data are checked),
 * makes `hvc #0` and stores x0 to a second unmapped IPA, so that what the
 * HVC returned is seen. A second VM does the same with the SMCCC filter
 * forwarding every non-architecture function ID to user space: the HVC
 * must then reach here as KVM_EXIT_HYPERCALL with nr = x0, and the value
 * written back to x0 must be what the guest stores.
 *
 * One line per fact, "fact NAME VALUE". Exits 1 when KVM misbehaves, 2
 * when the test cannot be set up. Static, plain C: the lab host's root
 * file system is x86 and has no arm64 libraries.
 */
/* MAP_ANONYMOUS, O_CLOEXEC: built with -std=c11 outside CMake. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* 6.4+ uAPI, missing from the cross toolchain's (6.1) headers. */
#ifndef KVM_CAP_COUNTER_OFFSET
#define KVM_CAP_COUNTER_OFFSET 227
#endif
#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL 0
#define KVM_ARM_VM_SMCCC_FILTER 0
#define KVM_SMCCC_FILTER_FWD_TO_USER 2
struct kvm_smccc_filter {
	__u32 base;
	__u32 nr_functions;
	__u8 action;
	__u8 pad[15];
};
#endif
#ifndef KVM_HYPERCALL_EXIT_SMC
#define KVM_HYPERCALL_EXIT_SMC (1u << 0)
#endif

#define MEM_IPA 0x10000u
#define MEM_SIZE 0x10000u
#define MMIO_X1 0x20000000u /* where the guest stores x1: unmapped */
#define MMIO_X0 0x20001000u /* where it stores x0 after the HVC */
#define GUEST_X1 0x1234u
#define HVC_NR 0xc3000001u /* an SMC64 OEM service call: not architectural */
#define HVC_RET 0x5678u
#define X3_MARK 0xdeadu /* x3 before the HVC: does the answer clobber it? */

/* The guest: movz x1, #0x1234; str x1, [x2]; hvc #0; str x0, [x4]; b .
 * x4, not x3: an SMCCC call answered in the kernel returns x0-x3 (an
 * unknown ID sets x1-x3 to 0); x4-x17 are preserved (SMCCC 1.1). */
static const uint32_t guest_code[] = {
	0xd2800000u | (GUEST_X1 << 5) | 1u,
	0xf9000041u,
	0xd4000002u,
	0xf9000080u,
	0x14000000u,
};

#define CORE_REG(field)                                                  \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |           \
	 (offsetof(struct kvm_regs, field) / sizeof(__u32)))

struct guest {
	int vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static int kvm_fd;
static int failures;

static void die(const char *what)
{
	fprintf(stderr, "a64_kvm_facts: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void check(int ok, const char *what)
{
	printf("check %s %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failures++;
}

static void set_reg(const struct guest *g, uint64_t id, uint64_t value)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&value };

	if (ioctl(g->vcpu, KVM_SET_ONE_REG, &r) < 0)
		die("KVM_SET_ONE_REG");
}

static uint64_t get_reg(const struct guest *g, uint64_t id)
{
	uint64_t value = 0;
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&value };

	if (ioctl(g->vcpu, KVM_GET_ONE_REG, &r) < 0)
		die("KVM_GET_ONE_REG");
	return value;
}

static int vm_create(int ipa_bits)
{
	/* Type 0 is the 40-bit default; a size asks for that many bits. */
	int vm = ioctl(kvm_fd, KVM_CREATE_VM,
		       ipa_bits > 0 ? KVM_VM_TYPE_ARM_IPA_SIZE(ipa_bits) : 0);

	if (vm < 0)
		die("KVM_CREATE_VM");
	return vm;
}

/* vCPU, memory, code and registers of a VM already created. */
static void guest_start(struct guest *g)
{
	struct kvm_vcpu_init init;
	long run_size;

	g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0);
	if (g->vcpu < 0)
		die("KVM_CREATE_VCPU");
	if (ioctl(g->vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		die("KVM_ARM_PREFERRED_TARGET");
	if (ioctl(g->vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		die("KVM_ARM_VCPU_INIT");
	g->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED)
		die("mmap");
	memcpy(g->mem, guest_code, sizeof guest_code);
	struct kvm_userspace_memory_region m = {
		.slot = 0,
		.guest_phys_addr = MEM_IPA,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)g->mem,
	};
	if (ioctl(g->vm, KVM_SET_USER_MEMORY_REGION, &m) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE");
	g->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, g->vcpu, 0);
	if (g->run == MAP_FAILED)
		die("mmap kvm_run");
	set_reg(g, CORE_REG(regs.pc), MEM_IPA);
	set_reg(g, CORE_REG(regs.pstate), 0x3c5); /* EL1h, DAIF masked */
	set_reg(g, CORE_REG(regs.regs[0]), HVC_NR);
	set_reg(g, CORE_REG(regs.regs[2]), MMIO_X1);
	set_reg(g, CORE_REG(regs.regs[3]), X3_MARK);
	set_reg(g, CORE_REG(regs.regs[4]), MMIO_X0);
}

static void guest_run(const struct guest *g)
{
	if (ioctl(g->vcpu, KVM_RUN, 0) < 0)
		die("KVM_RUN");
}

/* The exit must be an 8-byte store of want to ipa. */
static void check_store(const struct guest *g, const char *name, uint64_t ipa,
			uint64_t want)
{
	char what[96];
	uint64_t data = 0;

	snprintf(what, sizeof what, "%s.exit_mmio", name);
	check(g->run->exit_reason == KVM_EXIT_MMIO, what);
	if (g->run->exit_reason != KVM_EXIT_MMIO) {
		printf("fact %s.exit_reason %u\n", name, g->run->exit_reason);
		return;
	}
	memcpy(&data, g->run->mmio.data, sizeof data);
	printf("fact %s.mmio %#llx len %u write %u data %#llx\n", name,
	       (unsigned long long)g->run->mmio.phys_addr, g->run->mmio.len,
	       g->run->mmio.is_write, (unsigned long long)data);
	snprintf(what, sizeof what, "%s.mmio_fields", name);
	check(g->run->mmio.phys_addr == ipa && g->run->mmio.len == 8 &&
		      g->run->mmio.is_write && data == want,
	      what);
}

static void close_guest(struct guest *g)
{
	close(g->vcpu);
	close(g->vm);
	munmap(g->mem, MEM_SIZE);
}

static int vm_cap(int vm, long cap)
{
	return ioctl(vm, KVM_CHECK_EXTENSION, cap);
}

/* The SMCCC filter: every function ID outside the architecture ranges
 * (which KVM keeps to itself) forwarded to user space. */
static int install_filter(int vm)
{
	static const struct {
		uint32_t base, n;
	} ranges[] = {
		{ 0x00000000u, 0x80000000u },
		{ 0x80010000u, 0x3fff0000u },
		{ 0xc0010000u, 0x3fff0000u },
	};

	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		struct kvm_smccc_filter f = {
			.base = ranges[i].base,
			.nr_functions = ranges[i].n,
			.action = KVM_SMCCC_FILTER_FWD_TO_USER,
		};
		struct kvm_device_attr a = {
			.group = KVM_ARM_VM_SMCCC_CTRL,
			.attr = KVM_ARM_VM_SMCCC_FILTER,
			.addr = (uint64_t)(uintptr_t)&f,
		};
		if (ioctl(vm, KVM_SET_DEVICE_ATTR, &a) < 0) {
			printf("fact smccc_filter.install_error %s (range %#x+%#x)\n",
			       strerror(errno), ranges[i].base, ranges[i].n);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	struct guest g;
	int ipa_bits, has_filter;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm");
	printf("fact api_version %d\n", ioctl(kvm_fd, KVM_GET_API_VERSION, 0));
	ipa_bits = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	printf("fact ipa_size.max %d\n", ipa_bits);

	/* VM 1: no filter; the HVC is KVM's own (SMCCC in the kernel). */
	g.vm = vm_create(ipa_bits);
	printf("fact cap.arm_user_irq %d\n", vm_cap(g.vm, KVM_CAP_ARM_USER_IRQ));
	printf("fact cap.arm_nisv_to_user %d\n",
	       vm_cap(g.vm, KVM_CAP_ARM_NISV_TO_USER));
	printf("fact cap.counter_offset %d\n",
	       vm_cap(g.vm, KVM_CAP_COUNTER_OFFSET));
	struct kvm_device_attr fa = { .group = KVM_ARM_VM_SMCCC_CTRL,
				      .attr = KVM_ARM_VM_SMCCC_FILTER };
	has_filter = ioctl(g.vm, KVM_HAS_DEVICE_ATTR, &fa) == 0;
	printf("fact smccc_filter %s\n", has_filter ? "yes" : "no");
	guest_start(&g);
	guest_run(&g);
	check_store(&g, "store", MMIO_X1, GUEST_X1);
	printf("fact store.pc_at_exit %#llx\n",
	       (unsigned long long)get_reg(&g, CORE_REG(regs.pc)));
	/* The next run completes the store, the HVC is answered in the
	 * kernel (an unknown ID: SMCCC's NOT_SUPPORTED, -1) and x0 is
	 * stored. */
	guest_run(&g);
	check_store(&g, "hvc_in_kernel", MMIO_X0, UINT64_MAX);
	printf("fact hvc_in_kernel.x3_after %#llx\n",
	       (unsigned long long)get_reg(&g, CORE_REG(regs.regs[3])));
	close_guest(&g);

	/* VM 2: the filter forwards the HVC to user space. */
	if (has_filter) {
		g.vm = vm_create(ipa_bits);
		int installed = install_filter(g.vm) == 0;
		check(installed, "smccc_filter.install");
		guest_start(&g);
		guest_run(&g);
		check_store(&g, "filtered.store", MMIO_X1, GUEST_X1);
		if (installed) {
			guest_run(&g);
			check(g.run->exit_reason == KVM_EXIT_HYPERCALL,
			      "filtered.exit_hypercall");
			if (g.run->exit_reason == KVM_EXIT_HYPERCALL) {
				uint64_t flags, pc = get_reg(&g, CORE_REG(regs.pc));
				/* 6.12's flags overlay 6.1's longmode+pad. */
				memcpy(&flags, &g.run->hypercall.longmode, sizeof flags);
				printf("fact hypercall.nr %#llx flags %#llx smc %d\n",
				       (unsigned long long)g.run->hypercall.nr,
				       (unsigned long long)flags,
				       !!(flags & KVM_HYPERCALL_EXIT_SMC));
				printf("fact hypercall.pc %s\n",
				       pc == MEM_IPA + 12 ? "after"
				       : pc == MEM_IPA + 8 ? "at" : "elsewhere");
				check(g.run->hypercall.nr == HVC_NR &&
					      !(flags & KVM_HYPERCALL_EXIT_SMC),
				      "filtered.hypercall_nr");
				/* User space answers by writing x0 itself. */
				set_reg(&g, CORE_REG(regs.regs[0]), HVC_RET);
				guest_run(&g);
				check_store(&g, "filtered.hvc_return", MMIO_X0,
					    HVC_RET);
				/* Forwarded: only what user space writes changes. */
				check(get_reg(&g, CORE_REG(regs.regs[3])) == X3_MARK,
				      "filtered.x3_preserved");
			}
		}
		close_guest(&g);
	}
	printf("fact failures %d\n", failures);
	return failures ? 1 : 0;
}
