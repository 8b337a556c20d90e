; The multicpu guest: 32-bit protected mode, flat segments, no paging.
; Every vCPU runs this same code on its own slice of work; the host passes
;   EBX = the slice index  (hv_vcpu_write_register before the first run)
; The guest counts the primes in [EBX * SLICE, (EBX + 1) * SLICE) by trial
; division, reports the count with OUT RESULT_PORT (EAX = count), and then
; spins until the host sets EBX to non-zero. The host can only change a
; vCPU's registers from the vCPU's own thread, between runs, so another host
; thread first kicks the spinning vCPU out of the guest with
; hv_vcpu_interrupt. The guest then reports how many times it went round
; the wait loop with OUT BYE_PORT (EAX = iterations) and halts.
bits 32
org 0x1000

SLICE       equ 2500
RESULT_PORT equ 0x20
BYE_PORT    equ 0x21

start:
	mov esi, ebx
	imul esi, esi, SLICE          ; first number of the slice
	lea edi, [esi + SLICE]        ; one past the last
	cmp esi, 2
	jae .range
	mov esi, 2
.range:
	xor ebp, ebp                  ; primes found
.candidate:
	cmp esi, edi
	jae .report
	cmp esi, 2
	je .prime
	test esi, 1
	jz .next                      ; even and not 2
	mov ecx, 3                    ; odd divisors 3, 5, 7, ...
.divide:
	mov eax, ecx
	mul ecx
	cmp eax, esi
	ja .prime                     ; divisor squared exceeds the candidate
	mov eax, esi
	xor edx, edx
	div ecx
	test edx, edx
	jz .next
	add ecx, 2
	jmp .divide
.prime:
	inc ebp
.next:
	inc esi
	jmp .candidate

.report:
	xor ebx, ebx                  ; cleared before reporting: from here on
	                              ; only the host writes EBX
	mov eax, ebp
	out RESULT_PORT, eax
	xor ecx, ecx
.wait:                                ; spin until the host releases us
	pause
	inc ecx
	test ebx, ebx
	jz .wait
	mov eax, ecx
	out BYE_PORT, eax
	hlt
