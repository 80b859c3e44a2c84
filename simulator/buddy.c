/* buddy.c - binary buddy allocator model (sim_model_buddy in sim.h).
 *
 * Blocks are min << k bytes, k = 0..max_order, naturally aligned inside
 * "zones" of min << max_order bytes. A request takes a block of the smallest
 * order that holds max(size, align): among the free blocks of the smallest
 * order that has one, the lowest address; a larger block is split, the upper
 * halves going free. A freed block merges with its free buddy, order by
 * order. A zone that becomes wholly free is returned (it no longer counts in
 * the footprint, nor as a free block); a new zone is taken when no free
 * block is large enough. A request larger than a zone takes whole zones of
 * its own, returned on free.
 *
 * Free blocks of each order are one bit per position in a hierarchical
 * bitset (hbs.h): "lowest free block" is a few word operations.
 */
#include "hbs.h"
#include "ids.h"
#include "sim.h"

#include <string.h>

typedef struct bobj_s {
    uint64_t where; /* position at its order, or zone count (large) */
    uint64_t order; /* 0..maxo, LARGE; | BLIVE while the object holds it */
} bobj_t;
/* Set in a modelled object's entry, cleared when it is released: an id whose
 * allocation could not be modelled (out of memory, no block) or was already
 * released never gives a block back (ids are reused). */
#define BLIVE (1ull << 63)

typedef struct buddy_s {
    unsigned lgmin, maxo;
    hbs_t free[SIM_BUDDY_MAX_ORDERS]; /* by order: position = offset >> (lgmin + k) */
    uint64_t nzones;
    uint64_t large_bytes, class_bytes;
    bobj_t *obj; /* per id */
    uint64_t cap;
    uint64_t peak_nr_free[SIM_BUDDY_MAX_ORDERS];
} buddy_t;

#define LARGE 0xff

static inline uint64_t zone_bytes(const buddy_t *b) { return (uint64_t)1 << (b->lgmin + b->maxo); }

static uint64_t buddy_footprint(void *o)
{
    buddy_t *b = o;
    return (b->nzones - b->free[b->maxo].count) * zone_bytes(b) + b->large_bytes;
}

static int add_zone(buddy_t *b)
{
    uint64_t z = b->nzones + 1;
    for (unsigned k = 0; k <= b->maxo; k++)
        if (hbs_reserve(&b->free[k], z << (b->maxo - k)))
            return -1;
    hbs_set(&b->free[b->maxo], b->nzones);
    b->nzones = z;
    return 0;
}

/* Takes a block of order k; returns its position at order k, or UINT64_MAX. */
static uint64_t take(buddy_t *b, unsigned k)
{
    unsigned j = k;
    while (j <= b->maxo && !b->free[j].count)
        j++;
    if (j > b->maxo) {
        if (add_zone(b))
            return UINT64_MAX;
        j = b->maxo;
    }
    uint64_t pos = hbs_first(&b->free[j]);
    hbs_clear(&b->free[j], pos);
    while (j > k) { /* split: keep the lower half, free the upper */
        j--;
        pos *= 2;
        hbs_set(&b->free[j], pos + 1);
    }
    return pos;
}

static void give(buddy_t *b, uint64_t pos, unsigned k)
{
    while (k < b->maxo && hbs_test(&b->free[k], pos ^ 1)) {
        hbs_clear(&b->free[k], pos ^ 1);
        pos >>= 1;
        k++;
    }
    hbs_set(&b->free[k], pos);
}

static unsigned order_of(const buddy_t *b, uint64_t n)
{
    if (n <= (1ull << b->lgmin))
        return 0;
    unsigned lg = 64 - (unsigned)__builtin_clzll(n - 1); /* ceil(log2 n) */
    unsigned k = lg - b->lgmin;
    return k > b->maxo ? LARGE : k;
}

static int fit(buddy_t *b, uint32_t id)
{
    return ids_fit((void **)&b->obj, &b->cap, id, sizeof *b->obj);
}

static void release(buddy_t *b, uint32_t id)
{
    if (id >= b->cap || !(b->obj[id].order & BLIVE))
        return;
    bobj_t *o = &b->obj[id];
    uint64_t order = o->order & ~BLIVE;
    if (order == LARGE) {
        b->large_bytes -= o->where * zone_bytes(b);
        b->class_bytes -= o->where * zone_bytes(b);
    } else {
        give(b, o->where, (unsigned)order);
        b->class_bytes -= (1ull << b->lgmin) << order;
    }
    o->order = 0;
}

static void alloc(buddy_t *b, uint32_t id, uint64_t n)
{
    if (fit(b, id))
        return; /* out of memory: the object is not modelled */
    unsigned k = order_of(b, n);
    if (k == LARGE) {
        uint64_t z = (n + zone_bytes(b) - 1) / zone_bytes(b);
        b->obj[id] = (bobj_t){ z, LARGE | BLIVE };
        b->large_bytes += z * zone_bytes(b);
        b->class_bytes += z * zone_bytes(b);
        return;
    }
    uint64_t pos = take(b, k);
    if (pos == UINT64_MAX) {
        b->obj[id].order = 0; /* not modelled */
        return;
    }
    b->obj[id] = (bobj_t){ pos, k | BLIVE };
    b->class_bytes += (1ull << b->lgmin) << k;
}

static void buddy_step(void *o, const sim_req_t *r)
{
    buddy_t *b = o;
    uint64_t n = r->size;
    if (r->align > n)
        n = r->align;
    switch (r->op) {
    case TR_OP_FREE:
        release(b, r->old_id);
        return;
    case TR_OP_REALLOC:
    case TR_OP_REALLOCARRAY:
        if (r->old_id != SIM_NO_ID && r->id != SIM_NO_ID && r->old_id < b->cap && !fit(b, r->id) &&
            b->obj[r->old_id].order != (LARGE | BLIVE) &&
            (order_of(b, n) | BLIVE) == b->obj[r->old_id].order) { /* live, same block: stays in place */
            b->obj[r->id] = b->obj[r->old_id];
            b->obj[r->old_id].order = 0;
            return;
        }
        if (r->id != SIM_NO_ID) /* a moving realloc: new block first, then copy, free */
            alloc(b, r->id, n);
        if (r->old_id != SIM_NO_ID)
            release(b, r->old_id);
        return;
    case TR_OP_MALLOC:
    case TR_OP_CALLOC:
    case TR_OP_MEMALIGN:
    case TR_OP_POSIX_MEMALIGN:
    case TR_OP_ALIGNED_ALLOC:
    case TR_OP_VALLOC:
    case TR_OP_PVALLOC:
        if (r->op == TR_OP_VALLOC || r->op == TR_OP_PVALLOC)
            n = n < 4096 ? 4096 : (n + 4095) & ~4095ull;
        alloc(b, r->id, n);
        return;
    default:
        return;
    }
}

static void buddy_prefetch(void *o, uint32_t id)
{
    buddy_t *b = o;
    if (id < b->cap)
        __builtin_prefetch(&b->obj[id]);
}

static void nr_free(const buddy_t *b, uint64_t *nf)
{
    for (unsigned k = 0; k < b->maxo; k++)
        nf[k] = b->free[k].count;
    nf[b->maxo] = 0; /* wholly free zones are returned */
}

static void buddy_stats(void *o, sim_stats_t *st)
{
    buddy_t *b = o;
    st->footprint = buddy_footprint(b);
    st->class_bytes = b->class_bytes;
    st->free_bytes = st->footprint - b->class_bytes;
    st->largest_free = 0;
    for (unsigned k = b->maxo; k-- > 0;)
        if (b->free[k].count) {
            st->largest_free = (1ull << b->lgmin) << k;
            break;
        }
}

static void buddy_at_peak(void *o)
{
    buddy_t *b = o;
    nr_free(b, b->peak_nr_free);
}

static void print_orders(const buddy_t *b, FILE *f, const uint64_t *nf, const char *what)
{
    unsigned n = b->maxo + 1;
    fprintf(f, "  buddy free blocks per order (%s; min block %llu B):\n", what,
            (unsigned long long)(1ull << b->lgmin));
    fprintf(f, "    %5s %12s %10s %9s %9s\n", "order", "block", "nr_free", "unusable", "fragidx");
    for (unsigned k = 0; k < n; k++)
        fprintf(f, "    %5u %12llu %10llu %9.3f %9.3f\n", k,
                (unsigned long long)((1ull << b->lgmin) << k), (unsigned long long)nf[k],
                sim_unusable_index(nf, n, k), sim_frag_index(nf, n, k));
}

static void json_orders(const buddy_t *b, FILE *f, const uint64_t *nf, const char *key)
{
    unsigned n = b->maxo + 1;
    fprintf(f, "\"%s\": {\"nr_free\": [", key);
    for (unsigned k = 0; k < n; k++)
        fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)nf[k]);
    fprintf(f, "], \"unusable_index\": [");
    for (unsigned k = 0; k < n; k++)
        fprintf(f, "%s%.4f", k ? ", " : "", sim_unusable_index(nf, n, k));
    fprintf(f, "], \"fragmentation_index\": [");
    for (unsigned k = 0; k < n; k++)
        fprintf(f, "%s%.4f", k ? ", " : "", sim_frag_index(nf, n, k));
    fprintf(f, "]}");
}

static void buddy_report(void *o, FILE *f, int json)
{
    buddy_t *b = o;
    uint64_t nf[SIM_BUDDY_MAX_ORDERS];
    nr_free(b, nf);
    if (json) {
        fprintf(f, ",\n   \"min_block\": %llu, \"max_order\": %u,\n   ",
                (unsigned long long)(1ull << b->lgmin), b->maxo);
        json_orders(b, f, b->peak_nr_free, "orders_at_peak");
        fprintf(f, ",\n   ");
        json_orders(b, f, nf, "orders_final");
        return;
    }
    print_orders(b, f, b->peak_nr_free, "at peak footprint");
    print_orders(b, f, nf, "final");
}

static void buddy_destroy(void *o)
{
    buddy_t *b = o;
    for (unsigned k = 0; k < SIM_BUDDY_MAX_ORDERS; k++)
        hbs_free(&b->free[k]);
    ids_free(b->obj, b->cap, sizeof *b->obj);
    free(b);
}

unsigned sim_buddy_nr_free(const sim_model_t *m, uint64_t *nf)
{
    const buddy_t *b = m->opaque;
    nr_free(b, nf);
    return b->maxo + 1;
}

double sim_unusable_index(const uint64_t *nf, unsigned n, unsigned k)
{
    uint64_t free_pages = 0, suitable = 0;
    for (unsigned o = 0; o < n; o++) {
        free_pages += nf[o] << o;
        if (o >= k)
            suitable += nf[o] << (o - k);
    }
    if (!free_pages)
        return 1.0;
    return (double)(free_pages - (suitable << k)) / (double)free_pages;
}

double sim_frag_index(const uint64_t *nf, unsigned n, unsigned k)
{
    uint64_t free_pages = 0, total = 0, suitable = 0;
    for (unsigned o = 0; o < n; o++) {
        free_pages += nf[o] << o;
        total += nf[o];
        if (o >= k)
            suitable += nf[o];
    }
    if (!total)
        return 0.0;
    if (suitable)
        return -1.0;
    return 1.0 - (1.0 + (double)free_pages / (double)(1ull << k)) / (double)total;
}

int sim_buddy_check(uint64_t min_block, uint64_t max_order, char *err, size_t errlen)
{
    if (min_block < 16 || min_block > 4096 || (min_block & (min_block - 1))) {
        snprintf(err, errlen, "--buddy-min %llu: expected a power of two in 16..4096",
                 (unsigned long long)min_block);
        return -1;
    }
    unsigned lgmin = (unsigned)__builtin_ctzll(min_block);
    if (max_order >= SIM_BUDDY_MAX_ORDERS || lgmin + max_order > 40) {
        snprintf(err, errlen, "--buddy-max-order %llu: expected 0..%u with --buddy-min %llu",
                 (unsigned long long)max_order,
                 40 - lgmin < SIM_BUDDY_MAX_ORDERS - 1 ? 40 - lgmin : SIM_BUDDY_MAX_ORDERS - 1,
                 (unsigned long long)min_block);
        return -1;
    }
    return 0;
}

int sim_model_buddy(sim_model_t *m, uint64_t min_block, unsigned max_order, char *err,
                    size_t errlen)
{
    if (sim_buddy_check(min_block, max_order, err, errlen))
        return -1;
    unsigned lgmin = (unsigned)__builtin_ctzll(min_block);
    buddy_t *b = sim_zalloc_lines(sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->lgmin = lgmin;
    b->maxo = max_order;
    memset(m, 0, sizeof *m);
    m->name = "buddy";
    m->opaque = b;
    m->step = buddy_step;
    m->footprint = buddy_footprint;
    m->prefetch = buddy_prefetch;
    m->cost = 14;
    m->stats = buddy_stats;
    m->at_peak = buddy_at_peak;
    m->report = buddy_report;
    m->destroy = buddy_destroy;
    return 0;
}
