; hello.com: the classic. Prints a '$'-terminated string with INT 21h
; AH=09h and exits with status 3 through AH=4Ch.
bits 16
org 0x100

	mov ah, 0x09            ; print string at DS:DX
	mov dx, message
	int 0x21
	mov ax, 0x4c03          ; terminate, exit status 3
	int 0x21

message:
	db "Hello, DOS!", 13, 10, "$"
