#!/usr/bin/env python3
"""A scapy peer that checks a server's TIME_WAIT behaviours (t_time_wait.sh).

The server (ustackd's http service, or a kernel python3 http.server used as
the reference) listens on TARGET:80 and closes first after an HTTP/1.0
reply, so each connection leaves the server in TIME_WAIT. This peer plays
the client from an address no kernel owns (ME, with its own MAC, which the
server knows from a static ARP or neighbour entry), so nobody but this
script answers the server's segments. Each check uses its own connection:

  fin_retx     a retransmitted FIN in TIME_WAIT is ACKed again: ACK only,
               seq = the server's SND.NXT, ack = our FIN + 1; and the
               socket listing shows the 4-tuple in TIME-WAIT;
  rst_in       an RST at RCV.NXT ends TIME_WAIT (Linux, tcp_rfc1337 = 0):
               the retransmitted FIN after it is answered with an RST
               (no connection any more), not an ACK;
  rst_out      an RST out of the window is ignored: the retransmitted FIN
               after it still gets TIME_WAIT's ACK;
  syn          an old SYN (seq below RCV.NXT) gets TIME_WAIT's ACK, not a
               SYN-ACK; a new SYN above RCV.NXT is accepted with ISS = the
               old SND.NXT + 65537 (Linux tw_isn = tw_snd_nxt + 65535 + 2),
               and the new connection works (an HTTP reply comes back);
  syn_recv     a handshake left half-open (SYN, SYN-ACK, no ACK) is listed
               in SYN-RECV.

usage: tw_peer.py IFACE MY_MAC MY_IP TARGET_MAC TARGET_IP BODY LISTING
LISTING is "ustackd:PID:LOG" (SIGUSR2, the listing appended to LOG) or
"ss:NETNS" (ip netns exec NETNS ss -tan). Exit 0 when every check passed.
"""
import os
import re
import select
import subprocess
import sys
import time

from scapy.all import IP, TCP, Ether, Raw, conf  # noqa: E402

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
PORT = 80


class Fail(Exception):
    pass


class Peer:
    def __init__(self, iface, mymac, myip, dmac, dip):
        self.mymac, self.myip, self.dmac, self.dip = mymac, myip, dmac, dip
        self.sock = conf.L2socket(iface=iface)

    def send(self, sport, flags, seq, ack=0, data=b"", mss=False):
        opts = [("MSS", 1460)] if mss else []
        t = TCP(sport=sport, dport=PORT, flags=flags, seq=seq & 0xFFFFFFFF,
                ack=ack & 0xFFFFFFFF, window=65535, options=opts)
        p = Ether(src=self.mymac, dst=self.dmac) / IP(src=self.myip, dst=self.dip) / t
        if data:
            p = p / Raw(data)
        self.sock.send(p)

    def recv(self, sport, timeout=3.0):
        """The next segment from TARGET:80 to ME:sport, or None after timeout."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            p = self.sock.recv()
            if p is None or IP not in p or TCP not in p:
                continue
            if p[IP].src != self.dip or p[IP].dst != self.myip:
                continue
            t = p[TCP]
            if t.sport == PORT and t.dport == sport:
                return t

    def expect(self, sport, what, timeout=3.0):
        t = self.recv(sport, timeout)
        if t is None:
            raise Fail("port %d: no segment from the server in %.0f s (%s)" % (sport, timeout, what))
        return t


def flags(t):
    return int(t.flags)


def fstr(t):
    return str(t.flags)


def handshake(p, sport, iss):
    p.send(sport, "S", iss, mss=True)
    sa = p.expect(sport, "SYN-ACK")
    if flags(sa) & (SYN | ACK) != (SYN | ACK) or sa.ack != (iss + 1) & 0xFFFFFFFF:
        raise Fail("port %d: expected a SYN-ACK of %d, got %s ack %d" % (sport, iss + 1, fstr(sa), sa.ack))
    snd, rcv = iss + 1, sa.seq + 1
    p.send(sport, "A", snd, rcv)
    return snd, rcv


def http_get(p, sport, snd, rcv):
    """Send a GET, take the reply up to and with the server's FIN (ACKing
    as it comes); returns (snd, rcv, body): rcv is then the server's
    SND.NXT (its FIN + 1)."""
    req = b"GET / HTTP/1.0\r\n\r\n"
    p.send(sport, "PA", snd, rcv, req)
    snd += len(req)
    body = b""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        t = p.expect(sport, "the HTTP reply and FIN")
        if flags(t) & RST:
            raise Fail("port %d: RST during the reply" % sport)
        data = bytes(t.payload) if t.payload else b""
        if t.seq == rcv & 0xFFFFFFFF:
            body += data
            rcv += len(data)
            if flags(t) & FIN:
                p.send(sport, "A", snd, rcv + 1)
                return snd, rcv + 1, body
        p.send(sport, "A", snd, rcv)
    raise Fail("port %d: no FIN from the server in 10 s" % sport)


def to_time_wait(p, sport, iss, want_body):
    """A connection the server closes first, then our FIN and its ACK: the
    server is in TIME_WAIT. Returns (fin_seq, srv_nxt): our FIN's sequence
    number, and the server's SND.NXT."""
    snd, rcv = handshake(p, sport, iss)
    snd, rcv, body = http_get(p, sport, snd, rcv)
    if want_body not in body:
        raise Fail("port %d: reply without %r: %r" % (sport, want_body, body[:200]))
    p.send(sport, "FA", snd, rcv)
    a = p.expect(sport, "the ACK of our FIN")
    if flags(a) != ACK or a.ack != (snd + 1) & 0xFFFFFFFF:
        raise Fail("port %d: expected the ACK of our FIN (%d), got %s ack %d" % (sport, snd + 1, fstr(a), a.ack))
    return snd, rcv


def listing_has(listing, pattern, timeout=5.0):
    """Does the server's socket listing show a line matching pattern?"""
    kind, _, rest = listing.partition(":")
    rx = re.compile(pattern)
    if kind == "ss":
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = subprocess.run(["ip", "netns", "exec", rest, "ss", "-tan"], capture_output=True,
                                 text=True, timeout=10).stdout
            if any(rx.search(line) for line in out.splitlines()):
                return True
            time.sleep(0.1)
        return False
    pid, _, log = rest.partition(":")
    off = os.path.getsize(log)
    os.kill(int(pid), 12)   # SIGUSR2: ustackd appends its listing to its log
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(log, "rb") as f:
            f.seek(off)
            text = f.read().decode("utf-8", "replace")
        if any(rx.search(line) for line in text.splitlines()):
            return True
        time.sleep(0.1)
    return False


def row(state, a, b):
    return r"%s\s.*\s%s\s+%s(\s|$)" % (state, re.escape(a), re.escape(b))


def check_fin_retx(p, body, listing):
    sport = 41001
    fin, srv_nxt = to_time_wait(p, sport, 1000000, body)
    if not listing_has(listing, row("TIME-WAIT", "%s:%d" % (p.dip, PORT), "%s:%d" % (p.myip, sport))):
        raise Fail("fin_retx: the listing shows no TIME-WAIT row for %s:%d" % (p.myip, sport))
    p.send(sport, "FA", fin, srv_nxt)
    a = p.expect(sport, "an ACK of the retransmitted FIN")
    if flags(a) != ACK or a.seq != srv_nxt & 0xFFFFFFFF or a.ack != (fin + 1) & 0xFFFFFFFF:
        raise Fail("fin_retx: expected ACK seq %d ack %d, got %s seq %d ack %d" %
                   (srv_nxt, fin + 1, fstr(a), a.seq, a.ack))
    print("ok fin_retx: retransmitted FIN re-ACKed (seq %d ack %d)" % (a.seq, a.ack))


def check_rst_in(p, body):
    sport = 41002
    fin, srv_nxt = to_time_wait(p, sport, 2000000, body)
    p.send(sport, "R", fin + 1)          # at RCV.NXT
    p.send(sport, "FA", fin, srv_nxt)    # is anything left of the connection?
    a = p.expect(sport, "an answer to the FIN after the RST")
    if not flags(a) & RST:
        raise Fail("rst_in: after an RST at RCV.NXT the FIN got %s, not RST: TIME_WAIT went on" % fstr(a))
    print("ok rst_in: RST at RCV.NXT ended TIME_WAIT (the next FIN got %s)" % fstr(a))


def check_rst_out(p, body):
    sport = 41003
    fin, srv_nxt = to_time_wait(p, sport, 3000000, body)
    p.send(sport, "R", fin + 1 + 100000)  # far beyond RCV.NXT
    p.send(sport, "FA", fin, srv_nxt)
    a = p.expect(sport, "TIME_WAIT's ACK after the stray RST")
    if flags(a) != ACK or a.seq != srv_nxt & 0xFFFFFFFF:
        raise Fail("rst_out: after an out-of-window RST the FIN got %s seq %d, not TIME_WAIT's ACK" %
                   (fstr(a), a.seq))
    print("ok rst_out: out-of-window RST ignored, TIME_WAIT still ACKs")


def check_syn(p, body):
    sport = 41004
    fin, srv_nxt = to_time_wait(p, sport, 4000000, body)
    p.send(sport, "S", fin - 1000, mss=True)     # below RCV.NXT: an old duplicate
    a = p.expect(sport, "TIME_WAIT's ACK of an old SYN")
    if flags(a) != ACK or a.ack != (fin + 1) & 0xFFFFFFFF:
        raise Fail("syn: an old SYN got %s ack %d, not TIME_WAIT's ACK of %d" % (fstr(a), a.ack, fin + 1))
    iss = fin + 1 + 100000
    p.send(sport, "S", iss, mss=True)
    sa = p.expect(sport, "a SYN-ACK to the new SYN")
    want = (srv_nxt + 65537) & 0xFFFFFFFF
    if flags(sa) & (SYN | ACK) != (SYN | ACK) or sa.ack != (iss + 1) & 0xFFFFFFFF:
        raise Fail("syn: the new SYN got %s ack %d, not a SYN-ACK of %d" % (fstr(sa), sa.ack, iss + 1))
    if sa.seq != want:
        raise Fail("syn: SYN-ACK ISS %d, expected old SND.NXT %d + 65537 = %d" % (sa.seq, srv_nxt, want))
    snd, rcv = iss + 1, sa.seq + 1
    p.send(sport, "A", snd, rcv)
    snd, rcv, body2 = http_get(p, sport, snd, rcv)
    if body not in body2:
        raise Fail("syn: the new connection's reply lacks %r" % body)
    p.send(sport, "R", snd)
    print("ok syn: old SYN ACKed; new SYN accepted with ISS %d = old SND.NXT + 65537; reply %d bytes" %
          (sa.seq, len(body2)))


def check_syn_recv(p, listing):
    sport = 41005
    iss = 5000000
    p.send(sport, "S", iss, mss=True)
    sa = p.expect(sport, "a SYN-ACK")
    if flags(sa) & (SYN | ACK) != (SYN | ACK):
        raise Fail("syn_recv: expected a SYN-ACK, got %s" % fstr(sa))
    ok = listing_has(listing, row("SYN-RECV", "%s:%d" % (p.dip, PORT), "%s:%d" % (p.myip, sport)))
    p.send(sport, "R", iss + 1)
    if not ok:
        raise Fail("syn_recv: the listing shows no SYN-RECV row for %s:%d" % (p.myip, sport))
    print("ok syn_recv: half-open handshake listed in SYN-RECV")


def main():
    iface, mymac, myip, dmac, dip, body, listing = sys.argv[1:8]
    only = sys.argv[8:]
    p = Peer(iface, mymac, myip, dmac, dip)
    body = body.encode()
    checks = {
        "fin_retx": lambda: check_fin_retx(p, body, listing),
        "rst_in": lambda: check_rst_in(p, body),
        "rst_out": lambda: check_rst_out(p, body),
        "syn": lambda: check_syn(p, body),
        "syn_recv": lambda: check_syn_recv(p, listing),
    }
    failed = 0
    for name, fn in checks.items():
        if only and name not in only:
            continue
        try:
            fn()
        except Fail as e:
            print("FAIL %s" % e)
            failed += 1
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
