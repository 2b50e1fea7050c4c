# glibc's old catomic idiom: a branch lands after a standalone lock prefix,
# so the cmpxchg may run unlocked: the mfence stays.
	.text
	.globl	f
	.type	f, @function
f:
	movl	%eax, (%rdi)
	cmpl	$0, %fs:24
	je	0f
	lock
0:	cmpxchgl	%ecx, (%rdx)
	mfence
	movl	(%rsi), %eax
	ret
	.size	f, .-f
