/* engine.h - the replay loop (engine.c), used by the child only. */
#ifndef RP_ENGINE_H
#define RP_ENGINE_H

#include "replay.h"

#include <pthread.h>

typedef struct rp_tick_s { /* which ops are timed */
    uint32_t left;         /* ops before the next timed one */
    uint32_t rng;          /* xorshift32 state of the gaps, 0: not seeded */
} rp_tick_t;

typedef struct rp_sync_s { /* one per lane, its own cache lines */
    uint32_t done;         /* ops this lane completed */
    uint32_t wake_at;      /* the lowest count a sleeping waiter waits for, UINT32_MAX none */
    rp_tick_t tick;        /* the lane's timing schedule (saved between calls) */
    struct rp_sync_s *head; /* lanes sleeping until this one has done their `want`, by want (lk) */
    pthread_mutex_t lk;
    /* this lane as a waiter (in another lane's list) */
    struct rp_sync_s *next;
    uint32_t want;
    uint32_t woken;        /* its futex word: set when its count was reached */
} __attribute__((aligned(64))) rp_sync_t;

typedef struct rp_engine_s {
    void **slots;          /* object id -> pointer; slot 0 is always NULL */
    rp_result_t *res;      /* histograms (atomic adds) */
    int null, touch, pace;
    unsigned funcs;        /* RP_FN_* */
    uint32_t sample;       /* power of two: one op in `sample` timed, on average */
    rp_tick_t tick;        /* serial mode's timing schedule */
    size_t page;
    char *nb_base;         /* --null: a ring the bump allocator cycles through */
    size_t nb_cap;
    rp_sync_t *sync;       /* threads mode */
    uint64_t start_ns;     /* --pace: replay start (CLOCK_MONOTONIC) */
    uint64_t order_errors; /* frees of an empty slot (atomic adds) */
    /* serial mode: ops other than malloc and free are also timed one in
     * kmask[code] + 1 of their own code, so that rare ones get samples */
    uint32_t kmask[RP_NCODES], kseen[RP_NCODES];
} rp_engine_t;

/* Replays ops[0..n) of one lane; *ext is advanced past the words consumed.
 * threads: wait on dependencies and publish progress in e->sync[lane];
 * times: recorded t_ns per op for --pace (NULL otherwise). nb_off: the
 * lane's bump offset (--null). done0: ops of this lane already done. */
void rp_engine_run(rp_engine_t *e, const rp_op_t *ops, size_t n, const uint64_t **ext, int threads,
                   uint32_t lane, uint32_t done0, const uint64_t *times, size_t *nb_off, uint64_t *null_fail);

/* Frees every object still in a slot (after the trace's end). */
void rp_engine_release_all(rp_engine_t *e, uint64_t nslots);

#endif
