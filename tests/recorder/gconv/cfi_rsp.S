/* helper: malloc under a CFA of rsp + 32 (rt_gconv; cfi_rbp.S has the same layout). */
 .text
 .globl helper
 .type helper,@function
helper:
 .cfi_startproc
 sub $24,%rsp
 .cfi_def_cfa_offset 32
 mov $16,%edi
 call malloc@PLT
 add $24,%rsp
 .cfi_def_cfa_offset 8
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
