/*
 * kvm_keyhold: hold one vCPU without an in-kernel local APIC until killed.
 *
 * KVM counts such vCPUs in a static key (kvm_has_noapic_vcpu, Linux 6.1),
 * and flips it, patching kernel text with INT3 breakpoints on every CPU,
 * whenever the first one is created or the last one destroyed: for hvd's
 * tests, twice per test. Under QEMU's multi-threaded TCG with two emulated
 * CPUs that patching now and then locks up the whole test host (both CPUs
 * spinning in exc_int3 or at one page-crossing instruction, interrupts
 * off; docs/lab.md). scripts/lab.sh starts this program first in its test
 * hosts so that the key never returns to zero and the text is never
 * patched during the tests. It changes nothing else: hvd's own VMs have
 * no in-kernel LAPIC either.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	int vcpu = vm < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);

	if (vcpu < 0) {
		perror("kvm_keyhold");
		return 1;
	}
	for (;;)
		pause();
}
