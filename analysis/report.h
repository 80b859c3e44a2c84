/* report.h - malloc-report's components: streaming aggregation of a trace,
 * offline symbolization, a small JSON reader, gnuplot charts and the report.
 *
 * Contract: library-style functions return 0 (or a pointer) on success and -1
 * (or NULL) on failure with a one-line reason in the caller's errbuf; only
 * main.c prints to the terminal or exits.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"

/* ---- aggregation (agg.c) --------------------------------------------------
 * One pass over the trace in global order. Memory: one 32-byte entry per live
 * object, one rp_site_t per stack id, fixed-size histograms and timelines. */

#define RP_TL_BUCKETS 512 /* timeline buckets; width doubles as the trace grows */
#define RP_MAX_THREADS 8  /* threads charted one by one; the rest are "other" */
#define RP_HIST 65        /* log2 buckets: [0] = 0, [k] = [2^(k-1), 2^k) */

typedef struct rp_site_s {
    uint64_t calls;     /* allocating calls (realloc included) */
    uint64_t bytes;     /* bytes requested by those calls */
    uint64_t frees;     /* blocks of this site released */
    uint64_t temporary; /* of which temporary (heaptrack's definition) */
    uint64_t live;      /* bytes live now (at the end: leaked) */
    uint64_t live_n;    /* objects live now */
    uint64_t max_live;  /* the site's own highest live bytes */
    uint64_t at_peak;   /* live bytes at the global peak (see agg.c) */
    uint64_t last_mod;  /* event index of the last change to live */
} rp_site_t;

typedef struct rp_bucket_s {
    uint64_t live_max;   /* highest live bytes in the bucket */
    uint64_t live_end;   /* live bytes after the bucket's last event */
    uint64_t allocs;     /* allocating calls */
    uint64_t frees;
    uint64_t alloc_bytes;
    uint64_t tallocs[RP_MAX_THREADS + 1]; /* per charted thread, [RP_MAX_THREADS] = other */
    uint8_t used;        /* an event fell in this bucket */
} rp_bucket_t;

typedef struct rp_obj_s {
    uint64_t ptr, size, t_alloc;
    uint32_t stack, tid;
} rp_obj_t;

/* A block whose address came back from an allocation while the trace still
 * had it live: the old owner gave it up in a realloc in flight (released at
 * its release_seq, delivered at its seq after the new owner's allocation). */
typedef struct rp_detached_s {
    rp_obj_t o;
    uint64_t seq; /* seq of the allocation that returned the address again */
} rp_detached_t;
#define RP_DETACHED 256 /* kept at most; the oldest is forgotten (a lost free) */

typedef struct rp_ptrmap_s {
    rp_obj_t *slots;
    size_t cap, count; /* cap is a power of two */
} rp_ptrmap_t;

typedef struct rp_thread_s {
    uint32_t tid;
    uint64_t events, allocs;
    uint64_t last_alloc; /* pointer of the thread's last allocation, 0 once anything else freed */
} rp_thread_t;

typedef struct rp_agg_s {
    /* totals */
    uint64_t events, ops[TR_OP_LAST + 1];
    uint64_t alloc_calls, alloc_bytes, failed_allocs;
    uint64_t alloc_ops[TR_OP_LAST + 1]; /* allocation calls by op: they add up to alloc_calls */
    uint64_t frees, free_null, unknown_frees, temporary; /* unknown_frees: free calls' pointers */
    uint64_t unknown_reallocs;          /* reallocs (not to 0) of a pointer never allocated */
    uint64_t realloc_frees;             /* realloc(p, 0) returning NULL: a free call, not an allocation */
    uint64_t live, live_n, peak, peak_n, peak_seq, peak_t, peak_idx, peak_id;
    uint64_t first_t, last_t;
    /* histograms: requested sizes (by count and bytes); lifetimes in ns of freed blocks */
    uint64_t size_n[RP_HIST], size_b[RP_HIST], life_n[RP_HIST];
    uint64_t temp_life_ns;          /* sum of temporary blocks' lifetimes */
    uint64_t time_res;              /* every event time is a multiple of it (the recording's
                                     * resolution at most, 1000 by default); 0: no times */
    /* timeline */
    rp_bucket_t tl[RP_TL_BUCKETS];
    uint64_t tl_width;              /* ns per bucket */
    rp_bucket_t tlo[RP_TL_BUCKETS]; /* the same by event count, for traces without times */
    uint64_t tlo_width;             /* events per bucket */
    /* threads (in order of appearance) */
    rp_thread_t *threads; size_t nthreads, cap_threads;
    uint32_t *tindex; size_t tindex_cap; /* tid -> index + 1, open addressing */
    size_t tlast;                        /* index of the thread found last */
    /* sites by stack id */
    rp_site_t *sites; size_t nsites; /* index = stack id; [0] = no stack */
    rp_ptrmap_t objs;
    rp_detached_t det[RP_DETACHED]; /* oldest first */
    unsigned ndet;
} rp_agg_t;

int rp_agg_init(rp_agg_t *g);
/* Applies one event (in global order). -1 only when out of memory. */
int rp_agg_event(rp_agg_t *g, const tr_event_t *ev);
/* The site's live bytes at the global peak, once the trace is done. */
uint64_t rp_site_at_peak(const rp_agg_t *g, size_t stack);
void rp_agg_free(rp_agg_t *g);
/* Requested bytes of an allocating event (saturating). */
uint64_t rp_requested(const tr_event_t *ev);

/* Reads the whole trace into g (progress on stderr if progress != 0). The
 * reader stays open for its stack and module tables; *rp on success. On
 * failure errbuf holds "FILE: offset N: what". A trace cut short is not a
 * failure: *truncated is set and errbuf says where. */
int rp_agg_file(const char *path, rp_agg_t *g, tr_reader_t **rp, int progress,
                int *truncated, char *errbuf, size_t cap);

/* ---- symbolization (symbolize.c) -------------------------------------------
 * Offline, with elfutils libdwfl, from the trace's module map. */
typedef struct rp_frame_s {
    const char *func;   /* function name, or NULL */
    const char *file;   /* source file (basename kept full), or NULL */
    int line;           /* 0 if unknown */
    const char *module; /* basename of the module, or NULL when no module maps the pc */
    uint64_t offset;    /* pc - bias (file address) */
    const struct rp_frame_s *caller; /* when func was inlined: the function it was
                                        inlined into, at the call's line; else NULL */
} rp_frame_t;

typedef struct rp_sym_s rp_sym_t;
/* Builds a symbolizer for the reader's module map. Modules whose file is
 * missing or whose build id differs are left unsymbolized (counted in
 * *skipped notes, see rp_sym_notes). Never NULL unless out of memory. */
rp_sym_t *rp_sym_open(const tr_reader_t *r);
/* Symbolizes a return address (pc - 1 is looked up). Strings live as long as s.
 * Inlined calls are expanded: follow ->caller for the functions the code was
 * inlined into, innermost first. */
const rp_frame_t *rp_sym_pc(rp_sym_t *s, uint64_t pc);
/* One line per module that could not be used ("path: build id differs"). */
const char *rp_sym_notes(const rp_sym_t *s);
void rp_sym_close(rp_sym_t *s);
/* "func (file.c:12)" or "func" or "module+0x1f0" or "0x401000" into buf. */
void rp_frame_str(const rp_frame_t *f, char *buf, size_t cap, int with_file);
/* 1 if the frame belongs to the allocator or the recorder rather than the
 * program (malloc, calloc..., libmalloc-record.so, libc's malloc.c). */
int rp_frame_is_alloc(const rp_frame_t *f);

/* ---- JSON (json.c) --------------------------------------------------------- */
typedef enum { RJ_NULL, RJ_BOOL, RJ_NUM, RJ_STR, RJ_ARR, RJ_OBJ } rj_type_t;
typedef struct rj_s rj_t;
struct rj_s {
    rj_type_t type;
    double num;          /* RJ_NUM, RJ_BOOL (0/1) */
    char *str;           /* RJ_STR; key of an object member (name) */
    char *name;          /* member name when inside an object */
    rj_t *child, *next;  /* arrays and objects: first child; siblings */
    size_t len;          /* number of children */
};
/* Parses text (NUL-terminated). NULL on error with "offset N: what" in errbuf. */
rj_t *rj_parse(const char *text, char *errbuf, size_t cap);
rj_t *rj_parse_file(const char *path, char *errbuf, size_t cap);
void rj_free(rj_t *v);
const rj_t *rj_get(const rj_t *obj, const char *key);   /* NULL if absent */
const rj_t *rj_path(const rj_t *v, const char *path);   /* "a.b.c" */
double rj_num(const rj_t *v, double dflt);              /* number or dflt */
const char *rj_str(const rj_t *v, const char *dflt);

/* ---- formatting (fmt.c) ---------------------------------------------------- */
/* "1.5 MiB", "12 B" */
char *rp_fmt_bytes(char *buf, size_t cap, double b);
/* "1.2 ms" */
char *rp_fmt_ns(char *buf, size_t cap, double ns);
/* "1,234,567" */
char *rp_fmt_count(char *buf, size_t cap, uint64_t n);
/* Picks a unit for a maximum: divisor and name ("KiB", 1024). */
void rp_byte_unit(double max, double *div, const char **name);
void rp_time_unit(double max_ns, double *div, const char **name);
/* Writes s HTML-escaped. */
void rp_html_esc(FILE *f, const char *s);
/* Bucket label for log2 histograms: "[64, 128)" in bytes or ns. */
void rp_hist_label(char *buf, size_t cap, int k, int is_time);
/* Lifetime bucket k's label when times are multiples of res ns: bucket 0
 * holds what lived less than res ("<1us"). */
void rp_life_label(char *buf, size_t cap, int k, uint64_t res);
/* 1 if lifetime bucket k cannot hold a lifetime that is a multiple of res:
 * every value it covers lies between 0 and res. */
int rp_life_void(int k, uint64_t res);
/* res ns as "1us", "10us", "250ns", "1ms". */
char *rp_fmt_res(char *buf, size_t cap, uint64_t res);

/* ---- gnuplot (plot.c) --------------------------------------------------------- */
typedef struct rp_job_s { int pid; char dir[4096], name[64]; } rp_job_t;
typedef struct rp_plot_s {
    rp_job_t jobs[4];    /* gnuplots running */
    int njobs;
    char gnuplot[4096];  /* path of gnuplot, "" if not found */
    const char *png_term; /* "pngcairo" or "png" */
    char why[256];       /* why charts are off */
    int charts, failed;
} rp_plot_t;
/* Finds gnuplot on PATH and the best PNG terminal. 0 if usable. */
int rp_plot_init(rp_plot_t *p);
/* Runs the gnuplot commands in body (everything after the terminal and
 * output) twice: DIR/NAME.png and DIR/NAME.svg. width x height pixels.
 * Charts are drawn in the background, as many at once as there are CPUs;
 * rp_plot_wait waits for all. A failure is counted and described in p->why. */
int rp_plot(rp_plot_t *p, const char *dir, const char *name, int width, int height,
            const char *body);
void rp_plot_wait(rp_plot_t *p);

/* ---- external tools (extern.c) ---------------------------------------------- */
/* Finds prog next to our own executable, then on PATH. 0 + path, or -1. */
int rp_find_tool(const char *prog, char *path, size_t cap);
/* Runs argv (argv[0] a path) with stdout and stderr to logpath, waits.
 * Returns the exit status, or -1 if it could not start (errbuf says why). */
int rp_run(char *const argv[], const char *logpath, char *errbuf, size_t cap);
/* Runs argv (argv[0] a path) with stdout and stderr read into out (the first
 * line, NUL-terminated), waits. The exit status, or -1 if it could not start. */
int rp_run_capture(char *const argv[], char *out, size_t cap);

/* ---- the report (report.c, charts.c, sites.c) -------------------------------- */
typedef struct rp_opts_s {
    const char *trace, *outdir, *alloc_list;
    const char *mode; /* malloc-replay's --mode, NULL: threads for a multi-threaded trace, else serial */
    int no_replay, no_sim, progress;
} rp_opts_t;

typedef struct rp_extern_s {
    rj_t *replay, *sim;      /* parsed JSON, or NULL */
    const char *replay_mode; /* the --mode malloc-replay was given ("serial", "threads") */
    int mode_given;          /* by --mode, rather than by the trace's threads */
    size_t threads;          /* the trace's threads */
    char replay_note[512], sim_note[512]; /* why absent/failed, or "" */
    char timeline[4096];     /* path of the simulator's timeline CSV, "" if none */
} rp_extern_t;

/* One report site: a stack id's aggregate with its symbolized frames. */
typedef struct rp_row_s {
    size_t stack;
    uint64_t value;
} rp_row_t;

/* Fills rows with the top n stack ids by key (0 peak, 1 calls, 2 leaked, 3 temporary);
 * returns how many (zero-valued sites left out). */
size_t rp_top_sites(const rp_agg_t *g, int key, rp_row_t *rows, size_t n);
/* A stack's frames with inlined calls expanded, innermost first, the
 * allocator's and recorder's frames at the top left out; at most cap. */
size_t rp_stack_frames(rp_sym_t *s, const tr_reader_t *r, size_t stack, const rp_frame_t **out, size_t cap);
/* Writes a site's program frames (allocator frames skipped), innermost
 * first, at most maxf of them, "; "-joined or one per line (sep). */
void rp_site_frames(rp_sym_t *s, const tr_reader_t *r, size_t stack, char *buf, size_t cap,
                    int maxf, const char *sep, int with_file);

int rp_charts(rp_plot_t *p, const char *dir, const rp_agg_t *g, const rp_extern_t *x);
/* DIR/diff_memory.{png,svg}: the two traces' live bytes over time. */
int rp_chart_diff(rp_plot_t *p, const char *dir, const rp_agg_t *a, const rp_agg_t *b, const char *name_a,
                  const char *name_b);
int rp_write_report(const rp_opts_t *o, const rp_agg_t *g, tr_reader_t *r, rp_sym_t *s,
                    const rp_extern_t *x, const rp_plot_t *p, FILE *text, const char *dir,
                    char *errbuf, size_t cap);

/* --folded and --diff (folded.c, diff.c) */
enum { RP_W_BYTES, RP_W_CALLS, RP_W_PEAK, RP_W_LEAKED, RP_W_TEMPORARY };
int rp_folded(const rp_agg_t *g, tr_reader_t *r, rp_sym_t *s, int by, FILE *out);
int rp_diff(const char *pa, const rp_agg_t *a, tr_reader_t *ra, rp_sym_t *sa,
            const char *pb, const rp_agg_t *b, tr_reader_t *rb, rp_sym_t *sb, FILE *out);

#endif /* REPORT_H */
