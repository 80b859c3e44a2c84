#!/usr/bin/env python3
"""Independent decoder of the malloc trace format, written from
traces/FORMAT.md alone (no look at the C reader or writer).  Where the
document was silent or wrong, behaviour was matched to `malloc-trace dump`
by comparison on crafted traces; the few reader limits marked "not in
FORMAT.md" (stack id/depth bounds, 32-bit tids) were taken from
traces/reader.c / reader_int.h after the decoder was compared; FORMAT.md
has them now.

usage: spec_decode.py [--header] [--tables] [--check] TRACE

Prints the events as `malloc-trace dump --no-header TRACE` does, one line
per event in global (seq) order:  SEQ TID T_NS OP ARGS [-> RESULT]

  --header   also print the '# key: value' header lines first (as
             `malloc-trace dump` does without --no-header)
  --tables   print the STACK, MODULE, WATERMARK and END records and frame
             statistics to stderr
  --check    extra consistency checks that the spec implies but does not
             call corruption (SYNC frame index, frame layout); reported as
             warnings on stderr

Exit status: 0 ok, 1 malformed input (one-line message on stderr),
3 truncated trace (every complete event printed first), like malloc-trace.
zstd is decompressed with the `zstd` command, frame by frame; the frames'
contents are read as one byte stream, as malloc-trace does.
"""
import heapq
import subprocess
import sys

MASK64 = (1 << 64) - 1

OPS = {
    0x10: "malloc", 0x11: "calloc", 0x12: "realloc", 0x13: "reallocarray",
    0x14: "free", 0x15: "memalign", 0x16: "posix_memalign",
    0x17: "aligned_alloc", 0x18: "valloc", 0x19: "pvalloc",
    0x20: "mallopt", 0x21: "malloc_trim", 0x22: "thread_start",
    0x23: "thread_exit", 0x24: "fork", 0x25: "exec",
}

# field layouts after the common fields (section 4)
# v = varint, s = svarint, p = ptr (svarint delta), S = string
LAYOUT = {
    0x10: [("size", "v"), ("ret", "p")],
    0x11: [("nmemb", "v"), ("size", "v"), ("ret", "p")],
    0x12: [("ptr", "p"), ("size", "v"), ("ret", "p"), ("drelease", "v")],
    0x13: [("ptr", "p"), ("nmemb", "v"), ("size", "v"), ("ret", "p"),
           ("drelease", "v")],
    0x14: [("ptr", "p")],
    0x15: [("align", "v"), ("size", "v"), ("ret", "p")],
    0x16: [("align", "v"), ("size", "v"), ("ret", "p")],
    0x17: [("align", "v"), ("size", "v"), ("ret", "p")],
    0x18: [("size", "v"), ("ret", "p")],
    0x19: [("size", "v"), ("ret", "p")],
    0x20: [("param", "s"), ("value", "s"), ("ret", "s")],
    0x21: [("pad", "v"), ("ret", "s")],
    0x22: [("creator", "v")],
    0x23: [],
    0x24: [("ret", "s")],
    0x25: [("path", "S")],
}


class Malformed(Exception):
    pass


class Truncated(Exception):
    pass


# ---------------------------------------------------------------- zstd

def zstd_frames(data):
    """Split the container into zstd frames (RFC 8878 layout), lazily.
    Yields (bytes_of_frame, complete).  Skippable frames are dropped.
    Raises Malformed where the bytes are not a zstd frame."""
    pos = 0
    n = len(data)
    while pos < n:
        start = pos
        if n - pos < 4:
            yield data[start:], False
            return
        magic = int.from_bytes(data[pos:pos + 4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:
            if n - pos < 8:
                yield b"", False
                return
            size = int.from_bytes(data[pos + 4:pos + 8], "little")
            pos += 8 + size
            if pos > n:
                yield b"", False
                return
            continue
        if magic != 0xFD2FB528:
            raise Malformed("zstd: unknown frame descriptor at byte %d"
                            % pos)
        pos += 4
        if pos >= n:
            yield data[start:], False
            return
        fhd = data[pos]
        pos += 1
        fcs_flag = fhd >> 6
        single = (fhd >> 5) & 1
        checksum = (fhd >> 2) & 1
        did_flag = fhd & 3
        pos += (0 if single else 1) + [0, 1, 2, 4][did_flag] + \
            [1 if single else 0, 2, 4, 8][fcs_flag]
        complete = False
        while pos + 3 <= n:
            bh = int.from_bytes(data[pos:pos + 3], "little")
            pos += 3
            btype = (bh >> 1) & 3
            if btype == 3:
                raise Malformed("zstd: reserved block type")
            pos += 1 if btype == 1 else bh >> 3
            if pos > n:
                break
            if bh & 1:
                if checksum:
                    pos += 4
                complete = pos <= n
                break
        if not complete:
            yield data[start:], False
            return
        yield data[start:pos], True


class RawStream:
    """The raw stream: the concatenated contents of the zstd frames, read
    on demand (the C tools read it as one byte stream, so a record may
    even straddle two frames)."""

    def __init__(self, data, tr):
        self.frames = zstd_frames(data)
        self.tr = tr
        self.buf = b""
        self.pos = 0
        self.base = 0             # raw offset of buf[0]
        self.fi = -1              # index of the last frame pulled
        self.starts = []          # raw offset where each frame begins
        self.cut = False          # the last frame pulled was incomplete

    def pull(self):
        """Append the next frame's bytes; False at the end of the file."""
        if self.cut:
            return False
        try:
            fbytes, complete = next(self.frames)
        except StopIteration:
            return False
        raw, ok = unzstd(fbytes)
        self.fi += 1
        self.tr.nframes += 1
        self.tr.raw_bytes += len(raw)
        if complete and not ok:
            raise Malformed("zstd frame %d does not decompress (bad data "
                            "or checksum)" % self.fi)
        if not complete or not ok:
            self.cut = True
        self.base += self.pos
        self.starts.append(self.base + len(self.buf) - self.pos)
        self.buf = self.buf[self.pos:] + raw
        self.pos = 0
        return True

    def at_end(self):
        while self.pos >= len(self.buf):
            if not self.pull():
                return True
        return False

    def take(self, n):
        while len(self.buf) - self.pos < n:
            if not self.pull():
                raise EOFError
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self):
        if self.pos < len(self.buf):
            c = self.buf[self.pos]
            self.pos += 1
            return c
        return self.take(1)[0]

    def varint(self):
        v = 0
        for i in range(10):
            c = self.byte()
            v |= (c & 0x7F) << (7 * i)
            if not c & 0x80:
                if i == 9 and c > 1:
                    break
                return v
        raise Malformed("varint longer than 10 bytes or 64 bits")

    def offset(self):
        return self.base + self.pos

    def frame_of(self, off):
        k = 0
        for i, st in enumerate(self.starts):
            if st <= off:
                k = i
        return k, off in self.starts


def unzstd(frame):
    p = subprocess.run(["zstd", "-dcq"], input=frame, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.stdout, p.returncode == 0


# ---------------------------------------------------------------- values

class Buf:
    __slots__ = ("b", "pos", "end")

    def __init__(self, b, pos=0, end=None):
        self.b = b
        self.pos = pos
        self.end = len(b) if end is None else end

    def varint(self):
        v = 0
        shift = 0
        b = self.b
        for i in range(10):
            if self.pos >= self.end:
                raise EOFError
            c = b[self.pos]
            self.pos += 1
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                if i == 9 and c > 1:
                    break
                return v
            shift += 7
        raise Malformed("varint longer than 10 bytes or 64 bits")

    def svarint(self):
        z = self.varint()
        return (z >> 1) ^ -(z & 1)

    def bytes_(self):
        n = self.varint()
        if self.pos + n > self.end:
            raise EOFError
        s = self.b[self.pos:self.pos + n]
        self.pos += n
        return s

    def string(self):
        s = self.bytes_()
        # "any bytes but NUL": malloc-trace does not reject a NUL, it cuts
        # the string there (C strings); do the same
        k = s.find(b"\0")
        return s if k < 0 else s[:k]


def esc(s):
    out = []
    for c in s:
        if c < 0x21 or c > 0x7E or c == 0x25:
            out.append("%%%02X" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def tos64(v):
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


# ---------------------------------------------------------------- merge

class Merger:
    """Global order (section 5): an event is released once every smaller
    seq has been seen (as an event's seq or a realloc's release seq); a
    WATERMARK w releases the held events with seq < w; the end of the
    file (or an error) releases all.  Ties keep file order."""

    def __init__(self, out):
        self.out = out            # list of released (seq, line|None)
        self.next = 1             # smallest seq not yet seen
        self.seen = set()
        self.heap = []
        self.n = 0

    def mark(self, s):
        if s >= self.next:
            self.seen.add(s)
            while self.next in self.seen:
                self.seen.discard(self.next)
                self.next += 1

    def add(self, seq, release, line):
        if release != seq:
            self.mark(release)
        self.mark(seq)
        heapq.heappush(self.heap, (seq, self.n, line))
        self.n += 1
        self.release_below(self.next)

    def release_below(self, limit):
        h = self.heap
        while h and h[0][0] < limit:
            seq, _, line = heapq.heappop(h)
            self.out.append(line)

    def flush(self):
        self.release_below(1 << 65)


# ---------------------------------------------------------------- decoder

class Trace:
    def __init__(self):
        self.version = None
        self.header = None
        self.lines = []           # released event lines, in output order
        self.nevents = 0
        self.stacks = {}
        self.modules = []
        self.watermarks = []
        self.end = None
        self.warnings = []
        self.nframes = 0
        self.raw_bytes = 0
        self.error = None         # malformed: message
        self.truncated = None     # cut short: message


def decode(path, check=False):
    with open(path, "rb") as f:
        data = f.read()
    tr = Trace()
    merger = Merger(tr.lines)
    try:
        _decode(data, tr, merger, check)
    except Malformed as e:
        tr.error = str(e)
    except Truncated as e:
        tr.truncated = str(e)
    merger.flush()
    return tr


def _decode(data, tr, merger, check):
    rs = RawStream(data, tr)
    state = {}                    # tid -> [seq, t, ptr]
    cur = None                    # current thread id
    times = []                    # deltas of the last TIMES record
    ti = 0
    seen_header = False
    first_record = True
    ended = False

    try:
        pre = rs.take(12)
    except EOFError:
        if rs.cut:
            raise Truncated("file ends inside the preamble")
        raise Malformed("not a malloc trace" if rs.buf else "empty file")
    if pre[:8] != b"MALTRACE":
        raise Malformed("not a malloc trace")
    ver = int.from_bytes(pre[8:10], "little")
    if ver not in (1, 2):
        raise Malformed("format version %d, this reader knows 1 to 2" % ver)
    tr.version = ver
    while True:
        if rs.at_end():
            break
        if ended:
            raise Malformed("data after the END record")
        rstart = rs.offset()
        fi, frame_first = rs.frame_of(rstart)
        try:
            rtype = rs.byte()
            length = rs.varint()
            payload = rs.take(length)
        except EOFError:
            raise Truncated("file ends inside a record")
        p = Buf(payload)
        if check:
            if rs.frame_of(rs.offset() - 1)[0] != fi:
                tr.warnings.append("record 0x%02x straddles zstd frames %d "
                                   "and %d" % (rtype, fi, fi + 1))
            if fi == 0 and rtype != 0x01:
                tr.warnings.append("record 0x%02x in the first frame"
                                   % rtype)
            if fi > 0 and frame_first and rtype != 0x02:
                tr.warnings.append("frame %d begins with record 0x%02x"
                                   % (fi, rtype))
            if rtype == 0x02 and not frame_first:
                tr.warnings.append("SYNC inside zstd frame %d" % fi)
        if True:
            if ti < len(times) and not (0x10 <= rtype <= 0x3F):
                raise Malformed("record 0x%02x while %d times are untaken"
                                % (rtype, len(times) - ti))
            try:
                if first_record:
                    if rtype != 0x01:
                        raise Malformed("first record is not HEADER")
                    first_record = False
                if rtype == 0x01:
                    if seen_header:
                        raise Malformed("a second HEADER record")
                    seen_header = True
                    h = {}
                    h["pid"] = p.varint()
                    h["ppid"] = p.varint()
                    h["start_real_ns"] = p.varint()
                    h["start_mono_ns"] = p.varint()
                    h["page_size"] = p.varint()
                    h["ncpu"] = p.varint()
                    h["exe"] = p.string()
                    argc = p.varint()
                    h["argv"] = [p.string() for _ in range(argc)]
                    h["glibc"] = p.string()
                    nenv = p.varint()
                    h["env"] = [p.string() for _ in range(nenv)]
                    h["tool"] = p.string()
                    h["extra"] = p.end - p.pos
                    tr.header = h
                elif rtype == 0x02:
                    fr = p.varint()
                    if check and fr != fi:
                        tr.warnings.append("SYNC says frame %d in zstd "
                                           "frame %d" % (fr, fi))
                    state.clear()
                    cur = None
                elif rtype == 0x03:
                    cur = p.varint()
                    # found by comparison with malloc-trace: tids are 32-bit
                    if cur > 0xFFFFFFFF:
                        raise Malformed("bad THREAD record (tid %d)" % cur)
                    state.setdefault(cur, [0, 0, 0])
                elif rtype == 0x04:
                    sid = p.varint()
                    depth = p.varint()
                    # limits of malloc-trace's reader, not in FORMAT.md
                    # (found in traces/reader_int.h after the comparison)
                    if sid == 0 or sid > (1 << 26) or depth > 4096 or \
                            depth > p.end - p.pos:
                        raise Malformed("bad STACK record (id %d, depth %d)"
                                        % (sid, depth))
                    pcs = []
                    if depth:
                        pc = p.varint()
                        pcs.append(pc)
                        for _ in range(depth - 1):
                            pc = (pc + p.svarint()) & MASK64
                            pcs.append(pc)
                    if sid == 0:
                        raise Malformed("stack id 0")
                    if check and sid in tr.stacks:
                        tr.warnings.append("stack %d defined twice%s" % (
                            sid, "" if tr.stacks[sid] == pcs
                            else " (differently)"))
                    tr.stacks[sid] = pcs
                elif rtype == 0x05:
                    m = dict(bias=p.varint(), start=p.varint(),
                             size=p.varint(), flags=p.varint(),
                             path=p.string(), build_id=p.bytes_())
                    tr.modules.append(m)
                elif rtype == 0x06:
                    w = p.varint()
                    tr.watermarks.append(w)
                    merger.release_below(w)
                elif rtype == 0x07:
                    tr.end = dict(reason=p.varint(), status=p.svarint(),
                                  t_ns=p.varint(), events=p.varint(),
                                  dropped=p.varint())
                    ended = True
                elif rtype == 0x08 and tr.version >= 2:
                    if cur is None:
                        raise Malformed("TIMES record with no current thread")
                    times = []
                    ti = 0
                    while p.pos < p.end:
                        zeros = p.varint()
                        dt = p.svarint()
                        if len(times) + zeros + 1 > (1 << 20):
                            raise Malformed("TIMES gives more than 2^20 deltas")
                        times.extend([0] * zeros)
                        times.append(dt)
                elif 0x10 <= rtype <= 0x3F:
                    if cur is None:
                        raise Malformed("event with no current thread")
                    st = state[cur]
                    dseq = p.varint()
                    if tr.version == 1:
                        dt = p.svarint()
                    stack = p.varint()
                    if tr.version >= 2:
                        if ti >= len(times):
                            raise Malformed("event record (type 0x%02x) "
                                            "without a time" % rtype)
                        dt = times[ti]
                        ti += 1
                    seq = (st[0] + dseq) & MASK64
                    t = (st[1] + dt) & MASK64
                    st[0] = seq
                    st[1] = t
                    if check and stack and stack not in tr.stacks:
                        tr.warnings.append("event seq %d names undefined "
                                           "stack %d" % (seq, stack))
                    lay = LAYOUT.get(rtype)
                    release = seq
                    line = None
                    if lay is not None:
                        vals = []
                        for name, kind in lay:
                            if kind == "v":
                                vals.append(p.varint())
                            elif kind == "s":
                                vals.append(p.svarint())
                            elif kind == "p":
                                st[2] = (st[2] + p.svarint()) & MASK64
                                vals.append(st[2])
                            else:
                                vals.append(p.string())
                        if rtype in (0x12, 0x13):
                            if vals[-1] >= seq:
                                raise Malformed("%s release seq before 1"
                                                % OPS[rtype])
                            release = seq - vals[-1]
                        line = "%d %d %d %s" % (seq, cur, t,
                                                fmt(rtype, lay, vals))
                    tr.nevents += 1
                    merger.add(seq, release, line)
                else:
                    pass              # unknown record type: skipped by length
            except EOFError:
                raise Malformed("record 0x%02x shorter than its fields"
                                % rtype)
    if rs.cut:
        raise Truncated("file ends inside a zstd frame")
    if ti < len(times):
        # not corruption for malloc-trace (only a record with times
        # untaken is): the cut simply came inside a run
        tr.warnings.append("file ends with %d untaken times"
                           % (len(times) - ti))
    if not seen_header:
        raise Malformed("no HEADER record")
    if not ended:
        tr.warnings.append("no END record: the trace was cut short")


def fmt(rtype, lay, vals):
    op = OPS[rtype]
    args = []
    res = None
    for (name, kind), v in zip(lay, vals):
        if name == "ret":
            res = ("0x%x" % v) if kind == "p" else str(v)
        elif kind == "p":
            args.append("0x%x" % v)
        elif kind == "S":
            args.append(esc(v))
        else:
            args.append(str(v))
    s = " ".join([op] + args)
    if res is not None:
        s += " -> " + res
    return s


def header_lines(tr):
    h = tr.header
    out = ["# malloc trace, format version %d" % tr.version]
    for k in ("pid", "ppid", "start_real_ns", "start_mono_ns", "page_size",
              "ncpu"):
        out.append("# %s: %d" % (k, h[k]))
    out.append("# exe: " + esc(h["exe"]))
    for a in h["argv"]:
        out.append("# arg: " + esc(a))
    out.append("# glibc: " + esc(h["glibc"]))
    for e in h["env"]:
        out.append("# env: " + esc(e))
    out.append("# tool: " + esc(h["tool"]))
    return out


def main(argv):
    opts = set()
    args = []
    for a in argv[1:]:
        if a in ("--header", "--tables", "--check"):
            opts.add(a)
        else:
            args.append(a)
    if len(args) != 1:
        sys.stderr.write("usage: spec_decode.py [--header] [--tables] "
                         "[--check] TRACE\n")
        return 2
    path = args[0]
    try:
        tr = decode(path, check="--check" in opts)
    except OSError as e:
        sys.stderr.write("spec_decode: %s: %s\n" % (path, e.strerror))
        return 1
    out = []
    if "--header" in opts and tr.header:
        out.extend(header_lines(tr))
    out.extend(line for line in tr.lines if line is not None)
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    sys.stdout.flush()
    for w in tr.warnings:
        sys.stderr.write("spec_decode: %s: warning: %s\n" % (path, w))
    if "--tables" in opts:
        e = sys.stderr
        e.write("frames: %d, raw %d bytes\n" % (tr.nframes, tr.raw_bytes))
        e.write("stacks: %d defined (max id %d), %d MODULE records\n" % (
            len(tr.stacks), max(tr.stacks, default=0), len(tr.modules)))
        for sid in sorted(tr.stacks):
            e.write("stack %d: %s\n" % (sid, " ".join(
                "0x%x" % pc for pc in tr.stacks[sid])))
        for m in tr.modules:
            e.write("module bias=0x%x start=0x%x size=%d flags=%d %s %s\n" % (
                m["bias"], m["start"], m["size"], m["flags"], esc(m["path"]),
                m["build_id"].hex()))
        e.write("watermarks: %d\n" % len(tr.watermarks))
        e.write("end: %r\n" % (tr.end,))
        e.write("events decoded: %d\n" % tr.nevents)
    if tr.error:
        sys.stderr.write("spec_decode: %s: %s\n" % (path, tr.error))
        return 1
    if tr.truncated:
        sys.stderr.write("spec_decode: %s: truncated: %s\n" % (
            path, tr.truncated))
        return 3
    e = tr.end
    if e is None or e["reason"] == 4 or e["dropped"]:
        return 3  # section 3.7: not the program's whole run
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
