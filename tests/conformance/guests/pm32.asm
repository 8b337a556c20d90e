; 32-bit protected mode: a store above 64 KiB (a #GP with real-mode limits)
; and a report of CR0 and ESP as the guest sees them.
%include "layout.inc"
bits 32
org GUEST_CODE
    LABELS report, done
    mov dword [0x40000], 0xc0ffee32
    mov eax, cr0
    mov ebx, esp
report:
    out 0x10, eax
done:
    hlt
