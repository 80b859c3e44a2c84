/* rt_split - built with -fsplit-stack: a recursion that moves onto small
 * stack segments outside the thread's stack and allocates there (the
 * recorder must not unwind with libunwind on such a segment: its frames
 * overflowed it). Prints a checksum; exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile long sink;

__attribute__((noinline)) static long down(long d, long max) {
    char pad[200];
    memset(pad, (int)d, sizeof pad);
    if (d % 1000 == 0) {
        void *p = malloc(16);
        sink += (long)(p != NULL);
        free(p);
    }
    if (d >= max) return pad[3];
    return down(d + 1, max) + pad[d % 200];
}

int main(void) {
    printf("%ld\n", down(0, 7000));
    return 0;
}
