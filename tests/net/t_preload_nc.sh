#!/usr/bin/env bash
# libustack-preload.so under OpenBSD nc and socat (doc/PRELOAD.md), kernel
# peers over TAP, every transfer checked by SHA-256:
#  - nc over the shim as a client (connect, poll, write, shutdown with -N)
#    sends 1 MB to a kernel nc -l;
#  - nc over the shim as a server (bind, listen, accept4, read) receives
#    1 MB from a kernel nc;
#  - socat over the shim relays TCP (accept on one ustack socket, connect
#    on another, its poll loop over both) from a kernel client to a kernel
#    server;
#  - socat over the shim sends a UDP datagram and receives the kernel's
#    echo (sendto/recvfrom on a ustack datagram socket).
# Each kernel peer checks that its peer is the stack's address, so a
# program that bypassed the shim (and used the kernel's) would fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd sha256sum ss socat
command -v nc.openbsd >/dev/null || skip "nc.openbsd is not installed (make deps)"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup prenc 41
head -c 1000000 /dev/urandom > "$TMP/data.bin"
want=$(sha "$TMP/data.bin")

# listening NS ADDR:PORT — the kernel shows a TCP listener there.
klistening() { ip netns exec "$ns" ss -tln | grep -q "$1"; }

# send_to_shim PORT LOG WHAT — a kernel nc sends data.bin to the stack's
# PORT; the shim's listener is not the kernel's (no ss), so retry the
# connection for up to 10 s.
send_to_shim() {
	local _
	for _ in $(seq 50); do
		ip netns exec "$ns" timeout 20 nc.openbsd -N "$UADDR" "$1" < "$TMP/data.bin" 2>/dev/null && return 0
		sleep 0.2
	done
	cat "$2"
	fail "no connection to $3 in 10 s"
}
# wait_exit PID LOG MESSAGE — PID must exit within 10 s.
wait_exit() {
	local _
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	cat "$2"
	fail "$3"
}

note "nc over the shim sends 1 MB to a kernel nc -l"
start "$ns" "$TMP/k1.out" sh -c "exec nc.openbsd -n -v -l $KADDR 9001 > $TMP/k1.bin"
kpid=$LAST_PID
wait_for 10 "kernel nc to listen on :9001" klistening "$KADDR:9001"
shim nc.openbsd -N "$KADDR" 9001 < "$TMP/data.bin" > "$TMP/c1.out" 2>&1 ||
	{ cat "$TMP/c1.out"; fail "nc over the shim exit $?"; }
for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$kpid" 2>/dev/null && fail "the kernel nc did not see EOF (no FIN from the shim's nc)"
[ "$(sha "$TMP/k1.bin")" = "$want" ] || fail "kernel nc got $(wc -c < "$TMP/k1.bin") bytes with another SHA-256"
grep -q "Connection received on $UADDR " "$TMP/k1.out" ||
	{ cat "$TMP/k1.out"; fail "the kernel nc's peer was not the stack's $UADDR"; }

note "nc over the shim as a server receives 1 MB from a kernel nc"
shim_start "$TMP/s2.err" sh -c "exec nc.openbsd -l 9002 > $TMP/s2.bin"
spid=$LAST_PID
send_to_shim 9002 "$TMP/s2.err" "nc -l over the shim"
wait_exit "$spid" "$TMP/s2.err" "nc -l over the shim did not exit after the client's FIN"
[ "$(sha "$TMP/s2.bin")" = "$want" ] ||
	{ cat "$TMP/s2.err"; fail "nc -l over the shim got $(wc -c < "$TMP/s2.bin") bytes with another SHA-256"; }

note "socat over the shim relays TCP from a kernel client to a kernel server"
start "$ns" "$TMP/k3.out" sh -c "exec nc.openbsd -l $KADDR 9003 > $TMP/k3.bin"
kpid=$LAST_PID
wait_for 10 "kernel nc to listen on :9003" klistening "$KADDR:9003"
shim_start "$TMP/relay.err" socat TCP-LISTEN:9004,reuseaddr "TCP:$KADDR:9003"
send_to_shim 9004 "$TMP/relay.err" "socat over the shim"
wait_exit "$kpid" "$TMP/relay.err" "the kernel server did not see EOF through the relay"
[ "$(sha "$TMP/k3.bin")" = "$want" ] ||
	{ cat "$TMP/relay.err"; fail "through socat: $(wc -c < "$TMP/k3.bin") bytes with another SHA-256"; }

note "socat over the shim: a UDP datagram to a kernel echo and its answer back"
cat > "$TMP/udpecho.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    d, a = s.recvfrom(65535)
    s.sendto(b"echo:" + a[0].encode() + b":" + d, a)
PY
start "$ns" "$TMP/udpecho.log" /usr/bin/python3 "$TMP/udpecho.py" "$KADDR" 9005
wait_for 10 "the kernel UDP echo to bind :9005" sh -c "ip netns exec $ns ss -uln | grep -q '$KADDR:9005'"
echo "hello over udp" | shim socat -t 2 - "UDP:$KADDR:9005" > "$TMP/udp.out" 2> "$TMP/udp.err" ||
	{ cat "$TMP/udp.err"; fail "socat UDP over the shim exit $?"; }
[ "$(cat "$TMP/udp.out")" = "echo:$UADDR:hello over udp" ] ||
	{ cat "$TMP/udp.err"; fail "socat UDP got '$(cat "$TMP/udp.out")'"; }
echo ok
