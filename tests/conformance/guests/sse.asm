; Moves a known value into XMM0 and reports; then stores XMM1, which the
; client set through hv_vcpu_write_fpstate, into the scratch page.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS report, done
    movdqu xmm0, [value]
report:
    out 0x10, al
    movdqu [GUEST_DATA], xmm1
done:
    hlt
align 16
value:
    db 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77
    db 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
