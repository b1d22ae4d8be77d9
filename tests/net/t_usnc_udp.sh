#!/usr/bin/env bash
# usnc -u and a kernel socat exchange datagrams both ways over TAP,
# including one above the MTU (fragmented both ways); a connected UDP
# socket sending to a closed port gets ECONNREFUSED (usnc: exit 1).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd socat

ns=$(new_ns udp)
tap_up "$ns" tap0 10.9.4.1/24
Q="--tap tap0 --addr 10.9.4.2/24"

# Kernel-side UDP echo service.
start "$ns" "$TMP/socat-echo.log" socat UDP4-RECVFROM:5000,bind=10.9.4.1,fork EXEC:/bin/cat
wait_for 5 "socat to listen on udp 5000" sh -c "ip netns exec $ns ss -uln | grep -q 10.9.4.1:5000"

note "usnc -u client -> kernel echo (short lines and a 3000-byte line)"
{
	echo "hello over udp"
	echo "second datagram"
	head -c 2999 /dev/zero | tr '\0' 'x'; echo
} > "$TMP/in1"
ip netns exec "$ns" timeout 30 "$BIN/usnc" -u -w 2 $Q 10.9.4.1 5000 < "$TMP/in1" > "$TMP/out1" 2> "$TMP/err1"
rc=$?
cat "$TMP/err1"
[ $rc -eq 0 ] || fail "usnc -u client exit $rc"
# socat forks a child per datagram, so the echoes may come back in any order.
sort "$TMP/in1" > "$TMP/in1.s"; sort "$TMP/out1" > "$TMP/out1.s"
cmp "$TMP/in1.s" "$TMP/out1.s" || fail "echoed datagrams differ from what was sent ($(wc -c < "$TMP/out1") bytes back)"

note "kernel socat -> usnc -u -l server, and its reply back"
printf 'reply from ustack\n' > "$TMP/in2"
start "$ns" "$TMP/srv.out" sh -c "exec '$BIN/usnc' -v -u -l -p 6000 -w 4 $Q < '$TMP/in2'"
srv=$LAST_PID
wait_for 5 "the usnc server to bind" grep -q '^Bound on 0.0.0.0 6000' "$TMP/srv.out"
big=$(head -c 3000 /dev/zero | tr '\0' 'y')
printf 'hello server\n%s\n' "$big" > "$TMP/in3"
ip netns exec "$ns" socat -T 3 - UDP4:10.9.4.2:6000 < "$TMP/in3" > "$TMP/out3" 2>&1
wait "$srv"; rc=$?
[ $rc -eq 0 ] || fail "usnc -u -l exit $rc"
grep -q '^hello server$' "$TMP/srv.out" || { cat "$TMP/srv.out"; fail "server did not print the client's datagram"; }
grep -q "^$big\$" "$TMP/srv.out" || fail "server did not receive the 3000-byte datagram intact"
grep -q '^reply from ustack$' "$TMP/out3" || { cat "$TMP/out3"; fail "client did not get the server's reply"; }

note "connected socket to a closed port: ECONNREFUSED"
printf 'one\ntwo\nthree\n' > "$TMP/in4"
ip netns exec "$ns" timeout 30 "$BIN/usnc" -u -w 3 $Q 10.9.4.1 5999 < "$TMP/in4" > "$TMP/out4" 2> "$TMP/err4"
rc=$?
cat "$TMP/err4"
[ $rc -eq 1 ] || fail "usnc -u to a closed port exit $rc, expected 1"
grep -q 'Connection refused' "$TMP/err4" || fail "no 'Connection refused' message"
echo ok
