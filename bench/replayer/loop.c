/* loop.c - the replay loop alone, in one process: preprocesses a trace once,
 * then runs the --null engine over the serial plan several times and prints
 * ns/op of each pass (CPU time). For work on engine.c: no fork, no exec and
 * no preprocessing between passes, so the minimum of a few passes is steady
 * even on a loaded machine. Not a target measurement (run.sh is).
 *
 * usage: loop TRACE [PASSES] [SAMPLE] [TOUCH]
 * build: see run.sh (same flags as the replayer's engine.c). */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *zmap(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("loop: mmap"); exit(1); }
    madvise(p, n, MADV_HUGEPAGE);
    memset(p, 0, n);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: loop TRACE [PASSES] [SAMPLE] [TOUCH]\n"); return 2; }
    int const passes = argc > 2 ? atoi(argv[2]) : 5;
    uint32_t const sample = argc > 3 ? (uint32_t)atoi(argv[3]) : 128;
    int const touch = argc > 4 ? atoi(argv[4]) : 0;
    rp_prep_t pr;
    char err[512];
    uint64_t const p0 = cpu_ns();
    if (rp_prep(argv[1], 0, &pr, err, sizeof err)) { fprintf(stderr, "loop: %s: %s\n", argv[1], err); return 1; }
    printf("prep: %.3f s wall, %.3f s CPU (main thread and decoder), %.1f M events/s\n", (double)pr.prep_ns / 1e9,
           (double)(cpu_ns() - p0) / 1e9, (double)pr.events / ((double)pr.prep_ns / 1e3));
    char *plan = zmap((size_t)pr.bytes);
    if (pread(pr.fd, plan, (size_t)pr.bytes, 0) != (ssize_t)pr.bytes) { perror("loop: pread"); return 1; }
    const rp_plan_t *h = (const rp_plan_t *)plan;
    const rp_lane_t *l = (const rp_lane_t *)(plan + h->lanes_off);
    static rp_result_t res;
    rp_engine_t e;
    memset(&e, 0, sizeof e);
    e.res = &res;
    e.null = 1;
    e.touch = touch;
    e.sample = sample ? sample : 1;
    e.page = 4096;
    for (unsigned c = 0; c < RP_NCODES; c++) { /* as child.c */
        uint64_t s = 1;
        while (h->ncode[c] / s > (1u << 14)) s *= 2;
        e.kmask[c] = (uint32_t)(s - 1);
    }
    e.slots = zmap(h->nslots * sizeof(void *));
    e.nb_cap = 64u << 20;
    e.nb_base = zmap(e.nb_cap);
    printf("%llu ops, %llu object slots, plan %.1f bytes/op, sample %u, touch %s\n", (unsigned long long)h->nops,
           (unsigned long long)h->nslots, (double)pr.bytes / (double)(h->nops ? h->nops : 1), e.sample,
           touch ? "all" : "none");
    double best = 1e30;
    for (int r = 0; r < passes; r++) {
        const rp_op_t *ops = (const rp_op_t *)(plan + l->ops_off);
        const uint64_t *ext = (const uint64_t *)(plan + l->ext_off);
        size_t nb = 0;
        uint64_t nf = 0;
        uint64_t const c0 = cpu_ns();
        for (uint64_t d = 0; d < l->nops;) {
            uint64_t const k = l->nops - d < 65536 ? l->nops - d : 65536;
            rp_engine_run(&e, ops + d, k, &ext, 0, 0, (uint32_t)d, NULL, &nb, &nf);
            d += k;
        }
        double const ns = (double)(cpu_ns() - c0) / (double)(l->nops ? l->nops : 1);
        if (ns < best) best = ns;
        printf("pass %d: %.2f ns/op (%.1f M ops/s)\n", r + 1, ns, 1e3 / ns);
    }
    printf("best: %.2f ns/op (%.1f M ops/s)\n", best, 1e3 / best);
    return 0;
}
