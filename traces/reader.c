/* reader.c - the streaming trace reader.
 *
 * Decompresses the zstd frames into a window of raw stream, decodes one
 * record at a time, and restores the global order of events by merging on
 * seq (FORMAT.md section 5) with a min-heap that holds only the events that
 * arrived ahead of a missing seq. Memory: the window, the heap, the stack
 * and module tables; never the whole trace. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "reader_int.h"
#include "varint.h"

/* ---- errors ------------------------------------------------------------- */
static int r_fail(tr_reader_t *r, int code, const char *fmt, ...) {
    if (r->err.code) return r->err.code;
    r->err.code = code;
    r->err.offset = r->frame_off;
    r->err.raw_offset = r->raw_base + r->raw_start;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (code == TR_E_IO || code == TR_E_NOMEM)
        snprintf(r->err.msg, sizeof r->err.msg, "%s", what);
    else
        snprintf(r->err.msg, sizeof r->err.msg, "offset %llu (zstd frame %llu, raw byte %llu): %s",
                 (unsigned long long)r->err.offset, (unsigned long long)r->frame_idx,
                 (unsigned long long)r->err.raw_offset, what);
    r->done = 1;
    return code;
}

static void *r_grow(tr_reader_t *r, void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *q = realloc(p, n * elem);
    if (!q) { r_fail(r, TR_E_NOMEM, "out of memory"); return NULL; }
    *cap = n;
    return q;
}

/* ---- input ---------------------------------------------------------------- */
/* Makes at least need bytes of raw stream available from raw_start.
 * Returns 1 if they are, 0 if the stream ends before, < 0 on error. */
static int fill(tr_reader_t *r, size_t need) {
    while (r->raw_end - r->raw_start < need) {
        if (r->err.code) return r->err.code;
        if (r->eof) return 0;
        if (r->raw_start) { /* slide the window */
            memmove(r->raw, r->raw + r->raw_start, r->raw_end - r->raw_start);
            r->raw_base += r->raw_start;
            r->raw_end -= r->raw_start;
            r->raw_start = 0;
        }
        size_t const want = need + ZSTD_DStreamOutSize();
        if (r->raw_cap < want) {
            /* RAW_PAD readable bytes past the end let events decode unchecked */
            uint8_t *p = realloc(r->raw, want + RAW_PAD);
            if (!p) return r_fail(r, TR_E_NOMEM, "out of memory");
            memset(p + want, 0, RAW_PAD);
            r->raw = p;
            r->raw_cap = want;
        }
        ssize_t const k = zsrc_read(r->src, r->raw + r->raw_end, r->raw_cap - r->raw_end);
        const zsrc_state_t *zs = zsrc_state(r->src);
        r->st.file_bytes = zs->file_bytes;
        r->st.frames = zs->frames;
        if (k < 0) { /* in the frame being decompressed: frames counts those before it */
            r->err.sys_errno = zs->sys_errno;
            r->frame_off = zs->frame_off;
            r->frame_idx = zs->frames;
            return r_fail(r, zs->code, "%s", zs->msg);
        }
        if (k == 0) {
            r->eof = 1;
            r->st.truncated = zs->truncated;
            /* the file ends inside a frame that gave no byte yet (its first
             * block incomplete): what is wrong now is in that frame */
            if (zs->truncated && (r->nframes_seen == 0 || zs->frame_off != r->frame_off)) {
                r->frame_off = zs->frame_off;
                r->frame_idx = zs->frames;
            }
            return 0;
        }
        /* a read never spans frames: the bytes being decoded are in its frame */
        if (r->nframes_seen == 0 || zs->frame_off != r->frame_off) {
            r->frame_off = zs->frame_off;
            r->frame_idx = r->nframes_seen++;
        }
        r->raw_end += (size_t)k;
        r->st.raw_bytes += (uint64_t)k;
    }
    return 1;
}

/* ---- records ------------------------------------------------------------- */
/* A file cut inside a zstd frame (a killed process, a full disk) ends, nearly
 * always, inside a record too: said as the cut frame, the cause. */
#define CUT_FRAME "file ends inside a zstd frame (cut short?)"

/* Next record: *type and a cursor over its payload (valid until the next
 * call). Returns 1, 0 at a clean end, < 0 on error. */
static int next_record_slow(tr_reader_t *r, uint8_t *type, tr_cursor_t *c) {
    int k = fill(r, 1);
    if (k <= 0) {
        if (k == 0 && r->st.truncated)
            return r_fail(r, TR_E_TRUNCATED, CUT_FRAME);
        return k;
    }
    /* type byte and a length varint of at most 10 bytes */
    k = fill(r, 11);
    if (k < 0) return k;
    size_t const avail = r->raw_end - r->raw_start;
    uint64_t len = 0;
    size_t const ln = tr_peek_varint(r->raw + r->raw_start + 1, avail - 1, &len);
    if (ln == 0) {
        if (avail >= 11) return r_fail(r, TR_E_CORRUPT, "record length is not a varint");
        return r_fail(r, TR_E_TRUNCATED, "%s", r->st.truncated ? CUT_FRAME : "file ends inside a record header");
    }
    if (len > MAX_RECORD)
        return r_fail(r, TR_E_CORRUPT, "record of %llu bytes (type 0x%02x) is too large",
                      (unsigned long long)len, r->raw[r->raw_start]);
    k = fill(r, 1 + ln + (size_t)len);
    if (k < 0) return k;
    if (k == 0 && r->st.truncated) return r_fail(r, TR_E_TRUNCATED, "%s", CUT_FRAME);
    if (k == 0) return r_fail(r, TR_E_TRUNCATED, "file ends inside a record of %llu bytes",
                              (unsigned long long)len);
    const uint8_t *p = r->raw + r->raw_start;
    *type = p[0];
    c->p = p + 1 + ln;
    c->end = c->p + len;
    c->bad = 0;
    r->raw_start += 1 + ln + (size_t)len;
    r->st.records++;
    return 1;
}

/* The common case inline: a short record wholly in the window. */
static inline int next_record(tr_reader_t *r, uint8_t *type, tr_cursor_t *c) {
    const uint8_t *p = r->raw + r->raw_start;
    size_t const avail = r->raw_end - r->raw_start;
    if (__builtin_expect(avail >= 2 && p[1] < 0x80 && avail >= 2u + p[1], 1)) {
        *type = p[0];
        c->p = p + 2;
        c->end = c->p + p[1];
        c->bad = 0;
        r->raw_start += 2u + p[1];
        r->st.records++;
        return 1;
    }
    return next_record_slow(r, type, c);
}

static char *own_str(tr_reader_t *r, const uint8_t *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) { r_fail(r, TR_E_NOMEM, "out of memory"); return NULL; }
    char **ns = realloc(r->strs, (r->nstrs + 1) * sizeof *ns);
    if (!ns) { free(p); r_fail(r, TR_E_NOMEM, "out of memory"); return NULL; }
    r->strs = ns;
    memcpy(p, s, n);
    p[n] = 0;
    r->strs[r->nstrs++] = p;
    return p;
}

static const char *get_str(tr_reader_t *r, tr_cursor_t *c) {
    size_t n;
    const uint8_t *s = tr_get_bytes(c, &n);
    if (c->bad) return NULL;
    return own_str(r, s, n);
}

static const char **get_strs(tr_reader_t *r, tr_cursor_t *c, size_t *count) {
    uint64_t const n = tr_get_varint(c);
    if (c->bad || n > (uint64_t)(c->end - c->p)) { c->bad = 1; *count = 0; return NULL; }
    const char **v = calloc(n ? n : 1, sizeof *v);
    if (!v) { r_fail(r, TR_E_NOMEM, "out of memory"); return NULL; }
    char **ns = realloc(r->strs, (r->nstrs + 1) * sizeof *ns); /* v is owned too */
    if (!ns) { free(v); r_fail(r, TR_E_NOMEM, "out of memory"); return NULL; }
    r->strs = ns;
    r->strs[r->nstrs++] = (char *)v;
    for (uint64_t i = 0; i < n && !c->bad; i++) v[i] = get_str(r, c);
    *count = c->bad ? 0 : (size_t)n;
    return v;
}

static int read_header(tr_reader_t *r) {
    int k = fill(r, TR_PREAMBLE_LEN);
    if (k < 0) return k;
    if (k == 0) {
        if (r->raw_end == r->raw_start && !zsrc_state(r->src)->started)
            return r_fail(r, TR_E_NOT_TRACE, "empty file");
        if (r->st.truncated) return r_fail(r, TR_E_TRUNCATED, CUT_FRAME); /* a trace killed at once */
        return r_fail(r, TR_E_NOT_TRACE, "not a malloc trace: too short");
    }
    const uint8_t *p = r->raw + r->raw_start;
    if (memcmp(p, TR_MAGIC, TR_MAGIC_LEN) != 0)
        return r_fail(r, TR_E_NOT_TRACE, "not a malloc trace: bad magic (zstd data, but not MALTRACE)");
    unsigned const version = p[8] | (unsigned)p[9] << 8;
    if (version < 1 || version > TR_FORMAT_VERSION)
        return r_fail(r, TR_E_VERSION, "format version %u, this reader knows 1 to %d", version,
                      TR_FORMAT_VERSION);
    r->timecol = version >= 2;
    r->raw_start += TR_PREAMBLE_LEN;
    uint8_t type;
    tr_cursor_t c;
    k = next_record(r, &type, &c);
    if (k < 0) return k;
    if (k == 0 || type != TR_REC_HEADER)
        return r_fail(r, TR_E_CORRUPT, "first record is not a HEADER");
    tr_header_t *h = &r->hdr;
    h->version = version;
    h->pid = (uint32_t)tr_get_varint(&c);
    h->ppid = (uint32_t)tr_get_varint(&c);
    h->start_real_ns = tr_get_varint(&c);
    h->start_mono_ns = tr_get_varint(&c);
    h->page_size = (uint32_t)tr_get_varint(&c);
    h->ncpu = (uint32_t)tr_get_varint(&c);
    h->exe = get_str(r, &c);
    h->argv = get_strs(r, &c, &h->argc);
    h->glibc_version = get_str(r, &c);
    h->env = get_strs(r, &c, &h->nenv);
    h->tool = get_str(r, &c);
    if (r->err.code) return r->err.code;
    if (c.bad) return r_fail(r, TR_E_CORRUPT, "HEADER record too short");
    return 0;
}

static int retire(tr_reader_t *r, uint64_t *blk) {
    uint64_t **v = realloc(r->retired, (r->nretired + 1) * sizeof *v);
    if (!v) return r_fail(r, TR_E_NOMEM, "out of memory");
    r->retired = v;
    r->retired[r->nretired++] = blk;
    return 0;
}

/* Entries are published with release stores: a decode-ahead thread may add
 * stacks while the caller looks up the ones it has seen. */
static int read_stack(tr_reader_t *r, tr_cursor_t *c) {
    uint64_t const id = tr_get_varint(c);
    uint64_t const n = tr_get_varint(c);
    if (c->bad || id == 0 || id > MAX_STACK_ID || n > MAX_DEPTH || n > (uint64_t)(c->end - c->p))
        return r_fail(r, TR_E_CORRUPT, "bad STACK record (id %llu, depth %llu)",
                      (unsigned long long)id, (unsigned long long)n);
    uint64_t **chunk = r->stack_dir[id / STACK_CHUNK];
    if (!chunk) {
        chunk = calloc(STACK_CHUNK, sizeof *chunk);
        if (!chunk) return r_fail(r, TR_E_NOMEM, "out of memory");
        __atomic_store_n(&r->stack_dir[id / STACK_CHUNK], chunk, __ATOMIC_RELEASE);
    }
    uint64_t *blk = malloc((n + 1) * sizeof *blk);
    if (!blk) return r_fail(r, TR_E_NOMEM, "out of memory");
    blk[0] = n;
    uint64_t *pcs = blk + 1;
    for (uint64_t i = 0; i < n; i++)
        pcs[i] = i ? pcs[i - 1] + (uint64_t)tr_get_svarint(c) : tr_get_varint(c);
    if (c->bad) { free(blk); return r_fail(r, TR_E_CORRUPT, "STACK record %llu too short", (unsigned long long)id); }
    uint64_t *const old = chunk[id % STACK_CHUNK];
    if (old && retire(r, old)) { free(blk); return r->err.code; } /* a redefinition replaces */
    __atomic_store_n(&chunk[id % STACK_CHUNK], blk, __ATOMIC_RELEASE);
    if (id > r->nstacks) r->nstacks = (uint32_t)id;
    return 0;
}

static int read_module(tr_reader_t *r, tr_cursor_t *c) {
    tr_module_t m = { 0 };
    m.bias = tr_get_varint(c);
    m.start = tr_get_varint(c);
    m.size = tr_get_varint(c);
    m.flags = (uint32_t)tr_get_varint(c);
    m.path = get_str(r, c);
    size_t bl;
    const uint8_t *b = tr_get_bytes(c, &bl);
    if (r->err.code) return r->err.code;
    if (c->bad) return r_fail(r, TR_E_CORRUPT, "MODULE record too short");
    m.build_id = (const uint8_t *)own_str(r, b, bl);
    m.build_id_len = bl;
    size_t const i = r->nmods;
    if (i == (size_t)MOD_CHUNK * MOD_DIRS)
        return r_fail(r, TR_E_CORRUPT, "more than %u MODULE records", MOD_CHUNK * MOD_DIRS);
    if (!r->mod_dir[i / MOD_CHUNK]) {
        r->mod_dir[i / MOD_CHUNK] = malloc(MOD_CHUNK * sizeof(tr_module_t));
        if (!r->mod_dir[i / MOD_CHUNK]) return r_fail(r, TR_E_NOMEM, "out of memory");
    }
    r->mod_dir[i / MOD_CHUNK][i % MOD_CHUNK] = m; /* the caller sees it with the next view */
    r->nmods = i + 1;
    return 0;
}

static int read_end(tr_reader_t *r, tr_cursor_t *c) {
    tr_end_t e;
    e.reason = (uint32_t)tr_get_varint(c);
    e.status = (int32_t)tr_get_svarint(c);
    e.t_ns = tr_get_varint(c);
    e.events = tr_get_varint(c);
    e.dropped = tr_get_varint(c);
    if (c->bad) return r_fail(r, TR_E_CORRUPT, "END record too short");
    r->end = e;
    r->have_end = 1;
    return 0;
}

static int set_thread(tr_reader_t *r, uint32_t tid) {
    tr_tstate_t *s = tidmap_find(&r->threads, tid);
    if (!s) {
        tr_tidmap_t const old = r->threads;
        r->threads.cap = old.cap * 2;
        r->threads.slot = malloc(sizeof(tr_tstate_t) * r->threads.cap);
        if (!r->threads.slot) { r->threads = old; return r_fail(r, TR_E_NOMEM, "out of memory"); }
        tidmap_reset(&r->threads);
        tidmap_rehash(&r->threads, old.slot, old.cap);
        free(old.slot);
        s = tidmap_find(&r->threads, tid);
    }
    r->cur = s;
    return 0;
}

/* Event fields decode without a bound check per byte: the window has RAW_PAD
 * readable bytes past any record, and read_event checks the cursor once at
 * the end (each varint moves at most 10 bytes past the payload and reads at
 * most 10 bytes, and an event has at most 7: RAW_PAD covers them). */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "reader.c: uvar assumes a little-endian machine"
#endif
static uint64_t uvar_long(tr_cursor_t *c) { /* 9 or 10 bytes */
    const uint8_t *p = c->p;
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (p[i] < 0x80) {
            if (i == 9 && p[i] > 1) break; /* bits past 64 */
            c->p = p + i + 1;
            return v;
        }
    }
    c->p = c->end + 1; /* too long or too big: fails the final check */
    return 0;
}

/* Up to 8 bytes without a branch on the length: one unaligned load, the
 * first byte without its high bit found by ctz, and the 7-bit groups packed
 * in three shift-and-mask steps (the lengths of sizes and pointer deltas
 * vary too much for a byte loop to predict). One-byte values, the common
 * case of most fields, take a branch of their own. */
static inline uint64_t uvar(tr_cursor_t *c) {
    if (c->p[0] < 0x80) return *c->p++; /* per call site: predictable for most fields */
    uint64_t x;
    memcpy(&x, c->p, 8); /* little-endian; RAW_PAD keeps this in the buffer */
    uint64_t const stops = ~x & 0x8080808080808080ull;
    if (__builtin_expect(stops == 0, 0)) return uvar_long(c);
    unsigned const bits = (unsigned)__builtin_ctzll(stops) + 1; /* through the last byte's top bit */
    c->p += bits >> 3;
    x &= bits == 64 ? ~0ull : (1ull << bits) - 1;
    x &= 0x7f7f7f7f7f7f7f7full;
    x = (x & 0x007f007f007f007full) | ((x & 0x7f007f007f007f00ull) >> 1);
    x = (x & 0x00003fff00003fffull) | ((x & 0x3fff00003fff0000ull) >> 2);
    return (x & 0x000000000fffffffull) | ((x & 0x0fffffff00000000ull) >> 4);
}
static inline int64_t svar(tr_cursor_t *c) { return tr_unzigzag(uvar(c)); }

static inline uint64_t get_ptr(tr_cursor_t *c, tr_tstate_t *s) {
    s->ptr += (uint64_t)svar(c);
    return s->ptr;
}

/* Decodes an event record of type op into *ev. Returns 1 for an event to
 * deliver, 0 for a skipped (unknown) type, < 0 on error. */
static int read_event(tr_reader_t *r, uint8_t op, tr_cursor_t *c, tr_event_t *ev) {
    tr_tstate_t *s = r->cur;
    if (!s) return r_fail(r, TR_E_CORRUPT, "event record (type 0x%02x) before any THREAD record", op);
    memset(ev, 0, sizeof *ev);
    ev->op = op;
    ev->tid = tidmap_tid(s);
    ev->seq = s->seq + uvar(c);
    if (r->timecol) {
        if (r->ti >= r->tn) return r_fail(r, TR_E_CORRUPT, "event record (type 0x%02x) without a time: its TIMES record is short", op);
        ev->t_ns = s->t + (uint64_t)r->tcol[r->ti++];
    } else {
        ev->t_ns = s->t + (uint64_t)svar(c);
    }
    ev->stack = (uint32_t)uvar(c);
    if (c->p > c->end) return r_fail(r, TR_E_CORRUPT, "event record (type 0x%02x) too short", op);
    s->seq = ev->seq;
    s->t = ev->t_ns;
    ev->release_seq = ev->seq;
    switch (op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC:
        ev->a = uvar(c);
        ev->ret = get_ptr(c, s);
        break;
    case TR_OP_CALLOC: case TR_OP_MEMALIGN: case TR_OP_POSIX_MEMALIGN: case TR_OP_ALIGNED_ALLOC:
        ev->a = uvar(c);
        ev->b = uvar(c);
        ev->ret = get_ptr(c, s);
        break;
    case TR_OP_REALLOC: case TR_OP_REALLOCARRAY: {
        ev->a = get_ptr(c, s);
        ev->b = uvar(c);
        if (op == TR_OP_REALLOCARRAY) ev->c = uvar(c);
        ev->ret = get_ptr(c, s);
        uint64_t const d = uvar(c);
        if (d >= ev->seq) return r_fail(r, TR_E_CORRUPT, "%s release seq before 1", tr_op_name(op));
        ev->release_seq = ev->seq - d;
        break;
    }
    case TR_OP_FREE:
        ev->a = get_ptr(c, s);
        break;
    case TR_OP_MALLOPT:
        ev->a = (uint64_t)svar(c);
        ev->b = (uint64_t)svar(c);
        ev->ret = (uint64_t)svar(c);
        break;
    case TR_OP_MALLOC_TRIM:
        ev->a = uvar(c);
        ev->ret = (uint64_t)svar(c);
        break;
    case TR_OP_THREAD_START:
        ev->a = uvar(c);
        break;
    case TR_OP_THREAD_EXIT:
        break;
    case TR_OP_FORK:
        ev->ret = (uint64_t)svar(c);
        break;
    case TR_OP_EXEC: {
        if (c->p > c->end) break;
        size_t n;
        const uint8_t *p = tr_get_bytes(c, &n);
        if (c->bad) break;
        char *str = malloc(n + 1);
        if (!str) return r_fail(r, TR_E_NOMEM, "out of memory");
        memcpy(str, p, n);
        str[n] = 0;
        ev->str = str; /* owned by the event until delivered */
        break;
    }
    default: /* a later version's event: its common fields were applied */
        r->st.skipped++;
        return 0;
    }
    if (c->bad || c->p > c->end) {
        free((char *)ev->str);
        return r_fail(r, TR_E_CORRUPT, "%s record too short", tr_op_name(op));
    }
    return 1;
}

/* TIMES (version 2): the time deltas of the current thread's next events,
 * as (zeros, delta) pairs: that many zero deltas, then the delta. */
#define TIMES_MAX (1u << 20) /* deltas a TIMES record may give (the writer: 4096) */
static void read_times(tr_reader_t *r, tr_cursor_t *c) {
    if (!r->cur) { r_fail(r, TR_E_CORRUPT, "TIMES record before any THREAD record"); return; }
    uint32_t n = 0;
    int64_t *t = r->tcol;
    size_t cap = r->tcap < TIMES_MAX ? r->tcap : TIMES_MAX;
    const uint8_t *p = c->p;
    const uint8_t *const end = c->end;
    while (p < end) {
        /* the common pair: no zeros, a one-byte delta (reads past a cut
         * payload stay in RAW_PAD and fail the check below) */
        if (p[0] == 0 && p[1] < 0x80 && n < cap) {
            t[n++] = tr_unzigzag(p[1]);
            p += 2;
            continue;
        }
        c->p = p;
        uint64_t const z = uvar(c); /* unchecked as events are; checked below */
        int64_t const d = svar(c);
        p = c->p;
        if (p > end || z >= TIMES_MAX - n) { r_fail(r, TR_E_CORRUPT, "bad TIMES record"); return; }
        if (n + z + 1 > r->tcap) {
            t = r_grow(r, t, &r->tcap, n + z + 1, sizeof *t);
            if (!t) return;
            r->tcol = t;
            cap = r->tcap < TIMES_MAX ? r->tcap : TIMES_MAX;
        }
        if (z) {
            memset(t + n, 0, z * sizeof *t);
            n += (uint32_t)z;
        }
        t[n++] = d;
    }
    c->p = p;
    if (p > end) { r_fail(r, TR_E_CORRUPT, "bad TIMES record"); return; }
    r->tn = n;
    r->ti = 0;
}

/* ---- merge ------------------------------------------------------------------ */
static int heap_push(tr_reader_t *r, uint64_t seq, int marker, const tr_event_t *ev) {
    pend_t *h = r_grow(r, r->heap, &r->hcap, r->hn + 1, sizeof *h);
    if (!h) return r->err.code;
    r->heap = h;
    size_t i = r->hn++;
    while (i > 0) {
        size_t const parent = (i - 1) / 2;
        if (h[parent].seq <= seq) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i].seq = seq;
    h[i].marker = marker;
    if (ev) h[i].ev = *ev;
    else h[i].ev.str = NULL; /* a marker owns nothing */
    if (r->hn > r->st.reorder_peak) r->st.reorder_peak = r->hn;
    return 0;
}

static void heap_pop(tr_reader_t *r, pend_t *out) {
    pend_t *h = r->heap;
    *out = h[0];
    pend_t const last = h[--r->hn];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= r->hn) break;
        if (k + 1 < r->hn && h[k + 1].seq < h[k].seq) k++;
        if (last.seq <= h[k].seq) break;
        h[i] = h[k];
        i = k;
    }
    h[i] = last;
}

static inline void deliver(tr_reader_t *r, tr_event_t *out, const tr_event_t *ev) {
    if (__builtin_expect(r->cur_str != NULL || ev->str != NULL, 0)) {
        free(r->cur_str);
        r->cur_str = (char *)ev->str;
    }
    *out = *ev;
    if (ev->seq >= r->next_seq) r->next_seq = ev->seq + 1;
}

/* The common case in few instructions: a MALLOC, FREE, CALLOC or REALLOC
 * record wholly in the window, of the current thread, next in seq order (a
 * realloc's release seq too), with nothing waiting in the merge heap.
 * Anything else, or a record that does not decode cleanly, is left to
 * decode_slow (which reports it): nothing is changed before the record is
 * known good. Returns 1 with *ev filled, or 0. */
static inline int decode_fast(tr_reader_t *r, tr_event_t *ev) {
    tr_tstate_t *const s = r->cur;
    if (r->hn || r->done || r->have_end || !s || r->cur_str) return 0;
    const uint8_t *const p = r->raw + r->raw_start;
    size_t const avail = r->raw_end - r->raw_start;
    if (avail < 2 || p[1] >= 0x80 || avail < 2u + p[1]) return 0;
    uint8_t const op = p[0];
    if (op != TR_OP_MALLOC && op != TR_OP_FREE && op != TR_OP_CALLOC && op != TR_OP_REALLOC) return 0;
    tr_cursor_t c = { p + 2, p + 2 + p[1], 0 };
    uint64_t const seq = s->seq + uvar(&c);
    uint64_t t;
    if (r->timecol) {
        if (r->ti >= r->tn) return 0;
        t = s->t + (uint64_t)r->tcol[r->ti];
    } else
        t = s->t + (uint64_t)svar(&c);
    uint32_t const stack = (uint32_t)uvar(&c);
    uint64_t a, b = 0, ret = 0, rel = seq, ptr = s->ptr;
    switch (op) {
    case TR_OP_MALLOC:
        a = uvar(&c);
        ret = ptr += (uint64_t)svar(&c);
        break;
    case TR_OP_FREE:
        a = ptr += (uint64_t)svar(&c);
        break;
    case TR_OP_CALLOC:
        a = uvar(&c);
        b = uvar(&c);
        ret = ptr += (uint64_t)svar(&c);
        break;
    default: { /* TR_OP_REALLOC */
        a = ptr += (uint64_t)svar(&c);
        b = uvar(&c);
        ret = ptr += (uint64_t)svar(&c);
        uint64_t const d = uvar(&c);
        if (d > seq) return 0;
        rel = seq - d;
        break;
    }
    }
    /* in order as decode_slow has it: one seq, or a realloc's two in a row */
    if (rel == seq ? seq != r->next_seq : rel != r->next_seq || seq != rel + 1) return 0;
    if (c.p > c.end) return 0;
    s->seq = seq;
    s->t = t;
    s->ptr = ptr;
    r->ti += r->timecol;
    r->raw_start += 2u + p[1];
    r->st.records++;
    r->next_seq = seq + 1;
    *ev = (tr_event_t){ .seq = seq, .release_seq = rel, .t_ns = t, .a = a, .b = b, .ret = ret,
                        .tid = tidmap_tid(s), .stack = stack, .op = op };
    return 1;
}

static __attribute__((noinline)) int decode_slow(tr_reader_t *r, tr_event_t *out);

int tr_reader_decode(tr_reader_t *r, tr_event_t *out) {
    return decode_fast(r, out) ? 1 : decode_slow(r, out);
}

static int decode_slow(tr_reader_t *r, tr_event_t *out) {
    for (;;) {
        /* release what the merge allows */
        while (r->hn) {
            pend_t const *top = &r->heap[0];
            if (!(top->seq <= r->next_seq || top->seq < r->watermark || r->done || r->hn > REORDER_CAP))
                break;
            if (top->seq > r->next_seq && top->seq >= r->watermark) r->st.order_forced++;
            pend_t p;
            heap_pop(r, &p);
            if (p.marker) {
                if (p.seq >= r->next_seq) r->next_seq = p.seq + 1;
                continue;
            }
            deliver(r, out, &p.ev);
            return 1;
        }
        if (r->done) {
            free(r->cur_str);
            r->cur_str = NULL;
            return r->err.code ? r->err.code : 0;
        }
        uint8_t type;
        tr_cursor_t c;
        if (__builtin_expect(r->have_end, 0) && fill(r, 1) > 0) { /* two traces concatenated, or garbage */
            r_fail(r, TR_E_CORRUPT, "data after the END record");
            continue;
        }
        int k = next_record(r, &type, &c);
        if (k <= 0) { r->done = 1; continue; }
        if (type >= TR_OP_FIRST && type <= TR_OP_LAST) {
            /* decode straight into *out: an event in order is returned as is */
            k = read_event(r, type, &c, out);
            if (k < 0) continue;
            if (k == 0) { /* a later version's event: its seq is used, not delivered */
                if (out->seq >= r->next_seq) heap_push(r, out->seq, 1, NULL);
                continue;
            }
            int const in_order = out->release_seq == out->seq
                                     ? out->seq == r->next_seq /* a realloc's two seqs in a row: */
                                     : out->release_seq == r->next_seq && out->seq == out->release_seq + 1;
            if (r->hn == 0 && in_order) {
                r->next_seq = out->seq + 1;
                if (__builtin_expect(r->cur_str != NULL || out->str != NULL, 0)) {
                    free(r->cur_str);
                    r->cur_str = (char *)out->str;
                }
                return 1;
            }
            if (out->release_seq != out->seq && heap_push(r, out->release_seq, 1, NULL)) continue;
            if (heap_push(r, out->seq, 0, out)) { free((char *)out->str); continue; }
            continue;
        }
        if (r->ti < r->tn) { /* the writer stages a run's events right after its TIMES */
            r_fail(r, TR_E_CORRUPT, "TIMES record with more times than events");
            continue;
        }
        switch (type) {
        case TR_REC_THREAD: {
            uint64_t const tid = tr_get_varint(&c);
            if (c.bad || tid > UINT32_MAX) { r_fail(r, TR_E_CORRUPT, "bad THREAD record"); break; }
            set_thread(r, (uint32_t)tid);
            break;
        }
        case TR_REC_SYNC:
            tidmap_reset(&r->threads);
            r->cur = NULL;
            break;
        case TR_REC_TIMES:
            if (r->timecol) read_times(r, &c);
            else r->st.skipped++; /* reserved in version 1 */
            break;
        case TR_REC_STACK: read_stack(r, &c); break;
        case TR_REC_MODULE: read_module(r, &c); break;
        case TR_REC_WATERMARK: {
            uint64_t const wm = tr_get_varint(&c);
            if (c.bad) { r_fail(r, TR_E_CORRUPT, "bad WATERMARK record"); break; }
            if (wm > r->watermark) r->watermark = wm;
            break;
        }
        case TR_REC_END: read_end(r, &c); break;
        case TR_REC_HEADER: r_fail(r, TR_E_CORRUPT, "a second HEADER record"); break;
        default: r->st.skipped++; break;
        }
    }
}

/* ---- open / close -------------------------------------------------------- */
static void nomem(tr_error_t *err) {
    if (!err) return;
    memset(err, 0, sizeof *err);
    err->code = TR_E_NOMEM;
    snprintf(err->msg, sizeof err->msg, "out of memory");
}

static tr_reader_t *r_new(const char *path) {
    tr_reader_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->path = strdup(path ? path : "(memory)");
    r->threads.cap = 16;
    r->threads.slot = malloc(sizeof(tr_tstate_t) * r->threads.cap);
    r->stack_dir = calloc(STACK_DIRS, sizeof *r->stack_dir);
    r->next_seq = 1;
    if (!r->path || !r->threads.slot || !r->stack_dir) { tr_reader_close(r); return NULL; }
    tidmap_reset(&r->threads);
    return r;
}

static tr_reader_t *r_start(tr_reader_t *r, tr_error_t *err) {
    if (!r->src) {
        tr_reader_close(r);
        nomem(err);
        return NULL;
    }
    if (read_header(r) == 0) return r;
    if (err) *err = r->err;
    tr_reader_close(r);
    return NULL;
}

tr_reader_t *tr_reader_open(const char *path, tr_error_t *err) {
    tr_reader_t *r = r_new(path);
    if (!r) { nomem(err); return NULL; }
    int const fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int const e = errno;
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = TR_E_IO;
            err->sys_errno = e;
            snprintf(err->msg, sizeof err->msg, "cannot open: %s", strerror(e));
        }
        tr_reader_close(r);
        return NULL;
    }
    r->src = zsrc_open_fd(fd);
    if (!r->src) close(fd);
    return r_start(r, err);
}

tr_reader_t *tr_reader_open_mem(const void *data, size_t size, tr_error_t *err) {
    tr_reader_t *r = r_new(NULL);
    if (!r) { nomem(err); return NULL; }
    r->src = zsrc_open_mem(data, size);
    return r_start(r, err);
}

int tr_reader_decode_ahead(tr_reader_t *r) { return tr_ahead_start(r); }

long tr_usable_cpus(void) {
    cpu_set_t set;
    long const n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

int tr_reader_prefetch(tr_reader_t *r) {
    /* three busy threads (zstd, decoding, the caller) need three CPUs: with
     * fewer, handing decoded events across cores cost more than decoding */
    return tr_usable_cpus() >= 3 ? tr_ahead_start(r) : tr_reader_readahead(r);
}

int tr_reader_readahead(tr_reader_t *r) {
    if (r->ahead) return 0;
    return zsrc_prefetch(r->src) ? TR_E_NOMEM : 0;
}

int tr_reader_next(tr_reader_t *r, tr_event_t *ev) {
    tr_ahead_t *const a = r->ahead;
    if (a) {
        if (__builtin_expect(a->cur && a->i < a->cur->n && !a->str, 1)) {
            *ev = a->cur->ev[a->i++];
            if (__builtin_expect(ev->str == NULL, 1)) return 1;
            a->str = (char *)ev->str;
            return 1;
        }
        return tr_ahead_next(r, ev);
    }
    return tr_reader_decode(r, ev);
}

void tr_reader_view(const tr_reader_t *r, tr_view_t *v) {
    v->nstacks = r->nstacks;
    v->nmods = r->nmods;
    v->have_end = r->have_end;
    v->end = r->end;
    v->st = r->st;
    v->err = r->err;
}

void tr_reader_close(tr_reader_t *r) {
    if (!r) return;
    tr_ahead_stop(r);
    zsrc_close(r->src);
    free(r->raw);
    free(r->threads.slot);
    for (size_t i = 0; i < r->nstrs; i++) free(r->strs[i]);
    free(r->strs);
    if (r->stack_dir) {
        for (uint32_t d = 0; d < STACK_DIRS; d++) {
            if (!r->stack_dir[d]) continue;
            for (uint32_t i = 0; i < STACK_CHUNK; i++) free(r->stack_dir[d][i]);
            free(r->stack_dir[d]);
        }
        free(r->stack_dir);
    }
    for (size_t i = 0; i < r->nretired; i++) free(r->retired[i]);
    free(r->retired);
    for (unsigned d = 0; d < MOD_DIRS; d++) free(r->mod_dir[d]);
    for (size_t i = 0; i < r->hn; i++) free((char *)r->heap[i].ev.str);
    free(r->heap);
    free(r->tcol);
    free(r->cur_str);
    free(r->path);
    free(r);
}

const tr_header_t *tr_reader_header(const tr_reader_t *r) { return &r->hdr; }

uint32_t tr_reader_stack(const tr_reader_t *r, uint32_t id, const uint64_t **pcs) {
    *pcs = NULL;
    if (id == 0 || id > MAX_STACK_ID) return 0;
    uint64_t **chunk = __atomic_load_n(&r->stack_dir[id / STACK_CHUNK], __ATOMIC_ACQUIRE);
    if (!chunk) return 0;
    uint64_t *blk = __atomic_load_n(&chunk[id % STACK_CHUNK], __ATOMIC_ACQUIRE);
    if (!blk) return 0;
    *pcs = blk + 1;
    return (uint32_t)blk[0];
}

uint32_t tr_reader_stack_count(const tr_reader_t *r) {
    return r->ahead ? tr_ahead_view(r)->nstacks : r->nstacks;
}
size_t tr_reader_module_count(const tr_reader_t *r) {
    return r->ahead ? tr_ahead_view(r)->nmods : r->nmods;
}
const tr_module_t *tr_reader_module(const tr_reader_t *r, size_t i) {
    return i < tr_reader_module_count(r) ? &r->mod_dir[i / MOD_CHUNK][i % MOD_CHUNK] : NULL;
}
const tr_end_t *tr_reader_end(const tr_reader_t *r) {
    if (r->ahead) {
        const tr_view_t *v = tr_ahead_view(r);
        return v->have_end ? &v->end : NULL;
    }
    return r->have_end ? &r->end : NULL;
}
int tr_reader_incomplete(const tr_reader_t *r, char *msg, size_t n) {
    const tr_end_t *e = tr_reader_end(r);
    if (!e)
        snprintf(msg, n, "no END record: the process was killed, or the trace is still being written");
    else if (e->reason == TR_END_ERROR)
        snprintf(msg, n, "the recorder stopped (%s) with %llu events dropped",
                 e->status > 0 ? strerror(e->status) : "an error", (unsigned long long)e->dropped);
    else if (e->dropped)
        snprintf(msg, n, "the recorder dropped %llu events", (unsigned long long)e->dropped);
    else
        return 0;
    return 1;
}
void tr_reader_stats(const tr_reader_t *r, tr_reader_stats_t *st) {
    *st = r->ahead ? tr_ahead_view(r)->st : r->st;
}
const tr_error_t *tr_reader_error(const tr_reader_t *r) {
    return r->ahead ? &tr_ahead_view(r)->err : &r->err;
}
const char *tr_reader_path(const tr_reader_t *r) { return r->path; }
