#!/bin/sh
# malloc-report on large traces: throughput and bounded memory, in one run.
# usage: bench/analysis/run.sh [BUILD_DIR] [EVENTS]
# Prints events/s of the full report (no replay/sim) and of --folded, against
# malloc-trace info (the same decode with a plain live map) on the same file,
# and the peak RSS at EVENTS/10 and EVENTS events with the same live set: a
# bounded-memory analyzer shows a ratio near 1. When heaptrack and the
# example are there, the same program recorded by both: heaptrack_print
# against malloc-report on their own traces.
set -eu
build=${1:-build}; events=${2:-10000000}
bin=$build/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
small=$((events / 10))
"$bin/gen_big_trace" "$tmp/small.zst" "$small" 200000 5000
"$bin/gen_big_trace" "$tmp/big.zst" "$events" 200000 5000
py=$(python3 -c 'import sys; print(sys.executable)') # the interpreter itself, not a shim
mkdir -p "$tmp/nognuplot" # a PATH without gnuplot: the RSS measured is malloc-report's, not a chart's
measure() { # prints "seconds max_rss_kib" of the command (and its largest child)
  "$py" - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
dt = time.monotonic() - t
print("%.3f %d" % (dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}
set -- $(measure "$bin/malloc-trace" info "$tmp/big.zst"); info_s=$1; info_kib=$2
set -- $(PATH="$tmp/nognuplot" measure "$bin/malloc-report" "$tmp/big.zst" -o "$tmp/rep" --no-replay --no-sim --no-progress); rep_s=$1; rep_kib=$2
set -- $(PATH="$tmp/nognuplot" measure "$bin/malloc-report" "$tmp/small.zst" -o "$tmp/rep2" --no-replay --no-sim --no-progress); small_s=$1; small_kib=$2
set -- $(measure "$bin/malloc-report" --folded "$tmp/big.zst" -o "$tmp/f.txt"); fold_s=$1
python3 - "$events" "$small" "$info_s" "$info_kib" "$rep_s" "$rep_kib" "$small_kib" "$fold_s" "$(stat -c %s "$tmp/big.zst")" <<'PY'
import sys
ev, small, info_s, info_kib, rep_s, rep_kib, small_kib, fold_s, size = sys.argv[1:]
ev, small = int(ev), int(small)
info_s, rep_s, fold_s = float(info_s), float(rep_s), float(fold_s)
print("trace: %d events (%.1f MiB), 200000-block live set, 5000 stacks of depth 12, 4 threads" % (ev, int(size) / 2**20))
print("malloc-trace info:       %6.2f s  %5.1f M events/s  peak RSS %6.1f MiB" % (info_s, ev / info_s / 1e6, int(info_kib) / 1024))
print("malloc-report (text):    %6.2f s  %5.1f M events/s  peak RSS %6.1f MiB" % (rep_s, ev / rep_s / 1e6, int(rep_kib) / 1024))
print("malloc-report --folded:  %6.2f s  %5.1f M events/s" % (fold_s, ev / fold_s / 1e6))
print("report time / info time: %.2f" % (rep_s / info_s))
print("peak RSS at %d events / at %d events (same live set): %.2f  (bounded memory: ~1)" % (ev, small, int(rep_kib) / int(small_kib)))
PY

if command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null && [ -x "$build/examples/wordfreq" ] &&
   [ -x "$bin/malloc-record" ]; then
  "$bin/malloc-record" -q -o "$tmp/wf.zst" "$build/examples/wordfreq" 300000 >/dev/null
  heaptrack -o "$tmp/ht" "$build/examples/wordfreq" 300000 >/dev/null 2>&1
  set -- $(measure heaptrack_print "$tmp/ht.zst"); ht_s=$1; ht_kib=$2
  set -- $(measure "$bin/malloc-report" "$tmp/wf.zst" -o "$tmp/wfrep" --no-replay --no-sim --no-progress); wr_s=$1; wr_kib=$2
  set -- $(PATH="$tmp/nognuplot" measure "$bin/malloc-report" "$tmp/wf.zst" -o "$tmp/wfrep2" --no-replay --no-sim --no-progress); wt_s=$1; wt_kib=$2
  python3 - "$ht_s" "$ht_kib" "$wr_s" "$wr_kib" "$wt_s" "$wt_kib" <<'PY'
import sys
ht_s, ht_kib, wr_s, wr_kib, wt_s, wt_kib = map(float, sys.argv[1:])
print("examples/wordfreq 300000 (288k events), each tool on its own trace of the same run:")
print("  heaptrack_print:                  %5.2f s  peak RSS %5.1f MiB" % (ht_s, ht_kib / 1024))
print("  malloc-report, text only:         %5.2f s  peak RSS %5.1f MiB  (%.2fx the time, %.2fx the memory)"
      % (wt_s, wt_kib / 1024, wt_s / ht_s, wt_kib / ht_kib))
print("  malloc-report, text + 4 charts:   %5.2f s  peak RSS %5.1f MiB" % (wr_s, wr_kib / 1024))
PY
fi
