#!/usr/bin/env bash
# 200 kernel clients open connections to ustackd's TCP echo service at
# once, each sends 20000 random bytes and must get exactly them back; the
# UDP echo, discard and chargen services answer too.
. "$(dirname "$0")/lib.sh"
need_root
/usr/bin/python3 -c 'import socket' 2>/dev/null || skip "python3 is missing"
need_cmd socat

ns=$(new_ns echo)
cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.6.2/24]
services:
  - {type: echo, proto: tcp, port: 7}
  - {type: echo, proto: udp, port: 7}
  - {type: discard, proto: tcp, port: 9}
  - {type: chargen, proto: tcp, port: 19}
YAML
start_ustackd -t tap0 10.9.6.1/24 "$ns" "$TMP/ustackd.log" -C "$TMP/host.yaml"
d=$LAST_PID

note "200 concurrent TCP echo clients"
ip netns exec "$ns" timeout 120 /usr/bin/python3 "$(dirname "$0")/echo_clients.py" 10.9.6.2 7 200 20000 30 \
	|| fail "not every echo client got its data back"

note "UDP echo"
out=$(printf 'ping over udp\n' | ip netns exec "$ns" socat -T 2 - UDP4:10.9.6.2:7)
[ "$out" = "ping over udp" ] || fail "UDP echo answered '$out'"

note "discard swallows, chargen streams RFC 864 lines"
head -c 100000 /dev/urandom | ip netns exec "$ns" timeout 10 socat -u - TCP4:10.9.6.2:9 || fail "discard connection failed"
ip netns exec "$ns" timeout 10 socat -u TCP4:10.9.6.2:19 - 2>/dev/null | head -c 740 > "$TMP/chargen"
first=$(head -n1 "$TMP/chargen" | tr -d '\r')
expect=$(/usr/bin/python3 -c 'print("".join(chr(32 + i % 95) for i in range(72)))')
[ "$first" = "$expect" ] || fail "chargen's first line is '$first'"
stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
est=$(counter "$TMP/ustackd.log" tcp "connections established")
[ "$est" -ge 202 ] || fail "ustackd counted $est connections, expected at least 202"
echo ok
