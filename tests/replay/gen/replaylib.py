"""
replaylib.py -- the machinery behind gen.py: a scripted peer, the loop that
lets it react to the stack's frames, and small readers for the checks.

A scenario's peer is ordinary Python that builds frames with scapy and hands
them to ctx.send(at, frame) in time order ("at" = seconds from the start of
the trace; virtual time 1 s + at). Where the peer must answer something the
stack chose (its ISN, its timestamp, the data it sent) it asks ctx.find() for
the stack's frame. The first runs do not have that frame yet: find() raises
Pending, the frames built so far are replayed with usreplay, and the peer is
run again on the stack's new output. This repeats until the input no longer
changes and the peer ran to its end: a fixed point, where every answer the
peer gave matches what the stack sent in the run that produced the final
expected.pcap. The peer can only react to frames it saw, and only later than
they were sent (ctx.send refuses a time not after every frame it looked at).

Nothing here copies the stack's frames into the input: the peer builds each of
its frames from its own description; it reads numbers (sequence numbers,
timestamps, IDs, ports) from the stack's frames where a real peer would.
"""

import os
import subprocess
import tempfile

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: F401

STACK_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:00:00:00:02"
BCAST = "ff:ff:ff:ff:ff:ff"
STACK_IP = "10.0.0.1"
PEER_IP = "10.0.0.2"
T0 = 1.0          # virtual time of the trace's first frame (the stack's clock starts at 1 s)
MAX_ROUNDS = 400  # fixed-point iterations before giving up


class Pending(Exception):
    """The peer needs a stack frame that the current output does not hold yet."""


class CheckFailed(Exception):
    """The stack's output breaks what the scenario says it must do."""


def pattern(off, n):
    """The bytes usreplay's `bytes: N` sends from stream offset off (printable, period 95)."""
    return bytes(32 + (k % 95) for k in range(off, off + n))


class Frame:
    """A frame the stack sent: its virtual time, bytes and scapy decode."""

    def __init__(self, idx, t, raw):
        self.idx = idx            # 0-based position in the stack's output
        self.t = t                # virtual time, seconds
        self.at = round(t - T0, 6)  # seconds from the trace start
        self.raw = raw
        self.p = Ether(raw)

    def __repr__(self):
        return "#%d t=%.6f %s" % (self.idx + 1, self.t, self.p.summary())

    # Convenience readers.
    def tcp(self):
        return self.p[TCP] if TCP in self.p else None

    def flags(self):
        return str(self.p[TCP].flags) if TCP in self.p else None

    def payload(self):
        t = self.tcp()
        if t is not None:
            return bytes(t.payload)
        if UDP in self.p:
            return bytes(self.p[UDP].payload)
        return b""

    def opts(self):
        """TCP options as a dict (name -> value) plus the ordered list under '_list'."""
        t = self.tcp()
        d = {"_list": []}
        if t is None:
            return d
        for name, val in t.options:
            d["_list"].append(name)
            d[name] = val
        return d


class Ctx:
    def __init__(self, out):
        self.out = out            # list of Frame, the stack's output of the previous run
        self.frames = []          # (virtual time, scapy frame) the peer sends
        self.horizon = 0.0        # latest stack frame the peer looked at
        self.ipid = 0x4000

    def next_id(self):
        self.ipid += 1
        return self.ipid

    def send(self, at, frame):
        t = round(T0 + at, 6)
        if t <= self.horizon:
            raise AssertionError("peer frame at %.6f reacts to a stack frame sent at %.6f: "
                                 "it must come later" % (t, self.horizon))
        if self.frames and t < self.frames[-1][0]:
            raise AssertionError("peer frames must be in time order (%.6f after %.6f)"
                                 % (t, self.frames[-1][0]))
        self.frames.append((t, frame))

    def find(self, what, pred, after=None):
        """The first stack frame (after frame `after`, if given) for which pred is true."""
        start = after.idx + 1 if after is not None else 0
        for f in self.out[start:]:
            try:
                ok = pred(f)
            except (IndexError, AttributeError):
                ok = False
            if ok:
                self.horizon = max(self.horizon, f.t)
                return f
        raise Pending(what)

    def find_before(self, what, pred, deadline, after=None):
        """
        Like find, but only among frames sent before `deadline` (seconds from the trace
        start); None when there is none. Looking means the peer watched the wire until the
        deadline: it may send at the deadline, not before.
        """
        start = after.idx + 1 if after is not None else 0
        for f in self.out[start:]:
            if f.at >= deadline:
                break
            try:
                ok = pred(f)
            except (IndexError, AttributeError):
                ok = False
            if ok:
                self.horizon = max(self.horizon, f.t)
                return f
        self.horizon = max(self.horizon, round(T0 + deadline - 1e-6, 6))
        return None

    def all(self, pred):
        """Every stack frame matching pred (for checks; does not move the horizon)."""
        res = []
        for f in self.out:
            try:
                if pred(f):
                    res.append(f)
            except (IndexError, AttributeError):
                pass
        return res


# ---- building the peer's frames ------------------------------------------------------

def eth(dst=STACK_MAC):
    return Ether(dst=dst, src=PEER_MAC)


def anchor():
    """
    The trace's first frame, at t = 0: the stack's gratuitous ARP as a capture on the wire
    would show it (the stack sends it when it comes up). usreplay injects only frames from
    other MACs, so this frame is never fed to the stack; it only fixes the time origin.
    Built here from the config's addresses, not copied from any output.
    """
    return Ether(dst=BCAST, src=STACK_MAC) / ARP(op=1, hwsrc=STACK_MAC, psrc=STACK_IP,
                                                 hwdst="00:00:00:00:00:00", pdst=STACK_IP)


def arp_request(target=STACK_IP):
    return Ether(dst=BCAST, src=PEER_MAC) / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP,
                                                hwdst="00:00:00:00:00:00", pdst=target)


def arp_reply(to_ip=STACK_IP, from_ip=PEER_IP):
    return eth() / ARP(op=2, hwsrc=PEER_MAC, psrc=from_ip, hwdst=STACK_MAC, pdst=to_ip)


def ip(ctx, proto_layer, **kw):
    fields = dict(src=PEER_IP, dst=STACK_IP, ttl=64, id=ctx.next_id(), flags="DF")
    fields.update(kw)
    return eth() / IP(**fields) / proto_layer


class TcpPeer:
    """
    The peer's side of one TCP connection: it keeps its own sequence numbers and its
    timestamp clock (1 ms ticks, TSval = 5000 + ms since the trace start), and learns
    RCV.NXT and the stack's TSval from the frames it is shown (learn()).
    """

    def __init__(self, ctx, sport, dport, isn, win=502, syn_win=64240, mss=1460, ws=7,
                 ts=True, sack=True):
        self.ctx = ctx
        self.sport, self.dport = sport, dport
        self.snd_nxt = isn
        self.rcv_nxt = 0
        self.ts_recent = 0
        self.win, self.syn_win = win, syn_win
        self.mss, self.ws, self.ts, self.sack = mss, ws, ts, sack

    def tsval(self, at):
        return 5000 + int(round(at * 1000))

    def opts(self, at, syn=False):
        o = []
        if syn:
            # Linux's SYN option layout: MSS, SACK_PERM, TS, NOP, WS.
            o.append(("MSS", self.mss))
            if self.sack:
                o.append(("SAckOK", b""))
            if self.ts:
                o.append(("Timestamp", (self.tsval(at), self.ts_recent)))
            if self.ws is not None:
                o += [("NOP", None), ("WScale", self.ws)]
            return o
        if self.ts:
            o = [("NOP", None), ("NOP", None), ("Timestamp", (self.tsval(at), self.ts_recent))]
        return o

    def learn(self, f):
        """Take RCV.NXT and TS.Recent from a stack frame (as a receiver would)."""
        t = f.tcp()
        n = len(bytes(t.payload)) + (1 if "S" in str(t.flags) else 0) + \
            (1 if "F" in str(t.flags) else 0)
        end = (t.seq + n) & 0xffffffff
        if self.rcv_nxt == 0 or ((end - self.rcv_nxt) & 0xffffffff) < 0x80000000:
            self.rcv_nxt = end
        for name, val in t.options:
            if name == "Timestamp":
                self.ts_recent = val[0]
        return f

    def seg(self, at, flags, data=b"", seq=None, ack=None, win=None, opts=None, **ipkw):
        """Send one segment; a segment at snd_nxt advances it by its length."""
        syn = "S" in flags
        s = self.snd_nxt if seq is None else seq
        a = (self.rcv_nxt if ack is None else ack) if "A" in flags else 0
        if win is None:
            win = 0 if "R" in flags else self.syn_win if syn else self.win  # Linux: RST win 0
        w = win
        o = self.opts(at, syn) if opts is None else opts
        t = TCP(sport=self.sport, dport=self.dport, seq=s, ack=a, flags=flags, window=w,
                options=o)
        pkt = ip(self.ctx, t / Raw(data) if data else t, **ipkw)
        if s == self.snd_nxt:
            self.snd_nxt = (s + len(data) + (1 if syn else 0) + (1 if "F" in flags else 0)) \
                & 0xffffffff
        self.ctx.send(at, pkt)
        return pkt


# ---- matching the stack's frames -------------------------------------------------------

def is_arp(op, target=None):
    def pred(f):
        return ARP in f.p and f.p[ARP].op == op and (target is None or f.p[ARP].pdst == target)
    return pred


def is_tcp(flags=None, sport=None, dport=None, data=None, seq=None):
    """Stack TCP segments; flags is the exact set in scapy's letters ('SA', 'A', 'PA', 'FA')."""
    def pred(f):
        t = f.tcp()
        if t is None:
            return False
        if flags is not None and str(t.flags) != flags:
            return False
        if sport is not None and t.sport != sport:
            return False
        if dport is not None and t.dport != dport:
            return False
        if seq is not None and t.seq != seq:
            return False
        if data is True and len(bytes(t.payload)) == 0:
            return False
        if data is False and len(bytes(t.payload)) != 0:
            return False
        return True
    return pred


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# ---- running usreplay to a fixed point -------------------------------------------------

def write_pcap(path, frames):
    pkts = []
    for t, fr in frames:
        fr.time = t
        pkts.append(fr)
    wrpcap(path, pkts)


def run_usreplay(usreplay, d, inp, out, verbose=False):
    cmd = [usreplay, "-C", os.path.join(d, "host.yaml"), "--in", inp,
           "--script", os.path.join(d, "app.yaml"), "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode == 2:
        raise RuntimeError("usreplay failed:\n" + r.stdout + r.stderr)
    frames = []
    if os.path.exists(out) and os.path.getsize(out) > 24:
        for i, p in enumerate(rdpcap(out)):
            frames.append(Frame(i, float(p.time), bytes(p)))
    return frames, r.returncode, r.stdout + r.stderr


def solve(sc, d, usreplay, log=print):
    """
    Iterate peer and stack to the fixed point. Returns (input frames, output frames,
    usreplay's exit code and messages of the final run, and its output pcap as bytes).
    """
    out, rc, msgs = [], 0, ""
    prev = None
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.pcap")
        outp = os.path.join(tmp, "out.pcap")
        for rnd in range(MAX_ROUNDS):
            ctx = Ctx(out)
            complete = True
            waiting = None
            try:
                sc.peer(ctx)
            except Pending as e:
                complete = False
                waiting = str(e)
            frames = [(T0, anchor())] + ctx.frames
            key = [(t, bytes(f)) for t, f in frames]
            if key == prev:
                if complete:
                    with open(outp, "rb") as f:
                        out_pcap = f.read()
                    return frames, out, rc, msgs, out_pcap
                raise RuntimeError("%s: the peer waits for \"%s\", which the stack never sends"
                                   % (sc.name, waiting))
            prev = key
            write_pcap(inp, frames)
            out, rc, msgs = run_usreplay(usreplay, d, inp, outp)
        raise RuntimeError("%s: no fixed point after %d rounds" % (sc.name, MAX_ROUNDS))
