#!/usr/bin/env bash
# ustackd as an IPv4 router (stack: forwarding: true) between two kernel
# hosts, each in its own namespace:
#
#   host A 10.9.60.1 --tapa-- [ustackd 10.9.60.2 | 10.9.61.2, b0 MTU 1280] --tapb-- 10.9.61.1 host B
#
# ustackd opens both TAPs in a third namespace, then each TAP is moved
# into its host's namespace (the open file keeps it attached). Kernel
# forwarding is off everywhere, and no namespace has any other path
# between A and B: whatever crosses went through ustack.
#
# Checks: the kernel's ping A->B; ping -t 1 gets "Time to live exceeded"
# from the router's address on A's side (RFC 1812 5.3.1); ping -M do -s 1400
# gets "Frag needed" with mtu 1280 (RFC 1191: the next-hop MTU of b0);
# traceroute from A shows the ustack hop (10.9.60.2) then B, and tracepath
# shows it and the path MTU 1280 it learnt from ustack's ICMP; a 64 MB
# transfer A->B with the kernel's nc through the router (whose b0 link is
# smaller than A's, so A's TCP must learn the path MTU from ustack's ICMP)
# arrives with the same SHA-256; ustack's own TCP (the router's echo
# service, 10.9.61.2) sends 8 MB back to B over the 1280 link with at most
# one retransmission timeout (no path-MTU stall); b0's capture holds no
# packet above its MTU, and ustack's per-interface counters moved.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping nc sha256sum tcpdump traceroute tracepath

r=$(new_ns rtr)
a=$(new_ns hosta)
b=$(new_ns hostb)
# The router is doc/examples/router.yaml, the example users copy, with a
# capture added on b0.
root=$(cd "$(dirname "$0")/../.." && pwd)
sed 's|^    mtu: 1280 .*|    mtu: 1280\n    capture: '"$TMP"'/b0.pcap|' "$root/doc/examples/router.yaml" > "$TMP/router.yaml"
grep -q "capture: $TMP/b0.pcap" "$TMP/router.yaml" || fail "doc/examples/router.yaml: no 'mtu: 1280' line on b0 to add the capture to"
start "$r" "$TMP/ustackd.log" "$BIN/ustackd" -C "$TMP/router.yaml"
d=$LAST_PID
wait_for 5 "ustackd to create both TAPs" sh -c "ip netns exec $r ip link show tapa && ip netns exec $r ip link show tapb"
wait_for 5 "ustackd to come up" grep -q 'ustackd: up, 2 interfaces' "$TMP/ustackd.log"
ip netns exec "$r" ip link set tapa netns "$a" || fail "moving tapa to host A"
ip netns exec "$r" ip link set tapb netns "$b" || fail "moving tapb to host B"
for ns in "$a" "$b"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
done
ip netns exec "$a" ip addr add 10.9.60.1/24 dev tapa
ip netns exec "$a" ip link set tapa up
ip netns exec "$a" ip route add 10.9.61.0/24 via 10.9.60.2
ip netns exec "$b" ip addr add 10.9.61.1/24 dev tapb
ip netns exec "$b" ip link set tapb up
ip netns exec "$b" ip route add 10.9.60.0/24 via 10.9.61.2

note "kernel ping A -> B through the router"
ip netns exec "$a" ping -c 3 -i 0.2 -W 2 10.9.61.1 > "$TMP/ping.txt" 2>&1
grep -q ' 0% packet loss' "$TMP/ping.txt" || { cat "$TMP/ping.txt"; fail "A cannot ping B through ustack"; }
# The replies came back through ustack too: TTL 64 - 1.
grep -q 'ttl=63' "$TMP/ping.txt" || { cat "$TMP/ping.txt"; fail "replies did not come with TTL 63"; }

note "TTL 1: time exceeded from the router's A-side address"
ip netns exec "$a" ping -c 1 -t 1 -W 2 10.9.61.1 > "$TMP/ttl.txt" 2>&1
grep -q 'From 10.9.60.2 .*Time to live exceeded' "$TMP/ttl.txt" ||
	{ cat "$TMP/ttl.txt"; fail "no time exceeded from 10.9.60.2"; }

note "DF and larger than b0's MTU: fragmentation needed, mtu 1280"
ip netns exec "$a" ping -c 1 -M do -s 1400 -W 2 10.9.61.1 > "$TMP/df.txt" 2>&1
grep -q 'From 10.9.60.2 .*Frag needed.*mtu = 1280' "$TMP/df.txt" ||
	{ cat "$TMP/df.txt"; fail "no 'frag needed (mtu = 1280)' from 10.9.60.2"; }
# The kernel took the next-hop MTU into its route cache.
ip netns exec "$a" ip route get 10.9.61.1 | grep -q 'mtu 1280' ||
	{ ip netns exec "$a" ip route get 10.9.61.1; fail "A's route cache did not learn mtu 1280"; }
ip netns exec "$a" ip route flush cache

note "traceroute and tracepath A -> B: the ustack hop"
ip netns exec "$a" timeout 30 traceroute -n -q 1 -w 2 -m 5 10.9.61.1 > "$TMP/tr.txt" 2>&1
cat "$TMP/tr.txt"
grep -Eq '^ 1  10\.9\.60\.2 ' "$TMP/tr.txt" || fail "traceroute: hop 1 is not ustack's 10.9.60.2"
grep -Eq '^ 2  10\.9\.61\.1 ' "$TMP/tr.txt" || fail "traceroute: hop 2 is not B"
ip netns exec "$a" timeout 30 tracepath -n -m 5 10.9.61.1 > "$TMP/tp.txt" 2>&1
cat "$TMP/tp.txt"
grep -Eq '^ 1:  10\.9\.60\.2 ' "$TMP/tp.txt" || fail "tracepath: hop 1 is not ustack's 10.9.60.2"
grep -q 'pmtu 1280' "$TMP/tp.txt" || fail "tracepath did not learn pmtu 1280 through ustack"
grep -Eq 'reached' "$TMP/tp.txt" || fail "tracepath did not reach B"
ip netns exec "$a" ip route flush cache

note "64 MB A -> B with the kernel's nc through the router"
head -c 64000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)
start "$b" "$TMP/nc_b.log" sh -c "exec nc -l -p 7200 > '$TMP/got'"
k=$LAST_PID
wait_for 5 "nc to listen on B" sh -c "ip netns exec $b ss -tln | grep -q ':7200'"
ip netns exec "$a" timeout 180 nc -N 10.9.61.1 7200 < "$TMP/data" || fail "nc on A exit $?"
wait_for 60 "nc on B to finish" sh -c "! kill -0 $k 2>/dev/null"
got=$(sha256sum < "$TMP/got" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "B received $(wc -c < "$TMP/got") bytes with another SHA-256"

note "ustack's own TCP from the router (10.9.61.2) to B over the 1280 link: 8 MB echoed"
head -c 8000000 "$TMP/data" > "$TMP/data8"
ip netns exec "$b" timeout 120 nc -N 10.9.61.2 7 < "$TMP/data8" > "$TMP/back8" || fail "echo nc on B exit $?"
[ "$(sha256sum < "$TMP/back8")" = "$(sha256sum < "$TMP/data8")" ] ||
	fail "the router's echo returned $(wc -c < "$TMP/back8") bytes with another SHA-256"

stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
rto=$(counter "$TMP/ustackd.log" tcp "retransmission timeouts")
echo "ustack's own TCP: $rto retransmission timeouts"
[ "$rto" != missing ] && [ "$rto" -le 1 ] || fail "ustack's TCP to B stalled: $rto retransmission timeouts"
# tcpdump's 'greater N' is on the frame: IP length 1280 + 14.
big=$(tcpdump -r "$TMP/b0.pcap" -n 'greater 1295' 2>/dev/null | wc -l)
[ "$big" -eq 0 ] || fail "$big packets above b0's MTU 1280 went out on b0"
mine=$(tcpdump -r "$TMP/b0.pcap" -n 'src 10.9.61.2 and tcp and greater 1200' 2>/dev/null | wc -l)
[ "$mine" -ge 5000 ] || fail "only $mine full-size segments of ustack's own TCP on b0"
fwd=$(tcpdump -r "$TMP/b0.pcap" -n \
	'src 10.9.60.1 and dst 10.9.61.1 and ip[8] = 63 and tcp and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0' \
	2>/dev/null | wc -l)
[ "$fwd" -ge 50000 ] || fail "only $fwd forwarded data segments seen on b0"
# ustack's own counters (its exit dump): the arrival interface counts.
# ifcounter IFACE "description" -> the value under "interface IFACE:".
ifcounter() {
	awk -v sect="interface $1:" -v desc="$2" '
		/^[a-z]/ { cur = $0; next }
		cur == sect { n = $1; $1 = ""; sub(/^ /, ""); if ($0 == desc) v = n }
		END { print (v == "" ? "missing" : v) }' "$TMP/ustackd.log"
}
nfwd=$(ifcounter a0 "packets received here and forwarded (router)")
nerr=$(ifcounter a0 "packets received here not forwarded with an ICMP error (TTL, no route, DF, no buffer)")
[ "$nfwd" != missing ] && [ "$nfwd" -ge "$fwd" ] || fail "a0 counted $nfwd forwarded (b0 saw $fwd)"
[ "$nerr" != missing ] && [ "$nerr" -ge 2 ] || fail "a0 counted $nerr forwarding errors (TTL and DF sent at least 2)"
echo "ok: ping, time exceeded, frag needed (1280), traceroute/tracepath hop, 8 MB echoed by the router over 1280, 64 MB forwarded in $fwd segments, sha256 $want"
