#!/usr/bin/env bash
# 100 MB from usnc to the kernel's nc -l and 100 MB back from the kernel's
# nc to usnc -l, over TAP; SHA-256 equal at both ends.
#
# With the TAP's offloads (the default; XFER_OFFLOAD=false runs the same
# with `offload: false`, t_tcp_transfer_nooffload.sh): tcpdump on the
# kernel's side of the TAP must see TCP frames longer than the 1500-byte
# MTU both ways: from the stack (its TSO frames, which the kernel takes
# whole) and from the kernel (its GSO aggregates, which it only sends to
# a TAP that took TUNSETOFFLOAD), so the data went through the large-frame,
# checksum-offloaded paths. Without offloads it must see none.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum tcpdump
OFFLOAD=${XFER_OFFLOAD:-true}

ns=$(new_ns xfer)
tap_up "$ns" tap0 10.9.7.1/24
cat > "$TMP/stack.yaml" <<YAML
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [10.9.7.2/24]
    offload: $OFFLOAD
YAML
Q="--stack-config $TMP/stack.yaml"
sed 's/offload: .*/offload: true/' "$TMP/stack.yaml" > "$TMP/on.yaml"
if [ "$OFFLOAD" = false ]; then
	# The TAP outlives a stack: one that used offloads leaves them set on
	# it, and a stack without them must turn them off again (else the
	# kernel sends it checksums left undone that it cannot recognise).
	note "a stack with offloads on the TAP first"
	ip netns exec "$ns" timeout 20 "$BIN/usping" -c 1 -C "$TMP/on.yaml" 10.9.7.1 >/dev/null ||
		fail "usping with offloads on"
fi
head -c 100000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

# watch NAME FILTER — tcpdump on the kernel's tap0: the first frame longer
# than the MTU's 1514 bytes that matches FILTER goes to $TMP/NAME.pcap.
watch() {
	start "$ns" "$TMP/$1.tcpdump.log" tcpdump -i tap0 -nn -s 96 -c 1 -w "$TMP/$1.pcap" \
		"greater 1515 and $2"
	WATCH_PID=$LAST_PID
	wait_for 5 "tcpdump to listen" grep -q 'listening on' "$TMP/$1.tcpdump.log"
}
# large NAME — how many large frames the watch saw (0 or 1).
large() {
	kill -TERM "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID"
	tcpdump -nn -r "$TMP/$1.pcap" 2>/dev/null | wc -l
}

note "usnc -> kernel nc -l: 100 MB (offload: $OFFLOAD)"
watch tx "tcp and src host 10.9.7.2"
start "$ns" "$TMP/k.log" sh -c "exec nc -l -p 7100 > '$TMP/got1'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7100'"
ip netns exec "$ns" timeout 120 "$BIN/usnc" -N $Q 10.9.7.1 7100 < "$TMP/data" || fail "usnc client exit $?"
wait "$k" || fail "kernel nc exit $?"
got=$(sha256sum < "$TMP/got1" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "kernel received $(wc -c < "$TMP/got1") bytes with another SHA-256"
n=$(large tx)
if [ "$OFFLOAD" = true ]; then
	[ "$n" -ge 1 ] || fail "offload on: the stack sent no TCP frame above the MTU (no TSO)"
else
	[ "$n" -eq 0 ] || fail "offload off: the stack sent a TCP frame above the MTU"
fi

note "kernel nc -> usnc -l: 100 MB (offload: $OFFLOAD)"
watch rx "tcp and src host 10.9.7.1"
start "$ns" "$TMP/u.log" sh -c "exec '$BIN/usnc' -v -l -p 7101 $Q > '$TMP/got2'"
u=$LAST_PID
wait_for 5 "usnc to listen" grep -q '^Listening on' "$TMP/u.log"
ip netns exec "$ns" timeout 120 nc -N 10.9.7.2 7101 < "$TMP/data" || fail "kernel nc client exit $?"
wait "$u" || fail "usnc -l exit $?"
got=$(sha256sum < "$TMP/got2" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "usnc received $(wc -c < "$TMP/got2") bytes with another SHA-256"
n=$(large rx)
if [ "$OFFLOAD" = true ]; then
	[ "$n" -ge 1 ] || fail "offload on: the kernel sent no TCP frame above the MTU (no GSO to the TAP)"
else
	[ "$n" -eq 0 ] || fail "offload off: the kernel sent a TCP frame above the MTU"
fi
echo "ok: 2 x 100 MB, sha256 $want, offload $OFFLOAD"
