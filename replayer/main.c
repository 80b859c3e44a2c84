/* main.c - malloc-replay: replays a malloc trace against real allocators.
 * See README.md in this folder. */
#include "run.h"
#include "trace.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog = "malloc-replay";

static void usage(FILE *f) {
    fprintf(f,
            "usage: malloc-replay TRACE [--alloc NAME[,NAME...]] [options]\n"
            "  --alloc LIST       glibc, tcmalloc, jemalloc, mimalloc, null, or a path to a malloc library;\n"
            "                     NAME:VAR=VALUE[:VAR=VALUE] adds settings to that run only\n"
            "                     (e.g. glibc,glibc:MALLOC_ARENA_MAX=1); repeatable. Default glibc.\n"
            "  --env VAR=VALUE    environment setting for every run (repeatable); the runs inherit no\n"
            "                     allocator setting (MALLOC_*, GLIBC_TUNABLES, ...) from the caller\n"
            "  --no-trace-env     glibc runs: do not apply the malloc settings recorded in the trace\n"
            "                     (its MALLOC_ARENA_MAX etc. and GLIBC_TUNABLES glibc.malloc.*; applied\n"
            "                     by default; --alloc settings win over --env's, --env's over the\n"
            "                     trace's, per variable and per glibc tunable, GLIBC_TUNABLES merged)\n"
            "  --mode serial|threads   serial (default): all ops in one thread in trace order;\n"
            "                     threads: one thread per recorded thread, cross-thread waits only\n"
            "  --pace             threads mode: follow the recorded timestamps\n"
            "  --touch all|none   write every allocated byte once (default all)\n"
            "  --null             add a run against a bump allocator (the harness's own cost)\n"
            "  --checkpoints N --csv FILE   glibc serial: mallinfo2 every N ops and after the last op\n"
            "  --json FILE        results as JSON\n"
            "  --sample N         time one op in every N (on average) for the latency histograms (power of two;\n"
            "                     default: every op up to 2^17 events, else about 2^17 ops in all);\n"
            "                     serial mode also times ops other than malloc/free, ~2^14 per op type\n"
            "  --strict           a free of a pointer the trace never returned is an error\n"
            "  --start-timeout SECS  a replay process must start (the --alloc library loaded) within\n"
            "                     SECS seconds, else its run fails (default 30, env\n"
            "                     MALLOC_REPLAY_START_TIMEOUT; 0: no limit)\n"
            "  --check-options    check the options and the --alloc names, then exit (no TRACE needed)\n"
            "  --no-progress      no progress bar\n"
            "exit status: 0 ok, 1 error (or an allocator's run failed), 2 usage, 3 truncated trace\n"
            "(its complete part replayed)\n");
}

/* The hidden child mode: parse numbers without anything that may allocate. */
static uint64_t num(const char *s) {
    uint64_t v = 0;
    int neg = *s == '-';
    if (neg) s++;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
    return neg ? (uint64_t)-(int64_t)v : v;
}

static int child(int argc, char **argv) {
    if (argc != 12) return 2;
    rp_child_args_t a = {
        .plan_fd = (int)num(argv[2]), .result_fd = (int)num(argv[3]), .csv_fd = (int)num(argv[4]),
        .kind = (int)num(argv[5]), .touch = (int)num(argv[6]), .pace = (int)num(argv[7]),
        .checkpoints = num(argv[8]), .sample = (uint32_t)num(argv[9]), .funcs = (unsigned)num(argv[10]),
        .stderr_fd = (int)num(argv[11]),
    };
    _exit(rp_child_main(&a));
}

/* The length of the longest start of s, up to a ',' or ':' or its end, that
 * holds a '/' and names an existing file: a library path taken whole, though
 * it holds ',' or ':' (0: none). */
static size_t file_prefix(const char *s) {
    size_t best = 0;
    char path[4096];
    for (size_t n = 1; s[n - 1]; n++) {
        if (s[n] && s[n] != ',' && s[n] != ':') continue;
        if (n >= sizeof path || !memchr(s, '/', n)) continue;
        memcpy(path, s, n);
        path[n] = 0;
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) best = n;
    }
    return best;
}

/* LD_PRELOAD is the run's allocator: given as a setting it ran another
 * allocator under the run's name (--env LD_PRELOAD=libjemalloc.so.2 made
 * the glibc run jemalloc's, its mallinfo2 all 0). */
static const char k_preload_why[] = "the library a run preloads is its allocator: give it in --alloc (a path)";
static int preload_setting(const char *e) { return !strncmp(e, "LD_PRELOAD=", 11); }

/* One --alloc item; its name (allocator or path) is at least namelen bytes.
 * Its settings go to run->own (rp_run_env makes the run's environment). */
static int parse_alloc(char *item, size_t namelen, rp_run_t *run) {
    memset(run, 0, sizeof *run);
    snprintf(run->label, sizeof run->label, "%s", item);
    /* NAME:VAR=VALUE:...  A ':' starts a setting only when the text up to the
     * next ':' holds an '=' (so MALLOC_CONF=narenas:1 stays one value). */
    char *c = NULL;
    for (char *q = strchr(item + namelen, ':'); q; q = strchr(q + 1, ':'))
        if (memchr(q + 1, '=', strcspn(q + 1, ":"))) { c = q; break; }
    if (c) {
        *c = 0;
        run->own[run->nown++] = c + 1;
        for (char *q = c + 1; (q = strchr(q, ':'));) {
            char *const seg = q + 1;
            if (memchr(seg, '=', strcspn(seg, ":"))) {
                if (run->nown >= RP_MAX_ENV) {
                    fprintf(stderr, "%s: --alloc %s: more than %d settings\n", prog, run->label, RP_MAX_ENV);
                    return -1;
                }
                *q = 0;
                run->own[run->nown++] = seg;
            }
            q = seg;
        }
        for (int i = 0; i < run->nown; i++)
            if (run->own[i][0] == '=' || preload_setting(run->own[i])) {
                fprintf(stderr, "%s: --alloc %s: %s: %s\n", prog, run->label, run->own[i],
                        run->own[i][0] == '=' ? "expected VAR=VALUE" : k_preload_why);
                return -1;
            }
    }
    snprintf(run->name, sizeof run->name, "%s", item);
    char err[512];
    if (rp_resolve_alloc(item, run->lib, sizeof run->lib, &run->kind, &run->funcs, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    return 0;
}

/* Splits one --alloc list into its items: at commas, but an item that does
 * not start with an allocator's name or a path continues the previous item's
 * setting (MALLOC_CONF=narenas:1,dirty_decay_ms:0). Returns the count. */
static int split_allocs(char *list, char **items, size_t *namelen) {
    int ni = 0;
    for (char *it = list; it && *it;) {
        namelen[ni] = file_prefix(it);
        items[ni++] = it;
        char *comma = it + namelen[ni - 1];
        for (;;) {
            comma = strchr(comma, ',');
            if (!comma) { it = NULL; break; }
            char *const next = comma + 1;
            size_t const nl = strcspn(next, ":,");
            int const starts = memchr(next, '/', strcspn(next, ",")) != NULL ||
                               (nl == 5 && !strncmp(next, "glibc", 5)) || (nl == 4 && !strncmp(next, "libc", 4)) ||
                               (nl == 8 && (!strncmp(next, "tcmalloc", 8) || !strncmp(next, "jemalloc", 8) ||
                                            !strncmp(next, "mimalloc", 8))) || (nl == 4 && !strncmp(next, "null", 4)) ||
                               !memchr(next, ':', strcspn(next, ","));
            if (starts) { *comma = 0; it = next; break; }
            comma = next;
        }
    }
    return ni;
}

/* An option error: one line with the reason, exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2))) bad_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(2);
}

/* A decimal number, digits only (no sign), 1..max (0..max with zero_ok), else a usage error. */
static uint64_t pos_num(const char *opt, const char *s, uint64_t max, int zero_ok) {
    uint64_t v = 0;
    int over = 0;
    const char *c = s;
    for (; *c >= '0' && *c <= '9'; c++)
        over |= __builtin_mul_overflow(v, 10, &v) | __builtin_add_overflow(v, (uint64_t)(*c - '0'), &v);
    if (c == s || *c || (!v && !over && !zero_ok))
        bad_usage("%s %s: expected a %s number", opt, s, zero_ok ? "non-negative" : "positive");
    if (over || v > max) bad_usage("%s %s: too large (at most %llu)", opt, s, (unsigned long long)max);
    return v;
}

/* Refuses an output path that names the input trace (or the other output). */
static void check_output(const char *trace, const char *opt, const char *path) {
    if (!path) return;
    if (tr_same_file(trace, path)) {
        fprintf(stderr, "%s: %s: %s would overwrite the input trace\n", prog, path, opt);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child-replay")) return child(argc, argv);
    /* A closed pipe on standard output (malloc-replay T --json F | head) is a
     * failed write like any other, reported once the table is written, not a
     * death by SIGPIPE before the JSON. The runs inherit it: a CSV on a pipe
     * whose reader left fails with EPIPE, reported as the CSV's error. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit: EFBIG, reported and cleaned up like a full disk */
    rp_opts_t o = { .touch = 1, .progress = 1, .sample = 0, .start_timeout = 30 };
    const char *genv[RP_MAX_ENV], **allocv = calloc((size_t)argc, sizeof *allocv); /* every --alloc */
    if (!allocv) { fprintf(stderr, "%s: out of memory\n", prog); return 1; }
    int nalloc = 0, ngenv = 0, null = 0, trace_env = 1, check_only = 0;
    const char *st_env = getenv("MALLOC_REPLAY_START_TIMEOUT");
    if (st_env && *st_env) {
        uint64_t v = 0;
        const char *c = st_env;
        for (; *c >= '0' && *c <= '9' && v < (1ull << 40); c++) v = v * 10 + (uint64_t)(*c - '0');
        if (*c) {
            fprintf(stderr, "%s: MALLOC_REPLAY_START_TIMEOUT=%s: expected a number of seconds\n", prog, st_env);
            return 2;
        }
        o.start_timeout = v;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int const more = i + 1 < argc;
#define ARG(name) (!strcmp(a, name) && (more || (bad_usage("%s needs a value", name), 0)))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            if (fflush(stdout)) { fprintf(stderr, "%s: standard output: %s\n", prog, strerror(errno)); return 1; }
            return 0;
        } else if (ARG("--alloc")) allocv[nalloc++] = argv[++i];
        else if (ARG("--env")) {
            if (ngenv >= RP_MAX_ENV) bad_usage("--env %s: more than %d settings", argv[i + 1], RP_MAX_ENV);
            if (!strchr(argv[i + 1], '=') || argv[i + 1][0] == '=') bad_usage("--env %s: expected VAR=VALUE", argv[i + 1]);
            if (preload_setting(argv[i + 1])) bad_usage("--env %s: %s", argv[i + 1], k_preload_why);
            genv[ngenv++] = argv[++i];
        } else if (ARG("--mode")) {
            a = argv[++i];
            if (!strcmp(a, "serial")) o.threads = 0;
            else if (!strcmp(a, "threads")) o.threads = 1;
            else bad_usage("--mode %s: expected serial or threads", a);
        } else if (ARG("--touch")) {
            a = argv[++i];
            if (!strcmp(a, "all")) o.touch = 1;
            else if (!strcmp(a, "none")) o.touch = 0;
            else bad_usage("--touch %s: expected all or none", a);
        } else if (!strcmp(a, "--pace")) o.pace = 1;
        else if (!strcmp(a, "--null")) null = 1;
        else if (!strcmp(a, "--strict")) o.strict = 1;
        else if (!strcmp(a, "--no-trace-env")) trace_env = 0;
        else if (!strcmp(a, "--no-progress")) o.progress = 0;
        else if (!strcmp(a, "--check-options")) check_only = 1;
        else if (ARG("--checkpoints")) {
            o.checkpoints = pos_num("--checkpoints", argv[i + 1], UINT64_MAX, 0);
            i++;
        } else if (ARG("--sample")) {
            uint64_t const v = pos_num("--sample", argv[i + 1], 1u << 20, 0);
            if (v & (v - 1)) bad_usage("--sample %s: expected a power of two", argv[i + 1]);
            o.sample = (uint32_t)v;
            i++;
        } else if (ARG("--start-timeout")) {
            o.start_timeout = pos_num("--start-timeout", argv[i + 1], 1ull << 40, 1);
            i++;
        } else if (ARG("--csv")) o.csv = argv[++i];
        else if (ARG("--json")) o.json = argv[++i];
        else if (a[0] == '-' && a[1]) bad_usage("unknown option %s", a);
        else if (!o.trace) o.trace = a;
        else bad_usage("one trace at a time (%s and %s)", o.trace, a);
    }
    if (!o.trace && !check_only) bad_usage("no trace given");
    if (o.pace && !o.threads) bad_usage("--pace needs --mode threads");
    if (!!o.checkpoints != !!o.csv) bad_usage("--checkpoints and --csv go together");
    if (o.checkpoints && o.threads) bad_usage("--checkpoints needs --mode serial");
    if (o.csv && o.json && (!strcmp(o.csv, o.json) || tr_same_file(o.csv, o.json)))
        bad_usage("--csv and --json name the same file (%s)", o.json);
    check_output(o.trace, "--json", o.json);
    check_output(o.trace, "--csv", o.csv);
    if (!isatty(2)) o.progress = 0;

    /* allocators: every --alloc's, in order */
    size_t len = sizeof "glibc";
    for (int k = 0; k < nalloc; k++) len += strlen(allocv[k]) + 1;
    char *list = malloc(len);
    rp_run_t *runs = calloc(len + 1, sizeof *runs); /* at most one run per byte, and null */
    if (!list || !runs) { fprintf(stderr, "%s: out of memory\n", prog); return 1; }
    int n = 0;
    if (null && parse_alloc((char[]){ "null" }, 0, &runs[n++])) return 2;
    char **items = malloc(len * sizeof *items);
    size_t *namelen = malloc(len * sizeof *namelen); /* a path to an existing file is taken whole */
    if (!items || !namelen) { fprintf(stderr, "%s: out of memory\n", prog); return 1; }
    int ni = 0;
    char *at = list;
    for (int k = 0; k < (nalloc ? nalloc : !null); k++) { /* each split on its own (glibc by default) */
        size_t const l = strlen(nalloc ? allocv[k] : "glibc");
        memcpy(at, nalloc ? allocv[k] : "glibc", l + 1);
        ni += split_allocs(at, items + ni, namelen + ni);
        at += l + 1;
    }
    for (int k = 0; k < ni; k++)
        if (parse_alloc(items[k], namelen[k], &runs[n++])) return 2;
    if (!n) bad_usage("--alloc: no allocator named");
    int glibc_run = -1;
    for (int i = 0; i < n; i++)
        if (runs[i].kind == RP_ALLOC_GLIBC && glibc_run < 0) glibc_run = i;
    if (o.checkpoints && glibc_run < 0) bad_usage("--checkpoints needs glibc in --alloc");
    if (check_only) return 0;

    char self[4096];
    ssize_t const sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) { fprintf(stderr, "%s: cannot find my own executable: %s\n", prog, strerror(errno)); return 1; }
    self[sl] = 0;

    /* the plan */
    rp_prep_t prep;
    char err[512];
    if (o.progress) fprintf(stderr, "reading %s...", o.trace);
    int const prc = rp_prep(o.trace, o.threads, &prep, err, sizeof err);
    if (o.progress) fprintf(stderr, "\r%-60s\r", "");
    if (prc) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.trace, err);
        return 1;
    }
    if (prep.truncated)
        fprintf(stderr, "%s: %s: truncated (%s); replaying the %llu events it holds\n", prog, o.trace, prep.warn,
                (unsigned long long)prep.events);
    if (prep.unknown_frees) {
        fprintf(stderr, "%s: %s: %s%llu frees/reallocs of pointers the trace never returned%s\n", prog, o.trace,
                o.strict ? "" : "warning: ", (unsigned long long)prep.unknown_frees,
                o.strict ? "" : " (skipped; a realloc of one is replayed as realloc(NULL, n))");
        if (o.strict) return 1;
    }
    if (!o.sample) /* about 2^17 timed ops at most: a timer read costs ~30-50 ns in a VM */
        for (o.sample = 1; o.sample < (1u << 20) && prep.events / o.sample > (1u << 17);) o.sample *= 2;
    /* each run's settings: its own over --env's over, for glibc runs, the
     * traced program's malloc settings (per tunable: settings.c) */
    for (int i = 0; i < n; i++) {
        int const tr = trace_env && runs[i].kind == RP_ALLOC_GLIBC;
        if (rp_run_env(&runs[i], genv, ngenv, tr ? prep.env : NULL, tr ? prep.nenv : 0)) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return 1;
        }
    }
    /* the caller's allocator settings stay out of the runs (spawn.c): said once */
    extern char **environ;
    int said = 0;
    for (char **e = environ; *e; e++)
        if (rp_alloc_setting(*e)) {
            if (!said) fprintf(stderr, "%s: not passed to the runs (give them with --env or --alloc):", prog);
            fprintf(stderr, " %s", *e);
            said = 1;
        }
    if (said) fprintf(stderr, "\n");
    /* The children write the CSV's rows through csv_fd, into a temporary file
     * that becomes o.csv only when every row made it (tr_out_open). */
    tr_out_t csv_out = { 0 }, json_out = { 0 };
    int csv_fd = -1;
    if (o.csv) {
        if (tr_out_open(&csv_out, o.csv)) {
            fprintf(stderr, "%s: %s: %s\n", prog, o.csv, strerror(errno));
            return 1;
        }
        csv_fd = csv_out.fd; /* nothing goes through the FILE itself */
    }
    /* the JSON's file too, before the runs: a path that takes no file is
     * one error line at once, not after every run (the table printed) */
    if (o.json && tr_out_open(&json_out, o.json)) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.json, strerror(errno));
        if (o.csv) tr_out_abort(&csv_out);
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (rp_spawn(&o, &prep, &runs[i], i == glibc_run ? csv_fd : -1, self)) {
            runs[i].failed = 1;
            failed++;
            fprintf(stderr, "%s: %s: %s: %s\n", prog, o.trace, runs[i].label, runs[i].err);
        }
    }
    int rc = failed ? 1 : prep.truncated ? 3 : 0;
    /* The CSV is whole when the run that wrote it ended well with every row written. */
    int csv_bad = glibc_run >= 0 && runs[glibc_run].failed;
    for (int i = 0; i < n && o.csv; i++)
        if (runs[i].res && runs[i].res->csv_errno) {
            fprintf(stderr, "%s: %s: %s\n", prog, o.csv, strerror(runs[i].res->csv_errno));
            rc = 1;
            csv_bad = 1;
            break;
        }
    if (o.csv && csv_bad) tr_out_abort(&csv_out);
    else if (o.csv && tr_out_commit(&csv_out) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.csv, strerror(errno));
        rc = 1;
    }
    /* the table goes through a buffer so that a failed write's errno is the one reported */
    char *table = NULL;
    size_t tlen = 0;
    FILE *t = open_memstream(&table, &tlen);
    if (t) rp_print_table(t, &o, &prep, runs, n);
    if (!t || fclose(t) != 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        if (o.json) tr_out_abort(&json_out);
        return 1;
    }
    errno = 0;
    if (fwrite(table, 1, tlen, stdout) != tlen || fflush(stdout) != 0) {
        fprintf(stderr, "%s: standard output: %s\n", prog, strerror(errno ? errno : EIO));
        rc = 1;
    }
    free(table);
    if (o.json && rp_write_json(&json_out, &o, &prep, runs, n)) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.json, strerror(errno ? errno : EIO));
        rc = 1;
    }
    return rc;
}
