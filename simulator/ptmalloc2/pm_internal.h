/* pm_internal.h - the ptmalloc2 model's internal structures (not public).
 *
 * Every chunk of a simulated heap is one pm_chunk_t record: its model address,
 * its size and which list it sits on. Records of one heap segment are linked in
 * address order (phys_prev/phys_next), which gives the boundary-tag answers
 * glibc reads from memory ("is the previous chunk free?") without touching any
 * simulated memory. A chunk counts as free to its neighbours exactly when it
 * sits in a regular bin (unsorted, small, large): tcache and fastbin chunks keep
 * their neighbour's PREV_INUSE bit set, as in glibc.
 */
#ifndef PM_INTERNAL_H
#define PM_INTERNAL_H

#include "ptmalloc2.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PM_SIZE_SZ 8u
#define PM_ALIGN 16u
#define PM_MINSIZE 32u
#define PM_PAGE 4096u
#define PM_NBINS 128
#define PM_NFASTBINS 10
#define PM_MIN_LARGE 1024u
#define PM_TCACHE_BINS 64
#define PM_FASTBIN_CONSOLIDATION 65536u
#define PM_MAX_ITERS 10000
#define PM_HEAP_MAX (64u << 20)     /* HEAP_MAX_SIZE = 2 * DEFAULT_MMAP_THRESHOLD_MAX */
#define PM_HEAP_MIN (32u << 10)
#define PM_MMAP_THRESHOLD_MAX (32u << 20)
#define PM_HEAPINFO_SZ 48u          /* sizeof (heap_info) on x86_64, 2.36 */
#define PM_ARENA_SZ 2200u           /* sizeof (struct malloc_state) */

enum pm_state {
    PM_INUSE = 0, /* handed to the caller */
    PM_TCACHE,
    PM_FAST,
    PM_BIN,       /* unsorted, small or large bin */
    PM_TOP,
    PM_FENCE,     /* fencepost of a non-main heap or of a non-contiguous sbrk */
    PM_MMAPPED,
    PM_SENTINEL,  /* bin header */
    PM_DEAD
};

typedef struct pm_chunk_s pm_chunk_t;
/* 72 bytes, packed back to back in the slabs: 8 records per 9 cache lines.
 * Density is what counts on traces with many live chunks (a million
 * records): 64-byte-aligned records of two lines each (the layout before)
 * made perl's trace ~20 % slower through cache and TLB misses. An mmapped
 * chunk is never in a bin, so its offset shares the skip-list link's place. */
struct pm_chunk_s {
    uint64_t addr;                     /* chunk address (user pointer - 16) */
    uint64_t size;                     /* chunksize, no flag bits */
    uint8_t state;
    uint8_t hashed;                    /* in the user-address index */
    uint16_t arena;                    /* index of the owning arena */
    uint32_t bin;                      /* PM_BIN: bin index (1 = unsorted) */
    pm_chunk_t *phys_prev, *phys_next; /* address order in its segment */
    pm_chunk_t *fd, *bk;               /* bin (circular) / tcache, fastbin (fd) */
    union {
        pm_chunk_t *fd_nextsize;       /* large bins */
        uint64_t mmap_off;             /* mmapped: prev_size (leading offset) */
    };
    pm_chunk_t *bk_nextsize;
};
_Static_assert(sizeof(pm_chunk_t) == 72, "chunk records are 72 bytes");
/* bytes of a record that hold fields */
#define PM_REC_BYTES sizeof(pm_chunk_t)

typedef struct pm_hinfo_s pm_hinfo_t;
struct pm_hinfo_s { /* heap_info of a non-main heap */
    uint64_t addr, size, mprotect_size;
    pm_hinfo_t *prev;
    pm_chunk_t *fence2; /* the 0-size fencepost closing a full heap */
};

typedef struct pm_arena_s pm_arena_t;
struct pm_arena_s {
    pm_chunk_t *fastbins[PM_NFASTBINS];
    /* a hint only (pm_fast_ahead): per fastbin, a record some way down its
     * list whose next one is fetched into the cache */
    pm_chunk_t *fast_ahead[PM_NFASTBINS];
    pm_chunk_t bins[PM_NBINS]; /* sentinels; 1 = unsorted */
    uint32_t binmap[4];
    pm_chunk_t *top;           /* NULL = initial_top (size 0) */
    uint64_t last_remainder;   /* an address, compared as glibc does */
    bool have_fastchunks, is_main, contiguous;
    uint64_t system_mem;
    uint16_t idx;
    pm_hinfo_t *heap;          /* non-main: heap holding top */
    pm_arena_t *next, *next_free;
    uint64_t attached_threads;
    /* statistics kept incrementally for mallinfo2 */
    uint64_t n_fast, fast_bytes;
    uint64_t n_bins[3], bin_bytes[3]; /* unsorted, small, large */
};

typedef struct pm_tcache_s {
    pm_chunk_t *entries[PM_TCACHE_BINS];
    uint16_t counts[PM_TCACHE_BINS];
} pm_tcache_t;

typedef struct pm_thread_s pm_thread_t;
struct pm_thread_s {
    uint32_t tid;
    bool shutting_down;
    pm_tcache_t *tcache;
    pm_arena_t *arena;         /* thread_arena */
    pm_chunk_t *tcache_chunk;  /* the chunk holding the tcache struct */
};

typedef struct pm_slab_s pm_slab_t;
typedef struct pm_ixent_s {
    uint64_t key; /* chunk address */
    pm_chunk_t *c;
} pm_ixent_t;

struct pm_heap_s {
    /* mp_ */
    uint64_t trim_threshold, top_pad, mmap_threshold, arena_test, arena_max;
    int64_t n_mmaps_max, n_mmaps;
    uint64_t mmapped_mem;
    uint64_t system_mem; /* sum of the arenas' system_mem */
    bool no_dyn_threshold;
    uint64_t tcache_bins, tcache_count, tcache_unsorted_limit;
    uint64_t max_fast;
    unsigned ncpu;
    uint64_t narenas, narenas_limit;

    pm_arena_t *main;
    pm_arena_t **arenas; /* by idx */
    size_t n_arenas_alloc;
    pm_arena_t *free_list, *next_to_use;

    /* simulated address space */
    uint64_t brk_base, brk_cur;
    uint64_t mmap_next;      /* next mmapped chunk (grows up, never reused) */
    uint64_t heap_next;      /* next non-main heap, 64 MiB aligned (grows up) */

    /* live threads by tid (open addressing) */
    pm_thread_t **thash;
    size_t th_cap, th_n, th_ever;
    pm_thread_t *cur;

    /* chunk records */
    pm_chunk_t *free_recs;
    pm_slab_t *slabs;
    size_t slab_left;        /* records not yet carved from slabs */

    /* user address -> record, for the address API */
    pm_ixent_t *ix;
    size_t ix_cap, ix_n;

    uint64_t tcache_chunks, tcache_bytes;
    uint64_t mmapped_chunks_live;

    pm_contention_t cont; /* where a contended real run may differ */
};

/* size helpers */
static inline uint64_t pm_req2size(size_t req)
{
    return req + PM_SIZE_SZ + PM_ALIGN - 1 < PM_MINSIZE
               ? PM_MINSIZE
               : (req + PM_SIZE_SZ + PM_ALIGN - 1) & ~(uint64_t)(PM_ALIGN - 1);
}
static inline bool pm_in_small(uint64_t sz) { return sz < PM_MIN_LARGE; }
static inline unsigned pm_largebin_index(uint64_t sz)
{
    if ((sz >> 6) <= 48) return 48 + (unsigned)(sz >> 6);
    if ((sz >> 9) <= 20) return 91 + (unsigned)(sz >> 9);
    if ((sz >> 12) <= 10) return 110 + (unsigned)(sz >> 12);
    if ((sz >> 15) <= 4) return 119 + (unsigned)(sz >> 15);
    if ((sz >> 18) <= 2) return 124 + (unsigned)(sz >> 18);
    return 126;
}
static inline unsigned pm_bin_index(uint64_t sz)
{
    return pm_in_small(sz) ? (unsigned)(sz >> 4) : pm_largebin_index(sz);
}
static inline unsigned pm_fastbin_index(uint64_t sz) { return (unsigned)(sz >> 4) - 2; }
static inline uint64_t pm_csize2tidx(uint64_t sz) { return (sz - PM_MINSIZE + PM_ALIGN - 1) / PM_ALIGN; }
static inline uint64_t pm_align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static inline uint64_t pm_topsize(const pm_arena_t *a) { return a->top ? a->top->size : 0; }

/* A zeroed block of whole cache lines of its own (the heap, an arena): the
 * model may run on another thread than whatever was allocated next to it.
 * Freed with free. */
static inline void *pm_zalloc_lines(size_t n)
{
    size_t const bytes = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* records (pm_rec.c) */
/* One public call creates at most a handful of records (splits, fenceposts,
 * a new heap's top, the tcache struct): this many are kept at hand. */
#define PM_RESERVE 32
bool pm_rec_reserve_slow(pm_heap_t *h);
static inline bool pm_rec_reserve(pm_heap_t *h)
{
    return h->slab_left >= PM_RESERVE || pm_rec_reserve_slow(h);
}
pm_chunk_t *pm_rec_new(pm_heap_t *h);
void pm_rec_free(pm_heap_t *h, pm_chunk_t *c);
/* split c at offset nb: returns the new record for [c+nb, c+size) */
pm_chunk_t *pm_split(pm_heap_t *h, pm_chunk_t *c, uint64_t nb);
/* absorb c->phys_next (which must be adjacent) into c */
void pm_absorb_next(pm_heap_t *h, pm_chunk_t *c);
void pm_recs_release(pm_heap_t *h);
bool pm_ix_put(pm_heap_t *h, pm_chunk_t *c);
pm_chunk_t *pm_ix_get(const pm_heap_t *h, uint64_t chunk_addr);
void pm_ix_del(pm_heap_t *h, pm_chunk_t *c);

/* bins (pm_malloc.c) */
void pm_unlink(pm_arena_t *av, pm_chunk_t *p);
void pm_unsorted_push(pm_arena_t *av, pm_chunk_t *p);
void pm_consolidate(pm_heap_t *h, pm_arena_t *av);
pm_chunk_t *pm_int_malloc(pm_heap_t *h, pm_arena_t *av, size_t bytes);
void pm_int_free(pm_heap_t *h, pm_arena_t *av, pm_chunk_t *p);

static inline void pm_tcache_put(pm_heap_t *h, pm_tcache_t *tc, pm_chunk_t *p, uint64_t idx)
{
    p->state = PM_TCACHE;
    p->fd = tc->entries[idx];
    tc->entries[idx] = p;
    tc->counts[idx]++;
    h->tcache_chunks++;
    h->tcache_bytes += p->size;
}

static inline pm_chunk_t *pm_tcache_get(pm_heap_t *h, pm_tcache_t *tc, uint64_t idx)
{
    pm_chunk_t *p = tc->entries[idx];
    tc->entries[idx] = p->fd;
    tc->counts[idx]--;
    h->tcache_chunks--;
    h->tcache_bytes -= p->size;
    p->state = PM_INUSE;
    return p;
}

/* A hint for the next tcache refill from the fastbin of chunk size nb: moves
 * the arena's cursor one record down that fastbin's list and fetches the
 * record it reaches. Called on each tcache hit of that size, it walks 7
 * records ahead of the refill by the time the tcache bin is empty, so the
 * refill's walk (one cache miss per record, serially, on traces with many
 * free chunks: the model's main cost on perl's) finds them in the cache.
 * Reads only records (which stay mapped), stale or not; changes nothing the
 * model computes. */
static inline void pm_fast_ahead(pm_heap_t *h, pm_arena_t *av, uint64_t nb)
{
    if (!av || nb > h->max_fast)
        return;
    unsigned fi = pm_fastbin_index(nb);
    pm_chunk_t *c = av->fastbins[fi];
    if (!c) /* nothing to refill from */
        return;
    pm_chunk_t *a = av->fast_ahead[fi];
    if (a && a->state == PM_FAST && a->size == nb) /* still on this list, most likely */
        c = a->fd;
    av->fast_ahead[fi] = c;
    if (c) {
        __builtin_prefetch(c);
        __builtin_prefetch((const char *)c + sizeof *c - 1); /* a record may straddle two lines */
    }
}

/* system (pm_sys.c) */
pm_chunk_t *pm_sysmalloc(pm_heap_t *h, pm_arena_t *av, uint64_t nb);
pm_chunk_t *pm_mmap_chunk(pm_heap_t *h, uint64_t nb);
void pm_munmap_chunk(pm_heap_t *h, pm_chunk_t *p);
bool pm_mremap_chunk(pm_heap_t *h, pm_chunk_t *p, uint64_t nb);
int pm_systrim(pm_heap_t *h, pm_arena_t *av, uint64_t pad);
int pm_heap_trim(pm_heap_t *h, pm_arena_t *av, uint64_t pad);
pm_arena_t *pm_arena_get(pm_heap_t *h, pm_thread_t *t, uint64_t size);
pm_arena_t *pm_arena_new_main(pm_heap_t *h);
void pm_arena_detach(pm_heap_t *h, pm_thread_t *t);

static inline pm_arena_t *pm_arena_of(pm_heap_t *h, const pm_chunk_t *p)
{
    return h->arenas[p->arena];
}

#endif /* PM_INTERNAL_H */
