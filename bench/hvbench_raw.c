/*
 * hvbench-raw: the baseline, an in-process KVM_RUN loop with no
 * Hypervisor.framework layer. It opens /dev/kvm itself, backs the guest
 * with anonymous memory, starts the same real-mode guest as the API
 * programs and reads each exit the way the backend does: kvm_run sync
 * regs (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS), so reading RAX/RIP costs
 * no ioctl. On this PVM host an OUT exit already has RIP past the
 * instruction (kvm-notes.md §1) and on kvm_intel the pending completion
 * steps it, so the loop just re-enters.
 *
 * `exits N --hw-bp` adds one thing the backend does for every real-mode
 * vCPU: a hardware execute breakpoint armed with KVM_SET_GUEST_DEBUG
 * (the hidden IVT trap, kvm-notes.md §3), on an address this guest never
 * reaches. It isolates what that costs per exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvbench.h"

static int kvm_fd = -1;
static size_t run_size;

struct vm {
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	void *ram;
	size_t size;
};

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		hvbench_die("%s: %s", what, strerror(errno));
	return r;
}

static void kvm_open(void)
{
	if (kvm_fd >= 0)
		return;
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		hvbench_die("/dev/kvm: %s", strerror(errno));
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		hvbench_die("unexpected KVM API version");
	int sync = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	if (sync < 0 || (sync & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) !=
			(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS))
		hvbench_die("KVM_CAP_SYNC_REGS lacks REGS|SREGS");
	run_size = (size_t)xioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");
}

/* One exit round trip: KVM_RUN, check the exit, read RAX and RIP from the
 * sync regs. Returns RAX so the compiler keeps the read. */
static inline uint64_t round_trip(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	while (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
		if (errno != EINTR && errno != EAGAIN)
			hvbench_die("KVM_RUN: %s", strerror(errno));
	}
	uint64_t rax = run->s.regs.regs.rax;
	uint64_t rip = run->s.regs.regs.rip;
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != HVBENCH_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT || (rax & 0xff) != HVBENCH_AL)
		hvbench_die("unexpected exit: reason %u port 0x%x rax 0x%llx rip 0x%llx",
			    run->exit_reason, run->io.port, (unsigned long long)rax,
			    (unsigned long long)rip);
	return rax + rip;
}

static void set_real_seg(struct kvm_segment *s, int code)
{
	s->base = 0;
	s->selector = 0;
	s->limit = 0xffff;
	s->type = code ? 0xb : 0x3;
	s->present = 1;
	s->dpl = 0;
	s->db = 0;
	s->s = 1;
	s->l = 0;
	s->g = 0;
	s->unusable = 0;
}

/* The backend's hidden-IVT trap: KVM_GUESTDBG_USE_HW_BP, DR0 = a linear
 * address, DR7 = L0 execute. 0x7000 is never executed by this guest. */
static void arm_hw_bp(struct vm *vm)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof(dbg));
	dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
	dbg.arch.debugreg[0] = 0x7000;
	dbg.arch.debugreg[7] = 0x1;
	xioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg, "KVM_SET_GUEST_DEBUG");
}

/* KVM_CREATE_VM + anonymous memory + memslot + KVM_CREATE_VCPU + real-mode
 * setup + first KVM_RUN: everything "create" times. */
/* When each step of the last vm_up ended, as hvbench_api.c has them. */
enum { STEP_VM, STEP_MAP, STEP_VCPU, STEP_SETUP, STEP_RUN, NSTEPS };
static const char *const step_name[NSTEPS] = { "vm_create", "map", "vcpu_create", "setup", "first_run" };
static uint64_t step_end[NSTEPS];

static void vm_up(struct vm *vm, size_t size)
{
	kvm_open();
	vm->vm_fd = xioctl(kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	step_end[STEP_VM] = hvbench_now_ns();
	vm->size = size;
	vm->ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED)
		hvbench_die("mmap guest RAM: %s", strerror(errno));
	hvbench_load_guest(vm->ram);
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = size,
		.userspace_addr = (uintptr_t)vm->ram,
	};
	xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
	step_end[STEP_MAP] = hvbench_now_ns();
	vm->vcpu_fd = xioctl(vm->vm_fd, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	vm->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		hvbench_die("mmap kvm_run: %s", strerror(errno));
	step_end[STEP_VCPU] = hvbench_now_ns();

	struct kvm_sregs sregs;
	xioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	set_real_seg(&sregs.cs, 1);
	set_real_seg(&sregs.ds, 0);
	set_real_seg(&sregs.es, 0);
	set_real_seg(&sregs.fs, 0);
	set_real_seg(&sregs.gs, 0);
	set_real_seg(&sregs.ss, 0);
	xioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	struct kvm_regs regs = {
		.rip = HVBENCH_LOAD_ADDR,
		.rflags = 0x2,
		.rsp = 0x8000,
	};
	xioctl(vm->vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	step_end[STEP_SETUP] = hvbench_now_ns();
	(void)round_trip(vm);
	step_end[STEP_RUN] = hvbench_now_ns();
}

static void vm_down(struct vm *vm)
{
	munmap(vm->run, run_size);
	close(vm->vcpu_fd);
	close(vm->vm_fd);
	munmap(vm->ram, vm->size);
}

int main(int argc, char **argv)
{
	struct hvbench_args a;
	struct vm vm;
	volatile uint64_t sink = 0;

	hvbench_parse(argc, argv, "hvbench-raw", &a);
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (a.mode) {
	case HVBENCH_EXITS: {
		vm_up(&vm, HVBENCH_EXIT_RAM);
		if (a.hw_bp)
			arm_hw_bp(&vm);
		for (unsigned i = 0; i < HVBENCH_WARMUP; i++)
			sink += round_trip(&vm);
		uint64_t t0 = hvbench_now_ns();
		for (unsigned long i = 0; i < a.count; i++)
			sink += round_trip(&vm);
		uint64_t t1 = hvbench_now_ns();
		printf("exit_us %.4f\n", (double)(t1 - t0) / 1e3 / (double)a.count);
		vm_down(&vm);
		break;
	}
	case HVBENCH_REGS:
		hvbench_die("regs: not applicable to raw KVM (sync regs are plain memory)");
	case HVBENCH_CREATE:
		for (unsigned long i = 0; i < a.count; i++) {
			uint64_t t0 = hvbench_now_ns();
			vm_up(&vm, HVBENCH_CREATE_RAM);
			uint64_t t1 = hvbench_now_ns();
			printf("create_us %lu %.2f\n", i, (double)(t1 - t0) / 1e3);
			for (unsigned k = 0; k < NSTEPS; k++)
				printf("step_us %lu %s %.2f\n", i, step_name[k],
				       (double)(step_end[k] - (k ? step_end[k - 1] : t0)) / 1e3);
			vm_down(&vm);
		}
		break;
	}
	(void)sink;
	return 0;
}
