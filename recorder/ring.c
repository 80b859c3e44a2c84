/* ring.c - per-thread rings and their registry.
 *
 * A ring is attached to a thread on its first recorded call: a free ring of
 * the registry is recycled, else a new one is mmap'd and pushed on the
 * registry list (lock-free; rings are never unlinked). A pthread key marks the
 * ring EXITING when the thread's key destructors run; the thread may still
 * allocate after that (other TLS destructors), so the writer recycles the
 * ring only once the kernel says the thread is gone (drain.c).
 *
 * Full ring: the producer kicks the writer and yields while the writer makes
 * progress; if the writer makes none for 1 s (or is not running) the event is
 * dropped and counted (END.dropped), and further events of full rings are
 * dropped at once until the writer moves again: a thread never blocks for
 * long, and a busy machine that starves the writer for a while loses nothing.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"

static _Atomic(rec_ring_t *) registry;
static pthread_key_t ring_key;
static _Atomic int key_state; /* 0 none, 1 creating, 2 ready */
static _Atomic int registry_spin;

_Atomic uint32_t rec_kick;
_Atomic int rec_writer_running;
_Atomic uint64_t rec_writer_progress;
_Atomic int rec_writer_sleeping;

uint32_t rec_gettid(void) { return (uint32_t)syscall(SYS_gettid); }

rec_ring_t *rec_ring_list(void) { return atomic_load_explicit(&registry, memory_order_acquire); }

void rec_registry_lock(void) {
    while (atomic_exchange_explicit(&registry_spin, 1, memory_order_acquire)) sched_yield();
}
void rec_registry_unlock(void) { atomic_store_explicit(&registry_spin, 0, memory_order_release); }

static void ring_key_dtor(void *p) {
    rec_ring_t *r = p;
    int live = RING_LIVE;
    atomic_compare_exchange_strong(&r->state, &live, RING_EXITING);
}

static void key_init(void) {
    int s = atomic_load(&key_state);
    if (s == 2) return;
    if (s == 0 && atomic_compare_exchange_strong(&key_state, &s, 1)) {
        if (pthread_key_create(&ring_key, ring_key_dtor) == 0) atomic_store(&key_state, 2);
        else atomic_store(&key_state, 3);
    }
}

rec_ring_t *rec_ring_attach(rec_tls_t *t) {
    if (t->internal) return NULL;
    uint8_t const g = t->guard;
    t->guard = 1;
    if (!t->tid) t->tid = rec_gettid();
    rec_ring_t *r = NULL;
    rec_registry_lock();
    for (rec_ring_t *q = rec_ring_list(); q; q = q->next) {
        int f = RING_FREE;
        if (atomic_load_explicit(&q->state, memory_order_relaxed) == RING_FREE &&
            atomic_compare_exchange_strong(&q->state, &f, RING_LIVE)) { r = q; break; }
    }
    if (!r) {
        void *m = mmap(NULL, sizeof(rec_ring_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        rec_ev_t *ev = m != MAP_FAILED ? rec_ring_buf(REC_RING_MIN, 0) : NULL;
        if (m != MAP_FAILED && !ev) munmap(m, sizeof(rec_ring_t));
        if (ev) {
            r = m;
            atomic_store(&r->ev, ev);
            r->mask = REC_RING_MIN - 1;
            atomic_store(&r->state, RING_LIVE);
            r->next = atomic_load(&registry);
            atomic_store_explicit(&registry, r, memory_order_release);
        }
    }
    rec_registry_unlock();
    if (r) {
        /* a recycled ring is drained (head == tail) and keeps its counters;
         * its size is its buffer's (a fork may have cut a growth short) */
        r->mask = rec_ring_buf_mask(atomic_load(&r->ev));
        r->tail_cache = atomic_load(&r->tail);
        atomic_store(&r->head, r->tail_cache);
        r->tid = t->tid;
        r->last_seq = 0;
        r->drained_seq = 0;
        r->last_n = r->last_id = 0;
        r->sc_epoch++; /* the previous thread's cached stacks are void */
        r->sc_pool_used = 0;
        r->sc_fills = 0;
        r->sc_hits = 0;
        r->sc_misses = 0;
        atomic_store(&r->busy, 0);
        t->ring = r;
        rec_altstack_give(r);
        key_init();
        if (atomic_load(&key_state) == 2) pthread_setspecific(ring_key, r);
    }
    t->guard = g;
    return r;
}

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

void rec_kick_writer(void) {
    atomic_fetch_add(&rec_kick, 1);
    if (atomic_load(&rec_writer_sleeping)) futex(&rec_kick, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* A buffer of n slots. populate: its pages are mapped at once, one call
 * instead of a fault per page (a buffer grown because the last one filled
 * will be written through; on some VMs a fault costs 10 us). */
rec_ev_t *rec_ring_buf(uint64_t n, int populate) {
    void *m = mmap(NULL, (n + 1) * sizeof(rec_ev_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (populate ? MAP_POPULATE : 0), -1, 0);
    if (m == MAP_FAILED) return NULL;
    rec_ev_t *const ev = (rec_ev_t *)m + 1;
    ev[-1].a = n - 1;
    return ev;
}

void rec_ring_buf_free(rec_ev_t *ev) { munmap(ev - 1, (rec_ring_buf_mask(ev) + 2) * sizeof(rec_ev_t)); }

_Atomic uint64_t rec_ring_fulls, rec_ring_waits;

/* Grows a full ring to twice its slots while it is below REC_RING_SLOTS and
 * the writer is done with the buffer of the last growth: the events before
 * switch_at stay in the old buffer for the writer (which unmaps it once it
 * drained them), the next go to the new one. Else waits for room. */
int rec_ring_full(rec_ring_t *r) {
    atomic_fetch_add_explicit(&rec_ring_fulls, 1, memory_order_relaxed);
    if (r->mask + 1 < REC_RING_SLOTS && !atomic_load_explicit(&r->old_ev, memory_order_acquire)) {
        rec_ev_t *const ev = rec_ring_buf(2 * (r->mask + 1), 1);
        if (ev) {
            r->switch_at = atomic_load_explicit(&r->head, memory_order_relaxed);
            atomic_store_explicit(&r->old_ev, atomic_load_explicit(&r->ev, memory_order_relaxed),
                                  memory_order_release);
            r->mask = rec_ring_buf_mask(ev);
            atomic_store_explicit(&r->ev, ev, memory_order_release);
            return 0;
        }
    }
    return rec_ring_wait(r);
}

/* progress count at which the writer was declared stalled (+1; 0 = never) */
static _Atomic uint64_t stalled_at;

int rec_ring_wait(rec_ring_t *r) {
    atomic_fetch_add_explicit(&rec_ring_waits, 1, memory_order_relaxed);
    if (rec_foreign_process()) { atomic_fetch_add(&r->dropped, 1); return -1; } /* a raw fork's child */
    uint64_t const h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t seen = atomic_load(&rec_writer_progress);
    uint64_t since = 0;
    for (int i = 0;; i++) {
        if (!atomic_load(&rec_writer_running)) break;
        /* a stall already timed out: drop at once until the writer moves */
        if (atomic_load(&stalled_at) == atomic_load(&rec_writer_progress) + 1) {
            r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (h - r->tail_cache <= r->mask) return 0;
            break;
        }
        rec_kick_writer();
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h - r->tail_cache <= r->mask) return 0;
        uint64_t const p = atomic_load(&rec_writer_progress);
        uint64_t const now = rec_now();
        if (p != seen || !since) { seen = p; since = now; }
        else if (now - since > 1000000000u) { /* no progress for 1 s */
            atomic_store(&stalled_at, p + 1);
            break;
        }
        if (i < 16) sched_yield();
        else { struct timespec ts = { 0, 200000 }; nanosleep(&ts, NULL); }
    }
    atomic_fetch_add(&r->dropped, 1);
    return -1;
}

void rec_ring_after_fork(rec_tls_t *t) {
    atomic_store(&registry_spin, 0);
    for (rec_ring_t *q = rec_ring_list(); q; q = q->next) {
        /* another thread of the parent may have been growing its ring: the
         * buffer in ev is the one to keep, whatever old_ev and mask say */
        rec_ev_t *const ev = atomic_load(&q->ev);
        if (atomic_load(&q->old_ev) == ev) atomic_store(&q->old_ev, NULL);
        q->mask = rec_ring_buf_mask(ev);
        uint64_t const h = atomic_load(&q->head);
        atomic_store(&q->tail, h);
        q->tail_cache = h;
        atomic_store(&q->busy, 0);
        atomic_store(&q->dropped, 0);
        q->last_seq = q->drained_seq = 0;
        atomic_store(&q->state, q == t->ring ? RING_LIVE : RING_FREE);
    }
    t->tid = rec_gettid();
    if (t->ring) { t->ring->tid = t->tid; t->ring->creator = 0; }
    atomic_store(&rec_writer_running, 0);
    atomic_store(&rec_writer_sleeping, 0);
}
