/* lane.h - the driver's second lane: some models stepped in a thread of their
 * own (internal to the simulator, not part of sim.h).
 *
 * The driver maps addresses to ids and steps some models itself (driver.c's
 * split_models chooses); for the others, a run of the list at one end, it
 * appends each event's request to a batch that a worker thread
 * takes over once full (a ring of LANE_NB batches, handed over under a mutex
 * once per LANE_BATCH events). The worker steps its models in the same order,
 * tracks their peaks from the live bytes the driver passes along, and keeps
 * its own timeline columns under the same sampling rule, so the results are
 * those of a serial run: every model sees the same requests in the same order
 * and nothing of one model depends on another.
 */
#ifndef SIM_LANE_H
#define SIM_LANE_H

#include "sim.h"

#include <pthread.h>

/* ---- timeline rows (shared by both lanes) ---------------------------------- */

/* Rows of width words, first word the op. Sampled at op 1 and every stride
 * ops; when cap rows are full the stride doubles and the rows that are not
 * multiples of it go (the first stays). The rule depends on op numbers only,
 * so two lanes keep the same rows. */
typedef struct tl_s {
    uint64_t *rows;
    size_t n, cap, width;
    uint64_t stride;
} tl_t;

/* The row to fill for op, or NULL if op is not sampled. */
uint64_t *tl_row(tl_t *t, uint64_t op);
int tl_init(tl_t *t, unsigned rows, size_t width);

/* Records a new footprint peak fp of model md at op in res (lane.c). */
void sim_new_peak(sim_model_t *md, sim_result_t *res, uint64_t fp, uint64_t live, uint64_t op);

/* Updates the peak results of models [first, end) after an allocating op:
 * one footprint call and a compare a model, inline (it runs on every
 * allocation); a new peak takes the call above. The arrays are passed, not
 * the run: the lane keeps its own copies of the pointers, off the lines of
 * sim_run_t that the driver writes. */
static inline void sim_note_peaks(sim_model_t *models, sim_result_t *results, unsigned first, unsigned end,
                                  uint64_t live, uint64_t op, int live_peak)
{
    for (unsigned m = first; m < end; m++) {
        sim_model_t *md = &models[m];
        sim_result_t *res = &results[m];
        uint64_t fp = md->footprint(md->opaque);
        if (__builtin_expect(fp > res->peak_footprint, 0))
            sim_new_peak(md, res, fp, live, op);
        if (live_peak)
            res->footprint_at_peak_live = fp;
    }
}

/* ---- the lane ---------------------------------------------------------------- */

/* Half a cache line per event: what crosses to the other core is what the
 * cost is (a line written by one core and read by another costs ~20 ns on a
 * VM here). A request with alignment, nmemb or mallopt values takes a second
 * item (LANE_EXT) holding them. */
typedef struct lane_item_s {
    uint8_t op, flags; /* tr_op_t, LANE_* */
    uint32_t tid, id, old_id;
    uint64_t size;
    uint64_t live;     /* live bytes after the op */
} lane_item_t;

typedef struct lane_ext_s {
    uint64_t nmemb, align;
    int64_t param, value;
} lane_ext_t;

_Static_assert(sizeof(lane_item_t) == 32 && sizeof(lane_ext_t) == 32, "lane items are half a line");

enum { LANE_STEP = 1, LANE_ALLOC = 2, LANE_LIVE_PEAK = 4, LANE_EXT = 8,
       LANE_FAILED = 16 /* a failed allocation: the glibc model steps it, no other */ };

#define LANE_BATCH 1024u
#define LANE_NB 4u

typedef struct lane_batch_s {
    uint32_t n, last;
    lane_item_t it[LANE_BATCH] __attribute__((aligned(64)));
} lane_batch_t;

/* Three cache lines apart (the struct is 64-byte aligned): what the driver
 * reads and writes per event, what the worker does, and what they share
 * under the mutex. */
typedef struct lane_s {
    /* the driver's side */
    lane_batch_t *fill; /* being filled */
    int prefetchw;      /* the CPU has PREFETCHW */
    /* the worker's: its own copies of the run's pointers (the driver writes
     * sim_run_t's counters on every event) */
    __attribute__((aligned(64))) sim_model_t *models;
    sim_result_t *results;
    unsigned first, end; /* models [first, end) */
    tl_t tl;             /* rows of (op, footprint of each of its models) */
    uint64_t n;          /* the worker's op count */
    /* shared, under mu */
    __attribute__((aligned(64))) pthread_t th;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t has_data, has_space;
    lane_batch_t *ring[LANE_NB]; /* LANE_NB + 1 batches: the ring's and the one filled */
    unsigned head, count;
    lane_batch_t *all[LANE_NB + 1];
} lane_t;

/* Starts a worker for models [first, end); NULL if it cannot (the caller
 * then steps them itself). */
lane_t *lane_start(sim_run_t *run, unsigned first, unsigned end);
/* Hands the filled batch to the worker (blocks while the ring is full). */
void lane_flush(lane_t *l, int last);
/* Flushes, waits for the worker to finish every event, stops it. */
void lane_finish(lane_t *l);
void lane_free(lane_t *l);

/* Items this far ahead of the one being written are fetched for writing:
 * their lines were last in the worker's cache, and a plain store to such a
 * line waits for the other core to give it up (that wait was 40 % of the
 * driver's time with a lane). __builtin_prefetch(p, 1) is a plain read
 * prefetch for the default x86-64 target, which fetches the line shared. */
#define LANE_AHEAD 16u

static inline void lane_prefetchw(const lane_t *l, const void *p)
{
#if defined(__x86_64__)
    if (__builtin_expect(l->prefetchw, 1))
        __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    (void)l;
    __builtin_prefetch(p, 1);
#endif
}

/* Appends the request q of the next event. */
static inline void lane_push(lane_t *l, const sim_req_t *q, uint64_t live, unsigned flags)
{
    if (__builtin_expect(l->fill->n >= LANE_BATCH - 1, 0))
        lane_flush(l, 0);
    lane_batch_t *b = l->fill;
    if (b->n + LANE_AHEAD < LANE_BATCH)
        lane_prefetchw(l, &b->it[b->n + LANE_AHEAD]);
    uint64_t const ext = q->nmemb | q->align | (uint64_t)q->param | (uint64_t)q->value;
    b->it[b->n++] = (lane_item_t){ .op = q->op, .flags = (uint8_t)(flags | (ext ? LANE_EXT : 0)),
                                   .tid = q->tid, .id = q->id, .old_id = q->old_id,
                                   .size = q->size, .live = live };
    if (__builtin_expect(ext, 0)) {
        lane_ext_t *e = (lane_ext_t *)&b->it[b->n++];
        *e = (lane_ext_t){ q->nmemb, q->align, q->param, q->value };
    }
}

#endif /* SIM_LANE_H */
