#!/usr/bin/env bash
# t_impair_tap.sh — impairments on a TAP interface (issue 11): the kernel,
# which has no netem here, talks to the stack through a lossy, duplicating,
# reordering, delaying link made by the stack's own interface layer.
# - 16 MB each way with the kernel's nc through 3% loss, 1% duplication,
#   2% reordering and 2 ms delay in both directions: SHA-256 equal (the
#   issue-11 figures);
# - 200 kernel pings through 50% loss on the way in only: the replies that
#   come back are plausible for 50% (not 0, not all), and the stack's
#   counters show what was lost.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum ping

ns=$(new_ns imp)
tap_up "$ns" tap0 10.9.15.1/24
cat > "$TMP/lossy.yaml" <<Y
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.15.2/24]
    impair: {loss: 0.03, duplicate: 0.01, reorder: 0.02, delay_ms: 2, jitter_ms: 1}
stack: {seed: 11}
Y
head -c 16000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

note "usnc (lossy TAP) -> kernel nc -l: 16 MB"
start "$ns" "$TMP/k.log" sh -c "exec nc -l -p 7300 > '$TMP/got1'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7300 '"
ip netns exec "$ns" timeout 240 "$BIN/usnc" -N --stack-config "$TMP/lossy.yaml" 10.9.15.1 7300 \
	< "$TMP/data" || fail "usnc client exit $?"
wait_for 30 "kernel nc to finish" sh -c "! kill -0 $k"
wait "$k" || fail "kernel nc exit $?"
got=$(sha256sum < "$TMP/got1" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel received $(wc -c < "$TMP/got1") bytes with another SHA-256"

note "kernel nc -> usnc -l (lossy TAP): 16 MB"
start "$ns" "$TMP/u.log" sh -c "exec '$BIN/usnc' -v -l -p 7301 --stack-config '$TMP/lossy.yaml' > '$TMP/got2'"
u=$LAST_PID
wait_for 5 "usnc to listen" grep -q '^Listening on' "$TMP/u.log"
ip netns exec "$ns" timeout 240 nc -N 10.9.15.2 7301 < "$TMP/data" || fail "kernel nc client exit $?"
wait_for 30 "usnc -l to finish" sh -c "! kill -0 $u"
wait "$u" || fail "usnc -l exit $?"
got=$(sha256sum < "$TMP/got2" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "usnc received $(wc -c < "$TMP/got2") bytes with another SHA-256"

note "kernel ping through 50% loss on the way in"
cat > "$TMP/in.yaml" <<Y
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.15.2/24]
    impair: {in: {loss: 0.5}}
stack: {seed: 5}
Y
start_ustackd "$ns" "$TMP/d.log" --stack-config "$TMP/in.yaml"
d=$LAST_PID
# Static neighbour entry: ARP itself must not be what the loss hits.
mac=$(awk '/ustackd: up/ { for (i = 1; i <= NF; i++) if ($i ~ /^..:..:..:..:..:..$/) print $i }' "$TMP/d.log" | head -1)
[ -n "$mac" ] && ip netns exec "$ns" ip neigh replace 10.9.15.2 lladdr "$mac" dev tap0 nud permanent
ip netns exec "$ns" ping -c 200 -i 0.01 -W 1 -q 10.9.15.2 > "$TMP/ping" 2>&1
cat "$TMP/ping"
rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/ping")
[ -n "$rx" ] || fail "no ping summary"
# Binomial(200, 0.5): mean 100, sd 7; 6 sd either side (ARP not included
# when the static entry took).
[ "$rx" -gt 55 ] && [ "$rx" -lt 145 ] || fail "$rx of 200 pings answered through 50% loss"
stop_pid "$d" || fail "ustackd exit $?"
echo "ok: 2 x 16 MB through the lossy TAP; $rx/200 pings through 50% loss"
