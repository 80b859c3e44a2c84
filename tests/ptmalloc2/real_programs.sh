#!/bin/sh
# real_programs.sh SHIM MODEL WORKDIR
# Runs python3, perl and sqlite3 under pm_shim (which records the program's
# malloc calls and the real mallinfo2() every 1000 calls), replays the
# recorded calls through the ptmalloc2 model, and requires every checkpoint
# to be identical.
shim=$1 model=$2 dir=$3
mkdir -p "$dir" || exit 1
fail=0
run() {
    name=$1; shift
    if ! command -v "$1" > /dev/null 2>&1; then
        echo "$name: $1 not installed, skipped"
        return
    fi
    rm -f "$dir/$name.script" "$dir/$name.out"
    PM_SHIM_OUT="$dir/$name" PM_SHIM_K=1000 LD_PRELOAD="$shim" "$@" > /dev/null 2>&1
    if [ ! -s "$dir/$name.out" ] || grep -q '^# overflow' "$dir/$name.script"; then
        echo "$name: recording failed"; fail=1; return
    fi
    brk=$(head -1 "$dir/$name.out" | cut -d' ' -f2)
    "$model" --cp-only "$dir/$name.script" 1000 "$brk" > "$dir/$name.model" || { echo "$name: model failed"; fail=1; return; }
    n=$(grep -vc '^#' "$dir/$name.script")
    c=$(grep -c '^C' "$dir/$name.out")
    if cmp -s "$dir/$name.out" "$dir/$name.model"; then
        echo "$name: $n calls, $c mallinfo2 checkpoints identical"
    else
        echo "$name: $n calls, checkpoints DIFFER:"; diff "$dir/$name.out" "$dir/$name.model" | head -4; fail=1
    fi
}
run python3 python3 -c "
import json, re, collections
d = {str(i): [j * 'x' for j in range(i % 40)] for i in range(20000)}
s = json.dumps(d); d2 = json.loads(s)
c = collections.Counter(re.findall(r'x+', s))
print(len(s), len(c))
"
run perl perl -e 'my %h; for my $i (1..50000) { $h{"k$i"} = "v" x ($i % 300); }
  my @k = sort keys %h; delete $h{$_} for @k[0..20000]; my $s = join(",", values %h);
  print length($s), "\n";'
run sqlite3 sh -c 'printf "create table t(a,b);\nwith recursive c(x) as (select 1 union all select x+1 from c where x<20000) insert into t select x, hex(randomblob(x%%200)) from c;\ncreate index i on t(b);\nselect count(*), sum(length(b)) from t;\ndelete from t where a%%3=0;\nvacuum;\n" | sqlite3 :memory:'
exit $fail
