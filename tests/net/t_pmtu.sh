#!/usr/bin/env bash
# ustack's TCP finds the path MTU (RFC 1191) through a kernel router:
#
#   usnc (ustack 10.9.70.2, MTU 1500) --tap0-- [kernel router, ns R] --vr (MTU 1280)--vb-- 10.9.71.2 kernel nc -l (ns B, MTU 1500)
#
# B's interface has MTU 1500, so B announces MSS 1460 and only the link in
# the middle is small: ustack's full-size segments (DF, as always) are
# refused by the kernel router with "fragmentation needed, mtu 1280". The
# transfer completes with the same SHA-256 only if ustack lowers its MSS
# and resends (before path MTU discovery it stalled until it gave up); a
# capture on tap0 shows the router's "fragmentation needed, mtu 1280" to
# ustack, so the path MTU was found, not avoided. (The small link itself
# is not checked for sizes: the kernel forwards GSO packets whole and
# tcpdump on the veth sees them before segmentation.) Both runs: with the
# TAP's offloads (TSO: the kernel cuts ustack's segments at its MSS) and
# without.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum tcpdump

r=$(new_ns prtr)
b=$(new_ns pb)
ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
tap_up "$r" tap0 10.9.70.1/24
veth_up "$r" vr 10.9.71.1/24 "$b" vb 10.9.71.2/24
ip -n "$r" link set vr mtu 1280
ip netns exec "$b" ip route add 10.9.70.0/24 via 10.9.71.1

head -c 5000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)
port=7300
for offload in true false; do
	cat > "$TMP/stack.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.70.2/24], offload: $offload}
routes:
  - {to: 10.9.71.0/24, via: 10.9.70.1}
YAML
	note "usnc -> kernel nc on B through the 1280 link: 5 MB (offload: $offload)"
	# The kernel router's "fragmentation needed" towards ustack, on tap0.
	start "$r" "$TMP/td.log" tcpdump -U --immediate-mode -i tap0 -nn -w "$TMP/icmp-$offload.pcap" \
		"icmp and src host 10.9.70.1 and icmp[0] == 3 and icmp[1] == 4"
	td=$LAST_PID
	wait_for 5 "tcpdump to listen" grep -q 'listening on' "$TMP/td.log"
	start "$b" "$TMP/k.log" sh -c "exec nc -l -p $port > '$TMP/got'"
	k=$LAST_PID
	wait_for 5 "nc to listen on B" sh -c "ip netns exec $b ss -tln | grep -q ':$port'"
	t0=$(date +%s)
	ip netns exec "$r" timeout 60 "$BIN/usnc" -N --stack-config "$TMP/stack.yaml" 10.9.71.2 $port \
		< "$TMP/data" || fail "usnc exit $? (offload $offload): the transfer stalled?"
	wait "$k" || fail "kernel nc exit $?"
	t1=$(date +%s)
	got=$(sha256sum < "$TMP/got" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "B received $(wc -c < "$TMP/got") bytes with another SHA-256"
	kill -TERM "$td"; wait "$td"
	# The path MTU was really found, not avoided: the router refused at
	# least one of ustack's segments and said 1280.
	n=$(tcpdump -nn -v -r "$TMP/icmp-$offload.pcap" 2>/dev/null | grep -c 'mtu 1280')
	[ "$n" -ge 1 ] || fail "the kernel router sent no 'fragmentation needed, mtu 1280' to ustack"
	echo "ok: offload $offload: 5 MB in $((t1 - t0)) s after $n fragmentation-needed"
	port=$((port + 1))
done
