#!/usr/bin/python3
"""N concurrent TCP clients against an echo service; each sends SIZE random
bytes, reads them back, and compares. Exit 0 when every client got exactly
its own data back, 1 otherwise (with a line per failure).

usage: echo_clients.py HOST PORT N SIZE TIMEOUT_S
"""
import os
import socket
import sys
import threading

host, port, n, size, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
failures = []
lock = threading.Lock()
barrier = threading.Barrier(n)


def client(i):
    data = os.urandom(size)
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.settimeout(timeout)
        barrier.wait(timeout=timeout)       # all connections open at once
        got = bytearray()

        def reader():
            while len(got) < size:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got.extend(chunk)

        r = threading.Thread(target=reader)
        r.start()
        s.sendall(data)
        r.join(timeout)
        s.close()
        if bytes(got) != data:
            raise RuntimeError(f"got {len(got)} bytes back, {'prefix ok' if data.startswith(bytes(got)) else 'different'}")
    except Exception as e:  # noqa: BLE001 — report every failure kind
        with lock:
            failures.append(f"client {i}: {type(e).__name__}: {e}")


threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for f in failures[:20]:
    print(f)
print(f"{n - len(failures)}/{n} clients got their data back")
sys.exit(1 if failures else 0)
