/* mod.c - a gconv module (glibc's iconv loads and unloads it itself) whose
 * gconv_init allocates through run() -> helper() (cfi_rsp.S or cfi_rbp.S:
 * the same code layout, other CFA rules). rt_gconv uses the two builds. */
#include <gconv.h>
#include <stdlib.h>

void *run(void);
static void *kept;

int gconv_init(struct __gconv_step *step) {
    kept = run();
    step->__min_needed_from = 1;
    step->__max_needed_from = 1;
    step->__min_needed_to = 4;
    step->__max_needed_to = 4;
    step->__stateful = 0;
    return __GCONV_OK;
}

void gconv_end(struct __gconv_step *step) {
    (void)step;
    free(kept);
    kept = NULL;
}

int gconv(struct __gconv_step *step, struct __gconv_step_data *data, const unsigned char **inptrp,
          const unsigned char *inend, unsigned char **outbufstart, size_t *irreversible, int do_flush,
          int consume_incomplete) {
    (void)step, (void)data, (void)inptrp, (void)inend, (void)outbufstart, (void)irreversible, (void)do_flush,
        (void)consume_incomplete;
    return __GCONV_EMPTY_INPUT;
}
