/* rt_mtrace - a deterministic program run with glibc's libc_malloc_debug.so
 * and mtrace() on: the recorded sequence must equal glibc's own log. */
#include <mcheck.h>
#include "tlog.h"

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w"); fprintf(f, "end 0 0\nmtrace %s/mtrace.txt\n", argv[1]); fclose(f);
    mtrace();
    void *v[100] = { 0 };
    unsigned x = 7;
    for (int i = 0; i < 5000; i++) {
        x = x * 1103515245u + 12345u;
        int const k = (int)((x >> 16) % 100);
        switch ((x >> 8) % 5) {
        case 0: free(v[k]); v[k] = malloc(16 + (x >> 20) % 2000); break;
        case 1: free(v[k]); v[k] = calloc(3, 8 + (x >> 20) % 300); break;
        case 2: v[k] = realloc(v[k], 1 + (x >> 20) % 3000); break;
        case 3: free(v[k]); v[k] = memalign(64, 100 + (x >> 20) % 500); break;
        default: free(v[k]); v[k] = NULL; break;
        }
    }
    for (int k = 0; k < 100; k++) free(v[k]);
    muntrace();
    return 0;
}
