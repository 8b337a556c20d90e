; IN in every encoding: the client supplies the value, the guest stores the
; whole EAX after each IN so the client can check that only AL/AX changed.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS in_imm8, in_imm16, in_imm32, in_dx8, in_dx16, in_dx32, done
    mov dx, 0x60
    mov eax, 0xaabbccdd
in_imm8:
    in al, 0x20                 ; e4 20
    mov [GUEST_DATA], eax
in_imm16:
    in ax, 0x22                 ; e5 22
    mov [GUEST_DATA + 4], eax
in_imm32:
    in eax, 0x24                ; 66 e5 24
    mov [GUEST_DATA + 8], eax
in_dx8:
    in al, dx                   ; ec
    mov [GUEST_DATA + 12], eax
in_dx16:
    in ax, dx                   ; ed
    mov [GUEST_DATA + 16], eax
in_dx32:
    in eax, dx                  ; 66 ed
    mov [GUEST_DATA + 20], eax
done:
    hlt
