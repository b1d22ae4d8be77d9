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
# Logs and results go to $BUILD/bench/ (results.txt is the table).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$root" && cd "$BUILD" 2>/dev/null && pwd) || {
	echo "bench: no build directory $BUILD: run make first"; exit 1; }
export BUILD_ABS
. "$root/tests/net/lib.sh"        # namespaces, PIDs, cleanup trap, wait_for

SECS=${BENCH_SECS:-5}
REPS=${BENCH_REPS:-3}
PORT=5301
OUT=$BUILD_ABS/bench
USPERF=$BIN/usperf

need_root
[ -x "$USPERF" ] || { echo "bench: $USPERF is missing: run make"; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT/results.txt"

say() { echo "$*" | tee -a "$OUT/results.txt"; }

say "ustack bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
say "machine: $(nproc) CPUs, $cpu_model, kernel $(uname -r)"
say "runs: ${SECS}s each, best of $REPS per set-up, nothing pinned to a CPU"

# ---- the three set-ups ----

kc=$(new_ns kc)
ks=$(new_ns ks)
st=$(new_ns st)
ss=$(new_ns ss)
ip -n "$kc" link add veth0 mtu 1500 type veth peer name veth1 mtu 1500 netns "$ks" ||
	fail "cannot create the veth pair"
ip -n "$kc" addr add 10.81.1.1/24 dev veth0
ip -n "$ks" addr add 10.81.1.2/24 dev veth1
ip -n "$kc" link set veth0 up
ip -n "$ks" link set veth1 up
ip netns exec "$st" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
ip -n "$st" link set tap0 mtu 1500
ip -n "$st" addr add 10.81.2.1/24 dev tap0
ip -n "$st" link set tap0 up
ip netns exec "$ss" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
ip -n "$ss" link set tap0 mtu 1500
ip -n "$ss" addr add 10.81.3.1/24 dev tap0
ip -n "$ss" link set tap0 up

# No offloads: segmentation, GRO and checksums in software on every
# kernel interface involved. ethtool is installed with the project's own
# deps script when missing; if that fails the offloads stay and we say so.
OFFLOADS="off (ethtool -K: tso gso gro lro tx rx sg off)"
command -v ethtool >/dev/null || bash "$root/tools/deps.sh" --quiet ethtool >/dev/null 2>&1
if command -v ethtool >/dev/null; then
	for pair in "$kc veth0" "$ks veth1" "$st tap0" "$ss tap0"; do
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

start "$ks" "$OUT/server-kernel-veth.log" "$USPERF" -s --kernel -p $PORT
wait_for 5 "usperf -s --kernel in $ks" grep -q '^Server listening' "$OUT/server-kernel-veth.log"
start "$st" "$OUT/server-ustack-tap.log" "$USPERF" -s --kernel -p $PORT
wait_for 5 "usperf -s --kernel in $st" grep -q '^Server listening' "$OUT/server-ustack-tap.log"
start "$ss" "$OUT/server-ustack-srv.log" "$USPERF" -s -p $PORT --tap tap0 --addr 10.81.3.2/24 \
	--mac 02:00:0a:51:03:02
wait_for 5 "usperf -s on ustack in $ss" grep -q '^Server listening' "$OUT/server-ustack-srv.log"

# Fixed MACs: each ustack client run is a new process, and with a new
# random MAC each time the kernel's neighbour entry would point at the last
# one for a moment.
STACK="--tap tap0 --addr 10.81.2.2/24 --mac 02:00:0a:51:02:02"

# ---- running one figure ----

# run SIDE NAME TIMEOUT ARGS... — one client run (SIDE: kernel, ustack or
# ustack-srv); prints its RESULT line, or on failure says why on stderr,
# prints "FAILEDRUN" and any RESULT line (idle failures carry the reason)
# and returns 1. The log stays in $OUT.
run() {
	local side=$1 name=$2 limit=$3; shift 3
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
	esac
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -q '^RESULT' "$log"; then
		echo "bench: $name on $side: usperf exit $rc; the end of $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
		echo "FAILEDRUN $(grep '^RESULT' "$log" | tail -1)"
		return 1
	fi
	grep '^RESULT' "$log" | tail -1
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

# background — how busy the CPUs are, in % of all of them, over the half
# second before a run, when nothing of ours should be running (the servers
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
	sleep 0.5
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
	local kv=() uv=() sv=() r i side args bg v
	say ""
	say "== $name ($*)"
	for i in $(seq "$REPS"); do
		for side in kernel ustack ustack-srv; do
			args=("$@")
			if [ $side = ustack-srv ] && [[ " $* " == *" -m bulk "* ]]; then
				mapfile -t args < <(flip_dir "$@")
			fi
			bg=$(background)
			if r=$(run $side "${name// /_}" $((SECS + 60)) -t "$SECS" -i 0 "${args[@]}"); then
				say "   $side #$i: ${r#RESULT } (background busy ${bg}%)"
				v="$(field "$r" "$key"):$bg:$(field "$r" p50_us)"
				case $side in
				kernel) kv+=("$v") ;;
				ustack) uv+=("$v") ;;
				*) sv+=("$v") ;;
				esac
			else
				say "   $side #$i: FAILED ${r#FAILEDRUN }"
			fi
		done
	done
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
	local extra=()
	[ "$buf" = 0 ] || extra=(--bufsize "$buf")
	say ""
	say "== $label"
	ku=FAILED uu=FAILED
	if kr=$(run kernel "idle$n-$buf" 180 -m idle -n "$n" "${extra[@]}"); then
		ku=$(awk -v a="$(field "$kr" kobj_after_kb)" -v b="$(field "$kr" kobj_before_kb)" -v n="$n" \
			'BEGIN { printf "%.0f", (a - b) * 1024 / (2 * n) }')
		say "   kernel: ${kr#RESULT } => kernel memory per connection end ${ku} B"
	else
		say "   kernel: FAILED ${kr#FAILEDRUN }"
	fi
	if ur=$(run ustack "idle$n-$buf" 180 -m idle -n "$n" "${extra[@]}"); then
		uu=$(field "$ur" per_conn_bytes)
		say "   ustack: ${ur#RESULT } => process memory per connection ${uu} B"
	else
		say "   ustack: FAILED ${ur#FAILEDRUN }"
	fi
	[ "$ku" != FAILED ] && [ "$uu" != FAILED ] || FAILED=1
	row "$label" "$uu" "$ku" - "B/conn"
}

timed "bulk ustack->kernel" mbps 0.20 "Mbit/s" -m bulk
timed "bulk kernel->ustack" mbps 0.20 "Mbit/s" -m bulk -R
timed "rr 1 byte" tps 0.85 "trans/s" -m rr -l 1
timed "crr" cps 0.80 "conn/s" -m crr
idle 1000 0
idle 1000 4096
idle 10000 0
idle 10000 4096

say ""
{
	printf '%-36s %12s %12s %-8s %6s %8s %s\n' scenario ustack kernel-veth unit ratio target result
	for r in "${ROWS[@]}"; do
		IFS='|' read -r s u k unit ratio t v <<<"$r"
		printf '%-36s %12s %12s %-8s %6s %8s %s\n' "$s" "$u" "$k" "$unit" "$ratio" "$t" "$v"
	done
} | tee -a "$OUT/results.txt"
say ""
say "(idle rows: ustack = its process's VmRSS growth per connection; kernel-veth ="
say " kernel object memory growth per connection end; ratio = ustack / kernel, lower"
say " is leaner; no target.) Logs: $OUT"
if [ $FAILED -ne 0 ]; then
	say "bench: some scenarios could not run (FAILED rows; see above)"
	exit 1
fi
exit 0
