// Back-to-back barriers: `__sync_synchronize(); __sync_synchronize();`,
// a DMB ISH followed by DMB ISHST, mixed load/store forms (mergeable), and
// a DMB SY after DMB ISH (a wider domain: not redundant).
	.text
	.global	f
	.type	f, %function
f:
	str	w1, [x0]
	dmb	ish
	dmb	ish
	ldr	w2, [x3]
	dmb	ish
	dmb	ishst
	str	w2, [x4]
	dmb	ishld
	dmb	ishst
	str	w2, [x4]
	dmb	ish
	dmb	sy
	str	w2, [x4]
	ret
	.size	f, .-f
