/* run: calls helper (cfi_rsp.S or cfi_rbp.S), the same code in both modules (rt_gconv). */
 .text
 .globl run
 .type run,@function
run:
 .cfi_startproc
 push $0
 .cfi_def_cfa_offset 16
 push $0
 .cfi_def_cfa_offset 24
 sub $8,%rsp
 .cfi_def_cfa_offset 32
 call helper
 add $24,%rsp
 .cfi_def_cfa_offset 8
 ret
 .cfi_endproc
 .size run,.-run
 .section .note.GNU-stack,"",@progbits
