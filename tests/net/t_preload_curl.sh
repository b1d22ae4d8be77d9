#!/usr/bin/env bash
# libustack-preload.so under unmodified kernel programs (doc/PRELOAD.md):
# the kernel's curl downloads 32 MB (issue 12) from a kernel python3 -m http.server over
# TAP through the shim (SHA-256 equal) and the server's log must show the
# request coming from the stack's address (not the kernel's); a connection
# to a closed port fails as curl's exit 7 (ECONNREFUSED through the shim);
# a name from the config's hosts: is resolved by the stack (getaddrinfo, and
# gethostbyname_r from python3's gethostbyname_ex, and gethostbyname, are
# intercepted) and an unknown one is curl's exit 6; wget downloads the
# same file through the shim (SHA-256 equal).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/preload_lib.sh"
need_cmd sha256sum ss curl
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
preload_setup pre 40

mkdir -p "$TMP/www"
head -c 33554432 /dev/urandom > "$TMP/www/big.bin"
start "$ns" "$TMP/httpserver.log" /usr/bin/python3 -m http.server --bind 10.9.40.1 \
	--directory "$TMP/www" 8000
wait_for 10 "python3 -m http.server to listen on :8000" \
	sh -c "ip netns exec $ns ss -tln | grep -q '10.9.40.1:8000'"

note "curl downloads 32 MB through the shim: SHA-256 equal, seen from 10.9.40.2"
shim curl -sS -o "$TMP/big.bin" -w '%{http_code} %{size_download}\n' \
	http://10.9.40.1:8000/big.bin > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err"; fail "curl exit $?"; }
[ "$(cat "$TMP/out")" = "200 33554432" ] || fail "curl -w says '$(cat "$TMP/out")'"
[ "$(sha "$TMP/big.bin")" = "$(sha "$TMP/www/big.bin")" ] ||
	fail "downloaded $(wc -c < "$TMP/big.bin") bytes with another SHA-256"
grep -q '^10\.9\.40\.2 .*"GET /big.bin' "$TMP/httpserver.log" ||
	{ cat "$TMP/httpserver.log"; fail "the server did not see the GET from the stack's 10.9.40.2"; }

if command -v wget >/dev/null; then
	note "wget downloads the same file through the shim: SHA-256 equal"
	shim wget -q -O "$TMP/wget.bin" http://10.9.40.1:8000/big.bin 2> "$TMP/err" ||
		{ cat "$TMP/err"; fail "wget over the shim failed"; }
	[ "$(sha "$TMP/wget.bin")" = "$(sha "$TMP/www/big.bin")" ] ||
		fail "wget: $(wc -c < "$TMP/wget.bin") bytes with another SHA-256"
	[ "$(grep -c '^10\.9\.40\.2 .*"GET /big.bin' "$TMP/httpserver.log")" -ge 2 ] ||
		fail "the server saw no second GET from the stack's address (wget's)"
else
	note "wget is not installed: its check is skipped"
fi

note "without USTACK_CONFIG an AF_INET socket fails loudly instead of using the kernel"
ip netns exec "$ns" timeout 20 env LD_PRELOAD="$SHIM_PRELOAD" curl -sS -o /dev/null \
	http://10.9.40.1:8000/big.bin 2> "$TMP/err"
rc=$?
[ $rc -ne 0 ] || fail "curl without USTACK_CONFIG succeeded (through the kernel?)"
grep -q 'USTACK_CONFIG is not set' "$TMP/err" || { cat "$TMP/err"; fail "no message about USTACK_CONFIG"; }

note "a closed port: curl exit 7 (connection refused through the shim)"
shim curl -sS -o /dev/null http://10.9.40.1:7999/ 2> "$TMP/err"
rc=$?
[ $rc -eq 7 ] || { cat "$TMP/err"; fail "curl to a closed port: exit $rc, expected 7"; }
note "names from the config's hosts: go through the stack's resolver (getaddrinfo)"
cat >> "$TMP/host.yaml" <<YAML
hosts:
  web.test: 10.9.40.1
YAML
USTACK_DEBUG=1 shim curl -sS -o "$TMP/byname.bin" http://web.test:8000/big.bin 2> "$TMP/err" ||
	{ cat "$TMP/err"; fail "curl by a hosts: name exit $?"; }
cmp -s "$TMP/byname.bin" "$TMP/www/big.bin" || fail "the download by name differs"
grep -q 'ustack-preload\[[0-9]*\]: getaddrinfo(web.test) = 0' "$TMP/err" ||
	{ cat "$TMP/err"; fail "getaddrinfo(web.test) was not answered by the stack"; }
note "gethostbyname and gethostbyname_r are answered by the stack's resolver too"
USTACK_DEBUG=1 shim /usr/bin/python3 -c '
import ctypes, socket
print(socket.gethostbyname_ex("web.test"))
libc = ctypes.CDLL(None)  # the process symbols: the shim first
libc.gethostbyname.restype = ctypes.c_void_p
libc.__h_errno_location.restype = ctypes.POINTER(ctypes.c_int)
r = libc.gethostbyname(b"nosuch.test")
print("found" if r else "h_errno %d" % libc.__h_errno_location()[0])' > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err"; fail "python3 gethostbyname_ex exit $?"; }
[ "$(sed -n 1p "$TMP/out")" = "('web.test', [], ['10.9.40.1'])" ] ||
	{ cat "$TMP/out" "$TMP/err"; fail "gethostbyname_ex(web.test) gave '$(sed -n 1p "$TMP/out")'"; }
[ "$(sed -n 2p "$TMP/out")" = "h_errno 1" ] ||
	{ cat "$TMP/out" "$TMP/err"; fail "gethostbyname_ex(nosuch.test): '$(sed -n 2p "$TMP/out")', not HOST_NOT_FOUND (1)"; }
grep -q 'ustack-preload\[[0-9]*\]: gethostbyname(web.test) = 0' "$TMP/err" ||
	{ cat "$TMP/err"; fail "gethostbyname(web.test) was not answered by the stack"; }
shim curl -sS -o /dev/null http://nosuch.test:8000/ 2> "$TMP/err"
rc=$?
[ $rc -eq 6 ] || { cat "$TMP/err"; fail "a name in neither hosts: nor DNS: curl exit $rc, expected 6"; }
echo ok
