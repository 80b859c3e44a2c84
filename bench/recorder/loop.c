/* loop - the tight single-thread case: N x (malloc(64); free). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    void *volatile keep;
    for (long i = 0; i < n; i++) {
        void *p = malloc(64);
        keep = p;
        free(p);
    }
    (void)keep;
    return 0;
}
