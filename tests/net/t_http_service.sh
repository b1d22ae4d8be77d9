#!/usr/bin/env bash
# ustackd's http service (doc/HTTP.md) on a TAP, against the kernel's curl,
# wget and python3 clients: a 50 MB file intact through curl and wget; 100
# concurrent clients each get their own small file; HEAD; content types;
# the documented statuses (301, 400, 403, 404, 405, 414, 501, 505); path
# traversal, encoded tricks and symbolic links never reveal a marker file
# kept outside the root (nor /etc/passwd); keep-alive, pipelining, HTTP/1.0;
# idle and trickling connections closed after the 15 s timeout (checked in
# the background while the rest runs).
. "$(dirname "$0")/lib.sh"
need_root
PY=/usr/bin/python3
$PY -c 'import http.client, socket, threading' 2>/dev/null || skip "/usr/bin/python3 is missing"
need_cmd curl wget sha256sum

SRV=10.9.80.2
IDLE_S=15                                   # HTTP_IDLE_S in tools/common/http_service.h

note "the served tree, and a marker outside it"
W="$TMP/www"
mkdir -p "$W/sub" "$W/noindex" "$W/small"
marker="MARKER-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$marker" > "$TMP/secret.txt"
printf '<html><body>root index %s</body></html>\n' "$$" > "$W/index.html"
printf '<html><body>sub index</body></html>\n' > "$W/sub/index.html"
echo 'body { color: red; }' > "$W/style.css"
echo '{"a": 1}' > "$W/data.json"
for i in $(seq -w 0 99); do head -c $((1000 + 10#$i * 37)) /dev/urandom > "$W/small/f$i.txt"; done
head -c 52428800 /dev/urandom > "$W/big.bin"
ln -s "$TMP/secret.txt" "$W/link.txt"        # a symlink to a file outside the root
ln -s "$TMP" "$W/linkdir"                    # and one to a directory outside it
mkfifo "$W/fifo"
want=$(sha256sum < "$W/big.bin" | cut -d' ' -f1)

ns=$(new_ns http)
cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0:
    backend: tap
    device: tap0
    addresses: [$SRV/24]
services:
  - {type: http, port: 80, root: "$W"}
YAML
start_ustackd -t tap0 10.9.80.1/24 "$ns" "$TMP/ustackd.log" -C "$TMP/host.yaml"
d=$LAST_PID
grep -q 'http on tcp port 80' "$TMP/ustackd.log" || fail "ustackd did not start the http service: $(cat "$TMP/ustackd.log")"
wait_for 10 "the http service to answer" ip netns exec "$ns" curl -sf -o /dev/null --max-time 2 "http://$SRV/"

# The client side of every raw check: python3 with plain sockets, so that
# nothing normalizes the request (curl would remove "..", for one).
cat > "$TMP/rawhttp.py" <<'PY'
import socket, sys, time

HOST = sys.argv[1]

def exchange(raw, timeout=10):
    """Send raw bytes, read until the server closes: (status, headers, body)."""
    s = socket.create_connection((HOST, 80), timeout=timeout)
    s.sendall(raw)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return parse(data)

def parse(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, data
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body

def read_response(s, buf, head_only=False):
    """One response from socket s (buf: bytes already read); returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside a response head")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    status, headers, _ = parse(head + b"\r\n\r\n")
    n = 0 if head_only else int(headers["content-length"])
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside a body")
        buf += chunk
    return status, headers, buf[:n], buf[n:]
PY

note "curl and wget download the 50 MB file, SHA-256 equal"
code=$(ip netns exec "$ns" curl -sS --max-time 60 -o "$TMP/big.curl" -w '%{http_code}' "http://$SRV/big.bin") \
	|| fail "curl of the 50 MB file failed (exit $?)"
[ "$code" = 200 ] || fail "curl got status $code for big.bin"
got=$(sha256sum < "$TMP/big.curl" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "curl got $(wc -c < "$TMP/big.curl") bytes with another SHA-256"
rm -f "$TMP/big.curl"
ip netns exec "$ns" timeout 60 wget -q -O "$TMP/big.wget" "http://$SRV/big.bin" || fail "wget of the 50 MB file failed (exit $?)"
got=$(sha256sum < "$TMP/big.wget" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "wget got $(wc -c < "$TMP/big.wget") bytes with another SHA-256"
rm -f "$TMP/big.wget"

note "idle and trickling connections are closed by the server (checked in the background)"
cat > "$TMP/idle.py" <<PY
import runpy, socket, sys, threading, time
h = runpy.run_path("$TMP/rawhttp.py")
errors = []

def idle():
    """A keep-alive connection left idle after a response is closed after about $IDLE_S s."""
    s = socket.create_connection(("$SRV", 80), timeout=10)
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
    st, hd, body, rest = h["read_response"](s, b"")
    if st != 200 or b"root index" not in body:
        return errors.append("idle: the first response was %s" % st)
    t0 = time.monotonic()
    s.settimeout($IDLE_S + 15)
    try:
        eof = s.recv(1) == b""
    except socket.timeout:
        return errors.append("the server kept an idle connection open for %d s" % ($IDLE_S + 15))
    except ConnectionResetError:
        eof = True
    dt = time.monotonic() - t0
    if not eof:
        errors.append("unexpected bytes on an idle connection")
    elif not ($IDLE_S - 1 <= dt <= $IDLE_S + 5):
        errors.append("idle connection closed after %.1f s, expected about $IDLE_S s" % dt)
    else:
        print("idle connection closed after %.1f s" % dt)

def trickle():
    """A head that trickles in, a byte a second, is not progress: closed just the same."""
    s = socket.create_connection(("$SRV", 80), timeout=10)
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    t0 = time.monotonic()
    closed = False
    s.settimeout(1)
    while time.monotonic() - t0 < $IDLE_S + 10 and not closed:
        try:
            s.sendall(b"a")
            closed = s.recv(1) == b""
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            closed = True
    dt = time.monotonic() - t0
    if not closed:
        errors.append("a trickling request head kept its connection for %.1f s" % dt)
    elif dt < $IDLE_S - 1:
        errors.append("trickling head: closed after %.1f s, before the timeout" % dt)
    else:
        print("trickling head closed after %.1f s" % dt)

threads = [threading.Thread(target=f) for f in (idle, trickle)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
start "$ns" "$TMP/idle.log" $PY "$TMP/idle.py" "$SRV"
idle=$LAST_PID

note "100 concurrent clients, each its own small file"
cat > "$TMP/many.py" <<'PY'
import http.client, sys, threading
host, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
barrier = threading.Barrier(n)
failures = []
lock = threading.Lock()

def client(i):
    name = "/small/f%02d.txt" % i
    try:
        want = open(root + name, "rb").read()
        c = http.client.HTTPConnection(host, 80, timeout=30)
        c.connect()
        barrier.wait(timeout=30)            # every connection open at once
        c.request("GET", name)
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or body != want:
            raise RuntimeError("status %d, %d bytes (want %d)" % (r.status, len(body), len(want)))
        c.close()
    except Exception as e:  # noqa: BLE001 — report every failure kind
        with lock:
            failures.append("client %d: %s: %s" % (i, type(e).__name__, e))

threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for f in failures[:20]:
    print(f)
print("%d of %d clients got their file" % (n - len(failures), n))
sys.exit(1 if failures else 0)
PY
ip netns exec "$ns" timeout 60 $PY "$TMP/many.py" "$SRV" "$W" 100 || fail "not every one of the 100 clients got its file"

note "HEAD, content types, Last-Modified (curl)"
hdr=$(ip netns exec "$ns" curl -sS --max-time 10 -I "http://$SRV/big.bin" | tr -d '\r') || fail "curl -I failed"
echo "$hdr" | grep -qx 'Content-Length: 52428800' || fail "HEAD big.bin: no Content-Length 52428800 in: $hdr"
echo "$hdr" | grep -qx 'Content-Type: application/octet-stream' || fail "HEAD big.bin: wrong Content-Type in: $hdr"
echo "$hdr" | grep -q '^Last-Modified: ..., [0-9][0-9] ... [0-9]\{4\} ..:..:.. GMT$' || fail "HEAD big.bin: no Last-Modified in: $hdr"
for pair in index.html:text/html style.css:text/css data.json:application/json small/f00.txt:text/plain; do
	ct=$(ip netns exec "$ns" curl -sS --max-time 10 -o /dev/null -w '%{content_type}' "http://$SRV/${pair%%:*}")
	[ "$ct" = "${pair#*:}" ] || fail "${pair%%:*} has Content-Type '$ct', expected ${pair#*:}"
done

note "status codes (curl)"
check_code() {   # check_code WANT CURL-ARGS...
	local want=$1; shift
	local got
	got=$(ip netns exec "$ns" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$@") || true
	[ "$got" = "$want" ] || fail "curl $* gave status '$got', expected $want"
}
check_code 200 "http://$SRV/"
check_code 404 "http://$SRV/no-such-file"
check_code 405 -X POST --data x "http://$SRV/index.html"
check_code 405 -X DELETE "http://$SRV/index.html"
check_code 403 "http://$SRV/noindex/"
check_code 301 "http://$SRV/sub"
check_code 200 "http://$SRV/sub/"
check_code 403 "http://$SRV/fifo"
check_code 403 "http://$SRV/link.txt"

note "raw requests: errors, HEAD, pipelining, keep-alive, traversal (python3 sockets)"
cat > "$TMP/raw.py" <<PY
import http.client, runpy, socket, sys
h = runpy.run_path("$TMP/rawhttp.py")
exchange, read_response = h["exchange"], h["read_response"]
W, MARKER = "$W", "$marker".encode()
bad = []

def expect(raw, status, what, has=None):
    st, hd, body = exchange(raw)
    if st != status:
        bad.append("%s: status %s, expected %d" % (what, st, status))
    if has and hd.get(has[0].lower()) != has[1]:
        bad.append("%s: %s is %r, expected %r" % (what, has[0], hd.get(has[0].lower()), has[1]))
    if MARKER in body or b"root:" in body:
        bad.append("%s: the body reveals a file outside the root" % what)
    return hd, body

# Malformed requests and unsupported versions.
expect(b"GARBAGE\r\n\r\n", 400, "no request-target")
expect(b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400, "two spaces")
expect(b"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host")
expect(b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, "space before the colon")
expect(b"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", 400, "obs-fold")
expect(b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 400, "a 9000-byte header")
expect(b"GET / HTTX/1.1\r\nHost: t\r\n\r\n", 400, "bad protocol name")
expect(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "HTTP/2.0")
expect(b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505, "HTTP/3.0")
expect(b"GET / HTTP/0.9\r\nHost: t\r\n\r\n", 505, "HTTP/0.9")
expect(b"GET / HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n", 200, "HTTP/1.2 (as 1.1, RFC 9110 2.5)")
expect(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "a 5000-byte URI")
expect(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "a 9000-byte URI")
expect(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 405, "POST", ("Allow", "GET, HEAD"))
expect(b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 405, "PUT", ("Allow", "GET, HEAD"))
expect(b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "chunked GET")
expect(b"GET /%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 400, "bad percent escape")
expect(b"GET /index.html%00.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 400, "encoded NUL")

# Bare LF line ends are tolerated; HTTP/1.0 closes after the response.
hd, body = expect(b"GET /index.html HTTP/1.0\n\n", 200, "bare LF, HTTP/1.0")
if b"root index" not in body:
    bad.append("bare LF: wrong body")

# Directories: 301 to the slash form; its index.html; none: 403.
hd, _ = expect(b"GET /sub?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 301, "directory without /",
               ("Location", "/sub/"))
hd, body = expect(b"GET /sub/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200, "directory index")
if body != open(W + "/sub/index.html", "rb").read():
    bad.append("/sub/ did not serve sub/index.html")
expect(b"GET http://t/sub/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200, "absolute-form")
expect(b"GET /small/f00.txt/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 404, "file with a trailing /")

# HEAD: the length of the GET, no body (the next response follows at once).
s = socket.create_connection(("$SRV", 80), timeout=10)
s.sendall(b"HEAD /small/f05.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
st, hd, body, rest = read_response(s, b"", head_only=True)
size = len(open(W + "/small/f05.txt", "rb").read())
if st != 200 or hd.get("content-length") != str(size):
    bad.append("HEAD: status %s, Content-Length %s (file has %d)" % (st, hd.get("content-length"), size))
if not rest.startswith(b"HTTP/1.1 200") and rest:
    bad.append("HEAD sent a body: %r" % rest[:40])
st, hd, body, rest = read_response(s, rest)
if st != 200 or b"root index" not in body:
    bad.append("the GET after a HEAD: status %s" % st)
s.close()

# Pipelining: three requests in one segment, answered in order; keep-alive by default.
s = socket.create_connection(("$SRV", 80), timeout=10)
names = ["/small/f01.txt", "/nope", "/small/f02.txt"]
s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % n.encode() for n in names))
buf = b""
for n, want in zip(names, [200, 404, 200]):
    st, hd, body, buf = read_response(s, buf)
    if st != want:
        bad.append("pipelined %s: status %s, expected %d" % (n, st, want))
    elif want == 200 and body != open(W + n, "rb").read():
        bad.append("pipelined %s: wrong body" % n)
s.sendall(b"GET /small/f03.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
st, hd, body, buf = read_response(s, buf)
if st != 200 or hd.get("connection") != "close" or s.recv(1) != b"":
    bad.append("Connection: close was not honoured (status %s)" % st)
s.close()

# HTTP/1.0 with keep-alive stays open for a second request.
s = socket.create_connection(("$SRV", 80), timeout=10)
s.sendall(b"GET /small/f04.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
st, hd, body, buf = read_response(s, b"")
s.sendall(b"GET /small/f06.txt HTTP/1.0\r\n\r\n")
st2, hd2, body2, buf = read_response(s, buf)
if st != 200 or st2 != 200 or hd.get("connection", "").lower() != "keep-alive":
    bad.append("HTTP/1.0 keep-alive: %s %s %s" % (st, st2, hd.get("connection")))
s.close()

# Keep-alive through http.client: two requests on one connection.
c = http.client.HTTPConnection("$SRV", 80, timeout=10)
c.request("GET", "/small/f07.txt")
r = c.getresponse()
b1 = r.read()
sock1 = c.sock
c.request("GET", "/small/f08.txt")
r2 = c.getresponse()
b2 = r2.read()
if (r.status, r2.status) != (200, 200) or c.sock is not sock1 or sock1 is None:
    bad.append("http.client keep-alive: %s %s, same socket %s" % (r.status, r2.status, c.sock is sock1))
if b1 != open(W + "/small/f07.txt", "rb").read() or b2 != open(W + "/small/f08.txt", "rb").read():
    bad.append("http.client keep-alive: wrong bodies")
c.close()

# Traversal, encoded tricks and symbolic links: never the marker or /etc/passwd.
for target, status in [
    (b"/../etc/passwd", 400),
    (b"/../../../../../../etc/passwd", 400),
    (b"/%2e%2e/%2e%2e/etc/passwd", 400),
    (b"/%2E%2E/secret.txt", 400),
    (b"/..%2fetc/passwd", 400),
    (b"/..%2Fsecret.txt", 400),
    (b"/sub/..%2f..%2fsecret.txt", 400),
    (b"/sub/%2e%2e/%2e%2e/secret.txt", 400),
    (b"/./../secret.txt", 400),
    (b"/..", 400),
    (b"/%2e%2e", 400),
    (b"/..%00/secret.txt", 400),
    (b"//etc/passwd", 404),
    (b"/%2fetc/passwd", 404),
    (b"/etc/passwd", 404),
    (b"/..\\\\secret.txt", 404),
    (b"http://t/../secret.txt", 400),
    (b"/link.txt", 403),
    (b"/linkdir/secret.txt", 403),
    (b"/linkdir/", 403),
    (b"/%6cink.txt", 403),
]:
    expect(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", status,
           "traversal %r" % target)

for b in bad:
    print(b)
print("%d raw checks failed" % len(bad))
sys.exit(1 if bad else 0)
PY
ip netns exec "$ns" timeout 60 $PY "$TMP/raw.py" "$SRV" || fail "raw request checks failed"

note "traversal through curl --path-as-is"
for t in '/../etc/passwd' '/%2e%2e/%2e%2e/etc/passwd' '/..%2fetc/passwd' '//etc/passwd' '/link.txt' '/../secret.txt'; do
	body=$(ip netns exec "$ns" curl -sS --max-time 10 --path-as-is "http://$SRV$t") || fail "curl --path-as-is $t failed"
	case "$body" in *"$marker"*|*root:*) fail "curl $t revealed a file outside the root";; esac
done

note "the idle and trickling connections"
for _ in $(seq $(( (IDLE_S + 25) * 10 ))); do kill -0 "$idle" 2>/dev/null || break; sleep 0.1; done
kill -0 "$idle" 2>/dev/null && fail "the idle-connection check did not finish"
wait "$idle" || fail "idle timeout: $(cat "$TMP/idle.log")"
cat "$TMP/idle.log"

check_code 200 "http://$SRV/index.html"
stop_pid "$d" || fail "ustackd exited with status $?: $(tail -n 20 "$TMP/ustackd.log")"
grep -qE 'Sanitizer|runtime error' "$TMP/ustackd.log" && fail "sanitizer report: $(grep -m5 -E 'Sanitizer|runtime error' "$TMP/ustackd.log")"
est=$(counter "$TMP/ustackd.log" tcp "connections established")
[ "$est" -ge 150 ] || fail "ustackd counted $est connections, expected at least 150"
echo ok
