# An unlocked cmpxchg (cmpxchg8b, cmpxchg16b) writes its destination:
# the second mfence is needed (a store before, a load after).
	.text
	.globl	f
	.type	f, @function
f:
	mfence
	cmpxchgl	%ecx, (%rdi)
	mfence
	movl	(%rsi), %eax
	ret
	.size	f, .-f
	.globl	g
	.type	g, @function
g:
	mfence
	cmpxchg16b	(%rdi)
	mfence
	movl	(%rsi), %eax
	ret
	.size	g, .-g
