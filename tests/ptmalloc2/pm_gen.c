/* pm_gen.c - random pm_ops.h scripts for the ptmalloc2 differential test.
 * Usage: pm_gen SEED NOPS [threads]
 * Sizes cover every bin class (tcache, fastbin, small, each large-bin
 * spacing, above the mmap threshold); frees come in random order and in
 * bursts; reallocs grow and shrink; memalign uses many alignments; mallopt
 * and malloc_trim appear now and then. With "threads", ops are spread over
 * a few threads with thread exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return rs * 0x2545F4914F6CDD1Dull;
}
static uint64_t rr(uint64_t lo, uint64_t hi) { return lo + rnd() % (hi - lo + 1); }

static int mode_churn, mode_heaps;
static uint64_t churn_set[4];
static uint64_t min_thr = 128 * 1024; /* lowest mmap threshold so far */

static uint64_t rsize_any(void);
static uint64_t rsize(void)
{
    if (mode_churn && rnd() % 8)
        return churn_set[rnd() % 4];
    if (mode_heaps && rnd() % 4 == 0)
        return rr(1u << 20, 6u << 20); /* below a raised mmap threshold: heap growth */
    return rsize_any();
}

static uint64_t rsize_any(void)
{
    unsigned c = (unsigned)(rnd() % 1000);
    if (c < 300) return rr(0, 120);           /* tcache / fastbin */
    if (c < 520) return rr(121, 1016);        /* small */
    if (c < 680) return rr(1017, 3128);       /* large, 64 B spacing */
    if (c < 800) return rr(3129, 10744);      /* 512 B */
    if (c < 890) return rr(10745, 40952);     /* 4 KiB */
    if (c < 950) return rr(40953, 163832);    /* 32 KiB, around the mmap threshold */
    if (c < 985) return rr(163833, 786424);   /* 256 KiB */
    return rr(786425, 3u << 20);               /* mmapped */
}

#define MAXS 4096

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pm_gen SEED NOPS [threads]\n");
        return 2;
    }
    rs = strtoull(argv[1], NULL, 0) * 0x9E3779B97F4A7C15ull + 12345;
    long n = atol(argv[2]);
    const char *mode = argc > 3 ? argv[3] : "";
    int threads = strstr(mode, "threads") != NULL;
    /* many: 25 threads, more than 8 x ncpu arenas on small machines, so
     * arenas get reused round-robin; no thread exits (the stack cache of
     * the driver's pthreads would then free DTVs, which the runner does not
     * emulate) */
    int many = strstr(mode, "many") != NULL;
    if (many)
        threads = 1;
    mode_churn = strstr(mode, "churn") != NULL;
    mode_heaps = strstr(mode, "heaps") != NULL;
    if (strstr(mode, "unsorted")) {
        /* > 10000 separated free chunks in the unsorted bin, then a large
         * request: the walk stops after MAX_ITERS (10000) chunks */
        unsigned m = (unsigned)rr(10100, 12000);
        printf("# unsorted walk: %u chunks\n", 2 * m);
        for (unsigned i = 0; i < 2 * m; i++)
            printf("m %u %llu\n", i, (unsigned long long)rr(130, 900));
        for (unsigned i = 0; i < 2 * m; i += 2)
            printf("f %u\n", i);
        printf("m %u 5000\nm %u 300\nm %u 5000\n", 2 * m, 2 * m + 1, 2 * m + 2);
        for (unsigned i = 1; i < 2 * m; i += 2)
            if (rnd() % 3)
                printf("f %u\n", i);
        printf("m %u 100000\nt 0\n", 2 * m + 3);
        return 0;
    }
    if (strstr(mode, "tlimit")) {
        /* unsorted chunks of two sizes separated by guards, the tcache bin
         * of one drained: the walk caches exact fits and places the others,
         * which glibc.malloc.tcache_unsorted_limit cuts short */
        unsigned m = (unsigned)rr(30, 200), a = (unsigned)rr(130, 500), b = (unsigned)rr(130, 1000);
        for (unsigned i = 0; i < m; i++)
            printf("m %u %u\nm %u 24\n", i, i % 2 ? b : a, 1000 + i);
        for (unsigned i = 0; i < m; i++)
            printf("f %u\n", i);
        for (unsigned i = 0; i < 7; i++)
            printf("m %u %u\n", 2000 + i, a);
        for (unsigned i = 0; i < 20; i++)
            printf("m %u %u\n", 3000 + i, rnd() % 2 ? a : b);
        printf("m 4000 5000\n");
        return 0;
    }
    if (mode_heaps)
        printf("o -3 %u\n", 32u << 20);
    static int live[MAXS];
    for (int i = 0; i < 4; i++)
        churn_set[i] = rr(0, 1100);
    /* bigalign[s]: memaligned above the page size. If glibc mmapped it, the
     * chunk's offset in the mapping depends on the mapping's address (ASLR),
     * and a later realloc (mremap) would differ by a page: not predictable,
     * so such slots are freed, never realloc'ed. */
    static int bigalign[MAXS];
    unsigned nslots = (unsigned)rr(16, mode_heaps ? 160 : MAXS);
    unsigned burst = 0;
    int tid = 0, maxtid = 0;
    int exited[32] = {0};
    printf("# seed %s ops %ld slots %u\n", argv[1], n, nslots);
    for (long i = 0; i < n; i++) {
        if (mode_churn && i % 500 == 499)
            for (int j = 0; j < 4; j++)
                churn_set[j] = rnd() % 4 ? rr(0, 160) : rr(0, 1100);
        if (threads && rnd() % 200 == 0) {
            int t = (int)rr(0, many ? 24 : 4);
            if (t > maxtid)
                maxtid = t;
            if (t != tid) {
                printf("T %d\n", t);
                tid = t;
                exited[t] = 0; /* an exited tid comes back as a new thread */
                continue;
            }
        }
        if (threads && !many && tid == 0 && maxtid > 0 && rnd() % 2000 == 0) {
            int t = (int)rr(1, (uint64_t)maxtid);
            if (!exited[t]) {
                printf("X %d\n", t);
                exited[t] = 1;
                continue;
            }
        }
        unsigned s = (unsigned)(rnd() % nslots);
        if (burst) {
            burst--;
            for (unsigned j = 0; j < nslots && !live[s]; j++)
                s = (s + 1) % nslots;
            if (live[s]) {
                printf("f %u\n", s);
                live[s] = 0;
                continue;
            }
        }
        unsigned c = (unsigned)(rnd() % 1000);
        if (c < 2) {
            burst = (unsigned)rr(10, nslots);
            continue;
        }
        if (live[s] && c < 600) {
            if (c < 520) {
                printf("f %u\n", s);
                live[s] = 0;
            } else if (bigalign[s]) {
                printf("f %u\n", s);
                live[s] = 0;
            } else {
                uint64_t sz = rnd() % 2 ? rsize() : rr(0, 2048);
                printf("r %u %llu\n", s, (unsigned long long)sz);
                live[s] = sz != 0;
            }
            continue;
        }
        if (live[s]) {
            printf("f %u\n", s);
            live[s] = 0;
        }
        bigalign[s] = 0;
        if (c < 860) {
            printf("m %u %llu\n", s, (unsigned long long)rsize());
        } else if (c < 900) {
            printf("c %u %llu %llu\n", s, (unsigned long long)rr(1, 4), (unsigned long long)rsize() / 4);
        } else if (c < 920) {
            printf("r %u %llu\n", s, (unsigned long long)rsize()); /* realloc(NULL) */
        } else if (c < 960) {
            static const uint64_t al[] = {8, 16, 24, 32, 48, 64, 100, 128, 256, 512, 1024, 2048, 4096, 8192, 65536};
            uint64_t a = al[rnd() % 15];
            /* An mmapped chunk aligned above the page size starts at an
             * offset in its mapping that depends on the mapping's (random)
             * address; its size then feeds the dynamic mmap threshold when
             * freed. Keep such requests far below any mmap threshold. */
            if (a > 4096 && 2000 + a + 64 >= min_thr)
                a = 4096;
            bigalign[s] = a > 4096;
            printf("a %u %llu %llu\n", s, (unsigned long long)a, (unsigned long long)(rnd() % 3 || a > 4096 ? rr(0, 2000) : rsize()));
        } else if (c < 970) {
            static const uint64_t al[] = {8, 16, 32, 64, 24, 4096};
            printf("p %u %llu %llu\n", s, (unsigned long long)al[rnd() % 6], (unsigned long long)rsize());
        } else if (c < 975) {
            printf("v %u %llu\n", s, (unsigned long long)rr(0, 9000));
        } else if (c < 980) {
            printf("V %u %llu\n", s, (unsigned long long)rr(0, 9000));
        } else if (c < 985) {
            printf("t %llu\n", (unsigned long long)(rnd() % 2 ? 0 : rr(0, 300000)));
            continue;
        } else if (c < 988) {
            switch (rnd() % 8) {
            case 0: printf("o 1 %llu\n", (unsigned long long)rr(0, 176)); break;
            case 1: printf("o -1 %llu\n", (unsigned long long)rr(0, 1 << 20)); break;
            case 2: printf("o -2 %llu\n", (unsigned long long)(rnd() % 2 ? rr(0, 8192) : rr(0, 1 << 19))); break;
            case 6: printf("o -7 %llu\n", (unsigned long long)rr(1, 3)); break;
            case 7: printf("o -2 0\n"); break;
            case 3: {
                uint64_t v = rnd() % 8 ? rr(0, 1 << 20) : rr(1u << 25, 1u << 26);
                if (v < min_thr)
                    min_thr = v;
                printf("o -3 %llu\n", (unsigned long long)v);
                break;
            }
            case 4: printf("o -4 %llu\n", (unsigned long long)rr(0, 64)); break;
            default: printf("o -8 %llu\n", (unsigned long long)rr(1, 4)); break;
            }
            continue;
        } else {
            printf("f %u\n", s);
            continue;
        }
        live[s] = 1;
    }
    return 0;
}
