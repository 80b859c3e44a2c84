/* stacks.c - call stacks: libunwind's unw_backtrace, deduplicated in a
 * process-wide lock-free table so that a repeated call site costs one hash
 * and one compare.
 *
 * Table: 2^17 bucket heads (512 KiB) of chains of stack ids, on the 64-bit
 * hash of the program counters. Each stack lives in an append-only store as
 * [hash, depth | next id << 32, pc...]; the head and the chain links are ids.
 * A thread that does not find its stack appends it to the store, takes the
 * next id and links it in front of its bucket with a CAS (release); if the
 * CAS fails it looks at the ids linked in meanwhile, so a stack never gets
 * two ids (a lost race only wastes an id and its store words). The heads are
 * small and the store grows in order, so a lookup touches two cache lines
 * and few pages (an open-addressed table of 2^20 slots touched a page per
 * new stack and missed the TLB at every lookup in big programs like cc1).
 * The writer thread reads the pcs of an id from the store to emit STACK
 * before the first event using it. Everything is mmap'd with MAP_NORESERVE:
 * untouched parts cost nothing. If the store or the ids run out, events get
 * stack 0.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "rec_internal.h"

#define ST_BITS 17
#define ST_HEADS (1u << ST_BITS)
#define ST_MAX_IDS (1u << 20)           /* the writer's bitmap covers ids <= 2^20 */
#define STORE_WORDS (32u << 20) /* 256 MiB of pcs */
#define MAX_DEPTH REC_MAX_DEPTH

static _Atomic uint32_t *heads;  /* bucket -> first id, 0 = empty */
static uint64_t *store;          /* [hash, n | next << 32, pc0, pc1, ...] per stack */
static _Atomic uint64_t store_used;
static uint64_t *id_off;         /* id -> offset in store, 0 = none */
static _Atomic uint32_t next_id;
static uintptr_t self_lo, self_hi;

static void *map(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t const a = (uintptr_t)data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t const s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo) lo = s;
        if (s + ph->p_memsz > hi) hi = s + ph->p_memsz;
    }
    if (a >= lo && a < hi) { self_lo = lo; self_hi = hi; return 1; }
    return 0;
}

void rec_stacks_init(void) {
    if (heads) return;
    heads = map(sizeof *heads * ST_HEADS);
    store = map(sizeof(uint64_t) * STORE_WORDS);
    id_off = map(sizeof(uint64_t) * (ST_MAX_IDS + 1));
    if (!heads || !store || !id_off) { heads = NULL; rec_depth = 0; return; }
    atomic_store(&store_used, 1); /* offset 0 means none */
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&rec_stacks_init);
    /* per-thread caches: no global lock taken while unwinding */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

static inline int in_self(void *pc) { return (uintptr_t)pc >= self_lo && (uintptr_t)pc < self_hi; }

static inline uint64_t hash_pcs(const uint64_t *pcs, uint32_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ pcs[i]) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

/* The id of pcs[0..n) among the ids from first up to (not including) stop. */
static uint32_t find(uint32_t first, uint32_t stop, uint64_t h, const uint64_t *pcs, uint32_t n) {
    for (uint32_t id = first; id && id != stop;) {
        const uint64_t *e = &store[id_off[id]];
        if (e[0] == h && (uint32_t)e[1] == n && memcmp(e + 2, pcs, n * sizeof *pcs) == 0) return id;
        id = (uint32_t)(e[1] >> 32);
    }
    return 0;
}

static uint32_t lookup(const uint64_t *pcs, uint32_t n) {
    uint64_t const h = hash_pcs(pcs, n);
    _Atomic uint32_t *head = &heads[(h >> 7) & (ST_HEADS - 1)];
    uint32_t first = atomic_load_explicit(head, memory_order_acquire);
    uint32_t id = find(first, 0, h, pcs, n);
    if (id) return id;
    /* not there: append it, then link it in front of the chain */
    uint64_t const off = atomic_fetch_add(&store_used, n + 2);
    if (off + n + 2 > STORE_WORDS) return 0;
    id = atomic_fetch_add(&next_id, 1) + 1;
    if (id > ST_MAX_IDS) return 0;
    uint64_t *e = &store[off];
    e[0] = h;
    memcpy(e + 2, pcs, n * sizeof *pcs);
    id_off[id] = off;
    for (;;) {
        e[1] = n | (uint64_t)first << 32;
        uint32_t const seen = first;
        if (atomic_compare_exchange_weak_explicit(head, &first, id, memory_order_release, memory_order_acquire))
            return id;
        /* others linked stacks in front meanwhile: one of them may be ours */
        uint32_t const other = find(first, seen, h, pcs, n);
        if (other) return other; /* our id stays unused: no event names it */
    }
}

uint32_t rec_stack_here(rec_ring_t *r) {
    if (REC_UNLIKELY(!heads)) return 0;
    void *buf[MAX_DEPTH + 8];
    rec_t.unwinding = 1;
    /* + 3: this function and the hook above it (the rest is inlined), and
     * one spare; unwinding costs per frame */
    int n = unw_backtrace(buf, rec_depth + 3 < MAX_DEPTH + 8 ? rec_depth + 3 : MAX_DEPTH + 8);
    rec_t.unwinding = 0;
    int s = 0;
    while (s < n && !in_self(buf[s])) s++; /* libunwind's own frames */
    if (s == n) s = 0;
    while (s < n && in_self(buf[s])) s++;  /* the recorder's frames */
    int k = n - s;
    if (k > rec_depth) k = rec_depth;
    if (k <= 0) return 0;
    const uint64_t *pcs = (const uint64_t *)(buf + s);
    if ((uint32_t)k == r->last_n && r->last_id) { /* same call site as last time? */
        int i = 0;
        while (i < k && pcs[i] == r->last_pcs[i]) i++;
        if (i == k) return r->last_id;
    }
    uint32_t const id = lookup(pcs, (uint32_t)k);
    r->last_n = (uint32_t)k;
    r->last_id = id;
    memcpy(r->last_pcs, pcs, (size_t)k * sizeof *pcs);
    return id;
}

uint32_t rec_stack_get(uint32_t id, const uint64_t **pcs) {
    if (!heads || id == 0 || id > atomic_load(&next_id) || id > ST_MAX_IDS) return 0;
    uint64_t const off = id_off[id];
    if (!off) return 0;
    *pcs = &store[off + 2];
    return (uint32_t)store[off + 1];
}

uint32_t rec_stack_max_id(void) { return atomic_load(&next_id); }
