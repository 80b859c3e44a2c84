/* mktrace.c - writes binary test traces with the traces library, for cases
 * the text form cannot express (a realloc's release seq) and for random
 * multi-thread traces with cross-thread frees and address reuse.
 *
 *   mktrace displaced OUT      realloc released at seq 2, another thread's
 *                              malloc gets the old address at seq 3, the
 *                              realloc itself is seq 4
 *   mktrace threads OUT OPS THREADS SEED
 *   mktrace withenv IN OUT NAME=VALUE...   IN's events with a header that
 *                              records those environment settings
 *   mktrace ending IN OUT REASON STATUS DROPPED   IN's events with that END
 *                              (REASON a number, tr_end_reason_t), or none
 *                              (REASON "none": a cut trace whose last frame is
 *                              whole, as a killed process leaves it)
 */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tr_writer_t *w;
static uint64_t seq;

static void put(uint32_t tid, int op, uint64_t a, uint64_t b, uint64_t c, uint64_t ret, uint64_t release) {
    tr_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.seq = ++seq;
    ev.release_seq = release ? release : ev.seq;
    ev.t_ns = ev.seq * 1000;
    ev.tid = tid;
    ev.op = (uint8_t)op;
    ev.a = a; ev.b = b; ev.c = c; ev.ret = ret;
    if (tr_writer_event(w, &ev)) {
        fprintf(stderr, "mktrace: %s\n", tr_writer_error(w)->msg);
        exit(1);
    }
}

static uint64_t rng;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

/* A copy of a trace whose header records the settings env[0..n) (env NULL:
 * the input's), ending with *end (reason < 0: no END). */
static int copy(const char *in, const char *out, const char *const *env, size_t n, const tr_end_t *end) {
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(in, &err);
    if (!r) { fprintf(stderr, "mktrace: %s\n", err.msg); return 1; }
    tr_header_t h = *tr_reader_header(r);
    if (env) {
        h.env = env;
        h.nenv = n;
    }
    tr_writer_t *cw = tr_writer_open(out, &h, NULL, &err);
    if (!cw) { fprintf(stderr, "mktrace: %s\n", err.msg); return 1; }
    tr_event_t ev;
    uint64_t k = 0;
    int rc;
    while ((rc = tr_reader_next(r, &ev)) > 0) {
        k++;
        if (tr_writer_event(cw, &ev)) { fprintf(stderr, "mktrace: %s\n", tr_writer_error(cw)->msg); return 1; }
    }
    if (rc < 0) { fprintf(stderr, "mktrace: %s\n", tr_reader_error(r)->msg); return 1; }
    tr_end_t e = { TR_END_CLOSED, 0, k ? ev.t_ns : 0, k, 0 };
    if (end) {
        e.reason = end->reason;
        e.status = end->status;
        e.dropped = end->dropped;
    }
    if (tr_writer_close(cw, end && (int32_t)end->reason < 0 ? NULL : &e, &err)) {
        fprintf(stderr, "mktrace: %s\n", err.msg);
        return 1;
    }
    tr_reader_close(r);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (!strcmp(argv[1], "withenv") && argc >= 4)
        return copy(argv[2], argv[3], (const char *const *)argv + 4, (size_t)(argc - 4), NULL);
    if (!strcmp(argv[1], "ending") && argc == 7) {
        tr_end_t end = { (uint32_t)-1, 0, 0, 0, 0 };
        if (strcmp(argv[4], "none")) end.reason = (uint32_t)strtoul(argv[4], NULL, 10);
        end.status = (int32_t)strtol(argv[5], NULL, 10);
        end.dropped = strtoull(argv[6], NULL, 10);
        return copy(argv[2], argv[3], NULL, 0, &end);
    }
    tr_header_t h;
    memset(&h, 0, sizeof h);
    h.tool = "mktrace";
    h.page_size = 4096;
    tr_error_t err;
    w = tr_writer_open(argv[2], &h, NULL, &err);
    if (!w) { fprintf(stderr, "mktrace: %s\n", err.msg); return 1; }
    if (!strcmp(argv[1], "displaced")) {
        /* thread 1: X = malloc(100)      seq 1
         * thread 1: realloc(X, 5000) releases X at seq 2, returns Y at seq 4
         * thread 2: malloc(100) -> X     seq 3 (reuses the released address)
         * thread 2: free(X) seq 5; thread 1: free(Y) seq 6 */
        uint64_t const X = 0x10000, Y = 0x20000;
        put(1, TR_OP_MALLOC, 100, 0, 0, X, 0);
        seq++; /* seq 2: the release */
        put(2, TR_OP_MALLOC, 100, 0, 0, X, 0);
        put(1, TR_OP_REALLOC, X, 5000, 0, Y, 2);
        put(2, TR_OP_FREE, X, 0, 0, 0, 0);
        put(1, TR_OP_FREE, Y, 0, 0, 0, 0);
    } else if (!strcmp(argv[1], "threads") && argc == 6) {
        uint64_t const n = strtoull(argv[3], NULL, 10);
        uint32_t const nt = (uint32_t)strtoul(argv[4], NULL, 10);
        rng = strtoull(argv[5], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
        enum { LIVE = 4096 };
        static uint64_t live[LIVE], pool[LIVE * 4];
        size_t npool = 0;
        uint64_t next_addr = 0x100000;
        for (uint32_t t = 1; t <= nt; t++) put(t, TR_OP_THREAD_START, 1, 0, 0, 0, 0);
        for (uint64_t i = 0; i < n; i++) {
            uint32_t const tid = 1 + (uint32_t)(rnd() % nt); /* any thread may free any object */
            unsigned const k = (unsigned)(rnd() % LIVE);
            if (live[k]) {
                if (rnd() % 4 == 0) { /* realloc, sometimes in place */
                    uint64_t const r = rnd() % 2 ? live[k] : (npool ? pool[--npool] : (next_addr += 0x1000));
                    put(tid, TR_OP_REALLOC, live[k], 1 + rnd() % 3000, 0, r, 0);
                    if (r != live[k]) pool[npool++] = live[k];
                    live[k] = r;
                } else {
                    put(tid, TR_OP_FREE, live[k], 0, 0, 0, 0);
                    pool[npool++] = live[k]; /* LIFO: the next allocation reuses it */
                    live[k] = 0;
                }
            } else {
                uint64_t const a = npool ? pool[--npool] : (next_addr += 0x1000);
                if (rnd() % 3) put(tid, TR_OP_MALLOC, 1 + rnd() % 2000, 0, 0, a, 0);
                else put(tid, TR_OP_CALLOC, 1 + rnd() % 8, 1 + rnd() % 300, 0, a, 0);
                live[k] = a;
            }
        }
        for (uint32_t t = 1; t <= nt; t++) put(t, TR_OP_THREAD_EXIT, 0, 0, 0, 0, 0);
    } else {
        fprintf(stderr, "mktrace: unknown scenario\n");
        return 2;
    }
    tr_end_t end = { TR_END_CLOSED, 0, seq * 1000, seq, 0 };
    if (tr_writer_close(w, &end, &err)) { fprintf(stderr, "mktrace: %s\n", err.msg); return 1; }
    return 0;
}
