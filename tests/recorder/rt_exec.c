/* rt_exec - exec of itself: the first image's trace ends with END exec, the
 * new image (same pid) writes its own trace. argv[2] = generation; with a
 * third argument each image first tries execs of files that do not exist
 * (as a PATH search does): they must not end its trace. */
#include "tlog.h"

int main(int argc, char **argv) {
    int const gen = argc > 2 ? atoi(argv[2]) : 0;
    tlog_open(argv[1], gen);
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.%d.expect", argv[1], (int)getpid(), gen);
    for (int i = 0; i < 100; i++) T_free(T_malloc(3600 + i + gen));
    void *live = T_malloc(3700 + gen);
    (void)live;
    if (gen < 2) {
        FILE *f = fopen(p, "w"); fputs("end 3 0\n", f); fclose(f);
        char g[8];
        snprintf(g, sizeof g, "%d", gen + 1);
        if (argc > 3) { /* a program's own PATH search: attempts that fail first */
            char *const none[] = { "rt_exec", NULL };
            execve("/nonexistent-rt/rt_exec", none, environ);
            execv("/usr/bin/nonexistent-rt-exec", none);
            execvp("nonexistent-rt-exec", none);
            execl(argv[0], argv[0], argv[1], g, argv[3], (char *)NULL);
            return 1;
        }
        execl(argv[0], argv[0], argv[1], g, (char *)NULL);
        return 1;
    }
    FILE *f = fopen(p, "w"); fputs("end 0 0\n", f); fclose(f);
    return 0;
}
