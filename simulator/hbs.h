/* hbs.h - hierarchical bitset: set, clear and "lowest set bit" in a few word
 * operations, for the buddy and slab models (internal to the simulator).
 *
 * Level 0 holds one bit per position; a bit of level i+1 says "word i of
 * level i is non-zero". The top level is a single word. Positions grow on
 * demand (hbs_reserve); memory is n/64 words plus 1/64 of that per level.
 */
#ifndef SIM_HBS_H
#define SIM_HBS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HBS_MAXLEV 7 /* 64^7 positions */

typedef struct hbs_s {
    uint64_t *w[HBS_MAXLEV];
    uint64_t nw[HBS_MAXLEV]; /* words allocated per level */
    unsigned nlev;
    uint64_t count; /* bits set */
} hbs_t;

/* Makes room for positions [0, n). Returns 0, or -1 when out of memory. */
static inline int hbs_reserve(hbs_t *s, uint64_t n)
{
    uint64_t words = (n + 63) / 64;
    unsigned lev = 0;
    for (;;) {
        if (words < 1)
            words = 1;
        if (lev >= HBS_MAXLEV)
            return -1;
        if (words > s->nw[lev]) {
            uint64_t nw = s->nw[lev] ? s->nw[lev] : 1;
            while (nw < words)
                nw *= 2;
            uint64_t *p = (uint64_t *)realloc(s->w[lev], nw * 8);
            if (!p)
                return -1;
            memset(p + s->nw[lev], 0, (nw - s->nw[lev]) * 8);
            s->w[lev] = p;
            s->nw[lev] = nw;
        }
        lev++;
        if (words == 1)
            break;
        words = (words + 63) / 64;
    }
    if (lev > s->nlev) {
        /* new top levels: mark the old top's word 0 if it is non-zero */
        for (unsigned l = s->nlev ? s->nlev : 1; l < lev; l++)
            if (s->w[l - 1][0])
                s->w[l][0] |= 1;
        s->nlev = lev;
    }
    return 0;
}

static inline void hbs_set(hbs_t *s, uint64_t pos)
{
    for (unsigned l = 0; l < s->nlev; l++) {
        uint64_t *w = &s->w[l][pos >> 6];
        uint64_t was = *w;
        *w = was | (1ull << (pos & 63));
        if (l == 0) {
            if (was & (1ull << (pos & 63)))
                return;
            s->count++;
        }
        if (was)
            return; /* the upper levels already know */
        pos >>= 6;
    }
}

static inline void hbs_clear(hbs_t *s, uint64_t pos)
{
    for (unsigned l = 0; l < s->nlev; l++) {
        uint64_t *w = &s->w[l][pos >> 6];
        uint64_t bit = 1ull << (pos & 63);
        if (l == 0) {
            if (!(*w & bit))
                return;
            s->count--;
        }
        *w &= ~bit;
        if (*w)
            return;
        pos >>= 6;
    }
}

static inline int hbs_test(const hbs_t *s, uint64_t pos)
{
    return (pos >> 6) < s->nw[0] && (s->w[0][pos >> 6] >> (pos & 63)) & 1;
}

/* Lowest set position, or UINT64_MAX when none. */
static inline uint64_t hbs_first(const hbs_t *s)
{
    if (!s->count)
        return UINT64_MAX;
    uint64_t pos = 0;
    for (unsigned l = s->nlev; l-- > 0;)
        pos = (pos << 6) | (uint64_t)__builtin_ctzll(s->w[l][pos]);
    return pos;
}

static inline void hbs_free(hbs_t *s)
{
    for (unsigned l = 0; l < HBS_MAXLEV; l++)
        free(s->w[l]);
    memset(s, 0, sizeof *s);
}

#endif /* SIM_HBS_H */
