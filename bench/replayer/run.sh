#!/bin/sh
# bench/replayer/run.sh [BUILD_DIR] [OPS] - malloc-replay against the targets of issue 4:
#   harness throughput with --null (>= 100M ops/s serial on a 10M-op trace),
#   the harness's share of the loop time with --alloc glibc (<= 10%),
#   identical heap figures from two serial glibc replays,
#   preprocessing speed (events/s, no target in the issue),
#   peak RSS of a real single-threaded program (perl) reproduced within 5%.
# Prints ratios measured in this run. Times are the replay loop's own (the
# child's wall and CPU time around the loop), from the JSON output; on a
# shared machine the CPU figures are the steadier ones.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${1:-$root/build}
N=${2:-10000000}
B=$BUILD/bin
[ -x "$B/malloc-replay" ] || { echo "run.sh: $B/malloc-replay not built" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/replay-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cc -O2 -I"$root/traces" "$here/gen.c" "$BUILD/lib/libtrace_fmt.a" -lzstd -lpthread -o "$tmp/gen"
"$tmp/gen" "$tmp/big.zst" "$N"
echo "trace: $N ops (synthetic, single thread: malloc/calloc/realloc/free, live set <= 64k objects)"
echo "machine load (1/5/15 min, $(nproc) CPUs): $(cut -d' ' -f1-3 /proc/loadavg); wall figures include time other processes took"

t0=$(date +%s.%N)
"$B/malloc-replay" "$tmp/big.zst" --null --alloc glibc --touch none --no-progress --json "$tmp/none.json" > /dev/null
t1=$(date +%s.%N)
"$B/malloc-replay" "$tmp/big.zst" --null --alloc glibc --touch all --no-progress --json "$tmp/all.json" > /dev/null
echo "preprocessing + 2 replays (trace read once): $(python3 -c "print(f'{$t1 - $t0:.1f}')") s total"
python3 "$here/figures.py" prep "$tmp/none.json"
python3 "$here/figures.py" speed "$tmp/none.json"
python3 "$here/figures.py" touched "$tmp/all.json"

# For reference (not the target's measurement): the loop alone, in one process, best of 5 passes
R=$root/replayer
cc -D_GNU_SOURCE -O2 -fno-semantic-interposition -I"$R" -I"$root/traces" "$here/loop.c" "$R/prep.c" "$R/engine.c" \
    "$R/wfmt.c" "$BUILD/lib/libtrace_fmt.a" -lzstd -lpthread -o "$tmp/loop"
echo "the --null loop alone (bench/replayer/loop.c, in-process, touch none): $("$tmp/loop" "$tmp/big.zst" 5 | tail -1)"

"$B/malloc-replay" "$tmp/big.zst" --alloc glibc,glibc --touch none --no-progress --json "$tmp/det.json" > /dev/null
python3 "$here/figures.py" determinism "$tmp/det.json"

# Peak RSS of a real single-threaded program, against its replay.
REC=""
for c in "$root/build/bin/malloc-record" "$BUILD/bin/malloc-record"; do [ -x "$c" ] && REC=$c && break; done
if [ -z "$REC" ]; then
    echo "peak RSS reproduction: skipped (malloc-record not built)"
    exit 0
fi
prog='my %h; $h{$_} = "x" x ($_ % 300) for 1..300000; my @a = map { [$_, "y" x ($_ % 90)] } 1..200000; delete $h{$_} for 1..100000; print scalar(keys %h), "\n";'
base=$(/usr/bin/time -f %M perl -e '1' 2>&1 >/dev/null | tail -1)
orig=$(/usr/bin/time -f %M perl -e "$prog" 2>&1 >/dev/null | tail -1)
"$REC" -q --stack-depth 0 -o "$tmp/perl.zst" -- perl -e "$prog" > /dev/null
"$B/malloc-replay" "$tmp/perl.zst" --alloc glibc --no-progress --json "$tmp/perl.json" > /dev/null
python3 "$here/figures.py" rss "$tmp/perl.json" "$base" "$orig"
"$B/malloc-replay" "$tmp/perl.zst" --null --alloc glibc --touch none --no-progress --json "$tmp/perl-none.json" > /dev/null
echo "the same perl trace, replayed:"
python3 "$here/figures.py" speed "$tmp/perl-none.json"
