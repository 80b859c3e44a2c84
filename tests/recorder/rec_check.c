/* rec_check - checks a recorded trace against what the program saw.
 *
 *   rec_check TRACE LOG [EXPECT]
 *
 * LOG: the program's own record of its calls, "TID OP A B C RET" per line
 * (tlog.h). EXPECT (optional) holds lines of expectations:
 *   end REASON STATUS    the END record (REASON as in FORMAT.md, a number)
 *   threads N            at least N thread_start events
 *   exits N              at least N thread_exit events
 *   mtrace FILE          glibc's mtrace() log of the same run: the traced
 *                        sequence from the first "+" must equal it
 *   module TEXT          a MODULE whose path contains TEXT, loaded and
 *                        later unloaded (dlclose)
 *   loaded TEXT BIAS     a MODULE whose path contains TEXT, at load bias
 *                        BIAS (hex, as the loader has it), with a build id
 * Checks: the trace reads to its END with no error and nothing dropped; each
 * logged call is in the trace, in its thread's order, with the arguments and
 * the result the program saw; calls with sizes of 3000..3999 (the test
 * programs' own) appear exactly as often as logged; and replaying the trace
 * in global order (releases at their release seq) never hands out an address
 * that is still live nor frees one twice: cross-thread frees come after their
 * malloc, reuse after the free; every program counter of every stack lies in
 * a module of the trace's module map, and no two stack ids hold the same
 * program counters (deduplication). Prints "ok ..." or the first failure. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

typedef struct { uint32_t tid; int op; uint64_t a, b, c, ret; int matched; } call_t;

typedef struct { uint64_t hash; uint32_t id; } stack_key_t;
static int key_cmp(const void *x, const void *y) {
    const stack_key_t *a = x, *b = y;
    return a->hash < b->hash ? -1 : a->hash > b->hash ? 1 : (a->id > b->id) - (a->id < b->id);
}
typedef struct { uint64_t seq, rel; uint32_t tid; int op; uint64_t a, b, c, ret; } ev_t;

static int fail(const char *what, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "FAIL: ");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
    exit(1);
}

/* ---- an open-addressing set of live pointers ---------------------------- */
typedef struct { uint64_t *k; uint8_t *st; size_t cap, n; } set_t; /* st: 0 empty, 1 live, 2 freed */
static size_t h64(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; return (size_t)x; }
static uint8_t *set_slot(set_t *s, uint64_t k) {
    if ((s->n + 1) * 2 > s->cap) {
        set_t o = *s;
        s->cap = o.cap ? o.cap * 2 : 1024;
        s->k = calloc(s->cap, 8);
        s->st = calloc(s->cap, 1);
        s->n = 0;
        for (size_t i = 0; i < o.cap; i++)
            if (o.st[i]) { *set_slot(s, o.k[i]) = o.st[i]; }
        free(o.k);
        free(o.st);
    }
    size_t i = h64(k) & (s->cap - 1);
    while (s->st[i] && s->k[i] != k) i = (i + 1) & (s->cap - 1);
    if (!s->st[i]) { s->k[i] = k; s->n++; }
    return &s->st[i];
}

typedef struct { uint64_t seq; int kind; uint64_t p; const ev_t *ev; } act_t; /* kind 0 release, 1 acquire */
static int act_cmp(const void *x, const void *y) {
    const act_t *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : a->kind - b->kind;
}

static int is_alloc_op(int op) { return op >= TR_OP_MALLOC && op <= TR_OP_PVALLOC && op != TR_OP_FREE; }

/* ---- mtrace log --------------------------------------------------------- */
/* Normalised: '+' ptr size, '-' ptr, '<' old, '>' new size. */
typedef struct { char k; uint64_t p, s; } mt_t;

static size_t read_mtrace(const char *path, mt_t **out) {
    FILE *f = fopen(path, "r");
    if (!f) fail("%s: cannot open", path);
    size_t n = 0, cap = 1024;
    mt_t *v = malloc(cap * sizeof *v);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '@') continue;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        sp = strchr(sp + 1, ' '); /* after "@ caller" */
        if (!sp) continue;
        char k = sp[1];
        unsigned long long p = 0, s = 0;
        if (k != '+' && k != '-' && k != '<' && k != '>') continue;
        if (sscanf(sp + 2, " %llx %llx", &p, &s) < 1) continue;
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (mt_t){ k, p, s };
    }
    fclose(f);
    *out = v;
    return n;
}

/* The trace's events as mtrace would log them. */
static size_t trace_as_mtrace(const ev_t *ev, size_t n, mt_t **out) {
    mt_t *v = malloc((2 * n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const ev_t *e = &ev[i];
        switch (e->op) {
        case TR_OP_FREE: if (e->a) v[k++] = (mt_t){ '-', e->a, 0 }; break;
        case TR_OP_CALLOC: if (e->ret) v[k++] = (mt_t){ '+', e->ret, e->a * e->b }; break;
        case TR_OP_REALLOC:
            if (e->a == 0) { if (e->ret) v[k++] = (mt_t){ '+', e->ret, e->b }; break; }
            if (e->b == 0) { v[k++] = (mt_t){ '-', e->a, 0 }; break; }
            v[k++] = (mt_t){ '<', e->a, 0 };
            v[k++] = (mt_t){ '>', e->ret, e->b };
            break;
        case TR_OP_MALLOC: case TR_OP_VALLOC: if (e->ret) v[k++] = (mt_t){ '+', e->ret, e->a }; break;
        case TR_OP_MEMALIGN: case TR_OP_POSIX_MEMALIGN: case TR_OP_ALIGNED_ALLOC:
            if (e->ret) v[k++] = (mt_t){ '+', e->ret, e->b };
            break;
        default: break;
        }
    }
    *out = v;
    return k;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: rec_check TRACE LOG [EXPECT]\n"); return 2; }
    int want_reason = -1, want_status = 0, have_status = 0, no_end = 0, dropped_ok = 0;
    long want_threads = 0, want_exits = 0;
    char mtrace_path[1024] = "", want_module[256] = "", want_loaded[256] = "";
    unsigned long long want_bias = 0;
    if (argc > 3) {
        FILE *f = fopen(argv[3], "r");
        char line[1100];
        while (f && fgets(line, sizeof line, f)) {
            if (sscanf(line, "end %d %d", &want_reason, &want_status) == 2) have_status = 1;
            else if (sscanf(line, "end %d", &want_reason) == 1) {}
            else if (sscanf(line, "threads %ld", &want_threads) == 1) {}
            else if (sscanf(line, "exits %ld", &want_exits) == 1) {}
            else if (sscanf(line, "mtrace %1023s", mtrace_path) == 1) {}
            else if (sscanf(line, "module %255s", want_module) == 1) {}
            else if (sscanf(line, "loaded %255s %llx", want_loaded, &want_bias) == 2) {}
            else if (strncmp(line, "noend", 5) == 0) no_end = 1;         /* killed: no END, cut at a frame */
            else if (strncmp(line, "dropped-ok", 10) == 0) dropped_ok = 1; /* disk full */
        }
        if (f) fclose(f);
    }
    /* the program's log */
    FILE *lf = fopen(argv[2], "r");
    if (!lf) fail("%s: cannot open", argv[2]);
    size_t nc = 0, cc = 1024;
    call_t *calls = malloc(cc * sizeof *calls);
    char line[512], opname[64];
    while (fgets(line, sizeof line, lf)) {
        unsigned long tid;
        unsigned long long a, b, c, r;
        if (sscanf(line, "%lu %63s %llu %llu %llu %llu", &tid, opname, &a, &b, &c, &r) != 6)
            fail("%s: bad line: %s", argv[2], line);
        int const op = tr_op_from_name(opname);
        if (op < 0) fail("%s: unknown op %s", argv[2], opname);
        if (nc == cc) calls = realloc(calls, (cc *= 2) * sizeof *calls);
        calls[nc++] = (call_t){ (uint32_t)tid, op, a, b, c, r, 0 };
    }
    fclose(lf);

    /* the trace, in global order */
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(argv[1], &err);
    if (!r) fail("%s: %s", argv[1], err.msg);
    size_t ne = 0, ce = 4096;
    ev_t *ev = malloc(ce * sizeof *ev);
    tr_event_t e;
    int rc;
    long starts = 0, exits = 0;
    while ((rc = tr_reader_next(r, &e)) == 1) {
        if (ne == ce) ev = realloc(ev, (ce *= 2) * sizeof *ev);
        ev[ne++] = (ev_t){ e.seq, e.release_seq, e.tid, e.op, e.a, e.b, e.c, e.ret };
        if (e.op == TR_OP_THREAD_START) starts++;
        if (e.op == TR_OP_THREAD_EXIT) exits++;
        if (ne > 1 && ev[ne - 1].seq <= ev[ne - 2].seq) fail("seq %" PRIu64 " after %" PRIu64, e.seq, ev[ne - 2].seq);
    }
    if (rc < 0) fail("%s: %s", argv[1], tr_reader_error(r)->msg);
    const tr_end_t *end = tr_reader_end(r);
    static const tr_end_t none = { 99, 0, 0, 0, 0 };
    if (no_end) {
        if (end) fail("%s: an END record in a trace of a killed process", argv[1]);
        end = &none;
    } else {
        if (!end) fail("%s: no END record", argv[1]);
        if (end->dropped && !dropped_ok) fail("%" PRIu64 " events dropped", end->dropped);
        if (end->events != ne) fail("END says %" PRIu64 " events, read %zu", end->events, ne);
    }
    if (want_reason >= 0 && (int)end->reason != want_reason) fail("END reason %u, expected %d", end->reason, want_reason);
    if (have_status && end->status != want_status) fail("END status %d, expected %d", end->status, want_status);
    if (starts < want_threads) fail("%ld thread_start events, expected >= %ld", starts, want_threads);
    if (exits < want_exits) fail("%ld thread_exit events, expected >= %ld", exits, want_exits);
    const tr_header_t *h = tr_reader_header(r);

    /* 1. each logged call in its thread's order, as the program saw it */
    size_t matched = 0;
    {
        /* per thread: the indices of its events (global order is its order) */
        enum { TB = 1 << 16 };
        struct th { uint32_t tid; int used; size_t *ix, n, cap, cur; } *tt = calloc(TB, sizeof *tt);
        #define TH_FIND(tid_) ({ size_t i_ = (tid_) * 2654435761u & (TB - 1); \
            while (tt[i_].used && tt[i_].tid != (tid_)) i_ = (i_ + 1) & (TB - 1); \
            if (!tt[i_].used) { tt[i_].used = 1; tt[i_].tid = (tid_); } &tt[i_]; })
        for (size_t k = 0; k < ne; k++) {
            struct th *t = TH_FIND(ev[k].tid);
            if (t->n == t->cap) t->ix = realloc(t->ix, (t->cap = t->cap ? t->cap * 2 : 16) * sizeof *t->ix);
            t->ix[t->n++] = k;
        }
        for (size_t i = 0; i < nc; i++) {
            call_t *c = &calls[i];
            struct th *th = TH_FIND(c->tid);
            size_t j = th->cur;
            for (; j < th->n; j++) {
                const ev_t *t = &ev[th->ix[j]];
                if (t->op != c->op) continue;
                int ok;
                switch (c->op) {
                case TR_OP_FREE: ok = t->a == c->a; break;
                case TR_OP_REALLOC: ok = t->a == c->a && t->b == c->b && t->ret == c->ret; break;
                case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC: ok = t->a == c->a && t->ret == c->ret; break;
                case TR_OP_MALLOPT: case TR_OP_MALLOC_TRIM:
                    ok = (uint32_t)t->a == (uint32_t)c->a && (uint32_t)t->ret == (uint32_t)c->ret &&
                         (c->op == TR_OP_MALLOC_TRIM || (uint32_t)t->b == (uint32_t)c->b);
                    break;
                case TR_OP_REALLOCARRAY: ok = t->a == c->a && t->b == c->b && t->c == c->c && t->ret == c->ret; break;
                default: ok = t->a == c->a && t->b == c->b && t->ret == c->ret; break;
                }
                if (ok) break;
            }
            if (j == th->n)
                fail("logged call #%zu (tid %u %s %" PRIu64 " %" PRIu64 " -> 0x%" PRIx64 ") not in the trace in thread order",
                     i + 1, c->tid, tr_op_name(c->op), c->a, c->b, c->ret);
            c->matched = 1;
            th->cur = j + 1;
            matched++;
        }
    }

    /* 2. the program's own sizes (3000..3999) exactly as often as logged */
    if (nc) {
        long logged[1000] = { 0 }, traced[1000] = { 0 };
        for (size_t i = 0; i < nc; i++) {
            uint64_t const s = calls[i].op == TR_OP_MALLOC ? calls[i].a : calls[i].op == TR_OP_CALLOC ? calls[i].b : 0;
            if (s >= 3000 && s < 4000) logged[s - 3000]++;
        }
        for (size_t i = 0; i < ne; i++) {
            uint64_t const s = ev[i].op == TR_OP_MALLOC ? ev[i].a : ev[i].op == TR_OP_CALLOC ? ev[i].b : 0;
            if (s >= 3000 && s < 4000) traced[s - 3000]++;
        }
        for (int s = 0; s < 1000; s++)
            if (logged[s] != traced[s])
                fail("size %d: %ld calls logged, %ld in the trace", s + 3000, logged[s], traced[s]);
    }

    /* 3. heap consistency in global order */
    {
        act_t *act = malloc((2 * ne + 1) * sizeof *act);
        size_t na = 0;
        for (size_t i = 0; i < ne; i++) {
            const ev_t *t = &ev[i];
            if (t->op == TR_OP_FREE && t->a) act[na++] = (act_t){ t->seq, 0, t->a, t };
            else if (t->op == TR_OP_REALLOC || t->op == TR_OP_REALLOCARRAY) {
                int const failed = t->ret == 0 && (t->op == TR_OP_REALLOC ? t->b : t->b * t->c) != 0;
                if (t->a && !failed) act[na++] = (act_t){ t->rel, 0, t->a, t };
                if (t->ret) act[na++] = (act_t){ t->seq, 1, t->ret, t };
            } else if (is_alloc_op(t->op) && t->ret) act[na++] = (act_t){ t->seq, 1, t->ret, t };
        }
        qsort(act, na, sizeof *act, act_cmp);
        set_t s = { 0 };
        for (size_t i = 0; i < na; i++) {
            uint8_t *st = set_slot(&s, act[i].p);
            if (act[i].kind == 1) {
                if (*st == 1)
                    fail("seq %" PRIu64 " (tid %u %s) returns 0x%" PRIx64 " while it is live: a free ordered after the reuse",
                         act[i].seq, act[i].ev->tid, tr_op_name(act[i].ev->op), act[i].p);
                *st = 1;
            } else {
                if (*st == 2)
                    fail("seq %" PRIu64 " (tid %u) frees 0x%" PRIx64 " which is not live (freed twice or before its malloc)",
                         act[i].seq, act[i].ev->tid, act[i].p);
                *st = 2;
            }
        }
        free(act);
    }

    /* 4. stacks: every pc inside a module of the map */
    {
        size_t const nm = tr_reader_module_count(r);
        uint32_t const ns = tr_reader_stack_count(r);
        for (uint32_t id = 1; id <= ns; id++) {
            const uint64_t *pcs;
            uint32_t const n = tr_reader_stack(r, id, &pcs);
            for (uint32_t i = 0; i < n; i++) {
                size_t m = 0;
                for (; m < nm; m++) {
                    const tr_module_t *mo = tr_reader_module(r, m);
                    if (pcs[i] - 1 >= mo->start && pcs[i] - 1 < mo->start + mo->size) break;
                }
                if (m == nm) fail("stack %u: pc 0x%" PRIx64 " is in no module of the map", id, pcs[i]);
            }
        }
        /* deduplicated: no two ids with the same pcs */
        stack_key_t *keys = malloc(sizeof *keys * (ns + 1));
        if (!keys) fail("out of memory");
        size_t nk = 0;
        for (uint32_t id = 1; id <= ns; id++) {
            const uint64_t *pcs;
            uint32_t const n = tr_reader_stack(r, id, &pcs);
            if (!n) continue;
            uint64_t h = 1469598103934665603ull ^ n;
            for (uint32_t i = 0; i < n; i++) h = (h ^ pcs[i]) * 1099511628211ull;
            keys[nk].hash = h;
            keys[nk++].id = id;
        }
        qsort(keys, nk, sizeof *keys, key_cmp);
        for (size_t k = 1; k < nk; k++) {
            if (keys[k].hash != keys[k - 1].hash) continue;
            const uint64_t *p, *q;
            uint32_t const n = tr_reader_stack(r, keys[k - 1].id, &p), m = tr_reader_stack(r, keys[k].id, &q);
            if (n == m && memcmp(p, q, n * sizeof *p) == 0)
                fail("stacks %u and %u hold the same %u program counters", keys[k - 1].id, keys[k].id, n);
        }
        free(keys);
        if (want_module[0]) {
            int loaded = 0, unloaded = 0;
            for (size_t m = 0; m < nm; m++) {
                const tr_module_t *mo = tr_reader_module(r, m);
                if (!strstr(mo->path, want_module)) continue;
                if (mo->flags & TR_MODULE_UNLOADED) unloaded++; else loaded++;
            }
            if (!loaded || !unloaded) fail("module %s: %d loads, %d unloads in the map", want_module, loaded, unloaded);
        }
        if (want_loaded[0]) {
            size_t m = 0;
            const tr_module_t *mo = NULL;
            for (; m < nm; m++) {
                mo = tr_reader_module(r, m);
                if (strstr(mo->path, want_loaded) && !(mo->flags & TR_MODULE_UNLOADED)) break;
            }
            if (m == nm) fail("module %s: not in the map", want_loaded);
            if (mo->bias != want_bias || mo->build_id_len == 0 || mo->size == 0 || mo->start < mo->bias)
                fail("module %s: bias 0x%" PRIx64 " (loader: 0x%llx), start 0x%" PRIx64 ", size %" PRIu64
                     ", build id of %zu bytes", want_loaded, mo->bias, want_bias, mo->start, mo->size,
                     mo->build_id_len);
        }
    }

    /* 5. glibc's mtrace log of the same run */
    if (mtrace_path[0]) {
        mt_t *m, *t;
        size_t const nm = read_mtrace(mtrace_path, &m), nt = trace_as_mtrace(ev, ne, &t);
        if (nm == 0) fail("%s: no entries", mtrace_path);
        size_t start = 0;
        while (start < nt && !(t[start].k == m[0].k && t[start].p == m[0].p && t[start].s == m[0].s)) start++;
        if (start == nt) fail("mtrace's first entry (%c 0x%" PRIx64 ") is not in the trace", m[0].k, m[0].p);
        for (size_t i = 0; i < nm; i++) {
            if (start + i >= nt) fail("trace ends before mtrace entry %zu", i + 1);
            const mt_t *x = &m[i], *y = &t[start + i];
            if (x->k != y->k || x->p != y->p || x->s != y->s)
                fail("entry %zu differs: mtrace %c 0x%" PRIx64 " %" PRIu64 ", trace %c 0x%" PRIx64 " %" PRIu64, i + 1,
                     x->k, x->p, x->s, y->k, y->p, y->s);
        }
        printf("mtrace: %zu entries identical\n", nm);
    }
    printf("ok %s: pid %u, %zu events, %zu logged calls matched, %ld threads started, %u stacks in %zu modules, END %u/%d\n",
           argv[1], h->pid, ne, matched, starts, tr_reader_stack_count(r), tr_reader_module_count(r), end->reason,
           end->status);
    tr_reader_close(r);
    return 0;
}
