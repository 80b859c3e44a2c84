/* usable_probe.c - prints "n usable" for requests n = 1..LIMIT (every size up
 * to 4096, then a sparse walk) as the allocator underneath reports them with
 * malloc_usable_size: run under LD_PRELOAD of jemalloc, tcmalloc or mimalloc
 * to read the real size classes. Each block is freed before the next. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    unsigned long limit = argc > 1 ? strtoul(argv[1], NULL, 10) : 1 << 20;
    for (unsigned long n = 1; n <= limit; n += n < 4096 ? 1 : n < 65536 ? 61 : n / 97 + 1) {
        void *p = malloc(n);
        if (!p)
            return 1;
        printf("%lu %zu\n", n, malloc_usable_size(p));
        free(p);
    }
    return 0;
}
