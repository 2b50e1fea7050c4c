// The Go runtime's publication barrier (golang/go#63640): mallocgc zeroes
// the new object, then `publicationBarrier` (DMB ST), then the pointer is
// stored where other goroutines (and the GC) can find it. Here two
// allocations in a row: the first DMB ST is needed; in `alloc2` the second
// object's zeroing stores come after it, so the second is needed too.
// In `alloc_then_read` nothing is stored between the barriers.
	.arch armv8-a
	.text
	.global	alloc2
	.type	alloc2, %function
alloc2:
	stp	xzr, xzr, [x0]
	dmb	ishst
	str	x0, [x2]
	stp	xzr, xzr, [x1]
	dmb	ishst
	str	x1, [x2, 8]
	ret
	.size	alloc2, .-alloc2
	.global	alloc_then_read
	.type	alloc_then_read, %function
alloc_then_read:
	stp	xzr, xzr, [x0]
	dmb	ishst
	ldr	x3, [x4]
	dmb	ishst
	str	x0, [x2]
	ret
	.size	alloc_then_read, .-alloc_then_read
