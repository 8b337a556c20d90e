; A single OUTSW (no REP): one word from DS:SI to port DX.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS outsw_insn, done, word_value
    cld
    mov esi, word_value
    mov dx, 0x3f8
outsw_insn:
    outsw                       ; 6f
done:
    hlt
word_value:
    dw 0xbeef
