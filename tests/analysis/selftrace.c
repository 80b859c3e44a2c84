/* selftrace.c - a test subject that traces itself: it calls malloc & co at
 * known source lines, captures its own stacks with backtrace() and its
 * module map with dl_iterate_phdr (path, load bias, build id), and writes a
 * real trace with the traces library, as malloc-record would. Built with -g
 * so that malloc-report's symbolization can be checked against the lines
 * marked SITE_* below.
 *
 * usage: selftrace OUT.zst [rounds]   (rounds > 0 adds a 2-thread workload) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"

static tr_writer_t *w;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t seq, t0;
static uint32_t nstacks;
static struct { uint64_t pcs[32]; uint32_t n; } stacks[4096];

static uint64_t now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Stack id of the caller's caller chain (skips this file's wrapper frames). */
__attribute__((noinline)) static uint32_t stack_id(int skip) {
    void *buf[34];
    int const n = backtrace(buf, 34);
    uint64_t pcs[32];
    uint32_t d = 0;
    for (int i = skip; i < n && d < 32; i++) pcs[d++] = (uint64_t)(uintptr_t)buf[i];
    for (uint32_t i = 0; i < nstacks; i++)
        if (stacks[i].n == d && memcmp(stacks[i].pcs, pcs, d * sizeof *pcs) == 0) return i + 1;
    if (nstacks == 4096) return 0;
    memcpy(stacks[nstacks].pcs, pcs, d * sizeof *pcs);
    stacks[nstacks].n = d;
    tr_writer_stack(w, nstacks + 1, pcs, d);
    return ++nstacks;
}

static void emit(int op, uint64_t a, uint64_t b, uint64_t ret, uint32_t stack) {
    tr_event_t ev = { 0 };
    ev.seq = ev.release_seq = ++seq;
    ev.t_ns = now() - t0;
    ev.op = (uint8_t)op;
    ev.a = a;
    ev.b = b;
    ev.ret = ret;
    ev.tid = (uint32_t)syscall(SYS_gettid);
    ev.stack = stack;
    tr_writer_event(w, &ev);
}

/* Wrappers: backtrace()'s frame 0 is in stack_id, 1 in the wrapper, 2 in its caller. */
__attribute__((noinline)) static void *t_malloc(size_t n) {
    pthread_mutex_lock(&lock);
    void *p = malloc(n); /* REAL_MALLOC */
    emit(TR_OP_MALLOC, n, 0, (uintptr_t)p, stack_id(2));
    pthread_mutex_unlock(&lock);
    return p;
}

__attribute__((noinline)) static void *t_realloc(void *old, size_t n) {
    pthread_mutex_lock(&lock);
    uintptr_t const was = (uintptr_t)old;
    void *p = realloc(old, n);
    emit(TR_OP_REALLOC, was, n, (uintptr_t)p, stack_id(2));
    pthread_mutex_unlock(&lock);
    return p;
}

__attribute__((noinline)) static void t_free(void *p) {
    pthread_mutex_lock(&lock);
    emit(TR_OP_FREE, (uintptr_t)p, 0, 0, stack_id(2));
    free(p);
    pthread_mutex_unlock(&lock);
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size; (void)arg;
    uint64_t lo = UINT64_MAX, hi = 0;
    const uint8_t *bid = NULL;
    size_t bid_len = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            if (ph->p_vaddr < lo) lo = ph->p_vaddr;
            if (ph->p_vaddr + ph->p_memsz > hi) hi = ph->p_vaddr + ph->p_memsz;
        } else if (ph->p_type == PT_NOTE) {
            const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
                const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
                const uint8_t *name = p + sizeof *nh, *desc = name + ((nh->n_namesz + 3) & ~3u);
                if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                    bid = desc;
                    bid_len = nh->n_descsz;
                }
                p = desc + ((nh->n_descsz + 3) & ~3u);
            }
        }
    }
    if (lo == UINT64_MAX) return 0;
    char exe[4096] = "";
    const char *path = info->dlpi_name;
    if (!path || !*path) {
        ssize_t const n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) exe[n] = 0;
        path = exe;
    }
    tr_module_t m = { .bias = info->dlpi_addr, .start = info->dlpi_addr + lo, .size = hi - lo,
                      .path = path, .build_id = bid, .build_id_len = bid_len };
    tr_writer_module(w, &m);
    return 0;
}

/* The sites the test checks, each on its own line. */
__attribute__((noinline)) static void *make_leak(void) {
    return t_malloc(1000); /* SITE_LEAK */
}

__attribute__((noinline)) static void make_temp(void) {
    void *p = t_malloc(64); /* SITE_TEMP */
    t_free(p);
}

__attribute__((noinline)) static void *grow(void) {
    void *p = t_malloc(16); /* SITE_GROW_MALLOC */
    for (size_t n = 32; n <= 4096; n *= 2) p = t_realloc(p, n); /* SITE_GROW_REALLOC */
    return p;
}

/* Inlined even at -O0: symbolization must show both functions. */
static inline __attribute__((always_inline)) void *inl_alloc(size_t n) {
    return t_malloc(n); /* SITE_INLINE */
}

__attribute__((noinline)) static void *make_inl(void) {
    return inl_alloc(48); /* SITE_INLINE_CALL */
}

static void *worker(void *arg) {
    long const rounds = (long)(intptr_t)arg;
    void *keep[64] = { 0 };
    for (long i = 0; i < rounds; i++) {
        size_t const sz = 16u << (i % 9);
        int const k = (int)(i % 64);
        if (keep[k]) t_free(keep[k]);
        keep[k] = t_malloc(sz);
        if (i % 3 == 0) make_temp();
    }
    for (int k = 0; k < 64; k++) if (keep[k]) t_free(keep[k]);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: selftrace OUT.zst [rounds]\n"); return 2; }
    long const rounds = argc > 2 ? atol(argv[2]) : 0;
    void *warm[1];
    backtrace(warm, 1); /* loads libgcc_s before the module map is taken */
    char exe[4096] = "";
    ssize_t const n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) exe[n] = 0;
    tr_header_t h = { .pid = (uint32_t)getpid(), .ppid = (uint32_t)getppid(), .page_size = 4096, .ncpu = 1,
                      .exe = exe, .argv = (const char *const *)argv, .argc = (size_t)argc,
                      .glibc_version = "", .tool = "selftrace (malloc-report test)" };
    t0 = now();
    h.start_mono_ns = t0;
    tr_error_t err;
    w = tr_writer_open(argv[1], &h, NULL, &err);
    if (!w) { fprintf(stderr, "selftrace: %s: %s\n", argv[1], err.msg); return 1; }
    dl_iterate_phdr(add_module, NULL);
    void *leak = make_leak();
    void *inl = make_inl();
    make_temp();
    void *g = grow();
    t_free(g);
    if (rounds > 0) {
        pthread_t th;
        pthread_create(&th, NULL, worker, (void *)(intptr_t)rounds);
        worker((void *)(intptr_t)(rounds / 2));
        pthread_join(th, NULL);
    }
    tr_end_t end = { .reason = TR_END_EXIT, .events = seq };
    if (tr_writer_close(w, &end, &err) < 0) { fprintf(stderr, "selftrace: %s\n", err.msg); return 1; }
    (void)leak;
    (void)inl;
    return 0;
}
