/* report.c - malloc-sim's text report, JSON and timeline CSV.
 *
 * Measures (per model; "live" = bytes the program requested and holds):
 *   peak footprint      the most the allocator held from the OS, and when;
 *   internal frag       at that peak: class/chunk/block bytes of the live
 *                       objects minus the live bytes (rounding and headers);
 *   external frag       at that peak: free bytes the allocator held;
 *   JW ratios           Johnstone & Wilson: footprint at the moment of peak
 *                       live / peak live; peak footprint / peak live.
 */
#include "report.h"

#include <inttypes.h>
#include <string.h>

#define U(x) ((unsigned long long)(x))

static const char *human(uint64_t v, char *buf)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4)
        d /= 1024, u++;
    if (u == 0)
        sprintf(buf, "%llu B", U(v));
    else
        sprintf(buf, "%.1f %s", d, unit[u]);
    return buf;
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0.0; }

static int ptm_index(const sim_run_t *run)
{
    for (unsigned m = 0; m < run->nmodels; m++)
        if (!strcmp(run->models[m].name, "ptmalloc2"))
            return (int)m;
    return -1;
}

static void order_by_peak(const sim_run_t *run, unsigned *idx)
{
    for (unsigned m = 0; m < run->nmodels; m++)
        idx[m] = m;
    for (unsigned i = 1; i < run->nmodels; i++) /* insertion sort, stable */
        for (unsigned j = i; j > 0 && run->results[idx[j]].peak_footprint <
                                          run->results[idx[j - 1]].peak_footprint; j--) {
            unsigned t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

void sim_report_text(FILE *f, const char *trace, const sim_run_t *run)
{
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "malloc-sim: %s: %llu events%s; peak live %s at op %llu; final live %s\n", trace,
            U(run->events), run->truncated ? " (TRUNCATED trace: its complete part)" : "",
            human(run->peak_live, a), U(run->peak_live_op), human(run->final_live, b));
    if (run->truncated)
        fprintf(f, "  TRUNCATED: %s\n", run->err);
    if (run->unknown_frees)
        fprintf(f, "  %llu frees/reallocs of pointers the trace never allocated (ignored)\n",
                U(run->unknown_frees));
    fprintf(f, "\n%-10s %12s %10s %12s %12s %12s %12s %8s %8s\n", "model", "peak fp", "at op",
            "final fp", "internal", "external", "largest", "JW@live", "JWpeak");
    for (unsigned m = 0; m < run->nmodels; m++) {
        const sim_result_t *r = &run->results[m];
        fprintf(f, "%-10s %12s %10llu %12s %12s %12s %12s %8.3f %8.3f\n", run->models[m].name,
                human(r->peak_footprint, a), U(r->peak_op), human(r->final.footprint, b),
                human(r->at_peak.class_bytes - r->live_at_peak, c), human(r->at_peak.free_bytes, d),
                human(r->at_peak.largest_free, e), ratio(r->footprint_at_peak_live, run->peak_live),
                ratio(r->peak_footprint, run->peak_live));
    }
    fprintf(f, "  (fp = footprint, bytes held from the OS; internal/external/largest free at the"
               " peak footprint;\n   JW@live = footprint when live peaked / peak live;"
               " JWpeak = peak footprint / peak live)\n");
    unsigned idx[16];
    order_by_peak(run, idx);
    int pt = ptm_index(run);
    fprintf(f, "\nranking by peak footprint:\n");
    for (unsigned i = 0; i < run->nmodels; i++) {
        const sim_result_t *r = &run->results[idx[i]];
        fprintf(f, "  %u. %-10s %12s", i + 1, run->models[idx[i]].name, human(r->peak_footprint, a));
        if (pt >= 0 && (int)idx[i] != pt) {
            uint64_t p = run->results[pt].peak_footprint;
            int64_t s = (int64_t)(p - r->peak_footprint);
            fprintf(f, "  %s %s (%.1f%%) against ptmalloc2", s >= 0 ? "saves" : "costs",
                    human((uint64_t)(s >= 0 ? s : -s), b), p ? 100.0 * (double)(s >= 0 ? s : -s) / (double)p : 0.0);
        }
        fputc('\n', f);
    }
    for (unsigned m = 0; m < run->nmodels; m++)
        if (run->models[m].report) {
            fputc('\n', f);
            run->models[m].report(run->models[m].opaque, f, 0);
        }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int sim_report_json(FILE *f, const char *trace, const sim_run_t *run)
{
    int pt = ptm_index(run);
    fprintf(f, "{\"trace\": ");
    json_str(f, trace);
    fprintf(f, ", \"events\": %llu, \"truncated\": %s, ", U(run->events), run->truncated ? "true" : "false");
    if (run->truncated) { /* why: cut, no END, the recorder stopped or dropped events */
        fprintf(f, "\"truncated_reason\": ");
        json_str(f, run->err);
        fprintf(f, ", ");
    }
    fprintf(f, "\"peak_live_bytes\": %llu, \"peak_live_op\": %llu, \"final_live_bytes\": %llu,\n \"models\": [",
            U(run->peak_live), U(run->peak_live_op), U(run->final_live));
    for (unsigned m = 0; m < run->nmodels; m++) {
        const sim_result_t *r = &run->results[m];
        const sim_model_t *md = &run->models[m];
        fprintf(f, "%s\n  {\"model\": \"%s\",\n   \"peak\": {\"footprint_bytes\": %llu, "
                   "\"live_bytes\": %llu, \"op\": %llu, \"free_bytes\": %llu, "
                   "\"largest_free_bytes\": %llu},\n",
                m ? "," : "", md->name, U(r->peak_footprint), U(r->live_at_peak), U(r->peak_op),
                U(r->at_peak.free_bytes), U(r->at_peak.largest_free));
        fprintf(f, "   \"final\": {\"footprint_bytes\": %llu, \"live_bytes\": %llu, "
                   "\"free_bytes\": %llu, \"largest_free_bytes\": %llu, \"internal_frag_bytes\": %llu",
                U(r->final.footprint), U(run->final_live), U(r->final.free_bytes),
                U(r->final.largest_free), U(r->final.class_bytes - run->final_live));
        if (md->mallinfo) {
            uint64_t mi[5];
            md->mallinfo(md->opaque, mi);
            fprintf(f, ", \"arena\": %llu, \"hblkhd\": %llu, \"uordblks\": %llu, "
                       "\"fordblks\": %llu, \"keepcost\": %llu",
                    U(mi[0]), U(mi[1]), U(mi[2]), U(mi[3]), U(mi[4]));
        }
        fprintf(f, "},\n   \"internal_frag_bytes\": %llu, \"external_frag_bytes\": %llu,\n",
                U(r->at_peak.class_bytes - r->live_at_peak), U(r->at_peak.free_bytes));
        fprintf(f, "   \"footprint_at_peak_live_bytes\": %llu, "
                   "\"jw_footprint_over_live_at_peak_live\": %.4f, "
                   "\"jw_peak_footprint_over_peak_live\": %.4f, \"saving_vs_ptmalloc2_bytes\": ",
                U(r->footprint_at_peak_live), ratio(r->footprint_at_peak_live, run->peak_live),
                ratio(r->peak_footprint, run->peak_live));
        if (pt >= 0)
            fprintf(f, "%lld", (long long)(run->results[pt].peak_footprint - r->peak_footprint));
        else
            fprintf(f, "null");
        if (md->report)
            md->report(md->opaque, f, 1);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
    return ferror(f) ? -1 : 0;
}

int sim_report_timeline(FILE *f, const sim_run_t *run)
{
    fprintf(f, "op,t_ns,live_bytes");
    for (unsigned m = 0; m < run->nmodels; m++)
        fprintf(f, ",%s_footprint", run->models[m].name);
    fputc('\n', f);
    size_t w = 3 + run->nmodels;
    for (size_t i = 0; i < run->timeline_n; i++) {
        const uint64_t *r = run->timeline + i * w;
        for (size_t k = 0; k < w; k++)
            fprintf(f, k ? ",%llu" : "%llu", U(r[k]));
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}
