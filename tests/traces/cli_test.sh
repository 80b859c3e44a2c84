#!/bin/sh
# malloc-trace's command line: round trips, the mtrace importer against a real
# glibc log, hand-worked info figures, and one-line errors on bad input.
# usage: cli_test.sh MALLOC_TRACE SRCDIR WORKDIR
set -u
mt=$1; src=$2; work=$3
. "$(dirname "$0")/checks.sh"
t_begin "$work"

# 1. text -> trace -> text is the identity (events and header), and again
"$mt" import "$src/data/all_ops.txt" -o a.zst || bad "import all_ops"
"$mt" dump a.zst > a.txt || bad "dump a"
check "dump reproduces the imported text" diff -u "$src/data/all_ops.txt" a.txt
"$mt" import a.txt -o b.zst && "$mt" dump b.zst > b.txt
check "dump -> import -> dump identical" cmp -s a.txt b.txt
# a version 1 trace (times inline, written by the previous writer from the same
# text) still reads: the same events and header but for the version line
"$mt" dump "$src/data/all_ops.v1.zst" > v1.txt || bad "dump a version 1 trace"
check "a version 1 trace says so" test "$(head -1 v1.txt)" = "# malloc trace, format version 1"
tail -n +2 v1.txt > v1.rest; tail -n +2 a.txt > a.rest
check "a version 1 trace reads as the same events" cmp -s v1.rest a.rest
# dumps from before drelease was printed (realloc with 2 arguments,
# reallocarray with 3) still import, as drelease 0
sed -E 's/^([0-9]+ [0-9]+ [0-9]+ realloc(array)? .*) [0-9]+ -> /\1 -> /' a.txt > old.txt
check "an older dump is older" sh -c "! cmp -s a.txt old.txt"
"$mt" import old.txt -o old.zst && "$mt" dump old.zst > old2.txt
check "an older dump imports as drelease 0" cmp -s a.txt old2.txt
# a realloc's release seq survives dump -> import (data/race.zst: thread 2
# gets the address back between the realloc's release seq 2 and its seq 4)
"$mt" dump "$src/data/race.zst" > race.txt
check "dump prints drelease" grep -q '^4 1 40 realloc 0x55550000 200 2 -> 0x55560000$' race.txt
"$mt" import race.txt -o race2.zst && "$mt" dump race2.zst > race2.txt
check "dump -> import keeps the release seq" cmp -s race.txt race2.txt
printf '5 1 0 malloc 8 -> 0x10\n6 1 0 realloc 0x10 16 6 -> 0x20\n' > baddrel.txt
"$mt" import baddrel.txt -o x.zst 2> err.txt; rc=$?
check "drelease before seq 1 refused" sh -c "test $rc -eq 1 && grep -q 'line 2: realloc.s drelease 6 puts its release seq before 1' err.txt"
"$mt" dump --no-header a.zst | grep -v '^#' > events.txt
check "--no-header prints events only" test "$(wc -l < events.txt)" -eq 20
check "zstd -d yields the raw stream" sh -c "zstd -dc a.zst | head -c 8 | grep -q MALTRACE"
check "stdin works" sh -c "'$mt' dump - < a.zst | cmp -s - a.txt"

# 2. glibc's own mtrace() log (recorded from a real run) imports to the known events
"$mt" import "$src/data/glibc-mtrace.log" -o m.zst || bad "import mtrace log"
"$mt" dump --no-header m.zst > m.txt
check "mtrace log imports exactly" diff -u "$src/data/glibc-mtrace.expected" m.txt

# 2b. a live mtrace() run of this machine's glibc agrees with the program's own view
if command -v cc >/dev/null && [ -e /lib/x86_64-linux-gnu/libc_malloc_debug.so.0 ]; then
  cat > live.c <<'CEOF'
#include <mcheck.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  void *p[64];
  mtrace();
  for (int i = 0; i < 64; i++) p[i] = malloc(16 + i * 40);
  for (int i = 0; i < 64; i += 2) free(p[i]);
  muntrace();
  FILE *f = fopen("live.expected", "w");
  for (int i = 0; i < 64; i++) fprintf(f, "malloc %d -> %p\n", 16 + i * 40, p[i]);
  for (int i = 0; i < 64; i += 2) fprintf(f, "free %p\n", p[i]);
  fclose(f);
  return 0;
}
CEOF
  cc -o live live.c
  MALLOC_TRACE=live.log LD_PRELOAD=/lib/x86_64-linux-gnu/libc_malloc_debug.so.0 ./live
  "$mt" import live.log -o live.zst && "$mt" dump --no-header live.zst | cut -d' ' -f4- > live.got
  check "a live mtrace() log matches what the program saw" cmp -s live.expected live.got
fi

# 3. info figures, worked by hand (data/peak.txt)
"$mt" import "$src/data/peak.txt" -o p.zst && "$mt" info p.zst > info.txt
check "info: peak live" grep -q '^peak live: *600 B requested, at seq 5' info.txt
# times say their origin: the start (start_mono_ns, FORMAT.md section 5), or
# the first event for the span of the events (peak.txt: events at 10 to 50 ns)
check "info: peak time from the start" grep -q '^peak live: .*at seq 5 (50 ns)$' info.txt
check "info: span from the first event" grep -q '^events: *5 in 40 ns from the first to the last' info.txt
check "info: end after the start" grep -q '^end: .* 50 ns after the start, 5 events written' info.txt
check "info: final live" grep -q '^final live: *600 B in 2 objects' info.txt
check "info: per-op counts" grep -q '^malloc  *3$' info.txt
check "info: per-thread counts" grep -q '^7  *5$' info.txt
check "info: bytes per event" grep -q 'bytes/event' info.txt
# a realloc gives its old block up at its release seq, not at its own seq:
# in data/race.zst thread 2 gets the address back (seq 3) between thread 1's
# release (seq 2) and its realloc (seq 4). 100, 0, 50, 250, 200, 0: peak 250
# at seq 4, as malloc-sim and malloc-replay have it (was 200, and the second
# thread's free unknown)
"$mt" info "$src/data/race.zst" > info.txt
check "info: race: peak at the realloc" grep -q '^peak live: *250 B requested, at seq 4 ' info.txt
check "info: race: final live" grep -q '^final live: *0 B in 0 objects' info.txt
check "info: race: no unknown frees" sh -c "! grep -q '^unknown frees' info.txt"
# the same with a lost seq (4) held up as well: 100, 110, 10 (release of
# 0xa0 at 3), 50, 350 (the realloc), 310, 300
printf '1 1 10 malloc 100 -> 0xa0\n2 2 20 malloc 10 -> 0xb0\n5 2 50 malloc 40 -> 0xa0\n6 1 60 realloc 0xa0 300 3 -> 0xc0\n7 2 70 free 0xa0\n8 2 80 free 0xb0\n' > race3.txt
"$mt" import race3.txt -o race3.zst && "$mt" info race3.zst > info.txt
check "info: race past a lost seq: peak" grep -q '^peak live: *350 B requested, at seq 6 (60 ns)' info.txt
check "info: race past a lost seq: final" grep -q '^final live: *300 B in 1 objects' info.txt
check "info: race past a lost seq: no unknown frees" sh -c "! grep -q '^unknown frees' info.txt"
# with no address taken back, the old block stays live up to the realloc's
# own seq (it is copied from), as malloc-sim and malloc-report count it:
# 100, 150 at seq 3 (thread 2's malloc inside the realloc), then 60
printf '1 1 10 malloc 100 -> 0x1000\n3 2 30 malloc 50 -> 0x3000\n4 1 40 realloc 0x1000 10 2 -> 0x2000\n' > inflight.txt
"$mt" import inflight.txt -o inflight.zst && "$mt" info inflight.zst > info.txt
check "info: realloc in flight: peak" grep -q '^peak live: *150 B requested, at seq 3 ' info.txt
check "info: realloc in flight: final" grep -q '^final live: *60 B in 2 objects' info.txt
# a race right after a gap of 200K lost seqs: the release seq is still placed
printf '1 1 10 malloc 100 -> 0x1000\n200001 2 20 malloc 50 -> 0x1000\n200002 1 30 realloc 0x1000 200 2 -> 0x2000\n' > far.txt
"$mt" import far.txt -o far.zst && "$mt" info far.zst > info.txt
check "info: race after a long gap: peak" grep -q '^peak live: *250 B requested, at seq 200002 ' info.txt
check "info: race after a long gap: final" grep -q '^final live: *250 B in 2 objects' info.txt
check "info: race after a long gap: no unknown frees" sh -c "! grep -q '^unknown frees' info.txt"

# 4. bad input: one line on stderr naming the file, exit 1, never a crash
expect_error() { # name file pattern [exit status, default 1]
  "$mt" dump "$2" > /dev/null 2> err.txt; rc=$?
  if [ $rc -ne "${4:-1}" ]; then bad "$1: exit $rc"; return; fi
  if [ "$(wc -l < err.txt)" -ne 1 ]; then bad "$1: not one line: $(cat err.txt)"; return; fi
  if ! grep -q "$2" err.txt || ! grep -q "$3" err.txt; then bad "$1: message: $(cat err.txt)"; return; fi
  ok
}
: > empty.zst
expect_error "empty file" empty.zst "empty file"
expect_error "missing file" nosuch.zst "cannot open"
echo "just text" > text.zst
expect_error "not zstd" text.zst "not a zstd"
printf 'hello' | zstd -q > foreign.zst
expect_error "foreign zstd" foreign.zst "not a malloc trace"
awk 'BEGIN { srand(7); for (i = 1; i <= 200000; i++) printf "%d 1 %d malloc %d -> 0x%x\n", i, i * 10 + int(rand() * 1000), int(rand() * 100000), int(rand() * 1e9) * 16 }' > big.txt
"$mt" import big.txt -o big.zst
size=$(wc -c < big.zst)
head -c $((size * 3 / 4)) big.zst > cut.zst
expect_error "truncated" cut.zst "offset" 3 # as malloc-replay and malloc-sim
"$mt" dump --no-header cut.zst 2>/dev/null | grep -c . > cut.count
check "a truncated trace still gives its complete events" test "$(cat cut.count)" -ge 100000
size=$(wc -c < a.zst)
cp a.zst flip.zst
printf '\377\377\377\377' | dd of=flip.zst bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null
expect_error "corrupted" flip.zst "offset"
zstd -dc a.zst > raw.bin
printf '\003' | dd of=raw.bin bs=1 seek=8 conv=notrunc 2>/dev/null
zstd -q -c raw.bin > v3.zst
expect_error "wrong version" v3.zst "format version 3, this reader knows 1 to 2"

# 5. import errors name the file and the line
printf '1 1 0 malloc 24 -> 0x10\n2 1 0 frobnicate 3\n' > badop.txt
"$mt" import badop.txt -o x.zst 2> err.txt; rc=$?
check "bad op: exit 1" test $rc -eq 1
check "bad op: names file and line" grep -q "badop.txt: line 2: unknown operation 'frobnicate'" err.txt
printf '5 1 0 malloc 24 -> 0x10\n4 1 0 free 0x10\n' > badseq.txt
"$mt" import badseq.txt -o x.zst 2> err.txt
check "SEQ must grow" grep -q "line 2: SEQ 4 does not follow 5" err.txt
printf '1 1 0 malloc 24\n' > badargs.txt
"$mt" import badargs.txt -o x.zst 2> err.txt
check "missing result" grep -q "line 1: malloc takes 1 argument and '-> RESULT'" err.txt
"$mt" import "$src/data/all_ops.txt" -o /nonexistent/dir/x.zst 2> err.txt; rc=$?
check "unwritable output" sh -c "test $rc -eq 1 && grep -q 'cannot create' err.txt"
"$mt" frob 2> /dev/null; rc=$?
check "unknown command: usage error" test $rc -eq 2

# 6. nothing the user has is lost: a failed import leaves an existing trace
#    alone, an output that is the input is refused, a pipe is read whole
cp a.zst keep.zst
"$mt" import badop.txt -o keep.zst 2> /dev/null
check "failed import keeps the old file" cmp -s a.zst keep.zst
check "no temporary file left" sh -c "! ls keep.zst.*.tmp 2>/dev/null | grep -q ."
cp a.txt same.txt
"$mt" import same.txt -o same.txt 2> err.txt; rc=$?
check "output = input refused" sh -c "test $rc -eq 2 && grep -q 'would overwrite the input' err.txt && cmp -s a.txt same.txt"
cat a.txt | "$mt" import - -o piped.zst && "$mt" dump piped.zst > piped.txt
check "import from a pipe" cmp -s a.txt piped.txt
: > empty.txt
"$mt" import empty.txt -o e.zst 2> err.txt; rc=$?
check "empty text refused" sh -c "test $rc -eq 1 && grep -q 'empty.txt: empty file' err.txt && test ! -e e.zst"

# 7. two traces end to end are one too many: data after END is an error
cat a.zst a.zst > twice.zst
expect_error "data after END" twice.zst "data after the END record"
check "the first trace's events still come out" \
    sh -c "'$mt' dump twice.zst 2>/dev/null | cmp -s - a.txt"

# 8. a full standard output is an error, not a silent loss
if [ -w /dev/full ]; then
  "$mt" info a.zst > /dev/full 2> err.txt; rc=$?
  check "info to a full disk" sh -c "test $rc -eq 1 && grep -q 'standard output: No space left' err.txt"
fi

# 8b. and a file-size limit (SIGXFSZ not ignored by the caller): one line,
#     exit 1 (it was a death by SIGXFSZ, status 153)
sh -c 'ulimit -f 1; exec "$@"' sh "$mt" dump a.zst > capped.txt 2> err.txt; rc=$?
check "dump under ulimit -f" sh -c "test $rc -eq 1 && test \"\$(cat err.txt)\" = 'malloc-trace: standard output: File too large'"

# 8a. so is a reader gone from a pipe (dump T | head): one line, exit 1, not
#     a death by SIGPIPE; import -o - writes standard output, not a file '-'
{ "$mt" dump big.zst 2> err.txt; echo $? > rc.txt; } | head -1 > /dev/null
check "dump | head: exit 1 (141: killed by SIGPIPE)" test "$(cat rc.txt)" -eq 1
check "dump | head: one line" sh -c "test \$(wc -l < err.txt) -eq 1 && grep -q '^malloc-trace: standard output: Broken pipe$' err.txt"
{ "$mt" import big.txt -o - 2> err.txt; echo $? > rc.txt; } | head -c 100 > /dev/null
check "import -o - | head: exit 1" test "$(cat rc.txt)" -eq 1
check "import -o - | head: one line" sh -c "test \$(wc -l < err.txt) -eq 1 && grep -q '^malloc-trace: standard output: .*Broken pipe$' err.txt"
check "import -o - writes no file '-'" test ! -e ./-
"$mt" import a.txt -o - > piped2.zst && "$mt" dump piped2.zst > piped2.txt
check "import -o - writes the trace to standard output" cmp -s a.txt piped2.txt

# 8b. the frame an error is in is named right (frame 0 of a one-frame file)
zstd -dc a.zst | head -c 310 | zstd -q > rawcut.zst # inside a record
expect_error "cut inside a record" rawcut.zst "offset 0 (zstd frame 0, raw byte" 3

# 9. option errors: one line with the reason, exit 2
"$mt" info a.zst --bogus 2> err.txt; rc=$?
check "unknown option: one line" sh -c "test $rc -eq 2 && test \$(wc -l < err.txt) -eq 1 && grep -q 'unknown option: --bogus' err.txt"
# an option before the TRACE too (was "more than one TRACE"), for each command
for cmd in info dump; do
  "$mt" $cmd --no-such-option a.zst > /dev/null 2> err.txt; rc=$?
  check "$cmd: unknown option first" sh -c "test $rc -eq 2 && test \$(wc -l < err.txt) -eq 1 && grep -q 'unknown option: --no-such-option' err.txt"
done
"$mt" info --no-header a.zst > /dev/null 2> err.txt; rc=$?
check "info --no-header: unknown option" sh -c "test $rc -eq 2 && grep -q 'info: unknown option: --no-header' err.txt"

t_end
