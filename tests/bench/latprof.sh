#!/usr/bin/env bash
# latprof.sh — where a 1-byte rr transaction and a crr connection go:
# system calls, context switches and wake-ups per transaction, ustack
# against the kernel, with perf (software events and syscall tracepoints;
# this VM has no hardware counters). Not part of make bench or make test.
#
# The same three set-ups as tests/bench/run.sh (offloads off), in
# namespaces this script creates (ust-<pid>-*), 10.83.x addresses only
# there:
#   kernel      ust-<pid>-kc (10.83.1.1) --veth-- ust-<pid>-ks (10.83.1.2),
#               usperf --kernel at both ends
#   ustack-cli  ust-<pid>-st: tap0 (kernel usperf -s, 10.83.2.1), the
#               stack's usperf client as 10.83.2.2
#   ustack-srv  ust-<pid>-ss: tap0 (kernel usperf client, 10.83.3.1), the
#               stack's usperf -s as 10.83.3.2
# Each figure runs LATPROF_SECS (default 2) seconds, LATPROF_REPS (default
# 1) times per set-up. The client runs under `perf stat`, the server's
# events are counted by `perf stat -p` for the client's duration; both
# are divided by the client's transaction count (n= on its RESULT line).
#
# Usage: BUILD=build bash tests/bench/latprof.sh [rr|crr|rr-bp|crr-nbp]...
#   rr       1 byte each way, busy_poll_us: 0 (default)
#   rr-bp    the same with the default busy polling
#   crr      connections per second, default busy polling (as make bench)
#   crr-nbp  connections per second, busy_poll_us: 0
# LATPROF_RECORD=DIR also runs `perf record -g` on the stack's process
# (server or client) once per figure and leaves perf.data files in DIR.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$root" && cd "$BUILD" 2>/dev/null && pwd) || {
	echo "latprof: no build directory $BUILD: run make first"; exit 1; }
export BUILD_ABS
. "$root/tests/net/lib.sh"

SECS=${LATPROF_SECS:-2}
REPS=${LATPROF_REPS:-1}
REC=${LATPROF_RECORD:-}
PORT=5302
USPERF=$BIN/usperf
need_root
need_cmd perf
[ $# -gt 0 ] || set -- rr crr
FIGS=("$@")
[ -n "$REC" ] && mkdir -p "$REC"

EV=task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter
for s in read readv write writev poll ppoll futex sendto recvfrom clock_gettime \
	 clock_nanosleep accept4 connect close socket setsockopt fcntl; do
	EV="$EV,syscalls:sys_enter_$s"
done

kc=$(new_ns kc); ks=$(new_ns ks); st=$(new_ns st); ss=$(new_ns ss)
ip -n "$kc" link add veth0 mtu 1500 type veth peer name veth1 mtu 1500 netns "$ks" ||
	fail "cannot create the veth pair"
ip -n "$kc" addr add 10.83.1.1/24 dev veth0
ip -n "$ks" addr add 10.83.1.2/24 dev veth1
ip -n "$kc" link set veth0 up
ip -n "$ks" link set veth1 up
for pair in "$st 10.83.2.1/24" "$ss 10.83.3.1/24"; do
	set -- $pair
	ip netns exec "$1" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
	ip -n "$1" link set tap0 mtu 1500
	ip -n "$1" addr add "$2" dev tap0
	ip -n "$1" link set tap0 up
done
# Offloads off everywhere, as make bench's rr and crr rows.
for pair in "$kc veth0" "$ks veth1" "$st tap0" "$ss tap0"; do
	set -- $pair
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off lro off tx off rx off sg off \
		>/dev/null 2>&1
done
wait_for 5 "veth carrier" ip netns exec "$kc" ping -c1 -W1 10.83.1.2

yaml() { # ADDR MAC BUSY_POLL_US
	printf 'interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n'
	printf '    addresses: [%s]\n    macaddress: "%s"\n    offload: false\n' "$1" "$2"
	[ "$3" = default ] || printf 'stack:\n  busy_poll_us: %s\n' "$3"
}

SRV_PID=
start_server() { # NS LOG ARGS...
	local ns=$1 log=$2; shift 2
	start "$ns" "$log" "$USPERF" -s -p $PORT "$@"
	SRV_PID=$LAST_PID
	wait_for 5 "usperf -s in $ns" grep -q '^Server listening' "$log"
}

# perf stat -x, output -> "event=value" pairs (counts only).
stat_kv() {
	awk -F, '$1 ~ /^[0-9.]+$/ { e = $3; sub(/^syscalls:sys_enter_/, "", e);
		sub(/^raw_syscalls:sys_enter/, "syscalls", e); printf "%s=%s\n", e, $1 }' "$1"
}

# one SIDE BP MODE — one client run under perf stat, the server counted too.
one() {
	local side=$1 bp=$2 mode=$3 ns srvns to cli=() srv=()
	case $side in
	kernel) ns=$kc srvns=$ks to=10.83.1.2 cli=(--kernel) srv=(--kernel) ;;
	ustack-cli) ns=$st srvns=$st to=10.83.2.1
		yaml 10.83.2.2/24 02:00:0a:53:02:02 "$bp" > "$TMP/cli.yaml"
		cli=(-C "$TMP/cli.yaml") srv=(--kernel) ;;
	ustack-srv) ns=$ss srvns=$ss to=10.83.3.2
		yaml 10.83.3.2/24 02:00:0a:53:03:02 "$bp" > "$TMP/srv.yaml"
		cli=(--kernel) srv=(-C "$TMP/srv.yaml") ;;
	esac
	local margs=(-m "$mode")
	[ "$mode" = rr ] && margs+=(-l 1)
	start_server "$srvns" "$TMP/srv-$side.log" "${srv[@]}"
	local spid
	# The usperf process itself (ip netns exec execs it).
	spid=$SRV_PID
	perf stat -x, -e "$EV" -p "$spid" -o "$TMP/srv.stat" &
	local ppid=$!
	local rec=()
	if [ -n "$REC" ] && [ "$side" = ustack-cli ]; then
		rec=(perf record -g -o "$REC/$mode-$bp-$side.data" --)
	fi
	sleep 0.2
	ip netns exec "$ns" perf stat -x, -e "$EV" -o "$TMP/cli.stat" -- "${rec[@]}" "$USPERF" \
		"${cli[@]}" -c "$to" -p $PORT -t "$SECS" -i 0 "${margs[@]}" > "$TMP/cli.out" 2>&1 &
	local cpid=$!
	if [ -n "$REC" ] && [ "$side" = ustack-srv ]; then
		sleep 0.3
		perf record -g -o "$REC/$mode-$bp-$side.data" -p "$spid" -- sleep $((SECS - 1)) \
			>/dev/null 2>&1
	fi
	wait $cpid
	kill -INT $ppid; wait $ppid
	kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
	local res n
	res=$(grep '^RESULT' "$TMP/cli.out")
	n=$(sed -n 's/.* n=\([0-9]*\).*/\1/p' <<<"$res")
	if [ -z "$n" ] || [ "$n" -eq 0 ]; then
		echo "$side $mode: no result"; tail -5 "$TMP/cli.out"; return
	fi
	echo "== $side, $mode, busy_poll_us $bp: ${res#RESULT }"
	local who
	for who in cli srv; do
		stat_kv "$TMP/$who.stat" | awk -F= -v n="$n" -v who="$who" '
			{ v[$1] = $2; o[++k] = $1 }
			END { printf "   %s per transaction:", who == "cli" ? "client" : "server"
			      for (i = 1; i <= k; i++) {
				e = o[i]; x = v[e] / n
				if (e == "task-clock") printf " cpu_us=%.2f", x * 1000
				else if (x >= 0.005) printf " %s=%.2f", e, x }
			      printf "\n" }'
	done
}

for fig in "${FIGS[@]}"; do
	case $fig in
	rr) bp=0 mode=rr ;;
	rr-bp) bp=default mode=rr ;;
	crr) bp=default mode=crr ;;
	crr-nbp) bp=0 mode=crr ;;
	*) echo "latprof: figures are rr, rr-bp, crr, crr-nbp, not $fig"; exit 2 ;;
	esac
	for i in $(seq "$REPS"); do
		for side in kernel ustack-cli ustack-srv; do
			one "$side" "$bp" "$mode"
		done
	done
done
