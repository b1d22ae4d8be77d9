#!/usr/bin/env bash
# What a child process inherits from a program over libustack-preload.so
# (doc/PRELOAD.md "fork and exec"), from a python3 program over the shim
# connected to a kernel nc over TAP:
#  - after fork, the child's calls on the parent's ustack socket fail with
#    ENOTSOCK (send, and epoll_ctl, which a plain eventfd would accept) and
#    the shim says why once on stderr; socket(AF_INET) in the child is
#    EAFNOSUPPORT with its own message; the child's close is harmless;
#  - the parent's connection is untouched: what it sends before and after
#    the child ran arrives at the kernel peer, and nothing from the child;
#  - exec: a socket made with SOCK_CLOEXEC (python's default) is gone in
#    the new program; one marked inheritable is there as an eventfd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd nc.openbsd readlink
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup prefork 47
cat > "$TMP/forker.py" <<'PY'
import errno, os, select, socket, sys
s = socket.socket()
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"parent-before\n")
pid = os.fork()
if pid == 0:
    res = []
    for what, f in (("send", lambda: s.send(b"child\n")),
                    ("epoll", lambda: select.epoll().register(s.fileno())),
                    ("socket", lambda: socket.socket())):
        try:
            f()
            res.append(what + ":ok")
        except OSError as e:
            res.append(what + ":" + errno.errorcode[e.errno])
    s.close()
    print("child", " ".join(res), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
for inheritable in (False, True):
    os.set_inheritable(s.fileno(), inheritable)
    pid = os.fork()
    if pid == 0:
        cmd = "printf 'exec%%s %%s\\n' $0 $(readlink /proc/self/fd/%d || echo closed)" % s.fileno()
        os.execv("/bin/sh", ["sh", "-c", cmd, str(int(inheritable))])
    os.waitpid(pid, 0)
s.sendall(b"parent-after\n")
s.shutdown(socket.SHUT_WR)
s.close()
PY
start "$ns" "$TMP/k.out" sh -c "exec nc.openbsd -l $KADDR 9101 > $TMP/k.bin"
kpid=$LAST_PID
wait_for 10 "kernel nc to listen on :9101" sh -c "ip netns exec $ns ss -tln | grep -q '$KADDR:9101'"
shim /usr/bin/python3 "$TMP/forker.py" "$KADDR" 9101 > "$TMP/out" 2> "$TMP/err" ||
	{ cat "$TMP/out" "$TMP/err"; fail "the python program over the shim exit $?"; }
cat "$TMP/out"
for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
grep -qx "child send:ENOTSOCK epoll:ENOTSOCK socket:EAFNOSUPPORT" "$TMP/out" ||
	{ cat "$TMP/err"; fail "the child's calls on the parent's socket"; }
grep -q "libustack-preload: sendto(.*a child after fork() cannot use the parent's stack" "$TMP/err" ||
	{ cat "$TMP/err"; fail "no message from the shim for the child's send"; }
grep -q "libustack-preload: socket(AF_INET) in process .*a child after fork() has no ustack stack" \
	"$TMP/err" || { cat "$TMP/err"; fail "no message from the shim for the child's socket()"; }
[ "$(cat "$TMP/k.bin")" = "$(printf 'parent-before\nparent-after')" ] ||
	fail "the kernel peer got '$(cat "$TMP/k.bin")', not the parent's two lines"
grep -qx "exec0 closed" "$TMP/out" || fail "a SOCK_CLOEXEC socket survived exec"
grep -qx "exec1 anon_inode:\[eventfd\]" "$TMP/out" ||
	fail "an inheritable socket is not an eventfd after exec"
echo ok
