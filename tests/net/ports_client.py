#!/usr/bin/env python3
"""ustack-side client for t_tcp_ports.sh (run under libustack-preload.so):
open N connections to each ADDR:PORT given, all kept open at once, then one
more to the first destination, which must fail. Prints one line per
connection, "LOCALPORT ADDR:PORT", then "extra OK" or "extra ERRNO NAME".
Exits 1 if any of the N x destinations failed (after printing why).

usage: ports_client.py N ADDR:PORT...
"""
import errno
import socket
import sys


def conn(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((addr, port))
    return s


def main():
    n = int(sys.argv[1])
    dests = [(a, int(p)) for a, p in (x.rsplit(":", 1) for x in sys.argv[2:])]
    kept = []
    for addr, port in dests:
        for i in range(n):
            try:
                s = conn(addr, port)
            except OSError as e:
                print("connection %d to %s:%d failed: %s" % (i, addr, port, e), flush=True)
                return 1
            kept.append(s)
            print("%d %s:%d" % (s.getsockname()[1], addr, port))
    try:
        kept.append(conn(*dests[0]))
        print("extra OK")
    except OSError as e:
        print("extra %d %s" % (e.errno, errno.errorcode.get(e.errno, "?")))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
