#!/usr/bin/env bash
# Names resolve through a real dnsmasq in the namespace: an A record, a
# CNAME to it, a name completed by the search list, a hosts: entry that
# needs no query; an unknown name gives the documented error
# (EAI_NONAME: "Name or service not known"), and a nameserver that never
# answers gives EAI_AGAIN ("Temporary failure in name resolution").
. "$(dirname "$0")/lib.sh"
need_root
need_cmd dnsmasq socat

ns=$(new_ns dns)
tap_up "$ns" tap0 10.9.9.1/24 10.9.9.53/24
start "$ns" "$TMP/dnsmasq.log" dnsmasq --no-daemon --no-resolv --no-hosts --log-queries \
	--listen-address=10.9.9.53 --bind-interfaces --pid-file="$TMP/dnsmasq.pid" \
	--local=/test/ --host-record=files.test,10.9.9.1 --cname=alias.test,files.test
wait_for 5 "dnsmasq to listen" sh -c "ip netns exec $ns ss -uln | grep -q '10.9.9.53:53'"
start "$ns" "$TMP/echo.log" socat UDP4-RECVFROM:5000,bind=10.9.9.1,fork EXEC:/bin/cat
wait_for 5 "the UDP echo to listen" sh -c "ip netns exec $ns ss -uln | grep -q '10.9.9.1:5000'"

cfg() {
	cat <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.9.2/24]}
nameservers:
  addresses: [$1]
  search: [test]
  timeout_ms: 2000
  attempts: 2
hosts:
  static.example: 10.9.9.1
YAML
}
cfg 10.9.9.53 > "$TMP/good.yaml"
cfg 10.9.9.99 > "$TMP/silent.yaml"

resolve_via_echo() {   # NAME CONFIG -> prints what came back through the echo
	printf 'hello %s\n' "$1" | ip netns exec "$ns" timeout 20 "$BIN/usnc" -u -w 1 -C "$2" "$1" 5000 \
		> "$TMP/out" 2> "$TMP/err"
	local rc=$?
	cat "$TMP/err"
	[ $rc -eq 0 ] || { echo "dnsmasq's log so far:"; sed 's/^/    /' "$TMP/dnsmasq.log"; }
	return $rc
}
for name in files.test alias.test files static.example; do
	note "resolve $name"
	resolve_via_echo "$name" "$TMP/good.yaml" || fail "usnc with $name exit $?"
	grep -q "^hello $name\$" "$TMP/out" || fail "no echo for $name: name did not resolve to 10.9.9.1"
done
grep -q 'query\[A\] alias.test' "$TMP/dnsmasq.log" || fail "dnsmasq never saw the CNAME query"
grep -q 'query\[A\] files.test' "$TMP/dnsmasq.log" || fail "the search list was not applied to 'files'"
grep -q 'static.example' "$TMP/dnsmasq.log" && fail "a hosts: entry caused a DNS query"

note "unknown name: EAI_NONAME"
resolve_via_echo nosuch.test "$TMP/good.yaml"; rc=$?
[ $rc -eq 1 ] || fail "usnc with an unknown name exit $rc"
grep -q 'Name or service not known' "$TMP/err" || fail "unknown name did not report EAI_NONAME"

note "silent nameserver: EAI_AGAIN"
resolve_via_echo files.test "$TMP/silent.yaml"; rc=$?
[ $rc -eq 1 ] || fail "usnc with a silent nameserver exit $rc"
grep -q 'Temporary failure in name resolution' "$TMP/err" || fail "silent server did not report EAI_AGAIN"

note "usping resolves names too"
ip netns exec "$ns" timeout 20 "$BIN/usping" -c 1 -W 3 -C "$TMP/good.yaml" alias.test > "$TMP/ping" 2>&1 \
	|| { cat "$TMP/ping"; fail "usping alias.test failed"; }
grep -q '^PING alias.test (10.9.9.1)' "$TMP/ping" || fail "usping did not resolve alias.test"
echo ok
