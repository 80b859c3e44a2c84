/* spawn.c - one replay process per allocator: fork, exec of ourselves in the
 * hidden child mode with LD_PRELOAD and the --env settings, a progress bar
 * while it runs. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int rp_alloc_setting(const char *e) {
    static const char *const prefix[] = { "MALLOC_", "GLIBC_TUNABLES=", "MIMALLOC_", "TCMALLOC_", NULL };
    if (!strncmp(e, "MALLOC_REPLAY_", 14)) return 0; /* our own */
    for (int i = 0; prefix[i]; i++)
        if (!strncmp(e, prefix[i], strlen(prefix[i]))) return 1;
    return 0;
}

/* 1 if the run does not inherit e from the caller: the preload and the
 * allocator settings are the run's own, only what the trace, --env and
 * --alloc say (results do not depend on the calling shell). */
static int env_dropped(const char *e, const rp_run_t *run) {
    if (!strncmp(e, "LD_PRELOAD=", 11) || rp_alloc_setting(e)) return 1;
    size_t const n = strcspn(e, "=");
    for (int i = 0; i < run->nenv; i++)
        if (!strncmp(run->env[i], e, n) && run->env[i][n] == '=') return 1;
    return 0;
}

static void progress(const rp_run_t *run, uint64_t done, uint64_t total, double secs) {
    int const width = 30;
    int const fill = total ? (int)((double)done * width / (double)total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%-12.12s [%s] %5.1f%%  %.0fs", run->label, bar,
            total ? 100.0 * (double)done / (double)total : 100.0, secs);
}

/* Reads what the process wrote to standard error before it started, in
 * said while it fits (ld.so's reason is one short line); once more came,
 * all of it is passed on, in order. Non-blocking: a library's helper
 * process may hold the pipe. */
static void early_stderr(int fd, char *said, size_t *n, int *passing) {
    if (fd < 0) return;
    char buf[4096];
    ssize_t k;
    while ((k = read(fd, buf, sizeof buf)) > 0) {
        if (!*passing && *n + (size_t)k < 1024) {
            memcpy(said + *n, buf, (size_t)k);
            *n += (size_t)k;
            continue;
        }
        if (!*passing) fwrite(said, 1, *n, stderr);
        *passing = 1;
        *n = 0;
        fwrite(buf, 1, (size_t)k, stderr);
    }
    said[*n] = 0;
}

/* ld.so's reason for not starting the process, from the first line it
 * wrote ('SELF: error while loading shared libraries: REASON', 'SELF:
 * symbol lookup error: ...'), NULL if none. */
static const char *said_error(char *said, size_t n, const char *self) {
    static const char loading[] = "error while loading shared libraries: ";
    if (!n) return NULL;
    char *line = said;
    line[strcspn(line, "\n")] = 0;
    size_t const sl = strlen(self);
    if (!strncmp(line, self, sl) && !strncmp(line + sl, ": ", 2)) line += sl + 2;
    if (!strncmp(line, loading, sizeof loading - 1)) line += sizeof loading - 1;
    return *line ? line : NULL;
}

int rp_spawn(const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *run, int csv_fd, const char *self) {
    int const rfd = memfd_create("malloc-replay-result", 0);
    if (rfd < 0 || ftruncate(rfd, sizeof(rp_result_t)) < 0) {
        snprintf(run->err, sizeof run->err, "cannot create the result block: %s", strerror(errno));
        if (rfd >= 0) close(rfd);
        return -1;
    }
    run->res = mmap(NULL, sizeof(rp_result_t), PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
    if (run->res == MAP_FAILED) {
        run->res = NULL;
        close(rfd);
        snprintf(run->err, sizeof run->err, "cannot map the result block: %s", strerror(errno));
        return -1;
    }
    run->res->status = 99;
    run->res->ready = 0;
    /* argv of the hidden mode: fds and settings as decimal numbers */
    /* Standard error is a pipe to us until the process has started: what
     * ld.so says of a library it cannot load becomes the run's one error
     * line (it printed its own line, then the run said 'cannot start ...
     * in replay mode'); anything else is passed on as it was. */
    int ep[2] = { -1, -1 }, saved = -1;
    if (pipe2(ep, O_CLOEXEC) == 0 && (saved = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0) {
        close(ep[0]);
        close(ep[1]);
        ep[0] = ep[1] = -1;
    }
    char a[10][32];
    snprintf(a[0], 32, "%d", prep->fd);
    snprintf(a[1], 32, "%d", rfd);
    snprintf(a[2], 32, "%d", csv_fd);
    snprintf(a[3], 32, "%d", run->kind);
    snprintf(a[4], 32, "%d", o->touch);
    snprintf(a[5], 32, "%d", o->pace);
    snprintf(a[6], 32, "%llu", (unsigned long long)o->checkpoints);
    snprintf(a[7], 32, "%u", o->sample);
    snprintf(a[8], 32, "%u", run->funcs);
    snprintf(a[9], 32, "%d", saved);
    char *argv[] = { (char *)self, "--child-replay", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], NULL };
    size_t ne = 0;
    while (environ[ne]) ne++;
    char **envp = calloc(ne + (size_t)run->nenv + 2, sizeof *envp);
    char *preload = NULL;
    if (!envp) {
        snprintf(run->err, sizeof run->err, "out of memory");
        close(rfd);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (!env_dropped(environ[i], run)) envp[k++] = environ[i];
    for (int i = 0; i < run->nenv; i++) envp[k++] = (char *)run->env[i];
    /* LD_PRELOAD is a list split at ':' and spaces: a library whose path holds
     * one is preloaded through a descriptor the replay process inherits */
    int libfd = -1;
    if (run->lib[0] && strpbrk(run->lib, ": \t\n")) {
        libfd = open(run->lib, O_RDONLY);
        if (libfd < 0) {
            snprintf(run->err, sizeof run->err, "%s: %s", run->lib, strerror(errno));
            free(envp);
            close(rfd);
            return -1;
        }
    }
    if (run->lib[0]) {
        size_t const n = strlen(run->lib) + 32;
        preload = malloc(n);
        if (preload) {
            if (libfd >= 0) snprintf(preload, n, "LD_PRELOAD=/proc/self/fd/%d", libfd);
            else snprintf(preload, n, "LD_PRELOAD=%s", run->lib);
            envp[k++] = preload;
        }
    }
    envp[k] = NULL;
    fflush(NULL);
    pid_t const pid = fork();
    if (pid == 0) {
        if (saved >= 0) {
            fcntl(saved, F_SETFD, 0);
            dup2(ep[1], 2);
        }
        execve(self, argv, envp);
        _exit(127);
    }
    int const fork_errno = errno;
    if (saved >= 0) {
        close(saved);
        close(ep[1]);
        fcntl(ep[0], F_SETFL, O_NONBLOCK);
    }
    char said[1024]; /* the start of what it wrote before it started */
    size_t nsaid = 0;
    int passing = 0;
    free(envp);
    free(preload);
    close(rfd);
    if (libfd >= 0) close(libfd);
    if (pid < 0) {
        if (ep[0] >= 0) close(ep[0]);
        snprintf(run->err, sizeof run->err, "fork: %s", strerror(fork_errno));
        return -1;
    }
    double const t0 = mono_s();
    int st = 0, shown = 0, stuck = 0;
    for (;;) {
        pid_t const w = waitpid(pid, &st, WNOHANG);
        early_stderr(ep[0], said, &nsaid, &passing);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        struct timespec const d = { 0, 50000000 };
        nanosleep(&d, NULL);
        double const el = mono_s() - t0;
        /* a library whose constructor never returns would hang us forever */
        if (!stuck && !run->res->ready && o->start_timeout && el > (double)o->start_timeout) {
            kill(pid, SIGKILL);
            stuck = 1;
        }
        if (o->progress && el > 1.0) {
            progress(run, run->res->progress, prep->events, el);
            shown = 1;
        }
    }
    if (shown) fprintf(stderr, "\r%-60s\r", "");
    if (ep[0] >= 0) close(ep[0]);
    if (!run->res->ready && WIFEXITED(st) && WEXITSTATUS(st) == 127) { /* ld.so gave up */
        const char *const ld = said_error(said, nsaid, self);
        if (ld) {
            snprintf(run->err, sizeof run->err, "cannot load the library: %.400s", ld);
            return -1;
        }
    }
    if (nsaid) fwrite(said, 1, nsaid, stderr); /* a library's own words: passed on */
    if (stuck && !run->res->ready) {
        snprintf(run->err, sizeof run->err,
                 "the replay process did not start within %llu s (does the library's initialization hang?); "
                 "--start-timeout SECS or MALLOC_REPLAY_START_TIMEOUT sets the limit, 0 none",
                 (unsigned long long)o->start_timeout);
        return -1;
    }
    if (WIFSIGNALED(st)) {
        snprintf(run->err, sizeof run->err, "the replay process died of signal %d (%s)%s", WTERMSIG(st),
                 strsignal(WTERMSIG(st)), run->res->status == 0 ? " after the replay" : "");
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && run->res->status == 99) {
        snprintf(run->err, sizeof run->err, "cannot start %s in replay mode", self);
        return -1;
    }
    if (run->res->status != 0) {
        snprintf(run->err, sizeof run->err, "%s",
                 run->res->msg[0] ? run->res->msg : "the replay process ended without a result");
        return -1;
    }
    return 0;
}
