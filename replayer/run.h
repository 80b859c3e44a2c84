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
    const char *env[RP_MAX_ENV]; /* --env settings, then the run's own */
    int nenv;
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

/* Runs the plan under one allocator in a fresh process. csv_fd < 0: none.
 * 0, or -1 with run->err set. */
int rp_spawn(const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *run, int csv_fd, const char *self);

void rp_print_table(FILE *f, const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *runs, int n);
/* 0, or -1 (errno) */
int rp_write_json(const char *path, const rp_opts_t *o, const rp_prep_t *prep, rp_run_t *runs, int n);

/* Latency percentile q (0..1) of a kind in ns, from the histogram. */
double rp_percentile_ns(const rp_result_t *r, int kind, double q);
double rp_ns_per_cycle(const rp_result_t *r);

#endif
