#!/bin/sh
# cli.sh SIM TRACETOOL DIR: malloc-sim on hand-made traces with answers
# worked out by hand (see the comments), its JSON, timeline and checkpoint
# outputs, and its errors on bad input.
sim=$1 tt=$2 dir=$3 data=$(dirname "$0")/data
mkdir -p "$dir" || exit 1
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

"$tt" import "$data/small.txt" -o "$dir/small.zst" || exit 1
"$tt" import "$data/mmap.txt" -o "$dir/mmap.zst" || exit 1

# --- small.txt, all models ---
"$sim" "$dir/small.zst" --json "$dir/small.json" --timeline "$dir/small.tl" > "$dir/small.out" 2> "$dir/small.err" \
    || bad "small: exit status"
python3 - "$dir/small.json" "$HAVE_PTM" <<'PY' || fail=1
import json, sys
j = json.load(open(sys.argv[1]))   # must be valid JSON
have_ptm = sys.argv[2] == "1"
m = {x["model"]: x for x in j["models"]}
def eq(what, got, want):
    if got != want:
        print("FAIL: %s = %r, expected %r" % (what, got, want)); sys.exit(1)
eq("events", j["events"], 5)
eq("peak_live_bytes", j["peak_live_bytes"], 300)     # 100 + 200 at op 2 (300 alone at op 4 ties)
eq("peak_live_op", j["peak_live_op"], 2)
eq("final_live_bytes", j["final_live_bytes"], 0)
# jemalloc: 100 -> class 112, 200 -> 224; slabs lcm(4096,112) = lcm(4096,224) = 28672
eq("jemalloc peak", m["jemalloc"]["peak"]["footprint_bytes"], 2 * 28672)
eq("jemalloc peak op", m["jemalloc"]["peak"]["op"], 2)
eq("jemalloc internal", m["jemalloc"]["internal_frag_bytes"], 12 + 24)
eq("jemalloc final", m["jemalloc"]["final"]["footprint_bytes"], 0)
# tcmalloc: classes 112 and 208, one 8 KiB span each
eq("tcmalloc peak", m["tcmalloc"]["peak"]["footprint_bytes"], 16384)
eq("tcmalloc internal", m["tcmalloc"]["internal_frag_bytes"], 12 + 8)
# mimalloc: classes 112 and 224, a 64 KiB page each
eq("mimalloc peak", m["mimalloc"]["peak"]["footprint_bytes"], 131072)
# buddy (16-byte blocks, 1 MiB zones): 128 + 256 in one zone
eq("buddy peak", m["buddy"]["peak"]["footprint_bytes"], 1 << 20)
eq("buddy internal", m["buddy"]["internal_frag_bytes"], 28)  # at its peak: op 1, the 1 MiB zone
eq("buddy max_order", m["buddy"]["max_order"], 16)
eq("buddy orders", len(m["buddy"]["orders_final"]["nr_free"]), 17)
if have_ptm:
    p = m["ptmalloc2"]
    # first malloc: the 640-byte tcache (656 chunk) + 112; the first sbrk is
    # ALIGN_UP(656 + 131072 (top_pad) + 32, 4096) = 135168
    eq("ptmalloc2 peak", p["peak"]["footprint_bytes"], 135168)
    eq("ptmalloc2 arena", p["final"]["arena"], 135168)
    # 656 tcache + 112 (in tcache after free) + 320: the 208 chunk borders top,
    # so realloc grows it in place to 320, then free puts it in the tcache
    eq("ptmalloc2 uordblks", p["final"]["uordblks"], 656 + 112 + 320)
    eq("ptmalloc2 fordblks", p["final"]["fordblks"], 135168 - 1088)
    eq("ptmalloc2 keepcost", p["final"]["keepcost"], 135168 - 1088)
    eq("ptmalloc2 tcache final", p["bins"]["final"]["tcache"]["chunks"], 2)
    eq("saving jemalloc", m["jemalloc"]["saving_vs_ptmalloc2_bytes"], 135168 - 57344)
print("ok: small.json values")
PY
grep -q "ranking by peak footprint" "$dir/small.out" && ok "text report has the ranking" || bad "no ranking"
grep -q "^  1\. tcmalloc" "$dir/small.out" && ok "tcmalloc ranks first" || bad "ranking order"
[ -s "$dir/small.err" ] && bad "stderr not empty: $(cat "$dir/small.err")"
head -1 "$dir/small.tl" | grep -q '^op,t_ns,live_bytes,.*buddy_footprint,jemalloc_footprint,tcmalloc_footprint,mimalloc_footprint$' \
    && ok "timeline header" || bad "timeline header: $(head -1 "$dir/small.tl")"
[ "$(sed -n 3p "$dir/small.tl" | cut -d, -f1-3)" = "2,10,300" ] && ok "timeline row" || bad "timeline row 2: $(sed -n 3p "$dir/small.tl")"

# --- mmap.txt: the header's MALLOC_MMAP_THRESHOLD_ and --tune ---
if [ "$HAVE_PTM" = 1 ]; then
    # request2size(200000) = 200016: from the heap under the header's 1 MiB threshold
    "$sim" "$dir/mmap.zst" --model ptmalloc2 --json "$dir/mmap.json" > /dev/null || bad "mmap: exit"
    python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['models'][0]['final']; sys.exit(0 if p['hblkhd']==0 and p['uordblks']==656+200016+5008 else 1)" "$dir/mmap.json" \
        && ok "header MALLOC_MMAP_THRESHOLD_: from the heap" || bad "env threshold not applied"
    # --tune overrides the header: threshold 128K, so it is mmapped: ALIGN_UP(200016 + 8, 4096)
    "$sim" "$dir/mmap.zst" --model ptmalloc2 --tune mmap_threshold=128K --json "$dir/mmap2.json" > /dev/null || bad "tune: exit"
    python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['models'][0]['final']; sys.exit(0 if p['hblkhd']==200704 else 1)" "$dir/mmap2.json" \
        && ok "--tune mmap_threshold=128K overrides the header: 200704 bytes mmapped" || bad "--tune not applied"
    # checkpoints: a row per op and a final row
    "$sim" "$dir/small.zst" --model ptmalloc2 --checkpoints 2 --csv "$dir/cp.csv" > /dev/null || bad "checkpoints: exit"
    printf 'op,arena,hblkhd,uordblks,fordblks,keepcost\n2,135168,0,976,134192,134192\n4,135168,0,1088,134080,134080\nfinal,135168,0,1088,134080,134080\n' > "$dir/cp.want"
    cmp -s "$dir/cp.csv" "$dir/cp.want" && ok "checkpoint csv" || { bad "checkpoint csv"; diff "$dir/cp.want" "$dir/cp.csv"; }
    # threads.txt: where lock contention could change glibc's outcome
    "$tt" import "$data/threads.txt" -o "$dir/threads.zst" || exit 1
    "$sim" "$dir/threads.zst" --model ptmalloc2 --tune arena_max=2 --json "$dir/threads.json" > "$dir/threads.out" \
        || bad "threads: exit"
    python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['models'][0]['threads']; t.pop('ncpu'); w={'seen': 3, 'serial': False, 'arenas': 2, 'reused_arena_calls': 1, 'first_reused_arena_op': 3, 'remote_arena_ops': 2, 'first_remote_arena_op': 4, 'contention_independent': False}; print(t); sys.exit(0 if t==w else 1)" "$dir/threads.json" \
        && ok "threads: reused_arena at op 3, 2 calls on another thread's arena from op 4" || bad "threads json"
    grep -q "1 threads found the arena limit reached (first at op 3)" "$dir/threads.out" \
        && grep -q "2 frees/reallocs reached another thread's arena (first at op 4)" "$dir/threads.out" \
        && ok "threads: text report says where contention matters" || bad "threads text: $(tail -8 "$dir/threads.out")"
    # without the limit every thread has an arena: nothing depends on contention
    "$sim" "$dir/threads.zst" --model ptmalloc2 --json "$dir/threads2.json" > "$dir/threads2.out" || bad "threads2: exit"
    python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['models'][0]['threads']; print(t); sys.exit(0 if t['arenas']==3 and t['reused_arena_calls']==0 and t['remote_arena_ops']==2 else 1)" "$dir/threads2.json" \
        && ok "threads: 3 arenas without the limit" || bad "threads2 json"
    # the arena limit takes the trace's CPUs: 12 threads, one malloc each. glibc
    # creates arenas freely until there are more than arena_test (8), then fixes
    # the limit at 8 x ncpu: with 1 CPU the 10th thread (op 10) finds 9 arenas
    # and reuses one, as do the 11th and 12th; with 2 CPUs (limit 16) all 12
    # threads get an arena of their own
    for cpus in 1 2; do
        { echo "# ncpu: $cpus"; for i in $(seq 1 12); do echo "$i $((100 + i)) $i malloc 64 -> 0x$((4096 * i))"; done; } \
            > "$dir/cpus$cpus.txt"
        "$tt" import "$dir/cpus$cpus.txt" -o "$dir/cpus$cpus.zst" || exit 1
        "$sim" "$dir/cpus$cpus.zst" --model ptmalloc2 --json "$dir/cpus$cpus.json" > /dev/null || bad "cpus$cpus: exit"
    done
    python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['models'][0]['threads']; print(t); sys.exit(0 if (t['ncpu'], t['arenas'], t['reused_arena_calls'], t['first_reused_arena_op']) == (1, 9, 3, 10) else 1)" "$dir/cpus1.json" \
        && ok "threads: header ncpu 1: 9 arenas, reused_arena from op 10" || bad "ncpu 1 from the header"
    python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['models'][0]['threads']; print(t); sys.exit(0 if (t['ncpu'], t['arenas'], t['reused_arena_calls']) == (2, 12, 0) else 1)" "$dir/cpus2.json" \
        && ok "threads: header ncpu 2: 12 arenas" || bad "ncpu 2 from the header"
fi

# --- a truncated trace: its complete part is simulated, and said so ---
awk 'BEGIN{for(i=1;i<=300000;i++) printf "%d 7 %d malloc %d -> 0x%x\n", i, i, 16+i%500, 4096+i*1024}' > "$dir/big.txt"
"$tt" import "$dir/big.txt" -o "$dir/big.zst" || exit 1
size=$(wc -c < "$dir/big.zst")
head -c $((size * 2 / 3)) "$dir/big.zst" > "$dir/cut.zst"
"$sim" "$dir/cut.zst" --model jemalloc > "$dir/cut.out" 2> "$dir/cut.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "truncated" "$dir/cut.err" && grep -q "TRUNCATED" "$dir/cut.out"; then
    n=$(sed -n 's/.*: \([0-9]*\) events.*/\1/p' "$dir/cut.out" | head -1)
    if [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt 300000 ]; then ok "truncated: $n of 300000 events"; else bad "truncated count $n"; fi
else
    bad "truncated trace: rc $rc, $(cat "$dir/cut.err")"
fi

# --- timeline of a long trace: at most 2000 rows, first and last op, evenly spaced ---
"$sim" "$dir/big.zst" --model buddy,jemalloc --timeline "$dir/big.tl" > /dev/null || bad "big: exit"
python3 - "$dir/big.tl" <<'PY' && ok "timeline sampling" || fail=1
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["op", "t_ns", "live_bytes", "buddy_footprint", "jemalloc_footprint"], rows[0]
ops = [int(r[0]) for r in rows[1:]]
assert 1000 <= len(ops) <= 2001, len(ops)
assert ops[0] == 1 and ops[-1] == 300000, (ops[0], ops[-1])
steps = {b - a for a, b in zip(ops[1:-2], ops[2:-1])}
assert len(steps) == 1, steps          # even spacing between first and last
# live bytes: malloc only, so the last row holds every request: sum of 16 + i % 500
assert int(rows[-1][2]) == sum(16 + i % 500 for i in range(1, 300001)), rows[-1]
PY

# --- a write that fails part-way leaves no partial file (outputs appear whole or not at all) ---
# The file size limit makes the write fail with EFBIG after the first 512-byte
# block (dash counts 512-byte blocks; bash 1024: both far below these outputs).
mkdir -p "$dir/cap" && rm -f "$dir/cap/"* || exit 1
capped() { # capped WANT-ERROR-LINE ARGS...: malloc-sim under a 1-block limit fails with that one line
    want=$1; shift
    sh -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' sh "$sim" "$@" > /dev/null 2> "$dir/err"; rc=$?
    if [ $rc -eq 1 ] && [ "$(cat "$dir/err")" = "$want" ]; then ok "capped: $want"
    else bad "capped $*: rc $rc, stderr: $(cat "$dir/err") (want: $want)"; fi
    left=$(ls "$dir/cap" | grep '\.tmp\.')
    [ -z "$left" ] || { bad "temporary files left: $left"; rm -f "$dir/cap/"*.tmp.*; }
}
capped "malloc-sim: $dir/cap/big.tl: write failed: File too large" "$dir/big.zst" --model buddy,jemalloc --timeline "$dir/cap/big.tl"
[ -e "$dir/cap/big.tl" ] && bad "a partial timeline at the target: $(wc -c < "$dir/cap/big.tl") bytes"
capped "malloc-sim: $dir/cap/big.json: write failed: File too large" "$dir/big.zst" --model all --json "$dir/cap/big.json"
[ -e "$dir/cap/big.json" ] && bad "a partial JSON at the target: $(wc -c < "$dir/cap/big.json") bytes"
# the same when SIGXFSZ is not ignored by the caller (a shell's ulimit -f):
# it killed malloc-sim (status 153, no message, the temporary file left)
sh -c 'ulimit -f 1; exec "$@"' sh "$sim" "$dir/big.zst" --model buddy,jemalloc --timeline "$dir/cap/big.tl" > /dev/null 2> "$dir/err"; rc=$?
if [ $rc -eq 1 ] && [ "$(cat "$dir/err")" = "malloc-sim: $dir/cap/big.tl: write failed: File too large" ] \
   && [ -z "$(ls "$dir/cap" | grep '\.tmp\.')" ]; then ok "ulimit -f without a trap"
else bad "ulimit -f without a trap: rc $rc, stderr $(cat "$dir/err"), files $(ls "$dir/cap")"; rm -f "$dir/cap/"*.tmp.*; fi
# a previous good file stays, byte for byte
cp "$dir/small.tl" "$dir/cap/big.tl" && cp "$dir/small.json" "$dir/cap/big.json" || exit 1
capped "malloc-sim: $dir/cap/big.tl: write failed: File too large" "$dir/big.zst" --model buddy,jemalloc --timeline "$dir/cap/big.tl"
cmp -s "$dir/small.tl" "$dir/cap/big.tl" && ok "capped: the previous timeline kept" || bad "the previous timeline was changed"
capped "malloc-sim: $dir/cap/big.json: write failed: File too large" "$dir/big.zst" --model buddy --json "$dir/cap/big.json"
cmp -s "$dir/small.json" "$dir/cap/big.json" && ok "capped: the previous JSON kept" || bad "the previous JSON was changed"
if [ "$HAVE_PTM" = 1 ]; then
    capped "malloc-sim: $dir/cap/cp.csv: write failed: File too large" "$dir/big.zst" --model ptmalloc2 --checkpoints 1 --csv "$dir/cap/cp.csv"
    [ -e "$dir/cap/cp.csv" ] && bad "a partial checkpoint CSV at the target"
    cp "$dir/cp.want" "$dir/cap/cp.csv" || exit 1
    capped "malloc-sim: $dir/cap/cp.csv: write failed: File too large" "$dir/big.zst" --model ptmalloc2 --checkpoints 1 --csv "$dir/cap/cp.csv"
    cmp -s "$dir/cp.want" "$dir/cap/cp.csv" && ok "capped: the previous CSV kept" || bad "the previous CSV was changed"
fi
# a good run replaces the old file, through a symbolic link too (the link stays)
rm -f "$dir/cap/cp.csv" && ln -s big.tl "$dir/cap/link.tl" || exit 1
"$sim" "$dir/small.zst" --json "$dir/cap/big.json" --timeline "$dir/cap/link.tl" > /dev/null || bad "rewrite: exit status"
cmp -s "$dir/small.json" "$dir/cap/big.json" && cmp -s "$dir/small.tl" "$dir/cap/big.tl" && [ -L "$dir/cap/link.tl" ] \
    && [ "$(ls "$dir/cap" | tr '\n' ' ')" = "big.json big.tl link.tl " ] \
    && ok "outputs rewritten whole" || bad "rewrite: $(ls -l "$dir/cap")"

# --- bad inputs: one line naming the file or option, non-zero exit ---
printf 'hello\n' > "$dir/text.zst"
expect_err() { # expect_err PATTERN ARGS...
    pat=$1; shift
    "$sim" "$@" > /dev/null 2> "$dir/err"
    rc=$?
    if [ $rc -ne 0 ] && [ "$(wc -l < "$dir/err")" -eq 1 ] && grep -q -- "$pat" "$dir/err"; then ok "error: $(cat "$dir/err")"
    else bad "expected one-line error /$pat/ for $*: rc $rc: $(cat "$dir/err")"; fi
}
python3 -c "
import sys
d = bytearray(open(sys.argv[1], 'rb').read()); n = len(d) // 2
for i in range(n, n + 64): d[i] ^= 0x5a
open(sys.argv[2], 'wb').write(d)" "$dir/big.zst" "$dir/corrupt.zst"
expect_err "$dir/corrupt.zst: offset [0-9]*.*corrupt" "$dir/corrupt.zst" --model jemalloc
expect_err "$dir/missing.zst" "$dir/missing.zst"
expect_err "$dir/text.zst: .*" "$dir/text.zst"
expect_err "--model foo" "$dir/small.zst" --model foo
expect_err "buddy-min 24: expected a power of two" "$dir/small.zst" --model buddy --buddy-min 24
expect_err "go together" "$dir/small.zst" --checkpoints 5
expect_err "checkpoints 0" "$dir/small.zst" --checkpoints 0 --csv "$dir/x.csv"
expect_err "unknown option" "$dir/small.zst" --frobnicate
expect_err "$dir/nodir/x.json" "$dir/small.zst" --model jemalloc --json "$dir/nodir/x.json"
if [ "$HAVE_PTM" = 1 ]; then
    expect_err "bogus=1" "$dir/small.zst" --model ptmalloc2 --tune bogus=1
fi
expect_err "buddy-max-order 99: expected 0..36 with --buddy-min 16" "$dir/small.zst" --model buddy --buddy-max-order 99
# an output that is the input trace is refused before anything is written
cp "$dir/small.zst" "$dir/keep.zst"
expect_err "would overwrite the input" "$dir/keep.zst" --model jemalloc --json "$dir/keep.zst"
expect_err "would overwrite the input" "$dir/keep.zst" --model jemalloc --timeline "$dir/keep.zst"
if cmp -s "$dir/small.zst" "$dir/keep.zst"; then ok "input kept"; else bad "the input trace was overwritten"; fi
# a failed write is an error: standard output on a full disk
if [ -w /dev/full ]; then
    "$sim" "$dir/small.zst" --model jemalloc > /dev/full 2> "$dir/err"; rc=$?
    if [ $rc -eq 1 ] && grep -q "standard output: No space left" "$dir/err"; then ok "full stdout"
    else bad "full stdout: rc $rc: $(cat "$dir/err")"; fi
    # as root, a device of our own: a broken output check would rename over
    # the device it is given (skipped if the node does not work, on a nodev
    # mount, rather than aimed at the machine's /dev/full)
    full=/dev/full
    if [ "$(id -u)" = 0 ]; then
        rm -f "$dir/full"
        full=
        mknod "$dir/full" c 1 7 2> /dev/null &&
            dd if=/dev/zero of="$dir/full" bs=1 count=1 2>&1 | grep -q "No space left on device" && full=$dir/full
    fi
    if [ -n "$full" ]; then
        "$sim" "$dir/small.zst" --model jemalloc --json "$full" > /dev/null 2> "$dir/err"; rc=$?
        if [ $rc -eq 1 ] && [ "$(cat "$dir/err")" = "malloc-sim: $full: write failed: No space left on device" ] && [ -c "$full" ]; then ok "--json $full"
        else bad "--json $full: rc $rc: $(cat "$dir/err")"; fi
    else
        echo "skipped --json to a full device: no working device node of our own"
    fi
    rm -f "$dir/full"
fi
exit $fail
