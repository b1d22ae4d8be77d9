#!/usr/bin/env bash
# usping next to iputils ping, against the same kernel peer: for each case
# both run with the same options, and their stdout, stderr and exit status
# must be the same once addresses, times and the program name are
# normalised (formats and exit codes are compared, not timings).
#
#   ns P (the peer): tap1 10.9.1.1/24, which usping attaches to as 10.9.1.2;
#                    veth vp 10.9.2.1/24
#   ns C (ping's):   veth vc 10.9.2.2/24, 10.9.1.0/24 via 10.9.2.1
# So both address the peer as 10.9.1.1; "SELF" is 10.9.1.2 for usping and
# 10.9.2.2 for ping; a dead on-link address is .77 on each one's subnet.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ping

P=$(new_ns pingpeer)
C=$(new_ns pingcli)
tap_up "$P" tap1 10.9.1.1/24
veth_up "$P" vp 10.9.2.1/24 "$C" vc 10.9.2.2/24
ip netns exec "$C" ip route add 10.9.1.0/24 via 10.9.2.1
wait_for 10 "veth up" ip netns exec "$C" ping -c 1 -W 1 10.9.2.1

U="$BIN/usping --tap tap1 --addr 10.9.1.2/24"

norm() {
	sed -E -e 's/^usping: /ping: /' \
		-e 's/\b10\.9\.1\.1\b/PEER/g' -e 's/\b10\.9\.[12]\.2\b/SELF/g' \
		-e 's/\b10\.9\.[12]\.77\b/DEAD/g' \
		-e 's/ (eth0|vc): / IFACE: /' \
		-e 's/time=[0-9.]+ ms/time=T ms/' -e 's/, time [0-9]+ms/, time Tms/' \
		-e 's#= [0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3} ms#= T ms#' \
		-e 's#ipg/ewma [0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3} ms#ipg/ewma T ms#' \
		-e 's/^\[[0-9]+\.[0-9]{6}\] /[TS] /'
}

# run_u/run_p ARGS...: usping (in P) / ping (in C), outputs in $TMP/{u,p}.{out,err,rc}
run_u() {
	ip netns exec "$P" timeout 60 $U "$@" >"$TMP/u.out" 2>"$TMP/u.err"
	echo $? >"$TMP/u.rc"
}
run_p() {
	ip netns exec "$C" timeout 60 ping "$@" >"$TMP/p.out" 2>"$TMP/p.err"
	echo $? >"$TMP/p.rc"
}

# same NAME [EXTRA-SED]: the normalised outputs and exit codes must match.
same() {
	local name=$1 extra=${2:-}
	local s
	for s in out err; do
		norm <"$TMP/u.$s" | sed -E -e "${extra:-s/^//}" >"$TMP/u.$s.n"
		norm <"$TMP/p.$s" | sed -E -e "${extra:-s/^//}" >"$TMP/p.$s.n"
		if ! diff -u "$TMP/p.$s.n" "$TMP/u.$s.n" >"$TMP/diff"; then
			echo "ping $s:"; cat "$TMP/p.$s"; echo "usping $s:"; cat "$TMP/u.$s"
			cat "$TMP/diff"
			fail "$name: usping's std$s differs from ping's (normalised diff above)"
		fi
	done
	[ "$(cat "$TMP/u.rc")" = "$(cat "$TMP/p.rc")" ] ||
		fail "$name: usping exit $(cat "$TMP/u.rc"), ping exit $(cat "$TMP/p.rc")"
	echo "same: $name (exit $(cat "$TMP/u.rc"))"
}

# both NAME ARGS...: run both with ARGS (HOST last) and compare.
both() {
	local name=$1; shift
	note "$name: $*"
	run_u "$@"
	run_p "$@"
	same "$name"
}

# "time Nms" of the summary.
sum_time() { sed -nE 's/.*, time ([0-9]+)ms$/\1/p' "$1"; }

both "three replies" -c 3 -i 0.2 10.9.1.1
grep -q '^3 packets transmitted, 3 received, 0% packet loss' "$TMP/u.out" || fail "summary"
# ping's time runs from the first request to the last, not over the final wait.
t=$(sum_time "$TMP/u.out")
[ -n "$t" ] && [ "$t" -ge 395 ] && [ "$t" -lt 2000 ] || fail "usping -c 3 -i 0.2: time ${t}ms, expected about 400"

# Each pings its own address, and 127.0.0.1: both answer themselves (lo).
note "own address"
run_u -c 2 -i 0.2 10.9.1.2
run_p -c 2 -i 0.2 10.9.2.2
same "own address"
grep -q '^64 bytes from 10.9.1.2: icmp_seq=2 ttl=64 time=' "$TMP/u.out" || fail "own address: no reply line"
both "127.0.0.1" -c 2 -i 0.2 127.0.0.1
both "127.3.2.1" -c 1 127.3.2.1
# A name: "NAME (A)" on each reply unless -n (ping reverse-resolves through
# /etc/hosts, usping through the stack's hosts: and RFC 6761's localhost).
if grep -qE '^127\.0\.0\.1[[:space:]]+localhost' /etc/hosts; then
	both "localhost" -c 1 localhost
	grep -q '^64 bytes from localhost (127.0.0.1): icmp_seq=1 ' "$TMP/u.out" || fail "localhost reply line"
	both "-n localhost" -n -c 1 localhost
	grep -q '^64 bytes from 127.0.0.1: icmp_seq=1 ' "$TMP/u.out" || fail "-n localhost reply line"
else
	echo "(/etc/hosts has no '127.0.0.1 localhost' line: ping's side differs; localhost cases not run)"
fi

both "-s 0 prints no time" -c 2 -i 0.2 -s 0 10.9.1.1
grep -q '^8 bytes from 10.9.1.1: icmp_seq=1 ttl=64$' "$TMP/u.out" || fail "-s 0 reply line"
grep -q '^rtt' "$TMP/u.out" && fail "-s 0 must print no rtt line"

both "-q" -q -c 2 -i 0.2 10.9.1.1
both "-D -n -4" -D -n -4 -c 2 -i 0.2 10.9.1.1
grep -qE '^\[[0-9]{10}\.[0-9]{6}\] 64 bytes from 10\.9\.1\.1: ' "$TMP/u.out" || fail "-D timestamp"

both "-A (adaptive)" -A -c 5 10.9.1.1
grep -q 'ipg/ewma' "$TMP/u.out" || fail "-A: no ipg/ewma"
# Flood: a dot per request and "\b \b" per reply on one line. Whether a
# reply beats the 10 ms resend depends on load, so the order of the marks
# is not compared, only that the line holds nothing else and their counts.
note "-f (flood): -f -c 50 10.9.1.1"
run_u -f -c 50 10.9.1.1
run_p -f -c 50 10.9.1.1
same "-f (flood)" 's/(\.|\x08 \x08)//g'
grep -q 'ipg/ewma' "$TMP/u.out" || fail "-f: no ipg/ewma"
marks=$(sed -n 2p "$TMP/u.out")
dots=$(printf '%s' "$marks" | tr -cd '.' | wc -c)
bs=$(printf '%s' "$marks" | tr -cd '\b' | wc -c)
sent=$(sed -nE 's/^([0-9]+) packets transmitted, ([0-9]+) received.*/\1 \2/p' "$TMP/u.out")
[ "$dots $bs" = "$(echo $sent | awk '{ print $1, $2 * 2 }')" ] ||
	fail "-f: $dots dots and $bs backspaces for '$sent' transmitted/received"

# The interface names differ: each tool gets its own.
note "-I interface"
run_u -c 1 -I eth0 10.9.1.1
run_p -c 1 -I vc 10.9.1.1
same "-I IFACE"
grep -q '^PING 10.9.1.1 (10.9.1.1) from 10.9.1.2 eth0: 56(84) bytes of data\.$' "$TMP/u.out" || fail "-I header"
note "-I address"
run_u -c 1 -I 10.9.1.2 10.9.1.1
run_p -c 1 -I 10.9.2.2 10.9.1.1
same "-I ADDR"
note "-I unknown interface"
run_u -c 1 -I nosuch0 10.9.1.1
run_p -c 1 -I nosuch0 10.9.1.1
same "-I unknown"

both "network unreachable" -c 1 10.99.0.1
grep -q '^usping: connect: Network is unreachable$' "$TMP/u.err" || fail "no 'Network is unreachable' on stderr"

note "dead on-link host"
run_u -c 1 -W 5 10.9.1.77
run_p -c 1 -W 5 10.9.2.77
same "dead host"
# One request: the summary's time runs from the first request to the last,
# so ~0 ms for both, never the 5 s wait (a loaded machine may show 1-2 ms
# on either side, so the bound is loose, not equality).
tu=$(sum_time "$TMP/u.out"); tp=$(sum_time "$TMP/p.out")
[ -n "$tu" ] && [ -n "$tp" ] && [ "$tu" -lt 200 ] && [ "$tp" -lt 200 ] ||
	fail "dead host: usping time ${tu}ms, ping ${tp}ms (both should be about 0)"

# -w: requests go on until the deadline. How many fit in it depends on the
# load, so the reply lines are checked by format and dropped, and the counts
# compared as N; the rest (summary shape, exit status) must match.
both_timed() {
	local name=$1; shift
	note "$name: $*"
	run_u "$@"
	run_p "$@"
	local f
	for f in u p; do
		grep -vE '^64 bytes from 10\.9\.1\.1: icmp_seq=[0-9]+ ttl=64 time=[0-9.]+ ms$' \
			"$TMP/$f.out" | sed -E \
			's/^[0-9]+ packets transmitted, [0-9]+ received/N packets transmitted, N received/' \
			>"$TMP/$f.tmp"
		mv "$TMP/$f.tmp" "$TMP/$f.out"
	done
	same "$name"
}
run_u -w 1 -i 0.3 10.9.1.1
n=$(sed -nE 's/^([0-9]+) packets transmitted, ([0-9]+) received, 0% packet loss.*/\1 \2/p' "$TMP/u.out")
set -- $n
[ "${1:-0}" -ge 2 ] && [ "${1:-0}" = "${2:-}" ] || fail "-w 1 -i 0.3: '$n' transmitted/received"
[ "$(grep -c '^64 bytes from 10.9.1.1: icmp_seq=' "$TMP/u.out")" = "$1" ] || fail "-w: reply lines"
both_timed "-w deadline" -w 1 -i 0.3 10.9.1.1
both_timed "-w before -c replies: exit 1" -c 5 -w 1 -i 0.4 10.9.1.1
[ "$(cat "$TMP/u.rc")" = 1 ] || fail "-c 5 -w 1: exit $(cat "$TMP/u.rc"), expected 1"

# The peer ignores the second request: 33.3333% loss, and -O notices.
intype8() {
	ip netns exec "$P" awk '/^IcmpMsg:/ { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 }
		else for (i = 2; i <= NF; i++) if (k[i] == "InType8") v = $i } END { print v + 0 }' /proc/net/snmp
}
drop_second() {  # drop_second BASE: the peer's echo-request count before the run
	local base=$1 n i
	for i in $(seq 200); do n=$(intype8); [ "$n" -ge $((base + 1)) ] && break; sleep 0.05; done
	ip netns exec "$P" sysctl -qw net.ipv4.icmp_echo_ignore_all=1
	for i in $(seq 200); do n=$(intype8); [ "$n" -ge $((base + 2)) ] && break; sleep 0.05; done
	ip netns exec "$P" sysctl -qw net.ipv4.icmp_echo_ignore_all=0
}
# drop_second can only tell requests apart by time: when two arrive
# together (usping's first one held back by a slow ARP exchange under load)
# the peer answers both. The peer's echo-reply count says whether it did
# what the case needs (exactly 2 of 3 answered); if not, that run is redone.
outtype0() {
	ip netns exec "$P" awk '/^IcmpMsg:/ { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 }
		else for (i = 2; i <= NF; i++) if (k[i] == "OutType0") v = $i } END { print v + 0 }' /proc/net/snmp
}
one_dropped() {  # one_dropped run_u|run_p ARGS...
	local run=$1 try o b dp; shift
	for try in 1 2 3; do
		o=$(outtype0); b=$(intype8)
		drop_second "$b" & PIDS+=($!); dp=$!
		"$run" "$@"
		wait "$dp"
		[ $(($(outtype0) - o)) -eq 2 ] && return 0
		note "$run: the peer answered $(($(outtype0) - o)) of 3 requests; again"
	done
	fail "the peer could not be made to leave exactly one request of three unanswered"
}
note "one request in three unanswered, -O"
one_dropped run_u -O -c 3 -i 1 10.9.1.1
one_dropped run_p -O -c 3 -i 1 10.9.1.1
same "33% loss with -O"
grep -q '^3 packets transmitted, 2 received, 33.3333% packet loss' "$TMP/u.out" || fail "loss not 33.3333%"
grep -q '^no answer yet for icmp_seq=2$' "$TMP/u.out" || fail "-O line"

# SIGQUIT prints the running statistics on stderr and goes on.
note "SIGQUIT"
quit_run() {  # quit_run NS OUT ERR CMD...
	local ns=$1 o=$2 e=$3; shift 3
	ip netns exec "$ns" "$@" >"$o" 2>"$e" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 20 "2 replies in $o" grep -q 'icmp_seq=2 ' "$o"
	# ip netns exec execs the tool, so $pid is the tool itself.
	kill -QUIT "$pid"
	wait_for 10 "a status line in $e" grep -q 'packets' "$e"
	kill -INT "$pid"
	wait "$pid"
	echo $? >"${o%.out}.rc"
}
quit_run "$P" "$TMP/u.out" "$TMP/u.err" $U -i 0.2 10.9.1.1
quit_run "$C" "$TMP/p.out" "$TMP/p.err" ping -i 0.2 10.9.1.1
for f in u p; do
	sed -i -E -e 's#[0-9]+/[0-9]+ packets, [0-9]+% loss#N/N packets, L% loss#' \
		-e 's/^[0-9]+ packets transmitted, [0-9]+ received/N packets transmitted, N received/' \
		-e 's#= [0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3}/[0-9]+\.[0-9]{3} ms#= T ms#' \
		-e '/icmp_seq=/d' -e 's/[0-9.]+% packet loss/L% packet loss/' "$TMP/$f.out" "$TMP/$f.err"
done
same "SIGQUIT status line"
grep -q $'^\rN/N packets, L% loss, min/avg/ewma/max = T ms$' "$TMP/u.err" || fail "status line format"

note "ping refuses flood for non-root; so does usping"
# As a user usping cannot open a TAP: it runs on the in-process loopback backend.
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null && chmod a+rx "$TMP" &&
	asnobody "$BIN/usping" -h >/dev/null 2>&1 && asnobody test -r "$TMP"; then
	printf 'interfaces:\n  eth0: {backend: loopback, addresses: [10.9.1.2/24]}\n' >"$TMP/lo.yaml"
	chmod a+r "$TMP/lo.yaml"
	ip netns exec "$P" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$BIN/usping" -C "$TMP/lo.yaml" -f -c 1 10.9.1.1 >"$TMP/u.out" 2>"$TMP/u.err"
	echo $? >"$TMP/u.rc"
	ip netns exec "$C" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		ping -f -c 1 10.9.1.1 >"$TMP/p.out" 2>"$TMP/p.err"
	echo $? >"$TMP/p.rc"
	same "-f as a user"
	grep -q 'cannot flood' "$TMP/u.err" || fail "-f as a user: no refusal"
else
	echo "(no user 'nobody', no setpriv, or nobody cannot run $BIN/usping: the non-root flood case is not run)"
fi
echo ok
