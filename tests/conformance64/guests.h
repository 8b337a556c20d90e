/*
 * guests.h: the AArch64 guests linked into the test binary (guests/<name>.S,
 * laid out by guests/guest.inc). GUEST(name) is the guest as a struct
 * cf64_guest for cf64_load(); GUEST_AT(name, label) the guest-physical
 * address of one of its LABELs once loaded at CF64_RAM.
 */
#ifndef CONFORMANCE64_GUESTS_H
#define CONFORMANCE64_GUESTS_H

#include <stddef.h>
#include <stdint.h>

struct cf64_guest {
	const uint8_t *start;
	size_t size;
};

#define GUEST_DECLARE(name)                                                   \
	extern const uint8_t guest_##name##_start[];                          \
	extern const uint8_t guest_##name##_end[]

#define GUEST(name)                                                           \
	((struct cf64_guest){ guest_##name##_start,                           \
	    (size_t)(guest_##name##_end - guest_##name##_start) })

#define LABEL_DECLARE(sym) extern const uint8_t sym[]

#define GUEST_AT(name, sym)                                                   \
	(CF64_RAM + (uint64_t)((sym) - guest_##name##_start))

GUEST_DECLARE(dump);
GUEST_DECLARE(fill);
GUEST_DECLARE(compute);
GUEST_DECLARE(sysregs);
GUEST_DECLARE(sp);
GUEST_DECLARE(mmio);
GUEST_DECLARE(load);
GUEST_DECLARE(store);
GUEST_DECLARE(readwrite);
GUEST_DECLARE(pair);
GUEST_DECLARE(hvc);
GUEST_DECLARE(hvc_arch);
GUEST_DECLARE(smc_imm);
GUEST_DECLARE(vtimer);
GUEST_DECLARE(vtimer_off);
GUEST_DECLARE(counter);
GUEST_DECLARE(spin);
GUEST_DECLARE(busy);
GUEST_DECLARE(wfi_timer);
GUEST_DECLARE(wfi);
GUEST_DECLARE(mmu_store);
GUEST_DECLARE(vectors);

LABEL_DECLARE(mmio_strb);
LABEL_DECLARE(mmio_strh);
LABEL_DECLARE(mmio_strw);
LABEL_DECLARE(mmio_strx);
LABEL_DECLARE(mmio_str_xzr);
LABEL_DECLARE(mmio_ldrb);
LABEL_DECLARE(mmio_ldrh);
LABEL_DECLARE(mmio_ldrw);
LABEL_DECLARE(mmio_ldrx);
LABEL_DECLARE(mmio_ldrsb);
LABEL_DECLARE(mmio_ldrsw);
LABEL_DECLARE(mmio_ldr_reg);
LABEL_DECLARE(mmio_ldur);
LABEL_DECLARE(mmio_stlr);
LABEL_DECLARE(mmio_done);
LABEL_DECLARE(load_access);
LABEL_DECLARE(store_access);
LABEL_DECLARE(hvc_0);
LABEL_DECLARE(hvc_42);
LABEL_DECLARE(hvc_ffff);
LABEL_DECLARE(hvc_smc);
LABEL_DECLARE(hvc_last);
LABEL_DECLARE(vtimer_loop);
LABEL_DECLARE(spin_loop);
LABEL_DECLARE(wfi_timer_wfi);
LABEL_DECLARE(wfi_wfi);
LABEL_DECLARE(mmu_store_access);
LABEL_DECLARE(vectors_irq);
LABEL_DECLARE(vectors_irq_unmasked);
LABEL_DECLARE(vectors_brk);

#endif /* CONFORMANCE64_GUESTS_H */
