; A tiny command loop that lets a test drive guest memory accesses.
; At `request` the client sets EAX = 1 (read) or 2 (write), EBX = address,
; ECX = value, and resumes after the OUT. A read reports the value with
; OUT 0xf1. The access instructions are fixed so that the client can
; "decode" them by comparing bytes, as an MMIO-emulating client does.
%include "layout.inc"
bits 32
org GUEST_CODE
    LABELS request, read_insn, write_insn, report
request:
    out 0xf0, al
    cmp al, 1
    je do_read
    cmp al, 2
    je do_write
    hlt
do_read:
read_insn:
    mov ecx, [ebx]              ; 8b 0b
    mov eax, ecx
report:
    out 0xf1, eax
    jmp request
do_write:
write_insn:
    mov [ebx], ecx              ; 89 0b
    jmp request
