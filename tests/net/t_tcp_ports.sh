#!/usr/bin/env bash
# connect()'s local port is shared by 4-tuple (doc/TCP.md "Local ports for
# connect()"), against kernel servers over TAP in a namespace: a python3
# client over libustack-preload.so, with ip_local_port_range [40000, 40099]
# (100 ports), opens 100 connections to each of three kernel listeners
# (10.9.57.1:9101, 10.9.57.1:9102, 10.9.57.3:9101) and keeps all 300 open:
# three times the range from one local address. The kernel servers see
# 300 connections from the stack's address, every local port in the
# range, every 4-tuple once, and each destination served by all 100
# ports. A 101st connection to 10.9.57.1:9101 then fails with
# EADDRNOTAVAIL (every 4-tuple to it is taken), as Linux's connect().
# With one port pool per local address (the old choice) connection 101
# already failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
here=$(cd "$(dirname "$0")" && pwd)
preload_setup ports 57
KADDR2=10.9.57.3
ip netns exec "$ns" ip addr add "$KADDR2/24" dev tap0
cat >> "$TMP/host.yaml" <<YAML
stack:
  ip_local_port_range: [40000, 40099]
YAML
N=100
D1=$KADDR:9101 D2=$KADDR:9102 D3=$KADDR2:9101

start "$ns" "$TMP/servers.out" /usr/bin/python3 -u "$here/ports_servers.py" $((3 * N)) 60 "$D1" "$D2" "$D3"
spid=$LAST_PID
wait_for 10 "the kernel servers to listen" grep -q '^listening' "$TMP/servers.out"

note "300 connections from one address through 100 ports, then one too many"
rc=0
shim /usr/bin/python3 -u "$here/ports_client.py" $N "$D1" "$D2" "$D3" > "$TMP/client.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { tail -5 "$TMP/client.out"; fail "the client over the shim failed (exit $rc)"; }
grep -q '^extra 99 EADDRNOTAVAIL$' "$TMP/client.out" ||
	{ grep '^extra' "$TMP/client.out"; fail "connection 101 to $D1 did not fail with EADDRNOTAVAIL"; }
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && fail "the kernel servers did not accept $((3 * N)) connections in 10 s"
wait "$spid"

# What the kernel saw: "LADDR:LPORT PEER:PEERPORT" per connection.
grep -E '^[0-9.]+:[0-9]+ ' "$TMP/servers.out" > "$TMP/seen"
total=$(wc -l < "$TMP/seen")
[ "$total" -eq $((3 * N)) ] || fail "the kernel accepted $total connections, not $((3 * N))"
bad=$(awk -v u="$UADDR" '{ split($2, p, ":"); if (p[1] != u || p[2] < 40000 || p[2] > 40099) print }' "$TMP/seen" | wc -l)
[ "$bad" -eq 0 ] || fail "$bad connections came from elsewhere than $UADDR:40000-40099"
uniq4=$(sort -u "$TMP/seen" | wc -l)
[ "$uniq4" -eq $((3 * N)) ] || fail "only $uniq4 distinct 4-tuples among $((3 * N))"
for d in "$D1" "$D2" "$D3"; do
	ports=$(awk -v d="$d" '$1 == d { split($2, p, ":"); print p[2] }' "$TMP/seen" | sort -u | wc -l)
	[ "$ports" -eq $N ] || fail "$d was reached from $ports distinct ports, not $N"
done
shared=$(awk '{ split($2, p, ":"); print p[2] }' "$TMP/seen" | sort | uniq -c | awk '$1 == 3' | wc -l)
[ "$shared" -eq $N ] || fail "$shared ports carry a connection to each of the 3 destinations, not $N"
# The client's own view agrees (getsockname per connection).
cmp <(awk '{ print $1 }' "$TMP/client.out" | grep -E '^[0-9]+$' | sort -n) \
    <(awk '{ split($2, p, ":"); print p[2] }' "$TMP/seen" | sort -n) >/dev/null ||
	fail "the client's getsockname ports differ from what the kernel saw"
echo "PASS: 300 connections over 100 ports from $UADDR (3 destinations), then EADDRNOTAVAIL"
