#!/usr/bin/env bash
# Multiqueue TAP (issue 10): ustackd with `queues: 2` on its TAP serves
# parallel kernel clients, one receive thread per queue.
#
# - 16 concurrent curl downloads of an 8 MB file from ustackd's http
#   service, each with the file's SHA-256, and 16 concurrent echo clients
#   (256 KB each, compared byte for byte): the data is intact with frames
#   of many flows arriving on two queues read by two threads at once;
# - the kernel's tun driver spreads flows over the queues by their hash
#   (and steers a flow to the queue ustack sends it on): ustackd's
#   per-queue counters (SIGUSR1: "frames received on queue K") must show
#   frames on both queues, so the second queue was really read;
# - the TAP really is multiqueue: the kernel lists two queues attached
#   (/sys/class/net/tap0/queues: tx-0 and tx-1 at least);
# - a persistent single-queue TAP refuses queues: 2 with a message that
#   says why, and nothing starts.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl sha256sum
PY=/usr/bin/python3

SRV=10.9.81.2
W="$TMP/www"
mkdir -p "$W"
head -c 8000000 /dev/urandom > "$W/big.bin"
want=$(sha256sum < "$W/big.bin" | cut -d' ' -f1)

ns=$(new_ns mq)
cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [$SRV/24]
    queues: 2
services:
  - {type: http, port: 80, root: "$W"}
  - {type: echo, proto: tcp, port: 7}
YAML
start_ustackd -t tap0 10.9.81.1/24 "$ns" "$TMP/ustackd.log" -C "$TMP/host.yaml"
d=$LAST_PID
wait_for 10 "the http service to answer" ip netns exec "$ns" curl -sf -o /dev/null --max-time 2 "http://$SRV/big.bin"

txq=$(ip netns exec "$ns" sh -c 'ls -d /sys/class/net/tap0/queues/tx-* | wc -l')
[ "$txq" -ge 2 ] || fail "tap0 has $txq transmit queue(s) in the kernel, want 2 (IFF_MULTI_QUEUE)"
echo "ok: tap0 has $txq kernel queues"

# On a failed download: curl's own message, ustackd's counters (SIGUSR1)
# and the tail of its log, so a rare failure leaves something to analyse.
mq_fail() {
	echo "FAIL: $*"
	kill -USR1 "$d" 2>/dev/null && sleep 1
	for f in "$TMP"/curl*.err; do
		[ -s "$f" ] && echo "--- $(basename "$f"): $(cat "$f")"
	done
	echo "--- ustackd log (counters at the end):"
	tail -n 150 "$TMP/ustackd.log"
	exit 1
}

note "16 parallel curl downloads of 8 MB"
pids=()
for i in $(seq 1 16); do
	ip netns exec "$ns" timeout 120 curl -sSf -o "$TMP/got$i" "http://$SRV/big.bin" 2> "$TMP/curl$i.err" &
	pids+=($!)
done
for i in $(seq 1 16); do
	wait "${pids[$((i - 1))]}" || mq_fail "curl $i exit $?: $(cat "$TMP/curl$i.err")"
	got=$(sha256sum < "$TMP/got$i" | cut -d' ' -f1)
	[ "$got" = "$want" ] || mq_fail "download $i: $(wc -c < "$TMP/got$i") bytes with another SHA-256"
done
echo "ok: 16 downloads, SHA-256 equal"

note "16 parallel echo clients, 256 KB each"
ip netns exec "$ns" timeout 120 $PY "$(dirname "$0")/echo_clients.py" $SRV 7 16 262144 60 ||
	mq_fail "echo clients failed"

kill -USR1 "$d"
wait_for 5 "ustackd to print its counters" grep -q 'frames received on queue 1' "$TMP/ustackd.log"
q0=$(sed -n 's/^ *\([0-9]*\) frames received on queue 0$/\1/p' "$TMP/ustackd.log" | tail -1)
q1=$(sed -n 's/^ *\([0-9]*\) frames received on queue 1$/\1/p' "$TMP/ustackd.log" | tail -1)
echo "frames received: queue 0 $q0, queue 1 $q1"
[ "${q0:-0}" -gt 0 ] && [ "${q1:-0}" -gt 0 ] || fail "want frames on both queues: queue 0 ${q0:-none}, queue 1 ${q1:-none}"
grep -q 'frames received on queue 2' "$TMP/ustackd.log" && fail "a third queue was counted"
echo "ok: both queues received frames"
stop_pid "$d"
no_sanitizer_reports "$TMP/ustackd.log"

note "a persistent single-queue TAP refuses queues: 2"
ip netns exec "$ns" ip tuntap add dev tap1 mode tap || fail "ip tuntap add tap1"
sed 's/device: tap0/device: tap1/' "$TMP/host.yaml" > "$TMP/single.yaml"
if ip netns exec "$ns" timeout 10 "$BIN/ustackd" -C "$TMP/single.yaml" > "$TMP/single.log" 2>&1; then
	fail "ustackd started with queues: 2 on a single-queue TAP"
fi
grep -q 'single-queue' "$TMP/single.log" || fail "no reason given: $(cat "$TMP/single.log")"
echo "ok: refused: $(grep -m1 'tap1' "$TMP/single.log")"
