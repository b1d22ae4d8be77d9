# preload.sh — the shim's rows of `make bench` (sourced by run.sh, which
# provides say, row, $OUT, $REPS, FAILED; tests/net/lib.sh new_ns, start,
# wait_for, veth_up, tap_up).
# Unmodified programs over libustack-preload.so against the same programs
# on the kernel, in the same run (doc/BENCHMARKS.md "Programs over the shim"):
#
#   shim-k   ust-<pid>-pc (10.83.1.1) --veth-- ust-<pid>-pv (10.83.1.2):
#            kernel iperf3 -c -> kernel iperf3 -s; kernel wrk -> kernel nginx.
#   shim-u   ust-<pid>-pt: tap0 (kernel side 10.83.2.1: iperf3 -s, wrk),
#            the shim's stack on tap0 as 10.83.2.2 (iperf3 -c, nginx).
#
# Offloads stay at their defaults on both sides (the kernel's veth: TSO,
# GRO, checksums; the stack: `offload: true`), so each side has the best it
# can do. nginx runs `master_process off` (one process: what the shim
# supports) on both sides, sendfile on (the shim copies). Rows report,
# with no target: iperf3 -c (ustack sends), iperf3 -c -R (ustack receives),
# in Gbit/s from --json, and wrk requests/s for a 1 KiB file. Each figure
# runs PRELOAD_REPS times (default min(2, BENCH_REPS)) for
# BENCH_PRELOAD_SECS seconds (default 2), in turn, best run shown.

PRELOAD_SECS=${BENCH_PRELOAD_SECS:-2}
PRELOAD_REPS=${PRELOAD_REPS:-$((REPS < 2 ? REPS : 2))}
SHIM_LIB=$BUILD_ABS/lib/libustack-preload.so
IPJ="/usr/bin/python3 $root/tests/net/iperf_json.py"

# pl_iperf SIDE ARGS... — one iperf3 -c run (SIDE k: kernel over the veth;
# u: over the shim over TAP); prints Gbit/s (sent for -c, received for -R)
# or returns 1 after saying why.
pl_iperf() {
	local side=$1; shift
	local log="$OUT/preload-iperf3.$side.$(date +%s%N).json" key=sum_sent
	case " $* " in *" -R "*) key=sum_received ;; esac
	if [ "$side" = k ]; then
		timeout --kill-after=5 $((PRELOAD_SECS + 20)) ip netns exec "$pc" \
			iperf3 -c 10.83.1.2 -t "$PRELOAD_SECS" --json "$@" >"$log" 2>&1
	else
		timeout --kill-after=5 $((PRELOAD_SECS + 20)) ip netns exec "$pt" \
			env LD_PRELOAD="$SHIM_LIB" USTACK_CONFIG="$OUT/preload.yaml" \
			iperf3 -c 10.83.2.1 -t "$PRELOAD_SECS" --json "$@" >"$log" 2>&1
	fi
	if ! $IPJ "$log" "j['end']['$key']['bytes'] > 0" >&2; then
		echo "bench: iperf3 -c $* ($side) failed; the end of $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
		return 1
	fi
	$IPJ "$log" --get "'%.2f' % (j['end']['$key']['bits_per_second'] / 1e9)"
}

# pl_wrk SIDE — one wrk run against nginx; prints requests/s.
pl_wrk() {
	local side=$1 log="$OUT/preload-wrk.$1.$(date +%s%N).log" ns=$pc url=http://10.83.1.2:8080/index.html
	[ "$side" = u ] && { ns=$pt; url=http://10.83.2.2:8080/index.html; }
	timeout --kill-after=5 $((PRELOAD_SECS + 20)) ip netns exec "$ns" \
		wrk -t2 -c32 -d "${PRELOAD_SECS}s" "$url" >"$log" 2>&1
	local req
	req=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$log")
	if [ -z "$req" ] || grep -qE 'Socket errors|Non-2xx' "$log"; then
		echo "bench: wrk against nginx ($side) failed or had errors; the end of $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
		return 1
	fi
	echo "$req"
}

# pl_best NAME UNIT CMD... — PRELOAD_REPS rounds of "CMD k" and "CMD u" in
# turn; one row, best run of each side.
pl_best() {
	local name=$1 unit=$2; shift 2
	local i k u ks=() us=() bk=FAILED bu=FAILED
	for i in $(seq "$PRELOAD_REPS"); do
		k=$("$@" k) && ks+=("$k")
		u=$("$@" u) && us+=("$u")
		say "   run $i: kernel ${k:-FAILED}, shim ${u:-FAILED} $unit"
	done
	[ ${#ks[@]} -gt 0 ] && bk=$(printf '%s\n' "${ks[@]}" | sort -g | tail -n 1)
	[ ${#us[@]} -gt 0 ] && bu=$(printf '%s\n' "${us[@]}" | sort -g | tail -n 1)
	[ "$bk" != FAILED ] && [ "$bu" != FAILED ] || FAILED=1
	row "$name" "$bu" "$bk" - "$unit"
}

# pl_nginx_conf ADDR — nginx.conf for one process serving $OUT/preload-www on ADDR:8080.
pl_nginx_conf() {
	cat <<CONF
master_process off;
daemon off;
worker_processes 1;
user root;
error_log stderr warn;
pid $TMP/preload-nginx-$1.pid;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/pl-body; proxy_temp_path $TMP/pl-proxy;
	fastcgi_temp_path $TMP/pl-fcgi; uwsgi_temp_path $TMP/pl-uwsgi; scgi_temp_path $TMP/pl-scgi;
	sendfile on;
	keepalive_requests 1000000;
	server { listen $1:8080; root $OUT/preload-www; }
}
CONF
}

preload_figures() {
	say ""
	say "== programs over the shim (libustack-preload.so) vs the same programs on the kernel"
	local c
	for c in iperf3 nginx wrk; do
		command -v $c >/dev/null || { say "   $c is not installed: shim rows SKIPPED"; return 0; }
	done
	[ -f "$SHIM_LIB" ] || { say "   $SHIM_LIB is missing: shim rows FAILED"; FAILED=1; return 0; }
	pc=$(new_ns pc)
	pv=$(new_ns pv)
	pt=$(new_ns pt)
	veth_up -m 1500 "$pc" veth0 10.83.1.1/24 "$pv" veth1 10.83.1.2/24
	tap_up -m 1500 "$pt" tap0 10.83.2.1/24
	stack_yaml true 10.83.2.2/24 02:00:0a:53:02:02 > "$OUT/preload.yaml"
	mkdir -p "$OUT/preload-www"
	head -c 1024 /dev/urandom > "$OUT/preload-www/index.html"
	wait_for 5 "veth carrier (shim rows)" ip netns exec "$pc" ping -c1 -W1 10.83.1.2
	say "   offloads: defaults on both sides (veth: the kernel's; the stack: offload: true);" \
		"${PRELOAD_SECS}s per run, best of $PRELOAD_REPS"

	start "$pv" "$OUT/preload-iperf3-s.kernel.log" iperf3 -s -B 10.83.1.2
	start "$pt" "$OUT/preload-iperf3-s.tap.log" iperf3 -s -B 10.83.2.1
	wait_for 5 "iperf3 -s (kernel) in $pv" sh -c "ip netns exec $pv ss -tln | grep -q '10.83.1.2:5201'"
	wait_for 5 "iperf3 -s (kernel) in $pt" sh -c "ip netns exec $pt ss -tln | grep -q '10.83.2.1:5201'"
	say "-- iperf3 -c, TCP: ustack sends (over the shim) vs the kernel over veth"
	pl_best "iperf3 -c over the shim vs kernel" Gbit/s pl_iperf
	say "-- iperf3 -c -R, TCP: ustack receives (over the shim) vs the kernel over veth"
	pl_best "iperf3 -c -R over the shim vs kernel" Gbit/s pl_iperf_r

	pl_nginx_conf 10.83.1.2 > "$TMP/preload-nginx-k.conf"
	pl_nginx_conf 10.83.2.2 > "$TMP/preload-nginx-u.conf"
	start "$pv" "$OUT/preload-nginx.kernel.log" nginx -e stderr -p "$TMP" -c "$TMP/preload-nginx-k.conf"
	start "$pt" "$OUT/preload-nginx.shim.log" env LD_PRELOAD="$SHIM_LIB" \
		USTACK_CONFIG="$OUT/preload.yaml" nginx -e stderr -p "$TMP" -c "$TMP/preload-nginx-u.conf"
	wait_for 10 "nginx over the shim to serve index.html" ip netns exec "$pt" \
		curl -sf -m 2 -o /dev/null http://10.83.2.2:8080/index.html
	wait_for 10 "nginx on the kernel to serve index.html" ip netns exec "$pc" \
		curl -sf -m 2 -o /dev/null http://10.83.1.2:8080/index.html
	say "-- wrk -t2 -c32, keep-alive, 1 KiB file: nginx over the shim vs nginx on the kernel"
	pl_best "wrk: nginx over the shim vs kernel nginx" "req/s" pl_wrk
}

pl_iperf_r() { pl_iperf "$1" -R; }
