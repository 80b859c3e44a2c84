/* tlog.h - test programs log every malloc-family call they make, with the
 * result they saw, one line per call: "TID OP A B C RET" (decimal). The
 * checker (rec_check.c) then requires each line in the trace. Log files are
 * DIR/PID.GEN.log, GEN being the exec generation (0 = first image). */
#ifndef TLOG_H
#define TLOG_H
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int tlog_fd = -1;
static char tlog_dir[1024];

static void tlog_open(const char *dir, int gen) {
    char p[1200];
    if (dir != tlog_dir) snprintf(tlog_dir, sizeof tlog_dir, "%s", dir);
    snprintf(p, sizeof p, "%s/%d.%d.log", tlog_dir, (int)getpid(), gen);
    if (tlog_fd >= 0) close(tlog_fd);
    tlog_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (tlog_fd < 0) { perror(p); _exit(90); }
}

static void tlog(const char *op, uint64_t a, uint64_t b, uint64_t c, uint64_t ret) {
    char buf[200];
    int const n = snprintf(buf, sizeof buf, "%ld %s %llu %llu %llu %llu\n", (long)syscall(SYS_gettid), op,
                           (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
                           (unsigned long long)ret);
    if (write(tlog_fd, buf, (size_t)n) != n) _exit(91);
}

static inline void *T_malloc(size_t n) { void *p = malloc(n); tlog("malloc", n, 0, 0, (uintptr_t)p); return p; }
static inline void *T_calloc(size_t n, size_t s) { void *p = calloc(n, s); tlog("calloc", n, s, 0, (uintptr_t)p); return p; }
static inline void *T_realloc(void *q, size_t n) { void *p = realloc(q, n); tlog("realloc", (uintptr_t)q, n, 0, (uintptr_t)p); return p; }
static inline void T_free(void *p) { tlog("free", (uintptr_t)p, 0, 0, 0); free(p); }
#endif
