#!/usr/bin/env bash
# demo.sh — ustack on a TAP device in a private network namespace:
# ustackd comes up with an echo and an HTTP service, the kernel pings it
# (small and fragmented), talks to its TCP echo with nc and fetches a page
# from it with curl; on a second TAP, usping pings the kernel and uscurl
# fetches a page from a kernel-side python3 http.server; ustackd prints its
# counters, and everything is removed.
# Needs root. Touches nothing outside the namespace it creates.
set -u
BIN=$(cd "${BUILD:-build}/bin" && pwd)
NS="ust-$$-demo"
LOG=$(mktemp)
WWW=$(mktemp -d)
D=
H=
cleanup() {
	[ -n "$D" ] && kill -TERM "$D" 2>/dev/null && wait "$D" 2>/dev/null
	[ -n "$H" ] && kill -TERM "$H" 2>/dev/null && wait "$H" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$LOG" "$WWW"
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

mkdir -p "$WWW/srv" "$WWW/kernel"
echo "<h1>hello from ustackd's http service</h1>" > "$WWW/srv/index.html"
echo "<h1>hello from the kernel's python3 http.server</h1>" > "$WWW/kernel/index.html"
cat > "$WWW/host.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.0.0.2/24]}
services:
  - {type: echo, proto: tcp, port: 7}
  - {type: http, port: 80, root: $WWW/srv}
YAML

step "ustackd -C host.yaml: 10.0.0.2 on tap0, TCP echo on port 7, HTTP on port 80"
ip netns exec "$NS" "$BIN/ustackd" -C "$WWW/host.yaml" 2>"$LOG" &
D=$!
for _ in $(seq 50); do grep -q 'ustackd: up' "$LOG" && break; sleep 0.1; done
grep -q 'ustackd: up' "$LOG" || { cat "$LOG"; echo "demo: ustackd did not come up"; exit 1; }

step "the kernel pings ustackd"
ip netns exec "$NS" ping -c 3 -i 0.3 -W 2 10.0.0.2
step "the kernel pings ustackd with 4000 bytes (fragmented both ways)"
ip netns exec "$NS" ping -c 2 -i 0.3 -W 2 -s 4000 10.0.0.2

step "the kernel's nc talks to ustackd's TCP echo service"
echo "hello over TCP" | ip netns exec "$NS" timeout 5 nc -N 10.0.0.2 7

step "the kernel's curl fetches a page from ustackd's http service"
ip netns exec "$NS" timeout 10 curl -s http://10.0.0.2/

step "usping (a second stack, on tap1) pings the kernel"
ip netns exec "$NS" "$BIN/usping" -c 3 -i 0.3 --tap tap1 --addr 10.0.1.2/24 10.0.1.1

step "uscurl (a stack on tap1) fetches a page from the kernel's python3 http.server"
(cd "$WWW/kernel" && exec ip netns exec "$NS" python3 -m http.server 8000 --bind 10.0.1.1 >/dev/null 2>&1) &
H=$!
for _ in $(seq 50); do ip netns exec "$NS" ss -tln 2>/dev/null | grep -q '10.0.1.1:8000' && break; sleep 0.1; done
ip netns exec "$NS" "$BIN/uscurl" -s --tap tap1 --addr 10.0.1.2/24 http://10.0.1.1:8000/

step "ustackd's counters"
kill -TERM "$D"; wait "$D"; D=
grep -v '^    0 ' "$LOG"
step "done: namespace removed"
