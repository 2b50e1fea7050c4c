// LDADDAL with the zero register as destination has no acquire semantics
// (and its read is a no-return read): the second DMB ISHLD stays.
	.text
	.global	f
	.type	f, %function
f:
	dmb	ishld
	ldaddal	w1, wzr, [x0]
	dmb	ishld
	ldr	w2, [x3]
	ret
	.size	f, .-f
