; REP INSB of four bytes from port 0x60 into the scratch page.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS rep_insn, done
    cld
    mov edi, GUEST_DATA
    mov ecx, 4
    mov dx, 0x60
rep_insn:
    rep insb                    ; f3 6c
done:
    hlt
