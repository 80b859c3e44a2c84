/* glibc_driver.c - run a pm_ops.h script against the real glibc malloc and
 * print what every op returned plus mallinfo2() checkpoints.
 *
 * Usage: pm_glibc_driver SCRIPT K
 * Nothing calls malloc before the script's first op: the script is read with
 * read(2) into static storage, results are kept in static arrays and printed
 * with write(2) at the end. Thread ops run in real threads with strict
 * hand-off (one runs at a time), so that arena choice is deterministic;
 * pthread_create itself calls calloc for the new thread's DTV (a real
 * difference the model does not see). */
#include "pm_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_OPS 2000000
#define MAX_SLOTS PMT_MAX_SLOTS
#define MAX_CP 100000
#define MAX_TID 64

static char text[64 << 20];
static pmt_op_t ops[MAX_OPS];
static void *slots[MAX_SLOTS];
static uint64_t res_kind[MAX_OPS]; /* 'B','H','M','0','R' */
static uint64_t res_val[MAX_OPS];
static struct mallinfo2 cps[MAX_CP];
static long ncp;
static uintptr_t brk0;
static char out[1 << 20];

static sem_t main_sem, th_sem[MAX_TID];
static pthread_t th[MAX_TID];
static int th_live[MAX_TID];
static volatile long cur_op;
static volatile int th_quit[MAX_TID];

static void classify(long i, void *p)
{
    if (!p) {
        res_kind[i] = '0';
        return;
    }
    size_t sz = ((size_t *)p)[-1];
    uintptr_t c = (uintptr_t)p - 16;
    if (sz & 2) {
        res_kind[i] = 'M'; /* the whole mapping: offset + chunk size */
        res_val[i] = (sz & ~(size_t)7) + ((size_t *)p)[-2];
    } else if (sz & 4) {
        res_kind[i] = 'H';
        res_val[i] = c & ((64u << 20) - 1);
    } else {
        res_kind[i] = 'B';
        res_val[i] = c - brk0;
    }
}

static void run_op(long i)
{
    pmt_op_t *op = &ops[i];
    void *p = NULL;
    switch (op->kind) {
    case 'm': p = slots[op->slot] = malloc((size_t)op->a); break;
    case 'c': p = slots[op->slot] = calloc((size_t)op->a, (size_t)op->b); break;
    case 'r':
        p = realloc(slots[op->slot], (size_t)op->a);
        if (p || op->a == 0)
            slots[op->slot] = p;
        break;
    case 'a': p = slots[op->slot] = memalign((size_t)op->a, (size_t)op->b); break;
    case 'p': {
        void *q = NULL;
        int rc = posix_memalign(&q, (size_t)op->a, (size_t)op->b);
        p = slots[op->slot] = rc ? NULL : q;
        break;
    }
    case 'v': p = slots[op->slot] = valloc((size_t)op->a); break;
    case 'V': p = slots[op->slot] = pvalloc((size_t)op->a); break;
    case 'f': free(slots[op->slot]); slots[op->slot] = NULL; break;
    case 'o':
        res_kind[i] = 'R';
        res_val[i] = (uint64_t)mallopt((int)op->a, (int)op->b);
        return;
    case 't':
        res_kind[i] = 'R';
        res_val[i] = (uint64_t)malloc_trim((size_t)op->a);
        return;
    default: break;
    }
    classify(i, p);
}

static void *thread_main(void *arg)
{
    long tid = (long)arg;
    for (;;) {
        sem_wait(&th_sem[tid]);
        if (th_quit[tid]) {
            sem_post(&main_sem);
            return NULL;
        }
        run_op(cur_op);
        sem_post(&main_sem);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        write(2, "usage: pm_glibc_driver SCRIPT K\n", 32);
        return 2;
    }
    long k = atol(argv[2]);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        write(2, "pm_glibc_driver: cannot open script\n", 36);
        return 2;
    }
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, text + len, sizeof text - len)) > 0)
        len += (size_t)r;
    close(fd);
    long n = pmt_parse(text, text + len, ops, MAX_OPS);
    if (n < 0) {
        write(2, "pm_glibc_driver: bad script\n", 28);
        return 2;
    }
    sem_init(&main_sem, 0, 0);
    /* PM_DRIVER_SBRK=N: move the break by N bytes first (a break glibc did
     * not set, e.g. misaligned), to check the model's first-sbrk correction */
    const char *mv = getenv("PM_DRIVER_SBRK");
    if (mv && atol(mv) > 0)
        sbrk(atol(mv));
    brk0 = (uintptr_t)sbrk(0);
    long tid = 0;
    for (long i = 0; i < n; i++) {
        pmt_op_t *op = &ops[i];
        if (op->kind == 'T') {
            tid = (long)op->a;
            if (tid > 0 && tid < MAX_TID && !th_live[tid]) {
                sem_init(&th_sem[tid], 0, 0);
                pthread_create(&th[tid], NULL, thread_main, (void *)tid);
                th_live[tid] = 1;
            }
            res_kind[i] = '0';
        } else if (op->kind == 'X') {
            long t = (long)op->a;
            if (t > 0 && t < MAX_TID && th_live[t]) {
                th_quit[t] = 1;
                sem_post(&th_sem[t]);
                sem_wait(&main_sem);
                pthread_join(th[t], NULL);
                th_live[t] = 0;
                th_quit[t] = 0;
            }
            res_kind[i] = '0';
        } else if (tid == 0) {
            run_op(i);
        } else {
            cur_op = i;
            sem_post(&th_sem[tid]);
            sem_wait(&main_sem);
        }
        if (k > 0 && (i + 1) % k == 0 && ncp < MAX_CP - 1)
            cps[ncp++] = mallinfo2();
    }
    cps[ncp++] = mallinfo2();

    /* print */
    char *p = out;
    long cp = 0;
    p = pmt_put_s(p, "S ");
    p = pmt_put_u(p, brk0);
    *p++ = '\n';
    for (long i = 0; i < n; i++) {
        *p++ = (char)res_kind[i];
        if (res_kind[i] != '0') {
            *p++ = ' ';
            p = pmt_put_u(p, res_val[i]);
        }
        *p++ = '\n';
        int at_cp = k > 0 && (i + 1) % k == 0 && cp < ncp - 1;
        if (at_cp || i == n - 1) {
            struct mallinfo2 *m = &cps[at_cp ? cp++ : ncp - 1];
            size_t v[9] = {m->arena, m->ordblks, m->smblks, m->hblks, m->hblkhd,
                           m->fsmblks, m->uordblks, m->fordblks, m->keepcost};
            *p++ = 'C';
            for (int j = 0; j < 9; j++) {
                *p++ = ' ';
                p = pmt_put_u(p, v[j]);
            }
            *p++ = '\n';
        }
        if (p - out > (long)sizeof out - 512) {
            write(1, out, (size_t)(p - out));
            p = out;
        }
    }
    if (n == 0) {
        struct mallinfo2 *m = &cps[0];
        size_t v[9] = {m->arena, m->ordblks, m->smblks, m->hblks, m->hblkhd,
                       m->fsmblks, m->uordblks, m->fordblks, m->keepcost};
        *p++ = 'C';
        for (int j = 0; j < 9; j++) {
            *p++ = ' ';
            p = pmt_put_u(p, v[j]);
        }
        *p++ = '\n';
    }
    write(1, out, (size_t)(p - out));
    return 0;
}
