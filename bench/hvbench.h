/*
 * hvbench: shared bits of the three benchmark programs (hvbench-raw,
 * hvbench-direct, hvbench-client). See bench/README.md.
 */
#ifndef HVBENCH_H
#define HVBENCH_H

#include <stddef.h>
#include <stdint.h>

#define HVBENCH_LOAD_ADDR 0x1000u
#define HVBENCH_PORT 0x10u
#define HVBENCH_AL 0x5au
#define HVBENCH_CREATE_RAM (64ull << 20)   /* "VM create" maps 64 MiB */
#define HVBENCH_EXIT_RAM (1ull << 20)      /* the exit loop needs 1 MiB */
#define HVBENCH_WARMUP 1000u

extern const unsigned char guest_outloop_start[], guest_outloop_end[];

uint64_t hvbench_now_ns(void);
void hvbench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void hvbench_load_guest(void *ram);
/* syscall(SYS_getpid): the marker strace looks for around a measured loop. */
void hvbench_marker(void);

/* Parsed command line: MODE COUNT [--marker] [--hw-bp]. */
enum hvbench_mode { HVBENCH_EXITS, HVBENCH_REGS, HVBENCH_CREATE };
struct hvbench_args {
	enum hvbench_mode mode;
	unsigned long count;
	int marker;
	int hw_bp;      /* raw only: arm a KVM_SET_GUEST_DEBUG hardware breakpoint */
};
void hvbench_parse(int argc, char **argv, const char *name, struct hvbench_args *a);

#endif
