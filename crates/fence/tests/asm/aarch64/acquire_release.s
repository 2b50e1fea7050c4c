// Acquire loads and release stores order themselves: a DMB ISHLD whose
// only earlier loads since the last DMB ISHLD are LDARs is redundant; a
// DMB ISHST before an STLR that is followed by another DMB ISHST is
// redundant; LDADDAL's store is ordered before everything after it.
	.text
	.global	acq
	.type	acq, %function
acq:
	dmb	ishld
	ldar	w1, [x0]
	ldapr	w2, [x0]
	dmb	ishld
	ldr	w3, [x0]
	ret
	.size	acq, .-acq
	.global	rel
	.type	rel, %function
rel:
	dmb	ishst
	stlr	w1, [x0]
	dmb	ishst
	str	w1, [x2]
	ret
	.size	rel, .-rel
	.global	amo
	.type	amo, %function
amo:
	dmb	ish
	ldaddal	w1, w2, [x0]
	dmb	ish
	str	w1, [x2]
	ret
	.size	amo, .-amo
