#!/usr/bin/python3
"""http_fixture.py ADDR PORT DIR -- the kernel-side HTTP/1.1 server t_uscurl.sh talks to.

Python 3 standard library only. Each path is one behaviour uscurl must handle:

  /chunked/NAME    DIR/NAME with Transfer-Encoding: chunked, chunks of uneven
                   sizes (1 byte to 200 KB, one with a chunk extension) and a
                   trailer field "X-Trailer-Check: done"
  /close/NAME      DIR/NAME with neither length nor chunks: the body ends when
                   the server closes the connection
  /file/NAME       DIR/NAME with Content-Length, keep-alive; a single Range
                   (bytes=A-B, A-, -N) gets 206 with Content-Range, one past
                   the end 416 with Content-Range: bytes */SIZE
  /slow/NAME/RATE  DIR/NAME with Content-Length, sent at RATE bytes a second
                   (a tenth of it every 0.1 s)
  /flaky/KEY/N     the first N requests for KEY get 503 with Retry-After: 1,
                   the next ones 200 "ok"
  /redirect/N      N > 0: a 302 to /redirect/N-1 (a mix of absolute, absolute-path
                   and relative Location values); N = 0: 200 "redirect chain done"
  /loop            a 302 to itself, forever
  /status/CODE     that status, with a short body naming it
  /echo            the request body back (any method; Content-Length or
                   chunked), with X-Method and X-Got-Content-Type naming what came
  /headers         the request's header lines as the body
  /hang            reads the request and never answers
  /reset           promises 1000000 bytes, sends 100000, then resets (RST)
  /short           promises 1000 bytes, sends 10, then closes normally (FIN)
"""
import os
import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = "."
FLAKY = {}
CHUNKS = [1, 2, 3, 100, 4096, 65536, 7, 200000, 1500]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "http_fixture/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))
        sys.stderr.flush()

    def _file(self, name):
        path = os.path.join(ROOT, os.path.basename(name))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def _send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _drop(self):
        """After closing the socket ourselves: let the server's finish() be a no-op."""
        import io
        self.close_connection = True
        self.wfile = io.BytesIO()
        self.rfile = io.BytesIO()

    def handle_any(self):
        body = self._body()      # read it first, whatever the path: the connection may be reused
        p = self.path.split("?", 1)[0]
        parts = p.strip("/").split("/")
        head = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else ""
        if head == "chunked":
            data = self._file(arg)
            if data is None:
                return self._send(404, b"no such file\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Trailer-Check")
            self.end_headers()
            off, i = 0, 0
            while off < len(data):
                n = CHUNKS[i % len(CHUNKS)]
                piece = data[off:off + n]
                ext = ";ext=%d" % i if i % 5 == 3 else ""
                self.wfile.write(b"%x%s\r\n" % (len(piece), ext.encode()) + piece + b"\r\n")
                off += n
                i += 1
            self.wfile.write(b"0\r\nX-Trailer-Check: done\r\n\r\n")
        elif head == "close":
            data = self._file(arg)
            if data is None:
                return self._send(404, b"no such file\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
        elif head == "file":
            data = self._file(arg)
            if data is None:
                return self._send(404, b"no such file\n")
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and "," not in rng:
                a, _, b = rng[6:].partition("-")
                size = len(data)
                if a == "":
                    first, last = max(size - int(b), 0), size - 1
                else:
                    first, last = int(a), min(int(b), size - 1) if b else size - 1
                if first >= size:
                    return self._send(416, b"", extra=[("Content-Range", "bytes */%d" % size)])
                return self._send(206, data[first:last + 1], "application/octet-stream",
                                  extra=[("Content-Range", "bytes %d-%d/%d" % (first, last, size))])
            self._send(200, data, "application/octet-stream")
        elif head == "slow":
            data = self._file(arg)
            if data is None:
                return self._send(404, b"no such file\n")
            step = max(int(parts[2]) // 10, 1) if len(parts) > 2 else 10000
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            t0 = time.monotonic()
            for i, off in enumerate(range(0, len(data), step)):
                delay = t0 + i * 0.1 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.wfile.write(data[off:off + step])
                self.wfile.flush()
        elif head == "flaky":
            n = int(parts[2]) if len(parts) > 2 else 1
            FLAKY[arg] = FLAKY.get(arg, 0) + 1
            if FLAKY[arg] <= n:
                return self._send(503, b"busy\n", extra=[("Retry-After", "1")])
            self._send(200, b"ok\n")
        elif head == "redirect":
            n = int(arg or 0)
            if n <= 0:
                return self._send(200, b"redirect chain done\n")
            host = self.headers.get("Host", "")
            if n % 3 == 0:
                loc = "%d" % (n - 1)                           # relative to /redirect/
            elif n % 3 == 1:
                loc = "/redirect/%d" % (n - 1)                 # absolute path
            else:
                loc = "http://%s/redirect/%d" % (host, n - 1)  # absolute URL
            self._send(302, b"moved\n", extra=[("Location", loc)])
        elif head == "loop":
            self._send(302, b"again\n", extra=[("Location", "/loop")])
        elif head == "status":
            code = int(arg or 200)
            self._send(code, b"status %d\n" % code)
        elif head == "echo":
            self._send(200, body, "application/octet-stream",
                       extra=[("X-Method", self.command),
                              ("X-Got-Content-Type", self.headers.get("Content-Type", "-"))])
        elif head == "headers":
            self._send(200, str(self.headers).encode())
        elif head == "hang":
            time.sleep(60)
            self._drop()
        elif head == "reset":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"r" * 100000)
            self.wfile.flush()
            time.sleep(0.3)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self._drop()
        elif head == "short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self._drop()
        else:
            self._send(404, b"unknown fixture path\n")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        sys.stderr.write("connection from %s ended: %s\n" % (client_address, sys.exc_info()[1]))


def main():
    global ROOT
    if len(sys.argv) != 4:
        sys.exit("usage: http_fixture.py ADDR PORT DIR")
    ROOT = sys.argv[3]
    srv = Server((sys.argv[1], int(sys.argv[2])), Handler)
    sys.stderr.write("listening on %s:%s\n" % (sys.argv[1], sys.argv[2]))
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
