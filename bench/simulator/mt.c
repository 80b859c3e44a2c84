/* mt.c - bench_sim_mt [THREADS] [OPS]: a multi-threaded allocation churn for
 * the benchmark's thread row (record it, replay it with --mode threads, and
 * compare the simulated footprint). Each thread keeps 2000 live blocks of
 * 16..4096 bytes and replaces a random one OPS times. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long ops = 200000;

static void *work(void *arg)
{
    unsigned s = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    enum { LIVE = 2000 };
    void *v[LIVE] = { 0 };
    for (long i = 0; i < ops; i++) {
        s = s * 1103515245u + 12345u;
        unsigned k = (s >> 8) % LIVE;
        free(v[k]);
        v[k] = malloc(16 + (s >> 4) % 4081);
    }
    for (int k = 0; k < LIVE; k++)
        free(v[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2)
        ops = atol(argv[2]);
    pthread_t t[64];
    if (n < 1 || n > 64)
        return 2;
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, work, (void *)(uintptr_t)(i + 1)))
            return 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}
