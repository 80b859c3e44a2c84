/* rt_forkv - one thread forks and reaps children while two others allocate
 * (stack verify mode: a stack taken while a fork is under way has no
 * libunwind unwind to compare with, which is not a wrong stack). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long sink;

static void *forker(void *a) {
    (void)a;
    for (int i = 0; i < 20; i++) {
        pid_t const p = fork();
        if (p == 0) _exit(0);
        waitpid(p, 0, 0);
    }
    return 0;
}

static void *busy(void *a) {
    (void)a;
    for (int i = 0; i < 200000; i++) {
        void *p = malloc((size_t)(i % 200 + 20));
        sink += (long)p;
        free(p);
    }
    return 0;
}

int main(void) {
    pthread_t t[3];
    pthread_create(&t[0], 0, forker, 0);
    pthread_create(&t[1], 0, busy, 0);
    pthread_create(&t[2], 0, busy, 0);
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    printf("ok\n");
    return 0;
}
