/* oracle.c - the independent judge of the replayer's glibc heap figures.
 *
 * Performs a pseudo-random sequence of malloc-family calls directly on
 * glibc, writes the same calls as a text trace (malloc-trace import format,
 * with the real returned pointers, so address reuse is the real one) and
 * mallinfo2() every N ops as the checkpoint CSV. No stdio and no other
 * malloc call: output is formatted on the stack and written with write(2).
 *
 * usage: oracle TRACE.txt ORACLE.csv N OPS SEED
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIVE 1024
static void *live[LIVE];
static uint64_t rng;
static int tfd, cfd;
static uint64_t seq, ops, every;

static uint64_t rnd(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static void out(int fd, const char *s, int n) {
    while (n > 0) {
        ssize_t const w = write(fd, s, (size_t)n);
        if (w <= 0) _exit(3);
        s += w;
        n -= (int)w;
    }
}

static void checkpoint(int final) {
    struct mallinfo2 const m = mallinfo2();
    char line[200];
    int n;
    if (final) n = snprintf(line, sizeof line, "final");
    else n = snprintf(line, sizeof line, "%llu", (unsigned long long)ops);
    n += snprintf(line + n, sizeof line - (size_t)n, ",%zu,%zu,%zu,%zu,%zu\n", m.arena, m.hblkhd, m.uordblks,
                  m.fordblks, m.keepcost);
    out(cfd, line, n);
}

/* One traced event: "SEQ TID T_NS rest". */
static void ev(const char *rest) {
    char line[256];
    seq++;
    int const n = snprintf(line, sizeof line, "%llu 1 %llu %s\n", (unsigned long long)seq,
                           (unsigned long long)seq * 100, rest);
    out(tfd, line, n);
    ops++;
    if (ops % every == 0) checkpoint(0);
}

static size_t pick_size(void) {
    uint64_t const r = rnd() % 100;
    if (r < 70) return rnd() % 512;
    if (r < 95) return 512 + rnd() % 16384;
    if (r < 99) return 16384 + rnd() % 100000;
    return 140000 + rnd() % 400000; /* above the initial mmap threshold */
}

int main(int argc, char **argv) {
    if (argc != 6) {
        static const char u[] = "usage: oracle TRACE.txt ORACLE.csv N OPS SEED\n";
        out(2, u, sizeof u - 1);
        return 2;
    }
    tfd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cfd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (tfd < 0 || cfd < 0) return 2;
    every = strtoull(argv[3], NULL, 10);
    uint64_t const total = strtoull(argv[4], NULL, 10);
    rng = strtoull(argv[5], NULL, 10) * 2654435761u + 1;
    static const char head[] = "op,arena,hblkhd,uordblks,fordblks,keepcost\n";
    out(cfd, head, sizeof head - 1);
    char b[200];
    while (ops < total) {
        unsigned const i = (unsigned)(rnd() % LIVE);
        void *p = live[i];
        uint64_t const what = rnd() % 100;
        if (p && what < 45) {
            snprintf(b, sizeof b, "free 0x%lx", (unsigned long)(uintptr_t)p);
            free(p);
            live[i] = NULL;
        } else if (p && what < 60) {
            size_t const n = pick_size();
            uintptr_t const a = (uintptr_t)p;
            void *q = realloc(p, n);
            snprintf(b, sizeof b, "realloc 0x%lx %zu -> %p", (unsigned long)a, n, q);
            if (q || n == 0) live[i] = q;
        } else if (p && what < 62) {
            size_t const nm = 1 + rnd() % 8, n = pick_size() / 8;
            uintptr_t const a = (uintptr_t)p;
            void *q = reallocarray(p, nm, n);
            snprintf(b, sizeof b, "reallocarray 0x%lx %zu %zu -> %p", (unsigned long)a, nm, n, q);
            if (q || nm * n == 0) live[i] = q;
        } else if (p) {
            continue;
        } else if (what < 70) {
            size_t const n = pick_size();
            live[i] = malloc(n);
            snprintf(b, sizeof b, "malloc %zu -> %p", n, live[i]);
        } else if (what < 80) {
            size_t const nm = 1 + rnd() % 16, n = pick_size() / 16;
            live[i] = calloc(nm, n);
            snprintf(b, sizeof b, "calloc %zu %zu -> %p", nm, n, live[i]);
        } else if (what < 84) {
            size_t const al = (size_t)16 << (rnd() % 8), n = pick_size();
            live[i] = memalign(al, n);
            snprintf(b, sizeof b, "memalign %zu %zu -> %p", al, n, live[i]);
        } else if (what < 88) {
            size_t const al = (size_t)8 << (rnd() % 8), n = pick_size();
            void *q = NULL;
            if (posix_memalign(&q, al, n)) q = NULL;
            live[i] = q;
            snprintf(b, sizeof b, "posix_memalign %zu %zu -> %p", al, n, q);
        } else if (what < 92) {
            size_t const al = (size_t)32 << (rnd() % 6), n = (pick_size() + al - 1) & ~(al - 1);
            live[i] = aligned_alloc(al, n);
            snprintf(b, sizeof b, "aligned_alloc %zu %zu -> %p", al, n, live[i]);
        } else if (what < 94) {
            size_t const n = pick_size();
            live[i] = valloc(n);
            snprintf(b, sizeof b, "valloc %zu -> %p", n, live[i]);
        } else if (what < 95) {
            size_t const n = pick_size();
            live[i] = pvalloc(n);
            snprintf(b, sizeof b, "pvalloc %zu -> %p", n, live[i]);
        } else if (what < 97) {
            free(NULL);
            snprintf(b, sizeof b, "free 0x0");
        } else if (what < 98 && rnd() % 20 == 0) {
            int const r = malloc_trim(0);
            snprintf(b, sizeof b, "malloc_trim 0 -> %d", r);
        } else {
            continue;
        }
        for (char *s = b; (s = strstr(s, "(nil)"));) { memcpy(s, "0x0  ", 5); } /* glibc prints NULL as (nil) */
        ev(b);
    }
    checkpoint(1);
    return 0;
}
