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
 .section .note.GNU-stack,"",@progbits
