#!/usr/bin/env bash
# Blocking calls on ustack sockets and signals, as Linux (signal(7);
# doc/PRELOAD.md "Signals"), from a python3 program over the shim against
# a kernel peer over TAP that answers only 1.5 s after a connection.
# SIGALRM comes 0.3 s into each blocking call (setitimer):
#  - recv, handler without SA_RESTART that raises: recv fails with EINTR at
#    once (the handler's exception arrives at ~0.3 s, not when the data
#    comes at 1.5 s, as it would if the call slept through the signal);
#  - recv, handler with SA_RESTART (signal.siginterrupt(SIGALRM, False)):
#    the call is restarted and returns the late data; python runs its
#    handler only then (~1.5 s). A shim that failed every interrupted call
#    with EINTR would have python run it at 0.3 s (PEP 475 retries);
#  - recv with SO_RCVTIMEO set, SA_RESTART: never restarted (Linux), so the
#    handler runs at ~0.3 s, and the retried recv still gets the data;
#  - accept without SA_RESTART: EINTR at ~0.3 s;
#  - connect to a silent address without SA_RESTART: EINTR at ~0.3 s;
#  - not a signal, but the same wait: another thread's close() of a
#    listener one thread is blocked in accept() on wakes it with EBADF
#    within a second (the shim frees the socket only after its waiters
#    left), rather than leaving it asleep for ever.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup presig 49
cat > "$TMP/kpeer.py" <<'PY'
import socket, sys, threading, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], 9301)); ls.listen(16)
def late(c):
    time.sleep(1.5); c.sendall(b"late\n"); time.sleep(5); c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=late, args=(c,), daemon=True).start()
PY
cat > "$TMP/prog.py" <<'PY'
import signal, socket, sys, time
K = sys.argv[1]
class Alarm(Exception):
    pass
t0 = 0.0
ran = []
def raising(sig, frm):
    raise Alarm()
def recording(sig, frm):
    ran.append(time.monotonic() - t0)
def arm(handler, restart):
    global t0
    signal.signal(signal.SIGALRM, handler)
    signal.siginterrupt(signal.SIGALRM, not restart)
    ran.clear()
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.3)
def since():
    return time.monotonic() - t0
def conn(timeout=None):
    s = socket.socket(); s.connect((K, 9301))
    if timeout:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, int(timeout).to_bytes(8, "little") + bytes(8))
    return s

s = conn(); arm(raising, False)
try:
    s.recv(100); print("recv-eintr no-signal %.1f" % since())
except Alarm:
    print("recv-eintr interrupted %.1f" % since())
s.close()

s = conn(); arm(recording, True)
d = s.recv(100)
print("recv-restart %s handler %.1f returned %.1f" % (d.decode().strip(), ran[0] if ran else -1, since()))
s.close()

s = conn(timeout=5); arm(recording, True)
d = s.recv(100)
print("recv-timeo %s handler %.1f returned %.1f" % (d.decode().strip(), ran[0] if ran else -1, since()))
s.close()

ls = socket.socket(); ls.bind(("0.0.0.0", 9302)); ls.listen(1); arm(raising, False)
try:
    ls.accept(); print("accept-eintr accepted %.1f" % since())
except Alarm:
    print("accept-eintr interrupted %.1f" % since())

c = socket.socket(); arm(raising, False)
try:
    c.connect((sys.argv[2], 9301)); print("connect-eintr connected %.1f" % since())
except Alarm:
    print("connect-eintr interrupted %.1f" % since())
except OSError as e:
    print("connect-eintr error %s %.1f" % (e, since()))

import errno, threading
ls2 = socket.socket(); ls2.bind(("0.0.0.0", 9303)); ls2.listen(1)
res = []
def acc():
    try:
        ls2.accept(); res.append("accepted")
    except OSError as e:
        res.append(errno.errorcode.get(e.errno, str(e.errno)))
th = threading.Thread(target=acc); th.start(); time.sleep(0.3)
t1 = time.monotonic(); ls2.close(); th.join(5)
print("close-wakes %s %.1f" % (res[0] if res else "still-blocked", time.monotonic() - t1))
PY
start "$ns" "$TMP/kpeer.log" /usr/bin/python3 "$TMP/kpeer.py" "$KADDR"
wait_for 10 "the kernel peer to listen on :9301" sh -c "ip netns exec $ns ss -tln | grep -q ':9301'"
# 10.9.49.77: on tap0's subnet, nobody there (ARP goes unanswered inside the namespace).
shim /usr/bin/python3 "$TMP/prog.py" "$KADDR" 10.9.49.77 > "$TMP/out" 2> "$TMP/err" ||
	{ cat "$TMP/out" "$TMP/err"; fail "the program over the shim exit $?"; }
cat "$TMP/out"
# field LABEL N — the Nth word of the line starting with LABEL.
field() { awk -v l="$1" -v n="$2" '$1 == l { print $n }' "$TMP/out"; }
# early SECONDS — SECONDS < 1.0 (the signal came at 0.3 s, the data at 1.5 s).
early() { awk -v t="$1" 'BEGIN { exit !(t != "" && t >= 0.2 && t < 1.0) }'; }
late() { awk -v t="$1" 'BEGIN { exit !(t != "" && t >= 1.3) }'; }
[ "$(field recv-eintr 2)" = interrupted ] && early "$(field recv-eintr 3)" ||
	fail "recv without SA_RESTART was not interrupted by the signal at 0.3 s"
[ "$(field recv-restart 2)" = late ] && late "$(field recv-restart 4)" ||
	fail "recv with SA_RESTART: not restarted (data and handler time above)"
[ "$(field recv-timeo 2)" = late ] && early "$(field recv-timeo 4)" ||
	fail "recv with SO_RCVTIMEO and SA_RESTART: EINTR expected at 0.3 s (Linux never restarts it)"
[ "$(field accept-eintr 2)" = interrupted ] && early "$(field accept-eintr 3)" ||
	fail "accept without SA_RESTART was not interrupted at 0.3 s"
[ "$(field connect-eintr 2)" = interrupted ] && early "$(field connect-eintr 3)" ||
	fail "connect without SA_RESTART was not interrupted at 0.3 s"
[ "$(field close-wakes 2)" = EBADF ] && awk -v t="$(field close-wakes 3)" 'BEGIN { exit !(t < 1.0) }' ||
	fail "a thread blocked in accept() was not woken (EBADF) by another thread's close()"
echo ok
