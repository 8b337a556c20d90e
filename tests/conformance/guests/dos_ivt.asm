; INT 21h with a guest handler in the IVT: when the IDT limit covers the
; vector, the guest takes its own interrupt and the client sees no exit.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS handler_out, back
    mov word [0x21 * 4], h21
    mov word [0x21 * 4 + 2], 0
    mov ah, 0x09
    int 0x21
back:
    out 0x71, al
    hlt
h21:
    mov al, 0x21
handler_out:
    out 0x80, al
    iret
