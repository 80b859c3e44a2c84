/* step.c - bench_sim_step TRACE MODELS: the simulator's own speed, without
 * the trace decoding: events are decoded in batches of 4096 into memory, and
 * only the driver and the models (sim_event) are timed. Prints
 * "MODELS EVENTS SECONDS EVENTS_PER_S DECODE_SECONDS", the last the CPU time
 * of the decoding (tr_reader_next: zstd and the varints) on its own. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: robust to a shared machine */
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void null_step(void *o, const sim_req_t *r) { (void)o, (void)r; }
static uint64_t null_fp(void *o) { return (uint64_t)(uintptr_t)o; }
static void null_stats(void *o, sim_stats_t *st) { (void)o, memset(st, 0, sizeof *st); }
static void null_destroy(void *o) { (void)o; }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_sim_step TRACE ptmalloc2|buddy|jemalloc|tcmalloc|mimalloc|all|none\n");
        return 2;
    }
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(argv[1], &err);
    if (!r) {
        fprintf(stderr, "bench_sim_step: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    sim_model_t ms[5];
    unsigned n = 0;
    char e[256];
    const char *want = argv[2];
    int all = !strcmp(want, "all");
    if ((all || !strcmp(want, "ptmalloc2")) && sim_have_ptmalloc2())
        if (sim_model_ptmalloc2(&ms[n], NULL, 0, NULL, 0, 0, e, sizeof e) == 0)
            n++;
    if (all || !strcmp(want, "buddy"))
        if (sim_model_buddy(&ms[n], 16, 16, e, sizeof e) == 0)
            n++;
    static const char *const sc[] = { "jemalloc", "tcmalloc", "mimalloc" };
    for (int k = 0; k < 3; k++)
        if (all || !strcmp(want, sc[k]))
            if (sim_model_sizeclass(&ms[n], (sim_sc_kind_t)k, e, sizeof e) == 0)
                n++;
    if (!strcmp(want, "none")) /* the driver alone: a model that does nothing */
        ms[n++] = (sim_model_t){ .name = "none", .step = null_step, .footprint = null_fp,
                                 .stats = null_stats, .destroy = null_destroy };
    if (!n) {
        fprintf(stderr, "bench_sim_step: no model %s\n", want);
        return 2;
    }
    enum { BATCH = 1 << 12 }; /* 288 KiB of events: stays in cache */
    tr_event_t *evs = malloc(BATCH * sizeof *evs);
    sim_run_t run = { .models = ms, .nmodels = n, .threads = 1 }; /* CPU time of every model */
    if (!evs || sim_begin(&run))
        return 1;
    double t = 0, td = 0;
    uint64_t total = 0;
    for (;;) {
        size_t k = 0;
        double const d0 = now();
        while (k < BATCH && tr_reader_next(r, &evs[k]) > 0)
            k++;
        td += now() - d0;
        if (!k)
            break;
        double t0 = now();
        uint32_t rid[16];
        for (int j = 0; j < 16; j++)
            rid[j] = SIM_NO_ID;
        for (size_t i = 0; i < k; i++) {
            if (i + 16 < k)
                sim_prefetch(&run, &evs[i + 16]);
            if (i + 11 < k) /* as sim_run does */
                rid[(i + 11) % 16] = sim_prefetch_ids(&run, &evs[i + 11]);
            if (i + 5 < k)
                sim_prefetch_models(&run, rid[(i + 5) % 16]);
            if (sim_event(&run, &evs[i]))
                return 1;
        }
        t += now() - t0;
        total += k;
    }
    sim_end(&run);
    printf("%s %llu %.3f %.0f %.3f\n", want, (unsigned long long)total, t, (double)total / t, td);
    sim_run_free(&run);
    for (unsigned i = 0; i < n; i++)
        ms[i].destroy(ms[i].opaque);
    free(evs);
    tr_reader_close(r);
    return 0;
}
