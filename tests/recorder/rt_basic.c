/* rt_basic - every interposed entry point once or more, each logged with its
 * result: malloc, calloc, realloc (grow, shrink, NULL, to 0), reallocarray,
 * free(NULL), memalign, posix_memalign, aligned_alloc, valloc, pvalloc,
 * mallopt, malloc_trim; then a churn of 20000 mixed calls. */
#include "tlog.h"

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    void *a = T_malloc(3001);
    void *b = T_calloc(7, 3002);
    a = T_realloc(a, 3003);
    a = T_realloc(a, 3004 + 100000); /* moves, maybe to mmap */
    void *c = T_realloc(NULL, 3005);
    void *d = T_malloc(3006);
    void *z = realloc(d, 0);
    tlog("realloc", (uintptr_t)d, 0, 0, (uintptr_t)z);
    void *e = reallocarray(NULL, 3, 3007);
    tlog("reallocarray", 0, 3, 3007, (uintptr_t)e);
    void *e2 = reallocarray(e, 5, 3007);
    tlog("reallocarray", (uintptr_t)e, 5, 3007, (uintptr_t)e2);
    T_free(NULL);
    void *m = memalign(64, 3008);
    tlog("memalign", 64, 3008, 0, (uintptr_t)m);
    void *pm = NULL;
    int rc = posix_memalign(&pm, 128, 3009);
    tlog("posix_memalign", 128, 3009, 0, rc == 0 ? (uintptr_t)pm : 0);
    void *al = aligned_alloc(256, 3328);
    tlog("aligned_alloc", 256, 3328, 0, (uintptr_t)al);
    void *v = valloc(3010);
    tlog("valloc", 3010, 0, 0, (uintptr_t)v);
    void *pv = pvalloc(3011);
    tlog("pvalloc", 3011, 0, 0, (uintptr_t)pv);
    int mo = mallopt(M_MMAP_THRESHOLD, 1 << 20);
    tlog("mallopt", M_MMAP_THRESHOLD, 1 << 20, 0, (uint64_t)mo);
    void *big = T_malloc(3012 + (2 << 20)); /* over the threshold: mmap'd */
    T_free(big);
    int tr = malloc_trim(0);
    tlog("malloc_trim", 0, 0, 0, (uint64_t)tr);
    void *fail = T_malloc((size_t)1 << 62); /* fails: NULL recorded */
    (void)fail;
    T_free(a); T_free(b); T_free(c); T_free(z); T_free(e2); T_free(m); T_free(pm); T_free(al); T_free(v); T_free(pv);
    void *win[64] = { 0 };
    unsigned x = 1;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        int const k = (int)((x >> 16) & 63);
        if (win[k] && (x & 3) == 0) win[k] = T_realloc(win[k], 3100 + (x >> 20) % 800);
        else { T_free(win[k]); win[k] = (x & 1) ? T_malloc(3100 + (x >> 20) % 800) : T_calloc(1, 3100 + (x >> 20) % 800); }
    }
    for (int k = 0; k < 64; k++) T_free(win[k]);
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w");
    fprintf(f, "end 0 7\n");
    fclose(f);
    return 7;
}
