/* charts.c - the report's charts: builds each gnuplot script body with its
 * data inline, in units chosen from the data (KiB/MiB, us/ms/s). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* A name from another tool's output, safe inside gnuplot quotes of either kind. */
static const char *safe(const char *s) {
    static char buf[4][128];
    static int k;
    char *o = buf[k = (k + 1) & 3];
    size_t n = 0;
    for (; s && *s && n + 1 < sizeof buf[0]; s++)
        o[n++] = *s == '"' || *s == '\'' || *s == '\\' || *s == '\n' || *s == '\r' ? '_' : *s;
    o[n] = 0;
    return o;
}

/* A divisor for counts so that axis labels stay short. */
static void count_unit(double max, double *div, const char **name) {
    if (max >= 1e7) { *div = 1e6; *name = " (millions)"; }
    else if (max >= 1e4) { *div = 1e3; *name = " (thousands)"; }
    else { *div = 1; *name = ""; }
}

/* The timeline to draw: by time, or by event count when the trace has no
 * times (an imported mtrace() log); its x unit and label. */
typedef struct tline_s {
    const rp_bucket_t *b;
    double width;   /* x per bucket, in ns or events */
    size_t n;       /* buckets in use */
    int by_events;
} tline_t;

static tline_t tline(const rp_agg_t *g) {
    tline_t t = { g->tl, (double)g->tl_width, 0, g->last_t == g->first_t && g->events > 1 };
    if (t.by_events) { t.b = g->tlo; t.width = (double)g->tlo_width; }
    for (size_t i = 0; i < RP_TL_BUCKETS; i++)
        if (t.b[i].used) t.n = i + 1;
    return t;
}

static void x_unit(const tline_t *t, double max, double *div, char *label, size_t cap) {
    const char *u;
    if (t->by_events) {
        count_unit(max, div, &u);
        snprintf(label, cap, "events since the first%s", u);
    } else {
        rp_time_unit(max, div, &u);
        snprintf(label, cap, "time since the first event (%s)", u);
    }
}

/* The simulator's timeline CSV: header names and rows of numbers. */
typedef struct csv_s {
    char *names[16]; int ncol;
    double *v; size_t nrows;
} csv_t;

static void csv_free(csv_t *c) {
    for (int i = 0; i < c->ncol; i++) free(c->names[i]);
    free(c->v);
    memset(c, 0, sizeof *c);
}

static int csv_read(const char *path, csv_t *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    if (!fgets(line, sizeof line, f)) { fclose(f); return -1; }
    line[strcspn(line, "\r\n")] = 0;
    for (char *tok = strtok(line, ","); tok && c->ncol < 16; tok = strtok(NULL, ","))
        c->names[c->ncol++] = strdup(tok);
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        if (c->nrows == cap) {
            cap = cap ? cap * 2 : 256;
            double *nv = realloc(c->v, cap * (size_t)c->ncol * sizeof *nv);
            if (!nv) break;
            c->v = nv;
        }
        double *row = c->v + c->nrows * (size_t)c->ncol;
        char *p = line;
        int k = 0;
        for (; k < c->ncol; k++) {
            char *end;
            row[k] = strtod(p, &end);
            if (end == p) break;
            p = end + (*end == ',');
        }
        if (k == c->ncol) c->nrows++;
    }
    fclose(f);
    return c->ncol >= 3 && c->nrows ? 0 : (csv_free(c), -1);
}

static int col_of(const csv_t *c, const char *name) {
    for (int i = 0; i < c->ncol; i++)
        if (strcmp(c->names[i], name) == 0) return i;
    return -1;
}

static const rj_t *replay_run(const rj_t *replay, const char *alloc) {
    const rj_t *runs = rj_get(replay, "runs");
    for (const rj_t *r = runs ? runs->child : NULL; r; r = r->next) {
        const char *a = rj_str(rj_get(r, "allocator"), "");
        if (strcmp(a, alloc) == 0) return r;
    }
    return NULL;
}

static void chart_memory(rp_plot_t *p, const char *dir, const rp_agg_t *g, const rp_extern_t *x) {
    tline_t const tl = tline(g);
    size_t const n = tl.n;
    csv_t c = { 0 };
    int const have_sim = x->timeline[0] && csv_read(x->timeline, &c) == 0;
    int const ct = have_sim ? col_of(&c, tl.by_events ? "op" : "t_ns") : -1;
    int const cf = have_sim ? col_of(&c, "ptmalloc2_footprint") : -1;
    double const x0 = tl.by_events ? 1 : (double)g->first_t; /* the sim's x of our first event */
    const rj_t *glibc = x->replay ? replay_run(x->replay, "glibc") : NULL;
    double const rss = rj_num(rj_get(glibc, "peak_rss_bytes"), 0);
    double ymax = (double)g->peak, tmax = (double)n * tl.width;
    if (cf >= 0)
        for (size_t i = 0; i < c.nrows; i++) {
            double const v = c.v[i * (size_t)c.ncol + (size_t)cf];
            if (v > ymax) ymax = v;
        }
    if (rss > ymax) ymax = rss;
    double bd, td;
    const char *bu;
    char xl[64];
    rp_byte_unit(ymax, &bd, &bu);
    x_unit(&tl, tmax, &td, xl, sizeof xl);
    char *body;
    size_t len;
    FILE *f = open_memstream(&body, &len);
    fprintf(f, "$live << EOD\n");
    uint64_t live = 0;
    for (size_t i = 0; i < n; i++) { /* as explicit steps: one polygon for the fill */
        if (tl.b[i].used) live = tl.b[i].live_max;
        fprintf(f, "%.6g %.6g\n%.6g %.6g\n", (double)i * tl.width / td, (double)live / bd,
                (double)(i + 1) * tl.width / td, (double)live / bd);
        if (tl.b[i].used) live = tl.b[i].live_end;
    }
    fprintf(f, "%.6g %.6g\n", (double)n * tl.width / td, (double)g->live / bd);
    fprintf(f, "EOD\n");
    if (cf >= 0 && ct >= 0) {
        fprintf(f, "$sim << EOD\n");
        for (size_t i = 0; i < c.nrows; i++) {
            double const t = c.v[i * (size_t)c.ncol + (size_t)ct] - x0;
            fprintf(f, "%.6g %.6g\n", (t > 0 ? t : 0) / td, c.v[i * (size_t)c.ncol + (size_t)cf] / bd);
        }
        fprintf(f, "EOD\n");
    }
    fprintf(f, "set title 'Memory over time'\nset xlabel '%s'\n"
               "set ylabel '%s'\nset yrange [0:*]\nset xrange [0:*]\nset key top left\n"
               "set offsets 0,0,graph %s,0\nset autoscale xfix\n", xl, bu,
            (cf >= 0 && ct >= 0) || rss > 0 ? "0.32" : "0.15"); /* room for the key above the data */
    char pk[32];
    rp_fmt_bytes(pk, sizeof pk, (double)g->peak);
    double const peak_x = tl.by_events ? (double)g->peak_idx - 1 : (double)(g->peak_t - g->first_t);
    int const right = peak_x > 0.7 * tmax;
    fprintf(f, "set label 1 'peak %s' at %.6g,%.6g %s textcolor rgb '#1f77b4' font ',9'\n"
               "set object 1 circle at %.6g,%.6g size char 0.35 fc rgb '#1f77b4' fs solid front\n", pk,
            peak_x / td, (double)g->peak / bd, right ? "right offset -1,0.6" : "left offset 1,0.6", peak_x / td,
            (double)g->peak / bd);
    fprintf(f, "plot $live using 1:2 with filledcurves x1 fs solid 0.25 lc rgb '#1f77b4' notitle, \\\n"
               "     $live using 1:2 with lines ls 1 title 'live bytes requested (trace)'");
    if (cf >= 0 && ct >= 0)
        fprintf(f, ", \\\n     $sim using 1:2 with steps ls 2 title 'glibc heap footprint (malloc-sim ptmalloc2)'");
    if (rss > 0)
        fprintf(f, ", \\\n     %.6g with lines ls 4 dt 2 title 'glibc peak RSS (malloc-replay)'", rss / bd);
    fprintf(f, "\n");
    fclose(f);
    rp_plot(p, dir, "memory", 900, 420, body);
    free(body);
    /* every simulated model's footprint */
    if (have_sim && ct >= 0 && c.ncol > 3) {
        f = open_memstream(&body, &len);
        double m = 0;
        for (size_t i = 0; i < c.nrows * (size_t)c.ncol; i++)
            if (i % (size_t)c.ncol >= 2 && c.v[i] > m) m = c.v[i];
        rp_byte_unit(m, &bd, &bu);
        fprintf(f, "$sim << EOD\n");
        for (size_t i = 0; i < c.nrows; i++) {
            double const t = c.v[i * (size_t)c.ncol + (size_t)ct] - x0;
            fprintf(f, "%.6g", (t > 0 ? t : 0) / td);
            for (int k = 2; k < c.ncol; k++)
                if (k != ct) fprintf(f, " %.6g", c.v[i * (size_t)c.ncol + (size_t)k] / bd);
            fprintf(f, "\n");
        }
        fprintf(f, "EOD\nset title 'Simulated allocator footprints (malloc-sim)'\n"
                   "set xlabel '%s'\nset ylabel '%s'\n"
                   "set yrange [0:*]\nset xrange [0:*]\nset key top left\nset offsets 0,0,graph 0.15,0\nset autoscale xfix\nplot ", xl, bu);
        int col = 2;
        for (int k = 0; k < c.ncol; k++) {
            if (k == ct || k <= 1) continue; /* op, t_ns */
            char title[64];
            snprintf(title, sizeof title, "%s", safe(c.names[k]));
            char *u = strstr(title, "_footprint");
            if (u) *u = 0;
            if (strcmp(title, "live_bytes") == 0) snprintf(title, sizeof title, "live bytes");
            fprintf(f, "%s$sim using 1:%d with steps title '%s'", col > 2 ? ", \\\n     " : "", col, title);
            col++;
        }
        fprintf(f, "\n");
        fclose(f);
        rp_plot(p, dir, "sim_timeline", 900, 420, body);
        free(body);
    }
    csv_free(&c);
}

/* Bars over log2 buckets (sizes or lifetimes), from the first to the last
 * non-empty one; lifetimes as in the text (report.c histogram). */
static void chart_hist(rp_plot_t *p, const char *dir, const char *name, const char *title,
                       const char *xlabel, const uint64_t *cnt, const uint64_t *bytes, int is_time, uint64_t res) {
    int lo = RP_HIST, hi = -1;
    for (int k = 0; k < RP_HIST; k++)
        if (cnt[k]) { if (k < lo) lo = k; hi = k; }
    if (hi < 0) return;
    double bmax = 0;
    for (int k = lo; bytes && k <= hi; k++)
        if ((double)bytes[k] > bmax) bmax = (double)bytes[k];
    double bd, cmax = 0, cd;
    const char *bu, *cu;
    rp_byte_unit(bmax, &bd, &bu);
    for (int k = lo; k <= hi; k++)
        if ((double)cnt[k] > cmax) cmax = (double)cnt[k];
    count_unit(cmax, &cd, &cu);
    char *body;
    size_t len;
    FILE *f = open_memstream(&body, &len);
    fprintf(f, "$h << EOD\n");
    for (int k = lo; k <= hi; k++) {
        char lab[40];
        if (is_time && rp_life_void(k, res) && !cnt[k]) continue;
        if (is_time) rp_life_label(lab, sizeof lab, k, res);
        else rp_hist_label(lab, sizeof lab, k, 0);
        fprintf(f, "\"%s\" %.6g %.6g\n", lab, (double)cnt[k] / cd, bytes ? (double)bytes[k] / bd : 0.0);
    }
    fprintf(f, "EOD\nset title '%s'\nset xlabel '%s'\nset ylabel 'blocks%s'\n"
               "set style fill solid 0.8 border lc rgb '#ffffff'\nset boxwidth 0.8\n"
               "set xtics rotate by -40 font ',9'\nset rmargin 8\nset yrange [0:*]\nset offsets 0,0,graph 0.12,0\n",
            title, xlabel, cu);
    if (bytes)
        fprintf(f, "set y2label 'bytes requested (%s)'\nset y2tics nomirror\nset y2range [0:*]\n"
                   "set key top right\n"
                   "plot $h using 0:2:xtic(1) with boxes ls 1 title 'blocks', \\\n"
                   "     $h using 0:3 axes x1y2 with linespoints ls 2 pt 7 ps 0.6 title 'bytes'\n", bu);
    else
        fprintf(f, "unset key\nplot $h using 0:2:xtic(1) with boxes ls 3\n");
    fclose(f);
    rp_plot(p, dir, name, 900, 380, body);
    free(body);
}

static void chart_rate(rp_plot_t *p, const char *dir, const rp_agg_t *g) {
    tline_t const tl = tline(g);
    size_t const n = tl.n;
    if (!n || tl.by_events) return; /* no times, no rate */
    size_t const nt = g->nthreads > RP_MAX_THREADS ? RP_MAX_THREADS + 1 : g->nthreads;
    int const per_thread = g->nthreads > 1;
    double td;
    const char *tu;
    rp_time_unit((double)n * (double)g->tl_width, &td, &tu);
    double const secs = (double)g->tl_width / 1e9;
    double rmax = 0, cd;
    const char *cu;
    for (size_t i = 0; i < n; i++)
        if ((double)g->tl[i].allocs / secs > rmax) rmax = (double)g->tl[i].allocs / secs;
    count_unit(rmax, &cd, &cu);
    char *body;
    size_t len;
    FILE *f = open_memstream(&body, &len);
    fprintf(f, "$r << EOD\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%.6g %.6g", ((double)i + 0.5) * (double)g->tl_width / td, (double)g->tl[i].allocs / secs / cd);
        for (size_t k = 0; per_thread && k < nt; k++)
            fprintf(f, " %.6g", (double)g->tl[i].tallocs[k] / secs / cd);
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\nset title 'Allocation rate'\nset xlabel 'time since the first event (%s)'\n"
               "set ylabel 'allocations per second%s'\nset yrange [0:*]\nset xrange [0:*]\n"
               "set key top left\nset offsets 0,0,graph 0.15,0\nset autoscale xfix\n", tu, cu);
    fprintf(f, "plot $r using 1:2 with steps ls 1 title 'all threads'");
    for (size_t k = 0; per_thread && k < nt; k++) {
        if (k < RP_MAX_THREADS)
            fprintf(f, ", \\\n     $r using 1:%zu with steps lw 1.2 title 'thread %u'", k + 3,
                    g->threads[k].tid);
        else
            fprintf(f, ", \\\n     $r using 1:%zu with steps lw 1.2 title 'other threads'", k + 3);
    }
    fprintf(f, "\n");
    fclose(f);
    rp_plot(p, dir, "rate", 900, 380, body);
    free(body);
}

/* The x tics of a chart with one bar per run or model: names as they are
 * (no enhanced text: '_' in glibc:MALLOC_ARENA_MAX or x86_64 made
 * subscripts), slanted when long, so that they do not run into each other. */
static void name_tics(FILE *f, const rj_t *list, const char *key) {
    size_t longest = 0;
    for (const rj_t *r = list->child; r; r = r->next) {
        size_t const n = strlen(rj_str(rj_get(r, key), "?"));
        if (n > longest) longest = n;
    }
    fprintf(f, "set xtics noenhanced%s\n", longest > 12 ? " rotate by 20 right" : "");
}

/* Bars with one value per allocator from the replayer's runs. */
static void chart_replay(rp_plot_t *p, const char *dir, const rj_t *replay) {
    const rj_t *runs = rj_get(replay, "runs");
    if (!runs || !runs->len) return;
    char *body;
    size_t len;
    /* ns per op */
    FILE *f = open_memstream(&body, &len);
    name_tics(f, runs, "allocator");
    fprintf(f, "$d << EOD\n");
    for (const rj_t *r = runs->child; r; r = r->next)
        fprintf(f, "\"%s\" %.6g\n", safe(rj_str(rj_get(r, "allocator"), "?")), rj_num(rj_get(r, "ns_per_op"), 0));
    fprintf(f, "EOD\nset title 'Replay: time per operation (lower is better)'\nset ylabel 'ns per op'\n"
               "set style fill solid 0.85 border lc rgb '#ffffff'\nset boxwidth 0.6\nset yrange [0:*]\n"
               "set offsets 0.5,0.5,graph 0.1,0\nunset key\n"
               "plot $d using 0:2:xtic(1) with boxes ls 1 notitle, \\\n"
               "     $d using 0:2:(sprintf('%%.1f', $2)) with labels offset 0,0.8 notitle\n");
    fclose(f);
    rp_plot(p, dir, "replay_time", 640, 360, body);
    free(body);
    /* peak RSS */
    double m = 0;
    for (const rj_t *r = runs->child; r; r = r->next) {
        double const v = rj_num(rj_get(r, "peak_rss_bytes"), 0);
        if (v > m) m = v;
    }
    double bd;
    const char *bu;
    rp_byte_unit(m, &bd, &bu);
    f = open_memstream(&body, &len);
    name_tics(f, runs, "allocator");
    fprintf(f, "$d << EOD\n");
    double ideal = 0;
    for (const rj_t *r = runs->child; r; r = r->next) {
        fprintf(f, "\"%s\" %.6g\n", safe(rj_str(rj_get(r, "allocator"), "?")),
                rj_num(rj_get(r, "peak_rss_bytes"), 0) / bd);
        if (!ideal) ideal = rj_num(rj_get(r, "ideal_peak_bytes"), 0);
    }
    fprintf(f, "EOD\nset title 'Replay: peak RSS (lower is better)'\nset ylabel '%s'\n"
               "set style fill solid 0.85 border lc rgb '#ffffff'\nset boxwidth 0.6\nset yrange [0:*]\n"
               "set offsets 0.5,0.5,graph 0.1,0\nset key top right\n"
               "plot $d using 0:2:xtic(1) with boxes ls 3 notitle, \\\n"
               "     $d using 0:2:(sprintf('%%.1f', $2)) with labels offset 0,0.8 notitle", bu);
    if (ideal > 0) fprintf(f, ", \\\n     %.6g with lines ls 4 dt 2 title 'peak live bytes (ideal)'", ideal / bd);
    fprintf(f, "\n");
    fclose(f);
    rp_plot(p, dir, "replay_rss", 640, 360, body);
    free(body);
    /* latency percentiles of malloc and free */
    f = open_memstream(&body, &len);
    name_tics(f, runs, "allocator");
    fprintf(f, "$d << EOD\n");
    for (const rj_t *r = runs->child; r; r = r->next) {
        fprintf(f, "\"%s\"", safe(rj_str(rj_get(r, "allocator"), "?")));
        static const char *const keys[] = { "malloc.p50", "malloc.p99", "malloc.p999", "free.p50",
                                            "free.p99", "free.p999" };
        const rj_t *lat = rj_get(r, "latency_ns");
        for (int k = 0; k < 6; k++) {
            double const v = rj_num(rj_path(lat, keys[k]), 0);
            fprintf(f, " %.6g", v > 0 ? v : 1);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\nset title 'Replay: latency percentiles'\nset ylabel 'ns (log scale)'\nset logscale y\n"
               "set format y '%%.0s%%c'\n"
               "set style data histograms\nset style histogram clustered gap 1\n"
               "set style fill solid 0.85 border lc rgb '#ffffff'\nset key below horizontal\n"
               "set yrange [1:*]\n"
               "plot $d using 2:xtic(1) title 'malloc p50', '' using 3 title 'malloc p99', "
               "'' using 4 title 'malloc p99.9', '' using 5 title 'free p50', '' using 6 title 'free p99', "
               "'' using 7 title 'free p99.9'\n");
    fclose(f);
    rp_plot(p, dir, "replay_latency", 900, 380, body);
    free(body);
}

static void chart_sim(rp_plot_t *p, const char *dir, const rj_t *sim) {
    const rj_t *models = rj_get(sim, "models");
    if (!models || !models->len) return;
    double m = 0;
    for (const rj_t *r = models->child; r; r = r->next) {
        double const v = rj_num(rj_path(r, "peak.footprint_bytes"), 0);
        if (v > m) m = v;
    }
    double bd;
    const char *bu;
    rp_byte_unit(m, &bd, &bu);
    char *body;
    size_t len;
    FILE *f = open_memstream(&body, &len);
    name_tics(f, models, "model");
    fprintf(f, "$d << EOD\n");
    for (const rj_t *r = models->child; r; r = r->next)
        fprintf(f, "\"%s\" %.6g %.6g %.6g %.6g\n", safe(rj_str(rj_get(r, "model"), "?")),
                rj_num(rj_path(r, "peak.footprint_bytes"), 0) / bd, rj_num(rj_path(r, "peak.live_bytes"), 0) / bd,
                rj_num(rj_get(r, "internal_frag_bytes"), 0) / bd, rj_num(rj_get(r, "external_frag_bytes"), 0) / bd);
    fprintf(f, "EOD\nset title 'Simulated allocator designs (malloc-sim): peak footprint and waste'\n"
               "set ylabel '%s'\nset style data histograms\nset style histogram clustered gap 1\n"
               "set style fill solid 0.85 border lc rgb '#ffffff'\nset key below horizontal\nset yrange [0:*]\n"
               "plot $d using 2:xtic(1) title 'peak footprint', '' using 3 title 'live at that peak', "
               "'' using 4 title 'internal fragmentation', '' using 5 title 'external fragmentation'\n", bu);
    fclose(f);
    rp_plot(p, dir, "sim_models", 900, 380, body);
    free(body);
}

int rp_charts(rp_plot_t *p, const char *dir, const rp_agg_t *g, const rp_extern_t *x) {
    if (!p->gnuplot[0]) return -1;
    if (g->events) chart_memory(p, dir, g, x);
    chart_hist(p, dir, "sizes", "Allocation sizes", "requested size (bytes)", g->size_n, g->size_b, 0, 0);
    chart_rate(p, dir, g);
    chart_hist(p, dir, "lifetimes", "Lifetimes of freed blocks", "lifetime", g->life_n, NULL, 1, g->time_res);
    if (x->replay) chart_replay(p, dir, x->replay);
    if (x->sim) chart_sim(p, dir, x->sim);
    rp_plot_wait(p);
    return p->failed ? -1 : 0;
}

/* --diff -o DIR: both traces' live bytes over time, each from its first event. */
/* s as a gnuplot single-quoted string's contents (quotes doubled, no newlines). */
static void gp_quote(char *out, size_t cap, const char *s) {
    size_t o = 0;
    const char *base = strrchr(s, '/');
    for (s = base ? base + 1 : s; *s && o + 3 < cap; s++) {
        if (*s == '\'') out[o++] = '\'';
        out[o++] = *s == '\n' ? ' ' : *s;
    }
    out[o] = 0;
}

int rp_chart_diff(rp_plot_t *p, const char *dir, const rp_agg_t *a, const rp_agg_t *b, const char *name_a,
                  const char *name_b) {
    if (!p->gnuplot[0] || !a->events || !b->events) return -1;
    tline_t tla = tline(a), tlb = tline(b);
    if (tla.by_events != tlb.by_events) { /* one has no times: both by event count */
        tla.by_events = tlb.by_events = 1;
        tla.b = a->tlo; tla.width = (double)a->tlo_width;
        tlb.b = b->tlo; tlb.width = (double)b->tlo_width;
        tla.n = tlb.n = 0;
        for (size_t i = 0; i < RP_TL_BUCKETS; i++) {
            if (tla.b[i].used) tla.n = i + 1;
            if (tlb.b[i].used) tlb.n = i + 1;
        }
    }
    double const ta = (double)tla.n * tla.width, tb = (double)tlb.n * tlb.width;
    double bd, td;
    const char *bu;
    char xl[64];
    rp_byte_unit((double)(a->peak > b->peak ? a->peak : b->peak), &bd, &bu);
    x_unit(&tla, ta > tb ? ta : tb, &td, xl, sizeof xl);
    char qa[256], qb[256];
    gp_quote(qa, sizeof qa, name_a);
    gp_quote(qb, sizeof qb, name_b);
    char *body;
    size_t len;
    FILE *f = open_memstream(&body, &len);
    for (int k = 0; k < 2; k++) {
        const rp_agg_t *g = k ? b : a;
        const tline_t *tl = k ? &tlb : &tla;
        fprintf(f, "$%s << EOD\n", k ? "b" : "a");
        uint64_t live = 0;
        for (size_t i = 0; i < tl->n; i++) {
            if (tl->b[i].used) live = tl->b[i].live_max;
            fprintf(f, "%.6g %.6g\n", (double)i * tl->width / td, (double)live / bd);
            if (tl->b[i].used) live = tl->b[i].live_end;
        }
        fprintf(f, "%.6g %.6g\nEOD\n", (double)tl->n * tl->width / td, (double)g->live / bd);
    }
    fprintf(f, "set title 'Live bytes requested: A and B'\nset xlabel '%s'\n"
               "set ylabel '%s'\nset yrange [0:*]\nset xrange [0:*]\nset offsets 0,0,graph 0.15,0\n"
               "set autoscale xfix\nplot $a using 1:2 with steps ls 1 title 'A: %s', $b using 1:2 with steps ls 2 title 'B: %s'\n",
            xl, bu, qa, qb);
    fclose(f);
    rp_plot(p, dir, "diff_memory", 900, 420, body);
    free(body);
    rp_plot_wait(p);
    return p->failed ? -1 : 0;
}
