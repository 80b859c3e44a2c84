/* replay.h - malloc-replay internals: the replay plan (the op arrays the
 * parent builds from a trace) and the result block the child fills.
 *
 * The parent (prep.c) reads a trace with the traces library, turns recorded
 * addresses into dense object ids and writes a "plan" into a memfd. For every
 * allocator a fresh child (child.c: the same executable in a hidden mode,
 * LD_PRELOAD'ed with the allocator) maps the plan, replays it (engine.c) and
 * writes an rp_result_t into a second memfd. The child makes no malloc call of
 * its own before or during the replay: every byte it uses is mmap'ed.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* ---- ops ------------------------------------------------------------------
 * One 16-byte record per traced event, in global (seq) order. Extra operands
 * live in a parallel array of u64 "ext" words consumed in order; how many
 * each op takes is fixed by its code (rp_ext_words), plus, in threads mode,
 * one word per dependency (flags & RP_F_NDEP_MASK), which come first.
 *
 *   code              id        size      ext
 *   RP_MALLOC         new id    size      -
 *   RP_CALLOC         new id    size      nmemb
 *   RP_REALLOC        new id    size      old id, old size
 *   RP_REALLOCARRAY   new id    size      old id, old size, nmemb
 *   RP_FREE           id        -         -
 *   RP_MEMALIGN..     new id    size      align   (memalign, posix_memalign, aligned_alloc)
 *   RP_VALLOC/PVALLOC new id    size      -
 *   RP_MALLOPT        param     value     -
 *   RP_MALLOC_TRIM    -         pad       -
 *   RP_NOP            -         -         -       (thread_start/exit, fork, exec, skipped frees)
 *   RP_FAILED         sub code  size      as the sub code (with old id for realloc)
 *                     an allocation that returned NULL when traced: the call is
 *                     made, a result (if any) is released at once; a failed
 *                     realloc keeps its object under the old id.
 *   RP_REALLOC_FREE   -         size      old id, old size, [nmemb]: realloc(p, 0)
 *                     that freed p and returned NULL (flags RP_F_ARRAY for reallocarray)
 * Id 0 is the NULL object: its slot always holds NULL (free(NULL), realloc(NULL, n)).
 */
enum {
    RP_MALLOC, RP_CALLOC, RP_REALLOC, RP_REALLOCARRAY, RP_FREE, RP_MEMALIGN,
    RP_POSIX_MEMALIGN, RP_ALIGNED_ALLOC, RP_VALLOC, RP_PVALLOC, RP_MALLOPT,
    RP_MALLOC_TRIM, RP_NOP, RP_FAILED, RP_REALLOC_FREE,
    RP_NCODES
};
#define RP_NKINDS 13 /* latency kinds: codes RP_MALLOC..RP_NOP (NOP = "other") */

#define RP_F_NDEP_MASK 0x03u /* threads mode: dependencies before the op's ext words */
#define RP_F_ARRAY 0x04u     /* RP_REALLOC_FREE / RP_FAILED of reallocarray */

typedef struct rp_op_s {
    uint8_t code;
    uint8_t flags;
    uint16_t pad;
    uint32_t id;
    uint64_t size;
} rp_op_t;

/* ext words of a code (dependencies excluded). */
static inline unsigned rp_ext_words(const rp_op_t *o) {
    switch (o->code) {
    case RP_CALLOC: case RP_MEMALIGN: case RP_POSIX_MEMALIGN: case RP_ALIGNED_ALLOC: return 1;
    case RP_REALLOC: return 2;
    case RP_REALLOCARRAY: return 3;
    case RP_REALLOC_FREE: return (o->flags & RP_F_ARRAY) ? 3 : 2;
    case RP_FAILED:
        switch (o->id) {
        case RP_CALLOC: case RP_MEMALIGN: case RP_POSIX_MEMALIGN: case RP_ALIGNED_ALLOC: return 1;
        case RP_REALLOC: return 2;
        case RP_REALLOCARRAY: return 3;
        default: return 0;
        }
    default: return 0;
    }
}
/* A dependency word: wait until thread t completed c of its ops. */
#define RP_DEP(t, c) (((uint64_t)(t) << 32) | (uint32_t)(c))

/* ---- plan file -------------------------------------------------------------
 * rp_plan_t at offset 0, then for each of nthreads lanes (one lane holding
 * every op in serial mode) an rp_lane_t; the arrays follow at the offsets
 * the lanes give (8-byte aligned). */
#define RP_PLAN_MAGIC 0x4e414c5059414c52ull /* "RLAYPLAN" */
typedef struct rp_plan_s {
    uint64_t magic;
    uint64_t bytes;    /* file size */
    uint64_t nops;     /* all ops */
    uint64_t nslots;   /* object ids 0..nslots-1 */
    uint32_t nlanes;   /* 1 in serial mode */
    uint32_t threads;  /* 1 = threads mode (dependencies present) */
    uint64_t lanes_off;
    uint64_t ncode[RP_NCODES]; /* ops per code */
} rp_plan_t;

typedef struct rp_lane_s {
    uint64_t ops_off, nops;
    uint64_t ext_off, next;
    uint64_t t_off;    /* recorded t_ns per op (threads mode), 0 if none */
    uint32_t tid;      /* recorded thread id */
    uint32_t pad;
} rp_lane_t;

/* ---- result block ----------------------------------------------------------
 * Fixed size, in a memfd shared by parent and child. */
#define RP_HBUCKETS 1024 /* log-linear: 16 sub-buckets per power of two, cycles */
#define RP_NSTATS 8
#define RP_RSS_MAX 1024 /* RSS-over-time samples (serial: at most ~512 plus the last) */
typedef struct rp_stat_s {
    char name[48];
    uint64_t value;
} rp_stat_t;

typedef struct rp_result_s {
    volatile uint64_t progress; /* ops done (serial; lane 0 in threads mode) */
    int32_t status;             /* 0 ok, else the child failed: see msg */
    int32_t have_heap;
    char msg[256];
    uint64_t ops;
    uint64_t wall_ns, cpu_ns;
    uint64_t tsc_cycles;        /* rdtsc delta over the timed loop (calibration) */
    uint64_t baseline_rss, peak_rss, final_rss; /* bytes; peak/final minus baseline */
    uint64_t heap[5];           /* mallinfo2 arena hblkhd uordblks fordblks keepcost */
    uint32_t nstats, sample;    /* sample: every sample-th op was timed */
    rp_stat_t stats[RP_NSTATS];
    uint64_t null_fail;         /* allocations that returned NULL where the trace had a pointer */
    uint64_t minflt;            /* minor page faults during the loop (getrusage) */
    uint64_t order_errors;      /* frees that found no object in their slot (ordering bug) */
    uint32_t nrss;              /* RSS over time: samples in rss[] */
    volatile int32_t ready;     /* set by the child once it runs (the preloaded library loaded) */
    int32_t csv_errno;          /* the first write error on the checkpoint CSV, 0 if none */
    int32_t pad2;
    uint64_t rss_every;         /* serial: a sample every rss_every ops; threads: every 10 ms */
    struct { uint64_t op, ns, bytes; } rss[RP_RSS_MAX]; /* ops done, ns since the start, RSS - baseline */
    uint64_t count[RP_NKINDS];  /* timed ops per kind */
    uint64_t maxc[RP_NKINDS];   /* max cycles per kind */
    uint64_t hist[RP_NKINDS][RP_HBUCKETS];
} rp_result_t;

/* Histogram bucket of a cycle count, and a representative value of a bucket. */
static inline unsigned rp_bucket(uint64_t v) {
    if (v < 16) return (unsigned)v;
    unsigned const lz = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
    unsigned const b = (lz - 3u) * 16u + (unsigned)((v >> (lz - 4)) & 15u);
    return b < RP_HBUCKETS ? b : RP_HBUCKETS - 1;
}
static inline uint64_t rp_bucket_high(unsigned b) {
    if (b < 16) return b;
    unsigned const lz = b / 16u + 3u, sub = b % 16u;
    return ((uint64_t)(16u + sub) << (lz - 4)) + ((1ull << (lz - 4)) - 1);
}

/* ---- child parameters (passed on the command line of the hidden mode) ---- */
enum { RP_ALLOC_GLIBC, RP_ALLOC_TCMALLOC, RP_ALLOC_JEMALLOC, RP_ALLOC_MIMALLOC, RP_ALLOC_OTHER, RP_ALLOC_NULL };
typedef struct rp_child_args_s {
    int plan_fd, result_fd, csv_fd; /* csv_fd -1 if none */
    int kind;                       /* RP_ALLOC_* */
    int touch;                      /* 1: write every allocated byte once */
    int pace;                       /* threads mode: follow recorded times */
    uint64_t checkpoints;           /* rows every N ops (serial glibc), 0 none */
    uint32_t sample;                /* time one op in every `sample` (power of two) */
    unsigned funcs;                 /* RP_FN_* the allocator defines */
    int stderr_fd;                  /* the real standard error (fd 2 is a pipe to the parent
                                     * until the process has started), -1 if none */
} rp_child_args_t;

/* child.c: the hidden mode's main. Returns the exit status. */
int rp_child_main(const rp_child_args_t *a);

/* ---- preprocessing (prep.c, parent only) ---------------------------------- */
#define RP_MAX_TRACE_ENV 12
#define RP_LIVE_EVERY 4096 /* ops between two entries of rp_prep_t.live_at */
typedef struct rp_prep_s {
    int fd;                  /* memfd holding the plan */
    uint64_t bytes;
    uint64_t events;         /* events delivered by the reader */
    uint64_t ideal_peak;     /* peak live requested bytes */
    uint64_t threads;        /* recorded threads */
    uint64_t unknown_frees;  /* frees / reallocs of pointers the trace never returned */
    uint64_t live_reuse;     /* allocations at an address still live (lost free) */
    uint64_t leftover;       /* objects live at the end */
    int truncated;           /* an incomplete trace (cut, no END, the recorder stopped or
                              * dropped events): what it holds is replayed */
    uint64_t prep_ns;        /* wall time of rp_prep */
    uint64_t *live_at;       /* live requested bytes after op k * RP_LIVE_EVERY (k = 0..nlive_at-1) */
    size_t nlive_at;
    uint64_t final_live;     /* live requested bytes after the last op */
    int nenv;                /* the trace header's glibc malloc settings: its MALLOC_* aliases of */
    char *env[RP_MAX_TRACE_ENV]; /* the tunables, and GLIBC_TUNABLES cut to its glibc.malloc.* entries */
    char warn[320];          /* why, when truncated */
} rp_prep_t;

/* Reads the trace at path and writes the plan (threads: per-thread lanes with
 * dependencies and times). Returns 0, or -1 with a one-line reason in err. */
int rp_prep(const char *path, int threads, rp_prep_t *out, char *err, size_t errlen);

/* 1 if the environment entry e ("NAME=VALUE") is one of glibc 2.36's
 * MALLOC_* aliases of its malloc tunables (settings.c). */
int rp_glibc_alias(const char *e);

/* ---- allocator libraries (alloclib.c) -------------------------------------- */
/* Resolves NAME (glibc, tcmalloc, jemalloc, mimalloc or a path) to a library
 * path ("" for glibc) and kind. Checks that the file is an ELF shared object
 * defining malloc. 0, or -1 with a one-line reason in err. */
int rp_resolve_alloc(const char *name, char *path, size_t pathlen, int *kind, unsigned *funcs,
                     char *err, size_t errlen);
/* Bits of *funcs (functions the library defines; the child emulates the rest
 * with the ones it has, so no call reaches glibc's heap by mistake). */
#define RP_FN_REALLOCARRAY (1u << 4)
#define RP_FN_MEMALIGN (1u << 5)
#define RP_FN_POSIX_MEMALIGN (1u << 6)
#define RP_FN_ALIGNED_ALLOC (1u << 7)
#define RP_FN_VALLOC (1u << 8)
#define RP_FN_PVALLOC (1u << 9)

/* ---- malloc-free formatting (wfmt.c) ------------------------------------- */
typedef struct rp_buf_s {
    char *p;
    size_t len, cap;
} rp_buf_t;
void rp_put_str(rp_buf_t *b, const char *s);
void rp_put_u64(rp_buf_t *b, uint64_t v);
void rp_put_ch(rp_buf_t *b, char c);
/* write(2) everything, retrying on EINTR. 0 or -1. */
int rp_write_all(int fd, const void *p, size_t n);
/* Reads a number from a /proc file: statm field idx (pages) or a "Key:" line (kB). */
uint64_t rp_proc_statm(int field);
uint64_t rp_proc_status_kb(const char *key);
/* Resident pages from an open /proc/self/statm (one pread, no allocation). */
uint64_t rp_statm_rss_fd(int fd);

#endif /* REPLAY_H */
