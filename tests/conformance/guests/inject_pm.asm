; 32-bit guest with an IDT gate for #GP (13). The handler pops the error
; code pushed by the injected exception and reports it with OUT 0x80.
%include "layout.inc"
bits 32
org GUEST_CODE
    LABELS ready, back, handler_out
    mov eax, gp_handler
    mov [GUEST_IDT + 13 * 8], ax
    mov word [GUEST_IDT + 13 * 8 + 2], 0x08
    mov word [GUEST_IDT + 13 * 8 + 4], 0x8e00
    shr eax, 16
    mov [GUEST_IDT + 13 * 8 + 6], ax
    lidt [idtr]
ready:
    out 0x70, al
back:
    out 0x71, al
    hlt
gp_handler:
    pop eax
handler_out:
    out 0x80, eax
    hlt
align 4
idtr:
    dw 256 * 8 - 1
    dd GUEST_IDT
