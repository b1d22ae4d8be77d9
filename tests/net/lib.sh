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
