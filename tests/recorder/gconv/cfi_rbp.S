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
 .section .note.GNU-stack,"",@progbits
