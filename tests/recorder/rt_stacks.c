/* rt_stacks - stacks the recorder's per-thread stack cache could get wrong.
 *
 *   rt_stacks DIR [MOD1 MOD2]
 *
 * Every tagged allocation is malloc(20000 + tag) made by leaf(), which then
 * takes its own stack with glibc's backtrace(3) (libgcc's unwinder, not
 * libunwind) and logs "tag leaf_pc bt0 n bt1 ... bt(n-1)" to DIR/PID.stk;
 * stack_check then requires the recorded stack of that malloc to be
 * [pc in leaf before bt0, bt1, ..., ] cut at the depth. The cases reach the
 * same malloc call with the same stack pointer (the cache's key) through
 * different callers, so a cache that answered from the key and stale stack
 * words would log a wrong stack:
 *   table    one call site calling functions of identical frames from a table
 *   alloca   frames (rbp-based) of varying alloca sizes summing to the same sp,
 *            over callers taken from a table: the old return address slot
 *            still holds its old value inside the new alloca area
 *   keep_rbp the alloca case again, with malloc called by a function that
 *            leaves rbp alone, so only the hook's rbp tells the frames apart
 *            (untagged: checked in verify mode against libunwind)
 *   recurse  mutual recursion through identically shaped functions, the
 *            path chosen by bits, depths 0..45 (deeper than the default 32)
 *   longjmp  a longjmp out of a deep chain between the others
 *   signal   malloc in a signal handler raised from table functions
 *   threads  two threads doing table and recurse at once
 *   fork     the child does it all again (its own trace and log)
 *   dlclose  with MOD1 MOD2 (rt_stkmod.c's two variants): each loaded,
 *            called through its own frames, unloaded, three times over, so
 *            the other variant's code comes to lie at the same addresses
 * Each case runs every variant several times in interleaved orders. */
#include <execinfo.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <alloca.h>
#include <dlfcn.h>
#include <fcntl.h>

#define NOINLINE __attribute__((noinline))
#define KEEP __asm__ volatile("" ::: "memory") /* no tail call, same frame shape */

static int log_fd = -1;
static _Atomic int next_tag;
static char dir[1024];

static void log_open(void) {
    char p[1100];
    snprintf(p, sizeof p, "%s/%d.stk", dir, (int)getpid());
    log_fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) { perror(p); exit(90); }
}

NOINLINE void leaf(void) {
    int const tag = atomic_fetch_add(&next_tag, 1);
    if (tag >= 10000) return;
    void *volatile p = malloc(20000 + (size_t)tag);
    void *bt[80];
    int const n = backtrace(bt, 80);
    char line[2048];
    int k = snprintf(line, sizeof line, "%d %lu %lu %d", tag, (unsigned long)(uintptr_t)&leaf, (unsigned long)(uintptr_t)bt[0], n);
    for (int i = 1; i < n && k < (int)sizeof line - 24; i++) k += snprintf(line + k, sizeof line - (size_t)k, " %lu", (unsigned long)(uintptr_t)bt[i]);
    line[k++] = '\n';
    if (write(log_fd, line, (size_t)k) != k) _exit(91);
    free(p);
    KEEP;
}

/* ---- table: same call site, same sp, different callers -------------------- */
NOINLINE void t0(void) { leaf(); KEEP; }
NOINLINE void t1(void) { leaf(); KEEP; }
NOINLINE void t2(void) { leaf(); KEEP; }
static void (*const table[3])(void) = { t0, t1, t2 };
NOINLINE void via_table(unsigned i) { table[i % 3](); KEEP; }

/* ---- alloca: rbp frames, the same sp at leaf's call for every k --------- */
NOINLINE void mid(int k) {
    volatile char *a = alloca(64 * (size_t)k + 16);
    a[0] = 1;
    leaf();
    KEEP;
}
NOINLINE void outer_a(int k) {
    volatile char *a = alloca(64 * (size_t)(4 - k) + 16);
    a[0] = 1;
    mid(k);
    KEEP;
}
NOINLINE void outer_b(int k) {
    volatile char *a = alloca(64 * (size_t)(4 - k) + 16);
    a[0] = 2;
    mid(k);
    KEEP;
}
static void (*const outers[2])(int) = { outer_a, outer_b };
NOINLINE void via_outers(unsigned i, int k) { outers[i & 1](k); KEEP; }

/* ---- keep_rbp: the alloca frames above a caller that does not save rbp ----- */
NOINLINE void *keep_rbp(size_t n) {
    void *p = malloc(n);
    KEEP;
    return p;
}
NOINLINE void mid2(int k) {
    volatile char *a = alloca(64 * (size_t)k + 16);
    a[0] = 1;
    free(keep_rbp(100));
    KEEP;
}
NOINLINE void outer2_a(int k) {
    volatile char *a = alloca(64 * (size_t)(4 - k) + 16);
    a[0] = 1;
    mid2(k);
    KEEP;
}
NOINLINE void outer2_b(int k) {
    volatile char *a = alloca(64 * (size_t)(4 - k) + 16);
    a[0] = 2;
    mid2(k);
    KEEP;
}
static void (*const outers2[2])(int) = { outer2_a, outer2_b };
NOINLINE void via_outers2(unsigned i, int k) { outers2[i & 1](k); KEEP; }

/* ---- recursion: the path in bits, every level the same frame -------------- */
NOINLINE void rec_a(unsigned bits, int d);
NOINLINE void rec_b(unsigned bits, int d);
NOINLINE void rec_a(unsigned bits, int d) {
    if (d == 0) leaf();
    else if (bits & 1) rec_a(bits >> 1, d - 1);
    else rec_b(bits >> 1, d - 1);
    KEEP;
}
NOINLINE void rec_b(unsigned bits, int d) {
    if (d == 0) leaf();
    else if (bits & 1) rec_a(bits >> 1, d - 1);
    else rec_b(bits >> 1, d - 1);
    KEEP;
}

/* ---- longjmp out of a chain that allocated ------------------------------- */
static __thread jmp_buf jb;
static volatile int jump_on = 1;
NOINLINE void jump_deep(int d) {
    if (d <= 0) {
        leaf();
        if (jump_on) longjmp(jb, 1);
        return;
    }
    jump_deep(d - 1);
    KEEP;
}

/* ---- signal handler ------------------------------------------------------ */
static void on_usr1(int sig) { (void)sig; leaf(); }
NOINLINE void s0(void) { raise(SIGUSR1); KEEP; }
NOINLINE void s1(void) { raise(SIGUSR1); KEEP; }
static void (*const stable[2])(void) = { s0, s1 };
NOINLINE void via_stable(unsigned i) { stable[i & 1](); KEEP; }

static void run_cases(unsigned seed) {
    static __thread unsigned x; /* survives the longjmp */
    x = seed;
    for (unsigned r = 0; r < 40; r++) {
        for (unsigned i = 0; i < 6; i++) via_table((x = x * 1103515245u + 12345u) >> 16);
        for (unsigned i = 0; i < 6; i++) via_outers(i + r, 1 + (int)((i + r) % 3));
        for (unsigned i = 0; i < 6; i++) via_outers2(i + r, 1 + (int)((i + r) % 3));
        rec_a(x >> 8, (int)((x >> 20) % 46));
        x = x * 1103515245u + 12345u;
        rec_b(x >> 8, 12);
        rec_a(x >> 9, 12);
        if (setjmp(jb) == 0) jump_deep((int)(x % 7));
        via_table(r);
        via_stable(r);
        via_stable(r + 1);
    }
}

static void via_modules(const char *m1, const char *m2) {
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 2; k++) {
            void *h = dlopen(k ? m2 : m1, RTLD_NOW | RTLD_LOCAL);
            if (!h) { fprintf(stderr, "rt_stacks: %s\n", dlerror()); exit(92); }
            void (*call)(void (*)(void)) = (void (*)(void (*)(void)))dlsym(h, "mod_call");
            if (!call) { fprintf(stderr, "rt_stacks: no mod_call\n"); exit(92); }
            for (int i = 0; i < 10; i++) call(leaf);
            dlclose(h);
        }
}

static void *thread_main(void *arg) {
    run_cases((unsigned)(uintptr_t)arg);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: rt_stacks DIR\n"); return 2; }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    log_open();
    signal(SIGUSR1, on_usr1);
    void *warm[4];
    backtrace(warm, 4); /* loads libgcc_s before anything is tagged */
    run_cases(1);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, thread_main, (void *)(uintptr_t)(7 + i));
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    run_cases(3);
    if (argc >= 4) via_modules(argv[2], argv[3]);
    pid_t const pid = fork();
    if (pid == 0) {
        log_open();
        next_tag = 5000;
        run_cases(5);
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    run_cases(9);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
