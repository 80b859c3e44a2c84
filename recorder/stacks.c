/* stacks.c - call stacks: a per-thread cache of the stacks met at each call
 * site, checked against the stack words they depend on; the stacks it
 * misses walked by unwind.c (libunwind's unw_backtrace where that walker
 * gives up); deduplicated in a process-wide lock-free table so that a
 * repeated stack costs one hash and one compare.
 *
 * Table: 2^16 bucket heads (256 KiB, mapped at once) of chains of stack ids, on the 64-bit
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "rec_internal.h"

#define ST_BITS 16
#define ST_HEADS (1u << ST_BITS)
#define ST_MAX_IDS (1u << 20)           /* the writer's bitmap covers ids <= 2^20 */
#define STORE_WORDS (32u << 20) /* 256 MiB of pcs */
#define MAX_DEPTH REC_MAX_DEPTH

static _Atomic uint32_t *heads;  /* bucket -> first id, 0 = empty */
static uint64_t *store;          /* [hash, n | next << 32, pc0, pc1, ...] per stack */
static _Atomic uint64_t store_used;
static uint64_t store_words = STORE_WORDS; /* less under an address-space limit, */
static uint32_t max_ids = ST_MAX_IDS;       /* and fewer ids (3 words at least each) */
static uint64_t *id_off;         /* id -> offset in store, 0 = none */
static _Atomic uint32_t next_id;
static uintptr_t self_lo, self_hi;
static int verify; /* MALLOC_RECORD_STACK_VERIFY=1 */
static int eager;  /* MALLOC_RECORD_STACK_EAGER=1: cache every stack met twice (tests) */
static uint32_t pool_words = REC_SC_POOL; /* MALLOC_RECORD_STACK_POOL=N: a smaller pool (tests) */

static void *map(size_t n, int populate) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (populate ? MAP_POPULATE : 0), -1, 0);
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
    /* the heads are hit at random: mapped at once, not a fault per page */
    heads = map(sizeof *heads * ST_HEADS, 1);
    /* RLIMIT_AS counts mappings, touched or not: under it, the store takes
     * at most a 64th of the limit (the program's own memory comes first; a
     * full store records later new stacks as none) */
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY &&
        as.rlim_cur / 64 / sizeof(uint64_t) < store_words)
        store_words = as.rlim_cur / 64 / sizeof(uint64_t);
    if (store_words / 3 < max_ids) max_ids = (uint32_t)(store_words / 3);
    store = map(sizeof(uint64_t) * store_words, 0);
    id_off = map(sizeof(uint64_t) * (max_ids + 1), 0);
    if (!heads || !store || !id_off) { heads = NULL; rec_depth = 0; return; }
    atomic_store(&store_used, 1); /* offset 0 means none */
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&rec_stacks_init);
    rec_unwind_init();
    /* per-thread caches: no global lock taken while unwinding */
    rec_t.unwinding = 1; /* libunwind's init opens its pipe: moved high (proc.c) */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    rec_t.unwinding = 0;
    const char *v = getenv("MALLOC_RECORD_STACK_VERIFY");
    verify = v && v[0] == '1';
    v = getenv("MALLOC_RECORD_STACK_EAGER");
    eager = v && v[0] == '1';
    v = getenv("MALLOC_RECORD_STACK_POOL");
    if (v && atol(v) > 0 && atol(v) < (long)REC_SC_POOL) pool_words = (uint32_t)atol(v);
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
    if (off + n + 2 > store_words) return 0;
    id = atomic_fetch_add(&next_id, 1) + 1;
    if (id > max_ids) return 0;
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

/* ---- the per-thread cache of unwound stacks ------------------------------
 * Unwinding costs ~10 ns a frame; most allocations come from a few call
 * sites reached through the same chain of callers at the same stack depth.
 * So each thread keeps, per call site, the last stack unwound there, keyed
 * by the hook's return address (pc of frame 0) and CFA (sp of frame 0), and
 * with it every stack word the unwind read: for each frame k >= 1 the slot
 * that held its return address, and the slots that held rbp where rbp
 * matters. A later call with the same key whose recorded slots all still
 * hold the same values has the same stack; checking costs a load per frame.
 *
 * Why that is exact. Unwinding is a function of the registers at the call
 * and of the memory it reads. Take frame j with the same pc, sp and (where
 * it matters) rbp as when the entry was filled. Its CFA rule is a function
 * of its pc alone (the code at a pc does not change while the generation
 * below holds): sp + c, rbp + c, or GCC's realigned-stack (DRAP) rule
 * *(rbp - 8). So the CFA, which is frame j+1's sp, is the same; the return
 * address slot CFA - 8 is the same address and holds the same value (it is
 * checked), so pc j+1 is the same; rbp of frame j+1 is either rbp of frame j
 * or a saved copy in a slot that is checked. By induction every frame is
 * the same. rbp only matters in frames whose rule may use it: at a call
 * site, a frame whose rule is rbp-based has rbp pointing into the stack
 * above its sp, so a frame whose rbp did not point there when the entry was
 * filled has an sp-based rule at that pc, and its rbp (often a variable of
 * the program) is left out of the key; for the others it is checked, and
 * for a frame where *(rbp - 8) held the CFA (maybe DRAP) that slot too.
 * Frame 0's rbp is the key's bp, checked when needed (need_bp). An unwind
 * that stopped before the depth stopped on the last frame's rule (the
 * outermost frame's undefined return address) or on rbp (libunwind's
 * frame-chain guess for code without unwind info): its rbp and the two
 * words it points at are checked. Not cached: stacks through a signal
 * frame (registers read from the signal context; seen as a return address
 * that did not come from the caller's CFA - 8), stacks whose slots are not all memory of
 * this thread's stack between the CFA and the stack top (so a check reads
 * only the live part of the thread's stack: the key's CFA was the sp
 * there, and that part stays mapped while the thread runs), threads whose
 * stack bounds are unknown, and entries needing more than REC_SC_SLOTS
 * slots. longjmp, recursion, alloca and threads need nothing: the check is
 * of the stack as it is now. The walker of unwind.c knows each frame's
 * rule, so its fills note exactly the slots above: every return address
 * slot, and the slot rbp came from (or need_bp) where a CFA rule uses rbp.
 * A fill keeps the key's bp of the call it unwound (a note's may differ).
 * A dlclose bumps the generation (code can be unmapped, other code mapped
 * at its addresses), and so does the writer when the loader's unload count
 * moved without one (glibc's own dlclose); a ring attached to a new
 * thread bumps its epoch. MALLOC_RECORD_STACK_VERIFY=1 unwinds on every hit
 * too and counts the hits that disagree (tests). */
static _Atomic uint32_t code_gen = 1;
static _Atomic uint64_t n_hit, n_bad, n_fill, n_nocache, n_reset;
static _Atomic uint64_t n_walk, n_walk_bad, n_walk_no; /* unwind.c's walks, wrong, given up */

void rec_stacks_code_changed(void) { atomic_fetch_add_explicit(&code_gen, 1, memory_order_release); }

/* The hash of a key: its set from the top bits, the rest (never 0) kept
 * per way in sc_key so that a probe reads one cache line. */
static inline uint64_t sc_hash(uintptr_t ra, uintptr_t cfa, uint64_t tag) {
    uint64_t h = ((uint64_t)ra ^ ((uint64_t)cfa << 17) ^ (tag << 40) ^ (tag >> 32)) * 0x9e3779b97f4a7c15ull;
    return (h ^ (h >> 29)) | 1;
}

typedef rec_slots_t fill_t;
#define slot_add rec_slot_add

/* rbp of the cursor's frame must hold in a hit: its saved copy (a slot) or
 * the key's bp when no frame from 0 up to this one saved it. */
static void need_rbp(fill_t *f, const unw_save_loc_t *l, uint64_t bp, uintptr_t bp0) {
    if (!f->ok) return;
    if (l->type == UNW_SLT_MEMORY && l->u.addr >= f->cfa) {
        slot_add(f, l->u.addr, bp);
    } else if (bp == bp0) {
        f->need_bp = 1; /* restored from the hook's own frame: the caller's rbp */
    } else {
        f->ok = 0;
    }
}

/* The id of pcs[0..n), remembering the thread's last one. */
static uint32_t id_of(rec_ring_t *r, const uint64_t *pcs, uint32_t n) {
    if (n == r->last_n && r->last_id && memcmp(pcs, r->last_pcs, (size_t)n * sizeof *pcs) == 0) return r->last_id;
    uint32_t const id = lookup(pcs, n);
    r->last_n = n;
    r->last_id = id;
    memcpy(r->last_pcs, pcs, (size_t)n * sizeof *pcs);
    return id;
}

/* A program built with -fsplit-stack (gccgo's, for one) runs on small
 * segments outside the thread's stack, where libunwind's own frames (up to
 * ~280 KiB the first time) would overflow the segment: its stacks there
 * are not taken. GCC's split-stack code keeps the segment's limit in the
 * TCB word at %fs:0x70 (glibc's __private_ss), which is 0 otherwise. */
static inline int on_split_stack(void) {
#if defined(__x86_64__)
    uintptr_t v;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
    return v != 0;
#else
    return 0;
#endif
}
static inline int on_segment(void) {
    uintptr_t const sp = (uintptr_t)__builtin_frame_address(0);
    return on_split_stack() && (sp < rec_t.stk_lo || sp >= rec_t.stk_hi);
}

/* A stack by libunwind's unw_backtrace (its own per-thread cache of frame
 * descriptions makes it 3 to 5 times faster than the unw_step walk that
 * fill needs): for frames the walker of unwind.c does not model, and as its
 * judge under MALLOC_RECORD_STACK_VERIFY=1. */
static __attribute__((noinline)) uint32_t unwind_lib(rec_ring_t *r) {
    void *buf[rec_depth + 8]; /* sized by the depth: the program's stack may be short */
    if (on_segment()) return 0;
    if (!rec_gate_enter(&r->in_loader)) return 0; /* a fork is under way: no stack */
    rec_t.unwinding = 1;
    /* + 8: this function and the hooks above it, and spares */
    int n = unw_backtrace(buf, rec_depth + 8);
    rec_t.unwinding = 0;
    rec_gate_leave(&r->in_loader);
    int s = 0;
    while (s < n && !in_self(buf[s])) s++; /* libunwind's own frames */
    if (s == n) s = 0;
    while (s < n && in_self(buf[s])) s++;  /* the recorder's frames */
    int k = n - s;
    if (k > rec_depth) k = rec_depth;
    if (k <= 0) return 0;
    return id_of(r, (const uint64_t *)(buf + s), (uint32_t)k);
}

/* A stack seen once: the walker of unwind.c from the hook's caller, or
 * libunwind where the walker gives up. */
static __attribute__((noinline)) uint32_t unwind_fast(rec_ring_t *r, uintptr_t ra, uintptr_t cfa, uintptr_t bp,
                                                      int *walked) {
    *walked = 0;
    if (!rec_t.stk_hi || cfa < rec_t.stk_lo || cfa >= rec_t.stk_hi) return unwind_lib(r);
    uint64_t pcs[rec_depth];
    if (!rec_gate_enter(&r->in_loader)) return 0;
    int const n = rec_unwind(ra, cfa, bp, rec_t.stk_hi, atomic_load_explicit(&code_gen, memory_order_acquire), pcs,
                             rec_depth);
    rec_gate_leave(&r->in_loader);
    if (n <= 0) {
        if (verify) atomic_fetch_add(&n_walk_no, 1);
        return unwind_lib(r);
    }
    uint32_t const id = id_of(r, pcs, (uint32_t)n);
    *walked = 1;
    if (REC_UNLIKELY(verify)) {
        atomic_fetch_add(&n_walk, 1);
        uint32_t const lib = unwind_lib(r); /* 0: no unwind while another thread forks */
        if (lib && lib != id) atomic_fetch_add(&n_walk_bad, 1);
        return lib ? lib : id;
    }
    return id;
}

/* Stores f's slots in e's space of the ring's pool (the entry keeps the
 * space it had this epoch if the slots fit). A full pool starts a new epoch,
 * which voids every entry: returns 0 then. */
static int pool_put(rec_ring_t *r, rec_scache_t *e, const fill_t *f) {
    uint32_t const words = f->n + (f->n + 1) / 2;
    if (e->cap < words) {
        if (r->sc_pool_used + words > pool_words) {
            if (verify) atomic_fetch_add(&n_reset, 1);
            r->sc_epoch++;
            r->sc_pool_used = 0;
            return 0;
        }
        e->pool = r->sc_pool_used;
        e->cap = (uint16_t)words;
        r->sc_pool_used += words;
    }
    uint64_t *const v = &r->sc_pool[e->pool];
    memcpy(v, f->val, f->n * sizeof *v);
    memcpy(v + f->n, f->off, f->n * sizeof *f->off);
    e->nslots = (uint16_t)f->n;
    e->need_bp = (uint8_t)f->need_bp;
    return 1;
}

/* e FILLED with stack id and the slots of f, or NOCACHE if they do not fit. */
static void fill_done(rec_ring_t *r, rec_scache_t *e, const fill_t *f, uint32_t id, uintptr_t bp0) {
    if (f->ok && id && pool_put(r, e, f)) {
        e->id = id;
        e->bp = bp0; /* this unwind's: the note's may differ (same stack, other frame layout) */
        e->state = SC_FILLED;
        if (verify) atomic_fetch_add(&n_fill, 1);
    } else {
        e->state = SC_NOCACHE;
        if (verify) atomic_fetch_add(&n_nocache, 1);
    }
}

/* A stack seen again: unwinds noting the slots (the walker of unwind.c, or
 * libunwind's unw_step where the walker gives up), and fills e (state
 * FILLED) or marks it NOCACHE. Returns the stack id. */
static __attribute__((noinline)) uint32_t unwind_fill_lib(rec_ring_t *r, rec_scache_t *e, uintptr_t ra0,
                                                          uintptr_t cfa0, uintptr_t bp0);
static __attribute__((noinline)) uint32_t unwind_fill(rec_ring_t *r, rec_scache_t *e, uintptr_t ra0, uintptr_t cfa0,
                                                      uintptr_t bp0) {
    if (cfa0 >= rec_t.stk_lo && cfa0 < rec_t.stk_hi) { /* the walker of unwind.c notes the slots itself */
        uint64_t pcs[rec_depth];
        fill_t w;
        w.ok = 1, w.need_bp = 0, w.n = 0, w.cfa = cfa0, w.hi = rec_t.stk_hi;
        if (!rec_gate_enter(&r->in_loader)) return 0;
        int const k = rec_unwind_slots(ra0, cfa0, bp0, rec_t.stk_hi,
                                       atomic_load_explicit(&code_gen, memory_order_acquire), pcs, rec_depth, &w);
        rec_gate_leave(&r->in_loader);
        if (k > 0) {
            uint32_t const id = id_of(r, pcs, (uint32_t)k);
            fill_done(r, e, &w, id, bp0);
            return id;
        }
    }
    if (on_segment()) {
        e->state = SC_NOCACHE;
        return 0;
    }
    return unwind_fill_lib(r, e, ra0, cfa0, bp0);
}

/* The fill of a stack the walker gives up on: libunwind's unw_step. */
static __attribute__((noinline)) uint32_t unwind_fill_lib(rec_ring_t *r, rec_scache_t *e, uintptr_t ra0,
                                                          uintptr_t cfa0, uintptr_t bp0) {
    uint64_t pcs[rec_depth];
    unw_context_t ctx;
    unw_cursor_t c;
    unw_word_t ip = 0, sp = 0, bp = 0;
    int n = 0, st = 1;
    fill_t f;
    f.ok = 0, f.need_bp = 0, f.n = 0, f.cfa = cfa0, f.hi = rec_t.stk_hi;
    if (!rec_gate_enter(&r->in_loader)) return 0; /* a fork is under way: the entry stays pending */
    rec_t.unwinding = 1;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&c, &ctx) != 0) goto out;
    for (;;) { /* the recorder's frames */
        unw_get_reg(&c, UNW_REG_IP, &ip);
        if (!in_self((void *)ip)) break;
        if ((st = unw_step(&c)) <= 0) goto out;
    }
    unw_get_reg(&c, UNW_REG_SP, &sp);
    f.ok = ip == ra0 && sp == cfa0 && cfa0 >= rec_t.stk_lo && cfa0 < rec_t.stk_hi;
    for (;;) {
        pcs[n++] = ip;
        if (n == rec_depth) break;
        unw_word_t const sp_j = sp;
        unw_get_reg(&c, UNW_X86_64_RBP, &bp);
        int const bp_in_stack = bp >= sp_j && bp < f.hi;
        unw_save_loc_t bl; /* where frame j's rbp is kept */
        if (!f.ok || unw_get_save_loc(&c, UNW_X86_64_RBP, &bl) != 0) bl.type = UNW_SLT_NONE, f.ok = 0;
        st = unw_step(&c);
        if (st <= 0) {
            /* stopped on this frame: its rule or its rbp chain decided */
            if (f.ok && st == 0) {
                need_rbp(&f, &bl, bp, bp0);
                if (bp_in_stack && bp + 16 <= f.hi && bp >= cfa0) {
                    slot_add(&f, bp, *(const uint64_t *)bp);
                    slot_add(&f, bp + 8, *(const uint64_t *)(bp + 8));
                }
            } else {
                f.ok = 0;
            }
            break;
        }
        unw_get_reg(&c, UNW_REG_IP, &ip);
        unw_get_reg(&c, UNW_REG_SP, &sp);
        if (!f.ok) continue;
        /* the return address must come from CFA - 8 (CFA = this frame's
         * sp): a signal frame's successor has it from the signal context */
        unw_save_loc_t l;
        if (unw_get_save_loc(&c, UNW_REG_IP, &l) != 0 || l.type != UNW_SLT_MEMORY || l.u.addr != sp - 8) f.ok = 0;
        else slot_add(&f, l.u.addr, ip);
        if (bp_in_stack) { /* the rule may be rbp-based */
            need_rbp(&f, &bl, bp, bp0);
            if (bp - 8 >= cfa0 && *(const uint64_t *)(bp - 8) == sp) slot_add(&f, bp - 8, sp);
        }
    }
out:
    rec_t.unwinding = 0;
    rec_gate_leave(&r->in_loader);
    uint32_t const id = n ? id_of(r, pcs, (uint32_t)n) : 0;
    fill_done(r, e, &f, id, bp0);
    return id;
}

/* A fill by the walker of unwind.c costs about a miss, so it always pays. A
 * fill by libunwind (stacks the walker leaves to it) costs ~15
 * unw_backtraces (libunwind's per-thread cache of 128 frame states thrashes
 * in big programs) and slows the unw_backtraces after it (cc1: 1.25K cycles
 * a miss without fills, 3.1K with), and a hit saves about one, so beyond 64
 * free ones such fills go on while they have brought 128 hits each lately; a thread that stopped filling earns one more fill
 * per 128K misses (phases change: perl's start-up fills bring nothing, its
 * loop's a lot). */
#define SC_HOT 8 /* misses of a noted stack at its site that earn it a fill anyway */
static inline int fill_pays(const rec_ring_t *r) {
    return r->sc_fills < 64 || r->sc_hits + (r->sc_misses >> 10) >= 128 * (uint64_t)(r->sc_fills - 64);
}

uint32_t rec_stack_here(rec_ring_t *r, uintptr_t ra, uintptr_t cfa, uintptr_t bp) {
    if (REC_UNLIKELY(!heads)) return 0;
    /* bounds unknown, or stacks deeper than an entry holds: nothing to cache */
        int walked;
    if (REC_UNLIKELY(!rec_t.stk_hi || rec_depth > (int)REC_SC_SLOTS)) return unwind_fast(r, ra, cfa, bp, &walked);
    uint64_t const tag = (uint64_t)r->sc_epoch << 32 | atomic_load_explicit(&code_gen, memory_order_acquire);
    uint64_t const k = sc_hash(ra, cfa, tag);
    uint32_t const si = (uint32_t)(k >> 52) & (REC_SC_ENTRIES / REC_SC_WAYS - 1);
    rec_scache_t *set = &r->sc[si * REC_SC_WAYS];
    uint64_t *keys = &r->sc_key[si * REC_SC_WAYS];
    const unsigned char *base = (const unsigned char *)cfa;
    for (unsigned w = 0; w < REC_SC_WAYS; w++) {
        rec_scache_t *e = &set[w];
        if (keys[w] != k || e->ra != ra || e->cfa != cfa || e->tag != tag || e->state != SC_FILLED ||
            (e->need_bp && e->bp != bp))
            continue;
        uint32_t const ns = e->nslots;
        const uint64_t *const val = &r->sc_pool[e->pool];
        const uint32_t *const off = (const uint32_t *)(val + ns);
        uint64_t diff = 0; /* no early exit: a hit (the common case) reads every slot anyway */
#pragma GCC unroll 4
        for (uint32_t i = 0; i < ns; i++) diff |= *(const uint64_t *)(base + off[i]) ^ val[i];
        if (diff) continue;
        r->sc_hits++;
        if (REC_UNLIKELY(verify)) {
            atomic_fetch_add(&n_hit, 1);
            uint32_t const lib = unwind_lib(r); /* 0: no unwind while another thread forks */
            if (lib && lib != e->id) atomic_fetch_add(&n_bad, 1);
        }
        return e->id;
    }
    /* a miss: a stack met for the first time at this site is only noted
     * (PENDING); the second time, its slots are taken while fills pay, or
     * the SC_HOT-th time if they do not (a hot stack of a phase that began
     * after fills stopped paying: perl's loop after its start-up) */
    uint32_t const id = unwind_fast(r, ra, cfa, bp, &walked);
    if (!id) return 0;
    r->sc_misses++;
    /* a stack the walker took is filled by the walker too, for about the
     * cost of a miss: it always pays */
    int const pays = walked || fill_pays(r) || eager;
    for (unsigned w = 0; w < REC_SC_WAYS; w++) {
        rec_scache_t *e = &set[w];
        if (keys[w] != k || e->ra != ra || e->cfa != cfa || e->tag != tag || e->id != id || e->state == SC_FILLED)
            continue;
        if (e->state == SC_PENDING && (pays || ++e->seen >= SC_HOT)) {
            unwind_fill(r, e, ra, cfa, bp);
            if (++r->sc_fills >= 4096) { r->sc_fills /= 2; r->sc_hits /= 2; r->sc_misses /= 2; }
        }
        return id;
    }
    /* while fills do not pay, a note never replaces a stack filled this
     * epoch: it would cost that stack's hits for a fill that may not come */
    unsigned v = r->sc_rr[si]++ % REC_SC_WAYS;
    if (!pays) {
        unsigned w = 0;
        while (w < REC_SC_WAYS && set[(v + w) % REC_SC_WAYS].state == SC_FILLED &&
               set[(v + w) % REC_SC_WAYS].tag == tag)
            w++;
        if (w == REC_SC_WAYS) return id;
        v = (v + w) % REC_SC_WAYS;
    }
    rec_scache_t *e = &set[v];
    if ((uint32_t)(e->tag >> 32) != r->sc_epoch) e->cap = 0; /* its pool space was another epoch's */
    keys[v] = k;
    e->ra = ra;
    e->cfa = cfa;
    e->bp = bp;
    e->tag = tag;
    e->id = id;
    e->seen = 0;
    e->state = SC_PENDING;
    return id;
}

/* Stack bounds of the calling thread, from glibc (which may allocate: the
 * caller is at a thread's start or in the constructor, never in a hook). */
void rec_stack_bounds_init(void) {
    pthread_attr_t a;
    void *lo;
    size_t sz;
    uint8_t const g = rec_t.guard;
    rec_t.guard = 1;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &lo, &sz) == 0) {
            rec_t.stk_lo = (uintptr_t)lo;
            rec_t.stk_hi = (uintptr_t)lo + sz;
        }
        pthread_attr_destroy(&a);
    }
    rec_t.guard = g;
}

static __attribute__((destructor)) void verify_report(void) {
    if (!verify) return;
    char msg[300];
    int const k = snprintf(msg, sizeof msg,
                           "malloc-record: stack cache verify: %llu hits, %llu wrong, %llu filled, %llu uncacheable, "
                           "%llu pool resets; walker: %llu stacks, %llu wrong, %llu left to libunwind\n",
                           (unsigned long long)n_hit, (unsigned long long)n_bad, (unsigned long long)n_fill,
                           (unsigned long long)n_nocache, (unsigned long long)n_reset, (unsigned long long)n_walk,
                           (unsigned long long)n_walk_bad, (unsigned long long)n_walk_no);
    if (k > 0) rec_diag(msg);
}

uint32_t rec_stack_get(uint32_t id, const uint64_t **pcs) {
    if (!heads || id == 0 || id > atomic_load(&next_id) || id > max_ids) return 0;
    uint64_t const off = id_off[id];
    if (!off) return 0;
    *pcs = &store[off + 2];
    return (uint32_t)store[off + 1];
}

uint32_t rec_stack_max_id(void) { return atomic_load(&next_id); }
