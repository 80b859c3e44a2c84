/* sim.h - malloc-sim's library: allocator models stepped by a malloc trace.
 *
 * A model is a struct of function pointers with an opaque state (the shape of
 * zstd's ZSTD_customMem): the driver (sim_run) streams a trace, maps every
 * recorded address to a dense object id once (the only hashing), and steps
 * every model with ids, so that a model keeps its per-object state in arrays
 * indexed by id. Ids are reused after release (a realloc's new id always
 * differs from its old one, so a model can place the new block before it
 * gives up the old, as a copying realloc does); a model sizes its arrays by
 * the largest id seen, so memory follows the live objects, not the trace.
 *
 * Contract: functions return 0 (or a pointer) on success and -1 (or NULL) on
 * failure with a message in the caller's buffer. Nothing here exits; only
 * the report writers print, to the FILE the caller gives.
 */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_NO_ID UINT32_MAX

/* One operation as a model sees it. */
typedef struct sim_req_s {
    uint8_t op;       /* tr_op_t */
    uint64_t n;       /* this event's op count (1 = the first event) */
    uint32_t tid;
    uint32_t id;      /* allocating ops and realloc: the new object (SIM_NO_ID: the call failed) */
    uint32_t old_id;  /* free, realloc: the object given up (SIM_NO_ID: NULL or unknown) */
    uint64_t size;    /* bytes requested (calloc, reallocarray: nmemb * size) */
    uint64_t nmemb;   /* calloc, reallocarray */
    uint64_t align;   /* memalign family */
    int64_t param, value; /* mallopt; malloc_trim: value = pad */
} sim_req_t;

/* What every model reports. */
typedef struct sim_stats_s {
    uint64_t footprint;    /* bytes held from the OS */
    uint64_t class_bytes;  /* bytes the live objects occupy (chunk, class or block size) */
    uint64_t free_bytes;   /* free bytes held: external fragmentation */
    uint64_t largest_free; /* largest free block held */
} sim_stats_t;

typedef struct sim_model_s {
    const char *name;
    void *opaque;
    /* Applies one operation. Must be cheap: the hot path. */
    void (*step)(void *opaque, const sim_req_t *r);
    /* Current footprint; called after every allocating op, so O(1). */
    uint64_t (*footprint)(void *opaque);
    void (*stats)(void *opaque, sim_stats_t *st);
    /* The footprint just reached a new peak: remember the details the
     * report shows "at peak" (optional). */
    void (*at_peak)(void *opaque);
    /* mallinfo2 fields arena, hblkhd, uordblks, fordblks, keepcost
     * (ptmalloc2 only; NULL for the others). */
    void (*mallinfo)(void *opaque, uint64_t out[5]);
    /* Model-specific report: text (json = 0) or JSON members, each
     * preceded by ",\n" (json = 1). Optional. */
    void (*report)(void *opaque, FILE *f, int json);
    void (*destroy)(void *opaque);
    /* Optional: fetch into the cache what step will read for object id
     * (called a few events before the free or realloc that gives id up).
     * A hint only: it must not change the model's state. */
    void (*prefetch)(void *opaque, uint32_t id);
    /* Optional, some events before prefetch: fetch the model's own slot of
     * id (where prefetch will read what to fetch), so that prefetch itself
     * does not wait for memory. A hint too. */
    void (*prefetch_id)(void *opaque, uint32_t id);
    /* Optional: the model's work per event relative to the others', in
     * instructions / 10 (callgrind on the synthetic trace), for sharing the
     * models between two threads; 0 = unknown, taken as 10. */
    unsigned cost;
} sim_model_t;

/* ---- models --------------------------------------------------------------- */

/* glibc 2.36 ptmalloc2 (needs the sim_ptmalloc2 library; -1 without it).
 * env: the trace header's NAME=VALUE list (GLIBC_TUNABLES glibc.malloc.*,
 * MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, ...), then tune, a comma list
 * "name=value,..." of glibc.malloc tunable names (mmap_threshold, trim_threshold,
 * top_pad, mxfast, arena_max, tcache_count, ... ; K/M/G suffixes) that
 * overrides it. serial: every op on one thread (as malloc-replay --mode
 * serial), otherwise each trace thread is a model thread. ncpu: the CPUs
 * of the recording machine (the trace header's), for glibc's arena limit of
 * 8 x ncpu; 0 = this machine's. */
int sim_model_ptmalloc2(sim_model_t *m, const char *const *env, size_t nenv,
                        const char *tune, int serial, unsigned ncpu, char *err, size_t errlen);
int sim_have_ptmalloc2(void);
/* 0 if sim_model_ptmalloc2 takes tune (a --tune list), else -1 and why in
 * err; 0 without the model. */
int sim_ptmalloc2_tune_check(const char *tune, char *err, size_t errlen);

/* Binary buddy: blocks of min_block << k bytes, k = 0..max_order; min_block a
 * power of two in 16..4096. Memory comes in max-order blocks, returned when
 * wholly free; a larger request takes whole max-order blocks of its own.
 * Among the free blocks of the smallest order that fits it takes the lowest
 * address (a documented, deterministic policy). */
#define SIM_BUDDY_MAX_ORDERS 40
int sim_model_buddy(sim_model_t *m, uint64_t min_block, unsigned max_order, char *err,
                    size_t errlen);
/* 0 if sim_model_buddy takes these parameters, else -1 and why in err (in
 * malloc-sim's option names). */
int sim_buddy_check(uint64_t min_block, uint64_t max_order, char *err, size_t errlen);
/* Free blocks per order inside held memory (/proc/buddyinfo's nr_free);
 * returns the number of orders (max_order + 1). */
unsigned sim_buddy_nr_free(const sim_model_t *m, uint64_t *nr_free);
/* Linux mm/vmstat.c: unusable free index and fragmentation index of order k. */
double sim_unusable_index(const uint64_t *nr_free, unsigned norders, unsigned k);
double sim_frag_index(const uint64_t *nr_free, unsigned norders, unsigned k);

/* Size-class allocators: the class (usable size) of a request, and a slab
 * model of the footprint (see sizeclass.c). */
typedef enum { SIM_JEMALLOC = 0, SIM_TCMALLOC = 1, SIM_MIMALLOC = 2 } sim_sc_kind_t;
uint64_t sim_class_size(sim_sc_kind_t k, uint64_t n);
/* Bytes of the slab (span, page) that holds objects of class c, and whether
 * c is a slab class (0: the object gets its own pages, returned on free). */
uint64_t sim_slab_bytes(sim_sc_kind_t k, uint64_t c, int *is_slab);
/* Bytes a non-slab object of class c takes from the OS. */
uint64_t sim_large_bytes(sim_sc_kind_t k, uint64_t c);
int sim_model_sizeclass(sim_model_t *m, sim_sc_kind_t k, char *err, size_t errlen);

/* ---- driver --------------------------------------------------------------- */

typedef struct sim_result_s {
    /* a line of its own: the models of one run are stepped on two threads */
    uint64_t peak_footprint __attribute__((aligned(64)));
    uint64_t peak_op, live_at_peak; /* the footprint's peak */
    uint64_t footprint_at_peak_live; /* footprint when the live bytes peaked */
    sim_stats_t at_peak; /* at the footprint's peak */
    sim_stats_t final;
} sim_result_t;

typedef struct sim_drv_s sim_drv_t;

typedef struct sim_run_s {
    /* in */
    sim_model_t *models;
    unsigned nmodels;
    /* The callbacks run in the caller's thread. With a second lane (threads
     * below), some models are still being stepped in it meanwhile: a
     * checkpoint that is not the final one may read models[0] only (with
     * checkpoints it stays in the caller's thread); progress may read no
     * model's state. */
    uint64_t checkpoint_every; /* 0 = none */
    void (*checkpoint)(void *ctx, uint64_t op, int final); /* after op (op = count) */
    void (*progress)(void *ctx, uint64_t events, uint64_t file_bytes);
    void *ctx;
    unsigned timeline_rows; /* 0 = no timeline; else at most this many rows */
    /* 0: two threads when the process may run on two CPUs or more, the
     * models shared between them by their cost (a run of the list at one
     * end in the second thread; models[0] in the calling thread when there
     * are checkpoints); 1: all in the calling thread; 2: two threads
     * whatever the CPUs. The results are the same. */
    unsigned threads;
    /* out */
    uint64_t events, peak_live, peak_live_op, final_live, last_t_ns;
    uint64_t unknown_frees; /* frees/reallocs of pointers never allocated in the trace */
    sim_result_t *results; /* one per model */
    uint64_t *timeline;    /* rows of (op, t_ns, live, footprint per model) */
    size_t timeline_n;
    int truncated;         /* the trace is incomplete (cut, no END, the recorder stopped or
                            * dropped events): what it holds was simulated */
    char err[320];         /* why, when truncated; the reader's message on failure */
    sim_drv_t *drv;        /* the driver's state */
} sim_run_t;

/* Streams the trace r through every model. Returns 0 (also when the trace
 * was incomplete: run->truncated, run->err), -1 on corruption or out of
 * memory (run->err). Free with sim_run_free in every case. */
int sim_run(sim_run_t *run, tr_reader_t *r);
/* The same, event by event (events in seq order, as tr_reader_next gives
 * them): sim_begin, sim_event per event (0, or -1 out of memory), sim_end
 * (fills events, final_live, results[].final, the timeline, the final
 * checkpoint). */
int sim_begin(sim_run_t *run);
int sim_event(sim_run_t *run, const tr_event_t *ev);
void sim_end(sim_run_t *run);
/* Optional: fetches the cache line sim_event(ev) will probe; call it some
 * events ahead (sim_run does, 16 ahead). */
void sim_prefetch(const sim_run_t *run, const tr_event_t *ev);
/* Optional, after sim_prefetch and closer to the event (sim_run: 11 ahead):
 * for a free or realloc, the id of the object it gives up (SIM_NO_ID if
 * none), after having the models fetch their slots of it
 * (sim_model_t.prefetch_id); then, closer still (sim_run: 5 ahead), with
 * that id, sim_prefetch_models has them fetch the object's state
 * (sim_model_t.prefetch). */
uint32_t sim_prefetch_ids(const sim_run_t *run, const tr_event_t *ev);
void sim_prefetch_models(const sim_run_t *run, uint32_t id);
void sim_run_free(sim_run_t *run);

#ifdef __cplusplus
}
#endif
#endif /* SIM_H */
