#!/bin/sh
# tunables.sh GEN DRIVER MODEL WORKDIR: the differential test under several
# GLIBC_TUNABLES settings (the model gets the same through pm_config_set).
dir=$4
fail=0
for tu in "mmap_threshold=65536:top_pad=0" "trim_threshold=0:mxfast=0" "tcache_count=0" \
          "tcache_count=100:tcache_max=200" "mxfast=160:mmap_max=2" "arena_max=1" \
          "top_pad=1000:trim_threshold=500000"; do
    TUNE=$tu sh "$(dirname "$0")/difftest.sh" "$1" "$2" "$3" "$dir" 1 6 4000 100 threads || fail=1
done
exit $fail
