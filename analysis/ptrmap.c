/* ptrmap.c - the live-object map: open addressing keyed by pointer, linear
 * probing, deletion by backward shift (no tombstones), 32 bytes per slot.
 * Pointer 0 marks an empty slot (NULL is never live). */
#include <stdlib.h>
#include <string.h>

#include "ptrmap.h"

static size_t slot_of(const rp_ptrmap_t *m, uint64_t ptr) {
    /* Fibonacci hashing: the product's top bits mix every bit of the address. */
    return (size_t)((ptr * 0x9E3779B97F4A7C15ull) >> (64 - __builtin_ctzll(m->cap)));
}

static int grow(rp_ptrmap_t *m) {
    size_t const ncap = m->cap ? m->cap * 2 : 1024;
    rp_obj_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    rp_ptrmap_t n = { ns, ncap, 0 };
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].ptr) continue;
        size_t j = slot_of(&n, m->slots[i].ptr);
        while (ns[j].ptr) j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
        n.count++;
    }
    free(m->slots);
    *m = n;
    return 0;
}

rp_obj_t *rp_ptrmap_find(const rp_ptrmap_t *m, uint64_t ptr) {
    if (!m->cap) return NULL;
    for (size_t i = slot_of(m, ptr);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].ptr == ptr) return &m->slots[i];
        if (!m->slots[i].ptr) return NULL;
    }
}

rp_obj_t *rp_ptrmap_insert(rp_ptrmap_t *m, uint64_t ptr, int *existed) {
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0) return NULL;
    size_t i = slot_of(m, ptr);
    while (m->slots[i].ptr && m->slots[i].ptr != ptr) i = (i + 1) & (m->cap - 1);
    *existed = m->slots[i].ptr == ptr;
    if (!*existed) {
        memset(&m->slots[i], 0, sizeof m->slots[i]);
        m->slots[i].ptr = ptr;
        m->count++;
    }
    return &m->slots[i];
}

void rp_ptrmap_remove(rp_ptrmap_t *m, rp_obj_t *o) {
    size_t const mask = m->cap - 1;
    size_t i = (size_t)(o - m->slots), j = i;
    m->slots[i].ptr = 0;
    m->count--;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].ptr) return;
        size_t const home = slot_of(m, m->slots[j].ptr);
        /* Move j back into the hole at i unless its home lies cyclically in (i, j]. */
        int const stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        m->slots[i] = m->slots[j];
        m->slots[j].ptr = 0;
        i = j;
    }
}

void rp_ptrmap_free(rp_ptrmap_t *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}
