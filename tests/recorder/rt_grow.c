/* rt_grow - rings that grow and are recycled: rounds of threads that each
 * interleave logged calls with bursts of unlogged ones (fast enough to fill
 * a ring, so it grows from its first 1K slots up to the most, the events
 * before each growth left in the old buffer for the writer), the threads of
 * a round gone before the next starts so that its rings, shrunk back, are
 * taken by new threads. The checker finds every logged call, in each
 * thread's order, and nothing dropped. */
#include <pthread.h>
#include <time.h>
#include "tlog.h"

static void *work(void *arg) {
    long const n = (long)(uintptr_t)arg;
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++) { /* a burst the log does not slow down */
            void *volatile q = malloc(16 + (size_t)(k & 7) * 16);
            free(q);
        }
        void *p = T_malloc(24 + (size_t)(i % 100));
        T_free(p);
    }
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    static const long per[] = { 3, 40, 600, 2500, 10, 1200 }; /* logged pairs per thread */
    int const nt = (int)(sizeof per / sizeof per[0]), rounds = 3;
    for (int r = 0; r < rounds; r++) {
        pthread_t t[8];
        for (int j = 0; j < nt; j++) pthread_create(&t[j], NULL, work, (void *)(uintptr_t)per[(j + r) % nt]);
        for (int j = 0; j < nt; j++) pthread_join(t[j], NULL);
        struct timespec ts = { 0, 150 * 1000000 }; /* the writer recycles the rings */
        nanosleep(&ts, NULL);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w"); fprintf(f, "end 0 0\nthreads %d\n", nt * rounds); fclose(f);
    return 0;
}
