#!/usr/bin/env bash
# demo.sh — ustack on a TAP device in a private network namespace:
# ustackd comes up, the kernel pings it (small and fragmented), usping
# pings the kernel, ustackd prints its counters, and everything is removed.
# Needs root. Touches nothing outside the namespace it creates.
set -u
BIN=$(cd "${BUILD:-build}/bin" && pwd)
NS="ust-$$-demo"
LOG=$(mktemp)
D=
cleanup() {
	[ -n "$D" ] && kill -TERM "$D" 2>/dev/null && wait "$D" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespace, TAP)"; exit 1; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "namespace $NS with a TAP device; the kernel side is 10.0.0.1/24"
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add dev tap0 mode tap
ip netns exec "$NS" ip tuntap add dev tap1 mode tap
ip netns exec "$NS" ip addr add 10.0.0.1/24 dev tap0
ip netns exec "$NS" ip addr add 10.0.1.1/24 dev tap1
ip netns exec "$NS" ip link set tap0 up
ip netns exec "$NS" ip link set tap1 up

step "ustackd --tap tap0 --addr 10.0.0.2/24"
ip netns exec "$NS" "$BIN/ustackd" --tap tap0 --addr 10.0.0.2/24 2>"$LOG" &
D=$!
for _ in $(seq 50); do grep -q 'ustackd: up' "$LOG" && break; sleep 0.1; done
grep -q 'ustackd: up' "$LOG" || { cat "$LOG"; echo "demo: ustackd did not come up"; exit 1; }

step "the kernel pings ustackd"
ip netns exec "$NS" ping -c 3 -i 0.3 -W 2 10.0.0.2
step "the kernel pings ustackd with 4000 bytes (fragmented both ways)"
ip netns exec "$NS" ping -c 2 -i 0.3 -W 2 -s 4000 10.0.0.2

step "usping (a second stack, on tap1) pings the kernel"
ip netns exec "$NS" "$BIN/usping" -c 3 -i 0.3 --tap tap1 --addr 10.0.1.2/24 10.0.1.1

step "ustackd's counters"
kill -TERM "$D"; wait "$D"; D=
grep -v '^    0 ' "$LOG"
step "done: namespace removed"
