/*
 * Unit tests for the backend's x86 decoder (backend/hvb_decode.c).
 *
 * The encoding tables below were produced with nasm (`bits 16/32/64`, `-f bin`)
 * and every length was confirmed with objdump (`-m i386 -M addr16,data16`,
 * `-m i386`, `-m i386:x86-64 -M intel64`). The field expectations (ModRM, SIB,
 * displacement, immediate) were checked against the encoded bytes when the
 * tables were generated. The exceptions, where the length comes from how the
 * bytes were built: runs of redundant prefixes, which objdump prints as
 * separate "instructions", and a REX byte followed by another prefix, which
 * objdump shows alone but the processor treats as part of the instruction.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hvb_decode.h"

#define M_REAL HVB_MODE_REAL
#define M_PROT16 HVB_MODE_PROT16
#define M_PROT32 HVB_MODE_PROT32
#define M_LONG64 HVB_MODE_LONG64

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One encoding and the full decode it must produce. */
struct decode_case {
	const char *src;
	enum hvb_cpu_mode mode;
	uint8_t bytes[HVB_INSN_MAX];
	uint8_t len;
	uint8_t opsize, addrsize, seg;
	bool rep, repne, lock;
	uint8_t rex, map, opcode;
	bool has_modrm;
	uint8_t modrm;
	bool has_sib;
	uint8_t sib;
	uint8_t disp_len;
	int64_t disp;
	uint8_t imm_len;
	uint64_t imm;
	bool rip_relative, prefix66;
};

static const struct decode_case decode_cases[] = {
	{ "add [bx+si], al", M_REAL, { 0x00, 0x00 }, 2, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x00, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov ax, [bp]", M_REAL, { 0x8b, 0x46, 0x00 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x46, false, 0x00, 1, 0, 0, 0x0ull, false, false },
	{ "mov ax, [0x1234]", M_REAL, { 0xa1, 0x34, 0x12 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa1, false, 0x00, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "db 0x8b, 0x06, 0x34, 0x12", M_REAL, { 0x8b, 0x06, 0x34, 0x12 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x06, false, 0x00, 2, 4660, 0, 0x0ull, false, false },
	{ "mov ax, [bx+si+0x12]", M_REAL, { 0x8b, 0x40, 0x12 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x40, false, 0x00, 1, 18, 0, 0x0ull, false, false },
	{ "mov ax, [bp+di-0x1234]", M_REAL, { 0x8b, 0x83, 0xcc, 0xed }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x83, false, 0x00, 2, -4660, 0, 0x0ull, false, false },
	{ "mov [bp+0x1234], ax", M_REAL, { 0x89, 0x86, 0x34, 0x12 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x89, true, 0x86, false, 0x00, 2, 4660, 0, 0x0ull, false, false },
	{ "mov eax, [ebx+ecx*4+0x10]", M_REAL, { 0x66, 0x67, 0x8b, 0x44, 0x8b, 0x10 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x44, true, 0x8b, 1, 16, 0, 0x0ull, false, true },
	{ "mov dword [eax], 1", M_REAL, { 0x66, 0x67, 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00 }, 8, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc7, true, 0x00, false, 0x00, 0, 0, 4, 0x1ull, false, true },
	{ "push dword 0x12345678", M_REAL, { 0x66, 0x68, 0x78, 0x56, 0x34, 0x12 }, 6, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x68, false, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, true },
	{ "push word 0x1234", M_REAL, { 0x68, 0x34, 0x12 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x68, false, 0x00, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "mov word [0x30], 0xbeef", M_REAL, { 0xc7, 0x06, 0x30, 0x00, 0xef, 0xbe }, 6, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc7, true, 0x06, false, 0x00, 2, 48, 2, 0xbeefull, false, false },
	{ "mov word [es:0x30], 0xbeef", M_REAL, { 0x26, 0xc7, 0x06, 0x30, 0x00, 0xef, 0xbe }, 7, 2, 2, HVB_SEG_ES, false, false, false,
	  0x00, 0, 0xc7, true, 0x06, false, 0x00, 2, 48, 2, 0xbeefull, false, false },
	{ "out 0x10, al", M_REAL, { 0xe6, 0x10 }, 2, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe6, false, 0x00, false, 0x00, 0, 0, 1, 0x10ull, false, false },
	{ "in ax, dx", M_REAL, { 0xed }, 1, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xed, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "in eax, dx", M_REAL, { 0x66, 0xed }, 2, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xed, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "rep outsb", M_REAL, { 0xf3, 0x6e }, 2, 1, 2, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0x6e, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "rep movsw", M_REAL, { 0xf3, 0xa5 }, 2, 2, 2, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0xa5, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "jmp 0x1234:0x5678", M_REAL, { 0xea, 0x78, 0x56, 0x34, 0x12 }, 5, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xea, false, 0x00, false, 0x00, 0, 0, 4, 0x5678ull, false, false },
	{ "jmp dword 0x1234:0x12345678", M_REAL, { 0x66, 0xea, 0x78, 0x56, 0x34, 0x12, 0x34, 0x12 }, 8, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xea, false, 0x00, false, 0x00, 0, 0, 6, 0x12345678ull, false, true },
	{ "call $+0x103", M_REAL, { 0xe8, 0x00, 0x01 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe8, false, 0x00, false, 0x00, 0, 0, 2, 0x100ull, false, false },
	{ "jz $+0x12", M_REAL, { 0x74, 0x10 }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x74, false, 0x00, false, 0x00, 0, 0, 1, 0x10ull, false, false },
	{ "jz near $+0x104", M_REAL, { 0x0f, 0x84, 0x00, 0x01 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x84, false, 0x00, false, 0x00, 0, 0, 2, 0x100ull, false, false },
	{ "enter 0x10, 1", M_REAL, { 0xc8, 0x10, 0x00, 0x01 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc8, false, 0x00, false, 0x00, 0, 0, 3, 0x10ull, false, false },
	{ "ret 8", M_REAL, { 0xc2, 0x08, 0x00 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc2, false, 0x00, false, 0x00, 0, 0, 2, 0x8ull, false, false },
	{ "int 0x21", M_REAL, { 0xcd, 0x21 }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xcd, false, 0x00, false, 0x00, 0, 0, 1, 0x21ull, false, false },
	{ "les bx, [bx]", M_REAL, { 0xc4, 0x1f }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc4, true, 0x1f, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "lds si, [0x100]", M_REAL, { 0xc5, 0x36, 0x00, 0x01 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc5, true, 0x36, false, 0x00, 2, 256, 0, 0x0ull, false, false },
	{ "lea ax, [bx+si]", M_REAL, { 0x8d, 0x00 }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8d, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov cr0, eax", M_REAL, { 0x0f, 0x22, 0xc0 }, 3, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x22, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x0f, 0x20, 0x06", M_REAL, { 0x0f, 0x20, 0x06 }, 3, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x20, true, 0x06, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "test byte [bx], 1", M_REAL, { 0xf6, 0x07, 0x01 }, 3, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xf6, true, 0x07, false, 0x00, 0, 0, 1, 0x1ull, false, false },
	{ "not byte [bx]", M_REAL, { 0xf6, 0x17 }, 2, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xf6, true, 0x17, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "test word [bx], 0x1234", M_REAL, { 0xf7, 0x07, 0x34, 0x12 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xf7, true, 0x07, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "test dword [bx], 0x12345678", M_REAL, { 0x66, 0xf7, 0x07, 0x78, 0x56, 0x34, 0x12 }, 7, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xf7, true, 0x07, false, 0x00, 0, 0, 4, 0x12345678ull, false, true },
	{ "db 0xf7, 0x0f, 0x34, 0x12", M_REAL, { 0xf7, 0x0f, 0x34, 0x12 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xf7, true, 0x0f, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "lock inc word [bx]", M_REAL, { 0xf0, 0xff, 0x07 }, 3, 2, 2, HVB_SEG_NONE, false, false, true,
	  0x00, 0, 0xff, true, 0x07, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov al, [0x1234]", M_REAL, { 0xa0, 0x34, 0x12 }, 3, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa0, false, 0x00, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "a32 mov al, [dword 0x12345678]", M_REAL, { 0x67, 0xa0, 0x78, 0x56, 0x34, 0x12 }, 6, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa0, false, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "pshufb xmm0, xmm1", M_REAL, { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 2, 0x00, true, 0xc1, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "palignr xmm0, xmm1, 4", M_REAL, { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x04 }, 6, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 3, 0x0f, true, 0xc1, false, 0x00, 0, 0, 1, 0x4ull, false, true },
	{ "mov byte [bp+si], 5", M_REAL, { 0xc6, 0x02, 0x05 }, 3, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc6, true, 0x02, false, 0x00, 0, 0, 1, 0x5ull, false, false },
	{ "fld dword [bx]", M_REAL, { 0xd9, 0x07 }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd9, true, 0x07, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "inc ax", M_REAL, { 0x40 }, 1, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x40, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "xlatb", M_REAL, { 0xd7 }, 1, 1, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd7, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movzx ax, byte [bx]", M_REAL, { 0x0f, 0xb6, 0x07 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xb6, true, 0x07, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "shld [bx], ax, 3", M_REAL, { 0x0f, 0xa4, 0x07, 0x03 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xa4, true, 0x07, false, 0x00, 0, 0, 1, 0x3ull, false, false },
	{ "bt word [bx], 3", M_REAL, { 0x0f, 0xba, 0x27, 0x03 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xba, true, 0x27, false, 0x00, 0, 0, 1, 0x3ull, false, false },
	{ "imul ax, [bx], 0x1234", M_REAL, { 0x69, 0x07, 0x34, 0x12 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x69, true, 0x07, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "imul ax, bx, 5", M_REAL, { 0x6b, 0xc3, 0x05 }, 3, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x6b, true, 0xc3, false, 0x00, 0, 0, 1, 0x5ull, false, false },
	{ "times 14 db 0x66; nop", M_REAL, { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90 }, 15, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x90, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "db 0x66, 0x67, 0x66, 0x67, 0xf3, 0xa5", M_REAL, { 0x66, 0x67, 0x66, 0x67, 0xf3, 0xa5 }, 6, 4, 4, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0xa5, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "mov eax, [ebx]", M_PROT16, { 0x66, 0x67, 0x8b, 0x03 }, 4, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "call far [bx]", M_PROT16, { 0xff, 0x1f }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xff, true, 0x1f, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "call 0x10:0x1234", M_PROT16, { 0x9a, 0x34, 0x12, 0x10, 0x00 }, 5, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x9a, false, 0x00, false, 0x00, 0, 0, 4, 0x1234ull, false, false },
	{ "push es", M_PROT16, { 0x06 }, 1, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x06, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "pushfd", M_PROT16, { 0x66, 0x9c }, 2, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x9c, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "mov [bx+di], ds", M_PROT16, { 0x8c, 0x19 }, 2, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8c, true, 0x19, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov ax, [ss:bx]", M_PROT16, { 0x36, 0x8b, 0x07 }, 3, 2, 2, HVB_SEG_SS, false, false, false,
	  0x00, 0, 0x8b, true, 0x07, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov [eax], ecx", M_PROT32, { 0x89, 0x08 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x89, true, 0x08, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov eax, [esp]", M_PROT32, { 0x8b, 0x04, 0x24 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x04, true, 0x24, 0, 0, 0, 0x0ull, false, false },
	{ "mov eax, [ebp]", M_PROT32, { 0x8b, 0x45, 0x00 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x45, false, 0x00, 1, 0, 0, 0x0ull, false, false },
	{ "mov eax, [0x12345678]", M_PROT32, { 0xa1, 0x78, 0x56, 0x34, 0x12 }, 5, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa1, false, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "db 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12", M_PROT32, { 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x05, false, 0x00, 4, 305419896, 0, 0x0ull, false, false },
	{ "mov eax, [ecx*4+0x1000]", M_PROT32, { 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00 }, 7, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x04, true, 0x8d, 4, 4096, 0, 0x0ull, false, false },
	{ "mov eax, [ebx+esi*8+0x12345678]", M_PROT32, { 0x8b, 0x84, 0xf3, 0x78, 0x56, 0x34, 0x12 }, 7, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x84, true, 0xf3, 4, 305419896, 0, 0x0ull, false, false },
	{ "mov ax, [bx+si]", M_PROT32, { 0x66, 0x67, 0x8b, 0x00 }, 4, 2, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "mov dword [eax], 0x12345678", M_PROT32, { 0xc7, 0x00, 0x78, 0x56, 0x34, 0x12 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc7, true, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "mov word [eax], 0x1234", M_PROT32, { 0x66, 0xc7, 0x00, 0x34, 0x12 }, 5, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc7, true, 0x00, false, 0x00, 0, 0, 2, 0x1234ull, false, true },
	{ "add dword [eax], 0x12345678", M_PROT32, { 0x81, 0x00, 0x78, 0x56, 0x34, 0x12 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x81, true, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "add dword [eax], byte 1", M_PROT32, { 0x83, 0x00, 0x01 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x83, true, 0x00, false, 0x00, 0, 0, 1, 0x1ull, false, false },
	{ "add byte [eax], 1", M_PROT32, { 0x80, 0x00, 0x01 }, 3, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x80, true, 0x00, false, 0x00, 0, 0, 1, 0x1ull, false, false },
	{ "db 0x82, 0x00, 0x01", M_PROT32, { 0x82, 0x00, 0x01 }, 3, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x82, true, 0x00, false, 0x00, 0, 0, 1, 0x1ull, false, false },
	{ "inc eax", M_PROT32, { 0x40 }, 1, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x40, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "les eax, [ebx]", M_PROT32, { 0xc4, 0x03 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc4, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "lds eax, [ebx+0x10]", M_PROT32, { 0xc5, 0x43, 0x10 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc5, true, 0x43, false, 0x00, 1, 16, 0, 0x0ull, false, false },
	{ "bound eax, [ebx]", M_PROT32, { 0x62, 0x03 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x62, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "pusha", M_PROT32, { 0x60 }, 1, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x60, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "aam", M_PROT32, { 0xd4, 0x0a }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd4, false, 0x00, false, 0x00, 0, 0, 1, 0xaull, false, false },
	{ "into", M_PROT32, { 0xce }, 1, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xce, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "salc", M_PROT32, { 0xd6 }, 1, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd6, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "call 0x1234:0x12345678", M_PROT32, { 0x9a, 0x78, 0x56, 0x34, 0x12, 0x34, 0x12 }, 7, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x9a, false, 0x00, false, 0x00, 0, 0, 6, 0x12345678ull, false, false },
	{ "jmp near $+0x105", M_PROT32, { 0xe9, 0x00, 0x01, 0x00, 0x00 }, 5, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe9, false, 0x00, false, 0x00, 0, 0, 4, 0x100ull, false, false },
	{ "jz near $+0x106", M_PROT32, { 0x0f, 0x84, 0x00, 0x01, 0x00, 0x00 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x84, false, 0x00, false, 0x00, 0, 0, 4, 0x100ull, false, false },
	{ "db 0x66, 0x0f, 0x84, 0x00, 0x01", M_PROT32, { 0x66, 0x0f, 0x84, 0x00, 0x01 }, 5, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x84, false, 0x00, false, 0x00, 0, 0, 2, 0x100ull, false, true },
	{ "out dx, eax", M_PROT32, { 0xef }, 1, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xef, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "out dx, ax", M_PROT32, { 0x66, 0xef }, 2, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xef, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "in al, 0x60", M_PROT32, { 0xe4, 0x60 }, 2, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe4, false, 0x00, false, 0x00, 0, 0, 1, 0x60ull, false, false },
	{ "rep insd", M_PROT32, { 0xf3, 0x6d }, 2, 4, 4, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0x6d, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "rep insw", M_PROT32, { 0xf3, 0x66, 0x6d }, 3, 2, 4, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0x6d, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "lock cmpxchg [ebx], ecx", M_PROT32, { 0xf0, 0x0f, 0xb1, 0x0b }, 4, 4, 4, HVB_SEG_NONE, false, false, true,
	  0x00, 1, 0xb1, true, 0x0b, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "xadd [ebx], eax", M_PROT32, { 0x0f, 0xc1, 0x03 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xc1, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "setz byte [eax]", M_PROT32, { 0x0f, 0x94, 0x00 }, 3, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x94, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movnti [eax], ecx", M_PROT32, { 0x0f, 0xc3, 0x08 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xc3, true, 0x08, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movdqa [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x7f, 0x00 }, 4, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x7f, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "movdqu [eax], xmm1", M_PROT32, { 0xf3, 0x0f, 0x7f, 0x08 }, 4, 4, 4, HVB_SEG_NONE, true, false, false,
	  0x00, 1, 0x7f, true, 0x08, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movups [eax], xmm0", M_PROT32, { 0x0f, 0x11, 0x00 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x11, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movaps [eax+4], xmm0", M_PROT32, { 0x0f, 0x29, 0x40, 0x04 }, 4, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x29, true, 0x40, false, 0x00, 1, 4, 0, 0x0ull, false, false },
	{ "movq [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0xd6, 0x00 }, 4, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xd6, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "movd [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x7e, 0x00 }, 4, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x7e, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "movq [eax], mm0", M_PROT32, { 0x0f, 0x7f, 0x00 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x7f, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "pshufd xmm0, [eax], 0x1b", M_PROT32, { 0x66, 0x0f, 0x70, 0x00, 0x1b }, 5, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x70, true, 0x00, false, 0x00, 0, 0, 1, 0x1bull, false, true },
	{ "pinsrw xmm0, [eax], 2", M_PROT32, { 0x66, 0x0f, 0xc4, 0x00, 0x02 }, 5, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xc4, true, 0x00, false, 0x00, 0, 0, 1, 0x2ull, false, true },
	{ "cmpps xmm0, xmm1, 1", M_PROT32, { 0x0f, 0xc2, 0xc1, 0x01 }, 4, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xc2, true, 0xc1, false, 0x00, 0, 0, 1, 0x1ull, false, false },
	{ "pblendw xmm0, [eax+ebx*2+8], 3", M_PROT32, { 0x66, 0x0f, 0x3a, 0x0e, 0x44, 0x58, 0x08, 0x03 }, 8, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 3, 0x0e, true, 0x44, true, 0x58, 1, 8, 1, 0x3ull, false, true },
	{ "crc32 eax, byte [ebx]", M_PROT32, { 0xf2, 0x0f, 0x38, 0xf0, 0x03 }, 5, 4, 4, HVB_SEG_NONE, false, true, false,
	  0x00, 2, 0xf0, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movbe [eax], ecx", M_PROT32, { 0x0f, 0x38, 0xf1, 0x08 }, 4, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 2, 0xf1, true, 0x08, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "enter 0x100, 0", M_PROT32, { 0xc8, 0x00, 0x01, 0x00 }, 4, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc8, false, 0x00, false, 0x00, 0, 0, 3, 0x100ull, false, false },
	{ "retf 4", M_PROT32, { 0xca, 0x04, 0x00 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xca, false, 0x00, false, 0x00, 0, 0, 2, 0x4ull, false, false },
	{ "mov eax, [fs:ebx]", M_PROT32, { 0x64, 0x8b, 0x03 }, 3, 4, 4, HVB_SEG_FS, false, false, false,
	  0x00, 0, 0x8b, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov [0x12345678], eax", M_PROT32, { 0xa3, 0x78, 0x56, 0x34, 0x12 }, 5, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa3, false, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "a16 mov [word 0x1234], eax", M_PROT32, { 0x67, 0xa3, 0x34, 0x12 }, 4, 4, 2, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa3, false, 0x00, false, 0x00, 0, 0, 2, 0x1234ull, false, false },
	{ "cpuid", M_PROT32, { 0x0f, 0xa2 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0xa2, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "rdmsr", M_PROT32, { 0x0f, 0x32 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x32, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "ud2", M_PROT32, { 0x0f, 0x0b }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x0b, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "vmcall", M_PROT32, { 0x0f, 0x01, 0xc1 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x01, true, 0xc1, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "lgdt [eax]", M_PROT32, { 0x0f, 0x01, 0x10 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x01, true, 0x10, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x0f, 0x1f, 0x44, 0x00, 0x00", M_PROT32, { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x1f, true, 0x44, true, 0x00, 1, 0, 0, 0x0ull, false, false },
	{ "mov eax, cr3", M_PROT32, { 0x0f, 0x20, 0xd8 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x20, true, 0xd8, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "xbegin $+0x106", M_PROT32, { 0xc7, 0xf8, 0x00, 0x01, 0x00, 0x00 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc7, true, 0xf8, false, 0x00, 0, 0, 4, 0x100ull, false, false },
	{ "xabort 1", M_PROT32, { 0xc6, 0xf8, 0x01 }, 3, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc6, true, 0xf8, false, 0x00, 0, 0, 1, 0x1ull, false, false },
	{ "extrq xmm0, 1, 2", M_PROT32, { 0x66, 0x0f, 0x78, 0xc0, 0x01, 0x02 }, 6, 2, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x78, true, 0xc0, false, 0x00, 0, 0, 2, 0x1ull, false, true },
	{ "insertq xmm0, xmm1, 1, 2", M_PROT32, { 0xf2, 0x0f, 0x78, 0xc1, 0x01, 0x02 }, 6, 4, 4, HVB_SEG_NONE, false, true, false,
	  0x00, 1, 0x78, true, 0xc1, false, 0x00, 0, 0, 2, 0x1ull, false, false },
	{ "vmread [eax], ebx", M_PROT32, { 0x0f, 0x78, 0x18 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x78, true, 0x18, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "pause", M_PROT32, { 0xf3, 0x90 }, 2, 4, 4, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0x90, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov [eax], es", M_PROT32, { 0x8c, 0x00 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8c, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "shl dword [ebx], 1", M_PROT32, { 0xd1, 0x23 }, 2, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd1, true, 0x23, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "rol byte [ebx], 3", M_PROT32, { 0xc0, 0x03, 0x03 }, 3, 1, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc0, true, 0x03, false, 0x00, 0, 0, 1, 0x3ull, false, false },
	{ "times 14 db 0x2e; nop", M_PROT32, { 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x90 }, 15, 4, 4, HVB_SEG_CS, false, false, false,
	  0x00, 0, 0x90, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "times 13 db 0x3e; mov al, [eax]", M_PROT32, { 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x8a, 0x00 }, 15, 1, 4, HVB_SEG_DS, false, false, false,
	  0x00, 0, 0x8a, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0xf2, 0xf3, 0xa4", M_PROT32, { 0xf2, 0xf3, 0xa4 }, 3, 1, 4, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0xa4, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0xf3, 0xf2, 0xa4", M_PROT32, { 0xf3, 0xf2, 0xa4 }, 3, 1, 4, HVB_SEG_NONE, false, true, false,
	  0x00, 0, 0xa4, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov [rax], rcx", M_LONG64, { 0x48, 0x89, 0x08 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0x89, true, 0x08, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov qword [rax], 0x12345678", M_LONG64, { 0x48, 0xc7, 0x00, 0x78, 0x56, 0x34, 0x12 }, 7, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xc7, true, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "mov rax, 0x1122334455667788", M_LONG64, { 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 10, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xb8, false, 0x00, false, 0x00, 0, 0, 8, 0x1122334455667788ull, false, false },
	{ "mov eax, 0x11223344", M_LONG64, { 0xb8, 0x44, 0x33, 0x22, 0x11 }, 5, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xb8, false, 0x00, false, 0x00, 0, 0, 4, 0x11223344ull, false, false },
	{ "mov ax, 0x1122", M_LONG64, { 0x66, 0xb8, 0x22, 0x11 }, 4, 2, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xb8, false, 0x00, false, 0x00, 0, 0, 2, 0x1122ull, false, true },
	{ "mov r9w, 0x1122", M_LONG64, { 0x66, 0x41, 0xb9, 0x22, 0x11 }, 5, 2, 8, HVB_SEG_NONE, false, false, false,
	  0x41, 0, 0xb9, false, 0x00, false, 0x00, 0, 0, 2, 0x1122ull, false, true },
	{ "db 0x66, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8", M_LONG64, { 0x66, 0x48, 0xb8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 }, 11, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xb8, false, 0x00, false, 0x00, 0, 0, 8, 0x807060504030201ull, false, true },
	{ "mov [qword 0x1122334455667788], rax", M_LONG64, { 0x48, 0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 10, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xa3, false, 0x00, false, 0x00, 0, 0, 8, 0x1122334455667788ull, false, false },
	{ "mov [qword 0x1122334455667788], eax", M_LONG64, { 0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 9, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa3, false, 0x00, false, 0x00, 0, 0, 8, 0x1122334455667788ull, false, false },
	{ "a32 mov [dword 0x11223344], eax", M_LONG64, { 0x67, 0xa3, 0x44, 0x33, 0x22, 0x11 }, 6, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa3, false, 0x00, false, 0x00, 0, 0, 4, 0x11223344ull, false, false },
	{ "mov al, [qword 0x1122334455667788]", M_LONG64, { 0xa0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 9, 1, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xa0, false, 0x00, false, 0x00, 0, 0, 8, 0x1122334455667788ull, false, false },
	{ "mov eax, [rel $+0x16]", M_LONG64, { 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00 }, 6, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x05, false, 0x00, 4, 16, 0, 0x0ull, true, false },
	{ "db 0x67, 0x8b, 0x05, 0x10, 0, 0, 0", M_LONG64, { 0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00 }, 7, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x05, false, 0x00, 4, 16, 0, 0x0ull, true, false },
	{ "mov r8d, [r12]", M_LONG64, { 0x45, 0x8b, 0x04, 0x24 }, 4, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x45, 0, 0x8b, true, 0x04, true, 0x24, 0, 0, 0, 0x0ull, false, false },
	{ "mov rax, [r13]", M_LONG64, { 0x49, 0x8b, 0x45, 0x00 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x49, 0, 0x8b, true, 0x45, false, 0x00, 1, 0, 0, 0x0ull, false, false },
	{ "mov rax, [rbx+r12*2]", M_LONG64, { 0x4a, 0x8b, 0x04, 0x63 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x4a, 0, 0x8b, true, 0x04, true, 0x63, 0, 0, 0, 0x0ull, false, false },
	{ "mov rax, [r12*8+0x100]", M_LONG64, { 0x4a, 0x8b, 0x04, 0xe5, 0x00, 0x01, 0x00, 0x00 }, 8, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x4a, 0, 0x8b, true, 0x04, true, 0xe5, 4, 256, 0, 0x0ull, false, false },
	{ "db 0x41, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12", M_LONG64, { 0x41, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12 }, 8, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x41, 0, 0x8b, true, 0x04, true, 0x25, 4, 305419896, 0, 0x0ull, false, false },
	{ "mov eax, [ebx]", M_LONG64, { 0x67, 0x8b, 0x03 }, 3, 4, 4, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x8b, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "push rax", M_LONG64, { 0x50 }, 1, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x50, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "push r15", M_LONG64, { 0x41, 0x57 }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x41, 0, 0x57, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "push ax", M_LONG64, { 0x66, 0x50 }, 2, 2, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x50, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "push 0x12345678", M_LONG64, { 0x68, 0x78, 0x56, 0x34, 0x12 }, 5, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x68, false, 0x00, false, 0x00, 0, 0, 4, 0x12345678ull, false, false },
	{ "push word 0x1234", M_LONG64, { 0x66, 0x68, 0x34, 0x12 }, 4, 2, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x68, false, 0x00, false, 0x00, 0, 0, 2, 0x1234ull, false, true },
	{ "push byte -1", M_LONG64, { 0x6a, 0xff }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x6a, false, 0x00, false, 0x00, 0, 0, 1, 0xffull, false, false },
	{ "call $+0x105", M_LONG64, { 0xe8, 0x00, 0x01, 0x00, 0x00 }, 5, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe8, false, 0x00, false, 0x00, 0, 0, 4, 0x100ull, false, false },
	{ "db 0x66, 0xe8, 0, 1, 0, 0", M_LONG64, { 0x66, 0xe8, 0x00, 0x01, 0x00, 0x00 }, 6, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe8, false, 0x00, false, 0x00, 0, 0, 4, 0x100ull, false, true },
	{ "jmp rax", M_LONG64, { 0xff, 0xe0 }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xff, true, 0xe0, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "call [rax]", M_LONG64, { 0xff, 0x10 }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xff, true, 0x10, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "push qword [rbx]", M_LONG64, { 0xff, 0x33 }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xff, true, 0x33, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "ret", M_LONG64, { 0xc3 }, 1, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc3, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "ret 0x10", M_LONG64, { 0xc2, 0x10, 0x00 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc2, false, 0x00, false, 0x00, 0, 0, 2, 0x10ull, false, false },
	{ "enter 0x10, 0", M_LONG64, { 0xc8, 0x10, 0x00, 0x00 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xc8, false, 0x00, false, 0x00, 0, 0, 3, 0x10ull, false, false },
	{ "db 0x66, 0x48, 0x89, 0xc0", M_LONG64, { 0x66, 0x48, 0x89, 0xc0 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0x89, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "db 0x48, 0x66, 0x89, 0xc0", M_LONG64, { 0x48, 0x66, 0x89, 0xc0 }, 4, 2, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x89, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "db 0x48, 0x41, 0x89, 0xc0", M_LONG64, { 0x48, 0x41, 0x89, 0xc0 }, 4, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x41, 0, 0x89, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x40, 0x40, 0x40, 0x40, 0x48, 0x89, 0xc0", M_LONG64, { 0x40, 0x40, 0x40, 0x40, 0x48, 0x89, 0xc0 }, 7, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0x89, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "inc eax", M_LONG64, { 0xff, 0xc0 }, 2, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xff, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "syscall", M_LONG64, { 0x0f, 0x05 }, 2, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x05, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "swapgs", M_LONG64, { 0x0f, 0x01, 0xf8 }, 3, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x01, true, 0xf8, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "lock add [rdi+8], eax", M_LONG64, { 0xf0, 0x01, 0x47, 0x08 }, 4, 4, 8, HVB_SEG_NONE, false, false, true,
	  0x00, 0, 0x01, true, 0x47, false, 0x00, 1, 8, 0, 0x0ull, false, false },
	{ "rep stosq", M_LONG64, { 0xf3, 0x48, 0xab }, 3, 8, 8, HVB_SEG_NONE, true, false, false,
	  0x48, 0, 0xab, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movsxd rax, dword [rbx]", M_LONG64, { 0x48, 0x63, 0x03 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0x63, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "cmpxchg16b [rdi]", M_LONG64, { 0x48, 0x0f, 0xc7, 0x0f }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 1, 0xc7, true, 0x0f, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov cr8, rax", M_LONG64, { 0x44, 0x0f, 0x22, 0xc0 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x44, 1, 0x22, true, 0xc0, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov rax, cr3", M_LONG64, { 0x0f, 0x20, 0xd8 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x20, true, 0xd8, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x0f, 0x20, 0x05", M_LONG64, { 0x0f, 0x20, 0x05 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x20, true, 0x05, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "vmread [rbx], rax", M_LONG64, { 0x0f, 0x78, 0x03 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x78, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "mov rax, [fs:0x28]", M_LONG64, { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00 }, 9, 8, 8, HVB_SEG_FS, false, false, false,
	  0x48, 0, 0x8b, true, 0x04, true, 0x25, 4, 40, 0, 0x0ull, false, false },
	{ "mov [gs:rax], al", M_LONG64, { 0x65, 0x88, 0x00 }, 3, 1, 8, HVB_SEG_GS, false, false, false,
	  0x00, 0, 0x88, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x64, 0x2e, 0x8b, 0x00", M_LONG64, { 0x64, 0x2e, 0x8b, 0x00 }, 4, 4, 8, HVB_SEG_FS, false, false, false,
	  0x00, 0, 0x8b, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x2e, 0x64, 0x8b, 0x00", M_LONG64, { 0x2e, 0x64, 0x8b, 0x00 }, 4, 4, 8, HVB_SEG_FS, false, false, false,
	  0x00, 0, 0x8b, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "movdqu [rsi+rdx+0x20], xmm7", M_LONG64, { 0xf3, 0x0f, 0x7f, 0x7c, 0x16, 0x20 }, 6, 4, 8, HVB_SEG_NONE, true, false, false,
	  0x00, 1, 0x7f, true, 0x7c, true, 0x16, 1, 32, 0, 0x0ull, false, false },
	{ "db 0x66, 0x48, 0x0f, 0x7e, 0x00", M_LONG64, { 0x66, 0x48, 0x0f, 0x7e, 0x00 }, 5, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 1, 0x7e, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "prefetchnta [rax]", M_LONG64, { 0x0f, 0x18, 0x00 }, 3, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x18, true, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "pextrd [rax], xmm1, 2", M_LONG64, { 0x66, 0x0f, 0x3a, 0x16, 0x08, 0x02 }, 6, 2, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 3, 0x16, true, 0x08, false, 0x00, 0, 0, 1, 0x2ull, false, true },
	{ "in al, dx", M_LONG64, { 0xec }, 1, 1, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xec, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "out 0x80, al", M_LONG64, { 0xe6, 0x80 }, 2, 1, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe6, false, 0x00, false, 0x00, 0, 0, 1, 0x80ull, false, false },
	{ "rep outsd", M_LONG64, { 0xf3, 0x6f }, 2, 4, 8, HVB_SEG_NONE, true, false, false,
	  0x00, 0, 0x6f, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "db 0x48, 0xed", M_LONG64, { 0x48, 0xed }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xed, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "jz near $+0x106", M_LONG64, { 0x0f, 0x84, 0x00, 0x01, 0x00, 0x00 }, 6, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 1, 0x84, false, 0x00, false, 0x00, 0, 0, 4, 0x100ull, false, false },
	{ "jrcxz $+0x12", M_LONG64, { 0xe3, 0x10 }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe3, false, 0x00, false, 0x00, 0, 0, 1, 0x10ull, false, false },
	{ "loop $+0x12", M_LONG64, { 0xe2, 0x10 }, 2, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xe2, false, 0x00, false, 0x00, 0, 0, 1, 0x10ull, false, false },
	{ "xchg [rax], r9", M_LONG64, { 0x4c, 0x87, 0x08 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x4c, 0, 0x87, true, 0x08, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "bts qword [rax], 63", M_LONG64, { 0x48, 0x0f, 0xba, 0x28, 0x3f }, 5, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 1, 0xba, true, 0x28, false, 0x00, 0, 0, 1, 0x3full, false, false },
	{ "shl dword [rbx+4], 1", M_LONG64, { 0xd1, 0x63, 0x04 }, 3, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd1, true, 0x63, false, 0x00, 1, 4, 0, 0x0ull, false, false },
	{ "sar byte [rbx], cl", M_LONG64, { 0xd2, 0x3b }, 2, 1, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0xd2, true, 0x3b, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "rol qword [rbx], 5", M_LONG64, { 0x48, 0xc1, 0x03, 0x05 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xc1, true, 0x03, false, 0x00, 0, 0, 1, 0x5ull, false, false },
	{ "neg qword [rax]", M_LONG64, { 0x48, 0xf7, 0x18 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xf7, true, 0x18, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "test qword [rax], 0x1234", M_LONG64, { 0x48, 0xf7, 0x00, 0x34, 0x12, 0x00, 0x00 }, 7, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xf7, true, 0x00, false, 0x00, 0, 0, 4, 0x1234ull, false, false },
	{ "nop", M_LONG64, { 0x90 }, 1, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x00, 0, 0x90, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "xchg eax, r8d", M_LONG64, { 0x41, 0x90 }, 2, 4, 8, HVB_SEG_NONE, false, false, false,
	  0x41, 0, 0x90, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "endbr64", M_LONG64, { 0xf3, 0x0f, 0x1e, 0xfa }, 4, 4, 8, HVB_SEG_NONE, true, false, false,
	  0x00, 1, 0x1e, true, 0xfa, false, 0x00, 0, 0, 0, 0x0ull, false, false },
	{ "times 10 db 0x66; mov rax, [rbx]", M_LONG64, { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0x8b, 0x03 }, 13, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0x8b, true, 0x03, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "db 0x66, 0x48, 0x50", M_LONG64, { 0x66, 0x48, 0x50 }, 3, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0x50, false, 0x00, false, 0x00, 0, 0, 0, 0x0ull, false, true },
	{ "db 0x66, 0x48, 0xff, 0x30", M_LONG64, { 0x66, 0x48, 0xff, 0x30 }, 4, 8, 8, HVB_SEG_NONE, false, false, false,
	  0x48, 0, 0xff, true, 0x30, false, 0x00, 0, 0, 0, 0x0ull, false, true },
};

struct write_case {
	const char *src;
	enum hvb_cpu_mode mode;
	uint8_t bytes[HVB_INSN_MAX];
	uint8_t len;
	bool writes;
	unsigned size;
};

static const struct write_case write_cases[] = {
	{ "mov [eax], al", M_PROT32, { 0x88, 0x00 }, 2, true, 1 },
	{ "mov [eax], ecx", M_PROT32, { 0x89, 0x08 }, 2, true, 4 },
	{ "mov [eax], cx", M_PROT32, { 0x66, 0x89, 0x08 }, 3, true, 2 },
	{ "mov [0x12345678], al", M_PROT32, { 0xa2, 0x78, 0x56, 0x34, 0x12 }, 5, true, 1 },
	{ "mov [0x12345678], eax", M_PROT32, { 0xa3, 0x78, 0x56, 0x34, 0x12 }, 5, true, 4 },
	{ "mov byte [eax], 5", M_PROT32, { 0xc6, 0x00, 0x05 }, 3, true, 1 },
	{ "mov dword [eax], 5", M_PROT32, { 0xc7, 0x00, 0x05, 0x00, 0x00, 0x00 }, 6, true, 4 },
	{ "mov word [eax], 5", M_PROT32, { 0x66, 0xc7, 0x00, 0x05, 0x00 }, 5, true, 2 },
	{ "stosb", M_PROT32, { 0xaa }, 1, true, 1 },
	{ "stosw", M_PROT32, { 0x66, 0xab }, 2, true, 2 },
	{ "rep stosd", M_PROT32, { 0xf3, 0xab }, 2, true, 4 },
	{ "movsb", M_PROT32, { 0xa4 }, 1, true, 1 },
	{ "rep movsd", M_PROT32, { 0xf3, 0xa5 }, 2, true, 4 },
	{ "lodsd", M_PROT32, { 0xad }, 1, false, 0 },
	{ "cmpsb", M_PROT32, { 0xa6 }, 1, false, 0 },
	{ "scasd", M_PROT32, { 0xaf }, 1, false, 0 },
	{ "xchg [eax], cl", M_PROT32, { 0x86, 0x08 }, 2, true, 1 },
	{ "xchg [eax], ecx", M_PROT32, { 0x87, 0x08 }, 2, true, 4 },
	{ "add [eax], cl", M_PROT32, { 0x00, 0x08 }, 2, true, 1 },
	{ "or [eax], ecx", M_PROT32, { 0x09, 0x08 }, 2, true, 4 },
	{ "adc [eax], ecx", M_PROT32, { 0x11, 0x08 }, 2, true, 4 },
	{ "sbb [eax], cx", M_PROT32, { 0x66, 0x19, 0x08 }, 3, true, 2 },
	{ "and [eax], ecx", M_PROT32, { 0x21, 0x08 }, 2, true, 4 },
	{ "sub [eax], ecx", M_PROT32, { 0x29, 0x08 }, 2, true, 4 },
	{ "xor [eax], ecx", M_PROT32, { 0x31, 0x08 }, 2, true, 4 },
	{ "cmp [eax], ecx", M_PROT32, { 0x39, 0x08 }, 2, false, 0 },
	{ "cmp [eax], cl", M_PROT32, { 0x38, 0x08 }, 2, false, 0 },
	{ "add ecx, [eax]", M_PROT32, { 0x03, 0x08 }, 2, false, 0 },
	{ "add cl, [eax]", M_PROT32, { 0x02, 0x08 }, 2, false, 0 },
	{ "add byte [eax], 1", M_PROT32, { 0x80, 0x00, 0x01 }, 3, true, 1 },
	{ "add dword [eax], 0x12345678", M_PROT32, { 0x81, 0x00, 0x78, 0x56, 0x34, 0x12 }, 6, true, 4 },
	{ "add dword [eax], byte 1", M_PROT32, { 0x83, 0x00, 0x01 }, 3, true, 4 },
	{ "cmp dword [eax], byte 1", M_PROT32, { 0x83, 0x38, 0x01 }, 3, false, 0 },
	{ "cmp byte [eax], 1", M_PROT32, { 0x80, 0x38, 0x01 }, 3, false, 0 },
	{ "db 0x82, 0x00, 0x01", M_PROT32, { 0x82, 0x00, 0x01 }, 3, true, 1 },
	{ "db 0x82, 0x38, 0x01", M_PROT32, { 0x82, 0x38, 0x01 }, 3, false, 0 },
	{ "inc byte [eax]", M_PROT32, { 0xfe, 0x00 }, 2, true, 1 },
	{ "dec byte [eax]", M_PROT32, { 0xfe, 0x08 }, 2, true, 1 },
	{ "inc dword [eax]", M_PROT32, { 0xff, 0x00 }, 2, true, 4 },
	{ "dec word [eax]", M_PROT32, { 0x66, 0xff, 0x08 }, 3, true, 2 },
	{ "call [eax]", M_PROT32, { 0xff, 0x10 }, 2, false, 0 },
	{ "push dword [eax]", M_PROT32, { 0xff, 0x30 }, 2, false, 0 },
	{ "jmp [eax]", M_PROT32, { 0xff, 0x20 }, 2, false, 0 },
	{ "not byte [eax]", M_PROT32, { 0xf6, 0x10 }, 2, true, 1 },
	{ "neg dword [eax]", M_PROT32, { 0xf7, 0x18 }, 2, true, 4 },
	{ "test byte [eax], 1", M_PROT32, { 0xf6, 0x00, 0x01 }, 3, false, 0 },
	{ "mul dword [eax]", M_PROT32, { 0xf7, 0x20 }, 2, false, 0 },
	{ "idiv byte [eax]", M_PROT32, { 0xf6, 0x38 }, 2, false, 0 },
	{ "shl byte [eax], 3", M_PROT32, { 0xc0, 0x20, 0x03 }, 3, true, 1 },
	{ "shr dword [eax], 3", M_PROT32, { 0xc1, 0x28, 0x03 }, 3, true, 4 },
	{ "rol byte [eax], 1", M_PROT32, { 0xd0, 0x00 }, 2, true, 1 },
	{ "sar dword [eax], 1", M_PROT32, { 0xd1, 0x38 }, 2, true, 4 },
	{ "rcl byte [eax], cl", M_PROT32, { 0xd2, 0x10 }, 2, true, 1 },
	{ "ror word [eax], cl", M_PROT32, { 0x66, 0xd3, 0x08 }, 3, true, 2 },
	{ "setnz byte [eax]", M_PROT32, { 0x0f, 0x95, 0x00 }, 3, true, 1 },
	{ "setnz al", M_PROT32, { 0x0f, 0x95, 0xc0 }, 3, false, 0 },
	{ "movnti [eax], ecx", M_PROT32, { 0x0f, 0xc3, 0x08 }, 3, true, 4 },
	{ "cmpxchg [eax], cl", M_PROT32, { 0x0f, 0xb0, 0x08 }, 3, true, 1 },
	{ "lock cmpxchg [eax], ecx", M_PROT32, { 0xf0, 0x0f, 0xb1, 0x08 }, 4, true, 4 },
	{ "xadd [eax], cl", M_PROT32, { 0x0f, 0xc0, 0x08 }, 3, true, 1 },
	{ "xadd [eax], ecx", M_PROT32, { 0x0f, 0xc1, 0x08 }, 3, true, 4 },
	{ "bts [eax], ecx", M_PROT32, { 0x0f, 0xab, 0x08 }, 3, true, 4 },
	{ "btr [eax], cx", M_PROT32, { 0x66, 0x0f, 0xb3, 0x08 }, 4, true, 2 },
	{ "btc [eax], ecx", M_PROT32, { 0x0f, 0xbb, 0x08 }, 3, true, 4 },
	{ "bt [eax], ecx", M_PROT32, { 0x0f, 0xa3, 0x08 }, 3, false, 0 },
	{ "bts dword [eax], 5", M_PROT32, { 0x0f, 0xba, 0x28, 0x05 }, 4, true, 4 },
	{ "btr dword [eax], 5", M_PROT32, { 0x0f, 0xba, 0x30, 0x05 }, 4, true, 4 },
	{ "btc dword [eax], 5", M_PROT32, { 0x0f, 0xba, 0x38, 0x05 }, 4, true, 4 },
	{ "bt dword [eax], 5", M_PROT32, { 0x0f, 0xba, 0x20, 0x05 }, 4, false, 0 },
	{ "movups [eax], xmm0", M_PROT32, { 0x0f, 0x11, 0x00 }, 3, true, 16 },
	{ "movupd [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x11, 0x00 }, 4, true, 16 },
	{ "movss [eax], xmm0", M_PROT32, { 0xf3, 0x0f, 0x11, 0x00 }, 4, true, 4 },
	{ "movsd [eax], xmm0", M_PROT32, { 0xf2, 0x0f, 0x11, 0x00 }, 4, true, 8 },
	{ "movaps [eax], xmm0", M_PROT32, { 0x0f, 0x29, 0x00 }, 3, true, 16 },
	{ "movapd [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x29, 0x00 }, 4, true, 16 },
	{ "movd [eax], mm0", M_PROT32, { 0x0f, 0x7e, 0x00 }, 3, true, 4 },
	{ "movd [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x7e, 0x00 }, 4, true, 4 },
	{ "movq [eax], mm0", M_PROT32, { 0x0f, 0x7f, 0x00 }, 3, true, 8 },
	{ "movdqa [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x7f, 0x00 }, 4, true, 16 },
	{ "movdqu [eax], xmm0", M_PROT32, { 0xf3, 0x0f, 0x7f, 0x00 }, 4, true, 16 },
	{ "movq [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0xd6, 0x00 }, 4, true, 8 },
	{ "movups xmm0, [eax]", M_PROT32, { 0x0f, 0x10, 0x00 }, 3, false, 0 },
	{ "movdqa xmm0, [eax]", M_PROT32, { 0x66, 0x0f, 0x6f, 0x00 }, 4, false, 0 },
	{ "movq xmm0, [eax]", M_PROT32, { 0xf3, 0x0f, 0x7e, 0x00 }, 4, false, 0 },
	{ "mov ecx, [eax]", M_PROT32, { 0x8b, 0x08 }, 2, false, 0 },
	{ "mov al, [0x12345678]", M_PROT32, { 0xa0, 0x78, 0x56, 0x34, 0x12 }, 5, false, 0 },
	{ "mov eax, ecx", M_PROT32, { 0x89, 0xc8 }, 2, false, 0 },
	{ "db 0x66, 0x0f, 0x7f, 0xc1", M_PROT32, { 0x66, 0x0f, 0x7f, 0xc1 }, 4, false, 0 },
	{ "lea eax, [ebx]", M_PROT32, { 0x8d, 0x03 }, 2, false, 0 },
	{ "crc32 eax, dword [ebx]", M_PROT32, { 0xf2, 0x0f, 0x38, 0xf1, 0x03 }, 5, false, 0 },
	{ "mov [eax], es", M_PROT32, { 0x8c, 0x00 }, 2, true, 2 },
	{ "movbe [eax], ecx", M_PROT32, { 0x0f, 0x38, 0xf1, 0x08 }, 4, true, 4 },
	{ "movbe ecx, [eax]", M_PROT32, { 0x0f, 0x38, 0xf0, 0x08 }, 4, false, 0 },
	{ "cmpxchg8b [eax]", M_PROT32, { 0x0f, 0xc7, 0x08 }, 3, true, 8 },
	{ "shld [eax], ecx, 3", M_PROT32, { 0x0f, 0xa4, 0x08, 0x03 }, 4, true, 4 },
	{ "shrd [eax], ecx, cl", M_PROT32, { 0x0f, 0xad, 0x08 }, 3, true, 4 },
	{ "pop dword [eax]", M_PROT32, { 0x8f, 0x00 }, 2, true, 4 },
	{ "movntdq [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0xe7, 0x00 }, 4, true, 16 },
	{ "movntq [eax], mm0", M_PROT32, { 0x0f, 0xe7, 0x00 }, 3, true, 8 },
	{ "movlps [eax], xmm0", M_PROT32, { 0x0f, 0x13, 0x00 }, 3, true, 8 },
	{ "movhpd [eax], xmm0", M_PROT32, { 0x66, 0x0f, 0x17, 0x00 }, 4, true, 8 },
	{ "movntps [eax], xmm0", M_PROT32, { 0x0f, 0x2b, 0x00 }, 3, true, 16 },
	{ "mov [bx], ax", M_REAL, { 0x89, 0x07 }, 2, true, 2 },
	{ "mov [bx], eax", M_REAL, { 0x66, 0x89, 0x07 }, 3, true, 4 },
	{ "mov word [es:0x30], 0xbeef", M_REAL, { 0x26, 0xc7, 0x06, 0x30, 0x00, 0xef, 0xbe }, 7, true, 2 },
	{ "movq [bx], mm0", M_REAL, { 0x0f, 0x7f, 0x07 }, 3, true, 8 },
	{ "movdqa [bx], xmm0", M_REAL, { 0x66, 0x0f, 0x7f, 0x07 }, 4, true, 16 },
	{ "rep stosw", M_REAL, { 0xf3, 0xab }, 2, true, 2 },
	{ "rep movsd", M_REAL, { 0xf3, 0x66, 0xa5 }, 3, true, 4 },
	{ "mov [0x1234], ax", M_REAL, { 0xa3, 0x34, 0x12 }, 3, true, 2 },
	{ "add [bp+si], al", M_REAL, { 0x00, 0x02 }, 2, true, 1 },
	{ "mov [rax], rcx", M_LONG64, { 0x48, 0x89, 0x08 }, 3, true, 8 },
	{ "mov qword [rax], 0x12345678", M_LONG64, { 0x48, 0xc7, 0x00, 0x78, 0x56, 0x34, 0x12 }, 7, true, 8 },
	{ "mov [qword 0x1122334455667788], rax", M_LONG64, { 0x48, 0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 10, true, 8 },
	{ "mov [rax], r8b", M_LONG64, { 0x44, 0x88, 0x00 }, 3, true, 1 },
	{ "rep stosq", M_LONG64, { 0xf3, 0x48, 0xab }, 3, true, 8 },
	{ "rep movsq", M_LONG64, { 0xf3, 0x48, 0xa5 }, 3, true, 8 },
	{ "xchg [rax], r9", M_LONG64, { 0x4c, 0x87, 0x08 }, 3, true, 8 },
	{ "lock add [rdi+8], eax", M_LONG64, { 0xf0, 0x01, 0x47, 0x08 }, 4, true, 4 },
	{ "lock inc qword [rax]", M_LONG64, { 0xf0, 0x48, 0xff, 0x00 }, 4, true, 8 },
	{ "neg qword [rax]", M_LONG64, { 0x48, 0xf7, 0x18 }, 3, true, 8 },
	{ "rol qword [rbx], 5", M_LONG64, { 0x48, 0xc1, 0x03, 0x05 }, 4, true, 8 },
	{ "bts qword [rax], 63", M_LONG64, { 0x48, 0x0f, 0xba, 0x28, 0x3f }, 5, true, 8 },
	{ "movnti [rax], rcx", M_LONG64, { 0x48, 0x0f, 0xc3, 0x08 }, 4, true, 8 },
	{ "db 0x66, 0x48, 0x0f, 0x7e, 0x00", M_LONG64, { 0x66, 0x48, 0x0f, 0x7e, 0x00 }, 5, true, 8 },
	{ "cmpxchg16b [rdi]", M_LONG64, { 0x48, 0x0f, 0xc7, 0x0f }, 4, true, 16 },
	{ "mov [rel $+0x16], eax", M_LONG64, { 0x89, 0x05, 0x10, 0x00, 0x00, 0x00 }, 6, true, 4 },
	{ "movdqa [rax], xmm8", M_LONG64, { 0x66, 0x44, 0x0f, 0x7f, 0x00 }, 5, true, 16 },
	{ "mov [gs:rax], al", M_LONG64, { 0x65, 0x88, 0x00 }, 3, true, 1 },
	{ "mov word [rax], 1", M_LONG64, { 0x66, 0xc7, 0x00, 0x01, 0x00 }, 5, true, 2 },
};

struct io_case {
	const char *src;
	enum hvb_cpu_mode mode;
	uint8_t bytes[HVB_INSN_MAX];
	uint8_t len;
	bool in, string, imm_port;
	uint8_t port;
	uint8_t size;
};

static const struct io_case io_cases[] = {
	{ "in al, 0x60", M_REAL, { 0xe4, 0x60 }, 2, true, false, true, 0x60, 1 },
	{ "in ax, 0x60", M_REAL, { 0xe5, 0x60 }, 2, true, false, true, 0x60, 2 },
	{ "in eax, 0x60", M_REAL, { 0x66, 0xe5, 0x60 }, 3, true, false, true, 0x60, 4 },
	{ "out 0x80, al", M_REAL, { 0xe6, 0x80 }, 2, false, false, true, 0x80, 1 },
	{ "out 0x80, ax", M_REAL, { 0xe7, 0x80 }, 2, false, false, true, 0x80, 2 },
	{ "out 0x80, eax", M_REAL, { 0x66, 0xe7, 0x80 }, 3, false, false, true, 0x80, 4 },
	{ "in al, dx", M_REAL, { 0xec }, 1, true, false, false, 0x00, 1 },
	{ "in ax, dx", M_REAL, { 0xed }, 1, true, false, false, 0x00, 2 },
	{ "in eax, dx", M_REAL, { 0x66, 0xed }, 2, true, false, false, 0x00, 4 },
	{ "out dx, al", M_REAL, { 0xee }, 1, false, false, false, 0x00, 1 },
	{ "out dx, ax", M_REAL, { 0xef }, 1, false, false, false, 0x00, 2 },
	{ "out dx, eax", M_REAL, { 0x66, 0xef }, 2, false, false, false, 0x00, 4 },
	{ "insb", M_REAL, { 0x6c }, 1, true, true, false, 0x00, 1 },
	{ "insw", M_REAL, { 0x6d }, 1, true, true, false, 0x00, 2 },
	{ "insd", M_REAL, { 0x66, 0x6d }, 2, true, true, false, 0x00, 4 },
	{ "outsb", M_REAL, { 0x6e }, 1, false, true, false, 0x00, 1 },
	{ "outsw", M_REAL, { 0x6f }, 1, false, true, false, 0x00, 2 },
	{ "rep outsd", M_REAL, { 0xf3, 0x66, 0x6f }, 3, false, true, false, 0x00, 4 },
	{ "rep insb", M_REAL, { 0xf3, 0x6c }, 2, true, true, false, 0x00, 1 },
	{ "in eax, 0x71", M_PROT32, { 0xe5, 0x71 }, 2, true, false, true, 0x71, 4 },
	{ "in ax, 0x71", M_PROT32, { 0x66, 0xe5, 0x71 }, 3, true, false, true, 0x71, 2 },
	{ "out dx, eax", M_PROT32, { 0xef }, 1, false, false, false, 0x00, 4 },
	{ "out dx, ax", M_PROT32, { 0x66, 0xef }, 2, false, false, false, 0x00, 2 },
	{ "rep insw", M_PROT32, { 0xf3, 0x66, 0x6d }, 3, true, true, false, 0x00, 2 },
	{ "rep outsd", M_PROT32, { 0xf3, 0x6f }, 2, false, true, false, 0x00, 4 },
	{ "outsb", M_PROT32, { 0x6e }, 1, false, true, false, 0x00, 1 },
	{ "out 0xff, al", M_PROT32, { 0xe6, 0xff }, 2, false, false, true, 0xff, 1 },
	{ "out 0x42, al", M_PROT16, { 0xe6, 0x42 }, 2, false, false, true, 0x42, 1 },
	{ "in eax, dx", M_PROT16, { 0x66, 0xed }, 2, true, false, false, 0x00, 4 },
	{ "in eax, dx", M_LONG64, { 0xed }, 1, true, false, false, 0x00, 4 },
	{ "db 0x48, 0xed", M_LONG64, { 0x48, 0xed }, 2, true, false, false, 0x00, 4 },
	{ "db 0x48, 0xe7, 0x10", M_LONG64, { 0x48, 0xe7, 0x10 }, 3, false, false, true, 0x10, 4 },
	{ "out dx, ax", M_LONG64, { 0x66, 0xef }, 2, false, false, false, 0x00, 2 },
	{ "rep outsb", M_LONG64, { 0xf3, 0x6e }, 2, false, true, false, 0x00, 1 },
	{ "db 0xf3, 0x48, 0x6f", M_LONG64, { 0xf3, 0x48, 0x6f }, 3, false, true, false, 0x00, 4 },
	{ "in al, 0xff", M_LONG64, { 0xe4, 0xff }, 2, true, false, true, 0xff, 1 },
	{ "rep insd", M_LONG64, { 0xf3, 0x6d }, 2, true, true, false, 0x00, 4 },
};

/* `has_ea` false: hvb_insn_mem_ea must fail with -EINVAL. */
struct ea_case {
	const char *src;
	enum hvb_cpu_mode mode;
	uint8_t bytes[HVB_INSN_MAX];
	uint8_t len;
	uint64_t gpr[16];
	uint64_t next_rip;
	bool has_ea;
	uint64_t ea;
	enum hvb_seg seg;
};

static const struct ea_case ea_cases[] = {
	{ "mov ax, [bx+si+0x10]", M_REAL, { 0x8b, 0x40, 0x10 }, 3, { [HVB_RBX] = 0xfff0ull, [HVB_RSI] = 0x8ull }, 0x0ull, true, 0x8ull, HVB_SEG_DS },
	{ "mov ax, [bx+si+0x10]", M_REAL, { 0x8b, 0x40, 0x10 }, 3, { [HVB_RBX] = 0xffffffff0010ull, [HVB_RSI] = 0x20ull }, 0x0ull, true, 0x40ull, HVB_SEG_DS },
	{ "mov ax, [bp+di-0x1234]", M_REAL, { 0x8b, 0x83, 0xcc, 0xed }, 4, { [HVB_RBP] = 0x1000ull, [HVB_RDI] = 0x0ull }, 0x0ull, true, 0xfdccull, HVB_SEG_SS },
	{ "mov ax, [bp+si]", M_REAL, { 0x8b, 0x02 }, 2, { [HVB_RBP] = 0x100ull, [HVB_RSI] = 0x23ull }, 0x0ull, true, 0x123ull, HVB_SEG_SS },
	{ "mov ax, [bp]", M_REAL, { 0x8b, 0x46, 0x00 }, 3, { [HVB_RBP] = 0xfffeull }, 0x0ull, true, 0xfffeull, HVB_SEG_SS },
	{ "db 0x8b, 0x06, 0x34, 0x12", M_REAL, { 0x8b, 0x06, 0x34, 0x12 }, 4, { [HVB_RBP] = 0x5555ull }, 0x0ull, true, 0x1234ull, HVB_SEG_DS },
	{ "mov ax, [es:bp+2]", M_REAL, { 0x26, 0x8b, 0x46, 0x02 }, 4, { [HVB_RBP] = 0xffffull }, 0x0ull, true, 0x1ull, HVB_SEG_ES },
	{ "mov ax, [di]", M_REAL, { 0x8b, 0x05 }, 2, { [HVB_RDI] = 0x4321ull }, 0x0ull, true, 0x4321ull, HVB_SEG_DS },
	{ "mov ax, [bx-1]", M_REAL, { 0x8b, 0x47, 0xff }, 3, { [HVB_RBX] = 0x0ull }, 0x0ull, true, 0xffffull, HVB_SEG_DS },
	{ "mov eax, [ebx+ecx*4+0x10]", M_REAL, { 0x66, 0x67, 0x8b, 0x44, 0x8b, 0x10 }, 6, { [HVB_RBX] = 0x10000ull, [HVB_RCX] = 0x1ull }, 0x0ull, true, 0x10014ull, HVB_SEG_DS },
	{ "rep movsw", M_REAL, { 0xf3, 0xa5 }, 2, { [HVB_RSI] = 0x11112222ull, [HVB_RDI] = 0x33334444ull }, 0x0ull, true, 0x4444ull, HVB_SEG_ES },
	{ "cs movsb", M_REAL, { 0x2e, 0xa4 }, 2, { [HVB_RSI] = 0x1ull, [HVB_RDI] = 0x2ull }, 0x0ull, true, 0x2ull, HVB_SEG_ES },
	{ "lodsb", M_REAL, { 0xac }, 1, { [HVB_RSI] = 0x1234ull }, 0x0ull, true, 0x1234ull, HVB_SEG_DS },
	{ "es lodsb", M_REAL, { 0x26, 0xac }, 2, { [HVB_RSI] = 0x1234ull }, 0x0ull, true, 0x1234ull, HVB_SEG_ES },
	{ "rep insb", M_REAL, { 0xf3, 0x6c }, 2, { [HVB_RDI] = 0x10005ull }, 0x0ull, true, 0x5ull, HVB_SEG_ES },
	{ "rep outsw", M_REAL, { 0xf3, 0x6f }, 2, { [HVB_RSI] = 0x10ull, [HVB_RDI] = 0x20ull }, 0x0ull, true, 0x10ull, HVB_SEG_DS },
	{ "cmpsb", M_REAL, { 0xa6 }, 1, { [HVB_RSI] = 0x10ull, [HVB_RDI] = 0x20ull }, 0x0ull, true, 0x10ull, HVB_SEG_DS },
	{ "scasb", M_REAL, { 0xae }, 1, { [HVB_RSI] = 0x10ull, [HVB_RDI] = 0x20ull }, 0x0ull, true, 0x20ull, HVB_SEG_ES },
	{ "mov ax, [0x1234]", M_REAL, { 0xa1, 0x34, 0x12 }, 3, { [HVB_RBX] = 0x99ull }, 0x0ull, true, 0x1234ull, HVB_SEG_DS },
	{ "mov ax, [fs:0x1234]", M_REAL, { 0x64, 0xa1, 0x34, 0x12 }, 4, {  }, 0x0ull, true, 0x1234ull, HVB_SEG_FS },
	{ "a32 mov al, [dword 0x12345678]", M_REAL, { 0x67, 0xa0, 0x78, 0x56, 0x34, 0x12 }, 6, {  }, 0x0ull, true, 0x12345678ull, HVB_SEG_DS },
	{ "mov ax, bx", M_REAL, { 0x89, 0xd8 }, 2, {  }, 0x0ull, false, 0x0ull, HVB_SEG_DS },
	{ "mov ax, [ss:bx]", M_PROT16, { 0x36, 0x8b, 0x07 }, 3, { [HVB_RBX] = 0x800ull }, 0x0ull, true, 0x800ull, HVB_SEG_SS },
	{ "mov eax, [ebx+esi*8+0x12345678]", M_PROT32, { 0x8b, 0x84, 0xf3, 0x78, 0x56, 0x34, 0x12 }, 7, { [HVB_RBX] = 0x1000ull, [HVB_RSI] = 0x10ull }, 0x0ull, true, 0x123466f8ull, HVB_SEG_DS },
	{ "mov eax, [ebx+esi*4+8]", M_PROT32, { 0x8b, 0x44, 0xb3, 0x08 }, 4, { [HVB_RBX] = 0xfffffff0ull, [HVB_RSI] = 0x4ull }, 0x0ull, true, 0x8ull, HVB_SEG_DS },
	{ "mov eax, [ecx*4+0x1000]", M_PROT32, { 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00 }, 7, { [HVB_RCX] = 0x3ull, [HVB_RBP] = 0x55555ull }, 0x0ull, true, 0x100cull, HVB_SEG_DS },
	{ "mov eax, [esp+8]", M_PROT32, { 0x8b, 0x44, 0x24, 0x08 }, 4, { [HVB_RSP] = 0x7000ull }, 0x0ull, true, 0x7008ull, HVB_SEG_SS },
	{ "mov eax, [ebp-4]", M_PROT32, { 0x8b, 0x45, 0xfc }, 3, { [HVB_RBP] = 0x8000ull }, 0x0ull, true, 0x7ffcull, HVB_SEG_SS },
	{ "mov eax, [ebp+eax*2]", M_PROT32, { 0x8b, 0x44, 0x45, 0x00 }, 4, { [HVB_RBP] = 0x100ull, [HVB_RAX] = 0x10ull }, 0x0ull, true, 0x120ull, HVB_SEG_SS },
	{ "db 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12", M_PROT32, { 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12 }, 6, {  }, 0x1006ull, true, 0x12345678ull, HVB_SEG_DS },
	{ "db 0x8b, 0x04, 0x25, 0x00, 0x10, 0, 0", M_PROT32, { 0x8b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00 }, 7, { [HVB_RSP] = 0x9999ull, [HVB_RBP] = 0x7777ull }, 0x0ull, true, 0x1000ull, HVB_SEG_DS },
	{ "db 0x8b, 0x44, 0x24, 0xfc", M_PROT32, { 0x8b, 0x44, 0x24, 0xfc }, 4, { [HVB_RSP] = 0x2ull }, 0x0ull, true, 0xfffffffeull, HVB_SEG_SS },
	{ "mov eax, [bx+si]", M_PROT32, { 0x67, 0x8b, 0x00 }, 3, { [HVB_RBX] = 0xffffull, [HVB_RSI] = 0x1ull }, 0x0ull, true, 0x0ull, HVB_SEG_DS },
	{ "a16 mov [word 0x1234], eax", M_PROT32, { 0x67, 0xa3, 0x34, 0x12 }, 4, {  }, 0x0ull, true, 0x1234ull, HVB_SEG_DS },
	{ "mov eax, [gs:edi+0x10]", M_PROT32, { 0x65, 0x8b, 0x47, 0x10 }, 4, { [HVB_RDI] = 0x20ull }, 0x0ull, true, 0x30ull, HVB_SEG_GS },
	{ "stosd", M_PROT32, { 0xab }, 1, { [HVB_RDI] = 0xdeadbeefull }, 0x0ull, true, 0xdeadbeefull, HVB_SEG_ES },
	{ "fs movsd", M_PROT32, { 0x64, 0xa5 }, 2, { [HVB_RSI] = 0x10ull, [HVB_RDI] = 0x20ull }, 0x0ull, true, 0x20ull, HVB_SEG_ES },
	{ "fs lodsd", M_PROT32, { 0x64, 0xad }, 2, { [HVB_RSI] = 0x10ull, [HVB_RDI] = 0x20ull }, 0x0ull, true, 0x10ull, HVB_SEG_FS },
	{ "lea eax, [ebx+8]", M_PROT32, { 0x8d, 0x43, 0x08 }, 3, { [HVB_RBX] = 0x100ull }, 0x0ull, true, 0x108ull, HVB_SEG_DS },
	{ "mov eax, cr3", M_PROT32, { 0x0f, 0x20, 0xd8 }, 3, {  }, 0x0ull, false, 0x0ull, HVB_SEG_DS },
	{ "db 0x0f, 0x20, 0x00", M_PROT32, { 0x0f, 0x20, 0x00 }, 3, { [HVB_RAX] = 0x1000ull }, 0x0ull, false, 0x0ull, HVB_SEG_DS },
	{ "nop", M_PROT32, { 0x90 }, 1, {  }, 0x0ull, false, 0x0ull, HVB_SEG_DS },
	{ "mov rax, [rbx+r12*2]", M_LONG64, { 0x4a, 0x8b, 0x04, 0x63 }, 4, { [HVB_RBX] = 0x1000ull, [HVB_R12] = 0x10ull }, 0x0ull, true, 0x1020ull, HVB_SEG_DS },
	{ "mov rax, [rbx+r12]", M_LONG64, { 0x4a, 0x8b, 0x04, 0x23 }, 4, { [HVB_RBX] = 0x1000ull, [HVB_R12] = 0x10ull, [HVB_RSP] = 0x5000ull }, 0x0ull, true, 0x1010ull, HVB_SEG_DS },
	{ "db 0x48, 0x8b, 0x04, 0x23", M_LONG64, { 0x48, 0x8b, 0x04, 0x23 }, 4, { [HVB_RBX] = 0x1000ull, [HVB_RSP] = 0x5000ull, [HVB_R12] = 0x10ull }, 0x0ull, true, 0x1000ull, HVB_SEG_DS },
	{ "db 0x41, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12", M_LONG64, { 0x41, 0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12 }, 8, { [HVB_R13] = 0x9999ull, [HVB_RBP] = 0x1ull }, 0x0ull, true, 0x12345678ull, HVB_SEG_DS },
	{ "mov rax, [r13]", M_LONG64, { 0x49, 0x8b, 0x45, 0x00 }, 4, { [HVB_R13] = 0xabcull, [HVB_RBP] = 0x1ull }, 0x0ull, true, 0xabcull, HVB_SEG_DS },
	{ "mov rax, [r12+8]", M_LONG64, { 0x49, 0x8b, 0x44, 0x24, 0x08 }, 5, { [HVB_R12] = 0x77ull, [HVB_RSP] = 0x1ull }, 0x0ull, true, 0x7full, HVB_SEG_DS },
	{ "mov rax, [rbp+8]", M_LONG64, { 0x48, 0x8b, 0x45, 0x08 }, 4, { [HVB_RBP] = 0x100ull }, 0x0ull, true, 0x108ull, HVB_SEG_SS },
	{ "mov rax, [rsp]", M_LONG64, { 0x48, 0x8b, 0x04, 0x24 }, 4, { [HVB_RSP] = 0x7ff0ull }, 0x0ull, true, 0x7ff0ull, HVB_SEG_SS },
	{ "db 0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff", M_LONG64, { 0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff }, 6, { [HVB_RBP] = 0x1ull }, 0x400006ull, true, 0x3ffff6ull, HVB_SEG_DS },
	{ "mov eax, [rel $+0x16]", M_LONG64, { 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00 }, 6, {  }, 0x1006ull, true, 0x1016ull, HVB_SEG_DS },
	{ "db 0x67, 0x8b, 0x05, 0x10, 0, 0, 0", M_LONG64, { 0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00 }, 7, {  }, 0xfffffff8ull, true, 0x8ull, HVB_SEG_DS },
	{ "mov eax, [ebx]", M_LONG64, { 0x67, 0x8b, 0x03 }, 3, { [HVB_RBX] = 0x100000010ull }, 0x0ull, true, 0x10ull, HVB_SEG_DS },
	{ "mov rax, [rbx-8]", M_LONG64, { 0x48, 0x8b, 0x43, 0xf8 }, 4, { [HVB_RBX] = 0x4ull }, 0x0ull, true, 0xfffffffffffffffcull, HVB_SEG_DS },
	{ "mov rax, [rbx+rcx*8+0x7fffffff]", M_LONG64, { 0x48, 0x8b, 0x84, 0xcb, 0xff, 0xff, 0xff, 0x7f }, 8, { [HVB_RBX] = 0xffff800000000000ull, [HVB_RCX] = 0x2ull }, 0x0ull, true, 0xffff80008000000full, HVB_SEG_DS },
	{ "mov [qword 0x1122334455667788], rax", M_LONG64, { 0x48, 0xa3, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 10, {  }, 0x0ull, true, 0x1122334455667788ull, HVB_SEG_DS },
	{ "a32 mov [dword 0x11223344], eax", M_LONG64, { 0x67, 0xa3, 0x44, 0x33, 0x22, 0x11 }, 6, {  }, 0x0ull, true, 0x11223344ull, HVB_SEG_DS },
	{ "rep stosq", M_LONG64, { 0xf3, 0x48, 0xab }, 3, { [HVB_RDI] = 0x123456789ull }, 0x0ull, true, 0x123456789ull, HVB_SEG_ES },
	{ "a32 rep stosq", M_LONG64, { 0xf3, 0x67, 0x48, 0xab }, 4, { [HVB_RDI] = 0x123456789ull }, 0x0ull, true, 0x23456789ull, HVB_SEG_ES },
	{ "rep outsb", M_LONG64, { 0xf3, 0x6e }, 2, { [HVB_RSI] = 0xabcdefull }, 0x0ull, true, 0xabcdefull, HVB_SEG_DS },
	{ "mov rax, [fs:rbx]", M_LONG64, { 0x64, 0x48, 0x8b, 0x03 }, 4, { [HVB_RBX] = 0x8ull }, 0x0ull, true, 0x8ull, HVB_SEG_FS },
	{ "db 0x64, 0x2e, 0x8b, 0x03", M_LONG64, { 0x64, 0x2e, 0x8b, 0x03 }, 4, { [HVB_RBX] = 0x8ull }, 0x0ull, true, 0x8ull, HVB_SEG_FS },
	{ "db 0x2e, 0x8b, 0x03", M_LONG64, { 0x2e, 0x8b, 0x03 }, 3, { [HVB_RBX] = 0x8ull }, 0x0ull, true, 0x8ull, HVB_SEG_CS },
/* 208 cases */
};

static const char *mode_name(enum hvb_cpu_mode mode)
{
	static const char *const names[] = { "real", "prot16", "prot32", "long64" };

	return names[mode];
}

/* Decode `bytes` followed by filler, so that a decoder reading past the
 * instruction would not be caught only by `avail`. */
static int decode_padded(const uint8_t *bytes, size_t len,
			 enum hvb_cpu_mode mode, uint8_t filler,
			 struct hvb_insn *insn)
{
	uint8_t buf[32];

	memset(buf, filler, sizeof(buf));
	memcpy(buf, bytes, len);
	return hvb_decode(buf, sizeof(buf), mode, insn);
}

static void check_decode_case(const struct decode_case *c)
{
	struct hvb_insn in;
	int r;

	r = hvb_decode(c->bytes, c->len, c->mode, &in);
	cr_assert_eq(r, 0, "%s (%s): decode returned %d", c->src,
		     mode_name(c->mode), r);
	cr_expect_eq(in.len, c->len, "%s (%s): len %u, want %u", c->src,
		     mode_name(c->mode), in.len, c->len);
	cr_expect_eq(in.opsize, c->opsize, "%s (%s): opsize %u, want %u",
		     c->src, mode_name(c->mode), in.opsize, c->opsize);
	cr_expect_eq(in.addrsize, c->addrsize, "%s (%s): addrsize %u, want %u",
		     c->src, mode_name(c->mode), in.addrsize, c->addrsize);
	cr_expect_eq(in.seg, c->seg, "%s: seg %u, want %u", c->src, in.seg,
		     c->seg);
	cr_expect_eq(in.rep, c->rep, "%s: rep", c->src);
	cr_expect_eq(in.repne, c->repne, "%s: repne", c->src);
	cr_expect_eq(in.lock, c->lock, "%s: lock", c->src);
	cr_expect_eq(in.rex, c->rex, "%s: rex %#x, want %#x", c->src, in.rex,
		     c->rex);
	cr_expect_eq(in.map, c->map, "%s: map %u, want %u", c->src, in.map,
		     c->map);
	cr_expect_eq(in.opcode, c->opcode, "%s: opcode %#x, want %#x", c->src,
		     in.opcode, c->opcode);
	cr_expect_eq(in.has_modrm, c->has_modrm, "%s: has_modrm", c->src);
	if (c->has_modrm)
		cr_expect_eq(in.modrm, c->modrm, "%s: modrm %#x, want %#x",
			     c->src, in.modrm, c->modrm);
	cr_expect_eq(in.has_sib, c->has_sib, "%s: has_sib", c->src);
	if (c->has_sib)
		cr_expect_eq(in.sib, c->sib, "%s: sib %#x, want %#x", c->src,
			     in.sib, c->sib);
	cr_expect_eq(in.disp_len, c->disp_len, "%s: disp_len %u, want %u",
		     c->src, in.disp_len, c->disp_len);
	cr_expect_eq(in.disp, c->disp, "%s: disp %lld, want %lld", c->src,
		     (long long)in.disp, (long long)c->disp);
	cr_expect_eq(in.imm_len, c->imm_len, "%s: imm_len %u, want %u",
		     c->src, in.imm_len, c->imm_len);
	cr_expect_eq(in.imm, c->imm, "%s: imm %#llx, want %#llx", c->src,
		     (unsigned long long)in.imm, (unsigned long long)c->imm);
	cr_expect_eq(in.rip_relative, c->rip_relative, "%s: rip_relative",
		     c->src);
	cr_expect_eq(in.prefix66, c->prefix66, "%s: prefix66", c->src);
}

static unsigned check_mode(enum hvb_cpu_mode mode)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(decode_cases); i++) {
		if (decode_cases[i].mode != mode)
			continue;
		check_decode_case(&decode_cases[i]);
		n++;
	}
	return n;
}

Test(decode, real_mode_encodings)
{
	cr_expect_geq(check_mode(HVB_MODE_REAL), 50);
}

Test(decode, prot16_mode_encodings)
{
	cr_expect_geq(check_mode(HVB_MODE_PROT16), 7);
}

Test(decode, prot32_mode_encodings)
{
	cr_expect_geq(check_mode(HVB_MODE_PROT32), 70);
}

Test(decode, long_mode_encodings)
{
	cr_expect_geq(check_mode(HVB_MODE_LONG64), 70);
}

static bool same_decode(const struct hvb_insn *a, const struct hvb_insn *b)
{
	return a->len == b->len && a->opsize == b->opsize &&
	       a->addrsize == b->addrsize && a->seg == b->seg &&
	       a->rep == b->rep && a->repne == b->repne &&
	       a->lock == b->lock && a->rex == b->rex && a->map == b->map &&
	       a->opcode == b->opcode && a->has_modrm == b->has_modrm &&
	       a->modrm == b->modrm && a->has_sib == b->has_sib &&
	       a->sib == b->sib && a->disp_len == b->disp_len &&
	       a->disp == b->disp && a->imm_len == b->imm_len &&
	       a->imm == b->imm && a->rip_relative == b->rip_relative &&
	       a->prefix66 == b->prefix66;
}

/* The length must come from the bytes of the instruction alone, whatever
 * follows it (prefix-like, REX-like or ModRM-like bytes). */
Test(decode, following_bytes_do_not_change_the_decode)
{
	static const uint8_t fillers[] = { 0x00, 0x66, 0x48, 0xcc, 0xff };

	for (size_t i = 0; i < ARRAY_SIZE(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];
		struct hvb_insn a, b;

		cr_assert_eq(hvb_decode(c->bytes, c->len, c->mode, &a), 0, "%s",
			     c->src);
		for (size_t f = 0; f < ARRAY_SIZE(fillers); f++) {
			int r = decode_padded(c->bytes, c->len, c->mode,
					      fillers[f], &b);

			cr_assert_eq(r, 0, "%s + %#x: %d", c->src, fillers[f], r);
			cr_expect(same_decode(&a, &b),
				  "%s + filler %#x decodes differently", c->src,
				  fillers[f]);
		}
	}
}

/* Every proper prefix of a valid instruction asks for more bytes. */
Test(decode, truncated_input_is_eagain)
{
	for (size_t i = 0; i < ARRAY_SIZE(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];

		for (size_t n = 0; n < c->len; n++) {
			struct hvb_insn in;
			int r = hvb_decode(c->bytes, n, c->mode, &in);

			cr_expect_eq(r, -EAGAIN, "%s (%s) with %zu of %u bytes: %d",
				     c->src, mode_name(c->mode), n, c->len, r);
		}
	}
}

Test(decode, empty_input_is_eagain)
{
	struct hvb_insn in;

	cr_expect_eq(hvb_decode(NULL, 0, HVB_MODE_LONG64, &in), -EAGAIN);
}

Test(decode, unknown_mode_is_einval)
{
	static const uint8_t nop[] = { 0x90 };
	struct hvb_insn in;

	cr_expect_eq(hvb_decode(nop, 1, (enum hvb_cpu_mode)4, &in), -EINVAL);
	cr_expect_eq(hvb_decode(nop, 1, (enum hvb_cpu_mode)-1, &in), -EINVAL);
}

Test(decode, redundant_prefixes_up_to_fifteen_bytes)
{
	uint8_t buf[32];
	struct hvb_insn in;

	/* 14 prefixes + NOP = 15 bytes: legal. */
	memset(buf, 0x66, sizeof(buf));
	buf[14] = 0x90;
	cr_assert_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_PROT32, &in), 0);
	cr_expect_eq(in.len, 15);
	/* Prefixes + REX.W + MOV r64, imm64 filling exactly 15 bytes. */
	static const uint8_t movabs15[] = {
		0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xb8,
		1, 2, 3, 4, 5, 6, 7, 8,
	};
	cr_assert_eq(hvb_decode(movabs15, sizeof(movabs15), HVB_MODE_LONG64,
				&in), 0);
	cr_expect_eq(in.len, 15);
	cr_expect_eq(in.opsize, 8);
	cr_expect_eq(in.imm, 0x0807060504030201ull);
}

Test(decode, sixteen_bytes_are_einval)
{
	uint8_t buf[32];
	struct hvb_insn in;

	/* 15 prefixes + NOP: the opcode would be byte 16. */
	memset(buf, 0x66, sizeof(buf));
	buf[15] = 0x90;
	cr_expect_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_PROT32, &in), -EINVAL);
	/* Only 15 bytes available: still invalid, not "need more". */
	cr_expect_eq(hvb_decode(buf, 15, HVB_MODE_PROT32, &in), -EINVAL);
	/* The same with segment overrides and with REX bytes. */
	memset(buf, 0x2e, sizeof(buf));
	buf[15] = 0x90;
	cr_expect_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_REAL, &in), -EINVAL);
	memset(buf, 0x40, sizeof(buf));
	buf[15] = 0x90;
	cr_expect_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_LONG64, &in), -EINVAL);
	/* An immediate that runs over: 6 prefixes + 48 B8 imm64 = 16 bytes. */
	static const uint8_t movabs16[] = {
		0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xb8,
		1, 2, 3, 4, 5, 6, 7, 8,
	};
	cr_expect_eq(hvb_decode(movabs16, sizeof(movabs16), HVB_MODE_LONG64,
				&in), -EINVAL);
	/* A displacement that runs over: 10 prefixes + 81 80 disp32 imm32. */
	memset(buf, 0x3e, sizeof(buf));
	memcpy(buf + 10, "\x81\x80\x00\x00\x00\x00\x01\x00\x00\x00", 10);
	cr_expect_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_PROT32, &in), -EINVAL);
}

/* In 64-bit mode 40-4F are REX prefixes; elsewhere INC/DEC. */
Test(decode, rex_only_in_long_mode)
{
	static const uint8_t dec_eax[] = { 0x48, 0x89, 0xc0 };
	struct hvb_insn in;

	cr_assert_eq(hvb_decode(dec_eax, 3, HVB_MODE_PROT32, &in), 0);
	cr_expect_eq(in.len, 1);
	cr_expect_eq(in.opcode, 0x48);
	cr_expect_eq(in.rex, 0);
	cr_assert_eq(hvb_decode(dec_eax, 3, HVB_MODE_LONG64, &in), 0);
	cr_expect_eq(in.len, 3);
	cr_expect_eq(in.rex, 0x48);
	cr_expect_eq(in.opsize, 8);
}

Test(decode, opcodes_invalid_in_long_mode)
{
	/* Each followed by bytes that would make a valid 32-bit instruction. */
	static const uint8_t ops[] = {
		0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37,
		0x3f, 0x60, 0x61, 0x62, 0x82, 0x9a, 0xc4, 0xc5, 0xce, 0xd4,
		0xd5, 0xd6, 0xea,
	};

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		uint8_t buf[16] = { ops[i], 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 };
		struct hvb_insn in;

		cr_expect_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_LONG64, &in),
			     -EINVAL, "opcode %#x in 64-bit mode", ops[i]);
		cr_expect_eq(hvb_decode(buf, sizeof(buf), HVB_MODE_PROT32, &in),
			     0, "opcode %#x in 32-bit mode", ops[i]);
	}
}

/* C4/C5 are LES/LDS and 62 is BOUND only with a memory operand; with
 * mod = 3 they start VEX/EVEX, which the decoder does not handle. */
Test(decode, vex_and_evex_are_einval)
{
	static const uint8_t vzeroupper[] = { 0xc5, 0xf8, 0x77 };
	static const uint8_t vex3[] = { 0xc4, 0xe2, 0x79, 0x18, 0x00 };
	static const uint8_t evex[] = { 0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00 };
	struct hvb_insn in;

	for (int m = HVB_MODE_REAL; m <= HVB_MODE_LONG64; m++) {
		enum hvb_cpu_mode mode = (enum hvb_cpu_mode)m;

		cr_expect_eq(hvb_decode(vzeroupper, sizeof(vzeroupper), mode, &in),
			     -EINVAL, "vzeroupper in %s", mode_name(mode));
		cr_expect_eq(hvb_decode(vex3, sizeof(vex3), mode, &in), -EINVAL,
			     "3-byte VEX in %s", mode_name(mode));
		cr_expect_eq(hvb_decode(evex, sizeof(evex), mode, &in), -EINVAL,
			     "EVEX in %s", mode_name(mode));
	}
}

Test(decode, undefined_encodings_are_einval)
{
	static const struct {
		const char *what;
		uint8_t bytes[4];
	} bad[] = {
		{ "FE /2", { 0xfe, 0x10 } },
		{ "FE /7", { 0xfe, 0x38 } },
		{ "FF /7", { 0xff, 0x38 } },
		{ "FF /3 register", { 0xff, 0xd8 } },
		{ "FF /5 register", { 0xff, 0xe8 } },
		{ "C6 /1", { 0xc6, 0x08, 0x00 } },
		{ "C7 /7 not F8", { 0xc7, 0x38, 0, 0 } },
		{ "8F /1 (XOP)", { 0x8f, 0xc8, 0x00 } },
		{ "LEA register", { 0x8d, 0xc0 } },
		{ "LSS register", { 0x0f, 0xb2, 0xc0 } },
		{ "3DNow!", { 0x0f, 0x0f, 0xc1, 0xb4 } },
		{ "0F 04", { 0x0f, 0x04 } },
		{ "0F 0A", { 0x0f, 0x0a } },
		{ "0F 24", { 0x0f, 0x24, 0xc0 } },
		{ "0F 36", { 0x0f, 0x36 } },
		{ "0F 39", { 0x0f, 0x39 } },
		{ "0F A6", { 0x0f, 0xa6, 0xc0 } },
		{ "0F 7A", { 0x0f, 0x7a, 0xc0 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		for (int m = HVB_MODE_REAL; m <= HVB_MODE_LONG64; m++) {
			struct hvb_insn in;
			int r = decode_padded(bad[i].bytes, sizeof(bad[i].bytes),
					      (enum hvb_cpu_mode)m, 0, &in);

			cr_expect_eq(r, -EINVAL, "%s in %s: %d", bad[i].what,
				     mode_name((enum hvb_cpu_mode)m), r);
		}
	}
}

/* MOV to/from CR/DR ignore ModRM.mod: never a SIB, displacement or
 * memory operand, whatever mod says. */
Test(decode, mov_cr_ignores_mod)
{
	static const uint8_t mod0_rm4[] = { 0x0f, 0x22, 0x04, 0x25, 0, 0, 0, 0 };
	static const uint8_t mod2[] = { 0x0f, 0x21, 0x80, 0x11, 0x22, 0x33, 0x44 };
	struct hvb_insn in;
	uint64_t gpr[16] = { 0 }, ea;

	cr_assert_eq(hvb_decode(mod0_rm4, sizeof(mod0_rm4), HVB_MODE_LONG64, &in), 0);
	cr_expect_eq(in.len, 3);
	cr_expect_not(in.has_sib);
	cr_expect_not(hvb_insn_has_mem(&in));
	cr_expect_eq(hvb_insn_mem_ea(&in, gpr, 0, &ea), -EINVAL);
	cr_assert_eq(hvb_decode(mod2, sizeof(mod2), HVB_MODE_REAL, &in), 0);
	cr_expect_eq(in.len, 3);
	cr_expect_eq(in.disp_len, 0);
	cr_expect_eq(in.opsize, 4);
}

/* In 64-bit mode near branches ignore 66 (Intel), so the displacement
 * stays 32 bits; in 32-bit mode 66 shrinks it to 16. */
Test(decode, near_branch_operand_size)
{
	static const uint8_t call16[] = { 0x66, 0xe8, 0x00, 0x01, 0x00, 0x00 };
	struct hvb_insn in;

	cr_assert_eq(hvb_decode(call16, sizeof(call16), HVB_MODE_LONG64, &in), 0);
	cr_expect_eq(in.len, 6);
	cr_expect_eq(in.opsize, 8);
	cr_assert_eq(hvb_decode(call16, sizeof(call16), HVB_MODE_PROT32, &in), 0);
	cr_expect_eq(in.len, 4);
	cr_expect_eq(in.opsize, 2);
	cr_assert_eq(hvb_decode(call16, sizeof(call16), HVB_MODE_REAL, &in), 0);
	cr_expect_eq(in.len, 6);
	cr_expect_eq(in.opsize, 4);
}

/* The immediate of F6/F7 exists only for /0 and /1 (TEST). */
Test(decode, group3_immediate_depends_on_reg)
{
	static const struct {
		uint8_t bytes[8];
		enum hvb_cpu_mode mode;
		uint8_t len, imm_len;
	} g3[] = {
		{ { 0xf6, 0x00, 0x01 }, HVB_MODE_PROT32, 3, 1 },        /* test */
		{ { 0xf6, 0x08, 0x01 }, HVB_MODE_PROT32, 3, 1 },        /* test alias */
		{ { 0xf6, 0x10 }, HVB_MODE_PROT32, 2, 0 },              /* not */
		{ { 0xf6, 0x18 }, HVB_MODE_PROT32, 2, 0 },              /* neg */
		{ { 0xf6, 0x20 }, HVB_MODE_PROT32, 2, 0 },              /* mul */
		{ { 0xf6, 0x38 }, HVB_MODE_PROT32, 2, 0 },              /* idiv */
		{ { 0xf7, 0x00, 1, 2, 3, 4 }, HVB_MODE_PROT32, 6, 4 },
		{ { 0xf7, 0x00, 1, 2 }, HVB_MODE_REAL, 4, 2 },
		{ { 0x48, 0xf7, 0x00, 1, 2, 3, 4 }, HVB_MODE_LONG64, 7, 4 },
		{ { 0xf7, 0x18 }, HVB_MODE_LONG64, 2, 0 },
		{ { 0xf7, 0xf0 }, HVB_MODE_LONG64, 2, 0 },              /* div eax */
	};

	for (size_t i = 0; i < ARRAY_SIZE(g3); i++) {
		struct hvb_insn in;

		cr_assert_eq(decode_padded(g3[i].bytes, sizeof(g3[i].bytes),
					   g3[i].mode, 0x90, &in), 0, "case %zu", i);
		cr_expect_eq(in.len, g3[i].len, "case %zu: len %u", i, in.len);
		cr_expect_eq(in.imm_len, g3[i].imm_len, "case %zu", i);
	}
}

Test(decode, has_mem)
{
	static const struct {
		uint8_t bytes[8];
		enum hvb_cpu_mode mode;
		bool mem;
	} c[] = {
		{ { 0x89, 0x08 }, HVB_MODE_PROT32, true },              /* mov [eax], ecx */
		{ { 0x89, 0xc8 }, HVB_MODE_PROT32, false },             /* mov eax, ecx */
		{ { 0xa1, 1, 2, 3, 4 }, HVB_MODE_PROT32, true },        /* moffs */
		{ { 0xa4 }, HVB_MODE_PROT32, true },                    /* movsb */
		{ { 0x6e }, HVB_MODE_REAL, true },                      /* outsb */
		{ { 0xee }, HVB_MODE_REAL, false },                     /* out dx, al */
		{ { 0xb8, 1, 2, 3, 4 }, HVB_MODE_PROT32, false },       /* mov eax, imm */
		{ { 0x0f, 0x20, 0x00 }, HVB_MODE_PROT32, false },       /* mov eax, cr0 */
		{ { 0x8b, 0x05, 0, 0, 0, 0 }, HVB_MODE_LONG64, true },  /* rip-relative */
	};

	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct hvb_insn in;

		cr_assert_eq(decode_padded(c[i].bytes, sizeof(c[i].bytes),
					   c[i].mode, 0x90, &in), 0, "case %zu", i);
		cr_expect_eq(hvb_insn_has_mem(&in), c[i].mem, "case %zu", i);
	}
}

Test(decode, mem_write_classification)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(write_cases); i++) {
		const struct write_case *c = &write_cases[i];
		struct hvb_insn in;
		unsigned size = 12345;
		bool w;

		cr_assert_eq(hvb_decode(c->bytes, c->len, c->mode, &in), 0,
			     "%s", c->src);
		cr_expect_eq(in.len, c->len, "%s: len %u", c->src, in.len);
		w = hvb_insn_mem_write(&in, &size);
		cr_expect_eq(w, c->writes, "%s (%s): writes %d, want %d", c->src,
			     mode_name(c->mode), w, c->writes);
		if (c->writes)
			cr_expect_eq(size, c->size, "%s (%s): size %u, want %u",
				     c->src, mode_name(c->mode), size, c->size);
		else
			cr_expect_eq(size, 12345u, "%s: size touched", c->src);
		n++;
	}
	cr_expect_geq(n, 100);
}

/* The case that needs prefix66: MOVQ m64,mm and MOVDQA differ only by 66,
 * and in 16-bit code 66 makes opsize 4, not 2. */
Test(decode, mem_write_sse_prefix_in_every_mode)
{
	static const uint8_t movq[] = { 0x0f, 0x7f, 0x00 };
	static const uint8_t movdqa[] = { 0x66, 0x0f, 0x7f, 0x00 };

	for (int m = HVB_MODE_REAL; m <= HVB_MODE_LONG64; m++) {
		struct hvb_insn in;
		unsigned size = 0;

		cr_assert_eq(hvb_decode(movq, sizeof(movq), (enum hvb_cpu_mode)m, &in), 0);
		cr_expect(hvb_insn_mem_write(&in, &size));
		cr_expect_eq(size, 8, "movq in %s", mode_name((enum hvb_cpu_mode)m));
		cr_assert_eq(hvb_decode(movdqa, sizeof(movdqa), (enum hvb_cpu_mode)m, &in), 0);
		cr_expect(hvb_insn_mem_write(&in, &size));
		cr_expect_eq(size, 16, "movdqa in %s", mode_name((enum hvb_cpu_mode)m));
	}
}

Test(decode, is_io_all_forms)
{
	for (size_t i = 0; i < ARRAY_SIZE(io_cases); i++) {
		const struct io_case *c = &io_cases[i];
		struct hvb_io_insn io;
		struct hvb_insn in;

		cr_assert_eq(hvb_decode(c->bytes, c->len, c->mode, &in), 0,
			     "%s", c->src);
		cr_expect_eq(in.len, c->len, "%s: len %u", c->src, in.len);
		cr_assert(hvb_insn_is_io(&in, &io), "%s (%s): not I/O", c->src,
			  mode_name(c->mode));
		cr_expect_eq(io.in, c->in, "%s: in", c->src);
		cr_expect_eq(io.string, c->string, "%s: string", c->src);
		cr_expect_eq(io.imm_port, c->imm_port, "%s: imm_port", c->src);
		if (c->imm_port)
			cr_expect_eq(io.port_imm, c->port, "%s: port %#x", c->src,
				     io.port_imm);
		cr_expect_eq(io.size, c->size, "%s (%s): size %u, want %u",
			     c->src, mode_name(c->mode), io.size, c->size);
	}
}

/* Opcode bytes that are I/O in the one-byte map but not in the 0F map, and
 * ordinary instructions. */
Test(decode, is_io_rejects_other_instructions)
{
	static const struct {
		uint8_t bytes[5];
		uint8_t len;
	} c[] = {
		{ { 0x0f, 0xe4, 0xc1 }, 3 },        /* pmulhuw mm0, mm1 */
		{ { 0x0f, 0x6e, 0xc0 }, 3 },        /* movd mm0, eax */
		{ { 0x0f, 0xee, 0xc1 }, 3 },        /* pmaxsw mm0, mm1 */
		{ { 0x66, 0x0f, 0x6c, 0xc1 }, 4 },  /* punpcklqdq */
		{ { 0x90 }, 1 },
		{ { 0xe8, 0, 0, 0, 0 }, 5 },
		{ { 0xa4 }, 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct hvb_io_insn io;
		struct hvb_insn in;

		cr_assert_eq(hvb_decode(c[i].bytes, c[i].len, HVB_MODE_PROT32, &in), 0,
			     "case %zu", i);
		cr_expect_not(hvb_insn_is_io(&in, &io), "case %zu", i);
	}
}

Test(decode, mem_ea_and_segment)
{
	for (size_t i = 0; i < ARRAY_SIZE(ea_cases); i++) {
		const struct ea_case *c = &ea_cases[i];
		struct hvb_insn in;
		uint64_t ea = 0x5a5a5a5a;
		int r;

		cr_assert_eq(hvb_decode(c->bytes, c->len, c->mode, &in), 0,
			     "%s", c->src);
		r = hvb_insn_mem_ea(&in, c->gpr, c->next_rip, &ea);
		if (c->has_ea) {
			cr_expect_eq(r, 0, "%s (%s): %d", c->src,
				     mode_name(c->mode), r);
			cr_expect_eq(ea, c->ea, "%s (%s): ea %#llx, want %#llx",
				     c->src, mode_name(c->mode),
				     (unsigned long long)ea,
				     (unsigned long long)c->ea);
			cr_expect_eq(hvb_insn_has_mem(&in), true, "%s", c->src);
		} else {
			cr_expect_eq(r, -EINVAL, "%s: %d", c->src, r);
			cr_expect_eq(ea, 0x5a5a5a5a, "%s: ea touched", c->src);
		}
		cr_expect_eq(hvb_insn_mem_seg(&in), c->seg,
			     "%s (%s): seg %d, want %d", c->src,
			     mode_name(c->mode), hvb_insn_mem_seg(&in), c->seg);
	}
}

/* Scale factors 1, 2, 4 and 8 all multiply the index. */
Test(decode, mem_ea_sib_scales)
{
	uint64_t gpr[16] = { [HVB_RAX] = 0x1000, [HVB_RCX] = 0x10 };

	for (unsigned ss = 0; ss < 4; ss++) {
		uint8_t bytes[] = { 0x8b, 0x04, (uint8_t)((ss << 6) | (1 << 3) | 0) };
		struct hvb_insn in;
		uint64_t ea;

		cr_assert_eq(hvb_decode(bytes, sizeof(bytes), HVB_MODE_PROT32, &in), 0);
		cr_assert_eq(hvb_insn_mem_ea(&in, gpr, 0, &ea), 0);
		cr_expect_eq(ea, 0x1000 + (0x10u << ss), "scale %u", 1u << ss);
	}
}

/* The 16-bit ModRM table, every rm with mod = 01 and a negative disp8. */
Test(decode, mem_ea_16bit_table)
{
	uint64_t gpr[16] = {
		[HVB_RBX] = 0x1000, [HVB_RBP] = 0x2000,
		[HVB_RSI] = 0x0300, [HVB_RDI] = 0x0040,
	};
	static const uint64_t want[8] = {
		0x1300, 0x1040, 0x2300, 0x2040, 0x0300, 0x0040, 0x2000, 0x1000,
	};
	static const enum hvb_seg seg[8] = {
		HVB_SEG_DS, HVB_SEG_DS, HVB_SEG_SS, HVB_SEG_SS,
		HVB_SEG_DS, HVB_SEG_DS, HVB_SEG_SS, HVB_SEG_DS,
	};

	for (unsigned rm = 0; rm < 8; rm++) {
		uint8_t bytes[] = { 0x8b, (uint8_t)(0x40 | rm), 0xfe };
		struct hvb_insn in;
		uint64_t ea;

		cr_assert_eq(hvb_decode(bytes, sizeof(bytes), HVB_MODE_REAL, &in), 0);
		cr_assert_eq(hvb_insn_mem_ea(&in, gpr, 0, &ea), 0);
		cr_expect_eq(ea, want[rm] - 2, "rm %u: %#llx", rm,
			     (unsigned long long)ea);
		cr_expect_eq(hvb_insn_mem_seg(&in), seg[rm], "rm %u", rm);
	}
}

/* xorshift64: a fixed, reproducible byte stream with no shared state. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/*
 * Invariants over random bytes, biased towards prefixes and the 0F maps:
 * with 16 bytes available the answer is a decode or -EINVAL, never
 * -EAGAIN; a decoded length is 1..15 and decodes identically with exactly
 * that many bytes and as -EAGAIN with one fewer; and the operand helpers
 * agree with each other.
 */
Test(decode, random_bytes_invariants)
{
	static const uint8_t prefixes[] = {
		0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x64, 0x48, 0x41,
	};
	uint64_t state = 0x9e3779b97f4a7c15ull;
	uint64_t gpr[16];
	unsigned decoded = 0;

	for (int i = 0; i < 16; i++)
		gpr[i] = next_random(&state);
	for (int iter = 0; iter < 40000; iter++) {
		enum hvb_cpu_mode mode = (enum hvb_cpu_mode)(iter & 3);
		uint8_t buf[16];
		struct hvb_insn in, again;
		struct hvb_io_insn io;
		size_t p = 0;
		unsigned size;
		uint64_t ea;
		int r;

		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (uint8_t)next_random(&state);
		for (unsigned n = next_random(&state) % 4; n > 0; n--)
			buf[p++] = prefixes[next_random(&state) % sizeof(prefixes)];
		if (next_random(&state) % 2)
			buf[p] = 0x0f;

		r = hvb_decode(buf, sizeof(buf), mode, &in);
		cr_assert(r == 0 || r == -EINVAL, "iteration %d: %d", iter, r);
		if (r < 0)
			continue;
		decoded++;
		cr_assert(in.len >= 1 && in.len <= HVB_INSN_MAX, "iteration %d", iter);
		cr_assert_eq(hvb_decode(buf, in.len, mode, &again), 0, "iteration %d", iter);
		cr_assert(same_decode(&in, &again), "iteration %d", iter);
		cr_assert_eq(hvb_decode(buf, in.len - 1u, mode, &again), -EAGAIN,
			     "iteration %d", iter);
		cr_assert(in.opsize == 1 || in.opsize == 2 || in.opsize == 4 ||
			  in.opsize == 8, "iteration %d", iter);
		cr_assert(in.addrsize == 2 || in.addrsize == 4 || in.addrsize == 8,
			  "iteration %d", iter);
		cr_assert(in.addrsize != 8 || mode == HVB_MODE_LONG64);
		cr_assert(in.rex == 0 || mode == HVB_MODE_LONG64);
		cr_assert(!in.rip_relative || mode == HVB_MODE_LONG64);
		if (hvb_insn_mem_ea(&in, gpr, 0x1000, &ea) == 0) {
			cr_assert(hvb_insn_has_mem(&in), "iteration %d", iter);
			cr_assert(in.addrsize == 8 || ea >> (8 * in.addrsize) == 0,
				  "iteration %d: ea %#llx not truncated", iter,
				  (unsigned long long)ea);
		} else {
			cr_assert_not(hvb_insn_has_mem(&in), "iteration %d", iter);
		}
		if (hvb_insn_mem_write(&in, &size)) {
			cr_assert(hvb_insn_has_mem(&in), "iteration %d", iter);
			cr_assert(size == 1 || size == 2 || size == 4 || size == 8 ||
				  size == 16, "iteration %d: size %u", iter, size);
		}
		if (hvb_insn_is_io(&in, &io))
			cr_assert(io.size == 1 || io.size == 2 || io.size == 4,
				  "iteration %d", iter);
		cr_assert(hvb_insn_mem_seg(&in) <= HVB_SEG_GS, "iteration %d", iter);
	}
	cr_expect_geq(decoded, 20000u);
}

/*
 * The use the decoder exists for (kvm-notes.md §2): KVM reports an MMIO
 * write with RIP already past the instruction, and the start is found by
 * decoding backwards from RIP. For the notes' 7-byte
 * `movw $0xbeef, %es:0x30` two candidates match length, size and offset:
 * the real instruction and its 6-byte tail without the ES override. Only
 * the segment tells them apart, so a caller must compare linear addresses
 * (segment base + mem_ea), not offsets alone.
 */
Test(decode, backward_search_candidates_for_mmio_write)
{
	static const uint8_t code[] = {
		0x90, 0xb0, 0x30,                          /* nop; mov al, 0x30 */
		0x26, 0xc7, 0x06, 0x30, 0x00, 0xef, 0xbe,  /* mov word [es:0x30], 0xbeef */
	};
	const size_t rip = sizeof(code);
	uint64_t gpr[16] = { 0 };
	unsigned found = 0;

	for (size_t n = 1; n <= HVB_INSN_MAX && n <= rip; n++) {
		struct hvb_insn in;
		unsigned size;
		uint64_t ea;

		if (hvb_decode(code + rip - n, n, HVB_MODE_REAL, &in) != 0 ||
		    in.len != n || !hvb_insn_mem_write(&in, &size) || size != 2 ||
		    hvb_insn_mem_ea(&in, gpr, rip, &ea) != 0 || ea != 0x30)
			continue;
		found++;
		cr_expect(n == 6 || n == 7, "unexpected candidate of length %zu", n);
		cr_expect_eq(hvb_insn_mem_seg(&in),
			     n == 7 ? HVB_SEG_ES : HVB_SEG_DS, "length %zu", n);
	}
	cr_expect_eq(found, 2);
}
