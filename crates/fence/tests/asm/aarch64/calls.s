// Calls: `helper` always ends with a full barrier, so after `bl helper`
// with no access in between a DMB ISH is covered; `opaque` is not defined
// here, so nothing is known after calling it; a call through a register
// is opaque too.
	.text
	.type	helper, %function
helper:
	str	w1, [x0]
	dmb	ish
	ret
	.size	helper, .-helper
	.global	caller
	.type	caller, %function
caller:
	stp	x29, x30, [sp, -16]!
	bl	helper
	dmb	ish
	bl	opaque
	dmb	ish
	blr	x3
	dmb	ish
	ldp	x29, x30, [sp], 16
	ret
	.size	caller, .-caller
