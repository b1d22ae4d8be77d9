#!/usr/bin/env bash
# compare.sh — bulk over a TAP (offloads off) with several builds of usperf,
# interleaved in one run, for regression hunting and git bisect.
#
#   tests/bench/compare.sh [-R] [-O] [-m rr|crr] [-t SECS] [-n ROUNDS] BINDIR[@BUSY_POLL_US]...
#
# Each BINDIR holds a usperf binary (e.g. build/bin, or the build/bin of a
# `git archive OLD | tar -x` copy built with `make build/bin/usperf`). One
# namespace ust-<pid>-cmp with tap0 (kernel side 10.81.10.1, `usperf -s
# --kernel` from this tree's build), offloads off with ethtool as in
# run.sh; each BINDIR's usperf runs the stack on tap0 as 10.81.10.2 with
# `offload: false` (left out for builds older than offloads, which have no
# core/netif_offload.c next to their build directory) and, after @, that
# busy_poll_us. ROUNDS rounds (default 5) of every BINDIR in turn, SECS
# (default 2) each, ustack sending (-R: receiving). Per BINDIR: the best
# Mbit/s (other work on the machine only slows a run down), every run, and
# three figures that depend less on that other work: the stack process's
# CPU time per MB moved (user + system, perf stat's task-clock), and futex
# calls and context switches per MB (when perf is installed; else only
# Mbit/s). Root, /dev/net/tun and network namespaces needed, as run.sh.
# -O: offloads on (the TAP's kernel defaults, the stack's `offload: true`)
# instead of off. -m rr / -m crr: 1-byte request/response or connect-
# request-response instead of bulk, ustack as the client; the figures are
# then transactions (or connections) per second, and CPU time, futex calls
# and context switches per transaction.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$root" && cd "$BUILD" 2>/dev/null && pwd) || {
	echo "compare: no build directory $BUILD: run make first"; exit 1; }
export BUILD_ABS
. "$root/tests/net/lib.sh"

SECS=2 ROUNDS=5 DIR= OFFL=false MODE=bulk
usage="usage: $0 [-R] [-O] [-m rr|crr] [-t SECS] [-n ROUNDS] BINDIR[@BUSY_POLL_US]..."
while getopts "ROm:t:n:" o; do
	case $o in
	R) DIR=-R ;;
	O) OFFL=true ;;
	m) MODE=$OPTARG ;;
	t) SECS=$OPTARG ;;
	n) ROUNDS=$OPTARG ;;
	*) echo "$usage"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "$usage"; exit 2; }
case $MODE in
bulk) UNIT=Mbit/s PER=MB CF=%.0f FF=%.0f/%.0f ;;
rr|crr) UNIT=trans/s PER=trans DIR= CF=%.1f FF=%.2f/%.2f ;;
*) echo "$usage"; exit 2 ;;
esac
SPECS=("$@")
need_root
for sp in "${SPECS[@]}"; do
	[ -x "${sp%@*}/usperf" ] || { echo "compare: ${sp%@*}/usperf is missing"; exit 1; }
done
PERF=
command -v perf >/dev/null && PERF=perf

ns=$(new_ns cmp)
tap_up -m 1500 "$ns" tap0 10.81.10.1/24
[ "$OFFL" = true ] || ip netns exec "$ns" ethtool -K tap0 tso off gso off gro off lro off tx off rx off sg off \
	>/dev/null 2>&1 || echo "compare: note: ethtool could not turn the TAP's offloads off"
start "$ns" "$TMP/server.log" "$BIN/usperf" -s --kernel -p 5301
wait_for 5 "usperf -s --kernel in $ns" grep -q '^Server listening' "$TMP/server.log"

echo "compare: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
	"$MODE, ustack $([ -n "$DIR" ] && echo receiving || echo sending), offloads" \
	"$([ "$OFFL" = true ] && echo on || echo off), ${SECS}s x $ROUNDS rounds"
declare -A best all cpu fx
for r in $(seq "$ROUNDS"); do
	for k in "${!SPECS[@]}"; do
		sp=${SPECS[$k]} d=${SPECS[$k]%@*} bp=
		[ "$sp" = "$d" ] || bp=${sp##*@}
		y=$TMP/stack-$k.yaml
		printf 'interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n' > "$y"
		printf '    addresses: [10.81.10.2/24]\n    macaddress: "02:00:0a:51:0a:02"\n' >> "$y"
		[ ! -e "$d/../../core/netif_offload.c" ] || echo "    offload: $OFFL" >> "$y"
		[ -z "$bp" ] || printf 'stack:\n  busy_poll_us: %s\n' "$bp" >> "$y"
		if [ -n "$PERF" ]; then
			out=$(timeout --kill-after=5 $((SECS + 60)) ip netns exec "$ns" perf stat -x, \
				-e task-clock,context-switches,syscalls:sys_enter_futex \
				"$d/usperf" -C "$y" -c 10.81.10.1 -p 5301 -t "$SECS" -i 0 -m "$MODE" $DIR 2>&1)
		else
			out=$(timeout --kill-after=5 $((SECS + 60)) ip netns exec "$ns" \
				"$d/usperf" -C "$y" -c 10.81.10.1 -p 5301 -t "$SECS" -i 0 -m "$MODE" $DIR 2>&1)
		fi
		res=$(grep '^RESULT' <<<"$out" | tail -1)
		if [ "$MODE" = bulk ]; then
			v=$(sed -n 's/.* mbps=\([^ ]*\).*/\1/p' <<<"$res")
			# per MB: bytes / 1e6
			b=$(sed -n 's/.* bytes=\([^ ]*\).*/\1/p' <<<"$res")
		else
			v=$(sed -n 's/.* [tc]ps=\([^ ]*\).*/\1/p' <<<"$res")
			# per transaction: n * 1e6 / 1e6
			b=$(sed -n 's/.* n=\([^ ]*\).*/\1/p' <<<"$res")
			[ -z "$b" ] || b=$((b * 1000000))
		fi
		[ -n "$v" ] || v=FAILED
		all[$k]="${all[$k]:-} $v"
		if [ "$v" != FAILED ]; then
			awk -v a="$v" -v b="${best[$k]:-0}" 'BEGIN { exit !(a + 0 > b + 0) }' && best[$k]=$v
			if [ -n "$PERF" ]; then
				tc=$(grep ',msec,task-clock' <<<"$out" | cut -d, -f1)
				cs=$(grep ',context-switches' <<<"$out" | cut -d, -f1)
				fu=$(grep ',syscalls:sys_enter_futex' <<<"$out" | cut -d, -f1)
				cpu[$k]="${cpu[$k]:-} $(awk -v t="$tc" -v b="$b" -v fmt="$CF" 'BEGIN { printf fmt, t * 1000 / (b / 1e6) }')"
				fx[$k]="${fx[$k]:-} $(awk -v f="$fu" -v c="$cs" -v b="$b" -v fmt="$FF" \
					'BEGIN { printf fmt, f / (b / 1e6), c / (b / 1e6) }')"
			fi
		fi
	done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
for k in "${!SPECS[@]}"; do
	echo "${SPECS[$k]}: best ${best[$k]:-FAILED} $UNIT (runs:${all[$k]})"
	[ -z "$PERF" ] || [ -z "${cpu[$k]:-}" ] ||
		echo "    CPU us per $PER: median $(median ${cpu[$k]}) (runs:${cpu[$k]}); futex calls/context switches per $PER:${fx[$k]}"
done
