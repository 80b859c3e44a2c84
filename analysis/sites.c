/* sites.c - ranking allocation sites and naming them by their frames. */
#include <stdlib.h>
#include <string.h>

#include "report.h"

static uint64_t key_of(const rp_agg_t *g, size_t i, int key) {
    switch (key) {
    case 0: return rp_site_at_peak(g, i);
    case 1: return g->sites[i].calls;
    case 3: return g->sites[i].temporary;
    default: return g->sites[i].live;
    }
}

static int by_value(const void *a, const void *b) {
    const rp_row_t *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? 1 : -1;
    return (x->stack > y->stack) - (x->stack < y->stack);
}

size_t rp_top_sites(const rp_agg_t *g, int key, rp_row_t *rows, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < g->nsites; i++)
        if (key_of(g, i, key)) m++;
    rp_row_t *all = malloc((m ? m : 1) * sizeof *all);
    if (!all) return 0;
    m = 0;
    for (size_t i = 0; i < g->nsites; i++) {
        uint64_t const v = key_of(g, i, key);
        if (v) all[m++] = (rp_row_t){ i, v };
    }
    qsort(all, m, sizeof *all, by_value);
    if (m > n) m = n;
    memcpy(rows, all, m * sizeof *rows);
    free(all);
    return m;
}

size_t rp_stack_frames(rp_sym_t *s, const tr_reader_t *r, size_t stack, const rp_frame_t **out, size_t cap) {
    const uint64_t *pcs;
    uint32_t const depth = stack ? tr_reader_stack(r, (uint32_t)stack, &pcs) : 0;
    size_t n = 0;
    int top = 1; /* still among the allocator's frames at the top */
    for (uint32_t i = 0; i < depth && n < cap; i++)
        for (const rp_frame_t *f = rp_sym_pc(s, pcs[i]); f && n < cap; f = f->caller) {
            if (top && rp_frame_is_alloc(f) && i + 1 < depth) continue;
            top = 0;
            out[n++] = f;
        }
    return n;
}

void rp_site_frames(rp_sym_t *s, const tr_reader_t *r, size_t stack, char *buf, size_t cap,
                    int maxf, const char *sep, int with_file) {
    const rp_frame_t *fr[256];
    size_t const n = rp_stack_frames(s, r, stack, fr, 256);
    size_t o = 0;
    buf[0] = 0;
    if (!n) { snprintf(buf, cap, "(no stack)"); return; }
    size_t i = 0;
    for (; i < n && (int)i < maxf && o + 1 < cap; i++) {
        char f[1024];
        rp_frame_str(fr[i], f, sizeof f, with_file);
        int const w = snprintf(buf + o, cap - o, "%s%s", i ? sep : "", f);
        if (w < 0) break;
        o += (size_t)w;
        if (o >= cap) { o = cap - 1; break; }
    }
    if (i < n && o + strlen(sep) + 4 < cap) snprintf(buf + o, cap - o, "%s...", sep);
}
