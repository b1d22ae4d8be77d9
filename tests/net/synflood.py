#!/usr/bin/python3
"""Send COUNT spoofed TCP SYNs to DST:PORT as fast as a raw socket can,
for at most SECONDS, with source addresses drawn from SRC_NET (a /24 given
as A.B.C, hosts .1-.254) and random source ports and sequence numbers.
Run it only inside the test's network namespace: every source address is
in SRC_NET, which the test routes to nowhere outside the namespace.

Prints "flooding" (flushed) once the first 5,000 are sent, so that a test
can wait for the flood to be under way; at the end "sent N in T s (R/s)"
and exits 0.

usage: synflood.py DST PORT SRC_NET COUNT SECONDS
"""
import random
import socket
import struct
import sys
import time

dst, port, src_net, count, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
rng = random.Random(4987)
dst_b = socket.inet_aton(dst)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src_b, sport, seq):
    # MSS 1460, SACK permitted, timestamps, NOP, window scale 7: a Linux SYN.
    opts = struct.pack("!BBH", 2, 4, 1460) + bytes([4, 2, 8, 10]) + struct.pack("!II", rng.getrandbits(32), 0) \
        + bytes([1, 3, 3, 7])
    hl = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", sport, port, seq, 0, (hl // 4) << 4, 0x02, 64240, 0, 0) + opts
    pseudo = src_b + dst_b + struct.pack("!BBH", 0, socket.IPPROTO_TCP, hl)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + hl, rng.getrandbits(16), 0x4000, 64, socket.IPPROTO_TCP, 0,
                     src_b, dst_b)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


# A pool of distinct SYNs built beforehand, so sending is only sendto().
pool = [syn(socket.inet_aton(f"{src_net}.{rng.randint(1, 254)}"), rng.randint(1024, 65535), rng.getrandbits(32))
        for _ in range(min(count, 20000))]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_IP, socket.IP_HDRINCL, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
addr = (dst, 0)
start = time.monotonic()
deadline = start + seconds
sent = 0
n = len(pool)
while sent < count:
    try:
        s.sendto(pool[sent % n], addr)
        sent += 1
        if sent == 5000:
            print("flooding", flush=True)
    except (BlockingIOError, OSError):
        time.sleep(0.0005)          # the device queue is full: a moment
        if time.monotonic() > deadline:
            break
    if (sent & 1023) == 0 and time.monotonic() > deadline:
        break
t = time.monotonic() - start
print(f"sent {sent} in {t:.2f} s ({sent / t:.0f}/s)")
