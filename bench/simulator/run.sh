#!/bin/sh
# malloc-sim's benchmark, in one run: speed on a 10M-event synthetic trace and
# exactness of the ptmalloc2 model against real glibc on recorded programs.
# usage: bench/simulator/run.sh [BUILD_DIR] [EVENTS] [BASE_BUILD_DIR]
# With BASE_BUILD_DIR (another build, e.g. of an older commit), also the
# speed of this build over that one: the median of the ratios of 5 pairs of
# back-to-back runs, which stays meaningful on a loaded machine where
# absolute figures do not.
# Targets (issue 5): ptmalloc2 alone >= 20M events/s, all models >= 5M/s
# (next to each, real glibc's own speed on the same trace: the model does its
# work call for call);
# checkpoint rows identical to malloc-replay --mode serial on perl, python3,
# sqlite3. Speeds are CPU time of the simulating thread (the machine is
# shared); "end to end" includes decoding the trace (zstd + varints, on a
# second thread) and is wall time.
set -eu
build=${1:-build}; events=${2:-10000000}; base=${3:-}
bin=$(cd "$build/bin" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/bench_sim_gen" "$tmp/synth.zst" "$events"
echo "trace: $events synthetic events, $(wc -c < "$tmp/synth.zst") bytes; load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
wall() { # seconds of wall time of the command
  python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print("%.3f" % (time.monotonic() - t))
PY
}
rate() { python3 -c "import sys; print('%.2f' % ($1 / $2 / 1e6))"; }
set -- $("$bin/bench_sim_step" "$tmp/synth.zst" none)
echo "decode only (tr_reader_next: zstd and varints, CPU time): $(rate "$events" "$5") M events/s, $(python3 -c "print('%.1f' % ($5 / $events * 1e9))") ns/event"
echo "driver alone (address map, ids, peaks; no model): $(rate "$events" "$3") M events/s, $(python3 -c "print('%.1f' % ($3 / $events * 1e9))") ns/event"
for m in ptmalloc2 all; do
    set -- $("$bin/bench_sim_step" "$tmp/synth.zst" "$m")
    target=20; [ "$m" = all ] && target=5
    s=$3
    w=$(wall "$bin/malloc-sim" "$tmp/synth.zst" --model "$m" --no-progress)
    printf '%-10s simulation only: %6s M events/s (%5.1f ns/event)  end to end: %6s M events/s  (target %s M/s)\n' \
        "$m" "$(rate "$events" "$s")" "$(python3 -c "print($s / $events * 1e9)")" "$(rate "$events" "$w")" "$target"
done

# The model does what glibc does on every call, on records instead of memory:
# glibc's own speed on the same trace (malloc-replay --mode serial --touch
# none: the calls alone, the harness's ~8 ns/op included) is the yardstick.
glibc_rate() { # TRACE: glibc's ops per second replaying it
    "$bin/malloc-replay" "$1" --alloc glibc --mode serial --touch none --no-progress --json "$tmp/g.json" > /dev/null 2>&1 \
        && python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runs'][0]; print('%.2f' % (r['ops'] / r['wall_ns'] * 1e3))" "$tmp/g.json" \
        || echo "?"
}
if [ -x "$bin/malloc-replay" ]; then
    echo "real glibc on the same trace (malloc-replay, touch none): $(glibc_rate "$tmp/synth.zst") M calls/s"
fi

# The same on ~10M-event traces of real programs (recorded here, no stacks).
if [ -x "$bin/malloc-record" ] && [ -x "$bin/malloc-replay" ] && [ -z "${SKIP_REAL_SPEED:-}" ]; then
    cd "$tmp"
    /usr/bin/sqlite3 -version > /dev/null 2>&1 && "$bin/malloc-record" -q --stack-depth 0 --no-follow -o sqlite3-8M.zst /usr/bin/sqlite3 :memory: \
        'create table t(a, b); with recursive c(x) as (select 1 union all select x + 1 from c where x < 2000000) insert into t select x, printf("%08d", x * 7) from c; create index i on t(b); select count(*), sum(a) from t where b like "%7%";' > /dev/null 2>&1
    /usr/bin/perl -e 1 2> /dev/null && "$bin/malloc-record" -q --stack-depth 0 --no-follow -o perl-9M.zst /usr/bin/perl -e \
        'my %h; for my $r (1..6) { $h{$_} = "x" x ($_ % 64) for 1..300000; my $n = 0; $n += length($h{$_}) for keys %h; %h = (); print "$n\n" }' > /dev/null 2>&1
    for t in sqlite3-8M perl-9M; do
        [ -s "$t.zst" ] || { echo "$t: recording failed"; continue; }
        set -- $("$bin/bench_sim_step" "$t.zst" ptmalloc2)
        ev=$2 s=$3
        w=$(wall "$bin/malloc-sim" "$t.zst" --model ptmalloc2 --no-progress)
        printf '%-10s %d events: ptmalloc2 simulation only %6s M events/s, end to end %6s M events/s; real glibc %s M calls/s  (target 20 M/s)\n' \
            "$t" "$ev" "$(rate "$ev" "$s")" "$(rate "$ev" "$w")" "$(glibc_rate "$t.zst")"
    done
    cd - > /dev/null
fi

if [ -n "$base" ]; then
    bbin=$(cd "$base/bin" && pwd)
    for m in ptmalloc2 all; do
        sn=; sb=; wn=; wb=
        for i in 1 2 3 4 5; do
            sb="$sb $("$bbin/bench_sim_step" "$tmp/synth.zst" "$m" | cut -d' ' -f3)"
            sn="$sn $("$bin/bench_sim_step" "$tmp/synth.zst" "$m" | cut -d' ' -f3)"
            wb="$wb $(wall "$bbin/malloc-sim" "$tmp/synth.zst" --model "$m" --no-progress)"
            wn="$wn $(wall "$bin/malloc-sim" "$tmp/synth.zst" --model "$m" --no-progress)"
        done
        python3 - "$m" "$sb" "$sn" "$wb" "$wn" <<'PY'
import statistics, sys
m = sys.argv[1]
sb, sn, wb, wn = [list(map(float, a.split())) for a in sys.argv[2:]]
med = statistics.median
print("%-10s vs base build (median of 5 pairs): simulation only %.2fx (%.3f s -> %.3f s), "
      "end to end %.2fx (%.3f s -> %.3f s)"
      % (m, med([b / n for b, n in zip(sb, sn)]), med(sb), med(sn),
         med([b / n for b, n in zip(wb, wn)]), med(wb), med(wn)))
PY
    done
fi

# exactness on real programs: recorded by malloc-record, replayed on glibc
if [ -x "$bin/malloc-record" ] && [ -x "$bin/malloc-replay" ]; then
    cd "$tmp"
    cat > w.pl <<'PL'
my %h; for my $i (1..30000) { $h{$i} = "x" x ($i % 300) }
delete $h{$_} for grep { $_ % 3 } keys %h; print scalar(keys %h), "\n";
PL
    cat > w.py <<'PY'
import json
d = [{"k": str(i) * (i % 50)} for i in range(30000)]
print(len(json.loads(json.dumps(d))))
PY
    cat > w.sql <<'SQL'
create table t(a, b);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 30000)
insert into t select x, hex(randomblob(x % 200)) from c;
create index i on t(b); delete from t where a % 3 = 0; select count(*) from t;
SQL
    for run in "perl perl w.pl" "python3 python3 w.py" "sqlite3 sqlite3 :memory: .read%20w.sql"; do
        set -- $run
        name=$1; shift; shift
        exe=/usr/bin/$name # the real program, not a version manager's shim script
        [ -x "$exe" ] || exe=$(command -v "$name") || { echo "$name: not installed"; continue; }
        if [ "$name" = sqlite3 ]; then
            "$bin/malloc-record" -q --stack-depth 0 --no-follow -o "$name.zst" "$exe" :memory: ".read w.sql" > /dev/null 2>&1 \
                || { echo "$name: recording failed"; continue; }
        else
            "$bin/malloc-record" -q --stack-depth 0 --no-follow -o "$name.zst" "$exe" "$@" > /dev/null 2>&1 \
                || { echo "$name: recording failed"; continue; }
        fi
        "$bin/malloc-replay" "$name.zst" --alloc glibc --mode serial --checkpoints 1000 --csv "g$name.csv" > /dev/null 2>&1 \
            || { echo "$name: replay failed"; continue; }
        "$bin/malloc-sim" "$name.zst" --model ptmalloc2 --serial --checkpoints 1000 --csv "m$name.csv" > /dev/null 2>&1 \
            || { echo "$name: simulation failed"; continue; }
        rows=$(($(wc -l < "g$name.csv") - 1))
        diff_rows=$(paste -d'|' "g$name.csv" "m$name.csv" | awk -F'|' '$1 != $2' | wc -l)
        peak_g=$(awk -F, 'NR>1 {v=$2+$3; if (v>m) m=v} END {print m+0}' "g$name.csv")
        peak_m=$(awk -F, 'NR>1 {v=$2+$3; if (v>m) m=v} END {print m+0}' "m$name.csv")
        printf '%-8s %6d checkpoint rows (every 1000 ops), %d differ from glibc; max arena+hblkhd: glibc %s, model %s\n' \
            "$name" "$rows" "$diff_rows" "$peak_g" "$peak_m"
    done
else
    echo "exactness rows skipped: $bin/malloc-record or malloc-replay missing"
fi

# multi-threaded: the model against malloc-replay --mode threads (arena choice
# under contention is not predictable from a trace: a difference is expected).
# Second row: 40 threads freeing each other's blocks, past the arena limit
# (8 x CPUs): the replay is run 3 times to show its own spread.
if [ -x "$bin/malloc-record" ] && [ -x "$bin/malloc-replay" ] && [ -x "$bin/bench_sim_mt" ]; then
    cd "$tmp"
    "$bin/malloc-record" -q --stack-depth 0 -o mt.zst "$bin/bench_sim_mt" 4 100000 > /dev/null 2>&1 \
        && "$bin/malloc-replay" mt.zst --alloc glibc --mode threads --json mt_r.json > /dev/null 2>&1 \
        && "$bin/malloc-sim" mt.zst --model ptmalloc2 --json mt_s.json > /dev/null 2>&1 \
        && python3 - mt_r.json mt_s.json <<'PY' || echo "threads row failed"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
s = json.load(open(sys.argv[2]))["models"][0]
rh = r["heap"]["arena"] + r["heap"]["hblkhd"]
sf = s["final"]["arena"] + s["final"]["hblkhd"]
t = s["threads"]
print("threads  4 threads: peak footprint model %d vs replay peak RSS %d (%+.1f%%); "
      "final arena+hblkhd model %d vs glibc %d (%+d bytes), %d arenas in the model; "
      "contention-dependent calls: %d reused_arena, %d on another thread's arena"
      % (s["peak"]["footprint_bytes"], r["peak_rss_bytes"],
         100.0 * (s["peak"]["footprint_bytes"] - r["peak_rss_bytes"]) / r["peak_rss_bytes"],
         sf, rh, sf - rh, s["bins"]["final"]["arenas"],
         t["reused_arena_calls"], t["remote_arena_ops"]))
PY
fi
if [ -x "$bin/malloc-record" ] && [ -x "$bin/malloc-replay" ] && [ -x "$bin/bench_sim_mt" ]; then
    cd "$tmp"
    "$bin/malloc-record" -q --stack-depth 0 -o mts.zst "$bin/bench_sim_mt" 40 2000 shared > /dev/null 2>&1 \
        && "$bin/malloc-sim" mts.zst --model ptmalloc2 --json mts_s.json > /dev/null 2>&1 \
        && for i in 1 2 3; do
               "$bin/malloc-replay" mts.zst --alloc glibc --mode threads --json "mts_r$i.json" > /dev/null 2>&1 || exit 1
           done \
        && python3 - mts_s.json mts_r1.json mts_r2.json mts_r3.json <<'PY' || echo "shared threads row failed"
import json, sys
s = json.load(open(sys.argv[1]))["models"][0]
rs = [json.load(open(f))["runs"][0] for f in sys.argv[2:]]
fin = [r["heap"]["arena"] + r["heap"]["hblkhd"] for r in rs]
rss = [r["peak_rss_bytes"] for r in rs]
sf = s["final"]["arena"] + s["final"]["hblkhd"]
t = s["threads"]
print("threads  40 threads, shared blocks: final arena+hblkhd model %d vs glibc %d..%d over 3 replays (%+.0f%%..%+.0f%%); "
      "peak footprint model %d vs replay peak RSS %d..%d; %d arenas in the model, %d reused_arena (first at op %d), "
      "%d calls on another thread's arena (first at op %d)"
      % (sf, min(fin), max(fin), 100.0 * (sf - max(fin)) / max(fin), 100.0 * (sf - min(fin)) / min(fin),
         s["peak"]["footprint_bytes"], min(rss), max(rss), t["arenas"], t["reused_arena_calls"],
         t["first_reused_arena_op"], t["remote_arena_ops"], t["first_remote_arena_op"]))
PY
fi
