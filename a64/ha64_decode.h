/*
 * Decoding the guest instructions KVM/arm64 reports without a syndrome.
 *
 * KVM completes an MMIO access itself and tells user space only the IPA,
 * length, direction and data: Apple's exit gives the client ESR_EL2 (ISV,
 * SAS, SSE, SRT, SF, AR, WnR), FAR and the IPA, and leaves completing the
 * access to the client. The backend rebuilds that syndrome from the
 * faulting instruction, decoded here. Likewise an HVC or SMC forwarded by
 * KVM's SMCCC filter has lost its 16-bit immediate, which the instruction
 * still holds. Pure functions: no KVM, unit-tested on any host.
 */
#ifndef HA64_DECODE_H
#define HA64_DECODE_H

#include <stdbool.h>
#include <stdint.h>

/* A load or store of one general-purpose register for which the
 * architecture reports a valid instruction syndrome (ISV = 1): no
 * writeback, no pair, no SIMD&FP, no exclusive. */
struct ha64_ldst {
	uint8_t sas;       /* log2 of the access size */
	bool sse;          /* sign-extending load */
	uint8_t srt;       /* Rt; 31 is XZR */
	bool sf;           /* Rt is a 64-bit register */
	bool ar;           /* acquire/release */
	bool write;        /* a store */
	uint8_t rn;        /* base register; 31 is SP */
	int8_t rm;         /* index register, or -1 */
	uint8_t extend;    /* with rm: the option field (2 UXTW, 3 LSL/UXTX, 6 SXTW, 7 SXTX) */
	uint8_t shift;     /* with rm: left shift of the extended index */
	int64_t imm;       /* without rm: byte offset */
};

/* Decode `insn`; false when it is not such an access (the syndrome then
 * has ISV = 0, as the hardware's would). */
bool ha64_decode_ldst(uint32_t insn, struct ha64_ldst *out);

/* The access's virtual address, from the base register's value (SP's when
 * rn is 31) and the index register's (ignored without rm). */
uint64_t ha64_ldst_va(const struct ha64_ldst *d, uint64_t base, uint64_t index);

/* Apple's ESR for a data abort from the lower EL (EC 0x24, IL = 1): with
 * the decoded access when `d` is not NULL (ISV = 1), else ISV = 0 and
 * only WnR from `write`; `dfsc` the fault status code. */
uint64_t ha64_data_abort_esr(const struct ha64_ldst *d, bool write, unsigned dfsc);

/* HVC or SMC: true with the immediate and which one it was. */
bool ha64_decode_hvc_smc(uint32_t insn, uint16_t *imm, bool *smc);

/* Apple's ESR for an HVC64 (EC 0x16) or SMC64 (EC 0x17) with `imm`. */
uint64_t ha64_hvc_smc_esr(bool smc, uint16_t imm);

#endif
