/* pmodel.c - the ptmalloc2 model as a sim_model_t: an adapter over the exact
 * glibc 2.36 model of ptmalloc2/ (pm_* handle API, no hashing), with the
 * tunables of the trace's environment and of --tune.
 *
 * Built without the model (no simulator/ptmalloc2/) sim_model_ptmalloc2
 * fails with a message, and everything else works.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#ifndef SIM_HAVE_PTMALLOC2

int sim_have_ptmalloc2(void) { return 0; }
int sim_model_ptmalloc2(sim_model_t *m, const char *const *env, size_t nenv, const char *tune,
                        int serial, unsigned ncpu, char *err, size_t errlen)
{
    (void)m, (void)env, (void)nenv, (void)tune, (void)serial, (void)ncpu;
    snprintf(err, errlen, "this build has no ptmalloc2 model");
    return -1;
}
int sim_ptmalloc2_tune_check(const char *tune, char *err, size_t errlen)
{
    (void)tune, (void)err, (void)errlen;
    return 0;
}

#else

#include "ids.h"
#include "ptmalloc2.h"

typedef struct pmod_s {
    pm_heap_t *h;
    pm_chunk_t **chunk; /* per id */
    uint64_t cap;
    int serial;
    uint32_t tid;  /* the model's current thread */
    int have_tid;
    pm_bins_t peak_bins;
    const pm_contention_t *cont;
    uint64_t cont_sum;                      /* reused_arenas + remote_ops seen so far */
    uint64_t first_reused, first_remote;    /* op counts (0 = never) */
} pmod_t;

static void put(pmod_t *p, uint32_t id, pm_chunk_t *c)
{
    if (id == SIM_NO_ID) {
        if (c) /* the trace's call failed, the model's did not: undo */
            pm_undo_c(p->h, c);
        return;
    }
    if (ids_fit((void **)&p->chunk, &p->cap, id, sizeof *p->chunk)) {
        if (c)
            pm_free_c(p->h, c);
        return;
    }
    p->chunk[id] = c;
}

static pm_chunk_t *take(pmod_t *p, uint32_t id)
{
    if (id == SIM_NO_ID || id >= p->cap || !p->chunk[id])
        return NULL;
    pm_chunk_t *c = p->chunk[id];
    p->chunk[id] = NULL;
    return c;
}

static void step_op(pmod_t *p, const sim_req_t *r);

static void pm_step(void *o, const sim_req_t *r)
{
    pmod_t *p = o;
    step_op(p, r);
    const pm_contention_t *c = p->cont;
    if (__builtin_expect(c->reused_arenas + c->remote_ops != p->cont_sum, 0)) {
        if (c->reused_arenas && !p->first_reused)
            p->first_reused = r->n;
        if (c->remote_ops && !p->first_remote)
            p->first_remote = r->n;
        p->cont_sum = c->reused_arenas + c->remote_ops;
    }
}

static void step_op(pmod_t *p, const sim_req_t *r)
{
    pm_heap_t *h = p->h;
    if (!p->serial && (r->tid != p->tid || !p->have_tid)) {
        pm_set_thread(h, r->tid);
        p->tid = r->tid;
        p->have_tid = 1;
    }
    switch (r->op) {
    case TR_OP_MALLOC:
        put(p, r->id, pm_malloc_c(h, r->size));
        return;
    case TR_OP_FREE: {
        pm_chunk_t *c = take(p, r->old_id);
        if (c)
            pm_free_c(h, c);
        return;
    }
    case TR_OP_CALLOC:
        put(p, r->id, pm_calloc_c(h, r->nmemb, r->nmemb ? r->size / r->nmemb : 0));
        return;
    case TR_OP_REALLOC:
    case TR_OP_REALLOCARRAY: {
        pm_chunk_t *c = take(p, r->old_id);
        if (r->old_id != SIM_NO_ID && !c) /* the model lost it: plain malloc */
            c = NULL;
        put(p, r->id, pm_realloc_c(h, c, r->size));
        return;
    }
    case TR_OP_MEMALIGN:
    case TR_OP_ALIGNED_ALLOC:
        put(p, r->id, pm_memalign_c(h, r->align, r->size));
        return;
    case TR_OP_POSIX_MEMALIGN: {
        pm_chunk_t *c = NULL;
        if (pm_posix_memalign_c(h, &c, r->align, r->size))
            c = NULL;
        put(p, r->id, c);
        return;
    }
    case TR_OP_VALLOC:
        put(p, r->id, pm_valloc_c(h, r->size));
        return;
    case TR_OP_PVALLOC:
        put(p, r->id, pm_pvalloc_c(h, r->size));
        return;
    case TR_OP_MALLOPT:
        pm_mallopt(h, (int)r->param, (int)r->value);
        return;
    case TR_OP_MALLOC_TRIM:
        pm_malloc_trim(h, (size_t)r->value);
        return;
    case TR_OP_THREAD_EXIT:
        if (!p->serial) {
            pm_thread_exit(h, r->tid);
            p->have_tid = 0; /* the tid may start a new thread */
        }
        return;
    default:
        return;
    }
}

static void pm_prefetch(void *o, uint32_t id)
{
    pmod_t *p = o;
    if (id < p->cap && p->chunk[id]) { /* a record may straddle two lines */
        __builtin_prefetch(p->chunk[id]);
        __builtin_prefetch((const char *)p->chunk[id] + 71);
    }
}

static void pm_prefetch_id(void *o, uint32_t id)
{
    pmod_t *p = o;
    if (id < p->cap)
        __builtin_prefetch(&p->chunk[id]);
}

static uint64_t pm_fp(void *o) { return pm_footprint(((pmod_t *)o)->h); }

static void pm_stats(void *o, sim_stats_t *st)
{
    pmod_t *p = o;
    pm_mallinfo_t mi;
    pm_bins_t b;
    pm_mallinfo2(p->h, &mi);
    pm_bins(p->h, &b);
    st->footprint = mi.arena + mi.hblkhd;
    /* in use: every chunk not free in a bin, a fastbin, top or the tcache:
     * the live objects' chunks with their headers and rounding, plus the
     * per-thread tcache structs (allocator overhead too) */
    st->class_bytes = mi.uordblks + mi.hblkhd - b.tcache_bytes;
    st->free_bytes = mi.fordblks + b.tcache_bytes;
    st->largest_free = b.largest_free;
}

static void pm_at_peak(void *o)
{
    pmod_t *p = o;
    pm_bins(p->h, &p->peak_bins);
}

static void pm_mi(void *o, uint64_t out[5])
{
    pm_mallinfo_t mi;
    pm_mallinfo2(((pmod_t *)o)->h, &mi);
    out[0] = mi.arena;
    out[1] = mi.hblkhd;
    out[2] = mi.uordblks;
    out[3] = mi.fordblks;
    out[4] = mi.keepcost;
}

#define U(x) ((unsigned long long)(x))

static void bins_json(FILE *f, const char *key, const pm_bins_t *b)
{
    fprintf(f,
            "\"%s\": {\"tcache\": {\"chunks\": %llu, \"bytes\": %llu}, "
            "\"fastbins\": {\"chunks\": %llu, \"bytes\": %llu}, "
            "\"unsorted\": {\"chunks\": %llu, \"bytes\": %llu}, "
            "\"small\": {\"chunks\": %llu, \"bytes\": %llu}, "
            "\"large\": {\"chunks\": %llu, \"bytes\": %llu}, \"top\": {\"bytes\": %llu}, "
            "\"mmapped\": {\"chunks\": %llu, \"bytes\": %llu}, \"largest_free\": %llu, "
            "\"arenas\": %llu}",
            key, U(b->tcache_chunks), U(b->tcache_bytes), U(b->fast_chunks), U(b->fast_bytes),
            U(b->unsorted_chunks), U(b->unsorted_bytes), U(b->small_chunks), U(b->small_bytes),
            U(b->large_chunks), U(b->large_bytes), U(b->top_bytes), U(b->mmapped_chunks),
            U(b->mmapped_bytes), U(b->largest_free), U(b->arenas));
}

static void pm_report(void *o, FILE *f, int json)
{
    pmod_t *p = o;
    pm_bins_t fin;
    pm_bins(p->h, &fin);
    const pm_contention_t *c = p->cont;
    if (json) {
        fprintf(f, ",\n   \"bins\": {");
        bins_json(f, "peak", &p->peak_bins);
        fprintf(f, ",\n            ");
        bins_json(f, "final", &fin);
        fprintf(f, "},\n   \"threads\": {\"seen\": %llu, \"serial\": %s, \"ncpu\": %llu, \"arenas\": %llu, "
                   "\"reused_arena_calls\": %llu, \"first_reused_arena_op\": %llu, "
                   "\"remote_arena_ops\": %llu, \"first_remote_arena_op\": %llu, "
                   "\"contention_independent\": %s}",
                U(c->threads), p->serial ? "true" : "false", U(c->ncpu), U(fin.arenas),
                U(c->reused_arenas),
                U(p->first_reused), U(c->remote_ops), U(p->first_remote),
                c->reused_arenas || c->remote_ops ? "false" : "true");
        return;
    }
    const pm_bins_t *b[2] = { &p->peak_bins, &fin };
    fprintf(f, "  ptmalloc2 free memory by bin:\n");
    fprintf(f, "    %-10s %21s   %21s\n", "", "at peak footprint", "final");
    fprintf(f, "    %-10s %8s %12s   %8s %12s\n", "bin", "chunks", "bytes", "chunks", "bytes");
#define ROW(name, c, by)                                                                           \
    fprintf(f, "    %-10s %8llu %12llu   %8llu %12llu\n", name, U(b[0]->c), U(b[0]->by), U(b[1]->c), \
            U(b[1]->by))
    ROW("tcache", tcache_chunks, tcache_bytes);
    ROW("fastbins", fast_chunks, fast_bytes);
    ROW("unsorted", unsorted_chunks, unsorted_bytes);
    ROW("small", small_chunks, small_bytes);
    ROW("large", large_chunks, large_bytes);
    ROW("top", arenas, top_bytes);
    ROW("mmapped", mmapped_chunks, mmapped_bytes);
#undef ROW
    fprintf(f, "    (top: chunks = arenas; mmapped: in use, not free)\n");
    if (p->serial || c->threads <= 1)
        return;
    fprintf(f, "  ptmalloc2 threads: %llu in the trace, %llu arenas (limit 8 x %llu CPUs unless arena_max)\n",
            U(c->threads), U(fin.arenas), U(c->ncpu));
    if (!c->reused_arenas && !c->remote_ops) {
        fprintf(f, "    every thread had an arena of its own or a free one and no call reached\n"
                   "    another thread's arena: each arena sees the trace's order of calls under any\n"
                   "    interleaving, so final figures do not depend on lock contention (the peak,\n"
                   "    a sum over arenas at one moment, follows the trace's interleaving)\n");
        return;
    }
    fprintf(f, "    where a contended real run may differ (glibc's choice depends on lock contention,\n"
               "    which no trace records; the model takes the uncontended outcome):\n");
    if (c->reused_arenas)
        fprintf(f, "    - %llu threads found the arena limit reached (first at op %llu): glibc's\n"
                   "      reused_arena takes the first arena it can trylock, the model the next in\n"
                   "      round-robin order; from there per-arena figures and footprint may differ\n",
                U(c->reused_arenas), U(p->first_reused));
    if (c->remote_ops)
        fprintf(f, "    - %llu frees/reallocs reached another thread's arena (first at op %llu): a\n"
                   "      contended run may order them against that thread's own calls differently\n"
                   "      than the trace; chunk placement in that arena may then differ\n",
                U(c->remote_ops), U(p->first_remote));
}

static void pmod_destroy(void *o)
{
    pmod_t *p = o;
    pm_destroy(p->h);
    ids_free(p->chunk, p->cap, sizeof *p->chunk);
    free(p);
}

int sim_have_ptmalloc2(void) { return 1; }

/* glibc's environment aliases of the malloc tunables */
static const char *const alias[][2] = {
    { "MALLOC_ARENA_MAX", "arena_max" },           { "MALLOC_ARENA_TEST", "arena_test" },
    { "MALLOC_MMAP_THRESHOLD_", "mmap_threshold" }, { "MALLOC_TRIM_THRESHOLD_", "trim_threshold" },
    { "MALLOC_TOP_PAD_", "top_pad" },               { "MALLOC_MMAP_MAX_", "mmap_max" },
};

/* Applies "name=value<sep>name=value..."; names may carry "glibc.malloc."
 * (only those, or bare names when !need_prefix, are taken). */
static int apply_list(pm_config_t *cfg, const char *list, char sep, int need_prefix, char *err,
                      size_t errlen)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *it = strtok_r(buf, (char[]){ sep, 0 }, &save); it;
         it = strtok_r(NULL, (char[]){ sep, 0 }, &save)) {
        char *eq = strchr(it, '=');
        if (!eq) {
            if (need_prefix)
                continue;
            snprintf(err, errlen, "--tune %s: expected name=value", it);
            return -1;
        }
        *eq = 0;
        const char *name = it;
        if (!strncmp(name, "glibc.malloc.", 13))
            name += 13;
        else if (need_prefix || !strncmp(name, "glibc.", 6))
            continue;
        if (pm_config_set(cfg, name, eq + 1) && !need_prefix) {
            snprintf(err, errlen,
                     "--tune %s=%s: unknown tunable or bad value (mmap_threshold, trim_threshold, "
                     "top_pad, mxfast, arena_max, arena_test, tcache_count, tcache_max, mmap_max)",
                     it, eq + 1);
            return -1;
        }
    }
    return 0;
}

int sim_ptmalloc2_tune_check(const char *tune, char *err, size_t errlen)
{
    pm_config_t cfg;
    pm_config_default(&cfg);
    return apply_list(&cfg, tune, ',', 0, err, errlen);
}

int sim_model_ptmalloc2(sim_model_t *m, const char *const *env, size_t nenv, const char *tune,
                        int serial, unsigned ncpu, char *err, size_t errlen)
{
    pm_config_t cfg;
    pm_config_default(&cfg);
    cfg.ncpu = ncpu;
    for (size_t i = 0; i < nenv; i++)
        for (size_t k = 0; k < sizeof alias / sizeof alias[0]; k++) {
            size_t n = strlen(alias[k][0]);
            if (!strncmp(env[i], alias[k][0], n) && env[i][n] == '=')
                pm_config_set(&cfg, alias[k][1], env[i] + n + 1);
        }
    for (size_t i = 0; i < nenv; i++)
        if (!strncmp(env[i], "GLIBC_TUNABLES=", 15))
            apply_list(&cfg, env[i] + 15, ':', 1, err, errlen);
    if (tune && apply_list(&cfg, tune, ',', 0, err, errlen))
        return -1;
    pmod_t *p = sim_zalloc_lines(sizeof *p);
    if (!p || !(p->h = pm_create(&cfg))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->serial = serial;
    p->cont = pm_contention(p->h);
    memset(m, 0, sizeof *m);
    m->name = "ptmalloc2";
    m->opaque = p;
    m->step = pm_step;
    m->footprint = pm_fp;
    m->stats = pm_stats;
    m->at_peak = pm_at_peak;
    m->mallinfo = pm_mi;
    m->report = pm_report;
    m->destroy = pmod_destroy;
    m->prefetch = pm_prefetch;
    m->prefetch_id = pm_prefetch_id;
    m->cost = 27;
    return 0;
}

#endif
