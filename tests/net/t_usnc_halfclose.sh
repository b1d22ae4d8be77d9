#!/usr/bin/env bash
# The peer's FIN ends reading, not sending (OpenBSD nc's rules), and
# SIGINT/SIGTERM always end usnc promptly, by the signal (130/143).
#  1. The kernel's `nc -l -N` with an empty stdin half-closes at once;
#     usnc still uploads 64 MB, then exits 0 when stdin ends; SHA-256
#     equal at the kernel's end. The same with the real nc as the client,
#     side by side, so the test shows what nc does.
#  2. A client whose stdin is still open after the server's FIN keeps
#     running (nc does) until stdin ends.
#  3. SIGTERM and SIGINT while a send is blocked on a peer that does not
#     read (the old usnc deadlocked here) end usnc within 2 s, 143 / 130.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum

ns=$(new_ns hc)
tap_up "$ns" tap0 10.9.21.1/24
Q="--tap tap0 --addr 10.9.21.2/24"
head -c 64000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

listen_nc() {   # PORT OUTFILE [nc options]: the kernel's nc -l, stdin empty
	local port=$1 out=$2; shift 2
	start "$ns" "$TMP/k$port.log" sh -c "exec nc -l $* -p $port < /dev/null > '$out'"
	wait_for 5 "nc to listen on $port" sh -c "ip netns exec $ns ss -tln | grep -q ':$port '"
}

note "reference: nc -> nc -l -N (server half-closes at once), 64 MB"
listen_nc 7300 "$TMP/ref" -N
k=$LAST_PID
ip netns exec "$ns" timeout 60 nc 10.9.21.1 7300 < "$TMP/data"; rc=$?
[ $rc -eq 0 ] || fail "reference nc client exit $rc"
wait "$k" || fail "reference nc -l exit $?"
[ "$(sha256sum < "$TMP/ref" | cut -d' ' -f1)" = "$want" ] || fail "reference run lost data"

note "usnc -> nc -l -N (server half-closes at once), 64 MB"
listen_nc 7301 "$TMP/got" -N
k=$LAST_PID
ip netns exec "$ns" timeout 60 "$BIN/usnc" $Q 10.9.21.1 7301 < "$TMP/data" > "$TMP/u.out" 2> "$TMP/u.err"
rc=$?
cat "$TMP/u.err"
[ $rc -eq 0 ] || fail "usnc exit $rc after uploading to a half-closed peer (nc: 0)"
wait "$k" || fail "kernel nc -l exit $?"
got=$(sha256sum < "$TMP/got" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel received $(wc -c < "$TMP/got") of 64000000 bytes, another SHA-256"
[ ! -s "$TMP/u.out" ] || fail "usnc printed data the server never sent"

note "after the server's FIN, usnc keeps sending while stdin is open"
listen_nc 7302 "$TMP/got2" -N
k=$LAST_PID
t0=$(date +%s%N)
{ echo first; sleep 2; echo second; } | ip netns exec "$ns" timeout 20 "$BIN/usnc" $Q 10.9.21.1 7302
rc=$?
t1=$(date +%s%N)
[ $rc -eq 0 ] || fail "usnc exit $rc"
wait "$k" || fail "kernel nc -l exit $?"
printf 'first\nsecond\n' | cmp - "$TMP/got2" || fail "server got '$(cat "$TMP/got2")', expected first and second line"
[ $(( (t1 - t0) / 1000000 )) -ge 1900 ] || fail "usnc ended before its stdin did"

# A server that accepts and never reads: usnc's sends block once the
# windows are full. Then a signal must still end it at once.
cat > "$TMP/sink.py" <<'PY'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("10.9.21.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept()
time.sleep(60)
PY
for sig in TERM INT; do
	port=$([ $sig = TERM ] && echo 7303 || echo 7304)
	want_rc=$([ $sig = TERM ] && echo 143 || echo 130)
	note "SIG$sig while blocked sending to a peer that does not read: exit $want_rc at once"
	start "$ns" "$TMP/sink$port.log" /usr/bin/python3 "$TMP/sink.py" $port
	wait_for 5 "the sink to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':$port '"
	# SIGINT is ignored in background jobs of a non-interactive shell
	# unless the job resets it: usnc must not rely on the inherited disposition.
	ip netns exec "$ns" "$BIN/usnc" $Q 10.9.21.1 $port < "$TMP/data" > /dev/null 2> "$TMP/sig.err" &
	u=$!
	PIDS+=("$u")
	# Wait until the send is stuck: the sink's receive queue is full.
	wait_for 10 "usnc to fill the sink's window" sh -c \
		"ip netns exec $ns ss -tn state established '( sport = :$port )' | awk 'NR>1 && \$1>0 {f=1} END {exit !f}'"
	sleep 0.5
	t0=$(date +%s%N)
	kill -$sig "$u"
	for _ in $(seq 40); do kill -0 "$u" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$u" 2>/dev/null && { kill -KILL "$u"; fail "usnc still running 2 s after SIG$sig"; }
	wait "$u"; rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq $want_rc ] || { cat "$TMP/sig.err"; fail "usnc exit $rc after SIG$sig, expected $want_rc"; }
	note "ended in $ms ms"
done
echo ok
