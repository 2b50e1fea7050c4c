// Things loci must not guess about: a label whose address is taken (a
// jump-table target may be entered from anywhere), `.rept` (the text is
// not what runs), an unknown instruction between barriers, raw `.inst`
// words, an unparseable statement, and `;`-separated inline asm.
	.text
	.global	table
	.type	table, %function
table:
	dmb	ish
.L7:
	dmb	ish
	ret
	.size	table, .-table
	.section .rodata
	.xword	.L7
	.text
	.global	repeated
	.type	repeated, %function
repeated:
	dmb	ish
	.rept 2
	dmb	ish
	.endr
	ret
	.size	repeated, .-repeated
	.global	unknown
	.type	unknown, %function
unknown:
	dmb	ish
	frobnicate	x0, [x1]
	dmb	ish
	.inst	0xd5033bbf
	dmb	ish
	@@@ garbage
	dmb	ish
	ret
	.size	unknown, .-unknown
	.global	inline
	.type	inline, %function
inline:
	dmb ish; dmb ish; str w0, [x1]
	ret
	.size	inline, .-inline
