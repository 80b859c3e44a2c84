/* rt_many - thousands of short-lived threads (in batches of 8 at a time). */
#include <pthread.h>
#include "tlog.h"

static void *work(void *arg) {
    void *p = T_malloc(3060 + (uintptr_t)arg % 8);
    T_free(p);
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    int const n = argc > 2 ? atoi(argv[2]) : 3000;
    for (int i = 0; i < n; i += 8) {
        pthread_t t[8];
        for (int j = 0; j < 8; j++) pthread_create(&t[j], NULL, work, (void *)(uintptr_t)j);
        for (int j = 0; j < 8; j++) pthread_join(t[j], NULL);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w"); fprintf(f, "end 0 0\nthreads %d\n", n / 8 * 8); fclose(f);
    return 0;
}
