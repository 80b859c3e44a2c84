/* rt_tls - thread-local destructors that allocate after the thread's start
 * routine returned (pthread keys, several rounds; C11 thread_local would use
 * the same path), in 50 threads. */
#include <pthread.h>
#include "tlog.h"

static pthread_key_t k1, k2;

static void d2(void *p) {
    T_free(p);
    void *q = T_malloc(3020); /* after every other destructor of this round */
    T_free(q);
}
static void d1(void *p) {
    T_free(p);
    void *q = T_malloc(3021);
    pthread_setspecific(k2, q); /* one more round: d2 runs later */
}

static void *work(void *arg) {
    (void)arg;
    pthread_setspecific(k1, T_malloc(3022));
    for (int i = 0; i < 10; i++) T_free(T_malloc(3023));
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    pthread_key_create(&k1, d1);
    pthread_key_create(&k2, d2);
    for (int r = 0; r < 50; r++) {
        pthread_t t;
        pthread_create(&t, NULL, work, NULL);
        pthread_join(t, NULL);
    }
    usleep(300000); /* let the writer see the threads gone */
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w"); fputs("end 0 0\nthreads 50\nexits 40\n", f); fclose(f);
    return 0;
}
