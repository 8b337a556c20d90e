/*
 * kvm_facts: what this host's KVM does at each kind of exit the backend
 * translates, measured on raw KVM with tiny real-mode guests, next to the
 * answer of the backend's own host probe (hvb_host_create).
 *
 * One line per fact, "fact NAME VALUE". For an exit: where RIP is when it
 * reaches user space ("at" the instruction or "after" it), and whether a
 * completion is still pending (a KVM_RUN with immediate_exit set moves
 * RIP past the instruction). Run by ctest on this machine and by
 * scripts/lab.sh on the others; docs/flavours.md records the answers.
 * Exits 1 when the probe disagrees with what was measured here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvb.h"
#include "kvm_hw_breakpoint.h"

#define CODE 0x1000u
#define MEM_SIZE 0x4000u
#define MMIO_GPA 0x8000u

struct guest {
	int vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
};

static int kvm_fd;

static void die(const char *what)
{
	fprintf(stderr, "kvm_facts: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void guest_start(struct guest *g, const uint8_t *code, size_t len)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	g->vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (g->vm < 0)
		die("KVM_CREATE_VM");
	g->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED)
		die("mmap");
	memset(g->mem + CODE, 0xf4, 0x100); /* hlt after everything */
	memcpy(g->mem + CODE, code, len);
	struct kvm_userspace_memory_region m = {
		.slot = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)g->mem,
	};
	if (ioctl(g->vm, KVM_SET_USER_MEMORY_REGION, &m) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0);
	if (g->vcpu < 0)
		die("KVM_CREATE_VCPU");
	int sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	g->run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
	if (g->run == MAP_FAILED)
		die("mmap kvm_run");
	if (ioctl(g->vcpu, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS");
	s.cs.base = 0;
	s.cs.selector = 0;
	s.ds.base = 0;
	s.ds.selector = 0;
	if (ioctl(g->vcpu, KVM_SET_SREGS, &s) < 0)
		die("KVM_SET_SREGS");
	memset(&r, 0, sizeof(r));
	r.rip = CODE;
	r.rflags = 2;
	r.rax = 0x5a;
	if (ioctl(g->vcpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
}

static void guest_stop(struct guest *g)
{
	close(g->vcpu);
	close(g->vm);
	munmap(g->mem, MEM_SIZE);
}

static uint64_t rip(struct guest *g)
{
	struct kvm_regs r;
	if (ioctl(g->vcpu, KVM_GET_REGS, &r) < 0)
		die("KVM_GET_REGS");
	return r.rip;
}

static const char *where(uint64_t at, unsigned len, uint64_t r)
{
	return r == CODE + at ? "at" : r == CODE + at + len ? "after" : "elsewhere";
}

/* RIP after a KVM_RUN that only completes what is pending. */
static uint64_t complete(struct guest *g)
{
	g->run->immediate_exit = 1;
	int r = ioctl(g->vcpu, KVM_RUN, 0);
	g->run->immediate_exit = 0;
	if (r == 0 || errno != EINTR)
		printf("fact note immediate_exit_run_gave_%d_exit_%u\n", r, g->run->exit_reason);
	return rip(g);
}

/* One instruction of LEN bytes at CODE that exits with REASON. */
static void exit_fact(const char *name, const uint8_t *code, unsigned len, unsigned reason)
{
	struct guest g;

	guest_start(&g, code, len);
	if (ioctl(g.vcpu, KVM_RUN, 0) < 0)
		die(name);
	if (g.run->exit_reason != reason) {
		printf("fact %s.exit unexpected_%u\n", name, g.run->exit_reason);
		guest_stop(&g);
		return;
	}
	uint64_t r = rip(&g);
	printf("fact %s.rip %s\n", name, where(0, len, r));
	uint64_t r2 = complete(&g);
	printf("fact %s.pending %s\n", name, r2 != r ? "yes" : "no");
	guest_stop(&g);
}

static void msr_fact(void)
{
	/* mov ecx, 0x174; rdmsr; hlt */
	static const uint8_t code[] = { 0x66, 0xb9, 0x74, 0x01, 0, 0, 0x0f, 0x32 };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
				      .args = { KVM_MSR_EXIT_REASON_FILTER } };
	struct guest g;
	uint8_t deny = 0;

	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0) {
		printf("fact rdmsr.exit no_msr_filter\n");
		return;
	}
	guest_start(&g, code, sizeof(code));
	struct kvm_msr_filter f = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = { { .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			      .nmsrs = 1, .base = 0x174, .bitmap = &deny } },
	};
	if (ioctl(g.vm, KVM_ENABLE_CAP, &cap) < 0 || ioctl(g.vm, KVM_X86_SET_MSR_FILTER, &f) < 0)
		die("MSR filter");
	if (ioctl(g.vcpu, KVM_RUN, 0) < 0)
		die("rdmsr run");
	if (g.run->exit_reason != KVM_EXIT_X86_RDMSR) {
		printf("fact rdmsr.exit unexpected_%u\n", g.run->exit_reason);
	} else {
		uint64_t r = rip(&g);
		printf("fact rdmsr.rip %s\n", where(6, 2, r));
		g.run->msr.error = 0;
		g.run->msr.data = 1;
		printf("fact rdmsr.pending %s\n", complete(&g) != r ? "yes" : "no");
	}
	guest_stop(&g);
}

/* Is a hardware breakpoint armed through KVM_SET_GUEST_DEBUG hit? And
 * does single-stepping step one instruction? */
static void breakpoint_fact(void)
{
	/* nop; out 0x10, al */
	static const uint8_t code[] = { 0x90, 0xe6, 0x10 };
	struct kvm_guest_debug d;
	struct guest g;
	int hit = kvm_hw_breakpoint_hit();

	printf("fact hw_breakpoint %s\n", hit > 0 ? "hit" : hit == 0 ? "missed" : "unknown");
	guest_start(&g, code, sizeof(code));
	memset(&d, 0, sizeof(d));
	d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
	if (ioctl(g.vcpu, KVM_SET_GUEST_DEBUG, &d) < 0)
		die("KVM_SET_GUEST_DEBUG");
	if (ioctl(g.vcpu, KVM_RUN, 0) < 0)
		die("single-step run");
	if (g.run->exit_reason == KVM_EXIT_DEBUG)
		printf("fact single_step %s\n", rip(&g) == CODE + 1 ? "one_instruction" : "elsewhere");
	else
		printf("fact single_step missed_exit_%u\n", g.run->exit_reason);
	guest_stop(&g);
}

int main(void)
{
	static const uint8_t out[] = { 0xe6, 0x10 };            /* out 0x10, al */
	static const uint8_t in[] = { 0xe4, 0x10 };             /* in al, 0x10 */
	static const uint8_t mmio_w[] = { 0xa2, 0x00, 0x80 };   /* mov [0x8000], al */
	static const uint8_t mmio_r[] = { 0xa0, 0x00, 0x80 };   /* mov al, [0x8000] */
	static const uint8_t hlt[] = { 0xf4 };
	struct hvb_host *host;
	bool measured_after;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm");
	exit_fact("out", out, sizeof(out), KVM_EXIT_IO);
	exit_fact("in", in, sizeof(in), KVM_EXIT_IO);
	exit_fact("mmio_write", mmio_w, sizeof(mmio_w), KVM_EXIT_MMIO);
	exit_fact("mmio_read", mmio_r, sizeof(mmio_r), KVM_EXIT_MMIO);
	exit_fact("hlt", hlt, sizeof(hlt), KVM_EXIT_HLT);
	msr_fact();
	breakpoint_fact();

	/* The backend's probe must agree with the OUT measured above. */
	struct guest g;
	guest_start(&g, out, sizeof(out));
	if (ioctl(g.vcpu, KVM_RUN, 0) < 0)
		die("out run");
	measured_after = rip(&g) == CODE + 2;
	guest_stop(&g);
	int r = hvb_host_create("/dev/kvm", &host);
	if (r < 0) {
		fprintf(stderr, "kvm_facts: hvb_host_create: %s\n", strerror(-r));
		return 2;
	}
	const struct hvb_host_info *hi = hvb_host_info(host);
	printf("fact probe.out_rip %s\n", hi->out_rip_after ? "after" : "at");
	printf("fact probe.tsc_writable %s\n", hi->tsc_writable ? "yes" : "no");
	printf("fact probe.hw_breakpoints %s\n", hi->hw_breakpoints ? "hit" : "missed");
	bool agree = hi->out_rip_after == measured_after &&
		     hi->hw_breakpoints == (kvm_hw_breakpoint_hit() > 0);
	printf("fact probe.agrees %s\n", agree ? "yes" : "no");
	hvb_host_destroy(host);
	return agree ? 0 : 1;
}
