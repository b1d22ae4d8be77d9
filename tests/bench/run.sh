#!/usr/bin/env bash
# run.sh — `make bench`: ustack against the kernel, side by side, same tool.
#
# Three set-ups, all inside namespaces this script creates (ust-<pid>-*),
# 10.x addresses only there, 1500-byte MTU, nothing pinned to a CPU:
#
#   kernel-veth  ust-<pid>-kc (client, 10.81.1.1) --veth-- ust-<pid>-ks
#                (server, 10.81.1.2); `usperf --kernel` at both ends.
#   ustack-tap   ust-<pid>-st: tap0 (kernel side 10.81.2.1, `usperf -s
#                --kernel`), the stack on tap0 as 10.81.2.2 running the
#                usperf client.
#   ustack-srv   ust-<pid>-ss: tap0 (kernel side 10.81.3.1, the `usperf
#                --kernel` client), the stack on tap0 as 10.81.3.2 running
#                `usperf -s`. Bulk directions are named by who sends, so
#                "ustack->kernel" is `-R` here.
#
# Bulk runs twice more (bulk_both): with offloads off as above (the stack
# with `offload: false`, the kernel's interfaces with ethtool -K ... off),
# target 0.20 of kernel-veth; and in three more set-ups with offloads on
# (ust-<pid>-kc2/ks2 veth, ust-<pid>-so/sso TAPs, 10.82.x; the kernel's
# default offloads, the stack's `offload: true`: TSO and checksum offload
# over IFF_VNET_HDR), target 0.5 of kernel-veth with its offloads, at most
# 2 rounds (BENCH_REPS_ON); then each ustack bulk figure against the other
# baseline too (reported, no target).
#
# Each timed figure runs BENCH_REPS times per set-up (default 3, in turn:
# kernel-veth, ustack client, ustack server, so that a noisy neighbour
# hurts all of them) for BENCH_SECS seconds (default 5). The table shows
# the best run of each set-up (other work on a shared machine, and slow
# wake-ups between a VM's CPUs, only ever slow a run down), each ustack
# set-up compared with the
# same kernel-veth figure; a row whose runs of one set-up differ by more
# than 1.5x says "noisy", one whose compared runs started with less than
# one CPU free says "busy". Every run's figures (and how busy the CPUs were
# just before it) are printed, then one table:
# scenario, ustack, kernel-veth, unit, ratio, target, PASS/MISS. Targets
# are ratios measured in this run, never absolute times; a MISS does not
# fail the bench. Exit status: 0 when every scenario ran, 1 when one could
# not (its row says FAILED and why), 77 when the bench cannot run at all
# (no root, no /dev/net/tun, no namespaces).
#
# The HTTP figures (reported, no targets) come after those, from two more
# set-ups, with the same files (a 1 KiB index.html, a 1 MiB and a 50 MB
# file) served by ustackd's http service (doc/HTTP.md) and by a kernel-side
# server, nginx (package nginx-light or nginx, installed with tools/deps.sh
# when missing; python3's ThreadingHTTPServer when it cannot be):
#
#   http-ustackd ust-<pid>-hs: tap0 (kernel side 10.81.4.1: wrk, curl),
#                ustackd on tap0 as 10.81.4.2 with `services: [{type: http}]`.
#   http-kernel  the kernel server in ust-<pid>-ks, on port 80 of every
#                address there: 10.81.1.2 on the veth (wrk and curl from
#                ust-<pid>-kc, the kernel-veth baseline) and 10.81.5.1 on a
#                TAP in ks, where uscurl (the stack, 10.81.5.2) fetches from.
#
# wrk (package wrk, installed the same way; its rows say SKIPPED when it
# cannot be) runs -t2 -c32 for BENCH_HTTP_SECS (default 3) seconds with
# keep-alive against both servers, REPS times in turn, best run shown. The
# 50 MB download is timed (time_total) REPS times for uscurl from the
# kernel server over TAP, curl from the same server over the veth, and curl
# from ustackd over TAP; the median is shown and every download's SHA-256
# is checked. BENCH_ONLY=tcp or BENCH_ONLY=http runs only one half
# (BENCH_ONLY=synflood: only the SYN flood rows; BENCH_ONLY=idle: only the
# idle-memory rows; BENCH_ONLY=bulk: only the bulk rows, offloads off and
# on, and the multiqueue rows; BENCH_ONLY=mq: only the multiqueue rows (queues:
# 1 against 2, several flows); BENCH_ONLY=rr: only the rr and crr rows; BENCH_ONLY=preload: the shim's);
# BENCH_HTTP_SERVER=python3 uses the python3 server even when nginx is there.
#
# Logs and results go to $BUILD/bench/ (results.txt is the table).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$root" && cd "$BUILD" 2>/dev/null && pwd) || {
	echo "bench: no build directory $BUILD: run make first"; exit 1; }
export BUILD_ABS
. "$root/tests/net/lib.sh"        # namespaces, PIDs, cleanup trap, wait_for

SECS=${BENCH_SECS:-2}
REPS=${BENCH_REPS:-3}
# Bulk runs (offloads off and on) are the longest part and the least noisy:
# 2 rounds each unless told.
REPS_BULK=${BENCH_REPS_BULK:-$((REPS < 2 ? REPS : 2))}
REPS_WRK=${BENCH_REPS_WRK:-$REPS_BULK}
# rr and crr runs: 2 s each already count tens of thousands of exchanges.
SECS_RR=${BENCH_SECS_RR:-$((SECS < 2 ? SECS : 2))}
HTTP_SECS=${BENCH_HTTP_SECS:-2}
ONLY=${BENCH_ONLY:-}
PORT=5301
OUT=$BUILD_ABS/bench
USPERF=$BIN/usperf

case $ONLY in
""|tcp|http|pcap|synflood|idle|preload|bulk|rr|forward|loss|mq) ;;
*) echo "bench: BENCH_ONLY is tcp, bulk, rr, http, pcap, synflood, idle, preload, forward, loss, mq or unset, not '$ONLY'"; exit 2 ;;
esac
need_root
# BENCH_IDLE_CONNS=N (with BENCH_ONLY=idle): one idle row with N
# connections (e.g. 100000), default buffers. A kernel process holds at
# most `ulimit -Hn` descriptors (20,000 on the CI VM, and the bench cannot
# raise it without CAP_SYS_RESOURCE), so the ustack row runs ustack at
# both ends: ust-<pid>-ua and ust-<pid>-ub joined by a veth without kernel
# addresses, the stack on each end through the pcap backend (client
# 10.81.6.1-8, `usperf -s` on 10.81.6.101), stack.max_sockets N + 1024
# at both, the client's connections bound to its 8 addresses in turn
# (usperf --from 10.81.6.1 --spread 8): the stack's ephemeral ports,
# 49152-65535, are one pool of 16,384 per local address whatever the
# destination (Linux shares a port between connections to different
# peers), so one address cannot hold more than 16,384 connections. The kernel row in the same run holds as many connections
# as its descriptor limit allows (min(N, ulimit -Hn - 1000)).
IDLE_BIG=${BENCH_IDLE_CONNS:-}
if [ -n "$IDLE_BIG" ]; then
	[ "$ONLY" = idle ] || { echo "bench: BENCH_IDLE_CONNS needs BENCH_ONLY=idle"; exit 2; }
	IDLE_KN=$(( $(ulimit -Hn) - 1000 ))
	[ "$IDLE_KN" -lt "$IDLE_BIG" ] || IDLE_KN=$IDLE_BIG
fi
for b in usperf ustackd uscurl; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing: run make"; exit 1; }
done
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT/results.txt"

say() { echo "$*" | tee -a "$OUT/results.txt"; }

say "ustack bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
say "machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r)"
say "runs: ${SECS}s each (rr, crr ${SECS_RR}s; wrk ${HTTP_SECS}s), best of $REPS per set-up (bulk, pcap, wrk: $REPS_BULK, $REPS_BULK, $REPS_WRK; downloads: median of $REPS), nothing pinned to a CPU"

# ---- the three set-ups ----

kc=$(new_ns kc)
ks=$(new_ns ks)
st=$(new_ns st)
ss=$(new_ns ss)
veth_up -m 1500 "$kc" veth0 10.81.1.1/24 "$ks" veth1 10.81.1.2/24
tap_up -m 1500 "$st" tap0 10.81.2.1/24
tap_up -m 1500 "$ss" tap0 10.81.3.1/24
TAPS=("$st tap0" "$ss tap0")
if [ "$ONLY" = "" ] || [ "$ONLY" = http ]; then
	# HTTP: ustackd's service on a TAP in hs; a TAP in ks for uscurl, so
	# that it fetches from the same kernel server as curl over the veth.
	hs=$(new_ns hs)
	for pair in "$hs tap0 10.81.4.1/24" "$ks tap0 10.81.5.1/24"; do
		set -- $pair
		tap_up -m 1500 "$1" "$2" "$3"
		TAPS+=("$1 $2")
	done
fi

# No offloads: segmentation, GRO and checksums in software on every
# kernel interface involved. ethtool is installed with the project's own
# deps script when missing; if that fails the offloads stay and we say so.
OFFLOADS="off (ethtool -K: tso gso gro lro tx rx sg off)"
command -v ethtool >/dev/null || bash "$root/tools/deps.sh" --quiet ethtool >/dev/null 2>&1
if command -v ethtool >/dev/null; then
	for pair in "$kc veth0" "$ks veth1" "${TAPS[@]}"; do
		set -- $pair
		ip netns exec "$1" ethtool -K "$2" tso off gso off gro off lro off tx off rx off sg off \
			>/dev/null 2>&1
	done
	on='^(tcp-segmentation|generic-segmentation|generic-receive)-offload: on|^tx-checksumming: on'
	bad=$(ip netns exec "$kc" ethtool -k veth0 | grep -E "$on")
	[ -z "$bad" ] || OFFLOADS="NOT all off on veth0: $(echo $bad)"
else
	OFFLOADS="LEFT ON: ethtool is not installed and could not be installed"
fi
say "offloads: $OFFLOADS"
wait_for 5 "veth carrier" ip netns exec "$kc" ping -c1 -W1 10.81.1.2

# stack_yaml OFFLOAD ADDR MAC — a one-TAP (tap0) stack configuration.
stack_yaml() {
	printf 'interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n'
	printf '    addresses: [%s]\n    macaddress: "%s"\n    offload: %s\n' "$2" "$3" "$1"
}

if [ "$ONLY" != http ] && [ "$ONLY" != preload ]; then
	start "$ks" "$OUT/server-kernel-veth.log" "$USPERF" -s --kernel -p $PORT
	SRV_kernel=$LAST_PID
	wait_for 5 "usperf -s --kernel in $ks" grep -q '^Server listening' "$OUT/server-kernel-veth.log"
	start "$st" "$OUT/server-ustack-tap.log" "$USPERF" -s --kernel -p $PORT
	SRV_ustack=$LAST_PID
	wait_for 5 "usperf -s --kernel in $st" grep -q '^Server listening' "$OUT/server-ustack-tap.log"
	stack_yaml false 10.81.3.2/24 02:00:0a:51:03:02 > "$OUT/ss-off.yaml"
	start "$ss" "$OUT/server-ustack-srv.log" "$USPERF" -s -p $PORT -C "$OUT/ss-off.yaml"
	SRV_ustack_srv=$LAST_PID
	wait_for 5 "usperf -s on ustack in $ss" grep -q '^Server listening' "$OUT/server-ustack-srv.log"
fi

# Fixed MACs: each ustack client run is a new process, and with a new
# random MAC each time the kernel's neighbour entry would point at the last
# one for a moment.
# The set-ups above run the stack without offloads (offload: false), as the
# kernel's interfaces there; the "offloads on" set-ups below have them.
stack_yaml false 10.81.2.2/24 02:00:0a:51:02:02 > "$OUT/st-off.yaml"
if [ -n "$IDLE_BIG" ]; then
	ua=$(new_ns ua)
	ub=$(new_ns ub)
	veth_up -m 1500 "$ua" veth0 - "$ub" veth1 -
	for side in "ua veth0 10.81.6.1/24,10.81.6.2/24,10.81.6.3/24,10.81.6.4/24,10.81.6.5/24,10.81.6.6/24,10.81.6.7/24,10.81.6.8/24 02:00:0a:51:06:01" \
		"ub veth1 10.81.6.101/24 02:00:0a:51:06:65"; do
		set -- $side
		{ printf 'interfaces:\n  eth0:\n    backend: pcap\n    device: %s\n' "$2"
		  printf '    addresses: [%s]\n    macaddress: "%s"\n' "$(sed 's/,/, /g' <<<"$3")" "$4"
		  printf 'stack:\n  max_sockets: %d\n' $((IDLE_BIG + 1024)); } > "$OUT/$1.yaml"
	done
	start "$ub" "$OUT/server-ustack-pair.log" "$USPERF" -s -p $PORT -C "$OUT/ub.yaml"
	SRV_ustack_pair=$LAST_PID
	wait_for 10 "usperf -s on ustack in $ub" grep -q '^Server listening' "$OUT/server-ustack-pair.log"
fi
STACK="-C $OUT/st-off.yaml"

# ---- busy polling off (issue 10): rr again with the stack's busy_poll_us: 0
#   ustack-nbp      the ustack client set-up (st), the stack with busy_poll_us: 0
#   ustack-srv-nbp  ust-<pid>-sn: tap0 (kernel side 10.81.9.1, the `usperf
#                   --kernel` client), ustack `usperf -s` as 10.81.9.2 with
#                   busy_poll_us: 0; offloads off as in st and ss.
if [ "$ONLY" = "" ] || [ "$ONLY" = tcp ] || [ "$ONLY" = rr ]; then
	{ stack_yaml false 10.81.2.2/24 02:00:0a:51:02:02; printf 'stack:\n  busy_poll_us: 0\n'; } \
		> "$OUT/st-nbp.yaml"
	SRV_ustack_nbp=$SRV_ustack
	sn=$(new_ns sn)
	tap_up -m 1500 "$sn" tap0 10.81.9.1/24
	command -v ethtool >/dev/null && ip netns exec "$sn" ethtool -K tap0 tso off gso off gro off \
		lro off tx off rx off sg off >/dev/null 2>&1
	{ stack_yaml false 10.81.9.2/24 02:00:0a:51:09:02; printf 'stack:\n  busy_poll_us: 0\n'; } \
		> "$OUT/sn-nbp.yaml"
	start "$sn" "$OUT/server-ustack-srv-nbp.log" "$USPERF" -s -p $PORT -C "$OUT/sn-nbp.yaml"
	SRV_ustack_srv_nbp=$LAST_PID
	wait_for 5 "usperf -s on ustack in $sn" grep -q '^Server listening' \
		"$OUT/server-ustack-srv-nbp.log"
fi

# ---- offloads on (issue 10): the same three set-ups with every offload the
# kernel's veth and TAP have by default (TSO, GSO, GRO, checksums) and the
# stack's `offload: true` (TAP: IFF_VNET_HDR, TSO and checksum offload):
#   kernel-veth-on  ust-<pid>-kc2 (10.82.1.1) --veth-- ust-<pid>-ks2 (10.82.1.2)
#   ustack-on       ust-<pid>-so: tap0 (kernel 10.82.2.1), the stack 10.82.2.2
#   ustack-srv-on   ust-<pid>-sso: tap0 (kernel 10.82.3.1), ustack usperf -s 10.82.3.2
# Only the bulk figures run here (that is what offloads change).
if [ "$ONLY" = "" ] || [ "$ONLY" = tcp ] || [ "$ONLY" = bulk ]; then
	kc2=$(new_ns kc2)
	ks2=$(new_ns ks2)
	so=$(new_ns so)
	sso=$(new_ns sso)
	veth_up -m 1500 "$kc2" veth0 10.82.1.1/24 "$ks2" veth1 10.82.1.2/24
	tap_up -m 1500 "$so" tap0 10.82.2.1/24
	tap_up -m 1500 "$sso" tap0 10.82.3.1/24
	say "offloads on (kernel-veth-on, ustack-on): veth0 $(ip netns exec "$kc2" ethtool -k veth0 2>/dev/null |
		grep -E '^(tcp-segmentation-offload|generic-receive-offload|tx-checksumming):' | tr -s ' \n' ' ')"
	wait_for 5 "veth carrier (offloads on)" ip netns exec "$kc2" ping -c1 -W1 10.82.1.2
	start "$ks2" "$OUT/server-kernel-veth-on.log" "$USPERF" -s --kernel -p $PORT
	SRV_kernel_on=$LAST_PID
	wait_for 5 "usperf -s --kernel in $ks2" grep -q '^Server listening' "$OUT/server-kernel-veth-on.log"
	start "$so" "$OUT/server-ustack-tap-on.log" "$USPERF" -s --kernel -p $PORT
	SRV_ustack_on=$LAST_PID
	wait_for 5 "usperf -s --kernel in $so" grep -q '^Server listening' "$OUT/server-ustack-tap-on.log"
	stack_yaml true 10.82.3.2/24 02:00:0a:52:03:02 > "$OUT/sso-on.yaml"
	start "$sso" "$OUT/server-ustack-srv-on.log" "$USPERF" -s -p $PORT -C "$OUT/sso-on.yaml"
	SRV_ustack_srv_on=$LAST_PID
	wait_for 5 "usperf -s on ustack in $sso" grep -q '^Server listening' "$OUT/server-ustack-srv-on.log"
	stack_yaml true 10.82.2.2/24 02:00:0a:52:02:02 > "$OUT/so-on.yaml"
fi

# ---- running one figure ----

# run SIDE NAME TIMEOUT ARGS... — one client run (SIDE: kernel, ustack or
# ustack-srv); prints its RESULT line, or on failure says why on stderr,
# prints "FAILEDRUN" and any RESULT line (idle failures carry the reason)
# and returns 1. The log stays in $OUT.
run() {
	local side=$1 name=$2 limit=$3; shift 3
	# The server's CPU time over the run (peer_cpu_us on the RESULT line).
	local srvvar=SRV_${side//-/_}
	local srv=${!srvvar:-} c0
	c0=$(pid_cpu_us "$srv")
	local log="$OUT/$name.$side.$(date +%s%N).log"
	case $side in
	kernel)
		timeout --kill-after=5 "$limit" ip netns exec "$kc" "$USPERF" --kernel -c 10.81.1.2 \
			-p $PORT "$@" >"$log" 2>&1 ;;
	ustack)
		timeout --kill-after=5 "$limit" ip netns exec "$st" "$USPERF" $STACK -c 10.81.2.1 \
			-p $PORT "$@" >"$log" 2>&1 ;;
	ustack-srv)
		timeout --kill-after=5 "$limit" ip netns exec "$ss" "$USPERF" --kernel -c 10.81.3.2 \
			-p $PORT "$@" >"$log" 2>&1 ;;
	kernel-on)
		timeout --kill-after=5 "$limit" ip netns exec "$kc2" "$USPERF" --kernel -c 10.82.1.2 \
			-p $PORT "$@" >"$log" 2>&1 ;;
	ustack-on)
		timeout --kill-after=5 "$limit" ip netns exec "$so" "$USPERF" -C "$OUT/so-on.yaml" \
			-c 10.82.2.1 -p $PORT "$@" >"$log" 2>&1 ;;
	ustack-srv-on)
		timeout --kill-after=5 "$limit" ip netns exec "$sso" "$USPERF" --kernel -c 10.82.3.2 \
			-p $PORT "$@" >"$log" 2>&1 ;;
	ustack-pair)
		timeout --kill-after=5 "$limit" ip netns exec "$ua" "$USPERF" -C "$OUT/ua.yaml" \
			-c 10.81.6.101 -p $PORT "$@" >"$log" 2>&1 ;;
	ustack-nbp)
		timeout --kill-after=5 "$limit" ip netns exec "$st" "$USPERF" -C "$OUT/st-nbp.yaml" \
			-c 10.81.2.1 -p $PORT "$@" >"$log" 2>&1 ;;
	ustack-srv-nbp)
		timeout --kill-after=5 "$limit" ip netns exec "$sn" "$USPERF" --kernel -c 10.81.9.2 \
			-p $PORT "$@" >"$log" 2>&1 ;;
	esac
	local rc=$?
	local c1
	c1=$(pid_cpu_us "$srv")
	if [ $rc -ne 0 ] || ! grep -q '^RESULT' "$log"; then
		echo "bench: $name on $side: usperf exit $rc; the end of $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
		echo "FAILEDRUN $(grep '^RESULT' "$log" | tail -1)"
		return 1
	fi
	echo "$(grep '^RESULT' "$log" | tail -1) peer_cpu_us=$((c1 - c0))"
}

# pid_cpu_us PID — user + system CPU time of process PID (all its threads)
# so far, in us, from /proc (10 ms ticks); 0 without a PID.
pid_cpu_us() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" \
		'{ printf "%.0f", ($12 + $13) * 1000000 / hz }'
}

# cpu_per RESULT SIDE — CPU time per transaction (rr, crr), as
# "BOTH/STACK": BOTH = the client's and the server's process together (the
# kernel's work in their system calls included; what runs in softirq on
# behalf of nobody is not), STACK = the process that runs ustack (for
# kernel-veth, the client's). In us, or "-" without n=.
cpu_per() {
	local n c p
	n=$(field "$1" n) c=$(field "$1" cpu_us) p=$(field "$1" peer_cpu_us)
	[ -n "$n" ] && [ -n "$c" ] && [ -n "$p" ] && [ "$n" -gt 0 ] || { echo "-/-"; return; }
	awk -v n="$n" -v c="$c" -v p="$p" -v srv="$([[ $2 == ustack-srv* ]] && echo 1)" \
		'BEGIN { printf "%.2f/%.2f", (c + p) / n, (srv ? p : c) / n }'
}

# field "RESULT k=v ..." KEY
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# spread V... — largest / smallest; above 1.5 the row is marked noisy.
spread() {
	printf '%s\n' "$@" | sort -g |
		awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (lo > 0) printf "%.2f", hi / lo; else print 99 }'
}

ROWS=()
FAILED=0
LAST_KV=()

# row SCENARIO USTACK KERNEL TARGET(min ratio or -) UNIT [NOTE]
row() {
	local scen=$1 u=$2 k=$3 target=$4 unit=$5 note=${6:-} ratio verdict
	if [ "$u" = FAILED ] || [ "$k" = FAILED ]; then
		ratio=-; verdict=FAILED
	else
		ratio=$(awk -v u="$u" -v k="$k" 'BEGIN { if (k > 0) printf "%.2f", u / k; else print "-" }')
		if [ "$target" = - ]; then
			verdict=report
		else
			verdict=$(awk -v r="$ratio" -v t="$target" \
				'BEGIN { print ((r + 0 >= t + 0) ? "PASS" : "MISS") }')
		fi
	fi
	[ "$target" = - ] || target=">= $target"
	[ -z "$note" ] || [ "$verdict" = FAILED ] || verdict="$verdict ($note)"
	ROWS+=("$scen|$u|$k|$unit|$ratio|$target|$verdict")
}

# flip_dir ARGS... — the same bulk direction seen from the other end: -R toggled.
flip_dir() {
	local a out=() had=0
	for a in "$@"; do
		if [ "$a" = -R ]; then had=1; else out+=("$a"); fi
	done
	[ $had = 1 ] || out+=(-R)
	printf '%s\n' "${out[@]}"
}

# noisy V... — "noisy" when the runs of one set-up differ by more than 1.5x.
noisy() { awk -v s="$(spread "$@")" 'BEGIN { if (s + 0 > 1.5) print "noisy" }'; }

# background — how busy the CPUs are, in % of all of them, over the 0.2 s
# before a run, when nothing of ours should be running (the servers
# wait in poll): other work on the machine, or the tail of our last run.
# A run is "busy" when less than one CPU was free (on 2 CPUs: above 55%).
# That is a hint, not a verdict: the kernel's scheduler favours threads
# that wake from sleep, so a CPU hog may or may not slow a run down.
BUSY_PCT=$((100 * ($(nproc) - 1) / $(nproc) + 5))
# A 1-byte round trip between two kernel sockets over veth takes 5-15 us
# when the two threads meet on one CPU or wake each other quickly; on this
# VM a wake-up across CPUs sometimes costs ~100 us. Above this median the
# rr rows say "slow-wakeups" (a hint like "busy", not a verdict).
SLOW_WAKE_US=50
background() {
	local a b
	a=($(head -1 /proc/stat))
	sleep 0.2
	b=($(head -1 /proc/stat))
	awk -v u="$((b[1] - a[1]))" -v n="$((b[2] - a[2]))" -v s="$((b[3] - a[3]))" \
	    -v i="$((b[4] - a[4]))" -v w="$((b[5] - a[5]))" -v q="$((b[6] - a[6]))" \
	    -v sq="$((b[7] - a[7]))" -v st="$((b[8] - a[8]))" 'BEGIN {
		t = u + n + s + i + w + q + sq + st
		if (t > 0) printf "%d", 100 * (t - i - w) / t; else printf "0" }'
}

# pick VALUE:BG:P50... — the best run (the largest value: it is the least
# disturbed one), as "VALUE BG P50".
pick() { printf '%s\n' "$@" | sort -t: -k1,1g | tail -n 1 | tr : ' '; }

# timed NAME KEY TARGET UNIT ARGS... — REPS rounds of kernel-veth, ustack
# client, ustack server; a row per ustack set-up against the best kernel-veth
# run. Notes on a row: "noisy" (one set-up's runs differ by more than 1.5x),
# "busy" (a compared run started with less than one CPU free).
timed() {
	local name=$1 key=$2 target=$3 unit=$4; shift 4
	local kv=() uv=() sv=() r i side args bg v cp secs=${TSECS:-$SECS}
	say ""
	say "== $name ($*)"
	local sides=(${SIDES:-kernel ustack ustack-srv})
	for i in $(seq "$REPS"); do
		for side in "${sides[@]}"; do
			args=("$@")
			if [[ $side == ustack-srv* ]] && [[ " $* " == *" -m bulk "* ]]; then
				mapfile -t args < <(flip_dir "$@")
			fi
			bg=$(background)
			if r=$(run $side "${name// /_}" $((secs + 60)) -t "$secs" -i 0 "${args[@]}"); then
				cp=$(cpu_per "$r" "$side")
				if [ "$key" = tps ] || [ "$key" = cps ]; then
					say "   $side #$i: ${r#RESULT } (background busy ${bg}%;" \
						"CPU us per transaction: ${cp%/*} both processes, ${cp#*/}" \
						"$([[ $side == kernel* ]] && echo "the client" || echo "the stack's"))"
				else
					say "   $side #$i: ${r#RESULT } (background busy ${bg}%)"
				fi
				v="$(field "$r" "$key"):$bg:$(field "$r" p50_us):$cp"
				case $side in
				kernel*) kv+=("$v") ;;
				ustack|ustack-on|ustack-nbp) uv+=("$v") ;;
				*) sv+=("$v") ;;
				esac
			else
				say "   $side #$i: FAILED ${r#FAILEDRUN }"
			fi
		done
	done
	# SIDES without kernel-veth: the previous figure's kernel-veth runs are
	# the baseline (rr with and without busy polling run back to back).
	[[ " ${sides[*]} " == *" kernel"* ]] || kv=("${LAST_KV[@]}")
	LAST_KV=("${kv[@]}")
	if [ ${#kv[@]} -ne "$REPS" ] || [ ${#uv[@]} -ne "$REPS" ] || [ ${#sv[@]} -ne "$REPS" ]; then
		FAILED=1
	fi
	local kb ub sb kp
	kb=$(summary "${kv[@]}")
	ub=$(summary "${uv[@]}")
	sb=$(summary "${sv[@]}")
	# rr: a kernel-veth round trip of more than SLOW_WAKE_US at the median
	# means the machine's cross-CPU wake-ups dominate both set-ups.
	if [ "$key" = tps ] && [ ${#kv[@]} -eq "$REPS" ]; then
		kp=$(pick "${kv[@]}" | cut -d' ' -f3)
		if awk -v p="$kp" -v l=$SLOW_WAKE_US 'BEGIN { exit !(p + 0 > l) }'; then
			kb="$kb,slow-wakeups"
			say "   note: the best kernel-veth run has a p50 round trip of ${kp} us: wake-ups"
			say "   across CPUs are slow on this machine now, and they, not the stacks, set"
			say "   the pace of both set-ups (doc/BENCHMARKS.md, \"slow wake-ups\")."
		fi
	fi
	row "$name, ustack client" "${ub%% *}" "${kb%% *}" "$target" "$unit" \
		"$(notes "${ub#* }" "${kb#* }")"
	row "$name, ustack server" "${sb%% *}" "${kb%% *}" "$target" "$unit" \
		"$(notes "${sb#* }" "${kb#* }")"
	# rr, crr: CPU time per transaction in the best run of each set-up
	# (both processes; the stack's own share in the note).
	if { [ "$key" = tps ] || [ "$key" = cps ]; } && [ ${#kv[@]} -eq "$REPS" ] &&
	   [ ${#uv[@]} -eq "$REPS" ] && [ ${#sv[@]} -eq "$REPS" ]; then
		local kc uc sc
		kc=$(pick "${kv[@]}" | cut -d' ' -f4)
		uc=$(pick "${uv[@]}" | cut -d' ' -f4)
		sc=$(pick "${sv[@]}" | cut -d' ' -f4)
		row "$name, CPU/trans, ustack client" "${uc%/*}" "${kc%/*}" - "us CPU" \
			"stack's process ${uc#*/}"
		row "$name, CPU/trans, ustack server" "${sc%/*}" "${kc%/*}" - "us CPU" \
			"stack's process ${sc#*/}"
	fi
	# The best figures, for rows against the other baseline (bulk_both).
	LAST_K=${kb%% *} LAST_U=${ub%% *} LAST_S=${sb%% *}
}

# bulk_both NAME ARGS... — a bulk direction with offloads off (the set-ups
# at the top, target 0.20 of kernel-veth without offloads) and on (target
# 0.5 of kernel-veth with its default offloads), then every ustack figure
# against the other baseline too (reported, no target).
bulk_both() {
	local name=$1; shift
	# REPS_BULK rounds (default at most 2) each, to keep the bench short.
	REPS=$REPS_BULK timed "$name" mbps 0.20 "Mbit/s" "$@"
	local koff=$LAST_K uoff=$LAST_U soff=$LAST_S
	local ron=${BENCH_REPS_ON:-$REPS_BULK}
	REPS=$ron SIDES="kernel-on ustack-on ustack-srv-on" \
		timed "$name, offloads on" mbps 0.5 "Mbit/s" "$@"
	local kon=$LAST_K
	row "$name, ustack client (off) vs kernel on" "$uoff" "$kon" - "Mbit/s"
	row "$name, ustack server (off) vs kernel on" "$soff" "$kon" - "Mbit/s"
	row "$name, ustack client (on) vs kernel off" "$LAST_U" "$koff" - "Mbit/s"
	row "$name, ustack server (on) vs kernel off" "$LAST_S" "$koff" - "Mbit/s"
}

# summary VALUE:BG... — "BEST FLAGS" for one set-up (FAILED if a run failed);
# FLAGS is a comma list of noisy/busy, or "-".
summary() {
	if [ $# -ne "$REPS" ]; then echo "FAILED -"; return; fi
	local b f=() vals=() x
	for x in "$@"; do vals+=("${x%%:*}"); done
	b=($(pick "$@"))
	[ -z "$(noisy "${vals[@]}")" ] || f+=(noisy)
	[ "${b[1]}" -le $BUSY_PCT ] || f+=(busy)
	local IFS=,
	echo "${b[0]} ${f[*]:--}"
}

# notes FLAGS FLAGS — the union, as "noisy, busy" (empty if none).
notes() {
	local out=() f
	for f in noisy busy slow-wakeups; do
		[[ ",$1,$2," != *,$f,* ]] || out+=("$f")
	done
	local IFS=' '
	echo "${out[*]}" | sed 's/ /, /g'
}

# idle N BUFSIZE(0 = default) — memory per idle connection, one run per side.
# ustack: VmRSS growth of the stack's process per connection (the process
# holds the connections). kernel: the process barely grows; its sockets
# live in the kernel, so the figure is the growth of kernel object memory
# (/proc/slabinfo) per connection end (both ends are on this machine).
idle() {
	local n=$1 buf=$2 label kr ur ku uu
	label="idle $n conns, $([ "$buf" = 0 ] && echo default || echo "$((buf / 1024)) KiB") buffers"
	local extra=() limit=180
	[ "$buf" = 0 ] || extra=(--bufsize "$buf")
	local kn=$n uside=ustack ux=() hold=0
	if [ -n "${IDLE_BIG:-}" ]; then  # BENCH_IDLE_CONNS (see the top)
		limit=900 kn=$IDLE_KN uside=ustack-pair ux=(--from 10.81.6.1 --spread 8)
	fi
	# Default buffers: the ustack run holds its connections BENCH_IDLE_HOLD
	# seconds (default 10) and reports what idleness cost its timer thread.
	[ "$buf" != 0 ] || hold=${BENCH_IDLE_HOLD:-10}
	[ "$hold" = 0 ] || ux+=(-t "$hold")
	say ""
	say "== $label"
	ku=FAILED uu=FAILED
	if kr=$(run kernel "idle$n-$buf" $limit -m idle -n "$kn" "${extra[@]}"); then
		ku=$(awk -v a="$(field "$kr" kobj_after_kb)" -v b="$(field "$kr" kobj_before_kb)" -v n="$kn" \
			'BEGIN { printf "%.0f", (a - b) * 1024 / (2 * n) }')
		say "   kernel: ${kr#RESULT } => kernel memory per connection end ${ku} B"
	else
		say "   kernel: FAILED ${kr#FAILEDRUN }"
	fi
	local tc=FAILED tw=FAILED
	if ur=$(run $uside "idle$n-$buf" $limit -m idle -n "$n" "${extra[@]}" "${ux[@]}"); then
		uu=$(field "$ur" per_conn_bytes)
		say "   ustack: ${ur#RESULT } => process memory per connection ${uu} B"
		tc=$(field "$ur" timer_cpu_us) tw=$(field "$ur" timer_wakeups)
		tf=$(field "$ur" timer_fired) hc=$(field "$ur" hold_cpu_us)
		[ "$hold" = 0 ] || say "   ustack idle ${hold} s: timer thread ${tc} us CPU, ${tw} wake-ups," \
			"${tf} timers fired, $(field "$ur" timer_ops) wheel operations," \
			"$(field "$ur" timers_armed) armed at the end; whole process ${hc} us CPU"
	else
		say "   ustack: FAILED ${ur#FAILEDRUN }"
	fi
	[ "$ku" != FAILED ] && [ "$uu" != FAILED ] || FAILED=1
	row "$label" "$uu" "$ku" - "B/conn"
	if [ "$hold" != 0 ]; then
		ROWS+=("  timer thread over ${hold} s idle|${tc:--}|-|us CPU|-|-|info")
		ROWS+=("  timers fired / wake-ups over ${hold} s idle|${tf:--}/${tw:--}|-|count|-|-|info")
	fi
}

# ---- multiqueue TAP (issue 10): several flows into ustack, queues: 1 vs 2 ----
#
# MQ_FLOWS (BENCH_MQ_FLOWS, default 4) kernel usperf clients send at once,
# each its own connection, for SECS: into `usperf -s` on ustack over a TAP
# in ust-<pid>-mq (kernel side 10.81.11.1, ustack 10.81.11.2) that the
# stack creates itself with IFF_MULTI_QUEUE and `queues: 1`, then `queues:
# 2` (one receive thread per queue; the kernel's tun driver spreads the
# flows over the queues), and into the kernel's usperf server over the
# veth (kernel-veth, the same clients from kc). Offloads off everywhere,
# as the other "off" rows (ethtool on the TAP once the stack has made it;
# the stack's `offload: false`). Per set-up the best of REPS_BULK rounds
# of the flows' summed Mbit/s, and the ustack server's CPU time per MB
# (its process, all threads, from /proc) in the log lines. Rows: each
# queue count against kernel-veth, and queues: 2 against queues: 1.
MQ_FLOWS=${BENCH_MQ_FLOWS:-4}
MQ_SRV=10.81.11.2

# mq_client_runs NS ADDR TAG — MQ_FLOWS kernel clients at once from NS to
# ADDR:PORT; prints the summed Mbit/s and bytes ("MBPS BYTES"), or FAILED.
mq_client_runs() {
	local ns=$1 addr=$2 tag=$3 i pids=() logs=() sum=0 bytes=0 r
	for i in $(seq "$MQ_FLOWS"); do
		logs+=("$OUT/mq.$tag.$i.$(date +%s%N).log")
		timeout --kill-after=5 $((SECS + 60)) ip netns exec "$ns" "$USPERF" --kernel \
			-c "$addr" -p $PORT -t "$SECS" -i 0 -m bulk >"${logs[-1]}" 2>&1 &
		pids+=($!)
	done
	local bad=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || bad=1
		r=$(grep '^RESULT' "${logs[$i]}" | tail -1)
		[ -n "$(field "$r" mbps)" ] || { bad=1; continue; }
		sum=$(awk -v a="$sum" -v b="$(field "$r" mbps)" 'BEGIN { printf "%.2f", a + b }')
		bytes=$((bytes + $(field "$r" bytes)))
	done
	if [ $bad = 1 ]; then
		echo "bench: multiqueue $tag: a client failed; ${logs[0]} and the others" >&2
		echo FAILED
		return 1
	fi
	echo "$sum $bytes"
}

# mq_ustack Q — one round with the stack's `queues: Q`; prints
# "MBPS BYTES CPU_US" or FAILED.
mq_ustack() {
	local q=$1 y="$OUT/mq-q$1.yaml" log="$OUT/server-mq-q$1.$(date +%s%N).log" pid c0 c1 r
	printf 'interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n' > "$y"
	printf '    addresses: [%s/24]\n    macaddress: "02:00:0a:51:0b:02"\n' $MQ_SRV >> "$y"
	printf '    offload: false\n    queues: %s\n' "$q" >> "$y"
	start "$mq" "$log" "$USPERF" -s -p $PORT -C "$y"
	pid=$LAST_PID
	if ! poll 5 ip netns exec "$mq" ip link show tap0 ||
	   ! poll 5 grep -q '^Server listening' "$log"; then
		echo "bench: multiqueue: usperf -s with queues: $q did not come up; $log" >&2
		stop_pid "$pid" >/dev/null 2>&1
		echo FAILED
		return 1
	fi
	ip -n "$mq" addr add 10.81.11.1/24 dev tap0
	ip -n "$mq" link set tap0 up
	command -v ethtool >/dev/null && ip netns exec "$mq" ethtool -K tap0 tso off gso off \
		gro off lro off tx off rx off sg off >/dev/null 2>&1
	poll 5 ip netns exec "$mq" ping -c1 -W1 $MQ_SRV
	c0=$(pid_cpu_us "$pid")
	r=$(mq_client_runs "$mq" $MQ_SRV "q$q")
	c1=$(pid_cpu_us "$pid")
	stop_pid "$pid" >/dev/null 2>&1
	[ "$r" != FAILED ] || { echo FAILED; return 1; }
	echo "$r $((c1 - c0))"
}

mq_figures() {
	say ""
	say "== multiqueue TAP: $MQ_FLOWS flows kernel->ustack, queues: 1 and 2 (offloads off)"
	mq=$(new_ns mq)
	local i r bg k=() u1=() u2=() q
	for i in $(seq "$REPS_BULK"); do
		bg=$(background)
		if r=$(mq_client_runs "$kc" 10.81.1.2 kernel); then
			say "   kernel-veth #$i: ${r%% *} Mbit/s in $MQ_FLOWS flows (background busy ${bg}%)"
			k+=("${r%% *}:$bg")
		else
			say "   kernel-veth #$i: FAILED"
		fi
		for q in 1 2; do
			bg=$(background)
			if r=$(mq_ustack $q) && [ "$r" != FAILED ]; then
				set -- $r
				say "   ustack queues: $q #$i: $1 Mbit/s in $MQ_FLOWS flows, server CPU" \
					"$(awk -v c="$3" -v b="$2" 'BEGIN { printf "%.0f", c / (b / 1e6) }') us per MB" \
					"(background busy ${bg}%)"
				if [ $q = 1 ]; then u1+=("$1:$bg"); else u2+=("$1:$bg"); fi
			else
				say "   ustack queues: $q #$i: FAILED"
			fi
		done
	done
	ip netns del "$mq" 2>/dev/null
	local REPS=$REPS_BULK kb b1 b2
	kb=$(summary "${k[@]}")
	b1=$(summary "${u1[@]}")
	b2=$(summary "${u2[@]}")
	[ "${kb%% *}" != FAILED ] && [ "${b1%% *}" != FAILED ] && [ "${b2%% *}" != FAILED ] || FAILED=1
	row "$MQ_FLOWS flows kernel->ustack, queues: 1" "${b1%% *}" "${kb%% *}" - "Mbit/s" \
		"$(notes "${b1#* }" "${kb#* }")"
	row "$MQ_FLOWS flows kernel->ustack, queues: 2" "${b2%% *}" "${kb%% *}" - "Mbit/s" \
		"$(notes "${b2#* }" "${kb#* }")"
	local n
	n=$(notes "${b2#* }" "${b1#* }")
	row "$MQ_FLOWS flows kernel->ustack, queues: 2 vs 1" "${b2%% *}" "${b1%% *}" - "Mbit/s" \
		"kernel-veth column = queues: 1${n:+, $n}"
}

# ---- HTTP figures (reported, no targets) ----

HSRV=10.81.4.2          # ustackd's http service, on the TAP in hs (kernel side 10.81.4.1)
KSRV=10.81.1.2          # the kernel server in ks, over the veth from kc
KTAP=10.81.5.1          # the same server on the TAP in ks, where uscurl is 10.81.5.2
USCURL_STACK="--tap tap0 --addr 10.81.5.2/24 --mac 02:00:0a:51:05:02"
WWW=$TMP/www
DL_BYTES=52428800       # the "50 MB" file, as in tests/net/t_http_service.sh
WRK_ARGS="-t2 -c32"
KNAME=                  # nginx or python3, once it serves

# poll SECONDS CMD... — like wait_for, but a timeout returns 1 instead of
# ending the bench (the HTTP rows then say FAILED, the others stay).
poll() {
	local tries=$(($1 * 10)); shift
	while [ $tries -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# kcurl NS ARGS... — the kernel's curl in NS; never through a proxy, so
# nothing is sent to an address outside our namespaces.
kcurl() {
	local ns=$1; shift
	timeout --kill-after=5 90 ip netns exec "$ns" curl --noproxy '*' -sS --max-time 60 "$@"
}

# same_file NS URL FILE — the body at URL is FILE, byte for byte.
same_file() {
	[ "$(kcurl "$1" -f "$2" | sha256sum | cut -d' ' -f1)" = "$(sha256sum < "$3" | cut -d' ' -f1)" ]
}

# kserver_start — the kernel-side HTTP server in ks, port 80 on all its
# addresses, serving $WWW with keep-alive: nginx (installed with
# tools/deps.sh when missing) unless BENCH_HTTP_SERVER=python3 or it cannot
# be had, else python3's ThreadingHTTPServer with HTTP/1.1 (the plain
# `python3 -m http.server` speaks HTTP/1.0 without keep-alive). Sets KNAME.
kserver_start() {
	if [ "${BENCH_HTTP_SERVER:-nginx}" = nginx ]; then
		command -v nginx >/dev/null ||
			bash "$root/tools/deps.sh" --quiet nginx-light >/dev/null 2>&1 ||
			bash "$root/tools/deps.sh" --quiet nginx >/dev/null 2>&1
		command -v nginx >/dev/null ||
			say "   note: nginx is not installed and could not be installed; python3 serves instead"
	fi
	if [ "${BENCH_HTTP_SERVER:-nginx}" = nginx ] && command -v nginx >/dev/null; then
		KNAME=nginx
		mkdir -p "$TMP/nginx"
		# Two workers, as ustackd's service has (HTTP_WORKERS); no sendfile, so
		# that both servers copy the file through user space (without
		# scatter-gather the kernel copies sendfile's pages anyway); no limit
		# on requests per connection (nginx's default closes after 1000;
		# ustackd never does); no access log (ustackd logs none at info).
		cat > "$TMP/nginx/nginx.conf" <<NGINX
daemon off;
master_process on;
worker_processes 2;
user root;
pid $TMP/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
	access_log off;
	default_type application/octet-stream;
	sendfile off;
	keepalive_timeout 65s;
	keepalive_requests 1000000;
	server { listen 80 default_server; root $WWW; }
}
NGINX
		start "$ks" "$OUT/server-http-nginx.log" nginx -e stderr -p "$TMP/nginx/" \
			-c "$TMP/nginx/nginx.conf"
	else
		KNAME=python3
		cat > "$TMP/httpd.py" <<'PY'
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, as nginx and ustackd
    def log_message(self, *args):
        pass

srv = http.server.ThreadingHTTPServer(("", 80), functools.partial(Handler, directory=sys.argv[1]))
srv.daemon_threads = True
print("serving", flush=True)
srv.serve_forever()
PY
		start "$ks" "$OUT/server-http-python3.log" /usr/bin/python3 "$TMP/httpd.py" "$WWW"
	fi
	KPID=$LAST_PID
	poll 10 same_file "$kc" "http://$KSRV/index.html" "$WWW/index.html" || {
		say "   $KNAME in $ks did not serve index.html over the veth within 10 s:"
		tail -n 5 "$OUT/server-http-$KNAME.log" | sed 's/^/    /' | tee -a "$OUT/results.txt"
		return 1
	}
	poll 10 same_file "$ks" "http://$KTAP/index.html" "$WWW/index.html" || {
		say "   $KNAME in $ks did not serve index.html on its TAP address $KTAP"
		return 1
	}
}

# ustackd_start — ustackd on tap0 in hs with the http service over $WWW.
ustackd_start() {
	cat > "$TMP/ustackd-http.yaml" <<YAML
interfaces:
  eth0:
    backend: tap
    device: tap0
    macaddress: 02:00:0a:51:04:02
    addresses: [$HSRV/24]
services:
  - {type: http, port: 80, root: "$WWW"}
YAML
	start "$hs" "$OUT/server-http-ustackd.log" "$BIN/ustackd" -C "$TMP/ustackd-http.yaml"
	poll 10 same_file "$hs" "http://$HSRV/index.html" "$WWW/index.html" || {
		say "   ustackd in $hs did not serve index.html within 10 s; the end of its log:"
		tail -n 5 "$OUT/server-http-ustackd.log" | sed 's/^/    /' | tee -a "$OUT/results.txt"
		return 1
	}
}

# wrk_run NS URL TAG — one wrk run; prints "REQS P50 P99 ERRORS" (errors:
# socket errors plus non-2xx/3xx responses), or says why on stderr and
# returns 1.
wrk_run() {
	local log
	log="$OUT/wrk.$3.$(date +%s%N).log"
	timeout --kill-after=5 $((HTTP_SECS + 30)) ip netns exec "$1" \
		wrk $WRK_ARGS -d "${HTTP_SECS}s" --latency "$2" >"$log" 2>&1
	local rc=$? req
	req=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$log")
	if [ $rc -ne 0 ] || [ -z "$req" ]; then
		echo "bench: wrk $2 in $1: exit $rc; the end of $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
		return 1
	fi
	awk -v req="$req" '
		$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
		/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { e += $NF }
		END { printf "%s %s %s %d\n", req, p50, p99, e }' "$log"
}

# http_wrk LABEL PATH — REPS rounds of wrk against the kernel server (from
# kc over the veth) and against ustackd (from hs over the TAP); one row,
# best run of each.
http_wrk() {
	local label=$1 path=$2 scen="wrk $1, ustackd vs $KNAME"
	say ""
	say "== wrk $WRK_ARGS -d ${HTTP_SECS}s --latency, keep-alive, GET $path ($label)"
	if [ -n "$WRK_MISSING" ]; then
		say "   SKIPPED: $WRK_MISSING"
		ROWS+=("$scen|-|-|req/s|-|-|SKIPPED (no wrk)")
		return
	fi
	local kv=() uv=() i side r bg errs=0 ns url who
	local REPS=$REPS_WRK          # for summary too
	for i in $(seq "$REPS"); do
		for side in kernel ustack; do
			if [ $side = kernel ]; then
				ns=$kc url="http://$KSRV$path" who=$KNAME
				[ "$K_OK" = 1 ] || continue
			else
				ns=$hs url="http://$HSRV$path" who=ustackd
				[ "$U_OK" = 1 ] || continue
			fi
			bg=$(background)
			if r=$(wrk_run "$ns" "$url" "$who"); then
				set -- $r
				say "   $who #$i: requests/s=$1 p50=$2 p99=$3 errors=$4 (background busy ${bg}%)"
				[ "$4" = 0 ] || errs=1
				if [ $side = kernel ]; then kv+=("$1:$bg:0"); else uv+=("$1:$bg:0"); fi
			else
				say "   $who #$i: FAILED"
			fi
		done
	done
	[ ${#kv[@]} -eq "$REPS" ] && [ ${#uv[@]} -eq "$REPS" ] || FAILED=1
	local kb ub note
	kb=$(summary "${kv[@]}")
	ub=$(summary "${uv[@]}")
	note=$(notes "${ub#* }" "${kb#* }")
	[ $errs = 0 ] || note="${note:+$note, }errors"
	row "$scen" "${ub%% *}" "${kb%% *}" - "req/s" "$note"
}

# download SIDE — one timed download of the 50 MB file; prints its
# time_total and time_connect in seconds, or says why on stderr and returns 1. SIDE:
# uscurl (the stack on the TAP in ks, from the kernel server), curl-kernel
# (curl in kc, from the kernel server over the veth), curl-ustackd (curl in
# hs, from ustackd over the TAP). The body goes to a file and must have
# the source's SHA-256.
download() {
	local out="$TMP/download" log
	log="$OUT/download.$1.$(date +%s%N).log"
	rm -f "$out"
	local fmt='%{http_code} %{size_download} %{time_total} %{time_connect}\n'
	case $1 in
	uscurl)
		timeout --kill-after=5 90 ip netns exec "$ks" "$BIN/uscurl" -sS --max-time 60 \
			-o "$out" -w "$fmt" $USCURL_STACK "http://$KTAP/50m.bin" >"$log" 2>&1 ;;
	curl-kernel)
		kcurl "$kc" -o "$out" -w "$fmt" "http://$KSRV/50m.bin" >"$log" 2>&1 ;;
	curl-ustackd)
		kcurl "$hs" -o "$out" -w "$fmt" "http://$HSRV/50m.bin" >"$log" 2>&1 ;;
	esac
	local rc=$? code size secs conn sum
	read -r code size secs conn < <(grep -E '^[0-9]{3} ' "$log" | tail -1)
	sum=$(sha256sum < "$out" 2>/dev/null | cut -d' ' -f1)
	rm -f "$out"
	if [ $rc -ne 0 ] || [ "${code:-}" != 200 ] || [ "${size:-}" != $DL_BYTES ] ||
	   [ "$sum" != "$DL_SUM" ]; then
		echo "bench: download by $1: exit $rc, status ${code:-none}, ${size:-no} bytes," \
			"SHA-256 $([ "$sum" = "$DL_SUM" ] && echo equal || echo DIFFERENT); $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
		return 1
	fi
	echo "$secs $conn"
}

# median VALUE:BG... — the median run (the middle one of the sorted
# values), as "VALUE BG".
median() {
	printf '%s\n' "$@" | sort -t: -k1,1g | sed -n "$((($# + 1) / 2))p" | tr : ' '
}

# dl_summary VALUE:BG... — "MEDIAN FLAGS" (FAILED if a run failed); FLAGS
# as summary's: noisy (spread over 1.5x), busy (the median run started
# with less than one CPU free).
dl_summary() {
	if [ $# -ne "$REPS" ]; then echo "FAILED -"; return; fi
	local m f=() vals=() x
	for x in "$@"; do vals+=("${x%%:*}"); done
	m=($(median "$@"))
	[ -z "$(noisy "${vals[@]}")" ] || f+=(noisy)
	[ "${m[1]}" -le $BUSY_PCT ] || f+=(busy)
	local IFS=,
	echo "${m[0]} ${f[*]:--}"
}

http_downloads() {
	say ""
	say "== download of a 50 MB file (52,428,800 bytes), time_total, SHA-256 checked"
	local uv=() kv=() cv=() i side s c bg
	for i in $(seq "$REPS"); do
		for side in uscurl curl-kernel curl-ustackd; do
			case $side in
			uscurl|curl-kernel) [ "$K_OK" = 1 ] || continue ;;
			*) [ "$U_OK" = 1 ] || continue ;;
			esac
			bg=$(background)
			if s=$(download $side); then
				c=${s#* } s=${s%% *}
				case $side in
				uscurl) say "   uscurl from $KNAME (TAP) #$i: ${s} s (connected after ${c} s; background busy ${bg}%)"
					uv+=("$s:$bg") ;;
				curl-kernel) say "   curl from $KNAME (veth) #$i: ${s} s (connected after ${c} s; background busy ${bg}%)"
					kv+=("$s:$bg") ;;
				*) say "   curl from ustackd (TAP) #$i: ${s} s (connected after ${c} s; background busy ${bg}%)"
					cv+=("$s:$bg") ;;
				esac
			else
				say "   $side #$i: FAILED"
			fi
		done
	done
	[ ${#uv[@]} -eq "$REPS" ] && [ ${#kv[@]} -eq "$REPS" ] && [ ${#cv[@]} -eq "$REPS" ] || FAILED=1
	local um km cm
	um=$(dl_summary "${uv[@]}")
	km=$(dl_summary "${kv[@]}")
	cm=$(dl_summary "${cv[@]}")
	row "50 MB from $KNAME, uscurl vs curl" "${um%% *}" "${km%% *}" - "s" \
		"$(notes "${um#* }" "${km#* }")"
	row "50 MB by curl, ustackd vs $KNAME" "${cm%% *}" "${km%% *}" - "s" \
		"$(notes "${cm#* }" "${km#* }")"
}

# http_figures — the files, the two servers, wrk on two files, the downloads.
http_figures() {
	say ""
	say "== http: servers and files"
	command -v curl >/dev/null || bash "$root/tools/deps.sh" --quiet curl >/dev/null 2>&1
	if ! command -v curl >/dev/null; then
		say "   SKIPPED: curl is not installed and could not be installed (tools/deps.sh curl)"
		for s in "wrk 1 KiB" "wrk 1 MiB" "50 MB download"; do
			ROWS+=("$s|-|-|-|-|-|SKIPPED (no curl)")
		done
		return
	fi
	WRK_MISSING=
	command -v wrk >/dev/null || bash "$root/tools/deps.sh" --quiet wrk >/dev/null 2>&1
	command -v wrk >/dev/null ||
		WRK_MISSING="wrk is not installed and could not be installed (tools/deps.sh wrk)"
	mkdir -p "$WWW"
	printf '<html><body>%s</body></html>\n' "$(printf '%0997d' 0 | tr 0 x)" > "$WWW/index.html"
	head -c 1048576 /dev/urandom > "$WWW/1m.bin"
	head -c $DL_BYTES /dev/urandom > "$WWW/50m.bin"
	[ "$(wc -c < "$WWW/index.html")" = 1024 ] || fail "index.html is not 1024 bytes"
	DL_SUM=$(sha256sum < "$WWW/50m.bin" | cut -d' ' -f1)
	K_OK=0 U_OK=0
	kserver_start && K_OK=1
	ustackd_start && U_OK=1
	say "   kernel server: $KNAME in $ks on $KSRV (veth, for wrk and curl from $kc) and $KTAP (TAP, for uscurl)"
	say "   ustackd: http service in $hs on $HSRV (TAP; wrk and curl from its kernel side)"
	[ $K_OK = 1 ] && [ $U_OK = 1 ] || FAILED=1
	http_wrk "1 KiB" /index.html
	http_wrk "1 MiB" /1m.bin
	http_downloads
}

# ---- the pcap backend against TAP (issue 9: pcap at least 0.5 of TAP) ----
#
# Three more namespaces: ust-<pid>-pcp (the stack on veth0 through libpcap,
# the kernel on the other end 10.81.6.1 in -pck, offloads left on) and -pct
# (the stack on tap0, kernel side 10.81.7.1). (Not -pt: tests/bench/preload.sh
# has that one.) The same PCAP_MB go each way with the kernel's nc
# and usnc; the figure is Mbit/s of the whole transfer (connect to exit).
PCAP_MB=${BENCH_PCAP_MB:-100}
# xfer NS_SEND NS_RECV RECV_READY_CMD SEND_CMD RECV_CMD -> Mbit/s or FAILED
xfer() {
	local nss=$1 nsr=$2 ready=$3 scmd=$4 rcmd=$5 t0 t1 r
	# Runs in $(...): the receiver is ended here on every failure path.
	start "$nsr" "$OUT/pcap-recv.log" sh -c "$rcmd"
	r=$LAST_PID
	if ! (wait_for 5 "receiver" sh -c "$ready") >/dev/null; then
		kill "$r" 2>/dev/null; wait "$r"; echo FAILED; return
	fi
	t0=$(date +%s%N)
	if ! ip netns exec "$nss" timeout 120 sh -c "$scmd" >/dev/null 2>&1; then
		kill "$r" 2>/dev/null; wait "$r"; echo FAILED; return
	fi
	wait "$r" || { echo FAILED; return; }
	t1=$(date +%s%N)
	[ "$(wc -c < "$OUT/pcap.out")" = $((PCAP_MB * 1000000)) ] || { echo FAILED; return; }
	awk -v b=$((PCAP_MB * 1000000)) -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", b * 8 / (ns / 1000) }'
}
# best_of N CMD... -> the highest of N runs
best_of() {
	local n=$1 best=FAILED v; shift
	for _ in $(seq "$n"); do
		v=$("$@")
		[ "$v" = FAILED ] && continue
		if [ "$best" = FAILED ] || [ "$v" -gt "$best" ]; then best=$v; fi
	done
	echo "$best"
}
pcap_figures() {
	local pp pk pt data="$OUT/pcap.in" nc_in p_in p_out t_in t_out
	pp=$(new_ns pcp); pk=$(new_ns pck); pt=$(new_ns pct)
	veth_up "$pp" veth0 - "$pk" veth1 10.81.6.1/24
	tap_up "$pt" tap0 10.81.7.1/24
	head -c $((PCAP_MB * 1000000)) /dev/zero > "$data"
	local P="--pcap veth0 --addr 10.81.6.2/24" T="--tap tap0 --addr 10.81.7.2/24"
	# kernel -> ustack: usnc -l receives.
	p_in=$(best_of "$REPS_BULK" xfer "$pk" "$pp" "grep -q '^Listening' $OUT/pcap-recv.log" \
		"nc -N 10.81.6.2 5401 < $data" "exec $BIN/usnc -v -l -p 5401 $P > $OUT/pcap.out")
	t_in=$(best_of "$REPS_BULK" xfer "$pt" "$pt" "grep -q '^Listening' $OUT/pcap-recv.log" \
		"nc -N 10.81.7.2 5402 < $data" "exec $BIN/usnc -v -l -p 5402 $T > $OUT/pcap.out")
	# ustack -> kernel: the kernel's nc -l receives.
	p_out=$(best_of "$REPS_BULK" xfer "$pp" "$pk" "ip netns exec $pk ss -tln | grep -q ':5403 '" \
		"$BIN/usnc -N $P 10.81.6.1 5403 < $data" "exec nc -l -p 5403 > $OUT/pcap.out")
	t_out=$(best_of "$REPS_BULK" xfer "$pt" "$pt" "ip netns exec $pt ss -tln | grep -q ':5404 '" \
		"$BIN/usnc -N $T 10.81.7.1 5404 < $data" "exec nc -l -p 5404 > $OUT/pcap.out")
	rm -f "$data" "$OUT/pcap.out"
	row "bulk kernel->ustack pcap/TAP" "$p_in" "$t_in" 0.5 "Mbit/s" "kernel-veth column = TAP"
	row "bulk ustack->kernel pcap/TAP" "$p_out" "$t_out" 0.5 "Mbit/s" "kernel-veth column = TAP"
	[ "$p_in" != FAILED ] && [ "$t_in" != FAILED ] && [ "$p_out" != FAILED ] &&
		[ "$t_out" != FAILED ] || FAILED=1
}

# ---- forwarding (issue 11): kernel -> router -> kernel ----
#
# Host A (ust-<pid>-fa) and host B (ust-<pid>-fb), both the kernel, joined
# twice: through a kernel router (ust-<pid>-fr, ip_forward=1, a veth to
# each: 10.83.1.0/24 on A's side, 10.83.2.0/24 on B's) and through ustackd
# with `forwarding: true` (its TAPs made in ust-<pid>-fu, then moved into A
# and B: 10.83.3.0/24 and 10.83.4.0/24). A's route to each of B's addresses
# goes through one router only, so the same two hosts, the same usperf
# client in A and server in B, measure both routers in turn, FWD_REPS
# (BENCH_REPS_BULK) rounds of SECS each, best run shown. Offloads off on
# every interface, as in the bulk rows (a forwarding ustack interface
# opens its TAP without offloads: doc/CONFIG.md). No target: reported.
forward_figures() {
	local fa fb fr fu i side dst r bg kv=() uv=() kb ub log
	say ""
	say "== forwarding, bulk kernel->router->kernel (-m bulk)"
	fa=$(new_ns fa); fb=$(new_ns fb); fr=$(new_ns fr); fu=$(new_ns fu)
	ip -n "$fa" link add vka type veth peer name vra netns "$fr" || fail "veth for the kernel router"
	ip -n "$fb" link add vkb type veth peer name vrb netns "$fr" || fail "veth for the kernel router"
	ip -n "$fa" addr add 10.83.1.1/24 dev vka
	ip -n "$fr" addr add 10.83.1.2/24 dev vra
	ip -n "$fr" addr add 10.83.2.2/24 dev vrb
	ip -n "$fb" addr add 10.83.2.1/24 dev vkb
	ip netns exec "$fr" sysctl -qw net.ipv4.ip_forward=1
	cat > "$OUT/fwd-router.yaml" <<Y
stack: {forwarding: true}
interfaces:
  a0: {backend: tap, device: tapa, addresses: [10.83.3.2/24], macaddress: "02:00:0a:53:03:02"}
  b0: {backend: tap, device: tapb, addresses: [10.83.4.2/24], macaddress: "02:00:0a:53:04:02"}
Y
	start "$fu" "$OUT/fwd-ustackd.log" "$BIN/ustackd" -C "$OUT/fwd-router.yaml"
	(wait_for 5 "the ustack router" grep -q 'ustackd: up, 2 interfaces' "$OUT/fwd-ustackd.log") ||
		{ row "forward kernel->router->kernel" FAILED - - "Mbit/s"; FAILED=1; return; }
	ip -n "$fu" link set tapa netns "$fa" && ip -n "$fu" link set tapb netns "$fb" ||
		fail "moving the router's TAPs"
	ip -n "$fa" addr add 10.83.3.1/24 dev tapa
	ip -n "$fb" addr add 10.83.4.1/24 dev tapb
	for x in "$fa vka" "$fa tapa" "$fr vra" "$fr vrb" "$fb vkb" "$fb tapb"; do
		set -- $x
		ip -n "$1" link set "$2" up
		command -v ethtool >/dev/null &&
			ip netns exec "$1" ethtool -K "$2" tso off gso off gro off lro off tx off rx off sg off \
				>/dev/null 2>&1
	done
	ip -n "$fa" route add 10.83.2.0/24 via 10.83.1.2
	ip -n "$fa" route add 10.83.4.0/24 via 10.83.3.2
	ip -n "$fb" route add 10.83.1.0/24 via 10.83.2.2
	ip -n "$fb" route add 10.83.3.0/24 via 10.83.4.2
	start "$fb" "$OUT/fwd-server.log" "$USPERF" -s --kernel -p 5310
	wait_for 5 "usperf -s --kernel in $fb" grep -q '^Server listening' "$OUT/fwd-server.log"
	wait_for 5 "B through the kernel router" ip netns exec "$fa" ping -c1 -W1 10.83.2.1
	wait_for 5 "B through the ustack router" ip netns exec "$fa" ping -c1 -W1 10.83.4.1
	for i in $(seq "$REPS_BULK"); do
		for side in kernel ustack; do
			[ $side = kernel ] && dst=10.83.2.1 || dst=10.83.4.1
			bg=$(background)
			log="$OUT/forward.$side.$i.log"
			timeout --kill-after=5 $((SECS + 60)) ip netns exec "$fa" "$USPERF" --kernel \
				-c $dst -p 5310 -m bulk -t "$SECS" -i 0 > "$log" 2>&1
			r=$(grep '^RESULT' "$log" | tail -1)
			if [ -z "$r" ]; then
				say "   $side router #$i: FAILED (the end of $log:)"
				tail -n 3 "$log" | sed 's/^/    /'
				continue
			fi
			say "   $side router #$i: ${r#RESULT } (background busy ${bg}%)"
			if [ $side = kernel ]; then kv+=("$(field "$r" mbps):$bg"); else uv+=("$(field "$r" mbps):$bg"); fi
		done
	done
	kb=$(REPS=$REPS_BULK summary "${kv[@]}")
	ub=$(REPS=$REPS_BULK summary "${uv[@]}")
	local n
	n=$(notes "${ub#* }" "${kb#* }")
	row "forward kernel->router->kernel" "${ub%% *}" "${kb%% *}" - "Mbit/s" \
		"${n:+$n; }kernel-veth column = kernel router"
	[ ${#kv[@]} -eq "$REPS_BULK" ] && [ ${#uv[@]} -eq "$REPS_BULK" ] || FAILED=1
}

# ---- SYN flood (issue 10): rate handled, clients served ----
#
# FLOOD_SYNS spoofed SYNs (tests/net/synflood.py: a raw socket, as fast as
# it goes, 20 s at most; sources in 10.81.77.0/24, routed back to the
# flooding side, which drops the answers) at a TCP echo service while 50
# kernel clients connect and echo 10 KB each (tests/net/echo_clients.py).
#   ustack:      ustackd's echo service on a TAP in ust-<pid>-sf (kernel
#                side 10.81.8.1, the stack 10.81.8.2), SYN cookies on (default).
#   kernel-veth: socat's echo (backlog 1024) in ks on 10.81.1.2, flood and
#                clients from kc; the namespace's tcp_syncookies is 1.
# Figures: SYN cookies sent per second of flood (each server's own counter:
# ustackd's "SYN cookies sent", the kernel's TcpExtSyncookiesSent), and
# clients served out of 50.
FLOOD_SYNS=${BENCH_FLOOD_SYNS:-100000}
# flood_once NS DST -> "SECS SERVED" (SERVED: clients that got their data back)
flood_once() {
	local ns=$1 dst=$2 f served secs
	start "$ns" "$OUT/flood.log" timeout 60 /usr/bin/python3 "$root/tests/net/synflood.py" \
		"$dst" 7 10.81.77 "$FLOOD_SYNS" 20
	f=$LAST_PID
	sleep 1
	ip netns exec "$ns" timeout 60 /usr/bin/python3 "$root/tests/net/echo_clients.py" "$dst" 7 50 10000 30 \
		> "$OUT/flood-clients.log" 2>&1
	wait "$f"
	served=$(sed -n 's|^\([0-9]*\)/50 clients.*|\1|p' "$OUT/flood-clients.log")
	secs=$(sed -n 's/^sent [0-9]* in \([0-9.]*\) s.*/\1/p' "$OUT/flood.log")
	echo "${secs:-0} ${served:-0}"
}
synflood_figures() {
	say ""
	say "== SYN flood: $FLOOD_SYNS spoofed SYNs, 50 echo clients during it"
	local sf d r ks_rate=FAILED us_rate=FAILED ks_served=FAILED us_served=FAILED c0 c1
	sf=$(new_ns sf)
	ip -n "$ks" route add 10.81.77.0/24 via 10.81.1.1
	ip netns exec "$ks" sysctl -qw net.ipv4.tcp_syncookies=1
	start "$ks" "$OUT/flood-socat.log" socat TCP4-LISTEN:7,fork,reuseaddr,backlog=1024 PIPE
	local sp=$LAST_PID
	if (wait_for 5 "socat echo" sh -c "ip netns exec $ks ss -tln | grep -q ':7 '") >/dev/null; then
		c0=$(ip netns exec "$ks" nstat -asz TcpExtSyncookiesSent | awk '/SyncookiesSent/ { print $2 }')
		r=($(flood_once "$kc" 10.81.1.2))
		c1=$(ip netns exec "$ks" nstat -asz TcpExtSyncookiesSent | awk '/SyncookiesSent/ { print $2 }')
		ks_served=${r[1]}
		ks_rate=$(awk -v n=$((c1 - c0)) -v s="${r[0]}" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
		say "   kernel: ${r[1]}/50 served, $((c1 - c0)) cookies in ${r[0]} s of flood"
	fi
	kill "$sp" 2>/dev/null
	tap_up "$sf" tap0 10.81.8.1/24
	cat > "$OUT/flood.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.81.8.2/24]}
routes:
  - {to: 10.81.77.0/24, via: 10.81.8.1}
services:
  - {type: echo, proto: tcp, port: 7}
YAML
	start "$sf" "$OUT/flood-ustackd.log" "$BIN/ustackd" -C "$OUT/flood.yaml"
	d=$LAST_PID
	if (wait_for 5 "ustackd" grep -q 'ustackd: up' "$OUT/flood-ustackd.log") >/dev/null; then
		r=($(flood_once "$sf" 10.81.8.2))
		stop_pid "$d"
		c1=$(counter "$OUT/flood-ustackd.log" tcp "SYN cookies sent (SYN queue full)")
		us_served=${r[1]}
		us_rate=$(awk -v n="$c1" -v s="${r[0]}" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
		local drops
		drops=$(ip -n "$sf" -s link show tap0 | awk '/TX:/ { getline; print $4 }')
		say "   ustack: ${r[1]}/50 served, $c1 cookies in ${r[0]} s of flood" \
			"(tap0 dropped ${drops:-?} frames ustackd did not read in time)"
	fi
	[ "$us_rate" != FAILED ] && [ "$ks_rate" != FAILED ] || FAILED=1
	row "SYN flood: cookies sent" "$us_rate" "$ks_rate" - "SYNs/s"
	row "SYN flood: clients served" "$us_served" "$ks_served" 1.0 "of 50"
}

# The shim's rows (programs over libustack-preload.so): tests/bench/preload.sh.
. "$here/preload.sh"
# Goodput under loss through a ustack router (issue 13): tests/bench/loss.sh.
. "$here/loss.sh"

# stage CMD... — run one part of the bench and note how long it took.
STAGES=()
stage() {
	local t=$SECONDS
	"$@"
	STAGES+=("$((SECONDS - t)) s  $*")
}

if [ "$ONLY" = preload ]; then
	stage preload_figures
elif [ "$ONLY" = pcap ]; then
	stage pcap_figures
elif [ "$ONLY" = forward ]; then
	stage forward_figures
elif [ "$ONLY" = loss ]; then
	stage loss_figures
elif [ "$ONLY" = synflood ]; then
	stage synflood_figures
elif [ "$ONLY" = idle ] && [ -n "$IDLE_BIG" ]; then
	stage idle "$IDLE_BIG" 0
elif [ "$ONLY" = idle ]; then
	stage idle 1000 0
	stage idle 1000 4096
	stage idle 10000 0
	stage idle 10000 4096
elif [ "$ONLY" = bulk ]; then
	stage bulk_both "bulk ustack->kernel" -m bulk
	stage bulk_both "bulk kernel->ustack" -m bulk -R
	stage mq_figures
elif [ "$ONLY" = mq ]; then
	stage mq_figures
elif [ "$ONLY" = rr ]; then
	TSECS=$SECS_RR stage timed "rr 1 byte" tps 1.0 "trans/s" -m rr -l 1
	TSECS=$SECS_RR SIDES="ustack-nbp ustack-srv-nbp" \
		stage timed "rr 1 byte, busy_poll_us 0" tps 1.0 "trans/s" -m rr -l 1
	TSECS=$SECS_RR stage timed "crr" cps 1.0 "conn/s" -m crr
elif [ "$ONLY" != http ]; then
	stage pcap_figures
	stage forward_figures
	stage loss_figures
	stage bulk_both "bulk ustack->kernel" -m bulk
	stage bulk_both "bulk kernel->ustack" -m bulk -R
	stage mq_figures
	TSECS=$SECS_RR stage timed "rr 1 byte" tps 1.0 "trans/s" -m rr -l 1
	TSECS=$SECS_RR SIDES="ustack-nbp ustack-srv-nbp" \
		stage timed "rr 1 byte, busy_poll_us 0" tps 1.0 "trans/s" -m rr -l 1
	TSECS=$SECS_RR stage timed "crr" cps 1.0 "conn/s" -m crr
	stage idle 1000 0
	stage idle 1000 4096
	stage idle 10000 0
	stage idle 10000 4096
	stage synflood_figures
fi
if [ "$ONLY" = "" ] || [ "$ONLY" = http ]; then stage http_figures; fi
[ "$ONLY" = "" ] && stage preload_figures
# The timer wheel at 100,000 armed timers (tests/bench/timerbench.c): one
# timer-thread iteration (run + next deadline) and one re-arm, in ns. No
# kernel counterpart, no target: a figure to watch (full bench only).
if [ "$ONLY" = "" ] && [ -x "$BUILD_ABS/tests/timerbench" ]; then
	tb=$("$BUILD_ABS/tests/timerbench" 100000 2>&1 | grep '^RESULT' || true)
	tl=$(sed -n 's/.* loop_ns=\([0-9]*\).*/\1/p' <<<"$tb")
	ta=$(sed -n 's/.* arm_ns=\([0-9]*\).*/\1/p' <<<"$tb")
	ROWS+=("timer loop at 100,000 timers (run + next)|${tl:--}|-|ns|-|-|info")
	ROWS+=("timer re-arm at 100,000 timers|${ta:--}|-|ns|-|-|info")
fi
# Per-thread counters and buffer caches (tests/bench/pcpubench.c): one
# counter increment and one buffer get+put, 2 threads at once, in ns, the
# per-thread scheme in the ustack column and the replaced one (shared
# atomic array, pool mutex) in the kernel column (full bench only).
if [ "$ONLY" = "" ] && [ -x "$BUILD_ABS/tests/pcpubench" ]; then
	pb=$("$BUILD_ABS/tests/pcpubench" 2>&1 | grep '^RESULT.*threads=2' || true)
	pv() { sed -n "s/.*pcpubench $1 *threads=2 ns_per_op=\([0-9.]*\).*/\1/p" <<<"$pb"; }
	ROWS+=("counter increment, 2 threads (old: shared atomic)|$(pv 'count new')|$(pv 'count old')|ns|-|-|info")
	ROWS+=("buffer get+put, 2 threads (old: pool mutex)|$(pv 'buf new')|$(pv 'buf old')|ns|-|-|info")
fi

say ""
{
	printf '%-52s %12s %12s %-8s %6s %8s %s\n' scenario ustack kernel-veth unit ratio target result
	for r in "${ROWS[@]}"; do
		IFS='|' read -r s u k unit ratio t v <<<"$r"
		printf '%-52s %12s %12s %-8s %6s %8s %s\n' "$s" "$u" "$k" "$unit" "$ratio" "$t" "$v"
	done
} | tee -a "$OUT/results.txt"
say ""
if [ "$ONLY" = "" ] || [ "$ONLY" = tcp ] || [ "$ONLY" = idle ]; then
	say "(idle rows: ustack = its process's VmRSS growth per connection; kernel-veth ="
	say " kernel object memory growth per connection end; ratio = ustack / kernel, lower"
	say " is leaner; no target.)"
fi
if [ "$ONLY" = "" ] || [ "$ONLY" = tcp ] || [ "$ONLY" = synflood ]; then
	say "(SYN flood rows: cookies = SYN cookies each server sent per second of the"
	say " flood (python raw-socket sender: its own rate is the ceiling); clients = kernel"
	say " echo clients of 50 that got their 10 KB back during the flood.)"
fi
if [ "$ONLY" = "" ] || [ "$ONLY" = http ]; then
	say "(http rows, no target: wrk = requests/s from the kernel's wrk, best run, against"
	say " ustackd's http service over a TAP (ustack) and against ${KNAME:-the kernel server} over the veth"
	say " (kernel-veth), higher is faster; 50 MB = seconds to download, median run, by"
	say " uscurl over a TAP (ustack) or the kernel's curl over the veth (kernel-veth) from"
	say " the same ${KNAME:-kernel} server, and by curl from ustackd over a TAP; ratio above 1 = ustack"
	say " slower.)"
fi
if [ "$ONLY" = "" ] || [ "$ONLY" = preload ]; then
	say "(shim rows, no target: unmodified programs over libustack-preload.so on a TAP"
	say " (ustack) against the same programs on the kernel over a veth (kernel-veth),"
	say " offloads at their defaults, best run; iperf3 Gbit/s from --json, wrk req/s"
	say " against nginx with master_process off; ratio = ustack / kernel, higher is faster.)"
fi
say "Time per part:"
for x in "${STAGES[@]}"; do say "   $x"; done
say "Logs: $OUT; the bench took ${SECONDS} s ($(date -u '+%H:%M UTC') end)."
if [ $FAILED -ne 0 ]; then
	say "bench: some scenarios could not run (FAILED rows; see above)"
	exit 1
fi
exit 0
