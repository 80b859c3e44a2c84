/* test_format.c - the trace format's writer and reader against each other and
 * against hand-built byte streams: round trips of every record type, global
 * order restored across threads and frames, truncation at every cut, flipped
 * bytes, wrong version, empty and foreign files, unknown records skipped. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_frameHeaderSize */
#include <zstd.h>

#include "check.h"
#include "trace.h"
#include "zsource.h" /* the library's decompressing source, tested alone below */

#define TR_PREAMBLE_BYTES 12 /* magic, version, flags (FORMAT.md section 2) */


static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

/* ---- a trace in memory ------------------------------------------------------ */
typedef struct buf_s { uint8_t *p; size_t n; } buf_t;

static buf_t read_file(const char *path) {
    buf_t b = { 0, 0 };
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    b.n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(b.n ? b.n : 1);
    if (fread(b.p, 1, b.n, f) != b.n) b.n = 0;
    fclose(f);
    return b;
}

static const char *env_list[] = { "MALLOC_ARENA_MAX=2", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0" };
static const char *arg_list[] = { "/usr/bin/app", "--flag", "x y" };
static tr_header_t test_header(void) {
    tr_header_t h;
    memset(&h, 0, sizeof h);
    h.pid = 4242; h.ppid = 1; h.start_real_ns = 1764108000123456789ull; h.start_mono_ns = 987654321;
    h.page_size = 4096; h.ncpu = 2; h.exe = "/usr/bin/app";
    h.argv = arg_list; h.argc = 3; h.glibc_version = "2.36";
    h.env = env_list; h.nenv = 2; h.tool = "test_format";
    return h;
}

/* A random event of a random op for thread tid at seq. */
static tr_event_t random_event(uint32_t tid, uint64_t seq, uint64_t t) {
    static const uint8_t ops[] = { TR_OP_MALLOC, TR_OP_CALLOC, TR_OP_REALLOC, TR_OP_REALLOCARRAY,
                                   TR_OP_FREE, TR_OP_MEMALIGN, TR_OP_POSIX_MEMALIGN, TR_OP_ALIGNED_ALLOC,
                                   TR_OP_VALLOC, TR_OP_PVALLOC, TR_OP_MALLOPT, TR_OP_MALLOC_TRIM,
                                   TR_OP_THREAD_START, TR_OP_THREAD_EXIT, TR_OP_FORK, TR_OP_FREE,
                                   TR_OP_MALLOC, TR_OP_MALLOC };
    tr_event_t e;
    memset(&e, 0, sizeof e);
    e.op = ops[rnd() % sizeof ops];
    e.tid = tid; e.seq = e.release_seq = seq; e.t_ns = t;
    e.stack = (uint32_t)(rnd() % 5);
    uint64_t const ptr = 0x55d0c0a00000ull + (rnd() % 100000) * 16;
    switch (e.op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC: e.a = rnd() % 5000; e.ret = ptr; break;
    case TR_OP_CALLOC: e.a = rnd() % 10; e.b = rnd() % 100; e.ret = rnd() % 7 ? ptr : 0; break;
    case TR_OP_REALLOC: e.a = ptr; e.b = rnd() % 100000; e.ret = ptr + 4096; break;
    case TR_OP_REALLOCARRAY: e.a = ptr; e.b = 3; e.c = rnd() % 100; e.ret = ptr; break;
    case TR_OP_FREE: e.a = rnd() % 20 ? ptr : 0; break;
    case TR_OP_MEMALIGN: case TR_OP_POSIX_MEMALIGN: case TR_OP_ALIGNED_ALLOC:
        e.a = 1u << (rnd() % 13); e.b = rnd() % 3000; e.ret = ptr; break;
    case TR_OP_MALLOPT: e.a = (uint64_t)(int64_t)-3; e.b = (uint64_t)(int64_t)(rnd() % 2 ? 65536 : -1); e.ret = 1; break;
    case TR_OP_MALLOC_TRIM: e.a = rnd() % 100; e.ret = 0; break;
    case TR_OP_THREAD_START: e.a = 77; break;
    case TR_OP_FORK: e.ret = (uint64_t)(int64_t)(rnd() % 2 ? 1234 : -1); break;
    default: break;
    }
    if (e.op == TR_OP_REALLOC || e.op == TR_OP_REALLOCARRAY) e.seq++; /* release seq before */
    return e;
}

static int same_event(const tr_event_t *a, const tr_event_t *b) {
    return a->seq == b->seq && a->release_seq == b->release_seq && a->t_ns == b->t_ns &&
           a->a == b->a && a->b == b->b && a->c == b->c && a->ret == b->ret && a->tid == b->tid &&
           a->stack == b->stack && a->op == b->op &&
           ((!a->str && !b->str) || (a->str && b->str && strcmp(a->str, b->str) == 0));
}

/* Writes nthreads x per_thread events the way the recorder does: each thread's
 * events in its own order, handed over in chunks of random size in a random
 * thread order, with a watermark after each round. */
#define MAXEV 400000
static tr_event_t evs[MAXEV];
static size_t nevs;

static void write_threaded(const char *path, int nthreads, size_t total, size_t frame_bytes) {
    nevs = 0;
    uint64_t seq = 1, t = 100;
    static uint32_t owner[MAXEV];
    while (nevs < total) { /* global order first */
        uint32_t const tid = 1000 + (uint32_t)(rnd() % nthreads);
        evs[nevs] = random_event(tid, seq, t);
        seq = evs[nevs].seq + 1;
        t += rnd() % 500;
        owner[nevs] = tid;
        nevs++;
    }
    tr_header_t h = test_header();
    tr_writer_opts_t o = { 0 };
    o.frame_bytes = frame_bytes;
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(path, &h, &o, &err);
    CHECK(w != NULL, "open: %s", err.msg);
    if (!w) return;
    uint64_t const pcs1[] = { 0x401000, 0x401234, 0x7f0000001000 }, pcs2[] = { 0x402000 };
    tr_writer_stack(w, 1, pcs1, 3);
    tr_writer_stack(w, 2, pcs2, 1);
    tr_writer_stack(w, 3, pcs1, 2);
    tr_writer_stack(w, 4, pcs2, 0);
    uint8_t const bid[] = { 0xde, 0xad, 0xbe, 0xef };
    tr_module_t m = { 0x400000, 0x400000, 0x10000, 0, "/usr/bin/app", bid, 4 };
    tr_writer_module(w, &m);
    /* Ticks, as the recorder's writer does them: each tick drains every
     * thread's events taken before the tick (seq below a limit), one thread
     * after another in a random order, then promises a watermark. A thread's
     * events may lag one tick behind another's. */
    size_t next[64] = { 0 };
    uint64_t limit = 0;
    while (limit < seq) {
        uint64_t const prev = limit;
        limit += 500 + rnd() % 3000;
        int const start = (int)(rnd() % nthreads);
        for (int k = 0; k < nthreads; k++) {
            uint32_t const tid = 1000 + (uint32_t)((start + k) % nthreads);
            size_t *i = &next[tid - 1000];
            while (*i < nevs && evs[*i].seq < limit) {
                if (owner[*i] == tid) tr_writer_event(w, &evs[*i]);
                (*i)++;
            }
        }
        tr_writer_watermark(w, prev); /* everything below the previous tick is out */
    }
    tr_end_t const end = { TR_END_EXIT, 3, t, nevs, 0 };
    int const rc = tr_writer_close(w, &end, &err);
    CHECK(rc == 0, "close: %s", err.msg);
}

/* Reads everything; returns events matched in order, -1 on a mismatch. */
static long read_back(tr_reader_t *r, int *rc_out) {
    tr_event_t ev;
    long n = 0;
    int rc;
    while ((rc = tr_reader_next(r, &ev)) > 0) {
        if ((size_t)n >= nevs || !same_event(&ev, &evs[n])) {
            fprintf(stderr, "event %ld differs: seq %llu op %d vs seq %llu op %d\n", n,
                    (unsigned long long)ev.seq, ev.op, (unsigned long long)evs[n].seq, evs[n].op);
            *rc_out = rc;
            return -1;
        }
        n++;
    }
    *rc_out = rc;
    return n;
}

static void test_roundtrip(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/rt.zst", dir);
    write_threaded(path, 8, 200000, 4096);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(path, &err);
    CHECK(r != NULL, "open: %s", err.msg);
    if (!r) return;
    const tr_header_t *h = tr_reader_header(r);
    CHECK(h->pid == 4242 && h->ppid == 1 && h->page_size == 4096 && h->ncpu == 2, "header numbers");
    CHECK(h->start_real_ns == 1764108000123456789ull && h->start_mono_ns == 987654321, "header times");
    CHECK(strcmp(h->exe, "/usr/bin/app") == 0 && strcmp(h->glibc_version, "2.36") == 0, "header strings");
    CHECK(h->argc == 3 && strcmp(h->argv[2], "x y") == 0, "argv");
    CHECK(h->nenv == 2 && strcmp(h->env[1], env_list[1]) == 0, "env");
    CHECK(strcmp(h->tool, "test_format") == 0, "tool");
    int rc;
    long const n = read_back(r, &rc);
    CHECK(rc == 0 && n == (long)nevs, "read %ld of %zu events, rc %d: %s", n, nevs, rc, tr_reader_error(r)->msg);
    const uint64_t *pcs;
    CHECK(tr_reader_stack(r, 1, &pcs) == 3 && pcs[2] == 0x7f0000001000 && pcs[1] == 0x401234, "stack 1");
    CHECK(tr_reader_stack(r, 3, &pcs) == 2 && pcs[0] == 0x401000, "stack 3");
    CHECK(tr_reader_stack(r, 9, &pcs) == 0 && pcs == NULL, "unknown stack");
    CHECK(tr_reader_stack_count(r) == 4, "stack count");
    CHECK(tr_reader_module_count(r) == 1, "modules");
    const tr_module_t *m = tr_reader_module(r, 0);
    CHECK(m && m->bias == 0x400000 && m->size == 0x10000 && strcmp(m->path, "/usr/bin/app") == 0 &&
          m->build_id_len == 4 && m->build_id[3] == 0xef, "module fields");
    const tr_end_t *end = tr_reader_end(r);
    CHECK(end && end->reason == TR_END_EXIT && end->status == 3 && end->events == nevs, "end record");
    tr_reader_stats_t st;
    tr_reader_stats(r, &st);
    CHECK(st.frames > 100, "frames closed every 4 KiB: %llu", (unsigned long long)st.frames);
    CHECK(st.order_forced == 0, "no gap forced: %llu", (unsigned long long)st.order_forced);
    CHECK(st.reorder_peak < 2 * 3500, "reorder window bounded: %llu", (unsigned long long)st.reorder_peak);
    CHECK(!st.truncated, "not truncated");
    tr_reader_close(r);

    /* the same through each way of reading ahead, whatever the CPUs */
    int (*const aheads[])(tr_reader_t *) = { tr_reader_prefetch, tr_reader_decode_ahead, tr_reader_readahead };
    for (int k = 0; k < 3; k++) {
        r = tr_reader_open(path, &err);
        CHECK(r && aheads[k](r) == 0, "read-ahead %d starts", k);
        if (r) {
            long const n2 = read_back(r, &rc);
            CHECK(rc == 0 && n2 == (long)nevs, "read-ahead %d: read %ld of %zu events, rc %d", k, n2, nevs, rc);
            CHECK(tr_reader_end(r) != NULL, "read-ahead %d: END", k);
            tr_reader_close(r);
        }
        /* closing a reader early does not hang or leak */
        r = tr_reader_open(path, &err);
        if (r) {
            aheads[k](r);
            tr_event_t ev;
            for (int i = 0; i < 10; i++) tr_reader_next(r, &ev);
            tr_reader_close(r);
        }
    }

    /* zstd -d yields the raw stream, starting with the magic */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "zstd -q -d -c '%s' | head -c 8 | grep -q MALTRACE", path);
    CHECK(system(cmd) == 0, "zstd -d gives the raw stream");

    /* every frame but the first begins with SYNC: decode the second alone */
    buf_t b = read_file(path);
    size_t const f0 = ZSTD_findFrameCompressedSize(b.p, b.n);
    CHECK(!ZSTD_isError(f0) && f0 < b.n, "first frame size");
    if (!ZSTD_isError(f0) && f0 < b.n) {
        uint8_t out[16];
        ZSTD_DCtx *d = ZSTD_createDCtx();
        ZSTD_inBuffer in = { b.p + f0, b.n - f0, 0 };
        ZSTD_outBuffer o = { out, sizeof out, 0 };
        ZSTD_decompressStream(d, &o, &in);
        CHECK(o.pos >= 3 && out[0] == 0x02 && out[2] == 1, "second frame starts with SYNC 1");
        ZSTD_freeDCtx(d);
    }
    free(b.p);
}

/* Cuts the file at many points: the reader never crashes, delivers a prefix
 * of the events in order, and reports a cut inside a frame as truncation. */
static void test_truncation(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/cut.zst", dir);
    write_threaded(path, 1, 20000, 2048); /* one thread: the order is the file's */
    buf_t b = read_file(path);
    size_t cuts = 0, truncated = 0, clean = 0, wrong_frame = 0;
    long best = 0;
    /* cuts at frame ends (a process killed between two flushes) and inside */
    size_t at[4096], nat = 0;
    for (size_t off = 0; off < b.n && nat < 2048;) {
        size_t const f = ZSTD_findFrameCompressedSize(b.p + off, b.n - off);
        if (ZSTD_isError(f)) break;
        off += f;
        at[nat++] = off;
    }
    for (size_t cut = 0; cut < b.n && nat < 4096; cut += 1 + cut / 50) at[nat++] = cut;
    for (size_t ci = 0; ci < nat; ci++) {
        size_t const cut = at[ci];
        tr_error_t err;
        tr_reader_t *r = tr_reader_open_mem(b.p, cut, &err);
        if (r && ci % 3 == 1) tr_reader_decode_ahead(r); /* every path sees every kind of cut */
        if (r && ci % 3 == 2) tr_reader_readahead(r);
        cuts++;
        if (!r) {
            CHECK(err.code == TR_E_NOT_TRACE || err.code == TR_E_TRUNCATED || err.code == TR_E_CORRUPT,
                  "cut %zu: open error %d %s", cut, err.code, err.msg);
            continue;
        }
        int rc;
        long const n = read_back(r, &rc);
        CHECK(n >= 0, "cut %zu: events out of order or wrong", cut);
        if (n > best) best = n;
        if (rc == TR_E_TRUNCATED) {
            truncated++;
            CHECK(strstr(tr_reader_error(r)->msg, "offset") != NULL, "message names the offset");
            /* the frame named is the one the cut is in, with its offset */
            size_t fstart = 0, fidx = 0;
            for (;;) {
                size_t const f = ZSTD_findFrameCompressedSize(b.p + fstart, b.n - fstart);
                if (ZSTD_isError(f) || fstart + f >= cut) break;
                fstart += f;
                fidx++;
            }
            char want[96];
            snprintf(want, sizeof want, "offset %zu (zstd frame %zu,", fstart, fidx);
            if (strstr(tr_reader_error(r)->msg, want) == NULL) wrong_frame++;
            if (wrong_frame <= 3)
                CHECK(strstr(tr_reader_error(r)->msg, want) != NULL, "cut %zu: '%s' names another frame than '%s'",
                      cut, tr_reader_error(r)->msg, want);
        } else {
            CHECK(rc == 0, "cut %zu: rc %d %s", cut, rc, tr_reader_error(r)->msg);
            CHECK(cut == b.n || tr_reader_end(r) == NULL, "a cut file has no END");
            clean++;
        }
        tr_reader_close(r);
    }
    CHECK(truncated > 0 && clean > 0, "both kinds of cut seen (%zu truncated, %zu at frame ends)", truncated, clean);
    CHECK(wrong_frame == 0, "%zu of %zu truncations name another frame than the cut's", wrong_frame, truncated);
    CHECK(best > 19000, "a late cut keeps most events (%ld)", best);
    /* a cut at the last frame boundary before the END keeps every event */
    free(b.p);
}

/* What zstd's streaming decoder makes of the first n bytes of a file, as
 * far as it goes, into raw (cap bytes); returns the bytes it gave. */
static size_t zstd_prefix(const uint8_t *p, size_t n, uint8_t *raw, size_t cap) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer in = { p, n, 0 };
    ZSTD_outBuffer out = { raw, cap, 0 };
    for (;;) {
        size_t const pos = out.pos, ipos = in.pos;
        if (ZSTD_isError(ZSTD_decompressStream(d, &out, &in)) || (out.pos == pos && in.pos == ipos)) break;
    }
    ZSTD_freeDCtx(d);
    return out.pos;
}

static uint8_t prefix_raw[8u << 20];

/* The ends of a file's zstd blocks but the last of each frame. */
static size_t block_ends(const uint8_t *p, size_t n, size_t *at, size_t max) {
    size_t k = 0;
    for (size_t off = 0; off < n && k < max;) {
        size_t const fsz = ZSTD_findFrameCompressedSize(p + off, n - off);
        size_t const hsz = ZSTD_frameHeaderSize(p + off, n - off);
        if (ZSTD_isError(fsz) || ZSTD_isError(hsz)) break;
        for (size_t b = off + hsz; b + 3 <= off + fsz && k < max;) {
            uint32_t const h = p[b] | (uint32_t)p[b + 1] << 8 | (uint32_t)p[b + 2] << 16;
            b += 3 + ((h >> 1 & 3) == 1 ? 1 : h >> 3); /* an RLE block holds one byte */
            if (h & 1) break;                        /* the frame's last block */
            at[k++] = b;
        }
        off += fsz;
    }
    return k;
}

/* The complete event records in the part of the raw stream that a file cut
 * at byte n decompresses to. */
static long complete_events(const uint8_t *p, size_t n) {
    const uint8_t *const raw = prefix_raw;
    size_t const len_raw = zstd_prefix(p, n, prefix_raw, sizeof prefix_raw);
    long count = 0;
    for (size_t i = TR_PREAMBLE_BYTES; i < len_raw;) {
        uint64_t len = 0;
        size_t k = i + 1;
        for (unsigned sh = 0; k < len_raw; sh += 7) {
            len |= (uint64_t)(raw[k] & 0x7f) << sh;
            if (raw[k++] < 0x80) break;
        }
        if (k >= len_raw || k + len > len_raw) break;
        if (raw[i] >= 0x10 && raw[i] <= 0x3f) count++;
        i = k + len;
    }
    return count;
}

/* Cuts inside large frames with incompressible stretches (zstd stores them
 * as raw blocks): the reader delivers every complete event record zstd can
 * decode before the cut, and the decompressing source asked for a few bytes
 * at a time hands out every byte (zstd may still hold decoded bytes when the
 * input has run out; the source lost them before 2026-11-26). */
static void test_cut_oracle(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/cutbig.zst", dir);
    { /* mallocs and frees, and every 50th event an exec of a path of some KB:
         records that big leave the reader's window nearly full at times */
        tr_header_t h = test_header();
        tr_error_t err;
        tr_writer_t *w = tr_writer_open(path, &h, NULL, &err);
        CHECK(w != NULL, "cut oracle: open: %s", w ? "" : err.msg);
        if (!w) return;
        static char long_path[6000];
        uint64_t ptr = 0x10000;
        for (uint64_t i = 1; i <= 20000; i++) {
            tr_event_t e;
            memset(&e, 0, sizeof e);
            e.seq = e.release_seq = i; e.t_ns = i * 37; e.tid = 7;
            if (i % 50 == 0) {
                size_t const n = 1000 + rnd() % 4000;
                for (size_t k = 0; k < n; k++) long_path[k] = (char)(1 + rnd() % 255); /* incompressible: raw blocks */
                long_path[n] = 0;
                e.op = TR_OP_EXEC; e.str = long_path;
            } else if (i % 2) {
                e.op = TR_OP_MALLOC; e.a = rnd() % 4000; e.ret = ptr += 16 + rnd() % 256;
            } else {
                e.op = TR_OP_FREE; e.a = ptr - rnd() % 4096;
            }
            tr_writer_event(w, &e);
        }
        CHECK(tr_writer_close(w, NULL, &err) == 0, "cut oracle: close");
    }
    buf_t b = read_file(path);
    int bad = 0;
    for (size_t cut = 12; cut < b.n && bad < 3; cut += 1 + b.n / 1500) {
        long const want = complete_events(b.p, cut);
        tr_error_t err;
        tr_reader_t *r = tr_reader_open_mem(b.p, cut, &err);
        if (!r) continue;
        tr_event_t ev;
        long got = 0;
        while (tr_reader_next(r, &ev) == 1) got++;
        if (got != want) bad++;
        CHECK(got == want, "cut %zu of %zu: %ld events read, %ld complete records decodable", cut, b.n, got, want);
        tr_reader_close(r);
    }
    /* the decompressing source alone, asked for a few bytes at a time: it
     * hands out every byte zstd decodes before the cut, also at a cut right
     * after a block, where zstd has consumed all the input and holds that
     * block's bytes */
    static size_t at[4096];
    size_t const nat = block_ends(b.p, b.n, at, 4096);
    CHECK(nat >= 5, "cut oracle: %zu block ends inside frames", nat);
    bad = 0;
    for (size_t i = 0; i < nat && bad < 3; i++) {
        size_t const cut = at[i];
        size_t const want = zstd_prefix(b.p, cut, prefix_raw, sizeof prefix_raw);
        zsrc_t *z = zsrc_open_mem(b.p, cut);
        uint8_t small[61];
        size_t got = 0;
        ssize_t k;
        while ((k = zsrc_read(z, small, sizeof small)) > 0) got += (size_t)k;
        zsrc_close(z);
        if (got != want) bad++;
        CHECK(got == want, "cut %zu: the source gave %zu bytes of %zu decodable", cut, got, want);
    }
    free(b.p);
    unlink(path);
}

/* Flips bytes: never a crash; an error names the offset. */
static void test_corruption(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/flip.zst", dir);
    write_threaded(path, 3, 5000, 1024);
    buf_t b = read_file(path);
    int errors = 0;
    for (int i = 0; i < 400; i++) {
        uint8_t *copy = malloc(b.n);
        memcpy(copy, b.p, b.n);
        int const flips = 1 + (int)(rnd() % 3);
        for (int k = 0; k < flips; k++) copy[rnd() % b.n] ^= (uint8_t)(1 + rnd() % 255);
        tr_error_t err;
        tr_reader_t *r = tr_reader_open_mem(copy, b.n, &err);
        if (r) {
            tr_event_t ev;
            int rc;
            long n = 0;
            while ((rc = tr_reader_next(r, &ev)) > 0) n++;
            if (rc < 0) {
                errors++;
                CHECK(strstr(tr_reader_error(r)->msg, "offset") != NULL, "message names the offset: %s",
                      tr_reader_error(r)->msg);
            }
            tr_reader_close(r);
        } else {
            errors++;
        }
        free(copy);
    }
    CHECK(errors > 300, "checksums catch flipped bytes (%d of 400)", errors);
    free(b.p);
}

/* Compresses a hand-made raw stream into a one-frame trace in memory. */
static buf_t make_trace(const uint8_t *raw, size_t n) {
    buf_t b;
    b.p = malloc(ZSTD_compressBound(n));
    b.n = ZSTD_compress(b.p, ZSTD_compressBound(n), raw, n, 1);
    return b;
}

static void test_handmade(void) {
    /* magic, version 1, header with pid 7, a record of unknown type 0x50, THREAD 5,
     * an unknown event 0x1a (common fields dseq 1, dt 10), malloc(24) with dseq 1,
     * then END. */
    uint8_t raw[] = {
        'M', 'A', 'L', 'T', 'R', 'A', 'C', 'E', 1, 0, 0, 0,
        0x01, 12, 7, 1, 0, 0, 0x80, 0x20, 2, 0, 0, 0, 0, 0, /* HEADER: 12 bytes */
        0x50, 3, 0xaa, 0xbb, 0xcc,                           /* unknown record */
        0x03, 1, 5,                                          /* THREAD 5 */
        0x1a, 4, 1, 20, 0, 0x99,                             /* unknown event: seq 1, t 10 */
        0x10, 5, 1, 2, 3, 24, 0x20,                          /* malloc seq 2, t 11, stack 3, 24 -> 0x10 */
        0x07, 5, 0, 0, 5, 1, 0,                              /* END */
    };
    buf_t b = make_trace(raw, sizeof raw);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open_mem(b.p, b.n, &err);
    CHECK(r != NULL, "hand-made trace opens: %s", r ? "" : err.msg);
    if (r) {
        CHECK(tr_reader_header(r)->pid == 7 && tr_reader_header(r)->page_size == 4096, "hand-made header");
        tr_event_t ev;
        int rc = tr_reader_next(r, &ev);
        CHECK(rc == 1 && ev.op == TR_OP_MALLOC && ev.seq == 2 && ev.t_ns == 11 && ev.stack == 3 &&
              ev.a == 24 && ev.ret == 0x10 && ev.tid == 5, "malloc after skipped records: rc %d seq %llu t %llu",
              rc, (unsigned long long)ev.seq, (unsigned long long)ev.t_ns);
        rc = tr_reader_next(r, &ev);
        CHECK(rc == 0, "then the end: %d", rc);
        tr_reader_stats_t st;
        tr_reader_stats(r, &st);
        CHECK(st.skipped == 2, "two records skipped: %llu", (unsigned long long)st.skipped);
        CHECK(tr_reader_end(r) && tr_reader_end(r)->events == 1, "END read");
        tr_reader_close(r);
    }
    free(b.p);

    /* version 3 is refused with a clear message (0 too) */
    raw[8] = 3;
    b = make_trace(raw, sizeof raw);
    r = tr_reader_open_mem(b.p, b.n, &err);
    CHECK(!r && err.code == TR_E_VERSION && strstr(err.msg, "format version 3, this reader knows 1 to 2"),
          "version refused: %s", err.msg);
    if (r) tr_reader_close(r);
    free(b.p);
    raw[8] = 1;

    /* bad magic */
    raw[0] = 'X';
    b = make_trace(raw, sizeof raw);
    r = tr_reader_open_mem(b.p, b.n, &err);
    CHECK(!r && err.code == TR_E_NOT_TRACE && strstr(err.msg, "magic"), "magic refused: %s", err.msg);
    free(b.p);
    raw[0] = 'M';

    /* an event before any THREAD is corruption, named with its offset */
    uint8_t raw2[] = { 'M', 'A', 'L', 'T', 'R', 'A', 'C', 'E', 1, 0, 0, 0,
                       0x01, 12, 7, 1, 0, 0, 0x80, 0x20, 2, 0, 0, 0, 0, 0,
                       0x10, 5, 1, 2, 3, 24, 0x20 };
    b = make_trace(raw2, sizeof raw2);
    r = tr_reader_open_mem(b.p, b.n, &err);
    CHECK(r != NULL, "opens");
    if (r) {
        tr_event_t ev;
        int const rc = tr_reader_next(r, &ev);
        CHECK(rc == TR_E_CORRUPT && strstr(tr_reader_error(r)->msg, "before any THREAD") &&
              strstr(tr_reader_error(r)->msg, "offset 0"), "event without thread: %s", tr_reader_error(r)->msg);
        tr_reader_close(r);
    }
    free(b.p);

    /* a huge length is refused, not allocated */
    uint8_t raw3[] = { 'M', 'A', 'L', 'T', 'R', 'A', 'C', 'E', 1, 0, 0, 0,
                       0x01, 12, 7, 1, 0, 0, 0x80, 0x20, 2, 0, 0, 0, 0, 0,
                       0x04, 0xff, 0xff, 0xff, 0xff, 0x0f };
    b = make_trace(raw3, sizeof raw3);
    r = tr_reader_open_mem(b.p, b.n, &err);
    if (r) {
        tr_event_t ev;
        int const rc = tr_reader_next(r, &ev);
        CHECK(rc == TR_E_CORRUPT && strstr(tr_reader_error(r)->msg, "too large"), "huge record: %s",
              tr_reader_error(r)->msg);
        tr_reader_close(r);
    }
    free(b.p);

    /* empty and foreign files */
    r = tr_reader_open_mem("", 0, &err);
    CHECK(!r && err.code == TR_E_NOT_TRACE && strstr(err.msg, "empty"), "empty: %s", err.msg);
    r = tr_reader_open_mem("hello, this is text\n", 20, &err);
    CHECK(!r && err.code == TR_E_NOT_TRACE && strstr(err.msg, "not a zstd"), "text: %s", err.msg);
    r = tr_reader_open("/nonexistent/trace.zst", &err);
    CHECK(!r && err.code == TR_E_IO && strstr(err.msg, "No such file"), "missing: %s", err.msg);
}

/* The exec path and every op's fields survive, including 64-bit extremes. */
/* Version 2 by hand: times come from the thread's TIMES record; an event
 * past its record's times, and times left over at THREAD, are corruption. */
static void test_handmade_v2(void) {
    uint8_t const head[] = {
        'M', 'A', 'L', 'T', 'R', 'A', 'C', 'E', 2, 0, 0, 0,
        0x01, 12, 7, 1, 0, 0, 0x80, 0x20, 2, 0, 0, 0, 0, 0, /* HEADER */
        0x03, 1, 5,                                          /* THREAD 5 */
    };
    uint8_t const good[] = {
        0x08, 4, 0, 20, 0, 6,                                /* TIMES (0, +10) (0, +3) */
        0x10, 5, 1, 3, 24, 0x80, 0x40,                       /* malloc seq 1, t 10 */
        0x14, 4, 1, 0, 0x80, 0x40,                           /* free seq 2, t 13, 0x1000 + 0x1000 */
        0x07, 5, 0, 0, 5, 2, 0,                              /* END */
    };
    uint8_t const short_times[] = {
        0x08, 2, 0, 20, 0x10, 5, 1, 3, 24, 0x80, 0x40, 0x14, 4, 1, 0, 0x80, 0x40, 0x07, 5, 0, 0, 5, 2, 0,
    };
    uint8_t const left_over[] = {
        0x08, 4, 0, 20, 1, 6, 0x10, 5, 1, 3, 24, 0x80, 0x40, 0x14, 4, 1, 0, 0x80, 0x40, 0x03, 1, 6,
        0x07, 5, 0, 0, 5, 2, 0,
    };
    uint8_t const no_times[] = { 0x10, 5, 1, 3, 24, 0x80, 0x40, 0x07, 5, 0, 0, 5, 1, 0 };
    uint8_t const left_at_stack[] = { /* a STACK record while a time is untaken, */
        0x08, 6, 0, 20, 0, 6, 0, 10, 0x10, 5, 1, 3, 24, 0x80, 0x40, 0x14, 4, 1, 0, 0x80, 0x40,
        0x04, 3, 1, 1, 0x10, 0x10, 4, 1, 0, 8, 0, /* then the event that would take it */
        0x07, 5, 0, 0, 5, 3, 0,
    };
    const struct { const uint8_t *p; size_t n; const char *err; } cases[] = {
        { good, sizeof good, NULL },
        { no_times, sizeof no_times, "without a time" },
        { left_at_stack, sizeof left_at_stack, "more times than events" },
        { short_times, sizeof short_times, "without a time" },
        { left_over, sizeof left_over, "more times than events" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t raw[128];
        memcpy(raw, head, sizeof head);
        memcpy(raw + sizeof head, cases[k].p, cases[k].n);
        buf_t b = make_trace(raw, sizeof head + cases[k].n);
        tr_error_t err;
        tr_reader_t *r = tr_reader_open_mem(b.p, b.n, &err);
        CHECK(r != NULL, "v2 case %zu opens", k);
        if (!r) { free(b.p); continue; }
        tr_event_t ev[3];
        int rc, n = 0;
        while (n < 3 && (rc = tr_reader_next(r, &ev[n])) == 1) n++;
        if (!cases[k].err) {
            CHECK(rc == 0 && n == 2 && ev[0].op == TR_OP_MALLOC && ev[0].t_ns == 10 && ev[0].stack == 3 &&
                  ev[0].a == 24 && ev[0].ret == 0x1000 && ev[1].op == TR_OP_FREE && ev[1].seq == 2 &&
                  ev[1].t_ns == 13 && ev[1].a == 0x2000 && ev[1].tid == 5,
                  "v2 events: rc %d n %d t %llu %llu", rc, n, (unsigned long long)ev[0].t_ns,
                  (unsigned long long)ev[1].t_ns);
        } else {
            const tr_error_t *e = tr_reader_error(r);
            CHECK(rc < 0 && e->code == TR_E_CORRUPT && strstr(e->msg, cases[k].err), "v2 case %zu: rc %d: %s", k,
                  rc, e->msg);
        }
        tr_reader_close(r);
        free(b.p);
    }
}

static void test_extremes(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/ext.zst", dir);
    tr_header_t h = test_header();
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(path, &h, NULL, &err);
    CHECK(w != NULL, "open");
    if (!w) return;
    tr_event_t e[4];
    memset(e, 0, sizeof e);
    e[0].op = TR_OP_MALLOC; e[0].seq = e[0].release_seq = 1; e[0].a = UINT64_MAX; e[0].ret = 0; e[0].tid = 0;
    e[1].op = TR_OP_REALLOC; e[1].seq = 3; e[1].release_seq = 2; e[1].a = UINT64_MAX - 15; e[1].b = 1;
    e[1].ret = 16; e[1].tid = UINT32_MAX; e[1].t_ns = UINT64_MAX / 2;
    e[2].op = TR_OP_EXEC; e[2].seq = e[2].release_seq = 4; e[2].str = "/bin/with space\t%"; e[2].tid = 0;
    e[3].op = TR_OP_MALLOPT; e[3].seq = e[3].release_seq = 5; e[3].a = (uint64_t)(int64_t)-8;
    e[3].b = (uint64_t)(int64_t)INT32_MIN; e[3].ret = (uint64_t)(int64_t)-1; e[3].t_ns = 5;
    for (int i = 0; i < 4; i++) CHECK(tr_writer_event(w, &e[i]) == 0, "write %d", i);
    CHECK(tr_writer_close(w, NULL, &err) == 0, "close");
    tr_reader_t *r = tr_reader_open(path, &err);
    CHECK(r != NULL, "reopen");
    if (!r) return;
    tr_event_t ev;
    for (int i = 0; i < 4; i++) {
        int const rc = tr_reader_next(r, &ev);
        CHECK(rc == 1 && same_event(&ev, &e[i]), "extreme event %d (rc %d, seq %llu)", i, rc,
              (unsigned long long)ev.seq);
    }
    CHECK(tr_reader_next(r, &ev) == 0, "end");
    CHECK(tr_reader_end(r) == NULL, "no END when closed without one");
    tr_reader_close(r);
}

/* Reading ahead (tr_reader_decode_ahead, tr_reader_readahead) must be invisible: a trace
 * with stacks defined as it goes (ids across many chunks of the stack table),
 * modules, EXEC paths and a corruption near its end reads the same, event by
 * event, with the same stack and module tables seen at each event, the same
 * error and the same statistics, with and without it. */
typedef struct seen_s {
    long events;
    int rc;
    uint64_t digest; /* over every field, the EXEC paths and each event's stack */
    size_t mods;
    uint32_t nstacks;
    tr_error_t err;
    tr_reader_stats_t st;
} seen_t;

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

static seen_t read_all(const char *path, int ahead) {
    seen_t s;
    memset(&s, 0, sizeof s);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(path, &err);
    CHECK(r != NULL, "ahead: open %s: %s", path, err.msg);
    if (!r) return s;
    if (ahead == 1) CHECK(tr_reader_decode_ahead(r) == 0, "ahead: starts");
    if (ahead == 2) CHECK(tr_reader_readahead(r) == 0, "readahead: starts");
    tr_event_t ev;
    uint64_t h = 14695981039346656037ull;
    while ((s.rc = tr_reader_next(r, &ev)) > 0) {
        h = mix(h, ev.seq); h = mix(h, ev.release_seq); h = mix(h, ev.t_ns); h = mix(h, ev.a);
        h = mix(h, ev.b); h = mix(h, ev.c); h = mix(h, ev.ret); h = mix(h, ev.tid); h = mix(h, ev.op);
        for (const char *p = ev.str; p && *p; p++) h = mix(h, (uint8_t)*p);
        const uint64_t *pcs;
        uint32_t const n = tr_reader_stack(r, ev.stack, &pcs);
        CHECK(ev.stack == 0 || n > 0, "ahead=%d: stack %u of event %ld is known when delivered", ahead,
              ev.stack, s.events);
        for (uint32_t i = 0; i < n; i++) h = mix(h, pcs[i]);
        /* a module record precedes every 1000th event (see below) */
        CHECK(tr_reader_module_count(r) >= (size_t)(ev.t_ns / 10 / 1000),
              "ahead=%d: module %llu seen by event %llu", ahead, (unsigned long long)(ev.t_ns / 10000),
              (unsigned long long)ev.seq);
        s.events++;
    }
    s.digest = h;
    s.mods = tr_reader_module_count(r);
    s.nstacks = tr_reader_stack_count(r);
    s.err = *tr_reader_error(r);
    tr_reader_stats(r, &s.st);
    if (s.mods) {
        const tr_module_t *m = tr_reader_module(r, s.mods - 1);
        CHECK(m && strcmp(m->path, "/lib/m.so") == 0 && m->build_id_len == 2, "ahead=%d: last module", ahead);
    }
    tr_reader_close(r);
    return s;
}

static void test_ahead(const char *dir) {
    char path[512], cut[600];
    snprintf(path, sizeof path, "%s/ahead.zst", dir);
    snprintf(cut, sizeof cut, "%s/ahead-cut.zst", dir);
    tr_header_t h = test_header();
    tr_writer_opts_t o = { 0 };
    o.frame_bytes = 64 << 10;
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(path, &h, &o, &err);
    CHECK(w != NULL, "ahead: open: %s", err.msg);
    if (!w) return;
    uint32_t nst = 0;
    uint64_t pcs[8];
    uint8_t const bid[] = { 1, 2 };
    uint64_t seq = 1;
    for (uint64_t i = 1; i <= 60000; i++) {
        if (i % 1000 == 0) {
            tr_module_t m = { i, i, 4096, 0, "/lib/m.so", bid, 2 };
            tr_writer_module(w, &m);
        }
        if (i % 5 == 1) { /* a new stack, ids spread over many chunks */
            nst++;
            for (int i = 0; i < 8; i++) pcs[i] = 0x400000 + nst * 64 + (uint64_t)i;
            tr_writer_stack(w, nst * 3, pcs, 1 + nst % 8);
        }
        tr_event_t e = random_event(7 + (uint32_t)(i % 3), seq, i * 10); /* t_ns tells i */
        e.stack = nst * 3;
        if (i % 997 == 0) {
            e.op = TR_OP_EXEC; e.a = e.b = e.c = e.ret = 0; e.seq = e.release_seq = seq;
            e.str = i % 2 ? "/bin/odd" : "/bin/even";
        }
        seq = e.seq + 1;
        CHECK(tr_writer_event(w, &e) == 0, "ahead: write");
    }
    tr_end_t const end = { TR_END_EXIT, 0, 600000, 60000, 0 };
    CHECK(tr_writer_close(w, &end, &err) == 0, "ahead: close: %s", err.msg);
    buf_t b = read_file(path);
    FILE *f = fopen(cut, "wb"); /* a flipped byte near the end */
    if (f && b.n > 100) {
        b.p[b.n - 60] ^= 0x55;
        fwrite(b.p, 1, b.n, f);
    }
    if (f) fclose(f);
    free(b.p);
    const char *files[] = { path, cut };
    for (int k = 0; k < 2; k++) {
        seen_t const a = read_all(files[k], 0);
        for (int mode = 1; mode <= 2; mode++) { /* decode-ahead, decompression-ahead only */
            seen_t const t = read_all(files[k], mode);
            CHECK(a.events == t.events && a.rc == t.rc && a.digest == t.digest,
                  "ahead %d %s: %ld events rc %d vs %ld rc %d", mode, files[k], a.events, a.rc, t.events, t.rc);
            CHECK(a.mods == t.mods && a.nstacks == t.nstacks, "ahead %d %s: tables %zu/%u vs %zu/%u", mode,
                  files[k], a.mods, a.nstacks, t.mods, t.nstacks);
            CHECK(a.err.code == t.err.code && strcmp(a.err.msg, t.err.msg) == 0, "ahead %d %s: error '%s' vs '%s'",
                  mode, files[k], a.err.msg, t.err.msg);
            CHECK(memcmp(&a.st, &t.st, sizeof a.st) == 0, "ahead %d %s: stats differ", mode, files[k]);
        }
        if (k == 0) CHECK(a.events == 60000 && a.rc == 0 && a.nstacks == 36000, "ahead: all read (%ld, %u stacks)", a.events, a.nstacks);
        else CHECK(a.rc < 0 && a.events < 60000, "ahead: corruption found (%ld events, rc %d)", a.events, a.rc);
    }
}

/* The zstd level may change between frames, up to the level the writer was
 * opened with (its workspace is taken at open); a bad level changes nothing. */
static void test_levels(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/levels.zst", dir);
    tr_header_t h = test_header();
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(path, &h, NULL, &err);
    CHECK(w != NULL && tr_writer_set_level(w, 19) == TR_E_ARG && tr_writer_set_level(w, 3) == 0,
          "levels: a writer opened at the default level refuses 19, takes 3");
    if (w) tr_writer_close(w, NULL, NULL);
    tr_writer_opts_t o = { 0 };
    o.level = 19;
    w = tr_writer_open(path, &h, &o, &err);
    CHECK(w != NULL, "levels: open");
    if (!w) return;
    nevs = 0;
    static const int levels[] = { 1, 19, 3, 0, 1 };
    uint64_t seq = 1;
    for (int f = 0; f < 5; f++) {
        int const rc = tr_writer_set_level(w, levels[f]);
        CHECK(levels[f] ? rc == 0 : rc == TR_E_ARG, "levels: set %d gives %d", levels[f], rc);
        for (int i = 0; i < 2000; i++) {
            evs[nevs] = random_event(5, seq, seq * 3);
            seq = evs[nevs].seq + 1;
            CHECK(tr_writer_event(w, &evs[nevs]) == 0, "levels: write");
            nevs++;
        }
        CHECK(tr_writer_flush(w) == 0, "levels: flush");
    }
    CHECK(tr_writer_close(w, NULL, &err) == 0, "levels: close: %s", err.msg);
    tr_reader_t *r = tr_reader_open(path, &err);
    CHECK(r != NULL, "levels: reopen");
    if (!r) return;
    int rc;
    long const n = read_back(r, &rc);
    CHECK(rc == 0 && n == (long)nevs, "levels: read %ld of %zu events, rc %d", n, nevs, rc);
    tr_reader_close(r);
}

/* The writer's bytes for the common events against bytes worked out by hand
 * from FORMAT.md: thread switches, per-thread deltas, and a new frame that
 * restarts them (its first record SYNC, then THREAD again). */
static void test_writer_bytes(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/writer_bytes.zst", dir);
    tr_header_t h = test_header();
    tr_writer_opts_t o = { 0 };
    tr_error_t err;
    tr_writer_t *w = tr_writer_open(path, &h, &o, &err);
    CHECK(w != NULL, "writer bytes: open: %s", w ? "" : err.msg);
    if (!w) return;
    static const struct { uint32_t tid; uint64_t seq, t; uint32_t stack; uint8_t op; uint64_t a, ret; } in[] = {
        { 5, 1, 10, 3, TR_OP_MALLOC, 24, 0x1000 }, { 5, 2, 10, 0, TR_OP_MALLOC, 40, 0x1040 },
        { 6, 3, 2010, 0, TR_OP_FREE, 0x1000, 0 },  { 5, 4, 2010, 0, TR_OP_FREE, 0x1040, 0 },
        { 5, 5, 3000, 0, TR_OP_MALLOC, 8, 0x2000 },
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        tr_event_t e;
        memset(&e, 0, sizeof e);
        e.tid = in[i].tid; e.seq = e.release_seq = in[i].seq; e.t_ns = in[i].t; e.stack = in[i].stack;
        e.op = in[i].op; e.a = in[i].a; e.ret = in[i].ret;
        if (i == 4) tr_writer_flush(w); /* the last event opens a second frame */
        CHECK(tr_writer_event(w, &e) == 0, "writer bytes: event %zu", i);
    }
    CHECK(tr_writer_close(w, NULL, &err) == 0, "writer bytes: close");
    static const uint8_t frame1[] = {
        0x03, 1, 5,                                     /* THREAD 5 */
        0x08, 4, 0, 20, 0, 0,                           /* TIMES: (0 zeros, +10), (0, +0) */
        0x10, 5, 1, 3, 24, 0x80, 0x40,                  /* malloc 24 -> 0x1000: zigzag 0x2000 */
        0x10, 5, 1, 0, 40, 0x80, 0x01,                  /* malloc 40 -> 0x1040: +0x40 */
        0x03, 1, 6,                                     /* THREAD 6 */
        0x08, 3, 0, 0xb4, 0x1f,                         /* TIMES: (0, +2010) */
        0x14, 4, 3, 0, 0x80, 0x40,                      /* free 0x1000: dseq 3 */
        0x03, 1, 5,                                     /* THREAD 5 again: its deltas kept */
        0x08, 3, 0, 0xa0, 0x1f,                         /* TIMES: (0, +2000) */
        0x14, 3, 2, 0, 0,                               /* free 0x1040: dseq 2, ptr +0 */
    };
    static const uint8_t frame2[] = {
        0x02, 1, 2,                                     /* SYNC 2: frame 0 is the header's */
        0x03, 1, 5,                                     /* THREAD 5 */
        0x08, 3, 0, 0xf0, 0x2e,                         /* TIMES: (0, +3000), from 0 */
        0x10, 6, 5, 0, 8, 0x80, 0x80, 0x01,             /* malloc 8 -> 0x2000, deltas from 0 */
    };
    buf_t b = read_file(path);
    size_t const cap = 1 << 16;
    uint8_t *raw = malloc(cap);
    size_t const n = b.n ? ZSTD_decompress(raw, cap, b.p, b.n) : 0;
    CHECK(!ZSTD_isError(n) && n > sizeof frame1, "writer bytes: decompress");
    if (!ZSTD_isError(n)) {
        const uint8_t *p1 = memmem(raw, n, frame1, sizeof frame1);
        const uint8_t *p2 = memmem(raw, n, frame2, sizeof frame2);
        CHECK(p1 != NULL, "writer bytes: first frame's events as worked out by hand");
        CHECK(p2 != NULL && p1 && p2 == p1 + sizeof frame1, "writer bytes: the second frame right after");
    }
    free(raw);
    free(b.p);
    unlink(path);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    test_handmade();
    test_handmade_v2();
    test_writer_bytes(dir);
    test_extremes(dir);
    test_roundtrip(dir);
    test_truncation(dir);
    test_cut_oracle(dir);
    test_corruption(dir);
    test_ahead(dir);
    test_levels(dir);
    if (failures) {
        fprintf(stderr, "test_format: %d checks failed\n", failures);
        return 1;
    }
    printf("test_format: all checks passed\n");
    return 0;
}
