/* pm_malloc.c - _int_malloc, _int_free, malloc_consolidate and the bins, in
 * the order glibc 2.36 takes its decisions (malloc/malloc.c). */
#include "pm_internal.h"

#include <stddef.h>

/* ---- bins ---------------------------------------------------------------- */

static inline int bin_class(unsigned idx) { return idx == 1 ? 0 : idx < 64 ? 1 : 2; }

static inline void mark_bin(pm_arena_t *av, unsigned i) { av->binmap[i >> 5] |= 1u << (i & 31); }
static inline void unmark_bin(pm_arena_t *av, unsigned i) { av->binmap[i >> 5] &= ~(1u << (i & 31)); }

static inline void stat_add(pm_arena_t *av, pm_chunk_t *p, unsigned idx)
{
    p->bin = idx;
    p->state = PM_BIN;
    av->n_bins[bin_class(idx)]++;
    av->bin_bytes[bin_class(idx)] += p->size;
}

/* unlink_chunk: remove p from its regular bin, keeping the large bins' skip list. */
void pm_unlink(pm_arena_t *av, pm_chunk_t *p)
{
    pm_chunk_t *fd = p->fd, *bk = p->bk;
    unsigned idx = p->bin;
    fd->bk = bk;
    bk->fd = fd;
    if (idx >= 64 && p->fd_nextsize) {
        if (fd->state != PM_SENTINEL && fd->fd_nextsize == NULL) {
            if (p->fd_nextsize == p) {
                fd->fd_nextsize = fd->bk_nextsize = fd;
            } else {
                fd->fd_nextsize = p->fd_nextsize;
                fd->bk_nextsize = p->bk_nextsize;
                p->fd_nextsize->bk_nextsize = fd;
                p->bk_nextsize->fd_nextsize = fd;
            }
        } else {
            p->fd_nextsize->bk_nextsize = p->bk_nextsize;
            p->bk_nextsize->fd_nextsize = p->fd_nextsize;
        }
    }
    if (p->fd_nextsize) /* set and cleared in pairs: the second line stays cold */
        p->fd_nextsize = p->bk_nextsize = NULL;
    av->n_bins[bin_class(idx)]--;
    av->bin_bytes[bin_class(idx)] -= p->size;
    /* glibc clears binmap bits lazily, but a set bit over an empty bin is
     * skipped by the search anyway: keeping the map exact is equivalent. */
    if (idx != 1 && av->bins[idx].fd == &av->bins[idx])
        unmark_bin(av, idx);
    p->state = PM_DEAD;
}

void pm_unsorted_push(pm_arena_t *av, pm_chunk_t *p)
{
    pm_chunk_t *bck = &av->bins[1], *fwd = bck->fd;
    p->fd = fwd;
    p->bk = bck;
    fwd->bk = p;
    bck->fd = p;
    if (p->fd_nextsize)
        p->fd_nextsize = p->bk_nextsize = NULL;
    stat_add(av, p, 1);
}

/* Place an unsorted chunk into its small or large bin (the unsorted walk). */
static void place_in_bin(pm_arena_t *av, pm_chunk_t *victim)
{
    uint64_t size = victim->size;
    unsigned vi;
    pm_chunk_t *bck, *fwd;
    if (pm_in_small(size)) {
        vi = (unsigned)(size >> 4);
        bck = &av->bins[vi];
        fwd = bck->fd;
    } else {
        vi = pm_largebin_index(size);
        bck = &av->bins[vi];
        fwd = bck->fd;
        if (fwd != bck) {
            if (size < bck->bk->size) { /* smaller than the smallest: at the tail */
                fwd = bck;
                bck = bck->bk;
                victim->fd_nextsize = fwd->fd;
                victim->bk_nextsize = fwd->fd->bk_nextsize;
                fwd->fd->bk_nextsize = victim;
                victim->bk_nextsize->fd_nextsize = victim;
            } else {
                while (size < fwd->size)
                    fwd = fwd->fd_nextsize;
                if (size == fwd->size) {
                    fwd = fwd->fd; /* always the second position */
                } else {
                    victim->fd_nextsize = fwd;
                    victim->bk_nextsize = fwd->bk_nextsize;
                    fwd->bk_nextsize = victim;
                    victim->bk_nextsize->fd_nextsize = victim;
                }
                bck = fwd->bk;
            }
        } else {
            victim->fd_nextsize = victim->bk_nextsize = victim;
        }
    }
    mark_bin(av, vi);
    victim->bk = bck;
    victim->fd = fwd;
    fwd->bk = victim;
    bck->fd = victim;
    stat_add(av, victim, vi);
}

static inline pm_tcache_t *cur_tcache(pm_heap_t *h) { return h->cur ? h->cur->tcache : NULL; }

/* ---- coalescing ---------------------------------------------------------- */

/* Merge the free chunk p with free neighbours and put it in the unsorted bin
 * or into top (the common tail of _int_free and malloc_consolidate). Returns
 * the size of the merged chunk. */
static uint64_t coalesce(pm_heap_t *h, pm_arena_t *av, pm_chunk_t *p)
{
    pm_chunk_t *prev = p->phys_prev;
    if (prev && prev->state == PM_BIN) {
        pm_unlink(av, prev);
        pm_absorb_next(h, prev);
        p = prev;
    }
    pm_chunk_t *next = p->phys_next;
    if (next != av->top) {
        if (next->state == PM_BIN) {
            pm_unlink(av, next);
            pm_absorb_next(h, p);
        }
        pm_unsorted_push(av, p);
        return p->size;
    }
    pm_absorb_next(h, p);
    p->state = PM_TOP;
    av->top = p;
    return p->size;
}

void pm_consolidate(pm_heap_t *h, pm_arena_t *av)
{
    av->have_fastchunks = false;
    for (int i = 0; i < PM_NFASTBINS; i++) {
        pm_chunk_t *p = av->fastbins[i];
        av->fastbins[i] = NULL;
        while (p) {
            pm_chunk_t *nextp = p->fd;
            av->n_fast--;
            av->fast_bytes -= p->size;
            p->state = PM_DEAD;
            coalesce(h, av, p);
            p = nextp;
        }
    }
}

/* ---- _int_free ----------------------------------------------------------- */

void pm_int_free(pm_heap_t *h, pm_arena_t *av, pm_chunk_t *p)
{
    uint64_t size = p->size;
    pm_tcache_t *tc = cur_tcache(h);
    if (tc) {
        uint64_t ti = pm_csize2tidx(size);
        if (ti < h->tcache_bins && tc->counts[ti] < h->tcache_count) {
            pm_tcache_put(h, tc, p, ti);
            return;
        }
    }
    if (size <= h->max_fast) {
        unsigned fi = pm_fastbin_index(size);
        av->have_fastchunks = true;
        p->state = PM_FAST;
        p->fd = av->fastbins[fi];
        av->fastbins[fi] = p;
        av->n_fast++;
        av->fast_bytes += size;
        return;
    }
    if (p->state == PM_MMAPPED) {
        pm_munmap_chunk(h, p);
        return;
    }
    p->state = PM_DEAD;
    size = coalesce(h, av, p);
    if (size >= PM_FASTBIN_CONSOLIDATION) {
        if (av->have_fastchunks)
            pm_consolidate(h, av);
        if (av->is_main) {
            if (pm_topsize(av) >= h->trim_threshold)
                pm_systrim(h, av, h->top_pad);
        } else {
            pm_heap_trim(h, av, h->top_pad);
        }
    }
}

/* ---- _int_malloc --------------------------------------------------------- */

/* Split victim to nb, the remainder going to the unsorted head. */
static pm_chunk_t *split_to_unsorted(pm_heap_t *h, pm_arena_t *av, pm_chunk_t *victim,
                                     uint64_t nb, bool advertise)
{
    if (victim->size - nb < PM_MINSIZE)
        return victim; /* exhaust */
    pm_chunk_t *rem = pm_split(h, victim, nb);
    pm_unsorted_push(av, rem);
    if (advertise)
        av->last_remainder = rem->addr;
    return victim;
}

pm_chunk_t *pm_int_malloc(pm_heap_t *h, pm_arena_t *av, size_t bytes)
{
    if (bytes > (size_t)INT64_MAX - 64)
        return NULL;
    uint64_t nb = pm_req2size(bytes);
    pm_tcache_t *tc = cur_tcache(h);
    uint64_t tc_idx = pm_csize2tidx(nb);
    bool tc_ok = tc && tc_idx < h->tcache_bins;
    unsigned idx;

    if (nb <= h->max_fast) {
        unsigned fi = pm_fastbin_index(nb);
        pm_chunk_t *victim = av->fastbins[fi];
        if (victim) {
            av->fastbins[fi] = victim->fd;
            av->n_fast--;
            av->fast_bytes -= victim->size;
            if (tc_ok) {
                pm_chunk_t *t;
                while (tc->counts[tc_idx] < h->tcache_count && (t = av->fastbins[fi])) {
                    av->fastbins[fi] = t->fd;
                    av->n_fast--;
                    av->fast_bytes -= t->size;
                    pm_tcache_put(h, tc, t, tc_idx);
                }
            }
            victim->state = PM_INUSE;
            return victim;
        }
    }

    if (pm_in_small(nb)) {
        idx = (unsigned)(nb >> 4);
        pm_chunk_t *bin = &av->bins[idx];
        pm_chunk_t *victim = bin->bk;
        if (victim != bin) {
            pm_unlink(av, victim);
            if (tc_ok) {
                pm_chunk_t *t;
                while (tc->counts[tc_idx] < h->tcache_count && (t = bin->bk) != bin) {
                    pm_unlink(av, t);
                    pm_tcache_put(h, tc, t, tc_idx);
                }
            }
            victim->state = PM_INUSE;
            return victim;
        }
    } else {
        idx = pm_largebin_index(nb);
        if (av->have_fastchunks)
            pm_consolidate(h, av);
    }

    uint64_t tcache_nb = tc_ok ? nb : 0;
    bool return_cached = false;
    uint64_t tcache_unsorted_count = 0;

    for (;;) {
        int iters = 0;
        pm_chunk_t *ub = &av->bins[1];
        pm_chunk_t *victim;
        while ((victim = ub->bk) != ub) {
            pm_chunk_t *bck = victim->bk;
            uint64_t size = victim->size;
            if (pm_in_small(nb) && bck == ub && victim->addr == av->last_remainder &&
                size > nb + PM_MINSIZE) {
                pm_unlink(av, victim);
                pm_chunk_t *rem = pm_split(h, victim, nb);
                pm_unsorted_push(av, rem);
                av->last_remainder = rem->addr;
                victim->state = PM_INUSE;
                return victim;
            }
            pm_unlink(av, victim);
            if (size == nb) {
                if (tcache_nb && tc->counts[tc_idx] < h->tcache_count) {
                    pm_tcache_put(h, tc, victim, tc_idx);
                    return_cached = true;
                    continue;
                }
                victim->state = PM_INUSE;
                return victim;
            }
            place_in_bin(av, victim);
            ++tcache_unsorted_count;
            if (return_cached && h->tcache_unsorted_limit > 0 &&
                tcache_unsorted_count > h->tcache_unsorted_limit)
                return pm_tcache_get(h, tc, tc_idx);
            if (++iters >= PM_MAX_ITERS)
                break;
        }
        if (return_cached)
            return pm_tcache_get(h, tc, tc_idx);

        if (!pm_in_small(nb)) {
            pm_chunk_t *bin = &av->bins[idx];
            victim = bin->fd;
            if (victim != bin && victim->size >= nb) {
                victim = victim->bk_nextsize;
                while (victim->size < nb)
                    victim = victim->bk_nextsize;
                if (victim != bin->bk && victim->size == victim->fd->size)
                    victim = victim->fd;
                pm_unlink(av, victim);
                split_to_unsorted(h, av, victim, nb, false);
                victim->state = PM_INUSE;
                return victim;
            }
        }

        /* binmap search over the larger bins */
        for (unsigned i = idx + 1; i < PM_NBINS;) {
            uint32_t map = av->binmap[i >> 5] & (~0u << (i & 31));
            if (!map) {
                i = (i | 31) + 1;
                continue;
            }
            i = (i & ~31u) + (unsigned)__builtin_ctz(map);
            pm_chunk_t *bin = &av->bins[i];
            victim = bin->bk;
            pm_unlink(av, victim);
            split_to_unsorted(h, av, victim, nb, pm_in_small(nb));
            victim->state = PM_INUSE;
            return victim;
        }

        /* use_top */
        victim = av->top;
        uint64_t tsize = pm_topsize(av);
        if (victim && tsize >= nb + PM_MINSIZE) {
            pm_chunk_t *rem = pm_split(h, victim, nb);
            rem->state = PM_TOP;
            av->top = rem;
            victim->state = PM_INUSE;
            return victim;
        } else if (av->have_fastchunks) {
            pm_consolidate(h, av);
            idx = pm_bin_index(nb);
        } else {
            return pm_sysmalloc(h, av, nb);
        }
    }
}
