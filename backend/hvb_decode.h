/*
 * x86 instruction decoding for the backend: just enough to find instruction
 * lengths, classify port I/O instructions and locate memory operands, which
 * is what translating KVM exits into VMX exits needs (kvm-notes.md §1, §2).
 * It is not an emulator: it never executes anything.
 */
#ifndef HVB_DECODE_H
#define HVB_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest legal x86 instruction. */
#define HVB_INSN_MAX 15

/* Execution mode that determines default operand and address sizes. */
enum hvb_cpu_mode {
	HVB_MODE_REAL = 0,  /* real mode / 16-bit code segment: 16-bit defaults */
	HVB_MODE_PROT16,    /* protected mode, CS.D = 0 */
	HVB_MODE_PROT32,    /* protected mode, CS.D = 1 */
	HVB_MODE_LONG64,    /* 64-bit mode, CS.L = 1 */
};

/* Segment register numbers, in the VMX instruction-information order. */
enum hvb_seg {
	HVB_SEG_ES = 0,
	HVB_SEG_CS = 1,
	HVB_SEG_SS = 2,
	HVB_SEG_DS = 3,
	HVB_SEG_FS = 4,
	HVB_SEG_GS = 5,
	HVB_SEG_NONE = 7,
};

/* General-purpose register numbers in x86 encoding order (RAX=0 .. R15=15). */
enum hvb_gpr {
	HVB_RAX, HVB_RCX, HVB_RDX, HVB_RBX, HVB_RSP, HVB_RBP, HVB_RSI, HVB_RDI,
	HVB_R8, HVB_R9, HVB_R10, HVB_R11, HVB_R12, HVB_R13, HVB_R14, HVB_R15,
};

/* A decoded instruction. */
struct hvb_insn {
	uint8_t len;          /* total length in bytes, prefixes included */
	uint8_t opsize;       /* effective operand size: 1, 2, 4 or 8 bytes */
	uint8_t addrsize;     /* effective address size: 2, 4 or 8 bytes */
	uint8_t seg;          /* segment override (enum hvb_seg) or HVB_SEG_NONE */
	bool rep;             /* F3 prefix */
	bool repne;           /* F2 prefix */
	bool lock;            /* F0 prefix */
	uint8_t rex;          /* REX byte, 0 if none (VEX/EVEX not decoded) */
	uint8_t map;          /* opcode map: 0 = one byte, 1 = 0F, 2 = 0F38, 3 = 0F3A */
	uint8_t opcode;       /* opcode byte within its map */
	bool has_modrm;
	uint8_t modrm;
	bool has_sib;
	uint8_t sib;
	uint8_t disp_len;     /* 0, 1, 2 or 4 */
	int64_t disp;         /* sign-extended displacement */
	uint8_t imm_len;      /* total immediate bytes (ENTER has 3) */
	uint64_t imm;         /* first immediate, zero-extended */
	bool rip_relative;    /* 64-bit mode ModRM mod=00 rm=101 */
	bool prefix66;        /* 66 present: for SSE forms it picks the
				 instruction (MOVQ vs MOVDQA), not a size */
};

/*
 * Decode one instruction from `bytes` (`avail` readable bytes) in `mode`.
 * Returns 0 and fills `out`; -EAGAIN if more bytes are needed than `avail`;
 * -EINVAL if the bytes are not a valid instruction this decoder knows
 * (the one-byte map, the 0F map and the 0F38/0F3A maps are covered; VEX and
 * EVEX encoded instructions return -EINVAL).
 */
int hvb_decode(const uint8_t *bytes, size_t avail, enum hvb_cpu_mode mode,
	       struct hvb_insn *out);

/* True if the instruction has a memory operand (ModRM with mod != 3, moffs
 * forms A0-A3, or implicit memory of string instructions). */
bool hvb_insn_has_mem(const struct hvb_insn *insn);

/*
 * Effective address (offset within the segment, before adding the segment
 * base) of the ModRM or moffs memory operand, truncated to the address size.
 * `gpr` holds the 16 general-purpose registers (enum hvb_gpr order);
 * `next_rip` is the address of the following instruction (for RIP-relative
 * operands). Returns 0, or -EINVAL when the instruction has no such operand.
 */
int hvb_insn_mem_ea(const struct hvb_insn *insn, const uint64_t gpr[16],
		    uint64_t next_rip, uint64_t *ea);

/* Default segment of the memory operand (SS for RSP/RBP bases, ES:DI for the
 * destination of string instructions, DS otherwise) after overrides. */
enum hvb_seg hvb_insn_mem_seg(const struct hvb_insn *insn);

/* Port I/O instruction classification. */
struct hvb_io_insn {
	bool in;              /* IN/INS (true) or OUT/OUTS (false) */
	bool string;          /* INS/OUTS */
	bool imm_port;        /* port is an imm8 (E4-E7), else DX */
	uint8_t port_imm;     /* imm8 port when imm_port */
	uint8_t size;         /* access size: 1, 2 or 4 */
};

/* Fill `io` and return true if `insn` is IN, OUT, INS or OUTS. */
bool hvb_insn_is_io(const struct hvb_insn *insn, struct hvb_io_insn *io);

/*
 * Describe the memory write an instruction performs, for finding the start
 * of an instruction that caused an MMIO write (kvm-notes.md §2). Returns true
 * if `insn` writes to its ModRM/moffs/string-destination memory operand, and
 * sets *size to the number of bytes written (operand size; 1 for byte forms).
 * Covers MOV (88, 89, A2, A3, C6, C7), STOS, MOVS, XCHG with memory, the
 * ALU group forms with a memory destination (00-3B even rows, 80, 81, 83),
 * INC/DEC/NOT/NEG with memory (FE, FF /0-/1, F6/F7 /2-/3), shifts (C0, C1,
 * D0-D3), SETcc (0F 90-9F), MOVNTI (0F C3), CMPXCHG (0F B0/B1), XADD
 * (0F C0/C1), BTS/BTR/BTC with memory, and SSE stores MOVUPS/MOVAPS/
 * MOVDQA/MOVDQU/MOVQ/MOVD stores (0F 11, 0F 29, 0F 7E, 0F 7F, 0F D6).
 */
bool hvb_insn_mem_write(const struct hvb_insn *insn, unsigned *size);

#endif
