#!/usr/bin/env bash
# uscurl against kernel-side HTTP servers over TAP: python3 -m http.server
# (a 50 MB download, SHA-256 equal; -I; -w) and http_fixture.py (chunked
# bodies with trailers, read-until-close bodies, redirect chains, POST
# echo, request headers, servers that hang, reset or close early); names
# by --resolve and by the config's hosts:; and every documented exit
# code provoked once: 1 3 6 7 18 22 23 28 47 56.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd sha256sum ss cmp
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
[ -x "$BIN/uscurl" ] || fail "$BIN/uscurl is not built (make)"
here=$(cd "$(dirname "$0")" && pwd)

ns=$(new_ns curl)
tap_up "$ns" tap0 10.9.20.1/24
Q="--tap tap0 --addr 10.9.20.2/24 --mac 02:00:0a:09:14:02"
H=http://10.9.20.1:8000     # python3 -m http.server
F=http://10.9.20.1:8080     # http_fixture.py

mkdir -p "$TMP/www" "$TMP/dl"
head -c 50000000 /dev/urandom > "$TMP/www/big.bin"
head -c 3000000 /dev/urandom > "$TMP/www/mid.bin"
printf 'small file for -w\n%.0s' $(seq 100) > "$TMP/www/small.txt"   # 1800 bytes
sha() { sha256sum < "$1" | cut -d' ' -f1; }

start "$ns" "$TMP/httpserver.log" /usr/bin/python3 -m http.server --bind 10.9.20.1 \
	--directory "$TMP/www" 8000
start "$ns" "$TMP/fixture.log" /usr/bin/python3 "$here/http_fixture.py" 10.9.20.1 8080 "$TMP/www"
wait_for 10 "python3 -m http.server to listen on :8000" \
	sh -c "ip netns exec $ns ss -tln | grep -q '10.9.20.1:8000'"
wait_for 10 "http_fixture.py to listen on :8080" \
	sh -c "ip netns exec $ns ss -tln | grep -q '10.9.20.1:8080'"

# uc ARGS... — run uscurl in the namespace (bounded); stdout to $TMP/out,
# stderr to $TMP/err; sets RC.
uc() {
	ip netns exec "$ns" timeout 30 "$BIN/uscurl" $Q "$@" > "$TMP/out" 2> "$TMP/err"
	RC=$?
	[ $RC -ne 124 ] || { cat "$TMP/err"; fail "uscurl $* did not finish in 30 s"; }
}
# expect_rc N WHAT — RC must be N; shows stderr when it is not.
expect_rc() {
	[ "$RC" -eq "$1" ] || { sed 's/^/    stderr: /' "$TMP/err" | tail -20; fail "$2: exit $RC, expected $1"; }
}
expect_err() {   # PATTERN WHAT — stderr must match
	grep -q -- "$1" "$TMP/err" || { sed 's/^/    stderr: /' "$TMP/err"; fail "$2: no '$1' on stderr"; }
}

note "50 MB from python3 -m http.server with -o: SHA-256 equal, progress meter, -w"
uc -o "$TMP/dl/big.bin" -w '%{http_code} %{size_download} %{time_connect} %{time_total}\n' "$H/big.bin"
expect_rc 0 "50 MB download"
[ "$(sha "$TMP/dl/big.bin")" = "$(sha "$TMP/www/big.bin")" ] ||
	fail "downloaded $(wc -c < "$TMP/dl/big.bin") bytes with another SHA-256"
read -r code size tconn ttotal < "$TMP/out"
[ "$code" = 200 ] || fail "-w http_code '$code', expected 200"
[ "$size" = 50000000 ] || fail "-w size_download '$size', expected 50000000"
awk -v c="$tconn" -v t="$ttotal" 'BEGIN { exit !(c > 0 && t >= c) }' ||
	fail "-w time_connect $tconn / time_total $ttotal are not 0 < connect <= total"
grep -q '% Total    % Received' "$TMP/err" || fail "no progress meter heading with -o"
tr '\r' '\n' < "$TMP/err" | grep -Eq '^100 47\.6M  100 47\.6M' || fail "no final 100% meter line"

note "-s: no meter, no messages"
uc -s -o "$TMP/dl/small.txt" "$H/small.txt"
expect_rc 0 "-s download"
[ ! -s "$TMP/err" ] || { cat "$TMP/err"; fail "-s wrote to stderr"; }
cmp -s "$TMP/dl/small.txt" "$TMP/www/small.txt" || fail "small.txt differs"

note "-w http_code and size_download; -O names the file after the URL"
(cd "$TMP/dl" && ip netns exec "$ns" timeout 30 "$BIN/uscurl" $Q -s -O \
	-w 'code=%{http_code} size=%{size_download}\n' "$H/small.txt?x=1") > "$TMP/out" ||
	fail "uscurl -O exit $?"
[ "$(cat "$TMP/out")" = "code=200 size=1800" ] || fail "-w printed '$(cat "$TMP/out")'"
cmp -s "$TMP/dl/small.txt" "$TMP/www/small.txt" || fail "-O did not write small.txt"
uc -s -w '%{http_code} %{size_download}' "$H/nosuchfile"
expect_rc 0 "404 without -f"
tail -c 12 "$TMP/out" | grep -q '404 [0-9]' || fail "-w for a 404 ends with '$(tail -c 12 "$TMP/out")'"

note "-I prints the headers of a HEAD"
uc -I "$H/big.bin"
expect_rc 0 "-I"
head -1 "$TMP/out" | grep -q '^HTTP/1\.[01] 200' || fail "-I first line: $(head -1 "$TMP/out")"
grep -qi '^Content-Length: 50000000' "$TMP/out" || fail "-I shows no Content-Length: 50000000"
[ "$(wc -c < "$TMP/out")" -lt 1000 ] || fail "-I printed $(wc -c < "$TMP/out") bytes (a body?)"

note "chunked body with trailers: content equal; -v shows request, response and trailer"
uc -v -o "$TMP/dl/chunked" "$F/chunked/mid.bin"
expect_rc 0 "chunked download"
cmp -s "$TMP/dl/chunked" "$TMP/www/mid.bin" || fail "chunked body differs from mid.bin"
expect_err '^> GET /chunked/mid.bin HTTP/1.1' "-v request line"
expect_err '^> Host: 10.9.20.1:8080' "-v Host header"
expect_err '^< HTTP/1.1 200 OK' "-v status line"
expect_err '^< Transfer-Encoding: chunked' "-v response header"
expect_err '^< X-Trailer-Check: done' "-v trailer"
expect_err '^\* Connected to 10.9.20.1 (10.9.20.1) port 8080' "-v connected line"

note "body until the server closes"
uc -s "$F/close/mid.bin"
expect_rc 0 "read-until-close"
cmp -s "$TMP/out" "$TMP/www/mid.bin" || fail "read-until-close body differs ($(wc -c < "$TMP/out") bytes)"

note "redirect chain: without -L the 302, with -L the end"
uc -s -w '\n%{http_code} %{redirect_url}' "$F/redirect/5"
expect_rc 0 "302 without -L"
[ "$(tail -1 "$TMP/out")" = "302 http://10.9.20.1:8080/redirect/4" ] ||
	fail "without -L: -w says '$(tail -1 "$TMP/out")'"
uc -s -L -w '%{http_code} %{num_redirects} %{url_effective}\n' "$F/redirect/5"
expect_rc 0 "-L chain"
[ "$(head -1 "$TMP/out")" = "redirect chain done" ] || fail "-L body: $(head -1 "$TMP/out")"
[ "$(tail -1 "$TMP/out")" = "200 5 http://10.9.20.1:8080/redirect/0" ] ||
	fail "-L: -w says '$(tail -1 "$TMP/out")'"

uc -s -L -d 'x=1' -w '%{method}' "$F/redirect/1"
expect_rc 0 "POST through a 302"
[ "$(tr '\n' ' ' < "$TMP/out")" = "redirect chain done GET" ] ||
	fail "POST then 302 with -L: '$(cat "$TMP/out")' (a 302 turns POST into GET)"
grep -q '"POST /redirect/1' "$TMP/fixture.log" || fail "the fixture saw no POST /redirect/1"

note "POST: -d reaches the fixture as a form; --data-binary @FILE byte for byte"
uc -s -i -d 'a=1&b=2' "$F/echo"
expect_rc 0 "POST -d"
grep -q '^X-Method: POST' "$TMP/out" || fail "the fixture did not see a POST"
grep -q '^X-Got-Content-Type: application/x-www-form-urlencoded' "$TMP/out" ||
	fail "-d did not send Content-Type application/x-www-form-urlencoded"
[ "$(tail -c 7 "$TMP/out")" = 'a=1&b=2' ] || fail "echoed body: $(tail -c 20 "$TMP/out")"
head -c 200000 /dev/urandom > "$TMP/post.bin"
uc -s --data-binary @"$TMP/post.bin" "$F/echo"
expect_rc 0 "POST --data-binary"
cmp -s "$TMP/out" "$TMP/post.bin" || fail "--data-binary body came back different"
printf 'x=1\r\ny=2\n' > "$TMP/form.txt"
uc -s -d @"$TMP/form.txt" "$F/echo"
[ "$(cat "$TMP/out")" = 'x=1y=2' ] || fail "-d @FILE should drop CR/LF, echoed '$(cat "$TMP/out")'"

note "-H replaces, removes and adds request headers; -X"
uc -s -X PUT -H 'User-Agent: test-agent/1' -H 'Accept:' -H 'X-Empty;' -H 'X-Extra: 42' "$F/headers"
expect_rc 0 "-H"
grep -q '^User-Agent: test-agent/1' "$TMP/out" || fail "-H did not replace User-Agent"
grep -q '^Accept:' "$TMP/out" && fail "-H 'Accept:' did not remove Accept"
grep -q '^X-Empty: *$' "$TMP/out" || fail "-H 'X-Empty;' did not send an empty header"
grep -q '^X-Extra: 42' "$TMP/out" || fail "-H did not add X-Extra"
grep -q '"PUT /headers' "$TMP/fixture.log" || fail "-X PUT did not reach the fixture"

note "names: --resolve without DNS, hosts: from the config"
uc -s --resolve www.test:8080:10.9.20.1 "http://www.test:8080/status/200"
expect_rc 0 "--resolve"
[ "$(cat "$TMP/out")" = "status 200" ] || fail "--resolve body: $(cat "$TMP/out")"
cat > "$TMP/hosts.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.20.2/24], macaddress: "02:00:0a:09:14:02"}
hosts:
  fixture.test: 10.9.20.1
YAML
ip netns exec "$ns" timeout 30 "$BIN/uscurl" -s --stack-config "$TMP/hosts.yaml" http://fixture.test:8080/status/201 \
	> "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err"; fail "hosts: name exit $?"; }
[ "$(cat "$TMP/out")" = "status 201" ] || fail "hosts: body: $(cat "$TMP/out")"

note "exit 1: https"
uc https://10.9.20.1/
expect_rc 1 "https://"
expect_err 'uscurl: (1) Protocol "https" not supported (TLS is not implemented by uscurl)' "https message"

note "exit 3: malformed URLs"
for url in 'http://10.9.20.1:99999/' 'http:///path' 'http://exa mple/' 'http://[::1]/' 'http:/x'; do
	uc "$url"
	expect_rc 3 "URL '$url'"
	expect_err '^uscurl: (3) ' "URL '$url' message"
done

note "exit 6: a name neither in hosts: nor --resolve, and no nameserver"
uc "http://nosuch.test:8080/"
expect_rc 6 "unresolvable name"
expect_err 'uscurl: (6) Could not resolve host: nosuch.test' "exit 6 message"

note "exit 7: closed port"
uc "http://10.9.20.1:7999/"
expect_rc 7 "closed port"
expect_err 'uscurl: (7) Failed to connect to 10.9.20.1 port 7999 after [0-9]* ms: Couldn.t connect to server' \
	"exit 7 message (curl 7.88's wording)"

note "exit 18: the server closes before Content-Length is reached"
uc "$F/short"
expect_rc 18 "short body"
expect_err 'transfer closed with 990 bytes remaining to read' "exit 18 message"

note "exit 22: -f and a 404 (no body written)"
uc -f "$F/status/404"
expect_rc 22 "-f 404"
expect_err 'uscurl: (22) The requested URL returned error: 404' "exit 22 message"
[ ! -s "$TMP/out" ] || fail "-f wrote the error body"

note "exit 23: -o into a directory that does not exist"
uc -o "$TMP/no/such/dir/file" "$H/small.txt"
expect_rc 23 "-o into a missing directory"
expect_err 'uscurl: (23) ' "exit 23 message"

note "exit 28: a server that never answers, --max-time 1; --connect-timeout to a silent address"
t0=$(date +%s%N)
uc --max-time 1 "$F/hang"
t1=$(date +%s%N)
expect_rc 28 "--max-time 1"
expect_err 'uscurl: (28) Operation timed out after' "exit 28 message"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "--max-time 1 took $(( (t1 - t0) / 1000000 )) ms"
uc --connect-timeout 1 "http://10.9.20.77/"
expect_rc 28 "--connect-timeout 1 to a silent address"
expect_err 'uscurl: (28) ' "exit 28 (connect) message"

note "exit 47: a redirect loop with --max-redirs 3"
uc -L --max-redirs 3 -w '%{num_redirects}' "$F/loop"
expect_rc 47 "redirect loop"
expect_err 'uscurl: (47) Maximum (3) redirects followed' "exit 47 message"
[ "$(cat "$TMP/out")" = 3 ] || fail "redirect loop: num_redirects $(cat "$TMP/out"), expected 3"

note "exit 56: the server resets the connection mid-body"
uc -o "$TMP/dl/reset" "$F/reset"
expect_rc 56 "reset mid-body"
expect_err 'uscurl: (56) Recv failure: Connection reset by peer' "exit 56 message"
echo ok
