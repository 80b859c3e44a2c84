#!/usr/bin/env python3
"""Hand-made malloc traces for the spec decoder's test (traces.spec_decoder):
edge cases of traces/FORMAT.md, valid and broken, written as raw records and
compressed with the zstd command, frame by frame.
usage: spec_craft.py DIR   (writes DIR/*.zst)"""
import os
import subprocess
import sys
def uv(v):
    out=bytearray()
    while True:
        c=v&0x7f; v>>=7
        if v: out.append(c|0x80)
        else: out.append(c); return bytes(out)
def sv(v): return uv(((v<<1)^(v>>63)) & ((1<<64)-1))
def st(b): 
    if isinstance(b,str): b=b.encode()
    return uv(len(b))+b
def rec(t,payload): return bytes([t])+uv(len(payload))+payload
def header(ver=2, tool="t", argv=("a b",), env=()):
    p=uv(1)+uv(1)+uv(0)+uv(0)+uv(4096)+uv(2)+st("exe")+uv(len(argv))+b"".join(st(a) for a in argv)+st("2.36")+uv(len(env))+b"".join(st(e) for e in env)+st(tool)
    return b"MALTRACE"+ver.to_bytes(2,'little')+b"\0\0"+rec(1,p)
def sync(i): return rec(2,uv(i))
def thread(t): return rec(3,uv(t))
def times(*pairs): return rec(8,b"".join(uv(z)+sv(d) for z,d in pairs))
def ev(t,dseq,stack,rest,dt=None,ver=2):
    if ver==1: return rec(t,uv(dseq)+sv(dt)+uv(stack)+rest)
    return rec(t,uv(dseq)+uv(stack)+rest)
def malloc(dseq,size,dptr,stack=0): return ev(0x10,dseq,stack,uv(size)+sv(dptr))
def end(): return rec(7,uv(5)+sv(0)+uv(0)+uv(0)+uv(0))
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def z(raw):
    return subprocess.run(["zstd","-q","-c","--check"],input=raw,stdout=subprocess.PIPE).stdout
def write(name, frames):
    open(OUT + "/"+name+".zst","wb").write(b"".join(z(f) for f in frames))
H=header()
base=[H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()]
write("ok", base)
# unknown record type 0x09 and 0x40 between events
write("unkrec", [H, sync(1)+thread(7)+rec(0x09,b"xyz")+rec(0x40,b"")+times((0,10),(0,5))+malloc(1,24,0x1000)+malloc(1,8,0x10)+end()])
# unknown event type 0x1a with extra payload, then malloc
write("unkev", [H, sync(1)+thread(7)+times((0,10),(0,5),(0,1))+malloc(1,24,0x1000)+ev(0x1a,1,0,b"\x05\x06")+malloc(1,8,0x10)+end()])
# record extended by trailing bytes
write("extend", [H, sync(1)+thread(7)+times((0,10))+rec(0x10,uv(1)+uv(0)+uv(24)+sv(0x1000)+b"\x01\x02\x03")+rec(7,uv(5)+sv(0)+uv(0)+uv(0)+uv(0)+b"zz")])
# data after END
write("afterend", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()+b"\x00"])
write("afterend2", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end(), sync(2)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# no END
write("noend", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)])
# exec escaping
write("exec", [H, sync(1)+thread(7)+times((0,10))+ev(0x25,1,0,st(b"/a b%c\xab\x7f~!"))+end()])
# negative time
write("negt", [H, sync(1)+thread(7)+times((0,-10))+malloc(1,24,0x1000)+end()])
# pointer wrap negative
write("negp", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,-16)+end()])
# leftover times before END
write("leftover", [H, sync(1)+thread(7)+times((1,10))+malloc(1,24,0x1000)+end()])
# event without time
write("notime", [H, sync(1)+thread(7)+malloc(1,24,0x1000)+end()])
# drelease >= seq
write("drel", [H, sync(1)+thread(7)+times((0,10))+ev(0x12,1,0,sv(0)+uv(5)+sv(0x100)+uv(1))+end()])
# undefined stack id
write("nostack", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000,stack=3)+end()])
# bad SYNC index
write("badsync", [H, sync(5)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# frame without SYNC
write("nosync", [H, thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# all in one frame
write("oneframe", [H+sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# header alone with no sync in frame 0 but events in frame 0
write("oneframe_nosync", [H+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# version 3, bad magic
write("v3", [header(3), sync(1)+end()])
open(OUT + "/badmagic.zst","wb").write(z(b"MALTRACX\x02\x00\x00\x00"))
# v1 with type 0x08 record
write("v1times", [header(1), sync(1)+thread(7)+times((0,10))+ev(0x10,1,0,uv(24)+sv(0x1000),dt=30,ver=1)+end()])
# watermark: event with seq below a watermark
write("wm", [H, sync(1)+thread(7)+times((0,10))+malloc(5,24,0x1000)+rec(6,uv(10))+thread(8)+times((0,10))+malloc(2,24,0x1000)+end()])
# duplicate seqs across threads
write("dupseq", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+thread(8)+times((0,20))+malloc(1,32,0x2000)+end()])
# seq decreasing within one thread (dseq 0)
write("dseq0", [H, sync(1)+thread(7)+times((0,10),(0,1))+malloc(1,24,0x1000)+malloc(0,32,0x10)+end()])
# TIMES with empty payload, then events -> no time
write("emptytimes", [H, sync(1)+thread(7)+times()+end()])
# varint 10 bytes over 64 bits
write("bigvar", [H, sync(1)+thread(7)+times((0,10))+rec(0x10,uv(1)+uv(0)+b"\xff"*9+b"\x7f"+sv(0))+end()])
# short payload
write("short", [H, sync(1)+thread(7)+times((0,10))+rec(0x10,uv(1)+uv(0)+uv(24))+end()])
# THREAD switch while times untaken
write("thrswitch", [H, sync(1)+thread(7)+times((1,10))+malloc(1,24,0x1000)+thread(8)+malloc(1,24,0x1000)+end()])
# TIMES then SYNC new frame: times carried?
write("syncdelta", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000), sync(2)+thread(7)+times((0,30))+malloc(2,24,0x1000)+end()])
# header with env & odd chars & tool w/ space
open(OUT + "/hdr.zst","wb").write(z(header(tool="x y%", argv=("a\tb","\xe9"), env=("MALLOC_X=1",)))+z(sync(1)+end()))
# fork / mallopt negative / malloc_trim / thread_start formatting
write("misc", [H, sync(1)+thread(7)+times((0,10),(0,1),(0,1),(0,1),(0,1))+ev(0x24,1,0,sv(-1))+ev(0x20,1,0,sv(-8)+sv(-1)+sv(0))+ev(0x21,1,0,uv(100)+sv(0))+ev(0x22,1,0,uv(0))+ev(0x23,1,0,b"")+end()])
# times pair with zeros>0 and dt 0 end run
write("zeros", [H, sync(1)+thread(7)+times((2,10),(1,0))+malloc(1,1,0x10)+malloc(1,2,0x10)+malloc(1,3,0x10)+malloc(1,4,0x10)+malloc(1,5,0x10)+end()])
# TIMES before THREAD (no current thread)
write("timesnothread", [H, sync(1)+times((0,10))+thread(7)+malloc(1,24,0x1000)+end()])
# huge seq/time values
write("bigseq", [H, sync(1)+thread(7)+times((0,(1<<63)-1))+malloc((1<<64)-1,24,0x1000)+end()])
# stack defined twice
stk=rec(4,uv(1)+uv(2)+uv(0x1000)+sv(-8))
write("stack2", [H, sync(1)+stk+stk+thread(7)+times((0,10))+malloc(1,24,0x1000,stack=1)+end()])
write("stack0", [H, sync(1)+rec(4,uv(0)+uv(0))+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# truncated: cut file
d=open(OUT + "/ok.zst","rb").read(); open(OUT + "/cut.zst","wb").write(d[:-10])
# two HEADERs
write("twohdr", [H, sync(1)+H[12:]+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# gap then corruption: seq 2 pending, then a short record
write("gaperr", [H, sync(1)+thread(7)+times((0,10),(0,1))+malloc(2,24,0x1000)+rec(0x10,uv(1))+end()])
# gap then data after END
write("gapafterend", [H, sync(1)+thread(7)+times((0,10))+malloc(2,24,0x1000)+end()+b"\x07"])
# gap with watermark then gap filled (seq 1 after watermark 3)
write("wm2", [H, sync(1)+thread(7)+times((0,10),(0,1))+malloc(2,24,0x1000)+malloc(1,8,0x10)+rec(6,uv(2))+thread(8)+times((0,5))+malloc(1,24,0x1000)+end()])
# release seq fills the gap: t7 seq 1 realloc-release... t8 seq 3 waits on seq 2 which is a release seq of t7 seq 4
write("relgap", [H, sync(1)+thread(8)+times((0,5))+malloc(3,24,0x1000)+rec(6,uv(0))+thread(7)+times((0,10))+malloc(1,8,0x10)+end()])
# stack redefined differently
write("stackredef", [H, sync(1)+stk+rec(4,uv(1)+uv(1)+uv(0x2000))+thread(7)+times((0,10))+malloc(1,24,0x1000,stack=1)+end()])
# duplicate seq where the second comes while first still pending
write("dupseq2", [H, sync(1)+thread(7)+times((0,10))+malloc(2,24,0x1000)+thread(8)+times((0,20))+malloc(2,32,0x2000)+thread(9)+times((0,30))+malloc(1,32,0x2000)+end()])
# event after SYNC without THREAD
write("syncnothread", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000), sync(2)+times((0,10))+malloc(1,24,0x1000)+end()])
# SYNC inside a frame (not first record): resets delta state?
write("midsync", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+sync(2)+thread(7)+times((0,30))+malloc(2,24,0x1000)+end()])
# release seq counted as seen?
write("relseen", [H, sync(1)+thread(7)+times((0,10),(0,1))+malloc(1,8,0x10)+ev(0x12,2,0,sv(0)+uv(5)+sv(0x100)+uv(1))+thread(8)+times((0,20))+malloc(2,24,0x1000)+end()])
# watermark advances next?
write("wmnext", [H, sync(1)+thread(7)+times((0,10),(0,1))+malloc(1,8,0x10)+malloc(2,8,0x10)+rec(6,uv(3))+thread(8)+times((0,20))+malloc(2,24,0x1000)+end()])
# watermark w: are events with seq == w released?
write("wmeq", [H, sync(1)+thread(7)+times((0,10))+malloc(3,8,0x10)+rec(6,uv(3))+thread(8)+times((0,20))+malloc(2,24,0x1000)+end()])
# record straddling two zstd frames
full = sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()
k = len(sync(1)+thread(7)+times((0,10)))+3
write("straddle", [H, full[:k], full[k:]])
# 11-byte varint
write("var11", [H, sync(1)+thread(7)+times((0,10))+rec(0x10,uv(1)+uv(0)+b"\x80"*10+b"\x01"+sv(0))+end()])
# flags nonzero
open(OUT + "/flags.zst","wb").write(z(H[:10]+b"\x05\x00"+H[12:])+z(sync(1)+end()))
# unknown event in v1
write("v1unk", [header(1), sync(1)+thread(7)+rec(0x30,uv(1)+sv(50)+uv(0)+b"\x09")+ev(0x10,1,0,uv(24)+sv(0x1000),dt=30,ver=1)+end()])
# header with trailing fields
write("hdrext", [header(tool="t")+b"", sync(1)+end()])
hp=header()
hx=hp[:12]+bytes([1])+uv(hp[13]+3)+hp[14:]+b"abc"
write("hdrext", [hx, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
# TIMES with odd varint count
write("timesodd", [H, sync(1)+thread(7)+rec(8,uv(0)+sv(10)+uv(3))+malloc(1,24,0x1000)+end()])
# empty file
open(OUT + "/empty.zst","wb").write(b"")
# skippable frame between
write("skip0", [H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000)+end()])
d=open(OUT + "/skip0.zst","rb").read()
fr0 = z(H)
open(OUT + "/skippable.zst","wb").write(fr0 + b"\x50\x2a\x4d\x18" + (4).to_bytes(4,'little') + b"abcd" + d[len(fr0):])
# NUL in a string (exec)
write("nul", [H, sync(1)+thread(7)+times((0,10))+ev(0x25,1,0,st(b"a\0b"))+end()])
# END not in its own frame then nothing: fine. Garbage non-zstd bytes appended
d=open(OUT + "/ok.zst","rb").read(); open(OUT + "/garbage.zst","wb").write(d+b"hello")
# corrupt checksum in last frame
fr=[H, sync(1)+thread(7)+times((0,10))+malloc(1,24,0x1000), sync(2)+thread(7)+times((0,10))+malloc(2,24,0x2000)+end()]
blob=b"".join(z(f) for f in fr); b2=bytearray(blob); b2[-1]^=0xff; open(OUT + "/badsum.zst","wb").write(bytes(b2))
# zstd frame cut inside middle frame
write("three", fr); blob=open(OUT + "/three.zst","rb").read(); l0=len(z(fr[0]))+len(z(fr[1]))
open(OUT + "/cutmid.zst","wb").write(blob[:l0-3])
open(OUT + "/cutframe.zst","wb").write(blob[:l0])
# preamble only (no header)
open(OUT + "/preamble.zst","wb").write(z(b"MALTRACE\x02\x00\x00\x00"))
# first record not header
open(OUT + "/nohdr.zst","wb").write(z(b"MALTRACE\x02\x00\x00\x00"+sync(1)+end()))
# v1 trace realloc: drelease present in v1?
write("v1realloc", [header(1), sync(1)+thread(7)+ev(0x10,1,0,uv(24)+sv(0x1000),dt=30,ver=1)+rec(0x12,uv(2)+sv(5)+uv(0)+sv(0)+uv(48)+sv(0x10)+uv(1))+end()])
write("drel2", [H, sync(1)+thread(7)+times((0,10),(0,1))+malloc(1,1,0)+ev(0x12,1,0,sv(0)+uv(5)+sv(0x100)+uv(3))+end()])
write("bigtid", [H, sync(1)+thread(1<<32)+times((0,10))+malloc(1,24,0x1000)+end()])
write("tid32", [H, sync(1)+thread((1<<32)-1)+times((0,10))+malloc(1,24,0x1000)+end()])
write("bigstack", [H, sync(1)+rec(4,uv((1<<26)+1)+uv(1)+uv(5))+end()])
write("deepstack", [H, sync(1)+rec(4,uv(1)+uv(4097)+b"\x01"*4097)+end()])
write("okstack", [H, sync(1)+rec(4,uv(1<<26)+uv(4096)+b"\x01"*4096)+end()])
write("untaken_eof", [H, sync(1)+thread(7)+times((1,10))+malloc(1,24,0x1000)])
