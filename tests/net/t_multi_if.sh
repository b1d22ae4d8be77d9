#!/usr/bin/env bash
# One ustackd with two interfaces (two TAPs, two subnets, a receive thread
# each): the kernel reaches both addresses, and a route via the second
# interface's gateway takes traffic for a third subnet out of that interface.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping tshark

ns=$(new_ns multi)
cat > "$TMP/host.yaml" <<YAML
interfaces:
  a0: {backend: tap, device: tapa, addresses: [10.9.50.2/24], capture: $TMP/a0.pcap}
  b0: {backend: tap, device: tapb, addresses: [10.9.51.2/24], capture: $TMP/b0.pcap}
routes:
  - {to: 10.9.52.0/24, via: 10.9.51.1}
services:
  - {type: echo, proto: udp, port: 7}
YAML
start "$ns" "$TMP/ustackd.log" "$BIN/ustackd" -C "$TMP/host.yaml"
d=$LAST_PID
wait_for 5 "ustackd to create both TAPs" sh -c "ip netns exec $ns ip link show tapa && ip netns exec $ns ip link show tapb"
ip netns exec "$ns" ip addr add 10.9.50.1/24 dev tapa
ip netns exec "$ns" ip addr add 10.9.51.1/24 dev tapb
# The kernel also owns 10.9.52.1 (on its lo): ustack reaches it only by its route.
ip netns exec "$ns" ip addr add 10.9.52.1/32 dev lo
ip netns exec "$ns" ip link set tapa up
ip netns exec "$ns" ip link set tapb up
wait_for 5 "ustackd to come up" grep -q 'ustackd: up, 2 interfaces' "$TMP/ustackd.log"

note "ping each interface's address"
ip netns exec "$ns" ping -c 2 -i 0.2 -W 2 -I tapa 10.9.50.2 | grep -q ' 0% packet loss' || fail "no replies on a0"
ip netns exec "$ns" ping -c 2 -i 0.2 -W 2 -I tapb 10.9.51.2 | grep -q ' 0% packet loss' || fail "no replies on b0"

note "UDP echo from 10.9.52.1 is answered through the route via b0"
out=$(printf 'via the route\n' | ip netns exec "$ns" timeout 5 socat - UDP4:10.9.51.2:7,bind=10.9.52.1)
[ "$out" = "via the route" ] || fail "echo from 10.9.52.1 answered '$out'"
stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
# The reply to 10.9.52.1 must have left through b0 (to the gateway's MAC), never a0.
nb=$(tshark -r "$TMP/b0.pcap" -Y 'ip.src == 10.9.51.2 && ip.dst == 10.9.52.1 && udp' 2>/dev/null | wc -l)
na=$(tshark -r "$TMP/a0.pcap" -Y 'ip.dst == 10.9.52.1' 2>/dev/null | wc -l)
[ "$nb" -ge 1 ] || fail "no reply to 10.9.52.1 left through b0"
[ "$na" -eq 0 ] || fail "$na frames to 10.9.52.1 left through a0"
echo "ok: replies on both interfaces; routed reply went out b0"
