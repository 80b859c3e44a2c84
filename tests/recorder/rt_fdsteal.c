/* rt_fdsteal - with the soft and hard fd limits equal, puts a pipe of its
 * own on every number from 3 up, so that the recorder has no number left to
 * move its descriptors to; allocates enough that the recorder's writer
 * writes meanwhile; writes one line through every number; closes them all
 * and reads the pipe to its end. Exit 0 when the pipe gave back exactly its
 * lines (no trace bytes, nothing read away by libunwind's memory checks)
 * and its end came (every close() closed: one swallowed close would keep a
 * write end open, and the read would wait for ever: alarm, exit 142). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void churn(int n, size_t size) {
    for (int i = 0; i < n; i++) {
        void *volatile p = malloc(size + (size_t)(i & 63));
        free(p);
    }
}

int main(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 256 || rl.rlim_cur != rl.rlim_max) {
        fprintf(stderr, "rt_fdsteal: run under equal soft and hard limits <= 256 (ulimit -n 64)\n");
        return 2;
    }
    int const max = (int)rl.rlim_cur;
    int p[2];
    if (pipe(p) != 0) return 3;
    /* the read end on the highest number, the write end on all others */
    if (p[0] != max - 1 && (dup2(p[0], max - 1) < 0 || close(p[0]) != 0)) return 4;
    int const rd = max - 1;
    churn(100000, 40);
    for (int fd = 3; fd < max - 1; fd++)
        if (fd != p[1] && dup2(p[1], fd) != fd) return 5;
    churn(600000, 48); /* > 2^18 events: the writer writes */
    struct timespec ts = { 0, 300000000 };
    nanosleep(&ts, NULL); /* and its time-based flush comes */
    int lines = 0;
    for (int fd = 3; fd < max - 1; fd++, lines++)
        if (write(fd, "line\n", 5) != 5) return 6;
    for (int fd = 3; fd < max - 1; fd++)
        if (close(fd) != 0) return 7;
    alarm(10);
    char buf[65536];
    size_t got = 0;
    for (;;) {
        ssize_t const k = read(rd, buf + got, sizeof buf - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (got == sizeof buf) break;
    }
    churn(1000, 56);
    if (got != (size_t)lines * 5) {
        fprintf(stderr, "rt_fdsteal: read %zu bytes, expected %d lines of 5\n", got, lines);
        return 8;
    }
    for (size_t i = 0; i < got; i += 5)
        if (memcmp(buf + i, "line\n", 5) != 0) {
            fprintf(stderr, "rt_fdsteal: foreign bytes at %zu\n", i);
            return 9;
        }
    return 0;
}
