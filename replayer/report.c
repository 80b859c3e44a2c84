/* report.c - the comparison table and the JSON document (notes json.md). */
#include "run.h"
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const k_kind[RP_NKINDS] = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "memalign", "posix_memalign",
    "aligned_alloc", "valloc", "pvalloc", "mallopt", "malloc_trim", "other",
};
static const char *const k_heap[5] = { "arena", "hblkhd", "uordblks", "fordblks", "keepcost" };

double rp_ns_per_cycle(const rp_result_t *r) {
    return r->tsc_cycles ? (double)r->wall_ns / (double)r->tsc_cycles : 1.0;
}

double rp_percentile_ns(const rp_result_t *r, int kind, double q) {
    uint64_t const n = r->count[kind];
    if (!n) return 0;
    uint64_t const want = (uint64_t)((double)n * q + 0.999999);
    uint64_t cum = 0;
    for (unsigned b = 0; b < RP_HBUCKETS; b++) {
        cum += r->hist[kind][b];
        if (cum >= (want ? want : 1)) {
            uint64_t hi = rp_bucket_high(b);
            if (hi > r->maxc[kind]) hi = r->maxc[kind];
            return (double)hi * rp_ns_per_cycle(r);
        }
    }
    return (double)r->maxc[kind] * rp_ns_per_cycle(r);
}

static void human(char *out, size_t n, double b) {
    static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int i = 0;
    while (b >= 1024 && i < 4) { b /= 1024; i++; }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* p50/p99/p99.9 of a kind in ns, or "-" without a timed op of it (not 0/0/0) */
static void latency(char *out, size_t n, const rp_result_t *x, int kind) {
    if (!x->count[kind]) snprintf(out, n, "-");
    else snprintf(out, n, "%.0f/%.0f/%.0f", rp_percentile_ns(x, kind, .5), rp_percentile_ns(x, kind, .99),
                  rp_percentile_ns(x, kind, .999));
}

void rp_print_table(FILE *f, const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *runs, int n) {
    char ideal[32];
    human(ideal, sizeof ideal, (double)prep->ideal_peak);
    fprintf(f, "%s: %llu events, %llu thread%s, ideal peak %s; mode %s, touch %s\n", o->trace,
            (unsigned long long)prep->events, (unsigned long long)prep->threads, prep->threads == 1 ? "" : "s",
            ideal, o->threads ? (o->pace ? "threads (paced)" : "threads") : "serial", o->touch ? "all" : "none");
    if (prep->truncated) fprintf(f, "TRUNCATED trace (what it holds was replayed): %s\n", prep->warn);
    for (int i = 0; i < n; i++) /* settings besides the allocator's name: from --env, --alloc or the trace */
        if (runs[i].nenv) {
            fprintf(f, "%s env:", runs[i].label);
            for (int k = 0; k < runs[i].nenv; k++) fprintf(f, " %s", runs[i].env[k]);
            fprintf(f, "\n");
        }
    int w = 9;
    for (int i = 0; i < n; i++) {
        int const l = (int)strlen(runs[i].label);
        if (l > w) w = l < 48 ? l : 48;
    }
    fprintf(f, "%-*s %10s %8s %10s %11s %11s %9s  %-22s %-22s\n", w, "allocator", "wall ms", "ns/op", "cpu ms",
            "peak RSS", "final RSS", "peak/ideal", "malloc p50/p99/p99.9", "free p50/p99/p99.9");
    for (int i = 0; i < n; i++) {
        const rp_run_t *r = &runs[i];
        if (r->failed) {
            fprintf(f, "%-*.*s failed: %s\n", w, w, r->label, r->err);
            continue;
        }
        const rp_result_t *x = r->res;
        char pk[32], fi[32], ml[48], fr[48], ratio[16];
        human(pk, sizeof pk, (double)x->peak_rss);
        human(fi, sizeof fi, (double)x->final_rss);
        if (prep->ideal_peak) snprintf(ratio, sizeof ratio, "%.2f", (double)x->peak_rss / (double)prep->ideal_peak);
        else snprintf(ratio, sizeof ratio, "-");
        latency(ml, sizeof ml, x, RP_MALLOC);
        latency(fr, sizeof fr, x, RP_FREE);
        fprintf(f, "%-*.*s %10.2f %8.2f %10.2f %11s %11s %9s  %-22s %-22s\n", w, w, r->label, (double)x->wall_ns / 1e6,
                x->ops ? (double)x->wall_ns / (double)x->ops : 0.0, (double)x->cpu_ns / 1e6, pk, fi, ratio, ml, fr);
    }
    for (int i = 0; i < n; i++) {
        const rp_run_t *r = &runs[i];
        if (r->failed) continue;
        const rp_result_t *x = r->res;
        if (x->have_heap)
            fprintf(f, "%s heap (mallinfo2 after the last op): arena %llu hblkhd %llu uordblks %llu fordblks %llu "
                       "keepcost %llu\n", r->label, (unsigned long long)x->heap[0], (unsigned long long)x->heap[1],
                    (unsigned long long)x->heap[2], (unsigned long long)x->heap[3], (unsigned long long)x->heap[4]);
        if (x->nstats) {
            fprintf(f, "%s stats:", r->label);
            for (uint32_t k = 0; k < x->nstats; k++)
                fprintf(f, " %s %llu", x->stats[k].name, (unsigned long long)x->stats[k].value);
            fprintf(f, "\n");
        }
        if (x->null_fail)
            fprintf(f, "%s: %llu allocations returned NULL where the traced program got memory\n", r->label,
                    (unsigned long long)x->null_fail);
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char const c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int rp_write_json(tr_out_t *out, const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *runs, int n) {
    FILE *const f = out->f;
    fprintf(f, "{\"trace\": ");
    json_str(f, o->trace);
    fprintf(f, ", \"events\": %llu, \"threads\": %llu, \"truncated\": %s, \"unknown_frees\": %llu,\n"
               " \"ideal_peak_bytes\": %llu, \"prep_ns\": %llu, \"trace_env\": [",
            (unsigned long long)prep->events, (unsigned long long)prep->threads, prep->truncated ? "true" : "false",
            (unsigned long long)prep->unknown_frees, (unsigned long long)prep->ideal_peak,
            (unsigned long long)prep->prep_ns);
    for (int k = 0; k < prep->nenv; k++) {
        if (k) fprintf(f, ", ");
        json_str(f, prep->env[k]);
    }
    fprintf(f, "], ");
    if (prep->truncated) { /* why: cut, no END, the recorder stopped or dropped events */
        fprintf(f, "\"truncated_reason\": ");
        json_str(f, prep->warn);
        fprintf(f, ", ");
    }
    fprintf(f, "\"runs\": [");
    int first = 1;
    for (int i = 0; i < n; i++) {
        const rp_run_t *r = &runs[i];
        if (r->failed) continue;
        const rp_result_t *x = r->res;
        fprintf(f, "%s\n  {\"allocator\": ", first ? "" : ",");
        first = 0;
        json_str(f, r->label);
        fprintf(f, ", \"library\": ");
        if (r->lib[0]) json_str(f, r->lib);
        else fprintf(f, "null");
        fprintf(f, ", \"mode\": \"%s\", \"touch\": \"%s\", \"env\": [", o->threads ? "threads" : "serial",
                o->touch ? "all" : "none");
        for (int k = 0; k < r->nenv; k++) {
            if (k) fprintf(f, ", ");
            json_str(f, r->env[k]);
        }
        double const ratio = prep->ideal_peak ? (double)x->peak_rss / (double)prep->ideal_peak : 0;
        fprintf(f, "],\n   \"ops\": %llu, \"wall_ns\": %llu, \"cpu_ns\": %llu, \"ns_per_op\": %.3f,\n"
                   "   \"peak_rss_bytes\": %llu, \"final_rss_bytes\": %llu, \"baseline_rss_bytes\": %llu, "
                   "\"ideal_peak_bytes\": %llu, \"peak_rss_over_ideal\": %.4f,\n"
                   "   \"latency_sample\": %u, \"null_results\": %llu, \"order_errors\": %llu, \"page_faults\": %llu,\n   \"latency_ns\": {",
                (unsigned long long)x->ops, (unsigned long long)x->wall_ns, (unsigned long long)x->cpu_ns,
                x->ops ? (double)x->wall_ns / (double)x->ops : 0.0, (unsigned long long)x->peak_rss,
                (unsigned long long)x->final_rss, (unsigned long long)x->baseline_rss,
                (unsigned long long)prep->ideal_peak, ratio, x->sample, (unsigned long long)x->null_fail,
                (unsigned long long)x->order_errors, (unsigned long long)x->minflt);
        int fk = 1;
        for (int k = 0; k < RP_NKINDS; k++) {
            if (!x->count[k]) continue;
            fprintf(f, "%s\"%s\": {\"count\": %llu, \"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f}",
                    fk ? "" : ", ", k_kind[k], (unsigned long long)x->count[k], rp_percentile_ns(x, k, .5),
                    rp_percentile_ns(x, k, .99), rp_percentile_ns(x, k, .999),
                    (double)x->maxc[k] * rp_ns_per_cycle(x));
            fk = 0;
        }
        fprintf(f, "}");
        /* RSS over time, columns; serial mode: with the live requested bytes at the same op */
        fprintf(f, ",\n   \"rss_over_time\": {\"every\": %llu, \"unit\": \"%s\", \"op\": [",
                (unsigned long long)x->rss_every, o->threads ? "ns" : "ops");
        for (uint32_t k = 0; k < x->nrss; k++) fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)x->rss[k].op);
        fprintf(f, "],\n     \"t_ns\": [");
        for (uint32_t k = 0; k < x->nrss; k++) fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)x->rss[k].ns);
        fprintf(f, "],\n     \"rss_bytes\": [");
        for (uint32_t k = 0; k < x->nrss; k++) fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)x->rss[k].bytes);
        fprintf(f, "]");
        if (!o->threads) {
            fprintf(f, ",\n     \"live_bytes\": [");
            for (uint32_t k = 0; k < x->nrss; k++) {
                uint64_t const op = x->rss[k].op, i = op / RP_LIVE_EVERY;
                uint64_t const v = op >= x->ops ? prep->final_live
                                   : (op % RP_LIVE_EVERY == 0 && i < prep->nlive_at) ? prep->live_at[i] : 0;
                fprintf(f, "%s%llu", k ? ", " : "", (unsigned long long)v);
            }
            fprintf(f, "]");
        }
        fprintf(f, "}");
        if (x->have_heap) {
            fprintf(f, ",\n   \"heap\": {");
            for (int k = 0; k < 5; k++)
                fprintf(f, "%s\"%s\": %llu", k ? ", " : "", k_heap[k], (unsigned long long)x->heap[k]);
            fprintf(f, "}");
        }
        if (x->nstats) {
            fprintf(f, ",\n   \"stats\": {");
            for (uint32_t k = 0; k < x->nstats; k++) {
                if (k) fprintf(f, ", ");
                json_str(f, x->stats[k].name);
                fprintf(f, ": %llu", (unsigned long long)x->stats[k].value);
            }
            fprintf(f, "}");
        }
        fprintf(f, "}");
    }
    fprintf(f, "\n]}\n");
    return tr_out_commit(out) ? -1 : 0; /* a failed write: errno kept, the file removed */
}
