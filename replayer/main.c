/* main.c - malloc-replay: replays a malloc trace against real allocators.
 * See README.md in this folder. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "malloc-replay";

static void usage(FILE *f) {
    fprintf(f,
            "usage: malloc-replay TRACE [--alloc NAME[,NAME...]] [options]\n"
            "  --alloc LIST       glibc, tcmalloc, jemalloc, mimalloc, null, or a path to a malloc library;\n"
            "                     NAME:VAR=VALUE[:VAR=VALUE] adds settings to that run only\n"
            "                     (e.g. glibc,glibc:MALLOC_ARENA_MAX=1). Default glibc.\n"
            "  --env VAR=VALUE    environment setting for every run (repeatable)\n"
            "  --no-trace-env     glibc runs: do not apply the malloc settings recorded in the trace\n"
            "                     (its MALLOC_ARENA_MAX etc. and GLIBC_TUNABLES glibc.malloc.*; applied\n"
            "                     by default, a setting of the same name from --env or --alloc wins)\n"
            "  --mode serial|threads   serial (default): all ops in one thread in trace order;\n"
            "                     threads: one thread per recorded thread, cross-thread waits only\n"
            "  --pace             threads mode: follow the recorded timestamps\n"
            "  --touch all|none   write every allocated byte once (default all)\n"
            "  --null             add a run against a bump allocator (the harness's own cost)\n"
            "  --checkpoints N --csv FILE   glibc serial: mallinfo2 every N ops and after the last op\n"
            "  --json FILE        results as JSON\n"
            "  --sample N         time one op in every N for the latency histograms (power of two;\n"
            "                     default: every op up to 2^17 events, else about 2^17 ops in all);\n"
            "                     serial mode also times ops other than malloc/free, ~2^14 per op type\n"
            "  --strict           a free of a pointer the trace never returned is an error\n"
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
    if (argc != 11) return 2;
    rp_child_args_t a = {
        .plan_fd = (int)num(argv[2]), .result_fd = (int)num(argv[3]), .csv_fd = (int)num(argv[4]),
        .kind = (int)num(argv[5]), .touch = (int)num(argv[6]), .pace = (int)num(argv[7]),
        .checkpoints = num(argv[8]), .sample = (uint32_t)num(argv[9]), .funcs = (unsigned)num(argv[10]),
    };
    _exit(rp_child_main(&a));
}

static int parse_alloc(char *item, rp_run_t *run, const char **genv, int ngenv) {
    memset(run, 0, sizeof *run);
    snprintf(run->label, sizeof run->label, "%s", item);
    for (int i = 0; i < ngenv; i++) run->env[run->nenv++] = genv[i];
    /* NAME:VAR=VALUE:...  A ':' starts a setting only when the text up to the
     * next ':' holds an '=' (so MALLOC_CONF=narenas:1 stays one value). */
    char *c = NULL;
    for (char *q = strchr(item, ':'); q; q = strchr(q + 1, ':'))
        if (memchr(q + 1, '=', strcspn(q + 1, ":"))) { c = q; break; }
    if (c) {
        *c = 0;
        run->env[run->nenv++] = c + 1;
        for (char *q = c + 1; (q = strchr(q, ':'));) {
            char *const seg = q + 1;
            if (memchr(seg, '=', strcspn(seg, ":"))) {
                if (run->nenv >= RP_MAX_ENV) {
                    fprintf(stderr, "%s: --alloc %s: too many settings\n", prog, run->label);
                    return -1;
                }
                *q = 0;
                run->env[run->nenv++] = seg;
            }
            q = seg;
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

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child-replay")) return child(argc, argv);
    rp_opts_t o = { .touch = 1, .progress = 1, .sample = 0 };
    const char *alloc = NULL, *genv[RP_MAX_ENV];
    int ngenv = 0, null = 0, trace_env = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int const more = i + 1 < argc;
#define ARG(name) (!strcmp(a, name) && (more || (fprintf(stderr, "%s: %s needs a value\n", prog, name), exit(2), 0)))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (ARG("--alloc")) alloc = argv[++i];
        else if (ARG("--env")) {
            if (ngenv >= RP_MAX_ENV || !strchr(argv[i + 1], '=')) {
                fprintf(stderr, "%s: --env %s: expected VAR=VALUE\n", prog, argv[i + 1]);
                return 2;
            }
            genv[ngenv++] = argv[++i];
        } else if (ARG("--mode")) {
            a = argv[++i];
            if (!strcmp(a, "serial")) o.threads = 0;
            else if (!strcmp(a, "threads")) o.threads = 1;
            else { fprintf(stderr, "%s: --mode %s: expected serial or threads\n", prog, a); return 2; }
        } else if (ARG("--touch")) {
            a = argv[++i];
            if (!strcmp(a, "all")) o.touch = 1;
            else if (!strcmp(a, "none")) o.touch = 0;
            else { fprintf(stderr, "%s: --touch %s: expected all or none\n", prog, a); return 2; }
        } else if (!strcmp(a, "--pace")) o.pace = 1;
        else if (!strcmp(a, "--null")) null = 1;
        else if (!strcmp(a, "--strict")) o.strict = 1;
        else if (!strcmp(a, "--no-trace-env")) trace_env = 0;
        else if (!strcmp(a, "--no-progress")) o.progress = 0;
        else if (ARG("--checkpoints")) {
            char *end;
            o.checkpoints = strtoull(argv[++i], &end, 10);
            if (*end || !o.checkpoints) { fprintf(stderr, "%s: --checkpoints %s: expected a positive number\n", prog, argv[i]); return 2; }
        } else if (ARG("--sample")) {
            char *end;
            unsigned long const s = strtoul(argv[++i], &end, 10);
            if (*end || !s || (s & (s - 1)) || s > (1ul << 20)) { fprintf(stderr, "%s: --sample %s: expected a power of two\n", prog, argv[i]); return 2; }
            o.sample = (uint32_t)s;
        } else if (ARG("--csv")) o.csv = argv[++i];
        else if (ARG("--json")) o.json = argv[++i];
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "%s: unknown option %s (try --help)\n", prog, a); return 2; }
        else if (!o.trace) o.trace = a;
        else { fprintf(stderr, "%s: one trace at a time (%s and %s)\n", prog, o.trace, a); return 2; }
    }
    if (!o.trace) { usage(stderr); return 2; }
    if (o.pace && !o.threads) { fprintf(stderr, "%s: --pace needs --mode threads\n", prog); return 2; }
    if (!!o.checkpoints != !!o.csv) { fprintf(stderr, "%s: --checkpoints and --csv go together\n", prog); return 2; }
    if (o.checkpoints && o.threads) { fprintf(stderr, "%s: --checkpoints needs --mode serial\n", prog); return 2; }
    if (!isatty(2)) o.progress = 0;

    /* allocators */
    char *list = strdup(alloc ? alloc : (null ? "" : "glibc"));
    int cap = 2 + (int)strlen(list), n = 0;
    rp_run_t *runs = calloc((size_t)cap, sizeof *runs);
    if (!list || !runs) { fprintf(stderr, "%s: out of memory\n", prog); return 1; }
    if (null && parse_alloc((char[]){ "null" }, &runs[n++], genv, ngenv)) return 2;
    /* Items are split at commas, but an item that does not start with an
     * allocator's name or a path continues the previous item's setting
     * (MALLOC_CONF=narenas:1,dirty_decay_ms:0). */
    char *items[256];
    int ni = 0;
    for (char *it = list; it && *it && ni < 256;) {
        items[ni++] = it;
        char *comma = it;
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
    for (int k = 0; k < ni; k++)
        if (parse_alloc(items[k], &runs[n++], genv, ngenv)) return 2;
    if (!n) { fprintf(stderr, "%s: --alloc: no allocator named\n", prog); return 2; }
    int glibc_run = -1;
    for (int i = 0; i < n; i++)
        if (runs[i].kind == RP_ALLOC_GLIBC && glibc_run < 0) glibc_run = i;
    if (o.checkpoints && glibc_run < 0) { fprintf(stderr, "%s: --checkpoints needs glibc in --alloc\n", prog); return 2; }

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
        fprintf(stderr, "%s: %s: truncated (%s); replaying the %llu complete events\n", prog, o.trace, prep.warn,
                (unsigned long long)prep.events);
    if (prep.unknown_frees) {
        fprintf(stderr, "%s: %s: %s%llu frees/reallocs of pointers the trace never returned%s\n", prog, o.trace,
                o.strict ? "" : "warning: ", (unsigned long long)prep.unknown_frees,
                o.strict ? "" : " (skipped; a realloc of one is replayed as realloc(NULL, n))");
        if (o.strict) return 1;
    }
    if (!o.sample) /* about 2^17 timed ops at most: a timer read costs ~30-50 ns in a VM */
        for (o.sample = 1; o.sample < (1u << 20) && prep.events / o.sample > (1u << 17);) o.sample *= 2;
    /* the traced program's malloc settings, for glibc runs, under the explicit ones */
    for (int i = 0; i < n && trace_env; i++) {
        rp_run_t *const r = &runs[i];
        if (r->kind != RP_ALLOC_GLIBC) continue;
        for (int k = 0; k < prep.nenv && r->nenv < RP_MAX_ENV; k++) {
            size_t const nl = strcspn(prep.env[k], "=") + 1;
            int given = 0;
            for (int j = 0; j < r->nenv; j++) given |= !strncmp(r->env[j], prep.env[k], nl);
            if (!given) r->env[r->nenv++] = prep.env[k];
        }
    }
    int csv_fd = -1;
    if (o.csv && (csv_fd = open(o.csv, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.csv, strerror(errno));
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
    if (csv_fd >= 0) close(csv_fd);
    rp_print_table(stdout, &o, &prep, runs, n);
    if (o.json && rp_write_json(o.json, &o, &prep, runs, n)) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.json, strerror(errno));
        return 1;
    }
    if (failed) return 1;
    return prep.truncated ? 3 : 0;
}
