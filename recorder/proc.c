/* proc.c - the process around the hooks: start and end, threads, fork,
 * vfork, exec, fatal signals, and the trace's file descriptor.
 *
 * - Start: a constructor turns recording on and starts the writer and
 *   registers an on_exit handler that makes the final flush (END reason exit
 *   with the status); registered before the loader's destructor pass, it runs
 *   after every destructor. _exit/_Exit/quick_exit flush first (END _exit).
 * - Threads: pthread_create runs the start routine through a trampoline that
 *   records thread_start with the creator's tid; thread_exit is written by the
 *   writer once the kernel reports the thread gone (drain.c).
 * - fork: the child gets a new trace (new file, rings emptied, writer
 *   restarted), or records nothing under --no-follow; the parent records a
 *   fork event. vfork is run as fork (the child must not touch the parent's
 *   rings). posix_spawn needs nothing: the new image inherits LD_PRELOAD.
 * - exec family: exec event, END reason exec, trace closed, then the real
 *   exec; the new image traces itself if LD_PRELOAD survived. If exec fails
 *   the recorder continues in a new file.
 * - Fatal signals: for every signal whose default action terminates and
 *   whose disposition is SIG_DFL at start, a handler flushes the trace (END
 *   reason signal), restores SIG_DFL and lets the signal kill the process.
 *   The program never sees it: sigaction/signal report SIG_DFL for it, and
 *   the moment the program installs its own handler (or SIG_IGN) the
 *   recorder's is gone for that signal.
 * - The trace fd and libunwind's pipe sit out of the program's way (above
 *   its fd soft limit when the hard limit allows); close/close_range/
 *   closefrom skip them and dup2/dup3 onto them move them away first.
 */
#include <dlfcn.h>
#include <errno.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <utmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"
#include "trace.h"

/* The process is ending (exit, _exit, exec): the trace must be ended first
 * while recording, and also while a writer that met a write error is still
 * writing its END (recording is already off then, the writer still runs). */
static inline int must_end(void) {
    return !rec_t.internal && (atomic_load(&rec_on) || atomic_load(&rec_writer_running) || rec_end_pending());
}

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

int rec_push_simple(int op, uint64_t a, uint64_t ret) {
    rec_tls_t *t = &rec_t;
    if (!atomic_load(&rec_on) || t->internal) return -1;
    uint8_t const g = t->guard;
    t->guard = 1;
    rec_ring_t *r = t->ring ? t->ring : rec_ring_attach(t);
    int rc = -1;
    if (r) {
        atomic_store_explicit(&r->busy, 1, memory_order_relaxed);
        uint64_t const seq = atomic_fetch_add(&rec_seq, 1) + 1;
        rec_ev_t *e = rec_slot(r);
        if (e) {
            memset(e, 0, sizeof *e);
            e->seq = seq;
            e->t = rec_stamp();
            e->a = a;
            e->ret = ret;
            e->op = (uint8_t)op;
            rec_publish(r, seq);
            rc = 0;
        }
        atomic_store_explicit(&r->busy, 0, memory_order_release);
    }
    t->guard = g;
    return rc;
}

/* ---- threads ------------------------------------------------------------ */
typedef struct tramp_s {
    void *(*fn)(void *);
    void *arg;
    uint32_t creator;
    _Atomic int used;
} tramp_t;

#define NTRAMP 256
static tramp_t tramps[NTRAMP];

static tramp_t *tramp_get(void) {
    for (int i = 0; i < NTRAMP; i++) {
        int z = 0;
        if (atomic_compare_exchange_strong(&tramps[i].used, &z, 1)) return &tramps[i];
    }
    tramp_t *t = rec_mem_alloc(NULL, sizeof *t);
    if (t) atomic_store(&t->used, 2); /* 2: mmap'd */
    return t;
}

static void *tramp_main(void *p) {
    tramp_t *tp = p;
    void *(*fn)(void *) = tp->fn;
    void *arg = tp->arg;
    uint32_t const creator = tp->creator;
    if (atomic_load(&tp->used) == 2) rec_mem_free(NULL, tp);
    else atomic_store(&tp->used, 0);
    rec_stack_bounds_init();
    rec_push_simple(TR_OP_THREAD_START, creator, 0);
    return fn(arg);
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    if (!real) real = rec_next("pthread_create");
    if (!atomic_load(&rec_on) || rec_t.internal) return real(th, attr, fn, arg);
    tramp_t *tp = tramp_get();
    if (!tp) return real(th, attr, fn, arg);
    tp->fn = fn;
    tp->arg = arg;
    tp->creator = rec_t.tid ? rec_t.tid : (rec_t.tid = rec_gettid());
    int const rc = real(th, attr, tramp_main, tp);
    if (rc != 0) {
        if (atomic_load(&tp->used) == 2) rec_mem_free(NULL, tp);
        else atomic_store(&tp->used, 0);
    }
    return rc;
}

/* The main thread leaving by pthread_exit: the process lives on while
 * other threads run, and glibc ends it (exit(0)) when the last thread
 * started by pthread_create returns, the writer thread included. So the
 * writer watches for being the last one then (drain.c) and returns, after
 * writing END, which lets glibc end the process as it would untraced. */
_Atomic int rec_main_exited;
sigset_t rec_main_exit_mask; /* the main thread's signal mask then: exit(0)'s handlers run with it */

EXPORT void pthread_exit(void *ret) {
    static void (*real)(void *);
    if (!real) real = rec_next("pthread_exit");
    if (rec_gettid() == (uint32_t)getpid()) {
        pthread_sigmask(SIG_BLOCK, NULL, &rec_main_exit_mask);
        atomic_store(&rec_main_exited, 1);
        rec_kick_writer();
    }
    if (real) real(ret);
    syscall(SYS_exit, 0);
    __builtin_unreachable();
}

/* ---- fork / vfork ------------------------------------------------------- */
_Atomic int rec_fork_gate;
_Atomic uint32_t rec_writer_in_loader;

/* Waits (1 s at most: never a hang) until no thread but the caller (a fork
 * from a signal handler may have interrupted its own unwinding) is inside. */
void rec_fork_gate_close(void) {
    atomic_fetch_add(&rec_fork_gate, 1); /* forks of two threads at once: a count */
    rec_ring_t *const own = rec_t.ring;
    uint64_t const t0 = rec_now();
    for (rec_ring_t *r = rec_ring_list(); r; r = r->next)
        while (r != own && atomic_load(&r->in_loader) && rec_now() - t0 < 1000000000u) sched_yield();
    while (atomic_load(&rec_writer_in_loader) && rec_now() - t0 < 1000000000u) sched_yield();
}

/* pid: fork's result. The child has no other thread: no other fork, nobody inside. */
void rec_fork_gate_open(pid_t pid) {
    if (pid != 0) { atomic_fetch_sub(&rec_fork_gate, 1); return; }
    for (rec_ring_t *r = rec_ring_list(); r; r = r->next) atomic_store(&r->in_loader, 0);
    atomic_store(&rec_writer_in_loader, 0);
    atomic_store(&rec_fork_gate, 0);
}

static pid_t rec_fork(void) {
    static pid_t (*real)(void);
    if (!real) real = rec_next("fork");
    rec_tls_t *t = &rec_t;
    if (!atomic_load(&rec_on) || t->internal) return real();
    uint8_t const g = t->guard;
    t->guard = 1;
    rec_fork_gate_close();
    rec_registry_lock();
    pid_t const pid = real();
    int const e = errno;
    rec_fork_gate_open(pid);
    if (pid == 0) {
        atomic_store(&rec_main_exited, 0); /* the child's only thread is its main thread */
        rec_ring_after_fork(t);
        rec_writer_after_fork();
        if (rec_follow) {
            rec_tsc0 = __rdtsc();
            rec_start_mono = rec_now();
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rec_start_real = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
            rec_writer_start(0);
        } else {
            atomic_store(&rec_on, 0);
        }
    } else {
        rec_registry_unlock();
        t->guard = g;
        rec_push_simple(TR_OP_FORK, 0, (uint64_t)(int64_t)pid);
    }
    t->guard = g;
    errno = e;
    return pid;
}

EXPORT pid_t fork(void) { return rec_fork(); }

/* vfork's child would share the parent's memory, rings and recorder state:
 * it is run as a fork instead (documented in README.md). */
EXPORT pid_t vfork(void) { return rec_fork(); }

/* glibc's daemon() and forkpty() fork and _exit with its internal calls,
 * which the hooks above never see: the parent's trace was left without an
 * END (its last events lost) and the child was not recorded. Both are
 * done here with the hooked calls, step for step as glibc 2.36 does them. */
EXPORT int daemon(int nochdir, int noclose) {
    pid_t const pid = rec_fork();
    if (pid < 0) return -1;
    if (pid > 0) _exit(0);
    if (setsid() < 0) return -1;
    if (!nochdir && chdir("/") != 0) { /* ignored, as glibc does */ }
    if (noclose) return 0;
    int const fd = open("/dev/null", O_RDWR); /* not CLOEXEC: it may be 0, 1 or 2 */
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int const e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        close(fd);
        errno = ENODEV; /* not the real /dev/null: nothing failed but the check */
        return -1;
    }
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > 2) close(fd);
    return 0;
}

EXPORT pid_t forkpty(int *amaster, char *name, const struct termios *termp, const struct winsize *winp) {
    int master, slave;
    if (openpty(&master, &slave, name, termp, winp) != 0) return -1;
    pid_t const pid = rec_fork();
    if (pid < 0) {
        int const e = errno;
        close(master);
        close(slave);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(master);
        if (login_tty(slave) != 0) _exit(1);
        return 0;
    }
    *amaster = master;
    close(slave);
    return pid;
}

/* ---- exec --------------------------------------------------------------- */
static const char *self_path(void) {
    static char p[4096];
    if (!p[0]) {
        Dl_info di;
        if (dladdr((void *)&self_path, &di) && di.dli_fname) {
            size_t n = strlen(di.dli_fname);
            if (n >= sizeof p) n = sizeof p - 1;
            memcpy(p, di.dli_fname, n);
            p[n] = 0;
        }
    }
    return p;
}

/* 1 if the environment entry e is one of the recorder's settings. */
static int ours_env(const char *e) {
    for (const char *const *v = rec_env_settings; *v; v++) {
        size_t const n = strlen(*v);
        if (!strncmp(e, *v, n) && e[n] == '=') return 1;
    }
    return 0;
}

/* --no-follow: a copy of envp without this library in LD_PRELOAD (nor an
 * LD_PRELOAD left empty) and without the recorder's settings. */
static char *const *env_for_exec(char *const envp[]) {
    if (rec_follow || !envp) return envp;
    size_t n = 0;
    int has = 0;
    while (envp[n]) { if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0 || ours_env(envp[n])) has = 1; n++; }
    if (!has) return envp;
    char **out = rec_mem_alloc(NULL, (n + 1) * sizeof(char *));
    if (!out) return envp;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ours_env(envp[i])) continue;
        if (strncmp(envp[i], "LD_PRELOAD=", 11) != 0) { out[k++] = envp[i]; continue; }
        size_t const len = strlen(envp[i]);
        char *s = rec_mem_alloc(NULL, len + 1);
        if (!s) continue;
        char *o = s + 11;
        memcpy(s, "LD_PRELOAD=", 11);
        const char *p = envp[i] + 11;
        while (*p) {
            while (*p == ':' || *p == ' ') p++;
            const char *e = p;
            while (*e && *e != ':' && *e != ' ') e++;
            if (e == p) break;
            const char *base = p;
            for (const char *q = p; q < e; q++) if (*q == '/') base = q + 1;
            if (!((size_t)(e - base) >= 19 && memcmp(base, "libmalloc-record.so", 19) == 0)) {
                if (o != s + 11) *o++ = ':';
                memcpy(o, p, (size_t)(e - p));
                o += e - p;
            }
            p = e;
        }
        *o = 0;
        if (o != s + 11) out[k++] = s;
    }
    out[k] = NULL;
    (void)self_path;
    return out;
}

static int pre_exec(const char *path) {
    if (rec_t.internal) return 0;
    if (!atomic_load(&rec_on)) {
        if (must_end()) rec_final(TR_END_EXEC, 0); /* let a failing writer end its trace */
        return 0;
    }
    size_t n = strlen(path);
    if (n >= sizeof rec_exec_path) n = sizeof rec_exec_path - 1;
    memcpy(rec_exec_path, path, n);
    rec_exec_path[n] = 0;
    rec_push_simple(TR_OP_EXEC, 0, 0);
    rec_final(TR_END_EXEC, 0);
    return 1;
}

static void post_exec_failed(int was) {
    if (!was) return;
    int const e = errno;
    /* leftovers of other threads belong to the closed trace */
    for (rec_ring_t *r = rec_ring_list(); r; r = r->next) {
        uint64_t const h = atomic_load(&r->head);
        atomic_store(&r->tail, h);
        r->drained_seq = 0;
    }
    atomic_store(&rec_seq, 0);
    rec_writer_start(1);
    errno = e;
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);

/* 1 if an exec of path cannot succeed because there is no such file: the
 * trace is not ended for it. A program's own PATH search (Python's
 * subprocess, shells) tries one exec per folder; each failed attempt ended
 * the trace and began a new one (11 traces for one python3 exec). */
static int no_such_file(const char *path) {
    struct stat st;
    int const e = errno;
    int const missing = path && stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
    errno = e;
    return missing;
}

/* The same for execvp's search: file as execvpe would look for it. */
static int not_on_path(const char *file) {
    if (!file || !*file) return 1;
    if (strchr(file, '/')) return no_such_file(file);
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    size_t const fl = strlen(file);
    char buf[4096];
    for (const char *p = path;; p++) {
        const char *const end = strchrnul(p, ':');
        size_t const dl = (size_t)(end - p);
        if (dl + 1 + fl + 1 > sizeof buf) return 0; /* cannot tell: as before */
        if (dl) memcpy(buf, p, dl);
        size_t k = dl;
        if (dl) buf[k++] = '/';
        memcpy(buf + k, file, fl + 1);
        if (!no_such_file(buf)) return 0;
        if (!*end) return 1;
        p = end;
    }
}

EXPORT int execve(const char *p, char *const argv[], char *const envp[]) {
    static execve_fn real;
    if (!real) real = (execve_fn)rec_next("execve");
    if (no_such_file(p)) return real(p, argv, envp);
    int const was = pre_exec(p);
    int const rc = real(p, argv, env_for_exec(envp));
    post_exec_failed(was);
    return rc;
}

EXPORT int execv(const char *p, char *const argv[]) { return execve(p, argv, environ); }

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    static execve_fn real;
    if (!real) real = (execve_fn)rec_next("execvpe");
    if (not_on_path(file)) return real(file, argv, envp);
    int const was = pre_exec(file);
    int const rc = real(file, argv, env_for_exec(envp));
    post_exec_failed(was);
    return rc;
}

EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    static int (*real)(int, char *const[], char *const[]);
    if (!real) real = rec_next("fexecve");
    int const was = pre_exec("(fexecve)");
    int const rc = real(fd, argv, env_for_exec(envp));
    post_exec_failed(was);
    return rc;
}

EXPORT int execveat(int dfd, const char *p, char *const argv[], char *const envp[], int flags) {
    static int (*real)(int, const char *, char *const[], char *const[], int);
    if (!real) real = rec_next("execveat");
    if ((dfd == AT_FDCWD || p[0] == '/') && *p && no_such_file(p)) return real(dfd, p, argv, envp, flags);
    int const was = pre_exec(p);
    int const rc = real(dfd, p, argv, env_for_exec(envp), flags);
    post_exec_failed(was);
    return rc;
}

/* execl, execle, execlp: gather the arguments, then the v form. */
#define GATHER(first, ap, argv, extra)                                        \
    size_t n_ = 1;                                                            \
    va_list c_;                                                               \
    va_copy(c_, ap);                                                          \
    while (va_arg(c_, char *)) n_++;                                          \
    va_end(c_);                                                               \
    char *argv[n_ + 1];                                                       \
    argv[0] = (char *)(first);                                                \
    for (size_t i_ = 1; i_ <= n_; i_++) argv[i_] = i_ < n_ ? va_arg(ap, char *) : NULL; \
    if (n_ > 1) (void)va_arg(ap, char *);                                     \
    extra

EXPORT int execl(const char *p, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    GATHER(arg, ap, argv, ;);
    va_end(ap);
    return execve(p, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    GATHER(arg, ap, argv, ;);
    va_end(ap);
    return execvpe(file, argv, environ);
}

EXPORT int execle(const char *p, const char *arg, ...) {
    va_list ap;
    va_start(ap, arg);
    GATHER(arg, ap, argv, char *const *envp = va_arg(ap, char *const *););
    va_end(ap);
    return execve(p, argv, envp);
}

/* ---- dlclose ------------------------------------------------------------ */
/* A module's code may have allocated since the writer last scanned the
 * module map (dlopen, calls, dlclose between two passes: ld's LTO plugin);
 * the scan must see the module before it is unmapped, or the pcs of those
 * stacks would lie in no module of the trace. So dlclose first waits for a
 * writer pass that starts after the call (bounded, ~1-2 ms). */
EXPORT int dlclose(void *handle) {
    static int (*real)(void *);
    if (!real) real = (int (*)(void *))rec_next("dlclose");
    if (atomic_load(&rec_on) && !rec_t.internal && !rec_t.guard) rec_writer_sync();
    int const rc = real ? real(handle) : -1;
    rec_stacks_code_changed(); /* other code may be mapped where it was */
    return rc;
}

/* ---- ends --------------------------------------------------------------- */
EXPORT void _exit(int status) {
    static void (*real)(int);
    if (!real) real = rec_next("_exit");
    if (must_end()) rec_final(TR_END_EXIT_NOW, status);
    if (real) real(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _Exit(int status) { _exit(status); }

EXPORT void quick_exit(int status) {
    static void (*real)(int);
    if (!real) real = rec_next("quick_exit");
    if (must_end()) rec_final(TR_END_EXIT_NOW, status);
    real(status);
    __builtin_unreachable();
}

/* Registered by the constructor, before __libc_start_main registers the
 * loader's destructor pass: so it runs after every destructor, the last
 * thing exit() does. */
static int on_exit_ok;
static void on_exit_final(int status, void *arg) {
    (void)arg;
    atomic_store(&rec_exit_status, status);
    if (must_end()) rec_final(TR_END_EXIT, status);
}

/* ---- fatal signals ------------------------------------------------------ */
static const int fatal_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
                                  SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT,
                                  SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSYS };
static _Atomic unsigned char ours[65]; /* 1: our handler is installed for the signal */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;

static void on_fatal(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    int const e = errno;
    rec_final(TR_END_SIGNAL, sig);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction(sig, &dfl, NULL);
    atomic_store(&ours[sig], 0);
    int const sync = (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP) &&
                     si && si->si_code > 0;
    if (!sync) syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig); /* delivered on return */
    errno = e;
}

/* ---- an alternate signal stack ----------------------------------------
 * A stack overflow raises SIGSEGV where there is no stack left for a
 * handler: without an alternate stack the kernel kills the process and the
 * trace ends as after SIGKILL (its last ~100 ms lost, no END). So a thread
 * that has none gets one when its ring is attached, while the recorder's
 * SIGSEGV handler is installed: 256 KiB (reserved, touched only if used)
 * above a guard page, kept with the ring for the next thread (a ring is
 * recycled once its thread is gone). The program does not see it:
 * sigaltstack says SS_DISABLE while it is the one in place, and a stack of
 * the program's own replaces it. */
#define ALT_SIZE (256u * 1024)

void rec_altstack_give(rec_ring_t *r) {
    if (!atomic_load(&ours[SIGSEGV])) return;
    stack_t cur;
    if (syscall(SYS_sigaltstack, NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return;
    if (!r->alt) {
        long const pg = sysconf(_SC_PAGESIZE);
        char *const m = mmap(NULL, ALT_SIZE + (size_t)pg, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED) return;
        if (mprotect(m, (size_t)pg, PROT_NONE) != 0) { munmap(m, ALT_SIZE + (size_t)pg); return; }
        r->alt = m + pg;
    }
    stack_t ss = { .ss_sp = r->alt, .ss_flags = 0, .ss_size = ALT_SIZE };
    syscall(SYS_sigaltstack, &ss, NULL);
}

EXPORT int sigaltstack(const stack_t *ss, stack_t *old) {
    stack_t cur;
    if (syscall(SYS_sigaltstack, ss, old ? &cur : NULL) != 0) return -1;
    if (old) {
        rec_ring_t *const r = rec_t.ring;
        if (r && r->alt && cur.ss_sp == r->alt && !(cur.ss_flags & (SS_ONSTACK | SS_DISABLE))) {
            cur.ss_sp = NULL;
            cur.ss_size = 0;
            cur.ss_flags = SS_DISABLE;
        }
        *old = cur;
    }
    return 0;
}

static int is_fatal(int sig) {
    for (size_t i = 0; i < sizeof fatal_sigs / sizeof *fatal_sigs; i++)
        if (fatal_sigs[i] == sig) return 1;
    return 0;
}

static int install(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (real_sigaction(sig, &sa, NULL) != 0) return -1;
    atomic_store(&ours[sig], 1);
    return 0;
}

void rec_signals_init(void) {
    if (!real_sigaction) real_sigaction = (sigaction_fn)rec_next("sigaction");
    if (!real_sigaction) return;
    if (getenv("MALLOC_RECORD_NO_SIGNALS")) return;
    for (size_t i = 0; i < sizeof fatal_sigs / sizeof *fatal_sigs; i++) {
        int const sig = fatal_sigs[i];
        struct sigaction cur;
        if (real_sigaction(sig, NULL, &cur) != 0) continue;
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) install(sig);
    }
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real_sigaction) real_sigaction = (sigaction_fn)rec_next("sigaction");
    if (sig <= 0 || sig > 64 || !atomic_load(&ours[sig])) {
        if (act && sig > 0 && sig <= 64 && is_fatal(sig) && !(act->sa_flags & SA_SIGINFO) &&
            act->sa_handler == SIG_DFL && atomic_load(&rec_on)) {
            /* back to SIG_DFL: the recorder may watch it again */
            struct sigaction prev;
            if (real_sigaction(sig, NULL, &prev) != 0) return -1;
            if (install(sig) != 0) return real_sigaction(sig, act, old);
            if (old) *old = prev;
            return 0;
        }
        return real_sigaction(sig, act, old);
    }
    /* ours is installed: the program sees SIG_DFL */
    if (old) {
        memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
    }
    if (!act) return 0;
    if (!(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL) return 0;
    atomic_store(&ours[sig], 0);
    return real_sigaction(sig, act, NULL);
}

EXPORT sighandler_t signal(int sig, sighandler_t h) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sig > 0 && sig < 65) sigaddset(&sa.sa_mask, sig);
    if (sigaction(sig, &sa, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

/* libunwind blocks every signal around each lookup of a new pc (two
 * syscalls, costly in a VM); inside a hook no handler can re-enter it (the
 * recursion guard makes nested calls pass through), so those are skipped. */
EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
    static int (*real)(int, const sigset_t *, sigset_t *);
    if (REC_UNLIKELY(rec_t.unwinding)) {
        if (old) sigemptyset(old);
        return 0;
    }
    if (!real) real = rec_next("sigprocmask");
    return real(how, set, old);
}

/* ---- the recorder's descriptors ------------------------------------------
 * The trace fd and malloc-record's log (drain.c), and libunwind's address-validation pipe (opened by
 * its initialisation, kept for the process's life) sit where the program
 * does not look: above its RLIMIT_NOFILE soft limit when the hard limit
 * leaves room (the soft limit is raised for the dup and put back at once),
 * so every number the program may open stays free for it; else high below
 * it. close/close_range/closefrom skip them and dup2/dup3 onto them move
 * them away first. */
static int unw_pipe[2] = { -1, -1 };
static int *unw_pipe_at; /* libunwind's own copy of the pipe's numbers */

int rec_fd_dup_high(int fd) {
    struct rlimit rl;
    if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024) {
        /* high, where programs rarely go (bash saves and restores an open
         * fd it redirects onto: exec 1000>file then found ours), but not
         * past 64K: the kernel's fd table grows to the highest number */
        uint64_t const top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;
        return fcntl(fd, F_DUPFD_CLOEXEC, (int)top - 16);
    }
    int const cur = (int)rl.rlim_cur;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_cur + 16;
        if (rl.rlim_max != RLIM_INFINITY && up.rlim_cur > rl.rlim_max) up.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
            int const nfd = fcntl(fd, F_DUPFD_CLOEXEC, cur);
            setrlimit(RLIMIT_NOFILE, &rl);
            if (nfd >= 0) return nfd;
        }
    }
    /* a limit that cannot be passed: the highest free numbers */
    for (int lo = cur - 1; lo > fd && lo >= cur - 64; lo--) {
        int const nfd = fcntl(fd, F_DUPFD_CLOEXEC, lo);
        if (nfd >= 0) return nfd;
        if (errno != EMFILE) break;
    }
    return -1;
}

int rec_fd_park(int fd) {
    int const nfd = rec_fd_dup_high(fd);
    if (nfd < 0) return fd;
    syscall(SYS_close, fd);
    return nfd;
}

static inline int unw_pipe_is(int fd) { return fd >= 0 && (fd == unw_pipe[0] || fd == unw_pipe[1]); }

/* Whether pc lies in libunwind (not in a signal handler of the program
 * that interrupted an unwind). */
static int in_libunwind(const void *pc) {
    Dl_info a, b;
    return dladdr(pc, &a) && dladdr((const void *)&unw_backtrace, &b) && a.dli_fbase == b.dli_fbase;
}

/* libunwind opens its pipe inside rec_stacks_init or an unwind (and again
 * if it finds it closed): moved high at once, its numbers noted. */
EXPORT int pipe2(int fds[2], int flags) {
    static int (*real)(int *, int);
    if (!real) real = rec_next("pipe2");
    if (!real) { errno = ENOSYS; return -1; }
    int const rc = real(fds, flags);
    if (rc == 0 && REC_UNLIKELY(rec_t.unwinding) && in_libunwind(__builtin_return_address(0))) {
        int const e = errno;
        for (int i = 0; i < 2; i++) {
            fds[i] = rec_fd_park(fds[i]);
            unw_pipe[i] = fds[i];
        }
        unw_pipe_at = fds;
        errno = e;
    }
    return rc;
}

/* The program is about to dup2 onto a number of the pipe: the pipe moves.
 * With no number free, the number is given up (-1 to libunwind too, whose
 * memory checks then fail instead of writing into the program's file, and
 * the program's close() of it closes its own file). */
static void unw_pipe_move(int fd) {
    for (int i = 0; i < 2; i++) {
        if (unw_pipe[i] != fd) continue;
        int const nfd = rec_fd_dup_high(fd);
        unw_pipe[i] = nfd;
        if (unw_pipe_at) __atomic_store_n(&unw_pipe_at[i], nfd, __ATOMIC_RELEASE);
    }
}

static inline int log_fd_is(int fd) { return fd >= 0 && fd == rec_log_fd(); }
static inline int ours_fd(int fd) { return rec_trace_fd_is(fd) || unw_pipe_is(fd) || log_fd_is(fd); }

EXPORT int close(int fd) {
    static int (*real)(int);
    if (!real) real = rec_next("close");
    if (REC_UNLIKELY(ours_fd(fd)) && !rec_t.internal && !rec_t.unwinding) return 0;
    return real(fd);
}

static void before_dup_onto(int oldfd, int newfd) {
    if (oldfd == newfd || rec_t.internal || rec_t.unwinding) return;
    if (rec_trace_fd_is(newfd)) rec_trace_fd_move();
    if (unw_pipe_is(newfd)) unw_pipe_move(newfd);
    if (log_fd_is(newfd)) rec_log_fd_move();
}

EXPORT int dup2(int oldfd, int newfd) {
    static int (*real)(int, int);
    if (!real) real = rec_next("dup2");
    if (REC_UNLIKELY(ours_fd(newfd))) before_dup_onto(oldfd, newfd);
    return real(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags) {
    static int (*real)(int, int, int);
    if (!real) real = rec_next("dup3");
    if (REC_UNLIKELY(ours_fd(newfd))) before_dup_onto(oldfd, newfd);
    return real(oldfd, newfd, flags);
}

/* Our descriptors within [lo, hi], in increasing order; returns how many. */
static int ours_in(unsigned lo, unsigned hi, unsigned out[4]) {
    int const c[4] = { rec_trace_fd(), unw_pipe[0], unw_pipe[1], rec_log_fd() };
    int n = 0;
    for (int i = 0; i < 4; i++) {
        if (c[i] < 0 || (unsigned)c[i] < lo || (unsigned)c[i] > hi) continue;
        int k = n++;
        while (k > 0 && out[k - 1] > (unsigned)c[i]) { out[k] = out[k - 1]; k--; }
        out[k] = (unsigned)c[i];
    }
    return n;
}

EXPORT int close_range(unsigned lo, unsigned hi, int flags) {
    static int (*real)(unsigned, unsigned, int);
    if (!real) real = rec_next("close_range");
    if (!real) { errno = ENOSYS; return -1; }
    unsigned f[4];
    int const n = rec_t.internal ? 0 : ours_in(lo, hi, f);
    if (n == 0) return real(lo, hi, flags);
    int rc = 0;
    unsigned from = lo;
    for (int i = 0; i < n; i++) {
        if (f[i] > from) rc |= real(from, f[i] - 1, flags);
        from = f[i] + 1;
    }
    if (f[n - 1] < hi) rc |= real(f[n - 1] + 1, hi, flags);
    return rc ? -1 : 0;
}

EXPORT void closefrom(int lo) {
    static void (*real)(int);
    if (!real) real = rec_next("closefrom");
    unsigned f[4];
    if (lo < 0) lo = 0;
    int const n = rec_t.internal ? 0 : ours_in((unsigned)lo, ~0u, f);
    if (n > 0) {
        unsigned from = (unsigned)lo;
        for (int i = 0; i < n; i++) {
            if (f[i] > from) close_range(from, f[i] - 1, 0);
            from = f[i] + 1;
        }
        if (real) real((int)f[n - 1] + 1);
        return;
    }
    if (real) real(lo);
}

/* ---- start and end ------------------------------------------------------ */
__attribute__((constructor(101))) static void rec_ctor(void) {
    rec_core_init();
    if (!atomic_load(&rec_on)) return;
    rec_stack_bounds_init();
    on_exit_ok = on_exit(on_exit_final, NULL) == 0;
    rec_signals_init();
    if (rec_t.ring) rec_altstack_give(rec_t.ring); /* attached before the handlers went in */
    rec_writer_start(0);
}

/* Only if on_exit could not be registered (the status is then unknown). */
__attribute__((destructor(101))) static void rec_dtor(void) {
    if (!on_exit_ok && must_end()) rec_final(TR_END_EXIT, 0);
}
