/* read.c - feeds a trace file to the aggregation, with a progress bar on a
 * terminal. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void bar(const char *path, double frac, uint64_t events) {
    char b[31];
    int const n = (int)(frac * 30 + 0.5);
    for (int i = 0; i < 30; i++) b[i] = i < n ? '#' : '.';
    b[30] = 0;
    fprintf(stderr, "\rmalloc-report: reading %s [%s] %3d%% %llu events", path, b,
            (int)(frac * 100 + 0.5), (unsigned long long)events);
}

int rp_agg_file(const char *path, rp_agg_t *g, tr_reader_t **rp, int progress,
                int *truncated, char *errbuf, size_t cap) {
    tr_error_t err;
    *truncated = 0;
    *rp = NULL;
    tr_reader_t *r = tr_reader_open(path, &err);
    if (!r) {
        snprintf(errbuf, cap, "%s: %s", path, err.msg);
        return -1;
    }
    tr_reader_prefetch(r); /* optional: read ahead on another core */
    struct stat sb;
    double const fsize = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0
                             ? (double)sb.st_size : 0;
    progress = progress && fsize > 0 && isatty(2);
    uint64_t last_draw = now_ms();
    int drawn = 0;
    tr_event_t ev;
    int rc;
    while ((rc = tr_reader_next(r, &ev)) > 0) {
        /* A stack id the trace never defined (damage) counts as no stack, so
         * that the per-id site table stays as large as the stack table. */
        if (ev.stack >= g->nsites && ev.stack > tr_reader_stack_count(r)) ev.stack = 0;
        if (rp_agg_event(g, &ev) < 0) {
            snprintf(errbuf, cap, "%s: out of memory after %llu events", path,
                     (unsigned long long)g->events);
            tr_reader_close(r);
            return -1;
        }
        if (progress && (g->events & 0xffff) == 0) {
            uint64_t const t = now_ms();
            if (t - last_draw >= 200) {
                tr_reader_stats_t st;
                tr_reader_stats(r, &st);
                bar(path, st.file_bytes / fsize, g->events);
                last_draw = t;
                drawn = 1;
            }
        }
    }
    if (drawn) {
        bar(path, 1.0, g->events);
        fputc('\n', stderr);
    }
    if (rc < 0) {
        const tr_error_t *e = tr_reader_error(r);
        snprintf(errbuf, cap, "%s: %s", path, e->msg);
        if (e->code != TR_E_TRUNCATED) {
            tr_reader_close(r);
            return -1;
        }
        *truncated = 1;
    } else if (!tr_reader_end(r)) {
        *truncated = 1;
        snprintf(errbuf, cap, "%s: no END record: the process was killed or the trace is still "
                 "being written; every complete event was read", path);
    }
    *rp = r;
    return 0;
}
