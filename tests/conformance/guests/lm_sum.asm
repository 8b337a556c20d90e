; Long mode: sums 1..1000 in 64-bit registers, stores the result, and builds
; a value only a 64-bit register can hold.
%include "layout.inc"
bits 64
org GUEST_CODE
    LABELS report, done
    xor eax, eax
    mov ecx, 1000
.loop:
    add rax, rcx
    dec rcx
    jnz .loop
    mov [GUEST_DATA], rax
    mov rbx, 0x123456789abcdef0
    mov rdx, rbx
    shr rdx, 32
report:
    out 0x10, al
done:
    hlt
