/*
 * What the arm64 backend's files share (backend/hvb64.c, hvb64_gic.c): the
 * objects behind the opaque handles of hvb_ops.h, and the GIC's entry
 * points and hooks into the VM's and vCPUs' life (vcpu creation, the run
 * loop). Nothing outside backend/hvb64*.c includes it.
 */
#ifndef HVB64_PRIV_H
#define HVB64_PRIV_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ha64.h"
#include "hvb_ops.h"

#define MAX_MAPS 64

struct hvb_host {
	int kvm;
	int run_size;
	struct hvb_host_info info;
	struct hvb_a64_host a64;
	bool ptrauth;                  /* KVM gives guests pointer authentication */
};

struct map {
	uint64_t gpa, size;
	void *hva;
	uint32_t flags;
	uint32_t slot;
	bool used;
};

struct hvb64_gic;

struct hvb_vm {
	struct hvb_host *host;
	int fd;
	pthread_mutex_t lock;
	struct map maps[MAX_MAPS];
	uint32_t nvcpus;               /* live vCPUs */
	/* KVM cannot destroy a vCPU: a destroyed one waits here, its id, fd
	 * and run mapping kept, for the next vcpu_create to reset and reuse. */
	struct hvb64_spare {
		unsigned id;
		int fd;
		struct kvm_run *run;
	} spare[HVB_MAX_VCPUS];
	uint32_t nspare;
	uint32_t next_id;              /* KVM vCPU ids handed out so far */
	bool smccc_filter;
	/* KVM_ARM_SET_COUNTER_OFFSET (6.4+) used: the guest counter is the
	 * host's minus `counter_offset` for every vCPU, and KVM no longer
	 * resets it when a vCPU is created. Under `lock`. */
	bool counter_fixed;
	uint64_t counter_offset;
	bool has_run;
	struct hvb64_gic *gic;         /* NULL: no hv_gic_create (hvb64_gic.c) */
};

struct hvb_vcpu {
	struct hvb_vm *vm;
	int fd;
	unsigned id;
	struct kvm_run *run;
	pthread_t thread;
	_Atomic bool cancel;
	hvb_throttle_fn throttle;
	void *throttle_ctx;
	uint64_t exec_ns;
	bool irq_line, fiq_line;       /* KVM_IRQ_LINE levels we set */
	bool debug_on;
	struct ha64_state st;          /* the backend's own copy */
	uint32_t last_reason, last_ec;
	/* MPIDR_EL1 as KVM has it (read at creation, kept at each write):
	 * the GIC's attribute calls name a vCPU by it, and reading it from
	 * KVM would wait for a run of that vCPU to end (hvd calls the GIC
	 * from its loop thread, which must never wait on a guest). */
	_Atomic uint64_t mpidr;
};

#define HVB64_ID_MPIDR 0x603000000013c005ull /* MPIDR_EL1: op0 3 op1 0 CRn 0 CRm 0 op2 5 */

/* ---- backend/hvb64_gic.c ---- */

/* The GIC geometry built on KVM (api/hva64.h's HVA64_GIC_* say the same
 * to clients): interrupts 0..991, as KVM's NR_IRQS is at most 1023 and a
 * multiple of 32. */
#define HVB64_GIC_NR_IRQS 992u
#define HVB64_GIC_REDIST_SIZE 0x20000ull
#define HVB64_GIC_MSI_SIZE 0x10000ull

/* The arm64 table's GIC calls (struct hvb_arch_arm64). */
int hvb64__gic_create(struct hvb_vm *vm, const struct hvb_a64_gic_config *cfg);
int hvb64__gic_set_spi(struct hvb_vm *vm, uint32_t intid, bool level);
int hvb64__gic_send_msi(struct hvb_vm *vm, uint64_t addr, uint32_t intid);
int hvb64__gic_reg(struct hvb_vm *vm, struct hvb_vcpu *vcpu, enum hvb_a64_gic_space space,
		   uint32_t reg, bool write, uint64_t *value);
int hvb64__gic_redist_base(struct hvb_vm *vm, struct hvb_vcpu *vcpu, uint64_t *base);
int hvb64__gic_state_get(struct hvb_vm *vm, void **blob, size_t *size);
int hvb64__gic_state_set(struct hvb_vm *vm, const void *blob, size_t size);
int hvb64__gic_reset(struct hvb_vm *vm);

/* Hooks. vm_destroy: the GIC goes with the VM. vcpu_add (under vm->lock,
 * once the vCPU is complete) and vcpu_remove: the GIC's list of vCPUs, for
 * its state. before_run (the owner, before KVM_RUN): the vGIC initialised
 * (KVM wants that after the last vCPU; Apple creates the GIC before them);
 * refuses Apple's pending IRQ/FIQ, which KVM cannot take beside its vGIC.
 * mmio: true when a KVM_EXIT_MMIO was the GIC's MSI frame and is handled
 * (the run goes on; the client never sees it, as on macOS). */
void hvb64__gic_vm_destroy(struct hvb_vm *vm);
void hvb64__gic_vcpu_add(struct hvb_vcpu *v);
void hvb64__gic_vcpu_remove(struct hvb_vcpu *v);
int hvb64__gic_before_run(struct hvb_vcpu *v);
bool hvb64__gic_mmio(struct hvb_vcpu *v);

#endif
