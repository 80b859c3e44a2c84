/* format_bench.c - throughput of the trace writer and reader, and bytes per
 * event, on a synthetic single-threaded malloc/free trace and a 4-thread one.
 * usage: format_bench [EVENTS] [DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "trace.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void run(const char *path, long n, int threads) {
    tr_header_t h;
    memset(&h, 0, sizeof h);
    h.tool = "format_bench";
    tr_error_t err;
    double t0 = now();
    tr_writer_opts_t o = { 0 };
    o.level = getenv("LEVEL") ? atoi(getenv("LEVEL")) : 0;
    tr_writer_t *w = tr_writer_open(path, &h, &o, &err);
    if (!w) { fprintf(stderr, "%s: %s\n", path, err.msg); exit(1); }
    /* a heap of 4096 live slots per thread: malloc into a slot, free it later */
    uint64_t *slots = calloc((size_t)threads * 4096, sizeof *slots);
    uint64_t t = 0, seq = 0, next_ptr = 0x55d0c0a00000ull;
    for (long i = 0; i < n; i++) {
        int const th = threads > 1 ? (int)((i / 64) % threads) : 0; /* bursts per thread */
        size_t const s = (size_t)th * 4096 + rnd() % 4096;
        tr_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.tid = 1000 + (uint32_t)th;
        ev.seq = ev.release_seq = ++seq;
        t += 20 + rnd() % 100;
        ev.t_ns = t;
        ev.stack = 1 + (uint32_t)(rnd() % 50);
        if (slots[s]) {
            ev.op = TR_OP_FREE; ev.a = slots[s]; slots[s] = 0;
        } else {
            ev.op = TR_OP_MALLOC; ev.a = 16 + rnd() % 200; ev.ret = next_ptr; slots[s] = next_ptr;
            next_ptr += (ev.a + 31) & ~15ull;
        }
        if (tr_writer_event(w, &ev)) { fprintf(stderr, "write: %s\n", tr_writer_error(w)->msg); exit(1); }
    }
    if (tr_writer_close(w, NULL, &err)) { fprintf(stderr, "close: %s\n", err.msg); exit(1); }
    double const tw = now() - t0;
    struct stat st;
    stat(path, &st);
    t0 = now();
    tr_reader_t *r = tr_reader_open(path, &err);
    if (!r) { fprintf(stderr, "%s: %s\n", path, err.msg); exit(1); }
    tr_event_t ev;
    long got = 0;
    uint64_t sum = 0;
    while (tr_reader_next(r, &ev) > 0) { got++; sum += ev.a; }
    double const tr = now() - t0;
    tr_reader_close(r);
    t0 = now();
    r = tr_reader_open(path, &err);
    tr_reader_prefetch(r);
    long got2 = 0;
    while (tr_reader_next(r, &ev) > 0) { got2++; sum += ev.a; }
    double const tp = now() - t0;
    tr_reader_close(r);
    printf("%d thread%s: %ld events, write %.1f M events/s, read %.1f M events/s (%.1f M with prefetch), "
           "%.2f bytes/event%s\n", threads, threads > 1 ? "s" : "", got, n / tw / 1e6, got / tr / 1e6,
           got2 / tp / 1e6, (double)st.st_size / n, sum ? "" : " ");
    free(slots);
}

int main(int argc, char **argv) {
    long const n = argc > 1 ? atol(argv[1]) : 10000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/format_bench.zst", dir);
    run(path, n, 1);
    run(path, n, 4);
    if (!getenv("KEEP")) remove(path);
    return 0;
}
