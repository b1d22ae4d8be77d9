#!/usr/bin/env bash
# usping reaches the kernel over TAP (small and fragmented), prints what
# iputils ping prints, and exits 0; an address nobody answers for gives
# "Destination Host Unreachable" (ARP failed) and exit 1; bad usage exits 2.
. "$(dirname "$0")/lib.sh"
need_root

ns=$(new_ns usping)
# A persistent TAP the kernel owns an address on; usping attaches to it.
tap_up "$ns" tap1 10.9.1.1/24

note "usping -c 3 10.9.1.1"
ip netns exec "$ns" timeout 30 "$BIN/usping" -c 3 -i 0.2 -W 3 --tap tap1 --addr 10.9.1.2/24 10.9.1.1 \
	> "$TMP/o1" 2>&1
rc=$?
cat "$TMP/o1"
[ $rc -eq 0 ] || fail "usping exit $rc, expected 0"
[ "$(grep -c '^64 bytes from 10.9.1.1: icmp_seq=[123] ttl=64 time=' "$TMP/o1")" -eq 3 ] || fail "expected 3 reply lines"
grep -q '^3 packets transmitted, 3 received, 0% packet loss' "$TMP/o1" || fail "summary line wrong"
grep -q '^rtt min/avg/max/mdev = ' "$TMP/o1" || fail "no rtt line"

note "usping -s 4000 (fragmented both ways)"
ip netns exec "$ns" timeout 30 "$BIN/usping" -c 2 -i 0.3 -W 3 -s 4000 --tap tap1 --addr 10.9.1.2/24 10.9.1.1 \
	> "$TMP/o2" 2>&1
rc=$?
cat "$TMP/o2"
[ $rc -eq 0 ] || fail "usping -s 4000 exit $rc"
[ "$(grep -c '^4008 bytes from 10.9.1.1: icmp_seq=[12] ' "$TMP/o2")" -eq 2 ] || fail "expected 2 replies of 4008 bytes"
grep -q 'BAD DATA' "$TMP/o2" && fail "reply data differs from what was sent"

note "usping to an address nobody has"
ip netns exec "$ns" timeout 30 "$BIN/usping" -c 1 -W 5 --tap tap1 --addr 10.9.1.2/24 10.9.1.77 \
	> "$TMP/o3" 2>&1
rc=$?
cat "$TMP/o3"
[ $rc -eq 1 ] || fail "usping to a dead address exit $rc, expected 1"
grep -q '^From 10.9.1.2 icmp_seq=1 Destination Host Unreachable' "$TMP/o3" || fail "no host-unreachable line"
grep -q '1 packets transmitted, 0 received, +1 errors, 100% packet loss' "$TMP/o3" || fail "summary wrong"

note "bad usage"
"$BIN/usping" -c 0 10.9.1.1 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "usping -c 0 exit $rc, expected 2"
"$BIN/usping" --tap tap1 --addr 10.9.1.2/24 no.such.name >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "usping with an unresolvable name exit $rc, expected 2"
echo ok
