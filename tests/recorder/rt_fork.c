/* rt_fork - fork and vfork: the parent allocates, forks; the child frees
 * some of the parent's blocks, allocates its own and exits (fork: exit(),
 * vfork: _exit after nothing, or exec of /bin/true); each process has its
 * own trace. Mode in argv[2]: fork | vfork | fork-mt (20 forks while two
 * other threads allocate without pause) | fork-grow (20 forks while two new
 * threads fill and grow their rings; the child's own new thread may take
 * one of those rings over, cut in the middle of a growth) | fork-unwind (40
 * forks while two new threads call malloc from 1024 functions, new pcs to
 * their libunwind caches, which look them up in dl_iterate_phdr, and the
 * writer scans the modules at each pass: a child must not inherit the
 * loader's lock held by a thread it does not have) | rawfork (children
 * made with syscall(SYS_fork), which the recorder does not see: such a
 * child is not recorded, and its allocations past a full ring and its exit
 * must not wait for a writer it does not have; the test's short timeout
 * catches a wait) | daemon | forkpty (a child calls glibc's daemon() or
 * forkpty(), whose fork and _exit are glibc's internal calls). */
#include <pthread.h>
#include <pty.h>
#include <sys/wait.h>
#include "tlog.h"

static volatile int stop;
static void *churn(void *arg) { /* unlogged sizes: not checked by count */
    (void)arg;
    while (!stop) free(malloc(5000));
    return NULL;
}

static void *burst(void *arg) { /* unlogged bursts that grow the ring, a logged call now and then */
    for (int i = 0; i < 400; i++) {
        for (int k = 0; k < 64; k++) {
            void *volatile q = malloc(48);
            free(q);
        }
        if (arg && i % 40 == 0) T_free(T_malloc(3400 + (size_t)i));
    }
    return NULL;
}

/* 1024 distinct call sites of malloc */
#define NOINLINE __attribute__((noinline))
#define SITE(n) static NOINLINE void site##n(void) { void *volatile q = malloc(16 + n); free(q); __asm__ volatile("" ::: "memory"); }
#define SITES4(n) SITE(n##0) SITE(n##1) SITE(n##2) SITE(n##3)
#define SITES16(n) SITES4(n##0) SITES4(n##1) SITES4(n##2) SITES4(n##3)
#define SITES64(n) SITES16(n##0) SITES16(n##1) SITES16(n##2) SITES16(n##3)
#define SITES256(n) SITES64(n##0) SITES64(n##1) SITES64(n##2) SITES64(n##3)
SITES256(10) SITES256(11) SITES256(12) SITES256(13)
#define REF(n) site##n,
#define REFS4(n) REF(n##0) REF(n##1) REF(n##2) REF(n##3)
#define REFS16(n) REFS4(n##0) REFS4(n##1) REFS4(n##2) REFS4(n##3)
#define REFS64(n) REFS16(n##0) REFS16(n##1) REFS16(n##2) REFS16(n##3)
#define REFS256(n) REFS64(n##0) REFS64(n##1) REFS64(n##2) REFS64(n##3)
static void (*const sites[])(void) = { REFS256(10) REFS256(11) REFS256(12) REFS256(13) };
static void *new_sites(void *arg) { /* a new thread: each pc new to its libunwind caches */
    size_t const n = sizeof sites / sizeof sites[0], off = (size_t)arg;
    for (int lap = 0; lap < 3; lap++)
        for (size_t i = 0; i < n; i++) sites[(i * 7 + off) % n]();
    return NULL;
}

static void expect(const char *dir, const char *what) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", dir, (int)getpid());
    FILE *f = fopen(p, "w");
    fputs(what, f);
    fclose(f);
}

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    void *keep[10];
    for (int i = 0; i < 10; i++) keep[i] = T_malloc(3100 + i);
    int const mt = strcmp(argv[2], "fork-mt") == 0, grow = strcmp(argv[2], "fork-grow") == 0;
    int const unw = strcmp(argv[2], "fork-unwind") == 0;
    if (strcmp(argv[2], "daemon") == 0 || strcmp(argv[2], "forkpty") == 0) {
        /* glibc's daemon() and forkpty() fork (and daemon's parent _exits)
         * with glibc's internal calls: both processes must be traced whole */
        int done[2];
        if (pipe(done) != 0) return 1;
        pid_t const a = fork();
        if (a == 0) {
            close(done[0]);
            tlog_open(argv[1], 0);
            for (int i = 0; i < 10; i++) T_free(keep[i]);
            void *mine[50];
            for (int i = 0; i < 50; i++) mine[i] = T_malloc(3500 + (size_t)i);
            if (argv[2][0] == 'd') {
                expect(argv[1], "end 1 0\n"); /* daemon's parent: _exit(0) */
                if (daemon(1, 0) != 0) _exit(2);
            } else {
                int master;
                pid_t const c = forkpty(&master, NULL, NULL, NULL);
                if (c < 0) _exit(2);
                if (c > 0) { /* the parent: the child's terminal until it closes */
                    close(done[1]);
                    char buf[256];
                    while (read(master, buf, sizeof buf) > 0) {}
                    int st;
                    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(3);
                    T_free(T_malloc(3700));
                    expect(argv[1], "end 0 0\n");
                    exit(0);
                }
                if (!isatty(0) || !isatty(1)) _exit(4);
            }
            /* the daemon, or forkpty's child: frees what its parent made */
            tlog_open(argv[1], 0);
            for (int i = 0; i < 50; i++) T_free(mine[i]);
            for (int i = 0; i < 100; i++) T_free(T_malloc(3600 + (size_t)i));
            expect(argv[1], "end 0 0\n");
            exit(0); /* done[1] closes after the recorder's END */
        }
        close(done[1]);
        int st;
        if (a < 0 || waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
        char c;
        while (read(done[0], &c, 1) > 0) {} /* the daemon's exit */
        for (int i = 0; i < 10; i++) T_free(keep[i]);
        expect(argv[1], "end 0 0\n");
        return 0;
    }
    if (strcmp(argv[2], "rawfork") == 0) {
        for (int round = 0; round < 3; round++) {
            long const pid = syscall(SYS_fork);
            if (pid == 0) { /* unlogged: this child has no trace */
                for (int i = 0; i < 40000; i++) free(malloc(48 + (size_t)(i % 64)));
                exit(3);
            }
            int st;
            if (pid < 0 || waitpid((pid_t)pid, &st, 0) != (pid_t)pid || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
                return 1;
            T_free(T_malloc(3300 + (size_t)round));
        }
        for (int i = 0; i < 10; i++) T_free(keep[i]);
        expect(argv[1], "end 0 0\n");
        return 0;
    }
    pthread_t th[2];
    if (mt) for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, churn, NULL);
    for (int round = 0; round < (unw ? 40 : mt || grow ? 20 : 3); round++) {
        if (grow) for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, burst, (void *)1);
        if (unw) for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, new_sites, (void *)(uintptr_t)(round * 131 + i * 509));
        pid_t pid = strcmp(argv[2], "vfork") == 0 ? vfork() : fork();
        if (pid == 0) {
            if (strcmp(argv[2], "vfork") == 0) {
                if (round == 0) _exit(0);
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            tlog_open(argv[1], 0);
            for (int i = 0; i < 10; i++) T_free(keep[i]);
            for (int i = 0; i < 100; i++) T_free(T_malloc(3200 + i));
            if (grow) { /* a thread of the child: its ring may be one a parent thread was growing */
                pthread_t c;
                pthread_create(&c, NULL, burst, (void *)1);
                pthread_join(c, NULL);
            }
            expect(argv[1], "end 0 0\n");
            exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
        if (grow || unw) for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        T_free(T_malloc(3300 + round));
    }
    if (mt) {
        stop = 1;
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    }
    for (int i = 0; i < 10; i++) T_free(keep[i]);
    expect(argv[1], "end 0 0\n");
    return 0;
}
