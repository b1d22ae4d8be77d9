#!/usr/bin/env bash
# libustack-preload.so keeps Linux's socket semantics that programs test
# for (doc/PRELOAD.md), checked from a python3 program over the shim
# against a kernel peer over TAP:
#  - O_NONBLOCK: FIONBIO and F_SETFL show in F_GETFL; a non-blocking recv
#    with nothing queued is EAGAIN; a blocking one with SO_RCVTIMEO too;
#  - FIONREAD counts what the kernel peer sent;
#  - select() and poll() over a ustack socket mixed with a pipe report
#    the socket readable only once data came, the pipe independently;
#  - dup(): the copy reads the same stream, and the socket survives the
#    original's close;
#  - send after shutdown(SHUT_WR) is EPIPE and raises SIGPIPE; with
#    MSG_NOSIGNAL it is EPIPE without the signal;
#  - getsockopt(SO_TYPE/SO_DOMAIN/SO_PROTOCOL) answer, so
#    socket.socket(fileno=) rebuilds the object;
#  - epoll: EPOLLET reports a socket once per change (and after a MOD),
#    level-triggered while data stays unread;
#  - sendfile from a file to a ustack socket (python's socket.sendfile)
#    delivers the file's bytes and moves the file offset.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup presem 44
cat > "$TMP/peer.py" <<'PY'
import hashlib, socket, sys, time
# Per connection: read one command line, act on it.
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2]))); ls.listen(8)
print("listening", flush=True)
while True:
    c, a = ls.accept()
    cmd = b""
    while not cmd.endswith(b"\n"):
        d = c.recv(1)
        if not d: break
        cmd += d
    if cmd.startswith(b"hold"):
        time.sleep(0.3)
        c.sendall(b"y" * 100)
        time.sleep(3)
    elif cmd.startswith(b"send"):
        n = int(cmd.split()[1])
        time.sleep(0.3)
        c.sendall(b"x" * n)
        time.sleep(0.5)
    elif cmd.startswith(b"sink"):
        n, h = int(cmd.split()[1]), hashlib.sha256()
        while n > 0:
            d = c.recv(min(n, 65536))
            if not d: break
            h.update(d); n -= len(d)
        c.sendall(h.hexdigest().encode())
    else:
        time.sleep(2)       # "quiet": hold the connection open, send nothing
    c.close()
PY
start "$ns" "$TMP/peer.log" /usr/bin/python3 "$TMP/peer.py" "$KADDR" 9100
wait_for 10 "the kernel peer to listen" grep -q listening "$TMP/peer.log"

cat > "$TMP/sem.py" <<'PY'
import errno, fcntl, os, select, signal, socket, struct, sys, termios, time
host = sys.argv[1]
fails = []
def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond: fails.append(what)

def conn(cmd):
    s = socket.create_connection((host, 9100), timeout=10)
    s.settimeout(None)
    s.sendall(cmd + b"\n")
    return s

s = conn(b"send 1000")
fl = fcntl.fcntl(s.fileno(), fcntl.F_GETFL)
check(fl & os.O_NONBLOCK == 0 and fl & os.O_ACCMODE == os.O_RDWR, "F_GETFL of a blocking socket is O_RDWR")
s.setblocking(False)
check(os.get_blocking(s.fileno()) is False, "setblocking(False) shows O_NONBLOCK in F_GETFL")
try:
    s.recv(10); check(False, "non-blocking recv with nothing queued is EAGAIN")
except BlockingIOError:
    check(True, "non-blocking recv with nothing queued is EAGAIN")
r, w = os.pipe()
t0 = time.monotonic()
rd, _, _ = select.select([s, r], [], [], 0.1)
check(rd == [], "select: nothing readable before the peer sends")
rd, _, _ = select.select([s, r], [], [], 5)
check(rd == [s] and time.monotonic() - t0 > 0.2, "select: the socket becomes readable when data comes, the pipe not")
time.sleep(0.2)
buf = bytearray(4)
fcntl.ioctl(s.fileno(), termios.FIONREAD, buf)
check(struct.unpack("i", buf)[0] == 1000, "FIONREAD counts the 1000 bytes queued (got %d)" % struct.unpack("i", buf)[0])
os.write(w, b"p")
p = select.poll(); p.register(s, select.POLLIN); p.register(r, select.POLLIN)
ev = dict(p.poll(1000))
check(ev.get(s.fileno(), 0) & select.POLLIN and ev.get(r, 0) & select.POLLIN, "poll: socket and pipe both readable")
s.setblocking(True)
d = os.dup(s.fileno())
s2 = socket.socket(fileno=d)
check(s2.family == socket.AF_INET and s2.type == socket.SOCK_STREAM, "socket(fileno=dup) is AF_INET SOCK_STREAM")
got = s2.recv(600)
s.close()
got += s2.recv(600)
check(len(got) == 1000, "the dup reads the same stream across the original's close (%d bytes)" % len(got))
check(s2.recv(10) == b"", "then EOF from the peer's close")
s2.close()

s = conn(b"quiet")
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 200000))
try:
    s.recv(10); check(False, "SO_RCVTIMEO: blocking recv times out with EAGAIN")
except (BlockingIOError, TimeoutError, OSError) as e:
    check(e.errno == errno.EAGAIN, "SO_RCVTIMEO: blocking recv times out with EAGAIN")
got_sig = []
signal.signal(signal.SIGPIPE, lambda *a: got_sig.append(1))
s.shutdown(socket.SHUT_WR)
try:
    s.send(b"late", socket.MSG_NOSIGNAL); check(False, "send after SHUT_WR with MSG_NOSIGNAL is EPIPE")
except BrokenPipeError:
    check(True, "send after SHUT_WR with MSG_NOSIGNAL is EPIPE")
check(got_sig == [], "MSG_NOSIGNAL: no SIGPIPE")
try:
    s.send(b"late"); check(False, "send after SHUT_WR is EPIPE")
except BrokenPipeError:
    check(True, "send after SHUT_WR is EPIPE")
check(got_sig == [1], "without MSG_NOSIGNAL the EPIPE raised SIGPIPE")
s.close()

s = conn(b"hold")
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLIN | select.EPOLLET)
ev = ep.poll(5)
check(ev == [(s.fileno(), select.EPOLLIN)], "epoll EPOLLET: the data's arrival is reported (%r)" % ev)
ev = ep.poll(0.5)
check(ev == [], "epoll EPOLLET: not again without a new change (%r)" % ev)
ep.modify(s.fileno(), select.EPOLLIN | select.EPOLLET)
check(ep.poll(0.5) == [(s.fileno(), select.EPOLLIN)], "epoll EPOLLET: reported again after EPOLL_CTL_MOD")
lt = select.epoll()
lt.register(s.fileno(), select.EPOLLIN)
check(lt.poll(1) == [(s.fileno(), select.EPOLLIN)] and lt.poll(1) == [(s.fileno(), select.EPOLLIN)],
      "epoll level-triggered: reported while the data stays unread")
check(len(s.recv(1000)) == 100, "the 100 bytes are there")
check(lt.poll(0.2) == [], "epoll level-triggered: nothing once read")
ep.close(); lt.close(); s.close()

import hashlib
data = os.urandom(300000)
with open(sys.argv[2], "wb") as f: f.write(data)
s = conn(b"sink 300000")
with open(sys.argv[2], "rb") as f:
    f.seek(1000); f.seek(0)
    sent = s.sendfile(f)
    check(sent == 300000 and f.tell() == 300000, "socket.sendfile (os.sendfile) sent 300000 bytes, file offset at the end")
check(s.recv(100).decode() == hashlib.sha256(data).hexdigest(), "the peer got the file's bytes (SHA-256)")
s.close()
sys.exit(1 if fails else 0)
PY
USTACK_DEBUG=1 shim /usr/bin/python3 "$TMP/sem.py" "$KADDR" "$TMP/sf.bin" > "$TMP/sem.out" 2>&1
rc=$?
grep -v '^ustack-preload' "$TMP/sem.out"
[ $rc -eq 0 ] || fail "semantics over the shim (exit $rc)"
# USTACK_DEBUG=1 logged the calls: sendfile went through the shim (python
# falls back to send() when os.sendfile fails, which would hide a gap).
grep -q '^ustack-preload\[[0-9]*\]: sendfile([0-9]*, [0-9]*, 300000) = 300000' "$TMP/sem.out" ||
	fail "no sendfile of 300000 bytes in the USTACK_DEBUG log"
grep -q '^ustack-preload\[[0-9]*\]: socket(AF_INET, SOCK_STREAM) = ' "$TMP/sem.out" ||
	fail "USTACK_DEBUG=1 logged no socket() call"
grep -c '^ok ' "$TMP/sem.out" | grep -qx 23 || fail "expected 23 checks to pass"
echo ok
