#!/usr/bin/env python3
"""
udp_errq.py — the ustack side of t_udp_pmtu_errors.sh, run under the
LD_PRELOAD shim, so every socket call here goes to ustack: path MTU
discovery for UDP (IP_MTU_DISCOVER, IP_MTU, EMSGSIZE) and ICMP errors read
with IP_RECVERR + recvmsg(MSG_ERRQUEUE), as a program written for Linux
uses them. Expected values are Linux's (ip(7)); the ICMP comes from kernel
peers. Prints one "ok: ..." per check; exits 1 with "FAIL: ..." otherwise.

usage: udp_errq.py B_ADDR OPEN_PORT CLOSED_PORT ROUTER_ADDR SMALL_MTU
"""
import errno
import socket
import struct
import sys
import time

IP_MTU_DISCOVER, IP_RECVERR, IP_MTU = 10, 11, 14
PMTUDISC_WANT, PMTUDISC_DO = 1, 2
MSG_ERRQUEUE = 0x2000
ORIGIN_LOCAL, ORIGIN_ICMP = 1, 2

b, open_port, closed_port, router, small = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                            sys.argv[4], int(sys.argv[5]))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def read_err(s, timeout=5.0):
    """The next queued error: (data, name, ee tuple, offender), waiting up to timeout."""
    end = time.monotonic() + timeout
    while True:
        try:
            data, anc, flags, name = s.recvmsg(2048, 512, MSG_ERRQUEUE)
        except BlockingIOError:
            if time.monotonic() > end:
                fail("no error queued within %.0f s" % timeout)
            time.sleep(0.02)
            continue
        if not flags & MSG_ERRQUEUE:
            fail("msg_flags lack MSG_ERRQUEUE: %#x" % flags)
        errs = [(lvl, typ, d) for lvl, typ, d in anc if lvl == socket.SOL_IP and typ == IP_RECVERR]
        if len(errs) != 1:
            fail("want one SOL_IP/IP_RECVERR control message, got %r" % anc)
        d = errs[0][2]
        ee = struct.unpack("=IBBBBII", d[:16])      # errno, origin, type, code, pad, info, data
        fam, port = struct.unpack("=HH", d[16:20])
        off = socket.inet_ntoa(d[20:24]) if fam == socket.AF_INET else None
        return data, name, ee, off


def send_errno(s, data, to=None):
    try:
        s.sendto(data, to) if to else s.send(data)
        return 0
    except OSError as e:
        return e.errno


# --- path MTU: a kernel router with a SMALL_MTU link on the way to B ------------------
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_DO)
s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
check(s.getsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER) == PMTUDISC_DO, "IP_MTU_DISCOVER reads back DO")
try:
    s.getsockopt(socket.IPPROTO_IP, IP_MTU)
    fail("IP_MTU on an unconnected socket succeeded")
except OSError as e:
    check(e.errno == errno.ENOTCONN, "IP_MTU unconnected: ENOTCONN")
s.connect((b, open_port))
check(s.getsockopt(socket.IPPROTO_IP, IP_MTU) == 1500, "IP_MTU before any ICMP: the interface's 1500")
big = bytes(range(256)) * 6
check(send_errno(s, big[:1400]) == 0, "1400 bytes with DF leave (the path is not known yet)")
data, name, ee, off = read_err(s)
check(ee[0] == errno.EMSGSIZE and ee[1] == ORIGIN_ICMP and ee[2] == 3 and ee[3] == 4,
      "the router's frag-needed queued: EMSGSIZE, origin ICMP, 3/4 (%r)" % (ee,))
check(ee[5] == small, "ee_info is the next-hop MTU %d (%d)" % (small, ee[5]))
check(off == router, "offender is the router %s (%s)" % (router, off))
check(name == (b, open_port), "msg_name is the datagram's destination (%r)" % (name,))
check(len(data) > 0 and big[:1400].startswith(data), "data is the quoted payload (%d bytes)" % len(data))
check(s.getsockopt(socket.IPPROTO_IP, IP_MTU) == small, "IP_MTU now %d" % small)
check(send_errno(s, big[:small - 27]) == errno.EMSGSIZE, "DO: %d bytes (one over) is EMSGSIZE" % (small - 27))
data, name, ee, off = read_err(s)
check(ee[0] == errno.EMSGSIZE and ee[1] == ORIGIN_LOCAL and ee[5] == small and off is None and
      data == b"", "the local EMSGSIZE is queued too: origin LOCAL, ee_info %d, no offender" % small)
check(send_errno(s, big[:small - 28]) == 0, "DO: %d bytes (exactly the path MTU) sent" % (small - 28))
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_WANT)
check(send_errno(s, big[:1400]) == 0, "WANT: 1400 bytes sent (fragmented to the path MTU)")
s.send(b"end")
s.close()

# --- ICMP port unreachable from the kernel on B ----------------------------------------
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
u.sendto(b"anyone on the closed port?", (b, closed_port))
data, name, ee, off = read_err(u)
check(ee[0] == errno.ECONNREFUSED and ee[1] == ORIGIN_ICMP and ee[2] == 3 and ee[3] == 3 and
      ee[5] == 0, "unconnected IP_RECVERR socket: port unreachable queued (%r)" % (ee,))
check(off == b, "offender is B %s (%s)" % (b, off))
check(name == (b, closed_port), "msg_name is B:%d (%r)" % (closed_port, name))
check(data == b"anyone on the closed port?", "data is the datagram's payload (%r)" % data)
u.close()

# A connected socket without IP_RECVERR still fails with ECONNREFUSED.
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect((b, closed_port))
c.send(b"x")
end = time.monotonic() + 5
got = 0
while not got and time.monotonic() < end:
    time.sleep(0.05)
    got = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
check(got == errno.ECONNREFUSED, "connected socket without IP_RECVERR: SO_ERROR ECONNREFUSED (%d)" % got)
c.close()
print("done", flush=True)
