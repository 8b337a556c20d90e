; 32-bit guest with IDTR limit 0: #UD cannot be delivered, which escalates
; to a double fault and then a triple fault.
%include "layout.inc"
bits 32
org GUEST_CODE
    ud2
    hlt
