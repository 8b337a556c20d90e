; A DOS program in the style hvdos runs: INT 21h AH=09h prints a
; '$'-terminated string at DS:DX, AH=4Ch exits with the code in AL.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS int_first, int_second, int_exit, msg2
    mov ah, 0x09
    mov dx, msg1
int_first:
    int 0x21
    mov ah, 0x09
    mov dx, msg2
int_second:
    int 0x21
    mov ax, 0x4c07
int_exit:
    int 0x21
    hlt
msg1:
    db "Hello from DOS", 13, 10, "$"
msg2:
    db "second line$"
