#!/usr/bin/env bash
# t_loss_64mb.sh — 64 MB each way with the kernel through 5% loss (issue 13):
# the stack's TAP interface drops 5% of the frames in each direction
# (impair: on the interface, seeded; offloads off so that every frame is one
# MSS-sized segment the impairment can hit). Both ends negotiate SACK, so
# the stack's sender recovers by RFC 6675 with PRR and the kernel's by its
# own SACK recovery against our SACK blocks.
# - usnc -> kernel nc -l: 64 MB, SHA-256 equal;
# - kernel nc -> usnc -l: 64 MB, SHA-256 equal.
# Each transfer must finish within 300 s (a stall that waits on RTOs for
# every loss takes far longer); the times are printed.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum

ns=$(new_ns l64)
tap_up "$ns" tap0 10.9.164.1/24
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_sack=1
cat > "$TMP/lossy.yaml" <<Y
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.164.2/24]
    offload: false
    impair: {loss: 0.05}
stack: {seed: 17}
Y
head -c $((64 * 1024 * 1024)) /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

note "usnc (5% loss both ways) -> kernel nc -l: 64 MB"
start "$ns" "$TMP/k.log" sh -c "exec nc -l -p 7640 > '$TMP/got1'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7640 '"
t0=$(date +%s)
ip netns exec "$ns" timeout 300 "$BIN/usnc" -N --stack-config "$TMP/lossy.yaml" 10.9.164.1 7640 \
	< "$TMP/data" || fail "usnc client exit $? (300 s limit)"
wait_for 30 "kernel nc to finish" sh -c "! kill -0 $k"
wait "$k" || fail "kernel nc exit $?"
t1=$(date +%s)
got=$(sha256sum < "$TMP/got1" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel received $(wc -c < "$TMP/got1") bytes with another SHA-256"
echo "ustack -> kernel: 64 MB in $((t1 - t0)) s"

note "kernel nc -> usnc -l (5% loss both ways): 64 MB"
start "$ns" "$TMP/u.log" sh -c "exec '$BIN/usnc' -v -l -p 7641 --stack-config '$TMP/lossy.yaml' > '$TMP/got2'"
u=$LAST_PID
wait_for 5 "usnc to listen" grep -q '^Listening on' "$TMP/u.log"
t0=$(date +%s)
ip netns exec "$ns" timeout 300 nc -N 10.9.164.2 7641 < "$TMP/data" || fail "kernel nc client exit $? (300 s limit)"
wait_for 30 "usnc -l to finish" sh -c "! kill -0 $u"
wait "$u" || fail "usnc -l exit $?"
t1=$(date +%s)
got=$(sha256sum < "$TMP/got2" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "usnc received $(wc -c < "$TMP/got2") bytes with another SHA-256"
echo "kernel -> ustack: 64 MB in $((t1 - t0)) s"
echo "ok: 64 MB each way through 5% loss, SHA-256 equal"
