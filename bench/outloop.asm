; hvbench guest: the smallest port-I/O exit loop. Real mode, loaded at
; 0000:1000. Every iteration is one OUT exit to port 0x10 with AL = 0x5a,
; so each hv_vcpu_run / KVM_RUN returns exactly one exit.
bits 16
org 0x1000

start:
	mov al, 0x5a
.loop:
	out 0x10, al
	jmp .loop
