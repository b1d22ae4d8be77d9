#!/usr/bin/python3
"""Send malformed frames at a stack from the kernel side of a TAP.

usage: badframes.py IFACE DST_MAC SRC_IP DST_IP
Each frame is built by hand (scapy for the framing, raw bytes where the
header must be wrong) and names the counter it should move.
"""
import struct
import sys

from scapy.all import ARP, ICMP, IP, Ether, Raw, get_if_hwaddr, sendp  # noqa: E402

iface, dst_mac, src_ip, dst_ip = sys.argv[1:5]
src_mac = get_if_hwaddr(iface)
eth = Ether(dst=dst_mac, src=src_mac)


def good_ip(**kw):
    return bytes(IP(src=src_ip, dst=dst_ip, **kw) / ICMP(id=7, seq=1) / Raw(b"x" * 32))


def with_ihl(pkt: bytes, ihl: int) -> bytes:
    return bytes([0x40 | ihl]) + pkt[1:]


def send(name, frame):
    sendp(frame, iface=iface, verbose=False)
    print("sent", name, len(bytes(frame)), "bytes")


raw_eth = bytes(eth)[:14]
# Truncated Ethernet: 10 bytes.
send("eth-truncated", Raw(raw_eth[:10]))
# Truncated ARP: Ethernet header + 10 bytes of ARP.
arp = bytes(Ether(dst=dst_mac, src=src_mac) / ARP(op=1, psrc=src_ip, pdst=dst_ip))
send("arp-truncated", Raw(arp[:14 + 10]))
# ARP with a bad hardware length.
bad_arp = bytearray(arp)
bad_arp[14 + 4] = 8
send("arp-bad-hlen", Raw(bytes(bad_arp)))
ip_type = raw_eth[:12] + b"\x08\x00"
# Truncated IP: 12 bytes.
send("ip-truncated", Raw(ip_type + good_ip()[:12]))
# IHL 3 (below the minimum of 5).
send("ip-bad-ihl", Raw(ip_type + with_ihl(good_ip(), 3)))
# Bad header checksum.
p = bytearray(good_ip())
p[10] ^= 0xff
send("ip-bad-checksum", Raw(ip_type + bytes(p)))
# Total length beyond the frame (claims 1000, carries 60).
p = bytearray(good_ip())
struct.pack_into("!H", p, 2, 1000)
struct.pack_into("!H", p, 10, 0)
from scapy.utils import checksum  # noqa: E402
struct.pack_into("!H", p, 10, checksum(bytes(p[:20])))
send("ip-length-beyond-frame", Raw(ip_type + bytes(p)))
# Overlapping fragments: [0,24) then [16,40) with other bytes, then the last.
payload = bytes(ICMP(id=9, seq=1) / Raw(b"A" * 40))
send("frag-0", eth / IP(src=src_ip, dst=dst_ip, id=4242, flags="MF", frag=0, proto=1) / Raw(payload[:24]))
send("frag-overlap", eth / IP(src=src_ip, dst=dst_ip, id=4242, flags="MF", frag=2, proto=1) / Raw(b"Z" * 24))
send("frag-last", eth / IP(src=src_ip, dst=dst_ip, id=4242, frag=5, proto=1) / Raw(payload[40:]))
# Reassembly beyond 65535 bytes: a last fragment at offset 65528 with 100 bytes.
send("frag-too-big", eth / IP(src=src_ip, dst=dst_ip, id=4343, frag=8191, proto=1) / Raw(b"B" * 100))
# Unknown EtherType.
send("ethertype-unknown", Raw(raw_eth[:12] + b"\x88\xb5" + b"\x00" * 46))
