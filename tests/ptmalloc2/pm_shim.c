/* pm_shim.c - LD_PRELOAD shim for the ptmalloc2 real-program test: records
 * every malloc-family call a program makes, as a pm_ops.h script, and the
 * real mallinfo2() every K calls, then writes both at exit.
 *
 * PM_SHIM_OUT=prefix (writes prefix.script and prefix.out), PM_SHIM_K=N.
 * The wrappers call glibc's exported __libc_* entry points, so glibc sees
 * the program's calls unchanged; the shim itself never allocates (static
 * storage, write(2)). Single-threaded programs only (other threads' calls
 * are recorded with "U tid" switches, without their thread exits). */
#include "pm_ops.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define MAX_OPS (4u << 20)
#define MAX_CP (1u << 16)
#define HASH_BITS 21

typedef struct { char kind; uint32_t slot; uint64_t a, b; } rec_t;
static rec_t ops[MAX_OPS];
static uint64_t res[MAX_OPS];      /* returned pointer */
static struct mallinfo2 cps[MAX_CP];
static uint32_t nops, ncp, k_every = 1000;
static int overflow, done;
static uintptr_t brk0;
static pid_t main_tid, cur_tid;

/* pointer -> slot; slots are recycled through a free list */
static uintptr_t hkey[1u << HASH_BITS];
static uint32_t hval[1u << HASH_BITS];
static uint32_t free_slots[PMT_MAX_SLOTS], nfree, next_slot;

static uint32_t hslot(uintptr_t p) { return (uint32_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - HASH_BITS)); }

static int slot_new(uint32_t *s)
{
    if (nfree) { *s = free_slots[--nfree]; return 1; }
    if (next_slot < PMT_MAX_SLOTS) { *s = next_slot++; return 1; }
    return 0;
}

static void map_put(uintptr_t p, uint32_t s)
{
    uint32_t i = hslot(p);
    while (hkey[i] && hkey[i] != p)
        i = (i + 1) & ((1u << HASH_BITS) - 1);
    hkey[i] = p;
    hval[i] = s;
}

static int map_take(uintptr_t p, uint32_t *s)
{
    uint32_t m = (1u << HASH_BITS) - 1, i = hslot(p);
    while (hkey[i] && hkey[i] != p)
        i = (i + 1) & m;
    if (!hkey[i])
        return 0;
    *s = hval[i];
    /* backward-shift delete */
    uint32_t j = i;
    for (;;) {
        hkey[i] = 0;
        for (;;) {
            j = (j + 1) & m;
            if (!hkey[j])
                return 1;
            uint32_t h = hslot(hkey[j]);
            if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
                break;
        }
        hkey[i] = hkey[j];
        hval[i] = hval[j];
        i = j;
    }
}

static void begin(void)
{
    if (!brk0) {
        brk0 = (uintptr_t)sbrk(0);
        main_tid = cur_tid = (pid_t)syscall(SYS_gettid);
        const char *k = getenv("PM_SHIM_K");
        if (k && atoi(k) > 0)
            k_every = (uint32_t)atoi(k);
    }
    pid_t t = (pid_t)syscall(SYS_gettid);
    if (t != cur_tid && nops < MAX_OPS) {
        ops[nops++] = (rec_t){'U', 0, t == main_tid ? 0 : (uint64_t)t, 0};
        cur_tid = t;
    }
}

static void end_op(void)
{
    if (nops % k_every == 0 && ncp < MAX_CP)
        cps[ncp++] = mallinfo2();
}

/* record an op producing pointer p into a new slot (old slot of realloc freed) */
static void rec(char kind, uint64_t a, uint64_t b, void *p, int has_old, uint32_t old)
{
    if (done || nops >= MAX_OPS) {
        overflow = 1;
        return;
    }
    uint32_t s = has_old ? old : 0;
    if (p && !has_old && !slot_new(&s)) {
        overflow = 1;
        return;
    }
    if (!p && !has_old && !slot_new(&s)) {
        overflow = 1;
        return;
    }
    ops[nops] = (rec_t){kind, s, a, b};
    res[nops++] = (uintptr_t)p;
    if (p)
        map_put((uintptr_t)p, s);
    else if (!has_old)
        free_slots[nfree++] = s;
    end_op();
}

void *malloc(size_t n)
{
    begin();
    void *p = __libc_malloc(n);
    rec('m', n, 0, p, 0, 0);
    return p;
}

void free(void *p)
{
    begin();
    uint32_t s;
    if (p && !done && map_take((uintptr_t)p, &s)) {
        __libc_free(p);
        if (nops < MAX_OPS) {
            ops[nops++] = (rec_t){'f', s, 0, 0};
            free_slots[nfree++] = s;
            end_op();
        } else {
            overflow = 1;
        }
        return;
    }
    if (p && !done)
        overflow = 1; /* a pointer we did not see allocated */
    __libc_free(p);
}

void *calloc(size_t a, size_t b)
{
    begin();
    void *p = __libc_calloc(a, b);
    rec('c', a, b, p, 0, 0);
    return p;
}

void *realloc(void *o, size_t n)
{
    begin();
    uint32_t s = 0;
    int had = o && !done && map_take((uintptr_t)o, &s);
    if (o && !had && !done)
        overflow = 1;
    void *p = __libc_realloc(o, n);
    if (had) {
        if (!p && n != 0)
            map_put((uintptr_t)o, s); /* failed: the old block stays */
        rec('r', n, 0, p, 1, s);
        if (!p && n == 0)
            free_slots[nfree++] = s;
    } else {
        rec('r', n, 0, p, 0, 0);
    }
    return p;
}

void *reallocarray(void *o, size_t a, size_t b)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n))
        return NULL;
    return realloc(o, n);
}

void *memalign(size_t al, size_t n)
{
    begin();
    void *p = __libc_memalign(al, n);
    rec('a', al, n, p, 0, 0);
    return p;
}

void *aligned_alloc(size_t al, size_t n) { return memalign(al, n); }

int posix_memalign(void **out, size_t al, size_t n)
{
    begin();
    if (al % sizeof(void *) != 0 || ((al / sizeof(void *)) & (al / sizeof(void *) - 1)) || !al) {
        rec('p', al, n, NULL, 0, 0);
        return 22;
    }
    void *p = __libc_memalign(al, n);
    rec('p', al, n, p, 0, 0);
    if (!p)
        return 12;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    begin();
    void *p = __libc_valloc(n);
    rec('v', n, 0, p, 0, 0);
    return p;
}

void *pvalloc(size_t n)
{
    begin();
    void *p = __libc_pvalloc(n);
    rec('V', n, 0, p, 0, 0);
    return p;
}

static char obuf[1 << 16];
static char *op_;
static int ofd;
static void flush(void)
{
    if (op_ > obuf)
        write(ofd, obuf, (size_t)(op_ - obuf));
    op_ = obuf;
}
static void room(void)
{
    if (op_ - obuf > (long)sizeof obuf - 256)
        flush();
}

static void put_cp(const struct mallinfo2 *m)
{
    size_t v[9] = {m->arena, m->ordblks, m->smblks, m->hblks, m->hblkhd,
                   m->fsmblks, m->uordblks, m->fordblks, m->keepcost};
    *op_++ = 'C';
    for (int j = 0; j < 9; j++) {
        *op_++ = ' ';
        op_ = pmt_put_u(op_, v[j]);
    }
    *op_++ = '\n';
}

__attribute__((destructor)) static void shim_fini(void)
{
    const char *pre = getenv("PM_SHIM_OUT");
    if (!pre || done)
        return;
    done = 1;
    struct mallinfo2 fin = mallinfo2();
    char path[4096];
    char *q = pmt_put_s(path, pre);
    pmt_put_s(q, ".script");
    q[7] = 0;
    ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (ofd < 0)
        return;
    op_ = obuf;
    op_ = pmt_put_s(op_, overflow ? "# overflow: incomplete\n" : "# recorded by pm_shim\n");
    for (uint32_t i = 0; i < nops; i++) {
        rec_t *r = &ops[i];
        *op_++ = r->kind;
        *op_++ = ' ';
        if (r->kind == 'U') {
            op_ = pmt_put_u(op_, r->a);
        } else {
            op_ = pmt_put_u(op_, r->slot);
            if (r->kind != 'f') {
                *op_++ = ' ';
                op_ = pmt_put_u(op_, r->a);
            }
            if (r->kind == 'c' || r->kind == 'a' || r->kind == 'p') {
                *op_++ = ' ';
                op_ = pmt_put_u(op_, r->b);
            }
        }
        *op_++ = '\n';
        room();
    }
    flush();
    close(ofd);
    pmt_put_s(q, ".out");
    q[4] = 0;
    ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (ofd < 0)
        return;
    op_ = pmt_put_s(obuf, "S ");
    op_ = pmt_put_u(op_, brk0);
    *op_++ = '\n';
    for (uint32_t i = 0; i < ncp; i++) {
        put_cp(&cps[i]);
        room();
    }
    put_cp(&fin);
    flush();
    close(ofd);
}
