/* reader_int.h - internal: the reader's state, shared by reader.c (decoding
 * and merging, in the caller's thread) and ahead.c (the same decoding in a
 * thread of its own, handing events over in batches).
 *
 * Threading rule: once tr_reader_prefetch started the decode-ahead thread,
 * every field below except `ahead` belongs to that thread. The caller sees
 * the reader through the view published with each batch (counts, END, stats,
 * error) and through the stack and module tables, whose entries never move
 * once written (chunked, published with release stores). */
#ifndef TRACE_READER_INT_H
#define TRACE_READER_INT_H

#include <pthread.h>

#include "tidmap.h"
#include "trace.h"
#include "zsource.h"

#define MAX_RECORD (64u << 20)      /* larger records are corruption */
#define MAX_STACK_ID (1u << 26)
#define MAX_DEPTH 4096
#define REORDER_CAP (1u << 20)      /* events held before a gap is forced (~100 MiB) */
#define RAW_PAD 128                 /* readable bytes past the window (reader.c uvar) */
#define STACK_CHUNK 4096u           /* stack table: a directory of chunks of entries */
#define STACK_DIRS (MAX_STACK_ID / STACK_CHUNK + 1)
#define MOD_CHUNK 256u              /* module table likewise */
#define MOD_DIRS 1024u

typedef struct pend_s {
    uint64_t seq;
    int marker; /* a realloc's release seq: consumed, never delivered */
    tr_event_t ev;
} pend_t;

/* What the caller may see of the reader's progress. */
typedef struct tr_view_s {
    uint32_t nstacks;
    size_t nmods;
    int have_end;
    tr_end_t end;
    tr_reader_stats_t st;
    tr_error_t err;
} tr_view_t;

#define AHEAD_BATCH 2048u
#define AHEAD_NB 4u

typedef struct tr_batch_s {
    uint32_t n;
    int rc;       /* 1: more follows; 0 or < 0: the reader's last answer */
    tr_view_t view; /* the reader as it stood after ev[n - 1] */
    tr_event_t ev[AHEAD_BATCH] __attribute__((aligned(64)));
} tr_batch_t;

typedef struct tr_ahead_s tr_ahead_t;

struct tr_reader_s {
    char *path;
    zsrc_t *src;
    uint8_t *raw; size_t raw_cap, raw_start, raw_end; uint64_t raw_base;
    uint64_t frame_off, frame_idx, nframes_seen; /* the frame of the bytes being decoded */
    int eof;  /* the source has no more raw bytes */
    int done; /* no more records (end of file or error) */

    tr_tidmap_t threads; tr_tstate_t *cur;
    /* version 2: the time deltas of the current thread's last TIMES record,
     * tcol[ti..tn) not yet taken by an event */
    int timecol;
    int64_t *tcol; size_t tcap; uint32_t tn, ti;

    tr_header_t hdr;
    char **strs; size_t nstrs; /* header strings we own */
    /* stack id -> block {depth, pc...}; chunks and blocks never move */
    uint64_t ***stack_dir; uint32_t nstacks;
    uint64_t **retired; size_t nretired; /* blocks replaced by a redefinition */
    tr_module_t *mod_dir[MOD_DIRS]; size_t nmods;
    tr_end_t end; int have_end;

    pend_t *heap; size_t hn, hcap;
    uint64_t next_seq, watermark;
    char *cur_str;

    tr_reader_stats_t st;
    tr_error_t err;

    tr_ahead_t *ahead; /* the decode-ahead thread, once started */
};

/* The next event in global order, decoded in the calling thread (reader.c). */
int tr_reader_decode(tr_reader_t *r, tr_event_t *ev);
void tr_reader_view(const tr_reader_t *r, tr_view_t *v);

/* The caller's side of the decode-ahead thread (the rest is in ahead.c). */
struct tr_ahead_s {
    tr_batch_t *cur; uint32_t i; /* the batch being delivered */
    char *str;                   /* EXEC path last delivered, freed on the next */
    tr_view_t view;              /* of cur */
    /* shared, under mu */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t has_data, has_space;
    tr_batch_t *ring[AHEAD_NB];
    unsigned head, count;
    int stop;
};

/* ahead.c: starts the thread (0, or < 0 and nothing changed); the caller's
 * next event; the caller's view; stops the thread and frees what it held. */
int tr_ahead_start(tr_reader_t *r);
int tr_ahead_next(tr_reader_t *r, tr_event_t *ev);
const tr_view_t *tr_ahead_view(const tr_reader_t *r);
void tr_ahead_stop(tr_reader_t *r);

#endif
