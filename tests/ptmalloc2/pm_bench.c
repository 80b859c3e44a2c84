/* pm_bench.c - speed of the ptmalloc2 model (not a test: prints figures).
 * Usage: pm_bench [EVENTS]   (default 10,000,000)
 *        pm_bench SCRIPT     (a pm_ops.h script, e.g. one pm_shim recorded,
 *                             replayed 10 times through the handle API)
 * A synthetic trace kept in memory: 55% malloc / 45% free over a live set of
 * up to 64Ki objects, sizes mostly small (program-like), some large and a
 * few mmapped; realloc and calloc now and then. Runs it through the handle
 * API (no hashing) and the address API, and prints events per second. */
#include "pm_ops.h"
#include "ptmalloc2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { uint8_t kind; uint32_t slot; uint32_t size; } ev_t;

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static uint32_t size_of(void)
{
    unsigned c = (unsigned)(rnd() % 1000);
    if (c < 700) return (uint32_t)(8 + rnd() % 120);
    if (c < 930) return (uint32_t)(128 + rnd() % 900);
    if (c < 995) return (uint32_t)(1024 + rnd() % 30000);
    return (uint32_t)(100000 + rnd() % 400000);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define SLOTS 65536

static int bench_script(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "pm_bench: %s: cannot open\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len);
    pmt_op_t *ops = malloc(((size_t)len / 2 + 1) * sizeof *ops);
    if (!text || !ops || fread(text, 1, (size_t)len, f) != (size_t)len)
        return 1;
    fclose(f);
    long n = pmt_parse(text, text + len, ops, len / 2 + 1);
    if (n < 0) {
        fprintf(stderr, "pm_bench: %s: bad script\n", path);
        return 1;
    }
    pm_chunk_t **slots = calloc(PMT_MAX_SLOTS, sizeof *slots);
    double best = 1e9;
    for (int rep = 0; rep < 10; rep++) {
        pm_heap_t *h = pm_create(NULL);
        memset(slots, 0, PMT_MAX_SLOTS * sizeof *slots);
        double t0 = now();
        for (long i = 0; i < n; i++) {
            pmt_op_t *op = &ops[i];
            pm_chunk_t **s = &slots[op->slot];
            switch (op->kind) {
            case 'm': *s = pm_malloc_c(h, (size_t)op->a); break;
            case 'c': *s = pm_calloc_c(h, (size_t)op->a, (size_t)op->b); break;
            case 'r': {
                pm_chunk_t *c = pm_realloc_c(h, *s, (size_t)op->a);
                if (c || op->a == 0)
                    *s = c;
                break;
            }
            case 'a': case 'p': *s = pm_memalign_c(h, (size_t)op->a, (size_t)op->b); break;
            case 'v': *s = pm_valloc_c(h, (size_t)op->a); break;
            case 'V': *s = pm_pvalloc_c(h, (size_t)op->a); break;
            case 'f': pm_free_c(h, *s); *s = NULL; break;
            case 'o': pm_mallopt(h, (int)op->a, (int)op->b); break;
            case 't': pm_malloc_trim(h, (size_t)op->a); break;
            case 'U': case 'T': pm_set_thread(h, (uint32_t)op->a); break;
            case 'X': pm_thread_exit(h, (uint32_t)op->a); break;
            }
        }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
        pm_destroy(h);
    }
    printf("%s: %ld events, best of 10: %.4f s = %.1f M events/s\n", path, n, best, n / best / 1e6);
    free(slots);
    free(ops);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9'))
        return bench_script(argv[1]);
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    ev_t *ev = malloc((size_t)n * sizeof *ev);
    static uint8_t live[SLOTS];
    if (!ev)
        return 1;
    for (long i = 0; i < n; i++) {
        uint32_t s = (uint32_t)(rnd() % SLOTS);
        unsigned c = (unsigned)(rnd() % 100);
        if (live[s]) {
            ev[i] = (ev_t){c < 90 ? 'f' : 'r', s, size_of()};
            live[s] = ev[i].kind == 'r';
        } else {
            ev[i] = (ev_t){c < 95 ? 'm' : 'c', s, size_of()};
            live[s] = 1;
        }
    }
    static pm_chunk_t *hs[SLOTS];
    static uint64_t as[SLOTS];
    for (int api = 0; api < 2; api++) {
        pm_heap_t *h = pm_create(NULL);
        double t0 = now();
        for (long i = 0; i < n; i++) {
            ev_t *e = &ev[i];
            if (api == 0) {
                switch (e->kind) {
                case 'm': hs[e->slot] = pm_malloc_c(h, e->size); break;
                case 'c': hs[e->slot] = pm_calloc_c(h, 1, e->size); break;
                case 'r': hs[e->slot] = pm_realloc_c(h, hs[e->slot], e->size); break;
                default: pm_free_c(h, hs[e->slot]); hs[e->slot] = NULL; break;
                }
            } else {
                switch (e->kind) {
                case 'm': as[e->slot] = pm_malloc(h, e->size); break;
                case 'c': as[e->slot] = pm_calloc(h, 1, e->size); break;
                case 'r': as[e->slot] = pm_realloc(h, as[e->slot], e->size); break;
                default: pm_free(h, as[e->slot]); as[e->slot] = 0; break;
                }
            }
        }
        double dt = now() - t0;
        pm_mallinfo_t mi;
        pm_mallinfo2(h, &mi);
        printf("%s API: %ld events in %.3f s = %.1f M events/s (arena %zu, hblkhd %zu)\n",
               api ? "address" : "handle", n, dt, n / dt / 1e6, mi.arena, mi.hblkhd);
        pm_destroy(h);
    }
    free(ev);
    return 0;
}
