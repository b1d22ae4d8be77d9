#!/usr/bin/env bash
# t_trace.sh — `-v` traces read like tcpdump (issue 9). ustackd on a TAP
# with an echo service, -v, and a capture of the same interface; the
# kernel's nc talks to it. Every TCP line of the trace, from "IP " on, must
# equal what `tcpdump -n -S -t` prints for the same frame read back from the
# capture (a peer we did not write parses the frames), and the trace is in
# order: the ARP request before its reply, times of day that never go back.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc tcpdump

ns=$(new_ns trace)
tap_up "$ns" tap0 10.9.13.1/24
cat > "$TMP/host.yaml" <<Y
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.13.2/24]
    capture: $TMP/cap.pcap
services:
  - {type: echo, proto: tcp, port: 7}
Y
start_ustackd "$ns" "$TMP/d.log" -v -C "$TMP/host.yaml"
d=$LAST_PID
# The stack sends its first frame to the kernel: ARP first (no cache yet).
printf 'hello over the stack\n%.0s' $(seq 50) > "$TMP/in"
ip netns exec "$ns" timeout 10 nc -N 10.9.13.2 7 < "$TMP/in" > "$TMP/out" || fail "nc exit $?"
cmp -s "$TMP/in" "$TMP/out" || fail "echo returned other bytes"
stop_pid "$d" || fail "ustackd exit $?"

grep ' eth0 [<>] ' "$TMP/d.log" > "$TMP/trace"
[ -s "$TMP/trace" ] || fail "no trace lines"
grep ' Flags \[' "$TMP/trace" | sed 's/^.*, IP /IP /' | sort > "$TMP/ours"
tcpdump -n -S -t -r "$TMP/cap.pcap" tcp 2>/dev/null | sort > "$TMP/theirs"
n=$(wc -l < "$TMP/theirs")
[ "$n" -ge 8 ] || fail "only $n TCP frames captured"
if ! diff -u "$TMP/theirs" "$TMP/ours" > "$TMP/diff"; then
	head -30 "$TMP/diff"
	fail "the trace's TCP lines differ from tcpdump's"
fi
note "$n TCP lines equal to tcpdump's"

# Order: the first ARP request (the stack asking for 10.9.13.1, or the kernel
# asking for 10.9.13.2) comes before the reply to it, and time never goes back.
req=$(grep -n 'ARP, Request' "$TMP/trace" | head -1 | cut -d: -f1)
rep=$(grep -n 'ARP, Reply' "$TMP/trace" | head -1 | cut -d: -f1)
[ -n "$req" ] && [ -n "$rep" ] || fail "no ARP exchange traced"
[ "$req" -lt "$rep" ] || fail "ARP reply traced (line $rep) before its request (line $req)"
awk '{ split($1, t, /[:.]/); v = t[1] * 3600e6 + t[2] * 60e6 + t[3] * 1e6 + t[4];
       if (NR > 1 && v < last) { print "line " NR " goes back in time: " $0; bad = 1 }
       last = v } END { exit bad }' "$TMP/trace" || fail "trace out of order"
grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} eth0 [<>] ' "$TMP/trace" ||
	fail "trace lines do not start with the time of day"
echo "ok"
