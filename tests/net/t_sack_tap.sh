#!/usr/bin/env bash
# t_sack_tap.sh — SACK, the receiver's side (RFC 2018, issue 13): the kernel
# sends 5 MB to usnc -l through a TAP whose impairment drops 2% of what comes
# in. tcpdump on the kernel's tap0 shows what went over the wire:
# - the kernel's SYN offers SACK-permitted and our SYN-ACK offers it back;
# - our ACKs carry SACK blocks while data is held out of order, every block
#   above the cumulative ACK and not empty (RFC 2018 3);
# - and the data arrives whole: SHA-256 equal.
# Then with tcp.sack: false the SYN-ACK offers no SACK and no ACK carries a
# block, and the transfer still completes.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum tcpdump tshark

ns=$(new_ns sack)
tap_up "$ns" tap0 10.9.133.1/24
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_sack=1
head -c 5000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

# run NAME SACK PORT — kernel nc -> usnc -l through 2% loss coming in,
# captured (headers only) in $TMP/NAME.pcap.
run() {
	cat > "$TMP/$1.yaml" <<Y
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.133.2/24]
    impair: {in: {loss: 0.02}}
stack: {seed: 13}
tcp: {sack: $2}
Y
	start "$ns" "$TMP/$1.tcpdump.log" tcpdump -i tap0 -nn -s 128 -w "$TMP/$1.pcap" tcp
	local w=$LAST_PID
	wait_for 5 "tcpdump to listen" grep -q 'listening on' "$TMP/$1.tcpdump.log"
	start "$ns" "$TMP/$1.u.log" sh -c "exec '$BIN/usnc' -v -l -p $3 --stack-config '$TMP/$1.yaml' > '$TMP/$1.got'"
	local u=$LAST_PID
	wait_for 5 "usnc to listen" grep -q '^Listening on' "$TMP/$1.u.log"
	ip netns exec "$ns" timeout 120 nc -N 10.9.133.2 "$3" < "$TMP/data" || fail "kernel nc client exit $?"
	wait_for 30 "usnc -l to finish" sh -c "! kill -0 $u"
	wait "$u" || fail "usnc -l exit $?"
	local got
	got=$(sha256sum < "$TMP/$1.got" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "usnc received $(wc -c < "$TMP/$1.got") bytes with another SHA-256"
	kill -TERM "$w" 2>/dev/null
	wait "$w"
}

# count NAME FILTER — frames of the capture matching a tshark display filter.
count() {
	tshark -r "$TMP/$1.pcap" -Y "$2" 2>/dev/null | wc -l
}

note "kernel nc -> usnc -l through 2% loss, tcp.sack: true"
run on true 7400
[ "$(count on 'ip.src==10.9.133.1 && tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.options.sack_perm')" -ge 1 ] ||
	fail "the kernel's SYN did not offer SACK-permitted"
[ "$(count on 'ip.src==10.9.133.2 && tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.options.sack_perm')" -ge 1 ] ||
	fail "our SYN-ACK did not offer SACK-permitted"
tshark -r "$TMP/on.pcap" -o tcp.relative_sequence_numbers:FALSE \
	-Y 'ip.src==10.9.133.2 && tcp.options.sack_le' \
	-T fields -e tcp.ack -e tcp.options.sack_le -e tcp.options.sack_re 2>/dev/null > "$TMP/blocks"
nsack=$(wc -l < "$TMP/blocks")
note "$nsack of our ACKs carried SACK blocks"
[ "$nsack" -ge 5 ] || fail "only $nsack ACKs with SACK blocks through 2% loss"
# Each block [le, re) lies above the ACK (beyond a D-SACK, which may lie
# below it: RFC 2883) and is not empty; modulo 2^32.
awk -F'\t' '
	function d(a, b) { x = (a - b) % 4294967296; if (x < 0) x += 4294967296; return x }
	{
		n = split($2, le, ","); split($3, re, ",")
		if (n < 1 || n > 3) { print "bad block count " n ": " $0; bad = 1 }
		for (i = 1; i <= n; i++) {
			if (d(re[i], le[i]) == 0 || d(re[i], le[i]) >= 2147483648) { print "empty or inverted block: " $0; bad = 1 }
			dsack = i == 1 && d($1, re[i]) < 2147483648
			if (!dsack && d(le[i], $1) >= 2147483648) { print "block below the ACK: " $0; bad = 1 }
		}
	}
	END { exit bad }' "$TMP/blocks" || fail "malformed SACK blocks (above)"

note "the same with tcp.sack: false"
run off false 7401
[ "$(count off 'ip.src==10.9.133.2 && tcp.options.sack_perm')" -eq 0 ] ||
	fail "SACK-permitted offered with tcp.sack: false"
[ "$(count off 'ip.src==10.9.133.2 && tcp.options.sack_le')" -eq 0 ] ||
	fail "SACK blocks sent with tcp.sack: false"
echo "ok: 2 x 5 MB through 2% loss; $nsack ACKs with SACK blocks; none with tcp.sack: false"
