; Real mode: a far jump into guest-physical memory that nothing backs.
%include "layout.inc"
bits 16
org GUEST_CODE
    jmp 0xb000:0x0000
