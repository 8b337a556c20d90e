/*
 * VMs and guest-physical memory. Each Apple mapping is one KVM memslot;
 * partial unmap and protect split mappings into new slots. A mapping
 * without WRITE is a read-only slot (writes exit as MMIO and become EPT
 * violations); a mapping without READ has no slot at all. EXEC cannot be
 * withheld on KVM (kvm-notes.md §2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvb_priv.h"

#define PAGE 4096ull
#define IVT_DEFAULT_GPA 0xfffff000ull

static void fill_ivt(uint8_t *page)
{
	/* Entry n points at CS = 0xffff - n, IP = 0x0f10 + 16 n: every vector
	 * lands on the same linear address HVB_TRAP_LINEAR, and the vector is
	 * recovered from CS. */
	for (unsigned n = 0; n < 256; n++) {
		uint16_t ip = (uint16_t)(0x0f10 + 16 * n);
		uint16_t cs = (uint16_t)(0xffff - n);
		memcpy(page + 4 * n, &ip, 2);
		memcpy(page + 4 * n + 2, &cs, 2);
	}
}

int hvb_vm_create(struct hvb_host *host, uint64_t options, struct hvb_vm **out)
{
	struct hvb_vm *vm;
	int r;

	(void)options;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->host = host;
	pthread_mutex_init(&vm->lock, NULL);
	vm->nslots = host->info.nr_memslots;
	vm->slot_used = calloc(vm->nslots, 1);
	if (!vm->slot_used) {
		r = -ENOMEM;
		goto err_free;
	}
	vm->ivt_page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ivt_page == MAP_FAILED) {
		r = -errno;
		goto err_slots;
	}
	fill_ivt(vm->ivt_page);
	memset(vm->ivt_page + PAGE, 0xf4, PAGE); /* the HLT stub */

	vm->fd = ioctl(host->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		r = -errno;
		goto err_ivt;
	}

	/* Port 0x7e behaves like every other port (kvm-notes.md §1). */
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DISABLE_QUIRKS2,
				      .args[0] = KVM_X86_QUIRK_OUT_7E_INC_RIP };
	if (host->quirks2)
		(void)ioctl(vm->fd, KVM_ENABLE_CAP, &cap);

	if (host->info.msr_filter) {
		struct kvm_enable_cap msr = {
			.cap = KVM_CAP_X86_USER_SPACE_MSR,
			.args[0] = KVM_MSR_EXIT_REASON_FILTER |
				   KVM_MSR_EXIT_REASON_UNKNOWN |
				   KVM_MSR_EXIT_REASON_INVAL,
		};
		if (ioctl(vm->fd, KVM_ENABLE_CAP, &msr) < 0) {
			r = -errno;
			hvb__log("enabling user-space MSR exits failed: %d", r);
			goto err_fd;
		}
		/* The filter itself comes with the first vCPU (on its
		 * thread): hvb__vm_update_msr_filter. */
	}
	vm->ivt_gpa = IVT_DEFAULT_GPA;
	*out = vm;
	return 0;

err_fd:
	close(vm->fd);
err_ivt:
	munmap(vm->ivt_page, 2 * PAGE);
err_slots:
	free(vm->slot_used);
err_free:
	pthread_mutex_destroy(&vm->lock);
	free(vm);
	return r;
}

int hvb_vm_destroy(struct hvb_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->nvcpus) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&vm->lock);
	hvb__pool_free(vm);
	close(vm->fd);
	munmap(vm->ivt_page, 2 * PAGE);
	free(vm->regions);
	free(vm->slot_used);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
	return 0;
}

void hvb_vm_abandon(struct hvb_vm *vm)
{
	for (unsigned i = 0; i < HVB_MAX_VCPUS; i++) {
		struct hvb_vcpu *v = vm->vcpus[i];
		if (!v)
			continue;
		munmap(v->run, v->run_size);
		close(v->fd);
		free(v);
	}
	hvb__pool_free(vm);
	close(vm->fd);
	munmap(vm->ivt_page, 2 * PAGE);
	free(vm->regions);
	free(vm->slot_used);
	free(vm);
}

/* ---- memslots ---- */

static int slot_alloc(struct hvb_vm *vm, uint32_t *slot)
{
	for (uint32_t i = 0; i < vm->nslots; i++) {
		if (!vm->slot_used[i]) {
			vm->slot_used[i] = 1;
			*slot = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static unsigned slots_free(const struct hvb_vm *vm)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < vm->nslots; i++)
		n += !vm->slot_used[i];
	return n;
}

static int slot_set(struct hvb_vm *vm, uint32_t slot, uint64_t gpa,
		    uint64_t size, void *hva, bool readonly)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

static void slot_delete(struct hvb_vm *vm, uint32_t slot)
{
	struct kvm_userspace_memory_region r = { .slot = slot };
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		hvb__log("deleting memslot %u failed: %d", slot, -errno);
	vm->slot_used[slot] = 0;
}

static bool overlaps(uint64_t a, uint64_t asz, uint64_t b, uint64_t bsz)
{
	return a < b + bsz && b < a + asz;
}

/* Give a region its KVM slot (none when it is not readable). */
static int region_install(struct hvb_vm *vm, struct hvb_region *r)
{
	int e;
	r->has_slot = false;
	if (!(r->flags & HVB_MEM_READ))
		return 0;
	e = slot_alloc(vm, &r->slot);
	if (e < 0)
		return e;
	e = slot_set(vm, r->slot, r->gpa, r->size, r->hva, !(r->flags & HVB_MEM_WRITE));
	if (e < 0) {
		vm->slot_used[r->slot] = 0;
		return e;
	}
	r->has_slot = true;
	return 0;
}

static void region_uninstall(struct hvb_vm *vm, struct hvb_region *r)
{
	if (r->has_slot)
		slot_delete(vm, r->slot);
	r->has_slot = false;
}

static int regions_reserve(struct hvb_vm *vm, size_t extra)
{
	if (vm->nregions + extra <= vm->cap_regions)
		return 0;
	size_t cap = vm->cap_regions ? vm->cap_regions * 2 : 16;
	while (cap < vm->nregions + extra)
		cap *= 2;
	struct hvb_region *n = realloc(vm->regions, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	vm->regions = n;
	vm->cap_regions = cap;
	return 0;
}

static void regions_insert(struct hvb_vm *vm, const struct hvb_region *r)
{
	size_t i = 0;
	while (i < vm->nregions && vm->regions[i].gpa < r->gpa)
		i++;
	memmove(&vm->regions[i + 1], &vm->regions[i],
		(vm->nregions - i) * sizeof(*r));
	vm->regions[i] = *r;
	vm->nregions++;
}

static void regions_remove(struct hvb_vm *vm, size_t i)
{
	memmove(&vm->regions[i], &vm->regions[i + 1],
		(vm->nregions - i - 1) * sizeof(vm->regions[0]));
	vm->nregions--;
}

struct hvb_region *hvb__vm_find(struct hvb_vm *vm, uint64_t gpa)
{
	size_t lo = 0, hi = vm->nregions;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct hvb_region *r = &vm->regions[mid];
		if (gpa < r->gpa)
			hi = mid;
		else if (gpa >= r->gpa + r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static bool aligned(uint64_t v)
{
	return (v & (PAGE - 1)) == 0;
}

/* The hidden IVT page must not shadow client memory: drop it, and let the
 * next real-mode entry place it elsewhere. */
static void ivt_evict_if(struct hvb_vm *vm, uint64_t gpa, uint64_t size)
{
	if (vm->ivt_mapped && overlaps(gpa, size, vm->ivt_gpa, PAGE)) {
		slot_delete(vm, vm->ivt_slot);
		vm->ivt_mapped = false;
	}
	if (vm->stub_mapped && overlaps(gpa, size, HVB_TRAP_LINEAR & ~(PAGE - 1), PAGE)) {
		slot_delete(vm, vm->stub_slot);
		vm->stub_mapped = false;
	}
}

int hvb_vm_map(struct hvb_vm *vm, void *hva, uint64_t gpa, uint64_t size,
	       uint32_t flags)
{
	struct hvb_region r = { .gpa = gpa, .size = size, .hva = hva, .flags = flags };
	int e;

	if (!hva || !aligned((uintptr_t)hva) || !aligned(gpa) || !aligned(size) ||
	    size == 0 || gpa + size < gpa)
		return -EINVAL;
	if (flags & ~(uint32_t)(HVB_MEM_READ | HVB_MEM_WRITE | HVB_MEM_EXEC))
		return -EINVAL;

	pthread_mutex_lock(&vm->lock);
	for (size_t i = 0; i < vm->nregions; i++) {
		if (overlaps(gpa, size, vm->regions[i].gpa, vm->regions[i].size)) {
			e = -EEXIST;
			goto out;
		}
	}
	e = regions_reserve(vm, 1);
	if (e < 0)
		goto out;
	ivt_evict_if(vm, gpa, size);
	e = region_install(vm, &r);
	if (e < 0)
		goto out;
	regions_insert(vm, &r);
out:
	pthread_mutex_unlock(&vm->lock);
	return e;
}

/* True if [gpa, gpa+size) is covered by mappings without holes. */
static bool fully_mapped(struct hvb_vm *vm, uint64_t gpa, uint64_t size)
{
	uint64_t at = gpa, end = gpa + size;
	while (at < end) {
		struct hvb_region *r = hvb__vm_find(vm, at);
		if (!r)
			return false;
		at = r->gpa + r->size;
	}
	return true;
}

/*
 * Unmap (protect == false) or reprotect [gpa, gpa+size). Each affected
 * mapping is replaced by up to three pieces: the part before the range, the
 * part inside it (only when reprotecting), and the part after it.
 */
static int change(struct hvb_vm *vm, uint64_t gpa, uint64_t size, bool protect,
		  uint32_t flags)
{
	uint64_t end = gpa + size;
	int e = 0;

	if (!aligned(gpa) || !aligned(size) || size == 0 || end < gpa)
		return -EINVAL;
	if (protect && (flags & ~(uint32_t)(HVB_MEM_READ | HVB_MEM_WRITE | HVB_MEM_EXEC)))
		return -EINVAL;

	pthread_mutex_lock(&vm->lock);
	if (!fully_mapped(vm, gpa, size)) {
		e = -ENOENT;
		goto out;
	}
	/* Worst case every affected mapping becomes three; fail before
	 * touching anything if slots or memory would run out. */
	size_t affected = 0;
	for (size_t i = 0; i < vm->nregions; i++)
		affected += overlaps(gpa, size, vm->regions[i].gpa, vm->regions[i].size);
	if (slots_free(vm) + affected < affected * 3) {
		e = -ENOSPC;
		goto out;
	}
	e = regions_reserve(vm, affected * 3);
	if (e < 0)
		goto out;

	for (size_t i = 0; i < vm->nregions;) {
		struct hvb_region old = vm->regions[i];
		if (!overlaps(gpa, size, old.gpa, old.size)) {
			i++;
			continue;
		}
		region_uninstall(vm, &vm->regions[i]);
		regions_remove(vm, i);

		struct hvb_region piece[3];
		unsigned n = 0;
		uint64_t lo = old.gpa > gpa ? old.gpa : gpa;
		uint64_t hi = old.gpa + old.size < end ? old.gpa + old.size : end;
		if (old.gpa < lo)
			piece[n++] = (struct hvb_region){ old.gpa, lo - old.gpa, old.hva, old.flags, 0, false };
		if (protect)
			piece[n++] = (struct hvb_region){ lo, hi - lo, old.hva + (lo - old.gpa), flags, 0, false };
		if (hi < old.gpa + old.size)
			piece[n++] = (struct hvb_region){ hi, old.gpa + old.size - hi, old.hva + (hi - old.gpa), old.flags, 0, false };
		for (unsigned k = 0; k < n; k++) {
			int ie = region_install(vm, &piece[k]);
			if (ie < 0) {
				/* The pre-checks make this a KVM failure; the
				 * piece stays listed without a slot (its
				 * accesses exit) rather than vanish. */
				hvb__log("memslot for gpa 0x%llx failed: %d",
					 (unsigned long long)piece[k].gpa, ie);
				e = ie;
			}
			regions_insert(vm, &piece[k]);
		}
		/* Restart: the array changed under us; pieces are either
		 * outside the range or already have their final flags. */
		i = 0;
		while (i < vm->nregions && vm->regions[i].gpa + vm->regions[i].size <= hi)
			i++;
	}
out:
	pthread_mutex_unlock(&vm->lock);
	return e;
}

int hvb_vm_unmap(struct hvb_vm *vm, uint64_t gpa, uint64_t size)
{
	return change(vm, gpa, size, false, 0);
}

int hvb_vm_protect(struct hvb_vm *vm, uint64_t gpa, uint64_t size,
		   uint32_t flags)
{
	return change(vm, gpa, size, true, flags);
}

int hvb_vm_sync_tsc(struct hvb_vm *vm, uint64_t tsc)
{
	if (!vm->host->info.tsc_writable)
		return -ENOTSUP;
	pthread_mutex_lock(&vm->lock);
	vm->tsc_value = tsc;
	atomic_fetch_add(&vm->tsc_gen, 1);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

void hvb_vm_usage(struct hvb_vm *vm, uint64_t *bytes, uint32_t *mappings)
{
	uint64_t b = 0;
	pthread_mutex_lock(&vm->lock);
	for (size_t i = 0; i < vm->nregions; i++)
		b += vm->regions[i].size;
	*mappings = (uint32_t)vm->nregions;
	pthread_mutex_unlock(&vm->lock);
	*bytes = b;
}

size_t hvb_vm_maps(struct hvb_vm *vm, struct hvb_map_info *out, size_t max)
{
	pthread_mutex_lock(&vm->lock);
	size_t n = vm->nregions;
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = (struct hvb_map_info){ vm->regions[i].gpa, vm->regions[i].size,
						vm->regions[i].flags };
	pthread_mutex_unlock(&vm->lock);
	return n;
}

bool hvb_vm_hva_in_use(struct hvb_vm *vm, const void *hva, uint64_t size)
{
	const uint8_t *lo = hva;
	bool used = false;
	pthread_mutex_lock(&vm->lock);
	for (size_t i = 0; i < vm->nregions && !used; i++) {
		const struct hvb_region *r = &vm->regions[i];
		used = r->hva < lo + size && lo < r->hva + r->size;
	}
	pthread_mutex_unlock(&vm->lock);
	return used;
}

static int phys_copy(struct hvb_vm *vm, uint64_t gpa, void *buf, size_t len,
		     bool write)
{
	uint8_t *p = buf;
	int e = 0;

	pthread_mutex_lock(&vm->lock);
	while (len) {
		struct hvb_region *r = hvb__vm_find(vm, gpa);
		if (!r || !(r->flags & HVB_MEM_READ) ||
		    (write && !(r->flags & HVB_MEM_WRITE))) {
			e = -EFAULT;
			break;
		}
		uint64_t n = r->gpa + r->size - gpa;
		if (n > len)
			n = len;
		uint8_t *hva = r->hva + (gpa - r->gpa);
		/* Fault-safe in hvd (hvb_guard.c). */
		if ((e = write ? hvb__guarded_copy(hva, p, n) : hvb__guarded_copy(p, hva, n)) < 0)
			break;
		p += n;
		gpa += n;
		len -= n;
	}
	pthread_mutex_unlock(&vm->lock);
	return e;
}

int hvb_vm_read_phys(struct hvb_vm *vm, uint64_t gpa, void *buf, size_t len)
{
	return phys_copy(vm, gpa, buf, len, false);
}

int hvb_vm_write_phys(struct hvb_vm *vm, uint64_t gpa, const void *buf,
		      size_t len)
{
	return phys_copy(vm, gpa, (void *)buf, len, true);
}

/*
 * Make sure the hidden IVT page is mapped at a GPA no client mapping uses,
 * searching down from just below 4 GiB. Called with the VM lock held.
 */
int hvb__vm_ivt_place(struct hvb_vm *vm)
{
	int e;
	if (vm->ivt_mapped)
		return 0;
	uint64_t gpa = IVT_DEFAULT_GPA;
	for (;;) {
		bool busy = false;
		for (size_t i = 0; i < vm->nregions; i++) {
			struct hvb_region *r = &vm->regions[i];
			if (overlaps(gpa, PAGE, r->gpa, r->size)) {
				busy = true;
				gpa = r->gpa - PAGE;
				break;
			}
		}
		if (!busy)
			break;
		if (gpa < 0x110000 || gpa > IVT_DEFAULT_GPA)
			return -ENOSPC;
	}
	e = slot_alloc(vm, &vm->ivt_slot);
	if (e < 0)
		return e;
	e = slot_set(vm, vm->ivt_slot, gpa, PAGE, vm->ivt_page, true);
	if (e < 0) {
		vm->slot_used[vm->ivt_slot] = 0;
		return e;
	}
	vm->ivt_gpa = gpa;
	vm->ivt_mapped = true;
	return 0;
}

/*
 * Put the HLT stub page at HVB_TRAP_LINEAR unless client memory is there.
 * Called with the VM lock held; false means "use the breakpoint".
 */
bool hvb__vm_stub_place(struct hvb_vm *vm)
{
	const uint64_t gpa = HVB_TRAP_LINEAR & ~(PAGE - 1);
	if (vm->stub_mapped)
		return true;
	for (size_t i = 0; i < vm->nregions; i++)
		if (overlaps(gpa, PAGE, vm->regions[i].gpa, vm->regions[i].size))
			return false;
	if (slot_alloc(vm, &vm->stub_slot) < 0)
		return false;
	if (slot_set(vm, vm->stub_slot, gpa, PAGE, vm->ivt_page + PAGE, true) < 0) {
		vm->slot_used[vm->stub_slot] = 0;
		return false;
	}
	vm->stub_mapped = true;
	return true;
}

/*
 * The MSR filter is per VM, native MSRs are per vCPU (Apple): KVM lets
 * through only MSRs every vCPU made native; a vCPU that made one native
 * while another did not gets the exit and the backend completes it
 * silently (exit_msr in hvb_exit.c). Called with the VM lock held.
 *
 * KVM_X86_SET_MSR_FILTER waits for an SRCU grace period of the VM, which
 * a busy host can stretch to seconds (docs/differences.md), so KVM is
 * only asked when the filter really changes: not before the VM has a
 * vCPU (none can run without one), not when a vCPU comes or goes without
 * changing what every vCPU shares, never when the last vCPU goes.
 */
static int filter_install(int vm_fd, const uint32_t *allow, unsigned n);

int hvb__vm_update_msr_filter(struct hvb_vm *vm)
{
	uint32_t allow[KVM_MSR_FILTER_MAX_RANGES];
	unsigned n = 0;

	if (!vm->host->info.msr_filter || vm->nvcpus == 0)
		return 0;
	struct hvb_vcpu *first = NULL;
	for (unsigned i = 0; i < HVB_MAX_VCPUS && !first; i++)
		first = vm->vcpus[i];
	for (unsigned k = 0; first && k < first->nnative; k++) {
		uint32_t msr = first->native_msrs[k];
		bool everyone = true;
		for (unsigned i = 0; i < HVB_MAX_VCPUS && everyone; i++) {
			struct hvb_vcpu *v = vm->vcpus[i];
			if (!v)
				continue;
			bool has = false;
			for (unsigned j = 0; j < v->nnative; j++)
				has |= v->native_msrs[j] == msr;
			everyone = has;
		}
		if (everyone && n < KVM_MSR_FILTER_MAX_RANGES) {
			/* Ascending, so that equal sets compare equal. */
			unsigned at = n++;
			for (; at > 0 && allow[at - 1] > msr; at--)
				allow[at] = allow[at - 1];
			allow[at] = msr;
		}
	}
	if (vm->filter_set && vm->filter_n == n &&
	    memcmp(vm->filter_msrs, allow, n * sizeof(allow[0])) == 0)
		return 0;
	int r = filter_install(vm->fd, allow, n);
	if (r < 0)
		return r;
	vm->filter_set = true;
	vm->filter_n = n;
	memcpy(vm->filter_msrs, allow, n * sizeof(allow[0]));
	return 0;
}

int hvb_vm_prepare(struct hvb_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	bool todo = vm->host->info.msr_filter && !vm->filter_set && vm->nvcpus == 0;
	pthread_mutex_unlock(&vm->lock);
	if (!todo)
		return 0;
	/* Outside the lock: the grace period must not hold up the VM's
	 * memory changes. The caller makes no vCPU meanwhile, so nobody
	 * else sets the filter. What a new vCPU starts with: nothing native. */
	int r = filter_install(vm->fd, NULL, 0);
	if (r < 0)
		return r;
	pthread_mutex_lock(&vm->lock);
	vm->filter_set = true;
	vm->filter_n = 0;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/* Deny every MSR to the guest but `allow` (ascending). */
static int filter_install(int vm_fd, const uint32_t *allow, unsigned n)
{
	struct kvm_msr_filter f;
	uint8_t allow_bit = 1, deny_bit = 0;

	memset(&f, 0, sizeof(f));
	f.flags = KVM_MSR_FILTER_DEFAULT_DENY;
	for (unsigned i = 0; i < n; i++) {
		f.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
		f.ranges[i].nmsrs = 1;
		f.ranges[i].base = allow[i];
		f.ranges[i].bitmap = &allow_bit;
	}
	if (n == 0) {
		/* KVM refuses "deny by default" with no ranges at all. */
		f.ranges[0].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
		f.ranges[0].nmsrs = 1;
		f.ranges[0].base = 0;
		f.ranges[0].bitmap = &deny_bit;
	}
	if (ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0) {
		int e = -errno;
		hvb__log("setting the MSR filter failed: %d", e);
		return e;
	}
	return 0;
}
