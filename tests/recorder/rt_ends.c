/* rt_ends - every way a process ends leaves a complete trace. argv[2]:
 * ret | exit | _exit | abort | segv | kill | thread-exit (exit() called from
 * a thread while the main thread keeps allocating) | sigint-handled (the
 * program's own SIGINT handler must run, not the recorder's) | sigkill |
 * main-pthread-exit (main calls pthread_exit while a thread still
 * allocates: the process ends with status 0 when that thread returns, its
 * atexit handlers run with main's signal mask) |
 * main-pthread-exit-alone (main calls pthread_exit with no other thread) |
 * overflow | overflow-thread (a recursion that allocates until the stack
 * overflows, in main or in a thread: the recorder's handler runs on the
 * alternate stack it gave the thread, and the trace ends with SIGSEGV) |
 * altstack (the program sees no alternate stack of the recorder's, in main
 * and in a thread, and one of its own replaces it). */
#include <pthread.h>
#include <signal.h>
#include "tlog.h"

static const char *dir;

static void expect(const char *what) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", dir, (int)getpid());
    FILE *f = fopen(p, "w");
    fputs(what, f);
    fclose(f);
}

static void *exiter(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) T_free(T_malloc(3800));
    exit(9);
}

static void *worker(void *arg) {
    usleep(150000); /* main's pthread_exit is over */
    for (int i = 0; i < 1000; i++) T_free(T_malloc(3810));
    return arg;
}

/* exit(0) after main's pthread_exit runs the atexit handlers in the last
 * thread, with main's signal mask (the recorder's writer blocks all) */
static void mask_check(void) {
    sigset_t s;
    pthread_sigmask(SIG_BLOCK, NULL, &s);
    if (sigismember(&s, SIGTERM)) _exit(12);
}

static volatile unsigned long depth;
static void deep(void) { /* ~4 KiB a frame, an allocation in each */
    volatile char pad[4000];
    pad[0] = (char)depth;
    void *volatile p = malloc(24 + (depth & 63));
    depth++;
    if (depth < ~0ul) deep(); /* until the stack runs out */
    free(p);
    pad[1] = pad[0];
}
static void *deep_thread(void *arg) { deep(); return arg; }

/* 0 if the program sees no alternate stack, then its own once set */
static int altstack_check(void) {
    stack_t old;
    if (sigaltstack(NULL, &old) != 0 || !(old.ss_flags & SS_DISABLE)) return 1;
    static char mine[2][65536];
    static int k;
    stack_t ss = { .ss_sp = mine[k], .ss_flags = 0, .ss_size = sizeof mine[k] };
    k++;
    if (sigaltstack(&ss, &old) != 0 || !(old.ss_flags & SS_DISABLE)) return 2;
    if (sigaltstack(NULL, &old) != 0 || old.ss_sp != ss.ss_sp || old.ss_size != ss.ss_size) return 3;
    return 0;
}
static void *altstack_thread(void *arg) { (void)arg; T_free(T_malloc(3820)); return (void *)(uintptr_t)altstack_check(); }

static volatile sig_atomic_t got;
static void on_int(int s) { (void)s; got = 1; }

int main(int argc, char **argv) {
    (void)argc;
    dir = argv[1];
    tlog_open(dir, 0);
    const char *m = argv[2];
    for (int i = 0; i < 100; i++) T_free(T_malloc(3000 + i));
    void *live = T_malloc(3900);
    (void)live;
    if (!strcmp(m, "ret")) { expect("end 0 4\n"); return 4; }
    if (!strcmp(m, "exit")) { expect("end 0 5\n"); exit(5); }
    if (!strcmp(m, "_exit")) { expect("end 1 6\n"); _exit(6); }
    if (!strcmp(m, "abort")) { expect("end 2 6\n"); abort(); }
    if (!strcmp(m, "segv")) { expect("end 2 11\n"); *(volatile int *)(uintptr_t)8 = 1; }
    if (!strcmp(m, "overflow")) { expect("end 2 11\n"); deep(); }
    if (!strcmp(m, "overflow-thread")) {
        expect("end 2 11\nthreads 1\n");
        pthread_t t;
        pthread_create(&t, NULL, deep_thread, NULL);
        pthread_join(t, NULL);
    }
    if (!strcmp(m, "altstack")) {
        expect("end 0 0\nthreads 1\n");
        if (altstack_check()) return 20 + altstack_check();
        pthread_t t;
        void *r;
        pthread_create(&t, NULL, altstack_thread, NULL);
        pthread_join(t, &r);
        return r ? 30 + (int)(uintptr_t)r : 0;
    }
    if (!strcmp(m, "kill")) { expect("end 2 15\n"); kill(getpid(), SIGTERM); pause(); }
    if (!strcmp(m, "sigkill")) { /* no END, but everything older than ~100 ms is in */
        expect("noend\n");
        usleep(400000);
        kill(getpid(), SIGKILL);
    }
    if (!strcmp(m, "thread-exit")) {
        expect("end 0 9\nthreads 1\n");
        pthread_t t;
        pthread_create(&t, NULL, exiter, NULL);
        for (;;) {
            void *p = malloc(5801); /* not logged: may be cut by exit */
            free(p);
        }
    }
    if (!strcmp(m, "main-pthread-exit")) {
        expect("end 0 0\nthreads 1\nexits 1\n");
        atexit(mask_check);
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(m, "main-pthread-exit-alone")) {
        expect("end 0 0\n");
        pthread_exit(NULL);
    }
    if (!strcmp(m, "sigint-handled")) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_int;
        sigaction(SIGINT, NULL, &old);
        if (old.sa_handler != SIG_DFL) return 20; /* the recorder's must not show */
        sigaction(SIGINT, &sa, NULL);
        raise(SIGINT);
        if (!got) return 21;
        signal(SIGINT, SIG_DFL);
        expect("end 2 2\n");
        raise(SIGINT); /* default again: fatal, and the trace still ends */
    }
    return 30;
}
