/* race_trace.c - race_trace OUT: writes a two-thread trace in which thread 2
 * gets back the address that thread 1's realloc gave up, between the
 * realloc's release seq and its own seq (FORMAT.md section 5):
 *   seq 1 t1 malloc(100) -> A
 *   seq 3 t2 malloc(50)  -> A       (A released by t1 at seq 2)
 *   seq 4 t1 realloc(A, 200) -> B   (release_seq 2)
 *   seq 5 t2 free(A)                (the 50-byte block)
 *   seq 6 t1 free(B)
 * A correct driver ends with 0 live bytes, no unknown frees, and a peak of
 * 250 live bytes (100 + 50 + 200 - 100) at op 3. */
#include "trace.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    tr_header_t h = { .pid = 1, .ppid = 1, .page_size = 4096, .ncpu = 2, .exe = "race",
                      .glibc_version = "2.36", .tool = "race_trace" };
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(argv[1], &h, NULL, &err);
    if (!w) {
        fprintf(stderr, "race_trace: %s\n", err.msg);
        return 1;
    }
    const uint64_t A = 0x55550000, B = 0x55560000;
    tr_event_t e[5];
    memset(e, 0, sizeof e);
    e[0] = (tr_event_t){ .seq = 1, .release_seq = 1, .tid = 1, .op = TR_OP_MALLOC, .a = 100, .ret = A };
    e[1] = (tr_event_t){ .seq = 3, .release_seq = 3, .tid = 2, .op = TR_OP_MALLOC, .a = 50, .ret = A };
    e[2] = (tr_event_t){ .seq = 4, .release_seq = 2, .tid = 1, .op = TR_OP_REALLOC, .a = A, .b = 200, .ret = B };
    e[3] = (tr_event_t){ .seq = 5, .release_seq = 5, .tid = 2, .op = TR_OP_FREE, .a = A };
    e[4] = (tr_event_t){ .seq = 6, .release_seq = 6, .tid = 1, .op = TR_OP_FREE, .a = B };
    for (int i = 0; i < 5; i++) {
        e[i].t_ns = e[i].seq * 10;
        if (tr_writer_event(w, &e[i])) {
            fprintf(stderr, "race_trace: %s\n", tr_writer_error(w)->msg);
            return 1;
        }
    }
    tr_end_t end = { .reason = TR_END_CLOSED, .events = 5 };
    return tr_writer_close(w, &end, &err) ? 1 : 0;
}
