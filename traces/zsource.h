/* zsource.h - internal: the compressed side of the reader. Turns a file or a
 * memory block of zstd frames into the raw stream, either in the caller's
 * thread or, after zsrc_prefetch, in a thread of its own that decompresses
 * ahead so that decoding and decompression run on two cores. */
#ifndef TRACE_ZSOURCE_H
#define TRACE_ZSOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct zsrc_s zsrc_t;

/* Where the stream stands after the last byte zsrc_read returned. */
typedef struct zsrc_state_s {
    uint64_t frame_off;  /* file offset of the frame those bytes came from */
    uint64_t frames;     /* complete frames so far */
    uint64_t file_bytes; /* compressed bytes consumed */
    int started;         /* some input was decoded */
    int truncated;       /* the input ended inside a frame */
    int code;            /* 0, or a tr_status_t once zsrc_read failed */
    int sys_errno;
    char msg[200];
} zsrc_state_t;

zsrc_t *zsrc_open_fd(int fd);                       /* takes the fd */
zsrc_t *zsrc_open_mem(const void *data, size_t size); /* data outlives the source */
void zsrc_close(zsrc_t *z);
/* Stops the decompression thread, if any; a zsrc_read waiting for it, in
 * another thread, then fails. For closing a reader whose decoding thread may
 * be waiting on this one. */
void zsrc_stop(zsrc_t *z);

/* Starts the decompression thread; 0, or -1 (then it goes on unthreaded). */
int zsrc_prefetch(zsrc_t *z);

/* Lets another thread that reads from this source be cancelled inside
 * read(2) (and nowhere else), for a reader stopped while waiting on a pipe. */
void zsrc_cancellable(zsrc_t *z);

/* Copies up to cap bytes of raw stream into dst: > 0 bytes, 0 at the end of
 * the input, < 0 on error (zsrc_state tells). */
ssize_t zsrc_read(zsrc_t *z, uint8_t *dst, size_t cap);
const zsrc_state_t *zsrc_state(const zsrc_t *z);

#endif
