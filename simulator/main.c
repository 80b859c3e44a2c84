/* main.c - malloc-sim: predicts what allocators would do with a recorded
 * malloc trace (the command line; the models and the driver are sim.h). */
#include "report.h"
#include "sim.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog = "malloc-sim";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s TRACE [options]\n"
            "Simulates allocators on a malloc trace and prints a fragmentation report.\n"
            "  --model LIST        ptmalloc2,buddy,jemalloc,tcmalloc,mimalloc or all (default all)\n"
            "  --json FILE         the report as JSON\n"
            "  --checkpoints N --csv FILE   ptmalloc2's mallinfo2 every N ops and a final row\n"
            "                      (op,arena,hblkhd,uordblks,fordblks,keepcost)\n"
            "  --timeline FILE     CSV of op,t_ns,live_bytes,<model>_footprint... (<= 2000 rows)\n"
            "  --tune LIST         ptmalloc2 tunables over the trace's environment, e.g.\n"
            "                      mmap_threshold=1M,trim_threshold=256K,top_pad=0,mxfast=64,\n"
            "                      arena_max=2,tcache_count=0\n"
            "  --serial            ptmalloc2: every op on one thread (as malloc-replay --mode serial)\n"
            "  --buddy-min BYTES   buddy minimum block, a power of two in 16..4096 (default 16)\n"
            "  --buddy-max-order K buddy maximum order (default 16: 1 MiB blocks of 16 B)\n"
            "  --threads 1|2       everything in one thread, or the models shared with a second\n"
            "                      thread by their cost (default: 2 when the process may use 2 CPUs\n"
            "                      or more; the same results either way)\n"
            "  --no-progress       no progress bar on a terminal\n"
            "exit status: 0 ok, 1 error, 2 usage, 3 truncated trace (its complete part simulated,\n"
            "as malloc-replay does)\n",
            prog);
}

typedef struct ctx_s {
    tr_out_t csv_out; /* --csv: its f while open */
    sim_model_t *ptm;
    uint64_t file_size;
    int progress_shown;
} ctx_t;

static void on_checkpoint(void *c, uint64_t op, int final)
{
    ctx_t *x = c;
    uint64_t mi[5];
    x->ptm->mallinfo(x->ptm->opaque, mi);
    if (final)
        fprintf(x->csv_out.f, "final");
    else
        fprintf(x->csv_out.f, "%llu", (unsigned long long)op);
    for (int i = 0; i < 5; i++)
        fprintf(x->csv_out.f, ",%llu", (unsigned long long)mi[i]);
    fputc('\n', x->csv_out.f);
}

static void on_progress(void *c, uint64_t events, uint64_t file_bytes)
{
    ctx_t *x = c;
    if (x->file_size) {
        int pct = (int)(100.0 * (double)file_bytes / (double)x->file_size);
        int bar = pct / 4;
        fprintf(stderr, "\r%s: [%.*s%*s] %3d%% %llu M events", prog, bar,
                "=========================", 25 - bar, "", pct > 100 ? 100 : pct,
                (unsigned long long)(events >> 20));
    } else {
        fprintf(stderr, "\r%s: %llu M events", prog, (unsigned long long)(events >> 20));
    }
    x->progress_shown = 1;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') {
        fprintf(stderr, "%s: %s %s: expected a non-negative number\n", prog, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Opens an output that appears whole or not at all (see tr_out_open). */
static int open_out(tr_out_t *o, const char *path)
{
    if (tr_out_open(o, path) == 0)
        return 0;
    fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
    return -1;
}

/* Commits an output, reporting a write that failed on the way (ENOSPC,
 * EFBIG...): the output is removed then and the target keeps what it had. */
static int close_out(tr_out_t *o)
{
    if (!o->f)
        return 0;
    if (tr_out_commit(o) != 0) {
        fprintf(stderr, "%s: %s: write failed: %s\n", prog, o->path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Standard output is closed by exit: check its writes here. */
static int check_stdout(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "%s: standard output: %s\n", prog, strerror(errno ? errno : EIO));
    return -1;
}

int main(int argc, char **argv)
{
    const char *trace = NULL, *json = NULL, *csv = NULL, *timeline = NULL, *tune = NULL;
    const char *models = "all";
    uint64_t checkpoints = 0, bmin = 16, bmax = 16, threads = 0;
    int serial = 0, progress = 1;
    /* a closed pipe on standard output (malloc-sim T --json F | head) is a
     * failed write like any other (check_stdout), not a death by SIGPIPE
     * before the other outputs are written */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit: EFBIG, reported and cleaned up like a full disk */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
#define OPT(name) (!strcmp(a, name) && (has || (fprintf(stderr, "%s: %s needs a value\n", prog, name), exit(2), 0)))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("%s %s\n", prog, MS_VERSION);
            return 0;
        } else if (OPT("--model")) {
            models = argv[++i];
        } else if (OPT("--json")) {
            json = argv[++i];
        } else if (OPT("--csv")) {
            csv = argv[++i];
        } else if (OPT("--timeline")) {
            timeline = argv[++i];
        } else if (OPT("--tune")) {
            tune = argv[++i];
        } else if (OPT("--checkpoints")) {
            if (parse_u64(a, argv[++i], &checkpoints))
                return 2;
            if (!checkpoints) {
                fprintf(stderr, "%s: --checkpoints 0: expected a positive number\n", prog);
                return 2;
            }
        } else if (OPT("--buddy-min")) {
            if (parse_u64(a, argv[++i], &bmin))
                return 2;
        } else if (OPT("--buddy-max-order")) {
            if (parse_u64(a, argv[++i], &bmax))
                return 2;
        } else if (!strcmp(a, "--serial")) {
            serial = 1;
        } else if (OPT("--threads")) {
            if (parse_u64(a, argv[++i], &threads))
                return 2;
            if (threads < 1 || threads > 2) {
                fprintf(stderr, "%s: --threads %llu: expected 1 or 2\n", prog, (unsigned long long)threads);
                return 2;
            }
        } else if (!strcmp(a, "--no-progress")) {
            progress = 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", prog, a);
            return 2;
        } else if (!trace) {
            trace = a;
        } else {
            fprintf(stderr, "%s: one trace only (%s and %s)\n", prog, trace, a);
            return 2;
        }
    }
    if (!trace) {
        usage(stderr);
        return 2;
    }
    {
        const char *const outs[] = { json, csv, timeline };
        const char *const names[] = { "--json", "--csv", "--timeline" };
        for (int k = 0; k < 3; k++) {
            if (outs[k] && tr_same_file(trace, outs[k])) {
                fprintf(stderr, "%s: %s: %s would overwrite the input trace\n", prog, outs[k], names[k]);
                return 2;
            }
            for (int j = 0; j < k; j++) /* one would replace the other */
                if (outs[j] && outs[k] && (!strcmp(outs[j], outs[k]) || tr_same_file(outs[j], outs[k]))) {
                    fprintf(stderr, "%s: %s and %s name the same file (%s)\n", prog, names[j], names[k], outs[k]);
                    return 2;
                }
        }
    }
    {
        /* the models' parameters, before the trace is read: usage errors */
        char err[256];
        if (sim_buddy_check(bmin, bmax, err, sizeof err) ||
            (tune && sim_ptmalloc2_tune_check(tune, err, sizeof err))) {
            fprintf(stderr, "%s: %s\n", prog, err);
            return 2;
        }
    }
    if (!!checkpoints != !!csv) {
        fprintf(stderr, "%s: --checkpoints and --csv go together\n", prog);
        return 2;
    }

    /* which models */
    static const char *const all[] = { "ptmalloc2", "buddy", "jemalloc", "tcmalloc", "mimalloc" };
    int want[5] = { 0 };
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", models);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int ok = 0;
            for (int k = 0; k < 5; k++)
                if (!strcmp(t, all[k]) || !strcmp(t, "all")) {
                    want[k] = 1;
                    ok = 1;
                }
            if (!ok) {
                fprintf(stderr, "%s: --model %s: expected ptmalloc2, buddy, jemalloc, tcmalloc, "
                                "mimalloc or all\n", prog, t);
                return 2;
            }
        }
        if (!want[0] && !want[1] && !want[2] && !want[3] && !want[4]) {
            fprintf(stderr, "%s: --model '%s': no model named\n", prog, models);
            return 2;
        }
        if (!strcmp(models, "all") && !sim_have_ptmalloc2())
            want[0] = 0;
    }
    if (checkpoints && !want[0]) {
        fprintf(stderr, "%s: --checkpoints needs the ptmalloc2 model\n", prog);
        return 2;
    }

    tr_error_t terr;
    tr_reader_t *r = tr_reader_open(trace, &terr);
    if (!r) {
        fprintf(stderr, "%s: %s: %s\n", prog, trace, terr.msg);
        return 1;
    }
    const tr_header_t *h = tr_reader_header(r);

    sim_model_t ms[5];
    unsigned n = 0;
    char err[256];
    int rc = 1;
    for (int k = 0; k < 5; k++) {
        if (!want[k])
            continue;
        int bad;
        if (k == 0)
            bad = sim_model_ptmalloc2(&ms[n], h->env, h->nenv, tune, serial, h->ncpu, err,
                                      sizeof err);
        else if (k == 1)
            bad = sim_model_buddy(&ms[n], bmin, (unsigned)bmax, err, sizeof err);
        else
            bad = sim_model_sizeclass(&ms[n], (sim_sc_kind_t)(k - 2), err, sizeof err);
        if (bad) {
            fprintf(stderr, "%s: %s\n", prog, err);
            goto out;
        }
        n++;
    }

    ctx_t x = { 0 };
    struct stat st;
    if (strcmp(trace, "-") && !stat(trace, &st))
        x.file_size = (uint64_t)st.st_size;
    sim_run_t run = { .models = ms, .nmodels = n, .ctx = &x };
    if (checkpoints) {
        if (open_out(&x.csv_out, csv))
            goto out;
        fprintf(x.csv_out.f, "op,arena,hblkhd,uordblks,fordblks,keepcost\n");
        run.checkpoint_every = checkpoints;
        run.checkpoint = on_checkpoint;
        x.ptm = &ms[0];
    }
    if (progress && isatty(2))
        run.progress = on_progress;
    if (timeline)
        run.timeline_rows = 2000;
    run.threads = (unsigned)threads;
    tr_reader_prefetch(r); /* decodes in a thread of its own only from 3 CPUs */
    int bad = sim_run(&run, r);
    if (x.progress_shown)
        fprintf(stderr, "\r%60s\r", "");
    if (bad) {
        fprintf(stderr, "%s: %s: %s\n", prog, trace, run.err);
        tr_out_abort(&x.csv_out);
        sim_run_free(&run);
        goto out;
    }
    rc = run.truncated ? 3 : 0;
    if (close_out(&x.csv_out))
        rc = 1;
    if (run.truncated)
        fprintf(stderr, "%s: %s: truncated (%s): simulated the %llu events it holds\n", prog,
                trace, run.err, (unsigned long long)run.events);
    sim_report_text(stdout, trace, &run);
    if (check_stdout())
        rc = 1;
    if (json) {
        tr_out_t o;
        if (open_out(&o, json))
            rc = 1;
        else if (sim_report_json(o.f, trace, &run), close_out(&o)) /* the commit sees a failed write */
            rc = 1;
    }
    if (timeline) {
        tr_out_t o;
        if (open_out(&o, timeline))
            rc = 1;
        else if (sim_report_timeline(o.f, &run), close_out(&o)) /* the commit sees a failed write */
            rc = 1;
    }
    sim_run_free(&run);
out:
    for (unsigned k = 0; k < n; k++)
        ms[k].destroy(ms[k].opaque);
    tr_reader_close(r);
    return rc;
}
