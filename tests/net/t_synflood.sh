#!/usr/bin/env bash
# SYN flood (issue 10): 100,000 spoofed SYNs (or 20 s of them) at
# ustackd's TCP echo service while 50 real kernel clients connect and
# exchange data. With SYN cookies (tcp.syncookies, on by default) all 50
# are served, as Linux with tcp_syncookies = 1 serves them; ustackd's
# memory growth stays bounded (the SYN queue holds at most the backlog).
#
# The spoofed sources are in 10.9.77.0/24, which exists only inside this
# test's namespace: ustackd routes it to the kernel end of the TAP
# (10.9.76.1), which has no such network and drops the SYN-ACKs.
. "$(dirname "$0")/lib.sh"
need_root
/usr/bin/python3 -c 'import socket' 2>/dev/null || skip "python3 is missing"

SYNS=${SYNFLOOD_SYNS:-100000}
ns=$(new_ns synflood)
cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.76.2/24]
routes:
  - {to: 10.9.77.0/24, via: 10.9.76.1}
services:
  - {type: echo, proto: tcp, port: 7}
YAML
start_ustackd -t tap0 10.9.76.1/24 "$ns" "$TMP/ustackd.log" -C "$TMP/host.yaml"
d=$LAST_PID
# The kernel's own SYN queue is not under test: its clients retry SYNs as usual.

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$d/status"; }
note "warm-up: one echo exchange"
ip netns exec "$ns" timeout 20 /usr/bin/python3 "$(dirname "$0")/echo_clients.py" 10.9.76.2 7 1 1000 10 \
	|| fail "echo before the flood failed"
rss0=$(rss_kb)

note "flood: $SYNS spoofed SYNs (20 s at most), 50 clients during it"
start "$ns" "$TMP/flood.log" timeout 60 /usr/bin/python3 "$(dirname "$0")/synflood.py" \
	10.9.76.2 7 10.9.77 "$SYNS" 20
flood=$LAST_PID
sleep 1         # the flood is running: the listener's queue is full by now
ip netns exec "$ns" timeout 60 /usr/bin/python3 "$(dirname "$0")/echo_clients.py" 10.9.76.2 7 50 10000 30 \
	> "$TMP/clients.log" 2>&1
crc=$?
cat "$TMP/clients.log" | tail -3
running=no
kill -0 "$flood" 2>/dev/null && running=yes
wait "$flood"
cat "$TMP/flood.log"
rss1=$(rss_kb)
[ "$crc" -eq 0 ] || fail "not all 50 clients were served during the flood"
[ "$running" = yes ] || note "(the flood ended before the clients did)"

note "after the flood: a new client is served at once"
ip netns exec "$ns" timeout 20 /usr/bin/python3 "$(dirname "$0")/echo_clients.py" 10.9.76.2 7 1 1000 10 \
	|| fail "echo after the flood failed"
stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
sent=$(counter "$TMP/ustackd.log" tcp "SYN cookies sent (SYN queue full)")
valid=$(counter "$TMP/ustackd.log" tcp "valid SYN cookies received (connections made)")
echo "RSS ${rss0} KiB before, ${rss1} KiB after the flood; cookies sent $sent, valid $valid"
[ "$sent" != missing ] && [ "$sent" -gt 1000 ] || fail "only $sent SYN cookies sent during the flood"
[ "$valid" -ge 1 ] || fail "no client connected with a cookie ($valid): the flood never filled the queue"
# Bounded: the SYN queue holds at most the backlog (1024) of embryonic
# connections whatever the flood's size; allow 128 MiB for them.
[ $((rss1 - rss0)) -lt 131072 ] || fail "RSS grew by $((rss1 - rss0)) KiB during the flood"
echo ok
