/* tidmap.h - internal: per-thread delta state (FORMAT.md section 4), an open
 * addressing table keyed by tid, shared by the writer and the reader. */
#ifndef TRACE_TIDMAP_H
#define TRACE_TIDMAP_H

#include <stdint.h>
#include <string.h>

typedef struct tr_tstate_s {
    uint64_t key; /* tid + 1; 0 = empty slot */
    uint64_t seq, t, ptr;
} tr_tstate_t;

typedef struct tr_tidmap_s {
    tr_tstate_t *slot;
    uint32_t cap, used; /* cap is a power of two */
} tr_tidmap_t;

static inline uint32_t tidmap_tid(const tr_tstate_t *s) { return (uint32_t)(s->key - 1); }
static inline uint32_t tidmap_hash(uint64_t key) { return (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 32); }

/* The state of tid, or NULL if the table is full (the caller grows it). */
static inline tr_tstate_t *tidmap_find(tr_tidmap_t *m, uint32_t tid) {
    uint64_t const key = (uint64_t)tid + 1;
    uint32_t i = tidmap_hash(key) & (m->cap - 1);
    for (;;) {
        tr_tstate_t *s = &m->slot[i];
        if (s->key == key) return s;
        if (s->key == 0) {
            if ((m->used + 1) * 4 > m->cap * 3) return NULL;
            m->used++;
            memset(s, 0, sizeof *s);
            s->key = key;
            return s;
        }
        i = (i + 1) & (m->cap - 1);
    }
}

/* Moves every entry of old (cap ocap) into m (already sized, zeroed). */
static inline void tidmap_rehash(tr_tidmap_t *m, const tr_tstate_t *old, uint32_t ocap) {
    for (uint32_t i = 0; i < ocap; i++) {
        if (!old[i].key) continue;
        uint32_t j = tidmap_hash(old[i].key) & (m->cap - 1);
        while (m->slot[j].key) j = (j + 1) & (m->cap - 1);
        m->slot[j] = old[i];
        m->used++;
    }
}

static inline void tidmap_reset(tr_tidmap_t *m) {
    memset(m->slot, 0, sizeof(tr_tstate_t) * m->cap);
    m->used = 0;
}

#endif
