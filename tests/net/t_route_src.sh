#!/usr/bin/env bash
# t_route_src.sh — source address selection with two addresses on one
# interface (issue 11): ustack's tap0 has 10.9.50.2/24 and 10.9.52.2/24,
# the kernel's side 10.9.50.1/24 and 10.9.52.1/24, and 10.9.51.1 on its lo,
# reached through the route {to: 10.9.51.0/24, via: 10.9.50.1, src:
# 10.9.52.2}. The kernel reports what it saw as the peer (socat's
# SOCAT_PEERADDR, sent back over the connection):
#  - an unbound TCP client to 10.9.51.1 comes from the route's src,
#    10.9.52.2, though the gateway is on the other subnet; the kernel's
#    capture shows usping's echo requests from it too;
#  - without src:, the interface's address on the destination's subnet:
#    10.9.50.2 to 10.9.50.1, 10.9.52.2 to 10.9.52.1.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd socat tcpdump

ns=$(new_ns rsrc)
ip netns exec "$ns" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
ip netns exec "$ns" ip addr add 10.9.50.1/24 dev tap0
ip netns exec "$ns" ip addr add 10.9.52.1/24 dev tap0
ip netns exec "$ns" ip addr add 10.9.51.1/32 dev lo
ip netns exec "$ns" ip link set tap0 up
start "$ns" "$TMP/socat.log" socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo peer $SOCAT_PEERADDR'
wait_for 5 "socat to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7000 '"
cat > "$TMP/c.yaml" <<Y
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.50.2/24, 10.9.52.2/24]}
routes:
  - {to: 10.9.51.0/24, via: 10.9.50.1, src: 10.9.52.2}
Y
peer_seen() {   # DST -> what the kernel saw as our address
	ip netns exec "$ns" timeout 20 "$BIN/usnc" -n -w 5 -C "$TMP/c.yaml" "$1" 7000 < /dev/null \
		2> "$TMP/err" | sed -n 's/^peer //p'
}
got=$(peer_seen 10.9.51.1)
[ "$got" = 10.9.52.2 ] || { cat "$TMP/err"; fail "to 10.9.51.1 (route src 10.9.52.2) the kernel saw '$got'"; }
got=$(peer_seen 10.9.50.1)
[ "$got" = 10.9.50.2 ] || fail "to 10.9.50.1 the kernel saw '$got', not the address on that subnet"
got=$(peer_seen 10.9.52.1)
[ "$got" = 10.9.52.2 ] || fail "to 10.9.52.1 the kernel saw '$got', not the address on that subnet"

ip netns exec "$ns" tcpdump -i tap0 -n -l -c 2 icmp and dst host 10.9.51.1 > "$TMP/td" 2> "$TMP/td.err" &
td=$!
PIDS+=("$td")
wait_for 5 "tcpdump to start" grep -q 'listening on' "$TMP/td.err"
ip netns exec "$ns" timeout 20 "$BIN/usping" -C "$TMP/c.yaml" -c 2 -i 0.2 -W 2 10.9.51.1 > "$TMP/p" 2>&1 ||
	{ cat "$TMP/p"; fail "usping 10.9.51.1 exit $?"; }
for _ in $(seq 50); do kill -0 "$td" 2>/dev/null || break; sleep 0.1; done
grep -q 'IP 10.9.52.2 > 10.9.51.1: ICMP echo request' "$TMP/td" ||
	{ cat "$TMP/td"; fail "the echo requests did not come from the route's src"; }
echo "ok: route src 10.9.52.2 for TCP and ICMP; by subnet without src"
