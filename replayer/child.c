/* child.c - the hidden replay mode: one process per allocator, started by
 * exec with LD_PRELOAD set. Maps the plan and the result block, replays and
 * measures. Nothing here calls malloc before the trace's last op: memory is
 * mmap'ed, numbers are formatted by hand and written with write(2). */
#include "engine.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define SEGMENT 65536u
#define LANE_SEGMENT 4096u /* threads mode: progress (and the RSS samples' op column) this often */
#define NULL_RING (64u << 20)

static uint64_t clock_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(rp_result_t *r, const char *what) {
    rp_buf_t b = { r->msg, 0, sizeof r->msg - 1 };
    rp_put_str(&b, what);
    r->msg[b.len] = 0;
    r->status = 1;
}

/* Zeroed, resident memory of the harness (on huge pages when large). */
static void *map_anon(size_t n) {
    n = n ? n : 1;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (n >= (2u << 20)) madvise(p, n, MADV_HUGEPAGE);
    memset(p, 0, n); /* fault it in now, not during the replay */
    return p;
}

/* ---- glibc checkpoints ---------------------------------------------------- */
static void heap_now(uint64_t h[5]) {
    struct mallinfo2 const mi = mallinfo2();
    h[0] = mi.arena; h[1] = mi.hblkhd; h[2] = mi.uordblks; h[3] = mi.fordblks; h[4] = mi.keepcost;
}

/* Writes to the checkpoint CSV: after an error (kept in r->csv_errno for the
 * parent to report) nothing more is written. */
static void csv_write(rp_result_t *r, int fd, const char *p, size_t n) {
    if (fd < 0 || r->csv_errno) return;
    if (rp_write_all(fd, p, n) < 0) r->csv_errno = errno ? errno : EIO;
}

static void csv_row(rp_result_t *r, int fd, uint64_t op, int final) {
    char line[160];
    rp_buf_t b = { line, 0, sizeof line };
    uint64_t h[5];
    if (r->csv_errno) return;
    heap_now(h);
    if (final) rp_put_str(&b, "final");
    else rp_put_u64(&b, op);
    for (int i = 0; i < 5; i++) {
        rp_put_ch(&b, ',');
        rp_put_u64(&b, h[i]);
    }
    rp_put_ch(&b, '\n');
    csv_write(r, fd, line, b.len);
}

/* ---- RSS over time ---------------------------------------------------------- */
typedef struct rss_s {
    int fd;            /* /proc/self/statm, open */
    uint64_t page, t0; /* t0: CLOCK_MONOTONIC at the loop's start */
} rss_t;

/* Appends a sample; when the table is full, every other one is dropped (the
 * caller then samples half as often). Returns 1 when it thinned the table. */
static int rss_sample(rp_result_t *r, const rss_t *s, uint64_t op, uint64_t now) {
    if (s->fd < 0) return 0;
    uint64_t const b = rp_statm_rss_fd(s->fd) * s->page;
    int thinned = 0;
    if (r->nrss == RP_RSS_MAX) {
        for (uint32_t i = 0; i < RP_RSS_MAX / 2; i++) r->rss[i] = r->rss[2 * i + 1];
        r->nrss = RP_RSS_MAX / 2;
        thinned = 1;
    }
    r->rss[r->nrss].op = op;
    r->rss[r->nrss].ns = now - s->t0;
    r->rss[r->nrss].bytes = b > r->baseline_rss ? b - r->baseline_rss : 0;
    r->nrss++;
    return thinned;
}

/* ---- allocator statistics (after the last traced op) ------------------------ */
static void stat_add(rp_result_t *r, const char *name, uint64_t v) {
    if (r->nstats >= RP_NSTATS) return;
    rp_stat_t *s = &r->stats[r->nstats++];
    size_t const n = strlen(name) < sizeof s->name - 1 ? strlen(name) : sizeof s->name - 1;
    memcpy(s->name, name, n);
    s->name[n] = 0;
    s->value = v;
}

static void allocator_stats(rp_result_t *r, int kind) {
    if (kind == RP_ALLOC_JEMALLOC || kind == RP_ALLOC_OTHER) {
        int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
            (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
        if (mallctl) {
            uint64_t epoch = 1;
            size_t sz = sizeof epoch;
            mallctl("epoch", &epoch, &sz, &epoch, sz);
            static const char *const keys[] = { "stats.allocated", "stats.active", "stats.metadata",
                                                "stats.resident", "stats.mapped", "stats.retained" };
            for (unsigned i = 0; i < 6; i++) {
                size_t v = 0;
                sz = sizeof v;
                if (mallctl(keys[i], &v, &sz, NULL, 0) == 0) stat_add(r, keys[i], v);
            }
            return;
        }
    }
    if (kind == RP_ALLOC_TCMALLOC || kind == RP_ALLOC_OTHER) {
        int (*get)(const char *, size_t *) =
            (int (*)(const char *, size_t *))dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
        if (get) {
            static const char *const keys[] = { "generic.current_allocated_bytes", "generic.heap_size",
                                                "tcmalloc.pageheap_free_bytes", "tcmalloc.pageheap_unmapped_bytes",
                                                "tcmalloc.current_total_thread_cache_bytes" };
            for (unsigned i = 0; i < 5; i++) {
                size_t v = 0;
                if (get(keys[i], &v)) stat_add(r, keys[i], v);
            }
            return;
        }
    }
    if (kind == RP_ALLOC_MIMALLOC || kind == RP_ALLOC_OTHER) {
        void (*info)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *) =
            (void (*)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *))dlsym(
                RTLD_DEFAULT, "mi_process_info");
        if (info) {
            size_t el = 0, us = 0, sy = 0, rss = 0, prss = 0, com = 0, pcom = 0, pf = 0;
            info(&el, &us, &sy, &rss, &prss, &com, &pcom, &pf);
            stat_add(r, "current_rss", rss);
            stat_add(r, "peak_rss", prss);
            stat_add(r, "current_commit", com);
            stat_add(r, "peak_commit", pcom);
            stat_add(r, "page_faults", pf);
        }
    }
}

/* ---- threads mode ------------------------------------------------------- */
typedef struct lane_run_s {
    rp_engine_t *e;
    uint32_t *running;     /* lanes not finished yet */
    const rp_plan_t *plan;
    const rp_lane_t *lane;
    uint32_t index;
    int *go;
    uint64_t null_fail;
} lane_run_t;

static void *lane_main(void *arg) {
    lane_run_t *lr = arg;
    const char *base = (const char *)lr->plan;
    const rp_op_t *ops = (const rp_op_t *)(base + lr->lane->ops_off);
    const uint64_t *ext = (const uint64_t *)(base + lr->lane->ext_off);
    /* the recorded times: followed only with --pace (they were followed
     * always, so every threads run took the recorded time) */
    const uint64_t *times = lr->e->pace && lr->lane->t_off ? (const uint64_t *)(base + lr->lane->t_off) : NULL;
    size_t nb_off = 0;
    while (!__atomic_load_n(lr->go, __ATOMIC_ACQUIRE)) /* sleep, not spin: lanes may outnumber cores */
        syscall(SYS_futex, lr->go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    for (uint64_t done = 0; done < lr->lane->nops;) {
        uint64_t const k = lr->lane->nops - done < LANE_SEGMENT ? lr->lane->nops - done : LANE_SEGMENT;
        rp_engine_run(lr->e, ops + done, k, &ext, 1, lr->index, (uint32_t)done, times ? times + done : NULL,
                      &nb_off, &lr->null_fail);
        done += k;
        __atomic_fetch_add(&lr->e->res->progress, k, __ATOMIC_RELAXED);
    }
    if (__atomic_sub_fetch(lr->running, 1, __ATOMIC_RELEASE) == 0) /* the sampler waits for this */
        syscall(SYS_futex, lr->running, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

/* Lanes of threads mode: created before the baseline is read and parked on
 * `go`, so that their creation (3001 lanes: ~25 MiB of stacks and ~0.75 s
 * of wall time with the null allocator) is the harness's, out of the RSS
 * and time figures, as the plan and tables are. Their stacks are ours (one
 * mapping), their top LANE_STACK_TOUCH bytes (thread descriptor, TLS and
 * the lane's own calls) touched before: glibc madvises away the stack of a
 * thread it made itself when the thread ends, which would take the lanes'
 * stacks out of the RSS under the baseline as lanes end; user stacks it
 * leaves alone. */
typedef struct lanes_s {
    lane_run_t *lr;
    pthread_t *th;
    char *stacks;
    uint32_t n, started, running;
    int go;
    int err; /* why lanes_create failed */
} lanes_t;

#define LANE_STACK (256u << 10)
#define LANE_STACK_TOUCH (16u << 10) /* the lane's calls into the allocator use less */

static int lanes_create(lanes_t *ls, rp_engine_t *e, const rp_plan_t *plan, const rp_lane_t *lanes) {
    uint32_t const n = plan->nlanes;
    ls->n = n;
    ls->lr = map_anon(sizeof *ls->lr * n);
    ls->th = map_anon(sizeof *ls->th * n);
    ls->stacks = mmap(NULL, (size_t)LANE_STACK * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    if (ls->stacks == MAP_FAILED) {
        ls->err = errno;
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) /* the top of each: resident now, in the baseline */
        memset(ls->stacks + (size_t)LANE_STACK * (i + 1) - LANE_STACK_TOUCH, 0, LANE_STACK_TOUCH);
    e->sync = map_anon(sizeof(rp_sync_t) * n);
    if (!ls->lr || !ls->th || !e->sync) return -1;
    for (uint32_t i = 0; i < n; i++) {
        e->sync[i].wake_at = UINT32_MAX; /* no waiter */
        pthread_mutex_init(&e->sync[i].lk, NULL);
    }
    ls->go = 0;
    ls->running = n;
    for (ls->started = 0; ls->started < n; ls->started++) {
        uint32_t const i = ls->started;
        ls->lr[i] = (lane_run_t){ e, &ls->running, plan, &lanes[i], i, &ls->go, 0 };
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstack(&attr, ls->stacks + (size_t)LANE_STACK * i, LANE_STACK);
        int const rc = pthread_create(&ls->th[i], &attr, lane_main, &ls->lr[i]);
        pthread_attr_destroy(&attr);
        if (rc) {
            ls->err = rc;
            break;
        }
    }
    __atomic_fetch_sub(&ls->running, n - ls->started, __ATOMIC_RELEASE);
    return ls->started == n ? 0 : -1;
}

/* Lets the lanes go and samples the RSS until they are done. */
static void lanes_run(lanes_t *ls, rp_engine_t *e, uint64_t *null_fail, const rss_t *rs) {
    e->start_ns = clock_ns(CLOCK_MONOTONIC);
    __atomic_store_n(&ls->go, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &ls->go, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    /* this thread samples the RSS while the lanes run: every 10 ms, less often
     * once the table has been thinned; the last lane's end wakes it at once */
    e->res->rss_every = 10000000;
    uint64_t next = e->start_ns + e->res->rss_every;
    for (uint32_t v; (v = __atomic_load_n(&ls->running, __ATOMIC_ACQUIRE));) {
        uint64_t const now = clock_ns(CLOCK_MONOTONIC);
        if (now >= next) {
            if (rss_sample(e->res, rs, __atomic_load_n(&e->res->progress, __ATOMIC_RELAXED), now) &&
                e->res->rss_every < 500000000)
                e->res->rss_every *= 2;
            next = now + e->res->rss_every;
            continue;
        }
        struct timespec const to = { (time_t)((next - now) / 1000000000u), (long)((next - now) % 1000000000u) };
        syscall(SYS_futex, &ls->running, FUTEX_WAIT_PRIVATE, v, &to, NULL, 0);
    }
    for (uint32_t i = 0; i < ls->started; i++) {
        pthread_join(ls->th[i], NULL);
        *null_fail += ls->lr[i].null_fail;
    }
}

/* The plan is read into private anonymous memory on transparent huge pages
 * when the kernel allows: the replay loop streams through it, and shared
 * memfd (shmem) pages, 4 KiB each, cost several times more per op there. */
static const rp_plan_t *load_plan(int fd, uint64_t bytes) {
    size_t const huge = 2u << 20, len = (size_t)((bytes + huge - 1) & ~(uint64_t)(huge - 1));
    char *m = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1)); /* 2 MiB aligned */
    madvise(p, len, MADV_HUGEPAGE);
    for (uint64_t off = 0; off < bytes;) {
        ssize_t const n = pread(fd, p + off, bytes - off > (1u << 30) ? (1u << 30) : (size_t)(bytes - off), (off_t)off);
        if (n <= 0) {
            munmap(m, len + huge);
            return NULL;
        }
        off += (uint64_t)n;
    }
    /* no mprotect(PROT_READ) here: the first pass over huge pages re-protected so ran ~1.7x slower */
    return (const rp_plan_t *)p;
}

/* ---- main ---------------------------------------------------------------- */
int rp_child_main(const rp_child_args_t *a) {
    rp_result_t *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, a->result_fd, 0);
    if (a->stderr_fd >= 0) { /* started: standard error is the caller's again (spawn.c) */
        dup2(a->stderr_fd, 2);
        close(a->stderr_fd);
    }
    if (r == MAP_FAILED) return 2;
    r->ready = 1; /* the preloaded library's constructors have returned */
    rp_plan_t hdr;
    if (pread(a->plan_fd, &hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || hdr.magic != RP_PLAN_MAGIC) {
        fail(r, "replay plan unreadable");
        return 1;
    }
    const rp_plan_t *plan = load_plan(a->plan_fd, hdr.bytes);
    if (!plan) {
        fail(r, "cannot load the replay plan");
        return 1;
    }
    const rp_lane_t *lanes = (const rp_lane_t *)((const char *)plan + plan->lanes_off);
    rp_engine_t e;
    memset(&e, 0, sizeof e);
    e.res = r;
    e.null = a->kind == RP_ALLOC_NULL;
    e.touch = a->touch;
    e.funcs = a->funcs;
    e.sample = a->sample ? a->sample : 1;
    for (unsigned c = 0; c < RP_NCODES; c++) { /* at most ~2^14 timed per code besides the 1-in-sample */
        uint64_t s = 1;
        while (plan->ncode[c] / s > (1u << 14)) s *= 2;
        e.kmask[c] = (uint32_t)(s - 1);
    }
    e.page = (size_t)sysconf(_SC_PAGESIZE);
    e.slots = map_anon(plan->nslots * sizeof(void *));
    if (e.null) {
        e.nb_cap = NULL_RING;
        e.nb_base = map_anon(NULL_RING);
    }
    if (!e.slots || (e.null && !e.nb_base)) {
        fail(r, "out of memory for the object table");
        return 1;
    }
    r->sample = e.sample;
    if (a->csv_fd >= 0) {
        static const char head[] = "op,arena,hblkhd,uordblks,fordblks,keepcost\n";
        csv_write(r, a->csv_fd, head, sizeof head - 1);
    }
    lanes_t ls;
    memset(&ls, 0, sizeof ls);
    e.pace = a->pace;
    if (plan->threads && lanes_create(&ls, &e, plan, lanes) < 0) { /* _exit ends the parked ones */
        char msg[200];
        rp_buf_t b = { msg, 0, sizeof msg - 1 };
        rp_put_str(&b, "cannot start the replay threads (");
        rp_put_u64(&b, ls.started);
        rp_put_str(&b, " of ");
        rp_put_u64(&b, plan->nlanes);
        rp_put_str(&b, " started): ");
        rp_put_str(&b, ls.err ? strerrordesc_np(ls.err) : "out of memory");
        msg[b.len] = 0;
        fail(r, msg);
        return 1;
    }
    /* The harness's own resident pages (plan, tables, code, lane threads) are the baseline;
     * the peak-RSS mark is reset so that only the replay raises it. */
    int const cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (cr >= 0) {
        if (write(cr, "5", 1) < 0) {}
        close(cr);
    }
    uint64_t const page = e.page;
    r->baseline_rss = rp_proc_statm(1) * page;
    uint64_t null_fail = 0, excluded = 0, excluded_cpu = 0;
    rss_t rs = { open("/proc/self/statm", O_RDONLY | O_CLOEXEC), page, 0 };
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t const c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC), t0 = __rdtsc();
    rs.t0 = w0;
    rss_sample(r, &rs, 0, w0);
    if (!plan->threads) {
        const rp_op_t *ops = (const rp_op_t *)((const char *)plan + lanes[0].ops_off);
        const uint64_t *ext = (const uint64_t *)((const char *)plan + lanes[0].ext_off);
        uint64_t const n = lanes[0].nops, cp = a->checkpoints;
        uint64_t next_cp = cp ? cp : UINT64_MAX;
        /* RSS every rss_every ops (a power of two >= 4096, ~512 samples at most) */
        uint64_t every = 4096;
        while (n / every > 512) every *= 2;
        r->rss_every = every;
        uint64_t next_rss = every;
        size_t nb_off = 0;
        for (uint64_t done = 0; done < n;) {
            uint64_t end = done + SEGMENT < n ? done + SEGMENT : n;
            if (end > next_cp) end = next_cp;
            if (end > next_rss) end = next_rss;
            rp_engine_run(&e, ops + done, end - done, &ext, 0, 0, (uint32_t)done, NULL, &nb_off, &null_fail);
            done = end;
            r->progress = done;
            if (done == next_rss) { /* its own time counts as the harness's (wall and CPU): ~1 us */
                rss_sample(r, &rs, done, clock_ns(CLOCK_MONOTONIC) - excluded);
                next_rss += every;
            }
            if (done == next_cp) {
                uint64_t const x0 = clock_ns(CLOCK_MONOTONIC), xc0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                if (a->csv_fd >= 0) csv_row(r, a->csv_fd, done, 0);
                next_cp = r->csv_errno ? UINT64_MAX : next_cp + cp; /* no more rows after a write error */
                excluded += clock_ns(CLOCK_MONOTONIC) - x0;
                excluded_cpu += clock_ns(CLOCK_PROCESS_CPUTIME_ID) - xc0; /* out of the CPU time too */
            }
        }
    } else {
        lanes_run(&ls, &e, &null_fail, &rs);
    }
    uint64_t const t1 = __rdtsc(), w1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    if (r->nrss == 0 || r->rss[r->nrss - 1].op != plan->nops) rss_sample(r, &rs, plan->nops, w1 - excluded);
    if (rs.fd >= 0) close(rs.fd);
    getrusage(RUSAGE_SELF, &ru1);
    r->minflt = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
    r->ops = plan->nops;
    r->wall_ns = w1 - w0 - excluded;
    r->cpu_ns = c1 - c0 > excluded_cpu ? c1 - c0 - excluded_cpu : 0;
    r->tsc_cycles = (uint64_t)((double)(t1 - t0) * (double)r->wall_ns / (double)(w1 - w0 ? w1 - w0 : 1));
    r->null_fail = null_fail;
    r->order_errors = e.order_errors;
    uint64_t const hwm = rp_proc_status_kb("VmHWM:") * 1024, now = rp_proc_statm(1) * page;
    r->peak_rss = hwm > r->baseline_rss ? hwm - r->baseline_rss : 0;
    r->final_rss = now > r->baseline_rss ? now - r->baseline_rss : 0;
    if (r->final_rss > r->peak_rss) r->peak_rss = r->final_rss; /* the two counters are sampled apart */
    for (uint32_t i = 0; i < r->nrss; i++) /* VmHWM lags: a sample may have seen more */
        if (r->rss[i].bytes > r->peak_rss) r->peak_rss = r->rss[i].bytes;
    if (a->kind == RP_ALLOC_GLIBC) {
        heap_now(r->heap);
        r->have_heap = 1;
        if (a->csv_fd >= 0) csv_row(r, a->csv_fd, 0, 1);
    } else if (!e.null) {
        allocator_stats(r, a->kind);
    }
    rp_engine_release_all(&e, plan->nslots);
    r->status = 0;
    return 0;
}
