/* mt.c - bench_sim_mt [THREADS] [OPS] [shared]: a multi-threaded allocation
 * churn for the benchmark's thread rows (record it, replay it with --mode
 * threads, and compare the simulated footprint). Each thread keeps 2000 live
 * blocks of 16..4096 bytes and replaces a random one OPS times. "shared":
 * instead, each thread puts every new block of 16..2015 bytes in one of 64
 * slots shared by all threads and frees the block it replaces, so blocks are
 * freed by other threads than their own (calls on another thread's arena). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long ops = 200000;
static void *slot[64];
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;

static void *work_shared(void *arg)
{
    unsigned s = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    for (long i = 0; i < ops; i++) {
        s = s * 1103515245u + 12345u;
        void *p = malloc(16 + (s >> 4) % 2000);
        pthread_mutex_lock(&slot_mu);
        void *old = slot[(s >> 8) % 64];
        slot[(s >> 8) % 64] = p;
        pthread_mutex_unlock(&slot_mu);
        free(old);
    }
    return NULL;
}

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
    int shared = argc > 3 && argv[3][0] == 's';
    pthread_t t[64];
    if (n < 1 || n > 64)
        return 2;
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, shared ? work_shared : work, (void *)(uintptr_t)(i + 1)))
            return 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    return 0;
}
