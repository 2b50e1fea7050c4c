// A full DMB between stores only, with full barriers around: the loads'
// orderings are covered, only W→W is left (weaken to ISHST). And a full
// DMB between loads with no store since the previous full DMB and none
// before the next (weaken to ISHLD).
	.text
	.global	stores
	.type	stores, %function
stores:
	dmb	ishld
	str	w1, [x0]
	dmb	ish
	str	w1, [x2]
	dmb	ish
	ret
	.size	stores, .-stores
	.global	loads
	.type	loads, %function
loads:
	dmb	ish
	ldr	w1, [x0]
	dmb	ish
	ldr	w1, [x2]
	dmb	ish
	ret
	.size	loads, .-loads
