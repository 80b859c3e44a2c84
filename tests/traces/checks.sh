# checks.sh - sourced by the traces tests' shell scripts: a fresh work folder
# to run in, and counted checks.
#   t_begin WORKDIR      empty WORKDIR and go there
#   ok / bad WHAT        count a check that passed / failed (and say which)
#   check NAME CMD...    ok if CMD succeeds, else bad NAME
#   t_end                the counts; the script's status (last command)
t_begin() { rm -rf "$1"; mkdir -p "$1"; cd "$1" || exit 1; pass=0; fail=0; }
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { name=$1; shift; if "$@"; then ok; else bad "$name"; fi; }
t_end() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; }
