; Long mode: jumps wherever the client points RAX.
%include "layout.inc"
bits 64
org GUEST_CODE
    jmp rax
