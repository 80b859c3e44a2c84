/* main.c - malloc-report: a trace -> a static HTML report with gnuplot charts
 * and the same summary as text; --folded for flame graphs; --diff A B. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

static const char *const prog = "malloc-report";

static void usage(FILE *f) {
    fprintf(f,
            "usage: malloc-report TRACE [-o DIR] [--alloc LIST] [--mode serial|threads] [--no-replay] [--no-sim]\n"
            "                     [--no-progress]\n"
            "         writes DIR/index.html (default TRACE-report/) with charts, and the summary as text\n"
            "         --alloc LIST  allocators for malloc-replay (default glibc,tcmalloc,jemalloc,mimalloc)\n"
            "         --mode serial|threads  malloc-replay's mode (default: threads for a trace of\n"
            "                       several threads, each replayed in a thread of its own; else serial)\n"
            "         --no-replay   do not run malloc-replay;  --no-sim  do not run malloc-sim\n"
            "       malloc-report --folded TRACE [--weight bytes|calls|peak|leaked|temporary] [-o FILE]\n"
            "         folded stacks (root first) for flame graph tools, weighted by bytes requested\n"
            "         (default), calls, bytes live at the peak, leaked bytes or temporary allocations\n"
            "       malloc-report --diff A B [-o DIR]\n"
            "         what changed between two traces of the same program; -o DIR adds a chart\n");
}

static int mkdirs(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

/* 0 if a file can be made in dir (a folder of /proc or a read-only mount
 * refuses one: said once, before any chart is drawn), else -1 with errno. */
static int writable_dir(const char *dir) {
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.malloc-report.%ld", dir, (long)getpid());
    int const fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    close(fd);
    unlink(probe);
    return 0;
}

typedef struct loaded_s {
    rp_agg_t g;
    tr_reader_t *r;
    rp_sym_t *s;
} loaded_t;

/* Reads and symbolizes a trace; prints the error and returns -1 on failure. */
static int load(const char *path, loaded_t *l, int progress) {
    char err[600];
    int truncated;
    if (rp_agg_init(&l->g) < 0) { fprintf(stderr, "%s: out of memory\n", prog); return -1; }
    if (rp_agg_file(path, &l->g, &l->r, progress, &truncated, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rp_agg_free(&l->g);
        return -1;
    }
    if (truncated) fprintf(stderr, "%s: %s: warning: %s\n", prog, path, strchr(err, ' ') ? strchr(err, ' ') + 1 : err);
    l->s = rp_sym_open(l->r);
    if (!l->s) {
        fprintf(stderr, "%s: out of memory\n", prog);
        tr_reader_close(l->r);
        rp_agg_free(&l->g);
        return -1;
    }
    return 0;
}

static void unload(loaded_t *l) {
    rp_sym_close(l->s);
    tr_reader_close(l->r);
    rp_agg_free(&l->g);
}

/* The last non-empty line of a log file, for a one-line reason. */
static void last_line(const char *log, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0]) snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

/* The error lines a tool wrote into its log ("TOOL: ...", but its warnings
 * and notices), joined by "; ": the reason, not the table's last line
 * (the log holds its standard output too). Falls back to the last line. */
static void error_lines(const char *log, const char *tool, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[1024];
    size_t const tl = strlen(tool);
    size_t used = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, tool, tl) || strncmp(line + tl, ": ", 2) || strstr(line, ": warning: ") ||
            strstr(line, "not passed to the runs"))
            continue;
        int const n = snprintf(out + used, cap - used, "%s%s", used ? "; " : "", line);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
    fclose(f);
    if (!out[0]) last_line(log, out, cap);
}

static void progress_msg(int on, const char *what) {
    if (on) fprintf(stderr, "%s: %s\n", prog, what);
}

static void run_replay(const rp_opts_t *o, const char *dir, rp_extern_t *x) {
    char tool[4096], json[4096], log[4096], err[512], why[512];
    if (rp_find_tool("malloc-replay", tool, sizeof tool) < 0) {
        snprintf(x->replay_note, sizeof x->replay_note,
                 "malloc-replay not found (next to malloc-report or on PATH): no measured comparison");
        return;
    }
    snprintf(json, sizeof json, "%s/replay.json", dir);
    snprintf(log, sizeof log, "%s/replay.log", dir);
    char *argv[] = { tool, (char *)o->trace, "--alloc", (char *)o->alloc_list, "--mode", (char *)x->replay_mode,
                     "--json", json, NULL };
    progress_msg(o->progress, "running malloc-replay (measured allocator comparison)...");
    unlink(json); /* a previous report's runs must not pass for this one's */
    int const st = rp_run(argv, log, err, sizeof err);
    if (st != 0 && st != 3) { /* 3: a truncated trace, its complete part replayed */
        error_lines(log, "malloc-replay", why, sizeof why);
        if (st == 1) { /* some runs failed: the others are in the JSON, and are shown */
            rj_t *const j = rj_parse_file(json, err, sizeof err);
            const rj_t *const runs = rj_get(j, "runs");
            if (runs && runs->len) {
                x->replay = j;
                snprintf(x->replay_note, sizeof x->replay_note, "some runs failed, the others are below: %s (log: %s)",
                         why[0] ? why : "no message", log);
                return;
            }
            rj_free(j);
        }
        if (st < 0) snprintf(x->replay_note, sizeof x->replay_note, "malloc-replay could not run: %s", err);
        else snprintf(x->replay_note, sizeof x->replay_note, "malloc-replay failed (exit status %d): %s (log: %s)",
                      st, why[0] ? why : "no message", log);
        return;
    }
    x->replay = rj_parse_file(json, err, sizeof err);
    if (!x->replay) snprintf(x->replay_note, sizeof x->replay_note, "malloc-replay's output unreadable: %s", err);
}

static void run_sim(const rp_opts_t *o, const char *dir, rp_extern_t *x) {
    char tool[4096], json[4096], log[4096], err[512], why[512];
    if (rp_find_tool("malloc-sim", tool, sizeof tool) < 0) {
        snprintf(x->sim_note, sizeof x->sim_note,
                 "malloc-sim not found (next to malloc-report or on PATH): no simulated footprints");
        return;
    }
    snprintf(json, sizeof json, "%s/sim.json", dir);
    snprintf(x->timeline, sizeof x->timeline, "%s/sim-timeline.csv", dir);
    snprintf(log, sizeof log, "%s/sim.log", dir);
    char *argv[] = { tool, (char *)o->trace, "--json", json, "--timeline", x->timeline, NULL };
    progress_msg(o->progress, "running malloc-sim (simulated allocator designs)...");
    int const st = rp_run(argv, log, err, sizeof err);
    if (st != 0 && st != 3) { /* 3: a truncated trace, its complete part simulated */
        x->timeline[0] = 0;
        error_lines(log, "malloc-sim", why, sizeof why);
        if (st < 0) snprintf(x->sim_note, sizeof x->sim_note, "malloc-sim could not run: %s", err);
        else snprintf(x->sim_note, sizeof x->sim_note, "malloc-sim failed (exit status %d): %s (log: %s)", st,
                      why[0] ? why : "no message", log);
        return;
    }
    x->sim = rj_parse_file(json, err, sizeof err);
    if (!x->sim) snprintf(x->sim_note, sizeof x->sim_note, "malloc-sim's output unreadable: %s", err);
}

/* What a report writes (and removes from an earlier report) in its folder. */
static const char *const k_charts[] = { "memory", "sim_timeline", "sizes", "rate", "lifetimes", "replay_time",
                                        "replay_rss", "replay_latency", "sim_models", NULL };
static const char *const k_diff_charts[] = { "diff_memory", NULL };
static const char *const k_exts[] = { ".png", ".svg", ".gp", ".gnuplot.log", NULL };
static const char *const k_files[] = { "replay.json", "replay.log", "sim.json", "sim.log", "sim-timeline.csv",
                                       "index.html", NULL };

/* Removes what an earlier report in dir wrote, so that nothing stale is shown. */
static void clean(const char *dir) {
    char path[4096];
    for (int i = 0; k_charts[i]; i++)
        for (int k = 0; k_exts[k]; k++) {
            snprintf(path, sizeof path, "%s/%s%s", dir, k_charts[i], k_exts[k]);
            unlink(path);
        }
    for (int i = 0; k_files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, k_files[i]);
        unlink(path);
    }
}

/* 1 (after printing the error) if writing charts/files named in dir would
 * overwrite the input trace. */
static int clobbers(const char *trace, const char *dir, const char *const *charts, const char *const *files) {
    char path[4096];
    for (int i = 0; charts && charts[i]; i++)
        for (int k = 0; k_exts[k]; k++) {
            snprintf(path, sizeof path, "%s/%s%s", dir, charts[i], k_exts[k]);
            if (tr_same_file(trace, path)) goto clash;
        }
    for (int i = 0; files && files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (tr_same_file(trace, path)) goto clash;
    }
    return 0;
clash:
    fprintf(stderr, "%s: %s: -o %s would overwrite the input trace\n", prog, trace, dir);
    return 1;
}

/* 0 if malloc-replay accepts the --alloc list (or cannot say: not found, or
 * an older tool), else prints its reason and returns -1. */
static int check_alloc(const char *list) {
    char tool[4096], out[600];
    if (rp_find_tool("malloc-replay", tool, sizeof tool) < 0) return 0;
    char *argv[] = { tool, "--check-options", "--alloc", (char *)list, NULL };
    if (rp_run_capture(argv, out, sizeof out) != 2 || strncmp(out, "malloc-replay: ", 15)) return 0;
    char *why = out + 15;
    size_t const n = strlen(why);
    if (n > 13 && !strcmp(why + n - 13, " (see --help)")) why[n - 13] = 0;
    if (!strncmp(why, "--alloc: ", 9)) why += 9;
    fprintf(stderr, "%s: --alloc: %s (see --help)\n", prog, why);
    return -1;
}

/* 1 (after saying so in one line) if a write to standard output failed. */
static int stdout_failed(void) {
    errno = 0;
    int const bad = ferror(stdout);
    if (fflush(stdout) == 0 && !bad) return 0;
    fprintf(stderr, "%s: standard output: %s\n", prog, strerror(errno ? errno : EIO));
    return 1;
}

static int cmd_report(rp_opts_t *o) {
    char dir[4096];
    int const from_stdin = strcmp(o->trace, "-") == 0;
    if (o->outdir) snprintf(dir, sizeof dir, "%s", o->outdir);
    else snprintf(dir, sizeof dir, "%s-report", from_stdin ? "stdin" : o->trace);
    if (clobbers(o->trace, dir, k_charts, k_files)) return 2;
    if (!o->no_replay && !from_stdin && check_alloc(o->alloc_list) < 0) return 2;
    loaded_t l;
    if (load(o->trace, &l, o->progress) < 0) return 1;
    if (mkdirs(dir) < 0) {
        fprintf(stderr, "%s: %s: cannot create the report folder: %s\n", prog, dir, strerror(errno));
        unload(&l);
        return 1;
    }
    if (writable_dir(dir) < 0) {
        fprintf(stderr, "%s: %s: cannot write in the report folder: %s\n", prog, dir, strerror(errno));
        unload(&l);
        return 1;
    }
    clean(dir);
    rp_extern_t x;
    memset(&x, 0, sizeof x);
    /* A trace of several threads is replayed with a thread per recorded
     * thread unless told otherwise: one replay thread makes thread-related
     * settings (MALLOC_ARENA_MAX, per-thread caches) meaningless. */
    x.threads = l.g.nthreads;
    x.mode_given = o->mode != NULL;
    x.replay_mode = o->mode ? o->mode : l.g.nthreads > 1 ? "threads" : "serial";
    if (o->no_replay) snprintf(x.replay_note, sizeof x.replay_note, "replay skipped (--no-replay)");
    else if (from_stdin) snprintf(x.replay_note, sizeof x.replay_note, "trace read from standard input: no replay");
    else run_replay(o, dir, &x);
    if (o->no_sim) snprintf(x.sim_note, sizeof x.sim_note, "simulation skipped (--no-sim)");
    else if (from_stdin) snprintf(x.sim_note, sizeof x.sim_note, "trace read from standard input: no simulation");
    else run_sim(o, dir, &x);
    rp_plot_t p;
    if (rp_plot_init(&p) == 0) {
        progress_msg(o->progress, "drawing charts with gnuplot...");
        rp_charts(&p, dir, &l.g, &x);
    }
    if (!p.gnuplot[0] || p.failed) fprintf(stderr, "%s: warning: %s\n", prog, p.why);
    char err[600];
    int rc = rp_write_report(o, &l.g, l.r, l.s, &x, &p, stdout, dir, err, sizeof err);
    if (rc < 0) fprintf(stderr, "%s: %s\n", prog, err);
    if (stdout_failed()) rc = -1;
    if (rc == 0) fprintf(stderr, "%s: report written to %s/index.html\n", prog, dir);
    rj_free(x.replay);
    rj_free(x.sim);
    unload(&l);
    return rc < 0 ? 1 : 0;
}

static int cmd_folded(const char *trace, int by, const char *out, int progress) {
    if (out && tr_same_file(trace, out)) {
        fprintf(stderr, "%s: %s: -o would overwrite the input trace\n", prog, out);
        return 2;
    }
    loaded_t l;
    if (load(trace, &l, progress) < 0) return 1;
    tr_out_t o; /* -o FILE appears whole or not at all; "-" is standard output */
    if (tr_out_open(&o, out ? out : "-") != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, out, strerror(errno));
        unload(&l);
        return 1;
    }
    int rc = rp_folded(&l.g, l.r, l.s, by, o.f);
    if (rc < 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        tr_out_abort(&o);
    } else if (tr_out_commit(&o) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, out ? out : "standard output", strerror(errno));
        rc = -1;
    }
    unload(&l);
    return rc < 0 ? 1 : 0;
}

static int cmd_diff(const char *a, const char *b, const char *dir, int progress) {
    if (dir && (clobbers(a, dir, k_diff_charts, NULL) || clobbers(b, dir, k_diff_charts, NULL))) return 2;
    loaded_t la, lb;
    if (load(a, &la, progress) < 0) return 1;
    if (load(b, &lb, progress) < 0) { unload(&la); return 1; }
    int rc = rp_diff(a, &la.g, la.r, la.s, b, &lb.g, lb.r, lb.s, stdout);
    if (rc < 0) fprintf(stderr, "%s: out of memory\n", prog);
    if (rc == 0 && dir) {
        rp_plot_t p;
        int const made = mkdirs(dir) == 0;
        if (!made || writable_dir(dir) < 0) {
            fprintf(stderr, "%s: %s: cannot %s the folder: %s\n", prog, dir, made ? "write in" : "create", strerror(errno));
            rc = -1;
        } else if (rp_plot_init(&p) < 0 || rp_chart_diff(&p, dir, &la.g, &lb.g, a, b) < 0) {
            fprintf(stderr, "%s: warning: %s\n", prog, p.why[0] ? p.why : "no chart");
        } else {
            printf("\n[chart: %s/diff_memory.png]\n", dir);
        }
    }
    if (stdout_failed()) rc = -1;
    unload(&la);
    unload(&lb);
    return rc < 0 ? 1 : 0;
}

/* An option error: one line with the reason, exit 2. */
static int bad_usage(const char *what, const char *arg) {
    fprintf(stderr, "%s: %s%s (see --help)\n", prog, what, arg ? arg : "");
    return 2;
}

int main(int argc, char **argv) {
    /* A closed pipe on standard output (malloc-report T | head) is a failed
     * write like any other, reported once the report's files are written,
     * not a death by SIGPIPE that leaves index.html.tmp.<pid> (as
     * malloc-replay and malloc-sim). The tools run from here inherit it. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit: EFBIG, reported and cleaned up like a full disk */
    rp_opts_t o = { .alloc_list = "glibc,tcmalloc,jemalloc,mimalloc", .progress = 1 };
    const char *pos[2] = { NULL, NULL }, *weight = "bytes";
    const char *report_only = NULL, *weight_opt = NULL; /* options of one mode, if given */
    int npos = 0, folded = 0, diff = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int const has_arg = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return stdout_failed();
        }
        else if (strcmp(a, "--version") == 0) { printf("malloc-report %s\n", MS_VERSION); return stdout_failed(); }
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--alloc") == 0 || strcmp(a, "--weight") == 0 ||
                 strcmp(a, "--mode") == 0) {
            if (!has_arg) { fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, a); return 2; }
            const char *const v = argv[++i];
            if (a[1] == 'o') o.outdir = v;
            else if (a[2] == 'a') o.alloc_list = v, report_only = a;
            else if (a[2] == 'm') o.mode = v, report_only = a;
            else weight = v, weight_opt = a;
        } else if (strcmp(a, "--no-replay") == 0) o.no_replay = 1, report_only = a;
        else if (strcmp(a, "--no-sim") == 0) o.no_sim = 1, report_only = a;
        else if (strcmp(a, "--no-progress") == 0) o.progress = 0;
        else if (strcmp(a, "--folded") == 0) folded = 1;
        else if (strcmp(a, "--diff") == 0) diff = 1;
        else if (a[0] == '-' && a[1]) return bad_usage("unknown option ", a);
        else if (npos < 2) pos[npos++] = a;
        else return bad_usage("too many arguments: ", a);
    }
    o.progress = o.progress && isatty(2);
    if (folded + diff > 1) return bad_usage("--folded and --diff exclude each other", NULL);
    /* an option that means nothing in the mode chosen is an error, not ignored */
    if (report_only && (folded || diff)) {
        fprintf(stderr, "%s: %s has no meaning with %s (see --help)\n", prog, report_only,
                folded ? "--folded" : "--diff");
        return 2;
    }
    if (weight_opt && !folded) return bad_usage("--weight is only for --folded", NULL);
    if (o.mode && strcmp(o.mode, "serial") && strcmp(o.mode, "threads")) {
        fprintf(stderr, "%s: --mode takes serial or threads, not '%s' (see --help)\n", prog, o.mode);
        return 2;
    }
    static const char *const weights[] = { "bytes", "calls", "peak", "leaked", "temporary", NULL };
    int by = -1;
    for (int i = 0; weights[i]; i++)
        if (strcmp(weight, weights[i]) == 0) by = i;
    if (by < 0) {
        fprintf(stderr, "%s: --weight takes bytes, calls, peak, leaked or temporary, not '%s' (see --help)\n", prog,
                weight);
        return 2;
    }
    if (diff) {
        if (npos != 2) return bad_usage("--diff takes two traces", NULL);
        return cmd_diff(pos[0], pos[1], o.outdir, o.progress);
    }
    if (npos != 1) return bad_usage(npos ? "one trace at a time" : "no trace given", NULL);
    if (folded) return cmd_folded(pos[0], by, o.outdir, o.progress);
    o.trace = pos[0];
    return cmd_report(&o);
}
