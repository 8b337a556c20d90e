; RDMSR and WRMSR of IA32_SYSENTER_CS (0x174), which is not native unless the
; client enables it, so both must exit to the client.
%include "layout.inc"
bits 16
org GUEST_CODE
    LABELS rd_insn, wr_insn, done
    mov ecx, 0x174
rd_insn:
    rdmsr                       ; 0f 32
    mov [GUEST_DATA], eax
    mov [GUEST_DATA + 4], edx
    mov eax, 0xcafe0001
    mov edx, 0x12345678
wr_insn:
    wrmsr                       ; 0f 30
done:
    hlt
