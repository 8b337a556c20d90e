; probe32's command loop in long mode, with 64-bit accesses.
%include "layout.inc"
bits 64
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
    mov rcx, [rbx]              ; 48 8b 0b
    mov rax, rcx
report:
    out 0xf1, eax
    jmp request
do_write:
write_insn:
    mov [rbx], rcx              ; 48 89 0b
    jmp request
