/* folded.c - folded stacks for flame graph tools (Brendan Gregg's
 * flamegraph.pl, inferno, speedscope): one line per distinct stack,
 * "root;caller;...;allocating_function WEIGHT", weight = bytes requested,
 * calls, bytes live at the peak, leaked bytes or temporary allocations.
 * Allocator and recorder frames are left out; stacks that symbolize to the
 * same names are merged. */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "report.h"

typedef struct line_s { char *key; uint64_t w; UT_hash_handle hh; } line_t;

static int by_key(const line_t *a, const line_t *b) { return strcmp(a->key, b->key); }

static uint64_t weight(const rp_agg_t *g, size_t id, int w) {
    switch (w) {
    case RP_W_CALLS: return g->sites[id].calls;
    case RP_W_PEAK: return rp_site_at_peak(g, id);
    case RP_W_LEAKED: return g->sites[id].live;
    case RP_W_TEMPORARY: return g->sites[id].temporary;
    default: return g->sites[id].bytes;
    }
}

int rp_folded(const rp_agg_t *g, tr_reader_t *r, rp_sym_t *s, int by, FILE *out) {
    line_t *lines = NULL;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) return -1;
    for (size_t id = 0; id < g->nsites; id++) {
        uint64_t const w = weight(g, id, by);
        if (!w) continue;
        const rp_frame_t *fr[256];
        size_t const depth = rp_stack_frames(s, r, id, fr, 256);
        size_t o = 0;
        buf[0] = 0;
        if (!depth) o = (size_t)snprintf(buf, cap, "[no stack]");
        for (size_t k = depth; k > 0; k--) { /* root first */
            char f[1024];
            rp_frame_str(fr[k - 1], f, sizeof f, 0);
            for (char *c = f; *c; c++)
                if (*c == ';') *c = ':';
            size_t const fl = strlen(f);
            if (o + fl + 2 >= cap) break; /* absurdly deep: keep the root part */
            if (o) buf[o++] = ';';
            memcpy(buf + o, f, fl + 1);
            o += fl;
        }
        line_t *l;
        HASH_FIND_STR(lines, buf, l);
        if (!l) {
            l = calloc(1, sizeof *l);
            if (!l || !(l->key = strdup(buf))) { free(l); rc = -1; break; }
            HASH_ADD_KEYPTR(hh, lines, l->key, strlen(l->key), l);
        }
        l->w += w;
    }
    HASH_SORT(lines, by_key);
    line_t *l, *tmp;
    HASH_ITER(hh, lines, l, tmp) {
        if (rc == 0) fprintf(out, "%s %llu\n", l->key, (unsigned long long)l->w);
        HASH_DEL(lines, l);
        free(l->key);
        free(l);
    }
    free(buf);
    return rc;
}
