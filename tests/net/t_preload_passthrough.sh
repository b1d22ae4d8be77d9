#!/usr/bin/env bash
# USTACK_PASSTHROUGH (doc/PRELOAD.md "Pass-through"): a python3 program
# over libustack-preload.so with USTACK_PASSTHROUGH="loopback 10.9.48.64/26"
# in a namespace where the kernel answers on tap0 (10.9.48.1), on lo
# (127.0.0.1) and on 10.9.48.65 (an address on lo). A kernel server tells
# each client the address it came from:
#  - connect to 127.0.0.1 (named `loopback`) reaches the kernel's loopback
#    (peer 127.0.0.1; without pass-through it would be ustack's own
#    loopback, where nothing listens: ECONNREFUSED), after TCP_NODELAY was
#    set on the ustack socket: the kernel socket has it too;
#  - a non-blocking connect to 10.9.48.65 (in the /26) goes through the
#    kernel too (peer 10.9.48.65, not the stack's 10.9.48.2): EINPROGRESS,
#    then writable, then the answer;
#  - connect to 10.9.48.1 (not listed) goes through the stack (peer
#    10.9.48.2) in the same process;
#  - bind to 127.0.0.1 + listen: the kernel's table shows the listener;
#  - a UDP sendto 127.0.0.1 gets the kernel echo's answer back;
#  - a malformed USTACK_PASSTHROUGH: socket(AF_INET) fails (EAFNOSUPPORT)
#    with a message naming the bad entry, rather than guessing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup prepass 48
ip netns exec "$ns" ip addr add 10.9.48.65/32 dev lo
cat > "$TMP/kpeer.py" <<'PY'
import socket, threading
def tcp():
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", 9201)); ls.listen(16)
    while True:
        c, a = ls.accept()
        c.sendall(("peer=%s\n" % a[0]).encode()); c.close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 9203))
    while True:
        d, a = s.recvfrom(2048); s.sendto(b"echo:" + d, a)
threading.Thread(target=udp, daemon=True).start()
tcp()
PY
cat > "$TMP/prog.py" <<'PY'
import errno, select, socket
def ask(addr, nodelay=False, nonblock=False):
    s = socket.socket()
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if nonblock:
        s.setblocking(False)
        rc = s.connect_ex((addr, 9201))
        print("nonblock-connect", errno.errorcode.get(rc, rc))
        select.select([], [s], [], 10)
        s.setblocking(True)
    else:
        s.connect((addr, 9201))
    if nodelay:
        print("nodelay", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    ans = s.makefile().readline().strip()
    s.close()
    return ans
print("127.0.0.1", ask("127.0.0.1", nodelay=True))
print("10.9.48.65", ask("10.9.48.65", nonblock=True))
print("10.9.48.1", ask("10.9.48.1"))
ls = socket.socket(); ls.bind(("127.0.0.1", 9202)); ls.listen(4)
with open("/proc/net/tcp") as f:
    print("kernel-listener", any(l.split()[1] == "0100007F:23F2" and l.split()[3] == "0A"
                                 for l in f.readlines()[1:]))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"hi", ("127.0.0.1", 9203)); u.settimeout(5)
d, a = u.recvfrom(100)
print("udp", d.decode(), a[0])
PY
start "$ns" "$TMP/kpeer.log" /usr/bin/python3 "$TMP/kpeer.py"
wait_for 10 "the kernel peer to listen on :9201" sh -c "ip netns exec $ns ss -tln | grep -q ':9201'"
USTACK_PASSTHROUGH="loopback 10.9.48.64/26" shim /usr/bin/python3 "$TMP/prog.py" > "$TMP/out" 2> "$TMP/err" ||
	{ cat "$TMP/out" "$TMP/err"; fail "the program over the shim exit $?"; }
cat "$TMP/out"
expect() { grep -qx "$1" "$TMP/out" || { cat "$TMP/err"; fail "$2"; }; }
expect "127.0.0.1 peer=127.0.0.1" "connect to 127.0.0.1 did not reach the kernel's loopback"
expect "nodelay 1" "TCP_NODELAY set before the move is not on the kernel socket"
expect "nonblock-connect EINPROGRESS" "the moved non-blocking connect was not EINPROGRESS"
expect "10.9.48.65 peer=10.9.48.65" "connect into 10.9.48.64/26 did not go through the kernel"
expect "10.9.48.1 peer=10.9.48.2" "connect to an unlisted address did not go through the stack"
expect "kernel-listener True" "bind(127.0.0.1) + listen: no kernel listener"
expect "udp echo:hi 127.0.0.1" "UDP to 127.0.0.1: no answer from the kernel echo"

note "a malformed USTACK_PASSTHROUGH is an error, not a guess"
USTACK_PASSTHROUGH="loopback 10.9.48.300" shim /usr/bin/python3 -c '
import errno, socket
try:
    socket.socket(); print("made")
except OSError as e:
    print(errno.errorcode[e.errno])' > "$TMP/out" 2> "$TMP/err"
grep -qx EAFNOSUPPORT "$TMP/out" || { cat "$TMP/out" "$TMP/err"; fail "socket() with a bad USTACK_PASSTHROUGH"; }
grep -q "USTACK_PASSTHROUGH: '10.9.48.300' is not" "$TMP/err" ||
	{ cat "$TMP/err"; fail "no message naming the bad entry"; }
echo ok
