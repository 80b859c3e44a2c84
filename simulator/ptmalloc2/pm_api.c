/* pm_api.c - the public calls: __libc_malloc, free, calloc, realloc,
 * memalign and friends, mallopt, malloc_trim, mallinfo2, threads. */
#include "pm_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#define DEFAULT_MMAP_THRESHOLD (128u * 1024)
#define DEFAULT_TRIM_THRESHOLD (128u * 1024)
#define DEFAULT_TOP_PAD (128u * 1024)
#define DEFAULT_MMAP_MAX 65536
#define MAX_FAST_SIZE 160u
#define TCACHE_STRUCT_BYTES 640u
#define DEFAULT_BRK_BASE 0x555555559000ull
/* Model addresses of mmapped chunks and non-main heaps: never reused, each
 * kind in its own range far above the break, so that a long trace cannot
 * make two live chunks share an address. (Real addresses of these do not
 * matter to glibc's decisions, except as noted for big memalign.) */
#define MMAP_BASE 0x4000000000000000ull
#define HEAPS_BASE 0x2000000000000000ull

void pm_config_default(pm_config_t *cfg)
{
    cfg->mmap_threshold = cfg->trim_threshold = cfg->top_pad = cfg->mxfast = -1;
    cfg->arena_max = cfg->tcache_count = cfg->mmap_max = -1;
    cfg->ncpu = 0;
    cfg->brk_base = 0;
    cfg->tcache_max = -1;
    cfg->tcache_unsorted_limit = cfg->arena_test = -1;
}

int pm_config_set(pm_config_t *cfg, const char *name, const char *value)
{
    if (strncmp(name, "glibc.malloc.", 13) == 0)
        name += 13;
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 0);
    if (errno || end == value || v < 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end)
        return -1;
    static const struct { const char *n; size_t off; } keys[] = {
        {"mmap_threshold", offsetof(pm_config_t, mmap_threshold)},
        {"trim_threshold", offsetof(pm_config_t, trim_threshold)},
        {"top_pad", offsetof(pm_config_t, top_pad)},
        {"mxfast", offsetof(pm_config_t, mxfast)},
        {"arena_max", offsetof(pm_config_t, arena_max)},
        {"tcache_count", offsetof(pm_config_t, tcache_count)},
        {"mmap_max", offsetof(pm_config_t, mmap_max)},
        {"tcache_max", offsetof(pm_config_t, tcache_max)},
        {"tcache_unsorted_limit", offsetof(pm_config_t, tcache_unsorted_limit)},
        {"arena_test", offsetof(pm_config_t, arena_test)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(name, keys[i].n) == 0) {
            *(int64_t *)((char *)cfg + keys[i].off) = v;
            return 0;
        }
    return -1;
}

static uint64_t set_max_fast(uint64_t s)
{
    return s == 0 ? PM_MINSIZE / 2 : (s + PM_SIZE_SZ) & ~(uint64_t)(PM_ALIGN - 1);
}

pm_heap_t *pm_create(const pm_config_t *cfg)
{
    pm_config_t def;
    if (!cfg) {
        pm_config_default(&def);
        cfg = &def;
    }
    pm_heap_t *h = pm_zalloc_lines(sizeof *h);
    if (!h)
        return NULL;
    h->trim_threshold = DEFAULT_TRIM_THRESHOLD;
    h->top_pad = DEFAULT_TOP_PAD;
    h->mmap_threshold = DEFAULT_MMAP_THRESHOLD;
    h->arena_test = 8;
    h->n_mmaps_max = DEFAULT_MMAP_MAX;
    h->tcache_bins = PM_TCACHE_BINS;
    h->tcache_count = 7;
    h->max_fast = set_max_fast(64 * PM_SIZE_SZ / 4);
    /* glibc counts the CPUs the process may run on (__get_nprocs_sched) */
    cpu_set_t cs;
    int n = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 0;
    h->ncpu = cfg->ncpu ? cfg->ncpu : (n > 0 ? (unsigned)n : 2);
    h->cont.ncpu = h->ncpu;
    /* tunables behave as mallopt does */
    if (cfg->mmap_threshold >= 0) {
        h->mmap_threshold = (uint64_t)cfg->mmap_threshold;
        h->no_dyn_threshold = true;
    }
    if (cfg->trim_threshold >= 0) {
        h->trim_threshold = (uint64_t)cfg->trim_threshold;
        h->no_dyn_threshold = true;
    }
    if (cfg->top_pad >= 0) {
        h->top_pad = (uint64_t)cfg->top_pad;
        h->no_dyn_threshold = true;
    }
    if (cfg->mmap_max >= 0) {
        h->n_mmaps_max = cfg->mmap_max;
        h->no_dyn_threshold = true;
    }
    if (cfg->mxfast >= 0 && (uint64_t)cfg->mxfast <= MAX_FAST_SIZE)
        h->max_fast = set_max_fast((uint64_t)cfg->mxfast);
    if (cfg->arena_max > 0)
        h->arena_max = (uint64_t)cfg->arena_max;
    if (cfg->tcache_count >= 0 && cfg->tcache_count <= 65535)
        h->tcache_count = (uint64_t)cfg->tcache_count;
    if (cfg->tcache_unsorted_limit >= 0)
        h->tcache_unsorted_limit = (uint64_t)cfg->tcache_unsorted_limit;
    if (cfg->arena_test > 0)
        h->arena_test = (uint64_t)cfg->arena_test;
    if (cfg->tcache_max >= 0 && cfg->tcache_max <= 1032)
        h->tcache_bins = pm_csize2tidx(pm_req2size((size_t)cfg->tcache_max)) + 1;
    h->brk_base = h->brk_cur = cfg->brk_base ? cfg->brk_base : DEFAULT_BRK_BASE;
    h->mmap_next = MMAP_BASE;
    h->heap_next = HEAPS_BASE;
    if (!pm_arena_new_main(h)) {
        pm_destroy(h);
        return NULL;
    }
    h->main = h->arenas[0];
    return h;
}

void pm_destroy(pm_heap_t *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->narenas && h->arenas; i++) {
        pm_arena_t *a = h->arenas[i];
        if (!a)
            continue;
        pm_hinfo_t *hi = a->heap;
        while (hi) {
            pm_hinfo_t *p = hi->prev;
            free(hi);
            hi = p;
        }
        free(a);
    }
    free(h->arenas);
    for (size_t i = 0; i < h->th_cap; i++)
        if (h->thash[i]) {
            free(h->thash[i]->tcache);
            free(h->thash[i]);
        }
    free(h->thash);
    free(h->ix);
    pm_recs_release(h);
    free(h);
}

/* ---- threads ------------------------------------------------------------- */

static inline size_t th_slot(const pm_heap_t *h, uint32_t tid)
{
    return (size_t)((tid * 0x9E3779B97F4A7C15ull) >> 32) & (h->th_cap - 1);
}

static bool th_insert(pm_heap_t *h, pm_thread_t *t)
{
    if ((h->th_n + 1) * 2 > h->th_cap) {
        size_t oc = h->th_cap, nc = oc ? oc * 2 : 16;
        pm_thread_t **old = h->thash, **nt = calloc(nc, sizeof *nt);
        if (!nt)
            return false;
        h->thash = nt;
        h->th_cap = nc;
        for (size_t i = 0; i < oc; i++)
            if (old[i]) {
                size_t s = th_slot(h, old[i]->tid);
                while (nt[s])
                    s = (s + 1) & (nc - 1);
                nt[s] = old[i];
            }
        free(old);
    }
    size_t s = th_slot(h, t->tid);
    while (h->thash[s])
        s = (s + 1) & (h->th_cap - 1);
    h->thash[s] = t;
    h->th_n++;
    return true;
}

static pm_thread_t *thread_find(pm_heap_t *h, uint32_t tid)
{
    if (!h->th_cap)
        return NULL;
    size_t s = th_slot(h, tid);
    pm_thread_t *t;
    while ((t = h->thash[s])) {
        if (t->tid == tid)
            return t;
        s = (s + 1) & (h->th_cap - 1);
    }
    return NULL;
}

static void thread_remove(pm_heap_t *h, pm_thread_t *t)
{
    size_t mask = h->th_cap - 1, i = th_slot(h, t->tid), j;
    while (h->thash[i] != t)
        i = (i + 1) & mask;
    j = i;
    for (;;) {
        h->thash[i] = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (!h->thash[j]) {
                h->th_n--;
                return;
            }
            size_t k = th_slot(h, h->thash[j]->tid);
            if (i <= j ? (k <= i || k > j) : (k <= i && k > j))
                break;
        }
        h->thash[i] = h->thash[j];
        i = j;
    }
}

static pm_thread_t *thread_add(pm_heap_t *h, uint32_t tid)
{
    pm_thread_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tid = tid;
    if (!th_insert(h, t)) {
        free(t);
        return NULL;
    }
    h->cont.threads++;
    if (h->th_ever++ == 0)
        t->arena = h->main; /* the first thread is the main thread */
    return t;
}

void pm_set_thread(pm_heap_t *h, uint32_t tid)
{
    if (h->cur && h->cur->tid == tid)
        return;
    pm_thread_t *t = thread_find(h, tid);
    if (!t) {
        t = thread_add(h, tid);
        if (!t)
            return; /* host out of memory: stay on the current thread */
    }
    h->cur = t;
}

static inline pm_thread_t *cur_thread(pm_heap_t *h)
{
    if (__builtin_expect(h->cur == NULL, 0))
        pm_set_thread(h, 0);
    return h->cur;
}

/* arena_get_retry: a non-main arena that failed (its heap is full and a new
 * heap was refused, or given back at once by heap_trim) hands the request
 * to the main arena; the thread keeps its arena. The main arena itself never
 * fails in the model (sbrk always succeeds), so arena_get2's other branch is
 * not needed. */
static inline pm_arena_t *arena_retry(pm_heap_t *h, pm_arena_t *av)
{
    return av->is_main ? NULL : h->main;
}

static void tcache_init(pm_heap_t *h, pm_thread_t *t)
{
    if (t->shutting_down)
        return;
    pm_arena_t *av = pm_arena_get(h, t, TCACHE_STRUCT_BYTES);
    if (!av)
        return;
    pm_chunk_t *v = pm_int_malloc(h, av, TCACHE_STRUCT_BYTES);
    if (!v && (av = arena_retry(h, av)))
        v = pm_int_malloc(h, av, TCACHE_STRUCT_BYTES);
    if (!v)
        return;
    t->tcache = calloc(1, sizeof *t->tcache);
    t->tcache_chunk = v;
}

static inline void maybe_init_tcache(pm_heap_t *h, pm_thread_t *t)
{
    if (__builtin_expect(t->tcache == NULL, 0))
        tcache_init(h, t);
}

static void int_free_any(pm_heap_t *h, pm_chunk_t *c)
{
    pm_arena_t *av = pm_arena_of(h, c);
    if (h->cur && av != h->cur->arena)
        h->cont.remote_ops++;
    pm_int_free(h, av, c);
}


void pm_thread_exit(pm_heap_t *h, uint32_t tid)
{
    pm_thread_t *t = thread_find(h, tid);
    if (!t)
        return;
    pm_thread_t *saved = h->cur;
    uint32_t saved_tid = saved ? saved->tid : 0;
    h->cur = t;
    t->shutting_down = true;
    pm_tcache_t *tc = t->tcache;
    if (tc) {
        t->tcache = NULL;
        for (int i = 0; i < PM_TCACHE_BINS; i++)
            while (tc->entries[i]) {
                pm_chunk_t *e = pm_tcache_get(h, tc, (uint64_t)i);
                int_free_any(h, e);
            }
        free(tc);
        int_free_any(h, t->tcache_chunk);
        t->tcache_chunk = NULL;
    }
    pm_arena_detach(h, t);
    thread_remove(h, t);
    free(t);
    h->cur = NULL;
    if (saved && saved != t)
        pm_set_thread(h, saved_tid);
}

/* ---- malloc / free ------------------------------------------------------- */

#define REQ_MAX ((size_t)PTRDIFF_MAX)

pm_chunk_t *pm_malloc_c(pm_heap_t *h, size_t n)
{
    pm_thread_t *t = cur_thread(h);
    if (n > REQ_MAX || !pm_rec_reserve(h))
        return NULL;
    uint64_t nb = pm_req2size(n), tc_idx = pm_csize2tidx(nb);
    maybe_init_tcache(h, t);
    pm_tcache_t *tc = t->tcache;
    if (tc_idx < h->tcache_bins && tc && tc->counts[tc_idx] > 0) {
        pm_fast_ahead(h, t->arena, nb);
        return pm_tcache_get(h, tc, tc_idx);
    }
    pm_arena_t *av = pm_arena_get(h, t, n);
    if (!av)
        return NULL;
    pm_chunk_t *c = pm_int_malloc(h, av, n);
    if (__builtin_expect(!c, 0) && (av = arena_retry(h, av)))
        c = pm_int_malloc(h, av, n);
    return c;
}

void pm_undo_c(pm_heap_t *h, pm_chunk_t *c)
{
    if (c && c->state == PM_MMAPPED) { /* glibc's mmap failed: no threshold update as a free makes */
        if (c->hashed)
            pm_ix_del(h, c);
        pm_munmap_chunk(h, c);
        return;
    }
    pm_free_c(h, c);
}

void pm_free_c(pm_heap_t *h, pm_chunk_t *c)
{
    if (!c || (c->state != PM_INUSE && c->state != PM_MMAPPED))
        return; /* NULL, or a double free (glibc would abort): ignored */
    if (c->hashed)
        pm_ix_del(h, c);
    if (c->state == PM_MMAPPED) {
        uint64_t nomask = c->size | 2;
        if (!h->no_dyn_threshold && nomask > h->mmap_threshold &&
            nomask <= PM_MMAP_THRESHOLD_MAX) {
            h->mmap_threshold = c->size;
            h->trim_threshold = 2 * c->size;
        }
        pm_munmap_chunk(h, c);
        return;
    }
    pm_thread_t *t = cur_thread(h);
    if (!t->tcache && !pm_rec_reserve(h))
        return; /* host out of memory: the chunk stays allocated */
    maybe_init_tcache(h, t);
    pm_tcache_t *tc = t->tcache;
    uint64_t ti = pm_csize2tidx(c->size);
    if (tc && ti < h->tcache_bins && tc->counts[ti] < h->tcache_count) {
        pm_tcache_put(h, tc, c, ti); /* _int_free's first step, inlined */
        return;
    }
    int_free_any(h, c);
}

pm_chunk_t *pm_calloc_c(pm_heap_t *h, size_t nmemb, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(nmemb, size, &bytes) || !pm_rec_reserve(h))
        return NULL;
    pm_thread_t *t = cur_thread(h);
    maybe_init_tcache(h, t);
    pm_arena_t *av = pm_arena_get(h, t, bytes);
    if (!av)
        return NULL;
    pm_chunk_t *c = pm_int_malloc(h, av, bytes);
    if (!c && (av = arena_retry(h, av)))
        c = pm_int_malloc(h, av, bytes);
    return c;
}

/* ---- realloc ------------------------------------------------------------- */

static pm_chunk_t *int_realloc(pm_heap_t *h, pm_arena_t *av, pm_chunk_t *oldp, uint64_t nb)
{
    uint64_t oldsize = oldp->size;
    pm_chunk_t *next = oldp->phys_next;
    if (oldsize < nb) {
        if (next == av->top && oldsize + next->size >= nb + PM_MINSIZE) {
            uint64_t grow = nb - oldsize;
            oldp->size = nb;
            next->addr += grow;
            next->size -= grow;
            return oldp;
        } else if (next != av->top && next->state == PM_BIN && oldsize + next->size >= nb) {
            pm_unlink(av, next);
            pm_absorb_next(h, oldp);
        } else {
            pm_chunk_t *newp = pm_int_malloc(h, av, nb - (PM_ALIGN - 1));
            if (!newp)
                return NULL;
            if (newp == oldp->phys_next && newp->state != PM_MMAPPED) {
                pm_absorb_next(h, oldp);
            } else {
                pm_int_free(h, av, oldp); /* av is oldp's arena */
                return newp;
            }
        }
    }
    if (oldp->size - nb >= PM_MINSIZE) {
        pm_chunk_t *rem = pm_split(h, oldp, nb);
        rem->state = PM_INUSE;
        pm_int_free(h, av, rem);
    }
    return oldp;
}

pm_chunk_t *pm_realloc_c(pm_heap_t *h, pm_chunk_t *c, size_t n)
{
    if (n == 0 && c) {
        pm_free_c(h, c);
        return NULL;
    }
    if (!c)
        return pm_malloc_c(h, n);
    if (n > REQ_MAX || (c->state != PM_INUSE && c->state != PM_MMAPPED) || !pm_rec_reserve(h))
        return NULL;
    uint64_t nb = pm_req2size(n);
    if (c->state == PM_MMAPPED) {
        pm_mremap_chunk(h, c, nb);
        return c;
    }
    pm_thread_t *t = cur_thread(h);
    maybe_init_tcache(h, t);
    bool hashed = c->hashed;
    if (hashed)
        pm_ix_del(h, c);
    pm_arena_t *av = pm_arena_of(h, c);
    if (av != t->arena)
        h->cont.remote_ops++;
    pm_chunk_t *r = int_realloc(h, av, c, nb);
    if (!r && !av->is_main) {
        /* __libc_realloc tries harder: malloc elsewhere, copy, free */
        r = pm_malloc_c(h, n);
        if (r)
            pm_int_free(h, av, c);
    }
    if (!r && hashed)
        pm_ix_put(h, c);
    return r;
}

/* ---- memalign ------------------------------------------------------------ */

static pm_chunk_t *int_memalign(pm_heap_t *h, pm_arena_t *av, uint64_t align, size_t bytes)
{
    if (bytes > REQ_MAX)
        return NULL;
    uint64_t nb = pm_req2size(bytes);
    if (nb > REQ_MAX - align - PM_MINSIZE)
        return NULL;
    pm_chunk_t *p = pm_int_malloc(h, av, nb + align + PM_MINSIZE);
    if (!p)
        return NULL;
    uint64_t m = p->addr + 2 * PM_SIZE_SZ;
    if (m % align != 0) {
        uint64_t brk = ((m + align - 1) & -align) - 2 * PM_SIZE_SZ;
        if (brk - p->addr < PM_MINSIZE)
            brk += align;
        uint64_t lead = brk - p->addr;
        if (p->state == PM_MMAPPED) {
            p->addr = brk;
            p->mmap_off += lead;
            p->size -= lead;
            return p;
        }
        pm_chunk_t *newp = pm_split(h, p, lead);
        newp->state = PM_INUSE;
        pm_int_free(h, av, p);
        p = newp;
    }
    if (p->state != PM_MMAPPED && p->size > nb + PM_MINSIZE) {
        pm_chunk_t *rem = pm_split(h, p, nb);
        rem->state = PM_INUSE;
        pm_int_free(h, av, rem);
    }
    return p;
}

pm_chunk_t *pm_memalign_c(pm_heap_t *h, size_t align, size_t n)
{
    if (align <= PM_ALIGN)
        return pm_malloc_c(h, n);
    if (align < PM_MINSIZE)
        align = PM_MINSIZE;
    if (align > SIZE_MAX / 2 + 1)
        return NULL;
    if (align & (align - 1)) {
        size_t a = PM_ALIGN * 2;
        while (a < align)
            a <<= 1;
        align = a;
    }
    pm_thread_t *t = cur_thread(h);
    if (!pm_rec_reserve(h))
        return NULL;
    pm_arena_t *av = pm_arena_get(h, t, n + align + PM_MINSIZE);
    if (!av)
        return NULL;
    pm_chunk_t *c = int_memalign(h, av, align, n);
    if (!c && (av = arena_retry(h, av)))
        c = int_memalign(h, av, align, n);
    return c;
}

int pm_posix_memalign_c(pm_heap_t *h, pm_chunk_t **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || align == 0 ||
        ((align / sizeof(void *)) & (align / sizeof(void *) - 1)) != 0)
        return EINVAL;
    pm_chunk_t *c = pm_memalign_c(h, align, n);
    if (!c)
        return ENOMEM;
    *out = c;
    return 0;
}

pm_chunk_t *pm_valloc_c(pm_heap_t *h, size_t n) { return pm_memalign_c(h, PM_PAGE, n); }

pm_chunk_t *pm_pvalloc_c(pm_heap_t *h, size_t n)
{
    size_t r;
    if (__builtin_add_overflow(n, (size_t)PM_PAGE - 1, &r))
        return NULL;
    r &= -((size_t)PM_PAGE - 1); /* glibc 2.36 masks with -(pagesize - 1) */
    return pm_memalign_c(h, PM_PAGE, r);
}

uint64_t pm_chunk_addr(const pm_chunk_t *c) { return c ? c->addr + 2 * PM_SIZE_SZ : 0; }

size_t pm_chunk_usable(const pm_chunk_t *c)
{
    if (!c)
        return 0;
    return c->state == PM_MMAPPED ? c->size - 2 * PM_SIZE_SZ : c->size - PM_SIZE_SZ;
}

void pm_chunk_info(const pm_chunk_t *c, pm_chunk_info_t *ci)
{
    ci->addr = pm_chunk_addr(c);
    ci->size = c->size;
    ci->arena = c->arena;
    ci->mmapped = c->state == PM_MMAPPED;
    ci->mmap_off = ci->mmapped ? c->mmap_off : 0;
}

uint64_t pm_brk_base(const pm_heap_t *h) { return h->brk_base; }

/* ---- the address API ----------------------------------------------------- */

static uint64_t publish(pm_heap_t *h, pm_chunk_t *c)
{
    if (!c)
        return 0;
    if (!c->hashed && !pm_ix_put(h, c))
        return 0;
    return pm_chunk_addr(c);
}

static pm_chunk_t *lookup(const pm_heap_t *h, uint64_t p)
{
    return p ? pm_ix_get(h, p - 2 * PM_SIZE_SZ) : NULL;
}

pm_chunk_t *pm_chunk_of(const pm_heap_t *h, uint64_t p) { return lookup(h, p); }

uint64_t pm_malloc(pm_heap_t *h, size_t n) { return publish(h, pm_malloc_c(h, n)); }
uint64_t pm_calloc(pm_heap_t *h, size_t a, size_t b) { return publish(h, pm_calloc_c(h, a, b)); }
uint64_t pm_memalign(pm_heap_t *h, size_t al, size_t n) { return publish(h, pm_memalign_c(h, al, n)); }
uint64_t pm_valloc(pm_heap_t *h, size_t n) { return publish(h, pm_valloc_c(h, n)); }
uint64_t pm_pvalloc(pm_heap_t *h, size_t n) { return publish(h, pm_pvalloc_c(h, n)); }

void pm_free(pm_heap_t *h, uint64_t p)
{
    if (p == 0) {
        cur_thread(h);
        return;
    }
    pm_chunk_t *c = lookup(h, p);
    if (c)
        pm_free_c(h, c);
}

uint64_t pm_realloc(pm_heap_t *h, uint64_t p, size_t n)
{
    pm_chunk_t *c = lookup(h, p);
    if (p && !c)
        return 0; /* not a pointer of this heap */
    if (c && c->state == PM_MMAPPED && n) {
        /* the model keeps an mremapped chunk's address */
        pm_realloc_c(h, c, n);
        return p;
    }
    return publish(h, pm_realloc_c(h, c, n));
}

int pm_posix_memalign(pm_heap_t *h, uint64_t *out, size_t align, size_t n)
{
    pm_chunk_t *c = NULL;
    int rc = pm_posix_memalign_c(h, &c, align, n);
    if (rc == 0) {
        *out = publish(h, c);
        if (!*out)
            return ENOMEM;
    }
    return rc;
}

size_t pm_usable_size(const pm_heap_t *h, uint64_t p) { return pm_chunk_usable(lookup(h, p)); }

/* ---- mallopt, malloc_trim ------------------------------------------------ */

int pm_mallopt(pm_heap_t *h, int param, int value)
{
    pm_consolidate(h, h->main);
    size_t v = (size_t)(long)value;
    switch (param) {
    case 1: /* M_MXFAST */
        if (v > MAX_FAST_SIZE)
            return 0;
        h->max_fast = set_max_fast(v);
        return 1;
    case -1: /* M_TRIM_THRESHOLD */
        h->trim_threshold = v;
        h->no_dyn_threshold = true;
        return 1;
    case -2: /* M_TOP_PAD */
        h->top_pad = v;
        h->no_dyn_threshold = true;
        return 1;
    case -3: /* M_MMAP_THRESHOLD */
        h->mmap_threshold = v; /* 2.36 has no upper bound here */
        h->no_dyn_threshold = true;
        return 1;
    case -4: /* M_MMAP_MAX */
        h->n_mmaps_max = value;
        h->no_dyn_threshold = true;
        return 1;
    case -7: /* M_ARENA_TEST */
        if (value > 0)
            h->arena_test = (uint64_t)value;
        return 1;
    case -8: /* M_ARENA_MAX */
        if (value > 0)
            h->arena_max = (uint64_t)value;
        return 1;
    default:
        return 1;
    }
}

/* mtrim: consolidate, MADV_DONTNEED whole free pages (no effect on the
 * figures the model keeps), then systrim for the main arena. */
static int mtrim(pm_heap_t *h, pm_arena_t *av, size_t pad)
{
    pm_consolidate(h, av);
    int result = 0;
    unsigned psindex = pm_bin_index(PM_PAGE);
    for (unsigned i = 1; i < PM_NBINS && !result; i++) {
        if (i != 1 && i < psindex)
            continue;
        pm_chunk_t *bin = &av->bins[i];
        for (pm_chunk_t *p = bin->bk; p != bin; p = p->bk) {
            uint64_t size = p->size;
            if (size > PM_PAGE - 1 + 48) {
                uint64_t pal = (p->addr + 48 + PM_PAGE - 1) & ~(uint64_t)(PM_PAGE - 1);
                size -= pal - p->addr;
                if (size > PM_PAGE - 1) {
                    result = 1;
                    break;
                }
            }
        }
    }
    if (av->is_main)
        result |= pm_systrim(h, av, pad);
    return result;
}

int pm_malloc_trim(pm_heap_t *h, size_t pad)
{
    int result = 0;
    pm_arena_t *a = h->main;
    do {
        result |= mtrim(h, a, pad);
        a = a->next;
    } while (a != h->main);
    return result;
}

/* ---- statistics ---------------------------------------------------------- */

void pm_mallinfo2(const pm_heap_t *h, pm_mallinfo_t *mi)
{
    memset(mi, 0, sizeof *mi);
    const pm_arena_t *a = h->main;
    do {
        uint64_t avail = pm_topsize(a) + a->fast_bytes + a->bin_bytes[0] + a->bin_bytes[1] +
                         a->bin_bytes[2];
        mi->ordblks += 1 + a->n_bins[0] + a->n_bins[1] + a->n_bins[2];
        mi->smblks += a->n_fast;
        mi->fsmblks += a->fast_bytes;
        mi->fordblks += avail;
        mi->uordblks += a->system_mem - avail;
        mi->arena += a->system_mem;
        a = a->next;
    } while (a != h->main);
    mi->hblks = (size_t)h->n_mmaps;
    mi->hblkhd = h->mmapped_mem;
    mi->usmblks = 0;
    mi->keepcost = pm_topsize(h->main);
}

const pm_contention_t *pm_contention(const pm_heap_t *h) { return &h->cont; }

uint64_t pm_footprint(const pm_heap_t *h) { return h->system_mem + h->mmapped_mem; }

void pm_bins(const pm_heap_t *h, pm_bins_t *b)
{
    memset(b, 0, sizeof *b);
    b->tcache_chunks = h->tcache_chunks;
    b->tcache_bytes = h->tcache_bytes;
    b->mmapped_chunks = (size_t)h->n_mmaps;
    b->mmapped_bytes = h->mmapped_mem;
    const pm_arena_t *a = h->main;
    do {
        b->arenas++;
        b->fast_chunks += a->n_fast;
        b->fast_bytes += a->fast_bytes;
        b->unsorted_chunks += a->n_bins[0];
        b->unsorted_bytes += a->bin_bytes[0];
        b->small_chunks += a->n_bins[1];
        b->small_bytes += a->bin_bytes[1];
        b->large_chunks += a->n_bins[2];
        b->large_bytes += a->bin_bytes[2];
        b->top_bytes += pm_topsize(a);
        if (pm_topsize(a) > b->largest_free)
            b->largest_free = pm_topsize(a);
        /* largest free chunk: the first chunk of the highest non-empty large
         * bin is the largest of its bin; otherwise scan the rest */
        for (int i = 1; i < PM_NBINS; i++) {
            const pm_chunk_t *bin = &a->bins[i];
            for (const pm_chunk_t *p = bin->fd; p != bin; p = p->fd) {
                if (p->size > b->largest_free)
                    b->largest_free = p->size;
                if (i >= 2)
                    break; /* small bins: one size; large: largest first */
            }
        }
        for (int i = 0; i < PM_NFASTBINS; i++)
            if (a->fastbins[i] && a->fastbins[i]->size > b->largest_free)
                b->largest_free = a->fastbins[i]->size;
        a = a->next;
    } while (a != h->main);
}
