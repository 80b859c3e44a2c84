/* engine.c - the replay loop: a switch over packed ops, no hashing, no
 * allocation of its own. One op in every `sample` (on average, at random
 * gaps) is timed with rdtsc for
 * the latency histograms; the others run untimed. */
#include "engine.h"

#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define AINLINE static inline __attribute__((always_inline))
#define TOUCH_BYTE 0xa5

AINLINE uint64_t tsc_begin(void) { _mm_lfence(); return __rdtsc(); }
AINLINE uint64_t tsc_end(void) { uint64_t const t = __rdtsc(); _mm_lfence(); return t; }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(rp_result_t *r, unsigned kind, uint64_t c) {
    __atomic_fetch_add(&r->count[kind], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->hist[kind][rp_bucket(c)], 1, __ATOMIC_RELAXED);
    uint64_t m = __atomic_load_n(&r->maxc[kind], __ATOMIC_RELAXED);
    while (c > m && !__atomic_compare_exchange_n(&r->maxc[kind], &m, c, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}

/* --null: a bump allocator over a ring; contents are never kept. Lives in
 * the loop's locals (nb_t) so that stores to the object table cannot alias it. */
typedef struct nb_s {
    char *base;
    size_t cap, off;
} nb_t;

/* A size over half the ring: the ring's start when it fits there, else NULL
 * like a real allocator that cannot serve it. align: at most half the ring. */
AINLINE void *nb_alloc(nb_t *nb, size_t size, size_t align) {
    if (__builtin_expect(size > nb->cap / 2, 0)) return size <= nb->cap ? nb->base : NULL;
    size_t o = (nb->off + align - 1) & ~(align - 1);
    if (o + size > nb->cap) o = 0;
    nb->off = o + size;
    return nb->base + o;
}

/* Waits until lane dep >> 32 has done (uint32_t)dep ops. A waiter that
 * must sleep puts itself in that lane's list, sorted by the count it waits
 * for, and sleeps on a futex word of its own; the lane, when it reaches the
 * lowest count asked for (wake_at), wakes exactly the waiters whose count
 * it reached. Waking the sleepers at every op cost two syscalls and two
 * context switches per op (3.8 us per op with the null allocator on a
 * recorded 17-thread program); waking them all at the lowest count made
 * 3000 threads waiting on their creator wake 3000 times each. The waiter
 * stores wake_at then reads done, the lane stores done then reads wake_at:
 * one of them sees the other. */
static void wait_dep(rp_engine_t *e, uint32_t self, uint64_t dep) {
    rp_sync_t *const s = &e->sync[dep >> 32], *const me = &e->sync[self];
    uint32_t const want = (uint32_t)dep;
    for (int spin = 0; spin < 200; spin++) {
        if (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) >= want) return;
        _mm_pause();
    }
    pthread_mutex_lock(&s->lk);
    rp_sync_t **at = &s->head;
    while (*at && (*at)->want <= want) at = &(*at)->next;
    me->want = want;
    me->next = *at;
    __atomic_store_n(&me->woken, 0, __ATOMIC_RELAXED);
    *at = me;
    __atomic_store_n(&s->wake_at, s->head->want, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->done, __ATOMIC_SEQ_CST) >= want) { /* reached meanwhile: out again */
        for (at = &s->head; *at != me; at = &(*at)->next) {}
        *at = me->next;
        __atomic_store_n(&s->wake_at, s->head ? s->head->want : UINT32_MAX, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&s->lk);
        return;
    }
    pthread_mutex_unlock(&s->lk);
    while (!__atomic_load_n(&me->woken, __ATOMIC_ACQUIRE))
        syscall(SYS_futex, &me->woken, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static __attribute__((noinline)) void wake_reached(rp_sync_t *s, uint32_t done) {
    pthread_mutex_lock(&s->lk);
    while (s->head && s->head->want <= done) {
        rp_sync_t *const w = s->head;
        s->head = w->next; /* read before the waiter may go on */
        __atomic_store_n(&w->woken, 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &w->woken, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    __atomic_store_n(&s->wake_at, s->head ? s->head->want : UINT32_MAX, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&s->lk);
}

static void publish(rp_engine_t *e, uint32_t lane, uint32_t done) {
    rp_sync_t *s = &e->sync[lane];
    __atomic_store_n(&s->done, done, __ATOMIC_SEQ_CST);
    if (__builtin_expect(__atomic_load_n(&s->wake_at, __ATOMIC_SEQ_CST) <= done, 0)) wake_reached(s, done);
}

static void pace_to(rp_engine_t *e, uint64_t t) {
    uint64_t const target = e->start_ns + t;
    if (now_ns() >= target) return;
    struct timespec const ts = { (time_t)(target / 1000000000ull), (long)(target % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
}

/* Aligned allocation by whichever function the allocator defines. */
static void *aligned_call(rp_engine_t *e, unsigned code, size_t align, size_t size) {
    unsigned const f = e->funcs;
    void *p = NULL;
    switch (code) {
    case RP_MEMALIGN:
        if (f & RP_FN_MEMALIGN) return memalign(align, size);
        break;
    case RP_POSIX_MEMALIGN:
        if (f & RP_FN_POSIX_MEMALIGN) return posix_memalign(&p, align, size) ? NULL : p;
        break;
    case RP_ALIGNED_ALLOC:
        if (f & RP_FN_ALIGNED_ALLOC) return aligned_alloc(align, size);
        break;
    case RP_VALLOC:
        if (f & RP_FN_VALLOC) return valloc(size);
        align = e->page;
        break;
    case RP_PVALLOC:
        if (f & RP_FN_PVALLOC) return pvalloc(size);
        align = e->page;
        size = size ? (size + e->page - 1) & ~(e->page - 1) : e->page;
        break;
    }
    if (f & RP_FN_MEMALIGN) return memalign(align, size);
    if (f & RP_FN_POSIX_MEMALIGN) return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) ? NULL : p;
    return aligned_alloc(align, size);
}

static void *reallocarray_call(rp_engine_t *e, void *p, size_t nmemb, size_t size) {
    if (e->funcs & RP_FN_REALLOCARRAY) return reallocarray(p, nmemb, size);
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) return NULL;
    return realloc(p, total);
}

/* The allocation part of an op: returns the new pointer. Timed when `timed`. */
AINLINE void *alloc_call(rp_engine_t *e, unsigned code, size_t size, const uint64_t *x, void *old,
                         nb_t *nb, const int null) {
    if (null) {
        switch (code) {
        case RP_CALLOC: {
            size_t n;
            return __builtin_mul_overflow(size, (size_t)x[0], &n) ? NULL : nb_alloc(nb, n, 16);
        }
        case RP_MEMALIGN: case RP_POSIX_MEMALIGN: case RP_ALIGNED_ALLOC:
            return x[0] > nb->cap / 2 ? NULL : nb_alloc(nb, size, x[0] ? (size_t)x[0] : 16);
        case RP_REALLOCARRAY: {
            size_t n;
            return __builtin_mul_overflow(size, (size_t)x[2], &n) ? NULL : nb_alloc(nb, n, 16);
        }
        case RP_VALLOC: case RP_PVALLOC: return nb_alloc(nb, size, e->page);
        default: return nb_alloc(nb, size, 16);
        }
    }
    switch (code) {
    case RP_MALLOC: return malloc(size);
    case RP_CALLOC: return calloc((size_t)x[0], size);
    case RP_REALLOC: return realloc(old, size);
    case RP_REALLOCARRAY: return reallocarray_call(e, old, (size_t)x[2], size);
    default: return aligned_call(e, code, (size_t)x[0], size);
    }
}

AINLINE uint64_t alloc_bytes(unsigned code, uint64_t size, const uint64_t *x) {
    if (code == RP_CALLOC) return size * x[0];
    if (code == RP_REALLOCARRAY) return size * x[2];
    return size;
}

/* An allocating op with its code known at compile time (one dispatch per op). */
AINLINE void alloc_op(rp_engine_t *e, void **const slots, const rp_op_t *o, const uint64_t **xp, nb_t *nb, uint64_t *null_fail,
                      const unsigned code, const int null, const int touch, const int timed) {
    const uint64_t *x = *xp;
    uint64_t t0 = 0;
    if (timed) t0 = tsc_begin();
    void *const p = alloc_call(e, code, o->size, x, NULL, nb, null);
    if (timed) record(e->res, code, tsc_end() - t0);
    slots[o->id] = p;
    if (__builtin_expect(p == NULL, 0)) (*null_fail)++;
    else if (touch) memset(p, TOUCH_BYTE, alloc_bytes(code, o->size, x));
    *xp = x + (code == RP_MALLOC || code == RP_VALLOC || code == RP_PVALLOC ? 0 : 1);
}

AINLINE void realloc_op(rp_engine_t *e, void **const slots, const rp_op_t *o, const uint64_t **xp, nb_t *nb, uint64_t *null_fail,
                        const unsigned code, const int null, const int touch, const int timed) {
    const uint64_t *x = *xp;
    void *const old = slots[x[0]];
    uint64_t t0 = 0;
    if (timed) t0 = tsc_begin();
    void *const p = alloc_call(e, code, o->size, x, old, nb, null);
    if (timed) record(e->res, code, tsc_end() - t0);
    slots[x[0]] = NULL;
    slots[o->id] = p;
    uint64_t const n = code == RP_REALLOC ? o->size : o->size * x[2];
    if (__builtin_expect(p == NULL, 0)) (*null_fail)++;
    else if (touch && n > x[1]) memset((char *)p + x[1], TOUCH_BYTE, n - x[1]);
    *xp = x + (code == RP_REALLOC ? 2 : 3);
}

/* The rare ops, out of line. */
static __attribute__((noinline)) void failed_op(rp_engine_t *e, const rp_op_t *o, const uint64_t *x, nb_t *nb) {
    void **const slots = e->slots;
    unsigned const sub = o->id;
    if (e->null) return;
    if (sub == RP_REALLOC || sub == RP_REALLOCARRAY) {
        void *const p = alloc_call(e, sub, o->size, x, slots[x[0]], nb, 0);
        if (p) slots[x[0]] = p; /* succeeded where the traced call failed: the object lives on */
    } else {
        void *const p = alloc_call(e, sub, o->size, x, NULL, nb, 0);
        if (p) free(p);
    }
}

static __attribute__((noinline)) void realloc_free_op(rp_engine_t *e, const rp_op_t *o, const uint64_t *x) {
    void *const old = e->slots[x[0]];
    e->slots[x[0]] = NULL;
    if (e->null) return;
    void *const p = (o->flags & RP_F_ARRAY) ? reallocarray_call(e, old, (size_t)x[2], o->size) : realloc(old, o->size);
    if (p) free(p); /* an allocator whose realloc(p, 0) returns a minimum-size object */
}

static __attribute__((noinline)) void misc_op(rp_engine_t *e, const rp_op_t *o) {
    if (e->null) return;
    if (o->code == RP_MALLOPT) mallopt((int)o->id, (int)(int64_t)o->size);
    else if (o->code == RP_MALLOC_TRIM) malloc_trim((size_t)o->size);
}

/* One op; advances *xp past its ext words. */
AINLINE void do_op(rp_engine_t *e, void **const slots, const rp_op_t *o, const uint64_t **xp, nb_t *nb, uint64_t *null_fail,
                   const int null, const int touch, const int timed) {
#define ALLOC(c) case c: alloc_op(e, slots, o, xp, nb, null_fail, c, null, touch, timed); break
    switch (o->code) {
    ALLOC(RP_MALLOC);
    ALLOC(RP_CALLOC);
    ALLOC(RP_MEMALIGN);
    ALLOC(RP_POSIX_MEMALIGN);
    ALLOC(RP_ALIGNED_ALLOC);
    ALLOC(RP_VALLOC);
    ALLOC(RP_PVALLOC);
    case RP_REALLOC: realloc_op(e, slots, o, xp, nb, null_fail, RP_REALLOC, null, touch, timed); break;
    case RP_REALLOCARRAY: realloc_op(e, slots, o, xp, nb, null_fail, RP_REALLOCARRAY, null, touch, timed); break;
    case RP_FREE: {
        void *const p = slots[o->id];
        uint64_t t0 = 0;
        if (timed) t0 = tsc_begin();
        if (!null) free(p);
        if (timed) record(e->res, RP_FREE, tsc_end() - t0);
        if (o->id) {
            if (__builtin_expect(p == NULL, 0)) __atomic_fetch_add(&e->order_errors, 1, __ATOMIC_RELAXED);
            slots[o->id] = NULL;
        }
        break;
    }
    case RP_FAILED:
        failed_op(e, o, *xp, nb);
        *xp += rp_ext_words(o);
        break;
    case RP_REALLOC_FREE:
        realloc_free_op(e, o, *xp);
        *xp += rp_ext_words(o);
        break;
    case RP_MALLOPT: case RP_MALLOC_TRIM:
        misc_op(e, o);
        break;
    default:
        break;
    }
#undef ALLOC
}

/* Untimed ops [o, end), two at a time: one indirect jump per pair of ops,
 * on the classes (free, malloc, other) of both. On a random op mix a
 * mispredicted dispatch is the loop's main cost (~25 cycles); one jump over
 * nine pair targets mispredicts less per op than one branch per op. Free and
 * malloc are inline, the other ops go through do_op. The object table slots
 * are fetched 8 ops ahead (the one random access of the loop). One function
 * per (null, touch), since a label table cannot be inlined. */
static const uint8_t k_class[256] = { [RP_FREE] = 0, [RP_MALLOC] = 1, [RP_CALLOC] = 2, [RP_REALLOC] = 2,
    [RP_REALLOCARRAY] = 2, [RP_MEMALIGN] = 2, [RP_POSIX_MEMALIGN] = 2, [RP_ALIGNED_ALLOC] = 2, [RP_VALLOC] = 2,
    [RP_PVALLOC] = 2, [RP_MALLOPT] = 2, [RP_MALLOC_TRIM] = 2, [RP_NOP] = 2, [RP_FAILED] = 2, [RP_REALLOC_FREE] = 2,
    [RP_NCODES ... 255] = 2 };

AINLINE void free_op(rp_engine_t *e, void **const slots, const rp_op_t *o, const int null) {
    void *const p = slots[o->id];
    if (!null) free(p);
    if (o->id) {
        if (__builtin_expect(p == NULL, 0)) __atomic_fetch_add(&e->order_errors, 1, __ATOMIC_RELAXED);
        slots[o->id] = NULL;
    }
}

#define H_F(q) free_op(e, slots, q, null)
#define H_M(q) alloc_op(e, slots, q, xp, nb, nf, RP_MALLOC, null, touch, 0)
/* an "other" op: timed one in kmask + 1 of its code */
AINLINE void other_op(rp_engine_t *e, void **const slots, const rp_op_t *o, const uint64_t **xp, nb_t *nb,
                      uint64_t *nf, const int null, const int touch) {
    unsigned const c = o->code < RP_NCODES ? o->code : RP_NOP;
    if (__builtin_expect((++e->kseen[c] & e->kmask[c]) == 0, 0)) do_op(e, slots, o, xp, nb, nf, null, touch, 1);
    else do_op(e, slots, o, xp, nb, nf, null, touch, 0);
}
#define H_O(q) other_op(e, slots, q, xp, nb, nf, null, touch)
#define PAIR(a, b) l_##a##b: H_##a(o); H_##b(o + 1); o += 2; goto l_disp;
#define DEFINE_UNTIMED(name, NULLV, TOUCHV)                                                                    \
static __attribute__((noinline)) void name(rp_engine_t *e, void **const slots, const rp_op_t *o,                 \
                                           const rp_op_t *const end, const rp_op_t *const lane_end,             \
                                           const uint64_t **xpp, nb_t *nbp, uint64_t *nfp) {                    \
    const int null = NULLV, touch = TOUCHV;                                                                     \
    const uint64_t *xv = *xpp, **const xp = &xv; /* loop state in registers, stored back at the end */         \
    nb_t nbv = *nbp, *const nb = &nbv;                                                                          \
    uint64_t nfv = 0, *const nf = &nfv;                                                                         \
    static const void *const pair[9] = { &&l_FF, &&l_FM, &&l_FO, &&l_MF, &&l_MM, &&l_MO, &&l_OF, &&l_OM, &&l_OO }; \
l_disp:                                                                                                         \
    if (end - o >= 2) {                                                                                         \
        if (o + 9 < lane_end) {                                                                                 \
            __builtin_prefetch(&slots[o[8].id], 1);                                                             \
            __builtin_prefetch(&slots[o[9].id], 1);                                                             \
        }                                                                                                       \
        goto *pair[k_class[o[0].code] * 3u + k_class[o[1].code]];                                               \
    }                                                                                                           \
    if (o < end) H_O(o);                                                                                        \
    *xpp = xv;                                                                                                  \
    *nbp = nbv;                                                                                                 \
    *nfp += nfv;                                                                                                \
    return;                                                                                                     \
    PAIR(F, F) PAIR(F, M) PAIR(F, O) PAIR(M, F) PAIR(M, M) PAIR(M, O) PAIR(O, F) PAIR(O, M) PAIR(O, O)         \
}
DEFINE_UNTIMED(untimed_00, 0, 0)
DEFINE_UNTIMED(untimed_01, 0, 1)
DEFINE_UNTIMED(untimed_10, 1, 0)
DEFINE_UNTIMED(untimed_11, 1, 1)

AINLINE void untimed_block(rp_engine_t *e, void **const slots, const rp_op_t *o, const rp_op_t *const end,
                           const rp_op_t *const lane_end, const uint64_t **xp, nb_t *nb, uint64_t *nf,
                           const int null, const int touch) {
    if (null) {
        if (touch) untimed_11(e, slots, o, end, lane_end, xp, nb, nf);
        else untimed_10(e, slots, o, end, lane_end, xp, nb, nf);
    } else {
        if (touch) untimed_01(e, slots, o, end, lane_end, xp, nb, nf);
        else untimed_00(e, slots, o, end, lane_end, xp, nb, nf);
    }
}

/* Ops to the next timed one: 1..2*sample-1, uniformly (sample on average).
 * A fixed stride aliased with a program's own period: with a loop of
 * malloc and free every timed op was a malloc, and frees had no latency at
 * all in threads mode. The sequence is the same in every run (a fixed seed
 * per lane), so every allocator is timed on the same ops. */
static uint32_t next_gap(const rp_engine_t *e, rp_tick_t *t) {
    if (e->sample <= 1) return 1;
    uint32_t x = t->rng ? t->rng : 0x9e3779b9u; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    t->rng = x;
    return 1 + x % (2 * e->sample - 1);
}

AINLINE void run_lane(rp_engine_t *e, const rp_op_t *ops, size_t n, const uint64_t **ext, uint32_t lane,
                      uint32_t done0, const uint64_t *times, size_t *nb_off, uint64_t *null_fail,
                      const int null, const int touch, const int threads) {
    const uint64_t *x = *ext;
    void **const slots = e->slots;
    nb_t nb = { e->nb_base, e->nb_cap, *nb_off };
    uint64_t nf = 0;
    if (threads) {
        rp_tick_t t = e->sync[lane].tick; /* the lane's own, kept between calls */
        if (!t.rng) t.rng = 0x9e3779b9u ^ (lane * 0x85ebca6bu) ^ 1u;
        for (size_t i = 0; i < n; i++) {
            const rp_op_t *o = &ops[i];
            for (unsigned d = 0; d < (o->flags & RP_F_NDEP_MASK); d++) wait_dep(e, lane, *x++);
            if (times) pace_to(e, times[i]);
            if (t.left == 0) {
                do_op(e, slots, o, &x, &nb, &nf, null, touch, 1);
                t.left = next_gap(e, &t);
            }
            else do_op(e, slots, o, &x, &nb, &nf, null, touch, 0);
            t.left--;
            publish(e, lane, done0 + (uint32_t)i + 1);
        }
        e->sync[lane].tick = t;
    } else {
        /* a timed op, then a plain loop up to the next one */
        rp_tick_t *const t = &e->tick;
        for (size_t i = 0; i < n;) {
            if (t->left == 0) {
                do_op(e, slots, &ops[i++], &x, &nb, &nf, null, touch, 1);
                t->left = next_gap(e, t) - 1;
            }
            size_t end = n - i < t->left ? n : i + t->left;
            if (i < end) {
                untimed_block(e, slots, ops + i, ops + end, ops + n, &x, &nb, &nf, null, touch);
                t->left -= (uint32_t)(end - i);
                i = end;
            }
        }
    }
    *ext = x;
    *nb_off = nb.off;
    *null_fail += nf;
}

#define LANE(nl, tc, th) run_lane(e, ops, n, ext, lane, done0, times, nb_off, null_fail, nl, tc, th)

void rp_engine_run(rp_engine_t *e, const rp_op_t *ops, size_t n, const uint64_t **ext, int threads,
                   uint32_t lane, uint32_t done0, const uint64_t *times, size_t *nb_off, uint64_t *null_fail) {
    if (threads) {
        if (e->null) { if (e->touch) LANE(1, 1, 1); else LANE(1, 0, 1); }
        else { if (e->touch) LANE(0, 1, 1); else LANE(0, 0, 1); }
    } else {
        if (e->null) { if (e->touch) LANE(1, 1, 0); else LANE(1, 0, 0); }
        else { if (e->touch) LANE(0, 1, 0); else LANE(0, 0, 0); }
    }
}

void rp_engine_release_all(rp_engine_t *e, uint64_t nslots) {
    if (e->null) return;
    for (uint64_t i = 1; i < nslots; i++)
        if (e->slots[i]) {
            free(e->slots[i]);
            e->slots[i] = NULL;
        }
}
