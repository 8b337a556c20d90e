; Reads the TSC right away and stores EDX:EAX in the scratch page.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS done
    rdtsc
    mov [GUEST_DATA], eax
    mov [GUEST_DATA + 4], edx
done:
    hlt
