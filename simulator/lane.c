/* lane.c - the worker thread of the driver's second lane (lane.h), and the
 * timeline and peak helpers both lanes share. */
#include "lane.h"

#include <signal.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

int tl_init(tl_t *t, unsigned rows, size_t width)
{
    t->width = width;
    t->cap = rows < 4 ? 4 : rows - 1; /* + the final row */
    t->stride = 1;
    t->n = 0;
    t->rows = malloc((t->cap + 1) * width * 8);
    return t->rows ? 0 : -1;
}

uint64_t *tl_row(tl_t *t, uint64_t op)
{
    if (op % t->stride && op != 1)
        return NULL;
    if (t->n == t->cap) { /* keep the first row and every other stride */
        size_t k = 1;
        for (size_t i = 1; i < t->n; i++)
            if (t->rows[i * t->width] % (2 * t->stride) == 0)
                memmove(t->rows + k++ * t->width, t->rows + i * t->width, t->width * 8);
        t->n = k;
        t->stride *= 2;
        if (op % t->stride && op != 1)
            return NULL;
    }
    uint64_t *r = t->rows + t->n++ * t->width;
    r[0] = op;
    return r;
}

void sim_new_peak(sim_model_t *md, sim_result_t *res, uint64_t fp, uint64_t live, uint64_t op)
{
    res->peak_footprint = fp;
    res->peak_op = op;
    res->live_at_peak = live;
    if (md->at_peak)
        md->at_peak(md->opaque);
    md->stats(md->opaque, &res->at_peak);
}

/* Steps the worker's models through one batch. */
static void run_batch(lane_t *l, const lane_batch_t *b)
{
    sim_model_t *const models = l->models;
    unsigned const first = l->first, end = l->end;
    /* the models fetch the state of a freed object AHEAD items early, and
     * their slot of it (where that state is) AHEAD_ID items early */
    enum { AHEAD = 8, AHEAD_ID = 16 };
    for (uint32_t i = 0; i < b->n; i++) {
        if (i + AHEAD_ID < b->n) {
            const lane_item_t *f = &b->it[i + AHEAD_ID];
            if (f->old_id != SIM_NO_ID)
                for (unsigned m = first; m < end; m++)
                    if (models[m].prefetch_id)
                        models[m].prefetch_id(models[m].opaque, f->old_id);
        }
        if (i + AHEAD < b->n) {
            const lane_item_t *f = &b->it[i + AHEAD];
            if (f->old_id != SIM_NO_ID) /* (an extension item: a harmless wrong hint) */
                for (unsigned m = first; m < end; m++)
                    if (models[m].prefetch)
                        models[m].prefetch(models[m].opaque, f->old_id);
        }
        const lane_item_t *it = &b->it[i];
        sim_req_t q = { .op = it->op, .n = ++l->n, .tid = it->tid, .id = it->id,
                        .old_id = it->old_id, .size = it->size };
        if (it->flags & LANE_EXT) {
            const lane_ext_t *e = (const lane_ext_t *)&b->it[++i];
            q.nmemb = e->nmemb;
            q.align = e->align;
            q.param = e->param;
            q.value = e->value;
        }
        if (it->flags & LANE_STEP)
            for (unsigned m = first; m < end; m++)
                models[m].step(models[m].opaque, &q);
        else if (it->flags & LANE_FAILED)
            for (unsigned m = first; m < end; m++)
                if (models[m].mallinfo)
                    models[m].step(models[m].opaque, &q);
        if (it->flags & LANE_ALLOC)
            sim_note_peaks(models, l->results, first, end, it->live, q.n, !!(it->flags & LANE_LIVE_PEAK));
        if (l->tl.rows) {
            uint64_t *r = tl_row(&l->tl, q.n);
            if (r)
                for (unsigned m = first; m < end; m++)
                    r[1 + m - first] = models[m].footprint(models[m].opaque);
        }
    }
}

static void *lane_main(void *arg)
{
    lane_t *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->count == 0)
            pthread_cond_wait(&l->has_data, &l->mu);
        lane_batch_t *b = l->ring[l->head];
        pthread_mutex_unlock(&l->mu);
        run_batch(l, b);
        uint32_t last = b->last;
        pthread_mutex_lock(&l->mu);
        l->head = (l->head + 1) % LANE_NB;
        l->count--;
        pthread_cond_signal(&l->has_space);
        pthread_mutex_unlock(&l->mu);
        if (last)
            return NULL;
    }
}

lane_t *lane_start(sim_run_t *run, unsigned first, unsigned end)
{
    lane_t *l = aligned_alloc(64, sizeof *l);
    if (!l)
        return NULL;
    memset(l, 0, sizeof *l);
    l->models = run->models;
    l->results = run->results;
    l->first = first;
    l->end = end;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    l->prefetchw = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c >> 8) & 1;
#endif
    if (run->timeline_rows && tl_init(&l->tl, run->timeline_rows, 1 + end - first))
        goto fail;
    for (unsigned k = 0; k <= LANE_NB; k++)
        if (!(l->all[k] = aligned_alloc(64, sizeof(lane_batch_t))))
            goto fail;
    l->fill = l->all[0];
    l->fill->n = l->fill->last = 0;
    if (pthread_mutex_init(&l->mu, NULL))
        goto fail;
    pthread_cond_init(&l->has_data, NULL);
    pthread_cond_init(&l->has_space, NULL);
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved); /* the worker takes no signal */
    int rc = pthread_create(&l->th, NULL, lane_main, l);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc == 0) {
        pthread_setname_np(l->th, "sim-lane"); /* what tests and ps see */
        l->running = 1;
        return l;
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->has_data);
    pthread_cond_destroy(&l->has_space);
fail:
    for (unsigned k = 0; k <= LANE_NB; k++)
        free(l->all[k]);
    free(l->tl.rows);
    free(l);
    return NULL;
}

void lane_flush(lane_t *l, int last)
{
    lane_batch_t *b = l->fill;
    b->last = (uint32_t)last;
    pthread_mutex_lock(&l->mu);
    while (l->count == LANE_NB)
        pthread_cond_wait(&l->has_space, &l->mu);
    l->ring[(l->head + l->count) % LANE_NB] = b;
    l->count++;
    pthread_cond_signal(&l->has_data);
    /* of the LANE_NB + 1 batches, the one in none of the ring's slots */
    lane_batch_t *next = NULL;
    for (unsigned k = 0; k <= LANE_NB && !next; k++) {
        int used = 0;
        for (unsigned j = 0; j < l->count; j++)
            used |= l->ring[(l->head + j) % LANE_NB] == l->all[k];
        if (!used)
            next = l->all[k];
    }
    pthread_mutex_unlock(&l->mu);
    next->n = 0;
    l->fill = next;
    for (unsigned k = 0; k < LANE_AHEAD; k += 2) /* two items a line */
        lane_prefetchw(l, &next->it[k]);
}

void lane_finish(lane_t *l)
{
    if (!l->running)
        return;
    lane_flush(l, 1);
    pthread_join(l->th, NULL);
    l->running = 0;
}

void lane_free(lane_t *l)
{
    if (!l)
        return;
    lane_finish(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->has_data);
    pthread_cond_destroy(&l->has_space);
    for (unsigned k = 0; k <= LANE_NB; k++)
        free(l->all[k]);
    free(l->tl.rows);
    free(l);
}
