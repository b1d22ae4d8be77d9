#!/usr/bin/env bash
# libustack-preload.so under a program that mixes descriptors in one epoll
# set: a python3 asyncio echo server over the shim (epoll_create1,
# epoll_ctl ADD/MOD/DEL and epoll_wait over ustack sockets next to
# asyncio's own AF_UNIX self-pipe, non-blocking accept/recv/send) serves
# 300 concurrent kernel clients over TAP, each echoing 20 KB of its own
# random data. The server exists only on the stack's address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
here=$(cd "$(dirname "$0")" && pwd)
preload_setup preaio 43
cat > "$TMP/aecho.py" <<'PY'
import asyncio, selectors, sys

async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()

async def main():
    assert isinstance(asyncio.get_running_loop()._selector, selectors.EpollSelector)
    server = await asyncio.start_server(echo, "0.0.0.0", int(sys.argv[1]), backlog=512)
    print("serving", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY
shim_start "$TMP/server.log" /usr/bin/python3 "$TMP/aecho.py" 7000
spid=$LAST_PID
wait_for 15 "the asyncio server over the shim to start" grep -q serving "$TMP/server.log"

note "300 concurrent kernel clients, 20 KB each, echoed byte for byte"
ip netns exec "$ns" timeout 120 /usr/bin/python3 "$here/echo_clients.py" "$UADDR" 7000 300 20000 60 \
	> "$TMP/clients.out" 2>&1 || { tail -20 "$TMP/clients.out"; tail -20 "$TMP/server.log"; fail "echo clients failed"; }
kill -0 "$spid" 2>/dev/null || { cat "$TMP/server.log"; fail "the asyncio server over the shim died"; }
no_sanitizer_reports "$TMP/server.log"
echo ok
