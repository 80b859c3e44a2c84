#!/bin/sh
# cases.sh SIM TRACE-TOOL MKTRACE WORKDIR CASE: one CTest case of malloc-sim's
# command line per CASE (exit statuses, error lines, outputs); fails with a
# message on the first wrong result.
set -u
S=$1 T=$2 M=$3 W=$4 C=$5
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
fail() { echo "FAIL ($C): $*"; exit 1; }
# only WANT-STATUS LINE args...: the run exits WANT-STATUS with exactly LINE on stderr
only() {
    want=$1 line=$2; shift 2
    "$S" "$@" > out.txt 2> err.txt; st=$?
    [ "$st" = "$want" ] || { cat err.txt; fail "status $st (want $want) on: $*"; }
    [ "$(cat err.txt)" = "$line" ] || { cat err.txt; fail "stderr is not the one line '$line' on: $*"; }
}
json() { $PY -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)" || fail "$1: not ($2)"; }
# a small complete trace: 2000 mallocs, half of them freed
$PY -c "
for i in range(1, 2001):
    print(i, 7, i * 10, 'malloc %d -> 0x%x' % (16 + i % 300, 0x100000 + i * 0x1000))
for i in range(1, 1001):
    print(2000 + i, 7, 20000 + i * 10, 'free 0x%x' % (0x100000 + 2 * i * 0x1000))" > t.txt
"$T" import t.txt -o t.zst || fail "setup"

case $C in
brokenpipe)
    # standard output a pipe whose reader is gone (malloc-sim T --json F | true):
    # one line, status 1, and the other outputs are still written
    $PY -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)  # the reader is gone before the first write; the run gets SIGPIPE as by default
sys.exit(subprocess.call(sys.argv[1:], stdout=w, stderr=open("err.txt", "w")) & 255)' \
        "$S" t.zst --model jemalloc,buddy --json j.json --timeline tl.csv; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-sim: standard output: Broken pipe" ] || { cat err.txt; fail "status $st"; }
    json j.json 'd["events"] == 3000 and len(d["models"]) == 2'
    [ "$(wc -l < tl.csv)" -gt 1000 ] || fail "the timeline was not written"
    ;;
incomplete)
    # a trace that is not the program's whole run is simulated as far as it goes, said so
    # on stderr (one line), in the report and the JSON, exit 3: no END (a killed process
    # whose last frame is whole), an END of a recorder that stopped, events dropped
    cut="no END record: the process was killed, or the trace is still being written"
    for e in "none 0 0|$cut" "4 27 0|the recorder stopped (File too large) with 0 events dropped" \
             "4 28 7|the recorder stopped (No space left on device) with 7 events dropped" \
             "0 0 5|the recorder dropped 5 events"; do
        why=${e#*|}
        "$M" ending t.zst i.zst ${e%|*} || fail "mktrace ending ${e%|*}"
        only 3 "malloc-sim: i.zst: truncated ($why): simulated the 3000 events it holds" i.zst --json i.json
        grep -q "^  TRUNCATED: $why$" out.txt || { cat out.txt; fail "the report does not say: $why"; }
        json i.json 'd["truncated"] is True and d["truncated_reason"] == "'"$why"'" and d["events"] == 3000'
    done
    # complete: exit, _exit, a fatal signal, exec, a tool's close, none dropped
    for e in "0 0 0" "1 3 0" "2 9 0" "3 0 0" "5 0 0"; do
        "$M" ending t.zst c.zst $e || fail "mktrace ending $e"
        only 0 "" c.zst --json c.json
        grep -q TRUNCATED out.txt && fail "END $e: the report says TRUNCATED"
        json c.json 'd["truncated"] is False and "truncated_reason" not in d and d["events"] == 3000'
    done
    ;;
outclash)
    # two outputs naming one file would lose one of them: refused before anything is written
    only 2 "malloc-sim: --json and --csv name the same file (same.out)" t.zst --json same.out --checkpoints 100 --csv same.out
    only 2 "malloc-sim: --json and --timeline name the same file (same.out)" t.zst --json same.out --timeline same.out
    only 2 "malloc-sim: --csv and --timeline name the same file (same.out)" t.zst --checkpoints 100 --csv same.out --timeline same.out
    [ ! -e same.out ] || fail "same.out written"
    : > a.out && ln -s a.out b.out || fail "setup link"
    only 2 "malloc-sim: --json and --timeline name the same file (b.out)" t.zst --json a.out --timeline b.out
    [ ! -s a.out ] || fail "a.out written"
    only 0 "" t.zst --json j.out --timeline tl.out
    json j.out 'd["events"] == 3000'
    ;;
models)
    # a model list that names no model is a usage error, not an empty report
    only 2 "malloc-sim: --model '': no model named" t.zst --model ""
    only 2 "malloc-sim: --model ',': no model named" t.zst --model ,
    only 2 "malloc-sim: --model ',,': no model named" t.zst --model ,,
    only 0 "" t.zst --model ,jemalloc, --json j.json
    json j.json '[m["model"] for m in d["models"]] == ["jemalloc"]'
    ;;
usage)
    # option errors: one line and status 2, before the trace is read; whatever the
    # models chosen (a bad value is bad even for a model not run)
    tunables="unknown tunable or bad value (mmap_threshold, trim_threshold, top_pad, mxfast, arena_max, arena_test, tcache_count, tcache_max, mmap_max)"
    if [ "${HAVE_PTM:-1}" = 1 ]; then
        only 2 "malloc-sim: --tune foo=1: $tunables" t.zst --tune foo=1
        only 2 "malloc-sim: --tune mmap_threshold=abc: $tunables" t.zst --tune mmap_threshold=abc
        only 2 "malloc-sim: --tune mmap_threshold: expected name=value" t.zst --tune mmap_threshold
        only 2 "malloc-sim: --tune foo=1: $tunables" nosuch.zst --tune foo=1 --model jemalloc
    fi
    only 2 "malloc-sim: --buddy-min 24: expected a power of two in 16..4096" t.zst --buddy-min 24
    only 2 "malloc-sim: --buddy-min 24: expected a power of two in 16..4096" t.zst --buddy-min 24 --model jemalloc
    only 2 "malloc-sim: --buddy-max-order 64: expected 0..36 with --buddy-min 16" t.zst --buddy-max-order 64
    only 2 "malloc-sim: --buddy-max-order 100: expected 0..36 with --buddy-min 16" t.zst --buddy-max-order 100
    only 2 "malloc-sim: --buddy-max-order 29: expected 0..28 with --buddy-min 4096" t.zst --buddy-min 4096 --buddy-max-order 29
    only 2 "malloc-sim: --buddy-max-order -1: expected a non-negative number" t.zst --buddy-max-order -1
    only 0 "" t.zst --buddy-min 4096 --buddy-max-order 28 --tune mmap_threshold=1M,top_pad=0 --json j.json
    json j.json '[m["max_order"] for m in d["models"] if m["model"] == "buddy"] == [28]'
    ;;
*) fail "unknown case" ;;
esac
echo "ok ($C)"
