"""figures.py - the ratios bench/replayer/run.sh prints, from malloc-replay's JSON."""
import json
import sys


def runs(path):
    d = json.load(open(path))
    return d, {r["allocator"]: r for r in d["runs"]}


def speed(path):
    _, r = runs(path)
    n, g = r["null"], r["glibc"]
    print(f"harness throughput (--null, touch none): {n['ops'] / n['wall_ns'] * 1e3:.1f} M ops/s by wall time, "
          f"{n['ops'] / n['cpu_ns'] * 1e3:.1f} M ops/s by CPU time   (target >= 100)")
    print(f"glibc replay (touch none): {g['ns_per_op']:.1f} ns/op wall, {g['cpu_ns'] / g['ops']:.1f} ns/op CPU")
    print(f"harness share of the glibc loop (touch none): {100 * n['wall_ns'] / g['wall_ns']:.1f}% by wall, "
          f"{100 * n['cpu_ns'] / g['cpu_ns']:.1f}% by CPU   (target <= 10%)")


def prep(path):
    d, _ = runs(path)
    print(f"preprocessing (trace to plan, in the parent): {d['prep_ns'] / 1e9:.2f} s for {d['events']} events = "
          f"{d['events'] / d['prep_ns'] * 1e3:.1f} M events/s")


def touched(path):
    _, r = runs(path)
    n, g = r["null"], r["glibc"]
    print(f"touch all (default): --null {n['ops'] / n['cpu_ns'] * 1e3:.1f} M ops/s by CPU; glibc "
          f"{g['cpu_ns'] / g['ops']:.1f} ns/op CPU; harness+touch share of the glibc loop "
          f"{100 * n['cpu_ns'] / g['cpu_ns']:.1f}% by CPU, {100 * n['wall_ns'] / g['wall_ns']:.1f}% by wall")


def determinism(path):
    d, _ = runs(path)
    h = [r["heap"] for r in d["runs"]]
    print("determinism: two serial glibc replays give", "IDENTICAL" if h[0] == h[1] else "DIFFERENT",
          "heap figures:", h[0], "" if h[0] == h[1] else h[1])


def rss(path, base_kb, orig_kb):
    d, r = runs(path)
    g = r["glibc"]
    base, orig = int(base_kb) * 1024, int(orig_kb) * 1024
    above = orig - base
    print(f"perl ({d['events']} events): original peak RSS {orig / 2**20:.1f} MiB, {above / 2**20:.1f} MiB above "
          f"'perl -e 1' ({base / 2**20:.1f} MiB)")
    print(f"  replay (glibc, serial, touch all): peak RSS above the harness baseline {g['peak_rss_bytes'] / 2**20:.1f} MiB"
          f" -> replay / original = {g['peak_rss_bytes'] / above:.3f}   (target 0.95..1.05)")
    print(f"  ideal (peak live requested bytes) {g['ideal_peak_bytes'] / 2**20:.1f} MiB; replay peak RSS / ideal "
          f"{g['peak_rss_over_ideal']:.2f}")


if __name__ == "__main__":
    {"speed": speed, "prep": prep, "touched": touched, "determinism": determinism, "rss": rss}[sys.argv[1]](*sys.argv[2:])
