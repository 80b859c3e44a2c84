#!/bin/sh
# A trace cut short at any byte (a killed process, a full disk): malloc-trace
# says so in one line, 'file ends inside a zstd frame (cut short?)' as README
# shows (it said 'file ends inside a record header' or '... a record of N
# bytes' for nearly every cut, the record the cut frame left unfinished), or
# 'no END record' at a frame boundary, and exits 3 (a trace cut inside its
# first frame, before the HEADER was whole, exited 1 as 'not a malloc
# trace: too short', where FORMAT.md and spec_decode.py say truncated).
# usage: cut_test.sh MALLOC_TRACE WORKDIR
set -u
mt=$1; work=$2
. "$(dirname "$0")/checks.sh"
t_begin "$work"
awk 'BEGIN { srand(3); for (i = 1; i <= 300000; i++) printf "%d %d %d malloc %d -> 0x%x\n", i, 1 + i % 3, i * 10, int(rand() * 5000), int(rand() * 1e9) * 16 }' > big.txt
"$mt" import big.txt -o big.zst || exit 1
size=$(wc -c < big.zst)
for cut in 3 6 20 60 100 300 1000 5000 $((size / 7)) $((size / 3)) $((size / 2)) $((size - 100)) $((size - 3)); do
  head -c $cut big.zst > cut.zst
  for cmd in dump info; do
    "$mt" $cmd cut.zst > /dev/null 2> err.txt; rc=$?
    if [ $rc -ne 3 ]; then bad "$cmd, cut at $cut of $size: exit $rc: $(cat err.txt)"; continue; fi
    if [ "$(wc -l < err.txt)" -ne 1 ] || ! grep -q '^malloc-trace: cut.zst: .*\(file ends inside a zstd frame (cut short?)\|no END record\)' err.txt; then
      bad "$cmd, cut at $cut of $size: $(cat err.txt)"; continue
    fi
    ok
  done
done
t_end
