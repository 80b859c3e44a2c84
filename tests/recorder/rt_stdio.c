/* rt_stdio - a program started with stdin and stdout closed and a small
 * descriptor limit (soft 16, hard above): the numbers it opens are the ones
 * it would get untraced (open gives 0 then 1, and it can open every number
 * below its limit), so the recorder's descriptors (the trace, libunwind's
 * pipe) sit out of its way. Untraced, the new image starts with stderr only. Generation 0 sets the scene and execs itself
 * (generation 1, traced as a new image). Exit 0 if all held, else 2..5 with
 * the reason on stderr. */
#include <errno.h>
#include <sys/resource.h>
#include "tlog.h"

__attribute__((noinline)) static void churn(int base) {
    for (int i = 0; i < 200; i++) T_free(T_malloc((size_t)(base + i % 50)));
}

int main(int argc, char **argv) {
    int const gen = argc > 2 ? atoi(argv[2]) : 0;
    if (gen == 0) {
        tlog_open(argv[1], 0);
        churn(3000);
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 16) {
            fprintf(stderr, "rt_stdio: hard descriptor limit %lu: nothing to check\n", (unsigned long)rl.rlim_max);
            return 0;
        }
        rl.rlim_cur = 16;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { perror("setrlimit"); return 5; }
        close(0);
        close(1);
        closefrom(3); /* the log and whatever the test harness left open */
        execl(argv[0], argv[0], argv[1], "1", (char *)NULL);
        return 5;
    }
    /* the recorder's start-up (trace, stacks) has run: 0 and 1 must be free */
    int const a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_WRONLY);
    if (a != 0 || b != 1) { fprintf(stderr, "rt_stdio: /dev/null opened as %d and %d, not 0 and 1\n", a, b); return 2; }
    tlog_open(argv[1], 1);
    churn(3100);
    /* every number below the limit is the program's: 16 - (0, 1, 2, log) */
    int n = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) n++;
    if (errno != EMFILE || n != 16 - 4) {
        fprintf(stderr, "rt_stdio: opened %d more descriptors under a limit of 16, untraced 12 (%s)\n", n,
                strerror(errno));
        return 3;
    }
    for (int i = 4; i < 16; i++) close(i);
    /* close everything but the log, then dup2 over every number: still recorded */
    closefrom(4);
    churn(3200);
    for (int i = 0; i < 16; i++) if (i != 2 && i != tlog_fd) dup2(tlog_fd == 3 ? 2 : 3, i);
    churn(3300);
    for (int i = 4; i < 16; i++) if (i != tlog_fd) close(i);
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.1.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w");
    if (!f) { fprintf(stderr, "rt_stdio: %s: %s\n", p, strerror(errno)); return 4; }
    fputs("end 0 0\n", f);
    fclose(f);
    return 0;
}
