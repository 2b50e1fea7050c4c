# gcc -O2 -S of:
#   #include <stdatomic.h>
#   #include <stdlib.h>
#   _Atomic int a, b; int data[16];
#   _Atomic(int*) slot;
#   void sc_stores(void) { atomic_store(&a, 1); atomic_store(&b, 2); }
#   int sc_mix(void) { atomic_store(&a, 1); int r = atomic_load(&b); atomic_store(&b, 3); return r + atomic_load(&a); }
#   void fences(void) { atomic_thread_fence(memory_order_seq_cst); data[0] = 1; atomic_thread_fence(memory_order_seq_cst); atomic_thread_fence(memory_order_seq_cst); }
#   int *publish(void) { int *p = malloc(64); for (int i = 0; i < 16; i++) p[i] = 0; atomic_thread_fence(memory_order_seq_cst); atomic_store_explicit(&slot, p, memory_order_relaxed); return p; }
#   int loop(int n) { int s = 0; for (int i = 0; i < n; i++) { atomic_store(&a, i); s += atomic_load(&b); } return s; }
	.file	"b.c"
	.text
	.p2align 4
	.globl	sc_stores
	.type	sc_stores, @function
sc_stores:
.LFB11:
	.cfi_startproc
	movl	$1, %eax
	xchgl	a(%rip), %eax
	movl	$2, %eax
	xchgl	b(%rip), %eax
	ret
	.cfi_endproc
.LFE11:
	.size	sc_stores, .-sc_stores
	.p2align 4
	.globl	sc_mix
	.type	sc_mix, @function
sc_mix:
.LFB12:
	.cfi_startproc
	movl	$1, %eax
	xchgl	a(%rip), %eax
	movl	$3, %edx
	movl	b(%rip), %eax
	xchgl	b(%rip), %edx
	movl	a(%rip), %edx
	addl	%edx, %eax
	ret
	.cfi_endproc
.LFE12:
	.size	sc_mix, .-sc_mix
	.p2align 4
	.globl	fences
	.type	fences, @function
fences:
.LFB13:
	.cfi_startproc
	lock orq	$0, (%rsp)
	movl	$1, data(%rip)
	lock orq	$0, (%rsp)
	lock orq	$0, (%rsp)
	ret
	.cfi_endproc
.LFE13:
	.size	fences, .-fences
	.p2align 4
	.globl	publish
	.type	publish, @function
publish:
.LFB14:
	.cfi_startproc
	subq	$8, %rsp
	.cfi_def_cfa_offset 16
	movl	$1, %esi
	movl	$64, %edi
	call	calloc@PLT
	lock orq	$0, (%rsp)
	movq	%rax, slot(%rip)
	addq	$8, %rsp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
.LFE14:
	.size	publish, .-publish
	.p2align 4
	.globl	loop
	.type	loop, @function
loop:
.LFB15:
	.cfi_startproc
	testl	%edi, %edi
	jle	.L10
	xorl	%eax, %eax
	xorl	%edx, %edx
	.p2align 4,,10
	.p2align 3
.L9:
	movl	%eax, %esi
	xchgl	a(%rip), %esi
	addl	$1, %eax
	movl	b(%rip), %ecx
	addl	%ecx, %edx
	cmpl	%eax, %edi
	jne	.L9
	movl	%edx, %eax
	ret
	.p2align 4,,10
	.p2align 3
.L10:
	xorl	%edx, %edx
	movl	%edx, %eax
	ret
	.cfi_endproc
.LFE15:
	.size	loop, .-loop
	.globl	slot
	.bss
	.align 8
	.type	slot, @object
	.size	slot, 8
slot:
	.zero	8
	.globl	data
	.align 32
	.type	data, @object
	.size	data, 64
data:
	.zero	64
	.globl	b
	.align 4
	.type	b, @object
	.size	b, 4
b:
	.zero	4
	.globl	a
	.align 4
	.type	a, @object
	.size	a, 4
a:
	.zero	4
	.ident	"GCC: (Debian 12.2.0-14+deb12u1) 12.2.0"
	.section	.note.GNU-stack,"",@progbits
