/* classes.c - size classes of jemalloc 5.3, gperftools tcmalloc 2.10 and
 * mimalloc 2.0 on x86_64 with 4 KiB pages (sim_class_size, sim_slab_bytes,
 * sim_large_bytes in sim.h).
 *
 * The rules below are the allocators' own, as their sources compute them;
 * tests/simulator checks every class against the real libraries'
 * malloc_usable_size (LD_PRELOAD of Debian's libjemalloc2, libtcmalloc4 and
 * libmimalloc2.0).
 *
 * jemalloc: 8, then multiples of 16 up to 128, then 4 classes per doubling
 *   (spacing 2^(lg-2)); slab classes up to 14336, each slab being the least
 *   common multiple of the page and the class; larger classes (same spacing)
 *   get their own extent plus one page of cache-oblivious padding.
 * tcmalloc: SizeMap::Init's table: alignment 8 below 16, 16 below 128, then
 *   2^floor(lg)/8; each class's span is the fewest 8 KiB pages leaving at most
 *   1/8 unused and holding at least NumMoveSize/4 objects; a size merges into
 *   the previous class when span and object count are the same. Up to 256
 *   KiB; larger requests are rounded to 8 KiB pages.
 * mimalloc: 8-byte words; 8, then 2-word steps up to 8 words, then 4 classes
 *   per doubling up to 128 KiB (pages of 64 KiB up to 16 KiB objects, 512 KiB
 *   above); larger requests get pages of their own (mi_good_size below).
 */
#include "sim.h"

#include <pthread.h>

static inline unsigned lg_floor(uint64_t n) { return 63 - (unsigned)__builtin_clzll(n); }
static inline uint64_t round_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

/* ---- jemalloc ---------------------------------------------------------------- */

static uint64_t je_class(uint64_t n)
{
    if (n <= 8)
        return 8;
    if (n <= 128)
        return round_up(n, 16);
    return round_up(n, 1ull << (lg_floor(n - 1) - 2));
}

/* ---- tcmalloc ------------------------------------------------------------------ */

#define TC_PAGE 8192u
#define TC_MAX (256u * 1024u)
#define TC_NCLASS 128

static uint32_t tc_size[TC_NCLASS], tc_pages[TC_NCLASS];
static unsigned tc_n;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;

static unsigned tc_align(uint64_t size)
{
    unsigned a = 8;
    if (size >= 128)
        a = (1u << lg_floor(size)) / 8;
    else if (size >= 16)
        a = 16;
    return a > TC_PAGE ? TC_PAGE : a;
}

static int tc_move(uint64_t size)
{
    int num = (int)(64.0 * 1024.0 / (double)size);
    if (num < 2)
        num = 2;
    if (num > 32) /* FLAGS_tcmalloc_transfer_num_objects */
        num = 32;
    return num;
}

static void tc_init(void)
{
    unsigned align = 8;
    for (uint64_t size = 8; size <= TC_MAX; size += align) {
        align = tc_align(size);
        uint64_t blocks = (uint64_t)(tc_move(size) / 4), psize = 0;
        do {
            psize += TC_PAGE;
            while (psize % size > (psize >> 3))
                psize += TC_PAGE;
        } while (psize / size < blocks);
        uint32_t pages = (uint32_t)(psize / TC_PAGE);
        if (tc_n > 0 && pages == tc_pages[tc_n - 1] &&
            pages * (uint64_t)TC_PAGE / size ==
                tc_pages[tc_n - 1] * (uint64_t)TC_PAGE / tc_size[tc_n - 1]) {
            tc_size[tc_n - 1] = (uint32_t)size;
            continue;
        }
        if (tc_n == TC_NCLASS)
            break;
        tc_size[tc_n] = (uint32_t)size;
        tc_pages[tc_n] = pages;
        tc_n++;
    }
}

static unsigned tc_index(uint64_t n)
{
    pthread_once(&tc_once, tc_init);
    unsigned lo = 0, hi = tc_n - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (tc_size[mid] >= n)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static uint64_t tc_class(uint64_t n)
{
    if (n > TC_MAX)
        return round_up(n, TC_PAGE);
    return tc_size[tc_index(n ? n : 1)];
}

/* ---- mimalloc ------------------------------------------------------------------- */

#define MI_MEDIUM_MAX (128u * 1024u)

/* Above 128 KiB: slices of 64 KiB up to 512 KiB, then 512 KiB steps up to
 * 8 MiB, 1 MiB up to 32 MiB, 4 MiB beyond (as Debian's libmimalloc 2.0
 * reports malloc_usable_size; _mi_os_good_alloc_size plus slice rounding). */
static uint64_t mi_good_size(uint64_t n)
{
    if (n <= 512 * 1024)
        return round_up(n, 64 * 1024);
    if (n <= 8 * 1024 * 1024)
        return round_up(n, 512 * 1024);
    if (n <= 32 * 1024 * 1024)
        return round_up(n, 1024 * 1024);
    return round_up(n, 4 * 1024 * 1024);
}

static uint64_t mi_class(uint64_t n)
{
    if (n > MI_MEDIUM_MAX)
        return mi_good_size(n);
    uint64_t w = (n + 7) / 8;
    if (w <= 1)
        return 8;
    if (w <= 8) /* double words (Debian builds with MI_ALIGN2W semantics) */
        return ((w + 1) & ~1ull) * 8;
    w--;
    unsigned b = lg_floor(w);
    return (((w >> (b - 2)) + 1) << (b - 2)) * 8;
}

/* ---- public ------------------------------------------------------------------------ */

uint64_t sim_class_size(sim_sc_kind_t k, uint64_t n)
{
    switch (k) {
    case SIM_JEMALLOC:
        return je_class(n);
    case SIM_TCMALLOC:
        return tc_class(n);
    default:
        return mi_class(n);
    }
}

uint64_t sim_slab_bytes(sim_sc_kind_t k, uint64_t c, int *is_slab)
{
    switch (k) {
    case SIM_JEMALLOC: {
        *is_slab = c <= 14336;
        uint64_t s = 4096;
        while (s % c)
            s += 4096;
        return *is_slab ? s : 0;
    }
    case SIM_TCMALLOC:
        *is_slab = c <= TC_MAX;
        return *is_slab ? (uint64_t)tc_pages[tc_index(c)] * TC_PAGE : 0;
    default:
        *is_slab = c <= MI_MEDIUM_MAX;
        if (!*is_slab)
            return 0;
        return c <= 16 * 1024 ? 64 * 1024 : 512 * 1024;
    }
}

uint64_t sim_large_bytes(sim_sc_kind_t k, uint64_t c)
{
    switch (k) {
    case SIM_JEMALLOC:
        return c + 4096; /* sz_large_pad: cache-oblivious offset */
    default:
        return c; /* already page (or good-size) rounded */
    }
}
