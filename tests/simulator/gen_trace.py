#!/usr/bin/env python3
"""gen_trace.py SEED NOPS: a random single-thread malloc trace in malloc-trace's
text form, hitting every ptmalloc2 path: sizes in every bin class (tcache,
fastbin, small, large, mmapped), calloc, growing and shrinking realloc,
memalign/posix_memalign/aligned_alloc/valloc, frees in random order, bursts
that consolidate and trim, mallopt and malloc_trim. Addresses are fake and
never reused (the replayer and the simulator map them)."""
import random, sys

seed, nops = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
live = []            # fake addresses
seq = 0
addr = 0x10000000
out = []

def size():
    r = rng.random()
    if r < 0.45: return rng.randint(0, 120)
    if r < 0.75: return rng.randint(121, 1024)
    if r < 0.93: return rng.randint(1025, 70000)
    if r < 0.985: return rng.randint(70000, 300000)
    return rng.randint(300000, 3000000)

def emit(s):
    global seq
    seq += 1
    out.append("%d 1 %d %s" % (seq, seq * 10, s))

def fresh():
    global addr
    addr += 0x1000
    return addr

for i in range(nops):
    r = rng.random()
    if r < 0.40 or not live:
        a = fresh(); emit("malloc %d -> 0x%x" % (size(), a)); live.append(a)
    elif r < 0.45:
        a = fresh(); n = rng.randint(1, 16); emit("calloc %d %d -> 0x%x" % (n, size() // n + 1, a)); live.append(a)
    elif r < 0.55:
        k = rng.randrange(len(live)); a = fresh()
        emit("realloc 0x%x %d -> 0x%x" % (live[k], size(), a)); live[k] = a
    elif r < 0.58:
        al = 1 << rng.randint(4, 12); a = fresh()
        op = rng.choice(["memalign", "posix_memalign", "aligned_alloc"])
        emit("%s %d %d -> 0x%x" % (op, al, size(), a)); live.append(a)
    elif r < 0.585:
        a = fresh(); emit("valloc %d -> 0x%x" % (size(), a)); live.append(a)
    elif r < 0.59:
        # a burst: many small frees, then a large request (consolidation)
        for _ in range(min(len(live), 20)):
            k = rng.randrange(len(live)); emit("free 0x%x" % live[k]); live[k] = live[-1]; live.pop()
        a = fresh(); emit("malloc %d -> 0x%x" % (rng.randint(1100, 5000), a)); live.append(a)
    elif r < 0.5905:
        p, v = rng.choice([(-3, rng.choice([65536, 262144, 1 << 20])), (-1, rng.choice([65536, 1 << 20])),
                           (-2, rng.choice([0, 4096, 262144])), (1, rng.choice([0, 64, 128, 160]))])
        emit("mallopt %d %d -> 1" % (p, v))
    elif r < 0.591:
        emit("malloc_trim %d -> 1" % rng.choice([0, 4096, 1 << 20]))
    elif r < 0.592:
        emit("free 0x0")
    else:
        k = rng.randrange(len(live)); emit("free 0x%x" % live[k]); live[k] = live[-1]; live.pop()
print("\n".join(out))
