/* zsource.c - the compressed side of the reader: zstd frames in, raw stream
 * out, in the caller's thread or in a decompression thread of its own that
 * fills a ring of chunks (each chunk ends at a frame end or when full). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "trace.h"
#include "zsource.h"

#define NCHUNK 4
#define CHUNK_CAP (1u << 20)

typedef struct chunk_s {
    uint8_t *data;
    size_t len;
    int end; /* 0: more follows, 1: end of input after this, -1: error after this */
    zsrc_state_t st;
} chunk_t;

struct zsrc_s {
    /* the producer's side: the caller's thread, or the prefetch thread */
    int fd;
    const uint8_t *mem;
    uint8_t *in; size_t in_len, in_pos; uint64_t in_base;
    int in_eof;
    ZSTD_DCtx *dctx;
    size_t zret; /* 0 between frames */
    zsrc_state_t pst;
    /* the consumer's view */
    zsrc_state_t st;
    /* prefetching */
    int threaded;
    int cancellable; /* read(2) is a cancellation point for the producer */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t has_data, has_space;
    chunk_t ring[NCHUNK];
    unsigned head, count;
    int stop, joined;
    chunk_t *cur; size_t cur_pos;
};

static int z_fail(zsrc_t *z, int code, int sys_errno, const char *fmt, ...) {
    z->pst.code = code;
    z->pst.sys_errno = sys_errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->pst.msg, sizeof z->pst.msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int read_input(zsrc_t *z) {
    if (z->in_eof) return 0;
    if (z->mem) { z->in_eof = 1; return 0; }
    z->in_base += z->in_len;
    z->in_len = z->in_pos = 0;
    for (;;) {
        int old;
        if (z->cancellable) pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
        ssize_t const k = read(z->fd, z->in, ZSTD_DStreamInSize());
        int const e = errno;
        if (z->cancellable) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
        if (k < 0 && e == EINTR) continue;
        if (k < 0) return z_fail(z, TR_E_IO, e, "read failed: %s", strerror(e));
        if (k == 0) { z->in_eof = 1; return 0; }
        z->in_len = (size_t)k;
        return 1;
    }
}

/* Decompresses into dst: > 0 bytes (stopping early at a frame end), 0 at the
 * end of the input, -1 on error. */
static ssize_t produce(zsrc_t *z, uint8_t *dst, size_t cap) {
    if (z->pst.code) return -1;
    for (;;) {
        if (z->in_pos == z->in_len) {
            int const k = read_input(z);
            if (k < 0) return -1;
            if (k == 0) {
                /* zstd may still hold output it decoded from the last input
                 * (the destination was full): a cut file delivers it too */
                if (z->pst.started && z->zret != 0 && !ZSTD_isError(z->zret)) {
                    ZSTD_inBuffer in = { z->in, z->in_len, z->in_pos };
                    ZSTD_outBuffer out = { dst, cap, 0 };
                    size_t const ret = ZSTD_decompressStream(z->dctx, &out, &in);
                    if (!ZSTD_isError(ret)) {
                        z->zret = ret;
                        if (ret == 0) z->pst.frames++;
                        if (out.pos) return (ssize_t)out.pos;
                    }
                }
                z->pst.truncated = z->pst.started && z->zret != 0;
                return 0;
            }
        }
        if (z->zret == 0) z->pst.frame_off = z->in_base + z->in_pos;
        ZSTD_inBuffer in = { z->in, z->in_len, z->in_pos };
        ZSTD_outBuffer out = { dst, cap, 0 };
        size_t const ret = ZSTD_decompressStream(z->dctx, &out, &in);
        if (ZSTD_isError(ret)) {
            if (!z->pst.started)
                return z_fail(z, TR_E_NOT_TRACE, 0, "not a malloc trace: not a zstd stream (%s)",
                              ZSTD_getErrorName(ret));
            return z_fail(z, TR_E_CORRUPT, 0, "zstd: %s", ZSTD_getErrorName(ret));
        }
        z->pst.started = 1;
        z->in_pos = in.pos;
        z->pst.file_bytes = z->in_base + z->in_pos;
        z->zret = ret;
        if (ret == 0) z->pst.frames++;
        if (out.pos) return (ssize_t)out.pos;
    }
}

/* ---- the prefetch thread ------------------------------------------------------ */
static void *prefetch_main(void *arg) {
    zsrc_t *z = arg;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    for (;;) {
        pthread_mutex_lock(&z->mu);
        while (z->count == NCHUNK && !z->stop) pthread_cond_wait(&z->has_space, &z->mu);
        if (z->stop) { pthread_mutex_unlock(&z->mu); return NULL; }
        chunk_t *c = &z->ring[(z->head + z->count) % NCHUNK];
        pthread_mutex_unlock(&z->mu);
        c->len = 0;
        c->end = 0;
        while (c->len < CHUNK_CAP) {
            ssize_t const k = produce(z, c->data + c->len, CHUNK_CAP - c->len);
            if (k < 0) { c->end = -1; break; }
            if (k == 0) { c->end = 1; break; }
            c->len += (size_t)k;
            if (z->zret == 0) break; /* a chunk ends where a frame does */
        }
        c->st = z->pst;
        pthread_mutex_lock(&z->mu);
        z->count++;
        pthread_cond_signal(&z->has_data);
        pthread_mutex_unlock(&z->mu);
        if (c->end) return NULL;
    }
}

int zsrc_prefetch(zsrc_t *z) {
    if (z->threaded) return 0;
    for (int i = 0; i < NCHUNK; i++) {
        if (!z->ring[i].data) z->ring[i].data = malloc(CHUNK_CAP); /* kept from a call that failed */
        if (!z->ring[i].data) return -1;
    }
    if (pthread_mutex_init(&z->mu, NULL)) return -1;
    pthread_cond_init(&z->has_data, NULL);
    pthread_cond_init(&z->has_space, NULL);
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved); /* the thread takes no signal */
    z->threaded = 1;
    z->cancellable = 1;
    int const rc = pthread_create(&z->th, NULL, prefetch_main, z);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc) {
        z->threaded = 0;
        z->cancellable = 0;
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->has_data);
        pthread_cond_destroy(&z->has_space);
        return -1;
    }
    return 0;
}

ssize_t zsrc_read(zsrc_t *z, uint8_t *dst, size_t cap) {
    if (!z->threaded) {
        ssize_t const k = produce(z, dst, cap);
        z->st = z->pst;
        return k;
    }
    for (;;) {
        chunk_t *c = z->cur;
        if (c && z->cur_pos < c->len) {
            size_t n = c->len - z->cur_pos;
            if (n > cap) n = cap;
            memcpy(dst, c->data + z->cur_pos, n);
            z->cur_pos += n;
            z->st = c->st;
            z->st.code = 0; /* an error after this chunk is reported after its data */
            return (ssize_t)n;
        }
        if (c) {
            if (c->end) {
                z->st = c->st;
                return c->end < 0 ? -1 : 0;
            }
            pthread_mutex_lock(&z->mu);
            z->head = (z->head + 1) % NCHUNK;
            z->count--;
            pthread_cond_signal(&z->has_space);
            pthread_mutex_unlock(&z->mu);
            z->cur = NULL;
        }
        pthread_mutex_lock(&z->mu);
        while (z->count == 0 && !z->stop) pthread_cond_wait(&z->has_data, &z->mu);
        if (z->count == 0) { /* zsrc_stop from another thread */
            pthread_mutex_unlock(&z->mu);
            z->st.code = TR_E_IO;
            snprintf(z->st.msg, sizeof z->st.msg, "reader closed");
            return -1;
        }
        z->cur = &z->ring[z->head];
        z->cur_pos = 0;
        pthread_mutex_unlock(&z->mu);
    }
}

const zsrc_state_t *zsrc_state(const zsrc_t *z) { return &z->st; }

void zsrc_cancellable(zsrc_t *z) { z->cancellable = 1; }

static zsrc_t *z_new(void) {
    zsrc_t *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->fd = -1;
    z->dctx = ZSTD_createDCtx();
    if (!z->dctx) { free(z); return NULL; }
    return z;
}

zsrc_t *zsrc_open_fd(int fd) {
    zsrc_t *z = z_new();
    if (!z) return NULL;
    z->fd = fd;
    z->in = malloc(ZSTD_DStreamInSize());
    if (!z->in) { zsrc_close(z); return NULL; }
    return z;
}

zsrc_t *zsrc_open_mem(const void *data, size_t size) {
    zsrc_t *z = z_new();
    if (!z) return NULL;
    z->mem = data;
    z->in = (uint8_t *)data; /* never written */
    z->in_len = size;
    return z;
}

void zsrc_stop(zsrc_t *z) {
    if (!z || !z->threaded) return;
    pthread_mutex_lock(&z->mu);
    z->stop = 1;
    pthread_cond_broadcast(&z->has_space);
    pthread_cond_broadcast(&z->has_data);
    pthread_mutex_unlock(&z->mu);
    if (!z->joined) {
        pthread_cancel(z->th); /* only takes effect inside read(2) */
        pthread_join(z->th, NULL);
        z->joined = 1;
    }
}

void zsrc_close(zsrc_t *z) {
    if (!z) return;
    if (z->threaded) {
        zsrc_stop(z);
        pthread_mutex_destroy(&z->mu);
        pthread_cond_destroy(&z->has_data);
        pthread_cond_destroy(&z->has_space);
    }
    for (int i = 0; i < NCHUNK; i++) free(z->ring[i].data);
    if (z->fd >= 0) close(z->fd);
    if (!z->mem) free(z->in);
    ZSTD_freeDCtx(z->dctx);
    free(z);
}
