#!/usr/bin/env bash
# t_tun.sh — the tun backend (issue 11): IP packets without Ethernet on a
# point-to-point TUN device, no ARP. ustackd (echo service) on tun0 as
# 10.9.16.2, the kernel's side 10.9.16.1 peer 10.9.16.2: the kernel pings
# it (small and fragmented), 5 MB go through its echo and back with the
# kernel's nc (SHA-256 equal), and the stack's capture of the interface is
# read by tcpdump as raw IP (LINKTYPE_RAW) with the same packets. Then
# usnc on the same TUN sends the 5 MB to the kernel's nc -l (SHA-256 equal).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc ping tcpdump sha256sum

ns=$(new_ns tun)
ip netns exec "$ns" ip tuntap add dev tun0 mode tun || fail "ip tuntap add tun"
ip netns exec "$ns" ip addr add 10.9.16.1 peer 10.9.16.2 dev tun0
ip netns exec "$ns" ip link set tun0 up
cat > "$TMP/host.yaml" <<Y
interfaces:
  t0:
    backend: tun
    device: tun0
    addresses: [10.9.16.2/32]
    capture: $TMP/cap.pcap
routes:
  - {to: default, interface: t0}
services:
  - {type: echo, proto: tcp, port: 7}
Y
start_ustackd "$ns" "$TMP/d.log" --stack-config "$TMP/host.yaml"
d=$LAST_PID

ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 10.9.16.2 > "$TMP/p1" || { cat "$TMP/p1" "$TMP/d.log"; fail "ping over tun"; }
ip netns exec "$ns" ping -c 2 -i 0.2 -W 2 -s 3000 10.9.16.2 > "$TMP/p2" || fail "fragmented ping over tun"
head -c 5000000 /dev/urandom > "$TMP/data"
ip netns exec "$ns" timeout 60 nc -N 10.9.16.2 7 < "$TMP/data" > "$TMP/back" || fail "nc exit $?"
[ "$(sha256sum < "$TMP/back")" = "$(sha256sum < "$TMP/data")" ] ||
	fail "echo over tun returned $(wc -c < "$TMP/back") bytes with another SHA-256"
ip netns exec "$ns" ip neigh show dev tun0 | grep -q . && fail "the kernel keeps neighbours on a tun?"
stop_pid "$d" || fail "ustackd exit $?"

# usnc over the same TUN (ustackd has let go of it) to the kernel's nc -l.
cat > "$TMP/client.yaml" <<Y
interfaces:
  t0: {backend: tun, device: tun0, addresses: [10.9.16.2/32]}
routes:
  - {to: default, interface: t0}
Y
start "$ns" "$TMP/k.log" sh -c "exec nc -l -s 10.9.16.1 -p 7400 > '$TMP/got'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $ns ss -tln | grep -q '10.9.16.1:7400 '"
ip netns exec "$ns" timeout 60 "$BIN/usnc" -N -C "$TMP/client.yaml" 10.9.16.1 7400 < "$TMP/data" ||
	fail "usnc over tun exit $?"
wait_for 30 "the kernel's nc to finish" sh -c "! kill -0 $k 2>/dev/null"
[ "$(sha256sum < "$TMP/got")" = "$(sha256sum < "$TMP/data")" ] ||
	fail "the kernel got $(wc -c < "$TMP/got") bytes from usnc over tun with another SHA-256"
# The capture is raw IP: tcpdump reads it and sees the pings and TCP.
tcpdump -r "$TMP/cap.pcap" -n 2>&1 | head -3
tcpdump -r "$TMP/cap.pcap" -n 2>/dev/null > "$TMP/td"
grep -q 'ICMP echo reply' "$TMP/td" || fail "no echo replies in the tun capture"
grep -q '10.9.16.2.7 > 10.9.16.1.[0-9]*: Flags' "$TMP/td" || fail "no TCP in the tun capture"
tcpdump -r "$TMP/cap.pcap" 2>&1 | grep -q 'link-type RAW' || fail "capture link type is not RAW"
echo "ok: ping, fragmented ping and 5 MB echo over tun; capture read as raw IP; usnc over tun to the kernel"
