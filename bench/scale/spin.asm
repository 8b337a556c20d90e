; hvscale "spinner" guest: burns guest CPU without exits for a while, then
; makes one OUT exit so the client gets control back (and can stop).
; Real mode, loaded at 0000:1000, like bench/outloop.asm. On this host CPL0
; guest code runs in KVM's instruction emulator at ~270 ns per instruction
; (shared/design/kvm-notes.md, first table), so 16 Ki iterations of
; dec/jnz are ~9 ms of hvd vCPU-thread CPU per exit.
bits 16
org 0x1000

start:
	mov ecx, 0x4000          ; 16 Ki iterations: ~9 ms here
.spin:
	dec ecx
	jnz .spin
	mov al, 0x5a
	out 0x11, al
	jmp start
