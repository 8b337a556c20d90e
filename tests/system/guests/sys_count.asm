; Counts forever in guest memory at 0x9000 without ever exiting: the vCPU
; stays inside the guest, and an observer reading the client's RAM sees the
; counter move only while it really runs.
bits 16
org 0x1000
.loop:
    inc dword [0x9000]
    jmp .loop
