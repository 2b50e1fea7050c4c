// Paths: the second barrier is covered only if every path into it passes
// a barrier. In `diamond` both arms do; in `one_arm` the taken branch
// skips it (not redundant); in `loop` the barrier at the loop head is
// reached from the back edge after a store (not redundant); numeric local
// labels (`1:`, `1b`, `1f`) resolve to the nearest definition.
	.text
	.global	diamond
	.type	diamond, %function
diamond:
	str	w1, [x0]
	cbz	w2, .L2
	dmb	ish
	b	.L3
.L2:
	dmb	ish
.L3:
	ldr	w4, [x5]
	dmb	ishst
	str	w1, [x6]
	ret
	.size	diamond, .-diamond
	.global	one_arm
	.type	one_arm, %function
one_arm:
	str	w1, [x0]
	cbz	w2, .L5
	dmb	ish
.L5:
	dmb	ishst
	str	w1, [x6]
	ret
	.size	one_arm, .-one_arm
	.global	loop
	.type	loop, %function
loop:
	dmb	ish
1:
	dmb	ishst
	str	w1, [x0]
	subs	w2, w2, #1
	b.ne	1b
	ret
	.size	loop, .-loop
	.global	numeric
	.type	numeric, %function
numeric:
	dmb	ish
	cbz	w2, 1f
	ldr	w3, [x4]
1:
	dmb	ishst
	str	w1, [x0]
	ret
	.size	numeric, .-numeric
