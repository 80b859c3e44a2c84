#!/bin/sh
# scenarios.sh CASE MALLOC_RECORD REC_CHECK LOOP WORKDIR
# Cases without a logging test program:
#   real      perl, python3, sqlite3 and gcc recorded: same exit status as
#             untraced, every trace complete and heap-consistent
#   diskfull  the file size limit hit mid-run: the program keeps running,
#             the reason is printed once, the trace ends with END reason error
#   nofollow  --no-follow: one trace for a shell that forks and execs
#   address_limit  under RLIMIT_AS (ulimit -v): a program that gets its
#             memory untraced gets it traced too (the recorder's reservations
#             shrink with the limit), and a limit too small for the recorder
#             leaves no unreadable file (LOOP: rt_big here)
#   no_memory  a program that takes away all address space (RLIMIT_AS below
#             what it has) while recorded (LOOP: rt_nomem here): it runs as
#             untraced, and its events are recorded to an END (exit): the
#             trace writer took zstd's buffers when it started
#   shell_high_fds  bash redirecting onto fds 1000-1003 and 1024-1026
#             (exec N>file: bash saves and restores an fd that is open, so
#             the recorder's own must not be there): same output, every
#             trace readable
#   all_fds_used  a program that opens files until none is left, with
#             soft and hard limit equal (16), and _exits with them open: it
#             still gets its summary line
#   fd_steal  a program that puts a pipe of its own on every descriptor
#             number, the limit being 64 (LOOP: rt_fdsteal): its pipe gives
#             back exactly what it wrote and its end (no trace bytes written
#             into it, nothing read out of it by libunwind, every close of
#             its own numbers done); the recording stops with a reason, and
#             END(error EMFILE) and the summary are written at the end (the
#             trace opened again by its path once numbers are free)
#   cleared_env  programs that empty their environment before they fork or
#             exec (env -i, perl's %ENV = ()): every trace still goes to -o
#             and every process still has its summary line
#   signals  a signal sent to malloc-record reaches the program once: kill
#             from the program's own process group (a script's kill $!:
#             passed on after 1 s), from another group (setsid: a
#             supervisor; at once), timeout(1)'s TERM to its child and then
#             its group (one TERM, not two, for a program that ends within
#             1 s), and the program signalling its parent (not sent back;
#             malloc-record lives on)
#   verify_fork  stack verify mode while a thread forks and others allocate
#             (LOOP: rt_forkv): no wrong stack (a stack taken during a fork,
#             when libunwind may not run, is not compared)
#   split_stack  a program built with -fsplit-stack allocating on its
#             small stack segments (LOOP: rt_split): same output and status
#             as untraced (libunwind's frames overflowed the segment: SIGSEGV),
#             in verify mode too, and a complete trace
#   static_binary  a static program (LOOP: rt_static), which no preload
#             reaches: same status, and malloc-record says it wrote no trace
#             and why (not 'killed?')
#   outlived  a shell whose background child outlives it: malloc-record names
#             the child's trace as not ended (it printed nothing of it), and
#             once the child is done its trace is complete
#   cli      malloc-record's own behaviour (a user walkthrough): -o FILE
#             left as it was when the program cannot run, replaced once it
#             runs; a closed stderr pipe does not replace the program's status
#             (141); an inherited ignored SIGCHLD (status kept, and the
#             program still inherits it); a program that stops itself stops
#             malloc-record too (the shell sees the job stopped) and is
#             resumed with it; an unusable TMPDIR falls back to /tmp; a
#             program that drops its privileges keeps its summary, even if
#             it closes every descriptor then; the writer thread's CPU is
#             given beside the process's; -o FIFO streams with
#             --no-follow (a reader that leaves stops the recording, not the
#             program) and is refused without; --no-follow
#             leaves no setting of ours to the children; a trace that cannot
#             be created is said so (not "did not load"); --opt=value forms;
#             one-line usage errors; no log left behind
#   gconv_unload  a module glibc's iconv unloads itself, then one of the same
#             layout and other CFA rules at its address (LOOP: rt_gconv,
#             GCONV_PATH set): the second one's stack is thread_main;run;helper
set -u
case_=$1 rec=$2 check=$3 loop=$4 dir=$5
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
checkall() { # every trace in the folder: complete, consistent
  n=0
  for t in "$dir"/*.zst; do
    [ -e "$t" ] || fail "no trace written"
    "$check" "$t" /dev/null || fail "$t"
    n=$((n+1))
  done
  echo "checked $n traces"
}
case $case_ in
real)
  cat > prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *next; int v; };
int main(void) { struct node *h = NULL; for (int i = 0; i < 100; i++) { struct node *n = malloc(sizeof *n); n->v = i; n->next = h; h = n; } printf("%d\n", h->v); return 0; }
C
  run() { # name, then the command
    name=$1; shift
    mkdir -p "$dir/$name"
    timeout 120 "$@" > "$dir/$name.base.out" 2>&1; want=$?
    timeout 120 "$rec" -o "$dir/$name/t.%p.zst" -- "$@" > "$dir/$name.out" 2>"$dir/$name.err"; got=$?
    [ "$got" = "$want" ] || { cat "$dir/$name.err"; fail "$name: exit status $got, untraced $want"; }
    grep -q "trace written to" "$dir/$name.err" || fail "$name: no summary"
    for t in "$dir/$name"/*.zst; do "$check" "$t" /dev/null || fail "$name: $t"; done
    echo "$name: $(ls "$dir/$name" | wc -l) traces ok"
  }
  run perl perl -e 'my %h; $h{$_} = "x" x ($_ % 50) for 1..50000; my @k = sort keys %h; print scalar(@k), "\n"'
  run python3 /usr/bin/python3 -c 'import json, re; d = {str(i): [i] * (i % 7) for i in range(30000)}; s = json.dumps(d); print(len(json.loads(s)), len(re.findall("[0-9]+", s)))'
  run sqlite3 sqlite3 :memory: 'create table t(a, b); with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000) insert into t select x, printf("%08d", x) from c; create index i on t(b); select count(*), sum(a) from t;'
  run gcc gcc -O2 -o "$dir/prog" "$dir/prog.c"
  ;;
diskfull)
  # dash's ulimit -f counts 512-byte blocks: 32 KiB, a quarter of the
  # smallest whole trace of this run (4M events, ~125 KiB at 0.03 bytes/event)
  sh -c "trap '' XFSZ; ulimit -f 64; exec \"$rec\" -o \"$dir/t.zst\" -- \"$loop\" 2000000" 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "program exit status $rc"
  [ "$(grep -c 'recording stopped' err.txt)" = 1 ] || fail "the reason is not printed exactly once"
  printf 'end 4 27\ndropped-ok\n' > expect
  "$check" "$dir/t.zst" /dev/null expect || fail "trace does not end cleanly"
  # the summary says what END says
  said=$(sed -n 's/.* \([0-9]*\) dropped$/\1/p' err.txt)
  ended=$("$(dirname "$check")/malloc-trace" info "$dir/t.zst" | sed -n 's/^end:.* \([0-9]*\) dropped$/\1/p')
  [ -n "$said" ] && [ "$said" = "$ended" ] || fail "summary says $said dropped, END says $ended"
  # an output that cannot be written is refused before the program runs
  "$rec" -o /proc/no/such/t.zst -- sh -c 'touch ran' 2> err2.txt; rc=$?
  [ "$rc" = 2 ] && [ ! -e ran ] && [ "$(wc -l < err2.txt)" = 1 ] || fail "unwritable -o: rc $rc, $(cat err2.txt)"
  "$rec" -o "$dir" -- true 2> err2.txt; rc=$?
  [ "$rc" = 2 ] && grep -q "is a directory" err2.txt || fail "-o DIR: rc $rc, $(cat err2.txt)"
  ;;
gconv_unload)
  "$loop" "$GCONV_PATH/RTGCONV2.so" > /dev/null 2>&1; rc=$?
  [ "$rc" = 77 ] && { echo "the module did not come back at the same address: nothing to check"; exit 77; }
  [ "$rc" = 0 ] || fail "untraced: exit status $rc"
  "$rec" -q -o "$dir/g.%p.zst" -- "$loop" "$GCONV_PATH/RTGCONV2.so" > out.txt 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 77 ] && { echo "recorded: the module did not come back at the same address: nothing to check"; exit 77; }
  [ "$rc" = 0 ] || fail "recorded: exit status $rc"
  "$(dirname "$rec")/malloc-report" --folded "$dir"/g.*.zst > folded.txt || fail "malloc-report --folded"
  grep "helper" folded.txt
  grep -q "thread_main;run;helper" folded.txt || fail "the second module's stack follows the first one's rules"
  ;;
outlived)
  # the child's trace begins in its first moments; the shell gives it 0.5 s
  "$rec" -o "$dir/t.%p.zst" -- sh -c '(sleep 2; ls / > /dev/null) & sleep 0.5; exit 0' 2> err.txt || fail "exit status $?"
  cat err.txt
  line=$(grep "had not ended when the program did" err.txt) || fail "the outliving child's trace is not named"
  t=${line##*its trace is }
  [ -e "$t" ] || fail "named trace $t does not exist"
  sleep 3
  checkall
  ;;
static_binary)
  "$rec" -o "$dir/s.%p.zst" -- "$loop" 1000 > /dev/null 2> err.txt || fail "exit status $?"
  cat err.txt
  grep -q "wrote no trace: the program did not load libmalloc-record.so" err.txt || fail "no word of the missing trace"
  grep -q "killed" err.txt && fail "a static binary is said to be killed"
  ;;
split_stack)
  want=$("$loop") || fail "untraced: exit status $?"
  got=$("$rec" -q -o "$dir/s.%p.zst" -- "$loop") || fail "recorded: exit status $?"
  [ "$got" = "$want" ] || fail "recorded output '$got', untraced '$want'"
  got=$(MALLOC_RECORD_STACK_VERIFY=1 "$rec" -q -o "$dir/v.%p.zst" -- "$loop" 2> err.txt) || fail "verify mode: exit status $?"
  [ "$got" = "$want" ] || fail "verify mode: output '$got'"
  rm -f "$dir"/v.*.zst
  checkall
  ;;
verify_fork)
  MALLOC_RECORD_STACK_VERIFY=1 "$rec" -q -o "$dir/v.%p.zst" -- "$loop" > out.txt 2> err.txt || fail "exit status $?"
  [ "$(cat out.txt)" = ok ] || fail "output '$(cat out.txt)'"
  grep "stack cache verify" err.txt
  grep -q "stack cache verify" err.txt || fail "no verify report"
  grep "stack cache verify" err.txt | awk '$7 != 0 || $19 != 0 {b = 1} END {exit b}' || fail "wrong stacks reported"
  ;;
signals)
  trace_end() { "$(dirname "$rec")/malloc-trace" info "$1" | awk '$1 == "end:"'; }
  "$rec" -q -o "$dir/a.zst" perl -e '$SIG{TERM} = sub { print "term\n"; exit 7 }; sleep 20; print "no term\n"' > a.out & p=$!
  sleep 0.5; kill -TERM $p; wait $p; rc=$?
  [ "$rc" = 7 ] && [ "$(cat a.out)" = term ] || fail "kill from the program's group: exit $rc, output '$(cat a.out)'"
  # a program that takes 0.3 s to end after a TERM and counts them
  timeout -s TERM 0.5 "$rec" -q -o "$dir/b.zst" perl -e 'my $n = 0; $SIG{TERM} = sub { $n++ }; sleep 5; select(undef, undef, undef, 0.3); print "$n\n"' > b.out; rc=$?
  [ "$rc" = 124 ] && [ "$(cat b.out)" = 1 ] || fail "timeout: exit $rc, the program got '$(cat b.out)' TERM (expected 1)"
  setsid "$rec" -q -o "$dir/c.zst" sleep 20 & p=$!
  sleep 0.5; kill -TERM $p; wait $p; rc=$?
  [ "$rc" = 143 ] || fail "kill from another group: exit $rc"
  trace_end "$dir/c.zst" | grep -q "fatal signal (status 15)" || fail "kill from another group: the program did not get it: $(trace_end "$dir/c.zst")"
  "$rec" -q -o "$dir/d.zst" perl -e 'kill "USR1", getppid(); sleep 1; print "alive\n"' > d.out; rc=$?
  [ "$rc" = 0 ] && [ "$(cat d.out)" = alive ] || fail "the program signalling its parent: exit $rc, output '$(cat d.out)'"
  echo "signals: kill in group, setsid, timeout and the program's own all right"
  ;;
cli)
  mkdir tmp; export TMPDIR="$dir/tmp"
  echo precious > t.zst
  "$rec" -o t.zst nosuch-program-rt 2> err.txt; rc=$?
  [ "$rc" = 127 ] && [ "$(cat t.zst)" = precious ] || fail "a program that cannot run: status $rc, t.zst $(head -c 20 t.zst)"
  "$rec" -o t.zst -- "$loop" 1000 > /dev/null 2> err.txt || fail "loop: $(cat err.txt)"
  "$check" t.zst /dev/null > /dev/null || fail "t.zst was not replaced by a trace"
  [ "$(ls | grep -c '^t\.')" = 1 ] || fail "-o FILE twice: $(ls)"
  # the summary to a pipe that closed before the program ended
  ( "$rec" -o p.zst sh -c 'echo one; sleep 0.3; exit 3' 2>&1; echo $? > rc.txt ) | head -1 > /dev/null
  [ "$(cat rc.txt)" = 3 ] || fail "stderr a closed pipe: status $(cat rc.txt), not the program's 3"
  # SIGCHLD ignored by the caller
  perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV' "$rec" -q -o c.zst sh -c 'exit 5' 2> err.txt; rc=$?
  [ "$rc" = 5 ] || fail "SIGCHLD ignored: status $rc: $(cat err.txt)"
  want=$(perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV' grep SigIgn /proc/self/status)
  got=$(perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV' "$rec" -q -o c.zst grep SigIgn /proc/self/status)
  [ "$got" = "$want" ] || fail "SIGCHLD ignored: the program's dispositions '$got', untraced '$want'"
  # a program that stops itself
  "$rec" -q -o s.zst perl -e 'kill "STOP", $$; print "resumed\n"; exit 6' > s.out 2>&1 & rp=$!
  st=""
  for i in $(seq 100); do st=$(awk '{print $3}' /proc/$rp/stat 2>/dev/null); [ "$st" = T ] && break; sleep 0.05; done
  if [ "$st" != T ]; then pkill -KILL -P $rp; kill -KILL $rp; fail "the program stopped itself, malloc-record did not stop"; fi
  kill -CONT $rp; wait $rp; rc=$?
  [ "$rc" = 6 ] && [ "$(cat s.out)" = resumed ] || fail "stop and resume: status $rc, output $(cat s.out)"
  # an unusable TMPDIR
  TMPDIR=/nonexistent-rt "$rec" -o x.zst true 2> err.txt || fail "TMPDIR unusable: $(cat err.txt)"
  grep -q "trace written to" err.txt || fail "TMPDIR unusable: no summary: $(cat err.txt)"
  # privileges dropped
  if [ "$(id -u)" = 0 ]; then
    "$rec" -o u.zst perl -e '$( = $) = 65534; $< = $> = 65534; my @a = map { "x" x $_ } 1..100; exit 0' 2> err.txt \
      || fail "setuid: $(cat err.txt)"
    grep -q "trace written to $dir/u.zst" err.txt && ! grep -q "no summary" err.txt || fail "setuid: $(cat err.txt)"
    # ... and then closes every descriptor but 0-2 (a daemon): the log the
    # summary goes to is kept open, and it could not be opened again by name
    "$rec" -o u.zst /usr/bin/python3 -c 'import os; os.setgid(65534); os.setuid(65534); os.closerange(3, 2**31 - 1); d = [str(i) for i in range(1000)]' 2> err.txt \
      || fail "setuid and close_range: $(cat err.txt)"
    grep -q "pid [0-9]* (exit 0): trace written to $dir/u.zst" err.txt && ! grep -q "no summary" err.txt \
      || fail "setuid and close_range: $(cat err.txt)"
  fi
  # the writer thread's CPU beside the process's, per trace and in all
  "$rec" -o w.zst sh -c 'perl -e "my @a = map { q(x) x (\$_ % 100) } 1..100000"; true' 2> err.txt || fail "writer cpu: $(cat err.txt)"
  awk '/writer thread .* s of CPU, .*% of the process.s .* s$/ { n++; w = $4; p = $(NF - 1); if (w + 0 > p + 0 || $8 + 0 > 100) bad = 1 }
       END { exit !(n >= 1 && !bad) }' err.txt || fail "writer cpu lines: $(cat err.txt)"
  grep -q "^malloc-record: [0-9]* traces, [0-9]* events, [0-9]* bytes, writer threads [0-9.]* s of CPU in all$" err.txt \
    || fail "writer cpu in all: $(cat err.txt)"
  # a fifo: refused unless --no-follow (every process has a trace of its
  # own); with it, the trace streams to the reader, and a reader that goes
  # away stops the recording, not the program
  mkfifo ff || fail "mkfifo"
  "$rec" -o ff true 2> err.txt; rc=$?
  [ "$rc" = 2 ] && [ "$(cat err.txt)" = "malloc-record: ff: a fifo or device takes one process's trace: add --no-follow" ] \
    || fail "fifo without --no-follow: status $rc: $(cat err.txt)"
  "$(dirname "$rec")/malloc-trace" info ff > info.txt 2>&1 &
  rp=$!
  "$rec" --no-follow -o ff perl -e 'my @a = map { "x" x $_ } 1..10000; print "done\n"' > out.txt 2> err.txt; rc=$?
  wait $rp; irc=$?
  [ "$rc" = 0 ] && [ "$(cat out.txt)" = done ] && grep -q "trace written to $dir/ff" err.txt || fail "fifo: status $rc: $(cat err.txt)"
  [ "$irc" = 0 ] && grep -q "^end: *exit (status 0)" info.txt || fail "fifo: the reader got (status $irc): $(cat info.txt)"
  head -c 100 ff > /dev/null &
  "$rec" --no-follow -o ff perl -e 'my @a; for my $r (1..20) { @a = map { "x" x $_ } 1..20000 } print "done\n"' \
    > out.txt 2> err.txt; rc=$?
  wait
  [ "$rc" = 0 ] && [ "$(cat out.txt)" = done ] || fail "fifo whose reader left: status $rc, output $(cat out.txt)"
  grep -q "Broken pipe; recording stopped$" err.txt || fail "fifo whose reader left: $(cat err.txt)"
  # --no-follow: none of our settings for the children
  env -u LD_PRELOAD "$rec" -q --no-follow -o n.zst sh -c 'env; sh -c env' > env.txt || fail "--no-follow"
  ! grep -q -e MALLOC_RECORD -e '^LD_PRELOAD=' env.txt || fail "--no-follow left: $(grep -e MALLOC_RECORD -e LD_PRELOAD env.txt)"
  # a trace that cannot be created (a name over 255 bytes; its folder is fine)
  long="$dir/$(printf 'a%.0s' $(seq 300)).zst"
  "$rec" -o "$long" sh -c 'exit 4' 2> err.txt; rc=$?
  [ "$rc" = 4 ] || fail "long name: status $rc"
  grep -q "wrote no trace: $long: cannot create the trace: File name too long" err.txt && ! grep -q "did not load" err.txt \
    || fail "long name: $(cat err.txt)"
  # options
  "$rec" --level=5 --time-res=100 --output=o.zst --stack-depth=4 true 2> err.txt || fail "--opt=value: $(cat err.txt)"
  "$check" o.zst /dev/null > /dev/null || fail "--opt=value: no trace"
  "$rec" --bogus true 2> err.txt; rc=$?
  [ "$rc" = 2 ] && [ "$(cat err.txt)" = "malloc-record: unknown option '--bogus' (see --help)" ] || fail "unknown option: $rc $(cat err.txt)"
  "$rec" 2> err.txt; rc=$?
  [ "$rc" = 2 ] && [ "$(cat err.txt)" = "malloc-record: no PROGRAM given (see --help)" ] || fail "no program: $rc $(cat err.txt)"
  [ -z "$(ls tmp)" ] || fail "logs left behind: $(ls tmp)"
  echo "cli ok"
  ;;
nofollow)
  "$rec" --no-follow -o "$dir/t.%p.zst" -- sh -c 'ls / > /dev/null; sh -c true; exit 3' 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 3 ] || fail "exit status $rc"
  [ "$(ls "$dir"/*.zst | wc -l)" = 1 ] || fail "expected one trace: $(ls "$dir")"
  checkall
  "$rec" -o "$dir/f.%p.zst" -- sh -c 'ls / > /dev/null; sh -c true; exit 3' 2> err.txt
  [ "$(ls "$dir"/f.*.zst | wc -l)" -ge 3 ] || fail "following: expected >= 3 traces: $(ls "$dir")"
  ;;
address_limit)
  big=$loop
  # 300 MiB in one block under a 400 MiB limit: untraced it fits
  sh -c "ulimit -v 409600 && exec \"$big\" 300" > /dev/null || fail "untraced: no 300 MiB under a 400 MiB limit"
  sh -c "ulimit -v 409600 && exec \"$rec\" -o \"$dir/a.%p.zst\" -- \"$big\" 300" > /dev/null 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "traced under a 400 MiB limit: exit status $rc (3: the program's malloc failed)"
  checkall
  # tiny limits, where start-up (the program's or the recorder's) fails:
  # every file left is a readable trace, and the program ends as untraced
  # or, where the recorder's own libraries took the room, its malloc fails (3)
  for kb in 4096 6144 8192 10240 12288 14336 16384 20480 24576; do
    sh -c "ulimit -v $kb && exec \"$big\" 1" > /dev/null 2>&1; want=$?
    mkdir "$dir/v$kb"
    sh -c "ulimit -v $kb && exec \"$rec\" -o \"$dir/v$kb/t.%p.zst\" -- \"$big\" 1" > /dev/null 2> err.txt; rc=$?
    [ "$rc" = "$want" ] || [ "$rc" = 3 ] || { cat err.txt; fail "limit $kb KiB: exit status $rc, untraced $want"; }
    for t in "$dir/v$kb"/*; do
      [ -e "$t" ] || continue
      "$(dirname "$check")/malloc-trace" info "$t" > /dev/null 2>&1; irc=$? # 3: readable, cut short
      [ "$irc" = 0 ] || [ "$irc" = 3 ] || { cat err.txt; fail "limit $kb KiB: $t is no readable trace"; }
    done
    echo "limit $kb KiB: exit status $rc, $(ls "$dir/v$kb" | wc -l) traces"
  done
  ;;
no_memory)
  "$loop" 500 > base.out || fail "untraced: exit status $?"
  "$rec" -o "$dir/t.zst" -- "$loop" 500 > out 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "exit status $rc"
  cmp -s base.out out || fail "output differs from untraced"
  printf 'end 0 0\n' > expect.exit
  # the writer has its zstd buffers from the start: recording goes on
  ! grep -q "recording stopped" err.txt || fail "recording stopped under the lowered limit"
  "$check" "$dir/t.zst" /dev/null expect.exit || fail "trace does not end with END exit"
  n=$("$(dirname "$rec")/malloc-trace" info "$dir/t.zst" | awk '/^events:/ {print $2}')
  [ "${n:-0}" -gt 10000 ] || fail "only ${n:-0} events recorded"
  ;;
shell_high_fds)
  cmd='for fd in 1000 1001 1002 1003 1024 1025 1026; do eval "exec $fd>\"$0.$fd\""; echo "x$fd" >&$fd; done
       for fd in 1000 1001 1002 1003 1024 1025 1026; do cat "$0.$fd"; eval "exec $fd>&-"; done; ls / | wc -l'
  bash -c "$cmd" "$dir/u" > base.out 2>&1 || fail "untraced: exit status $?"
  "$rec" -o "$dir/t.%p.zst" -- bash -c "$cmd" "$dir/r" > out 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "exit status $rc"
  cmp -s base.out out || { diff base.out out; fail "output differs from untraced"; }
  checkall
  ;;
all_fds_used)
  sh -c "ulimit -n 16 && exec \"$rec\" -o \"$dir/t.%p.zst\" -- perl -MPOSIX -e '\$| = 1; my @f; while (open(my \$f, q(<), q(/dev/null))) { push @f, \$f } print scalar(@f) > 0, qq(\\n); POSIX::_exit(0)'" > out 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "exit status $rc"
  [ "$(cat out)" = 1 ] || fail "output: $(cat out)"
  grep -q "left no summary" err.txt && fail "the summary is missing"
  [ "$(grep -c 'trace written to' err.txt)" = 1 ] || fail "expected 1 summary"
  checkall
  ;;
fd_steal)
  # soft = hard = 64: no number is left to move the recorder's descriptors to
  sh -c "ulimit -n 64 && exec \"$rec\" -o \"$dir/t.zst\" -- \"$loop\"" > out 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "exit status $rc (the program's own descriptors were disturbed)"
  # the writer has no number while the program holds them all: recording
  # stops, and END(error EMFILE) is written at the end, with the summary
  grep -q "recording stopped" err.txt || fail "no reason given"
  grep -q "pid [0-9]* (error 24): trace written to $dir/t.zst" err.txt || fail "no summary of the error"
  "$(dirname "$rec")/malloc-trace" info t.zst > info.txt 2>&1; rc=$?
  [ "$rc" = 3 ] && grep -q "^end: *recorder error (status 24)" info.txt || fail "trace end (status $rc): $(cat info.txt)"
  ;;
cleared_env)
  # env -i execs sh without LD_PRELOAD: env's own trace (END exec) is the only one
  "$rec" -o "$dir/e.%p.zst" -- env -i sh -c 'exit 0' 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "env -i: exit status $rc"
  grep -q "left no summary" err.txt && fail "env -i: a summary is missing"
  [ "$(grep -c 'trace written to' err.txt)" = 1 ] || fail "env -i: expected 1 summary"
  # perl empties %ENV (its environ), then forks a child that allocates
  "$rec" -o "$dir/p.%p.zst" -- perl -e '%ENV = (); my $p = fork; if (!$p) { my @a = map { "x" x $_ } 1..300; exit 0 } waitpid($p, 0); exit($? >> 8)' 2> err.txt; rc=$?
  cat err.txt
  [ "$rc" = 0 ] || fail "perl: exit status $rc"
  grep -q "left no summary" err.txt && fail "perl: a summary is missing"
  [ "$(grep -c 'trace written to' err.txt)" = 2 ] || fail "perl: expected 2 summaries"
  [ "$(ls "$dir"/p.*.zst | wc -l)" = 2 ] || fail "perl: expected 2 traces p.PID.zst: $(ls "$dir")"
  [ -z "$(ls "$dir"/*.trace.zst 2>/dev/null)" ] || fail "a trace went to the default name: $(ls "$dir")"
  checkall
  ;;
*) fail "unknown case $case_" ;;
esac
echo ok
