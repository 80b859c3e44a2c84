#!/bin/sh
# failed_diff.sh SIM TRACE-TOOL REPLAY WORKDIR
# Allocations that failed in the trace (a request too large for any mmap)
# against real glibc: glibc's failed request still consolidates the fastbins
# and sorts the unsorted bin, so the ptmalloc2 model must step it too (it
# skipped it: keepcost 134128 against glibc's 134288). malloc, calloc and
# memalign, after fastbin and unsorted frees; every checkpoint row of
# malloc-sim (ptmalloc2 alone and with every model) equals malloc-replay
# --mode serial's.
set -u
sim=$1 tt=$2 replay=$3 dir=$4
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
huge=70368744177664 # 2^46: no mmap gets that
python3 - "$huge" > f.txt <<'PY'
import sys
huge = int(sys.argv[1])
seq = [0]
def ev(text):
    seq[0] += 1
    print(seq[0], 100, seq[0] * 1000, text)
for call in ("malloc %d" % huge, "calloc 1 %d" % huge, "memalign 64 %d" % huge):
    base = 0x10000 * seq[0] + 0x1000000
    ptrs = [base + i * 0x40 for i in range(12)] # fastbin-sized, past the tcache
    for p in ptrs: ev("malloc 24 -> 0x%x" % p)
    big = [base + 0x8000 + i * 0x800 for i in range(3)] # unsorted-bin sized
    for p in big: ev("malloc 1500 -> 0x%x" % p)
    ev("malloc 24 -> 0x%x" % (base + 0x7000)) # keeps the last big one off the top
    for p in ptrs + big[:2]: ev("free 0x%x" % p)
    ev(call + " -> 0x0")
    ev("malloc 40 -> 0x%x" % (base + 0x6000))
PY
"$tt" import f.txt -o f.zst || fail "import"
"$replay" f.zst --alloc glibc --mode serial --checkpoints 1 --csv g.csv --no-progress > /dev/null 2> r.err \
    || { cat r.err; fail "malloc-replay"; }
for m in ptmalloc2 all; do
    "$sim" f.zst --model $m --checkpoints 1 --csv s-$m.csv --no-progress > /dev/null || fail "malloc-sim --model $m"
    cmp -s g.csv s-$m.csv || { diff g.csv s-$m.csv | head; fail "--model $m: checkpoints differ from glibc"; }
done
echo "ok: $(($(wc -l < g.csv) - 2)) checkpoint rows identical, 3 failed requests"
