#!/usr/bin/python3
"""N concurrent TCP clients against an echo service; each sends SIZE random
bytes, reads them back, and compares. Exit 0 when every client got exactly
its own data back, 1 otherwise (with a line per failure).

Each failure line says which phase failed (connect, wait: the barrier that
opens all connections at once, data), after how long, what the socket
said, and the kernel's TCP_INFO for the connection (state, retransmissions,
RTO, unacknowledged segments), so that a test log tells a lost handshake
from a reset from a stalled transfer. A last line gives the spread of
connect times (a SYN the server never answered is retried by the kernel
at 1, 3, 7, 15 s ...).

usage: echo_clients.py HOST PORT N SIZE TIMEOUT_S
"""
import os
import socket
import struct
import sys
import threading
import time

host, port, n, size, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
failures = []
connect_times = []
lock = threading.Lock()
barrier = threading.Barrier(n)
TCP_STATES = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
              "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"]


def tcp_info(s):
    """The fields of Linux's struct tcp_info that tell where a connection stands."""
    try:
        b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return "no tcp_info"
    state, _ca, retransmits, _probes, backoff = struct.unpack_from("BBBBB", b, 0)
    rto, _ato, _smss, _rmss, unacked = struct.unpack_from("IIIII", b, 8)
    total_retrans = struct.unpack_from("I", b, 100)[0]
    st = TCP_STATES[state] if state < len(TCP_STATES) else str(state)
    return (f"{st} unacked={unacked} retransmits={retransmits} backoff={backoff} "
            f"total_retrans={total_retrans} rto={rto // 1000}ms")


def client(i):
    data = os.urandom(size)
    phase, s, t0, lport = "connect", None, time.monotonic(), 0
    got = bytearray()
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        lport = s.getsockname()[1]
        with lock:
            connect_times.append(time.monotonic() - t0)
        s.settimeout(timeout)
        phase = "wait"
        barrier.wait(timeout=timeout)       # all connections open at once
        phase = "data"
        t0 = time.monotonic()

        def reader():
            try:
                while len(got) < size:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got.extend(chunk)
            except OSError as e:
                got.extend(b"")             # the main thread reports the short count
                reader.err = e
        reader.err = None

        r = threading.Thread(target=reader)
        r.start()
        s.sendall(data)
        r.join(timeout)
        if r.is_alive() or reader.err or bytes(got) != data:
            why = ("still reading" if r.is_alive() else
                   f"recv: {type(reader.err).__name__}: {reader.err}" if reader.err else "")
            raise RuntimeError(f"got {len(got)} bytes back, "
                               f"{'prefix ok' if data.startswith(bytes(got)) else 'different'} {why}")
        s.close()
    except Exception as e:  # noqa: BLE001 — report every failure kind
        info = tcp_info(s) if s else "no socket"
        with lock:
            failures.append(f"client {i} (port {lport}): {phase} failed after "
                            f"{time.monotonic() - t0:.1f} s: {type(e).__name__}: {e} [{info}]")
        if s:
            s.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for f in failures[:20]:
    print(f)
if connect_times:
    ct = sorted(connect_times)
    print(f"connect times: min {ct[0]:.2f} s, median {ct[len(ct) // 2]:.2f} s, max {ct[-1]:.2f} s, "
          f"{sum(1 for c in ct if c >= 0.9)} of {len(ct)} took 1 s or more (a SYN retried)")
print(f"{n - len(failures)}/{n} clients got their data back")
sys.exit(1 if failures else 0)
