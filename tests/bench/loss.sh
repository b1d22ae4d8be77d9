# tests/bench/loss.sh — goodput under loss (issue 13), sourced by run.sh.
#
# One path, two senders: a ustack router (ustackd, `forwarding: true`)
# between namespace A (ust-<pid>-la) and B (ust-<pid>-lb), its interface
# towards B impaired on the way out (the data direction): loss, reordering
# and added delay from the interface layer's impairments (backends/impair.c,
# seeded). In A a bridge br0 joins the router's TAP and a second TAP, tapx,
# so that both senders reach the router over the same L2 hop:
#   kernel sender:  usperf --kernel --congestion cubic in A (10.85.1.1 on br0;
#                   the machine's default is bbr, which ignores loss)
#   ustack sender:  usperf -C on tapx (10.85.1.3, tcp.congestion: cubic and
#                   sndbuf 4 MiB: ustack does not autotune its send buffer,
#                   the kernel grows its own up to 4 MiB, tcp_wmem)
# to the kernel receiver usperf -s --kernel in B (10.85.2.1), LOSS_SECS
# seconds of -m bulk each, one run per sender and cell, in turn. The router
# restarts for each cell (a new impairment); offloads off everywhere (the
# impair layer passes frames above 9014 bytes unimpaired).
#
# Cells: loss 0, 0.1, 1, 3, 5 %; reordering 0 or 2 % (the impair layer
# holds a frame back behind the next one); 1 or 20 ms added one-way delay.
# make bench runs LOSS_CELLS_SHORT (2 cells, about 15 s); BENCH_ONLY=loss
# runs them all (20 cells). Results: a table in results.txt and
# $OUT/loss-matrix.txt; doc/BENCHMARKS.md keeps the latest.
#
# After the matrix, loss_rr_figures: 1 KiB request/response latency
# (p50/p99/p99.9) through the same path at 1 % loss, ustack client against
# kernel client (issue 13's tail-latency target).

LOSS_SECS=${BENCH_LOSS_SECS:-2}
# loss% reorder% delay_ms, one cell per word triple.
LOSS_CELLS_SHORT="1:0:20 5:2:20"
LOSS_CELLS_FULL=""
for d in 1 20; do for r in 0 2; do for l in 0 0.1 1 3 5; do
	LOSS_CELLS_FULL+="$l:$r:$d "
done; done; done

# One sender's goodput (Mbit/s) through the current cell, or FAILED.
loss_run() {
	local side=$1 log="$OUT/loss.$1.$2.log" r
	if [ "$side" = kernel ]; then
		timeout --kill-after=5 $((LOSS_SECS + 60)) ip netns exec "$la" "$USPERF" --kernel \
			-c 10.85.2.1 -p 5320 -m bulk -t "$LOSS_SECS" -i 0 --congestion cubic >"$log" 2>&1
	else
		timeout --kill-after=5 $((LOSS_SECS + 60)) ip netns exec "$la" "$USPERF" \
			-C "$OUT/loss-sender.yaml" -c 10.85.2.1 -p 5320 -m bulk -t "$LOSS_SECS" -i 0 \
			>"$log" 2>&1
	fi
	r=$(grep '^RESULT' "$log" | tail -1)
	[ -n "$r" ] && field "$r" mbps || echo FAILED
}

# loss_path L R D [TAG] — a new router with L % loss, R % reordering and D ms
# of delay on its way out towards B, its TAPs in A's bridge and in B, the
# kernel server in B up, B reachable from A. Sets loss_router; 1 if the
# router did not come up. TAG, if given, prefixes the router's log name.
loss_path() {
	local l=$1 r=$2 d=$3 cell="${4:-}$1:$2:$3" x
	cat > "$OUT/loss-router.yaml" <<Y
stack: {forwarding: true, seed: 7}
interfaces:
  a0: {backend: tap, device: tapa, addresses: [10.85.1.2/24], macaddress: "02:00:0a:55:01:02"}
  b0:
    backend: tap
    device: tapb
    addresses: [10.85.2.2/24]
    macaddress: "02:00:0a:55:02:02"
    impair: {out: {loss: $(awk "BEGIN { print $l / 100 }"), reorder: $(awk "BEGIN { print $r / 100 }"), delay_ms: $d}}
Y
	start "$lu" "$OUT/loss-ustackd.$cell.log" "$BIN/ustackd" -C "$OUT/loss-router.yaml"
	loss_router=$LAST_PID
	(wait_for 5 "the ustack router" grep -q 'ustackd: up, 2 interfaces' \
		"$OUT/loss-ustackd.$cell.log") || { say "   $cell: router FAILED"; FAILED=1; return 1; }
	ip -n "$lu" link set tapa netns "$la" && ip -n "$lu" link set tapb netns "$lb" ||
		fail "moving the router's TAPs"
	ip -n "$la" link set tapa master br0
	ip -n "$la" link set tapa up
	ip -n "$lb" addr add 10.85.2.1/24 dev tapb
	ip -n "$lb" link set tapb up
	ip -n "$lb" route add 10.85.1.0/24 via 10.85.2.2
	for x in "$la tapa" "$la tapx" "$la br0" "$lb tapb"; do
		set -- $x
		command -v ethtool >/dev/null &&
			ip netns exec "$1" ethtool -K "$2" tso off gso off gro off lro off tx off rx off \
				sg off >/dev/null 2>&1
	done
	if [ -z "${loss_server:-}" ] || ! kill -0 "$loss_server" 2>/dev/null; then
		start "$lb" "$OUT/loss-server.log" "$USPERF" -s --kernel -p 5320
		loss_server=$LAST_PID
		wait_for 5 "usperf -s --kernel in $lb" grep -q '^Server listening' "$OUT/loss-server.log"
	fi
	wait_for 5 "B through the ustack router" ip netns exec "$la" ping -c1 -W1 10.85.2.1
}

loss_figures() {
	local cells=$LOSS_CELLS_SHORT cell l r d k u ratio line
	[ "$ONLY" = loss ] && cells=$LOSS_CELLS_FULL
	[ -n "${BENCH_LOSS_CELLS:-}" ] && cells=$BENCH_LOSS_CELLS      # e.g. "1:0:20 5:2:1"
	say ""
	say "== goodput under loss: sender -> ustack router (impaired towards B) -> kernel receiver"
	say "   ($LOSS_SECS s of -m bulk per sender and cell; CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1))"
	la=$(new_ns la); lb=$(new_ns lb); lu=$(new_ns lu)
	ip -n "$la" link add br0 type bridge
	ip -n "$la" addr add 10.85.1.1/24 dev br0
	ip -n "$la" tuntap add dev tapx mode tap
	ip -n "$la" link set tapx master br0
	ip -n "$la" link set tapx up
	ip -n "$la" link set br0 up
	ip -n "$la" route add 10.85.2.0/24 via 10.85.1.2
	cat > "$OUT/loss-sender.yaml" <<Y
interfaces:
  x0: {backend: tap, device: tapx, addresses: [10.85.1.3/24], macaddress: "02:00:0a:55:01:03"}
routes:
  - {to: 10.85.2.0/24, via: 10.85.1.2}
tcp: {congestion: cubic, sndbuf: 4194304}
Y
	local table="$OUT/loss-matrix.txt"
	printf '%-8s %-8s %-6s %12s %12s %8s\n' "loss%" "reord%" "delay" "ustack Mb/s" "kernel Mb/s" "ratio" \
		| tee "$table" | tee -a "$OUT/results.txt"
	for cell in $cells; do
		IFS=: read -r l r d <<<"$cell"
		loss_path "$l" "$r" "$d" || continue
		u=$(loss_run ustack "$cell")
		k=$(loss_run kernel "$cell")
		ratio=-
		[ "$u" != FAILED ] && [ "$k" != FAILED ] &&
			ratio=$(awk "BEGIN { if ($k > 0) printf \"%.2f\", $u / $k; else print \"-\" }")
		[ "$u" = FAILED ] || [ "$k" = FAILED ] && FAILED=1
		printf '%-8s %-8s %-6s %12s %12s %8s\n' "$l" "$r" "${d}ms" "$u" "$k" "$ratio" \
			| tee -a "$table" | tee -a "$OUT/results.txt"
		stop_pid "$loss_router" >/dev/null 2>&1
		# The TAPs went with the router; br0 keeps tapx.
	done
	loss_rr_figures
}

# One client's 1 KiB request/response run through the current path: its
# RESULT line, or nothing.
loss_rr_run() {
	local side=$1 secs=$2 log="$OUT/loss-rr.$1.$3.log"
	if [ "$side" = kernel ]; then
		timeout --kill-after=5 $((secs + 60)) ip netns exec "$la" "$USPERF" --kernel \
			-c 10.85.2.1 -p 5320 -m rr -l 1024 -t "$secs" -i 0 --congestion cubic >"$log" 2>&1
	else
		timeout --kill-after=5 $((secs + 60)) ip netns exec "$la" "$USPERF" \
			-C "$OUT/loss-sender.yaml" -c 10.85.2.1 -p 5320 -m rr -l 1024 -t "$secs" -i 0 \
			>"$log" 2>&1
	fi
	grep '^RESULT' "$log" | tail -1
}

# Issue 13's latency target: 1 KiB request / 1 KiB response on one
# connection (usperf -m rr -l 1024, TCP_NODELAY), ustack client against
# kernel client, the kernel server in B, through the same router with 1 %
# loss on the way towards B: the requests are impaired, the responses come
# back clean, so the tail is the clients' recovery of a lost request (a
# one-segment tail loss: only a loss probe or the RTO can repair it). Each
# client has a router of its own with the same seed, so both meet the same
# drops as long as they send the same frames.
# LOSS_RR_CELLS: loss:reorder:delay:seconds per client.
LOSS_RR_CELLS_SHORT="1:0:1:3"
LOSS_RR_CELLS_FULL="1:0:1:15 1:0:20:30"
loss_rr_figures() {
	local cells=$LOSS_RR_CELLS_SHORT cell l r d t side res p50 p99 p999 mx tps n
	local -A P99
	[ "$ONLY" = loss ] && cells=$LOSS_RR_CELLS_FULL
	[ -n "${BENCH_LOSS_RR_CELLS:-}" ] && cells=$BENCH_LOSS_RR_CELLS
	say ""
	say "== 1 KiB request/response under loss: client -> ustack router (impaired towards B) -> kernel server"
	printf '%-6s %-6s %-7s %8s %10s %10s %10s %10s %9s\n' "loss%" "delay" "client" "trans" \
		"p50 us" "p99 us" "p99.9 us" "max us" "trans/s" | tee -a "$OUT/results.txt"
	for cell in $cells; do
		IFS=: read -r l r d t <<<"$cell"
		for side in ustack kernel; do
			# A router of its own per client: the same seed, so both
			# clients meet the same sequence of drops (frame by frame).
			loss_path "$l" "$r" "$d" "rr-$side-" || continue
			res=$(loss_rr_run "$side" "$t" "$l-$r-$d")
			stop_pid "$loss_router" >/dev/null 2>&1
			if [ -z "$res" ]; then
				say "   $side: FAILED ($OUT/loss-rr.$side.$l-$r-$d.log)"
				FAILED=1
				continue
			fi
			n=$(field "$res" n); tps=$(field "$res" tps); p50=$(field "$res" p50_us)
			p99=$(field "$res" p99_us); p999=$(field "$res" p999_us); mx=$(field "$res" max_us)
			P99[$side]=$p99
			printf '%-6s %-6s %-7s %8s %10s %10s %10s %10s %9s\n' "$l" "${d}ms" "$side" "$n" \
				"$p50" "$p99" "$p999" "$mx" "$tps" | tee -a "$OUT/results.txt"
		done
		[ -n "${P99[ustack]:-}" ] && [ -n "${P99[kernel]:-}" ] &&
			say "   p99 ustack / kernel: $(awk "BEGIN { printf \"%.2f\", ${P99[ustack]} / ${P99[kernel]} }") (target: at most 1)"
		P99=()
	done
}
