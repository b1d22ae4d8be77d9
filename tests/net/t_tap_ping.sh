#!/usr/bin/env bash
# The kernel pings ustackd over TAP: small and 4000-byte (fragmented both
# ways) echoes all answered; the capture ustackd wrote is read by tshark
# with no malformed frame and no checksum error.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping tshark

ns=$(new_ns tap)
cap=$TMP/ustackd.pcap
start "$ns" "$TMP/ustackd.log" "$BIN/ustackd" --tap tap0 --addr 10.9.0.2/24 --capture "$cap"
d=$LAST_PID
stack_tap_up "$ns" tap0 10.9.0.1/24

note "ping 10.9.0.2 (56 bytes)"
ip netns exec "$ns" ping -c 5 -i 0.2 -W 2 10.9.0.2 | tee "$TMP/p1" || fail "kernel ping got no reply"
grep -q ' 0% packet loss' "$TMP/p1" || fail "small pings were lost"

note "ping -s 4000 10.9.0.2 (fragments both ways)"
ip netns exec "$ns" ping -c 3 -i 0.3 -W 2 -s 4000 10.9.0.2 | tee "$TMP/p2" || fail "4000-byte ping got no reply"
grep -q ' 0% packet loss' "$TMP/p2" || fail "fragmented pings were lost"
grep -q '^4008 bytes from 10.9.0.2' "$TMP/p2" || fail "reply was not 4008 bytes"

stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
cat "$TMP/ustackd.log"
[ "$(counter "$TMP/ustackd.log" ip 'datagrams reassembled')" -ge 3 ] || fail "no reassembly counted"
[ "$(counter "$TMP/ustackd.log" ip 'fragments created on output')" -ge 9 ] || fail "no fragments sent"
[ "$(counter "$TMP/ustackd.log" icmp 'echo replies sent')" -eq 8 ] || fail "expected 8 echo replies"

note "capture read back by tshark"
frames=$(tshark -r "$cap" 2>"$TMP/tshark.err" | wc -l)
[ "$frames" -ge 20 ] || { cat "$TMP/tshark.err"; fail "capture has $frames frames, expected at least 20"; }
bad=$(tshark -r "$cap" -o ip.check_checksum:TRUE -o icmp.check_checksum:TRUE 2>/dev/null \
	-Y '_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0' | wc -l)
[ "$bad" -eq 0 ] || { tshark -r "$cap" -Y '_ws.malformed || _ws.expert.severity >= error'; fail "$bad malformed or bad-checksum frames in the capture"; }
# The reassembled ICMP replies must be seen by tshark as reassembled echoes.
replies=$(tshark -r "$cap" -Y 'icmp.type == 0 && ip.src == 10.9.0.2' 2>/dev/null | wc -l)
[ "$replies" -eq 8 ] || fail "tshark sees $replies echo replies from the stack, expected 8"
echo "ok: $frames frames captured, none malformed"
