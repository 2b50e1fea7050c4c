# gcc -O2 output for __sync_synchronize() twice, loads between fences,
# a locked RMW before an MFENCE, a store between MFENCEs (needed), a
# non-temporal store (unknown: kept), and a fence before a return (the
# caller may load: needed).
	.text
	.globl	f
	.type	f, @function
f:
	movl	$1, x(%rip)
	lock orq	$0, (%rsp)
	lock orq	$0, (%rsp)
	movl	y(%rip), %eax
	mfence
	movl	z(%rip), %edx
	lock xaddl	%eax, (%rdi)
	mfence
	movl	$2, x(%rip)
	mfence
	movl	$3, y(%rip)
	mfence
	movnti	%eax, (%rsi)
	mfence
	ret
	.size	f, .-f
