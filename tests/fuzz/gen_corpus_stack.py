#!/usr/bin/env python3
"""gen_corpus_stack.py — write the seed corpus for fuzz_stack.

Each seed is a sequence of records in fuzz_stack.c's format (see the top of
that file): one scenario a stack meets in practice, written so that the
fuzzer starts from deep states rather than from random bytes: data both
ways on the established connection, out-of-order segments and SACK, a
zero window and persist probes over minutes, FIN and RST exchanges, a SYN
flood against the listener and accepted children, an active open,
fragments in and out of order (and overlapping), the reassembly "hostage"
flood of issue 8 item 11 followed by a fragmented ping, ICMP errors
quoting the connection, ARP, UDP both ways, socket options, and raw frames.

Deterministic: running it again gives the same bytes. Plain python3 only.

Usage: python3 tests/fuzz/gen_corpus_stack.py [OUTDIR]
       (default: tests/fuzz/corpus_stack beside this script)
"""
import os
import struct
import sys

OP_FRAME, OP_SEG, OP_SYN, OP_UDP, OP_FRAGS, OP_FRAG1, OP_ICMP, OP_ARP, OP_APP, OP_ADV = range(10)
RAW = 0x80
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

# APP calls
SEND, RECV, SHUTDOWN, CLOSE, ACCEPT, CONNECT, SENDTO, RECVFROM = range(8)
SETOPT, GETOPT, POLL, LISTEN, UDPSOCK, PING, RECVALL, NAMES = range(8, 16)
# Option indexes in fuzz_stack.c's opts[]
O_RCVBUF, O_SNDBUF, O_REUSEADDR, O_KEEPALIVE, O_LINGER, O_ERROR, O_BROADCAST = range(7)
O_NODELAY, O_MAXSEG, O_KEEPIDLE, O_KEEPINTVL, O_KEEPCNT, O_USER_TIMEOUT = range(7, 13)
O_CONGESTION, O_RCVTIMEO, O_SNDTIMEO = range(13, 16)

# Descriptor selectors: after setup the table is [listener, connection, UDP];
# a selector picks among the descriptors of the kind the call wants.
SEL0 = 0


def op(code, arg=0, raw=False):
    return bytes([code | (arg << 4) | (RAW if raw else 0)])


def i16(v):
    return struct.pack("!h", v)


def u16(v):
    return struct.pack("!H", v & 0xFFFF)


def u32(v):
    return struct.pack("!I", v & 0xFFFFFFFF)


def opts(mss=None, ws=None, sackok=False, ts=None, sack=None, raw_opts=None):
    """OPTS: ts = (dtsval, dtsecr); sack = [(dstart, len), ...]."""
    if raw_opts is not None:
        return bytes([0x20, len(raw_opts)]) + raw_opts
    mask, body = 0, b""
    if mss is not None:
        mask |= 1
        body += u16(mss)
    if ws is not None:
        mask |= 2
        body += bytes([ws])
    if sackok:
        mask |= 4
    if ts is not None:
        mask |= 8
        body += i16(ts[0]) + i16(ts[1])
    if sack:
        mask |= 16
        body += bytes([len(sack)]) + b"".join(i16(s) + u16(n) for s, n in sack)
    return bytes([mask]) + body


TS = (0, 0)   # a right timestamp: the peer's clock, echoing the stack's last


def seg(flow=0, flags=ACK, dseq=0, dack=0, win=65535, o=None, data=b"", urg=None, raw=False):
    r = op(OP_SEG, flow, raw) + bytes([flags]) + i16(dseq) + i16(dack) + u16(win)
    r += o if o is not None else opts(ts=TS)
    if flags & URG:
        r += u16(urg or 0)
    return r + u16(len(data)) + data


def syn(flow, seq, win=65535, o=None, raw=False):
    return op(OP_SYN, flow, raw) + u32(seq) + u16(win) + (o if o is not None else opts(mss=1460))


def udp(sport, data, arg=0, raw=False):
    return op(OP_UDP, arg, raw) + u16(sport) + u16(len(data)) + data


def frags(kind, ident, dlen, sizes, order, dup=0):
    """sizes: bytes b, each fragment (b % 185 + 1) * 8 bytes; 184 is 1480."""
    n = len(sizes) + 1
    return (op(OP_FRAGS, kind) + u16(ident) + u16(dlen) + bytes([n - 1]) + bytes(sizes)
            + bytes(order[:n]) + bytes([dup]))


def frag1(src, ident, off_units, mf, proto_sel, data):
    return (op(OP_FRAG1, src) + bytes([ident]) + u16(off_units | (0x8000 if mf else 0))
            + bytes([proto_sel]) + u16(len(data)) + data)


def icmp(flow, typ, code, word=0, dseq=-1):
    return op(OP_ICMP, flow) + bytes([typ, code]) + u16(word) + i16(dseq)


def arp(opcode, who, mac):
    return op(OP_ARP) + bytes([opcode, who]) + mac


def app(call, sel=SEL0, *fields):
    return op(OP_APP) + bytes([call, sel]) + b"".join(fields)


def adv(ms=0, us=0, sec10=0):
    if sec10:
        return op(OP_ADV) + u16(0xC000 | sec10)
    if us:
        return op(OP_ADV) + u16(us)
    if ms <= 0x3FFF:
        return op(OP_ADV) + u16(0x4000 | ms)
    return op(OP_ADV) + u16(0x8000 | (ms // 100))


def frame(data, raw=False):
    return op(OP_FRAME, 0, raw) + u16(len(data)) + data


SEEDS = {}

SEEDS["empty"] = b""

# Data both ways, delayed ACKs, the app reads, then an orderly close.
SEEDS["echo"] = (seg(flags=ACK | PSH, data=b"hello stack\n") + adv(ms=50)
                 + app(RECV, 0, u16(100), b"\x00") + app(SEND, 0, u16(3000), b"\x00")
                 + seg() + adv(ms=200) + seg(flags=ACK | FIN) + adv(ms=10)
                 + app(RECV, 0, u16(100), b"\x00") + app(CLOSE, 1) + seg() + adv(ms=100))

# Out-of-order data, then the hole filled; SACK blocks back.
SEEDS["ooo_sack"] = (seg(flags=ACK | PSH, dseq=1000, data=b"B" * 500)
                     + seg(flags=ACK | PSH, dseq=2000, data=b"D" * 500)
                     + seg(flags=ACK | PSH, data=b"A" * 1000) + seg(flags=ACK, dseq=1000, data=b"C" * 500)
                     + adv(ms=100) + app(RECVALL)
                     + app(SEND, 0, u16(20000), b"\x00")
                     + seg(o=opts(ts=TS, sack=[(1448, 1448)]), dack=-20000 + 1448)
                     + seg(o=opts(ts=TS, sack=[(1448, 2896)]), dack=-20000 + 1448)
                     + seg(o=opts(ts=TS, sack=[(1448, 4344)]), dack=-20000 + 1448)
                     + adv(ms=300) + seg())

# The peer's window closes: persist probes for minutes, then it opens.
SEEDS["zero_window"] = (app(SEND, 0, u16(60000), b"\x00") + seg(win=0) + adv(sec10=6)
                        + seg(win=0) + adv(sec10=30) + seg(win=65535) + adv(ms=500) + seg())

# Retransmissions until the connection gives up (minutes of silence).
SEEDS["rto_giveup"] = app(SEND, 0, u16(5000), b"\x00") + adv(sec10=60) + app(GETOPT, 0, bytes([O_ERROR]))

# RSTs: in window (challenge ACK), exact, and after close.
SEEDS["rst"] = (seg(flags=RST, dseq=100) + seg(flags=RST | ACK) + app(RECV, 0, u16(10), b"\x00")
                + app(SEND, 0, u16(10), b"\x04"))

# A SYN on the established connection (challenge ACK), bad options, URG.
SEEDS["syn_on_conn"] = (syn(0, 0) + seg(flags=ACK | URG | PSH, data=b"urgent", urg=3)
                        + seg(o=opts(raw_opts=b"\x02\x04\x00\x10\x03\x03\x0e\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00"))
                        + seg(o=opts(ts=(-30000, 12345)), data=b"old"))

# A SYN flood on the listener, some handshakes completed and accepted.
SEEDS["syn_flood"] = (b"".join(syn(f, 5000 * f, o=opts(mss=536 + f, ws=f, sackok=True, ts=TS))
                               for f in range(1, 6))
                      + seg(flow=1) + seg(flow=2, data=b"early data", flags=ACK | PSH)
                      + app(ACCEPT) + app(ACCEPT) + app(ACCEPT) + adv(sec10=10) + seg(flow=3))

# An active open: SYN from the stack, SYN-ACK from the peer, data, close.
# (The table is then [listener, connection, UDP, new]: the new socket is
# TCP selector 1, any-kind selector 3.)
SEEDS["active_open"] = (app(CONNECT, 0)
                        + seg(flow=6, flags=ACK | SYN, o=opts(mss=1200, ws=2, sackok=True, ts=TS))
                        + seg(flow=6, flags=ACK | PSH, data=b"server hello")
                        + app(RECVALL) + app(SEND, 1, u16(100), b"\x00") + app(SHUTDOWN, 3, b"\x01")
                        + seg(flow=6, flags=ACK | FIN) + adv(ms=100))

# Simultaneous open and a refused one.
SEEDS["active_refused"] = (app(CONNECT, 1) + seg(flow=7, flags=RST | ACK) + app(GETOPT, 1, bytes([O_ERROR]))
                           + app(CONNECT, 0) + syn(6, 1234) + adv(ms=10) + seg(flow=6))

# UDP in and out, a closed port, no checksum, a bad checksum.
SEEDS["udp"] = (udp(7777, b"query") + app(RECVFROM, 0, u16(2000)) + app(SENDTO, 0, u16(100), u16(7777))
                + udp(7777, b"x", arg=1) + udp(7777, b"nocsum", arg=2) + udp(7777, b"bad", raw=True)
                + app(SENDTO, 0, u16(3000), u16(53)) + app(UDPSOCK, 0, u16(0)) + app(SENDTO, 1, u16(9), u16(9)))

# Fragments: in order, reversed, overlapping, duplicated; each kind of payload.
SEEDS["frags"] = (frags(0, 0x1001, 3000, [100, 100], [0, 1, 2]) + app(RECVFROM, 0, u16(4000))
                  + frags(1, 0x1002, 4000, [50, 60, 70], [3, 2, 1, 0], dup=2)
                  + frags(2, 0x1003, 1000, [25], [1, 0]) + adv(ms=50) + app(RECVALL)
                  + frags(3, 0x1004, 2000, [40], [0, 1])
                  + frag1(0, 7, 0, True, 2, b"A" * 64) + frag1(0, 7, 4, True, 2, b"B" * 64)
                  + frag1(0, 7, 16, False, 2, b"C" * 16) + adv(sec10=4))

# Issue 8 item 11: 16 never-completing first fragments from 7 sources and
# the peer, then a fragmented ping that must still be answered.
SEEDS["frag_hostage"] = (b"".join(frag1(k % 8, k, 0, True, 0, b"\x08\x00" + b"Z" * 398) for k in range(16))
                         + frags(1, 0x2222, 3000, [184, 184], [0, 1, 2]) + adv(sec10=4))

# ICMP errors quoting the connection: frag needed (PMTU), unreachable, bogus seq.
SEEDS["icmp_errors"] = (app(SEND, 0, u16(4000), b"\x00")
                        + icmp(0, 3, 4, 576, -1000) + icmp(0, 3, 3, 0, -10) + icmp(0, 3, 1, 0, 5000)
                        + icmp(0, 11, 0) + icmp(7, 3, 3) + icmp(0, 4, 0) + adv(ms=1500) + seg())

# ARP: a request from the peer, a reply changing its MAC, a conflict, probes.
SEEDS["arp"] = (arp(1, 0, bytes.fromhex("020000000002")) + arp(2, 0, bytes.fromhex("020000000099"))
                + arp(1, 1, bytes.fromhex("0200000000aa")) + arp(1, 2, bytes.fromhex("0200000000bb"))
                + arp(2, 5, bytes.fromhex("0200000000cc")) + app(PING, 0, u16(2000)) + adv(sec10=2))

# Socket options on the connection, then traffic with them.
SEEDS["sockopts"] = (app(SETOPT, 0, bytes([O_NODELAY]), u32(1)) + app(SETOPT, 0, bytes([O_RCVBUF]), u32(4096))
                     + app(SETOPT, 0, bytes([O_SNDBUF]), u32(4096)) + app(SETOPT, 0, bytes([O_KEEPALIVE]), u32(1))
                     + app(SETOPT, 0, bytes([O_KEEPIDLE]), u32(10)) + app(SETOPT, 0, bytes([O_USER_TIMEOUT]), u32(3000))
                     + app(SETOPT, 0, bytes([O_LINGER]), u32(1)) + app(SETOPT, 0, bytes([O_MAXSEG]), u32(600))
                     + app(SEND, 0, u16(9000), b"\x00") + adv(sec10=20) + app(GETOPT, 0, bytes([O_ERROR]))
                     + app(POLL, 0x05) + app(NAMES, 1))

# Raw frames: a TCP segment with checksums fixed up, a truncated one, junk.
_raw_tcp = (bytes.fromhex("020000000001" "020000000002" "0800")
            + bytes.fromhex("45000028abcd40004006" "0000" "0a000002" "0a000001")
            + struct.pack("!HHIIBBHHH", 40000, 80, 1001, 0, 0x50, ACK, 65535, 0, 0))
SEEDS["raw_frames"] = (frame(_raw_tcp) + frame(_raw_tcp[:30], raw=True)
                       + frame(bytes.fromhex("ffffffffffff0200000000020806") + b"\x00" * 28)
                       + frame(b"\x00" * 60, raw=True))

# The listener closed while children wait; the connection closed with unread data.
SEEDS["close_races"] = (syn(1, 42) + seg(flow=1) + seg(flags=ACK | PSH, data=b"unread")
                        + app(CLOSE, 0) + app(CLOSE, 1) + adv(ms=10) + seg(flags=ACK | PSH, data=b"late")
                        + adv(sec10=7))

# Reproducers of what the fuzzer found (fixed), minimised, kept as found.
# send 60000 bytes; the peer acknowledges what came with a zero window and
# goes silent; teardown closes: the orphan probed the window forever
# (tests/unit/test_tcp_persist.c).
SEEDS["repro_persist_orphan"] = bytes.fromhex("080000ea60000110")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "corpus_stack")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
