/* shim.c - the malloc family: the hot path of the recorder.
 *
 * Each hook: one unlikely branch (recursion guard or recording off), the real
 * call, then one event into the calling thread's ring. No lock, no malloc, no
 * stdio; errno is what the real call left. Ordering (FORMAT.md section 5):
 * allocating calls take their seq after the real call returned, free before
 * the real free, realloc both. The real functions are the next definitions
 * after this library in the global search order (rec_next), so a program
 * linked with jemalloc or tcmalloc is recorded using that allocator; dlsym's
 * own calloc during the lookup is served from a small static arena.
 */
#include <cpuid.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec_internal.h"
#include "trace.h"

#define EXPORT __attribute__((visibility("default")))

__thread rec_tls_t rec_t REC_TLS;
rec_real_t rec_real;

/* ---- bootstrap arena: allocations made while resolving the real ones ---- */
static _Alignas(64) unsigned char boot_arena[256 * 1024];
static _Atomic size_t boot_used;

static void *boot_alloc(size_t n, size_t align) {
    if (align < 16) align = 16;
    for (;;) {
        size_t const u = atomic_load(&boot_used);
        size_t const start = (u + 16 + align - 1) & ~(align - 1);
        if (start + n > sizeof boot_arena || start + n < start) return NULL;
        if (atomic_compare_exchange_weak(&boot_used, &(size_t){ u }, start + n)) {
            ((size_t *)(boot_arena + start))[-1] = n;
            return boot_arena + start;
        }
    }
}
static inline int is_boot(const void *p) {
    return (const unsigned char *)p >= boot_arena && (const unsigned char *)p < boot_arena + sizeof boot_arena;
}

static _Atomic int resolving;

void *rec_next(const char *name) { return dlsym(RTLD_NEXT, name); }

/* ---- the next malloc -----------------------------------------------------
 * The allocator the program would call without us is the next definition
 * of malloc after this library in the global search order: a program linked
 * with jemalloc or tcmalloc, or a second preload such as libc_malloc_debug.so,
 * gets its own. dlsym(RTLD_NEXT) is not that: glibc searches only this
 * library's own dependencies from there, i.e. goes straight to libc. So the
 * loaded objects after this one are searched here, in load order, through
 * their ELF dynamic symbol tables (no allocation, no loader lock). Any
 * version is taken: libc_malloc_debug.so defines them as non-default
 * versions (malloc@GLIBC_2.2.5), which is what programs bind to. */
static const void *dyn_ptr(const struct link_map *l, ElfW(Addr) v) {
    return (const void *)(v < l->l_addr ? v + l->l_addr : v); /* ld.so relocates most in place */
}

static void *elf_lookup(const struct link_map *l, const char *name) {
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *gnu = NULL, *sysv = NULL;
    for (const ElfW(Dyn) *d = l->l_ld; d && d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = dyn_ptr(l, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = dyn_ptr(l, d->d_un.d_ptr); break;
        case DT_GNU_HASH: gnu = dyn_ptr(l, d->d_un.d_ptr); break;
        case DT_HASH: sysv = dyn_ptr(l, d->d_un.d_ptr); break;
        default: break;
        }
    }
    if (!symtab || !strtab || (!gnu && !sysv)) return NULL;
    const ElfW(Sym) *hit = NULL;
    if (gnu) {
        uint32_t h = 5381;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = h * 33 + *c;
        uint32_t const nbuckets = gnu[0], symoff = gnu[1], bloom_size = gnu[2];
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(gnu + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        if (!nbuckets) return NULL;
        for (uint32_t i = buckets[h % nbuckets]; i >= symoff && i; i++) {
            uint32_t const ch = chain[i - symoff];
            if ((ch | 1) == (h | 1) && strcmp(strtab + symtab[i].st_name, name) == 0 &&
                symtab[i].st_shndx != SHN_UNDEF) { hit = &symtab[i]; break; }
            if (ch & 1) break;
        }
    } else {
        uint32_t const nb = sysv[0];
        const uint32_t *bucket = sysv + 2, *chain = bucket + nb;
        unsigned long h = 0;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
            h = (h << 4) + *c;
            unsigned long g = h & 0xf0000000;
            if (g) h ^= g >> 24;
            h &= ~g;
        }
        for (uint32_t i = bucket[h % nb]; i; i = chain[i])
            if (strcmp(strtab + symtab[i].st_name, name) == 0 && symtab[i].st_shndx != SHN_UNDEF) {
                hit = &symtab[i];
                break;
            }
    }
    if (!hit) return NULL;
    int const type = ELF64_ST_TYPE(hit->st_info), bind = ELF64_ST_BIND(hit->st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || (bind != STB_GLOBAL && bind != STB_WEAK)) return NULL;
    void *addr = (void *)(l->l_addr + hit->st_value);
    if (type == STT_GNU_IFUNC) addr = ((void *(*)(void))addr)();
    return addr;
}

static void *next_alloc_fn(const char *name) {
    Dl_info di;
    struct link_map *self = NULL;
    if (dladdr1((void *)&next_alloc_fn, &di, (void **)&self, RTLD_DL_LINKMAP) && self) {
        int after = 0;
        for (struct link_map *l = _r_debug.r_map; l; l = l->l_next) {
            if (l == self) { after = 1; continue; }
            if (!after || !l->l_name || !l->l_name[0] || strstr(l->l_name, "linux-vdso")) continue;
            void *s = elf_lookup(l, name);
            if (s) return s;
        }
    }
    return dlsym(RTLD_NEXT, name);
}

void rec_resolve(void) {
    if (rec_real.free || atomic_exchange(&resolving, 1)) return;
    uint8_t const g = rec_t.guard;
    rec_t.guard = 1;
    rec_real_t r;
    r.malloc = next_alloc_fn("malloc");
    r.calloc = next_alloc_fn("calloc");
    r.realloc = next_alloc_fn("realloc");
    r.reallocarray = next_alloc_fn("reallocarray");
    r.memalign = next_alloc_fn("memalign");
    r.posix_memalign = next_alloc_fn("posix_memalign");
    r.aligned_alloc = next_alloc_fn("aligned_alloc");
    r.valloc = next_alloc_fn("valloc");
    r.pvalloc = next_alloc_fn("pvalloc");
    r.mallopt = next_alloc_fn("mallopt");
    r.malloc_trim = next_alloc_fn("malloc_trim");
    r.free = next_alloc_fn("free");
    /* publish free last: it is the "resolved" flag */
    void (*f)(void *) = r.free;
    r.free = NULL;
    rec_real = r;
    atomic_thread_fence(memory_order_release);
    rec_real.free = f;
    rec_t.guard = g;
}

/* ---- pass-through when not recording ------------------------------------ */
static inline int resolved(void) { return rec_real.free != NULL; }

static __attribute__((noinline)) void *slow_malloc(size_t n) {
    if (!resolved()) {
        rec_resolve();
        if (!rec_real.malloc) return boot_alloc(n, 16);
    }
    rec_core_init();
    return rec_real.malloc(n);
}

/* Every hook starts with this: 1 when the call is to be recorded. */
static inline int want(rec_tls_t *t) {
    return REC_LIKELY(!t->guard) && REC_LIKELY(atomic_load_explicit(&rec_on, memory_order_relaxed));
}

/* The ring of t, attaching one on first use. */
static inline rec_ring_t *ring_of(rec_tls_t *t) {
    rec_ring_t *r = t->ring;
    if (REC_UNLIKELY(!r)) r = rec_ring_attach(t);
    return r;
}

static inline __attribute__((always_inline)) void
put(rec_ring_t *r, uint64_t seq, uint32_t drel, int op, uint64_t a, uint64_t b, uint64_t c,
    uint64_t ret, uint32_t stack) {
    rec_ev_t *e = rec_slot(r);
    if (REC_LIKELY(e != NULL)) {
        e->seq = seq;
        e->t = rec_stamp();
        e->a = a; e->b = b; e->c = c;
        e->ret = ret;
        e->stack = stack;
        e->drel = drel;
        e->op = (uint8_t)op;
        rec_publish(r, seq);
    }
}

/* The call site of the hook this is expanded in (a hook, never inlined):
 * its return address, its CFA and the caller's rbp (saved at the hook's
 * frame pointer: the library is built with frame pointers). */
#define SITE \
    (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_frame_address(0) + 16, \
        *(const uintptr_t *)__builtin_frame_address(0)

/* Records an allocating call that has returned (seq after the call). */
static inline __attribute__((always_inline)) void
record_after(rec_tls_t *t, int op, uint64_t a, uint64_t b, uint64_t c, uint64_t ret, uintptr_t ra,
             uintptr_t cfa, uintptr_t bp) {
    rec_ring_t *r = ring_of(t);
    if (REC_UNLIKELY(!r)) return;
    uint32_t const stack = rec_depth ? rec_stack_here(r, ra, cfa, bp) : 0;
    atomic_store_explicit(&r->busy, 1, memory_order_relaxed);
    uint64_t const seq = atomic_fetch_add(&rec_seq, 1) + 1;
    put(r, seq, 0, op, a, b, c, ret, stack);
    atomic_store_explicit(&r->busy, 0, memory_order_release);
}

static int free_stacks;

/* ---- the hooks ---------------------------------------------------------- */
EXPORT void *malloc(size_t n) {
    rec_tls_t *t = &rec_t;
    if (REC_UNLIKELY(!want(t))) return slow_malloc(n);
    t->guard = 1;
    void *p = rec_real.malloc(n);
    int const e = errno;
    record_after(t, TR_OP_MALLOC, n, 0, 0, (uintptr_t)p, SITE);
    t->guard = 0;
    errno = e;
    return p;
}

EXPORT void *calloc(size_t n, size_t sz) {
    rec_tls_t *t = &rec_t;
    if (REC_UNLIKELY(!want(t))) {
        if (!resolved()) {
            rec_resolve();
            if (!rec_real.calloc) {
                if (sz && n > SIZE_MAX / sz) return NULL;
                return boot_alloc(n * sz, 16); /* static: already zero */
            }
        }
        rec_core_init();
        return rec_real.calloc(n, sz);
    }
    t->guard = 1;
    void *p = rec_real.calloc(n, sz);
    int const e = errno;
    record_after(t, TR_OP_CALLOC, n, sz, 0, (uintptr_t)p, SITE);
    t->guard = 0;
    errno = e;
    return p;
}

EXPORT void free(void *p) {
    if (REC_UNLIKELY(is_boot(p))) return;
    rec_tls_t *t = &rec_t;
    if (REC_UNLIKELY(!want(t))) {
        if (!resolved()) rec_resolve();
        if (rec_real.free) rec_real.free(p);
        return;
    }
    int const e = errno;
    t->guard = 1;
    rec_ring_t *r = ring_of(t);
    if (REC_LIKELY(r != NULL)) {
        uint32_t const stack = free_stacks && rec_depth ? rec_stack_here(r, SITE) : 0;
        atomic_store_explicit(&r->busy, 1, memory_order_relaxed);
        uint64_t const seq = atomic_fetch_add(&rec_seq, 1) + 1;
        put(r, seq, 0, TR_OP_FREE, (uintptr_t)p, 0, 0, 0, stack);
        atomic_store_explicit(&r->busy, 0, memory_order_release);
    }
    errno = e;
    rec_real.free(p);
    t->guard = 0;
    errno = e;
}

/* realloc of a bootstrap block: move it to the real heap. */
static void *boot_realloc(void *p, size_t n) {
    size_t const old = ((size_t *)p)[-1];
    void *q = malloc(n);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
}

/* realloc and reallocarray: a release seq before the call, the seq after. */
static inline __attribute__((always_inline)) void *
realloc_common(rec_tls_t *t, int op, void *p, size_t n, size_t sz, uintptr_t ra, uintptr_t cfa, uintptr_t bp) {
    t->guard = 1;
    rec_ring_t *r = ring_of(t);
    void *q;
    if (REC_UNLIKELY(!r)) {
        q = op == TR_OP_REALLOC ? rec_real.realloc(p, n) : rec_real.reallocarray(p, n, sz);
        t->guard = 0;
        return q;
    }
    uint32_t const stack = rec_depth ? rec_stack_here(r, ra, cfa, bp) : 0;
    atomic_store_explicit(&r->busy, 1, memory_order_relaxed);
    uint64_t const rel = atomic_fetch_add(&rec_seq, 1) + 1;
    q = op == TR_OP_REALLOC ? rec_real.realloc(p, n) : rec_real.reallocarray(p, n, sz);
    int const e = errno;
    uint64_t const seq = atomic_fetch_add(&rec_seq, 1) + 1;
    if (op == TR_OP_REALLOC) put(r, seq, (uint32_t)(seq - rel), op, (uintptr_t)p, n, 0, (uintptr_t)q, stack);
    else put(r, seq, (uint32_t)(seq - rel), op, (uintptr_t)p, n, sz, (uintptr_t)q, stack);
    atomic_store_explicit(&r->busy, 0, memory_order_release);
    t->guard = 0;
    errno = e;
    return q;
}

EXPORT void *realloc(void *p, size_t n) {
    if (REC_UNLIKELY(is_boot(p))) return boot_realloc(p, n);
    rec_tls_t *t = &rec_t;
    if (REC_UNLIKELY(!want(t))) {
        if (!resolved()) rec_resolve();
        rec_core_init();
        return rec_real.realloc(p, n);
    }
    return realloc_common(t, TR_OP_REALLOC, p, n, 0, SITE);
}

EXPORT void *reallocarray(void *p, size_t n, size_t sz) {
    if (REC_UNLIKELY(is_boot(p))) {
        if (sz && n > SIZE_MAX / sz) { errno = ENOMEM; return NULL; }
        return boot_realloc(p, n * sz);
    }
    rec_tls_t *t = &rec_t;
    if (REC_UNLIKELY(!want(t))) {
        if (!resolved()) rec_resolve();
        rec_core_init();
        return rec_real.reallocarray(p, n, sz);
    }
    return realloc_common(t, TR_OP_REALLOCARRAY, p, n, sz, SITE);
}

/* The aligned family shares one shape: (align, size) -> pointer. */
#define ALIGNED_HOOK(name, op)                                          \
    EXPORT void *name(size_t al, size_t n) {                            \
        rec_tls_t *t = &rec_t;                                          \
        if (REC_UNLIKELY(!want(t))) {                                   \
            if (!resolved()) {                                          \
                rec_resolve();                                          \
                if (!rec_real.name) return boot_alloc(n, al);           \
            }                                                           \
            rec_core_init();                                            \
            return rec_real.name(al, n);                                \
        }                                                               \
        t->guard = 1;                                                   \
        void *p = rec_real.name(al, n);                                 \
        int const e = errno;                                            \
        record_after(t, op, al, n, 0, (uintptr_t)p, SITE);                    \
        t->guard = 0;                                                   \
        errno = e;                                                      \
        return p;                                                       \
    }
ALIGNED_HOOK(memalign, TR_OP_MEMALIGN)
ALIGNED_HOOK(aligned_alloc, TR_OP_ALIGNED_ALLOC)

#define PAGE_HOOK(name, op)                                             \
    EXPORT void *name(size_t n) {                                       \
        rec_tls_t *t = &rec_t;                                          \
        if (REC_UNLIKELY(!want(t))) {                                   \
            if (!resolved()) {                                          \
                rec_resolve();                                          \
                if (!rec_real.name) return boot_alloc(n, 4096);         \
            }                                                           \
            rec_core_init();                                            \
            return rec_real.name(n);                                    \
        }                                                               \
        t->guard = 1;                                                   \
        void *p = rec_real.name(n);                                     \
        int const e = errno;                                            \
        record_after(t, op, n, 0, 0, (uintptr_t)p, SITE);                     \
        t->guard = 0;                                                   \
        errno = e;                                                      \
        return p;                                                       \
    }
PAGE_HOOK(valloc, TR_OP_VALLOC)
PAGE_HOOK(pvalloc, TR_OP_PVALLOC)

EXPORT int posix_memalign(void **out, size_t al, size_t n) {
    rec_tls_t *t = &rec_t;
    if (REC_UNLIKELY(!want(t))) {
        if (!resolved()) {
            rec_resolve();
            if (!rec_real.posix_memalign) {
                void *p = boot_alloc(n, al);
                if (!p) return ENOMEM;
                *out = p;
                return 0;
            }
        }
        rec_core_init();
        return rec_real.posix_memalign(out, al, n);
    }
    t->guard = 1;
    int const rc = rec_real.posix_memalign(out, al, n);
    int const e = errno;
    record_after(t, TR_OP_POSIX_MEMALIGN, al, n, 0, rc == 0 ? (uintptr_t)*out : 0, SITE);
    t->guard = 0;
    errno = e;
    return rc;
}

EXPORT int mallopt(int param, int value) {
    rec_tls_t *t = &rec_t;
    if (!resolved()) rec_resolve();
    if (!rec_real.mallopt) return 0;
    if (!want(t)) { rec_core_init(); return rec_real.mallopt(param, value); }
    t->guard = 1;
    int const rc = rec_real.mallopt(param, value);
    int const e = errno;
    record_after(t, TR_OP_MALLOPT, (uint64_t)(int64_t)param, (uint64_t)(int64_t)value, 0, (uint64_t)(int64_t)rc, SITE);
    t->guard = 0;
    errno = e;
    return rc;
}

EXPORT int malloc_trim(size_t pad) {
    rec_tls_t *t = &rec_t;
    if (!resolved()) rec_resolve();
    if (!rec_real.malloc_trim) return 0;
    if (!want(t)) { rec_core_init(); return rec_real.malloc_trim(pad); }
    t->guard = 1;
    int const rc = rec_real.malloc_trim(pad);
    int const e = errno;
    record_after(t, TR_OP_MALLOC_TRIM, pad, 0, 0, (uint64_t)(int64_t)rc, SITE);
    t->guard = 0;
    errno = e;
    return rc;
}

/* ---- recording state ---------------------------------------------------- */
_Atomic int rec_on;
/* alone on its cache line: every recorded call does a lock xadd on it */
struct rec_seq_line_s rec_seq_line;
int rec_depth = 32;
int rec_follow = 1;
int rec_use_tsc;
int rec_prefetchw;
uint64_t rec_tsc0;
uint64_t rec_start_mono, rec_start_real;

static long env_long(const char *name, long dflt, long lo, long hi) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return dflt;
    return v;
}

/* Removes this library from LD_PRELOAD in place (--no-follow). */
static void strip_preload(void) {
    char *v = getenv("LD_PRELOAD");
    if (!v) return;
    char *w = v, *s = v;
    while (*s) {
        while (*s == ':' || *s == ' ') s++;
        if (!*s) break;
        char *e = s;
        while (*e && *e != ':' && *e != ' ') e++;
        size_t const len = (size_t)(e - s);
        char const *base = s;
        for (char *q = s; q < e; q++) if (*q == '/') base = q + 1;
        int const ours = (size_t)(e - base) >= 19 && memcmp(base, "libmalloc-record.so", 19) == 0;
        if (!ours) {
            if (w != v) *w++ = ':';
            memmove(w, s, len);
            w += len;
        }
        s = e;
    }
    *w = 0;
    if (!*v) unsetenv("LD_PRELOAD"); /* not an empty LD_PRELOAD= for the children */
}

void rec_core_init(void) {
    static _Atomic int state; /* 0 never, 1 running, 2 done */
    if (REC_LIKELY(atomic_load_explicit(&state, memory_order_acquire) == 2)) return;
    int expect = 0;
    if (!atomic_compare_exchange_strong(&state, &expect, 1)) return;
    uint8_t const g = rec_t.guard;
    rec_t.guard = 1;
    rec_resolve();
    if (env_long("MALLOC_RECORD_DISABLE", 0, 0, 1) || !rec_real.free) {
        atomic_store(&state, 2);
        rec_t.guard = g;
        return;
    }
    rec_depth = (int)env_long("MALLOC_RECORD_STACK_DEPTH", 32, 0, 256);
    rec_follow = (int)env_long("MALLOC_RECORD_FOLLOW", 1, 0, 1);
    free_stacks = (int)env_long("MALLOC_RECORD_FREE_STACKS", 0, 0, 1);
    if (!rec_follow) strip_preload();
    if (rec_depth) rec_stacks_init();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rec_start_real = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    unsigned a, b, c, d;
    rec_use_tsc = !env_long("MALLOC_RECORD_NO_TSC", 0, 0, 1) && __get_cpuid(0x80000007, &a, &b, &c, &d) && (d >> 8) & 1;
    /* PREFETCHW (CPUID 0x80000001 ECX bit 8): see rec_slot */
    rec_prefetchw = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c >> 8) & 1;
    rec_tsc0 = __rdtsc();
    rec_start_mono = rec_now();
    atomic_store(&rec_on, 1);
    atomic_store_explicit(&state, 2, memory_order_release);
    rec_t.guard = g;
}
