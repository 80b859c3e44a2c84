/* ids.h - per-object arrays of the models, indexed by the driver's dense ids,
 * and the simulator's other large or shared memory (internal). */
#ifndef SIM_IDS_H
#define SIM_IDS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SIM_HUGE ((size_t)2 << 20)

/* bytes (a multiple of the page size) of zeroed memory, mapped 2 MiB aligned
 * and advised for transparent huge pages: zero pages from the kernel instead
 * of a zeroing pass, and one fault (and one TLB entry) per 2 MiB instead of
 * per 4 KiB (a first touch of a page costs ~12 us on the test VM). NULL when
 * out of memory; freed with munmap(p, bytes). */
static inline void *sim_map_huge(size_t bytes)
{
    size_t len = bytes + SIM_HUGE;
    char *m = (char *)mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + SIM_HUGE - 1) & ~(uintptr_t)(SIM_HUGE - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (a + bytes < m + len)
        munmap(a + bytes, (size_t)(m + len - (a + bytes)));
#ifdef MADV_HUGEPAGE
    madvise(a, bytes, MADV_HUGEPAGE);
#endif
    return a;
}

/* Arrays of this many bytes and more are mapped: grown with mremap, whose
 * new pages come zeroed from the kernel (no zeroing pass), and advised for
 * transparent huge pages (one fault per 2 MiB). Whether an array is mapped
 * follows from its bytes, so ids_free needs no flag. */
#define IDS_MAP SIM_HUGE

/* Makes *arr hold at least id + 1 elements of elem bytes (new ones zeroed).
 * Returns 0, or -1 when out of memory (*arr unchanged). */
static inline int ids_fit(void **arr, uint64_t *cap, uint32_t id, size_t elem)
{
    if (__builtin_expect(id < *cap, 1))
        return 0;
    uint64_t n = *cap ? *cap : 1024;
    while (n <= id)
        n *= 2;
    size_t old = *cap * elem, bytes = n * elem;
    char *p;
    if (bytes < IDS_MAP) {
        p = (char *)realloc(*arr, bytes);
        if (!p)
            return -1;
        memset(p + old, 0, bytes - old);
    } else {
        if (old >= IDS_MAP) {
            p = (char *)mremap(*arr, old, bytes, MREMAP_MAYMOVE);
            if (p == MAP_FAILED)
                return -1;
#ifdef MADV_HUGEPAGE
            madvise(p, bytes, MADV_HUGEPAGE);
#endif
        } else {
            if (!(p = (char *)sim_map_huge(bytes)))
                return -1;
            if (old)
                memcpy(p, *arr, old);
            free(*arr);
        }
    }
    *arr = p;
    *cap = n;
    return 0;
}

/* A zeroed block of whole cache lines of its own, for a model's state: the
 * models of a run are stepped on two threads, and states allocated one after
 * the other would otherwise share lines. Freed with free. */
static inline void *sim_zalloc_lines(size_t n)
{
    size_t bytes = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* Frees an array grown by ids_fit. */
static inline void ids_free(void *arr, uint64_t cap, size_t elem)
{
    if (cap * elem >= IDS_MAP)
        munmap(arr, cap * elem);
    else
        free(arr);
}

#endif /* SIM_IDS_H */
