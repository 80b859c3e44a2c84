#!/bin/sh
# replay_test.sh REPLAY TRACE-TOOL ORACLE MKTRACE SRCDIR WORKDIR CASE
# One CTest case of malloc-replay per CASE; fails with a message on the first
# wrong result.
set -u
R=$1 T=$2 O=$3 M=$4 S=$5 W=$6 C=$7
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
ALLOCS=glibc,tcmalloc,jemalloc,mimalloc
# the system python: a version manager's shim can take seconds to start
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
fail() { echo "FAIL ($C): $*"; exit 1; }
# json FILE PYTHON-EXPR: evaluates EXPR with d = the parsed document; fails unless true
json() { $PY -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)" || fail "$1: not ($2)"; }

case $C in
oracle)
    # glibc itself is the judge: the oracle made the calls directly and wrote
    # mallinfo2 every 250 ops; the replay of its trace must give the same rows.
    for seed in 1 2 3; do
        "$O" o$seed.txt oracle$seed.csv 250 30000 $seed || fail "oracle"
        "$T" import o$seed.txt -o o$seed.zst || fail "import"
        "$R" o$seed.zst --checkpoints 250 --csv replay$seed.csv --no-progress > table$seed.txt || fail "replay seed $seed"
        [ "$(wc -l < replay$seed.csv)" -gt 100 ] || fail "too few checkpoint rows"
        cmp oracle$seed.csv replay$seed.csv || { diff oracle$seed.csv replay$seed.csv | head; fail "seed $seed: heap differs from glibc's own"; }
    done
    # also untouched memory and a checkpoint interval that does not divide the ops
    "$O" o.txt oracle.csv 777 5000 9 && "$T" import o.txt -o o.zst && "$R" o.zst --touch none --checkpoints 777 --csv r.csv >/dev/null \
        && cmp oracle.csv r.csv || fail "--touch none / interval 777"
    # an empty trace leaves the heap untouched: the replayer itself never called malloc
    printf '# nothing\n' > e.txt && "$T" import e.txt -o e.zst && "$R" e.zst --checkpoints 1 --csv e.csv --json e.json >/dev/null || fail "empty"
    [ "$(tail -1 e.csv)" = "final,0,0,0,0,0" ] || fail "empty trace: $(tail -1 e.csv)"
    json e.json 'd["runs"][0]["heap"]["arena"] == 0 and d["events"] == 0'
    # one malloc(1): a 32-byte chunk plus the thread's 656-byte tcache chunk in a fresh 132 KiB arena
    printf '1 1 0 malloc 1 -> 0x10\n' > one.txt && "$T" import one.txt -o one.zst && "$R" one.zst --json one.json >/dev/null || fail "one"
    json one.json 'd["runs"][0]["heap"]["uordblks"] == 32 + 656'
    # malloc(100) malloc(5000) free free: the 5008-byte chunk goes back to the top, the
    # 112-byte one stays in the tcache (mallinfo2 counts tcache chunks as in use)
    printf '1 1 0 malloc 100 -> 0x10\n2 1 0 malloc 5000 -> 0x100\n3 1 0 free 0x10\n4 1 0 free 0x100\n' > two.txt
    "$T" import two.txt -o two.zst && "$R" two.zst --json two.json >/dev/null || fail "two"
    json two.json 'd["runs"][0]["heap"]["uordblks"] == 112 + 656 and d["runs"][0]["heap"]["arena"] == 135168'
    ;;
determinism)
    "$O" o.txt oracle.csv 1000 40000 5 && "$T" import o.txt -o o.zst || fail "setup"
    for i in 1 2 3; do
        "$R" o.zst --checkpoints 1000 --csv r$i.csv --json r$i.json >/dev/null || fail "replay $i"
        $PY -c "import json; print(json.load(open('r$i.json'))['runs'][0]['heap'])" > heap$i.txt
    done
    cmp r1.csv r2.csv && cmp r1.csv r3.csv || fail "checkpoint CSVs differ between runs"
    cmp heap1.txt heap2.txt && cmp heap1.txt heap3.txt || fail "heap figures differ between runs"
    grep -q uordblks heap1.txt || fail "no heap figures"
    # a glibc tuning is a run of its own and gives a different, repeatable heap
    "$R" o.zst --alloc glibc:MALLOC_TOP_PAD_=1048576,glibc:MALLOC_TOP_PAD_=1048576 --json tp.json >/dev/null || fail "tuned"
    json tp.json 'd["runs"][0]["heap"] == d["runs"][1]["heap"] and d["runs"][0]["env"] == ["MALLOC_TOP_PAD_=1048576"]'
    json tp.json 'd["runs"][0]["heap"]["arena"] > 1048576'
    ;;
traceenv)
    # The traced program's malloc settings are replayed on glibc by default. The
    # oracle makes its calls under those settings; the replay of its trace, whose
    # header records them, must give the same heap at every checkpoint.
    "$O" o.txt plain.csv 500 20000 7 && "$T" import o.txt -o o.zst || fail "setup"
    set -- GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4096:glibc.malloc.mmap_threshold=4096:glibc.malloc.tcache_count=0 \
        MALLOC_TOP_PAD_=1048576 MALLOC_CONF=narenas:1 LANG=C
    env "$1" "$2" "$O" o2.txt tuned.csv 500 20000 7 || fail "oracle under the settings"
    cmp -s plain.csv tuned.csv && fail "the settings did not change glibc's heap (test is void)"
    "$M" withenv o.zst env.zst "$@" || fail "mktrace withenv"
    "$R" env.zst --alloc glibc,jemalloc --checkpoints 500 --csv r.csv --json r.json >/dev/null || fail "replay"
    cmp tuned.csv r.csv || { diff tuned.csv r.csv | head -5; fail "replay with the trace's settings differs from glibc run under them"; }
    json r.json 'd["trace_env"] == ["GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4096:glibc.malloc.tcache_count=0", "MALLOC_TOP_PAD_=1048576"]'
    json r.json '[r["env"] for r in d["runs"]] == [d["trace_env"], []] and d["runs"][0]["heap"]["hblkhd"] > 0'
    # --no-trace-env: glibc's defaults, as the plain oracle run
    "$R" env.zst --no-trace-env --checkpoints 500 --csv n.csv --json n.json >/dev/null && cmp plain.csv n.csv || fail "--no-trace-env"
    json n.json 'd["runs"][0]["env"] == []'
    # an explicit setting of the same name wins, the others stay
    "$R" env.zst --env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576 --alloc glibc,glibc:MALLOC_TOP_PAD_=0 --json x.json >/dev/null || fail "--env"
    json x.json '[r["env"] for r in d["runs"]] == [["GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576", "MALLOC_TOP_PAD_=1048576"],
        ["GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576", "MALLOC_TOP_PAD_=0"]]'
    json x.json 'd["runs"][0]["heap"]["hblkhd"] == 0'
    "$R" env.zst > table.txt || fail "table"
    grep -q "^glibc env: GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4096:glibc.malloc.tcache_count=0 MALLOC_TOP_PAD_=1048576" table.txt || fail "table: no env line"
    ;;
ops)
    "$T" import "$S/ops.txt" -o ops.zst || fail "import ops.txt"
    for a in glibc tcmalloc jemalloc mimalloc; do
        for touch in all none; do
            "$R" ops.zst --alloc $a --touch $touch --json $a.json > $a.txt 2> $a.err || { cat $a.err; fail "$a touch $touch"; }
            json $a.json 'd["events"] == 32 and d["runs"][0]["ops"] == 32 and d["unknown_frees"] == 0'
            # (a failed realloc/reallocarray must leave its object for the later free: order_errors 0)
            json $a.json 'd["runs"][0]["order_errors"] == 0 and d["runs"][0]["null_results"] == 0'
            json $a.json '{k: v["count"] for k, v in d["runs"][0]["latency_ns"].items()} == {"malloc": 2, "calloc": 1,
                "realloc": 3, "reallocarray": 2, "free": 7, "memalign": 1, "posix_memalign": 1, "aligned_alloc": 1,
                "valloc": 1, "pvalloc": 1}'
        done
    done
    # (glibc's exact figures for every op are judged by the oracle case)
    json glibc.json 'd["runs"][0]["heap"]["hblkhd"] == 0 and d["runs"][0]["heap"]["uordblks"] > 208 + 528 + 5008 + 4112 + 32 + 656'
    json jemalloc.json '"stats.allocated" in d["runs"][0]["stats"]'
    json tcmalloc.json '"generic.current_allocated_bytes" in d["runs"][0]["stats"]'
    json mimalloc.json '"peak_commit" in d["runs"][0]["stats"]'
    "$R" ops.zst --null --json null.json >/dev/null || fail "--null"
    json null.json 'd["runs"][0]["allocator"] == "null" and d["runs"][0]["ops"] == 32'
    ;;
threads)
    "$M" displaced d.zst || fail "mktrace displaced"
    for mode in serial threads; do
        "$R" d.zst --mode $mode --alloc $ALLOCS --json d-$mode.json >/dev/null || fail "displaced $mode"
        json d-$mode.json 'd["unknown_frees"] == 0 and d["threads"] == 2'
        json d-$mode.json 'all(r["order_errors"] == 0 and r["null_results"] == 0 for r in d["runs"]) and len(d["runs"]) == 4'
    done
    # glibc: nothing is left live; the two 112-byte chunks (malloc(100) twice) sit in the
    # tcache, the 5008-byte realloc result went back to the top
    json d-serial.json 'd["runs"][0]["heap"]["uordblks"] == 656 + 2 * 112'
    "$M" threads m.zst 60000 4 11 || fail "mktrace threads"
    for mode in serial threads; do
        "$R" m.zst --mode $mode --alloc $ALLOCS --json m-$mode.json >/dev/null || fail "threads trace $mode"
        json m-$mode.json 'd["unknown_frees"] == 0 and d["threads"] == 4 and all(r["ops"] == d["events"] for r in d["runs"])'
        json m-$mode.json 'all(r["order_errors"] == 0 and r["null_results"] == 0 and r["mode"] == "'$mode'" for r in d["runs"])'
    done
    "$M" threads p.zst 2000 3 12 && "$R" p.zst --mode threads --pace --json p.json >/dev/null || fail "--pace"
    json p.json 'd["runs"][0]["order_errors"] == 0 and d["runs"][0]["wall_ns"] >= 1000 * 2000'
    ;;
badinput)
    # one-line errors naming the file, non-zero status, never a crash
    one() { # one EXPECTED-STATUS NEEDLE args...
        want=$1 needle=$2; shift 2
        "$R" "$@" > out.txt 2> err.txt; st=$?
        [ $st -ge 128 ] && fail "crash ($st) on: $*"
        [ "$want" = any ] && [ $st -ne 0 ] || [ "$want" = "$st" ] || fail "status $st (want $want) on: $*"
        grep -q -- "$needle" err.txt || { cat err.txt; fail "message without '$needle' on: $*"; }
        [ "$want" = 0 ] || [ "$(wc -l < err.txt)" -le 2 ] || { cat err.txt; fail "more than a line or two on: $*"; }
    }
    "$O" o.txt oc.csv 1000 20000 4 && "$T" import o.txt -o good.zst || fail "setup"
    one 1 "nosuch.zst" nosuch.zst
    echo "hello, not a trace" > text.zst
    one 1 "text.zst" text.zst
    head -c 100 good.zst > cut.zst  # inside the first frame
    one 3 "cut.zst: .*truncated" cut.zst --json cut.json
    json cut.json 'd["truncated"] == True and d["events"] < 20000 and d["runs"][0]["ops"] == d["events"]'
    size=$(wc -c < good.zst)
    { head -c $((size / 2)) good.zst; head -c 64 /dev/urandom; tail -c +$((size / 2 + 65)) good.zst; } > corrupt.zst
    one any "corrupt.zst" corrupt.zst
    one 2 "nosuchalloc" good.zst --alloc glibc,nosuchalloc
    one 2 "libz" good.zst --alloc /usr/lib/x86_64-linux-gnu/libzstd.so.1
    grep -q "does not define malloc" err.txt || fail "library without malloc: $(cat err.txt)"
    one 2 "text.zst" good.zst --alloc ./text.zst
    one 2 "/no/such/lib.so" good.zst --alloc /no/such/lib.so
    one 2 "mode" good.zst --mode parallel
    printf '1 1 0 malloc 10 -> 0x10\n2 1 0 free 0x999\n3 1 0 free 0x10\n4 1 0 realloc 0x777 20 -> 0x20\n' > unk.txt
    "$T" import unk.txt -o unk.zst || fail "import unk"
    one 0 "unk.zst: warning: 2 frees" unk.zst --json unk.json
    json unk.json 'd["unknown_frees"] == 2 and d["runs"][0]["ops"] == 4 and d["runs"][0]["order_errors"] == 0'
    one 1 "unk.zst: 2 frees" unk.zst --strict
    ;;
output)
    "$O" o.txt oc.csv 1000 20000 6 && "$T" import o.txt -o o.zst || fail "setup"
    "$R" o.zst --alloc $ALLOCS --null --json out.json > table.txt || fail "replay"
    head -2 table.txt | grep -q "^allocator .*ns/op .*peak RSS .*peak/ideal" || fail "table header: $(head -2 table.txt)"
    for a in null glibc tcmalloc jemalloc mimalloc; do
        grep -q "^$a  *[0-9.]* *[0-9.]* " table.txt || fail "no row for $a"
    done
    grep -q "^glibc heap (mallinfo2" table.txt || fail "no glibc heap line"
    json out.json 'd["trace"] == "o.zst" and d["events"] == 20000 and [r["allocator"] for r in d["runs"]] == ["null", "glibc", "tcmalloc", "jemalloc", "mimalloc"]'
    json out.json 'all(all(k in r for k in ("allocator", "library", "mode", "env", "ops", "wall_ns", "cpu_ns",
        "ns_per_op", "peak_rss_bytes", "final_rss_bytes", "ideal_peak_bytes", "peak_rss_over_ideal", "latency_ns")) for r in d["runs"])'
    json out.json '[("heap" in r) for r in d["runs"]] == [False, True, False, False, False] and d["runs"][1]["library"] is None'
    json out.json 'all(set(r["heap"]) == {"arena", "hblkhd", "uordblks", "fordblks", "keepcost"} for r in d["runs"] if "heap" in r)'
    json out.json 'all(v["p50"] <= v["p99"] <= v["p999"] <= v["max"] for r in d["runs"] for v in r["latency_ns"].values())'
    json out.json 'all(r["peak_rss_bytes"] >= r["final_rss_bytes"] and r["ideal_peak_bytes"] > 0 for r in d["runs"])'
    json out.json 'd["runs"][2]["library"].endswith(".so.4") and d["runs"][1]["ops"] == 20000'
    # RSS over time: its live_bytes against live bytes computed from the text trace, its shape
    $PY "$S/live_oracle.py" o.txt out.json || fail "rss_over_time"
    # threads mode samples by time (10 ms): at least the first and the last op
    "$R" o.zst --mode threads --alloc glibc --json th.json >/dev/null || fail "threads"
    json th.json 'd["runs"][0]["rss_over_time"]["unit"] == "ns" and d["runs"][0]["rss_over_time"]["op"][0] == 0'
    json th.json 'd["runs"][0]["rss_over_time"]["op"][-1] == 20000 and "live_bytes" not in d["runs"][0]["rss_over_time"]'
    # settings whose values hold ':' and ',' (jemalloc's MALLOC_CONF) stay whole
    "$R" o.zst --alloc jemalloc:MALLOC_CONF=narenas:1,dirty_decay_ms:0,glibc:MALLOC_ARENA_MAX=1:MALLOC_TOP_PAD_=0 \
        --env MALLOC_PERTURB_=0 --json env.json > /dev/null || fail "settings"
    json env.json '[r["env"] for r in d["runs"]] == [["MALLOC_PERTURB_=0", "MALLOC_CONF=narenas:1,dirty_decay_ms:0"],
        ["MALLOC_PERTURB_=0", "MALLOC_ARENA_MAX=1", "MALLOC_TOP_PAD_=0"]]'
    # a trace long enough to time one op in several: rare ops are still timed, each of them
    $PY -c "
n = 0
def ev(s):
    global n
    n += 1
    print(n, 1, n, s)
for i in range(80000):
    ev('malloc %d -> 0x%x' % (16 + i % 100, 0x1000 + 16 * (i % 64)))
    ev('free 0x%x' % (0x1000 + 16 * (i % 64)))
    if i % 30000 == 7:
        ev('memalign 64 100 -> 0x90000')
        ev('realloc 0x90000 200 -> 0x90000')
        ev('free 0x90000')" > rare.txt
    "$T" import rare.txt -o rare.zst && "$R" rare.zst --alloc glibc,jemalloc --json rare.json >/dev/null || fail "rare ops"
    json rare.json 'all(r["latency_sample"] > 1 and r["latency_ns"]["memalign"]["count"] == 3 and r["latency_ns"]["realloc"]["count"] == 3 for r in d["runs"])'
    json rare.json 'all(r["latency_ns"]["malloc"]["count"] < 80000 / 2 for r in d["runs"])'
    # progress bar: on stderr when it is a terminal and the replay lasts over a second, never otherwise
    printf '1 1 0 malloc 10 -> 0x10\n2 1 1500000000 free 0x10\n' > slow.txt && "$T" import slow.txt -o slow.zst || fail "slow"
    script -qec "'$R' slow.zst --mode threads --pace" /dev/null > tty.txt 2>&1 || fail "replay on a terminal"
    grep -q 'glibc *\[[#.]*\] *[0-9.]*%' tty.txt || { cat -v tty.txt; fail "no progress bar on a terminal"; }
    "$R" slow.zst --mode threads --pace > notty.txt 2> notty.err || fail "replay, stderr a file"
    [ ! -s notty.err ] || { cat -v notty.err; fail "stderr not a terminal, yet: $(cat notty.err)"; }
    script -qec "'$R' slow.zst --mode threads --pace --no-progress" /dev/null > tty2.txt 2>&1 || fail "--no-progress"
    grep -q '%' tty2.txt && { cat -v tty2.txt; fail "a progress bar despite --no-progress"; }
    grep -q '^glibc ' tty2.txt || fail "no table on the terminal: $(cat -v tty2.txt)"
    # the JSON's heap equals the CSV's final row
    "$R" o.zst --checkpoints 5000 --csv c.csv --json c.json > /dev/null || fail "csv"
    $PY -c "
import json, sys
h = json.load(open('c.json'))['runs'][0]['heap']
last = open('c.csv').read().split()[-1].split(',')
sys.exit(0 if last == ['final'] + [str(h[k]) for k in ('arena', 'hblkhd', 'uordblks', 'fordblks', 'keepcost')] else 1)" \
        || fail "JSON heap differs from the CSV's final row"
    [ "$(head -1 c.csv)" = "op,arena,hblkhd,uordblks,fordblks,keepcost" ] || fail "CSV header"
    [ "$(cut -d, -f1 c.csv | tr '\n' ' ')" = "op 5000 10000 15000 20000 final " ] || fail "CSV rows: $(cut -d, -f1 c.csv | tr '\n' ' ')"
    ;;
*) fail "unknown case" ;;
esac
echo "ok ($C)"
