/* helper: malloc under an rbp-based CFA, laid out as cfi_rsp.S (rt_gconv). */
 .text
 .globl helper
 .type helper,@function
helper:
 .cfi_startproc
 push %rbp
 .cfi_def_cfa_offset 16
 .cfi_offset %rbp,-16
 mov %rsp,%rbp
 .cfi_def_cfa_register %rbp
 mov $16,%edi
 call malloc@PLT
 leave
 .cfi_def_cfa %rsp,8
 nop
 nop
 nop
 ret
 .cfi_endproc
 .size helper,.-helper
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
