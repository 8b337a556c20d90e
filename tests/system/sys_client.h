/*
 * sys_client.h: the well-behaved hvd client that system tests run in
 * forked child processes.
 *
 * Unlike the conformance harness it never asserts: a Criterion assertion in
 * a forked child would report into the parent's test. Every helper returns
 * 0 or a non-zero step code and prints what went wrong to stderr, and a
 * child ends with _exit(code) so the test reads the result from waitpid.
 * Only the public Hypervisor.framework API is used, through libhvclient.
 */
#ifndef SYS_CLIENT_H
#define SYS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_vmx.h>

/* Guest-physical layout of every system guest (tests/system/guests). */
#define SYS_RAM_SIZE 0x80000u  /* RAM mapped RWX at GPA 0 */
#define SYS_CODE 0x1000u       /* load address and entry point */
#define SYS_DATA 0x9000u       /* the dword the guests read and write */
#define SYS_STACK 0xf000u
#define SYS_GDT 0x0500u        /* sys_vm_protected32's GDT and TSS */
#define SYS_TSS 0x0700u

#define SYS_GUEST_DECLARE(name)                                               \
	extern const uint8_t guest_##name##_start[];                          \
	extern const uint8_t guest_##name##_end[]
#define SYS_GUEST(name)                                                       \
	guest_##name##_start, (size_t)(guest_##name##_end - guest_##name##_start)

SYS_GUEST_DECLARE(sys_lcg);
SYS_GUEST_DECLARE(sys_count);
SYS_GUEST_DECLARE(sys_peek);

/* Ports of the OUT exits the guests make. */
#define SYS_PORT_LCG 0x20u
#define SYS_PORT_PEEK 0x21u

/* The process's VM (Apple's model: one per process) and the calling
 * thread's vCPU, in real mode. */
struct sys_vm {
	uint8_t *ram;
	hv_vcpuid_t vcpu;
	bool own_ram;
};

/* Prints "client <pid>: <message>" to stderr and returns `code`. */
int sys_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Creates the VM, maps SYS_RAM_SIZE bytes of fresh anonymous memory at GPA
 * 0, creates the calling thread's vCPU in real mode and loads `image` at
 * SYS_CODE. Returns 0 or a step code (after printing the failure). */
int sys_vm_start(struct sys_vm *vm, const uint8_t *image, size_t size);

/* The same, with guest RAM at `ram` (SYS_RAM_SIZE bytes the caller owns). */
int sys_vm_start_on(struct sys_vm *vm, uint8_t *ram, const uint8_t *image, size_t size);

/* The same in a VM the process already has: maps `ram` (SYS_RAM_SIZE
 * bytes) at GPA 0, makes a vCPU on the calling thread, sets it up and
 * loads `image`. Returns 0 or a step code (sys_fail). */
int sys_vm_attach(struct sys_vm *vm, uint8_t *ram, const uint8_t *image, size_t size);

/* Switches the vCPU of a started VM to flat 32-bit protected mode: every
 * segment base 0 and limit 4 GiB, no paging, no IDT (a GDT and TSS at
 * SYS_GDT and SYS_TSS). RIP stays. Returns 0 or a step code. */
int sys_vm_protected32(struct sys_vm *vm);

/* Points RIP back at SYS_CODE with a fresh copy of `image`. */
int sys_vm_reload(struct sys_vm *vm, const uint8_t *image, size_t size);

/* Destroys the vCPU and the VM, and unmaps RAM that sys_vm_start made. */
int sys_vm_end(struct sys_vm *vm);

/* Runs until an exit that is not VMX_REASON_IRQ (a spurious return Apple
 * documents, which clients just re-run) and stores the basic exit reason.
 * Returns the first hv_vcpu_run status that is not HV_SUCCESS, or
 * HV_SUCCESS. */
hv_return_t sys_run(struct sys_vm *vm, uint32_t *reason);

/* Runs the loaded sys_lcg guest for `steps` steps from `seed` and checks
 * every reported value, the final HLT and the value stored in guest RAM.
 * Returns 0 or a step code. */
int sys_lcg_check(struct sys_vm *vm, uint32_t seed, unsigned steps);

/* The sys_lcg sequence: the value after one step from x. */
static inline uint32_t sys_lcg_next(uint32_t x)
{
	return x * 1103515245u + 12345u;
}

/* A whole well-behaved client: VM, vCPU, `rounds` runs of sys_lcg with
 * seeds derived from `seed`, teardown. Returns 0 or a step code. */
int sys_client_lcg(uint32_t seed, unsigned rounds, unsigned steps);

/* Runs the loaded sys_peek guest and stores the dword it reported. */
int sys_peek_run(struct sys_vm *vm, uint32_t *value);

/* Forks a child that runs fn(arg) and _exits with its result. */
pid_t sys_spawn(int (*fn)(void *), void *arg);

#endif /* SYS_CLIENT_H */
