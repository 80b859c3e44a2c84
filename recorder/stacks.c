/* stacks.c - call stacks: libunwind's unw_backtrace, deduplicated in a
 * process-wide lock-free table so that a repeated call site costs one hash
 * and one compare.
 *
 * Table: open addressing on the 64-bit hash of the program counters. A
 * thread that finds an empty slot claims it with a CAS on the hash, appends
 * the pcs to an append-only store, takes the next id, and publishes the id
 * last (release); a thread that finds the hash waits (bounded) for the id and
 * compares the pcs. The writer thread reads the pcs of an id from the store
 * to emit STACK before the first event using it. Everything is mmap'd with
 * MAP_NORESERVE: untouched parts cost nothing. If the table or store is full,
 * events get stack 0.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "rec_internal.h"

#define ST_BITS 20
#define ST_SLOTS (1u << ST_BITS)
#define ST_PROBES 64
#define STORE_WORDS (32u << 20) /* 256 MiB of pcs */
#define MAX_DEPTH REC_MAX_DEPTH

typedef struct st_slot_s {
    _Atomic uint64_t hash;
    _Atomic uint32_t id;
    uint32_t pad;
} st_slot_t;

static st_slot_t *slots;
static uint64_t *store;          /* [n, pc0, pc1, ...] per stack */
static _Atomic uint64_t store_used;
static uint64_t *id_off;         /* id -> offset in store */
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
    if (slots) return;
    slots = map(sizeof(st_slot_t) * ST_SLOTS);
    store = map(sizeof(uint64_t) * STORE_WORDS);
    id_off = map(sizeof(uint64_t) * (ST_SLOTS + 1));
    if (!slots || !store || !id_off) { slots = NULL; rec_depth = 0; return; }
    atomic_store(&store_used, 1); /* offset 0 means none */
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&rec_stacks_init);
    /* per-thread caches: no global lock taken while unwinding */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

static inline int in_self(void *pc) { return (uintptr_t)pc >= self_lo && (uintptr_t)pc < self_hi; }

static uint32_t lookup(const uint64_t *pcs, uint32_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ pcs[i]) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    h |= 1;
    uint32_t idx = (uint32_t)(h >> 20) & (ST_SLOTS - 1);
    for (int probe = 0; probe < ST_PROBES; probe++, idx = (idx + 1) & (ST_SLOTS - 1)) {
        st_slot_t *s = &slots[idx];
        uint64_t k = atomic_load_explicit(&s->hash, memory_order_acquire);
        if (k == 0) {
            if (atomic_compare_exchange_strong(&s->hash, &k, h)) {
                uint64_t const off = atomic_fetch_add(&store_used, n + 1);
                uint32_t const id = atomic_fetch_add(&next_id, 1) + 1;
                if (off + n + 1 > STORE_WORDS || id > ST_SLOTS) {
                    atomic_store_explicit(&s->id, UINT32_MAX, memory_order_release);
                    return 0;
                }
                store[off] = n;
                memcpy(&store[off + 1], pcs, n * sizeof *pcs);
                id_off[id] = off;
                atomic_store_explicit(&s->id, id, memory_order_release);
                return id;
            }
        }
        if (k != h) continue;
        uint32_t id;
        for (int spin = 0; (id = atomic_load_explicit(&s->id, memory_order_acquire)) == 0; spin++)
            if (spin > 100000) return 0; /* claimed by a thread that is gone (fork) */
        if (id == UINT32_MAX) return 0;
        uint64_t const off = id_off[id];
        if (store[off] == n && memcmp(&store[off + 1], pcs, n * sizeof *pcs) == 0) return id;
    }
    return 0;
}

uint32_t rec_stack_here(rec_ring_t *r) {
    if (REC_UNLIKELY(!slots)) return 0;
    void *buf[MAX_DEPTH + 8];
    rec_t.unwinding = 1;
    int n = unw_backtrace(buf, rec_depth + 6 < MAX_DEPTH + 8 ? rec_depth + 6 : MAX_DEPTH + 8);
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
    if (!slots || id == 0 || id > atomic_load(&next_id) || id > ST_SLOTS) return 0;
    uint64_t const off = id_off[id];
    if (!off) return 0;
    *pcs = &store[off + 1];
    return (uint32_t)store[off];
}

uint32_t rec_stack_max_id(void) { return atomic_load(&next_id); }
