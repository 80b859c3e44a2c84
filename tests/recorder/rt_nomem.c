/* rt_nomem - lowers its RLIMIT_AS below the address space it already has
 * (no new mapping can be made from then on: the recorder's writer cannot
 * grow its zstd buffers), then allocates and frees for argv[1] ms (default
 * 500). Prints 1 and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    void *keep[64];
    for (int i = 0; i < 64; i++) keep[i] = malloc(100 + (size_t)i);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0) return 1;
    rl.rlim_cur = 1 << 20;
    if (setrlimit(RLIMIT_AS, &rl) != 0) { perror("setrlimit"); return 1; }
    long const ms = argc > 1 ? atol(argv[1]) : 500;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long n = 0;
    do {
        for (int i = 0; i < 64; i++) {
            free(keep[i]);
            keep[i] = malloc(100 + (n + (unsigned long)i) % 200);
        }
        if (++n % 1000 == 0) usleep(1000);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    printf("%d\n", n > 0);
    return 0;
}
