# FE2 (Vafeiadis & Zappa Nardelli): an MFENCE followed on every path by
# another fence before any load is redundant; a branch with a load on one
# path keeps it.
	.text
	.globl	f
	.type	f, @function
f:
	movl	$1, x(%rip)
	mfence
	movl	$2, y(%rip)
	mfence
	movl	z(%rip), %eax
	testl	%eax, %eax
	je	.L2
	movl	$1, x(%rip)
	mfence
	movl	w(%rip), %eax
.L2:
	mfence
	movl	$1, y(%rip)
	ret
	.size	f, .-f
