/*
 * Does this host's KVM deliver a hardware breakpoint armed with
 * KVM_SET_GUEST_DEBUG to a guest? Measured on raw KVM, independently of
 * the backend: a real-mode `nop; out 0x10, al` with the breakpoint on the
 * OUT. Returns 1 (hit), 0 (missed: QEMU 7.2's nested SVM, see
 * docs/flavours.md) or -1 (KVM could not be asked). Shared by
 * tests/lab/kvm_facts.c and the conformance test that depends on it.
 */
#ifndef HVD_TESTS_KVM_HW_BREAKPOINT_H
#define HVD_TESTS_KVM_HW_BREAKPOINT_H

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static inline int kvm_hw_breakpoint_hit(void)
{
	static const uint8_t code[] = { 0x90, 0xe6, 0x10, 0xf4 };
	int kvm = -1, vm = -1, cpu = -1, r = -1;
	uint8_t *mem = MAP_FAILED;
	struct kvm_run *run = MAP_FAILED;
	int run_size = 0;
	struct kvm_sregs s;
	struct kvm_regs g;
	struct kvm_guest_debug d;

	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0 ||
	    (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		goto out;
	mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		goto out;
	memcpy(mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region m = {
		.slot = 0, .memory_size = 0x2000, .userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m) < 0 ||
	    (cpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0 ||
	    (run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		goto out;
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED || ioctl(cpu, KVM_GET_SREGS, &s) < 0)
		goto out;
	s.cs.base = 0;
	s.cs.selector = 0;
	memset(&g, 0, sizeof(g));
	g.rip = 0x1000;
	g.rflags = 2;
	memset(&d, 0, sizeof(d));
	d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
	d.arch.debugreg[0] = 0x1001;
	d.arch.debugreg[7] = 1; /* L0, execute */
	if (ioctl(cpu, KVM_SET_SREGS, &s) < 0 || ioctl(cpu, KVM_SET_REGS, &g) < 0 ||
	    ioctl(cpu, KVM_SET_GUEST_DEBUG, &d) < 0 || ioctl(cpu, KVM_RUN, 0) < 0)
		goto out;
	r = run->exit_reason == KVM_EXIT_DEBUG && run->debug.arch.pc == 0x1001;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (mem != MAP_FAILED)
		munmap(mem, 0x2000);
	if (cpu >= 0)
		close(cpu);
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	return r;
}

#endif
