#!/bin/sh
# tunables.sh GEN DRIVER MODEL WORKDIR: the differential test under several
# GLIBC_TUNABLES settings (the model gets the same through pm_config_set).
dir=$4
fail=0
run() { # MODE TUNE
    TUNE=$2 sh "$(dirname "$0")/difftest.sh" "$GEN" "$DRV" "$MODEL" "$dir" 1 5 4000 100 "$1" || fail=1
}
GEN=$1 DRV=$2 MODEL=$3
run threads "mmap_threshold=65536:top_pad=0"
run threads "trim_threshold=0:mxfast=0"
run threads "tcache_count=0"
run churn "tcache_count=100:tcache_max=200"
run threads "mxfast=160:mmap_max=2"
run threads "arena_max=1"
run threads "top_pad=1000:trim_threshold=500000"
run tlimit "tcache_unsorted_limit=1"
run tlimit "tcache_unsorted_limit=4"
run many "tcache_unsorted_limit=3:arena_test=2"
exit $fail
