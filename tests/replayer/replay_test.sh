#!/bin/sh
# replay_test.sh REPLAY TRACE-TOOL ORACLE MKTRACE SRCDIR HANGLIB WORKDIR CASE
# One CTest case of malloc-replay per CASE; fails with a message on the first
# wrong result.
set -u
R=$1 T=$2 O=$3 M=$4 S=$5 H=$6 W=$7 C=$8
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
ALLOCS=glibc,tcmalloc,jemalloc,mimalloc
# the system python: a version manager's shim can take seconds to start
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
fail() { echo "FAIL ($C): $*"; exit 1; }
# the cases run without allocator settings of the caller's (the runs would not get
# them, and malloc-replay would say so on stderr)
for v in $(env | sed -n 's/^\(MALLOC_[A-Za-z0-9_]*\|GLIBC_TUNABLES\|MIMALLOC_[A-Za-z0-9_]*\|TCMALLOC_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done
# json FILE PYTHON-EXPR: evaluates EXPR with d = the parsed document; fails unless true
# only WANT-STATUS LINE args...: the run exits WANT-STATUS with exactly LINE on stderr
only() {
    want=$1 line=$2; shift 2
    "$R" "$@" > out.txt 2> err.txt; st=$?
    [ "$st" = "$want" ] || { cat err.txt; fail "status $st (want $want) on: $*"; }
    [ "$(cat err.txt)" = "$line" ] || { cat err.txt; fail "stderr is not the one line '$line' on: $*"; }
}
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
    # (per tunable: the trace's tcache_count=0 stays in GLIBC_TUNABLES; case tunables)
    json x.json '[r["env"] for r in d["runs"]] == [["GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.tcache_count=0", "MALLOC_TOP_PAD_=1048576"],
        ["GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.tcache_count=0", "MALLOC_TOP_PAD_=0"]]'
    json x.json 'd["runs"][0]["heap"]["hblkhd"] == 0'
    "$R" env.zst > table.txt || fail "table"
    grep -q "^glibc env: GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4096:glibc.malloc.tcache_count=0 MALLOC_TOP_PAD_=1048576" table.txt || fail "table: no env line"
    ;;
tunables)
    # Settings win per glibc tunable, not per variable: glibc reads a tunable from
    # GLIBC_TUNABLES over its MALLOC_* alias, and the first of two variables of one
    # name. Each replay must equal glibc run directly under the settings it claims.
    "$O" o.txt plain.csv 500 20000 7 && "$T" import o.txt -o o.zst || fail "setup"
    mt=glibc.malloc.mmap_threshold=4096 tc=glibc.malloc.tcache_count=0
    env GLIBC_TUNABLES=$mt:$tc "$O" o2.txt both.csv 500 20000 7 || fail "oracle, both tunables"
    env GLIBC_TUNABLES=$tc "$O" o2.txt tc.csv 500 20000 7 || fail "oracle, tcache_count"
    env MALLOC_TOP_PAD_=0 "$O" o2.txt pad0.csv 500 20000 7 || fail "oracle, top pad 0"
    env MALLOC_TOP_PAD_=1048576 "$O" o2.txt pad1m.csv 500 20000 7 || fail "oracle, top pad 1 MiB"
    cmp -s both.csv tc.csv || cmp -s pad0.csv pad1m.csv || cmp -s pad0.csv plain.csv && fail "settings without effect (test is void)"
    # a GLIBC_TUNABLES of the run's own adds to the trace's (it replaced it)
    "$M" withenv o.zst mt.zst GLIBC_TUNABLES=$mt || fail "mktrace"
    "$R" mt.zst --no-progress --alloc glibc:GLIBC_TUNABLES=$tc --checkpoints 500 --csv r.csv --json r.json > out.txt || fail "replay"
    cmp both.csv r.csv || fail "GLIBC_TUNABLES=$tc on a trace with $mt: not glibc's heap under both"
    json r.json 'd["runs"][0]["env"] == ["GLIBC_TUNABLES='$tc:$mt'"]'
    grep -q "^glibc:GLIBC_TUNABLES=$tc env: GLIBC_TUNABLES=$tc:$mt$" out.txt || fail "table: $(grep env: out.txt)"
    # an alias of the run's own over the trace's tunable (glibc took the tunable)
    "$M" withenv o.zst pad.zst GLIBC_TUNABLES=glibc.malloc.top_pad=1048576:$tc || fail "mktrace"
    "$R" pad.zst --no-progress --alloc glibc:MALLOC_TOP_PAD_=0 --checkpoints 500 --csv r.csv --json r.json > /dev/null || fail "replay alias"
    env MALLOC_TOP_PAD_=0 GLIBC_TUNABLES=$tc "$O" o2.txt pad0tc.csv 500 20000 7 || fail "oracle, top pad 0 and tcache_count"
    cmp pad0tc.csv r.csv || fail "MALLOC_TOP_PAD_=0 on a trace with glibc.malloc.top_pad=1048576: not glibc's heap under top pad 0"
    json r.json 'd["runs"][0]["env"] == ["MALLOC_TOP_PAD_=0", "GLIBC_TUNABLES='$tc'"]'
    # a tunable of the run's own over the trace's alias (the table showed both)
    "$M" withenv o.zst alias.zst MALLOC_TOP_PAD_=1048576 || fail "mktrace"
    "$R" alias.zst --no-progress --alloc glibc:GLIBC_TUNABLES=glibc.malloc.top_pad=0 --checkpoints 500 --csv r.csv --json r.json > /dev/null || fail "replay tunable"
    cmp pad0.csv r.csv || fail "glibc.malloc.top_pad=0 on a trace with MALLOC_TOP_PAD_: not glibc's heap under top pad 0"
    json r.json 'd["runs"][0]["env"] == ["GLIBC_TUNABLES=glibc.malloc.top_pad=0"]'
    # the run's own setting over --env's of the same name (glibc read the first: --env's)
    "$R" o.zst --no-progress --env MALLOC_TOP_PAD_=1048576 --alloc glibc:MALLOC_TOP_PAD_=0 --checkpoints 500 --csv r.csv --json r.json > /dev/null || fail "replay --env"
    cmp pad0.csv r.csv || fail "--alloc glibc:MALLOC_TOP_PAD_=0 under --env MALLOC_TOP_PAD_=1048576: not glibc's heap under 0"
    json r.json 'd["runs"][0]["env"] == ["MALLOC_TOP_PAD_=0"]'
    # GLIBC_TUNABLES of --env and of the run merge, the run's entry winning
    "$R" o.zst --no-progress --env GLIBC_TUNABLES=$mt:glibc.malloc.tcache_count=7 --alloc glibc:GLIBC_TUNABLES=$tc --checkpoints 500 --csv r.csv --json r.json > /dev/null || fail "replay merge"
    cmp both.csv r.csv || fail "--env and --alloc GLIBC_TUNABLES: not glibc's heap under both"
    json r.json 'd["runs"][0]["env"] == ["GLIBC_TUNABLES='$mt:$tc'"]'
    # the most --env settings and a setting of the run's own (it crashed: the run's table overflowed)
    set --; for i in $(seq 32); do set -- "$@" --env V$i=1; done
    "$R" o.zst --no-progress "$@" --alloc glibc:MALLOC_TOP_PAD_=0:MALLOC_ARENA_MAX=1 --json r.json > /dev/null 2> err.txt || { cat err.txt; fail "32 --env and 2 settings: status $?"; }
    json r.json 'len(d["runs"][0]["env"]) == 34'
    ;;
callerenv)
    # the caller's allocator settings do not reach the runs (results do not depend on
    # the calling shell): glibc's heap is the default one, jemalloc does not see
    # MALLOC_CONF; stderr says once what was left out; --env and --alloc still apply
    "$O" o.txt plain.csv 500 20000 7 && "$T" import o.txt -o o.zst || fail "setup"
    caller="MALLOC_TOP_PAD_=16777216 GLIBC_TUNABLES=glibc.malloc.tcache_count=0 MALLOC_CONF=bogus:1 MIMALLOC_VERBOSE=1"
    env $caller "$R" o.zst --no-progress --alloc glibc,jemalloc --checkpoints 500 --csv r.csv --json r.json > out.txt 2> err.txt \
        || { cat err.txt; fail "replay"; }
    [ "$(cat err.txt)" = "malloc-replay: not passed to the runs (give them with --env or --alloc): $caller" ] \
        || { cat err.txt; fail "stderr is not the one line naming the settings left out"; }
    cmp plain.csv r.csv || { diff plain.csv r.csv | head -5; fail "the caller's settings changed glibc's heap"; }
    json r.json '[r["env"] for r in d["runs"]] == [[], []]'
    grep -q "env:" out.txt && fail "the table shows settings: $(grep env: out.txt)"
    # the same settings given as options are applied and shown
    env $caller "$R" o.zst --no-progress --env MALLOC_TOP_PAD_=16777216 --json e.json > out.txt 2> /dev/null || fail "--env"
    json e.json 'd["runs"][0]["env"] == ["MALLOC_TOP_PAD_=16777216"] and d["runs"][0]["heap"] != json.load(open("r.json"))["runs"][0]["heap"]'
    grep -q "^glibc env: MALLOC_TOP_PAD_=16777216$" out.txt || fail "no env line: $(cat out.txt)"
    # the replayer's own MALLOC_REPLAY_START_TIMEOUT is not an allocator setting
    MALLOC_REPLAY_START_TIMEOUT=5 "$R" o.zst --no-progress > out.txt 2> err.txt && [ ! -s err.txt ] || { cat err.txt; fail "MALLOC_REPLAY_*"; }
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
    # the recorded times are followed with --pace only (threads mode followed
    # them always: a 2 s gap between two calls took 2 s)
    printf '1 100 1000 malloc 24 -> 0x1000\n2 101 2000000000 free 0x1000\n' > gap.txt
    "$T" import gap.txt -o gap.zst || fail "import gap.txt"
    "$R" gap.zst --mode threads --no-progress --json gap.json > /dev/null || fail "gap, threads"
    json gap.json 'd["runs"][0]["wall_ns"] < 1000000000'
    "$R" gap.zst --mode threads --pace --no-progress --json gap-p.json > /dev/null || fail "gap, threads --pace"
    json gap-p.json 'd["runs"][0]["wall_ns"] >= 1900000000'
    ;;
wakeups)
    # threads mode: a lane waiting on another is woken when the count it waits for is
    # reached, not at every op of the other lane (that cost two syscalls and two context
    # switches per op: 3.8 us per op with the null allocator). Thread 2's first free
    # waits for thread 1's 20000th malloc; the library counts the futex wake-up calls.
    $PY -c "
n = 20000
for i in range(n):
    print(i + 1, 1, i, 'malloc 16 -> 0x%x' % (0x100000 + 32 * i))
for i in range(n):
    print(n + i + 1, 2, n + i, 'free 0x%x' % (0x100000 + 32 * (n - 1 - i)))" > w.txt
    "$T" import w.txt -o w.zst || fail "import"
    fc=$(dirname "$H")/librp_futexcount.so
    "$R" w.zst --no-progress --mode threads --alloc "$fc" --env FUTEX_COUNT=$PWD/wakes --json w.json > out.txt 2> err.txt || { cat err.txt; fail "replay"; }
    json w.json 'd["runs"][0]["ops"] == 40000 and d["runs"][0]["order_errors"] == 0 and d["threads"] == 2'
    wakes=$($PY -c "import struct; print(struct.unpack('<QQQ', open('wakes', 'rb').read())[0])")
    # the start, the last lane's end, one per wait (a wait may re-ask after 10 ms)
    [ "$wakes" -le 100 ] || fail "$wakes futex wake-up calls for one wait"
    # a thread starts once its creator has made it: thread 2, made by thread 1 after
    # 20000 mallocs, makes its malloc(777) after them (it ran from the start)
    $PY -c "
n = 20000
for i in range(n):
    print(i + 1, 1, i, 'malloc 16 -> 0x%x' % (0x100000 + 32 * i))
print(n + 1, 2, n, 'thread_start 1')
print(n + 2, 2, n + 1, 'malloc 777 -> 0x10')
print(n + 3, 2, n + 2, 'free 0x10')" > s.txt
    "$T" import s.txt -o s.zst || fail "import s.txt"
    rm -f wakes
    "$R" s.zst --no-progress --mode threads --alloc "$fc" --env FUTEX_COUNT=$PWD/wakes > out.txt 2> err.txt || { cat err.txt; fail "replay thread_start"; }
    before=$($PY -c "import struct; print(struct.unpack('<QQQ', open('wakes', 'rb').read())[1])")
    [ "$before" -gt 20000 ] || fail "thread 2's malloc came after $before mallocs, before its creator made it"
    # 100 threads made one in every 1000 mallocs of thread 1, each waiting for its start:
    # a lane wakes the waiters whose count it reached, not all of them (each woke
    # at every start, ~5000 futex waits)
    $PY -c "
s = 0
def ev(tid, what):
    global s
    s += 1
    print(s, tid, s, what)
for k in range(100):
    for i in range(1000):
        ev(1, 'malloc 16 -> 0x%x' % (0x100000 + 32 * (1000 * k + i)))
    ev(2 + k, 'thread_start 1')
    ev(2 + k, 'malloc 32 -> 0x%x' % (0x10000000 + 64 * k))" > h.txt
    "$T" import h.txt -o h.zst || fail "import h.txt"
    rm -f wakes
    "$R" h.zst --no-progress --mode threads --alloc "$fc" --env FUTEX_COUNT=$PWD/wakes --json h.json > out.txt 2> err.txt || { cat err.txt; fail "replay 100 starts"; }
    json h.json 'd["threads"] == 101 and d["runs"][0]["ops"] == 100200 and d["runs"][0]["order_errors"] == 0'
    waits=$($PY -c "import struct; print(struct.unpack('<QQQ', open('wakes', 'rb').read())[2])")
    [ "$waits" -le 1000 ] || fail "$waits futex waits for 100 thread starts"
    ;;
lanecost)
    # threads mode: the lanes' threads are the harness's, made before the baseline is read
    # (1500 lanes gave the null allocator a peak RSS of 12.5 MiB: their stacks; and their
    # creation was in the wall time). 1500 threads, each a malloc and a free of 16 bytes.
    $PY -c "
for t in range(1500):
    print(2 * t + 1, 100 + t, t, 'malloc 16 -> 0x%x' % (0x100000 + 32 * t))
    print(2 * t + 2, 100 + t, t, 'free 0x%x' % (0x100000 + 32 * t))" > l.txt
    "$T" import l.txt -o l.zst || fail "import"
    "$R" l.zst --no-progress --mode threads --null --alloc glibc --json l.json > out.txt 2> err.txt || { cat err.txt; fail "replay"; }
    json l.json 'd["threads"] == 1500 and all(r["ops"] == 3000 and r["order_errors"] == 0 for r in d["runs"])'
    json l.json 'd["runs"][0]["allocator"] == "null" and d["runs"][0]["peak_rss_bytes"] < 2 << 20'
    json l.json 'd["runs"][0]["baseline_rss_bytes"] > 1500 * 16384'
    # too many threads for the process limit: the run fails saying how far it got and why
    if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null && command -v prlimit > /dev/null; then
        setpriv --reuid=65534 --regid=65534 --clear-groups prlimit --nproc=100 "$R" l.zst --no-progress --mode threads --alloc null > out.txt 2> err.txt; st=$?
        [ $st = 1 ] && [ "$(wc -l < err.txt)" = 1 ] && grep -q "^malloc-replay: l.zst: null: cannot start the replay threads ([0-9]* of 1500 started): Resource temporarily unavailable$" err.txt \
            || { cat err.txt; fail "thread limit: status $st"; }
    else
        echo "skipped the thread-limit case: needs root, setpriv and prlimit"
    fi
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
    # a library ld.so cannot load (a dependency it cannot find): ld.so's reason is the
    # run's one line (ld.so printed its own, then the run said 'cannot start ... in replay mode')
    nd=$(dirname "$H")/librp_needsdep.so
    only 1 "malloc-replay: good.zst: $nd: cannot load the library: librp_dep.so: cannot open shared object file: No such file or directory" \
        good.zst --no-progress --alloc "$nd"
    # (the same library linked without the NEEDED entry: ld.so's symbol lookup error)
    nu=$(dirname "$H")/librp_undefsym.so
    only 1 "malloc-replay: good.zst: $nu: cannot load the library: symbol lookup error: $nu: undefined symbol: rp_dep_value" \
        good.zst --no-progress --alloc "$nu"
    one 2 "mode" good.zst --mode parallel
    printf '1 1 0 malloc 10 -> 0x10\n2 1 0 free 0x999\n3 1 0 free 0x10\n4 1 0 realloc 0x777 20 -> 0x20\n' > unk.txt
    "$T" import unk.txt -o unk.zst || fail "import unk"
    one 0 "unk.zst: warning: 2 frees" unk.zst --json unk.json
    json unk.json 'd["unknown_frees"] == 2 and d["runs"][0]["ops"] == 4 and d["runs"][0]["order_errors"] == 0'
    one 1 "unk.zst: 2 frees" unk.zst --strict
    ;;
incomplete)
    # a trace that is not the program's whole run is replayed as far as it goes, said so
    # on stderr (one line), in the table and the JSON, exit 3: no END (a killed process
    # whose last frame is whole), an END of a recorder that stopped, events dropped
    "$O" o.txt oc.csv 100 2000 3 && "$T" import o.txt -o o.zst || fail "setup"
    cut="no END record: the process was killed, or the trace is still being written"
    for e in "none 0 0|$cut" "4 27 0|the recorder stopped (File too large) with 0 events dropped" \
             "4 28 7|the recorder stopped (No space left on device) with 7 events dropped" \
             "0 0 5|the recorder dropped 5 events"; do
        why=${e#*|}
        "$M" ending o.zst i.zst ${e%|*} || fail "mktrace ending ${e%|*}"
        only 3 "malloc-replay: i.zst: truncated ($why); replaying the 2000 events it holds" i.zst --no-progress --json i.json
        grep -q "^TRUNCATED trace (what it holds was replayed): $why$" out.txt || { cat out.txt; fail "the table does not say: $why"; }
        json i.json 'd["truncated"] is True and d["truncated_reason"] == "'"$why"'" and d["runs"][0]["ops"] == 2000'
    done
    # complete: exit, _exit, a fatal signal, exec, a tool's close, none dropped
    for e in "0 0 0" "1 3 0" "2 9 0" "3 0 0" "5 0 0"; do
        "$M" ending o.zst c.zst $e || fail "mktrace ending $e"
        only 0 "" c.zst --no-progress --json c.json
        grep -q TRUNCATED out.txt && fail "END $e: the table says TRUNCATED"
        json c.json 'd["truncated"] is False and "truncated_reason" not in d and d["runs"][0]["ops"] == 2000'
    done
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
    # one op in latency_sample is timed, mallocs and frees alike: a fixed stride aliased
    # with the loop's period (malloc, free), every timed op was a malloc or every one a free
    json rare.json 'all(0.8 < r["latency_ns"][k]["count"] * r["latency_sample"] / 80000 < 1.2 for r in d["runs"] for k in ("malloc", "free"))'
    "$R" rare.zst --mode threads --alloc glibc --json rare-t.json >/dev/null || fail "rare ops, threads"
    json rare-t.json 'all(0.8 < r["latency_ns"][k]["count"] * r["latency_sample"] / 80000 < 1.2 for r in d["runs"] for k in ("malloc", "free"))'
    # no timed op of a kind: '-', not 0 ns (callocs only: no malloc, no free)
    printf '1 1 0 calloc 1 10 -> 0x10\n2 1 0 calloc 1 10 -> 0x20\n' > cal.txt && "$T" import cal.txt -o cal.zst || fail "import cal"
    "$R" cal.zst --no-progress > cal.out || fail "callocs"
    grep -q "^glibc .* -  *- *$" cal.out || fail "latencies of kinds without a timed op: $(grep '^glibc ' cal.out)"
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
allocpath)
    # a library path holding ',', ':' or '=' is taken whole when it names a file, with
    # its settings and other allocators after it, and is really preloaded (LD_PRELOAD
    # splits at ':'): jemalloc's statistics show it ran
    "$O" o.txt oc.csv 100 2000 3 && "$T" import o.txt -o o.zst || fail "setup"
    je=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    mkdir -p "a,b:C=1" && ln -s "$je" "a,b:C=1/libjemalloc.so" || fail "setup link"
    lib=$PWD/a,b:C=1/libjemalloc.so
    "$R" o.zst --no-progress --alloc "$lib,glibc" --json p.json > out.txt 2> err.txt || { cat err.txt; fail "path alone"; }
    [ ! -s err.txt ] || { cat err.txt; fail "stderr: $(cat err.txt)"; }
    json p.json '[(r["allocator"], r["library"], r["env"]) for r in d["runs"]] == [("'"$lib"'", "'"$lib"'", []), ("glibc", None, [])]'
    json p.json '"stats.allocated" in d["runs"][0]["stats"] and d["runs"][0]["ops"] == 2000'
    "$R" o.zst --no-progress --alloc "$lib:MALLOC_CONF=narenas:1,dirty_decay_ms:0,glibc:MALLOC_ARENA_MAX=1" --json s.json > out.txt 2> err.txt \
        || { cat err.txt; fail "path with settings"; }
    [ ! -s err.txt ] || { cat err.txt; fail "stderr: $(cat err.txt)"; }
    json s.json '[(r["library"], r["env"]) for r in d["runs"]] == [("'"$lib"'", ["MALLOC_CONF=narenas:1,dirty_decay_ms:0"]), (None, ["MALLOC_ARENA_MAX=1"])]'
    json s.json '"stats.allocated" in d["runs"][0]["stats"]'
    # --alloc given twice: both lists' runs, each split on its own (the last one alone ran)
    "$R" o.zst --no-progress --alloc "$lib:MALLOC_CONF=narenas:1,dirty_decay_ms:0" --alloc glibc,null --json t.json > out.txt 2> err.txt || { cat err.txt; fail "two --alloc"; }
    json t.json '[(r["allocator"], r["env"]) for r in d["runs"]] == [("'"$lib"':MALLOC_CONF=narenas:1,dirty_decay_ms:0", ["MALLOC_CONF=narenas:1,dirty_decay_ms:0"]), ("glibc", []), ("null", [])]'
    # a path that names no file is still split as before: an error naming what is missing
    only 2 "malloc-replay: $PWD/a: No such file or directory" o.zst --alloc "$PWD/a,b:C=1/nosuch.so"
    ;;
outclash)
    # an output path naming the input trace is refused before anything is written
    "$O" o.txt oc.csv 100 2000 3 && "$T" import o.txt -o k.zst && cp k.zst keep.zst && ln -s k.zst link.zst || fail "setup"
    only 2 "malloc-replay: k.zst: --json would overwrite the input trace" k.zst --json k.zst --no-progress
    only 2 "malloc-replay: k.zst: --csv would overwrite the input trace" k.zst --checkpoints 10 --csv k.zst --no-progress
    only 2 "malloc-replay: ./k.zst: --json would overwrite the input trace" link.zst --json ./k.zst --no-progress
    cmp k.zst keep.zst || fail "the trace was changed"
    only 2 "malloc-replay: --csv and --json name the same file (r.out) (see --help)" k.zst --checkpoints 10 --csv r.out --json r.out
    "$R" k.zst --json k.json --checkpoints 10 --csv k.csv --no-progress > /dev/null || fail "distinct outputs refused"
    ;;
writeerr)
    # every failed write is one error line and status 1; the other outputs are still written
    "$O" o.txt oc.csv 100 2000 3 && "$T" import o.txt -o o.zst || fail "setup"
    # a JSON path that takes no file: one line before any run (it came after every run and the table)
    for j in nosuch/j.json /; do
        only 1 "malloc-replay: $j: $( [ $j = / ] && echo 'Is a directory' || echo 'No such file or directory')" o.zst --no-progress --json $j
        [ ! -s out.txt ] || fail "--json $j: the runs were made: $(cat out.txt)"
    done
    "$R" o.zst --no-progress --json ok.json > /dev/full 2> err.txt; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: standard output: No space left on device" ] || { cat err.txt; fail "stdout /dev/full: status $st"; }
    json ok.json 'd["events"] == 2000'
    # a full device of our own as root: a broken output check would rename
    # a file over the device it is given, and /dev/full is the machine's
    # (root with a node that does not work, on a nodev mount: the case is
    # skipped rather than aimed at the machine's device)
    full=/dev/full
    if [ "$(id -u)" = 0 ]; then
        rm -f full
        full=
        if mknod full c 1 7 2> /dev/null; then
            dd if=/dev/zero of=full bs=1 count=1 2>&1 | grep -q "No space left on device" && full=$PWD/full
        fi
    fi
    if [ -n "$full" ]; then
        "$R" o.zst --no-progress --json "$full" > table.txt 2> err.txt; st=$?
        [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: $full: No space left on device" ] || { cat err.txt; fail "--json $full: status $st"; }
        grep -q "^glibc " table.txt || fail "the table was lost"
        only 1 "malloc-replay: $full: No space left on device" o.zst --no-progress --checkpoints 1 --csv "$full" --json ok2.json
        [ -c "$full" ] || fail "$full is no longer a device"
        json ok2.json 'd["runs"][0]["ops"] == 2000'
    else
        echo "skipped the device cases: no working full device of our own"
    fi
    rm -f full
    ;;
brokenpipe)
    # standard output a pipe whose reader is gone (malloc-replay T --json F | true):
    # one line, status 1, and the JSON and the CSV are still written
    "$O" o.txt oc.csv 100 2000 3 && "$T" import o.txt -o o.zst || fail "setup"
    $PY -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)  # the reader is gone before the first write; the run gets SIGPIPE as by default
sys.exit(subprocess.call(sys.argv[1:], stdout=w, stderr=open("err.txt", "w")) & 255)' \
        "$R" o.zst --no-progress --checkpoints 100 --csv c.csv --json j.json; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: standard output: Broken pipe" ] || { cat err.txt; fail "status $st"; }
    json j.json 'd["runs"][0]["ops"] == 2000'
    cmp oc.csv c.csv || fail "the CSV differs from the oracle's"
    ;;
partial)
    # a write that fails part-way leaves no partial file: no file at all, or the previous one unchanged
    "$O" o.txt oc.csv 100 6000 3 && "$T" import o.txt -o o.zst || fail "setup"
    "$R" o.zst --no-progress --checkpoints 1 --csv good.csv --json good.json > /dev/null || fail "uncapped run"
    [ "$(wc -c < good.csv)" -gt 150000 ] || fail "the CSV is too small for the test ($(wc -c < good.csv) bytes)"
    # capped ARGS...: malloc-replay under a file size limit of 140000 bytes (writes past it fail
    # with EFBIG). The limit is set in bytes, whatever the shell's ulimit units; it must leave room
    # for the plan and result blocks (memfds under the same limit: ~113 KB and 129 KiB here).
    capped() {
        $PY -c 'import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_FSIZE, (140000, 140000))
os.execv(sys.argv[1], sys.argv[1:])' "$R" "$@" > out.txt 2> err.txt
    }
    noleft() { left=$(ls | grep '\.tmp\.'); [ -z "$left" ] || fail "temporary files left: $left"; }
    # the CSV, written by the glibc run's process through a file descriptor
    capped o.zst --no-progress --checkpoints 1 --csv c.csv --json j.json; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: c.csv: File too large" ] || { cat err.txt; fail "capped CSV: status $st"; }
    [ ! -e c.csv ] || fail "a partial CSV at the target ($(wc -c < c.csv) bytes)"
    noleft
    json j.json 'd["runs"][0]["ops"] == 6000'
    grep -q "^glibc " out.txt || fail "the table was lost"
    printf 'op,arena\n1,2\n' > c.csv && cp c.csv old.csv
    capped o.zst --no-progress --checkpoints 1 --csv c.csv; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: c.csv: File too large" ] || { cat err.txt; fail "capped CSV over an old one: status $st"; }
    cmp c.csv old.csv || fail "the previous CSV was changed"
    noleft
    # the JSON: 110 runs of the null allocator make it larger than the limit
    nulls=null; for i in $(seq 109); do nulls=$nulls,null; done
    capped o.zst --no-progress --alloc $nulls --json j2.json; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: j2.json: File too large" ] || { cat err.txt; fail "capped JSON: status $st"; }
    [ ! -e j2.json ] || fail "a partial JSON at the target ($(wc -c < j2.json) bytes)"
    noleft
    cp good.json j2.json
    capped o.zst --no-progress --alloc $nulls --json j2.json; st=$?
    [ $st = 1 ] && [ "$(cat err.txt)" = "malloc-replay: j2.json: File too large" ] || { cat err.txt; fail "capped JSON over an old one: status $st"; }
    cmp j2.json good.json || fail "the previous JSON was changed"
    noleft
    # a good run replaces both whole
    "$R" o.zst --no-progress --checkpoints 1 --csv c.csv --json j2.json > /dev/null || fail "rewrite"
    cmp c.csv good.csv || fail "rewritten CSV differs"
    json j2.json 'd["runs"][0]["heap"] == json.load(open("good.json"))["runs"][0]["heap"]'
    noleft
    ;;
nullhuge)
    # the null allocator returns NULL, like glibc, for sizes it cannot serve (it crashed on them)
    printf '1 1 0 malloc 9223372036854775807 -> 0x1000\n2 1 0 free 0x1000\n3 1 0 malloc 140737488355328 -> 0x2000\n4 1 0 calloc 4611686018427387904 8 -> 0x3000\n5 1 0 realloc 0x2000 140737488355328 -> 0x4000\n6 1 0 malloc 100 -> 0x5000\n7 1 0 memalign 9223372036854775808 16 -> 0x6000\n8 1 0 free 0x5000\n' > hm.txt
    "$T" import hm.txt -o hm.zst || fail "import"
    for touch in all none; do
        "$R" hm.zst --no-progress --alloc null,glibc --touch $touch --json hm.json > table.txt 2> err.txt; st=$?
        [ $st = 0 ] || { cat err.txt; fail "huge sizes, touch $touch: status $st"; }
        json hm.json '[r["allocator"] for r in d["runs"]] == ["null", "glibc"] and d["runs"][0]["null_results"] == d["runs"][1]["null_results"] == 5'
    done
    grep -q "^null: 5 allocations returned NULL" table.txt || fail "no NULL count in the table: $(cat table.txt)"
    # 40 MiB (over half the null allocator's ring, within the ring) is still served
    printf '1 1 0 malloc 41943040 -> 0x1000\n2 1 0 free 0x1000\n' > big.txt && "$T" import big.txt -o big.zst || fail "import big"
    "$R" big.zst --no-progress --alloc null --json big.json > /dev/null || fail "40 MiB"
    json big.json 'd["runs"][0]["null_results"] == 0'
    ;;
numbers)
    # negative, overflowing, empty or non-numeric values of numeric options are usage errors
    "$O" o.txt oc.csv 100 500 3 && "$T" import o.txt -o o.zst || fail "setup"
    only 2 "malloc-replay: --checkpoints -1: expected a positive number (see --help)" o.zst --checkpoints -1 --csv c.csv
    only 2 "malloc-replay: --checkpoints 0: expected a positive number (see --help)" o.zst --checkpoints 0 --csv c.csv
    only 2 "malloc-replay: --checkpoints 18446744073709551616: too large (at most 18446744073709551615) (see --help)" o.zst --checkpoints 18446744073709551616 --csv c.csv
    only 2 "malloc-replay: --checkpoints 1e3: expected a positive number (see --help)" o.zst --checkpoints 1e3 --csv c.csv
    only 2 "malloc-replay: --checkpoints : expected a positive number (see --help)" o.zst --checkpoints "" --csv c.csv
    only 2 "malloc-replay: --sample -4: expected a positive number (see --help)" o.zst --sample -4
    only 2 "malloc-replay: --sample 3: expected a power of two (see --help)" o.zst --sample 3
    only 2 "malloc-replay: --sample 2097152: too large (at most 1048576) (see --help)" o.zst --sample 2097152
    only 2 "malloc-replay: --start-timeout -1: expected a non-negative number (see --help)" o.zst --start-timeout -1
    [ ! -e c.csv ] || fail "c.csv written"
    "$R" o.zst --checkpoints 18446744073709551615 --csv c.csv --sample 1048576 --start-timeout 0 >/dev/null 2>&1 || fail "largest values refused"
    [ "$(cut -d, -f1 c.csv | tr '\n' ' ')" = "op final " ] || fail "CSV rows: $(cat c.csv)"
    # checkpoint rows are the harness's time, out of the CPU figure as out of the
    # wall one (cpu_ns counted them: 10880 ms of CPU against 148 ms of wall)
    "$O" big.txt bigc.csv 100000 100000 4 && "$T" import big.txt -o big.zst || fail "setup big"
    "$R" big.zst --alloc glibc --checkpoints 1 --csv bc.csv --json bc.json > /dev/null 2>&1 || fail "checkpoints 1"
    json bc.json 'd["runs"][0]["cpu_ns"] < 1.5 * d["runs"][0]["wall_ns"] + 20000000'
    ;;
starthang)
    # a library whose constructor never returns: that run fails with one line naming it, the others go on
    "$O" o.txt oc.csv 100 500 3 && "$T" import o.txt -o o.zst || fail "setup"
    "$R" o.zst --no-progress --alloc "$H" --start-timeout 1 > out.txt 2> err.txt; st=$?
    [ $st = 1 ] || fail "status $st"
    [ "$(wc -l < err.txt)" = 1 ] && grep -q "^malloc-replay: o.zst: $H: .*did not start within 1 s" err.txt || { cat err.txt; fail "message"; }
    MALLOC_REPLAY_START_TIMEOUT=1 "$R" o.zst --no-progress --alloc "glibc,$H" --json j.json > out.txt 2> err.txt; st=$?
    [ $st = 1 ] && grep -q "did not start within 1 s" err.txt || { cat err.txt; fail "env: status $st"; }
    json j.json '[r["allocator"] for r in d["runs"]] == ["glibc"]'
    MALLOC_REPLAY_START_TIMEOUT=x "$R" o.zst > out.txt 2> err.txt; st=$?
    [ $st = 2 ] && [ "$(cat err.txt)" = "malloc-replay: MALLOC_REPLAY_START_TIMEOUT=x: expected a number of seconds" ] || { cat err.txt; fail "bad env: status $st"; }
    ;;
usage)
    # option errors: one reason line and status 2; --help: the usage on stdout, status 0
    "$O" o.txt oc.csv 100 500 3 && "$T" import o.txt -o o.zst || fail "setup"
    only 2 "malloc-replay: no trace given (see --help)"
    only 2 "malloc-replay: unknown option --bogus (see --help)" o.zst --bogus
    only 2 "malloc-replay: --json needs a value (see --help)" o.zst --json
    only 2 "malloc-replay: --mode x: expected serial or threads (see --help)" o.zst --mode x
    only 2 "malloc-replay: one trace at a time (o.zst and p.zst) (see --help)" o.zst p.zst
    only 2 "malloc-replay: --alloc: no allocator named (see --help)" o.zst --alloc ""
    only 2 "malloc-replay: --env =1: expected VAR=VALUE (see --help)" o.zst --env =1
    only 2 "malloc-replay: --env X: expected VAR=VALUE (see --help)" o.zst --env X
    only 2 "malloc-replay: --alloc glibc:=1: =1: expected VAR=VALUE" o.zst --alloc glibc:=1
    # LD_PRELOAD as a setting ran another allocator under the run's name (glibc's mallinfo2 all 0)
    je=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    only 2 "malloc-replay: --env LD_PRELOAD=$je: the library a run preloads is its allocator: give it in --alloc (a path) (see --help)" o.zst --env LD_PRELOAD=$je
    only 2 "malloc-replay: --alloc glibc:LD_PRELOAD=$je: LD_PRELOAD=$je: the library a run preloads is its allocator: give it in --alloc (a path)" o.zst --alloc glibc:LD_PRELOAD=$je
    "$R" --help > out.txt 2> err.txt || fail "--help status"
    [ ! -s err.txt ] && head -1 out.txt | grep -q "^usage: malloc-replay" || fail "--help output"
    only 0 "" --check-options --alloc glibc,null
    only 2 "malloc-replay: nosuch: unknown allocator (use glibc, tcmalloc, jemalloc, mimalloc or a path to a library)" --check-options --alloc nosuch
    ;;
*) fail "unknown case" ;;
esac
echo "ok ($C)"
