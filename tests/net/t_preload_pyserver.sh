#!/usr/bin/env bash
# libustack-preload.so under a server: python3 -m http.server runs over the
# shim (socket, setsockopt SO_REUSEADDR, bind, listen, its poll loop,
# accept, recv, send, shutdown, close) and the kernel's curl downloads
# 8 MB from it several times over TAP, SHA-256 equal, then 20 small files
# with 4 concurrent curls. The server only exists on the stack's address,
# so nothing can succeed through the kernel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd sha256sum curl
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup prepy 42
mkdir -p "$TMP/www"
head -c 8000000 /dev/urandom > "$TMP/www/big.bin"
for i in $(seq 20); do head -c $((i * 1000 + 7)) /dev/urandom > "$TMP/www/f$i.bin"; done
shim_start "$TMP/server.log" /usr/bin/python3 -u -m http.server --bind 0.0.0.0 --directory "$TMP/www" 8000
spid=$LAST_PID
URL=http://$UADDR:8000
wait_for 15 "python3 -m http.server over the shim to listen" grep -q '^Serving HTTP' "$TMP/server.log"

note "8 MB three times from the server over the shim: SHA-256 equal"
for i in 1 2 3; do
	ip netns exec "$ns" timeout 60 curl -sS -o "$TMP/dl.bin" -w '%{http_code} %{size_download}\n' \
		"$URL/big.bin" > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err" "$TMP/server.log"; fail "curl exit $?"; }
	[ "$(cat "$TMP/out")" = "200 8000000" ] || fail "round $i: curl -w says '$(cat "$TMP/out")'"
	[ "$(sha "$TMP/dl.bin")" = "$(sha "$TMP/www/big.bin")" ] ||
		fail "round $i: $(wc -c < "$TMP/dl.bin") bytes with another SHA-256"
done
grep -q "^$KADDR .*\"GET /big.bin HTTP/1.1\" 200" "$TMP/server.log" ||
	{ cat "$TMP/server.log"; fail "the server's log shows no GET from the kernel's $KADDR"; }

note "20 small files, 4 curls at a time"
pids=()
for i in $(seq 20); do
	ip netns exec "$ns" timeout 60 curl -sS -o "$TMP/s$i.bin" "$URL/f$i.bin" 2> "$TMP/s$i.err" &
	pids+=($!)
	if [ $((i % 4)) -eq 0 ]; then
		for p in "${pids[@]}"; do wait "$p" || fail "a concurrent curl failed: $(cat "$TMP"/s*.err)"; done
		pids=()
	fi
done
for i in $(seq 20); do
	cmp -s "$TMP/s$i.bin" "$TMP/www/f$i.bin" || fail "f$i.bin came back different"
done
kill -0 "$spid" 2>/dev/null || { cat "$TMP/server.log"; fail "the server over the shim died"; }
no_sanitizer_reports "$TMP/server.log"
echo ok
