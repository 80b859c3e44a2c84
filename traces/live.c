/* live.c - malloc-trace info's live bytes (live.h).
 *
 * Events are applied in seq order, each seq being either an event or a
 * realloc's release. The reader delivers events in seq order but consumes
 * release seqs silently, so a seq it skips is a release whose realloc has not
 * come yet (or a lost event). From such a gap on, events wait in a window
 * indexed by seq; the realloc, when it comes, puts its release in the gap and
 * everything up to the next gap is applied. Nearly always the window is
 * empty: a realloc comes right after its release seq.
 *
 * The old block of a realloc stays live until the realloc's own seq (it is
 * copied from), unless an allocation between its release seq and its seq
 * gets the address back (another thread's): that ends it there, and the
 * realloc then frees nothing. So the release slot only marks the block, as
 * malloc-sim, malloc-replay and malloc-report count it. */
#include <stdlib.h>
#include <uthash.h>

#include "live.h"

typedef struct obj_s {
    uint64_t ptr, size;
    uint64_t by; /* the seq of a realloc whose release seq has passed: it frees the block */
    UT_hash_handle hh;
} obj_t;

enum { S_EMPTY, S_EVENT, S_RELEASE, S_NOTHING };

typedef struct slot_s {
    uint8_t kind;
    uint8_t op;
    uint8_t released; /* S_EVENT: the realloc's release has a slot of its own */
    uint64_t ptr;     /* the pointer given up (S_RELEASE, releasing events) */
    uint64_t size, ret, seq, t; /* S_RELEASE: ret is the realloc's seq */
} slot_t;

struct live_s {
    obj_t *objs;
    live_figures_t fig;
    slot_t *win;          /* LIVE_HOLD slots, a ring: seq base is at win[head] */
    uint32_t head, n;     /* n: slots in use, from base */
    uint64_t base;        /* the lowest seq not applied yet */
    int started;
};

/* Requested bytes of an allocating event. */
static uint64_t requested(const tr_event_t *ev) {
    switch (ev->op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC: return ev->a;
    case TR_OP_CALLOC: return ev->a * ev->b;
    case TR_OP_REALLOC: return ev->b;
    case TR_OP_REALLOCARRAY: return ev->b * ev->c;
    default: return ev->b; /* memalign family: align, size */
    }
}

static void release(live_t *l, uint64_t ptr) {
    obj_t *o;
    HASH_FIND(hh, l->objs, &ptr, sizeof ptr, o);
    if (!o) { l->fig.unknown_frees++; return; }
    l->fig.bytes -= o->size;
    HASH_DEL(l->objs, o);
    free(o);
}

/* A realloc's release seq: its block is marked as the realloc's to free. */
static void mark(live_t *l, uint64_t ptr, uint64_t by) {
    obj_t *o;
    HASH_FIND(hh, l->objs, &ptr, sizeof ptr, o);
    if (!o) { l->fig.unknown_frees++; return; }
    o->by = by;
}

static int allocate(live_t *l, const slot_t *s) {
    obj_t *o;
    HASH_FIND(hh, l->objs, &s->ret, sizeof s->ret, o);
    if (o) { /* address back before its realloc came, or a release we did not see: replace */
        l->fig.bytes -= o->size;
    } else {
        o = malloc(sizeof *o);
        if (!o) return TR_E_NOMEM;
        o->ptr = s->ret;
        HASH_ADD(hh, l->objs, ptr, sizeof o->ptr, o);
    }
    o->size = s->size;
    o->by = 0;
    l->fig.bytes += o->size;
    if (l->fig.bytes > l->fig.peak) {
        l->fig.peak = l->fig.bytes;
        l->fig.peak_seq = s->seq;
        l->fig.peak_t = s->t;
    }
    return 0;
}

/* One seq's worth: a release, or an event (with its release unless that has
 * a slot of its own). */
static int apply(live_t *l, const slot_t *s) {
    if (s->kind == S_RELEASE) { mark(l, s->ptr, s->ret); return 0; }
    if (s->kind != S_EVENT) return 0;
    if (tr_op_releases(s->op) && s->ptr) {
        if (!s->released) {
            release(l, s->ptr);
        } else { /* marked at the release seq: still this realloc's block? */
            obj_t *o;
            HASH_FIND(hh, l->objs, &s->ptr, sizeof s->ptr, o);
            if (o && o->by == s->seq) release(l, s->ptr);
        }
    }
    if (tr_op_allocates(s->op) && s->ret) return allocate(l, s);
    return 0;
}

/* The event as a slot: a failed realloc neither releases nor allocates. */
static slot_t as_slot(const tr_event_t *ev) {
    slot_t s = { S_EVENT, ev->op, 0, 0, requested(ev), ev->ret, ev->seq, ev->t_ns };
    int const reallocs = ev->op == TR_OP_REALLOC || ev->op == TR_OP_REALLOCARRAY;
    if (tr_op_releases(ev->op) && !(reallocs && ev->ret == 0 && s.size != 0)) s.ptr = ev->a;
    return s;
}

static slot_t *at(live_t *l, uint64_t seq) { return &l->win[(l->head + (seq - l->base)) % LIVE_HOLD]; }

/* Applies the slot of seq base (a missing seq is lost: nothing) and moves on. */
static int pop(live_t *l) {
    slot_t *s = &l->win[l->head];
    int const rc = apply(l, s);
    s->kind = S_EMPTY;
    l->head = (l->head + 1) % LIVE_HOLD;
    l->base++;
    l->n--;
    return rc;
}

live_t *live_new(void) {
    live_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->win = calloc(LIVE_HOLD, sizeof *l->win);
    if (!l->win) { free(l); return NULL; }
    return l;
}

int live_event(live_t *l, const tr_event_t *ev) {
    slot_t s = as_slot(ev);
    int const own_release = (ev->op == TR_OP_REALLOC || ev->op == TR_OP_REALLOCARRAY) &&
                            ev->release_seq < ev->seq;
    uint64_t const first = own_release ? ev->release_seq : ev->seq;
    if (!l->started) { l->started = 1; l->base = first; }
    /* the common case: nothing held, the event (and its release) next */
    if (l->n == 0 && first == l->base && ev->seq <= l->base + 1) {
        l->base = ev->seq + 1;
        return apply(l, &s);
    }
    if (ev->seq < l->base) { /* late */
        while (l->n)
            if (pop(l)) return TR_E_NOMEM;
        return apply(l, &s);
    }
    if (ev->seq - l->base >= LIVE_HOLD) { /* make room: a seq held too long is lost */
        uint64_t const nb = ev->seq - LIVE_HOLD + 1; /* the window ends at this event */
        while (l->n && l->base < nb)
            if (pop(l)) return TR_E_NOMEM;
        if (l->base < nb) l->base = nb; /* nothing held: jump over the gap */
    }
    slot_t *e = at(l, ev->seq);
    if (e->kind != S_EMPTY) return apply(l, &s); /* a seq taken twice: damage, applied as it comes */
    if (own_release && ev->release_seq >= l->base && at(l, ev->release_seq)->kind == S_EMPTY) {
        slot_t *r = at(l, ev->release_seq);
        *r = (slot_t){ s.ptr ? S_RELEASE : S_NOTHING, ev->op, 0, s.ptr, 0, ev->seq, ev->release_seq, ev->t_ns };
        s.released = 1;
    }
    *e = s;
    if (ev->seq - l->base + 1 > l->n) l->n = (uint32_t)(ev->seq - l->base + 1);
    while (l->n && l->win[l->head].kind != S_EMPTY)
        if (pop(l)) return TR_E_NOMEM;
    return 0;
}

int live_end(live_t *l) {
    while (l->n)
        if (pop(l)) return TR_E_NOMEM;
    return 0;
}

const live_figures_t *live_figures(const live_t *l) {
    ((live_t *)l)->fig.objects = HASH_COUNT(l->objs);
    return &l->fig;
}

void live_free(live_t *l) {
    if (!l) return;
    obj_t *o, *tmp;
    HASH_ITER(hh, l->objs, o, tmp) { HASH_DEL(l->objs, o); free(o); }
    free(l->win);
    free(l);
}
