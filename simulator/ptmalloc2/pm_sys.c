/* pm_sys.c - where the model's heap meets the (simulated) kernel: sysmalloc
 * (sbrk growth of the main arena, grow_heap/new_heap of the others), mmapped
 * chunks, systrim and heap_trim, and arena selection (arena.c). */
#include "pm_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- mmapped chunks ------------------------------------------------------ */

pm_chunk_t *pm_mmap_chunk(pm_heap_t *h, uint64_t nb)
{
    uint64_t size = pm_align_up(nb + PM_SIZE_SZ, PM_PAGE);
    if (size <= nb)
        return NULL;
    pm_chunk_t *p = pm_rec_new(h);
    p->addr = h->mmap_next;
    h->mmap_next += size;
    p->size = size;
    p->mmap_off = 0;
    p->state = PM_MMAPPED;
    p->arena = 0;
    h->n_mmaps++;
    h->mmapped_mem += size;
    return p;
}

void pm_munmap_chunk(pm_heap_t *h, pm_chunk_t *p)
{
    h->n_mmaps--;
    h->mmapped_mem -= p->mmap_off + p->size;
    pm_rec_free(h, p);
}

/* mremap_chunk: the new mapping is the page-rounded nb + offset + SIZE_SZ. */
bool pm_mremap_chunk(pm_heap_t *h, pm_chunk_t *p, uint64_t nb)
{
    uint64_t total = p->mmap_off + p->size;
    uint64_t new_size = pm_align_up(nb + p->mmap_off + PM_SIZE_SZ, PM_PAGE);
    if (new_size == total)
        return true;
    h->mmapped_mem += new_size - total;
    p->size = new_size - p->mmap_off;
    return true;
}

/* ---- non-main heaps ------------------------------------------------------ */

static pm_hinfo_t *new_heap(pm_heap_t *h, uint64_t size, uint64_t top_pad)
{
    if (size + top_pad < PM_HEAP_MIN)
        size = PM_HEAP_MIN;
    else if (size + top_pad <= PM_HEAP_MAX)
        size += top_pad;
    else if (size > PM_HEAP_MAX)
        return NULL;
    else
        size = PM_HEAP_MAX;
    size = pm_align_up(size, PM_PAGE);
    pm_hinfo_t *hi = calloc(1, sizeof *hi);
    if (!hi)
        return NULL;
    hi->addr = h->heap_next;
    h->heap_next += PM_HEAP_MAX;
    hi->size = hi->mprotect_size = size;
    return hi;
}

static int grow_heap(pm_hinfo_t *hi, int64_t diff)
{
    diff = (int64_t)pm_align_up((uint64_t)diff, PM_PAGE);
    uint64_t new_size = hi->size + (uint64_t)diff;
    if (new_size > PM_HEAP_MAX)
        return -1;
    if (new_size > hi->mprotect_size)
        hi->mprotect_size = new_size;
    hi->size = new_size;
    return 0;
}

static pm_chunk_t *new_rec_at(pm_heap_t *h, pm_arena_t *av, uint64_t addr, uint64_t size,
                              int state)
{
    pm_chunk_t *c = pm_rec_new(h);
    c->addr = addr;
    c->size = size;
    c->state = (uint8_t)state;
    c->arena = av->idx;
    return c;
}

/* Link b after a (a may be NULL for a segment start). */
static void link_after(pm_chunk_t *a, pm_chunk_t *b)
{
    b->phys_prev = a;
    b->phys_next = a ? a->phys_next : NULL;
    if (a) {
        if (a->phys_next)
            a->phys_next->phys_prev = b;
        a->phys_next = b;
    }
}

int pm_heap_trim(pm_heap_t *h, pm_arena_t *av, uint64_t pad)
{
    pm_hinfo_t *heap = av->heap;
    pm_chunk_t *top = av->top;
    while (heap->prev && top->addr == heap->addr + PM_HEAPINFO_SZ) {
        pm_hinfo_t *prev_heap = heap->prev;
        pm_chunk_t *p = prev_heap->fence2->phys_prev;
        uint64_t new_size = p->size + 2 * PM_SIZE_SZ;
        pm_chunk_t *pp = p->phys_prev;
        bool prev_free = pp && pp->state == PM_BIN;
        if (prev_free)
            new_size += pp->size;
        if (new_size + (PM_HEAP_MAX - prev_heap->size) < pad + PM_MINSIZE + PM_PAGE)
            break;
        av->system_mem -= heap->size;
        h->system_mem -= heap->size;
        pm_rec_free(h, top);
        free(heap);
        heap = prev_heap;
        if (prev_free) {
            pm_unlink(av, pp);
            p = pp;
        }
        while (p->phys_next) {
            pm_chunk_t *n = p->phys_next;
            p->phys_next = n->phys_next;
            pm_rec_free(h, n);
        }
        p->size = new_size;
        p->state = PM_TOP;
        av->top = top = p;
        av->heap = heap;
        heap->fence2 = NULL;
    }
    uint64_t top_size = top->size;
    if (top_size < h->trim_threshold)
        return 0;
    int64_t top_area = (int64_t)top_size - PM_MINSIZE - 1;
    if (top_area < 0 || (uint64_t)top_area <= pad)
        return 0;
    uint64_t extra = ((uint64_t)top_area - pad) & ~(uint64_t)(PM_PAGE - 1);
    if (extra == 0)
        return 0;
    if ((int64_t)heap->size - (int64_t)extra < (int64_t)PM_HEAPINFO_SZ)
        return 0;
    heap->size -= extra;
    av->system_mem -= extra;
    h->system_mem -= extra;
    top->size -= extra;
    return 1;
}

/* ---- sysmalloc ----------------------------------------------------------- */

static pm_chunk_t *sysmalloc_main(pm_heap_t *h, pm_arena_t *av, uint64_t nb)
{
    uint64_t old_size = pm_topsize(av);
    uint64_t size = nb + h->top_pad + PM_MINSIZE;
    if (av->contiguous)
        size -= old_size;
    size = pm_align_up(size, PM_PAGE);
    if ((int64_t)size <= 0)
        return NULL;
    uint64_t brk = h->brk_cur;
    h->brk_cur += size;
    av->system_mem += size;
    h->system_mem += size;
    if (av->top && brk == av->top->addr + old_size) {
        av->top->size += size;
    } else {
        /* first growth: align the start of top and the end of the break */
        uint64_t front = (brk + 2 * PM_SIZE_SZ) & (PM_ALIGN - 1);
        uint64_t correction = front ? PM_ALIGN - front : 0;
        uint64_t aligned_brk = brk + correction;
        correction += old_size;
        uint64_t end = brk + size + correction;
        correction += pm_align_up(end, PM_PAGE) - end;
        uint64_t snd_brk = h->brk_cur;
        h->brk_cur += correction;
        pm_chunk_t *t = new_rec_at(h, av, aligned_brk, snd_brk - aligned_brk + correction, PM_TOP);
        link_after(NULL, t);
        av->top = t;
        av->system_mem += correction;
        h->system_mem += correction;
    }
    return NULL;
}

static void sysmalloc_heap(pm_heap_t *h, pm_arena_t *av, uint64_t nb, bool tried_mmap,
                           pm_chunk_t **mm)
{
    pm_chunk_t *old_top = av->top;
    uint64_t old_size = old_top->size;
    pm_hinfo_t *old_heap = av->heap;
    uint64_t old_heap_size = old_heap->size;
    int64_t diff = (int64_t)(PM_MINSIZE + nb) - (int64_t)old_size;
    pm_hinfo_t *heap;
    if (diff > 0 && grow_heap(old_heap, diff) == 0) {
        av->system_mem += old_heap->size - old_heap_size;
        h->system_mem += old_heap->size - old_heap_size;
        old_top->size = old_heap->addr + old_heap->size - old_top->addr;
    } else if ((heap = new_heap(h, nb + PM_MINSIZE + PM_HEAPINFO_SZ, h->top_pad))) {
        heap->prev = old_heap;
        av->system_mem += heap->size;
        h->system_mem += heap->size;
        av->heap = heap;
        pm_chunk_t *t = new_rec_at(h, av, heap->addr + PM_HEAPINFO_SZ,
                                   heap->size - PM_HEAPINFO_SZ, PM_TOP);
        link_after(NULL, t);
        av->top = t;
        /* fenceposts at the end of the old heap, then free the old top */
        uint64_t os = (old_size - PM_MINSIZE) & ~(uint64_t)(PM_ALIGN - 1);
        pm_chunk_t *f2 = new_rec_at(h, av, old_top->addr + os + 2 * PM_SIZE_SZ, 0, PM_FENCE);
        old_heap->fence2 = f2;
        if (os >= PM_MINSIZE) {
            pm_chunk_t *f1 = new_rec_at(h, av, old_top->addr + os, 2 * PM_SIZE_SZ, PM_FENCE);
            link_after(old_top, f1);
            link_after(f1, f2);
            old_top->size = os;
            old_top->state = PM_INUSE;
            pm_int_free(h, av, old_top);
        } else {
            link_after(old_top, f2);
            old_top->size = os + 2 * PM_SIZE_SZ;
            old_top->state = PM_FENCE; /* in use, never handed out */
        }
    } else if (!tried_mmap) {
        *mm = pm_mmap_chunk(h, nb);
    }
}

pm_chunk_t *pm_sysmalloc(pm_heap_t *h, pm_arena_t *av, uint64_t nb)
{
    bool tried_mmap = false;
    if (nb >= h->mmap_threshold && h->n_mmaps < h->n_mmaps_max) {
        pm_chunk_t *m = pm_mmap_chunk(h, nb);
        if (m)
            return m;
        tried_mmap = true;
    }
    if (av->is_main) {
        sysmalloc_main(h, av, nb);
    } else {
        pm_chunk_t *mm = NULL;
        sysmalloc_heap(h, av, nb, tried_mmap, &mm);
        if (mm)
            return mm;
    }
    pm_chunk_t *top = av->top;
    if (top && top->size >= nb + PM_MINSIZE) {
        pm_chunk_t *rem = pm_split(h, top, nb);
        rem->state = PM_TOP;
        av->top = rem;
        top->state = PM_INUSE;
        return top;
    }
    return NULL;
}

/* ---- systrim (main arena) ------------------------------------------------ */

int pm_systrim(pm_heap_t *h, pm_arena_t *av, uint64_t pad)
{
    if (!av->top)
        return 0;
    uint64_t top_size = av->top->size;
    /* top_area is signed in glibc but compared with the unsigned pad */
    uint64_t top_area = top_size - PM_MINSIZE - 1;
    if (top_area <= pad)
        return 0;
    int64_t extra = (int64_t)((top_area - pad) & ~(uint64_t)(PM_PAGE - 1));
    if (extra == 0)
        return 0;
    if (h->brk_cur != av->top->addr + top_size)
        return 0;
    uint64_t cur = h->brk_cur;
    if (extra < 0 || (uint64_t)extra <= h->brk_cur - h->brk_base)
        h->brk_cur -= (uint64_t)extra;
    int64_t released = (int64_t)(cur - h->brk_cur);
    if (released != 0) {
        av->system_mem -= (uint64_t)released;
        h->system_mem -= (uint64_t)released;
        av->top->size = top_size - (uint64_t)released;
        return 1;
    }
    return 0;
}

/* ---- arenas -------------------------------------------------------------- */

static pm_arena_t *arena_alloc(pm_heap_t *h)
{
    if (h->narenas >= h->n_arenas_alloc) {
        size_t n = h->n_arenas_alloc ? h->n_arenas_alloc * 2 : 8;
        pm_arena_t **a = realloc(h->arenas, n * sizeof *a);
        if (!a)
            return NULL;
        h->arenas = a;
        h->n_arenas_alloc = n;
    }
    pm_arena_t *av = pm_zalloc_lines(sizeof *av);
    if (!av)
        return NULL;
    for (int i = 0; i < PM_NBINS; i++) {
        av->bins[i].fd = av->bins[i].bk = &av->bins[i];
        av->bins[i].state = PM_SENTINEL;
        av->bins[i].size = 0;
    }
    return av;
}

pm_arena_t *pm_arena_new_main(pm_heap_t *h)
{
    pm_arena_t *av = arena_alloc(h);
    if (!av)
        return NULL;
    av->is_main = true;
    av->contiguous = true;
    av->idx = 0;
    av->next = av;
    av->attached_threads = 1;
    h->arenas[0] = av;
    h->narenas = 1;
    return av;
}

static pm_arena_t *int_new_arena(pm_heap_t *h, uint64_t size)
{
    uint64_t hdr = PM_HEAPINFO_SZ + PM_ARENA_SZ + PM_ALIGN;
    pm_hinfo_t *hi = new_heap(h, size + hdr, h->top_pad);
    if (!hi) {
        hi = new_heap(h, hdr, h->top_pad);
        if (!hi)
            return NULL;
    }
    /* narenas was already incremented by the caller: the slot is narenas-1 */
    size_t slot = h->narenas - 1;
    if (slot >= h->n_arenas_alloc) {
        size_t n = h->n_arenas_alloc * 2;
        pm_arena_t **a = realloc(h->arenas, n * sizeof *a);
        if (!a)
            return NULL;
        h->arenas = a;
        h->n_arenas_alloc = n;
    }
    pm_arena_t *av = arena_alloc(h);
    if (!av)
        return NULL;
    av->idx = (uint16_t)slot;
    h->arenas[slot] = av;
    av->heap = hi;
    av->attached_threads = 1;
    av->system_mem = hi->size;
    h->system_mem += hi->size;
    uint64_t ptr = hi->addr + PM_HEAPINFO_SZ + PM_ARENA_SZ;
    uint64_t mis = (ptr + 2 * PM_SIZE_SZ) & (PM_ALIGN - 1);
    if (mis)
        ptr += PM_ALIGN - mis;
    pm_chunk_t *t = new_rec_at(h, av, ptr, hi->addr + hi->size - ptr, PM_TOP);
    link_after(NULL, t);
    av->top = t;
    av->next = h->main->next;
    h->main->next = av;
    return av;
}

static void detach_arena(pm_arena_t *a)
{
    if (a)
        a->attached_threads--;
}

static pm_arena_t *reused_arena(pm_heap_t *h, pm_thread_t *t)
{
    /* Under strict hand-off every trylock succeeds: take next_to_use. */
    h->cont.reused_arenas++;
    if (!h->next_to_use)
        h->next_to_use = h->main;
    pm_arena_t *r = h->next_to_use;
    detach_arena(t->arena);
    for (pm_arena_t **pp = &h->free_list; *pp; pp = &(*pp)->next_free)
        if (*pp == r) {
            *pp = r->next_free;
            break;
        }
    r->attached_threads++;
    t->arena = r;
    h->next_to_use = r->next;
    return r;
}

pm_arena_t *pm_arena_get(pm_heap_t *h, pm_thread_t *t, uint64_t size)
{
    if (t->arena)
        return t->arena;
    pm_arena_t *a = h->free_list;
    if (a) {
        h->free_list = a->next_free;
        a->attached_threads = 1;
        detach_arena(t->arena);
        t->arena = a;
        return a;
    }
    if (h->narenas_limit == 0) {
        if (h->arena_max != 0)
            h->narenas_limit = h->arena_max;
        else if (h->narenas > h->arena_test)
            h->narenas_limit = 8 * (uint64_t)h->ncpu;
    }
    if (h->narenas <= h->narenas_limit - 1) {
        h->narenas++;
        a = int_new_arena(h, size);
        if (!a) {
            h->narenas--;
            return NULL;
        }
        t->arena = a;
        return a;
    }
    return reused_arena(h, t);
}

void pm_arena_detach(pm_heap_t *h, pm_thread_t *t)
{
    pm_arena_t *a = t->arena;
    t->arena = NULL;
    if (a && --a->attached_threads == 0) {
        a->next_free = h->free_list;
        h->free_list = a;
    }
}
