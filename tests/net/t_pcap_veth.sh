#!/usr/bin/env bash
# The pcap backend on one end of a veth pair: the stack (in namespace A,
# no kernel address on its veth) and the kernel (namespace B) ping each
# other, small and fragmented.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping

a=$(new_ns pa)
b=$(new_ns pb)
veth_up "$a" veth0 - "$b" veth1 10.9.2.1/24

start_ustackd "$a" "$TMP/ustackd.log" --pcap veth0 --addr 10.9.2.2/24
d=$LAST_PID

note "kernel (B) pings the stack (A) through pcap"
ip netns exec "$b" ping -c 3 -i 0.2 -W 2 10.9.2.2 | tee "$TMP/p1"
grep -q ' 0% packet loss' "$TMP/p1" || { cat "$TMP/ustackd.log"; fail "pings to the pcap stack were lost"; }
ip netns exec "$b" ping -c 2 -i 0.3 -W 2 -s 4000 10.9.2.2 | tee "$TMP/p2"
grep -q ' 0% packet loss' "$TMP/p2" || fail "fragmented pings to the pcap stack were lost"
stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"

note "usping (A, pcap) pings the kernel (B)"
ip netns exec "$a" timeout 30 "$BIN/usping" -c 3 -i 0.2 -W 3 -s 3000 --pcap veth0 --addr 10.9.2.3/24 10.9.2.1 \
	> "$TMP/o1" 2>&1
rc=$?
cat "$TMP/o1"
[ $rc -eq 0 ] || fail "usping over pcap exit $rc"
grep -q '^3 packets transmitted, 3 received, 0% packet loss' "$TMP/o1" || fail "usping over pcap lost replies"
echo ok
