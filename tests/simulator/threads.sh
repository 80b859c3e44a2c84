#!/bin/sh
# The models split over two threads (malloc-sim --threads 2: shared by cost,
# a run of the list at one end in the second thread; a lone model there, the
# driver in the first) give exactly the results of one thread: the report,
# the JSON and the timeline, byte for byte. Traces: a synthetic one of 300K
# events (hundreds of the lane's batches, a decimated timeline) and random
# ones with memalign, calloc, mallopt and malloc_trim (requests that carry
# extra fields across).
# usage: threads.sh MALLOC_SIM MALLOC_TRACE BENCH_SIM_GEN WORKDIR
set -eu
sim=$1 mt=$2 gen=$3 dir=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
"$gen" synth.zst 300000 > /dev/null
for seed in 3 4; do
    /usr/bin/python3 "$here/gen_trace.py" "$seed" 20000 > r$seed.txt
    "$mt" import r$seed.txt -o r$seed.zst
done
fail=0
for t in synth r3 r4; do
    for n in 1 2; do
        "$sim" $t.zst --threads $n --no-progress --json $t.$n.json --timeline $t.$n.csv > $t.$n.txt
    done
    for ext in txt json csv; do
        if ! cmp -s $t.1.$ext $t.2.$ext; then
            echo "FAIL: $t: --threads 1 and 2 differ in the $ext output"
            diff $t.1.$ext $t.2.$ext | head -5
            fail=1
        fi
    done
    for m in ptmalloc2 buddy jemalloc tcmalloc mimalloc ptmalloc2,buddy ptmalloc2,jemalloc,mimalloc; do # a lone model, in the lane; two or three, split by cost
        for n in 1 2; do
            "$sim" $t.zst --model $m --threads $n --no-progress --json $t.$m.$n.json --timeline $t.$m.$n.csv > $t.$m.$n.txt
        done
        for ext in txt json csv; do
            cmp -s $t.$m.1.$ext $t.$m.2.$ext || { echo "FAIL: $t: --model $m: --threads 1 and 2 differ in the $ext output"; fail=1; }
        done
    done
    rows=$(wc -l < $t.1.csv)
    [ "$rows" -gt 100 ] || { echo "FAIL: $t: timeline has $rows rows"; fail=1; }
    grep -q '"model": "mimalloc"' $t.1.json || { echo "FAIL: $t: no mimalloc model in the JSON"; fail=1; }
done
# the second lane really ran: a thread named sim-lane with --threads 2 and
# none with --threads 1 (the reader has threads of its own either way)
# (on a trace long enough to be seen: 2M events, some hundreds of ms)
"$gen" long.zst 2000000 > /dev/null
lane_seen() { # ARGS...: 1 if a sim-lane thread showed during the run
    "$sim" long.zst --no-progress "$@" > /dev/null &
    pid=$!
    seen=0
    while kill -0 $pid 2>/dev/null; do
        grep -qx sim-lane /proc/$pid/task/*/comm 2>/dev/null && seen=1
        sleep 0.01
    done
    wait $pid
    echo $seen
}
two=$(lane_seen --threads 2)
one=$(lane_seen --threads 1)
lone=$(lane_seen --threads 2 --model ptmalloc2)
cp=$(lane_seen --threads 2 --model ptmalloc2 --checkpoints 1000 --csv cp.csv)
echo "sim-lane thread seen: --threads 2: $two, --threads 1: $one, ptmalloc2 alone: $lone, with checkpoints: $cp"
[ "$two" = 1 ] || { echo "FAIL: --threads 2 never had a sim-lane thread"; fail=1; }
[ "$one" = 0 ] || { echo "FAIL: --threads 1 had a sim-lane thread"; fail=1; }
[ "$lone" = 1 ] || { echo "FAIL: --threads 2 --model ptmalloc2 never had a sim-lane thread"; fail=1; }
[ "$cp" = 0 ] || { echo "FAIL: checkpoints of a lone model read in the driver's thread, but a sim-lane thread ran"; fail=1; }
"$sim" long.zst --model ptmalloc2 --threads 1 --checkpoints 1000 --csv cp1.csv > /dev/null
cmp -s cp.csv cp1.csv || { echo "FAIL: checkpoint rows differ with --threads 2"; fail=1; }
"$sim" synth.zst --threads 3 > /dev/null 2> err.txt && { echo "FAIL: --threads 3 accepted"; fail=1; }
grep -q "expected 1 or 2" err.txt || { echo "FAIL: --threads 3: $(cat err.txt)"; fail=1; }
[ $fail = 0 ] && echo "ok: identical results with one and two threads"
exit $fail
