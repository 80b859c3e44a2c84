/* agg.c - one streaming pass over a trace: totals, per-site aggregates,
 * histograms and a timeline of fixed size.
 *
 * Memory is bounded by the live objects (one 32-byte slot each), the stack
 * ids (one rp_site_t each) and the threads; everything else is fixed.
 *
 * Peak attribution: a site's bytes "at the peak" are its live bytes at the
 * moment the whole heap's live bytes were highest. Instead of copying every
 * site at every new peak, a site saves its live bytes into at_peak just before
 * its first change after the current peak (last_mod <= peak_idx); a site not
 * changed since the peak still holds its value at the peak in live.
 *
 * Realloc races (FORMAT.md section 5): a realloc gives its old block up at
 * its release_seq, before its own seq, so another thread may get the address
 * back in between, and its allocation is delivered before the realloc. An
 * allocation returning an address still live therefore ends the old block
 * there (it was given up before) and keeps it in a short list (g->det); the
 * realloc whose release_seq precedes that allocation then takes its block
 * from the list (counted as freed, its bytes already gone) rather than the
 * new owner's. */
#include <stdlib.h>
#include <string.h>

#include "ptrmap.h"
#include "report.h"

static int hist_bucket(uint64_t v) {
    return v ? 64 - __builtin_clzll(v) : 0; /* 1 -> 1, 2..3 -> 2, 4..7 -> 3 */
}

uint64_t rp_requested(const tr_event_t *ev) {
    uint64_t n;
    switch (ev->op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC: return ev->a;
    case TR_OP_CALLOC: return __builtin_mul_overflow(ev->a, ev->b, &n) ? UINT64_MAX : n;
    case TR_OP_REALLOC: return ev->b;
    case TR_OP_REALLOCARRAY: return __builtin_mul_overflow(ev->b, ev->c, &n) ? UINT64_MAX : n;
    default: return ev->b; /* memalign family: align, size */
    }
}

int rp_agg_init(rp_agg_t *g) {
    memset(g, 0, sizeof *g);
    g->tl_width = 1024; /* ns; doubles until the trace fits */
    g->tlo_width = 1;   /* events; likewise */
    g->nsites = 1;
    g->sites = calloc(1, sizeof *g->sites);
    return g->sites ? 0 : -1;
}

void rp_agg_free(rp_agg_t *g) {
    free(g->sites);
    free(g->threads);
    free(g->tindex);
    rp_ptrmap_free(&g->objs);
    memset(g, 0, sizeof *g);
}

static rp_site_t *site(rp_agg_t *g, uint32_t stack) {
    if (stack >= g->nsites) {
        size_t ncap = g->nsites;
        while (ncap <= stack) ncap *= 2;
        rp_site_t *ns = realloc(g->sites, ncap * sizeof *ns);
        if (!ns) return NULL;
        memset(ns + g->nsites, 0, (ncap - g->nsites) * sizeof *ns);
        g->sites = ns;
        g->nsites = ncap;
    }
    return &g->sites[stack];
}

static size_t tid_slot(const rp_agg_t *g, uint32_t tid) {
    return (size_t)(((uint64_t)tid * 0x9E3779B97F4A7C15ull) >> 32) & (g->tindex_cap - 1);
}

/* Rebuilds the tid index at twice the size. */
static int tindex_grow(rp_agg_t *g) {
    size_t const ncap = g->tindex_cap ? g->tindex_cap * 2 : 64;
    uint32_t *ni = calloc(ncap, sizeof *ni);
    if (!ni) return -1;
    free(g->tindex);
    g->tindex = ni;
    g->tindex_cap = ncap;
    for (size_t i = 0; i < g->nthreads; i++) {
        size_t j = tid_slot(g, g->threads[i].tid);
        while (ni[j]) j = (j + 1) & (ncap - 1);
        ni[j] = (uint32_t)i + 1;
    }
    return 0;
}

static rp_thread_t *thread(rp_agg_t *g, uint32_t tid, size_t *index) {
    /* Events of one thread come in runs: the last one found first. */
    if (g->tlast < g->nthreads && g->threads[g->tlast].tid == tid) {
        *index = g->tlast;
        return &g->threads[g->tlast];
    }
    if (g->tindex_cap) {
        for (size_t j = tid_slot(g, tid); g->tindex[j]; j = (j + 1) & (g->tindex_cap - 1))
            if (g->threads[g->tindex[j] - 1].tid == tid) {
                g->tlast = *index = g->tindex[j] - 1;
                return &g->threads[*index];
            }
    }
    if (g->nthreads == g->cap_threads) {
        size_t const ncap = g->cap_threads ? g->cap_threads * 2 : 8;
        rp_thread_t *nt = realloc(g->threads, ncap * sizeof *nt);
        if (!nt) return NULL;
        g->threads = nt;
        g->cap_threads = ncap;
    }
    rp_thread_t *t = &g->threads[g->nthreads];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    g->tlast = *index = g->nthreads++;
    if (g->nthreads * 2 > g->tindex_cap) return tindex_grow(g) < 0 ? NULL : t;
    size_t j = tid_slot(g, tid);
    while (g->tindex[j]) j = (j + 1) & (g->tindex_cap - 1);
    g->tindex[j] = (uint32_t)*index + 1;
    return t;
}

/* Halves a timeline's resolution: bucket i takes buckets 2i and 2i+1. */
static void tl_coarsen(rp_bucket_t *tl, uint64_t *width) {
    for (size_t i = 0; i < RP_TL_BUCKETS / 2; i++) {
        rp_bucket_t const a = tl[2 * i], b = tl[2 * i + 1];
        rp_bucket_t *m = &tl[i];
        *m = a;
        if (b.used) {
            m->live_max = a.used && a.live_max > b.live_max ? a.live_max : b.live_max;
            m->live_end = b.live_end;
            m->used = 1;
        }
        m->allocs += b.allocs;
        m->frees += b.frees;
        m->alloc_bytes += b.alloc_bytes;
        for (int k = 0; k <= RP_MAX_THREADS; k++) m->tallocs[k] += b.tallocs[k];
    }
    memset(&tl[RP_TL_BUCKETS / 2], 0, RP_TL_BUCKETS / 2 * sizeof *tl);
    *width *= 2;
}

static rp_bucket_t *bucket(rp_agg_t *g, rp_bucket_t *tl, uint64_t *width, uint64_t rel) {
    while (rel / *width >= RP_TL_BUCKETS) tl_coarsen(tl, width);
    rp_bucket_t *b = &tl[rel / *width];
    if (!b->used) { b->used = 1; b->live_max = g->live; }
    return b;
}

static void touch(rp_agg_t *g, rp_site_t *s) {
    if (s->last_mod <= g->peak_idx) s->at_peak = s->live;
    s->last_mod = g->events;
}

uint64_t rp_site_at_peak(const rp_agg_t *g, size_t stack) {
    if (stack >= g->nsites) return 0;
    const rp_site_t *s = &g->sites[stack];
    return s->last_mod <= g->peak_idx ? s->live : s->at_peak;
}

/* The block given up at ptr, freed at release_seq, that an allocation after
 * release_seq took the address of (the oldest such), removed from the list
 * into *out; 0 if none. */
static int take_detached(rp_agg_t *g, uint64_t ptr, uint64_t release_seq, rp_obj_t *out) {
    for (unsigned k = 0; k < g->ndet; k++)
        if (g->det[k].o.ptr == ptr && g->det[k].seq > release_seq) {
            *out = g->det[k].o;
            memmove(&g->det[k], &g->det[k + 1], (g->ndet - k - 1) * sizeof g->det[0]);
            g->ndet--;
            return 1;
        }
    return 0;
}

/* Gives up the block at ptr (free, or the old block of a realloc) at
 * release_seq (the event's seq but for a realloc). 1 if the trace never
 * allocated ptr, else 0. */
static int release(rp_agg_t *g, rp_thread_t *t, uint64_t ptr, uint64_t release_seq, uint64_t now,
                    rp_bucket_t *b) {
    int const temporary = t->last_alloc == ptr;
    t->last_alloc = 0;
    g->frees++;
    b->frees++;
    rp_obj_t gone, *o = NULL;
    int const detached = g->ndet && take_detached(g, ptr, release_seq, &gone);
    if (!detached) o = rp_ptrmap_find(&g->objs, ptr);
    if (!detached && !o) return 1;
    const rp_obj_t *const ob = detached ? &gone : o;
    rp_site_t *s = &g->sites[ob->stack]; /* exists: created when the block was */
    s->frees++;
    if (!detached) { /* a detached block's bytes left live when its address was taken */
        touch(g, s);
        s->live -= o->size;
        s->live_n--;
        g->live -= o->size;
        g->live_n--;
    }
    uint64_t const life = now > ob->t_alloc ? now - ob->t_alloc : 0;
    g->life_n[hist_bucket(life)]++;
    if (temporary) {
        g->temporary++;
        g->temp_life_ns += life;
        s->temporary++;
    }
    if (o) rp_ptrmap_remove(&g->objs, o);
    return 0;
}

static int allocate(rp_agg_t *g, rp_thread_t *t, size_t ti, const tr_event_t *ev, rp_bucket_t *b) {
    uint64_t const size = rp_requested(ev);
    rp_site_t *s = site(g, ev->stack);
    if (!s) return -1;
    g->alloc_calls++;
    g->alloc_ops[ev->op]++;
    b->allocs++;
    b->tallocs[ti < RP_MAX_THREADS ? ti : RP_MAX_THREADS]++;
    t->allocs++;
    s->calls++;
    if (!ev->ret) { g->failed_allocs++; return 0; }
    g->alloc_bytes += size;
    b->alloc_bytes += size;
    s->bytes += size;
    g->size_n[hist_bucket(size)]++;
    g->size_b[hist_bucket(size)] += size;
    int existed;
    rp_obj_t *o = rp_ptrmap_insert(&g->objs, ev->ret, &existed);
    if (!o) return -1;
    if (existed) { /* address reused without a free we saw: the old block is gone, */
        if (g->ndet == RP_DETACHED) { /* its free lost, or a realloc's still to come */
            memmove(&g->det[0], &g->det[1], (RP_DETACHED - 1) * sizeof g->det[0]);
            g->ndet--;
        }
        g->det[g->ndet++] = (rp_detached_t){ *o, ev->seq };
        rp_site_t *os = &g->sites[o->stack];
        touch(g, os);
        os->live -= o->size;
        os->live_n--;
        g->live -= o->size;
        g->live_n--;
    }
    o->size = size;
    o->t_alloc = ev->t_ns;
    o->stack = ev->stack;
    o->tid = ev->tid;
    touch(g, s);
    s->live += size;
    s->live_n++;
    if (s->live > s->max_live) s->max_live = s->live;
    g->live += size;
    g->live_n++;
    t->last_alloc = ev->ret;
    if (g->live > g->peak) {
        g->peak = g->live;
        g->peak_n = g->live_n;
        g->peak_seq = ev->seq;
        g->peak_t = ev->t_ns;
        g->peak_idx = g->events;
    }
    return 0;
}

/* Greatest common divisor of a and b (b > 0). */
static uint64_t gcd(uint64_t a, uint64_t b) {
    while (a) { uint64_t const t = b % a; b = a; a = t; }
    return b;
}

int rp_agg_event(rp_agg_t *g, const tr_event_t *ev) {
    /* the times' resolution: one division per event once it is found */
    if (ev->t_ns && g->time_res != 1 && (!g->time_res || ev->t_ns % g->time_res))
        g->time_res = g->time_res ? gcd(g->time_res, ev->t_ns) : ev->t_ns;
    if (g->events++ == 0) g->first_t = ev->t_ns;
    if (ev->t_ns > g->last_t) g->last_t = ev->t_ns;
    g->ops[ev->op]++;
    size_t ti;
    rp_thread_t *t = thread(g, ev->tid, &ti);
    if (!t) return -1;
    t->events++;
    rp_bucket_t *b = bucket(g, g->tl, &g->tl_width, ev->t_ns > g->first_t ? ev->t_ns - g->first_t : 0);
    rp_bucket_t *bo = bucket(g, g->tlo, &g->tlo_width, g->events - 1);
    uint64_t const allocs0 = g->alloc_calls, frees0 = g->frees, bytes0 = g->alloc_bytes;
    if (ev->op == TR_OP_FREE) {
        if (ev->a) g->unknown_frees += release(g, t, ev->a, ev->seq, ev->t_ns, b);
        else g->free_null++;
    } else if (ev->op == TR_OP_REALLOC || ev->op == TR_OP_REALLOCARRAY) {
        /* glibc: realloc(p, 0) frees p and returns NULL: a free call, not an
         * allocation call. A failed realloc keeps p; realloc(NULL, n) is malloc(n)
         * (NULL from it, n = 0 included, is a failed allocation, as from malloc). */
        int const failed = ev->ret == 0 && rp_requested(ev) != 0;
        int const frees_only = ev->ret == 0 && !failed && ev->a;
        if (ev->a && !failed && release(g, t, ev->a, ev->release_seq, ev->t_ns, b)) {
            if (frees_only) g->unknown_frees++; /* a free call */
            else g->unknown_reallocs++;
        }
        if (frees_only) g->realloc_frees++;
        else if (allocate(g, t, ti, ev, b) < 0) return -1;
    } else if (tr_op_allocates(ev->op)) {
        if (allocate(g, t, ti, ev, b) < 0) return -1;
    }
    if (g->live > b->live_max) b->live_max = g->live;
    b->live_end = g->live;
    /* the event-count timeline gets the same changes */
    bo->allocs += g->alloc_calls - allocs0;
    bo->tallocs[ti < RP_MAX_THREADS ? ti : RP_MAX_THREADS] += g->alloc_calls - allocs0;
    bo->frees += g->frees - frees0;
    bo->alloc_bytes += g->alloc_bytes - bytes0;
    if (g->live > bo->live_max) bo->live_max = g->live;
    bo->live_end = g->live;
    return 0;
}
