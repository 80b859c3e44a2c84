/* writer.c - the streaming trace writer: records are encoded into a staging
 * buffer, fed to a zstd stream, and a frame is closed every frame_bytes of
 * raw stream or on tr_writer_flush (FORMAT.md section 1). Memory is bounded
 * by the staging and output buffers and the per-thread delta table. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_initStaticCCtx, ZSTD_estimateCStreamSize */
#include <zstd.h>

#include "tidmap.h"
#include "varint.h"

#define STAGE_SIZE (64 * 1024)
#define EVENT_MAX 100 /* 8 varints of at most 10 bytes, plus slack */
#define SCRATCH_MIN 256
#define RUN_EVENTS 4096 /* events of one thread whose times share a TIMES record */
#define RUN_BYTES (64 * 1024)

struct tr_writer_s {
    int fd, close_fd;
    tr_writer_opts_t opts;
    ZSTD_CCtx *cctx;
    void *zws; size_t zws_size; /* zstd's whole workspace, mapped at open */
    int max_level;              /* the highest level zws has room for */
    uint8_t *stage; size_t stage_len;
    uint8_t *out; size_t out_cap;
    uint8_t *scratch; size_t scratch_cap;
    /* the run: event records of the current thread not yet staged, without
     * their times, which wait in tcol as (zeros, time) pairs of varints and
     * zrun, the zero deltas not yet written (FORMAT.md, TIMES) */
    uint8_t *run; size_t run_len, run_cap;
    uint8_t *tcol; size_t tcol_len;
    uint32_t zrun;
    uint32_t run_n;
    size_t frame_bytes, frame_raw;
    uint64_t frame_no;
    int frame_open;
    int next_level; /* for the next frame, 0 = unchanged */
    int have_thread; uint32_t cur_tid;
    tr_tstate_t *cur; /* delta state of cur_tid */
    tr_tidmap_t threads;
    uint64_t watermark, events, file_bytes;
    tr_error_t err;
};

/* ---- memory: the owner's allocator if given (the recorder's), else libc -- */
static void *w_alloc(const tr_writer_opts_t *o, size_t n) {
    return o->alloc ? o->alloc(o->opaque, n) : malloc(n);
}
static void w_release(const tr_writer_opts_t *o, void *p) {
    if (!p) return;
    if (o->release) o->release(o->opaque, p); else free(p);
}

static int w_fail(tr_writer_t *w, int code, int sys_errno, const char *fmt, ...) {
    if (w->err.code) return w->err.code; /* keep the first error */
    w->err.code = code;
    w->err.sys_errno = sys_errno;
    w->err.offset = w->file_bytes;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err.msg, sizeof w->err.msg, fmt, ap);
    va_end(ap);
    return code;
}

static int write_all(tr_writer_t *w, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            int const e = errno;
            return w_fail(w, TR_E_IO, e, "write failed at offset %llu: %s",
                          (unsigned long long)w->file_bytes, strerror(e));
        }
        p += k; n -= (size_t)k;
        w->file_bytes += (uint64_t)k;
    }
    return 0;
}

/* Feeds the staging buffer to zstd; mode ZSTD_e_end closes the frame. */
static int compress_stage(tr_writer_t *w, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in = { w->stage, w->stage_len, 0 };
    for (;;) {
        ZSTD_outBuffer out = { w->out, w->out_cap, 0 };
        size_t const rem = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(rem))
            return w_fail(w, TR_E_IO, 0, "zstd: %s", ZSTD_getErrorName(rem));
        if (out.pos && write_all(w, w->out, out.pos)) return w->err.code;
        if (mode == ZSTD_e_end ? rem == 0 : in.pos == in.size) break;
    }
    w->stage_len = 0;
    return 0;
}

static int flush_run(tr_writer_t *w);

static int end_frame(tr_writer_t *w) {
    if (!w->frame_open) return 0;
    if (flush_run(w) || compress_stage(w, ZSTD_e_end)) return w->err.code;
    w->frame_open = 0;
    w->cur = NULL; /* the next frame forgets the deltas (and keeps the fast path out) */
    w->frame_no++;
    w->frame_raw = 0;
    return 0;
}

static int append_raw(tr_writer_t *w, const uint8_t *p, size_t n) {
    while (n) {
        size_t k = STAGE_SIZE - w->stage_len;
        if (k > n) k = n;
        memcpy(w->stage + w->stage_len, p, k);
        w->stage_len += k; p += k; n -= k;
        w->frame_raw += k;
        if (w->stage_len == STAGE_SIZE && compress_stage(w, ZSTD_e_continue)) return w->err.code;
    }
    return 0;
}

static int begin_record(tr_writer_t *w);

/* Stages the run: its TIMES record, then its events. */
static int flush_run(tr_writer_t *w) {
    if (!w->run_n) return 0;
    if (w->zrun) { /* trailing zeros: the last pair's event has delta 0 too */
        w->tcol_len += tr_put_varint(w->tcol + w->tcol_len, w->zrun - 1);
        w->tcol[w->tcol_len++] = 0;
        w->zrun = 0;
    }
    uint8_t head[11];
    head[0] = TR_REC_TIMES;
    size_t const hn = 1 + tr_put_varint(head + 1, w->tcol_len);
    size_t const len = w->run_len;
    w->run_len = 0;
    w->run_n = 0;
    if (append_raw(w, head, hn) || append_raw(w, w->tcol, w->tcol_len)) return w->err.code;
    w->tcol_len = 0;
    return append_raw(w, w->run, len);
}

/* Appends type, length and payload as one record, after the run. */
static int put_record(tr_writer_t *w, uint8_t type, const uint8_t *payload, size_t len) {
    if (w->err.code) return w->err.code;
    if (flush_run(w)) return w->err.code;
    if (begin_record(w)) return w->err.code;
    uint8_t head[11];
    head[0] = type;
    size_t const hn = 1 + tr_put_varint(head + 1, len);
    if (w->stage_len + hn + len <= STAGE_SIZE) { /* the common case: one copy */
        memcpy(w->stage + w->stage_len, head, hn);
        memcpy(w->stage + w->stage_len + hn, payload, len);
        w->stage_len += hn + len;
        w->frame_raw += hn + len;
    } else if (append_raw(w, head, hn) || append_raw(w, payload, len)) {
        return w->err.code;
    }
    /* THREAD only announces the next record: the frame may not end between. */
    if (w->frame_raw >= w->frame_bytes && type != TR_REC_THREAD) return end_frame(w);
    return 0;
}

/* Opens a frame if none is: frames after the first start with SYNC and
 * forget every thread's delta state. */
static int begin_record(tr_writer_t *w) {
    if (w->frame_open) return 0;
    w->frame_open = 1;
    if (w->next_level) { /* between frames, where zstd takes a new level */
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->next_level);
        w->next_level = 0;
    }
    if (w->frame_no > 0) {
        uint8_t buf[12];
        buf[0] = TR_REC_SYNC;
        size_t const n = tr_put_varint(buf + 2, w->frame_no);
        buf[1] = (uint8_t)n;
        if (append_raw(w, buf, 2 + n)) return w->err.code;
        tidmap_reset(&w->threads);
        w->have_thread = 0;
        w->cur = NULL;
    }
    return 0;
}

/* An event's time delta into the run's column: zeros are counted, and a
 * nonzero delta is written after the count of zeros before it. */
static inline void put_time(tr_writer_t *w, uint64_t dt) {
    if (dt == 0) {
        w->zrun++;
        return;
    }
    w->tcol_len += tr_put_varint(w->tcol + w->tcol_len, w->zrun);
    w->tcol_len += tr_put_varint(w->tcol + w->tcol_len, tr_zigzag((int64_t)dt));
    w->zrun = 0;
}

/* A run buffer of at least n bytes; the run is empty. */
static int run_grow(tr_writer_t *w, size_t n) {
    size_t cap = w->run_cap;
    while (cap < n) cap *= 2;
    uint8_t *p = w_alloc(&w->opts, cap);
    if (!p) return w_fail(w, TR_E_NOMEM, ENOMEM, "out of memory (%zu bytes)", cap);
    w_release(&w->opts, w->run);
    w->run = p;
    w->run_cap = cap;
    return 0;
}

/* Scratch space for one payload of at least n bytes. */
static uint8_t *scratch(tr_writer_t *w, size_t n) {
    if (n <= w->scratch_cap) return w->scratch;
    size_t cap = w->scratch_cap ? w->scratch_cap : SCRATCH_MIN;
    while (cap < n) cap *= 2;
    uint8_t *p = w_alloc(&w->opts, cap);
    if (!p) { w_fail(w, TR_E_NOMEM, ENOMEM, "out of memory (%zu bytes)", cap); return NULL; }
    w_release(&w->opts, w->scratch);
    w->scratch = p;
    w->scratch_cap = cap;
    return p;
}

static size_t put_str(uint8_t *p, const char *s) {
    size_t const n = s ? strlen(s) : 0;
    size_t k = tr_put_varint(p, n);
    if (n) memcpy(p + k, s, n);
    return k + n;
}

static size_t str_room(const char *s) { return 10 + (s ? strlen(s) : 0); }

static int write_header(tr_writer_t *w, const tr_header_t *h) {
    size_t room = 8 * 10 + str_room(h->exe) + str_room(h->glibc_version) + str_room(h->tool);
    for (size_t i = 0; i < h->argc; i++) room += str_room(h->argv[i]);
    for (size_t i = 0; i < h->nenv; i++) room += str_room(h->env[i]);
    uint8_t *p = scratch(w, room);
    if (!p) return w->err.code;
    size_t n = 0;
    n += tr_put_varint(p + n, h->pid);
    n += tr_put_varint(p + n, h->ppid);
    n += tr_put_varint(p + n, h->start_real_ns);
    n += tr_put_varint(p + n, h->start_mono_ns);
    n += tr_put_varint(p + n, h->page_size);
    n += tr_put_varint(p + n, h->ncpu);
    n += put_str(p + n, h->exe);
    n += tr_put_varint(p + n, h->argc);
    for (size_t i = 0; i < h->argc; i++) n += put_str(p + n, h->argv[i]);
    n += put_str(p + n, h->glibc_version);
    n += tr_put_varint(p + n, h->nenv);
    for (size_t i = 0; i < h->nenv; i++) n += put_str(p + n, h->env[i]);
    n += put_str(p + n, h->tool);
    return put_record(w, TR_REC_HEADER, p, n);
}

tr_writer_t *tr_writer_open_fd(int fd, int close_fd, const tr_header_t *h,
                               const tr_writer_opts_t *opts, tr_error_t *err) {
    tr_writer_opts_t o = { 0 };
    if (opts) o = *opts;
    if (!h) {
        if (err) { memset(err, 0, sizeof *err); err->code = TR_E_ARG; snprintf(err->msg, sizeof err->msg, "no header"); }
        return NULL;
    }
    tr_writer_t *w = w_alloc(&o, sizeof *w);
    if (!w) goto nomem;
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->close_fd = close_fd;
    w->opts = o;
    w->frame_bytes = o.frame_bytes ? o.frame_bytes : (1u << 20);
    /* zstd's workspace for the highest level used, taken at once (mapped,
     * not touched), so that zstd never allocates later: a program that lowers
     * RLIMIT_AS below what it has still gets its events written */
    w->max_level = o.level > 3 ? o.level : 3;
    w->zws_size = ZSTD_estimateCStreamSize(w->max_level);
    w->zws = w_alloc(&o, w->zws_size);
    w->cctx = w->zws ? ZSTD_initStaticCCtx(w->zws, w->zws_size) : NULL;
    w->stage = w_alloc(&o, STAGE_SIZE);
    w->run = w_alloc(&o, RUN_BYTES);
    w->run_cap = RUN_BYTES;
    w->tcol = w_alloc(&o, RUN_EVENTS * 12 + 16); /* a pair per event at most */
    w->out_cap = ZSTD_CStreamOutSize();
    w->out = w_alloc(&o, w->out_cap);
    w->threads.cap = 16;
    w->threads.slot = w_alloc(&o, sizeof(tr_tstate_t) * w->threads.cap);
    if (!w->cctx || !w->stage || !w->run || !w->tcol || !w->out || !w->threads.slot) goto nomem_w;
    tidmap_reset(&w->threads);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, o.level ? o.level : 3);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);

    uint8_t pre[TR_PREAMBLE_LEN];
    memcpy(pre, TR_MAGIC, TR_MAGIC_LEN);
    pre[8] = TR_FORMAT_VERSION & 0xff; pre[9] = TR_FORMAT_VERSION >> 8;
    pre[10] = 0; pre[11] = 0;
    w->frame_open = 1;
    if (append_raw(w, pre, sizeof pre) || write_header(w, h) || end_frame(w)) {
        if (err) *err = w->err;
        tr_writer_close(w, NULL, NULL);
        return NULL;
    }
    return w;
nomem_w:
    tr_writer_close(w, NULL, NULL);
nomem:
    if (close_fd) close(fd);
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = TR_E_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
    }
    return NULL;
}

tr_writer_t *tr_writer_open(const char *path, const tr_header_t *h,
                            const tr_writer_opts_t *opts, tr_error_t *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = TR_E_IO;
            err->sys_errno = errno;
            snprintf(err->msg, sizeof err->msg, "cannot create: %s", strerror(errno));
        }
        return NULL;
    }
    return tr_writer_open_fd(fd, 1, h, opts, err);
}

/* The delta state of tid, writing THREAD if it is not the current thread. */
static tr_tstate_t *switch_thread(tr_writer_t *w, uint32_t tid) {
    if (w->have_thread && w->cur_tid == tid && w->cur) return w->cur;
    uint8_t buf[6];
    size_t const n = tr_put_varint(buf, tid);
    if (put_record(w, TR_REC_THREAD, buf, n)) return NULL;
    tr_tstate_t *s = tidmap_find(&w->threads, tid);
    if (!s) { /* grow the table */
        tr_tidmap_t const old = w->threads;
        w->threads.cap = old.cap * 2;
        w->threads.slot = w_alloc(&w->opts, sizeof(tr_tstate_t) * w->threads.cap);
        if (!w->threads.slot) {
            w->threads = old;
            w_fail(w, TR_E_NOMEM, ENOMEM, "out of memory");
            return NULL;
        }
        tidmap_reset(&w->threads);
        tidmap_rehash(&w->threads, old.slot, old.cap);
        w_release(&w->opts, old.slot);
        s = tidmap_find(&w->threads, tid);
    }
    w->have_thread = 1;
    w->cur_tid = tid;
    w->cur = s;
    return s;
}

/* Every event the fast path below does not take: any op, a thread switch,
 * a frame to open or end, a full stage, an error. */
static __attribute__((noinline)) int event_slow(tr_writer_t *w, const tr_event_t *ev) {
    if (w->err.code) return w->err.code;
    if (__builtin_expect(ev->op < TR_OP_FIRST || ev->op > TR_OP_EXEC || (ev->op > TR_OP_PVALLOC && ev->op < TR_OP_MALLOPT), 0))
        return w_fail(w, TR_E_ARG, 0, "unknown op %d", ev->op);
    /* A record never straddles frames: open the frame before taking deltas. */
    if (begin_record(w)) return w->err.code;
    tr_tstate_t *s = switch_thread(w, ev->tid);
    if (!s) return w->err.code;
    if (ev->seq < s->seq && s->seq)
        return w_fail(w, TR_E_ARG, 0, "thread %u: seq %llu after %llu", ev->tid,
                      (unsigned long long)ev->seq, (unsigned long long)s->seq);
    size_t const slen = ev->op == TR_OP_EXEC ? str_room(ev->str) : 0;
    /* Encode straight into the run: every event but exec is at most 8
     * varints (< 128 bytes), so its length takes one byte; exec's payload is
     * written after room for a longer one and moved into place. */
    size_t const need = 12 + EVENT_MAX + slen;
    if (w->run_n == RUN_EVENTS || w->run_len + need > w->run_cap) {
        if (flush_run(w)) return w->err.code;
        if (need > w->run_cap && run_grow(w, need)) return w->err.code;
    }
    uint8_t *const rec = w->run + w->run_len;
    uint8_t *p = rec + (slen ? 11 : 2);
    uint8_t *const start = p;
#define PUT(v) (p += tr_put_varint(p, (v)))
#define PUTS(v) (p += tr_put_varint(p, tr_zigzag((int64_t)(v))))
#define PUTP(v) (p += tr_put_varint(p, tr_zigzag((int64_t)((v) - s->ptr))), s->ptr = (v))
    PUT(ev->seq - s->seq);
    PUT(ev->stack);
    put_time(w, ev->t_ns - s->t);
    uint64_t const rel = ev->release_seq && ev->release_seq <= ev->seq ? ev->release_seq : ev->seq;
    switch (ev->op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC:
        PUT(ev->a); PUTP(ev->ret);
        break;
    case TR_OP_CALLOC: case TR_OP_MEMALIGN: case TR_OP_POSIX_MEMALIGN: case TR_OP_ALIGNED_ALLOC:
        PUT(ev->a); PUT(ev->b); PUTP(ev->ret);
        break;
    case TR_OP_REALLOC:
        PUTP(ev->a); PUT(ev->b); PUTP(ev->ret); PUT(ev->seq - rel);
        break;
    case TR_OP_REALLOCARRAY:
        PUTP(ev->a); PUT(ev->b); PUT(ev->c); PUTP(ev->ret); PUT(ev->seq - rel);
        break;
    case TR_OP_FREE:
        PUTP(ev->a);
        break;
    case TR_OP_MALLOPT:
        PUTS((int32_t)ev->a); PUTS((int32_t)ev->b); PUTS((int32_t)ev->ret);
        break;
    case TR_OP_MALLOC_TRIM:
        PUT(ev->a); PUTS((int32_t)ev->ret);
        break;
    case TR_OP_THREAD_START:
        PUT(ev->a);
        break;
    case TR_OP_THREAD_EXIT:
        break;
    case TR_OP_FORK:
        PUTS((int32_t)ev->ret);
        break;
    case TR_OP_EXEC:
        p += put_str(p, ev->str);
        break;
    }
#undef PUT
#undef PUTS
#undef PUTP
    s->seq = ev->seq;
    s->t = ev->t_ns;
    w->events++;
    w->run_n++;
    size_t const n = (size_t)(p - start);
    if (!slen) {
        rec[0] = ev->op;
        rec[1] = (uint8_t)n;
        w->run_len += 2 + n;
    } else {
        uint8_t head[11];
        head[0] = ev->op;
        size_t const hn = 1 + tr_put_varint(head + 1, n);
        memmove(rec + hn, start, n);
        memcpy(rec, head, hn);
        w->run_len += hn + n;
    }
    if (w->frame_raw + w->run_len + w->tcol_len >= w->frame_bytes) return end_frame(w);
    return 0;
}

/* The common case, which a recorder feeds millions of times a second: a
 * malloc or free of the current thread, in order, into an open frame with
 * room in the run. Same bytes as event_slow, without its checks and
 * dispatch. */
int tr_writer_event(tr_writer_t *w, const tr_event_t *ev) {
    tr_tstate_t *const s = w->cur;
    unsigned const op = ev->op;
    if (__builtin_expect((op == TR_OP_MALLOC || op == TR_OP_FREE) && s && w->cur_tid == ev->tid &&
                             ev->seq >= s->seq && w->run_len + 12 + EVENT_MAX <= w->run_cap &&
                             w->run_n < RUN_EVENTS && !w->err.code,
                         1)) {
        uint8_t *const start = w->run + w->run_len + 2;
        uint8_t *p = start;
        p += tr_put_varint(p, ev->seq - s->seq);
        p += tr_put_varint(p, ev->stack);
        put_time(w, ev->t_ns - s->t);
        uint64_t ptr = ev->a;
        if (op == TR_OP_MALLOC) {
            p += tr_put_varint(p, ev->a);
            ptr = ev->ret;
        }
        p += tr_put_varint(p, tr_zigzag((int64_t)(ptr - s->ptr)));
        s->ptr = ptr;
        s->seq = ev->seq;
        s->t = ev->t_ns;
        w->events++;
        w->run_n++;
        size_t const n = (size_t)(p - start);
        start[-2] = (uint8_t)op;
        start[-1] = (uint8_t)n;
        w->run_len += 2 + n;
        if (w->frame_raw + w->run_len + w->tcol_len >= w->frame_bytes) return end_frame(w);
        return 0;
    }
    return event_slow(w, ev);
}

int tr_writer_stack(tr_writer_t *w, uint32_t id, const uint64_t *pcs, uint32_t n) {
    if (w->err.code) return w->err.code;
    if (id == 0) return w_fail(w, TR_E_ARG, 0, "stack id 0 is reserved");
    uint8_t *p = scratch(w, 20 + (size_t)n * 10);
    if (!p) return w->err.code;
    size_t k = tr_put_varint(p, id);
    k += tr_put_varint(p + k, n);
    for (uint32_t i = 0; i < n; i++)
        k += tr_put_varint(p + k, i ? tr_zigzag((int64_t)(pcs[i] - pcs[i - 1])) : pcs[0]);
    return put_record(w, TR_REC_STACK, p, k);
}

int tr_writer_module(tr_writer_t *w, const tr_module_t *m) {
    if (w->err.code) return w->err.code;
    uint8_t *p = scratch(w, 60 + str_room(m->path) + m->build_id_len);
    if (!p) return w->err.code;
    size_t k = 0;
    k += tr_put_varint(p + k, m->bias);
    k += tr_put_varint(p + k, m->start);
    k += tr_put_varint(p + k, m->size);
    k += tr_put_varint(p + k, m->flags);
    k += put_str(p + k, m->path);
    k += tr_put_varint(p + k, m->build_id_len);
    if (m->build_id_len) memcpy(p + k, m->build_id, m->build_id_len);
    k += m->build_id_len;
    return put_record(w, TR_REC_MODULE, p, k);
}

int tr_writer_watermark(tr_writer_t *w, uint64_t wm) {
    if (w->err.code) return w->err.code;
    if (wm <= w->watermark) return 0;
    w->watermark = wm;
    uint8_t buf[10];
    return put_record(w, TR_REC_WATERMARK, buf, tr_put_varint(buf, wm));
}

int tr_writer_set_level(tr_writer_t *w, int level) {
    if (level < -7 || level > w->max_level || level == 0) return TR_E_ARG; /* the writer goes on as it was */
    w->next_level = level;
    return 0;
}

int tr_writer_flush(tr_writer_t *w) {
    if (w->err.code) return w->err.code;
    return end_frame(w);
}

int tr_writer_close(tr_writer_t *w, const tr_end_t *end, tr_error_t *err) {
    if (!w) return TR_E_ARG;
    if (end && !w->err.code) {
        uint8_t buf[50];
        size_t k = 0;
        k += tr_put_varint(buf + k, end->reason);
        k += tr_put_varint(buf + k, tr_zigzag(end->status));
        k += tr_put_varint(buf + k, end->t_ns);
        k += tr_put_varint(buf + k, end->events ? end->events : w->events);
        k += tr_put_varint(buf + k, end->dropped);
        put_record(w, TR_REC_END, buf, k);
    }
    if (!w->err.code) end_frame(w);
    if (w->close_fd && close(w->fd) != 0 && !w->err.code) {
        int const e = errno;
        w_fail(w, TR_E_IO, e, "close failed: %s", strerror(e));
    }
    int const rc = w->err.code;
    if (err) *err = w->err;
    tr_writer_opts_t const o = w->opts;
    w_release(&o, w->zws); /* the static context lives in it */
    w_release(&o, w->stage);
    w_release(&o, w->run);
    w_release(&o, w->tcol);
    w_release(&o, w->out);
    w_release(&o, w->scratch);
    w_release(&o, w->threads.slot);
    w_release(&o, w);
    return rc;
}

const tr_error_t *tr_writer_error(const tr_writer_t *w) { return &w->err; }
uint64_t tr_writer_bytes(const tr_writer_t *w) { return w->file_bytes; }
