; HLT exits with RIP at the HLT and an instruction length of 1.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS first_hlt, second_hlt
    nop
first_hlt:
    hlt
second_hlt:
    hlt
