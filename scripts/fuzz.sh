#!/bin/sh
# Builds the reader's libFuzzer target with clang (ASan + UBSan) and runs it for
# a bounded time on a corpus of real traces. usage: scripts/fuzz.sh [SECONDS]
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMS_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_reader malloc-trace >/dev/null
corpus=build-fuzz/corpus
rm -rf "$corpus"; mkdir -p "$corpus"
for f in tests/traces/data/*.txt tests/traces/data/*.log; do
  build-fuzz/bin/malloc-trace import "$f" -o "$corpus/$(basename "$f").zst"
done
cp tests/traces/data/*.zst "$corpus/" # older format versions
echo "fuzz: running the trace reader under libFuzzer for ${secs}s"
build-fuzz/bin/fuzz_reader -max_total_time="$secs" -print_final_stats=0 "$corpus" 2> build-fuzz/fuzz.log || {
  tail -40 build-fuzz/fuzz.log >&2
  echo "fuzz: the reader crashed; input saved by libFuzzer (crash-*)" >&2
  exit 1
}
grep -E '^Done [0-9]+ runs' build-fuzz/fuzz.log || tail -1 build-fuzz/fuzz.log
