; A counted loop long enough (400k instructions) to show up in the vCPU's
; execution time.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS done
    mov ecx, 200000
.loop:
    dec ecx
    jnz .loop
done:
    hlt
