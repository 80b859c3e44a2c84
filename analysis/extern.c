/* extern.c - finding and running the suite's other tools. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

extern char **environ;

int rp_find_tool(const char *prog, char *path, size_t cap) {
    char self[PATH_MAX];
    ssize_t const n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(path, cap, "%s/%s", self, prog);
            if (access(path, X_OK) == 0) return 0;
        }
    }
    const char *env = getenv("PATH");
    while (env && *env) {
        size_t const len = strcspn(env, ":");
        snprintf(path, cap, "%.*s/%s", (int)(len ? len : 1), len ? env : ".", prog);
        if (access(path, X_OK) == 0) return 0;
        env += len + (env[len] == ':');
    }
    path[0] = 0;
    return -1;
}

int rp_run(char *const argv[], const char *logpath, char *errbuf, size_t cap) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int const e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) {
        snprintf(errbuf, cap, "%s: %s", argv[0], strerror(e));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) { snprintf(errbuf, cap, "waitpid: %s", strerror(errno)); return -1; }
    }
    if (WIFSIGNALED(st)) {
        snprintf(errbuf, cap, "%s killed by signal %d", argv[0], WTERMSIG(st));
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

int rp_run_capture(char *const argv[], char *out, size_t cap) {
    out[0] = 0;
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) < 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    pid_t pid;
    int const e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (e) { close(fd[0]); return -1; }
    size_t len = 0;
    char buf[512];
    for (;;) { /* read to the end, keep what fits */
        ssize_t const n = read(fd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n && len + 1 < cap; i++) out[len++] = buf[i];
    }
    close(fd[0]);
    out[len] = 0;
    out[strcspn(out, "\n")] = 0;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
