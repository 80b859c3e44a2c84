/* ptmalloc2.h - an in-process model of glibc 2.36's malloc on x86_64.
 *
 * The model keeps real chunk addresses and boundary tags in a simulated
 * address space (no memory of the model's size is touched: chunk headers live
 * in the model's own tables), so that the same sequence of calls gives the same
 * mallinfo2() as the real glibc, to the byte. Facts: ../shared/notes/
 * ptmalloc2-glibc-2.36.md; judge: the real glibc of this machine.
 *
 * Addresses returned are model addresses (user pointers, 16-byte aligned);
 * the caller maps the trace's addresses to them. Main-arena chunks sit at
 * brk_base + offset exactly where glibc would put them after a page-aligned
 * initial break; mmapped chunks and non-main heaps live in separate ranges.
 *
 * Checked against the real glibc by tests/ptmalloc2 (differential test of
 * random scripts, strict-hand-off threads, GLIBC_TUNABLES, and python3 /
 * perl / sqlite3 recorded with an LD_PRELOAD shim): every mallinfo2 field
 * equal. Not modelled: sbrk/mmap failure (the model never runs out of
 * memory; no non-contiguous main arena, no foreign sbrk), arena_get_retry,
 * trylock contention in reused_arena (the model assumes it succeeds, as
 * under strict hand-off), transparent/huge-page tunables (hugetlb,
 * thp_pagesize), mcheck/perturb (no effect on layout).
 * Not predictable by any model: memalign above the page size of a chunk that
 * glibc mmaps (its offset in the mapping depends on the mapping's random
 * address, and its size then feeds the dynamic mmap threshold), and of
 * main-arena chunks when brk_base is unknown.
 */
#ifndef PTMALLOC2_H
#define PTMALLOC2_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_heap_s pm_heap_t;

typedef struct pm_config_s {
    /* < 0 = glibc's default. Values are what mallopt/tunables would set. */
    int64_t mmap_threshold, trim_threshold, top_pad, mxfast, arena_max,
        tcache_count, mmap_max;
    unsigned ncpu; /* for the arena limit, 8 x ncpu; 0 = this machine's */
    /* Address of the initial program break (page aligned in a real process);
     * 0 = a fixed default. Only memalign with an alignment above 4096 on the
     * main arena depends on it: glibc's result then varies with ASLR. */
    uint64_t brk_base;
    int64_t tcache_max; /* glibc.malloc.tcache_max bytes (< 0 = default 1032) */
    int64_t tcache_unsorted_limit, arena_test; /* < 0 = default (0, 8) */
} pm_config_t;

/* Set one field of cfg from a glibc.malloc tunable name, with or without the
 * "glibc.malloc." prefix: mmap_threshold, trim_threshold, top_pad, mxfast,
 * arena_max, arena_test, tcache_count, tcache_max, tcache_unsorted_limit,
 * mmap_max. The value is a non-negative
 * integer with an optional K/M/G suffix. Returns 0, or -1 for an unknown name
 * or a bad value. */
int pm_config_set(pm_config_t *cfg, const char *name, const char *value);

/* Sets every field of cfg to "default". */
void pm_config_default(pm_config_t *cfg);

pm_heap_t *pm_create(const pm_config_t *cfg);
void pm_destroy(pm_heap_t *h);

/* The calling thread for the operations that follow (arena and tcache).
 * The first tid the heap sees (here or through an operation made before any
 * pm_set_thread, which is tid 0) is the main thread: it uses the main arena.
 * Other threads get an arena on their first malloc/free/calloc/realloc/
 * memalign, as glibc's arena_get2 would. Cheap when tid is unchanged. */
void pm_set_thread(pm_heap_t *h, uint32_t tid);
/* The thread exits: its tcache is flushed through free, its arena goes on
 * the free list when no other thread uses it. A later pm_set_thread with the
 * same tid starts a new thread. */
void pm_thread_exit(pm_heap_t *h, uint32_t tid);

/* The malloc API (address form: a hash lookup per call; the handle API
 * below is faster). 0 = the call failed (as glibc would fail). Unknown
 * pointers and double frees are ignored (glibc would abort). */
uint64_t pm_malloc(pm_heap_t *h, size_t n);
uint64_t pm_calloc(pm_heap_t *h, size_t nmemb, size_t size);
uint64_t pm_realloc(pm_heap_t *h, uint64_t p, size_t n);
void pm_free(pm_heap_t *h, uint64_t p);
uint64_t pm_memalign(pm_heap_t *h, size_t align, size_t n); /* also aligned_alloc (2.36: same) */
uint64_t pm_valloc(pm_heap_t *h, size_t n);
uint64_t pm_pvalloc(pm_heap_t *h, size_t n);
int pm_mallopt(pm_heap_t *h, int param, int value); /* M_* from <malloc.h> */
int pm_malloc_trim(pm_heap_t *h, size_t pad);
size_t pm_usable_size(const pm_heap_t *h, uint64_t p);

/* memalign with posix_memalign's argument check: 0, EINVAL or ENOMEM. */
int pm_posix_memalign(pm_heap_t *h, uint64_t *out, size_t align, size_t n);

/* Handle API: the same calls without the model's address index. A handle
 * stays valid from the call that returns it until it is passed to
 * pm_free_c or pm_realloc_c (which returns the handle to use next; realloc
 * failure returns NULL and leaves the old handle valid; n == 0 frees and
 * returns NULL). Mixing with the address API on the same chunk is allowed:
 * pm_free(pm_chunk_addr(c)) works only for chunks returned by the address
 * API. Use this API on hot paths: it does no hashing. */
typedef struct pm_chunk_s pm_chunk_t;
pm_chunk_t *pm_malloc_c(pm_heap_t *h, size_t n);
pm_chunk_t *pm_calloc_c(pm_heap_t *h, size_t nmemb, size_t size);
pm_chunk_t *pm_realloc_c(pm_heap_t *h, pm_chunk_t *c, size_t n);
pm_chunk_t *pm_memalign_c(pm_heap_t *h, size_t align, size_t n);
pm_chunk_t *pm_valloc_c(pm_heap_t *h, size_t n);
pm_chunk_t *pm_pvalloc_c(pm_heap_t *h, size_t n);
/* posix_memalign: 0 and *out set, or EINVAL / ENOMEM. */
int pm_posix_memalign_c(pm_heap_t *h, pm_chunk_t **out, size_t align, size_t n);
void pm_free_c(pm_heap_t *h, pm_chunk_t *c);
/* Gives back the chunk of a call that failed in the trace but not in the
 * model (the model has no memory limit). The model stepped it as glibc
 * did up to the failure (a large request consolidates the fastbins and
 * sorts the unsorted bin first); an mmapped chunk is unmapped without the
 * threshold update of free. Exact for requests glibc would mmap (the usual
 * failure: too large); a heap chunk is freed, an approximation where glibc
 * failed to extend the heap. */
void pm_undo_c(pm_heap_t *h, pm_chunk_t *c);
uint64_t pm_chunk_addr(const pm_chunk_t *c); /* the user pointer */
size_t pm_chunk_usable(const pm_chunk_t *c); /* malloc_usable_size */
typedef struct pm_chunk_info_s {
    uint64_t addr;   /* user pointer */
    uint64_t size;   /* chunk size (mmapped: from the chunk to the map's end) */
    uint64_t mmap_off; /* mmapped: bytes of the mapping before the chunk */
    unsigned arena;  /* 0 = main arena */
    int mmapped;
} pm_chunk_info_t;
void pm_chunk_info(const pm_chunk_t *c, pm_chunk_info_t *ci);
/* The handle of a chunk the address API returned (NULL if none). */
pm_chunk_t *pm_chunk_of(const pm_heap_t *h, uint64_t p);
/* The model's initial program break (the main arena's first chunk). */
uint64_t pm_brk_base(const pm_heap_t *h);

/* mallinfo2() as glibc computes it (summed over arenas). */
typedef struct pm_mallinfo_s {
    size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks,
        fordblks, keepcost;
} pm_mallinfo_t;
void pm_mallinfo2(const pm_heap_t *h, pm_mallinfo_t *mi);
/* mallinfo2's arena + hblkhd (bytes held from the OS), in O(1). */
uint64_t pm_footprint(const pm_heap_t *h);

/* The calls whose outcome in a real multi-threaded run depends on lock
 * contention, which no trace records (the model takes the uncontended
 * outcome): a thread that needed an arena when the arena limit was reached
 * (reused_arena takes the first arena it can trylock; the model, as under
 * strict hand-off, takes the next in round-robin order), and frees/reallocs
 * that reach another thread's arena (under its lock; a contended run may
 * order them differently against that thread's own calls than the trace
 * does). Counters only grow; the pointer stays valid for the heap's life. */
typedef struct pm_contention_s {
    uint64_t reused_arenas; /* reused_arena calls */
    uint64_t remote_ops;    /* _int_free / _int_realloc on another thread's arena */
    uint64_t threads;       /* threads the heap has seen */
    uint64_t ncpu;          /* CPUs for the arena limit (8 x ncpu unless arena_max) */
} pm_contention_t;
const pm_contention_t *pm_contention(const pm_heap_t *h);

/* Where the free memory sits, for the fragmentation report. */
typedef struct pm_bins_s {
    size_t tcache_chunks, tcache_bytes;
    size_t fast_chunks, fast_bytes;
    size_t unsorted_chunks, unsorted_bytes;
    size_t small_chunks, small_bytes;
    size_t large_chunks, large_bytes;
    size_t top_bytes;            /* all arenas */
    size_t mmapped_chunks, mmapped_bytes;
    size_t largest_free;         /* largest free chunk, top included */
    size_t arenas;
} pm_bins_t;
void pm_bins(const pm_heap_t *h, pm_bins_t *b);

#endif /* PTMALLOC2_H */
