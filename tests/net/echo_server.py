#!/usr/bin/python3
"""A TCP echo server on the kernel's stack: one thread per connection,
listen(BACKLOG), every byte sent back until the peer closes (or 60 s of
silence). One process, so a test ends it by its PID. Prints "listening"
(flushed) once it accepts connections.

usage: echo_server.py ADDR PORT BACKLOG
"""
import socket
import sys
import threading

addr, port, backlog = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, port))
ls.listen(backlog)
print("listening", flush=True)


def serve(c):
    with c:
        c.settimeout(60)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass


while True:
    conn, _ = ls.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
