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

loss_figures() {
	local cells=$LOSS_CELLS_SHORT cell l r d k u ratio router line
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
		router=$LAST_PID
		(wait_for 5 "the ustack router" grep -q 'ustackd: up, 2 interfaces' \
			"$OUT/loss-ustackd.$cell.log") || { say "   $cell: router FAILED"; FAILED=1; continue; }
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
		u=$(loss_run ustack "$cell")
		k=$(loss_run kernel "$cell")
		ratio=-
		[ "$u" != FAILED ] && [ "$k" != FAILED ] &&
			ratio=$(awk "BEGIN { if ($k > 0) printf \"%.2f\", $u / $k; else print \"-\" }")
		[ "$u" = FAILED ] || [ "$k" = FAILED ] && FAILED=1
		printf '%-8s %-8s %-6s %12s %12s %8s\n' "$l" "$r" "${d}ms" "$u" "$k" "$ratio" \
			| tee -a "$table" | tee -a "$OUT/results.txt"
		stop_pid "$router" >/dev/null 2>&1
		# The TAPs went with the router; br0 keeps tapx.
	done
}
