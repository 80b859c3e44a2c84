/* gen_big.c - writes a large synthetic trace for malloc-report's benchmark:
 * N events from T threads, a live set that churns around L blocks, S
 * distinct call stacks of depth 12, sizes log-uniform 8 B..64 KiB.
 * usage: gen_big OUT.zst EVENTS LIVE STACKS */
#include <stdio.h>
#include <stdlib.h>

#include "trace.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: gen_big OUT.zst EVENTS LIVE STACKS\n"); return 2; }
    uint64_t const n = strtoull(argv[2], NULL, 10), live = strtoull(argv[3], NULL, 10);
    uint32_t const nstacks = (uint32_t)strtoul(argv[4], NULL, 10);
    tr_header_t h = { .pid = 1, .page_size = 4096, .ncpu = 2, .exe = "/bench/app", .tool = "gen_big" };
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(argv[1], &h, NULL, &err);
    if (!w) { fprintf(stderr, "gen_big: %s\n", err.msg); return 1; }
    tr_module_t m = { .bias = 0x400000, .start = 0x400000, .size = 0x100000, .path = "/bench/app" };
    tr_writer_module(w, &m);
    for (uint32_t s = 1; s <= nstacks; s++) {
        uint64_t pcs[12];
        for (int k = 0; k < 12; k++) pcs[k] = 0x400000 + (k < 6 ? next() % 0x100000 : (uint64_t)k * 0x1000);
        tr_writer_stack(w, s, pcs, 12);
    }
    uint64_t *slots = calloc(live, sizeof *slots);
    uint64_t seq = 0, t = 0, addr = 0x10000000;
    while (seq < n) {
        uint64_t const i = next() % live;
        tr_event_t ev = { 0 };
        ev.tid = 100 + (uint32_t)(next() % 4);
        t += 50 + next() % 100;
        ev.t_ns = t;
        ev.seq = ev.release_seq = ++seq;
        if (slots[i]) {
            ev.op = TR_OP_FREE;
            ev.a = slots[i];
            slots[i] = 0;
        } else {
            ev.op = TR_OP_MALLOC;
            ev.a = 8ull << (next() % 13);
            ev.a += next() % ev.a;
            ev.ret = addr += 16 + ev.a;
            ev.stack = 1 + (uint32_t)(next() % nstacks);
            slots[i] = ev.ret;
        }
        if (tr_writer_event(w, &ev) < 0) { fprintf(stderr, "gen_big: write failed\n"); return 1; }
    }
    tr_end_t end = { .reason = TR_END_CLOSED, .events = seq, .t_ns = t };
    if (tr_writer_close(w, &end, &err) < 0) { fprintf(stderr, "gen_big: %s\n", err.msg); return 1; }
    free(slots);
    return 0;
}
