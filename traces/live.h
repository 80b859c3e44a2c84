/* live.h - malloc-trace info's live bytes: the requested bytes of the blocks
 * live after each event in seq order, with a realloc's old block given up at
 * its release seq (FORMAT.md section 5), not at its own seq: another thread
 * may get the address back in between, before the realloc event comes. */
#ifndef TRACE_LIVE_H
#define TRACE_LIVE_H

#include <stdint.h>

#include "trace.h"

typedef struct live_s live_t;

typedef struct live_figures_s {
    uint64_t bytes, objects;   /* live after the events applied so far */
    uint64_t peak, peak_seq, peak_t; /* most bytes live, and the event (seq, t_ns) that made it */
    uint64_t unknown_frees;    /* releases of pointers not live at the time */
} live_figures_t;

live_t *live_new(void); /* NULL when out of memory */
/* Takes the next event of a reader (seq order). An event comes after a
 * realloc's release seq that it follows but may come before the realloc:
 * events are held from a seq not seen yet (a release seq still to come, or
 * a lost event) until it is accounted for, or for at most LIVE_HOLD seqs.
 * Returns 0, or TR_E_NOMEM. */
int live_event(live_t *l, const tr_event_t *ev);
/* Applies every event held: the trace has ended. 0, or TR_E_NOMEM. */
int live_end(live_t *l);
const live_figures_t *live_figures(const live_t *l);
void live_free(live_t *l);

#define LIVE_HOLD (1u << 16) /* seqs held at most before a missing one is taken as lost */

#endif
