/* settings.c - a run's environment settings from its three sources: the
 * trace's (glibc runs), --env's and the run's own --alloc ones, each of
 * which wins over the one before it.
 *
 * glibc reads a malloc tunable from GLIBC_TUNABLES or from its MALLOC_*
 * alias, and takes GLIBC_TUNABLES over the alias whatever their order; of
 * two variables of one name it reads the first (aliases, and getenv in
 * jemalloc). So precedence goes per tunable, not per variable: a setting
 * removes every weaker one of the same tunable, whether written as an alias
 * or as an entry of GLIBC_TUNABLES, and the entries left of every source
 * are merged into one GLIBC_TUNABLES. Each name appears once in the result. */
#include "run.h"

#include <stdlib.h>
#include <string.h>

/* glibc 2.36's environment aliases of its malloc tunables */
static const char *const k_alias[][2] = {
    { "MALLOC_ARENA_MAX", "glibc.malloc.arena_max" },
    { "MALLOC_ARENA_TEST", "glibc.malloc.arena_test" },
    { "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold" },
    { "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold" },
    { "MALLOC_TOP_PAD_", "glibc.malloc.top_pad" },
    { "MALLOC_MMAP_MAX_", "glibc.malloc.mmap_max" },
    { "MALLOC_CHECK_", "glibc.malloc.check" },
    { "MALLOC_PERTURB_", "glibc.malloc.perturb" },
};

int rp_glibc_alias(const char *e) {
    size_t const nl = strcspn(e, "=");
    for (size_t i = 0; i < sizeof k_alias / sizeof *k_alias; i++)
        if (strlen(k_alias[i][0]) == nl && !strncmp(e, k_alias[i][0], nl)) return e[nl] == '=';
    return 0;
}

/* One setting: a variable, or one entry of a GLIBC_TUNABLES variable. */
typedef struct atom_s {
    const char *key; /* the variable's name, or the tunable's (an alias: its tunable's) */
    size_t klen;
    const char *text; /* VAR=VALUE, or the entry name=value */
    size_t len;
    int tunable;      /* an entry of GLIBC_TUNABLES */
    int rank;         /* 0 trace, 1 --env, 2 --alloc */
} atom_t;

static const char k_tun[] = "GLIBC_TUNABLES=";

/* Appends the atoms of one setting; returns the new count. */
static size_t atoms_of(const char *s, int rank, atom_t *a, size_t n) {
    if (!strncmp(s, k_tun, sizeof k_tun - 1)) {
        for (const char *q = s + sizeof k_tun - 1; *q;) {
            size_t const l = strcspn(q, ":");
            size_t const kl = strcspn(q, "=");
            if (l) a[n++] = (atom_t){ q, kl < l ? kl : l, q, l, 1, rank };
            q += l + (q[l] == ':');
        }
        return n;
    }
    size_t const nl = strcspn(s, "=");
    atom_t x = { s, nl, s, strlen(s), 0, rank };
    for (size_t i = 0; i < sizeof k_alias / sizeof *k_alias; i++)
        if (strlen(k_alias[i][0]) == nl && !strncmp(s, k_alias[i][0], nl)) {
            x.key = k_alias[i][1];
            x.klen = strlen(x.key);
        }
    a[n++] = x;
    return n;
}

/* 1 when a setting that wins over a[i] names the same thing: one of a
 * higher rank, or a later one of the same rank. */
static int beaten(const atom_t *a, size_t n, size_t i) {
    for (size_t j = 0; j < n; j++)
        if (j != i && a[j].klen == a[i].klen && !memcmp(a[j].key, a[i].key, a[i].klen) &&
            (a[j].rank > a[i].rank || (a[j].rank == a[i].rank && j > i)))
            return 1;
    return 0;
}

int rp_run_env(rp_run_t *run, const char *const *genv, int ngenv, char *const *trace, int ntrace) {
    /* at most one atom per ':' of each setting, plus one */
    size_t cap = 1;
    const char *const *src[3] = { (const char *const *)trace, genv, run->own };
    int const cnt[3] = { ntrace, ngenv, run->nown };
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < cnt[s]; i++)
            for (const char *c = src[s][i]; *c; c++) cap += *c == ':' ? 1 : 0;
    cap += (size_t)(ntrace + ngenv + run->nown);
    atom_t *a = malloc(cap * sizeof *a);
    if (!a) return -1;
    size_t n = 0;
    /* shown as given: --env's, the run's own, then the trace's */
    static const int order[3] = { 1, 2, 0 };
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < cnt[order[o]]; i++) n = atoms_of(src[order[o]][i], order[o], a, n);
    size_t tlen = sizeof k_tun;
    for (size_t i = 0; i < n; i++) tlen += a[i].tunable ? a[i].len + 1 : 0;
    free(run->tunables);
    run->tunables = NULL;
    run->nenv = 0;
    for (size_t i = 0; i < n; i++) {
        if (beaten(a, n, i)) continue;
        if (!a[i].tunable) {
            run->env[run->nenv++] = a[i].text;
            continue;
        }
        if (!run->tunables) { /* one GLIBC_TUNABLES where its first entry stands */
            if (!(run->tunables = malloc(tlen))) { free(a); return -1; }
            memcpy(run->tunables, k_tun, sizeof k_tun);
            run->env[run->nenv++] = run->tunables;
        } else {
            strcat(run->tunables, ":");
        }
        strncat(run->tunables, a[i].text, a[i].len);
    }
    free(a);
    return 0;
}
