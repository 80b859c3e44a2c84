/* diff.c - what changed between two traces of the same program: totals, and
 * per allocation site matched by its symbolized frames, function and
 * file:line (addresses differ from run to run; these do not), as heaptrack's
 * diff compares frames without their addresses. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "report.h"

enum { M_CALLS, M_BYTES, M_PEAK, M_LEAK, M_N };

typedef struct dsite_s {
    char *key;
    int64_t v[2][M_N];
    UT_hash_handle hh;
} dsite_t;

static int add_sites(dsite_t **h, int side, const rp_agg_t *g, tr_reader_t *r, rp_sym_t *s) {
    char key[4096];
    for (size_t id = 0; id < g->nsites; id++) {
        const rp_site_t *st = &g->sites[id];
        if (!st->calls) continue;
        rp_site_frames(s, r, id, key, sizeof key, 8, " <- ", 1);
        dsite_t *d;
        HASH_FIND_STR(*h, key, d);
        if (!d) {
            d = calloc(1, sizeof *d);
            if (!d || !(d->key = strdup(key))) { free(d); return -1; }
            HASH_ADD_KEYPTR(hh, *h, d->key, strlen(d->key), d);
        }
        d->v[side][M_CALLS] += (int64_t)st->calls;
        d->v[side][M_BYTES] += (int64_t)st->bytes;
        d->v[side][M_PEAK] += (int64_t)rp_site_at_peak(g, id);
        d->v[side][M_LEAK] += (int64_t)st->live;
    }
    return 0;
}

static int64_t absd(const dsite_t *d, int m) {
    int64_t const x = d->v[1][m] - d->v[0][m];
    return x < 0 ? -x : x;
}

static int by_change(const void *pa, const void *pb) {
    const dsite_t *a = *(dsite_t *const *)pa, *b = *(dsite_t *const *)pb;
    for (int m = M_PEAK;; m = m == M_PEAK ? M_BYTES : m == M_BYTES ? M_LEAK : M_CALLS) {
        if (absd(a, m) != absd(b, m)) return absd(a, m) < absd(b, m) ? 1 : -1;
        if (m == M_CALLS) break;
    }
    return strcmp(a->key, b->key);
}


static void row_count(FILE *o, const char *what, uint64_t a, uint64_t b) {
    fprintf(o, "%-26s %14" PRIu64 " %14" PRIu64 " %+15" PRId64, what, a, b, (int64_t)(b - a));
    if (a > 0) fprintf(o, " (%+.1f%%)", ((double)b - (double)a) * 100.0 / (double)a);
    fprintf(o, "\n");
}

int rp_diff(const char *pa, const rp_agg_t *a, tr_reader_t *ra, rp_sym_t *sa,
            const char *pb, const rp_agg_t *b, tr_reader_t *rb, rp_sym_t *sb, FILE *o) {
    fprintf(o, "malloc-report diff\nA: %s\nB: %s\n\n", pa, pb);
    fprintf(o, "%-26s %14s %14s %15s\n", "", "A", "B", "B - A");
    row_count(o, "events", a->events, b->events);
    row_count(o, "allocation calls", a->alloc_calls, b->alloc_calls);
    row_count(o, "blocks freed (and realloc)", a->frees, b->frees);
    row_count(o, "temporary allocations", a->temporary, b->temporary);
    row_count(o, "threads", a->nthreads, b->nthreads);
    row_count(o, "bytes requested", a->alloc_bytes, b->alloc_bytes);
    row_count(o, "peak live bytes", a->peak, b->peak);
    row_count(o, "live blocks at the peak", a->peak_n, b->peak_n);
    row_count(o, "leaked bytes (live at end)", a->live, b->live);
    row_count(o, "leaked blocks", a->live_n, b->live_n);
    char x[32], y[32];
    fprintf(o, "%-26s %14s %14s\n", "duration", rp_fmt_ns(x, sizeof x, (double)(a->last_t - a->first_t)),
            rp_fmt_ns(y, sizeof y, (double)(b->last_t - b->first_t)));

    dsite_t *h = NULL;
    if (add_sites(&h, 0, a, ra, sa) < 0 || add_sites(&h, 1, b, rb, sb) < 0) return -1;
    size_t const n = HASH_COUNT(h);
    dsite_t **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return -1;
    size_t k = 0, changed = 0;
    dsite_t *d, *tmp;
    HASH_ITER(hh, h, d, tmp) v[k++] = d;
    qsort(v, n, sizeof *v, by_change);
    for (k = 0; k < n; k++)
        if (absd(v[k], M_PEAK) || absd(v[k], M_BYTES) || absd(v[k], M_LEAK) || absd(v[k], M_CALLS)) changed++;
    fprintf(o, "\nallocation sites: %zu in A or B, %zu changed; largest changes first (peak, then bytes), in bytes:\n",
            n, changed);
    fprintf(o, "%12s %12s %12s %12s %12s  %s\n", "peak A", "peak B", "bytes B-A", "calls B-A", "leak B-A", "site");
    size_t shown = 0;
    for (k = 0; k < n && shown < 25; k++) {
        d = v[k];
        if (!(absd(d, M_PEAK) || absd(d, M_BYTES) || absd(d, M_LEAK) || absd(d, M_CALLS))) continue;
        const char *tag = !d->v[0][M_CALLS] ? " [new]" : !d->v[1][M_CALLS] ? " [gone]" : "";
        fprintf(o, "%12" PRId64 " %12" PRId64 " %+12" PRId64 " %+12" PRId64 " %+12" PRId64 "  %s%s\n",
                d->v[0][M_PEAK], d->v[1][M_PEAK], d->v[1][M_BYTES] - d->v[0][M_BYTES],
                d->v[1][M_CALLS] - d->v[0][M_CALLS], d->v[1][M_LEAK] - d->v[0][M_LEAK], d->key, tag);
        shown++;
    }
    if (!changed) fprintf(o, "  (no site changed)\n");
    HASH_ITER(hh, h, d, tmp) { HASH_DEL(h, d); free(d->key); free(d); }
    free(v);
    return 0;
}
