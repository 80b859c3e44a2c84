#!/bin/sh
# bench/recorder/run.sh [BUILD_DIR] - malloc-record against untraced runs and
# heaptrack, side by side in one run (issue 3's targets).
#
# For each program: wall time untraced, under malloc-record (stacks on,
# default settings) and under heaptrack (heaptrack -o FILE prog), median of
# RUNS (default 3). Prints wall-time ratios, malloc-record's added time over
# heaptrack's, trace bytes per event, events per second, both file sizes,
# and the target next to each figure:
#   real programs (perl, python3, sqlite3, gcc, and gcc's cc1 alone): rec/base <= 1.10
#   loops and threaded churn: (rec - base) <= 0.1 x (heaptrack - base)
#   trace size <= heaptrack's file
# ONLY="sqlite3 loop1M" runs those rows alone. Takes ~15 minutes at RUNS=5 on the 2-CPU test VM, most of it heaptrack on
# cc1 (~150 s a run).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
build=$(cd "$build" && pwd) || exit 2
rec=$build/bin/malloc-record
[ -x "$rec" ] || { echo "run.sh: $rec: not built" >&2; exit 2; }
command -v heaptrack > /dev/null || { echo "run.sh: heaptrack not installed" >&2; exit 2; }
runs=${RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/recbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/loop" "$here/loop.c" && cc -O2 -pthread -o "$work/churn" "$here/churn.c" || exit 2
cp "$here/../../traces/reader.c" "$here/../../traces/"*.h "$work/" # gcc's input

# time_of CMD...: "wall,cpu" seconds of one run, to the microsecond (cpu = user
# + sys of the whole process tree), output discarded. (GNU time's %e has
# 10 ms steps: too coarse for sqlite3's 0.15 s.)
time_of() {
    /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys, time
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t = time.monotonic() - t0
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.6f,%.6f" % (t, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime), end="")
PY
}
walls() { tr ' ' '\n' | grep . | cut -d, -f1 | tr '\n' ' '; }
cpus() { tr ' ' '\n' | grep . | cut -d, -f2 | tr '\n' ' '; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf '%-9s %8s %8s %9s %8s %8s %10s %-26s %8s %9s %10s %10s %-7s %8s %8s %9s %9s %s\n' \
    program base_s rec_s heaptr_s rec/base ht/base added_r/h target rec_B/ev rec_ev/s rec_bytes ht_bytes size_ok \
    cpu_r/b cpu_h/b rec_ev ht_calls size_bound_B
echo "(wall seconds, median of $runs; cpu_r/b and cpu_h/b: user+sys ratios, steadier on a busy machine;"
echo " rec_ev: events malloc-record wrote; ht_calls: allocation calls in heaptrack's file, per heaptrack_print;"
echo " size_bound_B: bytes the event times and the identity of each freed object need at least (size_bound.py),"
echo " content heaptrack drops; 'exceeds': more than heaptrack's whole file, so no trace carrying them meets the size target)"
bench() { # name kind(real|loop) cmd...
    name=$1 kind=$2; shift 2
    case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
    b="" r="" h=""
    for i in $(seq "$runs"); do
        b="$b $(time_of "$@")"
        rm -f "$work"/t.*.zst "$work"/ht.*
        r="$r $(time_of "$rec" -q -o "$work/t.%p.zst" -- "$@")"
        h="$h $(time_of heaptrack -o "$work/ht" "$@")"
    done
    # sizes and events of the last run (malloc-record: every process's trace)
    "$rec" -o "$work/s.%p.zst" -- "$@" > /dev/null 2> "$work/summary"
    ev=$(awk '/^malloc-record:   [0-9]+ events,/ {s += $2} END {print s + 0}' "$work/summary")
    rb=$(awk '/^malloc-record:   [0-9]+ events,/ {s += $4} END {print s + 0}' "$work/summary")
    hb=$(cat "$work"/ht.* 2>/dev/null | wc -c)
    # the fewest bytes the content heaptrack drops needs (size_bound.py):
    # for one process only (heaptrack's file holds gcc's driver alone)
    bound=-
    if [ "$(ls "$work"/s.*.zst 2> /dev/null | wc -l)" -eq 1 ] && "$build/bin/malloc-trace" dump --no-header "$work"/s.*.zst > "$work/dump"; then
        bound=$(python3 "$here/size_bound.py" "$work/dump" "$hb" | awk '{print $3 "(" $5 ")"}')
    fi
    rm -f "$work"/s.*.zst "$work/dump"
    hc=$(heaptrack_print "$work"/ht.* 2>/dev/null | awk '/^calls to allocation functions:/ {print $5; exit}')
    mb=$(echo "$b" | walls | median) mr=$(echo "$r" | walls | median) mh=$(echo "$h" | walls | median)
    cb=$(echo "$b" | cpus | median) cr=$(echo "$r" | cpus | median) ch=$(echo "$h" | cpus | median)
    echo "$name $kind $mb $mr $mh $ev $rb $hb $cb $cr $ch ${hc:-?} $bound" | awk '{
        base = $3; rec = $4; ht = $5; ev = $6; rb = $7; hb = $8; cb = $9; cr = $10; ch = $11
        rr = rec / base; hr = ht / base
        add = (ht - base > 0) ? (rec - base) / (ht - base) : 0
        if ($2 == "real") tgt = sprintf("rec/base<=1.10 %s", rr <= 1.10 ? "MET" : "missed")
        else tgt = sprintf("added_r/h<=0.10 %s", add <= 0.10 ? "MET" : "missed")
        printf "%-9s %8.3f %8.3f %9.3f %7.2fx %7.2fx %10.3f %-26s %8.2f %9.0f %10d %10d %-7s %s %s %9d %9s %s\n",
               $1, base, rec, ht, rr, hr, add, tgt, (ev ? rb / ev : 0), (rec > 0 ? ev / rec : 0), rb, hb,
               (rb <= hb) ? "MET" : "missed", (cb >= 0.05 ? sprintf("%7.2fx", cr / cb) : "    n/a"),
               (cb >= 0.05 ? sprintf("%7.2fx", ch / cb) : "    n/a"), ev, $12, $13
    }'
}

bench perl real perl -e 'my %h; $h{$_} = "x" x ($_ % 64) for 1..300000; my $n = 0; $n += length($h{$_}) for keys %h; print "$n\n"'
bench python3 real /usr/bin/python3 -c 'import json; d = {str(i): [i, str(i) * 3] for i in range(150000)}; s = json.dumps(d); print(len(json.loads(s)))'
bench sqlite3 real sqlite3 :memory: 'create table t(a, b); with recursive c(x) as (select 1 union all select x + 1 from c where x < 200000) insert into t select x, printf("%08d", x * 7) from c; create index i on t(b); select count(*), sum(a) from t where b like "%7%";'
bench gcc real gcc -O2 -c -o "$work/reader.o" "$work/reader.c"
# gcc's compiler proper alone: the same one process under both tools
cc1=$(gcc -print-prog-name=cc1) ma=$(gcc -print-multiarch 2> /dev/null)
bench cc1 real "$cc1" -quiet ${ma:+-imultiarch "$ma"} -O2 -o "$work/reader.s" "$work/reader.c"
bench loop1M loop "$work/loop" 1000000
bench churn2 loop "$work/churn" 2 300000
bench churn4 loop "$work/churn" 4 150000
echo "note: heaptrack follows no exec'd child, so for gcc its file holds only the driver's calls (ht_calls)"
echo "      while malloc-record traces cc1 and as too: gcc's size and added-time columns compare unlike runs;"
echo "      the cc1 row runs gcc's compiler proper directly, one process under both tools."
