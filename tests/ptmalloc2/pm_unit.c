/* pm_unit.c - hand-worked cases for the ptmalloc2 model (each figure worked
 * out from glibc 2.36's rules in the comment next to it, and seen on the real
 * glibc of this machine with pm_glibc_driver). */
#include "ptmalloc2.h"

#include <stdio.h>
#include <stdlib.h>

static int fails;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            fails++;                                                                 \
        }                                                                            \
    } while (0)

static pm_mallinfo_t info(pm_heap_t *h)
{
    pm_mallinfo_t m;
    pm_mallinfo2(h, &m);
    return m;
}

static void first_malloc(void)
{
    pm_heap_t *h = pm_create(NULL);
    pm_mallinfo_t m = info(h);
    CHECK(m.arena == 0 && m.ordblks == 1 && m.uordblks == 0);
    uint64_t p = pm_malloc(h, 24);
    /* tcache struct: request 640 -> chunk 656; first sbrk:
     * ALIGN_UP(656 + top_pad 131072 + MINSIZE 32, 4096) = 135168 */
    m = info(h);
    CHECK(p == pm_brk_base(h) + 656 + 16);
    CHECK(m.arena == 135168);
    CHECK(m.uordblks == 656 + 32);
    CHECK(m.fordblks == 135168 - 688 && m.keepcost == 135168 - 688);
    CHECK(m.ordblks == 1 && m.hblks == 0);
    CHECK(pm_usable_size(h, p) == 24);
    /* free goes to the tcache: nothing changes */
    pm_free(h, p);
    CHECK(info(h).uordblks == 688);
    /* the same chunk comes back (LIFO) */
    CHECK(pm_malloc(h, 17) == p);
    pm_destroy(h);
}

static void tcache_then_fastbin(void)
{
    pm_heap_t *h = pm_create(NULL);
    uint64_t p[9];
    for (int i = 0; i < 9; i++)
        p[i] = pm_malloc(h, 40); /* chunk 48 */
    for (int i = 0; i < 9; i++)
        pm_free(h, p[i]);
    /* 7 in the tcache, 2 in the 48-byte fastbin */
    pm_mallinfo_t m = info(h);
    CHECK(m.smblks == 2 && m.fsmblks == 96);
    CHECK(m.uordblks == 656 + 7 * 48);
    pm_bins_t b;
    pm_bins(h, &b);
    CHECK(b.tcache_chunks == 7 && b.tcache_bytes == 7 * 48);
    /* calloc skips the tcache: takes the fastbin head (the last freed) */
    uint64_t c = pm_calloc(h, 1, 40);
    CHECK(c == p[8]);
    /* ... and moves nothing into the full tcache */
    CHECK(info(h).smblks == 1);
    /* a large request consolidates the other fastbin chunk; its neighbour
     * is in use, so it goes to unsorted, then to its small bin */
    pm_malloc(h, 2000);
    m = info(h);
    CHECK(m.smblks == 0 && m.ordblks == 2);
    pm_destroy(h);
}

static void mmap_threshold(void)
{
    pm_heap_t *h = pm_create(NULL);
    uint64_t p = pm_malloc(h, 200000);
    /* nb = 200016 >= 128 KiB: mmapped, ALIGN_UP(200016 + 8, 4096) = 200704 */
    pm_mallinfo_t m = info(h);
    CHECK(m.hblks == 1 && m.hblkhd == 200704);
    CHECK(m.arena == 135168); /* the tcache struct still came from sbrk */
    pm_free(h, p);
    /* dynamic threshold: now 200704, trim threshold 401408 */
    p = pm_malloc(h, 200000);
    m = info(h);
    CHECK(m.hblks == 0 && m.hblkhd == 0);
    /* top 134512 too small: sbrk(ALIGN_UP(200016 + 131072 + 32 - 134512)) = 196608 */
    CHECK(m.arena == 135168 + 196608);
    CHECK(m.keepcost == 134512 + 196608 - 200016);
    /* freeing it merges into top: 331120 < trim threshold 401408, kept */
    pm_free(h, p);
    m = info(h);
    CHECK(m.arena == 331776 && m.keepcost == 331776 - 656);
    /* malloc_trim(0) releases all but one page-rounded remainder:
     * extra = ALIGN_DOWN(331120 - 33, 4096) = 327680 */
    CHECK(pm_malloc_trim(h, 0) == 1);
    m = info(h);
    CHECK(m.arena == 331776 - 327680 && m.keepcost == 331120 - 327680);
    pm_destroy(h);
}

static void mallopt_disables_dynamic(void)
{
    pm_heap_t *h = pm_create(NULL);
    CHECK(pm_mallopt(h, -2 /* M_TOP_PAD */, 0) == 1);
    uint64_t p = pm_malloc(h, 24);
    /* top_pad 0: ALIGN_UP(656 + 32, 4096) = 4096 */
    CHECK(info(h).arena == 4096);
    uint64_t q = pm_malloc(h, 300000);
    pm_free(h, q);
    /* no dynamic threshold: the next 300000 is mmapped again */
    pm_malloc(h, 300000);
    CHECK(info(h).hblks == 1);
    pm_free(h, p);
    pm_destroy(h);
}

static void second_thread(void)
{
    pm_heap_t *h = pm_create(NULL);
    pm_set_thread(h, 1); /* the first thread seen is the main thread */
    pm_malloc(h, 24);
    pm_set_thread(h, 2);
    pm_malloc(h, 24);
    /* new arena: new_heap(640 + 48 + 2200 + 16 + top_pad 131072) page-rounded
     * = 135168; its top starts at heap + 2256 */
    pm_mallinfo_t m = info(h);
    CHECK(m.arena == 2 * 135168);
    CHECK(m.uordblks == 688 + 2256 + 688);
    pm_bins_t b;
    pm_bins(h, &b);
    CHECK(b.arenas == 2);
    pm_thread_exit(h, 2);
    /* its tcache (one 32-byte chunk) and the tcache struct go back */
    CHECK(info(h).uordblks == 688 + 2256 + 32);
    pm_destroy(h);
}

static void bins_accounting(void)
{
    pm_heap_t *h = pm_create(NULL);
    uint64_t p[9];
    for (int i = 0; i < 9; i++)
        p[i] = pm_malloc(h, 40);
    for (int i = 0; i < 9; i++)
        pm_free(h, p[i]);
    pm_bins_t b;
    pm_bins(h, &b);
    /* 7 x 48 in the tcache, 2 x 48 in a fastbin, top = 135168 - 656 - 9 x 48 */
    CHECK(b.tcache_chunks == 7 && b.tcache_bytes == 336);
    CHECK(b.fast_chunks == 2 && b.fast_bytes == 96);
    CHECK(b.unsorted_chunks == 0 && b.small_chunks == 0 && b.large_chunks == 0);
    CHECK(b.top_bytes == 134080 && b.largest_free == 134080 && b.arenas == 1);
    /* a large request consolidates first: the two fastbin chunks border
     * top and melt into it, so a starts where p[7] was */
    uint64_t a = pm_malloc(h, 5000); /* chunk 5008 */
    CHECK(a == p[7]);
    uint64_t g = pm_malloc(h, 5000); /* keeps a away from top */
    pm_free(h, a);                   /* too big for tcache/fastbins: unsorted */
    pm_bins(h, &b);
    CHECK(b.unsorted_chunks == 1 && b.unsorted_bytes == 5008);
    uint64_t c = pm_malloc(h, 6000); /* the walk sorts a into its large bin */
    pm_bins(h, &b);
    CHECK(b.unsorted_chunks == 0 && b.large_chunks == 1 && b.large_bytes == 5008);
    pm_mallinfo_t m = info(h);
    CHECK(m.ordblks == 2 && m.smblks == 0);
    CHECK(m.fordblks == b.top_bytes + 5008);
    /* the same figures the real glibc gives for this sequence */
    CHECK(m.arena == 135168 && m.fordblks == 123152 && m.keepcost == 118144);
    (void)g;
    (void)c;
    pm_destroy(h);
}

int main(void)
{
    bins_accounting();
    first_malloc();
    tcache_then_fastbin();
    mmap_threshold();
    mallopt_disables_dynamic();
    second_thread();
    if (fails) {
        fprintf(stderr, "pm_unit: %d checks failed\n", fails);
        return 1;
    }
    printf("pm_unit: all checks passed\n");
    return 0;
}
