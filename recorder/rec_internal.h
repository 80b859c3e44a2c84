/* rec_internal.h - internal interface of libmalloc-record.so, the preloaded
 * recorder. Nothing here is public: the library's only interface is the set
 * of libc functions it interposes and the MALLOC_RECORD_* environment
 * variables (README.md).
 *
 * Data flow: every traced thread appends fixed-size raw events (rec_ev_t) to
 * its own single-producer/single-consumer ring (ring.c); one background
 * writer thread (drain.c) drains every ring at least every 100 ms and feeds
 * the events to the traces library's tr_writer. Stacks are deduplicated in a
 * process-wide lock-free table (stacks.c); the writer emits a STACK record
 * the first time it meets an id. Process events (fork, exec, exit, fatal
 * signals, thread creation) live in proc.c; the malloc family in shim.c.
 */
#ifndef REC_INTERNAL_H
#define REC_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REC_HIDDEN __attribute__((visibility("hidden")))
#define REC_LIKELY(x) __builtin_expect(!!(x), 1)
#define REC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define REC_TLS __attribute__((tls_model("initial-exec")))

/* ---- raw events: one cache line each ------------------------------------ */
typedef struct rec_ev_s {
    uint64_t seq;
    uint64_t t;      /* CLOCK_MONOTONIC, absolute ns */
    uint64_t a, b, c;
    uint64_t ret;
    uint32_t stack;
    uint32_t drel;   /* seq - release seq (realloc, reallocarray) */
    uint8_t op;      /* tr_op_t */
    uint8_t pad[7];
} rec_ev_t;

#define REC_RING_SLOTS 16384u /* most per thread; 1 MiB: ~10 ms of a busy thread, so
                                the writer is woken every ~8K events, not every 2K */
#define REC_RING_MIN 1024u    /* a thread's first ring buffer (64 KiB): it doubles
                                each time it fills, so only busy threads pay 1 MiB */
#define REC_MAX_DEPTH 256

/* One cached stack (stacks.c): the call site's key, the stack id, and where
 * in the ring's slot pool its stack words are: the offsets from cfa of the
 * words that must still hold the values they held when the stack was
 * unwound. Entries are small and dense (a set of 4 is three lines), the pool
 * is filled in order, so a thread touches few pages: on some VMs a first touch
 * of a page costs 10 us. */
#define REC_SC_ENTRIES 2048u
#define REC_SC_WAYS 4u
#define REC_SC_SLOTS 64u
#define REC_SC_POOL (REC_SC_ENTRIES * 48u) /* pool words: ~32 slots per entry */
enum { SC_PENDING = 1, SC_FILLED = 2, SC_NOCACHE = 3 };
typedef struct rec_scache_s {
    uint64_t ra, cfa, bp; /* return address and CFA of the hook, caller's rbp */
    uint64_t tag;         /* epoch << 32 | code generation; 0 = empty */
    uint32_t id;
    uint32_t pool;        /* FILLED: values at sc_pool[pool], then the offsets (u32) */
    uint16_t nslots;
    uint16_t cap;         /* pool words the entry owns (this epoch) */
    uint8_t need_bp;      /* bp is part of the key */
    uint8_t state;        /* SC_PENDING, SC_FILLED, SC_NOCACHE */
    uint16_t seen;        /* PENDING: misses since noted (stacks.c) */
} rec_scache_t;

enum { RING_FREE = 0, RING_LIVE = 1, RING_EXITING = 2 };

typedef struct rec_ring_s {
    /* producer's line */
    _Atomic uint64_t head;
    uint64_t tail_cache;
    _Atomic uint32_t busy; /* 1 between taking a seq and publishing it */
    uint32_t tid;
    uint64_t last_seq;     /* producer: seq of the last event pushed */
    _Atomic(rec_ev_t *) ev; /* the buffer (rec_ring_buf), mask + 1 slots */
    uint64_t mask;         /* the producer's copy; the writer reads the buffer's */
    _Atomic uint32_t in_loader; /* 1 while the thread is in libunwind (rec_gate_enter) */
    uint32_t pad_il;
    char pad0[64 - 56];
    /* consumer's line */
    _Atomic uint64_t tail;
    uint64_t drained_seq;  /* writer: seq of the last event drained */
    uint64_t snap_head;    /* writer: head seen at the pass's snapshot */
    uint32_t snap_busy;    /* writer: busy seen at the snapshot */
    uint32_t snap_live;
    char pad1[64 - 32];
    /* shared, rarely written */
    _Atomic int state;
    uint32_t creator;      /* tid of the pthread_create caller, 0 unknown */
    _Atomic uint64_t dropped;
    struct rec_ring_s *next; /* registry, never unlinked */
    /* the buffer a growth replaced, holding the events before switch_at,
     * until the writer drained them and unmapped it (then NULL) */
    _Atomic(rec_ev_t *) old_ev;
    uint64_t switch_at;
    void *alt;             /* the thread's alternate signal stack (proc.c), kept for the next */
    char pad2[64 - 56];
    /* producer: the last stack unwound, to skip the table on a repeat */
    uint32_t last_n, last_id;
    uint64_t last_pcs[REC_MAX_DEPTH];
    /* producer: unwound stacks by call site (stacks.c); an entry counts
     * only while its tag holds this epoch, bumped when the ring is attached */
    uint32_t sc_epoch;
    uint32_t sc_fills;     /* stacks cached lately, */
    uint64_t sc_hits;      /* cache hits */
    uint64_t sc_misses;    /* and misses: fill_pays() in stacks.c */
    uint32_t sc_pool_used; /* pool words handed out this epoch */
    uint64_t sc_key[REC_SC_ENTRIES];             /* hash of each entry's key */
    uint8_t sc_rr[REC_SC_ENTRIES / REC_SC_WAYS]; /* per set: the next way to replace */
    rec_scache_t sc[REC_SC_ENTRIES];
    uint64_t sc_pool[REC_SC_POOL];
} rec_ring_t;

/* ---- per-thread state --------------------------------------------------- */
typedef struct rec_tls_s {
    rec_ring_t *ring;
    uint32_t tid;
    uint8_t guard;    /* inside a hook or the recorder: calls pass through */
    uint8_t internal; /* the writer thread: never recorded */
    uint8_t unwinding; /* inside libunwind: its sigprocmask calls are skipped */
    uintptr_t stk_lo, stk_hi; /* the thread's stack (proc.c), 0 = unknown */
} rec_tls_t;

extern REC_HIDDEN __thread rec_tls_t rec_t REC_TLS;

/* ---- process-wide state ------------------------------------------------- */
extern REC_HIDDEN _Atomic int rec_on;          /* recording */
/* last seq taken; alone on its cache line */
struct rec_seq_line_s { _Alignas(64) _Atomic uint64_t v; char pad[56]; };
extern REC_HIDDEN struct rec_seq_line_s rec_seq_line;
#define rec_seq (rec_seq_line.v)
extern REC_HIDDEN int rec_prefetchw; /* the CPU has PREFETCHW */
#ifndef REC_AHEAD
#define REC_AHEAD 8 /* slots prefetched ahead of the one written */
#endif
extern REC_HIDDEN int rec_depth;               /* stack depth, 0 = off */
extern REC_HIDDEN int rec_follow;              /* trace fork children and exec'd images */
/* The settings malloc-record passes to the library ("MALLOC_RECORD_OUT", ...;
 * NULL-terminated, drain.c): --no-follow leaves none of them to children. */
extern REC_HIDDEN const char *const rec_env_settings[];
extern REC_HIDDEN uint64_t rec_start_mono;     /* header start_mono_ns */
extern REC_HIDDEN uint64_t rec_start_real;
extern REC_HIDDEN _Atomic uint32_t rec_kick;   /* futex: wakes the writer */
extern REC_HIDDEN _Atomic int rec_writer_running;
extern REC_HIDDEN _Atomic uint64_t rec_writer_progress; /* bumped by every drain pass */
extern REC_HIDDEN _Atomic int rec_exit_status;
extern REC_HIDDEN _Atomic int rec_main_exited; /* the main thread called pthread_exit */
extern REC_HIDDEN sigset_t rec_main_exit_mask;  /* with this signal mask */
extern REC_HIDDEN char rec_exec_path[4096];    /* path of the pending exec event */

/* The real allocator, resolved by rec_resolve() with dlsym(RTLD_NEXT). */
typedef struct rec_real_s {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    void (*free)(void *);
    void *(*memalign)(size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    int (*mallopt)(int, int);
    int (*malloc_trim)(size_t);
} rec_real_t;
extern REC_HIDDEN rec_real_t rec_real;

/* Looks up a libc function after ours; never NULL-safe callers: returns NULL
 * if absent. */
REC_HIDDEN void *rec_next(const char *name);
REC_HIDDEN void rec_resolve(void);
/* Reads the environment and turns recording on (idempotent, cheap). */
REC_HIDDEN void rec_core_init(void);

static inline uint64_t rec_now(void);

/* ---- ring.c ------------------------------------------------------------- */
/* The calling thread's ring, attaching one (mmap or recycled) on first use.
 * NULL if none could be had. */
REC_HIDDEN rec_ring_t *rec_ring_attach(rec_tls_t *t);
/* Gives the calling thread, attached to r, an alternate signal stack if it
 * has none (proc.c), so that the fatal-signal handler runs after a stack
 * overflow. */
REC_HIDDEN void rec_altstack_give(rec_ring_t *r);
/* Waits for room (the ring is full): 0 = room now, -1 = the event is dropped. */
REC_HIDDEN int rec_ring_wait(rec_ring_t *r);
/* Wakes the writer early (ring half full, or a final flush). */
REC_HIDDEN void rec_kick_writer(void);
REC_HIDDEN rec_ring_t *rec_ring_list(void);
/* After fork in the child: every ring but the caller's is freed, all emptied. */
REC_HIDDEN void rec_ring_after_fork(rec_tls_t *t);
REC_HIDDEN uint32_t rec_gettid(void);
REC_HIDDEN void rec_registry_lock(void);
REC_HIDDEN void rec_registry_unlock(void);

/* Pushes one event with its seq already taken. Returns the slot to fill or
 * NULL if the event was dropped. Caller sets busy before taking the seq. */
/* A full ring: a bigger buffer if it may grow (0), else waits (rec_ring_wait). */
REC_HIDDEN int rec_ring_full(rec_ring_t *r);
extern REC_HIDDEN _Atomic uint64_t rec_ring_fulls; /* rec_ring_full calls so far */
extern REC_HIDDEN _Atomic uint64_t rec_ring_waits; /* rec_ring_wait calls so far */
/* Ring buffers: n slots after a header slot holding n - 1, so that the writer
 * takes a buffer and its size in one atomic load; populate: mapped at once. */
REC_HIDDEN rec_ev_t *rec_ring_buf(uint64_t n, int populate);
REC_HIDDEN void rec_ring_buf_free(rec_ev_t *ev);
static inline uint64_t rec_ring_buf_mask(const rec_ev_t *ev) { return ev[-1].a; }

static inline rec_ev_t *rec_slot(rec_ring_t *r) {
    uint64_t const h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (REC_UNLIKELY(h - r->tail_cache > r->mask)) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h - r->tail_cache > r->mask && rec_ring_full(r) != 0) return NULL;
    }
    rec_ev_t *const ev = atomic_load_explicit(&r->ev, memory_order_relaxed); /* ours */
    /* own the line of a later slot before it is written: the writer read
     * it last lap, and the next locked seq increment waits until this
     * event's stores are done. A plain prefetch brings the line shared, and
     * the store still waits for the writer's copy to be invalidated:
     * PREFETCHW takes it exclusive (loop1M: the hooks ~2x faster). */
    rec_ev_t *const ahead = &ev[(h + REC_AHEAD) & r->mask];
    if (REC_LIKELY(rec_prefetchw)) __asm__ volatile("prefetchw %0" : : "m"(*(const char *)ahead));
    else __builtin_prefetch(ahead, 1, 3);
    return &ev[h & r->mask];
}
static inline void rec_publish(rec_ring_t *r, uint64_t seq) {
    uint64_t const h = atomic_load_explicit(&r->head, memory_order_relaxed) + 1;
    r->last_seq = seq;
    atomic_store_explicit(&r->head, h, memory_order_release);
    if (REC_UNLIKELY((h & 1023) == 0) && h - r->tail_cache > r->mask / 2) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h - r->tail_cache > r->mask / 2) rec_kick_writer();
    }
}

/* ---- the fork gate (proc.c) ---------------------------------------------
 * A fork child has only the forking thread: a lock another thread held at
 * the fork stays held in the child forever, and glibc 2.36 does not reset
 * the loader's dl_iterate_phdr lock in the child (libunwind's own locks
 * neither). So the recorder's calls into libunwind and dl_iterate_phdr pass
 * this gate: the thread marks itself inside, then backs out if a fork has
 * closed the gate; fork closes the gate and waits until no thread is inside
 * (rec_fork_gate_close), then forks. Both sides are seq_cst (Dekker). */
extern REC_HIDDEN _Atomic int rec_fork_gate;
extern REC_HIDDEN _Atomic uint32_t rec_writer_in_loader; /* the writer's mark */
/* 1: inside (call rec_gate_leave after), 0: a fork is under way, do without. */
static inline int rec_gate_enter(_Atomic uint32_t *inside) {
    atomic_store(inside, 1);
    if (REC_LIKELY(!atomic_load(&rec_fork_gate))) return 1;
    atomic_store(inside, 0);
    return 0;
}
static inline void rec_gate_leave(_Atomic uint32_t *inside) { atomic_store_explicit(inside, 0, memory_order_release); }
REC_HIDDEN void rec_fork_gate_close(void);
REC_HIDDEN void rec_fork_gate_open(pid_t pid);

/* ---- stacks.c ----------------------------------------------------------- */
REC_HIDDEN void rec_stacks_init(void);
/* The stack id of the hook's caller (0 = none or table full). ra, cfa: the
 * hook's return address and CFA; bp: rbp at the hook's entry (the caller's).
 * r holds the thread's cache of unwound stacks. */
REC_HIDDEN uint32_t rec_stack_here(rec_ring_t *r, uintptr_t ra, uintptr_t cfa, uintptr_t bp);
/* Code may have moved (dlclose): every cached stack is dropped. */
REC_HIDDEN void rec_stacks_code_changed(void);
/* Records the calling thread's stack bounds (thread start, main's ctor). */
REC_HIDDEN void rec_stack_bounds_init(void);
/* pcs of an id for the writer: returns the depth, 0 if unknown. */
REC_HIDDEN uint32_t rec_stack_get(uint32_t id, const uint64_t **pcs);
REC_HIDDEN uint32_t rec_stack_max_id(void);

/* ---- unwind.c ----------------------------------------------------------- */
/* The stack words a cached stack depends on (stacks.c): collected while a
 * stack is unwound, checked at each hit. ok drops to 0 if one cannot be
 * kept (outside [cfa, hi), or too many). */
typedef struct rec_slots_s {
    int ok, need_bp; /* need_bp: the key's rbp is used (a frame's CFA rule) */
    uint32_t n;
    uintptr_t cfa, hi;
    uint32_t off[REC_SC_SLOTS];
    uint64_t val[REC_SC_SLOTS];
} rec_slots_t;

/* Adds slot addr (which must hold v now). */
static inline void rec_slot_add(rec_slots_t *f, uintptr_t addr, uint64_t v) {
    if (!f->ok) return;
    if (addr < f->cfa || addr + 8 > f->hi || addr - f->cfa > UINT32_MAX || f->n >= REC_SC_SLOTS ||
        *(const uint64_t *)addr != v) { f->ok = 0; return; }
    f->off[f->n] = (uint32_t)(addr - f->cfa);
    f->val[f->n++] = v;
}

REC_HIDDEN void rec_unwind_init(void);
/* Walks the stack from a hook's caller (its pc, sp and rbp) with .eh_frame's
 * rules, cached per pc for code generation gen; hi: the thread's stack top.
 * Fills pcs[0..max) and returns the count, or -1 where it does not model a
 * frame (the caller then asks libunwind). */
REC_HIDDEN int rec_unwind(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi, uint32_t gen, uint64_t *pcs,
                          int max);
/* The same walk, which also adds to f (f->cfa = sp) every stack word the
 * result depends on: each frame's return address slot, and the slot rbp
 * came from wherever a frame's CFA rule uses rbp (or f->need_bp when that
 * rbp is the one passed in). A later walk from the same pc and sp, with the
 * same rbp if need_bp, over the same values in those slots, has the same
 * result: each frame's rule is a function of its pc. */
REC_HIDDEN int rec_unwind_slots(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi, uint32_t gen, uint64_t *pcs,
                                int max, rec_slots_t *f);

/* ---- drain.c: the writer thread ----------------------------------------- */
/* Opens the trace and starts the writer thread (constructor, fork child,
 * failed exec). */
REC_HIDDEN void rec_writer_start(int after_exec_failure);
/* Final flush: drains every ring, writes END and closes the trace; waits for
 * the writer (bounded). Safe from a signal handler. Only the first call
 * counts. */
REC_HIDDEN void rec_final(int reason, int status);
/* In a fork child: forget the parent's writer. */
REC_HIDDEN void rec_writer_after_fork(void);
/* fd of the trace (protected from close/dup2 by proc.c), -1 if none. */
REC_HIDDEN int rec_trace_fd_is(int fd);
REC_HIDDEN int rec_trace_fd(void);
REC_HIDDEN int rec_trace_fd_move(void); /* before the program dup2s over it */
REC_HIDDEN int rec_end_pending(void);  /* an END(error) waits for a free fd number */
REC_HIDDEN int rec_log_fd(void);        /* malloc-record's log, kept open; -1 if not */
REC_HIDDEN void rec_log_fd_move(void);  /* before the program dup2s over it */
/* A CLOEXEC duplicate of fd where the program does not look (proc.c): above
 * its RLIMIT_NOFILE soft limit if the hard limit allows, else high below
 * it; -1 if none. rec_fd_park moves fd there (returns fd if it cannot). */
REC_HIDDEN int rec_fd_dup_high(int fd);
REC_HIDDEN int rec_fd_park(int fd);
REC_HIDDEN void rec_modules_dirty(void);
/* Waits (at most ~2 s) until a writer pass that started after this call
 * has ended: its module scan saw every module loaded now. */
REC_HIDDEN void rec_writer_sync(void);
/* 1 in a child made by a raw fork (not through the fork hook): recording is
 * turned off there and nothing waits for a writer (drain.c). */
REC_HIDDEN int rec_foreign_process(void);
REC_HIDDEN void rec_diag(const char *msg); /* one line on stderr, no stdio */

/* ---- proc.c ------------------------------------------------------------- */
REC_HIDDEN void rec_signals_init(void);
/* Records a non-allocation event of the calling thread (thread_start, fork,
 * exec): takes a seq, pushes, returns 0 if recorded. */
REC_HIDDEN int rec_push_simple(int op, uint64_t a, uint64_t ret);

/* ---- internal memory (never the program's allocator) --------------------- */
REC_HIDDEN void *rec_mem_alloc(void *opaque, size_t n);
REC_HIDDEN void rec_mem_free(void *opaque, void *p);

#include <time.h>
#include <x86intrin.h>
/* Event stamps: the TSC when it is invariant (half the cost of the vDSO
 * clock here), converted to CLOCK_MONOTONIC ns by the writer; else ns. */
extern REC_HIDDEN int rec_use_tsc;
extern REC_HIDDEN uint64_t rec_tsc0; /* TSC at rec_start_mono */
static inline uint64_t rec_stamp(void) {
    if (REC_LIKELY(rec_use_tsc)) return __rdtsc();
    return rec_now();
}
static inline uint64_t rec_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* REC_INTERNAL_H */
