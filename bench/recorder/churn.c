/* churn - T threads, each N rounds over a window of 64 live blocks of mixed
 * small sizes (malloc, and free of the block allocated 64 rounds before). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long rounds = 500000;

static void *work(void *arg) {
    unsigned x = (unsigned)(unsigned long)arg * 2654435761u + 1;
    void *win[64] = { 0 };
    for (long i = 0; i < rounds; i++) {
        x = x * 1103515245u + 12345u;
        int const k = (int)(i & 63);
        free(win[k]);
        win[k] = malloc(16 + (x >> 16) % 512);
    }
    for (int k = 0; k < 64; k++) free(win[k]);
    return NULL;
}

int main(int argc, char **argv) {
    int const t = argc > 1 ? atoi(argv[1]) : 2;
    if (argc > 2) rounds = atol(argv[2]);
    pthread_t th[64];
    for (int i = 0; i < t && i < 64; i++) pthread_create(&th[i], NULL, work, (void *)(long)i);
    for (int i = 0; i < t && i < 64; i++) pthread_join(th[i], NULL);
    return 0;
}
