#!/usr/bin/env bash
# Quick-ACK mode at connection start (issue 8 item 7). python3's
# http.server with protocol_version HTTP/1.1 writes a response's headers
# and its body in two send() calls; the kernel's Nagle holds the short
# body until the headers are acknowledged. A receiver that delays that
# ACK (40 ms) stalls every small download by 40 ms; Linux's quick-ACK mode
# ACKs the first segments of a connection at once. uscurl (over TAP) and
# curl (the kernel's TCP) each download the same small file 9 times; the
# median of uscurl's time_total (stack bring-up included) must stay within
# 2 x curl's median + 10 ms. A 40 ms stall per download cannot pass.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl ss sort
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
[ -x "$BIN/uscurl" ] || fail "$BIN/uscurl is not built (make)"

ns=$(new_ns qack)
tap_up "$ns" tap0 10.9.21.1/24
Q="--tap tap0 --addr 10.9.21.2/24 --mac 02:00:0a:09:15:02"
URL=http://10.9.21.1:8000/small.bin

mkdir -p "$TMP/www"
head -c 1000 /dev/urandom > "$TMP/www/small.bin"
start "$ns" "$TMP/httpserver.log" /usr/bin/python3 -m http.server --protocol HTTP/1.1 \
	--bind 10.9.21.1 --directory "$TMP/www" 8000
wait_for 10 "python3 -m http.server to listen on :8000" \
	sh -c "ip netns exec $ns ss -tln | grep -q '10.9.21.1:8000'"

# times TOOL ARGS... — 9 downloads; prints each time_total in ms, one a line.
times() {
	local i t
	for i in 1 2 3 4 5 6 7 8 9; do
		t=$(ip netns exec "$ns" timeout 10 "$@" -s -o "$TMP/got" -w '%{time_total}' "$URL") ||
			fail "$1 download $i failed (exit $?)"
		cmp -s "$TMP/got" "$TMP/www/small.bin" || fail "$1 download $i: body differs"
		awk -v t="$t" 'BEGIN { printf "%.3f\n", t * 1000 }'
	done
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

note "the server writes headers and body separately (HTTP/1.1, keep-alive)"
times curl > "$TMP/curl.ms"
times "$BIN/uscurl" $Q > "$TMP/uscurl.ms"
c=$(median < "$TMP/curl.ms")
u=$(median < "$TMP/uscurl.ms")
echo "curl ms:   $(tr '\n' ' ' < "$TMP/curl.ms") median $c"
echo "uscurl ms: $(tr '\n' ' ' < "$TMP/uscurl.ms") median $u"
awk -v c="$c" -v u="$u" 'BEGIN { exit !(u <= 2 * c + 10) }' ||
	fail "uscurl's median $u ms is above 2 x curl's $c ms + 10 ms (a delayed-ACK stall?)"
echo ok
