/* rt_big - mallocs argv[1] MiB in one block (address space: only its first
 * page is touched) and frees it. Exit 0 if it got the block, 3 if not. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    size_t const mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    char *p = malloc((mb << 20) + 1);
    if (!p) return 3;
    p[0] = 1;
    free(p);
    puts("ok");
    return 0;
}
