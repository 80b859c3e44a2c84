#!/bin/sh
# classes_real.sh PROBE SIM_CLASSES DIR: the size-class models against the real
# allocators. usable_probe prints malloc_usable_size for requests of 1..4096
# bytes and a sparse walk up to 40 MB, under LD_PRELOAD of Debian's
# jemalloc, tcmalloc and mimalloc; the model must give the same size for all.
probe=$1 classes=$2 dir=$3
mkdir -p "$dir" || exit 1
lib=/usr/lib/x86_64-linux-gnu
fail=0
for a in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc.so.4 mimalloc:libmimalloc.so.2; do
    name=${a%%:*} so=$lib/${a#*:}
    if [ ! -e "$so" ]; then echo "$name: $so missing"; fail=1; continue; fi
    LD_PRELOAD=$so "$probe" 40000000 > "$dir/$name.real" || { echo "$name: probe failed"; fail=1; continue; }
    # the probe must really run on that allocator: glibc would give 24 for 1
    if [ "$(head -1 "$dir/$name.real")" = "1 24" ]; then echo "$name: not preloaded"; fail=1; continue; fi
    "$classes" "$name" < "$dir/$name.real" > "$dir/$name.model" || { fail=1; continue; }
    n=$(wc -l < "$dir/$name.real")
    if [ "$n" -lt 5000 ]; then echo "$name: only $n sizes probed"; fail=1; continue; fi
    if cmp -s "$dir/$name.real" "$dir/$name.model"; then
        echo "$name: $n request sizes, every class equal to malloc_usable_size"
    else
        echo "$name: differs (request real model):"
        paste -d' ' "$dir/$name.real" "$dir/$name.model" | awk '$2 != $4 {print $1, $2, $4}' | head -5
        fail=1
    fi
done
exit $fail
