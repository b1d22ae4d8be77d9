#!/usr/bin/env bash
# TIME_WAIT behaviours (core/tcp_timewait.c, doc/TCP.md "TIME_WAIT as a
# compact record") checked by a scapy peer (tw_peer.py) that plays the
# client from an address no kernel owns, first against the Linux kernel
# (python3 http.server behind a veth, net.ipv4.tcp_rfc1337 = 0) as the
# reference, then against ustackd's http service over TAP; the same checks
# must pass on both:
#  - a retransmitted FIN in TIME_WAIT is ACKed again (seq = SND.NXT, ack =
#    FIN + 1), and the listing (ss -tan / ustackd's SIGUSR2) shows TIME-WAIT;
#  - an RST at RCV.NXT ends TIME_WAIT (the next FIN is answered by an RST),
#    an RST out of the window does not (the next FIN still gets the ACK);
#  - an old SYN gets TIME_WAIT's ACK; a new SYN above RCV.NXT is accepted
#    with ISS = old SND.NXT + 65537 and the new connection serves a reply;
#  - a handshake left half-open (no ACK to the SYN-ACK) is listed SYN-RECV.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ss
/usr/bin/python3 -c 'import scapy' 2>/dev/null || skip "python3-scapy is not installed (make deps)"
here=$(cd "$(dirname "$0")" && pwd)
BODY="hello-time-wait-$$"
mkdir -p "$TMP/www" && echo "$BODY" > "$TMP/www/index.html"
PMAC=02:00:00:00:3a:07          # the scapy peer's MAC; no interface has it

note "reference: the Linux kernel (tcp_rfc1337 = 0)"
nsk=$(new_ns twk)
nsp=$(new_ns twp)
ip -n "$nsk" link add vk type veth peer name vp netns "$nsp" || fail "ip link add veth"
ip -n "$nsk" addr add 10.9.58.1/24 dev vk
ip -n "$nsk" link set vk up
ip -n "$nsp" link set vp up
ip netns exec "$nsk" sysctl -qw net.ipv4.tcp_rfc1337=0 || fail "sysctl tcp_rfc1337"
ip -n "$nsk" neigh replace 10.9.58.7 lladdr $PMAC dev vk nud permanent
start "$nsk" "$TMP/k.log" /usr/bin/python3 -m http.server --bind 10.9.58.1 --directory "$TMP/www" 80
wait_for 10 "the kernel's http.server to listen on :80" \
	sh -c "ip netns exec $nsk ss -Htln | grep -q '10.9.58.1:80 '"
kmac=$(ip -n "$nsk" -o link show vk | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
ip netns exec "$nsp" timeout 90 /usr/bin/python3 "$here/tw_peer.py" vp $PMAC 10.9.58.7 "$kmac" \
	10.9.58.1 "$BODY" "ss:$nsk" > "$TMP/kernel.out" 2>&1
rc=$?
cat "$TMP/kernel.out"
[ $rc -eq 0 ] || fail "the kernel does not behave as tw_peer.py expects (exit $rc): the checks are wrong"

note "ustackd over TAP"
ns=$(new_ns twu)
ip netns exec "$ns" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
ip netns exec "$ns" ip addr add 10.9.59.1/24 dev tap0
ip netns exec "$ns" ip link set tap0 up
umac=02:00:00:00:3b:02
cat > "$TMP/host.yaml" <<Y
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.59.2/24], macaddress: "$umac"}
arp:
  static:
    - {address: 10.9.59.7, mac: "$PMAC"}
services:
  - {type: http, port: 80, root: "$TMP/www"}
Y
start "$ns" "$TMP/d.log" "$BIN/ustackd" -C "$TMP/host.yaml"
d=$LAST_PID
wait_for 5 "ustackd to come up" grep -q 'ustackd: up' "$TMP/d.log"
ip netns exec "$ns" timeout 90 /usr/bin/python3 "$here/tw_peer.py" tap0 $PMAC 10.9.59.7 $umac \
	10.9.59.2 "$BODY" "ustackd:$d:$TMP/d.log" > "$TMP/ustack.out" 2>&1
rc=$?
cat "$TMP/ustack.out"
[ $rc -eq 0 ] || fail "ustackd's TIME_WAIT differs from the kernel's (exit $rc)"
stop_pid "$d" || fail "ustackd exited with status $?"
no_sanitizer_reports "$TMP/d.log"
echo "PASS: TIME_WAIT and SYN-RECV as the kernel's"
