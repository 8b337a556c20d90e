; Spins until the client writes a non-zero byte at GUEST_DATA. Only an
; hv_vcpu_interrupt from another thread can get the client control back.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS done
.spin:
    cmp byte [GUEST_DATA], 0
    je .spin
done:
    hlt
