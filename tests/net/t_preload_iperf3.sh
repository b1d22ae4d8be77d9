#!/usr/bin/env bash
# libustack-preload.so under iperf3 3.x (doc/PRELOAD.md), against a kernel
# iperf3 over TAP, every result read from iperf3's --json report:
#  - iperf3 -c over the shim sends TCP to a kernel iperf3 -s; the report has
#    no "error" (iperf3 writes one when getsockopt(TCP_INFO) fails, which
#    it calls on every interval) and each interval shows a congestion
#    window and an RTT (iperf3 reads them from the stack's TCP_INFO), the
#    kernel server saw the stack's address
#    as its peer and received at least 90% of what the client sent (the
#    rest may be in flight when the test ends);
#  - iperf3 -c -R over the shim: the kernel sends, the shim's iperf3 receives;
#  - iperf3 -c -u over the shim at 100 Mbit/s: the kernel server counts the
#    datagrams, from the stack's address, with under 20% lost (the loss is
#    printed; on a loaded 2-core machine a few % are lost by either stack's
#    receiver falling behind, which is UDP working, not failing);
#  - iperf3 -s over the shim (-4: a plain iperf3 -s opens an AF_INET6
#    socket, which stays with the kernel) serves a kernel iperf3 -c, TCP
#    and then -u; the kernel client's report shows the stack's address.
# Each case's reports come from both ends, so a program that bypassed the
# shim (and used the kernel's stack) fails the address checks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd iperf3 ping
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup preipf 45
J="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/iperf_json.py"

# kserver PORT — a one-shot kernel iperf3 -s on KADDR:PORT, report in $TMP/k$PORT.json.
kserver() {
	start "$ns" "$TMP/k$1.json" iperf3 -s -1 -B "$KADDR" -p "$1" --json
	wait_for 10 "kernel iperf3 -s to listen on :$1" \
		sh -c "ip netns exec $ns ss -tln | grep -q '$KADDR:$1'"
}
# kserver_done PORT — the one-shot kernel server exits after its test.
kserver_done() {
	local pid=$LAST_PID _
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	fail "kernel iperf3 -s on :$1 did not exit after the test"
}
# kclient PORT ARGS... — a kernel iperf3 -c to the shim's server on PORT,
# report in $TMP/c$PORT.json. The shim's listener is not the kernel's (no
# ss): wait until the stack answers ping, then retry a refused connection
# for up to 10 s (between the stack's start and the program's listen()).
kclient() {
	local port=$1 _; shift
	wait_for 10 "the stack (started by iperf3 -s over the shim) to answer ping" \
		ip netns exec "$ns" ping -c1 -W1 "$UADDR"
	for _ in $(seq 20); do
		ip netns exec "$ns" timeout 30 iperf3 -c "$UADDR" -p "$port" -t 2 --json "$@" \
			> "$TMP/c$port.json" 2>&1 && return 0
		grep -q "Connection refused" "$TMP/c$port.json" || break
		sleep 0.5
	done
	cat "$TMP/c$port.json"
	fail "kernel iperf3 -c $* to the shim's server on :$port failed"
}

note "iperf3 -c over the shim, TCP, to a kernel iperf3 -s"
kserver 5301
shim iperf3 -c "$KADDR" -p 5301 -t 2 --json > "$TMP/s5301.json" 2> "$TMP/s5301.err" ||
	{ cat "$TMP/s5301.err" "$TMP/s5301.json"; fail "iperf3 -c over the shim exit $?"; }
kserver_done 5301
$J "$TMP/s5301.json" 'j["start"]["connected"][0]["local_host"] == "'"$UADDR"'"' \
	'j["end"]["sum_sent"]["bytes"] >= 1000000' \
	'all(s["streams"][0]["bytes"] > 0 for s in j["intervals"])' \
	'all(s["streams"][0]["snd_cwnd"] > 0 and s["streams"][0]["rtt"] > 0 for s in j["intervals"])' \
	'j["end"]["streams"][0]["sender"]["max_snd_cwnd"] > 0' ||
	fail "the shim client's report"
sent=$($J "$TMP/s5301.json" --get 'j["end"]["sum_sent"]["bytes"]')
$J "$TMP/k5301.json" 'j["start"]["connected"][0]["remote_host"] == "'"$UADDR"'"' \
	"j['end']['sum_received']['bytes'] >= 0.9 * $sent" ||
	fail "the kernel server's report (client sent $sent bytes)"
note "  sent $sent bytes"

note "iperf3 -c -R over the shim: the kernel sends, the shim receives"
kserver 5302
shim iperf3 -c "$KADDR" -p 5302 -t 2 -R --json > "$TMP/s5302.json" 2> "$TMP/s5302.err" ||
	{ cat "$TMP/s5302.err" "$TMP/s5302.json"; fail "iperf3 -c -R over the shim exit $?"; }
kserver_done 5302
$J "$TMP/s5302.json" 'j["end"]["sum_received"]["bytes"] >= 1000000' ||
	fail "the shim client's report (-R)"
$J "$TMP/k5302.json" 'j["start"]["connected"][0]["remote_host"] == "'"$UADDR"'"' \
	'j["end"]["sum_sent"]["bytes"] >= 1000000' || fail "the kernel server's report (-R)"

note "iperf3 -c -u over the shim at 100 Mbit/s to a kernel iperf3 -s"
kserver 5303
shim iperf3 -c "$KADDR" -p 5303 -u -b 100M -t 2 --json > "$TMP/s5303.json" 2> "$TMP/s5303.err" ||
	{ cat "$TMP/s5303.err" "$TMP/s5303.json"; fail "iperf3 -c -u over the shim exit $?"; }
kserver_done 5303
$J "$TMP/s5303.json" 'j["start"]["test_start"]["protocol"] == "UDP"' \
	'j["end"]["sum"]["packets"] >= 1000' || fail "the shim client's UDP report"
$J "$TMP/k5303.json" 'j["start"]["connected"][0]["remote_host"] == "'"$UADDR"'"' \
	'j["end"]["sum"]["packets"] >= 1000' 'j["end"]["sum"]["lost_percent"] < 20' ||
	fail "the kernel server's UDP report"
note "  lost $($J "$TMP/k5303.json" --get 'j["end"]["sum"]["lost_percent"]')%"

note "iperf3 -s over the shim serves a kernel iperf3 -c, TCP"
shim_start "$TMP/s5304.json" iperf3 -s -4 -1 -p 5304 --json
spid=$LAST_PID
kclient 5304
$J "$TMP/c5304.json" 'j["start"]["connected"][0]["remote_host"] == "'"$UADDR"'"' \
	'j["end"]["sum_received"]["bytes"] >= 1000000' || fail "the kernel client's report"
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && fail "iperf3 -s -1 over the shim did not exit after its test"
$J "$TMP/s5304.json" 'j["end"]["sum_received"]["bytes"] >= 1000000' ||
	fail "the shim server's report"

note "iperf3 -s over the shim serves a kernel iperf3 -c -u at 50 Mbit/s (1 MB socket buffers)"
shim_start "$TMP/s5305.json" iperf3 -s -4 -1 -p 5305 --json
spid=$LAST_PID
kclient 5305 -u -b 50M -w 1M
$J "$TMP/c5305.json" 'j["start"]["connected"][0]["remote_host"] == "'"$UADDR"'"' \
	'j["end"]["sum"]["packets"] >= 1000' 'j["end"]["sum"]["lost_percent"] < 20' ||
	fail "the kernel client's UDP report"
note "  lost $($J "$TMP/c5305.json" --get 'j["end"]["sum"]["lost_percent"]')%"
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && fail "iperf3 -s -1 -u over the shim did not exit after its test"
$J "$TMP/s5305.json" 'j["end"]["sum"]["packets"] >= 1000' || fail "the shim server's UDP report"
echo ok
