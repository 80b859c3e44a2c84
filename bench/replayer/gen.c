/* gen.c - a synthetic single-thread trace for the replayer's benchmark:
 * N events of malloc/free/realloc/calloc with a program-like size mix
 * (mostly small, a few large) over a live set of up to 64k objects, with
 * addresses reused LIFO as an allocator would.
 *
 * usage: gen OUT.zst N [SEED] */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static uint64_t size_mix(void) {
    uint64_t const r = rnd() % 1000;
    if (r < 600) return 8 + rnd() % 56;
    if (r < 900) return 64 + rnd() % 448;
    if (r < 990) return 512 + rnd() % 7680;
    return 8192 + rnd() % 120000;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: gen OUT.zst N [SEED]\n"); return 2; }
    uint64_t const n = strtoull(argv[2], NULL, 10);
    rng = (argc > 3 ? strtoull(argv[3], NULL, 10) : 1) * 0x9e3779b97f4a7c15ull + 7;
    tr_header_t h;
    memset(&h, 0, sizeof h);
    h.tool = "bench/replayer/gen";
    h.page_size = 4096;
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(argv[1], &h, NULL, &err);
    if (!w) { fprintf(stderr, "gen: %s\n", err.msg); return 1; }
    enum { LIVE = 65536 };
    static uint64_t live[LIVE], pool[LIVE];
    size_t npool = 0;
    uint64_t next = 0x10000000, seq = 0;
    tr_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tid = 1;
    while (seq < n) {
        unsigned const k = (unsigned)(rnd() % LIVE);
        memset(&ev, 0, sizeof ev);
        ev.tid = 1;
        ev.seq = ev.release_seq = ++seq;
        ev.t_ns = seq * 50;
        if (live[k] && rnd() % 8) {
            ev.op = TR_OP_FREE;
            ev.a = live[k];
            pool[npool++] = live[k];
            live[k] = 0;
        } else if (live[k]) {
            ev.op = TR_OP_REALLOC;
            ev.a = live[k];
            ev.b = size_mix();
            ev.ret = rnd() % 2 ? live[k] : npool ? pool[--npool] : (next += 0x20000); /* in place or moved */
            if (ev.ret != live[k]) { pool[npool++] = live[k]; live[k] = ev.ret; }
        } else {
            uint64_t const a = npool ? pool[--npool] : (next += 0x20000);
            if (rnd() % 10) { ev.op = TR_OP_MALLOC; ev.a = size_mix(); }
            else { ev.op = TR_OP_CALLOC; ev.a = 1 + rnd() % 4; ev.b = size_mix() / 4 + 1; }
            ev.ret = a;
            live[k] = a;
        }
        if (tr_writer_event(w, &ev)) { fprintf(stderr, "gen: %s\n", tr_writer_error(w)->msg); return 1; }
    }
    tr_end_t end = { TR_END_CLOSED, 0, seq * 50, seq, 0 };
    if (tr_writer_close(w, &end, &err)) { fprintf(stderr, "gen: %s\n", err.msg); return 1; }
    return 0;
}
