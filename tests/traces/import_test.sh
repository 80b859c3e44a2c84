#!/bin/sh
# malloc-trace import on the inputs a user has: a log cut short (a killed
# program's mtrace() log ends inside a line: its last pointer, cut, still
# read as hex and was imported as a free of another address, exit 0), binary
# data (a NUL ended a line silently; /dev/zero grew one line without bound),
# a FIFO or <(zcat log.gz) (refused: 'cannot seek back'), odd mtrace lines
# (fields past the operation's were ignored, 0x-5 read as a pointer, a path
# with '] ' misread), -o naming a folder (found only after the whole import),
# C ints wider than 32 bits (kept as their low 32 bits).
# usage: import_test.sh MALLOC_TRACE SRCDIR WORKDIR
set -u
mt=$1; src=$2; work=$3
. "$(dirname "$0")/checks.sh"
t_begin "$work"
# import FILE, expecting exit status RC and one line on stderr with PATTERN
expect() { # name file rc pattern
  "$mt" import "$2" -o out.zst 2> err.txt; rc=$?
  if [ $rc -ne "$3" ]; then bad "$1: exit $rc: $(cat err.txt)"; return; fi
  if [ "$(wc -l < err.txt)" -ne 1 ] || ! grep -q "$4" err.txt || ! grep -q "$2" err.txt; then
    bad "$1: message: $(cat err.txt)"; return
  fi
  ok
}
log=$src/data/glibc-mtrace.log

# 1. a log cut inside its last line: the lines before it, as a trace without
#    END, exit 3 (the trace reader's status for a cut trace)
head -c $(( $(wc -c < "$log") - 11 )) "$log" > cut.log # ends '- 0x563be657'
check "the cut log ends inside a pointer" sh -c "tail -c 12 cut.log | grep -q '^- 0x563be657\$'"
expect "mtrace log cut short" cut.log 3 "line 22: the file ends inside this line (cut short?)"
"$mt" dump --no-header out.zst > cut.txt 2> /dev/null; rc=$?
check "cut log: the trace has no END (exit 3)" test $rc -eq 3
head -19 "$src/data/glibc-mtrace.expected" > want.txt
check "cut log: the events before the cut" cmp -s want.txt cut.txt
# the same in our text form (a dump cut short)
"$mt" import "$src/data/all_ops.txt" -o a.zst && "$mt" dump a.zst > a.txt
head -c $(( $(wc -c < a.txt) - 4 )) a.txt > cuta.txt
expect "text cut short" cuta.txt 3 "the file ends inside this line (cut short?)"
"$mt" dump out.zst 2> /dev/null | sed '$d' > got.txt
sed '$d' a.txt | sed '$d' > want.txt
check "cut text: the events before the cut" cmp -s want.txt got.txt
# a last line without its newline that is no line of the form is an error
printf '= Start\n+ 0x10 0x5\nwhat' > junk.log
expect "cut junk" junk.log 1 "line 3: not an mtrace line: 'what'"

# 2. binary data: one line, exit 1, bounded memory
printf '1 1 0 malloc 5 -> 0x10\000 junk\n' > nul.txt
expect "NUL in a line" nul.txt 1 "line 1: a NUL byte: binary data, not text"
(ulimit -v 2000000; "$mt" import /dev/zero -o z.zst 2> err.txt; echo $? > rc.txt)
check "/dev/zero: exit 1, one line" sh -c "test \$(cat rc.txt) -eq 1 && test \$(wc -l < err.txt) -eq 1 && grep -q '/dev/zero: line 1: a NUL byte' err.txt"
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "1234567890123456789012345678901234567890123456789012345678901234"; print "" }' > long.txt
expect "a line of 2.5 MB" long.txt 1 "line 1: longer than 1 MiB: not text"

# 3. a FIFO (or bash's <(zcat log.gz)) is read as standard input is
mkfifo fifo.log
cat "$log" > fifo.log &
"$mt" import fifo.log -o fifo.zst 2> err.txt; rc=$?
wait
"$mt" import "$log" -o file.zst
check "import from a FIFO" sh -c "test $rc -eq 0 && '$mt' dump --no-header fifo.zst | cmp -s - '$src/data/glibc-mtrace.expected'"

# 4. mtrace lines: exactly the fields of the operation
printf '= Start\n@ ./a:[0x1] + 0x10 0x5 0x7\n' > extra.log
expect "a field too many" extra.log 1 "line 2: '+' takes a pointer and a size: '@ ./a:\[0x1\] + 0x10 0x5 0x7'"
printf '= Start\n- 0x10 0x5\n' > extra2.log
expect "free with a size" extra2.log 1 "line 2: '-' takes one pointer"
printf '= Start\n+ 0x-5 0x5\n' > neg.log
expect "0x-5" neg.log 1 "line 2: not an mtrace line: '+ 0x-5 0x5'"
printf '= Start\n+ 0x10000000000000000 0x5\n' > big.log
expect "pointer past 64 bits" big.log 1 "line 2: not an mtrace line"
printf '= Start\n@ /opt/a] b/prog:(main+0x5)[0x1] + 0x10 0x5\n@ /opt/a] b/prog:[0x2] - 0x10\n' > path.log
"$mt" import path.log -o path.zst 2> err.txt; rc=$?
check "a caller path with '] '" sh -c "test $rc -eq 0 && '$mt' dump --no-header path.zst | tr '\n' '|' | grep -qx '1 1 0 malloc 5 -> 0x10|2 1 0 free 0x10|'"
printf '1 1 0 malloc 5 -> 0x-10\n' > neg.txt
expect "text: 0x-10" neg.txt 1 "line 1: bad argument to malloc"

# 5. -o naming a folder: one line before any work
mkdir -p folder
"$mt" import "$log" -o folder 2> err.txt; rc=$?
check "-o a folder" sh -c "test $rc -eq 1 && test \$(wc -l < err.txt) -eq 1 && grep -q '^malloc-trace: folder: is a directory' err.txt"
# 6. mallopt's values, malloc_trim's result and fork's pid are C ints: the
#    trace keeps 32 bits, so a wider one came back as another (-1, 0) with exit 0
printf '1 1 1 mallopt 1 -2147483648 -> 2147483647\n2 1 2 fork -> -1\n' > int.txt
"$mt" import int.txt -o int.zst 2> err.txt
check "ints at their bounds round trip" sh -c "'$mt' dump --no-header int.zst | cmp -s - int.txt"
printf '1 1 1 mallopt 1 2147483648 -> 1\n' > wide.txt
expect "mallopt value past 32 bits" wide.txt 1 "line 1: bad argument to mallopt"
printf '1 1 1 fork -> -9223372036854775808\n' > wide2.txt
expect "fork pid past 32 bits" wide2.txt 1 "line 1: bad argument to fork"
t_end
