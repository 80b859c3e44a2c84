/* run.h - the parent's side: one run per allocator (spawn.c) and the output
 * of all runs (report.c). */
#ifndef RP_RUN_H
#define RP_RUN_H

#include "replay.h"

#include <stdio.h>

#define RP_MAX_ENV 32

typedef struct rp_run_s {
    char label[256];         /* as given in --alloc */
    char name[256];          /* allocator name or path, without :VAR=VALUE suffixes */
    char lib[4096];          /* "" = glibc (no preload) */
    int kind;
    unsigned funcs;
    const char *own[RP_MAX_ENV]; /* its own settings, from --alloc */
    int nown;
    /* what the run gets (rp_run_env): --env's, its own, the trace's; one per
     * name and per glibc tunable, GLIBC_TUNABLES merged into `tunables` */
    const char *env[2 * RP_MAX_ENV + RP_MAX_TRACE_ENV + 1];
    int nenv;
    char *tunables;
    rp_result_t *res;        /* shared with the child */
    int failed;
    char err[512];
} rp_run_t;

typedef struct rp_opts_s {
    const char *trace;
    int threads, pace, touch, progress, strict;
    uint64_t checkpoints;
    const char *csv, *json;
    uint32_t sample;
    uint64_t start_timeout;  /* seconds for a replay process to start (library loaded), 0 = no limit */
} rp_opts_t;

/* 1 if the environment entry e ("NAME=VALUE") is an allocator setting the
 * runs never inherit from the caller: MALLOC_* (not MALLOC_REPLAY_*),
 * GLIBC_TUNABLES, MIMALLOC_*, TCMALLOC_*. */
int rp_alloc_setting(const char *e);

/* Sets run->env from the settings of --env (genv), the run's own (run->own)
 * and the trace's (glibc runs; none: ntrace 0), each winning over the one
 * before it per variable and per glibc malloc tunable (settings.c). 0, or -1
 * when out of memory. */
int rp_run_env(rp_run_t *run, const char *const *genv, int ngenv, char *const *trace, int ntrace);

/* Runs the plan under one allocator in a fresh process. csv_fd < 0: none.
 * 0, or -1 with run->err set. */
int rp_spawn(const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *run, int csv_fd, const char *self);

void rp_print_table(FILE *f, const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *runs, int n);
/* Writes the document into out (tr_out_open'ed) and commits it: 0, or -1 (errno). */
struct tr_out_s;
int rp_write_json(struct tr_out_s *out, const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *runs, int n);

/* Latency percentile q (0..1) of a kind in ns, from the histogram. */
double rp_percentile_ns(const rp_result_t *r, int kind, double q);
double rp_ns_per_cycle(const rp_result_t *r);

#endif
