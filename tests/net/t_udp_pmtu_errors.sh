#!/usr/bin/env bash
# UDP path MTU discovery and ICMP errors to sockets (issue 11), against
# kernel peers, with a Linux program's view: python3 under the LD_PRELOAD
# shim (so its sockets are ustack's) runs tests/net/udp_errq.py.
#
#   ustack 10.9.74.2 --tap0-- [kernel router, ns R] --vr (MTU 1280)--vb-- 10.9.75.2 (ns B)
#
# B runs a kernel python3 UDP receiver on port 9000 that writes down the
# size of every datagram; nothing listens on 9001, so B's kernel answers
# port unreachable. What it proves:
# - a datagram with DF too big for the 1280 link is refused by the kernel
#   router with "fragmentation needed, mtu 1280", which reaches the ustack
#   socket's error queue (IP_RECVERR, MSG_ERRQUEUE) as Linux's
#   sock_extended_err (EMSGSIZE, origin ICMP, 3/4, ee_info 1280, the router
#   as offender), and lowers IP_MTU to 1280;
# - IP_PMTUDISC_DO then refuses 1253 bytes (EMSGSIZE, queued as a local
#   error) and sends 1252; IP_PMTUDISC_WANT sends 1400 bytes fragmented to
#   the path MTU: B's kernel receives exactly [1252, 1400, 3] (the first
#   1400-byte DF datagram died at the router);
# - B's port unreachable reaches an unconnected IP_RECVERR socket with the
#   payload, destination and offender; a connected socket without it still
#   gets ECONNREFUSED.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd python3

r=$(new_ns urtr)
b=$(new_ns ub)
ns=$r
ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
tap_up "$r" tap0 10.9.74.1/24
veth_up "$r" vr 10.9.75.1/24 "$b" vb 10.9.75.2/24
ip -n "$r" link set vr mtu 1280
ip netns exec "$b" ip route add 10.9.74.0/24 via 10.9.75.1

cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.74.2/24]}
routes:
  - {to: 10.9.75.0/24, via: 10.9.74.1}
YAML

# B: a kernel UDP receiver writing each datagram's size, one per line, until "end".
start "$b" "$TMP/recv.log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.9.75.2", 9000))
print("bound", flush=True)
with open(sys.argv[1], "w") as out:
    while True:
        d = s.recv(65535)
        out.write("%d\n" % len(d)); out.flush()
        if d == b"end":
            break
' "$TMP/sizes"
rcv=$LAST_PID
wait_for 5 "the receiver on B to bind" grep -q bound "$TMP/recv.log"

note "python3 over ustack: IP_MTU_DISCOVER, IP_MTU, IP_RECVERR + MSG_ERRQUEUE"
shim python3 "$(dirname "$0")/udp_errq.py" 10.9.75.2 9000 9001 10.9.74.1 1280 \
	> "$TMP/py.log" 2>&1
rc=$?
cat "$TMP/py.log"
[ $rc -eq 0 ] && grep -q '^done' "$TMP/py.log" || fail "udp_errq.py exit $rc"
no_sanitizer_reports "$TMP/py.log"
wait_for 5 "B's receiver to see the end" sh -c "! kill -0 $rcv 2>/dev/null"
sizes=$(tr '\n' ' ' < "$TMP/sizes")
[ "$sizes" = "1252 1400 3 " ] || fail "B received datagrams of sizes [$sizes], want [1252 1400 3 ]"
echo "ok: B's kernel received 1252 (DO at the path MTU), 1400 (WANT, fragmented), end"
