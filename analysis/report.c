/* report.c - the report itself, written twice from the same numbers: as text
 * (stdout) and as DIR/index.html around the charts. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report.h"

#define TOP_SITES 10

typedef struct out_s { FILE *t, *h; const rp_plot_t *plot; const char *dir; } out_t;

/* "1.5 MiB (1572864 B)" or "600 B" */
static char *bytes_exact(char *buf, size_t cap, uint64_t b) {
    char x[32];
    if (b < 10240) snprintf(buf, cap, "%" PRIu64 " B", b);
    else snprintf(buf, cap, "%s (%" PRIu64 " B)", rp_fmt_bytes(x, sizeof x, (double)b), b);
    return buf;
}

static void section(out_t *o, const char *id, const char *title) {
    fprintf(o->t, "\n== %s\n", title);
    fprintf(o->h, "<h2 id=\"%s\">", id);
    rp_html_esc(o->h, title);
    fprintf(o->h, "</h2>\n");
}

/* A key/value line: text "key:   value", HTML a row of the current <table class=kv>. */
static void kv(out_t *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kv(out_t *o, const char *key, const char *fmt, ...) {
    char v[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    fprintf(o->t, "%-22s %s\n", key, v);
    fprintf(o->h, "<tr><th>");
    rp_html_esc(o->h, key);
    fprintf(o->h, "</th><td>");
    rp_html_esc(o->h, v);
    fprintf(o->h, "</td></tr>\n");
}

static void note(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(out_t *o, const char *fmt, ...) {
    char v[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    fprintf(o->t, "note: %s\n", v);
    fprintf(o->h, "<p class=\"note\">");
    rp_html_esc(o->h, v);
    fprintf(o->h, "</p>\n");
}

/* An <img> of DIR/name.svg when the chart was drawn. */
static void figure(out_t *o, const char *name, const char *alt) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.svg", o->dir, name);
    if (stat(path, &sb) != 0) return;
    fprintf(o->h, "<figure><a href=\"%s.png\"><img src=\"%s.svg\" alt=\"", name, name);
    rp_html_esc(o->h, alt);
    fprintf(o->h, "\"></a></figure>\n");
    fprintf(o->t, "[chart: %s/%s.png]\n", o->dir, name);
}

/* Simple tables: header cells then rows; text columns padded to widths. */
static void thead(out_t *o, int n, const int *w, const char *const *cells) {
    fprintf(o->h, "<table class=\"grid\"><tr>");
    for (int i = 0; i < n; i++) {
        fprintf(o->t, i ? " %*s" : "%-*s", i ? w[i] : w[0], cells[i]);
        fprintf(o->h, "<th>");
        rp_html_esc(o->h, cells[i]);
        fprintf(o->h, "</th>");
    }
    fprintf(o->t, "\n");
    fprintf(o->h, "</tr>\n");
}

static void trow(out_t *o, int n, const int *w, const char *const *cells) {
    fprintf(o->h, "<tr>");
    for (int i = 0; i < n; i++) {
        fprintf(o->t, i ? " %*s" : "%-*s", i ? w[i] : w[0], cells[i]);
        fprintf(o->h, i ? "<td class=\"n\">" : "<td>");
        rp_html_esc(o->h, cells[i]);
        fprintf(o->h, "</td>");
    }
    fprintf(o->t, "\n");
    fprintf(o->h, "</tr>\n");
}

static void tend(out_t *o) { fprintf(o->h, "</table>\n"); }

static void overview(out_t *o, const rp_agg_t *g, const tr_reader_t *r, const char *trace) {
    const tr_header_t *h = tr_reader_header(r);
    const tr_end_t *end = tr_reader_end(r);
    char a[64], b[64], c[64];
    section(o, "overview", "Overview");
    fprintf(o->h, "<table class=\"kv\">\n");
    kv(o, "trace:", "%s", trace);
    char cmd[1024] = "";
    size_t n = 0;
    for (size_t i = 0; i < h->argc && n + 2 < sizeof cmd; i++) {
        int const w = snprintf(cmd + n, sizeof cmd - n, "%s%s", i ? " " : "", h->argv[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
    kv(o, "program:", "%s", h->argc ? cmd : h->exe && *h->exe ? h->exe : "?");
    kv(o, "process:", "pid %u, glibc %s, %u CPUs, recorded by %s", h->pid,
       h->glibc_version && *h->glibc_version ? h->glibc_version : "?", h->ncpu, h->tool ? h->tool : "?");
    if (end) {
        static const char *const why[] = { "exit", "_exit", "fatal signal", "exec", "recorder error",
                                           "closed by a tool" };
        kv(o, "end:", "%s (status %d), %" PRIu64 " events lost by the recorder",
           end->reason < 6 ? why[end->reason] : "unknown", end->status, end->dropped);
    } else {
        kv(o, "end:", "no END record: the trace was cut short; every complete event was used");
    }
    kv(o, "events:", "%s over %s, %zu thread%s", rp_fmt_count(a, sizeof a, g->events),
       rp_fmt_ns(b, sizeof b, (double)(g->last_t - g->first_t)), g->nthreads, g->nthreads == 1 ? "" : "s");
    char ops[512] = "";
    n = 0;
    for (int op = TR_OP_MALLOC; op <= TR_OP_PVALLOC; op++) {
        if (!g->alloc_ops[op] || n + 2 >= sizeof ops) continue;
        int const w = snprintf(ops + n, sizeof ops - n, "%s%s %" PRIu64, n ? ", " : "", tr_op_name(op),
                               g->alloc_ops[op]);
        if (w > 0) n += (size_t)w;
    }
    kv(o, "allocation calls:", "%" PRIu64 " (%s)%s", g->alloc_calls, n ? ops : "none",
       g->failed_allocs ? ", some returned NULL" : "");
    if (g->failed_allocs) kv(o, "failed allocations:", "%" PRIu64, g->failed_allocs);
    if (g->unknown_reallocs)
        kv(o, "unknown reallocs:", "%" PRIu64 " of a pointer the trace never allocated", g->unknown_reallocs);
    char rf[64] = "";
    if (g->realloc_frees) snprintf(rf, sizeof rf, ", %" PRIu64 " by realloc(p, 0)", g->realloc_frees);
    kv(o, "free calls:", "%" PRIu64 " (%" PRIu64 " of NULL, %" PRIu64 " of a pointer the trace never allocated%s)",
       g->ops[TR_OP_FREE] + g->realloc_frees, g->free_null, g->unknown_frees, rf);
    kv(o, "bytes requested:", "%s", bytes_exact(a, sizeof a, g->alloc_bytes));
    /* Times as FORMAT.md defines them (and malloc-trace info prints them): from
     * the start of the recording, not from the first event; none when the trace
     * has no times (an mtrace() log). */
    if (g->last_t == g->first_t && g->events > 1)
        kv(o, "peak live:", "%s in %" PRIu64 " blocks at seq %" PRIu64 " (the trace has no times)",
           bytes_exact(a, sizeof a, g->peak), g->peak_n, g->peak_seq);
    else
        kv(o, "peak live:", "%s in %" PRIu64 " blocks at %s from the start of the recording (seq %" PRIu64 ")",
           bytes_exact(a, sizeof a, g->peak), g->peak_n, rp_fmt_ns(b, sizeof b, (double)g->peak_t), g->peak_seq);
    kv(o, "leaked (live at end):", "%s in %" PRIu64 " blocks", bytes_exact(a, sizeof a, g->live), g->live_n);
    kv(o, "temporary:", "%" PRIu64 " allocations (%.1f%% of calls) freed right after, nothing allocated or "
       "freed in between by their thread (a realloc counts as free + malloc, as in heaptrack)", g->temporary,
       g->alloc_calls ? 100.0 * (double)g->temporary / (double)g->alloc_calls : 0.0);
    double const dur = (double)(g->last_t - g->first_t) / 1e9;
    if (dur > 0)
        kv(o, "allocation rate:", "%s calls/s, %s/s", rp_fmt_count(c, sizeof c, (uint64_t)((double)g->alloc_calls / dur)),
           rp_fmt_bytes(b, sizeof b, (double)g->alloc_bytes / dur));
    fprintf(o->h, "</table>\n");
}

/* How malloc-replay ran the trace, from its JSON (else what it was asked). */
static void replay_mode(out_t *o, const rp_extern_t *x) {
    const rj_t *runs = rj_get(x->replay, "runs");
    const char *mode = rj_str(rj_get(runs ? runs->child : NULL, "mode"), x->replay_mode);
    if (!mode || !runs || !runs->len) return;
    if (strcmp(mode, "threads") == 0)
        kv(o, "replay mode:", "threads: each of the trace's %zu threads replayed in a thread of its own%s", x->threads,
           x->mode_given ? " (--mode threads)" : " (the default for a trace of several threads)");
    else if (x->threads > 1)
        kv(o, "replay mode:", "serial%s: the ops of the trace's %zu threads replayed one by one in a single thread, "
           "so thread-related settings (MALLOC_ARENA_MAX, thread caches) cannot show", x->mode_given ? " (--mode serial)" : "",
           x->threads);
    else
        kv(o, "replay mode:", "%s: the trace's ops in one thread, in trace order", mode);
}

static void memory(out_t *o, const rp_agg_t *g, const rp_extern_t *x) {
    section(o, "memory", "Memory over time");
    figure(o, "memory", "memory over time");
    fprintf(o->h, "<table class=\"kv\">\n");
    char a[64];
    kv(o, "peak live requested:", "%s", bytes_exact(a, sizeof a, g->peak));
    const rj_t *models = rj_get(x->sim, "models");
    for (const rj_t *m = models ? models->child : NULL; m; m = m->next)
        if (strcmp(rj_str(rj_get(m, "model"), ""), "ptmalloc2") == 0)
            kv(o, "glibc footprint (sim):", "peak %s, final %s",
               bytes_exact(a, sizeof a, (uint64_t)rj_num(rj_path(m, "peak.footprint_bytes"), 0)),
               rp_fmt_bytes((char[32]){ 0 }, 32, rj_num(rj_path(m, "final.footprint_bytes"), 0)));
    const rj_t *runs = rj_get(x->replay, "runs");
    for (const rj_t *r = runs ? runs->child : NULL; r; r = r->next) {
        char key[64];
        snprintf(key, sizeof key, "%s RSS (replay):", rj_str(rj_get(r, "allocator"), "?"));
        kv(o, key, "peak %s, final %s", bytes_exact(a, sizeof a, (uint64_t)rj_num(rj_get(r, "peak_rss_bytes"), 0)),
           rp_fmt_bytes((char[32]){ 0 }, 32, rj_num(rj_get(r, "final_rss_bytes"), 0)));
    }
    replay_mode(o, x);
    fprintf(o->h, "</table>\n");
    figure(o, "sim_timeline", "simulated footprints over time");
}

/* Log2 buckets from the first non-empty one to the last. Lifetimes
 * (is_time) whose times are multiples of res: buckets that cannot hold
 * such a value are left out, and bucket 0 reads "<res". */
static void histogram(out_t *o, const uint64_t *cnt, const uint64_t *bytes, int is_time, uint64_t res,
                      const char *what) {
    uint64_t total = 0;
    int lo = RP_HIST, hi = -1;
    for (int k = 0; k < RP_HIST; k++) {
        total += cnt[k];
        if (cnt[k]) { if (k < lo) lo = k; hi = k; }
    }
    int const w[] = { 14, 12, 8, 14 };
    const char *const head[] = { what, "blocks", "share", "bytes" };
    thead(o, bytes ? 4 : 3, w, head);
    for (int k = lo; k <= hi; k++) {
        char lab[40], c[32], s[16], b[32];
        if (is_time && rp_life_void(k, res) && !cnt[k]) continue;
        if (is_time) rp_life_label(lab, sizeof lab, k, res);
        else rp_hist_label(lab, sizeof lab, k, 0);
        snprintf(c, sizeof c, "%" PRIu64, cnt[k]);
        snprintf(s, sizeof s, "%.1f%%", total ? 100.0 * (double)cnt[k] / (double)total : 0.0);
        if (bytes) rp_fmt_bytes(b, sizeof b, (double)bytes[k]);
        const char *const cells[] = { lab, c, s, b };
        trow(o, bytes ? 4 : 3, w, cells);
    }
    tend(o);
}

static void sizes_and_rate(out_t *o, const rp_agg_t *g) {
    section(o, "sizes", "Allocation sizes");
    figure(o, "sizes", "allocation size histogram");
    histogram(o, g->size_n, g->size_b, 0, 0, "size (bytes)");
    section(o, "rate", "Allocation rate");
    figure(o, "rate", "allocation rate over time");
    int const w[] = { 12, 14, 14, 10 };
    const char *const head[] = { "thread", "events", "allocations", "share" };
    thead(o, 4, w, head);
    /* busiest threads first; ties in order of appearance */
    size_t *ord = malloc((g->nthreads ? g->nthreads : 1) * sizeof *ord);
    size_t const shown = g->nthreads < 32 ? g->nthreads : 32;
    for (size_t i = 0; ord && i < g->nthreads; i++) ord[i] = i;
    for (size_t i = 0; ord && i < shown; i++) { /* partial selection sort: 32 rows at most */
        size_t best = i;
        for (size_t j = i + 1; j < g->nthreads; j++)
            if (g->threads[ord[j]].allocs > g->threads[ord[best]].allocs ||
                (g->threads[ord[j]].allocs == g->threads[ord[best]].allocs && ord[j] < ord[best]))
                best = j;
        size_t const tmp = ord[i]; ord[i] = ord[best]; ord[best] = tmp;
    }
    for (size_t i = 0; ord && i < shown; i++) {
        const rp_thread_t *t = &g->threads[ord[i]];
        char a[16], b[32], c[32], d[16];
        snprintf(a, sizeof a, "%u", t->tid);
        snprintf(b, sizeof b, "%" PRIu64, t->events);
        snprintf(c, sizeof c, "%" PRIu64, t->allocs);
        snprintf(d, sizeof d, "%.1f%%", g->alloc_calls ? 100.0 * (double)t->allocs / (double)g->alloc_calls : 0.0);
        const char *const cells[] = { a, b, c, d };
        trow(o, 4, w, cells);
    }
    free(ord);
    tend(o);
    if (g->nthreads > 32) note(o, "%zu more threads not listed", g->nthreads - 32);
}

static void lifetimes(out_t *o, const rp_agg_t *g) {
    section(o, "lifetimes", "Lifetimes");
    figure(o, "lifetimes", "lifetime histogram");
    fprintf(o->h, "<table class=\"kv\">\n");
    char a[32], r[24];
    kv(o, "temporary:", "%" PRIu64 " of %" PRIu64 " allocation calls (%.1f%%), mean lifetime %s", g->temporary,
       g->alloc_calls, g->alloc_calls ? 100.0 * (double)g->temporary / (double)g->alloc_calls : 0.0,
       rp_fmt_ns(a, sizeof a, g->temporary ? (double)g->temp_life_ns / (double)g->temporary : 0));
    kv(o, "never freed:", "%" PRIu64 " blocks", g->live_n);
    /* the recorder rounds times down (malloc-record --time-res, 1 us by
     * default): a lifetime is a difference of two rounded times */
    if (g->time_res > 1)
        kv(o, "time resolution:", "%s (every event time is a multiple of it): a shorter lifetime reads as 0, "
           "and each lifetime, like their mean, is off by less than it", rp_fmt_res(r, sizeof r, g->time_res));
    fprintf(o->h, "</table>\n");
    histogram(o, g->life_n, NULL, 1, g->time_res, "lifetime");
}

static void sites(out_t *o, const rp_agg_t *g, tr_reader_t *r, rp_sym_t *s) {
    static const char *const titles[] = { "Top allocation sites by bytes live at the peak",
                                          "Top allocation sites by number of calls",
                                          "Top allocation sites by leaked bytes (live at the end)",
                                          "Top allocation sites by temporary allocations" };
    static const char *const ids[] = { "sites-peak", "sites-calls", "sites-leaked", "sites-temporary" };
    rp_row_t rows[TOP_SITES];
    for (int key = 0; key < 4; key++) {
        section(o, ids[key], titles[key]);
        size_t const n = rp_top_sites(g, key, rows, TOP_SITES);
        if (!n) { note(o, "none"); continue; }
        fprintf(o->h, "<table class=\"grid sites\"><tr><th>#</th><th>at peak</th><th>calls</th>"
                      "<th>requested</th><th>leaked</th><th>temporary</th><th>stack (innermost first)</th></tr>\n");
        fprintf(o->t, "%3s %12s %10s %12s %12s %9s  %s\n", "#", "at peak", "calls", "requested", "leaked",
                "temporary", "stack (innermost first)");
        for (size_t i = 0; i < n; i++) {
            const rp_site_t *st = &g->sites[rows[i].stack];
            char p[32], b[32], l[32], fr[4096];
            rp_fmt_bytes(p, sizeof p, (double)rp_site_at_peak(g, rows[i].stack));
            rp_fmt_bytes(b, sizeof b, (double)st->bytes);
            rp_fmt_bytes(l, sizeof l, (double)st->live);
            rp_site_frames(s, r, rows[i].stack, fr, sizeof fr, 6, "\n                                                                          ", 1);
            fprintf(o->t, "%3zu %12s %10" PRIu64 " %12s %12s %9" PRIu64 "  %s\n", i + 1, p, st->calls, b, l,
                    st->temporary, fr);
            fprintf(o->h, "<tr><td>%zu</td><td class=\"n\">%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%s"
                          "</td><td class=\"n\">%s</td><td class=\"n\">%" PRIu64 "</td><td><code>", i + 1, p,
                    st->calls, b, l, st->temporary);
            rp_site_frames(s, r, rows[i].stack, fr, sizeof fr, 12, "\n", 1);
            for (char *line = strtok(fr, "\n"); line; line = strtok(NULL, "\n")) {
                rp_html_esc(o->h, line);
                fprintf(o->h, "<br>");
            }
            fprintf(o->h, "</code></td></tr>\n");
        }
        fprintf(o->h, "</table>\n");
    }
}

/* The run the others are measured against (the comparison table and the
 * verdict): the plain glibc run, else the first of several runs given
 * (*first = 1; e.g. only tuned glibc runs: --alloc
 * glibc:MALLOC_ARENA_MAX=1,jemalloc); NULL if neither. */
static const rj_t *base_run(const rj_t *runs, int *first) {
    *first = 0;
    for (const rj_t *r = runs ? runs->child : NULL; r; r = r->next)
        if (strcmp(rj_str(rj_get(r, "allocator"), ""), "glibc") == 0) return r;
    if (!runs || runs->len < 2) return NULL;
    *first = 1;
    return runs->child;
}

static void replay(out_t *o, const rp_extern_t *x) {
    section(o, "replay", "Allocator comparison (malloc-replay, measured)");
    if (x->replay_note[0]) note(o, "%s", x->replay_note);
    const rj_t *runs = rj_get(x->replay, "runs");
    if (!runs || !runs->len) return;
    fprintf(o->h, "<table class=\"kv\">\n");
    replay_mode(o, x);
    fprintf(o->h, "</table>\n");
    figure(o, "replay_time", "time per operation");
    figure(o, "replay_rss", "peak RSS");
    figure(o, "replay_latency", "latency percentiles");
    int first_base;
    const rj_t *const base = base_run(runs, &first_base);
    int w[] = { 12, 10, 12, 16, 10, 10, 11, 10, 10 };
    for (const rj_t *r = runs->child; r; r = r->next) {
        const char *const name = rj_str(rj_get(r, "allocator"), "?");
        if ((int)strlen(name) > w[0]) w[0] = (int)strlen(name); /* long names keep the columns aligned */
    }
    double const base_rss = base ? rj_num(rj_get(base, "peak_rss_bytes"), 0) : 0;
    double const base_ns = base ? rj_num(rj_get(base, "ns_per_op"), 0) : 0;
    if (first_base) note(o, "compared with %s, the first run (no plain glibc run)", rj_str(rj_get(base, "allocator"), "?"));
    const char *const head[] = { "allocator", "ns/op", "peak RSS", first_base ? "RSS vs first" : "RSS vs glibc",
                                 first_base ? "time vs first" : "time vs glibc", "malloc p50", "malloc p99", "free p50",
                                 "free p99" };
    for (int i = 1; i < 9; i++)
        if ((int)strlen(head[i]) > w[i]) w[i] = (int)strlen(head[i]);
    thead(o, 9, w, head);
    for (const rj_t *r = runs->child; r; r = r->next) {
        char c[9][48];
        double const rss = rj_num(rj_get(r, "peak_rss_bytes"), 0), ns = rj_num(rj_get(r, "ns_per_op"), 0);
        snprintf(c[1], 48, "%.1f", ns);
        rp_fmt_bytes(c[2], 48, rss);
        if (base_rss > 0) {
            char d[32];
            rp_fmt_bytes(d, sizeof d, base_rss - rss);
            snprintf(c[3], 48, "%s%s", base_rss - rss >= 0 ? "saves " : "costs ", d[0] == '-' ? d + 1 : d);
        } else snprintf(c[3], 48, "-");
        if (base_ns > 0) snprintf(c[4], 48, "%+.0f%%", (ns - base_ns) * 100.0 / base_ns);
        else snprintf(c[4], 48, "-");
        static const char *const k[] = { "malloc.p50", "malloc.p99", "free.p50", "free.p99" };
        for (int i = 0; i < 4; i++) {
            const rj_t *v = rj_path(rj_get(r, "latency_ns"), k[i]);
            if (v) snprintf(c[5 + i], 48, "%.0f ns", rj_num(v, 0));
            else snprintf(c[5 + i], 48, "-");
        }
        const char *const cells[] = { rj_str(rj_get(r, "allocator"), "?"), c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                                      c[8] };
        trow(o, 9, w, cells);
    }
    tend(o);
}

static int known_member(const char *name) {
    static const char *const known[] = { "model", "peak", "final", "internal_frag_bytes", "external_frag_bytes",
                                         "jw_footprint_over_live_at_peak_live", "jw_peak_footprint_over_peak_live",
                                         "saving_vs_ptmalloc2_bytes", NULL };
    for (int i = 0; known[i]; i++)
        if (strcmp(name, known[i]) == 0) return 1;
    return 0;
}

static void fmt_num(char *buf, size_t cap, const rj_t *v) {
    if (!v) snprintf(buf, cap, "-");
    else if (v->type == RJ_NUM) snprintf(buf, cap, "%.10g", v->num);
    else snprintf(buf, cap, "%s", rj_str(v, "-"));
}

/* An object of equal-length number arrays (the buddy model's per-order
 * counts): one row per index. */
static int column_arrays(const rj_t *e) {
    size_t len = 0;
    if (e->type != RJ_OBJ || !e->child) return 0;
    for (const rj_t *c = e->child; c; c = c->next) {
        if (c->type != RJ_ARR || (len && c->len != len)) return 0;
        len = c->len;
    }
    return len > 0;
}

static void table_arrays(out_t *o, const rj_t *m, const rj_t *e) {
    int n = 1, w[12];
    const char *head[12];
    int const orders = strstr(e->name, "order") != NULL;
    double const min_block = rj_num(rj_get(m, "min_block"), 0);
    head[0] = orders ? "order" : "#";
    w[0] = 6;
    if (orders && min_block > 0) { head[n] = "block bytes"; w[n++] = 12; }
    int const first_data = n;
    for (const rj_t *c = e->child; c && n < 12; c = c->next) {
        head[n] = c->name;
        w[n++] = strlen(c->name) > 14 ? (int)strlen(c->name) : 14;
    }
    thead(o, n, w, head);
    for (size_t i = 0; i < e->child->len; i++) {
        char cells[12][48];
        const char *cp[12];
        snprintf(cells[0], 48, "%zu", i);
        if (first_data == 2) snprintf(cells[1], 48, "%.0f", min_block * (double)(1ull << (i < 63 ? i : 63)));
        const rj_t *c = e->child;
        for (int k = first_data; k < n; k++, c = c->next) {
            const rj_t *v = c->child;
            for (size_t j = 0; v && j < i; j++) v = v->next;
            fmt_num(cells[k], 48, v);
        }
        for (int k = 0; k < n; k++) cp[k] = cells[k];
        trow(o, n, w, cp);
    }
    tend(o);
}

/* An object of objects keyed alike (ptmalloc2's bins at the peak and at the
 * end): one row per inner key, one column per (outer key, field). */
static int nested_objects(const rj_t *e) {
    if (e->type != RJ_OBJ || !e->child) return 0;
    for (const rj_t *c = e->child; c; c = c->next)
        if (c->type != RJ_OBJ) return 0;
    return 1;
}

static void table_nested(out_t *o, const rj_t *e) {
    struct { const char *outer, *field; } col[11];
    int ncol = 0;
    for (const rj_t *oc = e->child; oc; oc = oc->next)
        for (const rj_t *row = oc->child; row; row = row->next) {
            if (row->type == RJ_NUM) {
                int seen = 0;
                for (int k = 0; k < ncol; k++) seen |= col[k].outer == oc->name && !col[k].field;
                if (!seen && ncol < 11) { col[ncol].outer = oc->name; col[ncol++].field = NULL; }
            }
            for (const rj_t *f = row->type == RJ_OBJ ? row->child : NULL; f; f = f->next) {
                int seen = 0;
                for (int k = 0; k < ncol; k++)
                    seen |= col[k].outer == oc->name && col[k].field && strcmp(col[k].field, f->name) == 0;
                if (!seen && ncol < 11) { col[ncol].outer = oc->name; col[ncol++].field = f->name; }
            }
        }
    char heads[12][64];
    const char *hp[12];
    int w[12];
    snprintf(heads[0], 64, "%s", "");
    w[0] = 14;
    for (int k = 0; k < ncol; k++) {
        snprintf(heads[k + 1], 64, "%s%s%s", col[k].outer, col[k].field ? " " : "", col[k].field ? col[k].field : "");
        w[k + 1] = strlen(heads[k + 1]) > 16 ? (int)strlen(heads[k + 1]) : 16;
    }
    for (int k = 0; k <= ncol; k++) hp[k] = heads[k];
    thead(o, ncol + 1, w, hp);
    for (const rj_t *row = e->child->child; row; row = row->next) { /* rows: the first outer object's keys */
        char cells[12][48];
        const char *cp[12];
        snprintf(cells[0], 48, "%s", row->name);
        for (int k = 0; k < ncol; k++) {
            const rj_t *r = rj_get(rj_get(e, col[k].outer), row->name);
            fmt_num(cells[k + 1], 48, col[k].field ? rj_get(r, col[k].field) : (r && r->type == RJ_NUM ? r : NULL));
        }
        for (int k = 0; k <= ncol; k++) cp[k] = cells[k];
        trow(o, ncol + 1, w, cp);
    }
    tend(o);
}

/* A model's extra members: its numbers on one line, then tables for the
 * per-order arrays (buddy), nested objects (ptmalloc2 bins) and arrays of
 * objects. */
static void extras(out_t *o, const rj_t *m) {
    const char *model = rj_str(rj_get(m, "model"), "?");
    char line[1024] = "";
    size_t n = 0;
    for (const rj_t *e = m->child; e; e = e->next) {
        if (!e->name || known_member(e->name) || e->type != RJ_NUM || n + 2 >= sizeof line) continue;
        int const k = snprintf(line + n, sizeof line - n, "%s%s %.10g", n ? ", " : "", e->name, e->num);
        if (k > 0) n += (size_t)k;
    }
    if (n) {
        char key[64];
        snprintf(key, sizeof key, "%s:", model);
        fprintf(o->h, "<table class=\"kv\">\n");
        kv(o, key, "%s", line);
        fprintf(o->h, "</table>\n");
    }
    for (const rj_t *e = m->child; e; e = e->next) {
        if (!e->name || known_member(e->name)) continue;
        int const arrays = column_arrays(e), nested = !arrays && nested_objects(e);
        int const objects = e->type == RJ_ARR && e->child && e->child->type == RJ_OBJ;
        if (!arrays && !nested && !objects) continue;
        fprintf(o->t, "%s %s:\n", model, e->name);
        fprintf(o->h, "<p><b>");
        rp_html_esc(o->h, model);
        fprintf(o->h, " ");
        rp_html_esc(o->h, e->name);
        fprintf(o->h, "</b></p>\n");
        if (arrays) { table_arrays(o, m, e); continue; }
        if (nested) { table_nested(o, e); continue; }
        int nc = 0, w[12];
        const char *head[12];
        for (const rj_t *k = e->child->child; k && nc < 12; k = k->next, nc++) { head[nc] = k->name; w[nc] = 14; }
        thead(o, nc, w, head);
        int rows = 0;
        for (const rj_t *row = e->child; row && rows < 64; row = row->next, rows++) {
            char cells[12][48];
            const char *cp[12];
            for (int i = 0; i < nc; i++) {
                fmt_num(cells[i], 48, rj_get(row, head[i]));
                cp[i] = cells[i];
            }
            trow(o, nc, w, cp);
        }
        tend(o);
    }
}

static void sim(out_t *o, const rp_extern_t *x) {
    section(o, "sim", "Allocator designs (malloc-sim, predicted)");
    if (x->sim_note[0]) note(o, "%s", x->sim_note);
    const rj_t *models = rj_get(x->sim, "models");
    if (!models || !models->len) return;
    figure(o, "sim_models", "simulated models");
    double base = 0;
    for (const rj_t *m = models->child; m; m = m->next)
        if (strcmp(rj_str(rj_get(m, "model"), ""), "ptmalloc2") == 0) base = rj_num(rj_path(m, "peak.footprint_bytes"), 0);
    int const w[] = { 12, 14, 14, 14, 14, 10, 24 };
    const char *const head[] = { "model", "peak footprint", "live at peak", "internal frag", "external frag",
                                 "fp/live", "saving vs glibc" };
    thead(o, 7, w, head);
    for (const rj_t *m = models->child; m; m = m->next) {
        char c[7][48];
        double const fp = rj_num(rj_path(m, "peak.footprint_bytes"), 0);
        snprintf(c[0], 48, "%s", rj_str(rj_get(m, "model"), "?"));
        rp_fmt_bytes(c[1], 48, fp);
        rp_fmt_bytes(c[2], 48, rj_num(rj_path(m, "peak.live_bytes"), 0));
        rp_fmt_bytes(c[3], 48, rj_num(rj_get(m, "internal_frag_bytes"), 0));
        rp_fmt_bytes(c[4], 48, rj_num(rj_get(m, "external_frag_bytes"), 0));
        snprintf(c[5], 48, "%.2f", rj_num(rj_get(m, "jw_peak_footprint_over_peak_live"), 0));
        const rj_t *sv = rj_get(m, "saving_vs_ptmalloc2_bytes");
        double const saving = sv ? rj_num(sv, 0) : base - fp;
        char d[32];
        rp_fmt_bytes(d, sizeof d, saving < 0 ? -saving : saving);
        /* as malloc-sim's ranking says it: the share of glibc's footprint, unsigned */
        if (!strcmp(c[0], "ptmalloc2")) snprintf(c[6], 48, "(glibc's model)");
        else if (base > 0)
            snprintf(c[6], 48, "%s %s (%.1f%%)", saving >= 0 ? "saves" : "costs", d,
                     (saving < 0 ? -saving : saving) * 100.0 / base);
        else snprintf(c[6], 48, "%s %s", saving >= 0 ? "saves" : "costs", d);
        const char *const cells[] = { c[0], c[1], c[2], c[3], c[4], c[5], c[6] };
        trow(o, 7, w, cells);
    }
    tend(o);
    for (const rj_t *m = models->child; m; m = m->next) extras(o, m);
}

/* Measurement noise of a replay (analysis/README.md, "Verdict"): peak RSS
 * differences under 5% of the larger peak or under 64 KiB, and ns/op
 * differences under 5%, are not counted. Two replays of one trace with glibc,
 * one of them with MALLOC_ARENA_MAX=1 in serial mode (where it cannot
 * matter), differed by up to 2.7% of the peak RSS. */
#define RSS_NOISE_FRAC 0.05
#define RSS_NOISE_MIN 65536.0
#define NS_NOISE_FRAC 0.05

static double rss_noise(double a, double b) {
    double const n = (a > b ? a : b) * RSS_NOISE_FRAC;
    return n > RSS_NOISE_MIN ? n : RSS_NOISE_MIN;
}

/* The runs other than best within noise of it ("jemalloc, mimalloc"), "" if none. */
static void ties(const rj_t *runs, const rj_t *best, const char *key, int rss, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    double const v = rj_num(rj_get(best, key), 0);
    for (const rj_t *r = runs->child; r; r = r->next) {
        double const w = rj_num(rj_get(r, key), 0);
        int const near = rss ? w - v < rss_noise(v, w) : w - v < v * NS_NOISE_FRAC;
        if (r == best || !near || n + 2 >= cap) continue;
        int const k = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", rj_str(rj_get(r, "allocator"), "?"));
        if (k > 0) n += (size_t)k;
    }
}

/* One paragraph: which allocator would serve this program best, and by how
 * much; no winner is named when the difference is within noise. */
static void verdict(out_t *o, const rp_extern_t *x) {
    const rj_t *runs = rj_get(x->replay, "runs"), *models = rj_get(x->sim, "models");
    if ((!runs || !runs->len) && (!models || !models->len)) return;
    section(o, "verdict", "Verdict");
    fprintf(o->h, "<table class=\"kv\">\n");
    int first_base;
    const rj_t *const glibc = base_run(runs, &first_base), *small = NULL, *fast = NULL;
    size_t nruns = 0;
    for (const rj_t *r = runs ? runs->child : NULL; r; r = r->next, nruns++) {
        if (!small || rj_num(rj_get(r, "peak_rss_bytes"), 0) < rj_num(rj_get(small, "peak_rss_bytes"), 0)) small = r;
        if (!fast || rj_num(rj_get(r, "ns_per_op"), 0) < rj_num(rj_get(fast, "ns_per_op"), 0)) fast = r;
    }
    const char *const bn = glibc ? rj_str(rj_get(glibc, "allocator"), "?") : "glibc";
    char a[32], b[32], tie[256];
    if (nruns == 1)
        kv(o, "measured:", "one run (%s): nothing to compare it with", rj_str(rj_get(runs->child, "allocator"), "?"));
    else if (first_base)
        kv(o, "measured against:", "%s, the first run (no plain glibc run)", bn);
    if (nruns > 1 && small && glibc) {
        double const g = rj_num(rj_get(glibc, "peak_rss_bytes"), 0), v = rj_num(rj_get(small, "peak_rss_bytes"), 0);
        if (g - v < rss_noise(g, v)) {
            kv(o, "smallest (measured):", "none: no run's peak RSS is below %s's (%s) by more than the noise "
               "(5%% or 64 KiB)", bn, rp_fmt_bytes(a, sizeof a, g));
        } else {
            ties(runs, small, "peak_rss_bytes", 1, tie, sizeof tie);
            kv(o, "smallest (measured):", "%s, peak RSS %s: %s less than %s (%s, %.0f%%)%s%s",
               rj_str(rj_get(small, "allocator"), "?"), rp_fmt_bytes(a, sizeof a, v), rp_fmt_bytes(b, sizeof b, g - v),
               bn, rp_fmt_bytes((char[32]){ 0 }, 32, g), g > 0 ? (g - v) * 100.0 / g : 0.0,
               tie[0] ? "; within noise of it: " : "", tie);
        }
    }
    if (nruns > 1 && fast && glibc) {
        double const g = rj_num(rj_get(glibc, "ns_per_op"), 0), v = rj_num(rj_get(fast, "ns_per_op"), 0);
        if (g - v <= g * NS_NOISE_FRAC) { /* <=: a 0-event trace (0 ns each) names no winner */
            kv(o, "fastest (measured):", "none: no run is faster than %s (%.1f ns per op) by more than the noise (5%%)",
               bn, g);
        } else {
            ties(runs, fast, "ns_per_op", 0, tie, sizeof tie);
            kv(o, "fastest (measured):", "%s, %.1f ns per op against %s's %.1f (%.0f%% less time)%s%s",
               rj_str(rj_get(fast, "allocator"), "?"), v, bn, g, g > 0 ? (g - v) * 100.0 / g : 0.0,
               tie[0] ? "; within noise of it: " : "", tie);
        }
    }
    const rj_t *base = NULL, *best = NULL;
    for (const rj_t *m = models ? models->child : NULL; m; m = m->next) {
        if (strcmp(rj_str(rj_get(m, "model"), ""), "ptmalloc2") == 0) base = m;
        if (!best || rj_num(rj_path(m, "peak.footprint_bytes"), 0) < rj_num(rj_path(best, "peak.footprint_bytes"), 0))
            best = m;
    }
    if (best && base) { /* a simulation has no noise: any saving counts */
        double const g = rj_num(rj_path(base, "peak.footprint_bytes"), 0), v = rj_num(rj_path(best, "peak.footprint_bytes"), 0);
        if (g <= v)
            kv(o, "smallest (simulated):", "glibc's model (ptmalloc2), peak footprint %s: no design is smaller",
               rp_fmt_bytes(a, sizeof a, g));
        else
            kv(o, "smallest (simulated):", "%s design, peak footprint %s: %s less than glibc's model (%.0f%%)",
               rj_str(rj_get(best, "model"), "?"), rp_fmt_bytes(a, sizeof a, v), rp_fmt_bytes(b, sizeof b, g - v),
               g > 0 ? (g - v) * 100.0 / g : 0.0);
    }
    fprintf(o->h, "</table>\n");
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2em auto;max-width:1000px;"
    "color:#222;padding:0 1em}h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;"
    "border-bottom:1px solid #ddd;padding-bottom:.2em}table{border-collapse:collapse;margin:.6em 0;font-size:.92em}"
    "table.kv th{text-align:left;padding:.15em 1em .15em 0;font-weight:600;color:#444;white-space:nowrap}"
    "table.grid th{background:#f3f5f8;text-align:right;padding:.3em .6em;border-bottom:1px solid #ccc}"
    "table.grid th:first-child{text-align:left}table.grid td{padding:.25em .6em;border-bottom:1px solid #eee;"
    "vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "table.sites code{font-size:.9em;color:#333}figure{margin:1em 0}figure img{max-width:100%;"
    "border:1px solid #eee}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em}"
    "nav a{margin-right:1em}.sub{color:#666}";

int rp_write_report(const rp_opts_t *op, const rp_agg_t *g, tr_reader_t *r, rp_sym_t *s,
                    const rp_extern_t *x, const rp_plot_t *p, FILE *text, const char *dir,
                    char *errbuf, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", dir);
    tr_out_t out; /* index.html appears whole or not at all */
    if (tr_out_open(&out, path) != 0) { snprintf(errbuf, cap, "%s: cannot write: %m", path); return -1; }
    FILE *const h = out.f;
    out_t o = { text, h, p, dir };
    fprintf(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>malloc-report: ");
    rp_html_esc(h, op->trace);
    fprintf(h, "</title>\n<style>%s</style></head><body>\n<h1>malloc-report</h1>\n<p class=\"sub\">", css);
    rp_html_esc(h, op->trace);
    fprintf(h, "</p>\n<nav><a href=\"#overview\">overview</a><a href=\"#verdict\">verdict</a>"
               "<a href=\"#memory\">memory</a><a href=\"#sizes\">sizes</a><a href=\"#rate\">rate</a>"
               "<a href=\"#lifetimes\">lifetimes</a><a href=\"#sites-peak\">sites</a>"
               "<a href=\"#replay\">allocators</a><a href=\"#sim\">simulation</a></nav>\n");
    fprintf(text, "malloc-report %s\n", MS_VERSION);
    if (!p->gnuplot[0] || p->failed) note(&o, "%s", p->why);
    overview(&o, g, r, op->trace);
    verdict(&o, x);
    memory(&o, g, x);
    sizes_and_rate(&o, g);
    lifetimes(&o, g);
    sites(&o, g, r, s);
    replay(&o, x);
    sim(&o, x);
    const char *sn = rp_sym_notes(s);
    if (*sn) {
        section(&o, "notes", "Symbolization notes");
        char *copy = strdup(sn);
        for (char *line = copy ? strtok(copy, "\n") : NULL; line; line = strtok(NULL, "\n")) note(&o, "%s", line);
        free(copy);
    }
    time_t const now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(h, "<p class=\"sub\">written by malloc-report %s on %s; charts are SVG (click for PNG), "
               "their gnuplot scripts sit beside them.</p>\n</body></html>\n", MS_VERSION, when);
    if (tr_out_commit(&out) != 0) {
        snprintf(errbuf, cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
