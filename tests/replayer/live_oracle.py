"""live_oracle.py TEXT-TRACE REPLAY.json - checks malloc-replay's RSS-over-time
series: its live_bytes column against live requested bytes computed here from
the text form of the trace (an independent reading of the same events), and
the shape of the series (first op 0, last op = ops, RSS never above the peak)."""
import json
import sys

live, sizes, after = {}, 0, [0]
for line in open(sys.argv[1]):
    t = line.split()
    if not t or t[0].startswith('#'):
        continue
    op, args = t[3], t[4:]
    ret = int(args[args.index('->') + 1], 16) if '->' in args else None
    args = args[:args.index('->')] if '->' in args else args
    num = [int(a, 16) if a.startswith('0x') else int(a) for a in args]
    new = None
    if op == 'free':
        sizes -= live.pop(num[0], 0)
    elif op in ('realloc', 'reallocarray'):
        n = num[1] if op == 'realloc' else num[1] * num[2]
        if ret or n == 0:  # success, or realloc(p, 0) that freed p
            sizes -= live.pop(num[0], 0)
        new = n
    elif op == 'malloc' or op == 'valloc' or op == 'pvalloc':
        new = num[0]
    elif op == 'calloc':
        new = num[0] * num[1]
    elif op in ('memalign', 'posix_memalign', 'aligned_alloc'):
        new = num[1]
    if new is not None and ret:
        live[ret] = new
        sizes += new
    after.append(sizes)

d = json.load(open(sys.argv[2]))
bad = 0
for r in d['runs']:
    s = r['rss_over_time']
    ok = (s['unit'] == 'ops' and s['op'][0] == 0 and s['op'][-1] == r['ops'] == len(after) - 1
          and s['op'] == sorted(s['op']) and len(s['op']) == len(s['t_ns']) == len(s['rss_bytes']) == len(s['live_bytes'])
          and all(0 < b - a <= s['every'] for a, b in zip(s['op'], s['op'][1:]))
          and max(s['rss_bytes']) <= r['peak_rss_bytes'] and s['t_ns'] == sorted(s['t_ns'])
          and s['live_bytes'] == [after[o] for o in s['op']] and max(after) == d['ideal_peak_bytes'])
    if not ok:
        print(r['allocator'], 'series wrong:', s['op'], s['live_bytes'], [after[o] for o in s['op'] if o < len(after)],
              max(after), d['ideal_peak_bytes'])
        bad = 1
sys.exit(bad)
