/* Backend internals shared between the backend's files. Not installed. */
#ifndef HVB_PRIV_H
#define HVB_PRIV_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "hvb.h"
#include "hvb_decode.h"
#include "hvs.h"

/* Log with context to stderr; the backend never aborts. */
void hvb__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct hvb_host {
	int kvm_fd;
	struct hvb_host_info info;
	struct kvm_cpuid2 *cpuid;     /* what every vCPU is given */
	bool quirks2;                 /* KVM_CAP_DISABLE_QUIRKS2 */
	/* The power-on state of a KVM vCPU 0 given `cpuid`, from the first
	 * one made (hvb_pool.c); the same for every VM of the host. Set once. */
	_Atomic(struct hvb_reset *) reset;
};

/* One contiguous guest-physical mapping, backed by one KVM memslot. */
struct hvb_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint32_t flags;               /* HVB_MEM_* */
	uint32_t slot;                /* KVM slot id; unused when !READ */
	bool has_slot;
};

/* Guest-physical page that holds the backend's hidden real-mode IVT
 * (kvm-notes.md §3). Its address moves if the client maps over it. */
#define HVB_TRAP_LINEAR 0x100F00ull

struct hvb_vm {
	struct hvb_host *host;
	int fd;
	pthread_mutex_t lock;         /* regions, slots, vcpus, msr filter */
	struct hvb_region *regions;   /* sorted by gpa, non-overlapping */
	size_t nregions, cap_regions;
	uint8_t *slot_used;           /* one byte per KVM slot id */
	uint32_t nslots;

	uint8_t *ivt_page;            /* 4 KiB, read-only to the guest */
	uint64_t ivt_gpa;
	uint32_t ivt_slot;
	bool ivt_mapped;
	/* A page of HLT at HVB_TRAP_LINEAR, when no client mapping is there:
	 * the trap then needs no hardware breakpoint, whose guest-debug mode
	 * slows every exit (about 5 us on PVM, measured by bench/). */
	uint32_t stub_slot;
	bool stub_mapped;

	struct hvb_vcpu *vcpus[HVB_MAX_VCPUS];
	unsigned nvcpus;
	/* KVM cannot destroy a vCPU: destroyed ones wait here and are reset
	 * to the power-on state for the next create. */
	struct hvb_spare {
		int fd;
		struct kvm_run *run;
	} spares[HVB_MAX_VCPUS];
	unsigned nspares;
	unsigned next_kvm_id;
	/* The MSR filter KVM has (valid once filter_set): the MSRs it lets
	 * through, in ascending order. */
	bool filter_set;
	unsigned filter_n;
	uint32_t filter_msrs[KVM_MSR_FILTER_MAX_RANGES];
	_Atomic uint64_t tsc_gen;
	uint64_t tsc_value;
};

#define HVB_MAX_NATIVE_MSRS 16

/* A struct kvm_msrs with room for `n` entries. The struct ends in a
 * flexible array, so it is not put inside another struct (a GNU extension
 * clang warns about); a union gives it the room. Use `.h`. */
#define HVB_KVM_MSRS(n) \
	union { \
		struct kvm_msrs h; \
		uint8_t room[sizeof(struct kvm_msrs) + (n) * sizeof(struct kvm_msr_entry)]; \
	}

struct hvb_vcpu {
	struct hvb_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;

	struct hvs_state st;
	uint32_t debug_flags;         /* KVM_GUESTDBG_* in force */
	bool trap_stub;               /* real-mode trap through the HLT stub */
	uint64_t tsc_gen;

	uint32_t native_msrs[HVB_MAX_NATIVE_MSRS];
	unsigned nnative;

	_Atomic int in_run;
	_Atomic int kick;
	_Atomic pthread_t thread;
	uint64_t exec_ns;               /* written by the running thread only;
					 * __atomic_* accesses (any thread reads) */
	hvb_throttle_fn throttle;       /* see hvb_vcpu_set_throttle */
	void *throttle_ctx;
};

/* hvb_vm.c */
struct hvb_region *hvb__vm_find(struct hvb_vm *vm, uint64_t gpa);
int hvb__vm_update_msr_filter(struct hvb_vm *vm);
int hvb__vm_ivt_place(struct hvb_vm *vm);
bool hvb__vm_stub_place(struct hvb_vm *vm);

/* hvb_pool.c: the VM's KVM vCPUs, reused (KVM cannot destroy one); called
 * with the VM lock held, except hvb__pool_free (the VM is going away). */
/* A KVM vCPU in its power-on state: a reset spare, or a new one. Fills
 * `st`'s registers, events and cached MSRs with that state when it knows
 * them without asking KVM, and returns 1 then (0: ask KVM). */
int hvb__pool_get(struct hvb_vm *vm, int *fd, struct kvm_run **run, struct hvs_state *st);
/* Give a KVM vCPU back for the next hvb__pool_get. */
void hvb__pool_put(struct hvb_vm *vm, int fd, struct kvm_run *run);
/* Close every spare. */
void hvb__pool_free(struct hvb_vm *vm);
/* Capture the power-on state from `fd`, a new KVM vCPU 0 given the
 * host's CPUID that has not run, unless it is known already. */
int hvb__reset_capture(struct hvb_host *host, int fd);
/* The host's power-on state goes with the host. */
void hvb__reset_free(struct hvb_host *host);

/* hvb_vcpu.c */
int hvb__msr_get(struct hvb_vcpu *vcpu, uint32_t index, uint64_t *value);
int hvb__msr_set(struct hvb_vcpu *vcpu, uint32_t index, uint64_t value);
/* hvb_vcpu.c: one KVM_RUN, keeping the kick protocol (a kick at any point
 * makes this or the next one return -EINTR); `flush` runs no guest code. */
int hvb__kvm_run_once(struct hvb_vcpu *v, bool flush);
/* Finish a pending I/O, MMIO or MSR completion inside KVM. */
int hvb__flush(struct hvb_vcpu *v);
/* hvb_vcpu.c: guest memory seen through the vCPU's paging. */
int hvb__gla_to_gpa(struct hvb_vcpu *vcpu, uint64_t gla, bool write,
		    uint64_t *gpa);
int hvb__read_linear(struct hvb_vcpu *vcpu, uint64_t gla, void *buf,
		     size_t len);
enum hvb_cpu_mode hvb__cpu_mode(const struct kvm_sregs *s);

/* A copy to or from guest memory that fails with -EFAULT instead of
 * SIGBUS once hvb_guard_install ran (hvb_guard.c). */
int hvb__guarded_copy(void *dst, const void *src, size_t len);

#endif
