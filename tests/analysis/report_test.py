#!/usr/bin/env python3
"""malloc-report's tests: one function per CTest case.

usage: report_test.py CASE BINDIR SRCDIR WORKDIR [EXTRA...]
BINDIR holds malloc-report, malloc-trace, handtrace and selftrace.
Expected numbers come from the hand-made traces in data/, worked out in the
comments below, or from the test program's own source (SITE_* markers)."""
import errno
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser

CASE, BIN, SRC, WORK = sys.argv[1:5]
EXTRA = sys.argv[5:]
REPORT = os.path.join(BIN, "malloc-report")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, env=None, ok=(0,)):
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    if p.returncode not in ok:
        print("command:", " ".join(args), "\nstdout:", p.stdout, "\nstderr:", p.stderr)
        failures.append("exit status %d from %s" % (p.returncode, " ".join(args)))
    return p


def fresh(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def hand_trace(name, d):
    out = os.path.join(d, name + ".zst")
    run([os.path.join(BIN, "handtrace"), os.path.join(BIN, "malloc-trace"),
         os.path.join(SRC, "data", name + ".txt"), out])
    return out


def line_value(text, key):
    """The value of the first 'key   value' line of the text report."""
    for line in text.splitlines():
        if line.startswith(key):
            return line[len(key):].strip()
    return None


def valid_png(path):
    """PNG signature, then chunks with good CRCs up to IEND."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    pos, seen_iend = 8, False
    while pos + 12 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) != crc:
            return False
        pos += 12 + n
        if kind == b"IEND":
            seen_iend = True
            break
    return seen_iend


def valid_svg(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        print("SVG parse error:", path, e)
        return False
    return root.tag.endswith("svg")


class TagBalance(HTMLParser):
    """Checks that every element but the void ones is closed, in order."""
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> with open %r" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()


def check_report_files(d, charts):
    check(os.path.exists(os.path.join(d, "index.html")), "index.html written")
    html = open(os.path.join(d, "index.html")).read()
    tb = TagBalance()
    tb.feed(html)
    check(not tb.errors and not tb.stack, "index.html elements balanced: %r %r" % (tb.errors[:3], tb.stack))
    for c in charts:
        png, svg = os.path.join(d, c + ".png"), os.path.join(d, c + ".svg")
        check(os.path.exists(png) and valid_png(png), c + ".png is a complete PNG")
        check(os.path.exists(svg) and valid_svg(svg), c + ".svg parses as SVG")
        check(('src="%s.svg"' % c) in html, "index.html shows " + c)
    return html


# ---- hand-made trace A (data/hand_a.txt), worked out by hand -------------------
# live after each event: 100, 300, 100, -, 400, 450, 150, (realloc: 100 then) 600,
# -, -, 1600 (peak: 0x1000 100 + 0x5000 500 + 0x6000 1000, seq 11, t 10000 = 10 us
# from the start of the recording, as malloc-trace info says; 9 us after the first event), 1500, 1564 (final: 500 + 1000 + 64 in 3 blocks).
# calls: malloc x5, calloc x1 (10*30), realloc x1 = 7; bytes 100+200+300+50+500+1000+64 = 2214.
# free calls 5: one of NULL (seq 9), one of 0x9999 never allocated (seq 10).
# temporary (freed with nothing allocated or freed in between by that thread):
# 0x2000 (seq 3), 0x3000 in thread 101 (seq 7), 0x4000 released by the realloc (seq 8)
# = 3 of 7 = 42.9%, lifetimes 1000, 2000, 2000 -> mean 1.7 us; 0x1000 lived 10000 ns.
# sizes: 50 in [32,64); 100, 64 in [64,128); 200 in [128,256); 300, 500 in [256,512); 1000 in [512,1K).
# sites: stack 3 (app+0x403f <- app+0x302f) 1000 B at the peak, 2 calls, 1300 B, 1000 leaked;
# stack 2: 500 at peak, 2 calls, 700 B, 500 leaked; stack 1: 100 at peak, 3 calls, 214 B, 64 leaked.
def case_hand_numbers():
    d = fresh("hand")
    t = hand_trace("hand_a", d)
    p = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"])
    out = p.stdout
    expect = {
        "events:": "13 over 11.0 us, 2 threads",
        "allocation calls:": "7 (malloc 5, calloc 1, realloc 1)",
        "free calls:": "5 (1 of NULL, 1 of a pointer the trace never allocated)",
        "bytes requested:": "2214 B",
        "peak live:": "1600 B in 3 blocks at 10.0 us from the start of the recording (seq 11)",
        "leaked (live at end):": "1564 B in 3 blocks",
        "never freed:": "3 blocks",
    }
    for k, v in expect.items():
        check(line_value(out, k) == v, "%s %r (got %r)" % (k, v, line_value(out, k)))
    check(line_value(out, "temporary:").startswith("3 allocations (42.9% of calls)"), "temporary 3 (42.9%)")
    # the peak's time counts from where malloc-trace info counts (the start of the recording)
    info = line_value(run([os.path.join(BIN, "malloc-trace"), "info", t]).stdout, "peak live:") or ""
    when = re.search(r"at seq (\d+) \((.+)\)$", info)
    check(when is not None and ("at %s from the start of the recording (seq %s)" % (when.group(2), when.group(1)))
          in line_value(out, "peak live:"), "peak time as malloc-trace info's %r" % info)
    check("3 of 7 allocation calls (42.9%), mean lifetime 1.7 us" in out, "temporary lifetime line")
    sizes = re.findall(r"^(\S+)\s+(\d+)\s+([\d.]+%)\s+(\d+ B)$", out, re.M)
    check(sizes == [("32-64", "1", "14.3%", "50 B"), ("64-128", "2", "28.6%", "164 B"),
                    ("128-256", "1", "14.3%", "200 B"), ("256-512", "2", "28.6%", "800 B"),
                    ("512-1K", "1", "14.3%", "1000 B")], "size histogram %r" % (sizes,))
    lifes = re.findall(r"^(\S+)\s+(\d+)\s+([\d.]+%)$", out, re.M)
    life_nonzero = [x for x in lifes if x[1] != "0"]
    check(life_nonzero == [("512ns-1.02us", "1", "25.0%"), ("1.02us-2.05us", "2", "50.0%"),
                           ("8.19us-16.4us", "1", "25.0%")], "lifetime histogram %r" % (life_nonzero,))
    threads = re.findall(r"^(10[01])\s+(\d+)\s+(\d+)\s+([\d.]+%)$", out, re.M)
    check(threads == [("100", "8", "5", "71.4%"), ("101", "5", "2", "28.6%")], "threads %r" % (threads,))

    def sites(title):
        part = out.split(title, 1)[1].split("\n== ", 1)[0]
        return re.findall(r"^\s+\d+\s+(\d+ B)\s+(\d+)\s+(\d+ B)\s+(\d+ B)\s+(\d+)\s+(\S+)", part, re.M)
    check(sites("by bytes live at the peak") == [
        ("1000 B", "2", "1300 B", "1000 B", "1", "app+0x403f"),
        ("500 B", "2", "700 B", "500 B", "1", "app+0x100f"),
        ("100 B", "3", "214 B", "64 B", "1", "app+0x100f")], "sites by peak %r" % (sites("by bytes live at the peak"),))
    check([s[1] for s in sites("by number of calls")] == ["3", "2", "2"], "sites by calls")
    check([s[3] for s in sites("by leaked bytes")] == ["1000 B", "500 B", "64 B"], "sites by leaked bytes")
    html = check_report_files(os.path.join(d, "rep"), ["memory", "sizes", "rate", "lifetimes"])
    check("1600 B in 3 blocks" in html, "HTML carries the same numbers")
    check("replay skipped (--no-replay)" in out and "simulation skipped (--no-sim)" in out, "skips are said")
    # default output folder: TRACE-report
    run([REPORT, t, "--no-replay", "--no-sim"])
    check(os.path.exists(t + "-report/index.html"), "default folder TRACE-report/")


def case_realloc_race():
    """A realloc gives its old block up at its release seq (FORMAT.md section 5):
    data/race.txt, where another thread gets the address back before the
    realloc's own seq, counts no unknown free and peaks at 250 B (it said
    200 B and one free of a pointer never allocated)."""
    d = fresh("race")
    t = hand_trace("race", d)
    out = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"]).stdout
    expect = {
        "free calls:": "2 (0 of NULL, 0 of a pointer the trace never allocated)",
        "peak live:": "250 B in 2 blocks at 40 ns from the start of the recording (seq 4)",
        "leaked (live at end):": "0 B in 0 blocks",
    }
    for k, v in expect.items():
        check(line_value(out, k) == v, "%s %r (got %r)" % (k, v, line_value(out, k)))
    # three blocks freed: the realloc's old one after 30 ns, the 50 B and the 200 B ones after 20 ns
    lifes = [x for x in re.findall(r"^(\S+)\s+(\d+)\s+([\d.]+%)$", out, re.M) if x[1] != "0"]
    check(lifes == [("16ns-32ns", "3", "100.0%")], "lifetimes %r" % (lifes,))


def case_realloc_zero():
    """The allocation calls' total and their breakdown by function agree, and
    so do the free calls' (data/realloc0.txt): realloc(p, 0) returning NULL is
    a free call; realloc(NULL, 0) returning NULL an allocation that returned
    NULL. The total said 10 with a breakdown adding up to 11."""
    d = fresh("realloc0")
    t = hand_trace("realloc0", d)
    out = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"]).stdout
    expect = {
        "allocation calls:": "4 (malloc 2, realloc 2), some returned NULL",
        "failed allocations:": "1",
        "unknown reallocs:": "1 of a pointer the trace never allocated",
        "free calls:": "3 (0 of NULL, 0 of a pointer the trace never allocated, 1 by realloc(p, 0))",
        "bytes requested:": "60 B",
        "leaked (live at end):": "0 B in 0 blocks",
    }
    for k, v in expect.items():
        check(line_value(out, k) == v, "%s %r (got %r)" % (k, v, line_value(out, k)))
    m = re.match(r"(\d+) \((.*)\)", line_value(out, "allocation calls:") or "")
    check(m is not None and int(m.group(1)) == sum(int(x) for x in re.findall(r" (\d+)", m.group(2))),
          "allocation calls: the total is the sum of the breakdown")
    threads = re.findall(r"^(7)\s+(\d+)\s+(\d+)\s+([\d.]+%)$", out, re.M)
    check(threads == [("7", "7", "4", "100.0%")], "thread row %r" % (threads,))


def case_lifetimes_res():
    """Times rounded to 1 us (malloc-record's default, data/res.txt): the
    resolution is said, a lifetime under it is '<1us' (it read '0'), and no
    row stands for a range under 1 us, which no lifetime can fall in (there
    were ten empty rows from 1ns-2ns to 256ns-512ns, and 512ns-1.02us held
    the lifetimes of exactly 1 us)."""
    d = fresh("res")
    t = hand_trace("res", d)
    rep = os.path.join(d, "rep")
    out = run([REPORT, t, "-o", rep, "--no-replay", "--no-sim"]).stdout
    check((line_value(out, "time resolution:") or "").startswith("1us (every event time is a multiple of it)"),
          "time resolution line %r" % line_value(out, "time resolution:"))
    part = out.split("== Lifetimes", 1)[1].split("\n== ", 1)[0]
    lifes = re.findall(r"^(\S+)\s+(\d+)\s+([\d.]+%)$", part, re.M)
    check(lifes == [("<1us", "1", "33.3%"), ("1us-1.02us", "1", "33.3%"), ("1.02us-2.05us", "0", "0.0%"),
                    ("2.05us-4.1us", "1", "33.3%")], "lifetime rows %r" % (lifes,))
    gp = open(os.path.join(rep, "lifetimes.gp")).read()
    check('"<1us" 1 ' in gp and "ns-" not in gp.replace("us-", ""), "chart labels as the text's")
    # at full resolution there is no such line, and 0 stays 0
    src = open(os.path.join(SRC, "data", "res.txt")).read().replace(" 9000 free", " 9001 free")
    open(os.path.join(d, "ns.txt"), "w").write(src)
    t2 = os.path.join(d, "ns.zst")
    run([os.path.join(BIN, "handtrace"), os.path.join(BIN, "malloc-trace"), os.path.join(d, "ns.txt"), t2])
    out2 = run([REPORT, t2, "-o", os.path.join(d, "rep2"), "--no-replay", "--no-sim"]).stdout
    check(line_value(out2, "time resolution:") is None, "no resolution line at 1 ns")
    check(re.search(r"^0\s+1\s", out2, re.M) is not None, "lifetime 0 at 1 ns resolution")


def case_verdict_base():
    """The verdict without a plain glibc run (--alloc glibc:MALLOC_ARENA_MAX=1,
    jemalloc) compares with the first run and says so; with one run it says
    there is nothing to compare. Both left the verdict empty. The comparison
    table does the same (its 'vs glibc' columns were '-'), and stays aligned
    under a long run name."""
    d = fresh("verdict")
    t = hand_trace("hand_a", d)
    bindir = os.path.join(d, "bin")
    os.makedirs(bindir)
    shutil.copy(REPORT, bindir)
    run_json = {
        "glibc:MALLOC_ARENA_MAX=1": '{"allocator": "glibc:MALLOC_ARENA_MAX=1", "library": null, "mode": "serial", '
        '"env": ["MALLOC_ARENA_MAX=1"], "ops": 13, "wall_ns": 1300, "cpu_ns": 1200, "ns_per_op": 100.5, '
        '"peak_rss_bytes": 2097152, "final_rss_bytes": 1048576, "ideal_peak_bytes": 1600, "peak_rss_over_ideal": 1310.7}',
        "jemalloc": '{"allocator": "jemalloc", "library": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "mode": "serial", '
        '"env": [], "ops": 13, "wall_ns": 1000, "cpu_ns": 900, "ns_per_op": 76.9, "peak_rss_bytes": 1572864, '
        '"final_rss_bytes": 1048576, "ideal_peak_bytes": 1600, "peak_rss_over_ideal": 983.0}'}
    for name, body in run_json.items():
        open(os.path.join(d, name.split(":")[0] + ".json"), "w").write(body)
    fake_tool(os.path.join(bindir, "malloc-replay"), r'''
while [ $# -gt 0 ]; do case "$1" in --json) out=$2; shift;; --alloc) list=$2; shift;; --check-options) exit 0;; esac; shift; done
d=${0%%/bin/*}
{ printf '{"trace": "t", "events": 13, "runs": ['; sep=
  for a in $(echo "$list" | tr , ' '); do printf '%%s' "$sep"; cat "$d/${a%%%%:*}.json"; sep=,; done
  printf ']}\n'; } > "$out"
'''.replace("%%", "%"))
    out = run([os.path.join(bindir, "malloc-report"), t, "-o", os.path.join(d, "rep"), "--no-sim",
               "--alloc", "glibc:MALLOC_ARENA_MAX=1,jemalloc"]).stdout
    expect = {
        "measured against:": "glibc:MALLOC_ARENA_MAX=1, the first run (no plain glibc run)",
        "smallest (measured):": "jemalloc, peak RSS 1.5 MiB: 512.0 KiB less than glibc:MALLOC_ARENA_MAX=1 (2.0 MiB, 25%)",
        "fastest (measured):": "jemalloc, 76.9 ns per op against glibc:MALLOC_ARENA_MAX=1's 100.5 (23% less time)",
    }
    for k, v in expect.items():
        check(line_value(out, k) == v, "%s %r (got %r)" % (k, v, line_value(out, k)))
    # the comparison table: against the first run too, its columns aligned
    # under a name longer than the column was (values ran to the right)
    lines = out.split("== Allocator comparison", 1)[1].splitlines()
    head = [l for l in lines if l.startswith("allocator ")]
    check(len(head) == 1 and "RSS vs first" in head[0] and "time vs first" in head[0], "table head %r" % head)
    if head:
        end = head[0].index("ns/op") + len("ns/op")
        for name, ns in (("glibc:MALLOC_ARENA_MAX=1", "100.5"), ("jemalloc", "76.9")):
            row = [l for l in lines if l.startswith(name + " ")]
            check(len(row) == 1 and row[0][:end].endswith(" " + ns), "row %s aligned: %r" % (name, row))
    check("note: compared with glibc:MALLOC_ARENA_MAX=1, the first run (no plain glibc run)" in out, "table's note")
    out = run([os.path.join(bindir, "malloc-report"), t, "-o", os.path.join(d, "rep1"), "--no-sim",
               "--alloc", "jemalloc"]).stdout
    check(line_value(out, "measured:") == "one run (jemalloc): nothing to compare it with",
          "one run: %r" % line_value(out, "measured:"))
    check(line_value(out, "smallest (measured):") is None, "one run: no winner named")


def case_no_times():
    """A trace without times (as imported from an mtrace() log): charts over
    the event count, no rate chart, the same numbers."""
    d = fresh("notimes")
    src = open(os.path.join(SRC, "data", "hand_a.txt")).read()
    txt = os.path.join(d, "flat.txt")
    open(txt, "w").write(re.sub(r"^(\d+ \d+) \d+ ", r"\1 0 ", src, flags=re.M))
    t = os.path.join(d, "flat.zst")
    run([os.path.join(BIN, "handtrace"), os.path.join(BIN, "malloc-trace"), txt, t])
    rep = os.path.join(d, "rep")
    out = run([REPORT, t, "-o", rep, "--no-replay", "--no-sim"]).stdout
    check(line_value(out, "peak live:") == "1600 B in 3 blocks at seq 11 (the trace has no times)", "same peak without times")
    check_report_files(rep, ["memory", "sizes", "lifetimes"])
    check("set xlabel 'events since the first'" in open(os.path.join(rep, "memory.gp")).read(), "x axis by events")
    check(not os.path.exists(os.path.join(rep, "rate.png")), "no rate chart without times")


def case_folded():
    d = fresh("folded")
    t = hand_trace("hand_a", d)
    for w in ("bytes", "calls"):
        args = [REPORT, "--folded", t] + (["--weight", w] if w == "calls" else [])
        got = run(args).stdout
        want = open(os.path.join(SRC, "data", "hand_a.folded_" + w)).read()
        check(got == want, "folded by %s:\n%s\nwanted:\n%s" % (w, got, want))
    out = os.path.join(d, "f.txt")
    run([REPORT, "--folded", t, "-o", out, "--weight", "calls"])
    check(open(out).read() == open(os.path.join(SRC, "data", "hand_a.folded_calls")).read(), "folded -o FILE")
    p = run([REPORT, "--folded", t, "--weight", "pages"], ok=(2,))
    check("--weight takes bytes, calls, peak, leaked or temporary" in p.stderr, "bad --weight refused")
    # the other weights, from the hand-worked site values (see case_hand_numbers)
    for w, vals in (("peak", (100, 500, 1000)), ("leaked", (64, 500, 1000)), ("temporary", (1, 1, 1))):
        got = run([REPORT, "--folded", t, "--weight", w]).stdout
        want = "app+0x302f;app+0x201f;app+0x100f %d\napp+0x302f;app+0x221f;app+0x100f %d\napp+0x302f;app+0x403f %d\n" % vals
        check(got == want, "folded by %s: %r" % (w, got))


# B = A but site 3 allocates 3000 instead of 1000 at seq 11 (+2000 at the peak, in
# bytes and leaked), and seq 13's 64 bytes come from site 2 instead of site 1.
def case_diff():
    d = fresh("diff")
    a, b = hand_trace("hand_a", d), hand_trace("hand_b", d)
    out = run([REPORT, "--diff", a, b]).stdout
    rows = {m[0].strip(): m[1:] for m in re.findall(r"^(\D+?)\s+(\d+)\s+(\d+)\s+([+-]\d+)", out, re.M)}
    check(rows.get("peak live bytes") == ("1600", "3600", "+2000"), "peak delta %r" % (rows.get("peak live bytes"),))
    check(rows.get("bytes requested") == ("2214", "4214", "+2000"), "bytes delta")
    check(rows.get("leaked bytes (live at end)") == ("1564", "3564", "+2000"), "leak delta")
    check(rows.get("allocation calls") == ("7", "7", "+0"), "calls unchanged")
    sites = re.findall(r"^\s+(-?\d+)\s+(-?\d+)\s+([+-]\d+)\s+([+-]\d+)\s+([+-]\d+)\s+(.+)$", out, re.M)
    check(sites == [("1000", "3000", "+2000", "+0", "+2000", "app+0x403f <- app+0x302f"),
                    ("100", "100", "-64", "-1", "-64", "app+0x100f <- app+0x201f <- app+0x302f"),
                    ("500", "500", "+64", "+1", "+64", "app+0x100f <- app+0x221f <- app+0x302f")],
          "per-site deltas %r" % (sites,))
    dd = os.path.join(d, "chart")
    p = run([REPORT, "--diff", a, b, "-o", dd])
    check(p.stdout.startswith(out) and ("[chart: %s/diff_memory.png]" % dd) in p.stdout, "--diff -o DIR: same text and a chart")
    check(valid_png(os.path.join(dd, "diff_memory.png")) and valid_svg(os.path.join(dd, "diff_memory.svg")),
          "diff chart is a valid PNG and SVG")
    same = run([REPORT, "--diff", a, a]).stdout
    check("(no site changed)" in same, "a trace against itself: nothing changed")


def source_line(marker):
    for i, line in enumerate(open(os.path.join(SRC, "selftrace.c")), 1):
        if marker in line:
            return i
    raise SystemExit("marker %s not in selftrace.c" % marker)


def case_symbolize():
    d = fresh("sym")
    t = os.path.join(d, "self.zst")
    run([os.path.join(BIN, "selftrace"), t])
    out = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"]).stdout
    leak, temp = source_line("SITE_LEAK"), source_line("SITE_TEMP")
    grow_m, grow_r = source_line("SITE_GROW_MALLOC"), source_line("SITE_GROW_REALLOC")
    leaked = out.split("by leaked bytes", 1)[1]
    first = re.search(r"^\s+1\s+.*?  (\S+ \(\S+\))$", leaked, re.M)
    check(first is not None and first.group(1) == "make_leak (selftrace.c:%d)" % leak,
          "leak site symbolized to make_leak (selftrace.c:%d): %r" % (leak, first and first.group(1)))
    check("main (selftrace.c:" in leaked.split("\n== ")[0], "callers symbolized too (main)")
    for fn, ln in (("make_temp", temp), ("grow", grow_m), ("grow", grow_r)):
        check("%s (selftrace.c:%d)" % (fn, ln) in out, "%s (selftrace.c:%d) in the report" % (fn, ln))
    check("t_malloc" not in out, "the wrapper frames are not in the stacks")
    # an inlined function, then the function it was inlined into at the call's line
    inl, call = source_line("SITE_INLINE */"), source_line("SITE_INLINE_CALL")
    m = re.search(r"inl_alloc \(selftrace\.c:(\d+)\)\n\s+make_inl \(selftrace\.c:(\d+)\)", out)
    check(m is not None and m.groups() == (str(inl), str(call)),
          "inlined frames: inl_alloc (selftrace.c:%d) then make_inl (selftrace.c:%d): %r" % (inl, call, m and m.groups()))
    folded = run([REPORT, "--folded", t]).stdout
    check(re.search(r"^\S*;main;make_leak 1000$", folded, re.M) is not None, "folded: ...;main;make_leak 1000")
    check(re.search(r"^\S*;main;make_inl;inl_alloc 48$", folded, re.M) is not None, "folded: ...;make_inl;inl_alloc 48")
    # 8 reallocs 32..4096 at the SITE_GROW_REALLOC line: 8160 bytes
    check(re.search(r"^\S*;main;grow 8176$", folded, re.M) is not None, "folded: grow's two sites merged, 16 + 8160")
    html = open(os.path.join(d, "rep", "index.html")).read()
    check("make_leak (selftrace.c:%d)" % leak in html, "HTML shows the symbolized stack")


def case_no_gnuplot():
    d = fresh("nognuplot")
    t = hand_trace("hand_a", d)
    env = dict(os.environ)
    # a PATH with everything but gnuplot
    shim = os.path.join(d, "bin")
    os.makedirs(shim)
    for tool in ("sh", "true"):
        w = shutil.which(tool)
        if w:
            os.symlink(w, os.path.join(shim, tool))
    env["PATH"] = shim
    p = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"], env=env)
    check("gnuplot not found on PATH" in p.stderr, "missing gnuplot reported on stderr: %r" % p.stderr)
    check("gnuplot not found on PATH" in p.stdout, "missing gnuplot reported in the report")
    check(line_value(p.stdout, "peak live:") == "1600 B in 3 blocks at 10.0 us from the start of the recording (seq 11)", "text report still produced")
    check(os.path.exists(os.path.join(d, "rep", "index.html")), "HTML still written")
    check(not os.path.exists(os.path.join(d, "rep", "memory.png")), "no chart without gnuplot")


def case_errors():
    d = fresh("errors")
    bad = os.path.join(d, "notatrace.zst")
    open(bad, "w").write("hello, world\n")
    for path, what in ((os.path.join(d, "missing.zst"), "No such file"), (bad, None)):
        p = run([REPORT, path, "--no-replay", "--no-sim"], ok=(1,))
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("malloc-report: " + path + ": "),
              "one-line error naming the file: %r" % p.stderr)
        if what:
            check(what in p.stderr, "error says %r" % what)
    # a trace cut short: every complete event is used and the report says so
    t = hand_trace("hand_a", d)
    data = open(t, "rb").read()
    cut = os.path.join(d, "cut.zst")
    open(cut, "wb").write(data[:len(data) - 9])
    p = run([REPORT, cut, "-o", os.path.join(d, "cutrep"), "--no-replay", "--no-sim"])
    warn = [l for l in p.stderr.splitlines() if "warning" in l]
    check(len(warn) == 1 and warn[0].startswith("malloc-report: " + cut + ": warning: ") and "cut short" in warn[0],
          "cut trace: one warning line naming the file: %r" % p.stderr)
    check("no END record: the trace was cut short" in p.stdout, "the report says the trace was cut")
    # a damaged trace: one line with the file and the offset, exit status 1
    flipped = os.path.join(d, "flipped.zst")
    raw = bytearray(data)
    raw[len(raw) // 2] ^= 0x55
    open(flipped, "wb").write(bytes(raw))
    p = run([REPORT, flipped, "--no-replay", "--no-sim", "-o", os.path.join(d, "fliprep")], ok=(1,))
    lines = p.stderr.strip().splitlines()
    check(len(lines) == 1 and lines[0].startswith("malloc-report: %s: offset " % flipped),
          "damaged trace: one line naming the file and the offset: %r" % p.stderr)
    p = run([REPORT, t, "-o", os.path.join(bad, "sub"), "--no-replay", "--no-sim"], ok=(1,))
    check(p.stderr.strip() == "malloc-report: %s/sub: cannot create the report folder: Not a directory" % bad,
          "unwritable report folder: %r" % p.stderr)
    for args in (["--bogus"], [], ["--diff", t]):
        p = run([REPORT] + args, ok=(2,))
        check(p.stderr.startswith("malloc-report: "), "usage error for %r" % (args,))


def fake_tool(path, body):
    open(path, "w").write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def case_extern():
    """malloc-report runs the replayer and the simulator found next to its own
    executable and draws their results (the JSON contract of json.md); a tool
    that fails is reported and the report carried on. The tools here are
    stand-ins that write contract-shaped output, so the test does not depend on
    the other components; case 'tools' runs the real ones when built."""
    d = fresh("extern")
    t = hand_trace("hand_a", d)
    bindir = os.path.join(d, "bin")
    os.makedirs(bindir)
    shutil.copy(REPORT, bindir)
    fake_tool(os.path.join(bindir, "malloc-replay"), r'''
[ "$1" = --check-options ] || echo "$@" > "${0%/*}/replay.args"
while [ $# -gt 0 ]; do case "$1" in --json) out=$2; shift;; --alloc) list=$2; shift;; --check-options) check=1;; esac; shift; done
[ -n "${check:-}" ] && exit 0
[ "$list" = "glibc,jemalloc" ] || { echo "unexpected --alloc $list" >&2; exit 3; }
cat > "$out" <<'J'
{"trace": "t", "events": 13, "runs": [
 {"allocator": "glibc", "library": null, "mode": "serial", "env": [], "ops": 13, "wall_ns": 1300, "cpu_ns": 1200,
  "ns_per_op": 100.5, "peak_rss_bytes": 2097152, "final_rss_bytes": 1048576, "ideal_peak_bytes": 1600,
  "peak_rss_over_ideal": 1310.7, "latency_ns": {"malloc": {"count": 7, "p50": 40, "p99": 90, "p999": 95, "max": 99},
  "free": {"count": 5, "p50": 20, "p99": 30, "p999": 31, "max": 32}},
  "heap": {"arena": 135168, "hblkhd": 0, "uordblks": 2000, "fordblks": 133168, "keepcost": 133000}},
 {"allocator": "jemalloc", "library": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "mode": "serial", "env": [],
  "ops": 13, "wall_ns": 1000, "cpu_ns": 900, "ns_per_op": 76.9, "peak_rss_bytes": 1572864, "final_rss_bytes": 1048576,
  "ideal_peak_bytes": 1600, "peak_rss_over_ideal": 983.0,
  "latency_ns": {"malloc": {"count": 7, "p50": 30, "p99": 60, "p999": 61, "max": 70},
                 "free": {"count": 5, "p50": 15, "p99": 25, "p999": 26, "max": 27}}}]}
J
''')
    fake_tool(os.path.join(bindir, "malloc-sim"), r'''
while [ $# -gt 0 ]; do case "$1" in --json) out=$2; shift;; --timeline) tl=$2; shift;; esac; shift; done
cat > "$out" <<'J'
{"trace": "t", "events": 13, "peak_live_bytes": 1600, "models": [
 {"model": "ptmalloc2", "peak": {"footprint_bytes": 135168, "live_bytes": 1600, "op": 11},
  "final": {"footprint_bytes": 135168, "live_bytes": 1564, "free_bytes": 1, "largest_free_bytes": 1,
            "arena": 135168, "hblkhd": 0, "uordblks": 1, "fordblks": 1, "keepcost": 1},
  "internal_frag_bytes": 120, "external_frag_bytes": 300, "jw_footprint_over_live_at_peak_live": 84.5,
  "jw_peak_footprint_over_peak_live": 84.5, "saving_vs_ptmalloc2_bytes": 0},
 {"model": "buddy", "peak": {"footprint_bytes": 69632, "live_bytes": 1600, "op": 11},
  "final": {"footprint_bytes": 69632, "live_bytes": 1564, "free_bytes": 1, "largest_free_bytes": 1},
  "internal_frag_bytes": 900, "external_frag_bytes": 50, "jw_footprint_over_live_at_peak_live": 43.5,
  "jw_peak_footprint_over_peak_live": 43.5, "saving_vs_ptmalloc2_bytes": 65536,
  "min_block": 16, "max_order": 3,
  "orders_at_peak": {"nr_free": [0, 2, 1, 0], "unusable_index": [0.0, 0.0, 0.5, 1.0]},
  "extra_rows": [{"order": 5, "block_bytes": 32, "allocated": 1, "free": 0}, {"order": 10, "block_bytes": 1024, "allocated": 2, "free": 1}]},
 {"model": "ptmalloc2-bins-only", "peak": {"footprint_bytes": 135168, "live_bytes": 1600, "op": 11},
  "bins": {"peak": {"tcache": {"chunks": 3, "bytes": 96}, "top": {"bytes": 1000}, "arenas": 1},
           "final": {"tcache": {"chunks": 4, "bytes": 128}, "top": {"bytes": 900}, "arenas": 1}}}]}
J
printf 'op,t_ns,live_bytes,ptmalloc2_footprint,buddy_footprint\n1,1000,100,135168,69632\n11,10000,1600,135168,69632\n13,12000,1564,135168,69632\n' > "$tl"
''')
    rep = os.path.join(d, "rep")
    p = run([os.path.join(bindir, "malloc-report"), t, "-o", rep, "--alloc", "glibc,jemalloc"])
    out = p.stdout
    check(re.search(r"^jemalloc\s+76\.9\s+1\.5 MiB\s+saves 512\.0 KiB\s+-23%", out, re.M) is not None,
          "jemalloc row: ns/op, peak RSS, saving vs glibc")
    # the share of glibc's footprint as malloc-sim's ranking gives it (one decimal, no sign)
    check(re.search(r"^buddy\s+68\.0 KiB\s+1600 B\s+900 B\s+50 B\s+43\.50\s+saves 64\.0 KiB \(48\.5%\)", out, re.M)
          is not None, "buddy row with its saving vs glibc")
    check(re.search(r"^ptmalloc2\s.*\(glibc's model\)$", out, re.M) is not None, "ptmalloc2 row: the baseline")
    check(re.search(r"^order\s+block_bytes\s+allocated\s+free", out, re.M) is not None, "array of objects as a table")
    check(re.search(r"^buddy orders_at_peak:\norder\s+block bytes\s+nr_free\s+unusable_index\n0\s+16\s+0\s+0\n"
                    r"1\s+32\s+2\s+0\n2\s+64\s+1\s+0.5\n3\s+128\s+0\s+1$", out, re.M) is not None,
          "buddy per-order table (arrays by order, block size from min_block)")
    check(re.search(r"^\s+peak chunks\s+peak bytes\s+peak\s+final chunks\s+final bytes\s+final\n"
                    r"tcache\s+3\s+96\s+-\s+4\s+128\s+-\ntop\s+-\s+1000\s+-\s+-\s+900\s+-\n"
                    r"arenas\s+-\s+-\s+1\s+-\s+-\s+1$", out, re.M) is not None, "nested bins table")
    check(line_value(out, "buddy:") == "min_block 16, max_order 3", "model numbers on one line")
    check(line_value(out, "glibc RSS (replay):") == "peak 2.0 MiB (2097152 B), final 1.0 MiB", "RSS line")
    check(line_value(out, "smallest (measured):") == "jemalloc, peak RSS 1.5 MiB: 512.0 KiB less than glibc (2.0 MiB, 25%)",
          "verdict: smallest measured %r" % line_value(out, "smallest (measured):"))
    check(line_value(out, "fastest (measured):") == "jemalloc, 76.9 ns per op against glibc's 100.5 (23% less time)",
          "verdict: fastest measured")
    check(line_value(out, "smallest (simulated):") == "buddy design, peak footprint 68.0 KiB: 64.0 KiB less than glibc's model (48%)",
          "verdict: smallest simulated %r" % line_value(out, "smallest (simulated):"))
    check_report_files(rep, ["memory", "sim_timeline", "replay_time", "replay_rss", "replay_latency", "sim_models"])
    # the mode: a trace of two threads is replayed a thread per thread unless told otherwise, and the report says how
    args = open(os.path.join(bindir, "replay.args")).read().split()
    check(args[args.index("--mode") + 1] == "threads", "malloc-replay not given --mode threads: %r" % args)
    p = run([os.path.join(bindir, "malloc-report"), t, "-o", rep, "--alloc", "glibc,jemalloc", "--mode", "serial"])
    args = open(os.path.join(bindir, "replay.args")).read().split()
    check(args[args.index("--mode") + 1] == "serial", "--mode serial not passed on: %r" % args)
    check(line_value(p.stdout, "replay mode:") == "serial (--mode serial): the ops of the trace's 2 threads replayed "
          "one by one in a single thread, so thread-related settings (MALLOC_ARENA_MAX, thread caches) cannot show",
          "replay mode said: %r" % line_value(p.stdout, "replay mode:"))
    # no winner within noise (5% of the peak RSS or 64 KiB; 5% of ns/op); runs within noise of the winner named
    fake_tool(os.path.join(bindir, "malloc-replay"), r'''
while [ $# -gt 0 ]; do case "$1" in --json) out=$2; shift;; --check-options) exit 0;; esac; shift; done
cat > "$out" <<'J'
{"trace": "t", "events": 13, "runs": [
 {"allocator": "glibc", "mode": "threads", "ns_per_op": 100.0, "peak_rss_bytes": 4194304, "final_rss_bytes": 4194304},
 {"allocator": "glibc:MALLOC_ARENA_MAX=1", "mode": "threads", "ns_per_op": 97.0, "peak_rss_bytes": 4173824,
  "final_rss_bytes": 4173824}]}
J
''')
    p = run([os.path.join(bindir, "malloc-report"), t, "-o", rep, "--alloc", "glibc,glibc:MALLOC_ARENA_MAX=1"])
    check(line_value(p.stdout, "smallest (measured):") == "none: no run's peak RSS is below glibc's (4.0 MiB) by more "
          "than the noise (5% or 64 KiB)", "20 KiB of 4 MiB named a winner: %r" % line_value(p.stdout, "smallest (measured):"))
    check(line_value(p.stdout, "fastest (measured):") == "none: no run is faster than glibc (100.0 ns per op) by more "
          "than the noise (5%)", "3%% faster named a winner: %r" % line_value(p.stdout, "fastest (measured):"))
    check(line_value(p.stdout, "replay mode:") == "threads: each of the trace's 2 threads replayed in a thread of its "
          "own (the default for a trace of several threads)", "threads mode said: %r" % line_value(p.stdout, "replay mode:"))
    fake_tool(os.path.join(bindir, "malloc-replay"), r'''
while [ $# -gt 0 ]; do case "$1" in --json) out=$2; shift;; --check-options) exit 0;; esac; shift; done
cat > "$out" <<'J'
{"trace": "t", "events": 13, "runs": [
 {"allocator": "glibc", "mode": "threads", "ns_per_op": 100.0, "peak_rss_bytes": 4194304, "final_rss_bytes": 4194304},
 {"allocator": "jemalloc", "mode": "threads", "ns_per_op": 80.0, "peak_rss_bytes": 3145728, "final_rss_bytes": 3145728},
 {"allocator": "mimalloc", "mode": "threads", "ns_per_op": 70.0, "peak_rss_bytes": 3166208, "final_rss_bytes": 3166208}]}
J
''')
    p = run([os.path.join(bindir, "malloc-report"), t, "-o", rep, "--alloc", "glibc,jemalloc,mimalloc"])
    check(line_value(p.stdout, "smallest (measured):") == "jemalloc, peak RSS 3.0 MiB: 1.0 MiB less than glibc (4.0 MiB, "
          "25%); within noise of it: mimalloc", "tie not said: %r" % line_value(p.stdout, "smallest (measured):"))
    check(line_value(p.stdout, "fastest (measured):") == "mimalloc, 70.0 ns per op against glibc's 100.0 (30% less time)",
          "fastest %r" % line_value(p.stdout, "fastest (measured):"))
    # failing tools: said in the report, and the rest still written
    fake_tool(os.path.join(bindir, "malloc-replay"), 'echo "malloc-replay: t: cannot replay" >&2; exit 1\n')
    fake_tool(os.path.join(bindir, "malloc-sim"), 'echo "{broken" > /dev/null; exit 0\n')
    p = run([os.path.join(bindir, "malloc-report"), t, "-o", rep])
    check("malloc-replay failed (exit status 1): malloc-replay: t: cannot replay" in p.stdout, "replay failure said")
    check("malloc-sim's output unreadable" in p.stdout, "unreadable sim output said")
    check(line_value(p.stdout, "peak live:") == "1600 B in 3 blocks at 10.0 us from the start of the recording (seq 11)", "report carried on")


def case_replay():
    """The real replayer, when built: its runs in the report, tables and charts."""
    d = fresh("replay")
    t = os.path.join(d, "self.zst")
    run([os.path.join(BIN, "selftrace"), t, "300"])
    rep = os.path.join(d, "rep")
    out = run([REPORT, t, "-o", rep, "--alloc", "glibc,jemalloc", "--no-sim"]).stdout
    check("malloc-replay failed" not in out and "malloc-replay not found" not in out, "malloc-replay ran")
    for a in ("glibc", "jemalloc"):
        check(re.search(r"^%s\s+[\d.]+\s+[\d.]+ \S+\s+(saves|costs) " % a, out, re.M) is not None, "%s replay row" % a)
    check(line_value(out, "fastest (measured):") is not None, "verdict from the replay")
    check_report_files(rep, ["memory", "replay_time", "replay_rss", "replay_latency"])
    # selftrace runs a second thread: replayed a thread per thread by default, serially when told
    modes = re.findall(r'"mode": "(\w+)"', open(os.path.join(rep, "replay.json")).read())
    check(modes == ["threads", "threads"], "a trace of 2 threads replayed in modes %r" % modes)
    check((line_value(out, "replay mode:") or "").startswith("threads: each of the trace's 2 threads"), "mode said")
    run([REPORT, t, "-o", rep, "--alloc", "glibc", "--no-sim", "--mode", "serial"])
    modes = re.findall(r'"mode": "(\w+)"', open(os.path.join(rep, "replay.json")).read())
    check(modes == ["serial"], "--mode serial replayed in modes %r" % modes)
    # one run that fails (a library whose start hangs): the others are still
    # compared, and the note gives the failed run's reason (all were dropped,
    # with the replay table's last line as the reason)
    hang = os.path.join(os.path.dirname(BIN), "lib", "librp_hangalloc.so")
    if os.path.exists(hang):
        env = dict(os.environ, MALLOC_REPLAY_START_TIMEOUT="2")
        out = run([REPORT, t, "-o", rep, "--alloc", "glibc,%s,jemalloc" % hang, "--no-sim", "--mode", "serial",
                   "--no-progress"], env=env).stdout
        note = line_value(out, "note:") or ""
        check(note.startswith("some runs failed, the others are below: ") and "did not start within 2 s" in note,
              "a failed run's note: %r" % note)
        for a in ("glibc", "jemalloc"):
            check(re.search(r"^%s\s+[\d.]+\s+[\d.]+ \S+\s+(saves|costs) " % a, out, re.M) is not None,
                  "%s replay row next to a failed run" % a)
    # a trace without events: no winner (glibc at 0.0 ns was named the fastest)
    e = os.path.join(d, "empty.txt")
    open(e, "w").write("# no events\n")
    run([os.path.join(os.path.dirname(REPORT), "malloc-trace"), "import", e, "-o", e + ".zst"])
    out = run([REPORT, e + ".zst", "-o", os.path.join(d, "erep"), "--alloc", "glibc,jemalloc", "--no-sim",
               "--no-progress"]).stdout
    check((line_value(out, "fastest (measured):") or "").startswith("none:"), "0 events: %r" %
          line_value(out, "fastest (measured):"))
    # run names as they are on the axis ('_' made subscripts) and slanted when long
    run([REPORT, t, "-o", rep, "--alloc", "glibc:MALLOC_ARENA_MAX=1,jemalloc", "--no-sim", "--mode", "serial"])
    for c in ("replay_time", "replay_rss", "replay_latency"):
        gp = open(os.path.join(rep, c + ".gp")).read()
        check("set xtics noenhanced rotate by 20 right" in gp, "%s: run names in enhanced text or not slanted" % c)


def case_sim():
    """The real simulator, when built: its models in the report, tables and charts."""
    d = fresh("sim")
    t = os.path.join(d, "self.zst")
    run([os.path.join(BIN, "selftrace"), t, "300"])
    rep = os.path.join(d, "rep")
    out = run([REPORT, t, "-o", rep, "--no-replay"]).stdout
    check("malloc-sim failed" not in out and "malloc-sim not found" not in out, "malloc-sim ran")
    check(re.search(r"^ptmalloc2\s+", out, re.M) is not None, "ptmalloc2 model row")
    check(line_value(out, "glibc footprint (sim):") is not None, "glibc footprint on the memory section")
    check_report_files(rep, ["memory", "sim_timeline", "sim_models"])


def case_truncated():
    """A trace cut short: the replay and the simulation of its complete part
    (both exit 3 on it) still make it into the report, which says it was cut."""
    d = fresh("truncated")
    txt = os.path.join(d, "big.txt")
    with open(txt, "w") as f:
        for i in range(1, 200001):
            f.write("%d 7 %d malloc %d -> 0x%x\n" % (i, i * 10, 16 + i % 500, 0x10000 + i * 1024))
    full = os.path.join(d, "big.zst")
    run([os.path.join(BIN, "malloc-trace"), "import", txt, "-o", full])
    data = open(full, "rb").read()
    cut = os.path.join(d, "cut.zst")
    open(cut, "wb").write(data[: len(data) * 2 // 3])
    rep = os.path.join(d, "rep")
    p = run([REPORT, cut, "-o", rep, "--alloc", "glibc"], ok=(0, 3))
    out = p.stdout
    check("failed (exit status" not in out, "replay and simulation of a cut trace are not failures")
    check(re.search(r"^ptmalloc2\s+", out, re.M) is not None, "cut trace: ptmalloc2 model row")
    check(re.search(r"^glibc\s+[\d.]+", out, re.M) is not None, "cut trace: glibc replay row")
    check("trunc" in (p.stderr + out).lower(), "cut trace: said to be cut")


def case_record():
    """A program built with -g, recorded by malloc-record: its sites symbolized."""
    d = fresh("record")
    rec, prog = EXTRA[0], EXTRA[1]
    t = os.path.join(d, "rec.zst")
    run([rec, "-o", t, prog, os.path.join(d, "ignored.zst")])
    out = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"]).stdout
    # the real malloc is called in t_malloc, called by make_leak: both lines known
    want = r"t_malloc \(selftrace\.c:%d\)\n\s+make_leak \(selftrace\.c:%d\)" % (
        source_line("REAL_MALLOC"), source_line("SITE_LEAK"))
    check(re.search(want, out) is not None, "recorded stack symbolized: t_malloc then make_leak, lines from the source")


def parse_bytes(text):
    num, unit = text.split()
    return float(num) * {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def case_heaptrack():
    """heaptrack as an independent oracle: the same deterministic program
    recorded by heaptrack and by malloc-record must give the same per-site
    peak bytes, calls and temporary allocations (heaptrack_print's lists).
    Sites with a single call are left out: heaptrack's own preload library
    adds one (libstdc++'s 72 KiB exception pool)."""
    d = fresh("heaptrack")
    rec, prog = EXTRA[0], EXTRA[1]
    t = os.path.join(d, "wf.zst")
    run([rec, "-q", "-o", t, prog, "100000"])
    run(["heaptrack", "-o", os.path.join(d, "ht"), prog, "100000"])
    ht = run(["heaptrack_print", os.path.join(d, "ht.zst")]).stdout
    out = run([REPORT, t, "-o", os.path.join(d, "rep"), "--no-replay", "--no-sim"]).stdout
    unit = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}

    def rows(title):
        part = out.split(title, 1)[1].split("\n== ", 1)[0]
        return [(parse_bytes(m[0]), int(m[1]), int(m[3])) for m in
                re.findall(r"^\s+\d+\s+([\d.]+ \S+)\s+(\d+)\s+[\d.]+ \S+\s+([\d.]+ \S+)\s+(\d+)", part, re.M)]
    mine_peak, mine_temp = rows("by bytes live at the peak"), rows("by temporary allocations")
    peaks = [(float(v) * unit[u], int(n)) for v, u, n in
             re.findall(r"^([\d.]+)([KMG]?)B? peak memory consumed over (\d+) calls from$", ht, re.M)]
    temps = [(int(a), int(b)) for a, b in
             re.findall(r"^(\d+) temporary allocations of (\d+) allocations in total \([\d.]+%\) from$", ht, re.M)]
    checked = 0
    for v, n in peaks:
        if n < 2:
            continue
        checked += 1
        check(any(c == n and abs(p - v) <= 60 for p, c, _ in mine_peak),
              "heaptrack peak site %.0f B over %d calls found in ours %r" % (v, n, mine_peak))
    for tmp, n in temps:
        if n < 2:
            continue
        checked += 1
        check(any(c == n and tt == tmp for _, c, tt in mine_temp),
              "heaptrack temporary site %d of %d found in ours %r" % (tmp, n, mine_temp))
    check(checked >= 5, "compared at least 5 sites with heaptrack (%d)" % checked)


def only_line(args, status, line, stdout=None):
    """The run exits with status and prints exactly line on stderr."""
    if stdout is None:
        p = run(args, ok=(status,))
        err = p.stderr
    else:
        p = subprocess.run(args, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)
        err = p.stderr
        check(p.returncode == status, "status %d (want %d) from %r" % (p.returncode, status, args))
    check(err == line + "\n", "stderr of %r: %r, want the one line %r" % (args, err, line))


def case_outclash():
    """An output path naming the input trace is refused before anything is written."""
    d = fresh("outclash")
    t = hand_trace("hand_a", d)
    k = os.path.join(d, "k.zst")
    shutil.copy(t, k)
    before = open(k, "rb").read()
    only_line([REPORT, "--folded", k, "-o", k], 2, "malloc-report: %s: -o would overwrite the input trace" % k)
    rep = os.path.join(d, "rep")
    os.makedirs(rep)
    for name in ("index.html", "replay.json", "sim-timeline.csv", "memory.svg", "rate.gp"):
        inside = os.path.join(rep, name)
        shutil.copy(t, inside)
        only_line([REPORT, inside, "-o", rep, "--no-replay", "--no-sim"], 2,
                  "malloc-report: %s: -o %s would overwrite the input trace" % (inside, rep))
        check(open(inside, "rb").read() == before, "%s changed" % name)
        os.unlink(inside)
    inside = os.path.join(rep, "diff_memory.png")
    shutil.copy(t, inside)
    only_line([REPORT, "--diff", t, inside, "-o", rep], 2,
              "malloc-report: %s: -o %s would overwrite the input trace" % (inside, rep))
    check(open(k, "rb").read() == before and open(inside, "rb").read() == before, "a trace was changed")
    check(os.listdir(rep) == ["diff_memory.png"], "something was written: %r" % os.listdir(rep))


def case_writeerr():
    """Write errors and unwritable or uncreatable folders: one line each, status 1."""
    d = fresh("writeerr")
    a = hand_trace("hand_a", d)
    b = hand_trace("hand_b", d)
    with open("/dev/full", "w") as full:
        only_line([REPORT, "--diff", a, b], 1, "malloc-report: standard output: No space left on device", stdout=full)
        only_line([REPORT, "--folded", a], 1, "malloc-report: standard output: No space left on device", stdout=full)
    # as root, a device of our own: a broken output check would rename over
    # the device it is given (skipped if the node does not work, on a nodev
    # mount, rather than aimed at the machine's /dev/full)
    full = "/dev/full"
    if os.geteuid() == 0:
        full = os.path.join(d, "full")
        try:
            os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
            with open(full, "wb", buffering=0) as f:
                f.write(b"x")
            full = None  # a write that did not fail: not a full device
        except OSError as e:
            if e.errno != errno.ENOSPC:
                full = None
    if full:
        only_line([REPORT, "--folded", a, "-o", full], 1, "malloc-report: %s: No space left on device" % full)
        check(stat.S_ISCHR(os.stat(full).st_mode), "%s is still a device" % full)
    else:
        print("skipped --folded -o to a full device: no working device node of our own")
    if os.geteuid() == 0 and os.path.lexists(os.path.join(d, "full")):
        os.unlink(os.path.join(d, "full"))
    bad = os.path.join(d, "plain")
    open(bad, "w").write("x")
    only_line([REPORT, "--diff", a, b, "-o", os.path.join(bad, "x")], 1,
              "malloc-report: %s/x: cannot create the folder: Not a directory" % bad)
    # a folder that exists but takes no file (procfs): one line, before any
    # chart (a warning about the first chart came first)
    only_line([REPORT, a, "-o", "/proc/sys", "--no-replay", "--no-sim"], 1,
              "malloc-report: /proc/sys: cannot write in the report folder: No such file or directory")
    only_line([REPORT, "--diff", a, b, "-o", "/proc/sys"], 1,
              "malloc-report: /proc/sys: cannot write in the folder: No such file or directory")


def case_brokenpipe():
    """A standard output whose reader has gone (malloc-report T | head -1): the
    report's files are still written whole, one line says what happened to
    standard output, status 1 (it died of SIGPIPE, 141, leaving
    index.html.tmp.<pid> and no index.html)."""
    d = fresh("brokenpipe")
    a = hand_trace("hand_a", d)
    b = hand_trace("hand_b", d)
    rep = os.path.join(d, "rep")
    r, w = os.pipe()
    os.close(r)
    try:
        for args in ([REPORT, a, "-o", rep, "--no-replay", "--no-sim", "--no-progress"],
                     [REPORT, "--folded", a], [REPORT, "--diff", a, b], [REPORT, "--help"]):
            p = subprocess.run(args, stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
            check(p.returncode == 1 and p.stderr == "malloc-report: standard output: Broken pipe\n",
                  "%r on a broken pipe: status %d, stderr %r" % (args[1:], p.returncode, p.stderr))
    finally:
        os.close(w)
    check(os.path.exists(os.path.join(rep, "index.html")), "index.html written")
    no_temporaries(rep)
    html = open(os.path.join(rep, "index.html")).read()
    check(html.rstrip().endswith("</html>") and "1600 B in 3 blocks" in html, "index.html whole")


def capped(args, limit):
    """Runs args with writes to regular files limited to `limit` bytes: a write
    past it fails with EFBIG (SIGXFSZ ignored), as on a disk that fills up."""
    import resource
    import signal

    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run(args, capture_output=True, text=True, timeout=120, preexec_fn=cap)


def no_temporaries(d):
    left = [n for n in os.listdir(d) if ".tmp." in n]
    check(not left, "temporary files left in %s: %r" % (d, left))


def case_partial():
    """A write that fails part-way leaves no partial file: none at all, or the previous one unchanged."""
    d = fresh("partial")
    a = hand_trace("hand_a", d)
    b = hand_trace("hand_b", d)
    # --folded -o: no file, then the previous one kept
    f = os.path.join(d, "a.folded")
    p = capped([REPORT, "--folded", a, "-o", f], 64)
    check(p.returncode == 1 and p.stderr == "malloc-report: %s: File too large\n" % f,
          "capped --folded: status %d, stderr %r" % (p.returncode, p.stderr))
    check(not os.path.exists(f), "a partial folded file at the target")
    no_temporaries(d)
    run([REPORT, "--folded", b, "-o", f])
    before = open(f, "rb").read()
    check(len(before) > 64, "the folded output is too small for the test")
    p = capped([REPORT, "--folded", a, "-o", f], 64)
    check(p.returncode == 1 and open(f, "rb").read() == before, "capped --folded changed the previous file")
    no_temporaries(d)
    # the report: its scripts (under 4 KB) are written whole, its images (over 12 KB) and
    # index.html (8 KB) are not written at all; every line but the error is a warning
    rep = os.path.join(d, "rep")
    p = capped([REPORT, a, "-o", rep, "--no-replay", "--no-sim", "--no-progress"], 4096)
    lines = p.stderr.splitlines()
    check(p.returncode == 1 and lines and lines[-1] == "malloc-report: %s/index.html: File too large" % rep
          and all(x.startswith("malloc-report: warning: ") for x in lines[:-1]),
          "capped report: status %d, stderr %r" % (p.returncode, p.stderr))
    names = sorted(os.listdir(rep))
    check(names == ["lifetimes.gp", "memory.gp", "rate.gp", "sizes.gp"], "capped report wrote %r" % names)
    check(all(open(os.path.join(rep, n)).read().endswith("unset output\n") for n in names if n.endswith(".gp")),
          "a gnuplot script was cut")
    no_temporaries(rep)
    # --diff -o: a chart that cannot be written is a warning; the previous chart stays
    dd = os.path.join(d, "diff")
    p = capped([REPORT, "--diff", a, b, "-o", dd], 4096)
    check(p.returncode == 0 and p.stderr == "malloc-report: warning: %s/diff_memory.png: incomplete "
          "(a write failed: disk full?)\n" % dd, "capped --diff: status %d, stderr %r" % (p.returncode, p.stderr))
    check(sorted(os.listdir(dd)) == ["diff_memory.gp"], "capped --diff wrote %r" % os.listdir(dd))
    run([REPORT, "--diff", a, b, "-o", dd])
    png, svg = os.path.join(dd, "diff_memory.png"), os.path.join(dd, "diff_memory.svg")
    check(valid_png(png) and valid_svg(svg), "uncapped --diff: no valid chart")
    old = (open(png, "rb").read(), open(svg, "rb").read())
    p = capped([REPORT, "--diff", b, a, "-o", dd], 4096)
    check(p.returncode == 0 and (open(png, "rb").read(), open(svg, "rb").read()) == old,
          "capped --diff changed the previous chart")
    no_temporaries(dd)


def case_alloccheck():
    """A bad --alloc is a usage error found before anything is written (it was
    hidden in index.html with status 0)."""
    d = fresh("alloccheck")
    t = hand_trace("hand_a", d)
    rep = os.path.join(d, "rep")
    only_line([REPORT, t, "--alloc", "nosuch", "-o", rep], 2, "malloc-report: --alloc: nosuch: unknown allocator "
              "(use glibc, tcmalloc, jemalloc, mimalloc or a path to a library) (see --help)")
    only_line([REPORT, t, "--alloc", "", "-o", rep], 2, "malloc-report: --alloc: no allocator named (see --help)")
    check(not os.path.exists(rep), "the report folder was created")
    p = run([REPORT, t, "--alloc", "glibc", "-o", rep, "--no-sim"])
    check('"allocator": "glibc"' in open(os.path.join(rep, "replay.json")).read(), "a good --alloc is replayed")


def case_usage():
    """Option errors: one reason line and status 2; --help: usage on stdout, status 0."""
    d = fresh("usage")
    t = hand_trace("hand_a", d)
    only_line([REPORT], 2, "malloc-report: no trace given (see --help)")
    only_line([REPORT, "--bogus"], 2, "malloc-report: unknown option --bogus (see --help)")
    only_line([REPORT, t, "-o"], 2, "malloc-report: -o needs a value (see --help)")
    only_line([REPORT, "--diff", t], 2, "malloc-report: --diff takes two traces (see --help)")
    only_line([REPORT, t, t], 2, "malloc-report: one trace at a time (see --help)")
    only_line([REPORT, "--folded", t, "--weight", "x"], 2,
              "malloc-report: --weight takes bytes, calls, peak, leaked or temporary, not 'x' (see --help)")
    # an option without meaning in the mode chosen is refused, not ignored (both exited 0)
    only_line([REPORT, t, "--weight", "calls", "-o", os.path.join(d, "rep")], 2,
              "malloc-report: --weight is only for --folded (see --help)")
    only_line([REPORT, "--diff", t, t, "--weight", "peak"], 2, "malloc-report: --weight is only for --folded (see --help)")
    for opt in (["--alloc", "glibc"], ["--no-replay"], ["--no-sim"]):
        only_line([REPORT, "--folded", t] + opt, 2, "malloc-report: %s has no meaning with --folded (see --help)" % opt[0])
        only_line([REPORT, "--diff", t, t] + opt, 2, "malloc-report: %s has no meaning with --diff (see --help)" % opt[0])
    only_line([REPORT, "--folded", t, "--mode", "threads"], 2, "malloc-report: --mode has no meaning with --folded (see --help)")
    only_line([REPORT, t, "--mode", "parallel", "-o", os.path.join(d, "rep")], 2,
              "malloc-report: --mode takes serial or threads, not 'parallel' (see --help)")
    check(not os.path.exists(os.path.join(d, "rep")), "a refused report wrote its folder")
    p = run([REPORT, "--help"])
    check(p.stdout.startswith("usage: malloc-report") and p.stderr == "", "--help: usage on stdout only")


globals()["case_" + CASE]()
if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("ok")
