/* rt_spawn - posix_spawn of this program (and system()); the spawned image
 * is traced in its own file, the parent keeps its trace. */
#include <spawn.h>
#include <sys/wait.h>
#include "tlog.h"

extern char **environ;

int main(int argc, char **argv) {
    tlog_open(argv[1], 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    if (argc > 2) { /* the spawned child */
        for (int i = 0; i < 50; i++) T_free(T_malloc(3400 + i));
        FILE *f = fopen(p, "w"); fputs("end 0 3\n", f); fclose(f);
        return 3;
    }
    void *a = T_malloc(3500);
    char *args[] = { argv[0], argv[1], "child", NULL };
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, args, environ) != 0) return 1;
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 3) return 1;
    T_free(a);
    FILE *f = fopen(p, "w"); fputs("end 0 0\n", f); fclose(f);
    return 0;
}
