#!/bin/sh
# stack_case.sh MALLOC_RECORD STACK_CHECK RT_STACKS WORKDIR DEPTH VERIFY [ARGS...]
# Records rt_stacks (stack depth DEPTH) and checks every process's tagged
# stacks against its own backtrace(3) log with stack_check. VERIFY=1 also
# runs the recorder's stack cache in verify mode (every cache hit unwound
# again with libunwind's unw_backtrace) and requires hits and no wrong one.
# Verify mode also walks every stack the cache misses with both the
# recorder's own walker (unwind.c) and libunwind, and requires them to agree.
# VERIFY=real: sqlite3, perl and gcc (cc1) recorded in verify mode instead
# (perl's loop must hit the cache, default heuristics; cc1's stacks must be
# walked by the recorder's walker, not libunwind). Otherwise the cache
# is made eager (MALLOC_RECORD_STACK_EAGER=1): every stack met twice at a
# call site is cached, whatever the hit rate.
set -u
rec=$1 check=$2 prog=$3 dir=$4 depth=$5 verify=$6
shift 6 # ARGS: more arguments of RT_STACKS
rm -rf "$dir"; mkdir -p "$dir"
verify_ok() { # stderr file: every process's verify line says 0 wrong, some hits
    grep -q "stack cache verify" "$1" || { echo "FAIL: no verify report"; cat "$1"; exit 1; }
    # fields: $5 hits, $7 wrong, $9 filled, $11 uncacheable, $13 pool resets;
    # walker: $17 stacks, $19 wrong, $21 left to libunwind
    if grep "stack cache verify" "$1" | awk '$7 != 0 {b = 1} END {exit !b}'; then echo "FAIL: the stack cache gave wrong stacks"; grep "stack cache verify" "$1"; exit 1; fi
    if grep "stack cache verify" "$1" | awk '$16 != "walker:" || $19 != 0 {b = 1} END {exit !b}'; then
        echo "FAIL: the recorder's walker disagreed with libunwind (or did not report)"; grep "stack cache verify" "$1"; exit 1
    fi
    grep "stack cache verify" "$1" | awk '$17 > 0 {h = 1} END {exit !h}' || { echo "FAIL: no stack walked by the recorder's walker"; cat "$1"; exit 1; }
    grep "stack cache verify" "$1" | awk '$5 > 0 {h = 1} END {exit !h}' || { echo "FAIL: no cache hits"; cat "$1"; exit 1; }
    if [ -n "${MALLOC_RECORD_STACK_POOL:-}" ]; then # a small pool: it must have filled and started over
        grep "stack cache verify" "$1" | awk '$13 > 0 {h = 1} END {exit !h}' || { echo "FAIL: no pool reset"; cat "$1"; exit 1; }
    fi
    grep "stack cache verify" "$1"
}
if [ "$verify" = real ]; then
    MALLOC_RECORD_STACK_VERIFY=1 "$rec" -q -o "$dir/s.%p.zst" -- sqlite3 :memory: \
        'create table t(a, b); with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000) insert into t select x, printf("%08d", x * 7) from c; create index i on t(b); select count(*) from t where b like "%7%";' \
        > /dev/null 2> "$dir/stderr" || { echo "FAIL: sqlite3"; cat "$dir/stderr"; exit 1; }
    verify_ok "$dir/stderr"
    MALLOC_RECORD_STACK_VERIFY=1 "$rec" -q -o "$dir/p.%p.zst" -- perl -e 'my %h; $h{$_} = "x" x ($_ % 64) for 1..30000; print scalar(keys %h), "\n"' \
        > /dev/null 2> "$dir/stderr" || { echo "FAIL: perl"; cat "$dir/stderr"; exit 1; }
    verify_ok "$dir/stderr"
    # perl's start-up fills more stacks than bring hits, so fills stop paying
    # before its loop begins; the loop's few stacks must still be cached
    # (before the SC_HOT rule, 23% of its allocating calls hit)
    calls=$("$(dirname "$rec")/malloc-trace" info "$dir"/p.*.zst | awk '$1 ~ /^(malloc|calloc|realloc)$/ {n += $2} END {print n + 0}')
    hits=$(awk '/stack cache verify/ {print $5}' "$dir/stderr")
    [ "$calls" -gt 80000 ] && [ "$((hits * 100))" -ge "$((calls * 95))" ] ||
        { echo "FAIL: perl: $hits stack cache hits in $calls allocating calls, expected 95% or more"; exit 1; }
    echo "perl: $hits hits in $calls allocating calls"
    # cc1: deep and varied stacks, most of them missing the cache
    if command -v gcc > /dev/null; then
        printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void) { char *p = malloc(9); printf("%%p\\n", (void *)p); return 0; }\n' > "$dir/c.c"
        MALLOC_RECORD_STACK_VERIFY=1 "$rec" -q -o "$dir/g.%p.zst" -- gcc -O2 -c -o "$dir/c.o" "$dir/c.c" \
            > /dev/null 2> "$dir/stderr" || { echo "FAIL: gcc"; cat "$dir/stderr"; exit 1; }
        verify_ok "$dir/stderr"
        # the process with the most walks (cc1): at least 99% walked, at least 2000
        grep "stack cache verify" "$dir/stderr" | sort -k17,17n | tail -1 | awk '{w = $17; l = $21; if (w < 2000 || w * 100 < (w + l) * 99) {print "FAIL: cc1: " w " stacks walked, " l " left to libunwind"; exit 1}}' || exit 1
    fi
    exit 0
fi
export MALLOC_RECORD_STACK_EAGER=1 # every stack met twice is cached: many hits
if [ "$verify" = 1 ]; then export MALLOC_RECORD_STACK_VERIFY=1; fi
"$rec" --stack-depth "$depth" -o "$dir/t.%p.zst" -- "$prog" "$dir" "$@" 2> "$dir/stderr"
rc=$?
cat "$dir/stderr" >&2
[ "$rc" = 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
[ "$verify" = 1 ] && verify_ok "$dir/stderr"
n=0
for log in "$dir"/*.stk; do
    [ -e "$log" ] || { echo "FAIL: no log"; exit 1; }
    pid=$(basename "$log" .stk)
    "$check" "$dir/t.$pid.zst" "$log" "$depth" || exit 1
    n=$((n + 1))
done
[ "$n" = 2 ] || { echo "FAIL: $n process logs, expected 2 (parent and fork child)"; exit 1; }
echo "checked $n processes"
