/*
 * guests.h: the NASM guests embedded in the test binary.
 *
 * CMakeLists.txt assembles guests/<name>.asm into a flat binary and links it
 * in between the symbols guest_<name>_start and guest_<name>_end.
 * GUEST(name) expands to the two arguments (pointer, size) that the
 * harness's loaders take.
 */
#ifndef CONFORMANCE_GUESTS_H
#define CONFORMANCE_GUESTS_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_DECLARE(name)                                                   \
	extern const uint8_t guest_##name##_start[];                          \
	extern const uint8_t guest_##name##_end[]

#define GUEST(name)                                                           \
	guest_##name##_start,                                                 \
	    (size_t)(guest_##name##_end - guest_##name##_start)

GUEST_DECLARE(dos);
GUEST_DECLARE(dos_ivt);
GUEST_DECLARE(hlt);
GUEST_DECLARE(inject);
GUEST_DECLARE(inject_pm);
GUEST_DECLARE(io_in);
GUEST_DECLARE(io_out);
GUEST_DECLARE(io_outsw);
GUEST_DECLARE(io_rep_insb);
GUEST_DECLARE(io_rep_outsb);
GUEST_DECLARE(irq_window);
GUEST_DECLARE(jmp_far16);
GUEST_DECLARE(jmp_rax64);
GUEST_DECLARE(lm_sum);
GUEST_DECLARE(loop);
GUEST_DECLARE(msr);
GUEST_DECLARE(msr_native);
GUEST_DECLARE(pm32);
GUEST_DECLARE(probe32);
GUEST_DECLARE(probe64);
GUEST_DECLARE(rdtsc);
GUEST_DECLARE(spin);
GUEST_DECLARE(sse);
GUEST_DECLARE(ud2);
GUEST_DECLARE(triple32);

#endif /* CONFORMANCE_GUESTS_H */
