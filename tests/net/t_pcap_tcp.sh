#!/usr/bin/env bash
# TCP over the pcap backend on a veth, with the kernel's default offloads
# left ON (issue 9): the kernel hands frames to the veth with their TCP
# checksum still to be filled in (CHECKSUM_PARTIAL) and, with TSO, as one
# large segment; the stack must take both. 20 MB each way with the kernel's
# nc, SHA-256 equal. (How fast: make bench, "bulk over pcap".)
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum ethtool

a=$(new_ns pta)
b=$(new_ns ptb)
veth_up "$a" veth0 - "$b" veth1 10.9.12.1/24
# The point of the test: the sender keeps checksum and segmentation offload.
ip netns exec "$b" ethtool -k veth1 | grep -q '^tx-checksumming: on' ||
	fail "precondition: tx checksumming is not on for veth1"
Q="--pcap veth0 --addr 10.9.12.2/24"
head -c 20000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

note "kernel nc (offloads on) -> usnc -l over pcap: 20 MB"
start "$a" "$TMP/u.log" sh -c "exec '$BIN/usnc' -v -l -p 7200 $Q > '$TMP/got1'"
u=$LAST_PID
wait_for 5 "usnc to listen" grep -q '^Listening on' "$TMP/u.log"
ip netns exec "$b" timeout 60 nc -N 10.9.12.2 7200 < "$TMP/data" || fail "kernel nc client exit $?"
wait_for 60 "usnc -l to finish" sh -c "! kill -0 $u"
wait "$u" || { cat "$TMP/u.log"; fail "usnc -l exit $?"; }
got=$(sha256sum < "$TMP/got1" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "usnc received $(wc -c < "$TMP/got1") bytes with another SHA-256"

note "usnc over pcap -> kernel nc -l (offloads on): 20 MB"
start "$b" "$TMP/k.log" sh -c "exec nc -l -p 7201 > '$TMP/got2'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $b ss -tln | grep -q ':7201'"
ip netns exec "$a" timeout 60 "$BIN/usnc" -N $Q 10.9.12.1 7201 < "$TMP/data" || fail "usnc client exit $?"
wait_for 30 "kernel nc to finish" sh -c "! kill -0 $k"
wait "$k" || fail "kernel nc exit $?"
got=$(sha256sum < "$TMP/got2" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel received $(wc -c < "$TMP/got2") bytes with another SHA-256"
echo "ok: 2 x 20 MB over pcap with the kernel's offloads on"
