; Runs with IF=0, then STI. With interrupt-window exiting on, the exit must
; come after the instruction following STI (the STI shadow).
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS window_rip, done
    cli
    mov ax, 1
    mov bx, 2
    sti
    nop
window_rip:
    nop
done:
    hlt
