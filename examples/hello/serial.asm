; A real-mode guest that prints a message through a 16550 serial port the
; way a BIOS-era driver does: poll the line-status register until the
; transmitter is empty, then write a byte. Loaded at 0000:1000.
bits 16
org 0x1000

COM1     equ 0x3f8
LSR      equ COM1 + 5
THR_EMPTY equ 0x20

start:
	mov si, message
.next:
	lodsb
	test al, al
	jz .done
	mov ah, al
	mov dx, LSR
.wait:
	in al, dx
	test al, THR_EMPTY
	jz .wait
	mov al, ah
	mov dx, COM1
	out dx, al
	jmp .next
.done:
	hlt

message:
	db "Hello from a Hypervisor.framework guest, running on KVM!", 10, 0
