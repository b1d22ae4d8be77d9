#!/usr/bin/python3
# self_talk.py DST... — one process talks to itself over TCP and UDP (run
# under libustack-preload.so by t_local_delivery.sh): an echo server thread and a
# client, to each address given. Prints "tcp DST OK n" / "udp DST OK" lines.
import hashlib, socket, sys, threading

PORT = 7000
payload = bytes((i * 7 + 3) & 0xff for i in range(300000))

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", PORT))
srv.listen(4)

def echo_once():
    c, _ = srv.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()

for dst in sys.argv[1:]:
    t = threading.Thread(target=echo_once)
    t.start()
    cl = socket.create_connection((dst, PORT), timeout=20)
    def feed():
        cl.sendall(payload)
        cl.shutdown(socket.SHUT_WR)
    f = threading.Thread(target=feed)
    f.start()
    got = bytearray()
    while True:
        d = cl.recv(65536)
        if not d:
            break
        got += d
    f.join()
    t.join()
    cl.close()
    ok = hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    print("tcp %s %s %d" % (dst, "OK" if ok else "BAD", len(got)), flush=True)

    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 0))
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    v.bind(("0.0.0.0", PORT + 1))
    v.settimeout(5)
    u.sendto(b"hello " + dst.encode(), (dst, PORT + 1))
    d, a = v.recvfrom(100)
    ok = d == b"hello " + dst.encode() and a[1] == u.getsockname()[1]
    print("udp %s %s from %s" % (dst, "OK" if ok else "BAD", a[0]), flush=True)
    u.close()
    v.close()
