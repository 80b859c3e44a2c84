#!/bin/sh
# difftest.sh GEN DRIVER MODEL WORKDIR SEED_FIRST SEED_LAST NOPS K [MODE]
# MODE: pm_gen's (threads, churn, heaps, unsorted, comma-separated); "addr"
# runs the model through its address API instead of handles.
# For every seed: generate a script, run it on the real glibc and on the
# model, and require identical output (every op's result and every
# mallinfo2 checkpoint). Prints the first difference and fails.
gen=$1 drv=$2 model=$3 dir=$4 first=$5 last=$6 nops=$7 k=$8 mode=$9
# TUNE=name=value:name=value (glibc.malloc tunables) runs the driver under
# GLIBC_TUNABLES and gives the model the same settings.
mflag=
case "$mode" in *addr*) mflag=--addr ;; esac
gt=
if [ -n "$TUNE" ]; then
    gt=$(echo "$TUNE" | sed 's/\([a-z_]*=\)/glibc.malloc.\1/g')
    mflag="$mflag --tune $TUNE"
fi
mkdir -p "$dir" || exit 1
fail=0
s=$first
while [ "$s" -le "$last" ]; do
    "$gen" "$s" "$nops" $mode > "$dir/s$s.txt" || exit 1
    GLIBC_TUNABLES=$gt "$drv" "$dir/s$s.txt" "$k" > "$dir/g$s.out" || { echo "seed $s: driver failed"; exit 1; }
    brk=$(head -1 "$dir/g$s.out" | cut -d' ' -f2)
    "$model" $mflag "$dir/s$s.txt" "$k" "$brk" > "$dir/m$s.out" || { echo "seed $s: model failed"; exit 1; }
    if ! cmp -s "$dir/g$s.out" "$dir/m$s.out"; then
        line=$(cmp "$dir/g$s.out" "$dir/m$s.out" | sed -n 's/.*line \([0-9]*\).*/\1/p')
        echo "seed $s: first difference at output line $line (script $dir/s$s.txt)"
        diff "$dir/g$s.out" "$dir/m$s.out" | head -6
        fail=1
    else
        rm -f "$dir/s$s.txt" "$dir/g$s.out" "$dir/m$s.out"
    fi
    s=$((s + 1))
done
[ $fail -eq 0 ] && echo "seeds $first..$last ($mode${TUNE:+ $TUNE}): $nops ops each, identical"
exit $fail
