#!/usr/bin/env bash
# t_observe.sh — counters per interface and the socket listing (issue 9),
# checked against the kernel's own view of the same traffic:
# - SIGUSR1: ustackd's "interface eth0:" frames received/sent equal the
#   packets the kernel's tap0 sent/received (ip -s link), read while idle;
# - SIGUSR2: ustackd lists its sockets as ss -tuan does; the listener, the
#   UDP socket and each connection the kernel's nc holds open appear with
#   the 4-tuple the kernel's ss shows mirrored, in state ESTAB; under each
#   connection the TCP_INFO line's bytes and segments received and sent
#   mirror the kernel's ss -ti.
# - a connection ustackd closed first (its http service answering an
#   HTTP/1.0 request) is listed in TIME-WAIT, the state name the kernel's
#   ss gives the connections the kernel closed first (the echo ones above,
#   nc -N); the kernel, the passive closer, keeps nothing of it. SIGUSR2
#   lost TIME_WAIT when it became a compact record (core/tcp_timewait.c).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc ss

ns=$(new_ns obs)
tap_up "$ns" tap0 10.9.14.1/24
cat > "$TMP/host.yaml" <<Y
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.14.2/24]}
services:
  - {type: echo, proto: tcp, port: 7}
  - {type: echo, proto: udp, port: 7}
  - {type: http, port: 80, root: "$TMP/www"}
Y
mkdir -p "$TMP/www" && echo hello > "$TMP/www/index.html"
start_ustackd "$ns" "$TMP/d.log" -C "$TMP/host.yaml"
d=$LAST_PID

# Two connections held open by the kernel's nc (stdin a FIFO we keep open).
mkfifo "$TMP/f1" "$TMP/f2"
start "$ns" "$TMP/n1.log" sh -c "exec nc -N 10.9.14.2 7 < '$TMP/f1'"
start "$ns" "$TMP/n2.log" sh -c "exec nc -N 10.9.14.2 7 < '$TMP/f2'"
exec 3>"$TMP/f1" 4>"$TMP/f2"
echo ping >&3
wait_for 5 "echo on the first connection" grep -q ping "$TMP/n1.log"
wait_for 5 "two connections in the kernel" \
	sh -c "[ \$(ip netns exec $ns ss -Htn state established dst 10.9.14.2 | wc -l) = 2 ]"

note "socket listing (SIGUSR2) against the kernel's ss"
# The kernel may still owe a delayed ACK for the echo: its segs_out is
# read before and after our listing, and ours must lie between the two.
ip netns exec "$ns" ss -Htin state established dst 10.9.14.2 > "$TMP/kssi0"
# ustackd's listing (SIGUSR2) into file $1: from its header to its end
# line (doc/man/ustackd.8), which must count the rows between them.
listing() {
	local off n
	off=$(wc -c < "$TMP/d.log")
	kill -USR2 "$d"
	wait_for 5 "the end of the socket listing" \
		sh -c "tail -c +$((off + 1)) '$TMP/d.log' | grep -q '^# end of socket listing ('"
	tail -c +$((off + 1)) "$TMP/d.log" | sed -n '/^Netid/,/^# end of socket listing (/p' > "$1"
	cat "$1"
	n=$(sed -n 's/^# end of socket listing (\([0-9]*\) rows)$/\1/p' "$1")
	[ -n "$n" ] && [ "$n" = "$(grep -cE '^(tcp|udp) ' "$1")" ] ||
		fail "the end line does not count the listing's $(grep -cE '^(tcp|udp) ' "$1") rows: '$(tail -1 "$1")'"
}
listing "$TMP/socks"
grep -qE '^tcp +LISTEN +0 +[0-9]+ +0\.0\.0\.0:7 +0\.0\.0\.0:\*$' "$TMP/socks" || fail "no TCP listener on :7"
grep -qE '^udp +UNCONN +0 +0 +0\.0\.0\.0:7 +0\.0\.0\.0:\*$' "$TMP/socks" || fail "no UDP socket on :7"
ip netns exec "$ns" ss -Htn state established dst 10.9.14.2 > "$TMP/kss"
while read -r rq sq local peer; do
	# The kernel's local is our peer and the other way round.
	grep -qE "^tcp +ESTAB +[0-9]+ +[0-9]+ +${peer//./\\.} +${local//./\\.}\$" "$TMP/socks" ||
		fail "kernel connection $local -> $peer missing from the listing"
done < "$TMP/kss"
# The TCP_INFO line under each connection against the kernel's ss -ti of
# the same connection: what one side sent the other received, in bytes
# and data segments. (ping\n went one way and came back.)
ip netns exec "$ns" ss -Htin state established dst 10.9.14.2 > "$TMP/kssi"
cat "$TMP/kssi"
field() { grep -o " $1:[0-9]*" | head -1 | cut -d: -f2 | grep . || echo 0; }   # ss omits zeros
kport=$(awk 'NR == 1 { print $3 }' "$TMP/kssi")         # the kernel's local address:port
kinfo=$(sed -n 2p "$TMP/kssi")
ours=$(grep -A1 -E "^tcp +ESTAB .* ${kport//./\\.}\$" "$TMP/socks" | tail -1)
echo "$ours" | grep -qE '^\s+(cubic|newreno) ' || fail "no TCP_INFO line under $kport: '$ours'"
for pair in bytes_received:bytes_sent bytes_sent:bytes_received; do
	o=$(echo " $ours" | field "${pair%%:*}"); k=$(echo " $kinfo" | field "${pair##*:}")
	[ -n "$o" ] && [ -n "$k" ] && [ "$o" = "$k" ] ||
		fail "our ${pair%%:*} '$o' is not the kernel's ${pair##*:} '$k' ($kport)"
done
o=$(echo " $ours" | field segs_in); k=$(echo " $kinfo" | field segs_out)
k0=$(grep -A1 -F " $kport " "$TMP/kssi0" | sed -n 2p | sed 's/^/ /' | field segs_out)
[ "$k0" -le "$o" ] && [ "$o" -le "$k" ] ||
	fail "our segs_in '$o' is not within the kernel's segs_out before/after our listing '$k0'/'$k' ($kport)"

note "per-interface counters (SIGUSR1) against the kernel's tap0 counters"
exec 3>&- 4>&-
wait_for 5 "the connections to close" \
	sh -c "[ \$(ip netns exec $ns ss -Htn state established dst 10.9.14.2 | wc -l) = 0 ]"
sleep 0.5
kstats() { ip netns exec "$ns" cat /sys/class/net/tap0/statistics/$1; }
tx0=$(kstats tx_packets); rx0=$(kstats rx_packets)
off=$(wc -c < "$TMP/d.log")
kill -USR1 "$d"
wait_for 5 "the counters" sh -c "tail -c +$((off + 1)) '$TMP/d.log' | grep -q '^interface eth0:'"
sleep 0.2
tx1=$(kstats tx_packets); rx1=$(kstats rx_packets)
tail -c +$((off + 1)) "$TMP/d.log" | sed -n '/^interface eth0:/,$p' > "$TMP/ifc"
cat "$TMP/ifc"
ours_rx=$(awk '/frames received$/ { print $1; exit }' "$TMP/ifc")
ours_tx=$(awk '/frames sent$/ { print $1; exit }' "$TMP/ifc")
[ -n "$ours_rx" ] && [ -n "$ours_tx" ] || fail "no per-interface frame counters"
[ "$ours_rx" -ge "$tx0" ] && [ "$ours_rx" -le "$tx1" ] ||
	fail "eth0 received $ours_rx frames; the kernel's tap0 sent $tx0..$tx1"
[ "$ours_tx" -ge "$rx0" ] && [ "$ours_tx" -le "$rx1" ] ||
	fail "eth0 sent $ours_tx frames; the kernel's tap0 received $rx0..$rx1"

note "a connection ustackd closed first: TIME-WAIT in the listing, as ss names it"
# The echo connections above: the kernel's nc -N closed first, so the
# kernel holds them in TIME_WAIT; ss's name for that state is the reference.
kstate=$(ip netns exec "$ns" ss -Htan dst 10.9.14.2:7 | awk 'NR == 1 { print $1 }')
[ "$kstate" = TIME-WAIT ] || fail "the kernel's ss shows '$kstate' for a connection it closed first"
# HTTP/1.0: ustackd's http service closes first; nc (no -N) reads to EOF.
printf 'GET /index.html HTTP/1.0\r\n\r\n' |
	timeout 10 ip netns exec "$ns" nc -p 40777 10.9.14.2 80 > "$TMP/h.out" ||
	fail "nc to the http service"
grep -q hello "$TMP/h.out" || fail "no answer from the http service"
# The kernel (the passive closer) is done with it once our ACK of its FIN is in.
wait_for 5 "the kernel to forget 10.9.14.1:40777" \
	sh -c "[ -z \"\$(ip netns exec $ns ss -Htan src 10.9.14.1:40777)\" ]"
listing "$TMP/socks2"
grep -qE "^tcp +$kstate +0 +0 +10\.9\.14\.2:80 +10\.9\.14\.1:40777\$" "$TMP/socks2" ||
	fail "10.9.14.2:80 <- 10.9.14.1:40777 (closed by us first) not listed in $kstate"
# And only there: the socket itself is closed, not listed in another state.
[ "$(grep -c ' 10\.9\.14\.1:40777$' "$TMP/socks2")" = 1 ] ||
	fail "10.9.14.1:40777 listed more than once"
stop_pid "$d" || fail "ustackd exit $?"
echo "ok: listing matches ss, counters match the kernel's ($ours_rx in, $ours_tx out), TIME-WAIT listed"
