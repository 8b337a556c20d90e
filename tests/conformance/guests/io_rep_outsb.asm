; REP OUTSB of five bytes to port 0xe9 (the Bochs/QEMU debug console).
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS rep_insn, done, msg
    cld
    mov esi, msg
    mov ecx, 5
    mov dx, 0xe9
rep_insn:
    rep outsb                   ; f3 6e
done:
    hlt
msg:
    db "HELLO"
