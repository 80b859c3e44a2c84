#!/bin/sh
# mutation.sh BUILD_BIN_DIR: does the differential test catch wrong models?
# Copies the model, plants one known bug at a time (a wrong glibc rule),
# rebuilds pm_model_run against it and counts the seeds that now differ.
# Not a CTest case (about a minute); every mutation must be "detected".
B=$1
T=$(cd "$(dirname "$0")" && pwd)
S=$T/../../simulator/ptmalloc2
w=${TMPDIR:-/tmp}/pm_mutation.$$
fail=0
mutate() { # NAME SED-EXPR FILE
    rm -rf "$w" && mkdir -p "$w" && cp "$S"/*.c "$S"/*.h "$w"/ && sed -i "$2" "$w/$3"
    if cmp -s "$w/$3" "$S/$3"; then echo "$1: mutation did not apply"; fail=1; return; fi
    cc -std=gnu11 -D_GNU_SOURCE -O2 -I"$w" -I"$T" "$T/pm_model_run.c" "$w"/pm_*.c -o "$w/run" || { fail=1; return; }
    if sh "$T/difftest.sh" "$B/pm_gen" "$B/pm_glibc_driver" "$w/run" "$w/dt" 1 30 5000 50 > "$w/log" 2>&1; then
        echo "$1: NOT DETECTED"; fail=1
    else
        echo "$1: detected, $(grep -c '^seed' "$w/log") of 30 seeds differ"
    fi
}
mutate "large bin: equal size first, not second" 's|fwd = fwd->fd; /\* always the second position \*/|fwd = fwd;|' pm_malloc.c
mutate "no last_remainder rule" 's|victim->addr == av->last_remainder \&\&|0 \&\&|' pm_malloc.c
mutate "small bins LIFO" 's|pm_chunk_t \*victim = bin->bk;|pm_chunk_t *victim = bin->fd;|' pm_malloc.c
mutate "no consolidation before a large request" '/idx = pm_largebin_index(nb);/{n;s/if (av->have_fastchunks)/if (0)/}' pm_malloc.c
mutate "systrim keeps a page more" 's|((top_area - pad) \& ~|((top_area - pad - PM_PAGE) \& ~|' pm_sys.c
mutate "mmapped size without SIZE_SZ" 's|pm_align_up(nb + PM_SIZE_SZ, PM_PAGE);|pm_align_up(nb, PM_PAGE);|' pm_sys.c
mutate "tcache holds 6" 's|h->tcache_count = 7;|h->tcache_count = 6;|' pm_api.c
rm -rf "$w"
exit $fail
