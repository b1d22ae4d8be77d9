"""
scenarios.py -- what the peer sends in each replay scenario, and what the
stack must do in reply (the checks gen.py runs before it writes
expected.pcap).

Addresses: the stack is 10.0.0.1 (02:00:00:00:00:01), the peer 10.0.0.2
(02:00:00:00:00:02) on 10.0.0.0/24. Times ("at") are seconds from the start
of the trace; the stack's clock reads 1 s + at. The peer's TCP is modelled on
Linux: SYN with MSS 1460, SACK-permitted, timestamps (TSval = 5000 + ms) and
window scale 7, window 64240 in the SYN and 502 (<< 7 = 64256 bytes) after.
"""

from replaylib import (ARP, ICMP, IP, PEER_IP, PEER_MAC, STACK_IP, STACK_MAC, TCP, UDP,
                       BCAST, Raw, TcpPeer, arp_reply, arp_request, eth, expect, ip,
                       is_arp, is_tcp, pattern)
from scapy.all import DNS, DNSRR, fragment, raw

ALL = []


class Scenario:
    def __init__(self, name, doc, app, host, peer):
        self.name, self.doc, self.app, self.host, self.peer = name, doc, app, host, peer
        self.check = lambda ctx, out, inp: None

    def checks(self, fn):
        self.check = fn
        return fn


def scenario(name, doc, app="", host=""):
    def wrap(peer):
        sc = Scenario(name, doc, app, host, peer)
        ALL.append(sc)
        return sc
    return wrap


# ---- readers used by the checks ------------------------------------------------------------

def csum_ok(f):
    """IP header checksum and the transport checksum of a stack frame are right."""
    p = f.p.copy()
    if IP not in p:
        return True
    good = IP(raw(p[IP]))
    del good.chksum
    for L in (TCP, UDP, ICMP):
        if L in good and not (good[IP].flags.MF or good[IP].frag):
            del good[L].chksum
    good = IP(raw(good))
    if good.chksum != p[IP].chksum:
        return False
    for L in (TCP, UDP, ICMP):
        if L in good and L in p and not (p[IP].flags.MF or p[IP].frag):
            if good[L].chksum != p[L].chksum:
                return False
    return True


def only(out, pred, n, what):
    got = [f for f in out if pred(f)]
    expect(len(got) == n, "expected %d %s, got %d: %s" % (n, what, len(got), got))
    return got


def announce_ok(out):
    a = out[0]
    expect(ARP in a.p and a.at == 0, "frame 1 is the gratuitous ARP at t=0: %r" % a)
    expect(a.p.dst == BCAST and a.p[ARP].op == 1 and a.p[ARP].psrc == STACK_IP and
           a.p[ARP].pdst == STACK_IP and a.p[ARP].hwsrc == STACK_MAC and
           a.p[ARP].hwdst == "00:00:00:00:00:00",
           "gratuitous ARP: request, broadcast, sender = target = 10.0.0.1, THA zero: %r" % a)


def all_csums_ok(out):
    for f in out:
        expect(csum_ok(f), "bad checksum in %r" % f)


def tcp_of(out):
    return [f for f in out if f.tcp() is not None]


# ---- ARP ---------------------------------------------------------------------------------------

@scenario("arp_request_reply", """
ARP (RFC 826): the peer asks who has 10.0.0.1 at t=0.1, asks for 10.0.0.99
(not the stack) at t=0.2, and asks for 10.0.0.1 again at t=0.3.
""")
def arp_request_reply(ctx):
    ctx.send(0.1, arp_request(STACK_IP))
    ctx.send(0.2, arp_request("10.0.0.99"))
    ctx.send(0.3, arp_request(STACK_IP))


@arp_request_reply.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3, "announce + two replies, nothing for 10.0.0.99: %r" % out)
    for f, at in zip(out[1:], (0.1, 0.3)):
        a = f.p[ARP]
        expect(f.at == at, "reply sent at once (t=%s): %r" % (at, f))
        expect(f.p.dst == PEER_MAC and f.p.src == STACK_MAC, "unicast to the asker: %r" % f)
        expect(a.op == 2 and a.hwsrc == STACK_MAC and a.psrc == STACK_IP and
               a.hwdst == PEER_MAC and a.pdst == PEER_IP, "reply fields: %r" % a.summary())
        expect(a.hwtype == 1 and a.ptype == 0x0800 and a.hwlen == 6 and a.plen == 4,
               "Ethernet/IPv4 ARP: %r" % a.summary())


# ---- ICMP ---------------------------------------------------------------------------------------

@scenario("icmp_ping", """
ICMP echo (RFC 792, RFC 1122 3.2.2.6): the peer resolves 10.0.0.1 by ARP at
t=0.1, then pings it (id 0x1234, 56 bytes) with seq 1 at t=0.2 and seq 2 at
t=1.2.
""")
def icmp_ping(ctx):
    ctx.send(0.1, arp_request(STACK_IP))
    data = bytes(range(56))
    ctx.send(0.2, ip(ctx, ICMP(type=8, id=0x1234, seq=1) / Raw(data), flags=0))
    ctx.send(1.2, ip(ctx, ICMP(type=8, id=0x1234, seq=2) / Raw(data), flags=0))


@icmp_ping.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 4, "announce, ARP reply, two echo replies: %r" % out)
    for f, (at, seq) in zip(out[2:], ((0.2, 1), (1.2, 2))):
        expect(f.at == at, "reply at once: %r" % f)
        expect(f.p.dst == PEER_MAC, "to the MAC learned from the peer's ARP request (no ARP): %r"
               % f)
        i, c = f.p[IP], f.p[ICMP]
        expect(i.src == STACK_IP and i.dst == PEER_IP and i.ttl == 64 and i.proto == 1,
               "IP: %r" % i.summary())
        expect(c.type == 0 and c.code == 0 and c.id == 0x1234 and c.seq == seq,
               "echo reply keeps id and seq: %r" % c.summary())
        expect(bytes(c.payload) == bytes(range(56)), "payload echoed unchanged")
    all_csums_ok(out)


# ---- TCP handshakes --------------------------------------------------------------------------

LISTEN80 = """
- {at: 0, op: tcp_listen, port: 80, backlog: 4}
"""


def syn_ack_ok(sa, peer_isn, peer_tsval, ws=3):
    t = sa.tcp()
    o = sa.opts()
    expect(sa.flags() == "SA", "SYN-ACK flags: %r" % sa)
    expect(t.ack == peer_isn + 1, "SYN-ACK acknowledges the peer's ISN + 1: %r" % sa)
    expect(o.get("MSS") == 1460, "MSS 1460 (MTU 1500 - 40): %r" % o)
    expect(o.get("WScale") == ws, "window scale %d (256 KiB buffer): %r" % (ws, o))
    expect(o.get("Timestamp") == (int(round(sa.t * 1000)), peer_tsval),
           "TS val = stack ms clock, ecr = the peer's TSval %d: %r" % (peer_tsval, o))
    expect("SAckOK" in o, "SACK-permitted, as the peer's SYN offered it (RFC 2018 2): %r" % o)
    expect(o["_list"] == ["MSS", "SAckOK", "Timestamp", "NOP", "WScale"],
           "Linux's layout: MSS, SACK-permitted, TS, NOP, WS: %r" % o)
    expect(t.window == 65535, "SYN-ACK window 65535 (never scaled in a SYN): %r" % sa)
    expect(sa.p[IP].flags.DF, "DF set")


def passive_handshake(ctx, at=0.1, isn=1000, sport=40000, ack_win=None):
    """ARP request, SYN at `at`, ACK of the SYN-ACK 10 ms after it; returns the peer."""
    ctx.send(at - 0.05, arp_request(STACK_IP))
    p = TcpPeer(ctx, sport, 80, isn)
    p.seg(at, "S")
    sa = p.learn(ctx.find("SYN-ACK", is_tcp("SA")))
    p.seg(sa.at + 0.010, "A", win=ack_win)
    return p, sa


@scenario("tcp_passive_open", """
Passive open (RFC 9293 3.5, RFC 7323): the application listens on port 80;
the peer (port 40000, ISN 1000) sends its SYN at t=0.1 and ACKs the SYN-ACK
10 ms after it arrives; the application accepts at t=0.3.
""", app=LISTEN80 + """
- {at: 0.3, op: tcp_accept, as: c}
""")
def tcp_passive_open(ctx):
    passive_handshake(ctx)


@tcp_passive_open.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3, "announce, ARP reply, SYN-ACK; nothing after the handshake: %r" % out)
    sa = out[2]
    expect(sa.at == 0.1, "SYN-ACK at once")
    syn_ack_ok(sa, 1000, 5100)
    expect(sa.tcp().sport == 80 and sa.tcp().dport == 40000, "ports")
    all_csums_ok(out)


# ---- more ARP ----------------------------------------------------------------------------------

UDP_CLIENT = """
- {at: 0, op: udp_bind, port: 5000, as: u}
"""


def answer_arp(ctx, after=None, delay=0.001):
    """Answer the stack's next who-has 10.0.0.2 (after frame `after`) `delay` s later."""
    rq = ctx.find("ARP request for 10.0.0.2", is_arp(1, PEER_IP), after)
    ctx.send(rq.at + delay, arp_reply())
    return rq


@scenario("arp_cache_expiry", """
ARP cache expiry (RFC 826, RFC 1122 2.3.2.1), arp timeout 5 s: the
application sends a UDP datagram to 10.0.0.2 at t=0.1 (the stack must ARP;
the peer answers 1 ms after the request), another at t=2 (cached: no ARP)
and a third at t=7, after the entry expired at 0.101 + 5 s (a second
resolution, answered the same way).
""", app=UDP_CLIENT + """
- {at: 0.1, op: udp_send, on: u, to: "10.0.0.2:7", data: "one"}
- {at: 2.0, op: udp_send, on: u, to: "10.0.0.2:7", data: "two"}
- {at: 7.0, op: udp_send, on: u, to: "10.0.0.2:7", data: "three"}
""", host="""
arp:
  timeout_s: 5
""")
def arp_cache_expiry(ctx):
    rq = answer_arp(ctx)
    answer_arp(ctx, after=rq)


@arp_cache_expiry.checks
def _(ctx, out, inp):
    announce_ok(out)
    reqs = only(out, is_arp(1, PEER_IP), 2, "ARP requests for 10.0.0.2")
    expect([r.at for r in reqs] == [0.1, 7.0], "requests at 0.1 and 7.0 (not at 2.0): %r" % reqs)
    for r in reqs:
        a = r.p[ARP]
        expect(r.p.dst == BCAST and a.hwdst == "00:00:00:00:00:00" and a.psrc == STACK_IP,
               "request: broadcast, THA zero, SPA 10.0.0.1: %r" % r)
    dg = [f for f in out if UDP in f.p]
    expect([(f.at, f.payload()) for f in dg] == [(0.101, b"one"), (2.0, b"two"),
                                                 (7.001, b"three")],
           "datagrams leave when the reply arrives, and at once while cached: %r" % dg)
    expect(all(str(f.p[IP].flags) == "DF" for f in dg), "DF set (IP_PMTUDISC_WANT)")
    for f in dg:
        expect(f.p.dst == PEER_MAC and f.p[UDP].sport == 5000 and f.p[UDP].dport == 7,
               "UDP to the resolved MAC: %r" % f)
    all_csums_ok(out)


@scenario("arp_unanswered", """
ARP without an answer (RFC 1122 2.3.2.1: at most one request per second):
the application pings 10.0.0.3, which nobody answers, at t=0.1; the peer
stays silent. At t=4 the ping endpoint must hold EHOSTUNREACH.
""", app="""
- {at: 0.1, op: ping, to: 10.0.0.3, seq: 1, size: 56}
- {at: 4.0, op: ping_recv, expect_error: EHOSTUNREACH}
""")
def arp_unanswered(ctx):
    pass


@arp_unanswered.checks
def _(ctx, out, inp):
    announce_ok(out)
    reqs = only(out, is_arp(1, "10.0.0.3"), 3, "ARP requests for 10.0.0.3")
    expect([r.at for r in reqs] == [0.1, 1.1, 2.1], "three requests, 1 s apart: %r" % reqs)
    expect(len(out) == 4, "nothing else (no ICMP leaves without a MAC): %r" % out)


# ---- fragmented ICMP --------------------------------------------------------------------------

def reassemble(frags):
    """The IP payload of a whole datagram from its fragments (a receiver's reassembly)."""
    data = b""
    for f in sorted(frags, key=lambda f: f.p[IP].frag):
        i = f.p[IP]
        expect(i.frag * 8 == len(data), "fragments contiguous: %r" % frags)
        data += bytes(i.payload)[: i.len - i.ihl * 4]
    return data


@scenario("icmp_ping_fragmented", """
Fragmentation (RFC 791), like `usping -s 4000`: the application pings
10.0.0.2 with 4000 data bytes at t=0.1. The peer answers the ARP request,
reassembles the three fragments of the request, and 5 ms after the last one
sends the echo reply with the same id, seq and data, itself fragmented at
1480 bytes; the application reads the reply at t=0.5.
""", app="""
- {at: 0.1, op: ping, to: 10.0.0.2, seq: 1, size: 4000}
- {at: 0.5, op: ping_recv, seq: 1, from: 10.0.0.2}
""")
def icmp_ping_fragmented(ctx):
    answer_arp(ctx)
    first = ctx.find("first fragment", lambda f: IP in f.p and f.p[IP].flags.MF and
                     f.p[IP].frag == 0)
    frags = [first]
    while frags[-1].p[IP].flags.MF:
        frags.append(ctx.find("next fragment", lambda f: IP in f.p and f.p[IP].id ==
                              first.p[IP].id, after=frags[-1]))
    req = ICMP(reassemble(frags))
    reply = IP(src=PEER_IP, dst=STACK_IP, ttl=64, id=0x0777) / \
        ICMP(type=0, id=req.id, seq=req.seq) / Raw(bytes(req.payload))
    for k, fr in enumerate(fragment(reply, fragsize=1480)):
        ctx.send(frags[-1].at + 0.005, eth() / fr)


@icmp_ping_fragmented.checks
def _(ctx, out, inp):
    announce_ok(out)
    frags = [f for f in out if IP in f.p]
    expect(len(frags) == 3, "3 fragments: %r" % frags)
    expect([f.p[IP].frag * 8 for f in frags] == [0, 1480, 2960], "offsets 0, 1480, 2960")
    expect([f.p[IP].len for f in frags] == [1500, 1500, 1068], "1500 + 1500 + 1068 bytes")
    expect([bool(f.p[IP].flags.MF) for f in frags] == [True, True, False], "MF on all but last")
    expect(len({f.p[IP].id for f in frags}) == 1, "one IP id")
    expect(not any(f.p[IP].flags.DF for f in frags), "DF clear on a datagram that needs it")
    expect(all(f.at == 0.101 for f in frags), "sent when ARP resolves (t=0.101)")
    icmp = ICMP(reassemble(frags))
    expect(icmp.type == 8 and len(bytes(icmp.payload)) == 4000, "echo request of 4000 bytes")
    expect(bytes(icmp.payload) == pattern(0, 4000), "the data usreplay asked for")
    all_csums_ok(out)


@scenario("icmp_reassembly", """
Reassembly (RFC 791, RFC 815): the peer ARPs for 10.0.0.1, then sends an
echo request with 4000 data bytes (id 0x4321, seq 7) as three fragments at
t=0.2, 0.201 and 0.202, in the order last, first, middle. The stack must
reassemble them and answer with a fragmented echo reply.
""")
def icmp_reassembly(ctx):
    ctx.send(0.1, arp_request(STACK_IP))
    data = bytes((i * 7) & 0xff for i in range(4000))
    req = IP(src=PEER_IP, dst=STACK_IP, ttl=64, id=0x0999) / ICMP(type=8, id=0x4321, seq=7) / \
        Raw(data)
    fr = fragment(req, fragsize=1480)
    for k, i in enumerate((2, 0, 1)):
        ctx.send(0.2 + k * 0.001, eth() / fr[i])


@icmp_reassembly.checks
def _(ctx, out, inp):
    announce_ok(out)
    frags = [f for f in out if IP in f.p]
    expect(len(frags) == 3 and all(f.at == 0.202 for f in frags),
           "the reply, in 3 fragments, once the last piece arrived: %r" % frags)
    expect([f.p[IP].frag * 8 for f in frags] == [0, 1480, 2960], "offsets")
    rep = ICMP(reassemble(frags))
    expect(rep.type == 0 and rep.id == 0x4321 and rep.seq == 7, "echo reply id/seq")
    expect(bytes(rep.payload) == bytes((i * 7) & 0xff for i in range(4000)), "4000 bytes echoed")
    all_csums_ok(out)


# ---- UDP ---------------------------------------------------------------------------------------

@scenario("udp_exchange", """
UDP (RFC 768): the application binds port 7777; the peer ARPs, then sends
"hello" from port 5555 at t=0.1; the application reads it at t=0.2 and
answers "world" to 10.0.0.2:5555 at t=0.3.
""", app="""
- {at: 0, op: udp_bind, port: 7777, as: u}
- {at: 0.2, op: udp_recv, on: u, expect: "hello", from: "10.0.0.2:5555"}
- {at: 0.3, op: udp_send, on: u, to: "10.0.0.2:5555", data: "world"}
""")
def udp_exchange(ctx):
    ctx.send(0.05, arp_request(STACK_IP))
    ctx.send(0.1, ip(ctx, UDP(sport=5555, dport=7777) / Raw(b"hello"), flags=0))


@udp_exchange.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3, "announce, ARP reply, one datagram: %r" % out)
    d = out[2]
    u = d.p[UDP]
    expect(d.at == 0.3 and u.sport == 7777 and u.dport == 5555 and u.len == 13 and
           d.payload() == b"world", "reply datagram: %r" % d)
    expect(d.p[IP].src == STACK_IP and d.p[IP].dst == PEER_IP and d.p[IP].ttl == 64, "IP")
    # Linux's default IP_PMTUDISC_WANT: DF on a datagram that fits the path MTU.
    expect(str(d.p[IP].flags) == "DF", "DF set (IP_PMTUDISC_WANT): %r" % d)
    expect(u.chksum != 0, "UDP checksum present")
    all_csums_ok(out)


@scenario("udp_closed_port", """
UDP to a closed port (RFC 1122 4.1.3.1, RFC 792): the peer ARPs, then sends
a 20-byte datagram from port 5555 to port 9999, where nothing listens, at
t=0.1. The stack answers with ICMP port unreachable quoting the datagram.
""")
def udp_closed_port(ctx):
    ctx.send(0.05, arp_request(STACK_IP))
    ctx.send(0.1, ip(ctx, UDP(sport=5555, dport=9999) / Raw(b"are you there? 12345"), flags=0,
                     id=0x0abc))


@udp_closed_port.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3, "announce, ARP reply, one ICMP error: %r" % out)
    e = out[2]
    c = e.p[ICMP]
    expect(e.at == 0.1 and c.type == 3 and c.code == 3, "port unreachable at once: %r" % e)
    expect(e.p[IP].dst == PEER_IP and e.p[IP].src == STACK_IP, "back to the sender")
    sent = raw(ip(type("C", (), {"next_id": lambda s: 0x0abc})(),
                  UDP(sport=5555, dport=9999) / Raw(b"are you there? 12345"), flags=0)[IP])
    quoted = bytes(c.payload)
    expect(quoted == sent, "quotes the whole offending datagram (it fits in 576 bytes): %r"
           % quoted)
    all_csums_ok(out)


# ---- DNS ---------------------------------------------------------------------------------------

@scenario("dns_resolve", """
DNS through the stub resolver (RFC 1035): nameserver 10.0.0.2; the
application resolves www.example.test at t=0.1. The peer answers the ARP
request, then answers the A query 2 ms after it with 10.0.0.80 (TTL 300),
echoing the query's ID and question.
""", app="""
- {at: 0.1, op: resolve, name: www.example.test, expect: 10.0.0.80}
""", host="""
nameservers:
  addresses: [10.0.0.2]
  timeout_ms: 10000
  attempts: 1
""")
def dns_resolve(ctx):
    answer_arp(ctx)
    q = ctx.find("DNS query", lambda f: UDP in f.p and f.p[UDP].dport == 53)
    dq = DNS(q.payload())
    ans = DNS(id=dq.id, qr=1, aa=1, rd=dq.rd, ra=1, qd=dq.qd,
              an=DNSRR(rrname=dq.qd.qname, type="A", rclass="IN", ttl=300, rdata="10.0.0.80"))
    ctx.send(q.at + 0.002, ip(ctx, UDP(sport=53, dport=q.p[UDP].sport) / ans, flags=0))


@dns_resolve.checks
def _(ctx, out, inp):
    announce_ok(out)
    qs = only(out, lambda f: UDP in f.p, 1, "DNS queries (the answer came: no retry)")
    q = qs[0]
    expect(q.at == 0.101, "query leaves when ARP resolves: %r" % q)
    expect(q.p[UDP].dport == 53 and q.p[UDP].sport >= 1024, "to port 53 from an ephemeral port")
    expect(str(q.p[IP].flags) == "DF", "DF set, as Linux's resolver sockets (IP_PMTUDISC_WANT)")
    d = DNS(q.payload())
    expect(d.qr == 0 and d.opcode == 0 and d.rd == 1 and d.qdcount == 1 and d.ancount == 0,
           "standard recursive query with one question: %r" % d.summary())
    expect(d.qd.qname == b"www.example.test." and d.qd.qtype == 1 and d.qd.qclass == 1,
           "question: www.example.test A IN")
    expect(len(out) == 3, "announce, ARP request, query: %r" % out)
    all_csums_ok(out)


# ---- TCP: active open ----------------------------------------------------------------------

def active_handshake(ctx, port=80, isn=5000, delay=0.010):
    """Answer ARP, then the stack's SYN with a SYN-ACK `delay` later; returns (peer, SYN)."""
    answer_arp(ctx)
    syn = ctx.find("SYN", is_tcp("S"))
    p = TcpPeer(ctx, port, syn.tcp().sport, isn)
    p.learn(syn)
    p.seg(syn.at + delay, "SA")
    return p, syn


def syn_ok(syn, built):
    """A SYN the stack built at `built` (seconds from the trace start; it may leave later)."""
    o = syn.opts()
    t = syn.tcp()
    expect(syn.flags() == "S" and t.ack == 0, "SYN: %r" % syn)
    expect(o.get("MSS") == 1460 and o.get("WScale") == 3, "MSS 1460, WS 3: %r" % o)
    expect(o.get("Timestamp") == (int(round((1 + built) * 1000)), 0),
           "TS val = ms clock when built (%s), ecr 0: %r" % (built, o))
    expect(o["_list"] == ["MSS", "SAckOK", "Timestamp", "NOP", "WScale"],
           "SACK-permitted offered (tcp.sack defaults to true, RFC 2018 2), in Linux's "
           "layout MSS, SACK-permitted, TS, NOP, WS: %r" % o)
    expect(t.window == 65535, "window 65535 in the SYN")
    expect(t.sport >= 1024, "ephemeral source port")


@scenario("tcp_active_open", """
Active open (RFC 9293 3.5): the application connects to 10.0.0.2:80 at
t=0.1. The peer answers ARP 1 ms after the request and the SYN 10 ms after
it with a SYN-ACK (ISN 5000, MSS 1460, SACK-permitted, TS, WS 7); at t=0.3
the socket must be connected without error.
""", app="""
- {at: 0.1, op: tcp_connect, to: "10.0.0.2:80", as: c}
- {at: 0.3, op: so_error, on: c, expect: "0"}
- {at: 0.3, op: send, on: c, data: "GET / HTTP/1.0\\r\\n\\r\\n"}
""")
def tcp_active_open(ctx):
    p, syn = active_handshake(ctx)
    d = p.learn(ctx.find("request data", is_tcp("PA")))
    p.seg(d.at + 0.010, "A")


@tcp_active_open.checks
def _(ctx, out, inp):
    announce_ok(out)
    syns = only(out, is_tcp("S"), 1, "SYNs (answered in time: no retransmission)")
    syn = syns[0]
    expect(syn.at == 0.101, "SYN when ARP resolves: %r" % syn)
    syn_ok(syn, 0.1)
    ack = ctx.find("ACK", is_tcp("A"), after=syn)
    t = ack.tcp()
    expect(ack.at == 0.111 and t.seq == syn.tcp().seq + 1 and t.ack == 5001,
           "handshake ACK at once, seq ISN+1, ack 5001: %r" % ack)
    expect(ack.opts().get("Timestamp") == (1111, 5111), "TS echoes the peer's 5111")
    expect(t.window == 262144 >> 3, "window 256 KiB scaled by 3: %r" % ack)
    d = ctx.find("data", is_tcp("PA"), after=ack)
    expect(d.at == 0.3 and d.payload() == b"GET / HTTP/1.0\r\n\r\n" and d.tcp().seq ==
           t.seq, "request sent at once (nothing unacked)")
    expect(len(out) == 5, "nothing after the request is ACKed: %r" % out)
    all_csums_ok(out)


@scenario("tcp_syn_retransmit", """
SYN retransmission (RFC 6298 5.5, RFC 9293 3.8.1), syn_retries 2: the
application connects to 10.0.0.2:80 at t=0.1; the peer answers ARP but
never the SYN. The SYN is resent after 1 s and 2 s (initial RTO 1 s,
doubled); after the third RTO (4 s) the attempt fails with ETIMEDOUT.
""", app="""
- {at: 0.1, op: tcp_connect, to: "10.0.0.2:80", as: c}
- {at: 8.0, op: so_error, on: c, expect: ETIMEDOUT}
""", host="""
tcp:
  syn_retries: 2
""")
def tcp_syn_retransmit(ctx):
    answer_arp(ctx)


@tcp_syn_retransmit.checks
def _(ctx, out, inp):
    announce_ok(out)
    syns = only(out, is_tcp("S"), 3, "SYNs")
    # The RTO runs from connect (0.1), when the SYN went to IP; ARP held it until 0.101.
    expect([s.at for s in syns] == [0.101, 1.1, 3.1], "SYN at 0.101, then RTO 1 s and 2 s "
           "after connect: %r" % syns)
    expect(len({s.tcp().seq for s in syns}) == 1, "same ISN each time")
    for s, built in zip(syns, (0.1, 1.1, 3.1)):
        syn_ok(s, built)
    expect(len(out) == 5, "no RST or anything after giving up: %r" % out)


# ---- TCP: data -------------------------------------------------------------------------------

ACCEPT = LISTEN80 + """
- {at: 0.2, op: tcp_accept, as: c}
"""


def in_order_data(ctx, p, last, end_seq, every=2, delay=0.010, fin_reply=False):
    """
    A receiver that reads at once: takes the stack's segments in sequence order (ignoring
    duplicates), ACKs every `every`-th one and any segment with PSH or FIN, `delay` after
    it arrives, until it has everything up to end_seq (and the FIN if fin_reply, which it
    answers with its own FIN in the same ACK). Returns the last stack frame it read.
    """
    n = 0
    while True:
        want = p.rcv_nxt
        f = ctx.find("segment at %d" % want, lambda f: f.tcp() is not None and
                     f.tcp().seq == want and (len(f.payload()) > 0 or "F" in f.flags()),
                     after=last)
        last = p.learn(f)
        n += 1
        fin = "F" in f.flags()
        if fin and fin_reply:
            p.seg(f.at + delay, "FA")
            return last
        if n % every == 0 or "P" in f.flags() or fin:
            p.seg(f.at + delay, "A")
        if p.rcv_nxt == end_seq and not fin_reply:
            return last


@scenario("tcp_bulk_send", """
Bulk transfer from the stack (RFC 5681, RFC 6928, RFC 7323): after the
passive open the application sends 65536 pattern bytes at t=0.3 and closes.
The peer reads at once and ACKs every second segment and any PSH segment
10 ms after it arrives (window 502 << 7 = 64256 bytes); when the FIN comes
it answers with its own FIN (ACKing everything) 10 ms later. NewReno
(tcp.congestion), whose slow start (L = 1 SMSS) the check models; CUBIC's
HyStart++ adds up to 8 SMSS per ACK (RFC 9406 4.2).
""", app=ACCEPT + """
- {at: 0.3, op: send, on: c, bytes: 65536}
- {at: 0.3, op: close, on: c}
""", host="""
tcp:
  congestion: newreno
""")
def tcp_bulk_send(ctx):
    p, sa = passive_handshake(ctx)
    in_order_data(ctx, p, sa, None, fin_reply=True)


def slow_start_ok(segs, inp, isn, iw, mss, rwnd):
    """
    RFC 5681 3.1 slow start with RFC 3465 byte counting (L = 1 SMSS), RFC 6928 IW: replay
    the peer's ACKs and the stack's segments in time order (at equal times the ACK first,
    as the stack sends in answer to it). Every segment must fit min(cwnd, rwnd) from
    SND.UNA; and after each ACK the stack must have filled that window (or sent all).
    """
    events = [(f.t, 1, f) for f in segs]
    for t, fr in inp:
        if TCP in fr and "A" in str(fr[TCP].flags):
            events.append((t, 0, fr))
    events.sort(key=lambda e: (e[0], e[1]))
    una, cwnd, nxt = isn + 1, iw, isn + 1
    end_all = max(f.tcp().seq + len(f.payload()) for f in segs)
    i = 0
    while i < len(events):
        t = events[i][0]
        while i < len(events) and events[i][0] == t:
            _, kind, x = events[i]
            if kind == 0:
                ack = x[TCP].ack
                if ack - una > 0:
                    cwnd += min(ack - una, mss)
                    una = ack
            else:
                end = x.tcp().seq + len(x.payload())
                expect(end - una <= min(cwnd, rwnd), "%r beyond min(cwnd %d, rwnd %d) from "
                       "SND.UNA %d" % (x, cwnd, rwnd, una))
                nxt = max(nxt, end)
            i += 1
        if nxt < end_all and t >= segs[0].t:
            expect(min(cwnd, rwnd) - (nxt - una) < mss, "at t=%.6f the stack left %d bytes "
                   "of window unused (cwnd %d, una %d, nxt %d)" % (t, min(cwnd, rwnd) -
                                                                   (nxt - una), cwnd, una, nxt))


def data_segments(out):
    return [f for f in tcp_of(out) if len(f.payload()) > 0]


def stream_ok(segs, isn, total):
    """Segments carry the pattern at their stream offsets and cover [0, total) in order."""
    got = 0
    for f in segs:
        off = (f.tcp().seq - isn - 1) & 0xffffffff
        expect(off == got, "segments in order without gaps or repeats: %r at offset %d, "
               "expected %d" % (f, off, got))
        expect(f.payload() == pattern(off, len(f.payload())), "pattern bytes in %r" % f)
        got += len(f.payload())
    expect(got == total, "%d bytes sent, expected %d" % (got, total))


@tcp_bulk_send.checks
def _(ctx, out, inp):
    announce_ok(out)
    sa = ctx.find("SYN-ACK", is_tcp("SA"))
    isn = sa.tcp().seq
    segs = data_segments(out)
    expect(all(len(f.payload()) <= 1448 for f in segs), "no segment above MSS 1460 - 12 (TS)")
    stream_ok(segs, isn, 65536)
    first = [f for f in segs if f.at == 0.3]
    expect(len(first) == 10, "initial window: 10 segments at once (RFC 6928): %d" % len(first))
    fin = ctx.find("FIN", lambda f: f.tcp() is not None and "F" in f.flags())
    expect(fin.tcp().seq + len(fin.payload()) == (isn + 1 + 65536) & 0xffffffff,
           "FIN right after the last byte: %r" % fin)
    expect(fin.flags() in ("FA", "FPA"), "FIN carries ACK: %r" % fin)
    slow_start_ok(segs, inp, isn, 10 * 1448, 1448, 64256)
    expect(not any(f.at > 0.3 and f.at == g.at and f.tcp().seq == g.tcp().seq
                   for f in segs for g in segs if f is not g), "no retransmissions")
    last = out[-1]
    expect("F" not in last.flags() and last.flags() == "A" and
           last.tcp().ack == ctx.all(lambda f: True)[-1].tcp().ack,
           "the stack ACKs the peer's FIN last (TIME_WAIT): %r" % last)
    all_csums_ok(out)


@scenario("tcp_bulk_receive", """
Bulk transfer to the stack (RFC 9293 3.8.6.3, RFC 5681 4.2, RFC 1122
4.2.3.2): after the passive open the peer sends 65536 pattern bytes in
1448-byte segments (MSS 1460 less 12 for timestamps): 10 at t=0.3, then 2
more 5 ms after each ACK from the stack; then its FIN. The application
reads all 65536 bytes at t=1 and checks them, then sees end of stream.
""", app=ACCEPT + """
- {at: 1.0, op: recv, on: c, bytes: 65536, pattern: true, eof: true}
""")
def tcp_bulk_receive(ctx):
    p, sa = passive_handshake(ctx)
    total, off, mss = 65536, 0, 1448
    base = p.snd_nxt

    def send_segs(at, n):
        nonlocal off
        for _ in range(n):
            if off >= total:
                return
            k = min(mss, total - off)
            p.seg(at, "PA" if off + k == total else "A", pattern(off, k))
            off += k
    send_segs(0.3, 10)
    last, acked = sa, base
    while off < total or acked != (base + total) & 0xffffffff:
        a = ctx.find("ACK above %d" % acked, lambda f: is_tcp("A")(f) and
                     ((f.tcp().ack - acked) & 0xffffffff) not in (0,) and
                     ((f.tcp().ack - acked) & 0xffffffff) < 0x80000000, after=last)
        last = p.learn(a)
        acked = a.tcp().ack
        send_segs(a.at + 0.005, 2)
    p.seg(last.at + 0.1, "FA")


@tcp_bulk_receive.checks
def _(ctx, out, inp):
    announce_ok(out)
    peer_isn = 1000
    acks = [f for f in tcp_of(out) if f.flags() == "A"]
    data = [fr for t, fr in inp if TCP in fr and len(fr[TCP].payload) > 0]
    # Every second full-sized segment is acknowledged at once (RFC 5681 4.2); the stack
    # never acknowledges data it has not received, and the last ACK covers all and the FIN.
    rcvd = peer_isn + 1
    count = 0
    for t, fr in inp:
        if TCP in fr and len(fr[TCP].payload) > 0:
            rcvd += len(fr[TCP].payload)
            count += len(fr[TCP].payload) == 1448
            if count % 2 == 0 and len(fr[TCP].payload) == 1448:
                expect(any(a.t == t and a.tcp().ack == rcvd for a in acks),
                       "ACK at once after the 2nd full segment ending at %d (t=%.6f)"
                       % (rcvd, t))
    expect(rcvd == peer_isn + 1 + 65536 and len(data) == 46, "46 segments sent")
    for a in acks:
        expect(a.tcp().ack <= peer_isn + 2 + 65536, "no ACK beyond what arrived")
    expect(acks[-1].tcp().ack == peer_isn + 2 + 65536, "the FIN is acknowledged: %r" % acks[-1])
    # The window is the free space of the 256 KiB buffer while the data sits unread; the
    # right edge (ack + window) never moves left (RFC 9293 3.8.6.2.2).
    edge = 0
    for a in acks[1:]:
        e = a.tcp().ack + (a.tcp().window << 3)
        expect(e >= edge, "window shrank at %r" % a)
        edge = e
    all_csums_ok(out)


@scenario("tcp_rto_retransmit", """
Retransmission timeout (RFC 6298): after the passive open (RTT 10 ms, so
RTO = max(200 ms floor, 10 + 4 * 5 ms) = 200 ms) the application sends 1000
bytes at t=0.3. The peer ignores that segment and its first retransmission
and ACKs the second retransmission 10 ms after it arrives. At t=2 the
application sends 500 more bytes, which the peer ACKs normally.
""", app=ACCEPT + """
- {at: 0.3, op: send, on: c, bytes: 1000}
- {at: 2.0, op: send, on: c, bytes: 500}
""")
def tcp_rto_retransmit(ctx):
    p, sa = passive_handshake(ctx)
    first = ctx.find("data", is_tcp("PA"))
    r1 = ctx.find("1st retransmission", is_tcp("PA", seq=first.tcp().seq), after=first)
    r2 = ctx.find("2nd retransmission", is_tcp("PA", seq=first.tcp().seq), after=r1)
    p.learn(r2)
    p.seg(r2.at + 0.010, "A")
    more = p.learn(ctx.find("more data", is_tcp("PA"), after=r2))
    p.seg(more.at + 0.010, "A")


@tcp_rto_retransmit.checks
def _(ctx, out, inp):
    announce_ok(out)
    segs = data_segments(out)
    expect([f.at for f in segs] == [0.3, 0.5, 0.9, 2.0], "sent at 0.3, again after RTO 200 ms "
           "(t=0.5), again after the doubled RTO 400 ms (t=0.9), new data at 2.0: %r" % segs)
    a, b, c = segs[:3]
    expect(a.payload() == b.payload() == c.payload() == pattern(0, 1000) and
           a.tcp().seq == b.tcp().seq == c.tcp().seq, "same 1000 bytes from SND.UNA")
    expect([f.opts()["Timestamp"][0] for f in segs[:3]] == [1300, 1500, 1900],
           "each retransmission carries a fresh TSval")
    stream_ok([a, segs[3]], ctx.find("SYN-ACK", is_tcp("SA")).tcp().seq, 1500)
    expect(len(out) == 7, "nothing after the last ACK: %r" % out)
    all_csums_ok(out)


@scenario("tcp_fast_retransmit", """
Fast retransmit and NewReno recovery (RFC 5681 3.2, RFC 6582): with
TCP_NODELAY the application sends 14480 bytes (10 full segments, the
initial window) at t=0.3. Segment 2 is lost: the peer ACKs segment 1 at
t=0.31 and sends a duplicate ACK for each of segments 3..10 at t=0.3102,
0.3104, ...; when the retransmitted segment 2 arrives it ACKs everything
10 ms later.
""", app=ACCEPT + """
- {at: 0.25, op: setsockopt, on: c, nodelay: true}
- {at: 0.3, op: send, on: c, bytes: 14480}
""")
def tcp_fast_retransmit(ctx):
    p, sa = passive_handshake(ctx)
    segs = [ctx.find("segment 1", is_tcp(data=True))]
    for k in range(9):
        segs.append(ctx.find("segment %d" % (k + 2), is_tcp(data=True), after=segs[-1]))
    p.learn(segs[0])
    p.seg(0.31, "A")
    for k in range(8):
        p.seg(0.3102 + 0.0002 * k, "A")
    rx = ctx.find("retransmission of segment 2",
                  is_tcp(data=True, seq=segs[1].tcp().seq), after=segs[-1])
    p.learn(rx)
    p.seg(rx.at + 0.010, "A", ack=segs[-1].tcp().seq + len(segs[-1].payload()))


@tcp_fast_retransmit.checks
def _(ctx, out, inp):
    announce_ok(out)
    segs = data_segments(out)
    expect(len(segs) == 11, "10 segments and one retransmission: %r" % segs)
    expect(all(f.at == 0.3 for f in segs[:10]), "the initial window at once")
    rx = segs[10]
    expect(rx.tcp().seq == segs[1].tcp().seq and rx.payload() == segs[1].payload(),
           "segment 2 is the one resent")
    dup3 = [t for t, fr in inp if TCP in fr][2 + 2]   # SYN, ACK, ACK of seg 1, dup 1, dup 2, dup 3
    dups = [t for t, fr in inp if TCP in fr and fr[TCP].ack == segs[1].tcp().seq]
    expect(rx.t == dups[3], "resent on the 3rd duplicate ACK (t=%.6f), not at an RTO: %r"
           % (dups[3], rx))
    del dup3
    expect(len(out) == 14, "nothing after the final ACK (no RTO fires): %r" % out)
    all_csums_ok(out)


@scenario("tcp_sack_recovery", """
SACK-based loss recovery (RFC 6675) with limited transmit (RFC 3042), the
sender's side: SACK is negotiated (both SYNs offer it). With TCP_NODELAY
the application sends 43440 bytes (30 segments of 1448) at t=0.3; the
initial window (10 segments) leaves at once. The path takes 10 ms and
drops the first transmission of segments 2 and 5; the peer (a Linux-like
receiver) ACKs every segment that arrives, at once, with SACK blocks for
what it holds above the cumulative ACK: the block of the segment just
received first, then the others, most recent first, at most 3 (beside
timestamps). Arrivals are at least 0.2 ms apart. NewReno (tcp.congestion):
RFC 6675's ssthresh = FlightSize / 2 is what the checks model.
""", app=ACCEPT + """
- {at: 0.25, op: setsockopt, on: c, nodelay: true}
- {at: 0.3, op: send, on: c, bytes: 43440}
""", host="""
tcp:
  congestion: newreno
""")
def tcp_sack_recovery(ctx):
    p, sa = passive_handshake(ctx)
    base = sa.tcp().seq + 1
    total = 43440
    lost = {base + 1448, base + 4 * 1448}      # first transmissions of segments 2 and 5
    have = []                                  # received ranges [start, end), sorted
    recent = []                                # range starts, most recent first
    last, t_ack = None, 0.0

    def add(s, e):
        nonlocal have
        rs = sorted(have + [[s, e]])
        merged = []
        for r in rs:
            if merged and r[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(list(r))
        have = merged

    rcv_nxt = base
    while rcv_nxt != base + total:
        f = ctx.find("next data segment", is_tcp(data=True), after=last)
        last = f
        s = f.tcp().seq
        e = s + len(f.payload())
        if s in lost:
            lost.discard(s)
            continue
        add(s, e)
        if have and have[0][0] <= rcv_nxt:
            rcv_nxt = max(rcv_nxt, have[0][1])
        have = [r for r in have if r[1] > rcv_nxt]
        for r in have:
            r[0] = max(r[0], rcv_nxt)
        # RFC 2018 4: the block holding the segment just received first.
        blocks = []
        for r in have:
            if r[0] <= s < r[1]:
                blocks.append(tuple(r))
        for st in recent:
            for r in have:
                if r[0] <= st < r[1] and tuple(r) not in blocks:
                    blocks.append(tuple(r))
        for r in reversed(have):
            if tuple(r) not in blocks:
                blocks.append(tuple(r))
        blocks = blocks[:3]
        recent = [b[0] for b in blocks]
        t_ack = max(t_ack + 0.0002, f.at + 0.010)
        opts = p.opts(t_ack)
        if blocks:
            opts = opts + [("NOP", None), ("NOP", None),
                           ("SAck", tuple(x for b in blocks for x in b))]
        p.learn(f)
        p.seg(round(t_ack, 6), "A", ack=rcv_nxt, opts=opts)


def sack_acks(inp, base):
    """The peer's ACKs after the handshake: (time, ack, [(start, end), ...])."""
    acks = []
    for t, fr in inp:
        if TCP not in fr or fr[TCP].flags != "A" or fr[TCP].ack < base:
            continue
        blocks = []
        for name, val in fr[TCP].options:
            if name == "SAck":
                blocks = [(val[i], val[i + 1]) for i in range(0, len(val), 2)]
        acks.append((round(t - 1.0, 6), fr[TCP].ack, blocks))
    return acks


@tcp_sack_recovery.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SYN-ACK", is_tcp("SA")).tcp().seq
    base, mss, total = isn + 1, 1448, 43440
    segs = data_segments(out)
    acks = sack_acks(inp, base)
    expect(all(f.at == 0.3 for f in segs[:10]) and len(segs) >= 10,
           "the initial window, 10 segments, at once (RFC 6928)")
    sent_hi, firsts, rexmits = base, [], []
    for f in segs:
        s = f.tcp().seq
        if s == sent_hi:
            firsts.append(f)
            sent_hi = s + len(f.payload())
        else:
            expect(s < sent_hi, "no gap in new data: %r" % f)
            rexmits.append(f)
    stream_ok(firsts, isn, total)
    # What the ACKs told the sender before each time t (RFC 6675 Update()).
    def state_before(t):
        cum, sacked = base, []
        for at, a, bl in acks:
            if at >= t:
                break
            cum = max(cum, a)
            for b in bl:
                if b[1] > cum and b[0] >= cum:
                    sacked.append(b)
        return cum, sacked

    def is_sacked(x, e, sacked):
        return any(b[0] <= x and e <= b[1] for b in sacked)

    def is_lost(x, sacked):
        """RFC 6675 IsLost(x): DupThresh (3) discontiguous SACKed ranges above, or more
        than 2 * SMSS SACKed bytes above."""
        pts = sorted(set((max(b[0], x), b[1]) for b in sacked if b[1] > x))
        merged = []
        for b in pts:
            if merged and b[0] <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b[1]))
            else:
                merged.append(b)
        return len(merged) >= 3 or sum(e - s for s, e in merged) > 2 * mss

    # Exactly the two lost segments are resent, once each, and nothing SACKed ever is.
    expect(sorted(f.tcp().seq for f in rexmits) == [base + mss, base + 4 * mss],
           "only segments 2 and 5 retransmitted, once each (no RTO, no SACKed data): %r"
           % rexmits)
    for f in rexmits:
        cum, sacked = state_before(f.at + 1e-7)
        s, e = f.tcp().seq, f.tcp().seq + len(f.payload())
        expect(not is_sacked(s, e, sacked), "never resend SACKed data (RFC 6675): %r" % f)
        expect(is_lost(s, sacked), "resent only once IsLost() holds (NextSeg rule 1): %r" % f)
    # NextSeg rule 1 before rule 2: once an ACK makes IsLost(segment) true, no new data
    # leaves before that segment's retransmission.
    for f in rexmits:
        s = f.tcp().seq
        t_lost = None
        for at, a, bl in acks:
            if a > s:
                break
            if is_lost(s, state_before(at + 1e-7)[1]):
                t_lost = at
                break
        expect(t_lost is not None, "a retransmission the ACKs never called for: %r" % f)
        early = [g for g in firsts if g.idx < f.idx and g.at >= t_lost]
        expect(not early, "new data sent after IsLost(%d) held (t=%r) but before its "
               "retransmission (RFC 6675 NextSeg rule 1 comes first): %r" % (s - base, t_lost,
                                                                              early))
    # Fast retransmit at the first ACK with DupAcks = 3 or IsLost(HighACK) (RFC 6675 5).
    r2 = [f for f in rexmits if f.tcp().seq == base + mss][0]
    dup, seen, trigger = 0, [], None
    for at, a, bl in acks:
        if a != base + mss:
            continue
        new = [b for b in bl if b not in seen and b[1] > a]
        seen += new
        if new:
            dup += 1
        if dup >= 3 or is_lost(a, seen):
            trigger = at
            break
    expect(trigger is not None and r2.at == trigger,
           "segment 2 resent at once at the ACK that makes DupAcks 3 or IsLost(HighACK) "
           "true (t=%r): %r" % (trigger, r2))
    # Limited transmit (RFC 3042): the first and second duplicate ACKs each send one new segment.
    dups = [at for at, a, bl in acks if a == base + mss and bl]
    for d in dups[:2]:
        new = [f for f in firsts if f.at == d]
        expect(len(new) == 1, "one new segment on duplicate ACK at t=%r (limited transmit): %r"
               % (d, new))
    expect(all(f.at < 0.4 for f in segs), "all done well before an RTO (200 ms): %r" % segs[-1])
    all_csums_ok(out)


@scenario("tcp_tail_loss_probe", """
Tail loss probe and RACK (RFC 8985), SACK negotiated: with TCP_NODELAY the
application sends 14480 bytes (10 segments of 1448) at t=0.3. The path
takes 10 ms and loses the first transmissions of segments 9 and 10, the
tail: the peer ACKs each of segments 1..8 10 ms after it was sent, then
hears nothing. Whatever arrives later is ACKed 10 ms after it was sent,
with SACK blocks for what is held above the cumulative ACK.
""", app=ACCEPT + """
- {at: 0.25, op: setsockopt, on: c, nodelay: true}
- {at: 0.3, op: send, on: c, bytes: 14480}
""")
def tcp_tail_loss_probe(ctx):
    p, sa = passive_handshake(ctx)
    base = sa.tcp().seq + 1
    total = 14480
    lost = {base + 8 * 1448, base + 9 * 1448}
    have, last, t_ack, rcv_nxt = [], None, 0.0, base
    while rcv_nxt != base + total:
        f = ctx.find("next data segment", is_tcp(data=True), after=last)
        last = f
        s = f.tcp().seq
        if s in lost:
            lost.discard(s)
            continue
        have = sorted(have + [[s, s + len(f.payload())]])
        while have and have[0][0] <= rcv_nxt:
            rcv_nxt = max(rcv_nxt, have.pop(0)[1])
        t_ack = max(t_ack + 0.0002, f.at + 0.010)
        p.learn(f)
        opts = p.opts(t_ack)
        if have:
            opts = opts + [("NOP", None), ("NOP", None),
                           ("SAck", tuple(x for b in reversed(have) for x in b))]
        p.seg(round(t_ack, 6), "A", ack=rcv_nxt, opts=opts)


@tcp_tail_loss_probe.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SYN-ACK", is_tcp("SA")).tcp().seq
    base, mss = isn + 1, 1448
    segs = data_segments(out)
    expect(len(segs) >= 12 and all(f.at == 0.3 for f in segs[:10]),
           "the initial window at 0.3: %r" % segs[:10])
    # RFC 6298 SRTT/RTTVAR (microseconds, as integers) from the peer's ACKs: each
    # ACK of new data gives a sample now - TSecr (1 ms timestamp clock).
    srtt = rttvar = None
    una = isn
    last_new_ack = None
    for t, fr in inp:
        if TCP not in fr or not fr[TCP].flags & 0x10:
            continue
        a = fr[TCP].ack
        if ((a - una) & 0xffffffff) == 0 or ((a - una) & 0xffffffff) >= 0x80000000:
            continue
        una = a
        ts = dict((n, v) for n, v in fr[TCP].options).get("Timestamp")
        r = (int(round(t * 1e6)) // 1000 - ts[1]) * 1000   # the stack's ms clock truncates
        if srtt is None:
            srtt, rttvar = r, r // 2
        else:
            rttvar = (3 * rttvar + abs(srtt - r)) // 4
            srtt = (7 * srtt + r) // 8
        if a == base + 8 * mss:
            last_new_ack = round(t - 1.0, 6)
            break
    expect(last_new_ack is not None, "the peer ACKed segments 1..8")
    pto = max(2 * srtt, 10000) / 1e6           # more than one segment in flight
    rto = max(200000, srtt + max(1000, 4 * rttvar)) / 1e6
    probe = segs[10]
    expect(round(last_new_ack + pto, 6) <= probe.at <= round(last_new_ack + pto + 0.001, 6),
           "the probe at the last ACK (%.4f) + PTO = 2 * SRTT (%.4f s): %r"
           % (last_new_ack, pto, probe))
    expect(pto < rto, "the PTO comes before the RTO (%.4f)" % rto)
    expect(probe.tcp().seq == base + 9 * mss and len(probe.payload()) == mss,
           "the probe resends the last segment, 10 (nothing new to send): %r" % probe)
    # RACK: the ACK SACKing the probe delivers a segment sent after segment 9, long
    # enough after segment 9 was sent: segment 9 is lost and resent at that ACK.
    sack_ack = None
    for t, fr in inp:
        if TCP in fr and any(n == "SAck" for n, v in fr[TCP].options) and t - 1.0 > probe.at:
            sack_ack = round(t - 1.0, 6)
            break
    r9 = [f for f in segs[11:] if f.tcp().seq == base + 8 * mss]
    expect(sack_ack is not None and r9 and r9[0].at == sack_ack,
           "segment 9 resent at the ACK that SACKs the probe (t=%r): %r" % (sack_ack, r9))
    expect(len(segs) == 12, "nothing else resent (no RTO): %r" % segs)
    all_csums_ok(out)


@scenario("tcp_zero_window", """
Zero window and persist probes (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17): the
peer has a small buffer: its handshake ACK offers 23 << 7 = 2944 bytes.
With TCP_NODELAY the application sends 4000 bytes at t=0.3; two segments
fit. The peer ACKs them 10 ms after they arrive with window 0 (its buffer is
full) and answers each probe 1 ms later with the same zero-window ACK; at
t=1.5 it opens the window (502) with a window update, and ACKs the rest 10
ms after it arrives.
""", app=ACCEPT + """
- {at: 0.25, op: setsockopt, on: c, nodelay: true}
- {at: 0.3, op: send, on: c, bytes: 4000}
""")
def tcp_zero_window(ctx):
    p, sa = passive_handshake(ctx, ack_win=23)
    s1 = ctx.find("segment 1", is_tcp(data=True))
    s2 = p.learn(ctx.find("segment 2", is_tcp(data=True), after=s1))
    p.seg(s2.at + 0.010, "A", win=0)
    last = s2
    while True:
        pr = ctx.find_before("zero-window probe", is_tcp(data=True), 1.5, after=last)
        if pr is None:
            break
        last = pr
        p.seg(pr.at + 0.001, "A", win=0)
    p.seg(1.5, "A")                        # window update: same ACK, window 502
    rest = ctx.find("the rest", lambda f: is_tcp(data=True)(f) and f.at >= 1.5, after=last)
    while ((rest.tcp().seq + len(rest.payload())) - (sa.tcp().seq + 1 + 4000)) & 0xffffffff:
        rest = ctx.find("the rest", lambda f: is_tcp(data=True)(f) and f.at >= 1.5, after=rest)
    p.learn(rest)
    p.seg(rest.at + 0.010, "A")


@tcp_zero_window.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SYN-ACK", is_tcp("SA")).tcp().seq
    una = isn + 1 + 2 * 1448
    segs = data_segments(out)
    probes = [f for f in segs if 0.3 < f.at < 1.5]
    expect([f.at for f in probes] == [0.51, 0.91], "probes one RTO (200 ms) after the zero "
           "window at 0.31, then after 400 ms: %r" % probes)
    for f in probes:
        expect(f.tcp().seq == una and len(f.payload()) == 1 and
               f.payload() == pattern(2 * 1448, 1), "a probe is one byte at SND.UNA: %r" % f)
    after = [f for f in segs if f.at >= 1.5]
    expect(after and after[0].at == 1.5 and after[0].tcp().seq == una,
           "sending resumes from SND.UNA at the window update: %r" % after)
    stream_ok(segs[:2] + after, isn, 4000)
    all_csums_ok(out)


@scenario("tcp_out_of_order", """
Out-of-order data (RFC 9293 3.10.7.4 step 7, RFC 5681 4.2): after the
passive open the peer sends three 1000-byte segments in the order 2 (t=0.3),
3 (t=0.31), 1 (t=0.32). The stack must ACK at once each out-of-order
segment (a duplicate ACK at the hole) and, when the hole fills, ACK all
3000 bytes at once; the application reads the 3000 bytes in order at t=0.5.
SACK is negotiated (both SYNs offer it), so each duplicate ACK carries the
block of out-of-order data it holds (RFC 2018 4): 2001-3001 at t=0.3, the
merged 2001-4001 at t=0.31, and the ACK that fills the hole none.
""", app=ACCEPT + """
- {at: 0.5, op: recv, on: c, bytes: 3000, pattern: true}
""")
def tcp_out_of_order(ctx):
    p, sa = passive_handshake(ctx)
    base = p.snd_nxt
    p.seg(0.30, "A", pattern(1000, 1000), seq=base + 1000)
    p.seg(0.31, "PA", pattern(2000, 1000), seq=base + 2000)
    p.seg(0.32, "A", pattern(0, 1000), seq=base)


@tcp_out_of_order.checks
def _(ctx, out, inp):
    announce_ok(out)
    acks = [f for f in tcp_of(out) if f.flags() == "A"]
    expect([(f.at, f.tcp().ack) for f in acks[:3]] == [(0.3, 1001), (0.31, 1001), (0.32, 4001)],
           "dup ACK 1001 at 0.3 and 0.31, ACK 4001 at 0.32, nothing delayed: %r" % acks)
    expect([f.tcp().window for f in acks[:3]] == [32768, 32768, (262144 - 3000) >> 3],
           "out-of-order bytes are held outside the window; 3000 unread bytes shrink it")
    sacks = [f.opts().get("SAck") for f in acks[:3]]
    expect(sacks == [(2001, 3001), (2001, 4001), None],
           "SACK blocks: the out-of-order data held, one block once merged, none after the "
           "hole fills (RFC 2018 4): %r" % sacks)
    expect(all(f.opts()["_list"][-3:] == ["NOP", "NOP", "SAck"] for f in acks[:2]),
           "the SACK option after the timestamps, NOP-padded as Linux: %r" % acks[:2])
    # Reading 3000 bytes (>= 1 MSS) lets the window reopen (RFC 9293 3.8.6.2.2): the stack
    # says so with a window update. Allowed by the RFC; Linux would stay silent here.
    expect(len(acks) == 4 and acks[3].at == 0.5 and acks[3].tcp().ack == 4001 and
           acks[3].tcp().window == 32768, "one window update after the read: %r" % acks)
    expect(len(out) == 7, "no other frame: %r" % out)
    all_csums_ok(out)


@scenario("tcp_dsack", """
D-SACK (RFC 2883) with SACK negotiated (RFC 2018): after the passive open
the peer sends bytes 0-999 at t=0.3 (quick-ACKed), then sends them again at
t=0.4, as if that ACK were lost: the stack must ACK at once with a D-SACK
block 1001-2001, below its cumulative ACK (RFC 2883 4.1.1). At t=0.5 the
peer sends bytes 2000-2999, out of order: ACK 2001 with SACK 3001-4001. At
t=0.6 it sends them again: D-SACK 3001-4001 first, then the SACK block
holding it, 3001-4001 (RFC 2883 4.1.2). At t=0.7 bytes 1000-1999 fill the
hole: ACK 4001, no SACK option. The application reads the 3000 bytes in
order at t=0.8.
""", app=ACCEPT + """
- {at: 0.8, op: recv, on: c, bytes: 3000, pattern: true}
""")
def tcp_dsack(ctx):
    p, sa = passive_handshake(ctx)
    base = p.snd_nxt
    p.seg(0.30, "PA", pattern(0, 1000), seq=base)
    p.seg(0.40, "PA", pattern(0, 1000), seq=base)
    p.seg(0.50, "PA", pattern(2000, 1000), seq=base + 2000)
    p.seg(0.60, "PA", pattern(2000, 1000), seq=base + 2000)
    p.seg(0.70, "A", pattern(1000, 1000), seq=base + 1000)


@tcp_dsack.checks
def _(ctx, out, inp):
    announce_ok(out)
    acks = [f for f in tcp_of(out) if f.flags() == "A"]
    got = [(f.at, f.tcp().ack, f.opts().get("SAck")) for f in acks]
    expect(got == [(0.3, 2001, None), (0.4, 2001, (1001, 2001)), (0.5, 2001, (3001, 4001)),
                   (0.6, 2001, (3001, 4001, 3001, 4001)), (0.7, 4001, None),
                   (0.8, 4001, None)],
           "each ACK at once; D-SACK for the duplicate below the ACK, SACK for the data held, "
           "D-SACK then its block for the duplicate of held data, none once the hole "
           "fills; a window update after the read (as in tcp_out_of_order): %r" % got)
    expect(all(f.opts().get("Timestamp") is not None for f in acks), "timestamps on every ACK")
    expect(len(out) == 3 + len(acks), "no other frame: %r" % out)
    all_csums_ok(out)


@scenario("tcp_delayed_ack", """
Quick ACK, then delayed ACK (RFC 1122 4.2.3.2, RFC 9293 3.8.6.3, RFC 5681
4.2, with Linux's quick-ACK and pingpong modes; delayed_ack_ms 40): after
the passive open the peer sends "req" at t=0.3, the connection's first
data: quick-ACK mode ACKs it at once. The application answers "resp" at
t=0.31, within 40 ms of it: an interactive exchange (pingpong). So when the
peer sends 100 bytes at t=0.5 (ACKing "resp") the stack delays its ACK to
carry it on a reply; none comes, and the ACK goes alone 40 ms later
(t=0.54), which ends pingpong. At t=0.6 the peer sends two full 1448-byte
segments back to back: quick-ACK mode (16 ACKs from the first data, not
used up) ACKs each at once.
""", app=ACCEPT + """
- {at: 0.31, op: send, on: c, data: "resp"}
""")
def tcp_delayed_ack(ctx):
    p, sa = passive_handshake(ctx)
    p.seg(0.3, "PA", b"req")
    p.learn(ctx.find("resp", is_tcp("PA")))
    p.seg(0.5, "PA", pattern(0, 100))
    p.seg(0.6, "A", pattern(100, 1448))
    p.seg(0.6001, "PA", pattern(1548, 1448))


@tcp_delayed_ack.checks
def _(ctx, out, inp):
    announce_ok(out)
    acks = [f for f in tcp_of(out) if f.flags() == "A"]
    expect([(f.at, f.tcp().ack) for f in acks] ==
           [(0.3, 1004), (0.54, 1104), (0.6, 1104 + 1448), (0.6001, 1104 + 2896)],
           "first data ACKed at once; in pingpong the ACK waits 40 ms for a reply; then "
           "quick ACKs again: %r" % acks)
    resp = ctx.find("resp", is_tcp("PA"))
    expect(resp.at == 0.31 and resp.tcp().ack == 1004, "the reply at 0.31: %r" % resp)
    all_csums_ok(out)


# ---- TCP: resets -----------------------------------------------------------------------------

@scenario("tcp_rst_syn_sent", """
RST in SYN-SENT (RFC 9293 3.10.7.3: connection refused): the application
connects to 10.0.0.2:81 at t=0.1; the peer answers ARP, then answers the
SYN 1 ms later with RST+ACK (seq 0, ack ISN+1), as a host with nothing on
port 81 does. SO_ERROR must be ECONNREFUSED; the SYN is never resent.
""", app="""
- {at: 0.1, op: tcp_connect, to: "10.0.0.2:81", as: c}
- {at: 0.5, op: so_error, on: c, expect: ECONNREFUSED}
""")
def tcp_rst_syn_sent(ctx):
    answer_arp(ctx)
    syn = ctx.find("SYN", is_tcp("S"))
    p = TcpPeer(ctx, 81, syn.tcp().sport, 0)
    p.learn(syn)
    p.seg(syn.at + 0.001, "RA", seq=0, opts=[])


@tcp_rst_syn_sent.checks
def _(ctx, out, inp):
    announce_ok(out)
    only(out, is_tcp("S"), 1, "SYNs (no retransmission after the RST)")
    expect(len(out) == 3, "announce, ARP request, SYN, and nothing in answer to the RST: %r"
           % out)


def established(ctx):
    """A connection from the peer's port 40000, accepted by the application at t=0.2."""
    return passive_handshake(ctx)


def pure_ack_probe(p, at):
    """An in-window ACK with no data: a live connection takes it silently, a dead one RSTs."""
    p.seg(at, "A")


@scenario("tcp_rst_established", """
RST in ESTABLISHED (RFC 9293 3.10.7.4 second check, RFC 5961 3.2): after the
passive open the peer sends RST with seq = RCV.NXT at t=0.5. The stack must
answer nothing; a recv at t=0.6 fails with ECONNRESET. At t=1 the peer
sends a pure ACK on the old connection: now there is no connection, so it
gets a RST with seq = its ACK number (3.10.7.1; the listener is still open,
and an ACK to a listener is reset the same way).
""", app=ACCEPT + """
- {at: 0.6, op: recv, on: c, expect_error: ECONNRESET}
""")
def tcp_rst_established(ctx):
    p, sa = established(ctx)
    p.seg(0.5, "R", opts=[])
    pure_ack_probe(p, 1.0)


@tcp_rst_established.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 4, "announce, ARP reply, SYN-ACK, then only the RST at t=1: %r" % out)
    r = out[3]
    probe = inp[-1][1][TCP]
    expect(r.at == 1.0 and r.flags() == "R" and r.tcp().seq == probe.ack and r.tcp().ack == 0,
           "RST seq = SEG.ACK, no ACK flag: %r" % r)
    all_csums_ok(out)


@scenario("tcp_rst_fin_wait", """
RST in FIN-WAIT-2 (RFC 9293 3.10.7.4): after the passive open the
application closes at t=0.3; the peer ACKs the FIN 10 ms after it (the
stack is in FIN-WAIT-2) and at t=0.5 sends RST with seq = RCV.NXT. The stack
answers nothing; the connection is gone, so the peer's pure ACK at t=1 gets
a RST with seq = its ACK number.
""", app=ACCEPT + """
- {at: 0.3, op: close, on: c}
""")
def tcp_rst_fin_wait(ctx):
    p, sa = established(ctx)
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(fin.at + 0.010, "A")
    p.seg(0.5, "R", opts=[])
    pure_ack_probe(p, 1.0)


@tcp_rst_fin_wait.checks
def _(ctx, out, inp):
    announce_ok(out)
    fin = out[3]
    expect(fin.at == 0.3 and fin.flags() == "FA" and
           fin.tcp().seq == ctx.find("SA", is_tcp("SA")).tcp().seq + 1 and fin.tcp().ack == 1001,
           "FIN at close: seq ISN+1, ack 1001: %r" % fin)
    expect(len(out) == 5, "FIN, then only the RST at t=1: %r" % out)
    r = out[4]
    expect(r.at == 1.0 and r.flags() == "R" and r.tcp().seq == inp[-1][1][TCP].ack,
           "RST seq = SEG.ACK: %r" % r)
    all_csums_ok(out)


@scenario("tcp_challenge_ack", """
Blind reset and SYN protection (RFC 5961 3.2, 4.2): after the passive open
the peer sends at t=0.5 a RST whose seq is in the window but not RCV.NXT
(RCV.NXT + 1000), and at t=0.7 a SYN (seq RCV.NXT + 2000) on the
established connection. Each must get a challenge ACK (seq SND.NXT, ack
RCV.NXT) and leave the connection alone: the peer then sends "ping" at
t=1, the application reads it at t=1.1 and answers "pong", which the peer
ACKs 10 ms later.
""", app=ACCEPT + """
- {at: 1.1, op: recv, on: c, expect: "ping"}
- {at: 1.1, op: send, on: c, data: "pong"}
""")
def tcp_challenge_ack(ctx):
    p, sa = established(ctx)
    p.seg(0.5, "R", seq=p.snd_nxt + 1000, opts=[])
    p.seg(0.7, "S", seq=p.snd_nxt + 2000, opts=p.opts(0.7))
    p.seg(1.0, "PA", b"ping")
    pong = p.learn(ctx.find("pong", is_tcp("PA")))
    p.seg(pong.at + 0.010, "A")


@tcp_challenge_ack.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    ch = [f for f in tcp_of(out) if f.flags() == "A" and f.at < 1.0]
    expect([(f.at, f.tcp().seq, f.tcp().ack) for f in ch] ==
           [(0.5, isn + 1, 1001), (0.7, isn + 1, 1001)],
           "challenge ACKs at 0.5 and 0.7 with seq SND.NXT, ack RCV.NXT: %r" % ch)
    pong = ctx.find("pong", is_tcp("PA"))
    expect(pong.at == 1.1 and pong.payload() == b"pong" and pong.tcp().ack == 1005,
           "the connection lives: pong at 1.1 acks the ping: %r" % pong)
    expect(not any(f.flags() and "R" in f.flags() for f in tcp_of(out)), "no RST")
    dack = [f for f in tcp_of(out) if f.flags() == "A" and f.at >= 1.0]
    expect([(f.at, f.tcp().ack) for f in dack] == [(1.0, 1005)],
           "the ping, the connection's first data, is ACKed at once (quick-ACK mode): %r"
           % dack)
    expect(len(out) == 7, "nothing else: %r" % out)
    all_csums_ok(out)


# ---- TCP: closing ------------------------------------------------------------------------------

@scenario("tcp_active_close", """
Active close (RFC 9293 3.6, figure 12 left side): after the passive open the
peer sends "hello" at t=0.3, the application reads it at t=0.4 and closes
at t=0.5. The peer ACKs the FIN 10 ms after it and sends its own FIN at
t=0.6; the stack ACKs it at once and stays in TIME-WAIT, silent.
""", app=ACCEPT + """
- {at: 0.4, op: recv, on: c, expect: "hello"}
- {at: 0.5, op: close, on: c}
""")
def tcp_active_close(ctx):
    p, sa = established(ctx)
    p.seg(0.3, "PA", b"hello")
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(fin.at + 0.010, "A")
    p.seg(0.6, "FA")


@tcp_active_close.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    t = [(f.at, f.flags(), f.tcp().seq - isn, f.tcp().ack - 1000) for f in tcp_of(out)[1:]]
    expect(t == [(0.3, "A", 1, 6), (0.5, "FA", 1, 6), (0.6, "A", 2, 7)],
           "hello, the first data, ACKed at once (quick-ACK mode), FIN at close (seq ISN+1), "
           "ACK of the peer's FIN "
           "(seq ISN+2, ack 1007) at once: %r" % t)
    expect(len(out) == 6, "TIME-WAIT is silent: %r" % out)
    all_csums_ok(out)


@scenario("tcp_passive_close", """
Passive close (RFC 9293 3.6, figure 12 right side): after the passive open
the peer sends FIN at t=0.3. The stack must ACK it at once (CLOSE-WAIT); the
application sees end of stream at t=0.4 and closes at t=0.5: FIN
(LAST-ACK), which the peer ACKs 10 ms later. Then nothing more.
""", app=ACCEPT + """
- {at: 0.4, op: recv, on: c, eof: true}
- {at: 0.5, op: close, on: c}
""")
def tcp_passive_close(ctx):
    p, sa = established(ctx)
    p.seg(0.3, "FA")
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(fin.at + 0.010, "A")


@tcp_passive_close.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    t = [(f.at, f.flags(), f.tcp().seq - isn, f.tcp().ack - 1000) for f in tcp_of(out)[1:]]
    expect(t == [(0.3, "A", 1, 2), (0.5, "FA", 1, 2)],
           "ACK of the FIN at once (ack 1002), FIN at close (seq ISN+1): %r" % t)
    expect(len(out) == 5, "nothing after the last ACK (no FIN retransmission): %r" % out)
    all_csums_ok(out)


@scenario("tcp_simultaneous_close", """
Simultaneous close (RFC 9293 3.6, figure 13): after the passive open the
application closes at t=0.5 and the peer's FIN crosses the stack's: it
leaves the peer at t=0.5005 acknowledging only up to the stack's ISN + 1.
The stack (CLOSING) ACKs it at once; the peer ACKs the stack's FIN 10 ms
after it saw it; both sides are then in TIME-WAIT, and the stack is silent.
""", app=ACCEPT + """
- {at: 0.5, op: close, on: c}
""")
def tcp_simultaneous_close(ctx):
    p, sa = established(ctx)
    p.seg(0.5005, "FA")                 # ack = ISN + 1: the stack's FIN not seen yet
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(max(fin.at + 0.010, 0.5105), "A")


@tcp_simultaneous_close.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    t = [(f.at, f.flags(), f.tcp().seq - isn, f.tcp().ack - 1000) for f in tcp_of(out)[1:]]
    expect(t == [(0.5, "FA", 1, 1), (0.5005, "A", 2, 2)],
           "FIN at 0.5 (seq ISN+1, ack 1001); the crossing FIN is ACKed at once with seq ISN+2 "
           "(our FIN counted), ack 1002: %r" % t)
    expect(len(out) == 5, "no FIN retransmission after the peer's ACK: %r" % out)
    all_csums_ok(out)


@scenario("tcp_time_wait", """
TIME-WAIT (RFC 9293 3.6 and 3.10.7.4; time_wait_s 60): an active close as in
tcp_active_close (close at t=0.3, the peer ACKs the FIN and sends its own FIN
at t=0.4, the stack ACKs and enters TIME-WAIT). At t=30 the peer resends
its FIN (as if the ACK was lost): the stack must ACK it again and restart
the 2 MSL timer (TIME-WAIT now ends at t=90). At t=100 the peer's pure ACK
finds no connection and gets a RST (after a new ARP resolution: the peer's
entry expired at 60.05; the peer answers 1 ms after the request).
""", app=ACCEPT + """
- {at: 0.3, op: close, on: c}
""")
def tcp_time_wait(ctx):
    p, sa = established(ctx)
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(fin.at + 0.010, "A")
    fin_seq = p.snd_nxt
    p.seg(0.4, "FA")
    p.seg(30.0, "FA", seq=fin_seq)
    p.seg(100.0, "A")
    # The stack's ARP entry for the peer (learned at t=0.05, 60 s timeout) has expired by
    # now: to send its RST it must ask again; the peer answers.
    answer_arp(ctx, after=ctx.find("the last FIN's ACK", lambda f: f.at == 30.0))


@tcp_time_wait.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    t = [(f.at, f.flags(), f.tcp().seq - isn, f.tcp().ack) for f in tcp_of(out)[1:]]
    probe_ack = [fr for t, fr in inp if TCP in fr][-1][TCP].ack
    expect(t == [(0.3, "FA", 1, 1001), (0.4, "A", 2, 1002), (30.0, "A", 2, 1002),
                 (100.001, "R", probe_ack - isn, 0)],
           "FIN, ACK of the FIN, the same ACK again at t=30, RST at t=100: %r" % t)
    re_ack = [f for f in tcp_of(out) if f.at == 30.0][0]
    # RFC 7323 5.3 R2 before R3: the old FIN is outside the window, so it is rejected
    # before TS.Recent could take its TSval; the ACK echoes TS.Recent (5400, the first FIN).
    expect(re_ack.opts()["Timestamp"] == (31000, 5400), "fresh TSval, TSecr = TS.Recent: %r"
           % re_ack.opts())
    # The TIME-WAIT record answers as Linux's tcp_v4_timewait_ack: timestamps, no SACK
    # (no D-SACK for the old FIN either).
    expect("SAck" not in re_ack.opts(), "no SACK blocks from TIME-WAIT: %r" % re_ack.opts())
    arp = [f for f in out if ARP in f.p and f.at > 1]
    expect(len(arp) == 1 and arp[0].at == 100.0, "one new ARP request at t=100: %r" % arp)
    rst = tcp_of(out)[-1]
    expect(rst.at == 100.001, "RST when ARP resolves: %r" % rst)
    all_csums_ok(out)


# ---- malformed frames ----------------------------------------------------------------------

@scenario("malformed_bad_ip_checksum", """
Bad IPv4 header checksum (RFC 1122 3.2.1.2: silently discarded): the peer
ARPs, then sends an echo request (seq 1) whose IP header checksum is wrong
at t=0.2, and a correct one (seq 2) at t=0.3. Only seq 2 is answered.
""")
def malformed_bad_ip_checksum(ctx):
    ctx.send(0.1, arp_request(STACK_IP))
    bad = ip(ctx, ICMP(type=8, id=0x99, seq=1) / Raw(b"x" * 32), flags=0)
    good_sum = IP(raw(bad[IP])).chksum
    bad[IP].chksum = good_sum ^ 0x0101
    ctx.send(0.2, bad)
    ctx.send(0.3, ip(ctx, ICMP(type=8, id=0x99, seq=2) / Raw(b"x" * 32), flags=0))


@malformed_bad_ip_checksum.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3 and ICMP in out[2].p and out[2].p[ICMP].seq == 2 and out[2].at == 0.3,
           "announce, ARP reply, the reply to seq 2 only: %r" % out)


@scenario("malformed_truncated_tcp", """
Truncated TCP (RFC 9293 3.10.7: a segment that is not well formed is
dropped): with port 80 listening, the peer ARPs, then at t=0.2 sends a SYN
whose IP total length leaves only 12 bytes of the 20-byte TCP header, and
at t=0.25 a SYN whose data offset (15 words) runs past the segment. Neither
is answered (not even by RST). At t=0.3 a well-formed SYN gets its SYN-ACK.
""", app=LISTEN80)
def malformed_truncated_tcp(ctx):
    ctx.send(0.1, arp_request(STACK_IP))
    syn = raw(TCP(sport=40001, dport=80, seq=7000, flags="S", window=64240))
    f = ip(ctx, Raw(syn[:12]), proto=6)
    ctx.send(0.2, f)
    t = TCP(sport=40002, dport=80, seq=8000, flags="S", window=64240, dataofs=15)
    g = ip(ctx, t, proto=6)
    ctx.send(0.25, g)
    p = TcpPeer(ctx, 40003, 80, 9000)
    p.seg(0.3, "S")
    p.learn(ctx.find("SYN-ACK", is_tcp("SA")))
    p.seg(0.31, "A")


@malformed_truncated_tcp.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3 and out[2].flags() == "SA" and out[2].at == 0.3 and
           out[2].tcp().dport == 40003, "only the good SYN is answered: %r" % out)


@scenario("malformed_bad_checksums", """
Bad TCP and UDP checksums (RFC 9293 3.1, RFC 1122 4.1.3.4: discarded
silently): with port 80 listening, the peer ARPs, then sends at t=0.2 a SYN
with a wrong TCP checksum (no SYN-ACK, no RST), at t=0.25 a UDP datagram
with a wrong checksum to closed port 9 (no port unreachable), and at t=0.3
a correct SYN, which gets its SYN-ACK.
""", app=LISTEN80)
def malformed_bad_checksums(ctx):
    ctx.send(0.1, arp_request(STACK_IP))
    p = TcpPeer(ctx, 40001, 80, 7000)
    syn = TCP(sport=40001, dport=80, seq=7000, flags="S", window=64240, options=p.opts(0.2, True))
    f = ip(ctx, syn)
    f[TCP].chksum = IP(raw(f[IP]))[TCP].chksum ^ 0x00ff     # the right sum, 8 bits flipped
    ctx.send(0.2, f)
    u = ip(ctx, UDP(sport=5555, dport=9) / Raw(b"discard me"), flags=0)
    u[UDP].chksum = IP(raw(u[IP]))[UDP].chksum ^ 0x0f0f
    ctx.send(0.25, u)
    q = TcpPeer(ctx, 40002, 80, 8000)
    q.seg(0.3, "S")
    q.learn(ctx.find("SYN-ACK", is_tcp("SA")))
    q.seg(0.31, "A")


@malformed_bad_checksums.checks
def _(ctx, out, inp):
    announce_ok(out)
    expect(len(out) == 3 and out[2].flags() == "SA" and out[2].at == 0.3 and
           out[2].tcp().dport == 40002, "only the good SYN is answered: %r" % out)


# ---- more TCP edge cases -----------------------------------------------------------------------

@scenario("tcp_no_options", """
A peer without RFC 7323 options (RFC 9293 3.7.1, RFC 7323 1.3): its SYN
(ISN 3000, window 8192) carries only MSS 536. The SYN-ACK may offer window
scaling and timestamps but must not use them afterwards: no TS option, an
unscaled window field. The application sends 2000 bytes at t=0.3 with
TCP_NODELAY, in segments of at most 536 bytes; the peer ACKs each segment
10 ms after it arrives.
""", app=ACCEPT + """
- {at: 0.25, op: setsockopt, on: c, nodelay: true}
- {at: 0.3, op: send, on: c, bytes: 2000}
""")
def tcp_no_options(ctx):
    ctx.send(0.05, arp_request(STACK_IP))
    p = TcpPeer(ctx, 40000, 80, 3000, win=8192, syn_win=8192, mss=536, ws=None, ts=False,
                sack=False)
    p.seg(0.1, "S")
    sa = p.learn(ctx.find("SYN-ACK", is_tcp("SA")))
    p.seg(sa.at + 0.010, "A")
    last = sa
    while True:
        f = ctx.find("data", is_tcp(data=True), after=last)
        last = p.learn(f)
        p.seg(f.at + 0.010, "A")
        if ((p.rcv_nxt - sa.tcp().seq - 1) & 0xffffffff) >= 2000:
            break


@tcp_no_options.checks
def _(ctx, out, inp):
    announce_ok(out)
    sa = ctx.find("SYN-ACK", is_tcp("SA"))
    expect(sa.opts()["_list"] == ["MSS"], "SYN-ACK carries only MSS when the peer offered "
           "neither WS nor TS (RFC 7323 1.3, 2.2): %r" % sa.opts())
    segs = data_segments(out)
    expect([len(f.payload()) for f in segs] == [536, 536, 536, 392],
           "segments of at most the peer's MSS 536: %r" % segs)
    for f in tcp_of(out)[1:]:
        expect(f.opts()["_list"] == [], "no options after the handshake: %r" % f)
        expect(f.tcp().window == 65535, "unscaled window, capped at 65535: %r" % f)
    expect(all(f.at == 0.3 for f in segs[:4]), "4 segments fit cwnd and the 8192 window")
    stream_ok(segs, sa.tcp().seq, 2000)
    all_csums_ok(out)


@scenario("tcp_paws", """
PAWS (RFC 7323 5.3): after the passive open (TS.Recent = 5110) the peer
sends "new" at t=0.3 with TSval 5300, then at t=0.4 a segment "old" in
sequence but with TSval 4000 (an old duplicate from a previous incarnation).
The stack must drop "old" and answer with an ACK (TSecr 5300, ack not
moved); the application reads exactly "new" at t=0.5.
""", app=ACCEPT + """
- {at: 0.5, op: recv, on: c, expect: "new"}
- {at: 0.6, op: recv, on: c, expect_error: EAGAIN}
""")
def tcp_paws(ctx):
    p, sa = passive_handshake(ctx)
    p.seg(0.3, "PA", b"new")
    p.seg(0.4, "PA", b"old", opts=[("NOP", None), ("NOP", None), ("Timestamp", (4000, 1100))])


@tcp_paws.checks
def _(ctx, out, inp):
    announce_ok(out)
    acks = [(f.at, f.tcp().ack, f.opts()["Timestamp"][1]) for f in tcp_of(out)[1:]]
    expect(acks == [(0.3, 1004, 5300), (0.4, 1004, 5300)],
           "new, the first data, ACKed at once (quick-ACK mode); the PAWS-rejected segment "
           "gets an immediate ACK that does "
           "not cover it and echoes TS.Recent 5300: %r" % acks)
    all_csums_ok(out)


@scenario("tcp_syn_rcvd_rst", """
RST in SYN-RECEIVED (RFC 9293 3.10.7.4, passive open): the peer sends a SYN
at t=0.1 and, instead of ACKing the SYN-ACK, a RST with seq = ISN + 1 at
t=0.2. The half-open connection must go (no SYN-ACK retransmission at
t=1.1) and the listener stay: a new SYN from port 40001 at t=2 gets its
SYN-ACK and the handshake completes; the application accepts it at t=2.5
(only one connection is pending).
""", app=LISTEN80 + """
- {at: 2.5, op: tcp_accept, as: c}
- {at: 2.6, op: tcp_accept, as: d, expect_error: EAGAIN}
""")
def tcp_syn_rcvd_rst(ctx):
    ctx.send(0.05, arp_request(STACK_IP))
    p = TcpPeer(ctx, 40000, 80, 1000)
    p.seg(0.1, "S")
    p.seg(0.2, "R", opts=[], win=0)
    q = TcpPeer(ctx, 40001, 80, 7000)
    q.seg(2.0, "S")
    sa = q.learn(ctx.find("SYN-ACK to 40001", is_tcp("SA", dport=40001)))
    q.seg(sa.at + 0.010, "A")


@tcp_syn_rcvd_rst.checks
def _(ctx, out, inp):
    announce_ok(out)
    sas = [(f.at, f.tcp().dport) for f in tcp_of(out)]
    expect(sas == [(0.1, 40000), (2.0, 40001)], "one SYN-ACK each, none resent: %r" % sas)
    all_csums_ok(out)


@scenario("tcp_time_wait_new_syn", """
A new SYN in TIME-WAIT (RFC 9293 3.10.7.4 note, RFC 6191): an active close
leaves the stack in TIME-WAIT from t=0.4 (as in tcp_active_close). At t=5
the peer opens the same 4-tuple again with a SYN whose timestamp is newer
(ISN 90000). The stack must end TIME-WAIT and answer with a SYN-ACK at once,
its ISS the old SND.NXT + 65537 (Linux);
the peer completes the handshake and the application accepts at t=5.5.
""", app=ACCEPT + """
- {at: 0.3, op: close, on: c}
- {at: 5.5, op: tcp_accept, as: d}
""")
def tcp_time_wait_new_syn(ctx):
    p, sa = established(ctx)
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(fin.at + 0.010, "A")
    p.seg(0.4, "FA")
    q = TcpPeer(ctx, 40000, 80, 90000)
    q.ts_recent = 0
    q.seg(5.0, "S")
    sa2 = q.learn(ctx.find("new SYN-ACK", is_tcp("SA"), after=fin))
    q.seg(sa2.at + 0.010, "A")


@tcp_time_wait_new_syn.checks
def _(ctx, out, inp):
    announce_ok(out)
    sas = [f for f in tcp_of(out) if f.flags() == "SA"]
    expect(len(sas) == 2 and sas[1].at == 5.0 and sas[1].tcp().ack == 90001,
           "a SYN-ACK for the new SYN at once: %r" % sas)
    syn_ack_ok(sas[1], 90000, 10000)
    # Linux (tcp_timewait_state_process): the new incarnation's ISS is the old SND.NXT
    # (after our FIN) + 65535 + 2, above anything the old one sent.
    fin = [f for f in tcp_of(out) if f.flags() == "FA"][0]
    expect(sas[1].tcp().seq == (fin.tcp().seq + 1 + 65537) % 2**32,
           "ISS = old SND.NXT + 65537: %r after FIN %r" % (sas[1], fin))
    expect(len(out) == 6, "announce, ARP reply, SYN-ACK, FIN, ACK, SYN-ACK: %r" % out)
    all_csums_ok(out)


@scenario("tcp_keepalive", """
Keep-alive (RFC 1122 4.2.3.6): the accepted socket gets SO_KEEPALIVE with
TCP_KEEPIDLE 10 s, TCP_KEEPINTVL 2 s and TCP_KEEPCNT 2 at t=0.2. The peer
answers the first probe (1 ms later, with an ACK of the probe's sequence
number + 1 as a live host does) and none after. The stack must probe at
idle + 10 s, again 10 s after the answered one, then every 2 s, and after 2
unanswered probes drop the connection with ETIMEDOUT.
""", app=ACCEPT + """
- {at: 0.2, op: setsockopt, on: c, keepalive: true, keepidle: 10, keepintvl: 2, keepcnt: 2}
- {at: 30, op: recv, on: c, expect_error: ETIMEDOUT}
""")
def tcp_keepalive(ctx):
    p, sa = established(ctx)
    k1 = ctx.find("keepalive probe", is_tcp("A"), after=sa)
    p.seg(k1.at + 0.001, "A")


@tcp_keepalive.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    probes = [f for f in tcp_of(out) if f.flags() == "A"]
    expect([f.at for f in probes] == [10.2, 20.201, 22.201],
           "probes at 10.2 (idle 10 s), 20.201 (idle again after the answer), 22.201 "
           "(interval 2 s): %r" % probes)
    for f in probes:
        expect(f.tcp().seq == isn and len(f.payload()) == 0,
               "a probe is an ACK with seq SND.UNA - 1 and no data: %r" % f)
    # After the 2nd unanswered probe the connection ends at t=24.201 with ETIMEDOUT (the
    # app's recv at 30 checks it); the stack sends nothing then (RFC 1122 asks for no RST;
    # Linux would send one).
    expect(tcp_of(out)[-1] is probes[-1], "nothing after the last probe: %r" % out)
    all_csums_ok(out)


@scenario("tcp_half_close", """
Half close (RFC 9293 3.6, shutdown(SHUT_WR)): after the passive open the
application shuts down its sending side at t=0.3: FIN (FIN-WAIT-1). The
peer ACKs the FIN 10 ms later (FIN-WAIT-2) and keeps sending: "more data"
at t=0.5, which the stack must still accept, ACK (at once: the first data,
quick-ACK mode) and
deliver; the application reads it at t=0.6. Then the peer's FIN at t=0.7
is ACKed at once (TIME-WAIT) and the application sees end of stream.
""", app=ACCEPT + """
- {at: 0.3, op: shutdown, on: c, how: wr}
- {at: 0.6, op: recv, on: c, expect: "more data"}
- {at: 0.8, op: recv, on: c, eof: true}
""")
def tcp_half_close(ctx):
    p, sa = established(ctx)
    fin = p.learn(ctx.find("FIN", is_tcp("FA")))
    p.seg(fin.at + 0.010, "A")
    p.seg(0.5, "PA", b"more data")
    p.seg(0.7, "FA")


@tcp_half_close.checks
def _(ctx, out, inp):
    announce_ok(out)
    isn = ctx.find("SA", is_tcp("SA")).tcp().seq
    t = [(f.at, f.flags(), f.tcp().seq - isn, f.tcp().ack - 1000) for f in tcp_of(out)[1:]]
    expect(t == [(0.3, "FA", 1, 1), (0.5, "A", 2, 10), (0.7, "A", 2, 11)],
           "FIN at shutdown, ACK at once of the data after it (the first data: quick-ACK "
           "mode), ACK of the peer's FIN: %r" % t)
    all_csums_ok(out)


@scenario("tcp_fin_retransmit", """
FIN retransmission (RFC 9293 3.6, RFC 6298): after the passive open the
application closes at t=0.3; the peer ignores the FIN and its first
retransmission (RTO 200 ms, then 400 ms) and ACKs the second retransmission
together with its own FIN 10 ms after it arrives; the stack ACKs that FIN
at once.
""", app=ACCEPT + """
- {at: 0.3, op: close, on: c}
""")
def tcp_fin_retransmit(ctx):
    p, sa = established(ctx)
    f1 = ctx.find("FIN", is_tcp("FA"))
    f2 = ctx.find("FIN again", is_tcp("FA"), after=f1)
    f3 = p.learn(ctx.find("FIN a third time", is_tcp("FA"), after=f2))
    p.seg(f3.at + 0.010, "FA")


@tcp_fin_retransmit.checks
def _(ctx, out, inp):
    announce_ok(out)
    fins = [f for f in tcp_of(out) if f.flags() == "FA"]
    expect([f.at for f in fins] == [0.3, 0.5, 0.9], "FIN at 0.3, after 200 ms and 400 ms: %r"
           % fins)
    expect(len({f.tcp().seq for f in fins}) == 1, "the same FIN each time")
    last = tcp_of(out)[-1]
    expect(last.at == 0.91 and last.flags() == "A" and last.tcp().ack == 1002 and
           last.tcp().seq == fins[0].tcp().seq + 1, "the peer's FIN is ACKed at once: %r" % last)
    all_csums_ok(out)


@scenario("tcp_nagle", """
Nagle's algorithm (RFC 896, RFC 1122 4.2.3.4; on by default): after the
passive open the application writes "a" at t=0.3, then "b", "c" and "d" at
t=0.301, 0.302 and 0.303. The first goes at once; the others must wait,
while "a" is unacknowledged, and leave together as one segment "bcd" when
the peer ACKs "a" (at t=0.35, a delayed ACK); the peer ACKs "bcd" 10 ms
after it arrives.
""", app=ACCEPT + """
- {at: 0.3, op: send, on: c, data: "a"}
- {at: 0.301, op: send, on: c, data: "b"}
- {at: 0.302, op: send, on: c, data: "c"}
- {at: 0.303, op: send, on: c, data: "d"}
""")
def tcp_nagle(ctx):
    p, sa = established(ctx)
    a = p.learn(ctx.find("a", is_tcp("PA")))
    p.seg(a.at + 0.050, "A")
    bcd = p.learn(ctx.find("bcd", is_tcp("PA"), after=a))
    p.seg(bcd.at + 0.010, "A")


@tcp_nagle.checks
def _(ctx, out, inp):
    announce_ok(out)
    segs = [(f.at, f.payload()) for f in data_segments(out)]
    expect(segs == [(0.3, b"a"), (0.35, b"bcd")], "a at once, bcd when a is ACKed: %r" % segs)
    expect(len(out) == 5, "nothing else: %r" % out)
    all_csums_ok(out)


@scenario("tcp_ack_out_of_range", """
ACK validation (RFC 5961 5.2, RFC 9293 3.10.7.4): after the passive open the
application sends "hello" at t=0.3 and the peer ACKs it 10 ms later. At
t=0.5 the peer sends "x" with an ACK far above SND.NXT (never sent data):
the stack must drop the segment and answer with an ACK (ack not moved, the
"x" not taken). At t=0.6 the peer sends "y" with a correct ACK: it is
accepted (ACKed at once: the first data taken, quick-ACK mode) and read at
t=0.7.
""", app=ACCEPT + """
- {at: 0.3, op: send, on: c, data: "hello"}
- {at: 0.7, op: recv, on: c, expect: "y"}
""")
def tcp_ack_out_of_range(ctx):
    p, sa = established(ctx)
    h = p.learn(ctx.find("hello", is_tcp("PA")))
    p.seg(h.at + 0.010, "A")
    p.seg(0.5, "PA", b"x", ack=(p.rcv_nxt + 100000) & 0xffffffff)
    p.snd_nxt -= 1                      # "x" was not taken: the peer sends "y" in its place
    p.seg(0.6, "PA", b"y")


@tcp_ack_out_of_range.checks
def _(ctx, out, inp):
    announce_ok(out)
    acks = [(f.at, f.tcp().ack) for f in tcp_of(out) if f.flags() == "A"]
    expect(acks == [(0.5, 1001), (0.6, 1002)],
           "ACK at once for the bad segment, not covering x; y, the first data taken, ACKed "
           "at once (quick-ACK mode): %r" % acks)
    all_csums_ok(out)


@scenario("tcp_syn_cookie", """
SYN cookies (RFC 4987 3.6, Linux's encoding): the application listens on
port 80 with backlog 1. Peer A (port 40000, ISN 1000) sends a SYN at t=0.1
and never answers the SYN-ACK: the queue is full. Peer B (port 40001, ISN
2000; MSS 1460, SACK-permitted, TS, WS 7) sends a SYN at t=0.2: the stack
answers with a cookie SYN-ACK offering SACK-permitted, whose TSval carries
B's window shift (7) and SACK-permitted (bit 4) in its low 6 bits. B ACKs it 10 ms later with
"hello"; the cookie is valid, the connection is made, the application
accepts it at t=0.4, reads "hello" and answers "hi", which B ACKs.
""", app="""
- {at: 0, op: tcp_listen, port: 80, backlog: 1}
- {at: 0.4, op: tcp_accept, as: c}
- {at: 0.4, op: recv, on: c, expect: "hello"}
- {at: 0.45, op: send, on: c, data: "hi"}
""")
def tcp_syn_cookie(ctx):
    ctx.send(0.05, arp_request(STACK_IP))
    a = TcpPeer(ctx, 40000, 80, 1000)
    a.seg(0.1, "S")
    b = TcpPeer(ctx, 40001, 80, 2000)
    b.seg(0.2, "S")
    sa = b.learn(ctx.find("cookie SYN-ACK", is_tcp("SA", dport=40001)))
    b.seg(sa.at + 0.010, "PA", b"hello")
    hi = b.learn(ctx.find("hi", is_tcp("PA", dport=40001)))
    b.seg(hi.at + 0.010, "A")


@tcp_syn_cookie.checks
def _(ctx, out, inp):
    announce_ok(out)
    sas = [f for f in out if is_tcp("SA", dport=40000)(f)]
    expect([f.at for f in sas] == [0.1, 1.1, 3.1],
           "A's SYN-ACK at once, then after RTOs of 1 s and 2 s (RFC 6298): %r" % sas)
    syn_ack_ok(sas[0], 1000, 5100)
    sa = only(out, is_tcp("SA", dport=40001), 1, "cookie SYN-ACK to B, never retransmitted")[0]
    expect(sa.at == 0.2, "cookie SYN-ACK at once")
    t, o = sa.tcp(), sa.opts()
    expect(t.ack == 2001, "acknowledges B's ISN + 1: %r" % sa)
    expect(o.get("MSS") == 1460 and o.get("WScale") == 3, "MSS 1460, our shift 3: %r" % o)
    expect("SAckOK" in o, "SACK-permitted offered back, as B's SYN did and the TSval carries "
           "it (Linux cookie SYN-ACK, RFC 2018 2): %r" % o)
    expect(t.window == 65535, "window 65535, unscaled: %r" % sa)
    tsval, tsecr = o.get("Timestamp")
    now_ms = 1200                       # the stack's clock reads 1 s + at
    expect(tsecr == 5200, "TSecr echoes B's TSval: %r" % o)
    expect(tsval & 0x3f == 7 | 0x10, "TSval low 6 bits: B's shift 7 | SACK 0x10: %#x" % tsval)
    expect(now_ms - 64 < tsval <= now_ms, "TSval the ms clock with the low bits replaced, "
           "never ahead of it: %d at %d" % (tsval, now_ms))
    hi = only(out, is_tcp("PA", dport=40001), 1, "the reply on the cookie connection")[0]
    expect(hi.tcp().seq == (t.seq + 1) & 0xffffffff, "data starts at the cookie ISN + 1")
    expect(hi.tcp().ack == 2006, "and acknowledges hello: %r" % hi)
    expect(bytes(hi.tcp().payload) == b"hi", "the reply is hi")
    expect(not [f for f in tcp_of(out) if "R" in str(f.tcp().flags)], "no RST")
    all_csums_ok(out)
