#!/bin/sh
# Builds a small corpus of real traces and runs the fuzz target over it and
# over cuts and flips of it (fuzz_main.c). usage: fuzz_corpus.sh FUZZ MALLOC_TRACE SRCDIR WORKDIR
set -eu
fuzz=$1; mt=$2; src=$3; work=$4
rm -rf "$work"; mkdir -p "$work"
"$mt" import "$src/data/all_ops.txt" -o "$work/all_ops.zst"
"$mt" import "$src/data/glibc-mtrace.log" -o "$work/mtrace.zst"
"$mt" import "$src/data/peak.txt" -o "$work/peak.zst"
"$fuzz" "$work"/*.zst
