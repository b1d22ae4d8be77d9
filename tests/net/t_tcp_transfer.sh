#!/usr/bin/env bash
# 100 MB from usnc to the kernel's nc -l and 100 MB back from the kernel's
# nc to usnc -l, over TAP; SHA-256 equal at both ends.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum

ns=$(new_ns xfer)
ip netns exec "$ns" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
ip netns exec "$ns" ip addr add 10.9.7.1/24 dev tap0
ip netns exec "$ns" ip link set tap0 up
Q="--tap tap0 --addr 10.9.7.2/24"
head -c 100000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

note "usnc -> kernel nc -l: 100 MB"
start "$ns" "$TMP/k.log" sh -c "exec nc -l -p 7100 > '$TMP/got1'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7100'"
ip netns exec "$ns" timeout 120 "$BIN/usnc" -N $Q 10.9.7.1 7100 < "$TMP/data" || fail "usnc client exit $?"
wait "$k" || fail "kernel nc exit $?"
got=$(sha256sum < "$TMP/got1" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel received $(wc -c < "$TMP/got1") bytes with another SHA-256"

note "kernel nc -> usnc -l: 100 MB"
start "$ns" "$TMP/u.log" sh -c "exec '$BIN/usnc' -v -l -p 7101 $Q > '$TMP/got2'"
u=$LAST_PID
wait_for 5 "usnc to listen" grep -q '^Listening on' "$TMP/u.log"
ip netns exec "$ns" timeout 120 nc -N 10.9.7.2 7101 < "$TMP/data" || fail "kernel nc client exit $?"
wait "$u" || fail "usnc -l exit $?"
got=$(sha256sum < "$TMP/got2" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "usnc received $(wc -c < "$TMP/got2") bytes with another SHA-256"
echo "ok: 2 x 100 MB, sha256 $want"
