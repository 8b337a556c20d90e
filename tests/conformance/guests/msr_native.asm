; WRMSR then RDMSR of IA32_SYSENTER_CS after the client made it native: no
; MSR exits, only the two HLTs where the client inspects and changes it.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS after_write, after_read
    mov ecx, 0x174
    mov eax, 0x10
    xor edx, edx
    wrmsr
after_write:
    hlt
    mov ecx, 0x174
    rdmsr
    mov [GUEST_DATA], eax
    mov [GUEST_DATA + 4], edx
after_read:
    hlt
