; Computes a sequence the client can check: starting from the seed the
; client puts in EBX, each step is x = x * 1103515245 + 12345 (mod 2^32),
; reported with an OUT to port 0x20 (the value in EAX). ECX holds the number
; of steps. The last value is also stored at 0x9000 before the HLT, so the
; client checks guest memory as well as registers.
bits 16
org 0x1000
    mov eax, ebx
.next:
    imul eax, eax, 1103515245
    add eax, 12345
    out 0x20, eax
    dec ecx
    jnz .next
    mov [0x9000], eax
    hlt
