#!/usr/bin/env bash
# SYN flood (issue 10): 100,000 spoofed SYNs (or 20 s of them) at
# ustackd's TCP echo service while 50 real kernel clients connect and
# exchange 10 KB each. With SYN cookies (tcp.syncookies, on by default) all
# 50 are served, as Linux with tcp_syncookies = 1 serves them; ustackd's
# memory growth stays bounded (the SYN queue holds at most the backlog).
#
# The spoofed sources are in 10.9.77.0/24, which exists only inside this
# test's namespaces: each server routes it back to the flooding namespace,
# which does not forward and drops the SYN-ACKs.
#
# Reference, same flood, same clients, same budgets, same machine load:
# the Linux kernel's own listener (echo_server.py, backlog 1024 as
# ustackd's echo service, tcp_syncookies = 1) behind a veth. It must serve
# all 50 with cookies, or the test's conditions are wrong for this machine
# and the test says so. The clients start once the flood is under way
# (5,000 SYNs sent), so on a fast machine too they connect during it, and
# every one of them gets a cookie: the flood's entries fill the SYN queue
# for a minute (their SYN-ACKs are retransmitted), so each server must
# count at least 50 valid cookies.
#
# Why this test used to fail on a loaded machine (47-49 of 50; see
# doc/TCP.md "SYN cookies: a lost handshake ACK under a flood"): ustackd
# reads the flood from the TAP queue (1,000 frames) and, starved of CPU,
# falls behind; the kernel then drops 20-60 % of the frames for it, real
# clients' included (printed below: the TAP's TX dropped). A client whose
# handshake ACK and first data segments were all lost sent a later segment
# (its tail loss probe) first, which cannot prove the cookie; the RST that
# Linux (and ustackd then) answers that with killed the connection. The
# kernel listener never falls behind: it handles each SYN in the sender's
# own system call.
. "$(dirname "$0")/lib.sh"
need_root
/usr/bin/python3 -c 'import socket' 2>/dev/null || skip "python3 is missing"
need_cmd nstat ss
here=$(cd "$(dirname "$0")" && pwd)

SYNS=${SYNFLOOD_SYNS:-100000}
ns=$(new_ns synflood)           # the flood and the clients; the kernel end of the TAP
nsk=$(new_ns synfloodk)         # the kernel reference server
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 || fail "sysctl ip_forward in $ns"

# flood_clients TAG DST: the flood at DST:7, the 50 clients once it is under
# way; sets CRC (the clients' exit status) and prints what they saw.
flood_clients() {
	local tag=$1 dst=$2 f running=no
	start "$ns" "$TMP/flood-$tag.log" timeout 60 /usr/bin/python3 "$here/synflood.py" \
		"$dst" 7 10.9.77 "$SYNS" 20
	f=$LAST_PID
	wait_for 20 "the flood at $tag to be under way" grep -q -E '^(flooding|sent)' "$TMP/flood-$tag.log"
	# Budgets: 30 s to connect, to open all 50 and for the data each; the
	# outer bound only stops a hang (the clients report their own timeouts).
	ip netns exec "$ns" timeout 120 /usr/bin/python3 "$here/echo_clients.py" "$dst" 7 50 10000 30 \
		> "$TMP/clients-$tag.log" 2>&1
	CRC=$?
	kill -0 "$f" 2>/dev/null && running=yes
	wait "$f"
	sed "s/^/  $tag: /" "$TMP/clients-$tag.log"
	grep -v '^flooding' "$TMP/flood-$tag.log" | sed "s/^/  $tag flood: /"
	[ "$running" = yes ] || note "(the flood at $tag ended before the clients did)"
}

note "reference: the kernel's listener (tcp_syncookies = 1) behind a veth"
veth_up "$ns" vc 10.9.75.1/24 "$nsk" vk 10.9.75.2/24
ip -n "$nsk" route add 10.9.77.0/24 via 10.9.75.1 || fail "route in $nsk"
ip netns exec "$nsk" sysctl -qw net.ipv4.tcp_syncookies=1 || fail "sysctl tcp_syncookies in $nsk"
start "$nsk" "$TMP/kserver.log" /usr/bin/python3 "$here/echo_server.py" 10.9.75.2 7 1024
ks=$LAST_PID
wait_for 10 "the kernel's echo server to listen" grep -q listening "$TMP/kserver.log"
flood_clients kernel 10.9.75.2
kcookies() { ip netns exec "$nsk" nstat -asz "$1" | awk -v n="$1" '$1 == n { print $2 }'; }
ksent=$(kcookies TcpExtSyncookiesSent)
kvalid=$(kcookies TcpExtSyncookiesRecv)
kfailed=$(kcookies TcpExtSyncookiesFailed)
echo "kernel: cookies sent $ksent, valid $kvalid, failed $kfailed"
[ "$CRC" -eq 0 ] ||
	fail "the kernel reference did not serve all 50 clients under this flood: the test's conditions (budgets, load) are wrong here, not ustackd"
[ "${kvalid:-0}" -ge 50 ] ||
	fail "the kernel made only ${kvalid:-0} connections from cookies: the flood did not fill its SYN queue"
stop_pid "$ks" >/dev/null 2>&1

note "ustackd over TAP"
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

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$d/status"; }
# Frames the kernel had for ustackd but could not queue (ustackd behind).
tap_drops() { ip -n "$ns" -s -j link show tap0 | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'; }
note "warm-up: one echo exchange"
ip netns exec "$ns" timeout 20 /usr/bin/python3 "$here/echo_clients.py" 10.9.76.2 7 1 1000 10 \
	|| fail "echo before the flood failed"
rss0=$(rss_kb)
drops0=$(tap_drops)

note "flood: $SYNS spoofed SYNs (20 s at most), 50 clients during it"
flood_clients ustackd 10.9.76.2
rss1=$(rss_kb)
echo "ustackd: frames the kernel dropped at the TAP queue during the flood: $(( $(tap_drops) - drops0 ))"

note "after the flood: a new client is served at once"
ip netns exec "$ns" timeout 20 /usr/bin/python3 "$here/echo_clients.py" 10.9.76.2 7 1 1000 10 \
	|| fail "echo after the flood failed"
stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/ustackd.log"
sent=$(counter "$TMP/ustackd.log" tcp "SYN cookies sent (SYN queue full)")
valid=$(counter "$TMP/ustackd.log" tcp "valid SYN cookies received (connections made)")
failed=$(counter "$TMP/ustackd.log" tcp "invalid SYN cookies received (answered with RST)")
held=$(counter "$TMP/ustackd.log" tcp "data or FIN not proving a SYN cookie while cookies are in use (dropped, no RST: the peer resends its first segment)")
echo "ustackd: RSS ${rss0} KiB before, ${rss1} KiB after the flood; cookies sent $sent, valid $valid, failed $failed, data before the cookie's first segment $held"
[ "$CRC" -eq 0 ] || fail "not all 50 clients were served during the flood"
[ "$sent" != missing ] && [ "$sent" -gt 1000 ] || fail "only $sent SYN cookies sent during the flood"
# 50 clients during the flood + the one after it (the warm-up's came
# before the queue was full).
[ "$valid" -ge 51 ] || fail "only $valid clients connected with a cookie: the flood did not fill the queue"
# Bounded: the SYN queue holds at most the backlog (1024) of embryonic
# connections whatever the flood's size; allow 128 MiB for them.
[ $((rss1 - rss0)) -lt 131072 ] || fail "RSS grew by $((rss1 - rss0)) KiB during the flood"
echo ok
