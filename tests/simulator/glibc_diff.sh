#!/bin/sh
# glibc_diff.sh SIM TRACETOOL REPLAY DIR SEED_FIRST SEED_LAST NOPS K
# The ptmalloc2 model against the real glibc: for each seed, a random trace
# (gen_trace.py) is replayed on glibc by malloc-replay --mode serial in a
# clean process, and simulated by malloc-sim; the checkpoint CSVs (mallinfo2
# every K ops and after the last) must be identical, every column, every row.
sim=$1 tt=$2 replay=$3 dir=$4 first=$5 last=$6 nops=$7 k=$8
gen=$(dirname "$0")/gen_trace.py
mkdir -p "$dir" || exit 1
fail=0 s=$first rows=0
while [ "$s" -le "$last" ]; do
    python3 "$gen" "$s" "$nops" > "$dir/s$s.txt" && "$tt" import "$dir/s$s.txt" -o "$dir/s$s.zst" || exit 1
    "$replay" "$dir/s$s.zst" --alloc glibc --mode serial --checkpoints "$k" --csv "$dir/g$s.csv" > /dev/null \
        || { echo "seed $s: malloc-replay failed"; exit 1; }
    "$sim" "$dir/s$s.zst" --model ptmalloc2 --serial --checkpoints "$k" --csv "$dir/m$s.csv" > /dev/null \
        || { echo "seed $s: malloc-sim failed"; exit 1; }
    n=$(wc -l < "$dir/g$s.csv")
    if [ "$n" -lt 3 ]; then echo "seed $s: only $n rows from glibc"; fail=1
    elif ! cmp -s "$dir/g$s.csv" "$dir/m$s.csv"; then
        echo "seed $s: differs (glibc < > model), trace $dir/s$s.txt"
        diff "$dir/g$s.csv" "$dir/m$s.csv" | head -4
        fail=1
    else
        rows=$((rows + n - 1))
        rm -f "$dir/s$s.txt" "$dir/s$s.zst" "$dir/g$s.csv" "$dir/m$s.csv"
    fi
    s=$((s + 1))
done
[ $fail -eq 0 ] && echo "seeds $first..$last: $rows checkpoint rows identical to glibc's"
exit $fail
