; Real-mode guest that executes UD2 with an IVT handler for #UD (vector 6)
; that reports with OUT 0x66 and returns past the UD2.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS at_ud2, after_ud2
    mov word [6 * 4], handler
    mov word [6 * 4 + 2], 0
at_ud2:
    ud2
after_ud2:
    hlt
handler:
    out 0x66, al
    mov bp, sp
    add word [bp], 2        ; the pushed IP is the UD2 (a fault): skip it
    iret
