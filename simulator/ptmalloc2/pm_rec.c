/* pm_rec.c - chunk records (slab-allocated), splitting and merging them in
 * address order, and the user-address index of the address API. */
#include "pm_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Records come from 2 MiB slabs, aligned and advised for transparent huge
 * pages: first-touch page faults were most of the model's time on traces
 * with many live chunks (one fault per 51 records with 4 KiB pages). */
#define SLAB_BYTES (2u << 20)
#define SLAB_RECS ((SLAB_BYTES - 64) / sizeof(pm_chunk_t))

struct pm_slab_s {
    pm_slab_t *next;
    size_t used;       /* records handed out so far (carved lazily) */
    pm_chunk_t recs[];
};

static pm_slab_t *slab_map(void)
{
    size_t len = 2 * (size_t)SLAB_BYTES;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (a + SLAB_BYTES < m + len)
        munmap(a + SLAB_BYTES, (size_t)(m + len - (a + SLAB_BYTES)));
#ifdef MADV_HUGEPAGE
    madvise(a, SLAB_BYTES, MADV_HUGEPAGE);
#endif
    return (pm_slab_t *)a;
}

bool pm_rec_reserve_slow(pm_heap_t *h)
{
    pm_slab_t *old = h->slabs;
    pm_slab_t *s = slab_map();
    if (!s)
        return false;
    /* the old slab's last few records go to the free list */
    while (old && old->used < SLAB_RECS)
        pm_rec_free(h, &old->recs[old->used++]);
    s->next = old;
    s->used = 0;
    h->slabs = s;
    h->slab_left = SLAB_RECS;
    return true;
}

/* Never fails: every public call that may create records first makes sure
 * PM_RESERVE of them are at hand (pm_rec_reserve). */
pm_chunk_t *pm_rec_new(pm_heap_t *h)
{
    pm_chunk_t *c = h->free_recs;
    if (c) {
        h->free_recs = c->fd;
    } else {
        pm_slab_t *s = h->slabs;
        c = &s->recs[s->used++];
        h->slab_left--;
    }
    memset(c, 0, PM_REC_BYTES);
    return c;
}

void pm_rec_free(pm_heap_t *h, pm_chunk_t *c)
{
    c->state = PM_DEAD;
    c->fd = h->free_recs;
    h->free_recs = c;
}

void pm_recs_release(pm_heap_t *h)
{
    while (h->slabs) {
        pm_slab_t *s = h->slabs;
        h->slabs = s->next;
        munmap(s, SLAB_BYTES);
    }
    h->free_recs = NULL;
}

pm_chunk_t *pm_split(pm_heap_t *h, pm_chunk_t *c, uint64_t nb)
{
    pm_chunk_t *r = pm_rec_new(h);
    r->addr = c->addr + nb;
    r->size = c->size - nb;
    r->arena = c->arena;
    c->size = nb;
    r->phys_prev = c;
    r->phys_next = c->phys_next;
    if (c->phys_next)
        c->phys_next->phys_prev = r;
    c->phys_next = r;
    return r;
}

void pm_absorb_next(pm_heap_t *h, pm_chunk_t *c)
{
    pm_chunk_t *n = c->phys_next;
    c->size += n->size;
    c->phys_next = n->phys_next;
    if (n->phys_next)
        n->phys_next->phys_prev = c;
    pm_rec_free(h, n);
}

/* ---- user address -> record (open addressing, linear probing) ------------ */
/* Keys are kept in the table next to the record pointer, so that a probe
 * never has to touch a record. */

static inline size_t ix_slot(const pm_heap_t *h, uint64_t addr)
{
    return (size_t)(((addr >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (h->ix_cap - 1);
}

static bool ix_grow(pm_heap_t *h)
{
    size_t old_cap = h->ix_cap;
    pm_ixent_t *old = h->ix;
    size_t cap = old_cap ? old_cap * 2 : 1024;
    pm_ixent_t *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    h->ix = t;
    h->ix_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].c)
            continue;
        size_t s = ix_slot(h, old[i].key);
        while (t[s].c)
            s = (s + 1) & (cap - 1);
        t[s] = old[i];
    }
    free(old);
    return true;
}

bool pm_ix_put(pm_heap_t *h, pm_chunk_t *c)
{
    if ((h->ix_n + 1) * 2 > h->ix_cap && !ix_grow(h))
        return false;
    size_t s = ix_slot(h, c->addr);
    while (h->ix[s].c)
        s = (s + 1) & (h->ix_cap - 1);
    h->ix[s].key = c->addr;
    h->ix[s].c = c;
    c->hashed = 1;
    h->ix_n++;
    return true;
}

pm_chunk_t *pm_ix_get(const pm_heap_t *h, uint64_t chunk_addr)
{
    if (!h->ix_cap)
        return NULL;
    size_t s = ix_slot(h, chunk_addr);
    while (h->ix[s].c) {
        if (h->ix[s].key == chunk_addr)
            return h->ix[s].c;
        s = (s + 1) & (h->ix_cap - 1);
    }
    return NULL;
}

void pm_ix_del(pm_heap_t *h, pm_chunk_t *c)
{
    size_t mask = h->ix_cap - 1;
    size_t s = ix_slot(h, c->addr);
    while (h->ix[s].c != c)
        s = (s + 1) & mask;
    /* backward-shift deletion */
    size_t j = s;
    for (;;) {
        h->ix[s].c = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!h->ix[j].c)
                goto done;
            size_t k = ix_slot(h, h->ix[j].key);
            /* can the entry at j move to s? only if k is cyclically outside (s, j] */
            if (s <= j ? (k <= s || k > j) : (k <= s && k > j))
                break;
        }
        h->ix[s] = h->ix[j];
        s = j;
    }
done:
    c->hashed = 0;
    h->ix_n--;
}
