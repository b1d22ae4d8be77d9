#!/usr/bin/env bash
# ustackd's http service (doc/HTTP.md) against the kernel's curl 7.88 and
# raw python3 sockets: Range requests (206 with Content-Range and the right
# bytes, 416 with "bytes */SIZE", ranges that are ignored), curl -C -
# resuming a partial file, If-Range, If-Modified-Since in its three date
# forms (304, and 200 when the file is newer or the date is bad), and, over
# max_connections, 503 with Retry-After that curl --retry waits out.
# Expected bytes come from dd over the served file, never from the server.
. "$(dirname "$0")/lib.sh"
need_root
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 is missing"
need_cmd curl sha256sum cmp dd
[ -x "$BIN/ustackd" ] || fail "$BIN/ustackd is not built (make)"

SRV=10.9.81.2
W="$TMP/www"
mkdir -p "$W"
SIZE=100000
head -c $SIZE /dev/urandom > "$W/f.bin"
touch -d '2024-03-10 12:00:00 UTC' "$W/f.bin"      # Last-Modified: Sun, 10 Mar 2024 12:00:00 GMT
LM='Sun, 10 Mar 2024 12:00:00 GMT'
slice() { dd if="$W/f.bin" bs=1 skip="$1" count="$2" status=none; }   # OFFSET COUNT

ns=$(new_ns rng)
cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [$SRV/24]}
services:
  - {type: http, port: 80, root: "$W", max_connections: 2}
YAML
start_ustackd -t tap0 10.9.81.1/24 "$ns" "$TMP/ustackd.log" -C "$TMP/host.yaml"
d=$LAST_PID
wait_for 10 "the http service to answer" ip netns exec "$ns" curl -sf -o /dev/null --max-time 2 "http://$SRV/f.bin"

# c ARGS... — curl in the namespace; body to $TMP/body, headers to $TMP/hdr; sets CODE and RC.
c() {
	rm -f "$TMP/body" "$TMP/hdr"
	CODE=$(ip netns exec "$ns" curl -sS --max-time 10 -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' "$@" 2>"$TMP/cerr")
	RC=$?
}
hdr() {   # NAME — the value of a response field, CR removed
	tr -d '\r' < "$TMP/hdr" | awk -v n="$1" 'BEGIN { IGNORECASE = 1 } index(tolower($0), tolower(n) ":") == 1 { sub(/^[^:]*: */, ""); print }'
}
same() {   # FILE WHAT — $TMP/body must equal FILE
	cmp -s "$TMP/body" "$1" || fail "$2: got $(wc -c < "$TMP/body") bytes that differ from the expected $(wc -c < "$1")"
}

note "a 200 says Accept-Ranges: bytes"
c "http://$SRV/f.bin"
[ "$CODE" = 200 ] || fail "plain GET: $CODE"
[ "$(hdr Accept-Ranges)" = bytes ] || fail "no Accept-Ranges: bytes on a 200"
[ "$(hdr Last-Modified)" = "$LM" ] || fail "Last-Modified '$(hdr Last-Modified)', expected '$LM'"

note "single ranges: 206, Content-Range, the bytes dd gives"
for spec in 10-19:10:10 0-0:0:1 99990-:99990:10 -500:99500:500 99000-200000:99000:1000 -200000:0:$SIZE; do
	IFS=: read -r r off n <<< "$spec"
	c -r "$r" "http://$SRV/f.bin"
	[ "$CODE" = 206 ] || fail "-r $r: status $CODE, expected 206"
	want="bytes $off-$((off + n - 1))/$SIZE"
	[ "$(hdr Content-Range)" = "$want" ] || fail "-r $r: Content-Range '$(hdr Content-Range)', expected '$want'"
	[ "$(hdr Content-Length)" = "$n" ] || fail "-r $r: Content-Length '$(hdr Content-Length)', expected $n"
	slice "$off" "$n" > "$TMP/want"
	same "$TMP/want" "-r $r"
done

note "unsatisfiable: 416 with Content-Range: bytes */SIZE"
for r in $SIZE- 200000-300000; do
	c -r "$r" "http://$SRV/f.bin"
	[ "$CODE" = 416 ] || fail "-r $r: status $CODE, expected 416"
	[ "$(hdr Content-Range)" = "bytes */$SIZE" ] || fail "-r $r: Content-Range '$(hdr Content-Range)'"
done

note "ignored ranges (RFC 9110 14.2): last < first, two ranges, another unit, HEAD"
for h in 'Range: bytes=5-2' 'Range: bytes=0-1,5-6' 'Range: items=0-5' 'Range: bytes=abc'; do
	c -H "$h" "http://$SRV/f.bin"
	[ "$CODE" = 200 ] || fail "'$h': status $CODE, expected 200 (ignored)"
	same "$W/f.bin" "'$h'"
done
CODE=$(ip netns exec "$ns" curl -sS --max-time 10 -I -H 'Range: bytes=0-9' -o "$TMP/hdr" -w '%{http_code}' "http://$SRV/f.bin")
[ "$CODE" = 200 ] || fail "HEAD with Range: $CODE, expected 200"
[ "$(hdr Content-Length)" = $SIZE ] || fail "HEAD with Range: Content-Length $(hdr Content-Length)"

note "If-Range: the exact Last-Modified keeps the range, anything else gets the whole file"
c -r 0-9 -H "If-Range: $LM" "http://$SRV/f.bin"
[ "$CODE" = 206 ] || fail "If-Range equal to Last-Modified: $CODE, expected 206"
c -r 0-9 -H 'If-Range: Mon, 11 Mar 2024 12:00:00 GMT' "http://$SRV/f.bin"
[ "$CODE" = 200 ] || fail "If-Range with another date: $CODE, expected 200"
same "$W/f.bin" "If-Range mismatch"
c -r 0-9 -H 'If-Range: "etag"' "http://$SRV/f.bin"
[ "$CODE" = 200 ] || fail "If-Range with an entity-tag: $CODE, expected 200"

note "curl -C - resumes a partial file; a complete file stays as it is"
slice 0 30000 > "$TMP/part.bin"
ip netns exec "$ns" curl -sS --max-time 10 -C - -o "$TMP/part.bin" "http://$SRV/f.bin" 2>"$TMP/cerr" ||
	fail "curl -C - exit $?: $(cat "$TMP/cerr")"
cmp -s "$TMP/part.bin" "$W/f.bin" || fail "curl -C - left $(wc -c < "$TMP/part.bin") bytes that differ from the file"
ip netns exec "$ns" curl -sS --max-time 10 -C - -o "$TMP/part.bin" "http://$SRV/f.bin" 2>"$TMP/cerr" ||
	fail "curl -C - of a complete file: exit $? ($(cat "$TMP/cerr"))"
cmp -s "$TMP/part.bin" "$W/f.bin" || fail "curl -C - of a complete file changed it ($(wc -c < "$TMP/part.bin") bytes)"

note "If-Modified-Since: 304 when not newer, in all three date forms; 200 when newer or a bad date"
c -z 'Sun, 10 Mar 2024 12:00:00 GMT' "http://$SRV/f.bin"
[ "$CODE" = 304 ] || fail "curl -z (the mtime itself): $CODE, expected 304"
[ ! -s "$TMP/body" ] || fail "a 304 had a body"
[ -z "$(hdr Content-Length)" ] || fail "a 304 with Content-Length"
[ -n "$(hdr Date)" ] || fail "a 304 without Date"
c -z 'Sat, 09 Mar 2024 12:00:00 GMT' "http://$SRV/f.bin"
[ "$CODE" = 200 ] || fail "curl -z (a day before the mtime): $CODE, expected 200"
same "$W/f.bin" "-z older"
cat > "$TMP/ims.py" <<'PY'
import socket, sys
host = sys.argv[1]

def get(fields):
    """GET /f.bin with these extra header lines; the whole answer (the server closes)."""
    s = socket.create_connection((host, 80), timeout=10)
    s.sendall(("GET /f.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n" % fields).encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b

cases = [("Sunday, 10-Mar-24 12:00:01 GMT", 304), ("Sun Mar 10 12:00:00 2024", 304),
         ("Mon, 11 Mar 2024 00:00:00 GMT", 304), ("Sun, 10 Mar 2024 11:59:59 GMT", 200),
         ("yesterday", 200), ("Sun, 10 Mar 2024 12:00:00 UTC", 200), ("Sun, 31 Foo 2024 12:00:00 GMT", 200)]
bad = 0
for date, want in cases:
    head, _, body = get("If-Modified-Since: %s\r\n" % date).partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if status != want or (want == 304 and (body or b"Content-Length" in head)):
        print("If-Modified-Since: %s -> %d (%d body bytes), expected %d" % (date, status, len(body), want))
        bad += 1
data = get('If-None-Match: "x"\r\nIf-Modified-Since: Mon, 11 Mar 2024 00:00:00 GMT\r\n')
if not data.startswith(b"HTTP/1.1 200"):
    print("If-None-Match did not make If-Modified-Since ignored: %r" % data[:40])
    bad += 1
sys.exit(1 if bad else 0)
PY
ip netns exec "$ns" timeout 60 $PY "$TMP/ims.py" "$SRV" || fail "If-Modified-Since checks failed"

note "over max_connections (2): 503 with Retry-After, then curl --retry gets the file"
cat > "$TMP/hold.py" <<'PY'
import socket, sys, time
host, secs = sys.argv[1], float(sys.argv[2])
held = [socket.create_connection((host, 80), timeout=10) for _ in range(2)]
print("held", flush=True)
time.sleep(secs)
for s in held:
    s.close()
PY
start "$ns" "$TMP/hold.log" $PY "$TMP/hold.py" "$SRV" 4
hold=$LAST_PID
wait_for 5 "two connections to be held" grep -q held "$TMP/hold.log"
sleep 0.3      # let ustackd's workers accept them (no observable event to wait for)
c "http://$SRV/f.bin"
[ "$CODE" = 503 ] || fail "a third connection: status $CODE, expected 503"
[ "$(hdr Retry-After)" = 1 ] || fail "503 without Retry-After: 1 ($(hdr Retry-After))"
[ "$(hdr Connection)" = close ] || fail "503 without Connection: close"
ip netns exec "$ns" curl -S --no-progress-meter --max-time 30 --retry 10 -o "$TMP/body" "http://$SRV/f.bin" 2>"$TMP/cerr" ||
	fail "curl --retry 10 exit $?: $(cat "$TMP/cerr")"
same "$W/f.bin" "curl --retry after 503"
grep -q 'Warning: Problem : HTTP error. Will retry in 1 seconds' "$TMP/cerr" ||
	fail "curl did not retry after the 503's Retry-After: 1: $(cat "$TMP/cerr")"
wait "$hold"
c "http://$SRV/f.bin"
[ "$CODE" = 200 ] || fail "after the holders left: $CODE, expected 200 (slots not given back?)"

stop_pid "$d" || fail "ustackd exited with status $?: $(tail -n 20 "$TMP/ustackd.log")"
no_sanitizer_reports "$TMP/ustackd.log"
echo ok
