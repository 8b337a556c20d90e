; echo.com: echoes text back in upper case.
;   dosrun echo.com some words   prints the command tail (PSP:0080h) with
;                                AH=02h and returns to PSP:0000 (INT 20h)
;   dosrun echo.com              reads standard input with AH=3Fh until the
;                                end of the first line (or the end of
;                                input), writes it with AH=40h, exits with
;                                AH=4Ch, status 0
bits 16
org 0x100

BUFSIZE equ 128

	mov ah, 0x30            ; DOS version: handle calls need DOS 2.0
	int 0x21
	cmp al, 2
	jae version_ok
	mov ah, 0x09
	mov dx, too_old
	int 0x21
	int 0x20

version_ok:
	mov si, 0x80            ; command tail: length, text, CR
	lodsb
	xor ch, ch
	mov cl, al
	jcxz from_stdin
.skip:                          ; DOS keeps the blank after the name
	cmp byte [si], ' '
	jne .print
	inc si
	loop .skip
	jmp .newline
.print:
	lodsb
	call upcase
	mov dl, al
	mov ah, 0x02            ; print the character in DL
	int 0x21
	loop .print
.newline:
	mov ah, 0x02
	mov dl, 13
	int 0x21
	mov dl, 10
	int 0x21
	ret                     ; SS:SP holds 0: jump to PSP:0000, INT 20h

from_stdin:
	mov ah, 0x3f            ; read from handle BX into DS:DX, CX bytes
	xor bx, bx              ; handle 0: standard input
	mov cx, BUFSIZE
	mov dx, buf
	int 0x21
	jc fail
	test ax, ax
	jz done                 ; end of input
	mov cx, ax
	mov bp, ax              ; bytes read, for the write
	mov si, buf
	mov di, buf
	xor dx, dx              ; DL = 1 once the line feed is seen
.convert:
	lodsb
	cmp al, 10
	jne .store
	mov dl, 1
.store:
	call upcase
	stosb
	loop .convert
	push dx
	mov ah, 0x40            ; write CX bytes at DS:DX to handle BX
	mov bx, 1               ; handle 1: standard output
	mov cx, bp
	mov dx, buf
	int 0x21
	pop dx
	jc fail
	test dl, dl
	jz from_stdin           ; no end of line yet: read on
done:
	mov ax, 0x4c00
	int 0x21

fail:
	mov ah, 0x09
	mov dx, io_error
	int 0x21
	mov ax, 0x4c01
	int 0x21

; AL = upper case of AL
upcase:
	cmp al, 'a'
	jb .done
	cmp al, 'z'
	ja .done
	sub al, 'a' - 'A'
.done:
	ret

too_old:  db "echo: needs DOS 2.0 or later", 13, 10, "$"
io_error: db "echo: I/O error", 13, 10, "$"

section .bss
buf: resb BUFSIZE
