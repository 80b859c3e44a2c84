/* malloc_trace.c - malloc-trace, the trace's own tool: info, dump, import. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "live.h"
#include "text.h"
#include "trace.h"

static const char *prog = "malloc-trace";

static void usage(FILE *out) {
    fprintf(out,
            "usage: malloc-trace info TRACE        header, counts, duration, peak live bytes, size\n"
            "       malloc-trace dump TRACE        one event per line: SEQ TID T_NS OP ARGS [-> RESULT]\n"
            "            [--no-header]             without the '# key: value' header lines\n"
            "       malloc-trace import FILE -o TRACE\n"
            "                                      text (as dump prints it) or a glibc mtrace() log -> trace\n"
            "       malloc-trace --version\n"
            "TRACE and FILE may be '-' for standard input, -o - is standard output. Format: traces/FORMAT.md.\n"
            "exit status: 0 ok, 1 error, 2 usage, 3 truncated trace or import FILE (its complete events\n"
            "             read, or imported into a trace without END)\n");
}

/* An option error: one line with the reason, exit status 2. */
static int bad_usage(const char *what, const char *arg) {
    fprintf(stderr, "%s: %s%s%s (see --help)\n", prog, what, arg ? ": " : "", arg ? arg : "");
    return 2;
}

/* Reports a failed write of standard output; 0 if every write went through.
 * A reader gone from a pipe is such a failure (SIGPIPE is ignored): EPIPE. */
static int stdout_errno; /* of the first failed write seen, 0 if none */
static int check_stdout(void) {
    int const e = errno;
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    if (!stdout_errno) stdout_errno = errno ? errno : e ? e : EIO;
    fprintf(stderr, "%s: standard output: %s\n", prog, strerror(stdout_errno));
    return 1;
}

/* A trace that cannot be opened; one cut inside its first frame (before its
 * HEADER was whole) is a truncated trace, 3. */
static int die_open(const char *path, const tr_error_t *err) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, err->msg);
    return err->code == TR_E_TRUNCATED ? 3 : 1;
}

/* Ends a read loop: reports a read error or a missing END. Returns the exit status. */
static int finish_read(tr_reader_t *r, int rc) {
    if (rc < 0) { /* a cut trace: its complete events were read, as the other tools say with 3 */
        fprintf(stderr, "%s: %s: %s\n", prog, tr_reader_path(r), tr_reader_error(r)->msg);
        return tr_reader_error(r)->code == TR_E_TRUNCATED ? 3 : 1;
    }
    char why[256];
    if (tr_reader_incomplete(r, why, sizeof why)) { /* as malloc-sim and malloc-replay say it, with 3 */
        fprintf(stderr, "%s: %s: %s; every complete event was read\n", prog, tr_reader_path(r), why);
        return 3;
    }
    return 0;
}

/* ---- dump ---------------------------------------------------------------------- */
static int cmd_dump(int argc, char **argv) {
    const char *path = NULL;
    int header = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--no-header") == 0) header = 0;
        else if (argv[i][0] == '-' && argv[i][1]) return bad_usage("dump: unknown option", argv[i]);
        else if (!path) path = argv[i];
        else return bad_usage("dump: more than one TRACE", argv[i]);
    }
    if (!path) return bad_usage("dump: no TRACE given", NULL);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(path, &err);
    if (!r) return die_open(path, &err);
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    if (header) text_format_header(stdout, tr_reader_header(r));
    tr_event_t ev;
    static char line0[8192];
    char *line = line0, *big = NULL;
    size_t cap = sizeof line0;
    int rc;
    while ((rc = tr_reader_next(r, &ev)) > 0) {
        size_t n = text_format_event(line, cap, &ev);
        if (n + 1 >= cap) { /* a long exec path: the whole line, never a cut one */
            char *const b = realloc(big, n + 2);
            if (!b) { rc = TR_E_NOMEM; break; }
            line = big = b;
            cap = n + 2;
            n = text_format_event(line, cap, &ev);
        }
        line[n] = '\n';
        if (fwrite(line, 1, n + 1, stdout) != n + 1) { /* no reader left, a full disk: stop */
            stdout_errno = errno;
            break;
        }
    }
    free(big);
    if (check_stdout()) {
        tr_reader_close(r);
        return 1;
    }
    if (rc == TR_E_NOMEM) {
        fprintf(stderr, "%s: %s: out of memory\n", prog, path);
        tr_reader_close(r);
        return 1;
    }
    int const status = finish_read(r, rc);
    tr_reader_close(r);
    return status;
}

/* ---- info ---------------------------------------------------------------------- */
typedef struct tcount_s { uint32_t tid; uint64_t n; UT_hash_handle hh; } tcount_t;

static void fmt_bytes(char *buf, size_t cap, uint64_t b) {
    if (b < 10 * 1024) snprintf(buf, cap, "%" PRIu64 " B", b);
    else if (b < 10ull << 20) snprintf(buf, cap, "%.1f KiB (%" PRIu64 " B)", b / 1024.0, b);
    else if (b < 10ull << 30) snprintf(buf, cap, "%.1f MiB (%" PRIu64 " B)", b / 1048576.0, b);
    else snprintf(buf, cap, "%.2f GiB (%" PRIu64 " B)", b / 1073741824.0, b);
}

static void fmt_dur(char *buf, size_t cap, uint64_t ns) {
    if (ns < 10000) snprintf(buf, cap, "%" PRIu64 " ns", ns);
    else if (ns < 10000000) snprintf(buf, cap, "%.1f us", ns / 1e3);
    else if (ns < 10000000000ull) snprintf(buf, cap, "%.1f ms", ns / 1e6);
    else snprintf(buf, cap, "%.2f s", ns / 1e9);
}

static int cmp_tcount(const tcount_t *a, const tcount_t *b) {
    return a->n < b->n ? 1 : a->n > b->n ? -1 : (a->tid > b->tid) - (a->tid < b->tid);
}

static const char *end_reason(uint32_t r) {
    static const char *const names[] = { "exit", "_exit", "fatal signal", "exec", "recorder error",
                                         "closed by a tool" };
    return r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) return bad_usage("info: unknown option", argv[i]);
        if (path) return bad_usage("info: more than one TRACE", argv[i]);
        path = argv[i];
    }
    if (!path) return bad_usage("info: no TRACE given", NULL);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(path, &err);
    if (!r) return die_open(path, &err);
    const tr_header_t *h = tr_reader_header(r);
    uint64_t ops[TR_OP_LAST + 1] = { 0 };
    live_t *live = live_new();
    tcount_t *threads = NULL;
    uint64_t events = 0, first_t = 0, last_t = 0;
    tr_event_t ev;
    int rc = live ? 0 : TR_E_NOMEM;
    while (live && (rc = tr_reader_next(r, &ev)) > 0) {
        if (events++ == 0) first_t = ev.t_ns;
        last_t = ev.t_ns;
        ops[ev.op]++;
        tcount_t *tc;
        HASH_FIND(hh, threads, &ev.tid, sizeof ev.tid, tc);
        if (!tc) {
            tc = calloc(1, sizeof *tc);
            if (!tc) { rc = TR_E_NOMEM; break; }
            tc->tid = ev.tid;
            HASH_ADD(hh, threads, tid, sizeof tc->tid, tc);
        }
        tc->n++;
        if (live_event(live, &ev)) { rc = TR_E_NOMEM; break; }
    }
    if (live && rc != TR_E_NOMEM && live_end(live)) rc = TR_E_NOMEM;
    live_figures_t const lf = live ? *live_figures(live) : (live_figures_t){ 0 };
    tr_reader_stats_t st;
    tr_reader_stats(r, &st);
    struct stat sb;
    uint64_t const file_size = (strcmp(path, "-") != 0 && stat(path, &sb) == 0) ? (uint64_t)sb.st_size : st.file_bytes;

    char b1[64], b2[64];
    printf("trace:        %s\n", path);
    printf("format:       version %u, written by %s\n", h->version, h->tool && *h->tool ? h->tool : "?");
    printf("process:      pid %u, parent %u, %s\n", h->pid, h->ppid, h->exe && *h->exe ? h->exe : "?");
    if (h->argc) {
        printf("command:     ");
        for (size_t i = 0; i < h->argc; i++) printf(" %s", h->argv[i]);
        printf("\n");
    }
    if (h->start_real_ns) {
        time_t const t = (time_t)(h->start_real_ns / 1000000000u);
        struct tm tm;
        char when[64];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        printf("started:      %s\n", when);
    }
    printf("machine:      page size %u, %u CPUs, glibc %s\n", h->page_size, h->ncpu,
           h->glibc_version && *h->glibc_version ? h->glibc_version : "?");
    for (size_t i = 0; i < h->nenv; i++) printf("environment:  %s\n", h->env[i]);
    const tr_end_t *end = tr_reader_end(r);
    if (end) {
        fmt_dur(b1, sizeof b1, end->t_ns);
        printf("end:          %s (status %d) %s after the start, %" PRIu64 " events written, %" PRIu64 " dropped\n",
               end_reason(end->reason), end->status, b1, end->events, end->dropped);
    }
    else
        printf("end:          none: the process was killed or the trace is still being written\n");
    double const dur = (last_t - first_t) / 1e9;
    fmt_dur(b1, sizeof b1, last_t - first_t);
    printf("events:       %" PRIu64 " in %s from the first to the last", events, b1);
    if (dur > 0) printf(" (%.0f events/s)", events / dur);
    printf("\n");
    fmt_bytes(b1, sizeof b1, file_size);
    printf("file:         %s in %" PRIu64 " zstd frames, %.2f bytes/event (%.2f raw)\n", b1, st.frames,
           events ? (double)file_size / events : 0.0, events ? (double)st.raw_bytes / events : 0.0);
    fmt_bytes(b1, sizeof b1, lf.peak);
    fmt_dur(b2, sizeof b2, lf.peak_t);
    /* "(T)": malloc-report's test reads the time there */
    printf("peak live:    %s requested, at seq %" PRIu64 " (%s)\n", b1, lf.peak_seq, b2);
    fmt_bytes(b2, sizeof b2, lf.bytes);
    printf("final live:   %s in %" PRIu64 " objects\n", b2, lf.objects);
    if (lf.unknown_frees)
        printf("unknown frees: %" PRIu64 " (pointers not allocated in this trace)\n", lf.unknown_frees);
    uint32_t nstk = 0; /* ids are not dense: a fork child's go on from its parent's */
    for (uint32_t id = 1, top = tr_reader_stack_count(r); id && id <= top; id++) {
        const uint64_t *pcs;
        nstk += tr_reader_stack(r, id, &pcs) > 0;
    }
    size_t nmod = 0, nunl = 0;
    for (size_t i = 0; i < tr_reader_module_count(r); i++) {
        if (tr_reader_module(r, i)->flags & TR_MODULE_UNLOADED) nunl++;
        else nmod++;
    }
    printf("stacks:       %u unique, %zu modules", nstk, nmod);
    if (nunl) printf(" (%zu unloads)", nunl);
    printf("\n");
    printf("\n%-16s %12s\n", "operation", "count");
    for (int op = TR_OP_FIRST; op <= TR_OP_LAST; op++)
        if (ops[op]) printf("%-16s %12" PRIu64 "\n", tr_op_name(op), ops[op]);
    printf("\n%-16s %12s\n", "thread", "events");
    HASH_SORT(threads, cmp_tcount);
    unsigned shown = 0;
    for (tcount_t *tc = threads; tc; tc = tc->hh.next)
        if (shown++ < 20) printf("%-16u %12" PRIu64 "\n", tc->tid, tc->n);
    if (shown > 20) printf("(%u more threads)\n", shown - 20);

    live_free(live);
    tcount_t *tc, *ttmp;
    HASH_ITER(hh, threads, tc, ttmp) { HASH_DEL(threads, tc); free(tc); }
    int status;
    if (check_stdout()) {
        status = 1;
    } else if (rc == TR_E_NOMEM) {
        fprintf(stderr, "%s: %s: out of memory\n", prog, path);
        status = 1;
    } else {
        status = finish_read(r, rc);
    }
    tr_reader_close(r);
    return status;
}

/* ---- import -------------------------------------------------------------------- */
/* The input is read once, in order (a pipe, a FIFO or <(zcat log.gz) as well
 * as a file): its first line that is not blank tells the two forms apart
 * ('#' or an event: our text; an mtrace() line: glibc's log) and is read
 * again by the importer. */
static int cmd_import(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0) {
            if (i + 1 >= argc) return bad_usage("import: -o needs a file name", NULL);
            out = argv[++i];
        }
        else if (argv[i][0] == '-' && argv[i][1]) return bad_usage("import: unknown option", argv[i]);
        else if (!in) in = argv[i];
        else return bad_usage("import: more than one FILE", argv[i]);
    }
    if (!in) return bad_usage("import: no FILE given", NULL);
    if (!out || !*out) return bad_usage("import: no output given (-o TRACE)", NULL);
    if (tr_same_file(in, out)) {
        fprintf(stderr, "%s: %s: -o would overwrite the input\n", prog, out);
        return 2;
    }
    struct stat sb;
    if (strcmp(out, "-") != 0 && stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "%s: %s: is a directory (-o names the trace file)\n", prog, out);
        return 1;
    }
    int const from_stdin = strcmp(in, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(in, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", prog, in, strerror(errno));
        return 1;
    }
    text_src_t src = { f, in, 0, NULL, 0, 0, 0, NULL };
    int mtrace = 0, k;
    while ((k = text_next_line(&src)) > 0) {
        const char *l = src.buf;
        while (*l == ' ' || *l == '\t') l++;
        if (!*l) continue;
        mtrace = *l != '#' && mtrace_line(l);
        src.again = 1;
        break;
    }
    int status = 0;
    char msg[512];
    char *tmp = NULL;
    if (ferror(f)) {
        fprintf(stderr, "%s: %s: read error: %s\n", prog, in, strerror(errno));
        status = 1;
    } else if (k < 0) {
        fprintf(stderr, "%s: %s: line %lu: %s\n", prog, in, src.line, src.bad);
        status = 1;
    } else if (src.line == 0) {
        fprintf(stderr, "%s: %s: empty file\n", prog, in);
        status = 1;
    }
    /* The trace goes to a temporary file beside the output, renamed over it
     * only once complete: a failed import leaves an existing file alone. */
    if (!status && strcmp(out, "-") != 0) {
        size_t const n = strlen(out) + 32;
        tmp = malloc(n);
        if (!tmp) { fprintf(stderr, "%s: out of memory\n", prog); status = 1; }
        else snprintf(tmp, n, "%s.import-%ld.tmp", out, (long)getpid());
    }
    if (!status) {
        const char *dst = tmp ? tmp : out;
        int const rc = mtrace ? mtrace_import(&src, dst, msg, sizeof msg) : text_import(&src, dst, msg, sizeof msg);
        if (ferror(f)) {
            fprintf(stderr, "%s: %s: read error: %s\n", prog, in, strerror(errno));
            status = 1;
        } else if (rc) {
            /* messages about the output name the temporary file: name the output */
            size_t const tl = tmp ? strlen(tmp) : 0;
            if (tmp && strncmp(msg, tmp, tl) == 0) fprintf(stderr, "%s: %s%s\n", prog, out, msg + tl);
            else if (!tmp && strncmp(msg, "-: ", 3) == 0) fprintf(stderr, "%s: standard output: %s\n", prog, msg + 3);
            else fprintf(stderr, "%s: %s: %s\n", prog, in, msg);
            status = rc > 0 ? 3 : 1; /* 3: cut short, the events before the cut written */
        }
        if (status != 1 && tmp && rename(tmp, out) != 0) {
            fprintf(stderr, "%s: %s: cannot rename the finished trace into place: %s\n", prog, out, strerror(errno));
            status = 1;
        }
        if (status == 1 && tmp) unlink(tmp);
    }
    free(tmp);
    free(src.buf);
    if (f != stdin) fclose(f);
    return status;
}

int main(int argc, char **argv) {
    /* a reader gone from standard output (malloc-trace dump T | head) is a
     * failed write, reported in one line with status 1 like any other
     * (check_stdout), not a death by SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit: EFBIG, reported and cleaned up like a full disk */
    if (argc < 2) return bad_usage("no command given (info, dump or import)", NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(cmd, "dump") == 0) return cmd_dump(argc - 2, argv + 2);
    if (strcmp(cmd, "import") == 0) return cmd_import(argc - 2, argv + 2);
    if (strcmp(cmd, "--version") == 0) { printf("malloc-trace %s (trace format %d)\n", MS_VERSION, TR_FORMAT_VERSION); return 0; }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) { usage(stdout); return 0; }
    return bad_usage("unknown command", cmd);
}
