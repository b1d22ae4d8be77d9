#!/usr/bin/env bash
# Connection refused and reset, as a user sees them: usnc to a closed port
# exits 1 with "Connection refused"; usnc -z reports open and closed ports
# by exit code; a connection the kernel resets ends usnc with
# "Connection reset by peer" and exit 1; a connect to a silent address
# fails (ARP) with "No route to host".
. "$(dirname "$0")/lib.sh"
need_root
need_cmd socat

ns=$(new_ns err)
tap_up "$ns" tap0 10.9.8.1/24
Q="--tap tap0 --addr 10.9.8.2/24"

note "closed port: ECONNREFUSED"
ip netns exec "$ns" timeout 20 "$BIN/usnc" $Q 10.9.8.1 7999 < /dev/null > /dev/null 2> "$TMP/e1"
rc=$?; cat "$TMP/e1"
[ $rc -eq 1 ] || fail "usnc to a closed port exit $rc, expected 1"
grep -q 'Connection refused' "$TMP/e1" || fail "no 'Connection refused'"

note "usnc -z: open port 0, closed port 1"
start "$ns" "$TMP/l.log" socat TCP4-LISTEN:7200,bind=10.9.8.1,reuseaddr,fork /dev/null
wait_for 5 "socat to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7200'"
ip netns exec "$ns" timeout 20 "$BIN/usnc" -z $Q 10.9.8.1 7200; rc=$?
[ $rc -eq 0 ] || fail "usnc -z to an open port exit $rc"
ip netns exec "$ns" timeout 20 "$BIN/usnc" -z $Q 10.9.8.1 7201 2>/dev/null; rc=$?
[ $rc -eq 1 ] || fail "usnc -z to a closed port exit $rc"

note "reset by the peer"
# A kernel server that closes with SO_LINGER 0 after reading: an RST, not a FIN.
cat > "$TMP/rst.py" <<'PY'
import socket, struct
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.9.8.1", 7300)); s.listen(1)
c, _ = s.accept(); c.recv(100)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
PY
start "$ns" "$TMP/rst.log" /usr/bin/python3 "$TMP/rst.py"
wait_for 5 "the resetting server to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7300'"
(echo hello; sleep 3) | ip netns exec "$ns" timeout 20 "$BIN/usnc" $Q 10.9.8.1 7300 > /dev/null 2> "$TMP/e2"
rc=${PIPESTATUS[1]}; cat "$TMP/e2"
[ $rc -eq 1 ] || fail "usnc after a reset exit $rc, expected 1"
grep -q 'Connection reset by peer' "$TMP/e2" || fail "no 'Connection reset by peer'"

note "silent address: EHOSTUNREACH after ARP gives up"
ip netns exec "$ns" timeout 20 "$BIN/usnc" $Q 10.9.8.77 80 < /dev/null 2> "$TMP/e3"
rc=$?; cat "$TMP/e3"
[ $rc -eq 1 ] || fail "usnc to a silent address exit $rc"
grep -q 'No route to host' "$TMP/e3" || fail "no 'No route to host'"
echo ok
