; OUT in every encoding the Intel I/O qualification distinguishes: imm8 and
; DX port, 1/2/4 bytes. The two identical back-to-back `out dx, al` catch a
; backend that finds the instruction start by guessing backwards.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS out_imm8, out_imm16, out_imm32, out_dx8, out_dx16, out_dx32, out_dx8_again, out_dx8_twice, done
    mov dx, 0x3f8
    mov al, 0x11
out_imm8:
    out 0x10, al                ; e6 10
    mov ax, 0x2222
out_imm16:
    out 0x12, ax                ; e7 12
    mov eax, 0x33333333
out_imm32:
    out 0x14, eax               ; 66 e7 14
    mov al, 0x44
out_dx8:
    out dx, al                  ; ee
    mov ax, 0x5555
out_dx16:
    out dx, ax                  ; ef
    mov eax, 0x66666666
out_dx32:
    out dx, eax                 ; 66 ef
    mov al, 0x77
out_dx8_again:
    out dx, al
out_dx8_twice:
    out dx, al
done:
    hlt
