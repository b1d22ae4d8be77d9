#!/usr/bin/env python3
"""gen_corpus_wire.py — write the seed corpus for fuzz_wire.

Small, valid frames covering each path through core/wire: ARP request and
reply, ICMP echo request/reply and an error quoting a UDP header, UDP with
a checksum, without one, and with a computed zero sent as 0xffff, an IPv4 header with options, the first and last
fragments of a datagram, a TCP segment (for wire_describe), and a bare IPv4
packet (the harness also feeds the input to wire_ip4_parse directly).

Checksums are computed here (RFC 1071), independently of the C code.
Deterministic: running it again gives the same bytes. Plain python3 only.

Usage: python3 tests/fuzz/gen_corpus_wire.py [OUTDIR]
       (default: tests/fuzz/corpus_wire beside this script)
"""
import os
import struct
import sys

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6
IP_A = bytes([10, 0, 0, 1])
IP_B = bytes([10, 0, 0, 2])


def csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, etype, payload):
    frame = dst + MAC_A + struct.pack("!H", etype) + payload
    return frame + b"\x00" * max(0, 60 - len(frame))   # Ethernet minimum, no FCS


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv4(proto, payload, ident=1, flags=0, frag_units=0, src=IP_A, dst=IP_B,
         options=b"", total=None):
    ihl = 5 + len(options) // 4
    if total is None:
        total = ihl * 4 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident,
                      flags << 13 | frag_units, 64, proto, 0, src, dst) + options
    c = csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def icmp(typ, code, rest, data):
    m = struct.pack("!BBHI", typ, code, 0, rest) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def udp(sport, dport, data, src=IP_A, dst=IP_B, with_csum=True):
    length = 8 + len(data)
    m = struct.pack("!HHHH", sport, dport, length, 0) + data
    if not with_csum:
        return m
    pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    c = csum(pseudo + m) or 0xFFFF      # RFC 768: computed zero sent as ones
    return m[:6] + struct.pack("!H", c) + m[8:]


def tcp_syn(sport, dport, src=IP_A, dst=IP_B):
    m = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(m))
    return m[:16] + struct.pack("!H", csum(pseudo + m)) + m[18:]


def frames():
    ping = bytes(range(0x10, 0x10 + 56))
    echo = icmp(8, 0, 0x1234 << 16 | 1, ping)
    big = icmp(8, 0, 0x1234 << 16 | 2, bytes(1488))   # 1496 bytes of ICMP
    udp_dns = udp(5000, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                  b"\x07example\x03com\x00\x00\x01\x00\x01")
    quoted = ipv4(17, udp(40000, 33434, b"x" * 8, src=IP_B, dst=IP_A),
                  src=IP_B, dst=IP_A)[:28]
    return {
        "arp_request": eth(BCAST, 0x0806, arp(1, MAC_A, IP_A, bytes(6), IP_B)),
        "arp_reply": eth(MAC_B, 0x0806, arp(2, MAC_A, IP_A, MAC_B, IP_B)),
        "icmp_echo_request": eth(MAC_B, 0x0800, ipv4(1, echo)),
        "icmp_echo_reply": eth(MAC_B, 0x0800,
                               ipv4(1, icmp(0, 0, 0x1234 << 16 | 1, ping), src=IP_B, dst=IP_A)),
        "icmp_port_unreachable": eth(MAC_B, 0x0800, ipv4(1, icmp(3, 3, 0, quoted))),
        "udp_dns_query": eth(MAC_B, 0x0800, ipv4(17, udp_dns)),
        # Payload chosen so the computed checksum is 0: sent as 0xffff.
        "udp_checksum_ffff": eth(MAC_B, 0x0800, ipv4(17, udp(1, 2, b"\xeb\xd4"))),
        "udp_no_checksum": eth(MAC_B, 0x0800, ipv4(17, udp(7, 9, b"hi", with_csum=False))),
        "ip_options_udp": eth(MAC_B, 0x0800, ipv4(17, udp(1, 2, b"abc"),
                                                  options=b"\x01\x01\x01\x00")),
        "ip_frag_first": eth(MAC_B, 0x0800, ipv4(1, big[:1480], ident=7, flags=1)),
        "ip_frag_last": eth(MAC_B, 0x0800, ipv4(1, big[1480:], ident=7,
                                                frag_units=185)),
        "tcp_syn": eth(MAC_B, 0x0800, ipv4(6, tcp_syn(40000, 80))),
        "raw_ipv4_udp": ipv4(17, udp(5000, 53, b"hello")),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus_wire")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(frames().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print("%-24s %5d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
