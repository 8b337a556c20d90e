/*
 * hvb64: Apple's arm64 Hypervisor.framework semantics on KVM/arm64 (the
 * arm64 backend behind struct hvb_ops, hvb_a64_ops), for libhvdirect and
 * hvd alike; the GIC is hvb64_gic.c. docs/arm64.md lists what differs
 * from Apple and which lab test pins it.
 *
 * The vCPU's API state is a struct ha64_state (a64/ha64.h): the caller
 * imports the client's copy, vcpu_run does its op, the caller exports the
 * result. Registers move to and from KVM one ONE_REG at a time (arm64 has
 * no bulk register ioctl), only those the client wrote (dirty) or reads
 * (want).
 *
 * Exits Apple reports and how they are made from KVM's:
 *   data abort (EC 0x24)  KVM_EXIT_MMIO: the syndrome rebuilt from the
 *                         instruction at PC (ha64_decode.c; with the MMU
 *                         on, found through the guest's own tables,
 *                         ha64_walk.c); KVM's own
 *                         completion is run at once with immediate_exit and
 *                         undone (PC and Rt put back), so that the client
 *                         sees the faulting instruction and completes the
 *                         access itself, as on macOS
 *   HVC / SMC (0x16/0x17) KVM_EXIT_HYPERCALL from the SMCCC filter (6.4+):
 *                         immediate from the instruction; SMC's PC moved
 *                         back onto the SMC, where Apple leaves it
 *   vtimer                run->s.regs.device_irq_level (user-space irqchip)
 *                         under Apple's mask; with a GIC, KVM's own
 *   BRK (EC 0x3c)         KVM_EXIT_DEBUG, with trap_debug_exceptions
 *   canceled              a kick: immediate_exit + the kick signal
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ha64.h"
#include "ha64_decode.h"
#include "ha64_walk.h"
#include "hvb64_priv.h"
#include "hvb64_uapi.h"
#include "hvb_ops.h"

#define KICK_SIGNAL (SIGRTMIN + 1)
#define DFSC_TRANSLATION_L3 0x07u
#define DFSC_PERMISSION_L3 0x0fu

/* ---- ONE_REG ---- */

static int get_one(int fd, uint64_t id, void *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)val };
	return ioctl(fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int set_one(int fd, uint64_t id, const void *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)val };
	return ioctl(fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int get64(int fd, uint64_t id, uint64_t *v)
{
	return get_one(fd, id, v);
}

static int set64(int fd, uint64_t id, uint64_t v)
{
	return set_one(fd, id, &v);
}

#define ID_PC 0x6030000000100040ull
#define ID_SCTLR_EL1 0x603000000013c080ull
#define ID_TTBR0_EL1 0x603000000013c100ull
#define ID_TTBR1_EL1 0x603000000013c101ull
#define ID_TCR_EL1 0x603000000013c102ull
#define ID_X(n) (0x6030000000100000ull + 2u * (n))
#define ID_SP_EL0 0x603000000010003eull
#define ID_SP_EL1 0x6030000000100044ull
#define ID_CPSR 0x6030000000100042ull
#define ID_PTIMER_CNT 0x603000000013df01ull /* KVM_REG_ARM_PTIMER_CNT */
#define ID_PTIMER_CVAL 0x603000000013df12ull
#define ID_TIMER_CNT 0x603000000013df1aull  /* KVM_REG_ARM_TIMER_CNT */

/* One register of the table from KVM into st->val. */
static int reg_read(struct hvb_vcpu *v, unsigned i)
{
	const struct ha64_reg *r = &ha64_regs[i];
	uint64_t *val = v->st.val[i];
	if (r->flags & HA64_RF_NOKVM)
		return -ENOENT;
	if (r->apple == 0xc081 && r->kind == HA64_SYS) { /* ACTLR_EL1: EnTSO only, never set */
		val[0] = 0;
		return 0;
	}
	if (r->apple == 0xdf10 && r->kind == HA64_SYS) { /* CNTP_TVAL: CVAL - count */
		uint64_t cval, cnt;
		int e = get64(v->fd, ID_PTIMER_CVAL, &cval);
		if (!e)
			e = get64(v->fd, ID_PTIMER_CNT, &cnt);
		val[0] = (uint64_t)(int64_t)(int32_t)(uint32_t)(cval - cnt);
		return e;
	}
	if (r->flags & HA64_RF_U32) {
		uint32_t w;
		int e = get_one(v->fd, r->kvm_id, &w);
		val[0] = w;
		return e;
	}
	return get_one(v->fd, r->kvm_id, val);
}

static int reg_write(struct hvb_vcpu *v, unsigned i)
{
	const struct ha64_reg *r = &ha64_regs[i];
	const uint64_t *val = v->st.val[i];
	if (r->flags & HA64_RF_NOKVM)
		return -ENOENT;
	if (r->apple == 0xc081 && r->kind == HA64_SYS) /* TSO cannot be had here */
		return (val[0] & 2u) ? -ENOTSUP : 0;
	if (r->apple == 0xdf10 && r->kind == HA64_SYS) {
		uint64_t cnt;
		int e = get64(v->fd, ID_PTIMER_CNT, &cnt);
		return e ? e : set64(v->fd, ID_PTIMER_CVAL, cnt + (uint64_t)(int64_t)(int32_t)val[0]);
	}
	if (r->flags & HA64_RF_U32) {
		uint32_t w = (uint32_t)val[0];
		return set_one(v->fd, r->kvm_id, &w);
	}
	int e = set_one(v->fd, r->kvm_id, val);
	if (e == 0 && r->kvm_id == HVB64_ID_MPIDR) {
		/* KVM may keep only some bits: the cache holds what it kept. */
		uint64_t kept;
		if (get64(v->fd, HVB64_ID_MPIDR, &kept) == 0)
			atomic_store(&v->mpidr, kept);
	}
	return e;
}

/* Write what the client changed; the first failure is reported in the
 * state (error, error_reg) and stops the op. */
static int flush_dirty(struct hvb_vcpu *v)
{
	for (unsigned w = 0; w < HA64_WORDS; w++)
		while (v->st.dirty[w]) {
			unsigned i = w * 64u + (unsigned)__builtin_ctzll(v->st.dirty[w]);
			int e = reg_write(v, i);
			ha64_clear_bit(v->st.dirty, i);
			if (e) {
				v->st.error = -e;
				v->st.error_reg = i;
				ha64_clear_bit(v->st.valid, i);
				return e;
			}
			ha64_set_bit(v->st.valid, i);
		}
	return 0;
}

/* Refresh the registers the client reads; `all`: after a run, when every
 * value is stale. */
static int refresh(struct hvb_vcpu *v, bool all)
{
	for (unsigned w = 0; w < HA64_WORDS; w++) {
		uint64_t todo = all ? v->st.want[w] : v->st.want[w] & ~v->st.valid[w];
		if (all)
			v->st.valid[w] = 0;
		while (todo) {
			unsigned i = w * 64u + (unsigned)__builtin_ctzll(todo);
			todo &= todo - 1u;
			if (reg_read(v, i) == 0)
				ha64_set_bit(v->st.valid, i);
		}
	}
	return 0;
}

/* ---- host ---- */

static void kick_handler(int sig)
{
	(void)sig;
}

static int a64_kick_signal(void)
{
	return KICK_SIGNAL;
}

static int a64_guard_install(void)
{
	return 0; /* the arm64 backend copies no guest memory but the instruction word */
}

/* The features every vCPU gets: PSCI 0.2, and pointer authentication
 * where KVM has it (both kinds, as KVM requires; QEMU's hvf saves and
 * restores the keys, so guests use them). */
static void vcpu_features(const struct hvb_host *h, struct kvm_vcpu_init *init)
{
	init->features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (h->ptrauth)
		init->features[0] |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS | 1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
}

/* The ID registers of hv_feature_reg_t, in its order (sysreg encodings). */
static const uint16_t feature_regs[14] = {
	0xc028, 0xc029, 0xc030, 0xc031, 0xc038, 0xc039, 0xc03a, /* DFR0-1, ISAR0-1, MMFR0-2 */
	0xc020, 0xc021, 0xd801, 0xc801, 0xd807, 0xc025, 0xc024,  /* PFR0-1, CTR, CLIDR, DCZID, SMFR0, ZFR0 */
};

/* What a scratch VM and vCPU show, so that the host reports it before the
 * client's first VM (HelloReply, hv_vcpu_config_get_*, logs): the SMCCC
 * filter (a VM attribute), the ID registers and the cache geometry a vCPU
 * sees. A register KVM does not give stays 0. */
static void host_probe(struct hvb_host *h)
{
	int vm = ioctl(h->kvm, KVM_CREATE_VM, (unsigned long)h->a64.ipa_default);
	if (vm < 0)
		return;
	struct kvm_device_attr a = { .group = KVM_ARM_VM_SMCCC_CTRL, .attr = KVM_ARM_VM_SMCCC_FILTER };
	h->a64.smccc_filter = ioctl(vm, KVM_HAS_DEVICE_ATTR, &a) == 0;
	int cpu = ioctl(vm, KVM_CREATE_VCPU, 0ul);
	struct kvm_vcpu_init init;
	if (cpu >= 0 && ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) == 0) {
		vcpu_features(h, &init);
		if (ioctl(cpu, KVM_ARM_VCPU_INIT, &init) == 0) {
			for (unsigned i = 0; i < 14; i++)
				get64(cpu, 0x6030000000130000ull | feature_regs[i], &h->a64.feature[i]);
			/* CCSIDR_EL1 by CSSELR (level - 1 in bits 3:1, InD in
			 * bit 0), through KVM's demultiplexed register. */
			for (unsigned type = 0; type < 2; type++)
				for (unsigned level = 0; level < 8; level++) {
					uint32_t v = 0;
					if (get_one(cpu, 0x6020000000110000ull | (level << 1 | type), &v) == 0)
						h->a64.ccsidr[type][level] = v;
				}
		}
	}
	if (cpu >= 0)
		close(cpu);
	close(vm);
}

static int a64_host_create(const char *dev_path, struct hvb_host **out)
{
	struct hvb_host *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->kvm = open(dev_path ? dev_path : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (h->kvm < 0) {
		int e = -errno;
		free(h);
		return e;
	}
	h->run_size = ioctl(h->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	h->info.api_version = ioctl(h->kvm, KVM_GET_API_VERSION, 0);
	h->info.vcpu_mmap_size = h->run_size;
	int n = ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	h->info.max_vcpus = n > 0 ? (uint32_t)n : 1;
	if (h->info.max_vcpus > HVB_MAX_VCPUS)
		h->info.max_vcpus = HVB_MAX_VCPUS;
	n = ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	h->info.nr_memslots = n > 0 ? (uint32_t)n : 32;
	n = ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	h->a64.ipa_max = n > 0 ? (uint32_t)n : 40;
	h->a64.ipa_default = h->a64.ipa_max < 40 ? h->a64.ipa_max : 40;
	h->a64.max_vcpus = h->info.max_vcpus;
	h->a64.counter_offset = ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_COUNTER_OFFSET) > 0;
	h->ptrauth = ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PTRAUTH_ADDRESS) > 0 &&
		     ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PTRAUTH_GENERIC) > 0;
	host_probe(h);
	if (h->run_size <= 0 || ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_USER_IRQ) <= 0 ||
	    ioctl(h->kvm, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
		close(h->kvm);
		free(h);
		return -ENOTSUP;
	}
	struct sigaction sa = { .sa_handler = kick_handler, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
	*out = h;
	return 0;
}

static void a64_host_destroy(struct hvb_host *h)
{
	if (h) {
		close(h->kvm);
		free(h);
	}
}

static const struct hvb_host_info *a64_host_info(const struct hvb_host *h)
{
	return &h->info;
}

static int a64_host_query(const struct hvb_host *h, struct hvb_a64_host *out)
{
	*out = h->a64;
	return 0;
}

/* ---- VM and memory ---- */

/* The host's counter, as KVM's offsets count from it. */
static uint64_t host_counter(void)
{
	uint64_t c;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(c));
	return c;
}

static int a64_vm_create(struct hvb_host *h, uint64_t options, struct hvb_vm **out)
{
	if (options & ~HA64_VMOPT_KNOWN)
		return -EINVAL;
	if (options & (HA64_VMOPT_EL2 | HA64_VMOPT_GRANULE_16K))
		return -ENOTSUP; /* no nested virtualisation; the stage-2 granule is the host's */
	unsigned ipa = (unsigned)(options & HA64_VMOPT_IPA_MASK);
	if (ipa && (ipa < 32 || ipa > h->a64.ipa_max))
		return -EINVAL;
	struct hvb_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->host = h;
	pthread_mutex_init(&vm->lock, NULL);
	vm->fd = ioctl(h->kvm, KVM_CREATE_VM, (unsigned long)(ipa ? ipa : h->a64.ipa_default));
	if (vm->fd < 0) {
		int e = -errno;
		free(vm);
		return e;
	}
	/* HVC and SMC to the client, as on macOS: every function id the
	 * filter may take. KVM keeps the Arm architecture calls
	 * (0x80000000-0x8000ffff, 0xc0000000-0xc000ffff) and its vendor
	 * hypervisor services (0x86000000-0x8600ffff, 0xc6000000-0xc600ffff,
	 * measured: EEXIST over them) and refuses ranges
	 * over them; base + count must fit 32 bits. Absent before 6.4: HVC
	 * then never exits (docs/differences.md). */
	static const uint32_t ranges[][2] = {
		{ 0x00000000u, 0x80000000u }, { 0x80010000u, 0x86000000u },
		{ 0x86010000u, 0xc0000000u }, { 0xc0010000u, 0xc6000000u },
		{ 0xc6010000u, 0xffffffffu },
	};
	vm->smccc_filter = true;
	for (unsigned i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		struct kvm_smccc_filter f = { .base = ranges[i][0],
					      .nr_functions = ranges[i][1] - ranges[i][0],
					      .action = KVM_SMCCC_FILTER_FWD_TO_USER };
		struct kvm_device_attr a = { .group = KVM_ARM_VM_SMCCC_CTRL,
					     .attr = KVM_ARM_VM_SMCCC_FILTER,
					     .addr = (uint64_t)(uintptr_t)&f };
		if (ioctl(vm->fd, KVM_SET_DEVICE_ATTR, &a) < 0)
			vm->smccc_filter = false;
	}
	h->a64.smccc_filter = vm->smccc_filter;
	/* The guest counter from 0, as KVM starts it, but set by us: without
	 * it KVM resets the VM's counter at every vCPU creation (moving the
	 * running vCPUs' counters behind the client's back). */
	if (h->a64.counter_offset) {
		struct kvm_arm_counter_offset o = { .counter_offset = host_counter() };
		if (ioctl(vm->fd, KVM_ARM_SET_COUNTER_OFFSET, &o) == 0) {
			vm->counter_fixed = true;
			vm->counter_offset = o.counter_offset;
		}
	}
	*out = vm;
	return 0;
}

/* The spare vCPUs' descriptors and run mappings (the VM is going). */
static void spares_release(struct hvb_vm *vm)
{
	for (uint32_t i = 0; i < vm->nspare; i++) {
		if (vm->spare[i].run != MAP_FAILED)
			munmap(vm->spare[i].run, (size_t)vm->host->run_size);
		close(vm->spare[i].fd);
	}
	vm->nspare = 0;
}

static int a64_vm_destroy(struct hvb_vm *vm)
{
	if (vm->nvcpus)
		return -EBUSY;
	hvb64__gic_vm_destroy(vm);
	spares_release(vm);
	close(vm->fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
	return 0;
}

static void a64_vm_abandon(struct hvb_vm *vm)
{
	hvb64__gic_vm_destroy(vm);
	spares_release(vm);
	close(vm->fd);
	free(vm);
}

static int slot_set(struct hvb_vm *vm, struct map *m, bool present)
{
	struct kvm_userspace_memory_region r = {
		.slot = m->slot,
		.flags = (m->flags & HVB_MEM_WRITE) ? 0 : KVM_MEM_READONLY,
		.guest_phys_addr = m->gpa,
		.memory_size = present ? m->size : 0,
		.userspace_addr = (uint64_t)(uintptr_t)m->hva,
	};
	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

static int a64_vm_map(struct hvb_vm *vm, void *hva, uint64_t gpa, uint64_t size, uint32_t flags)
{
	int e = -ENOSPC;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (vm->maps[i].used && gpa < vm->maps[i].gpa + vm->maps[i].size &&
		    vm->maps[i].gpa < gpa + size) {
			e = -EEXIST;
			goto out;
		}
	for (unsigned i = 0; i < MAX_MAPS; i++) {
		struct map *m = &vm->maps[i];
		if (m->used)
			continue;
		*m = (struct map){ .gpa = gpa, .size = size, .hva = hva, .flags = flags, .slot = i };
		/* No read permission: no slot at all, so that accesses exit. */
		e = (flags & HVB_MEM_READ) ? slot_set(vm, m, true) : 0;
		m->used = e == 0;
		break;
	}
out:
	pthread_mutex_unlock(&vm->lock);
	return e;
}

/*
 * hv_vm_unmap and hv_vm_protect on any page-aligned range that mappings
 * cover without a hole, as Apple allows: each mapping the range cuts is
 * split, its slot re-created as up to three (the part before, the range's
 * part, the part after), since KVM changes a memslot only by deleting and
 * re-creating it. A vCPU running meanwhile may see the range absent for a
 * moment (an exit to the client), as with a whole mapping. Under vm->lock.
 */
static int free_maps(const struct hvb_vm *vm)
{
	int n = 0;
	for (unsigned i = 0; i < MAX_MAPS; i++)
		n += !vm->maps[i].used;
	return n;
}

static struct map *map_at(struct hvb_vm *vm, uint64_t gpa)
{
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (vm->maps[i].used && vm->maps[i].gpa <= gpa && gpa - vm->maps[i].gpa < vm->maps[i].size)
			return &vm->maps[i];
	return NULL;
}

static struct map *map_new(struct hvb_vm *vm, const struct map *from, uint64_t gpa, uint64_t end,
			   uint32_t flags)
{
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (!vm->maps[i].used) {
			vm->maps[i] = (struct map){ .gpa = gpa, .size = end - gpa,
						    .hva = (char *)from->hva + (gpa - from->gpa),
						    .flags = flags, .slot = i, .used = true };
			return &vm->maps[i];
		}
	return NULL; /* cannot be: the caller counted */
}

/* A mapping's slot made present (if readable) or absent. */
static int map_slot(struct hvb_vm *vm, struct map *m, bool present)
{
	return (m->flags & HVB_MEM_READ) ? slot_set(vm, m, present) : 0;
}

/* Cut `m` at [gpa, end): the range's part gets `flags`, or goes if unmap. */
static int map_cut(struct hvb_vm *vm, struct map *m, uint64_t gpa, uint64_t end, bool unmap,
		   uint32_t flags)
{
	struct map old = *m;
	uint64_t lo = old.gpa > gpa ? old.gpa : gpa;
	uint64_t hi = old.gpa + old.size < end ? old.gpa + old.size : end;
	struct map *part[3] = { NULL, NULL, NULL };
	int e = map_slot(vm, m, false);
	if (e)
		return e;
	m->used = false;
	if (old.gpa < lo)
		part[0] = map_new(vm, &old, old.gpa, lo, old.flags);
	if (!unmap)
		part[1] = map_new(vm, &old, lo, hi, flags);
	if (hi < old.gpa + old.size)
		part[2] = map_new(vm, &old, hi, old.gpa + old.size, old.flags);
	for (unsigned i = 0; i < 3 && !e; i++)
		if (part[i])
			e = map_slot(vm, part[i], true);
	if (!e)
		return 0;
	/* Put the mapping back as it was. */
	for (unsigned i = 0; i < 3; i++)
		if (part[i]) {
			map_slot(vm, part[i], false);
			part[i]->used = false;
		}
	*m = old;
	map_slot(vm, m, true);
	return e;
}

static int range_change(struct hvb_vm *vm, uint64_t gpa, uint64_t size, bool unmap, uint32_t flags)
{
	uint64_t end = gpa + size;
	if (size == 0 || end < gpa || (gpa | size) & (uint64_t)(sysconf(_SC_PAGESIZE) - 1))
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	/* Covered without a hole, and room for the parts at every step (a
	 * cut frees its mapping's entry, then takes one per part). */
	int e = 0, room = free_maps(vm);
	for (uint64_t at = gpa; at < end && !e;) {
		struct map *m = map_at(vm, at);
		if (!m) {
			e = -ENOENT;
			break;
		}
		room += 1 - (m->gpa < gpa) - (m->gpa + m->size > end) - !unmap;
		if (room < 0)
			e = -ENOSPC;
		at = m->gpa + m->size;
	}
	for (uint64_t at = gpa; at < end && !e;) {
		struct map *m = map_at(vm, at);
		uint64_t next = m->gpa + m->size;
		e = map_cut(vm, m, gpa, end, unmap, flags);
		at = next;
	}
	pthread_mutex_unlock(&vm->lock);
	return e;
}

static int a64_vm_unmap(struct hvb_vm *vm, uint64_t gpa, uint64_t size)
{
	return range_change(vm, gpa, size, true, 0);
}

static int a64_vm_protect(struct hvb_vm *vm, uint64_t gpa, uint64_t size, uint32_t flags)
{
	return range_change(vm, gpa, size, false, flags);
}

static void a64_vm_usage(struct hvb_vm *vm, uint64_t *bytes, uint32_t *mappings)
{
	*bytes = 0;
	*mappings = 0;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (vm->maps[i].used) {
			*bytes += vm->maps[i].size;
			(*mappings)++;
		}
	pthread_mutex_unlock(&vm->lock);
}

static size_t a64_vm_maps(struct hvb_vm *vm, struct hvb_map_info *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < MAX_MAPS && n < max; i++)
		if (vm->maps[i].used)
			out[n++] = (struct hvb_map_info){ vm->maps[i].gpa, vm->maps[i].size,
							 vm->maps[i].flags };
	pthread_mutex_unlock(&vm->lock);
	return n;
}

static bool a64_vm_hva_in_use(struct hvb_vm *vm, const void *hva, uint64_t size)
{
	uintptr_t a = (uintptr_t)hva;
	bool used = false;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < MAX_MAPS; i++) {
		uintptr_t b = (uintptr_t)vm->maps[i].hva;
		if (vm->maps[i].used && a < b + vm->maps[i].size && b < a + size)
			used = true;
	}
	pthread_mutex_unlock(&vm->lock);
	return used;
}

/* `len` bytes of guest-physical memory at `gpa` copied into `out`: false
 * if not all mapped. Copied under the lock: hvd lets go of its view of a
 * client's memory only after vm_unmap took it out of the table. */
static bool gpa_read(struct hvb_vm *vm, uint64_t gpa, void *out, size_t len)
{
	bool ok = false;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < MAX_MAPS && !ok; i++) {
		struct map *m = &vm->maps[i];
		if (m->used && gpa >= m->gpa && gpa - m->gpa <= m->size && len <= m->size - (gpa - m->gpa)) {
			memcpy(out, (const char *)m->hva + (gpa - m->gpa), len);
			ok = true;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return ok;
}

static int read_desc(void *ctx, uint64_t ipa, uint64_t *out)
{
	return gpa_read(ctx, ipa, out, sizeof(*out)) ? 0 : -1;
}

/* ---- vCPUs ---- */

static int a64_vcpu_create(struct hvb_vm *vm, uint64_t options, struct hvb_vcpu **out)
{
	if (options)
		return -EINVAL;
	struct hvb_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->run = MAP_FAILED;
	int e = 0;
	pthread_mutex_lock(&vm->lock);
	if (vm->nspare) {
		/* A destroyed vCPU: KVM_ARM_VCPU_INIT below resets it. */
		struct hvb64_spare *s = &vm->spare[--vm->nspare];
		v->id = s->id;
		v->fd = s->fd;
		v->run = s->run;
	} else if (vm->next_id >= vm->host->info.max_vcpus) {
		e = -ENOSPC;
	} else {
		v->id = vm->next_id;
		v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)v->id);
		if (v->fd < 0)
			e = -errno;
		else
			vm->next_id++;
	}
	if (!e)
		vm->nvcpus++;
	pthread_mutex_unlock(&vm->lock);
	if (e)
		goto fail;
	if (v->run == MAP_FAILED)
		v->run = mmap(NULL, (size_t)vm->host->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		e = -errno;
		goto fail_spare;
	}
	v->run->immediate_exit = 0;
	struct kvm_vcpu_init init;
	if (ioctl(vm->fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		e = -errno;
		goto fail_spare;
	}
	vcpu_features(vm->host, &init);
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		e = -errno;
		goto fail_spare;
	}
	/* Apple's vCPUs start with SCTLR_EL1 0 (QEMU's note) and MPIDR as the
	 * client sets it; KVM's MPIDR follows the vCPU id, which is ours. */
	set64(v->fd, ID_SCTLR_EL1, 0);
	uint64_t mpidr = 0;
	get64(v->fd, HVB64_ID_MPIDR, &mpidr);
	atomic_store(&v->mpidr, mpidr);
	v->thread = pthread_self();
	v->st.op = HA64_OP_SYNC;
	/* The vtimer offset: the VM's, or as KVM set it (the host counter
	 * minus the guest's). */
	uint64_t guest;
	pthread_mutex_lock(&vm->lock);
	if (vm->counter_fixed)
		v->st.vtimer_offset = vm->counter_offset;
	else if (get64(v->fd, ID_TIMER_CNT, &guest) == 0)
		v->st.vtimer_offset = host_counter() - guest;
	hvb64__gic_vcpu_add(v);
	pthread_mutex_unlock(&vm->lock);
	*out = v;
	return 0;
fail_spare:
	/* The KVM vCPU stays KVM's: back to the spares. */
	pthread_mutex_lock(&vm->lock);
	vm->spare[vm->nspare++] = (struct hvb64_spare){ v->id, v->fd, v->run };
	vm->nvcpus--;
	pthread_mutex_unlock(&vm->lock);
fail:
	free(v);
	return e;
}

static int a64_vcpu_destroy(struct hvb_vcpu *v)
{
	struct hvb_vm *vm = v->vm;
	hvb64__gic_vcpu_remove(v);
	/* What KVM keeps on the vCPU beyond its reset (KVM_ARM_VCPU_INIT
	 * resets registers, not guest debugging); the IRQ/FIQ lines are low
	 * after every run already. */
	if (v->debug_on) {
		struct kvm_guest_debug dbg = { 0 };
		ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg);
	}
	pthread_mutex_lock(&vm->lock);
	vm->spare[vm->nspare++] = (struct hvb64_spare){ v->id, v->fd, v->run };
	vm->nvcpus--;
	pthread_mutex_unlock(&vm->lock);
	free(v);
	return 0;
}

static unsigned a64_vcpu_id(const struct hvb_vcpu *v)
{
	return v->id;
}

static int a64_vcpu_kick(struct hvb_vcpu *v)
{
	atomic_store(&v->cancel, true);
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	int e = pthread_kill(v->thread, KICK_SIGNAL);
	return -e;
}

static void a64_vcpu_set_throttle(struct hvb_vcpu *v, hvb_throttle_fn fn, void *ctx)
{
	v->throttle = fn;
	v->throttle_ctx = ctx;
}

static int a64_vcpu_exec_time(struct hvb_vcpu *v, uint64_t *ns)
{
	*ns = v->exec_ns;
	return 0;
}

static void a64_vcpu_import(struct hvb_vcpu *v, const struct hvb_arch_state *client)
{
	/* `client` may be shared memory its owner changes meanwhile (hvd's
	 * run page): each byte is read once, and every decision is made on
	 * the private copy. */
	const struct ha64_state *c = (const struct ha64_state *)client;
	struct ha64_state *st = &v->st;
	st->op = c->op;
	st->ctl = c->ctl;
	if (st->ctl & HA64_CTL_OFFSET_DIRTY)
		st->vtimer_offset = c->vtimer_offset;
	memcpy(st->want, c->want, sizeof(st->want));
	memcpy(st->dirty, c->dirty, sizeof(st->dirty));
	for (unsigned w = 0; w < HA64_WORDS; w++)
		for (uint64_t d = st->dirty[w]; d; d &= d - 1u) {
			unsigned i = w * 64u + (unsigned)__builtin_ctzll(d);
			if (i < HA64_NREGS)
				memcpy(st->val[i], c->val[i], sizeof(st->val[i]));
		}
	if (!ha64_check(st))
		st->op = 0; /* refused by vcpu_run */
}

/* Only what the client may read: the bitmaps and scalars, the registers
 * that are valid, the exit. (A register that is not valid is never read
 * from val; copying all 215 of them was most of an exit's copying.) */
static void a64_vcpu_export(const struct hvb_vcpu *v, struct hvb_arch_state *out)
{
	struct ha64_state *o = (struct ha64_state *)out;
	const struct ha64_state *st = &v->st;
	memcpy(o, st, offsetof(struct ha64_state, val));
	for (unsigned w = 0; w < HA64_WORDS; w++)
		for (uint64_t b = st->valid[w]; b; b &= b - 1u) {
			unsigned i = w * 64u + (unsigned)__builtin_ctzll(b);
			memcpy(o->val[i], st->val[i], sizeof(o->val[i]));
		}
	o->exit = st->exit;
}

static uint64_t host_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int irq_line(struct hvb_vcpu *v, unsigned line, bool level)
{
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_CPU << KVM_ARM_IRQ_TYPE_SHIFT) |
		       ((v->id & 0xffu) << KVM_ARM_IRQ_VCPU_SHIFT) | line,
		.level = level,
	};
	return ioctl(v->vm->fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

/* The guest's instruction at its PC: with the MMU off PC is the IPA,
 * with it on the guest's own tables say (a64/ha64_walk.c; an instruction
 * the guest just executed is mapped, unless it changed its tables since). */
static bool fetch_insn(struct hvb_vcpu *v, uint64_t pc, uint32_t *insn)
{
	struct ha64_mmu mmu = { 0 };
	uint64_t ipa;
	if (get64(v->fd, ID_SCTLR_EL1, &mmu.sctlr))
		return false;
	if ((mmu.sctlr & 1u) &&
	    (get64(v->fd, ID_TCR_EL1, &mmu.tcr) || get64(v->fd, ID_TTBR0_EL1, &mmu.ttbr0) ||
	     get64(v->fd, ID_TTBR1_EL1, &mmu.ttbr1)))
		return false;
	if (ha64_translate(&mmu, pc, read_desc, v->vm, &ipa) < 0 || (ipa & 3u))
		return false;
	return gpa_read(v->vm, ipa, insn, sizeof(*insn));
}

static void exit_exception(struct hvb_vcpu *v, uint64_t esr, uint64_t va, uint64_t pa)
{
	v->st.exit = (struct ha64_exit){ .reason = HA64_EXIT_EXCEPTION, .syndrome = esr,
					  .virtual_address = va, .physical_address = pa };
}

/* KVM_EXIT_MMIO into Apple's data abort; KVM's pending completion undone. */
static int exit_mmio(struct hvb_vcpu *v)
{
	uint64_t pa = v->run->mmio.phys_addr;
	bool write = v->run->mmio.is_write;
	uint64_t pc, old_rt = 0, base = 0, index = 0;
	uint32_t insn;
	struct ha64_ldst d;
	bool have = false;
	int e = get64(v->fd, ID_PC, &pc);
	if (e)
		return e;
	if (fetch_insn(v, pc, &insn) && ha64_decode_ldst(insn, &d)) {
		have = true;
		if (d.srt != 31)
			get64(v->fd, ID_X(d.srt), &old_rt);
		if (d.rn == 31) {
			uint64_t cpsr;
			get64(v->fd, ID_CPSR, &cpsr);
			get64(v->fd, (cpsr & 1u) ? ID_SP_EL1 : ID_SP_EL0, &base);
		} else {
			get64(v->fd, ID_X(d.rn), &base);
		}
		if (d.rm >= 0 && d.rm != 31)
			get64(v->fd, ID_X((unsigned)d.rm), &index);
	}
	/* Let KVM finish its access without entering the guest, then put PC
	 * (and a load's Rt) back: the client completes it, as on macOS. */
	memset(v->run->mmio.data, 0, sizeof(v->run->mmio.data));
	v->run->immediate_exit = 1;
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || errno != EINTR)
		return -EIO;
	v->run->immediate_exit = 0;
	e = set64(v->fd, ID_PC, pc);
	if (!e && have && !write && d.srt != 31)
		e = set64(v->fd, ID_X(d.srt), old_rt);
	uint64_t va = have ? ha64_ldst_va(&d, base, index) : pa;
	bool ro = false;
	pthread_mutex_lock(&v->vm->lock);
	for (unsigned i = 0; i < MAX_MAPS; i++)
		if (v->vm->maps[i].used && pa >= v->vm->maps[i].gpa &&
		    pa < v->vm->maps[i].gpa + v->vm->maps[i].size)
			ro = true;
	pthread_mutex_unlock(&v->vm->lock);
	exit_exception(v, ha64_data_abort_esr(have ? &d : NULL, write,
					      ro ? DFSC_PERMISSION_L3 : DFSC_TRANSLATION_L3),
		       va, pa);
	return e;
}

static int exit_hypercall(struct hvb_vcpu *v)
{
	/* 6.4+ `flags` shares `longmode`'s place in the 6.1 headers. */
	bool smc = v->run->hypercall.longmode & KVM_HYPERCALL_EXIT_SMC;
	uint64_t pc;
	uint32_t insn;
	uint16_t imm = 0;
	bool is_smc;
	int e = get64(v->fd, ID_PC, &pc);
	if (e)
		return e;
	/* KVM's PC is past the instruction; Apple leaves SMC's on it. */
	if (fetch_insn(v, pc - 4, &insn) && ha64_decode_hvc_smc(insn, &imm, &is_smc))
		smc = is_smc;
	if (smc)
		e = set64(v->fd, ID_PC, pc - 4);
	exit_exception(v, ha64_hvc_smc_esr(smc, imm), 0, 0);
	return e;
}

static bool vtimer_due(struct hvb_vcpu *v)
{
	return (v->run->s.regs.device_irq_level & KVM_ARM_DEV_EL1_VTIMER) &&
	       !(v->st.ctl & HA64_CTL_VTIMER_MASK);
}

static void exit_vtimer(struct hvb_vcpu *v)
{
	v->st.ctl |= HA64_CTL_VTIMER_MASK;
	v->st.exit = (struct ha64_exit){ .reason = HA64_EXIT_VTIMER };
}

/* The run loop: until KVM gives an exit Apple reports. */
static int run_loop(struct hvb_vcpu *v)
{
	for (;;) {
		if (atomic_exchange(&v->cancel, false)) {
			v->run->immediate_exit = 0;
			v->st.exit = (struct ha64_exit){ .reason = HA64_EXIT_CANCELED };
			return 0;
		}
		if (v->vm->has_run && vtimer_due(v)) {
			exit_vtimer(v);
			return 0;
		}
		if (v->throttle)
			while (!atomic_load(&v->cancel)) {
				uint64_t ns = v->throttle(v->throttle_ctx);
				if (!ns)
					break;
				struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
				nanosleep(&ts, NULL);
			}
		v->vm->has_run = true;
		uint64_t t0 = host_ns(CLOCK_THREAD_CPUTIME_ID);
		int r = ioctl(v->fd, KVM_RUN, 0);
		int err = errno;
		v->exec_ns += host_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
		if (r < 0) {
			if (err == EINTR)
				continue; /* a kick (cancel, checked above) or the quota's timer */
			return -err;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_MMIO:
			if (hvb64__gic_mmio(v))
				continue; /* the GIC's MSI frame, done in here as on macOS */
			return exit_mmio(v);
		case KVM_EXIT_HYPERCALL:
			return exit_hypercall(v);
		case KVM_EXIT_DEBUG: {
			/* trap_debug_exceptions (KVM_GUESTDBG_USE_SW_BP): KVM
			 * gives ESR_EL2 itself; PC is on the BRK, as Apple's. */
			const struct kvm_debug_exit_arch *d = &v->run->debug.arch;
			exit_exception(v, (uint64_t)d->hsr | (uint64_t)d->hsr_high << 32,
				       (d->hsr >> 26) == 0x35 ? d->far : 0, 0);
			return 0;
		}
		case KVM_EXIT_INTR:
			if (vtimer_due(v)) {
				exit_vtimer(v);
				return 0;
			}
			continue;
		default:
			v->st.exit = (struct ha64_exit){ .reason = HA64_EXIT_UNKNOWN };
			return 0;
		}
	}
}

static int a64_vcpu_run(struct hvb_vcpu *v)
{
	struct ha64_state *st = &v->st;
	v->thread = pthread_self();
	st->error = 0;
	if (st->op != HA64_OP_RUN && st->op != HA64_OP_SYNC)
		return -EINVAL;
	int e = flush_dirty(v);
	if (!e && (st->ctl & HA64_CTL_OFFSET_DIRTY)) {
		pthread_mutex_lock(&v->vm->lock);
		if (v->vm->counter_fixed) {
			/* VM-wide; EBUSY while another vCPU runs (KVM locks all). */
			struct kvm_arm_counter_offset o = { .counter_offset = st->vtimer_offset };
			e = ioctl(v->vm->fd, KVM_ARM_SET_COUNTER_OFFSET, &o) < 0 ? -errno : 0;
			if (!e)
				v->vm->counter_offset = o.counter_offset;
		} else {
			e = set64(v->fd, ID_TIMER_CNT, host_counter() - st->vtimer_offset);
		}
		pthread_mutex_unlock(&v->vm->lock);
		st->ctl &= ~HA64_CTL_OFFSET_DIRTY;
	}
	/* Every vCPU reports the VM's offset (it is VM-wide in KVM). */
	pthread_mutex_lock(&v->vm->lock);
	if (v->vm->counter_fixed)
		st->vtimer_offset = v->vm->counter_offset;
	pthread_mutex_unlock(&v->vm->lock);
	if (!e && !!(st->ctl & HA64_CTL_TRAP_DEBUG) != v->debug_on) {
		struct kvm_guest_debug dbg = { 0 };
		if (st->ctl & HA64_CTL_TRAP_DEBUG)
			dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
		e = ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? -errno : 0;
		if (!e)
			v->debug_on = !v->debug_on;
	}
	if (e || st->op == HA64_OP_SYNC) {
		refresh(v, false);
		st->exec_ns = v->exec_ns;
		return e;
	}
	e = hvb64__gic_before_run(v);
	bool irq = st->ctl & HA64_CTL_IRQ, fiq = st->ctl & HA64_CTL_FIQ;
	if (!e && irq != v->irq_line && !(e = irq_line(v, KVM_ARM_IRQ_CPU_IRQ, irq)))
		v->irq_line = irq;
	if (!e && fiq != v->fiq_line && !(e = irq_line(v, KVM_ARM_IRQ_CPU_FIQ, fiq)))
		v->fiq_line = fiq;
	if (!e)
		e = run_loop(v);
	/* Apple clears the pending interrupts when the run returns. */
	st->ctl &= ~(HA64_CTL_IRQ | HA64_CTL_FIQ);
	if (v->irq_line && irq_line(v, KVM_ARM_IRQ_CPU_IRQ, false) == 0)
		v->irq_line = false;
	if (v->fiq_line && irq_line(v, KVM_ARM_IRQ_CPU_FIQ, false) == 0)
		v->fiq_line = false;
	refresh(v, true);
	st->exec_ns = v->exec_ns;
	v->last_reason = st->exit.reason;
	v->last_ec = st->exit.reason == HA64_EXIT_EXCEPTION ? (uint32_t)(st->exit.syndrome >> 26) & 0x3fu : 0;
	return e;
}

/* ---- the GIC: backend/hvb64_gic.c ---- */

static void last_exit(const struct hvb_vcpu *v, uint32_t *reason, uint32_t *ec)
{
	*reason = v->last_reason;
	*ec = v->last_ec;
}

static const struct hvb_arch_arm64 a64_calls = {
	.host_query = a64_host_query,
	.gic_create = hvb64__gic_create,
	.gic_set_spi = hvb64__gic_set_spi,
	.gic_send_msi = hvb64__gic_send_msi,
	.gic_reg = hvb64__gic_reg,
	.gic_redist_base = hvb64__gic_redist_base,
	.gic_state_get = hvb64__gic_state_get,
	.gic_state_set = hvb64__gic_state_set,
	.gic_reset = hvb64__gic_reset,
	.last_exit = last_exit,
};

const struct hvb_ops hvb_a64_ops = {
	.name = "arm64-kvm",
	.arch = HVB_ARCH_ARM64,
	.arch_state_size = sizeof(struct ha64_state),
	.kick_signal = a64_kick_signal,
	.guard_install = a64_guard_install,
	.host_create = a64_host_create,
	.host_destroy = a64_host_destroy,
	.host_info = a64_host_info,
	.vm_create = a64_vm_create,
	.vm_destroy = a64_vm_destroy,
	.vm_abandon = a64_vm_abandon,
	.vm_map = a64_vm_map,
	.vm_unmap = a64_vm_unmap,
	.vm_protect = a64_vm_protect,
	.vm_usage = a64_vm_usage,
	.vm_maps = a64_vm_maps,
	.vm_hva_in_use = a64_vm_hva_in_use,
	.vcpu_create = a64_vcpu_create,
	.vcpu_destroy = a64_vcpu_destroy,
	.vcpu_id = a64_vcpu_id,
	.vcpu_run = a64_vcpu_run,
	.vcpu_kick = a64_vcpu_kick,
	.vcpu_set_throttle = a64_vcpu_set_throttle,
	.vcpu_exec_time = a64_vcpu_exec_time,
	.vcpu_import = a64_vcpu_import,
	.vcpu_export = a64_vcpu_export,
	.arm64 = &a64_calls,
};
