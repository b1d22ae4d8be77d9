#!/usr/bin/env bash
# A stack reaches its own address and 127/8 through its built-in loopback
# interface, and none of it goes on the wire: the stack's own capture of
# its TAP interface shows no ICMP and no ARP request beyond the one
# gratuitous announcement (before lo, ARP asked the wire for our own
# address three times and the ping failed after 3 s). TCP to our own
# address: usnc -z to a closed port is refused at once (a RST over lo).
# An unmodified python3 under libustack-preload.so runs an echo server and
# its client in one process, TCP (300 kB, SHA-256) and UDP, to its own
# address and to 127.0.0.1, with nothing on the wire.
# ustackd's counter dump has lo's block ("interface lo:").
. "$(dirname "$0")/lib.sh"
need_root
need_cmd tshark

ns=$(new_ns lo)
tap_up "$ns" tap1 10.9.4.1/24

note "usping own address and 127.0.0.1, capturing eth0"
for dst in 10.9.4.2 127.0.0.1; do
	ip netns exec "$ns" timeout 20 "$BIN/usping" -c 3 -i 0.1 -W 2 --tap tap1 --addr 10.9.4.2/24 \
		--capture "$TMP/cap-$dst.pcap" "$dst" >"$TMP/o" 2>&1
	rc=$?
	cat "$TMP/o"
	[ $rc -eq 0 ] || fail "usping $dst exit $rc"
	[ "$(grep -c "^64 bytes from $dst: icmp_seq=[123] ttl=64 time=" "$TMP/o")" -eq 3 ] ||
		fail "usping $dst: expected 3 replies from $dst"
	grep -q '^3 packets transmitted, 3 received, 0% packet loss' "$TMP/o" || fail "summary"
	icmp=$(tshark -r "$TMP/cap-$dst.pcap" -Y icmp 2>/dev/null | wc -l)
	arpq=$(tshark -r "$TMP/cap-$dst.pcap" -Y 'arp.opcode == 1' 2>/dev/null | wc -l)
	echo "on the wire: $icmp ICMP, $arpq ARP requests"
	[ "$icmp" -eq 0 ] || fail "usping $dst: $icmp ICMP frames went on the wire"
	[ "$arpq" -eq 1 ] || fail "usping $dst: $arpq ARP requests on the wire (1 gratuitous expected)"
done

note "usnc -z to a closed port of our own address: refused at once"
start=$(date +%s%N)
ip netns exec "$ns" timeout 20 "$BIN/usnc" -z -v -w 5 --tap tap1 --addr 10.9.4.2/24 10.9.4.2 7999 \
	>"$TMP/z" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$TMP/z"
[ $rc -eq 1 ] || fail "usnc -z closed own port exit $rc, expected 1"
grep -qi 'refused' "$TMP/z" || fail "usnc -z: no 'refused' (EHOSTUNREACH means no local delivery)"
[ $ms -lt 2500 ] || fail "usnc -z took ${ms} ms (ARP for our own address?)"

note "an unmodified program talks to itself through the stack (libustack-preload.so)"
SHIM=$(cd "$BIN/../lib" && pwd)/libustack-preload.so
if [ -f "$SHIM" ] && [ -x /usr/bin/python3 ]; then
	# A sanitizer build's shim needs its runtime first (as in preload_lib.sh).
	pre=
	for rt in libasan libtsan libubsan; do
		p=$(ldd "$SHIM" | awk -v r="$rt" '$1 ~ "^" r { print $3 }')
		[ -n "$p" ] && pre="$pre$p "
	done
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
	cat >"$TMP/self.yaml" <<EOF
interfaces:
  eth0: {backend: tap, device: tap1, addresses: [10.9.4.2/24], capture: $TMP/self.pcap}
EOF
	# timeout runs outside the preload (with ASan's runtime preloaded it hangs).
	ip netns exec "$ns" timeout 60 env LD_PRELOAD="$pre$SHIM" USTACK_CONFIG="$TMP/self.yaml" \
		USTACK_DEBUG=1 /usr/bin/python3 "$(dirname "$0")/self_talk.py" 10.9.4.2 127.0.0.1 \
		>"$TMP/self.out" 2>"$TMP/self.err"
	rc=$?
	cat "$TMP/self.out"
	[ $rc -eq 0 ] || { tail -20 "$TMP/self.err"; fail "self_talk.py exit $rc"; }
	for dst in 10.9.4.2 127.0.0.1; do
		grep -q "^tcp $dst OK 300000$" "$TMP/self.out" || fail "TCP to itself at $dst"
		grep -q "^udp $dst OK from $dst$" "$TMP/self.out" || fail "UDP to itself at $dst"
	done
	# Its sockets were the stack's (the kernel would have served 127.0.0.1 too).
	[ "$(grep -c 'ustack-preload\[[0-9]*\]: connect(' "$TMP/self.err")" -ge 2 ] ||
		fail "the connects did not go through the shim"
	n=$(tshark -r "$TMP/self.pcap" -Y 'tcp or udp' 2>/dev/null | wc -l)
	[ "$n" -eq 0 ] || fail "$n TCP/UDP frames of the self-talk went on the wire"
else
	echo "(libustack-preload.so or /usr/bin/python3 missing: the one-process case is not run)"
fi

note "ustackd: its counters have lo's block"
# ustackd answers the kernel's ping on eth0; nothing of it may count on lo.
cat >"$TMP/d.yaml" <<EOF
interfaces:
  eth0:
    backend: tap
    device: tap1
    addresses: [10.9.4.2/24]
EOF
start "$ns" "$TMP/d.log" "$BIN/ustackd" -C "$TMP/d.yaml"
dpid=$LAST_PID
wait_for 10 "ustackd answers ping" ip netns exec "$ns" ping -c 1 -W 1 10.9.4.2
kill -USR1 "$dpid"
wait_for 10 "a counter dump with lo" grep -q '^interface lo:$' "$TMP/d.log"
stop_pid "$dpid"
lo_sent=$(awk '/^interface lo:$/ { inlo = 1; next } /^[^ ]/ { inlo = 0 }
	inlo && / frames sent$/ { v = $1 } END { print v }' "$TMP/d.log")
[ "$lo_sent" = 0 ] || fail "ustackd: lo sent '$lo_sent' frames while nothing talked to itself"
echo ok
