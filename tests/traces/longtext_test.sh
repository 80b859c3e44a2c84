#!/bin/sh
# malloc-trace dump and import with strings of any length and any number of
# arguments: dump cut event lines at 8 KiB (a long exec path) and header lines
# at 4 KiB (a long sh -c script, a Java class path), and import kept 256
# arguments and environment entries; all silently, with exit 0. Hand-edited
# header numbers that are no numbers were read as 0.
# usage: longtext_test.sh MALLOC_TRACE WORKDIR
set -u
mt=$1; work=$2
. "$(dirname "$0")/checks.sh"
t_begin "$work"
# the text itself, the round trip of a trace imported from it
roundtrip() { # name file
  "$mt" import "$2" -o "$2.zst" || { bad "$1: import"; return; }
  "$mt" dump "$2.zst" > "$2.out" || { bad "$1: dump"; return; }
  check "$1: dump prints the text imported" cmp -s "$2" "$2.out"
}
hdr() { # the header lines dump prints, with N arguments of ARG
  printf '# malloc trace, format version 2\n# pid: 7\n# ppid: 1\n# start_real_ns: 0\n# start_mono_ns: 0\n'
  printf '# page_size: 4096\n# ncpu: 2\n# exe: /bin/x\n'
  i=0; while [ $i -lt "$1" ]; do printf '# arg: %s\n' "$2"; i=$((i + 1)); done
  printf '# glibc: 2.36\n# env: MALLOC_ARENA_MAX=2\n# tool: test\n'
}
long=$(awk 'BEGIN { for (i = 0; i < 2000; i++) printf "%%C3%%A9" }') # 2000 x e-acute: 12000 characters
{ hdr 1 x; printf '1 1 10 malloc 8 -> 0x10\n2 1 20 exec /opt/%s\n' "$long"; } > exec.txt
roundtrip "exec path of 12000 characters" exec.txt
script=$(awk 'BEGIN { for (i = 0; i < 1500; i++) printf "echo%%20"; printf "x" }') # 10501 characters
{ hdr 2 "$script"; printf '1 1 10 malloc 8 -> 0x10\n'; } > arg.txt
roundtrip "argument of 10501 characters" arg.txt
{ hdr 300 a; printf '1 1 10 malloc 8 -> 0x10\n'; } > many.txt
roundtrip "300 arguments" many.txt
check "300 arguments: info shows them all" sh -c "'$mt' info many.txt.zst | grep '^command:' | tr ' ' '\n' | grep -c '^a$' | grep -qx 300"
# a header number that is none is an error naming its line, not a 0
{ printf '# pid: 12x\n'; printf '1 1 10 malloc 8 -> 0x10\n'; } > badpid.txt
"$mt" import badpid.txt -o badpid.zst 2> err.txt; rc=$?
check "bad pid: exit 1, one line" sh -c "test $rc -eq 1 && test \$(wc -l < err.txt) -eq 1 && grep -q \"badpid.txt: line 1: bad pid '12x'\" err.txt && test ! -e badpid.zst"
{ printf '# ncpu: 4294967296\n'; printf '1 1 10 malloc 8 -> 0x10\n'; } > badcpu.txt
"$mt" import badcpu.txt -o badcpu.zst 2> err.txt; rc=$?
check "ncpu past 32 bits: exit 1" sh -c "test $rc -eq 1 && grep -q \"line 1: bad ncpu '4294967296'\" err.txt"
t_end
