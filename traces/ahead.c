/* ahead.c - the reader's decode-ahead thread.
 *
 * tr_reader_prefetch starts a thread that runs the whole decoder (zstd,
 * varints, the merge on seq) and hands events to the caller in batches
 * through a ring of AHEAD_NB slots, so that a tool's own per-event work and
 * the decoding use two cores. Each batch carries a copy of what the caller
 * may see of the reader (tr_view_t) as it stood after the batch's last event;
 * the stack and module tables are read directly (their entries never move).
 * EXEC paths change hands with the event: the caller frees each one when it
 * asks for the next event, as in the unthreaded reader. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "reader_int.h"

static void *ahead_main(void *arg) {
    tr_reader_t *r = arg;
    tr_ahead_t *a = r->ahead;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (a->count == AHEAD_NB && !a->stop) pthread_cond_wait(&a->has_space, &a->mu);
        if (a->stop) { pthread_mutex_unlock(&a->mu); return NULL; }
        tr_batch_t *b = a->ring[(a->head + a->count) % AHEAD_NB];
        pthread_mutex_unlock(&a->mu);
        uint32_t n = 0;
        int rc = 1;
        while (n < AHEAD_BATCH) {
            tr_event_t ev; /* decoded in registers and the stack, stored once */
            rc = tr_reader_decode(r, &ev);
            if (rc <= 0) break;
            b->ev[n] = ev;
            r->cur_str = NULL; /* the path goes with the event */
            n++;
        }
        b->n = n;
        b->rc = rc;
        tr_reader_view(r, &b->view);
        pthread_mutex_lock(&a->mu);
        a->count++;
        pthread_cond_signal(&a->has_data);
        pthread_mutex_unlock(&a->mu);
        if (rc <= 0) return NULL;
    }
}

int tr_ahead_start(tr_reader_t *r) {
    if (r->ahead) return 0;
    tr_ahead_t *a = calloc(1, sizeof *a);
    if (!a) return TR_E_NOMEM;
    for (unsigned i = 0; i < AHEAD_NB; i++) {
        a->ring[i] = aligned_alloc(64, sizeof(tr_batch_t));
        if (!a->ring[i]) goto fail;
    }
    if (pthread_mutex_init(&a->mu, NULL)) goto fail;
    pthread_cond_init(&a->has_data, NULL);
    pthread_cond_init(&a->has_space, NULL);
    tr_reader_view(r, &a->view);
    /* decompression gets a thread of its own too: three stages on two cores
     * keep both busy whether the caller's per-event work is light or heavy */
    if (zsrc_prefetch(r->src)) zsrc_cancellable(r->src);
    r->ahead = a;
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved); /* the thread takes no signal */
    int const rc = pthread_create(&a->th, NULL, ahead_main, r);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc == 0) return 0;
    r->ahead = NULL;
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->has_data);
    pthread_cond_destroy(&a->has_space);
fail:
    for (unsigned i = 0; i < AHEAD_NB; i++) free(a->ring[i]);
    free(a);
    return TR_E_NOMEM;
}

/* Moves to the next batch, or repeats the last answer once the thread ended. */
int tr_ahead_next(tr_reader_t *r, tr_event_t *ev) {
    tr_ahead_t *a = r->ahead;
    for (;;) {
        tr_batch_t *b = a->cur;
        if (b && a->i < b->n) {
            *ev = b->ev[a->i++];
            if (a->str || ev->str) {
                free(a->str);
                a->str = (char *)ev->str;
            }
            return 1;
        }
        if (b && b->rc <= 0) {
            free(a->str);
            a->str = NULL;
            return b->rc;
        }
        pthread_mutex_lock(&a->mu);
        if (b) {
            a->head = (a->head + 1) % AHEAD_NB;
            a->count--;
            pthread_cond_signal(&a->has_space);
        }
        while (a->count == 0) pthread_cond_wait(&a->has_data, &a->mu);
        a->cur = a->ring[a->head];
        pthread_mutex_unlock(&a->mu);
        a->i = 0;
        a->view = a->cur->view;
    }
}

const tr_view_t *tr_ahead_view(const tr_reader_t *r) { return &r->ahead->view; }

void tr_ahead_stop(tr_reader_t *r) {
    tr_ahead_t *a = r->ahead;
    if (!a) return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_broadcast(&a->has_space);
    pthread_mutex_unlock(&a->mu);
    zsrc_stop(r->src);     /* the thread may be waiting for decompressed bytes */
    pthread_cancel(a->th); /* or, without a decompression thread, inside read(2) */
    pthread_join(a->th, NULL);
    /* EXEC paths of events never delivered */
    for (unsigned k = 0; k < a->count; k++) {
        tr_batch_t *b = a->ring[(a->head + k) % AHEAD_NB];
        for (uint32_t i = b == a->cur ? a->i : 0; i < b->n; i++) free((char *)b->ev[i].str);
    }
    free(a->str);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->has_data);
    pthread_cond_destroy(&a->has_space);
    for (unsigned i = 0; i < AHEAD_NB; i++) free(a->ring[i]);
    free(a);
    r->ahead = NULL;
}
