/* sizeclass.c - slab model of a size-class allocator (sim_model_sizeclass).
 *
 * Every request is rounded to its class (classes.c). A slab class keeps
 * slabs of sim_slab_bytes: an object goes into the lowest-numbered slab of
 * its class that has a free slot (jemalloc's policy: oldest/lowest first), a
 * new slab is taken when all are full, and a slab is returned as soon as it
 * holds no object. Objects never move. Larger classes get their own pages
 * (sim_large_bytes), returned on free. A realloc within the same class stays
 * in place.
 *
 * footprint = held slabs + large objects' pages. Not modelled: per-thread
 * caches, arenas, retained/dirty pages and their decay, metadata (extent
 * headers, page maps): the real footprint is higher and drops later than
 * this one, so this is the allocator's best case for its class layout.
 */
#include "hbs.h"
#include "ids.h"
#include "sim.h"

#include <string.h>

#define MAXCLS 128
#define LARGE 0xff

typedef struct scls_s {
    uint64_t size, slab_bytes, per_slab;
    uint32_t *live; /* per slab index: objects in it */
    uint64_t nslabs, cap;
    hbs_t nonfull;  /* held slabs with a free slot */
    hbs_t unused;   /* slab indices released, reused lowest first */
} scls_t;

typedef struct obj_s {
    uint64_t csz;  /* class bytes; 0 = not modelled or released (ids are reused) */
    uint32_t slab; /* slab index */
    uint32_t ci;   /* class index or LARGE */
} obj_t;

typedef struct sc_s {
    sim_sc_kind_t kind;
    unsigned ncls;
    scls_t cls[MAXCLS];
    uint8_t small_idx[513]; /* class index by (n + 7) >> 3, n <= 4096 */
    uint64_t slab_max;      /* largest slab class */
    uint64_t footprint, class_bytes;
    obj_t *obj;      /* per id, one cache line fetch */
    uint64_t cap;
} sc_t;

static unsigned class_index(const sc_t *s, uint64_t c)
{
    if (c <= 4096)
        return s->small_idx[(c + 7) >> 3];
    unsigned lo = 0, hi = s->ncls - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (s->cls[mid].size >= c)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The class (bytes) of a request: one table load up to 4 KiB. */
static inline uint64_t class_of(const sc_t *s, uint64_t n)
{
    return n <= 4096 ? s->cls[s->small_idx[(n + 7) >> 3]].size : sim_class_size(s->kind, n);
}

static uint64_t request_of(const sim_req_t *r)
{
    uint64_t n = r->size, a = r->align;
    if (r->op == TR_OP_VALLOC || r->op == TR_OP_PVALLOC)
        a = 4096;
    if (a > 1)
        n = n ? (n + a - 1) / a * a : a;
    return n;
}

static void release(sc_t *s, uint32_t id)
{
    if (id >= s->cap || !s->obj[id].csz)
        return;
    obj_t *o = &s->obj[id];
    uint64_t csz = o->csz;
    o->csz = 0;
    s->class_bytes -= csz;
    if (o->ci == LARGE) {
        s->footprint -= sim_large_bytes(s->kind, csz);
        return;
    }
    scls_t *c = &s->cls[o->ci];
    uint32_t sl = o->slab;
    if (--c->live[sl] == 0) {
        hbs_clear(&c->nonfull, sl);
        hbs_set(&c->unused, sl);
        s->footprint -= c->slab_bytes;
    } else {
        hbs_set(&c->nonfull, sl);
    }
}

static int alloc(sc_t *s, uint32_t id, uint64_t n)
{
    if (ids_fit((void **)&s->obj, &s->cap, id, sizeof *s->obj))
        return -1;
    obj_t *o = &s->obj[id];
    uint64_t cz;
    unsigned k;
    if (n <= 4096) { /* the common case: one table load (classes are multiples of 8) */
        k = s->small_idx[(n + 7) >> 3];
        cz = s->cls[k].size;
    } else {
        cz = sim_class_size(s->kind, n);
        if (cz > s->slab_max) {
            o->csz = cz;
            o->ci = LARGE;
            s->class_bytes += cz;
            s->footprint += sim_large_bytes(s->kind, cz);
            return 0;
        }
        k = class_index(s, cz);
    }
    o->csz = 0; /* not modelled unless a slot is found below (out of memory) */
    scls_t *c = &s->cls[k];
    uint64_t sl = hbs_first(&c->nonfull);
    if (sl == UINT64_MAX) { /* a new slab */
        sl = hbs_first(&c->unused);
        if (sl != UINT64_MAX) {
            hbs_clear(&c->unused, sl);
        } else {
            if (c->nslabs == c->cap) {
                uint64_t cap = c->cap ? 2 * c->cap : 64;
                uint32_t *l = realloc(c->live, cap * 4);
                if (!l)
                    return -1;
                c->live = l; /* the old array is gone either way */
                if (hbs_reserve(&c->nonfull, cap) || hbs_reserve(&c->unused, cap))
                    return -1;
                c->cap = cap;
            }
            sl = c->nslabs++;
            c->live[sl] = 0;
        }
        s->footprint += c->slab_bytes;
    }
    if (++c->live[sl] == c->per_slab)
        hbs_clear(&c->nonfull, sl);
    else
        hbs_set(&c->nonfull, sl);
    o->ci = k;
    o->slab = (uint32_t)sl;
    o->csz = cz;
    s->class_bytes += cz;
    return 0;
}

static void sc_step(void *o, const sim_req_t *r)
{
    sc_t *s = o;
    switch (r->op) {
    case TR_OP_FREE:
        release(s, r->old_id);
        return;
    case TR_OP_REALLOC:
    case TR_OP_REALLOCARRAY:
        if (r->old_id != SIM_NO_ID && r->id != SIM_NO_ID && r->old_id < s->cap &&
            !ids_fit((void **)&s->obj, &s->cap, r->id, sizeof *s->obj) &&
            class_of(s, r->size) == s->obj[r->old_id].csz) { /* same class: in place */
            s->obj[r->id] = s->obj[r->old_id];
            s->obj[r->old_id].csz = 0;
            return;
        }
        if (r->id != SIM_NO_ID) /* a moving realloc: new block first, then copy, free */
            alloc(s, r->id, r->size);
        if (r->old_id != SIM_NO_ID)
            release(s, r->old_id);
        return;
    case TR_OP_MALLOC:
    case TR_OP_CALLOC:
    case TR_OP_MEMALIGN:
    case TR_OP_POSIX_MEMALIGN:
    case TR_OP_ALIGNED_ALLOC:
    case TR_OP_VALLOC:
    case TR_OP_PVALLOC:
        alloc(s, r->id, request_of(r));
        return;
    default:
        return;
    }
}

static void sc_prefetch(void *o, uint32_t id)
{
    sc_t *s = o;
    if (id < s->cap)
        __builtin_prefetch(&s->obj[id]);
}

static uint64_t sc_footprint(void *o) { return ((sc_t *)o)->footprint; }

static void sc_stats(void *o, sim_stats_t *st)
{
    sc_t *s = o;
    st->footprint = s->footprint;
    st->class_bytes = s->class_bytes;
    st->free_bytes = s->footprint - s->class_bytes;
    st->largest_free = 0;
    for (unsigned k = s->ncls; k-- > 0;)
        if (s->cls[k].nonfull.count) {
            st->largest_free = s->cls[k].size;
            break;
        }
}

static void sc_report(void *o, FILE *f, int json)
{
    sc_t *s = o;
    uint64_t slabs = 0;
    for (unsigned k = 0; k < s->ncls; k++)
        slabs += s->cls[k].nslabs - s->cls[k].unused.count;
    if (json)
        fprintf(f, ",\n   \"classes\": %u, \"largest_slab_class\": %llu, \"final_slabs\": %llu", s->ncls,
                (unsigned long long)s->slab_max, (unsigned long long)slabs);
}

static void sc_destroy(void *o)
{
    sc_t *s = o;
    for (unsigned k = 0; k < s->ncls; k++) {
        free(s->cls[k].live);
        hbs_free(&s->cls[k].nonfull);
        hbs_free(&s->cls[k].unused);
    }
    ids_free(s->obj, s->cap, sizeof *s->obj);
    free(s);
}

static const char *const names[] = { "jemalloc", "tcmalloc", "mimalloc" };

int sim_model_sizeclass(sim_model_t *m, sim_sc_kind_t kind, char *err, size_t errlen)
{
    sc_t *s = sim_zalloc_lines(sizeof *s);
    if (!s || kind > SIM_MIMALLOC) {
        free(s);
        snprintf(err, errlen, kind > SIM_MIMALLOC ? "unknown size-class model" : "out of memory");
        return -1;
    }
    s->kind = kind;
    for (uint64_t n = 1;;) {
        int slab;
        uint64_t c = sim_class_size(kind, n);
        uint64_t sb = sim_slab_bytes(kind, c, &slab);
        if (!slab || s->ncls == MAXCLS)
            break;
        s->cls[s->ncls++] = (scls_t){ .size = c, .slab_bytes = sb, .per_slab = sb / c };
        s->slab_max = c;
        n = c + 1;
    }
    for (unsigned i = 0, k = 0; i <= 512; i++) {
        uint64_t n = i ? (uint64_t)i * 8 : 1;
        while (k + 1 < s->ncls && s->cls[k].size < n)
            k++;
        s->small_idx[i] = (uint8_t)k;
    }
    memset(m, 0, sizeof *m);
    m->name = names[kind];
    m->opaque = s;
    m->step = sc_step;
    m->footprint = sc_footprint;
    m->stats = sc_stats;
    m->report = sc_report;
    m->destroy = sc_destroy;
    m->prefetch = sc_prefetch;
    m->cost = 10; /* ~60 instructions, and a cache miss on its per-id slot */
    return 0;
}
