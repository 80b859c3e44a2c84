/* trace.h - the malloc trace format (version 2): streaming writer and reader.
 *
 * The public header of the traces library (libmtrace_fmt). Every tool of the
 * suite reads or writes traces through this interface; the byte layout is
 * specified in traces/FORMAT.md.
 *
 * Contract: functions return 0 (or a pointer) on success and a negative
 * tr_status_t (or NULL) on failure; the reason, with the file name and the
 * byte offset, is kept in the object's tr_error_t. Nothing here prints,
 * exits or aborts.
 */
#ifndef TRACE_H
#define TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TR_FORMAT_VERSION 2

/* ---- operations ---------------------------------------------------------
 * Argument conventions (a, b, c are tr_event_t fields; ret is the result):
 *   MALLOC         a=size                         ret=ptr
 *   CALLOC         a=nmemb  b=size                ret=ptr
 *   REALLOC        a=ptr    b=size                ret=ptr   (release_seq)
 *   REALLOCARRAY   a=ptr    b=nmemb  c=size       ret=ptr   (release_seq)
 *   FREE           a=ptr
 *   MEMALIGN       a=align  b=size                ret=ptr
 *   POSIX_MEMALIGN a=align  b=size                ret=ptr stored (0 on failure)
 *   ALIGNED_ALLOC  a=align  b=size                ret=ptr
 *   VALLOC         a=size                         ret=ptr
 *   PVALLOC        a=size                         ret=ptr
 *   MALLOPT        a=param  b=value (both int, sign-extended)  ret=int result
 *   MALLOC_TRIM    a=pad                          ret=int result
 *   THREAD_START   a=creator tid (0 if unknown)
 *   THREAD_EXIT
 *   FORK           ret=child pid (in the parent's trace)
 *   EXEC           (path in tr_event_t.str)
 */
typedef enum {
    TR_OP_MALLOC = 0x10,
    TR_OP_CALLOC = 0x11,
    TR_OP_REALLOC = 0x12,
    TR_OP_REALLOCARRAY = 0x13,
    TR_OP_FREE = 0x14,
    TR_OP_MEMALIGN = 0x15,
    TR_OP_POSIX_MEMALIGN = 0x16,
    TR_OP_ALIGNED_ALLOC = 0x17,
    TR_OP_VALLOC = 0x18,
    TR_OP_PVALLOC = 0x19,
    TR_OP_MALLOPT = 0x20,
    TR_OP_MALLOC_TRIM = 0x21,
    TR_OP_THREAD_START = 0x22,
    TR_OP_THREAD_EXIT = 0x23,
    TR_OP_FORK = 0x24,
    TR_OP_EXEC = 0x25,
} tr_op_t;

#define TR_OP_FIRST 0x10
#define TR_OP_LAST 0x3f /* event record types are 0x10..0x3f */

/* The C function's name ("malloc", "posix_memalign", ...), or NULL. */
const char *tr_op_name(int op);
/* The op for a name, or -1. */
int tr_op_from_name(const char *name);
/* 1 if the op returns a heap pointer (malloc family), else 0. */
int tr_op_allocates(int op);
/* 1 if the op releases a heap pointer (free, realloc, reallocarray). */
int tr_op_releases(int op);

/* One event. seq is the global order: events sorted by seq are in the order
 * the process performed them (see FORMAT.md "Ordering"). For realloc and
 * reallocarray, release_seq <= seq is the point at which the old pointer was
 * given up; for every other op release_seq == seq. */
typedef struct tr_event_s {
    uint64_t seq;
    uint64_t release_seq;
    uint64_t t_ns; /* nanoseconds since the header's start_mono_ns */
    uint64_t a, b, c;
    uint64_t ret;
    uint32_t tid;
    uint32_t stack; /* stack id, 0 = none */
    uint8_t op;     /* tr_op_t */
    const char *str; /* EXEC path; valid until the next tr_reader_next */
} tr_event_t;

/* ---- header ------------------------------------------------------------- */
typedef struct tr_header_s {
    uint32_t version; /* filled by the reader (1 or 2); the writer writes TR_FORMAT_VERSION */
    uint32_t pid, ppid;
    uint64_t start_real_ns; /* CLOCK_REALTIME at start */
    uint64_t start_mono_ns; /* CLOCK_MONOTONIC at start; event times are relative */
    uint32_t page_size, ncpu;
    const char *exe;        /* executable path */
    const char *const *argv; size_t argc;
    const char *glibc_version;
    const char *const *env; size_t nenv; /* "NAME=VALUE": GLIBC_TUNABLES, MALLOC_* */
    const char *tool;       /* the program that wrote the trace, with version */
} tr_header_t;

/* A loaded object, for offline symbolization: a pc maps to (pc - bias) in path. */
typedef struct tr_module_s {
    uint64_t bias;  /* load bias (dlpi_addr) */
    uint64_t start; /* lowest mapped address of the object */
    uint64_t size;  /* bytes from start */
    uint32_t flags; /* TR_MODULE_UNLOADED */
    const char *path;
    const uint8_t *build_id; size_t build_id_len;
} tr_module_t;
#define TR_MODULE_UNLOADED 1u

/* How the traced process ended (END record). A trace without END was cut. */
typedef enum {
    TR_END_EXIT = 0,     /* exit() or return from main; status = exit code */
    TR_END_EXIT_NOW = 1, /* _exit(); status = exit code */
    TR_END_SIGNAL = 2,   /* fatal signal; status = signal number */
    TR_END_EXEC = 3,     /* replaced by exec (the new image has its own trace) */
    TR_END_ERROR = 4,    /* the recorder stopped (disk full, ...); status = errno */
    TR_END_CLOSED = 5,   /* the writer was closed by a tool (import, tests) */
} tr_end_reason_t;

typedef struct tr_end_s {
    uint32_t reason; /* tr_end_reason_t */
    int32_t status;
    uint64_t t_ns;
    uint64_t events;  /* events the writer was given */
    uint64_t dropped; /* events the recorder could not record */
} tr_end_t;

/* ---- errors -------------------------------------------------------------- */
typedef enum {
    TR_OK = 0,
    TR_E_IO = -1,        /* open/read/write failed (errno kept) */
    TR_E_NOMEM = -2,
    TR_E_NOT_TRACE = -3, /* not zstd, or no magic */
    TR_E_VERSION = -4,   /* a version this reader does not know */
    TR_E_CORRUPT = -5,   /* bytes that do not decode */
    TR_E_TRUNCATED = -6, /* ends inside a frame or record */
    TR_E_ARG = -7,       /* a caller's mistake */
} tr_status_t;

typedef struct tr_error_s {
    int code;            /* tr_status_t */
    int sys_errno;       /* for TR_E_IO */
    uint64_t offset;     /* byte offset in the file (compressed) where it went wrong */
    uint64_t raw_offset; /* offset in the decompressed stream */
    char msg[256];       /* "offset 1234: unknown format version 7 (this reader knows 1)" */
} tr_error_t;

/* ---- writer -------------------------------------------------------------- */
typedef struct tr_writer_s tr_writer_t;

typedef struct tr_writer_opts_s {
    int level;            /* zstd level; 0 = default (3) */
    size_t frame_bytes;   /* close a frame after this many raw bytes; 0 = 1 MiB */
    void *(*alloc)(void *opaque, size_t size); /* optional: memory for the writer */
    void (*release)(void *opaque, void *p);    /* and zstd; default malloc/free */
    void *opaque;
} tr_writer_opts_t;

/* Opens a writer on fd (not closed by the writer unless close_fd) and writes
 * the header. opts may be NULL. On failure returns NULL and fills *err. */
tr_writer_t *tr_writer_open_fd(int fd, int close_fd, const tr_header_t *h,
                               const tr_writer_opts_t *opts, tr_error_t *err);
tr_writer_t *tr_writer_open(const char *path, const tr_header_t *h,
                            const tr_writer_opts_t *opts, tr_error_t *err);

/* Appends one event. Events of one thread must come in increasing seq. */
int tr_writer_event(tr_writer_t *w, const tr_event_t *ev);
/* Defines stack id (>= 1) as pcs[0..n) (innermost first). Must precede the
 * first event that uses it; each id is defined once. */
int tr_writer_stack(tr_writer_t *w, uint32_t id, const uint64_t *pcs, uint32_t n);
int tr_writer_module(tr_writer_t *w, const tr_module_t *m);
/* Promise: no event with seq < wm will be written after this point. */
int tr_writer_watermark(tr_writer_t *w, uint64_t wm);
/* Closes the current zstd frame and writes it out (no-op when empty). */
int tr_writer_flush(tr_writer_t *w);
/* zstd level (-7..19; below 1, zstd's fast levels) for the frames begun
 * after this call: a recorder can trade size for speed while it falls
 * behind. At most the level the writer was opened with (3 if lower): zstd's
 * workspace is taken at open for that level, and TR_E_ARG refuses more. */
int tr_writer_set_level(tr_writer_t *w, int level);
/* Writes END (if end != NULL), closes the frame, frees w. Returns the first
 * error met during the writer's life, if any. */
int tr_writer_close(tr_writer_t *w, const tr_end_t *end, tr_error_t *err);
const tr_error_t *tr_writer_error(const tr_writer_t *w);
/* Bytes written to the file so far. */
uint64_t tr_writer_bytes(const tr_writer_t *w);

/* ---- reader -------------------------------------------------------------- */
typedef struct tr_reader_s tr_reader_t;

/* Opens path ("-" = stdin) and reads the header. NULL + *err on failure. */
tr_reader_t *tr_reader_open(const char *path, tr_error_t *err);
/* Reads from memory (for fuzzing and tests); data must outlive the reader. */
tr_reader_t *tr_reader_open_mem(const void *data, size_t size, tr_error_t *err);
void tr_reader_close(tr_reader_t *r);

/* Reads ahead in threads of the reader's own (signals blocked), so that the
 * caller's own per-event work runs beside them: tr_reader_decode_ahead runs
 * decompression and decoding (with the merge on seq) in two threads and hands
 * events over in batches (tr_reader_next then costs a few ns);
 * tr_reader_readahead runs only zstd in a thread and leaves decoding to the
 * caller, handing no decoded events from one core to another; and
 * tr_reader_prefetch picks the first with 3 CPUs or more, the second below
 * (on 2 CPUs the hand-over of decoded events cost more than the decoding:
 * reading sqlite3's 8M-event trace 0.36-0.46 s against 0.10 s, replaying it
 * 0.8-1.0 s against 0.6 s). Invisible otherwise: the same events, errors,
 * END and statistics; the stack and module tables show at least what the
 * events delivered so far need. Call one before the first tr_reader_next,
 * from the thread that reads; 0 on success, otherwise the reader goes on
 * without. */
int tr_reader_prefetch(tr_reader_t *r);
int tr_reader_decode_ahead(tr_reader_t *r);
int tr_reader_readahead(tr_reader_t *r);

const tr_header_t *tr_reader_header(const tr_reader_t *r);

/* Next event in global (seq) order: 1 = *ev filled, 0 = end of trace,
 * < 0 = error (tr_reader_error). After a truncation or a corruption, every
 * complete event before it has been delivered first; tr_reader_error then
 * describes where the file went bad. */
int tr_reader_next(tr_reader_t *r, tr_event_t *ev);

/* Stack table (grows as the trace is read): pcs innermost first. Returns the
 * depth, 0 for an unknown id. */
uint32_t tr_reader_stack(const tr_reader_t *r, uint32_t id, const uint64_t **pcs);
/* The highest stack id defined: ids are 1..count but need not all be defined
 * (a fork child's trace goes on from its parent's numbering). */
uint32_t tr_reader_stack_count(const tr_reader_t *r);
/* Module map seen so far. */
size_t tr_reader_module_count(const tr_reader_t *r);
const tr_module_t *tr_reader_module(const tr_reader_t *r, size_t i);
/* The END record, or NULL if the trace has none (yet, or was cut). */
const tr_end_t *tr_reader_end(const tr_reader_t *r);
/* For a trace read to its end: 1 with the reason in msg if it is still not
 * the program's whole run (no END: the process was killed or is still
 * running; an END saying the recorder stopped or dropped events), else 0. */
int tr_reader_incomplete(const tr_reader_t *r, char *msg, size_t n);

typedef struct tr_reader_stats_s {
    uint64_t file_bytes;   /* compressed bytes consumed */
    uint64_t raw_bytes;    /* decompressed bytes */
    uint64_t frames;       /* complete zstd frames */
    uint64_t records;      /* records decoded */
    uint64_t skipped;      /* records of unknown type, skipped by length */
    uint64_t reorder_peak; /* most events held at once to restore global order */
    uint64_t order_forced; /* events released past a gap (overflow or end) */
    int truncated;         /* the file ended inside a frame or record */
} tr_reader_stats_t;
void tr_reader_stats(const tr_reader_t *r, tr_reader_stats_t *st);
const tr_error_t *tr_reader_error(const tr_reader_t *r);
const char *tr_reader_path(const tr_reader_t *r);

/* 1 if paths a and b name the same existing file (so that writing b would
 * destroy a: a tool's output given as its input trace), else 0. "-" and
 * paths that do not exist are never the same. */
int tr_same_file(const char *a, const char *b);

/* CPUs this process may run on (its affinity mask: taskset, cpusets), at
 * least 1: what a tool sizes its threads by. */
long tr_usable_cpus(void);

/* ---- output files, whole or not at all ------------------------------------ */
#include <stdio.h>

typedef struct tr_out_s {
    FILE *f;          /* the tool writes here */
    int fd;           /* the descriptor under f, for writers that bypass the FILE */
    const char *path; /* the target, as given */
    char *tmp, *dest; /* private: the temporary file and what it will replace */
    void *sink;       /* private: the descriptor and its first write error */
} tr_out_t;

/* Opens path for an output that must appear whole or not at all (a partial
 * report after a full disk is worse than none). The tool writes to a new
 * file "<path>.tmp.<pid>" (O_EXCL, mode 0666 & ~umask) in path's folder,
 * which tr_out_commit renames over path; until then a previous file at path
 * stays as it was. "-" is standard output; a target that exists and is not
 * a regular file (a device, a FIFO, /dev/stdout) or a dangling symbolic
 * link is written in place, as fopen "w" would (nothing is renamed over a
 * device); a symbolic link to a regular file: that file is replaced, the
 * link stays. A process killed before commit or abort leaves its *.tmp.<pid>
 * file behind. Returns 0 with o->f open, or TR_E_IO (TR_E_NOMEM) with errno
 * set and nothing created. */
int tr_out_open(tr_out_t *o, const char *path);
/* Flushes o->f, checks its error flag, closes it (standard output is only
 * flushed) and renames the temporary file over the target. 0 on success;
 * otherwise TR_E_IO with errno the first failed write's (EFBIG, ENOSPC, ...),
 * whatever the stream's buffering, the temporary file removed and the target untouched. o->f is
 * closed in every case. */
int tr_out_commit(tr_out_t *o);
/* Closes o->f and removes the temporary file: the target is untouched.
 * Keeps errno; does nothing when o->f is NULL (after commit or abort). */
void tr_out_abort(tr_out_t *o);

/* ---- encoding helpers (shared with the recorder) ------------------------- */
/* LEB128: writes at most 10 bytes, returns the count. */
static inline size_t tr_put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) { p[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    p[n++] = (uint8_t)v;
    return n;
}
static inline uint64_t tr_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t tr_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#ifdef __cplusplus
}
#endif
#endif /* TRACE_H */
