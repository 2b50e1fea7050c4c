// Shareability domains: an ISH barrier does not cover an SY one; an SY
// barrier covers an ISH one; DSB is never removed but orders like a DMB;
// DMB NSH orders for this core only.
	.text
	.global	f
	.type	f, %function
f:
	dmb	ish
	dmb	sy
	str	w1, [x0]
	dmb	sy
	dmb	ish
	str	w1, [x0]
	dsb	sy
	dmb	ish
	str	w1, [x0]
	dmb	nsh
	dmb	ish
	ret
	.size	f, .-f
