/*
 * The host: one /dev/kvm handle, the capabilities the backend depends on,
 * and what a scratch VM showed about this KVM's exit flavour
 * (kvm-notes.md §0, §1): on PVM an OUT exit arrives with RIP already past
 * the instruction, on kvm_intel it arrives at the instruction with a pending
 * completion. The backend asks rather than assumes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvb_priv.h"

void hvb__log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hvb: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int hvb_kick_signal(void)
{
	/* A real-time signal far from the ones libc and common runtimes use. */
	return SIGRTMAX - 2;
}

static void kick_handler(int sig)
{
	(void)sig;
}

static int install_kick_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	/* SA_RESTART keeps a stray kick from failing the client's own system
	 * calls; KVM_RUN returns -EINTR regardless. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(hvb_kick_signal(), &sa, NULL) < 0)
		return -errno;
	return 0;
}

static int check_ext(int fd, long ext)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, ext);
	return r < 0 ? 0 : r;
}

/*
 * Run `out 0x10, al` in real mode in a scratch VM and see where RIP is at
 * the exit.
 */
static int probe_out_flavour(struct hvb_host *host)
{
	/* out 0x10,al; rdtsc; out 0x11,al; hlt */
	static const uint8_t code[] = { 0xe6, 0x10, 0x0f, 0x31, 0xe6, 0x11, 0xf4 };
	int vm = -1, vcpu = -1, r = 0;
	void *mem = MAP_FAILED;
	struct kvm_run *run = MAP_FAILED;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	vm = ioctl(host->kvm_fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		r = -errno;
		goto out;
	}
	mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	memcpy((uint8_t *)mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = 0x2000,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		r = -errno;
		goto out;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		r = -errno;
		goto out;
	}
	run = mmap(NULL, (size_t)host->info.vcpu_mmap_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	/* As every VM's vCPU 0 starts, before it runs: the power-on state
	 * (hvb_pool.c). A worker process inherits it with the host. */
	if (ioctl(vcpu, KVM_SET_CPUID2, host->cpuid) < 0 ||
	    (r = hvb__reset_capture(host, vcpu)) < 0) {
		r = r < 0 ? r : -errno;
		goto out;
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		r = -errno;
		goto out;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
		r = -errno;
		goto out;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		r = -errno;
		goto out;
	}
	if (ioctl(vcpu, KVM_RUN, 0) < 0) {
		r = -errno;
		goto out;
	}
	if (run->exit_reason != KVM_EXIT_IO) {
		hvb__log("probe: expected an I/O exit, got KVM exit %u", run->exit_reason);
		r = -EIO;
		goto out;
	}
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) {
		r = -errno;
		goto out;
	}
	host->info.out_rip_after = regs.rip == 0x1002;

	/* Can the guest TSC be moved (hv_vm_sync_tsc)? PVM ignores writes to
	 * IA32_TSC. */
	HVB_KVM_MSRS(1) tsc;
	memset(&tsc, 0, sizeof(tsc));
	tsc.h.nmsrs = 1;
	tsc.h.entries[0].index = 0x10;
	tsc.h.entries[0].data = 1ull << 60;
	if (ioctl(vcpu, KVM_SET_MSRS, &tsc.h) == 1 && ioctl(vcpu, KVM_RUN, 0) == 0 &&
	    run->exit_reason == KVM_EXIT_IO && run->io.port == 0x11 &&
	    ioctl(vcpu, KVM_GET_REGS, &regs) == 0)
		host->info.tsc_writable = regs.rdx >= (1ull << 28);

	/* Are hardware breakpoints armed through KVM_SET_GUEST_DEBUG hit?
	 * The real-mode trap needs one when client memory covers its
	 * address; QEMU 7.2's nested SVM never delivers it (docs/flavours.md).
	 * nop; out 0x12, al; hlt with the breakpoint on the OUT. The OUT
	 * above may still be pending: complete it first. */
	static const uint8_t bp_code[] = { 0x90, 0xe6, 0x12, 0xf4 };
	struct kvm_guest_debug dbg;
	memcpy((uint8_t *)mem + 0x1100, bp_code, sizeof(bp_code));
	run->immediate_exit = 1;
	(void)ioctl(vcpu, KVM_RUN, 0);
	run->immediate_exit = 0;
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1100;
	regs.rflags = 2;
	memset(&dbg, 0, sizeof(dbg));
	dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
	dbg.arch.debugreg[0] = 0x1101;
	dbg.arch.debugreg[7] = 0x1;
	host->info.hw_breakpoints =
		ioctl(vcpu, KVM_SET_REGS, &regs) == 0 &&
		ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg) == 0 &&
		ioctl(vcpu, KVM_RUN, 0) == 0 && run->exit_reason == KVM_EXIT_DEBUG &&
		run->debug.arch.pc == 0x1101;
	r = 0;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)host->info.vcpu_mmap_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (mem != MAP_FAILED)
		munmap(mem, 0x2000);
	return r;
}

static int load_cpuid(struct hvb_host *host)
{
	int n = 128;
	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = (uint32_t)n;
		if (ioctl(host->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			host->cpuid = c;
			return 0;
		}
		int err = errno;
		free(c);
		if (err != E2BIG || n >= 4096)
			return -err;
		n *= 2;
	}
}

int hvb_host_create(const char *dev_path, struct hvb_host **out)
{
	struct hvb_host *host;
	int r;

	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	host->kvm_fd = open(dev_path ? dev_path : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (host->kvm_fd < 0) {
		r = -errno;
		goto err_free;
	}
	host->info.api_version = ioctl(host->kvm_fd, KVM_GET_API_VERSION, 0);
	if (host->info.api_version != KVM_API_VERSION) {
		r = -ENODEV;
		goto err_close;
	}
	host->info.vcpu_mmap_size = ioctl(host->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (host->info.vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		r = -ENODEV;
		goto err_close;
	}
	/* Without these the VMX translation cannot be exact. */
	if ((check_ext(host->kvm_fd, KVM_CAP_SYNC_REGS) & 7) != 7 ||
	    !check_ext(host->kvm_fd, KVM_CAP_IMMEDIATE_EXIT) ||
	    !check_ext(host->kvm_fd, KVM_CAP_READONLY_MEM) ||
	    !check_ext(host->kvm_fd, KVM_CAP_VCPU_EVENTS) ||
	    !check_ext(host->kvm_fd, KVM_CAP_SET_GUEST_DEBUG)) {
		hvb__log("KVM lacks sync regs, immediate exit, read-only memory, "
			 "vCPU events or guest debug");
		r = -ENOTSUP;
		goto err_close;
	}
	host->info.msr_filter = check_ext(host->kvm_fd, KVM_CAP_X86_USER_SPACE_MSR) &&
				check_ext(host->kvm_fd, KVM_CAP_X86_MSR_FILTER);
	host->info.max_vcpus = (uint32_t)check_ext(host->kvm_fd, KVM_CAP_MAX_VCPUS);
	if (host->info.max_vcpus == 0 || host->info.max_vcpus > HVB_MAX_VCPUS)
		host->info.max_vcpus = HVB_MAX_VCPUS;
	host->info.max_vcpu_id = (uint32_t)check_ext(host->kvm_fd, KVM_CAP_MAX_VCPU_ID);
	if (host->info.max_vcpu_id == 0)
		host->info.max_vcpu_id = host->info.max_vcpus;
	host->info.nr_memslots = (uint32_t)check_ext(host->kvm_fd, KVM_CAP_NR_MEMSLOTS);
	if (host->info.nr_memslots == 0)
		host->info.nr_memslots = 32;
	host->info.xsave_size = sizeof(struct kvm_xsave);
	host->info.tsc_khz = 0;
	host->quirks2 = check_ext(host->kvm_fd, KVM_CAP_DISABLE_QUIRKS2) > 0;

	r = load_cpuid(host);
	if (r < 0)
		goto err_close;
	r = probe_out_flavour(host);
	if (r < 0)
		goto err_cpuid;
	r = install_kick_handler();
	if (r < 0)
		goto err_cpuid;
	*out = host;
	return 0;

err_cpuid:
	hvb__reset_free(host);
	free(host->cpuid);
err_close:
	close(host->kvm_fd);
err_free:
	free(host);
	return r;
}

void hvb_host_destroy(struct hvb_host *host)
{
	if (!host)
		return;
	hvb__reset_free(host);
	free(host->cpuid);
	close(host->kvm_fd);
	free(host);
}

const struct hvb_host_info *hvb_host_info(const struct hvb_host *host)
{
	return &host->info;
}
