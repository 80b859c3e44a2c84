/* rt_ends - every way a process ends leaves a complete trace. argv[2]:
 * ret | exit | _exit | abort | segv | kill | thread-exit (exit() called from
 * a thread while the main thread keeps allocating) | sigint-handled (the
 * program's own SIGINT handler must run, not the recorder's) | sigkill |
 * main-pthread-exit (main calls pthread_exit while a thread still
 * allocates: the process ends with status 0 when that thread returns, its
 * atexit handlers run with main's signal mask) |
 * main-pthread-exit-alone (main calls pthread_exit with no other thread). */
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
