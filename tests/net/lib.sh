# lib.sh — shared by the network tests. Source it first thing.
#
# Rules (../shared/TESTING.md): everything runs in namespaces this test
# creates, named ust-<pid>-<tag>; addresses only inside them (10.x test
# nets); processes we start are recorded and ended by PID; the EXIT trap
# removes namespaces and processes on every path; every wait has a
# timeout that fails with a message.
set -u
BIN=${BUILD_ABS:-$(pwd)/build}/bin
NS_LIST=()
PIDS=()
TMP=$(mktemp -d /tmp/ust-net.XXXXXX)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		# Give each a moment, then insist.
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	local n
	# new_ns runs in a subshell ($(new_ns x)), so it records names in a file.
	[ -f "$TMP/namespaces" ] && while read -r n; do NS_LIST+=("$n"); done < "$TMP/namespaces"
	for n in "${NS_LIST[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "--- $*"; }

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, TAP)"
	[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
	ip netns add "ust-$$-probe" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "ust-$$-probe"
}

need_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null || skip "$c is not installed (make deps)"; done
}

# new_ns TAG -> prints the namespace name; lo up, IPv6 off (quiet wires).
new_ns() {
	local n="ust-$$-$1"
	ip netns add "$n" || fail "ip netns add $n"
	echo "$n" >> "$TMP/namespaces"
	ip netns exec "$n" ip link set lo up
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1
	ip netns exec "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
	echo "$n"
}

# start NS LOGFILE CMD... — run CMD in NS in the background, record its PID.
LAST_PID=
start() {
	local ns=$1 log=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# wait_for SECONDS DESCRIPTION CMD... — poll CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 what=$2; shift 2
	local tries=$((secs * 10))
	while [ $tries -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	fail "timed out after ${secs}s waiting for: $what"
}

# stop_pid PID — SIGTERM and wait (bounded) for it to exit; returns its status.
stop_pid() {
	local p=$1
	kill -TERM "$p" 2>/dev/null
	local i
	for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && { kill -KILL "$p"; fail "process $p ignored SIGTERM for 5 s"; }
	wait "$p"
}

# counter LOG LAYER "description" -> the value in ustackd's last stats dump.
counter() {
	awk -v layer="$2:" -v desc="$3" '
		/^[a-z]+:$/ { cur = $0; next }
		cur == layer { n = $1; $1 = ""; sub(/^ /, ""); if ($0 == desc) v = n }
		END { print (v == "" ? "missing" : v) }' "$1"
}

# no_sanitizer_reports LOG — fail if a sanitizer build wrote a report there.
no_sanitizer_reports() {
	if grep -q -E 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$1"; then
		grep -m5 -E -A12 'Sanitizer|runtime error:' "$1"
		fail "sanitizer reports in $1"
	fi
}

# ---- the usual set-ups: a TAP or a veth pair in the test's namespaces ----
# Each takes -m MTU first to set the MTU (before the addresses), fails the
# test if the device cannot be made, and only ever touches NS.

# if_up [-m MTU] NS DEV ADDR/LEN... — give DEV in NS these addresses, up.
if_up() {
	local mtu=
	[ "$1" = -m ] && { mtu=$2; shift 2; }
	local ns=$1 dev=$2 a
	shift 2
	[ -z "$mtu" ] || ip -n "$ns" link set "$dev" mtu "$mtu" || fail "mtu $mtu on $dev in $ns"
	for a in "$@"; do
		ip -n "$ns" addr add "$a" dev "$dev" || fail "ip addr add $a dev $dev in $ns"
	done
	ip -n "$ns" link set "$dev" up || fail "ip link set $dev up in $ns"
}

# tap_up [-m MTU] NS DEV ADDR/LEN... — a TAP device DEV in NS (the kernel's
# side of the stack's wire) with these addresses, up.
tap_up() {
	local m=()
	[ "$1" = -m ] && { m=(-m "$2"); shift 2; }
	ip netns exec "$1" ip tuntap add dev "$2" mode tap || fail "ip tuntap add $2 in $1"
	if_up "${m[@]}" "$@"
}

# veth_up [-m MTU] NS1 DEV1 ADDR1 NS2 DEV2 ADDR2 — a veth pair, DEV1 in NS1
# and DEV2 in NS2, each with its address (- for none), both up.
veth_up() {
	local m=()
	[ "$1" = -m ] && { m=(-m "$2"); shift 2; }
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" ||
		fail "cannot create the veth pair $1/$2 - $4/$5"
	local a1=() a2=()
	[ "$3" = - ] || a1=("$3")
	[ "$6" = - ] || a2=("$6")
	if_up "${m[@]}" "$1" "$2" "${a1[@]}"
	if_up "${m[@]}" "$4" "$5" "${a2[@]}"
}

# start_ustackd [-t DEV ADDR/LEN] NS LOG ARGS... — ustackd ARGS in NS
# (LAST_PID), then wait (5 s at most) for its "ustackd: up" line in LOG.
# With -t: ustackd creates the TAP device DEV itself; once it has, the
# kernel's side gets ADDR/LEN and goes up (stack_tap_up) before the wait.
start_ustackd() {
	local tap=()
	[ "$1" = -t ] && { tap=("$2" "$3"); shift 3; }
	local ns=$1 log=$2
	shift 2
	start "$ns" "$log" "$BIN/ustackd" "$@"
	[ ${#tap[@]} -eq 0 ] || stack_tap_up "$ns" "${tap[@]}"
	wait_for 5 "ustackd to come up" grep -q 'ustackd: up' "$log"
}

# stack_tap_up NS DEV ADDR/LEN... — wait (5 s at most) for the stack to
# create its TAP device DEV in NS, then give the kernel's side of it these
# addresses, up.
stack_tap_up() {
	wait_for 5 "ustackd to create $2" ip netns exec "$1" ip link show "$2"
	if_up "$@"
}

# counter_ge LOG LAYER "description" MIN — print the counter (from
# ustackd's last stats dump in LOG) and fail unless it is at least MIN.
counter_ge() {
	local v
	v=$(counter "$1" "$2" "$3")
	echo "$2: $3 = $v"
	[ "$v" != missing ] && [ "$v" -ge "$4" ] || fail "counter '$2: $3' is $v, expected >= $4"
}
