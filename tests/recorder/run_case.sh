#!/bin/sh
# run_case.sh MALLOC_RECORD REC_CHECK WORKDIR EXPECTED_RC [ENV=VALUE...] -- PROGRAM [ARGS...]
# Records PROGRAM (given WORKDIR as its first argument) with malloc-record,
# then checks every PID.GEN.log the program's processes wrote against the
# matching trace (t.PID.zst for generation 0, t.PID.GEN.zst after GEN execs)
# with rec_check, using PID.GEN.expect when present.
set -u
rec=$1 check=$2 dir=$3 want=$4
shift 4
envs=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs="$envs $1"; shift; done
shift
prog=$1; shift
rm -rf "$dir"; mkdir -p "$dir"
env $envs "$rec" -o "$dir/t.%p.zst" -- "$prog" "$dir" "$@" 2>"$dir/stderr"
rc=$?
cat "$dir/stderr" >&2
if [ "$rc" != "$want" ]; then echo "FAIL: exit status $rc, expected $want"; exit 1; fi
grep -qE "trace written to|left no summary" "$dir/stderr" || { echo "FAIL: no summary printed"; exit 1; }
n=0
for log in "$dir"/*.log; do
  [ -e "$log" ] || { echo "FAIL: the program wrote no log"; exit 1; }
  base=$(basename "$log" .log); pid=${base%.*}; gen=${base#*.}
  if [ "$gen" = 0 ]; then tr="$dir/t.$pid.zst"; else tr="$dir/t.$pid.$gen.zst"; fi
  [ -e "$tr" ] || { echo "FAIL: no trace $tr for $log"; ls "$dir"; exit 1; }
  exp="$dir/$base.expect"; [ -e "$exp" ] || exp=""
  "$check" "$tr" "$log" $exp || exit 1
  n=$((n+1))
done
echo "checked $n process images"
