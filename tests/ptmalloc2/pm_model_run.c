/* pm_model_run.c - run a pm_ops.h script through the ptmalloc2 model and
 * print the same lines as pm_glibc_driver.
 * Usage: pm_model_run SCRIPT K [BRK_BASE]   (BRK_BASE: the driver's "S" line) */
#include "pm_ops.h"
#include "ptmalloc2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS PMT_MAX_SLOTS

static pm_chunk_t *slots[MAX_SLOTS];
static uint64_t aslots[MAX_SLOTS]; /* --addr: the address API */

static void print_res(FILE *o, uint64_t brk, pm_chunk_t *c, uint64_t arena_of_addr_mask)
{
    (void)arena_of_addr_mask;
    if (!c) {
        fputs("0\n", o);
        return;
    }
    pm_chunk_info_t ci;
    pm_chunk_info(c, &ci);
    if (ci.mmapped)
        fprintf(o, "M %llu\n", (unsigned long long)(ci.size + ci.mmap_off));
    else if (ci.arena)
        fprintf(o, "H %llu\n", (unsigned long long)((ci.addr - 16) & ((64u << 20) - 1)));
    else
        fprintf(o, "B %llu\n", (unsigned long long)(ci.addr - 16 - brk));
}

static void print_cp(FILE *o, pm_heap_t *h)
{
    pm_mallinfo_t m;
    pm_mallinfo2(h, &m);
    if (pm_footprint(h) != m.arena + m.hblkhd) /* the O(1) sum must agree: breaks the diff */
        fprintf(o, "footprint %llu != arena + hblkhd\n", (unsigned long long)pm_footprint(h));
    fprintf(o, "C %zu %zu %zu %zu %zu %zu %zu %zu %zu\n", m.arena, m.ordblks, m.smblks, m.hblks,
            m.hblkhd, m.fsmblks, m.uordblks, m.fordblks, m.keepcost);
}

/* The address API (pm_malloc etc.): results printed from the chunk info of
 * the handle the index holds. Returns 0 for ops it leaves to the handle path. */
static int run_addr(pm_heap_t *h, FILE *o, uint64_t brk, const pmt_op_t *op, uint64_t *slot)
{
    uint64_t p = 0;
    switch (op->kind) {
    case 'm': p = *slot = pm_malloc(h, (size_t)op->a); break;
    case 'c': p = *slot = pm_calloc(h, (size_t)op->a, (size_t)op->b); break;
    case 'r':
        p = pm_realloc(h, *slot, (size_t)op->a);
        if (p || op->a == 0)
            *slot = p;
        break;
    case 'a': p = *slot = pm_memalign(h, (size_t)op->a, (size_t)op->b); break;
    case 'p':
        if (pm_posix_memalign(h, &p, (size_t)op->a, (size_t)op->b) != 0)
            p = 0;
        *slot = p;
        break;
    case 'v': p = *slot = pm_valloc(h, (size_t)op->a); break;
    case 'V': p = *slot = pm_pvalloc(h, (size_t)op->a); break;
    case 'f': pm_free(h, *slot); *slot = 0; fputs("0\n", o); return 1;
    default: return 0;
    }
    print_res(o, brk, p ? pm_chunk_of(h, p) : NULL, 0);
    return 1;
}

/* --cp-only: the address API, no per-op output (programs recorded by pm_shim) */
static void run_quiet(pm_heap_t *h, const pmt_op_t *op, uint64_t *slot)
{
    uint64_t p = 0;
    switch (op->kind) {
    case 'm': *slot = pm_malloc(h, (size_t)op->a); break;
    case 'c': *slot = pm_calloc(h, (size_t)op->a, (size_t)op->b); break;
    case 'r':
        p = pm_realloc(h, *slot, (size_t)op->a);
        if (p || op->a == 0)
            *slot = p;
        break;
    case 'a': *slot = pm_memalign(h, (size_t)op->a, (size_t)op->b); break;
    case 'p':
        if (pm_posix_memalign(h, &p, (size_t)op->a, (size_t)op->b) != 0)
            p = 0;
        *slot = p;
        break;
    case 'v': *slot = pm_valloc(h, (size_t)op->a); break;
    case 'V': *slot = pm_pvalloc(h, (size_t)op->a); break;
    case 'f': pm_free(h, *slot); *slot = 0; break;
    case 'o': pm_mallopt(h, (int)op->a, (int)op->b); break;
    case 't': pm_malloc_trim(h, (size_t)op->a); break;
    case 'U': pm_set_thread(h, (uint32_t)op->a); break;
    case 'X': pm_thread_exit(h, (uint32_t)op->a); break;
    default: break;
    }
}

int main(int argc, char **argv)
{
    int addr_api = 0, cp_only = 0;
    pm_config_t cfg;
    pm_config_default(&cfg);
    while (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-') {
        if (strcmp(argv[1], "--addr") == 0)
            addr_api = 1;
        else if (strcmp(argv[1], "--cp-only") == 0)
            cp_only = 1; /* only S and C lines; a final C line always */
        else if (strcmp(argv[1], "--tune") == 0 && argc > 2) {
            /* NAME=VALUE[:NAME=VALUE...], GLIBC_TUNABLES style */
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", argv[2]);
            for (char *t = strtok(buf, ":"); t; t = strtok(NULL, ":")) {
                char *eq = strchr(t, '=');
                if (!eq || (*eq = 0, pm_config_set(&cfg, t, eq + 1) != 0)) {
                    fprintf(stderr, "pm_model_run: --tune: bad setting '%s'\n", t);
                    return 2;
                }
            }
            argv++;
            argc--;
        }
        argv++;
        argc--;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: pm_model_run [--addr] [--cp-only] [--tune N=V:...] SCRIPT K [BRK_BASE]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "pm_model_run: %s: cannot open\n", argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "pm_model_run: %s: read error\n", argv[1]);
        return 2;
    }
    fclose(f);
    long max = len / 2 + 1;
    pmt_op_t *ops = malloc((size_t)max * sizeof *ops);
    long n = pmt_parse(text, text + len, ops, max);
    if (n < 0) {
        fprintf(stderr, "pm_model_run: %s: bad script\n", argv[1]);
        return 2;
    }
    long k = atol(argv[2]);
    if (argc > 3)
        cfg.brk_base = strtoull(argv[3], NULL, 0);
    pm_heap_t *h = pm_create(&cfg);
    uint64_t brk = cfg.brk_base ? cfg.brk_base : pm_brk_base(h);
    FILE *o = stdout;
    static int started[64];
    int stack_cache = 0;
    pm_set_thread(h, 0); /* tid 0 is the main thread */
    fprintf(o, "S %llu\n", (unsigned long long)brk);
    for (long i = 0; i < n; i++) {
        pmt_op_t *op = &ops[i];
        pm_chunk_t *c = NULL;
        if (cp_only) {
            run_quiet(h, op, &aslots[op->slot]);
            if (k > 0 && (i + 1) % k == 0)
                print_cp(o, h);
            continue;
        }
        if (addr_api && run_addr(h, o, brk, op, &aslots[op->slot])) {
            if ((k > 0 && (i + 1) % k == 0) || i == n - 1)
                print_cp(o, h);
            continue;
        }
        switch (op->kind) {
        case 'm': c = slots[op->slot] = pm_malloc_c(h, (size_t)op->a); print_res(o, brk, c, 0); break;
        case 'c': c = slots[op->slot] = pm_calloc_c(h, (size_t)op->a, (size_t)op->b); print_res(o, brk, c, 0); break;
        case 'r':
            c = pm_realloc_c(h, slots[op->slot], (size_t)op->a);
            if (c || op->a == 0)
                slots[op->slot] = c;
            print_res(o, brk, c, 0);
            break;
        case 'a': c = slots[op->slot] = pm_memalign_c(h, (size_t)op->a, (size_t)op->b); print_res(o, brk, c, 0); break;
        case 'p': {
            pm_chunk_t *q = NULL;
            int rc = pm_posix_memalign_c(h, &q, (size_t)op->a, (size_t)op->b);
            c = slots[op->slot] = rc ? NULL : q;
            print_res(o, brk, c, 0);
            break;
        }
        case 'v': c = slots[op->slot] = pm_valloc_c(h, (size_t)op->a); print_res(o, brk, c, 0); break;
        case 'V': c = slots[op->slot] = pm_pvalloc_c(h, (size_t)op->a); print_res(o, brk, c, 0); break;
        case 'f': pm_free_c(h, slots[op->slot]); slots[op->slot] = NULL; fputs("0\n", o); break;
        case 'o': fprintf(o, "R %d\n", pm_mallopt(h, (int)op->a, (int)op->b)); break;
        case 't': fprintf(o, "R %d\n", pm_malloc_trim(h, (size_t)op->a)); break;
        case 'T':
            /* The driver's pthread_create (in the main thread) callocs the new
             * thread's DTV, 17 x 16 bytes, unless a joined thread's stack is
             * in glibc's stack cache (the DTV comes with it). */
            if (op->a > 0 && op->a < 64 && !started[op->a]) {
                started[op->a] = 1;
                if (stack_cache > 0) {
                    stack_cache--;
                } else {
                    pm_set_thread(h, 0);
                    pm_calloc_c(h, 17, 16);
                }
            }
            pm_set_thread(h, (uint32_t)op->a);
            fputs("0\n", o);
            break;
        case 'U': pm_set_thread(h, (uint32_t)op->a); fputs("0\n", o); break;
        case 'X':
            if (op->a > 0 && op->a < 64 && started[op->a]) {
                pm_thread_exit(h, (uint32_t)op->a);
                started[op->a] = 0;
                stack_cache++;
            }
            fputs("0\n", o);
            break;
        }
        if ((k > 0 && (i + 1) % k == 0) || i == n - 1)
            print_cp(o, h);
    }
    if (n == 0 || cp_only)
        print_cp(o, h);
    pm_destroy(h);
    free(ops);
    free(text);
    return 0;
}
