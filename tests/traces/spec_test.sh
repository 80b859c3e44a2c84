#!/bin/sh
# spec_test.sh MALLOC_TRACE MALLOC_RECORD DATA_DIR WORKDIR
# The format document against the tools: tests/traces/spec_decode.py, a
# decoder written from traces/FORMAT.md alone, must print what
# `malloc-trace dump` prints (with and without the header) and exit with the
# same status, on the bundled traces, on hand-made traces of every edge case
# FORMAT.md names, valid and broken (spec_craft.py), and on traces recorded
# here (threads, stacks or none, a fork and an exec).
set -u
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
mt=$(abs "$1") rec=$(abs "$2") data=$(abs "$3") dir=$(abs "$4")
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir"; mkdir -p "$dir/rec" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
python3 "$here/spec_craft.py" "$dir/craft" || fail "spec_craft.py"
cd "$dir/rec" || exit 1
"$rec" -q -o "s.%p.zst" -- sh -c 'ls / > /dev/null; exec perl -e "my @a = map { \"x\" x \$_ } 1..3000; fork or exit 0; wait"' \
  || fail "recording with stacks"
"$rec" -q --stack-depth 0 -o "n.%p.zst" -- perl -e 'use threads; my @t = map { threads->create(sub { my @a = map { [$_] } 1..2000; 1 }) } 1..3; $_->join for @t' \
  || fail "recording threads without stacks"
n=0 same=0
# wm: a watermark that an event then contradicts; FORMAT.md section 5 leaves
# the order of such input unspecified
for t in "$data"/*.zst "$dir"/craft/*.zst "$dir"/rec/*.zst; do
  [ "$(basename "$t")" = wm.zst ] && continue
  for h in --no-header ""; do
    "$mt" dump $h "$t" > "$dir/a.txt" 2> "$dir/a.err"; a=$?
    python3 "$here/spec_decode.py" $( [ -z "$h" ] && echo --header ) "$t" > "$dir/b.txt" 2> "$dir/b.err"; b=$?
    n=$((n + 1))
    if [ "$a" != "$b" ] || ! cmp -s "$dir/a.txt" "$dir/b.txt"; then
      echo "DIFFER: $t (dump $h): malloc-trace exit $a, spec_decode exit $b"
      head -3 "$dir/a.err" "$dir/b.err"
      diff "$dir/a.txt" "$dir/b.txt" | head -10
      continue
    fi
    same=$((same + 1))
  done
done
# malloc-trace info counts the stacks defined and the modules loaded (it gave
# the highest id, 1530 for a fork child's one stack, and counted unloads)
for t in "$dir"/rec/*.zst "$dir"/craft/stack2.zst "$dir"/craft/okstack.zst; do
  i=$("$mt" info "$t" | sed -n 's/^stacks: *\([0-9]*\) unique.*/\1/p')
  d=$(python3 "$here/spec_decode.py" --tables "$t" 2>&1 > /dev/null | sed -n 's/^stacks: \([0-9]*\) defined.*/\1/p')
  [ -n "$i" ] && [ "$i" = "$d" ] || fail "$t: malloc-trace info says $i stacks, the decoder $d"
done
echo "$same of $n decodings identical"
[ "$same" = "$n" ] && [ "$n" -ge 150 ] || fail "the decoder written from FORMAT.md and malloc-trace disagree"
