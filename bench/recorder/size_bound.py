#!/usr/bin/env python3
"""size_bound.py DUMP [HEAPTRACK_BYTES] - how many bytes any trace of this run
needs, at least, for two things that malloc-record must carry and heaptrack
drops: each event's time, and which live object each free gives up.

DUMP is `malloc-trace dump --no-header TRACE` (one process). Both figures
are empirical entropies, the fewest bits an entropy coder could spend under
the best of a few simple models (the coders zstd has are no better than
these on such data):
  times: the per-thread time deltas, at the trace's resolution, coded with a
         separate distribution for each (previous op, op) pair;
  frees: the object each free releases, either chosen uniformly among the
         live ones, or as the distance in allocation order from the object
         the previous free released (pairs freed together cost little); the
         cheaper of the two for the whole trace.
Prints "times_B frees_B bound_B events"; with HEAPTRACK_BYTES, also whether
the bound alone exceeds heaptrack's file, in which case no encoding of the
same content can be as small as heaptrack's file.
"""
import collections
import math
import sys

ALLOC = {"malloc", "calloc", "memalign", "posix_memalign", "aligned_alloc", "valloc", "pvalloc"}


def entropy_bits(counter):
    n = sum(counter.values())
    return -sum(v * math.log2(v / n) for v in counter.values()) if n else 0.0


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: size_bound.py DUMP [HEAPTRACK_BYTES]")
    prev_t, prev_op = {}, {}
    times = collections.defaultdict(collections.Counter)
    live, nalloc, prev_idx = {}, 0, None
    dist = collections.Counter()
    uniform = 0.0
    events = 0
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("#"):
                continue
            x = line.split()
            tid, t, op = x[1], int(x[2]), x[3]
            events += 1
            times[(prev_op.get(tid), op)][t - prev_t.get(tid, t)] += 1
            prev_t[tid], prev_op[tid] = t, op
            ret = x[-1] if x[-2] == "->" else None
            if op in ALLOC:
                if ret != "0x0":
                    live[ret] = nalloc
                    nalloc += 1
                continue
            if op in ("realloc", "reallocarray"):
                if ret == "0x0":
                    continue
                gone = x[4]
            elif op == "free":
                gone, ret = x[4], None
            else:
                continue
            i = live.pop(gone, None) if gone != "0x0" else None
            if i is not None:
                uniform += math.log2(len(live) + 1)
                if prev_idx is not None:
                    dist[i - prev_idx] += 1
                prev_idx = i
            if ret is not None:
                live[ret] = nalloc
                nalloc += 1
    tb = sum(entropy_bits(c) for c in times.values()) / 8
    fb = min(uniform, entropy_bits(dist)) / 8
    out = "%d %d %d %d" % (tb, fb, tb + fb, events)
    if len(sys.argv) > 2:
        out += " exceeds" if tb + fb > int(sys.argv[2]) else " below"
    print(out)


if __name__ == "__main__":
    main()
