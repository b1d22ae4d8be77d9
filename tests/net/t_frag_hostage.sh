#!/usr/bin/env bash
# Reassembly cannot be held hostage (issue 8 item 11): never-completing
# first fragments, as many as there are reassembly slots (16), sent by
# scapy from spoofed sources, then from the pinging host's own address;
# after each flood a kernel `ping -s 3000` (3 fragments each way) to the
# stack over TAP is answered at once, as Linux answers it. Before the
# fix the flood held every slot for the 30 s reassembly timeout and the
# ping got no reply. The eviction counters must show what happened.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping
/usr/bin/python3 -c 'import scapy' 2>/dev/null || skip "python3-scapy is not installed (make deps)"

ns=$(new_ns frag)
mac=02:00:00:00:0b:02
start "$ns" "$TMP/ustackd.log" "$BIN/ustackd" --tap tap0 --addr 10.9.11.2/24 --mac $mac
d=$LAST_PID
stack_tap_up "$ns" tap0 10.9.11.1/24
ip netns exec "$ns" ping -c 1 -W 2 -s 3000 10.9.11.2 >/dev/null \
	|| fail "no reply to a fragmented ping before the flood"

flood() {
	ip netns exec "$ns" /usr/bin/python3 "$(dirname "$0")/fragflood.py" tap0 $mac 10.9.11.2 "$@" \
		|| fail "fragflood.py $* failed"
}
big_ping() {
	# -W 2: "at once" is well inside the 30 s the flood used to hold the slots.
	ip netns exec "$ns" ping -c 1 -W 2 -s 3000 10.9.11.2 >"$TMP/p"
	local rc=$?
	cat "$TMP/p"
	[ $rc -eq 0 ] || fail "no reply to ping -s 3000 after $1"
	grep -q '3008 bytes from 10.9.11.2' "$TMP/p" || fail "no whole 3008-byte reply after $1"
}

note "16 first fragments from 16 spoofed sources"
flood 10.9.11.100 16
big_ping "16 bogus first fragments from other sources"

note "16 first fragments from the pinging host's own address"
flood 10.9.11.1 16 --same-source
big_ping "16 bogus first fragments from the same source"

stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
log=$TMP/ustackd.log
check() { counter_ge "$log" "$@"; }
# The first ping's datagram evicts one spoofed datagram (the least recently
# used); the second flood takes 4 slots (the source's share, US_REASM_SRC_SLOTS)
# by evicting spoofed ones, then recycles its own: 12 + 1 for the ping.
check ip "datagrams dropped: evicted, the oldest, for a new one (table full)" 1
check ip "datagrams dropped: evicted, a source's oldest, for its new one (share used)" 13
check ip "datagrams reassembled" 3
v=$(counter "$log" ip "fragments dropped: reassembly limits reached")
[ "$v" = 0 ] || fail "fragments were refused ($v) instead of evicting"
echo ok
