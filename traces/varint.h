/* varint.h - internal: bounded decoding of the format's value encodings and
 * the record type numbers of FORMAT.md. Encoding helpers are in trace.h. */
#ifndef TRACE_VARINT_H
#define TRACE_VARINT_H

#include <stdint.h>
#include <string.h>

#include "trace.h"

#define TR_MAGIC "MALTRACE"
#define TR_MAGIC_LEN 8
#define TR_PREAMBLE_LEN 12 /* magic, u16 version, u16 flags */

enum {
    TR_REC_HEADER = 0x01,
    TR_REC_SYNC = 0x02,
    TR_REC_THREAD = 0x03,
    TR_REC_STACK = 0x04,
    TR_REC_MODULE = 0x05,
    TR_REC_WATERMARK = 0x06,
    TR_REC_END = 0x07,
    TR_REC_TIMES = 0x08,
};

/* A record payload being decoded: every get fails (sets bad) past the end. */
typedef struct tr_cursor_s {
    const uint8_t *p, *end;
    int bad;
} tr_cursor_t;

static inline uint64_t tr_get_varint(tr_cursor_t *c) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) { c->bad = 1; return 0; }
        uint8_t const b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (shift == 63 && b > 1) break; /* a 10th byte with bits past 64 */
            return v;
        }
    }
    c->bad = 1; /* more than 10 bytes, or more than 64 bits */
    return 0;
}

static inline int64_t tr_get_svarint(tr_cursor_t *c) { return tr_unzigzag(tr_get_varint(c)); }

/* A string or byte run: points into the payload, *len its length. */
static inline const uint8_t *tr_get_bytes(tr_cursor_t *c, size_t *len) {
    uint64_t const n = tr_get_varint(c);
    if (c->bad || n > (uint64_t)(c->end - c->p)) { c->bad = 1; *len = 0; return NULL; }
    const uint8_t *s = c->p;
    c->p += n;
    *len = (size_t)n;
    return s;
}

/* Same as tr_get_varint on a raw buffer; returns bytes used, 0 if incomplete. */
static inline size_t tr_peek_varint(const uint8_t *p, size_t avail, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < avail && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i == 9 && p[i] > 1) return 0; /* more than 64 bits: not a varint */
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

#endif
