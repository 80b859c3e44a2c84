/* sim_classes.c - prints "n class" for each request n read from stdin (the
 * first column of usable_probe's output), as the named model computes it. */
#include "sim.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *const names[] = { "jemalloc", "tcmalloc", "mimalloc" };
    int k = -1;
    for (int i = 0; argc > 1 && i < 3; i++)
        if (!strcmp(argv[1], names[i]))
            k = i;
    if (k < 0) {
        fprintf(stderr, "usage: sim_classes jemalloc|tcmalloc|mimalloc < sizes\n");
        return 2;
    }
    unsigned long long n, u;
    while (scanf("%llu %llu", &n, &u) == 2)
        printf("%llu %llu\n", n, (unsigned long long)sim_class_size((sim_sc_kind_t)k, n));
    return 0;
}
