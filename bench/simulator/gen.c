/* gen.c - bench_sim_gen OUT [EVENTS]: a synthetic single-thread trace for the
 * simulator's benchmark, written with tr_writer: a working set of 8K-16K
 * objects churned by malloc (80% up to 128 bytes, 18% up to 2 KiB, 2% up to
 * 66 KiB, like the programs recorded so far), free, realloc and calloc,
 * EVENTS events in all (default 10M). */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static inline uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t size(void)
{
    uint64_t r = next() % 100;
    if (r < 80)
        return 1 + next() % 128;
    if (r < 98)
        return 129 + next() % 2048;
    return 2177 + next() % (64 * 1024);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sim_gen OUT [EVENTS]\n");
        return 2;
    }
    uint64_t events = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
    tr_header_t h = { .pid = 1, .ppid = 1, .page_size = 4096, .ncpu = 2, .exe = "bench",
                      .glibc_version = "2.36", .tool = "bench_sim_gen" };
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(argv[1], &h, NULL, &err);
    if (!w) {
        fprintf(stderr, "bench_sim_gen: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    enum { WS = 1 << 14 };
    static uint64_t live[WS];
    size_t n = 0;
    uint64_t addr = 0x10000000;
    tr_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tid = 1;
    for (uint64_t s = 1; s <= events; s++) {
        ev.seq = ev.release_seq = s;
        ev.t_ns = s * 50;
        uint64_t r = next() % 100;
        ev.a = ev.b = ev.ret = 0;
        if (n < WS / 2 || (r < 45 && n < WS)) {
            ev.op = TR_OP_MALLOC;
            ev.a = size();
            ev.ret = addr += 0x40;
            live[n++] = ev.ret;
        } else if (r < 50 && n < WS) {
            ev.op = TR_OP_CALLOC;
            ev.a = 1 + next() % 8;
            ev.b = 8 + next() % 64;
            ev.ret = addr += 0x40;
            live[n++] = ev.ret;
        } else if (r < 60) {
            size_t k = next() % n;
            ev.op = TR_OP_REALLOC;
            ev.a = live[k];
            ev.b = size();
            ev.ret = live[k] = addr += 0x40;
        } else {
            size_t k = next() % n;
            ev.op = TR_OP_FREE;
            ev.a = live[k];
            live[k] = live[--n];
        }
        if (tr_writer_event(w, &ev)) {
            fprintf(stderr, "bench_sim_gen: %s: %s\n", argv[1], tr_writer_error(w)->msg);
            return 1;
        }
    }
    tr_end_t end = { .reason = TR_END_CLOSED, .events = events };
    if (tr_writer_close(w, &end, &err)) {
        fprintf(stderr, "bench_sim_gen: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    return 0;
}
