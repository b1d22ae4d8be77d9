#!/usr/bin/env bash
# libustack-preload.so under nginx (doc/PRELOAD.md), kernel clients over TAP:
#  - nginx with `master_process off; daemon off;` (one process, epoll,
#    accept4, sendfile, writev) serves an 8 MB file to the kernel's curl:
#    status 200 and the SHA-256 equal; a HEAD gives its Content-Length;
#  - wrk (kernel, 50 connections, 2 s) fetches a 64 KiB file: at least 100
#    responses, no socket errors (connect, read, write, timeout), no non-2xx;
#    nginx logs no alert/crit/emerg line meanwhile;
#  - nginx with its usual master and worker processes: the worker, forked
#    after the listening socket was made in the master, cannot use the
#    master's stack: the shim says so on stderr at start-up, the worker's
#    epoll_ctl fails (ENOTSOCK), nginx reports the worker's fatal exit and
#    does not respawn it (rather than a worker waiting on a silent eventfd).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd nginx curl wrk
preload_setup prengx 46
mkdir -p "$TMP/www" "$TMP/ngx"
head -c 8000000 /dev/urandom > "$TMP/www/big.bin"
head -c 65536 /dev/urandom > "$TMP/www/64k.bin"
want=$(sha "$TMP/www/big.bin")

# ngx_conf MASTER PORT — an nginx.conf in $TMP/ngx-MASTER.conf, files from $TMP/www.
ngx_conf() {
	cat > "$TMP/ngx-$1.conf" <<CONF
master_process $1;
daemon off;
worker_processes 1;
error_log stderr notice;
pid $TMP/ngx/nginx-$1.pid;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/ngx/body; proxy_temp_path $TMP/ngx/proxy;
	fastcgi_temp_path $TMP/ngx/fcgi; uwsgi_temp_path $TMP/ngx/uwsgi; scgi_temp_path $TMP/ngx/scgi;
	sendfile on;
	server { listen $UADDR:$2; root $TMP/www; }
}
CONF
}

note "nginx (master_process off) over the shim serves 8 MB to the kernel's curl"
ngx_conf off 8080
shim_start "$TMP/ngx-off.log" nginx -c "$TMP/ngx-off.conf" -p "$TMP/ngx" -e stderr
npid=$LAST_PID
wait_for 10 "the stack (started by nginx over the shim) to answer ping" \
	ip netns exec "$ns" ping -c1 -W1 "$UADDR"
code=
for _ in $(seq 20); do
	code=$(ip netns exec "$ns" curl -s -m 20 -o "$TMP/got.bin" -w '%{http_code}' "http://$UADDR:8080/big.bin")
	[ "$code" = 200 ] && break
	sleep 0.5
done
[ "$code" = 200 ] || { cat "$TMP/ngx-off.log"; fail "curl from nginx over the shim: status '$code'"; }
[ "$(sha "$TMP/got.bin")" = "$want" ] ||
	fail "curl got $(wc -c < "$TMP/got.bin") bytes with another SHA-256"
len=$(ip netns exec "$ns" curl -sI -m 10 "http://$UADDR:8080/big.bin" | tr -d '\r' |
	awk -F': ' 'tolower($1) == "content-length" { print $2 }')
[ "$len" = 8000000 ] || fail "HEAD: Content-Length '$len', not 8000000"

note "wrk (kernel, 50 connections, 2 s) against nginx over the shim"
ip netns exec "$ns" timeout 30 wrk -t2 -c50 -d2s "http://$UADDR:8080/64k.bin" > "$TMP/wrk.out" 2>&1 ||
	{ cat "$TMP/wrk.out"; fail "wrk exit $?"; }
cat "$TMP/wrk.out"
n=$(awk '/requests in/ { print $1 }' "$TMP/wrk.out")
[ -n "$n" ] && [ "$n" -ge 100 ] || fail "wrk: '$n' responses in 2 s, fewer than 100"
grep -q "Socket errors" "$TMP/wrk.out" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$TMP/wrk.out" && fail "wrk saw non-2xx responses"
kill -0 "$npid" 2>/dev/null || { cat "$TMP/ngx-off.log"; fail "nginx over the shim exited"; }
grep -E '\[(alert|crit|emerg)\]' "$TMP/ngx-off.log" && fail "nginx logged the lines above"
kill -TERM "$npid"

note "nginx with master and worker processes: a clear error at start-up"
ngx_conf on 8081
shim_start "$TMP/ngx-on.log" nginx -c "$TMP/ngx-on.conf" -p "$TMP/ngx" -e stderr
wait_for 10 "nginx to report its worker's fatal exit" \
	grep -q "exited with fatal code 2 and cannot be respawned" "$TMP/ngx-on.log"
grep -q "libustack-preload: epoll_ctl(.*a child after fork() cannot use the parent's stack" \
	"$TMP/ngx-on.log" || { cat "$TMP/ngx-on.log"; fail "no message from the shim in the worker"; }
grep -q "failed (88: Socket operation on non-socket)" "$TMP/ngx-on.log" ||
	{ cat "$TMP/ngx-on.log"; fail "the worker's epoll_ctl did not fail with ENOTSOCK"; }
echo ok
