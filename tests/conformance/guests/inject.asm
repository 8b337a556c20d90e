; Real-mode guest with IVT handlers for NMI (2), #BR (5) and vector 0x20.
; Each handler reports its vector with OUT 0x80 and returns with IRET.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS ready, back, handler_out
    mov word [2 * 4], h2
    mov word [2 * 4 + 2], 0
    mov word [5 * 4], h5
    mov word [5 * 4 + 2], 0
    mov word [0x20 * 4], h20
    mov word [0x20 * 4 + 2], 0
    sti
    nop
ready:
    out 0x70, al                ; the client injects, then resumes at `back`
back:
    out 0x71, al                ; reached after the handler's IRET
    hlt
h2:
    mov al, 2
    jmp handler_out
h5:
    mov al, 5
    jmp handler_out
h20:
    mov al, 0x20
handler_out:
    out 0x80, al
    iret
