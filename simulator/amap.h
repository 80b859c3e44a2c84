/* amap.h - the driver's map from recorded addresses to values (internal to
 * the simulator): the one hash table of malloc-sim, probed once per event.
 *
 * Buckets of 4 entries, one 64-byte cache line each. A key lives in its home
 * bucket, or when that was full at insertion, in a later one; a bucket's
 * overflow count is the number of keys stored past it whose home is at or
 * before it (255 = many; it then stays until the table is rebuilt), so a
 * lookup reads one line unless that count is non-zero. The 4 keys of a
 * bucket are compared without branches (no mispredicted probe loops).
 * Load at most 1/2; the table doubles when it would pass that. Key 0 =
 * empty (a traced call never returns address 0).
 */
#ifndef SIM_AMAP_H
#define SIM_AMAP_H

#include "ids.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct ament_s {
    uint64_t key; /* 0 = empty */
    uint64_t val;
} ament_t;

typedef struct amap_s {
    ament_t *ents;  /* 4 per bucket, 64-byte aligned */
    size_t mapped;  /* bytes of ents when mmapped (large tables), else 0 */
    uint8_t *ovf;   /* per bucket: keys stored past it (255: many) */
    uint64_t bmask; /* buckets - 1 */
    uint64_t n;
    unsigned shift; /* 64 - log2(buckets) */
} amap_t;

#define AMAP_NONE UINT64_MAX

static inline uint64_t amap_home(const amap_t *m, uint64_t a)
{
    return ((a >> 3) * 0x9E3779B97F4A7C15ull) >> m->shift;
}

/* Bit k set when entry k of bucket b holds key a. */
static inline unsigned amap_match(const amap_t *m, uint64_t b, uint64_t a)
{
    const ament_t *e = &m->ents[b * 4];
    return (unsigned)(e[0].key == a) | (unsigned)(e[1].key == a) << 1 |
           (unsigned)(e[2].key == a) << 2 | (unsigned)(e[3].key == a) << 3;
}

/* Zeroed entries for nb buckets: a large table is mapped (sim_map_huge; on
 * perl's trace, a million live addresses, the memset and the page faults of
 * the doublings were 8% of the time). */
static inline ament_t *amap_ents_new(size_t nb, size_t *mapped)
{
    size_t bytes = nb * 4 * sizeof(ament_t);
    *mapped = 0;
    if (bytes < SIM_HUGE) {
        ament_t *e = (ament_t *)aligned_alloc(64, bytes);
        if (e)
            memset(e, 0, bytes);
        return e;
    }
    ament_t *e = (ament_t *)sim_map_huge(bytes);
    if (e)
        *mapped = bytes;
    return e;
}

static inline void amap_ents_free(ament_t *e, size_t mapped)
{
    if (mapped)
        munmap(e, mapped);
    else
        free(e);
}

/* 2^lg buckets, empty. Returns 0, or -1 when out of memory. */
static inline int amap_init(amap_t *m, unsigned lg)
{
    size_t nb = (size_t)1 << lg;
    m->ents = amap_ents_new(nb, &m->mapped);
    m->ovf = (uint8_t *)calloc(nb, 1);
    if (!m->ents || !m->ovf) {
        if (m->ents)
            amap_ents_free(m->ents, m->mapped);
        free(m->ovf);
        m->ents = NULL;
        m->ovf = NULL;
        return -1;
    }
    m->bmask = nb - 1;
    m->shift = 64 - lg;
    m->n = 0;
    return 0;
}

static inline void amap_free(amap_t *m)
{
    if (m->ents)
        amap_ents_free(m->ents, m->mapped);
    free(m->ovf);
    m->ents = NULL;
    m->ovf = NULL;
}

/* Entry index of a, or AMAP_NONE. */
static inline uint64_t amap_find(const amap_t *m, uint64_t a)
{
    uint64_t b = amap_home(m, a);
    for (;;) {
        unsigned k = amap_match(m, b, a);
        if (k)
            return b * 4 + (unsigned)__builtin_ctz(k);
        if (!m->ovf[b])
            return AMAP_NONE;
        b = (b + 1) & m->bmask;
    }
}

static inline void amap_pass(amap_t *m, uint64_t from, uint64_t to, int add);

/* Removes a and returns its value, or returns 0 with *found = 0 when a is
 * not in the table: amap_find and amap_del with one hash. */
static inline uint64_t amap_take(amap_t *m, uint64_t a, int *found)
{
    uint64_t home = amap_home(m, a), b = home;
    for (;;) {
        unsigned k = amap_match(m, b, a);
        if (k) {
            ament_t *e = &m->ents[b * 4 + (unsigned)__builtin_ctz(k)];
            if (__builtin_expect(b != home, 0))
                amap_pass(m, home, b, 0);
            e->key = 0;
            m->n--;
            *found = 1;
            return e->val;
        }
        if (!m->ovf[b]) {
            *found = 0;
            return 0;
        }
        b = (b + 1) & m->bmask;
    }
}

/* Counts (add = 1) or uncounts (add = 0) a key stored in bucket to whose
 * home is from: the buckets it passed. */
static inline void amap_pass(amap_t *m, uint64_t from, uint64_t to, int add)
{
    for (uint64_t b = from; b != to; b = (b + 1) & m->bmask)
        if (m->ovf[b] != 255)
            m->ovf[b] = (uint8_t)(add ? m->ovf[b] + 1 : m->ovf[b] - 1);
}

/* The entry of a if present (*found = 1), else a free entry where a goes
 * (*found = 0; the caller fills its key and value and counts it in n). The
 * table must have room (amap_reserve). */
static inline uint64_t amap_slot(amap_t *m, uint64_t a, int *found)
{
    uint64_t home = amap_home(m, a), b = home, ins = AMAP_NONE;
    for (;;) {
        unsigned k = amap_match(m, b, a);
        if (k) {
            *found = 1;
            return b * 4 + (unsigned)__builtin_ctz(k);
        }
        if (ins == AMAP_NONE && (k = amap_match(m, b, 0)))
            ins = b * 4 + (unsigned)__builtin_ctz(k);
        if (!m->ovf[b])
            break;
        b = (b + 1) & m->bmask;
    }
    *found = 0;
    if (ins == AMAP_NONE) { /* every bucket of the chain is full: extend it */
        unsigned k;
        do
            b = (b + 1) & m->bmask;
        while (!(k = amap_match(m, b, 0)));
        ins = b * 4 + (unsigned)__builtin_ctz(k);
    }
    if (__builtin_expect(ins / 4 != home, 0))
        amap_pass(m, home, ins / 4, 1);
    return ins;
}

/* Makes room for one more key (doubles the table when it would be more than
 * half full). Returns 0, or -1 when out of memory (the table unchanged). */
static inline int amap_reserve(amap_t *m)
{
    uint64_t nb = m->bmask + 1;
    if (__builtin_expect(2 * (m->n + 1) <= nb * 4, 1))
        return 0;
    amap_t old = *m;
    if (amap_init(m, 64 - old.shift + 1)) {
        *m = old;
        return -1;
    }
    for (uint64_t i = 0; i < nb * 4; i++)
        if (old.ents[i].key) {
            int found;
            uint64_t j = amap_slot(m, old.ents[i].key, &found);
            m->ents[j] = old.ents[i];
            m->n++;
        }
    amap_free(&old);
    return 0;
}

#endif /* SIM_AMAP_H */
