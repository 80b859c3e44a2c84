#!/bin/sh
# The main job, end to end, on the bundled example (examples/wordfreq.c):
# record it, look at the trace, replay it against real allocators, simulate
# allocator models, and write the report. Each step runs if its tool is built.
# usage: scripts/demo.sh BUILD_DIR OUT_DIR
set -eu
build=${1:-build}; out=${2:-out}
bin=$build/bin
mkdir -p "$out"
trace=$out/wordfreq.trace.zst
step() { printf '\n== %s\n' "$*"; }

if [ -x "$bin/malloc-record" ]; then
  step "malloc-record: recording the example"
  "$bin/malloc-record" -o "$trace" "$build/examples/wordfreq" 300000
else
  step "malloc-record is not built yet: importing the bundled text trace instead"
  "$bin/malloc-trace" import tests/traces/data/all_ops.txt -o "$trace"
fi
step "malloc-trace info"
"$bin/malloc-trace" info "$trace"
if [ -x "$bin/malloc-replay" ]; then
  step "malloc-replay: the same trace against four real allocators"
  "$bin/malloc-replay" "$trace" --alloc glibc,tcmalloc,jemalloc,mimalloc --json "$out/replay.json"
fi
if [ -x "$bin/malloc-sim" ]; then
  step "malloc-sim: ptmalloc2, buddy and size-class models"
  "$bin/malloc-sim" "$trace" --json "$out/sim.json"
fi
if [ -x "$bin/malloc-report" ]; then
  step "malloc-report"
  "$bin/malloc-report" "$trace" -o "$out/report"
  echo "report: $out/report/index.html"
fi
