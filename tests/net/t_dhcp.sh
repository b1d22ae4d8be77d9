#!/usr/bin/env bash
# t_dhcp.sh — the DHCP client (dhcp4: true, issue 11) against dnsmasq's
# DHCP and DNS server in a namespace. The kernel side of tap0 is
# 10.9.40.1/24 and also owns 10.9.41.1 (on lo: reachable from the TAP
# only through a router). dnsmasq leases 10.9.40.100-150 for 2
# minutes with router and DNS server 10.9.40.1 and T1 (option 58) 4 s.
#  - usping with a config that has no address, no route, no nameserver:
#    it gets its lease, pings the router it learned and 10.9.41.1, which
#    only the learned default route reaches;
#  - usnc resolves files.test (dnsmasq --host-record) through the DNS
#    server it learned and reaches the UDP echo on that address;
#  - ustackd holds a lease past T1 several times: each renewal is a
#    unicast DHCPREQUEST that dnsmasq acknowledges (its log and our
#    counters agree), the address is the same, and stopping releases it
#    (dnsmasq logs DHCPRELEASE). A static interface on a second TAP works
#    alongside (the kernel pings its static address).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd dnsmasq socat ping

ns=$(new_ns dhcp)
ip netns exec "$ns" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
ip netns exec "$ns" ip tuntap add dev tap1 mode tap || fail "ip tuntap add"
ip netns exec "$ns" ip addr add 10.9.40.1/24 dev tap0
ip netns exec "$ns" ip addr add 10.9.42.1/24 dev tap1
ip netns exec "$ns" ip addr add 10.9.41.1/32 dev lo
for d in tap0 tap1; do ip netns exec "$ns" ip link set "$d" up; done
start "$ns" "$TMP/dnsmasq.log" dnsmasq --no-daemon --no-resolv --no-hosts --log-queries \
	--log-dhcp --user=root --interface=tap0 --bind-interfaces --except-interface=lo \
	--pid-file="$TMP/dnsmasq.pid" --dhcp-leasefile="$TMP/leases" \
	--dhcp-range=10.9.40.100,10.9.40.150,255.255.255.0,2m \
	--dhcp-option=option:router,10.9.40.1 --dhcp-option=option:dns-server,10.9.40.1 \
	--dhcp-option=option:T1,4 \
	--local=/test/ --host-record=files.test,10.9.41.1
dm=$LAST_PID
wait_for 5 "dnsmasq to listen" sh -c "ip netns exec $ns ss -uln | grep -q ':67 '"
start "$ns" "$TMP/echo.log" socat UDP4-RECVFROM:5000,bind=10.9.41.1,fork EXEC:/bin/cat
wait_for 5 "the UDP echo to listen" sh -c "ip netns exec $ns ss -uln | grep -q '10.9.41.1:5000'"

cat > "$TMP/client.yaml" <<Y
interfaces:
  eth0: {backend: tap, device: tap0, dhcp4: true}
Y

note "usping: lease, then the learned router and a host behind it"
ip netns exec "$ns" timeout 40 "$BIN/usping" -C "$TMP/client.yaml" -c 2 -i 0.2 -W 2 10.9.40.1 \
	> "$TMP/p1" 2>&1 || { cat "$TMP/p1" "$TMP/dnsmasq.log"; fail "usping the router exit $?"; }
cat "$TMP/p1"
grep -q 'DHCP lease 10\.9\.40\.1[0-5][0-9]/24 router 10\.9\.40\.1 dns 10\.9\.40\.1 server 10\.9\.40\.1 lease 120s' "$TMP/p1" ||
	fail "usping did not report the lease dnsmasq gives"
grep -q '2 received' "$TMP/p1" || fail "no replies from the router"
ip netns exec "$ns" timeout 40 "$BIN/usping" -C "$TMP/client.yaml" -c 2 -i 0.2 -W 2 10.9.41.1 \
	> "$TMP/p2" 2>&1 || { cat "$TMP/p2"; fail "usping 10.9.41.1 through the learned default route exit $?"; }
grep -q '2 received' "$TMP/p2" || fail "no replies from behind the router"
grep -q 'DHCPACK(tap0)' "$TMP/dnsmasq.log" || fail "dnsmasq never acknowledged"

note "usnc: a name through the learned DNS server"
printf 'hello dhcp\n' | ip netns exec "$ns" timeout 40 "$BIN/usnc" -u -w 1 -C "$TMP/client.yaml" \
	files.test 5000 > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err"; fail "usnc files.test exit $?"; }
grep -q '^hello dhcp$' "$TMP/out" || { cat "$TMP/err"; fail "no echo: files.test did not resolve through the learned server"; }
grep -q 'query\[A\] files.test from 10.9.40.1[0-5][0-9]' "$TMP/dnsmasq.log" ||
	fail "dnsmasq saw no query for files.test from the leased address"

note "ustackd: renewals at T1, a static interface alongside, release at stop"
cat > "$TMP/d.yaml" <<Y
interfaces:
  eth0: {backend: tap, device: tap0, dhcp4: true}
  eth1: {backend: tap, device: tap1, addresses: [10.9.42.2/24]}
Y
start "$ns" "$TMP/d.log" "$BIN/ustackd" --stack-config "$TMP/d.yaml"
d=$LAST_PID
wait_for 40 "ustackd's lease" grep -q 'DHCP lease' "$TMP/d.log"
addr=$(sed -n 's/^ustackd: eth0: DHCP lease \([0-9.]*\)\/24.*/\1/p' "$TMP/d.log" | head -1)
[ -n "$addr" ] || fail "no address in ustackd's lease line"
ip netns exec "$ns" ping -c 1 -W 2 "$addr" > /dev/null || fail "the kernel cannot ping the leased $addr"
ip netns exec "$ns" ping -c 1 -W 2 10.9.42.2 > /dev/null || fail "the kernel cannot ping the static 10.9.42.2"
acks() { grep -c "DHCPACK(tap0) $addr" "$TMP/dnsmasq.log"; }
before=$(acks)
# T1 is 4 s: within 12 s at least two renewals.
wait_for 15 "two renewals acknowledged by dnsmasq" sh -c "[ \$(grep -c 'DHCPACK(tap0) $addr' $TMP/dnsmasq.log) -ge $((before + 2)) ]"
kill -USR1 "$d"
wait_for 5 "the counters" grep -q 'DHCPREQUEST sent to renew' "$TMP/d.log"
ip netns exec "$ns" ping -c 1 -W 2 "$addr" > /dev/null || fail "the leased $addr stopped answering after renewals"
stop_pid "$d" || fail "ustackd exit $?"
for f in "$TMP/p1" "$TMP/p2" "$TMP/err" "$TMP/d.log"; do no_sanitizer_reports "$f"; done
renews=$(counter "$TMP/d.log" dhcp "DHCPREQUEST sent to renew (unicast, after T1)")
renewed=$(counter "$TMP/d.log" dhcp "leases extended by renewing or rebinding")
bound=$(counter "$TMP/d.log" dhcp "leases bound (a new address applied)")
echo "renew requests $renews, renewed $renewed, bound $bound"
[ "$renewed" -ge 2 ] 2>/dev/null || fail "leases renewed: $renewed"
[ "$bound" = 1 ] || fail "addresses applied: $bound (a renewal must keep the address)"
grep -q "DHCPREQUEST(tap0) $addr" "$TMP/dnsmasq.log" || fail "dnsmasq saw no renewing REQUEST for $addr"
grep -q "DHCPRELEASE(tap0) $addr" "$TMP/dnsmasq.log" || { tail -20 "$TMP/dnsmasq.log"; fail "no DHCPRELEASE at stop"; }
malformed=$(counter "$TMP/d.log" dhcp "messages dropped: malformed (RFC 2131/2132)")
[ "$malformed" = 0 ] || fail "dnsmasq's messages counted malformed: $malformed"
echo "ok: lease, learned router and default route, learned DNS, $renewed renewals, release"
