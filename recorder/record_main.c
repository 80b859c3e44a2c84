/* malloc-record - runs a program with libmalloc-record.so preloaded and
 * reports where its trace (and its children's) went.
 *
 *   malloc-record [OPTIONS] [--] PROGRAM [ARGS...]
 *
 * The library is found next to this executable (../lib in the build tree and
 * in the install tree), else in the configured install lib dir. Each traced
 * process appends one summary line to a temporary log (MALLOC_RECORD_LOG) when
 * its trace ends; this program prints them and exits with PROGRAM's status
 * (128 + signal if it was killed, like a shell). Signals sent to it by
 * another process (a supervisor's SIGTERM, kill -HUP) are passed on to
 * PROGRAM, which decides; those sent to PROGRAM's process group (Ctrl-C,
 * timeout) reach PROGRAM anyway and are not sent twice (see forward()).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MS_VERSION
#define MS_VERSION "0"
#endif
#ifndef MS_RECORD_LIBDIR
#define MS_RECORD_LIBDIR "/usr/local/lib"
#endif

/* Signals another process sends to malloc-record are passed on to the
 * program (si_code SI_USER, SI_QUEUE, SI_TKILL: kill, sigqueue, tgkill), as
 * if it had been sent the signal itself; the kernel's are not (the
 * terminal's Ctrl-C and Ctrl-\\ go to the whole foreground group, the
 * program included), nor the program's own to its parent. A sender in the
 * program's process group may have signalled the whole group (timeout(1)
 * signals its child, then its group), so the program has it already: such
 * a signal is passed on only if the program has not ended 1 s later (two
 * signals sent back to back may reach malloc-record as one, so they cannot
 * be counted). */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define NFWD (sizeof forwarded / sizeof *forwarded)
static volatile pid_t child;
static volatile sig_atomic_t held[NFWD]; /* same-group signals waiting */

static void forward(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    int const e = errno;
    pid_t const c = child;
    if (c > 0 && si->si_code <= 0 && si->si_pid != c) {
        pid_t const g = getpgid(c);
        if (si->si_pid == 0 || g < 0 || getpgid(si->si_pid) != g) {
            kill(c, sig);
        } else {
            for (size_t k = 0; k < NFWD; k++)
                if (forwarded[k] == sig) held[k] = 1;
        }
    }
    errno = e;
}

/* The held signals: 1 if the program ended within 1 s (*status set),
 * else they are passed on and 0. */
static int release_held(pid_t pid, int *status) {
    int any = 0;
    for (size_t k = 0; k < NFWD; k++) any |= held[k] != 0;
    if (!any) return 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, status, WNOHANG) == pid) return 1;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    for (size_t k = 0; k < NFWD; k++) {
        if (!held[k]) continue;
        held[k] = 0;
        kill(pid, forwarded[k]);
    }
    return 0;
}

static const char *reason_name[] = { "exit", "_exit", "signal", "exec", "error", "closed" };

static void usage(FILE *f) {
    fprintf(f,
            "usage: malloc-record [OPTIONS] [--] PROGRAM [ARGS...]\n"
            "Runs PROGRAM with every malloc-family call recorded to a trace.\n"
            "  -o FILE            trace file (default PROGRAM.%%p.trace.zst; %%p = pid); with\n"
            "                     --no-follow also a fifo or device, the trace streamed to it\n"
            "  --stack-depth N    frames per stack, 0 = no stacks (default 32, max 256)\n"
            "  --free-stacks      also unwind at free (default: allocating calls only)\n"
            "  --no-follow        do not trace forked children or exec'd programs\n"
            "  --time-res NS      timestamp resolution in ns (default 1000; 1 = full)\n"
            "  --level N          zstd level 1..19 while the writer keeps up (default 3;\n"
            "                     frames written while a thread's ring is over half full use 1)\n"
            "  -q, --quiet        no summary\n"
            "  -h, --help         this text\n"
            "  --version          print the version\n");
}

/* The preload library: beside the executable, in ../lib (the build tree)
 * or ../LIBDIR (an install tree, moved or not: cmake --install --prefix
 * puts it in lib/x86_64-linux-gnu when configured for /usr), else where it
 * was configured to be installed. */
static int find_lib(char *out, size_t cap) {
    char exe[PATH_MAX - 64];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            static const char *const rel[] = { "lib", MS_RECORD_LIBDIR_REL };
            for (int i = 0; i < 2; i++) {
                snprintf(out, cap, "%s/../%s/libmalloc-record.so", exe, rel[i]);
                if (access(out, R_OK) == 0) {
                    char real[PATH_MAX];
                    if (realpath(out, real)) snprintf(out, cap, "%s", real);
                    return 0;
                }
            }
        }
    }
    snprintf(out, cap, "%s/libmalloc-record.so", MS_RECORD_LIBDIR);
    return access(out, R_OK) == 0 ? 0 : -1;
}

static void expand(char *out, size_t cap, const char *pat, pid_t pid) {
    size_t o = 0;
    for (const char *s = pat; *s && o + 24 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') { o += (size_t)snprintf(out + o, cap - o, "%d", (int)pid); s++; }
        else if (s[0] == '%' && s[1] == '%') { out[o++] = '%'; s++; }
        else out[o++] = *s;
    }
    out[o] = 0;
}

static void human(char *buf, size_t cap, double b) {
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int i = 0;
    while (b >= 1024 && i < 4) { b /= 1024; i++; }
    snprintf(buf, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* Prints the summary lines the traced processes left in the log, and names
 * the traces that began (an "S" line) but had not ended (no summary) when
 * PROGRAM did: processes still running (daemons, a pool's workers) or
 * killed. */
typedef struct {
    pid_t pid;
    int ended;
    char path[PATH_MAX];
} started_t;

static void report(const char *log, pid_t root, int quiet) {
    FILE *f = fopen(log, "r");
    int n = 0, root_seen = 0, root_any = 0;
    unsigned long long tev = 0, tbytes = 0, twcpu = 0;
    char line[PATH_MAX + 256];
    started_t *st = NULL;
    size_t nst = 0, cap = 0;
    while (f && fgets(line, sizeof line, f)) {
        int pid, reason, status;
        unsigned long long ev, dropped, bytes;
        char path[PATH_MAX];
        char why[512];
        if (sscanf(line, "F\t%d\t%4095[^\t]\t%511[^\n]", &pid, path, why) == 3) {
            if (pid == root) root_any = 1;
            for (size_t k = 0; k < nst; k++)
                if (st[k].pid == pid && !strcmp(st[k].path, path)) st[k].ended = 1;
            if (!quiet) fprintf(stderr, "malloc-record: pid %d wrote no trace: %s: %s\n", pid, path, why);
            continue;
        }
        if (sscanf(line, "S\t%d\t%4095[^\n]", &pid, path) == 2) {
            if (pid == root) root_any = 1;
            if (nst == cap) {
                started_t *g = realloc(st, (cap = cap ? 2 * cap : 16) * sizeof *st);
                if (!g) { cap = nst; continue; }
                st = g;
            }
            st[nst].pid = pid;
            st[nst].ended = 0;
            snprintf(st[nst].path, sizeof st[nst].path, "%s", path);
            nst++;
            continue;
        }
        unsigned long long wcpu = 0, pcpu = 0;
        if (sscanf(line, "%d\t%d\t%d\t%llu\t%llu\t%llu\t%llu\t%llu\t%4095[^\n]", &pid, &reason, &status, &ev,
                   &dropped, &bytes, &wcpu, &pcpu, path) != 9)
            continue;
        for (size_t k = 0; k < nst; k++)
            if (st[k].pid == pid && !strcmp(st[k].path, path)) st[k].ended = 1;
        n++;
        if (pid == root) root_seen = root_any = 1;
        tev += ev;
        tbytes += bytes;
        if (quiet) continue;
        char hb[32];
        human(hb, sizeof hb, (double)bytes);
        const char *rn = reason >= 0 && reason <= 5 ? reason_name[reason] : "?";
        fprintf(stderr, "malloc-record: pid %d (%s %d): trace written to %s\n", pid, rn, status, path);
        fprintf(stderr, "malloc-record:   %llu events, %llu bytes (%s), %.2f bytes/event, %llu dropped\n", ev,
                bytes, hb, ev ? (double)bytes / (double)ev : 0.0, dropped);
        /* the recorder's own thread: compression and writing, off the
         * program's threads (the hooks' cost is inside them) */
        if (wcpu && pcpu >= wcpu)
            fprintf(stderr, "malloc-record:   writer thread %.3f s of CPU, %.1f%% of the process's %.3f s\n",
                    (double)wcpu / 1e9, 100.0 * (double)wcpu / (double)pcpu, (double)pcpu / 1e9);
        twcpu += wcpu;
    }
    if (f) fclose(f);
    int root_cut = 0; /* the root's trace began and has no summary */
    for (size_t k = 0; k < nst; k++) {
        if (st[k].ended) continue;
        if (st[k].pid == root && !root_seen) {
            if (!root_cut) {
                root_cut = 1;
                if (!quiet)
                    fprintf(stderr, "malloc-record: pid %d left no summary (killed?); its trace is %s (cut short)\n",
                            (int)root, st[k].path);
            }
            continue;
        }
        if (!quiet)
            fprintf(stderr, "malloc-record: pid %d had not ended when the program did (still running, or killed): "
                            "its trace is %s\n", (int)st[k].pid, st[k].path);
    }
    free(st);
    if (!root_any && !quiet)
        fprintf(stderr, "malloc-record: pid %d wrote no trace: the program did not load libmalloc-record.so "
                        "(a static binary, or LD_PRELOAD dropped or ignored, as for a setuid program)\n", (int)root);
    if (n > 1 && !quiet)
        fprintf(stderr, "malloc-record: %d traces, %llu events, %llu bytes, writer threads %.3f s of CPU in all\n", n,
                tev, tbytes, (double)twcpu / 1e9);
}

/* The program stopped itself (SIGTSTP, SIGSTOP from its own code or another
 * process; the terminal's Ctrl-Z stops the whole group, malloc-record too):
 * malloc-record stops as well, so that the shell sees the job stopped, and
 * passes SIGCONT on when it is resumed. */
static void follow_stop(pid_t pid) {
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return;
    size_t const k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    const char *q = strrchr(buf, ')');
    if (!q || q[1] != ' ' || q[2] != 'T') return; /* resumed already (fg after Ctrl-Z) */
    kill(getpid(), SIGSTOP);
    kill(pid, SIGCONT); /* resumed: the program too */
}

int main(int argc, char **argv) {
    const char *out = NULL;
    long depth = -1;
    int follow = 1, quiet = 0, free_stacks = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (a[0] != '-') break;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (++i >= argc) { fprintf(stderr, "malloc-record: %s needs a FILE\n", a); return 2; }
            out = argv[i];
        } else if (strncmp(a, "-o", 2) == 0) {
            out = a + 2;
        } else if (strcmp(a, "--stack-depth") == 0 || strncmp(a, "--stack-depth=", 14) == 0) {
            const char *v = a[13] == '=' ? a + 14 : (++i < argc ? argv[i] : NULL);
            char *end;
            if (!v || !*v || (depth = strtol(v, &end, 10), *end) || depth < 0 || depth > 256) {
                fprintf(stderr, "malloc-record: --stack-depth: expected a number from 0 to 256, got '%s'\n",
                        v ? v : "");
                return 2;
            }
        } else if (strncmp(a, "--output=", 9) == 0) {
            out = a + 9;
        } else if (strcmp(a, "--time-res") == 0 || strcmp(a, "--level") == 0 || strncmp(a, "--time-res=", 11) == 0 ||
                   strncmp(a, "--level=", 8) == 0) {
            int const lvl = a[2] == 'l';
            const char *const eq = strchr(a, '=');
            const char *v = eq ? eq + 1 : ++i < argc ? argv[i] : "";
            char *end;
            long const n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || (lvl && n > 19) || n > 1000000000) {
                fprintf(stderr, "malloc-record: %s: expected %s, got '%s'\n", lvl ? "--level" : "--time-res",
                        lvl ? "a level from 1 to 19" : "nanoseconds from 1 to 1000000000", v);
                return 2;
            }
            setenv(lvl ? "MALLOC_RECORD_LEVEL" : "MALLOC_RECORD_TIME_RES", v, 1);
        } else if (strcmp(a, "--no-follow") == 0) {
            follow = 0;
        } else if (strcmp(a, "--free-stacks") == 0) {
            free_stacks = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("malloc-record %s\n", MS_VERSION);
            return 0;
        } else {
            fprintf(stderr, "malloc-record: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "malloc-record: no PROGRAM given (see --help)\n");
        return 2;
    }
    char lib[PATH_MAX];
    if (find_lib(lib, sizeof lib) != 0) {
        fprintf(stderr, "malloc-record: cannot find libmalloc-record.so (looked beside the executable and in %s)\n",
                MS_RECORD_LIBDIR);
        return 2;
    }
    /* the output pattern, absolute so that a child that chdirs writes beside the rest */
    char pat[PATH_MAX];
    if (!out) {
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        snprintf(pat, sizeof pat, "%s.%%p.trace.zst", base);
    } else if (strlen(out) >= sizeof pat) {
        fprintf(stderr, "malloc-record: -o: path too long (%zu bytes, at most %d)\n", strlen(out), PATH_MAX - 1);
        return 2;
    } else {
        snprintf(pat, sizeof pat, "%s", out);
    }
    if (!*pat) { fprintf(stderr, "malloc-record: -o: empty file name\n"); return 2; }
    if (pat[0] != '/') {
        char cwd[PATH_MAX], tmp[2 * PATH_MAX + 2];
        if (!getcwd(cwd, sizeof cwd)) {
            fprintf(stderr, "malloc-record: %s: cannot tell the current folder: %s\n", pat, strerror(errno));
            return 2;
        }
        snprintf(tmp, sizeof tmp, "%s/%s", cwd, pat);
        if (strlen(tmp) >= sizeof pat) { fprintf(stderr, "malloc-record: -o: path too long\n"); return 2; }
        memcpy(pat, tmp, strlen(tmp) + 1);
    }
    /* a trace that cannot be written is known before the program runs */
    {
        char probe[PATH_MAX + 32], dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", pat);
        char *slash = strrchr(dir, '/');
        if (slash == dir) dir[1] = 0;
        else if (slash) *slash = 0;
        struct stat st;
        int const exists = !strstr(pat, "%p") && stat(pat, &st) == 0;
        /* a fifo or device is written as it is, to whatever reads it */
        int const stream = exists && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode));
        if (stream && follow) { /* every traced process has a file of its own */
            fprintf(stderr, "malloc-record: %s: a fifo or device takes one process's trace: add --no-follow\n",
                    out ? out : pat);
            return 2;
        }
        if (exists && !stream && !S_ISREG(st.st_mode)) {
            fprintf(stderr, "malloc-record: %s: %s\n", out ? out : pat,
                    S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
            return 2;
        }
        if (!stream) {
            snprintf(probe, sizeof probe, "%s/.malloc-record.XXXXXX", dir);
            int const pfd = mkstemp(probe);
            if (pfd < 0) {
                fprintf(stderr, "malloc-record: %s: cannot create a file in %s: %s\n", out ? out : pat, dir,
                        strerror(errno));
                return 2;
            }
            close(pfd);
            unlink(probe);
        }
    }
    /* the log of the traced processes' summary lines: in TMPDIR, else /tmp */
    char log[PATH_MAX];
    const char *tmpdir = getenv("TMPDIR");
    int lfd = -1, lerr = 0;
    for (int k = tmpdir && *tmpdir ? 0 : 1; k < 2 && lfd < 0; k++) {
        snprintf(log, sizeof log, "%s/malloc-record.XXXXXX", k == 0 ? tmpdir : "/tmp");
        lfd = mkstemp(log);
        if (lfd < 0 && !lerr) lerr = errno;
    }
    if (lfd < 0) {
        fprintf(stderr, "malloc-record: cannot create a log in %s: %s; no summary will be printed\n",
                tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(lerr));
        log[0] = 0;
    } else {
        close(lfd);
    }

    const char *old = getenv("LD_PRELOAD");
    char pre[2 * PATH_MAX];
    if (old && *old) snprintf(pre, sizeof pre, "%s:%s", lib, old);
    else snprintf(pre, sizeof pre, "%s", lib);
    setenv("LD_PRELOAD", pre, 1);
    setenv("MALLOC_RECORD_OUT", pat, 1);
    if (depth >= 0) {
        char d[16];
        snprintf(d, sizeof d, "%ld", depth);
        setenv("MALLOC_RECORD_STACK_DEPTH", d, 1);
    }
    setenv("MALLOC_RECORD_FOLLOW", follow ? "1" : "0", 1);
    if (free_stacks) setenv("MALLOC_RECORD_FREE_STACKS", "1", 1);
    if (log[0]) setenv("MALLOC_RECORD_LOG", log, 1);

    fflush(NULL);
    /* blocked across the fork: the parent's handlers go in before any such
     * signal is taken, and the program starts with none of them */
    sigset_t fwd, mask0;
    sigemptyset(&fwd);
    for (size_t k = 0; k < NFWD; k++) sigaddset(&fwd, forwarded[k]);
    sigprocmask(SIG_BLOCK, &fwd, &mask0);
    /* an ignored SIGCHLD (inherited) would make waitpid fail: default here,
     * and the program gets it as it was */
    struct sigaction chld0, dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &dfl, &chld0);
    pid_t const pid = fork();
    if (pid < 0) {
        fprintf(stderr, "malloc-record: fork: %s\n", strerror(errno));
        if (log[0]) unlink(log);
        return 2;
    }
    if (pid == 0) {
        sigaction(SIGCHLD, &chld0, NULL);
        sigprocmask(SIG_SETMASK, &mask0, NULL);
        /* -o FILE overwrites, but only once the program has started: its
         * first trace replaces FILE (drain.c), a program that cannot be
         * run leaves it as it was */
        char root[PATH_MAX];
        expand(root, sizeof root, pat, getpid());
        setenv("MALLOC_RECORD_REPLACE", root, 1);
        execvp(argv[i], argv + i);
        int const e = errno;
        fprintf(stderr, "malloc-record: %s: %s\n", argv[i], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    child = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO; /* waitpid returns EINTR: held signals are seen to */
    sigfillset(&sa.sa_mask);
    for (size_t k = 0; k < NFWD; k++) sigaction(forwarded[k], &sa, NULL);
    sigprocmask(SIG_SETMASK, &mask0, NULL);
    /* the summary goes to stderr, which may be a closed pipe by now: an
     * error there must not turn the program's status into 141 */
    signal(SIGPIPE, SIG_IGN);
    int status = 0;
    for (;;) {
        pid_t const r = waitpid(pid, &status, WUNTRACED);
        if (r < 0) {
            if (errno != EINTR) {
                fprintf(stderr, "malloc-record: waitpid: %s\n", strerror(errno));
                if (log[0]) unlink(log);
                return 2;
            }
            if (release_held(pid, &status)) break;
            continue;
        }
        if (WIFSTOPPED(status)) {
            follow_stop(pid);
            continue;
        }
        break;
    }
    int const code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    int const maybe_exec_failed = WIFEXITED(status) && (code == 127 || code == 126);
    if (log[0]) {
        /* no line of the program's process and 126/127: the exec failed, and
         * the child said why already */
        FILE *const probe = maybe_exec_failed ? fopen(log, "r") : NULL;
        int empty = 0;
        if (probe) {
            empty = fgetc(probe) == EOF;
            fclose(probe);
        }
        if (!empty) report(log, pid, quiet);
        unlink(log);
    }
    return code;
}
