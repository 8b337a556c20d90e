; A 64-bit long-mode guest that does real work and hands the results back
; through memory shared with the host. The host (compute64.c) builds the
; GDT and identity-mapped page tables, enters long mode through VMCS
; writes, and passes three arguments in registers:
;   RDI = address of the results block (struct results in compute64.c)
;   RSI = address of an input buffer the host filled
;   RDX = length of that buffer in bytes
; The guest computes
;   1. the sum of squares 1..SQUARES_N (a 64-bit value),
;   2. the CRC-32 (IEEE 802.3, as zlib's crc32()) of the buffer, table-driven,
;   3. the first NPRIMES primes by trial division,
; stores them, and signals completion with an OUT to DONE_PORT (EAX = 0).
bits 64
org 0x1000

SQUARES_N  equ 100000
NPRIMES    equ 1000
DONE_PORT  equ 0xf4
CRC_TABLE  equ 0x8000            ; 1 KiB of guest scratch for the table
MAGIC      equ 0x3436657475706d63 ; "cmpute64", written last

; struct results
R_MAGIC    equ 0
R_SUMSQ    equ 8
R_CRC      equ 16
R_NPRIMES  equ 20
R_PRIMESUM equ 24
R_PRIMES   equ 32

start:
	; --- 1. sum of squares, 64-bit arithmetic ---
	xor r8d, r8d
	mov ecx, 1
.square:
	mov rax, rcx
	imul rax, rax
	add r8, rax
	inc rcx
	cmp rcx, SQUARES_N
	jbe .square
	mov [rdi + R_SUMSQ], r8

	; --- 2. CRC-32: build the 256-entry table, then run the buffer ---
	mov r9, CRC_TABLE
	xor ecx, ecx
.entry:
	mov eax, ecx
	mov r10d, 8
.bit:
	shr eax, 1                ; CF = the bit shifted out
	jnc .nopoly
	xor eax, 0xedb88320
.nopoly:
	dec r10d
	jnz .bit
	mov [r9 + rcx*4], eax
	inc ecx
	cmp ecx, 256
	jb .entry

	mov eax, 0xffffffff
	mov rcx, rdx
	mov r11, rsi
.byte:
	test rcx, rcx
	jz .crcdone
	movzx r10d, byte [r11]
	xor r10b, al
	shr eax, 8
	xor eax, [r9 + r10*4]
	inc r11
	dec rcx
	jmp .byte
.crcdone:
	not eax
	mov [rdi + R_CRC], eax

	; --- 3. the first NPRIMES primes, dividing by the primes found so far ---
	lea r11, [rdi + R_PRIMES]
	mov dword [r11], 2
	mov r12d, 1               ; primes found
	mov r13d, 2               ; their sum
	mov ebx, 3                ; candidate (odd numbers only)
.candidate:
	mov r14d, 1               ; index of the divisor (skip 2)
.divide:
	cmp r14d, r12d
	jae .prime
	mov r15d, [r11 + r14*4]
	mov eax, r15d
	imul eax, eax
	cmp eax, ebx
	ja .prime                 ; divisor squared exceeds the candidate
	mov eax, ebx
	xor edx, edx
	div r15d
	test edx, edx
	jz .composite
	inc r14d
	jmp .divide
.prime:
	mov [r11 + r12*4], ebx
	inc r12d
	add r13, rbx
.composite:
	add ebx, 2
	cmp r12d, NPRIMES
	jb .candidate
	mov [rdi + R_NPRIMES], r12d
	mov [rdi + R_PRIMESUM], r13

	; --- done: publish, then tell the host ---
	mov rax, MAGIC
	mov [rdi + R_MAGIC], rax
	xor eax, eax
	out DONE_PORT, eax
	hlt                       ; not reached: the host stops at the OUT
