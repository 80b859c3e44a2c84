/* rt_threads - cross-thread frees: producers malloc and hand blocks to
 * consumers through a queue; consumers free them (so reuse of an address by
 * another thread races with its free), and every thread also reallocs. */
#include <pthread.h>
#include "tlog.h"

#define Q 256
static void *q[Q];
static int qh, qt, done;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg) {
    unsigned x = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        void *p = T_malloc(3000 + (x >> 16) % 900);
        if (x & 8) p = T_realloc(p, 3000 + (x >> 12) % 900);
        pthread_mutex_lock(&mu);
        while ((qh + 1) % Q == qt) pthread_cond_wait(&cv, &mu);
        q[qh] = p;
        qh = (qh + 1) % Q;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (qh == qt && !done) pthread_cond_wait(&cv, &mu);
        if (qh == qt && done) { pthread_mutex_unlock(&mu); return NULL; }
        void *p = q[qt];
        qt = (qt + 1) % Q;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        T_free(p);
        T_free(T_malloc(3999)); /* likely reuses what was just freed */
    }
}

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    pthread_t p[2], c[2];
    for (int i = 0; i < 2; i++) pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, consumer, NULL);
    for (int i = 0; i < 2; i++) pthread_join(p[i], NULL);
    pthread_mutex_lock(&mu);
    done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
    char path[1200];
    snprintf(path, sizeof path, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(path, "w");
    fprintf(f, "end 0 0\nthreads 4\n");
    fclose(f);
    return 0;
}
