; Reports the dword at 0x9000 through an OUT to port 0x21 (value in EAX),
; then halts: the client learns what the guest sees in its memory, which is
; hvd's view of it rather than the client's own mapping.
bits 16
org 0x1000
    mov eax, [0x9000]
    out 0x21, eax
    hlt
