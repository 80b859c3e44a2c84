/* driver.c - streams a trace through the models (sim_run in sim.h).
 *
 * The only hashing of the simulator happens here: a recorded address is
 * mapped to a dense object id when it is returned and unmapped when it is
 * given up (open addressing, linear probing, backward-shift deletion; the
 * table holds the live objects only). Models see ids.
 *
 * Realloc gives its old pointer up at release_seq, before the event's own
 * seq (FORMAT.md section 5): another thread may get that address back in
 * between, before the realloc event is delivered. An allocation that returns
 * an address still mapped therefore detaches the old object into a short
 * list; a later realloc or free of that address whose release came before
 * the detaching allocation takes the detached object.
 */
#include "sim.h"
#include "amap.h"
#include "lane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct detached_s {
    uint64_t addr, seq;
    uint64_t val; /* as in the map */
} detached_t;

#define NDETACHED 256

typedef struct drv_s {
    amap_t map;
    uint64_t *size;  /* requested bytes per id, for sizes >= 4 GiB only */
    uint32_t *freeids;
    uint64_t nfree, nids, cap;
    detached_t det[NDETACHED];
    unsigned ndet;
} drv_t;

static int new_id(drv_t *d, uint32_t *id)
{
    if (d->nfree) {
        *id = d->freeids[--d->nfree];
        return 0;
    }
    if (d->nids == d->cap) {
        uint64_t cap = d->cap ? 2 * d->cap : 4096;
        if (cap >= SIM_NO_ID)
            return -1;
        uint64_t *s = realloc(d->size, cap * sizeof *s);
        if (!s)
            return -1;
        d->size = s;
        uint32_t *f = realloc(d->freeids, cap * sizeof *f);
        if (!f)
            return -1;
        d->freeids = f;
        d->cap = cap;
    }
    *id = (uint32_t)d->nids++;
    return 0;
}

static inline void release_id(drv_t *d, uint32_t id) { d->freeids[d->nfree++] = id; }

/* Maps a returned address to a fresh id: one probe finds either the address
 * (still mapped) or the empty slot where it goes. */
static int bind(drv_t *d, uint64_t addr, uint64_t seq, uint64_t size, uint32_t *id)
{
    amap_t *m = &d->map;
    if (amap_reserve(m) || new_id(d, id))
        return -1;
    uint64_t s32 = size < UINT32_MAX ? size : UINT32_MAX;
    if (__builtin_expect(s32 == UINT32_MAX, 0))
        d->size[*id] = size;
    uint64_t v = *id | s32 << 32;
    int found;
    uint64_t i = amap_slot(m, addr, &found);
    if (__builtin_expect(found, 0)) { /* the old owner gave it up in a realloc not yet seen */
        if (d->ndet == NDETACHED) /* forget the oldest: it stays live (a lost free) */
            memmove(d->det, d->det + 1, (NDETACHED - 1) * sizeof d->det[0]), d->ndet--;
        d->det[d->ndet++] = (detached_t){ addr, seq, m->ents[i].val };
        m->ents[i].val = v;
        return 0;
    }
    m->ents[i].key = addr;
    m->ents[i].val = v;
    m->n++;
    return 0;
}

/* The id of a live address given up at release_seq, removed from the map,
 * or SIM_NO_ID; *size = its requested bytes. */
static uint32_t unbind(drv_t *d, uint64_t addr, uint64_t release_seq, uint64_t *size)
{
    uint64_t v;
    if (__builtin_expect(d->ndet != 0, 0))
        for (unsigned k = d->ndet; k-- > 0;)
            if (d->det[k].addr == addr && d->det[k].seq > release_seq) {
                v = d->det[k].val;
                memmove(d->det + k, d->det + k + 1, (d->ndet - k - 1) * sizeof d->det[0]), d->ndet--;
                goto found;
            }
    int in;
    v = amap_take(&d->map, addr, &in);
    if (!in)
        return SIM_NO_ID;
found:;
    uint32_t id = (uint32_t)v;
    *size = v >> 32 == UINT32_MAX ? d->size[id] : v >> 32;
    return id;
}

/* ---- the loop ----------------------------------------------------------------- */

struct sim_drv_s {
    drv_t d;
    unsigned mfirst, mend; /* models [mfirst, mend) stepped here; the others, if any, in the lane */
    lane_t *lane;
    int any_prefetch; /* one of the models stepped here has a prefetch hook */
    tl_t tl;          /* rows of (op, t_ns, live, footprint per model) */
    uint64_t live, op, next_cp, t_ns;
};

/* The timeline row of op, if sampled: the models stepped here fill theirs. */
static void tl_sample(sim_run_t *run, sim_drv_t *x, uint64_t op)
{
    uint64_t *r = tl_row(&x->tl, op);
    if (!r)
        return;
    r[1] = x->t_ns;
    r[2] = x->live;
    for (unsigned m = x->mfirst; m < x->mend; m++)
        r[3 + m] = run->models[m].footprint(run->models[m].opaque);
}

/* The threads the models are stepped on: 1, or 2 with the lane. A lone
 * model goes to the lane too (the driver's address map is about half the
 * work), unless checkpoints read its state in the driver's thread. */
static unsigned sim_threads(const sim_run_t *run)
{
    if (!run->nmodels || run->threads == 1 || (run->nmodels == 1 && run->checkpoint_every))
        return 1;
    return run->threads > 1 || tr_usable_cpus() >= 2 ? 2 : 1;
}

/* Per event, in the units of sim_model_t.cost: the decoding and the address
 * map in the driver's thread; the reader's decompression, which shares the
 * lane's CPU below 3 CPUs. */
#define COST_DRIVER 35u
#define COST_UNZIP 12u

static unsigned model_cost(const sim_model_t *m) { return m->cost ? m->cost : 10; }

/* The lane's models [*lf, *le), a run at one end of the list; the driver's
 * thread steps the rest. The split minimises the larger thread's estimated
 * work. With checkpoints, which read the first model (ptmalloc2) in the
 * driver's thread, the lane's run is at the end. On the synthetic trace (2
 * CPUs): all five models, ptmalloc2 here and the rest in the lane (62 and
 * 56 units); ptmalloc2 and buddy, ptmalloc2 in the lane (39 and 49 units),
 * 16% faster than with ptmalloc2 here (interleaved runs). */
static void split_models(const sim_run_t *run, unsigned *lf, unsigned *le)
{
    unsigned const n = run->nmodels;
    unsigned total = 0, unzip = tr_usable_cpus() >= 3 ? 0 : COST_UNZIP, best = ~0u;
    for (unsigned m = 0; m < n; m++)
        total += model_cost(&run->models[m]);
    *lf = 0, *le = n;
    for (int at_end = 1; at_end >= 0; at_end--)
        for (unsigned k = 1; k <= n; k++) { /* the lane: [k, n) at the end, [0, k) at the start */
            if (at_end ? k == n : run->checkpoint_every && n > 1)
                break; /* the first model stays here with checkpoints */
            unsigned f = at_end ? k : 0, e = at_end ? n : k, lane = 0;
            for (unsigned m = f; m < e; m++)
                lane += model_cost(&run->models[m]);
            unsigned here = COST_DRIVER + total - lane, worst = lane + unzip > here ? lane + unzip : here;
            if (worst < best)
                best = worst, *lf = f, *le = e;
        }
}

int sim_begin(sim_run_t *run)
{
    sim_drv_t *x = calloc(1, sizeof *x);
    run->drv = x;
    /* the lane's results are written on the other thread: on lines of their
     * own, not beside the driver's (false sharing was a third of the time
     * of a lone model in the lane) */
    size_t rbytes = (run->nmodels ? run->nmodels : 1) * sizeof *run->results;
    run->results = aligned_alloc(64, rbytes);
    if (!x || !run->results || amap_init(&x->d.map, 10))
        goto oom;
    memset(run->results, 0, rbytes);
    if (run->timeline_rows && tl_init(&x->tl, run->timeline_rows, 3 + run->nmodels))
        goto oom;
    x->next_cp = run->checkpoint_every;
    /* With a second CPU, models go to a lane of their own; which ones is
     * chosen by their costs to even out the threads' work (split_models) */
    unsigned const n = run->nmodels;
    x->mfirst = 0;
    x->mend = n;
    if (sim_threads(run) > 1) {
        unsigned lf, le;
        split_models(run, &lf, &le);
        if ((x->lane = lane_start(run, lf, le))) {
            x->mfirst = lf ? 0 : le;
            x->mend = lf ? lf : n;
        }
    }
    for (unsigned m = x->mfirst; m < x->mend; m++)
        x->any_prefetch |= run->models[m].prefetch != NULL;
    return 0;
oom:
    snprintf(run->err, sizeof run->err, "out of memory");
    return -1;
}

int sim_event(sim_run_t *run, const tr_event_t *ev)
{
    sim_drv_t *x = run->drv;
    drv_t *d = &x->d;
    sim_req_t q = { .op = ev->op, .n = x->op + 1, .tid = ev->tid, .id = SIM_NO_ID,
                    .old_id = SIM_NO_ID };
    int allocating = 1, skip = 0;
    switch (ev->op) {
    case TR_OP_MALLOC:
    case TR_OP_VALLOC:
    case TR_OP_PVALLOC:
        q.size = ev->a;
        break;
    case TR_OP_FREE:
        allocating = 0;
        skip = 1;
        if (ev->a) {
            uint64_t osz;
            q.old_id = unbind(d, ev->a, ev->seq, &osz);
            if (__builtin_expect(q.old_id == SIM_NO_ID, 0)) {
                run->unknown_frees++;
            } else {
                x->live -= osz;
                release_id(d, q.old_id);
                skip = 0;
            }
        }
        break;
    case TR_OP_CALLOC:
        q.nmemb = ev->a;
        if (__builtin_mul_overflow(ev->a, ev->b, &q.size))
            q.size = UINT64_MAX;
        break;
    case TR_OP_MEMALIGN:
    case TR_OP_POSIX_MEMALIGN:
    case TR_OP_ALIGNED_ALLOC:
        q.align = ev->a;
        q.size = ev->b;
        break;
    case TR_OP_REALLOC:
    case TR_OP_REALLOCARRAY:
        if (ev->op == TR_OP_REALLOC) {
            q.size = ev->b;
        } else {
            q.nmemb = ev->b;
            if (__builtin_mul_overflow(ev->b, ev->c, &q.size))
                q.size = UINT64_MAX;
        }
        if (!ev->ret && q.size) { /* failed: the old block stays */
            allocating = 0;
            skip = 1;
            break;
        }
        if (ev->a) {
            uint64_t osz;
            q.old_id = unbind(d, ev->a, ev->release_seq, &osz);
            if (q.old_id == SIM_NO_ID)
                run->unknown_frees++;
            else
                x->live -= osz; /* its id is released after the bind */
        }
        break;
    case TR_OP_MALLOPT:
        allocating = 0;
        q.param = (int64_t)ev->a;
        q.value = (int64_t)ev->b;
        break;
    case TR_OP_MALLOC_TRIM:
        allocating = 0;
        q.value = (int64_t)ev->a;
        break;
    default:
        allocating = 0;
        break;
    }
    if (allocating) {
        if (ev->ret) {
            if (bind(d, ev->ret, ev->seq, q.size, &q.id)) {
                snprintf(run->err, sizeof run->err, "out of memory");
                return -1;
            }
            x->live += q.size;
        } else if (q.old_id == SIM_NO_ID) {
            /* a failed allocation: only the glibc model steps it (glibc's
             * failed request still consolidates the fastbins and sorts the
             * unsorted bin; the model's own result is given back), the
             * others have nothing to simulate */
            skip = 2;
        }
        if (q.old_id != SIM_NO_ID) /* realloc: new and old ids differ */
            release_id(d, q.old_id);
    }
    if (!skip) {
        for (unsigned m = x->mfirst; m < x->mend; m++)
            run->models[m].step(run->models[m].opaque, &q);
    } else if (skip == 2) {
        for (unsigned m = x->mfirst; m < x->mend; m++)
            if (run->models[m].mallinfo)
                run->models[m].step(run->models[m].opaque, &q);
    }
    uint64_t op = ++x->op;
    x->t_ns = ev->t_ns;
    int lp = 0;
    if (allocating) {
        lp = x->live > run->peak_live;
        if (lp) {
            run->peak_live = x->live;
            run->peak_live_op = op;
        }
        sim_note_peaks(run->models, run->results, x->mfirst, x->mend, x->live, op, lp);
    }
    if (x->lane)
        lane_push(x->lane, &q, x->live,
                  (skip == 1 ? 0 : skip == 2 ? LANE_FAILED : LANE_STEP) | (allocating ? LANE_ALLOC : 0) |
                      (lp ? LANE_LIVE_PEAK : 0));
    if (__builtin_expect(op == x->next_cp, 0)) {
        run->checkpoint(run->ctx, op, 0);
        x->next_cp += run->checkpoint_every;
    }
    if (x->tl.rows)
        tl_sample(run, x, op);
    return 0;
}

void sim_end(sim_run_t *run)
{
    sim_drv_t *x = run->drv;
    uint64_t op = x->op;
    if (x->lane) /* every model has seen every event */
        lane_finish(x->lane);
    run->events = op;
    run->final_live = x->live;
    run->last_t_ns = x->t_ns;
    for (unsigned m = 0; m < run->nmodels; m++)
        run->models[m].stats(run->models[m].opaque, &run->results[m].final);
    if (run->checkpoint_every)
        run->checkpoint(run->ctx, op, 1);
    tl_t *tl = &x->tl;
    if (tl->rows) {
        if (x->lane) { /* the lane sampled the same ops: its models' columns */
            const tl_t *lt = &x->lane->tl;
            unsigned const lf = x->lane->first, le = x->lane->end;
            for (size_t i = 0; i < tl->n && i < lt->n; i++)
                for (unsigned m = lf; m < le; m++)
                    tl->rows[i * tl->width + 3 + m] = lt->rows[i * lt->width + 1 + m - lf];
        }
        if (!tl->n || tl->rows[(tl->n - 1) * tl->width] != op) {
            uint64_t *row = tl->rows + tl->n++ * tl->width;
            row[0] = op;
            row[1] = x->t_ns;
            row[2] = x->live;
            for (unsigned m = 0; m < run->nmodels; m++)
                row[3 + m] = run->models[m].footprint(run->models[m].opaque);
        }
        run->timeline = tl->rows;
        run->timeline_n = tl->n;
        tl->rows = NULL;
    }
}

void sim_prefetch(const sim_run_t *run, const tr_event_t *e)
{
    const sim_drv_t *x = run->drv;
    uint64_t a = e->op == TR_OP_FREE || e->op == TR_OP_REALLOC || e->op == TR_OP_REALLOCARRAY ? e->a : e->ret;
    if (a)
        __builtin_prefetch(&x->d.map.ents[amap_home(&x->d.map, a) * 4]);
}

uint32_t sim_prefetch_ids(const sim_run_t *run, const tr_event_t *e)
{
    if ((e->op != TR_OP_FREE && e->op != TR_OP_REALLOC && e->op != TR_OP_REALLOCARRAY) || !e->a ||
        !run->drv->any_prefetch)
        return SIM_NO_ID;
    const amap_t *m = &run->drv->d.map;
    uint64_t i = amap_find(m, e->a);
    if (i == AMAP_NONE)
        return SIM_NO_ID;
    uint32_t id = (uint32_t)m->ents[i].val;
    for (unsigned k = run->drv->mfirst; k < run->drv->mend; k++)
        if (run->models[k].prefetch_id)
            run->models[k].prefetch_id(run->models[k].opaque, id);
    return id;
}

void sim_prefetch_models(const sim_run_t *run, uint32_t id)
{
    if (id == SIM_NO_ID)
        return;
    for (unsigned k = run->drv->mfirst; k < run->drv->mend; k++)
        if (run->models[k].prefetch)
            run->models[k].prefetch(run->models[k].opaque, id);
}

int sim_run(sim_run_t *run, tr_reader_t *r)
{
    if (sim_begin(run))
        return -1;
    /* a ring of the next events: each one's map slot is prefetched LA events
     * before it is simulated (the probe is the driver's one cache miss), the
     * models' slots of the object it frees LA3 events before, and what those
     * slots point to LA2 events before */
    enum { LA = 16, LA3 = 11, LA2 = 5 };
    tr_event_t ring[LA];
    uint32_t rid[LA]; /* of each event in the ring: the id it gives up, from LA3 on */
    unsigned n = 0, head = 0;
    for (unsigned k = 0; k < LA; k++)
        rid[k] = SIM_NO_ID;
    int got = 1;
    for (;;) {
        while (got > 0 && n < LA) {
            tr_event_t *e = &ring[(head + n) % LA];
            got = tr_reader_next(r, e);
            if (got > 0) {
                if (e->op == TR_OP_EXEC)
                    e->str = NULL; /* valid only until the next read; no model uses it */
                sim_prefetch(run, e);
                n++;
            }
        }
        if (!n)
            break;
        if (n > LA3)
            rid[(head + LA3) % LA] = sim_prefetch_ids(run, &ring[(head + LA3) % LA]);
        if (n > LA2)
            sim_prefetch_models(run, rid[(head + LA2) % LA]);
        if (sim_event(run, &ring[head]))
            return -1;
        rid[head] = SIM_NO_ID; /* for the event that takes this slot next */
        head = (head + 1) % LA;
        n--;
        if (run->progress && (run->drv->op & 0xfffff) == 0) {
            tr_reader_stats_t st;
            tr_reader_stats(r, &st);
            run->progress(run->ctx, run->drv->op, st.file_bytes);
        }
    }
    sim_end(run);
    if (got == 0 && tr_reader_incomplete(r, run->err, sizeof run->err))
        run->truncated = 1;
    if (got < 0) {
        const tr_error_t *e = tr_reader_error(r);
        snprintf(run->err, sizeof run->err, "%s", e->msg);
        if (e->code == TR_E_TRUNCATED)
            run->truncated = 1;
        else
            return -1;
    }
    return 0;
}

void sim_run_free(sim_run_t *run)
{
    sim_drv_t *x = run->drv;
    if (x) {
        lane_free(x->lane);
        free(x->tl.rows);
        amap_free(&x->d.map);
        free(x->d.size);
        free(x->d.freeids);
        free(x);
    }
    run->drv = NULL;
    free(run->results);
    free(run->timeline);
    run->results = NULL;
    run->timeline = NULL;
}
