#!/usr/bin/env python3
"""Kernel-side servers for t_tcp_ports.sh: listen on every ADDR:PORT given,
accept connections and keep them open, and once TOTAL have been accepted
(or after TIMEOUT seconds) print one line per connection,
"LADDR:LPORT PEERADDR:PEERPORT", and exit. Prints "listening" to stdout
(flushed) when every socket listens.

usage: ports_servers.py TOTAL TIMEOUT ADDR:PORT...
"""
import selectors
import socket
import sys
import time


def main():
    total, timeout = int(sys.argv[1]), float(sys.argv[2])
    sel = selectors.DefaultSelector()
    for ap in sys.argv[3:]:
        addr, port = ap.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print("listening", flush=True)
    seen, kept = [], []
    deadline = time.monotonic() + timeout
    while len(seen) < total and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            while True:
                try:
                    c, peer = key.fileobj.accept()
                except BlockingIOError:
                    break
                kept.append(c)
                la, lp = c.getsockname()
                seen.append("%s:%d %s:%d" % (la, lp, peer[0], peer[1]))
    for line in seen:
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
