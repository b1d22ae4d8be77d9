#!/usr/bin/env bash
# t_install.sh — the library is usable as installed (issue 9): `make
# install` into a scratch DESTDIR gives a versioned shared library
# (soname libustack.so.0), headers, a pkg-config file, and man pages
# ustack.yaml(5), ustack(3) and one section-3 name per socket call; a
# program built with pkg-config's flags against the installed copy records
# libustack.so.0 and runs. No network is touched: the program uses the
# in-process loopback backend.
. "$(dirname "$0")/lib.sh"
command -v pkg-config >/dev/null || skip "pkg-config missing (make deps installs it)"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D="$TMP/inst"
make -C "$ROOT" --no-print-directory BUILD="$BUILD_ABS" install PREFIX=/usr DESTDIR="$D" \
	>"$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "make install failed"; }
L="$D/usr/lib"
[ -f "$L/libustack.so.0.2.0" ] || fail "no versioned library in $L"
[ "$(readlink "$L/libustack.so.0")" = libustack.so.0.2.0 ] || fail "libustack.so.0 link wrong"
[ "$(readlink "$L/libustack.so")" = libustack.so.0 ] || fail "libustack.so link wrong"
readelf -d "$L/libustack.so.0.2.0" | grep -q 'SONAME.*\[libustack.so.0\]' ||
	fail "soname is not libustack.so.0"

export PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_LIBDIR="$L/pkgconfig"
flags=$(pkg-config --cflags --libs ustack) || fail "pkg-config ustack failed"
cat > "$TMP/p.c" <<'C'
#include <stdio.h>
#include <ustack/ustack.h>
int main(void)
{
	static const char y[] = "interfaces:\n  lo0: {backend: loopback, addresses: [10.9.0.1/24]}\n";
	struct us_config cfg;
	char err[256];
	if (us_config_load_string("p.yaml", y, sizeof y - 1, &cfg, err, sizeof err) < 0) {
		puts(err);
		return 1;
	}
	us_stack *st = us_stack_new(&cfg, 0, err, sizeof err);
	if (!st) {
		puts(err);
		return 1;
	}
	int fd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	int rc = fd >= 0 && us_close(st, fd) == 0 ? 0 : 1;
	us_stack_free(st);
	puts(rc ? "socket failed" : "installed library works");
	return rc;
}
C
# A sanitizer build's library needs its runtime in the program too.
san=
readelf -d "$L/libustack.so.0.2.0" | grep -q 'NEEDED.*libasan' && san="$san -fsanitize=address"
readelf -d "$L/libustack.so.0.2.0" | grep -q 'NEEDED.*libubsan' && san="$san -fsanitize=undefined"
readelf -d "$L/libustack.so.0.2.0" | grep -q 'NEEDED.*libtsan' && san="$san -fsanitize=thread"
cc $san -o "$TMP/p" "$TMP/p.c" $flags || fail "cannot build against the installed library"
readelf -d "$TMP/p" | grep -q 'NEEDED.*\[libustack.so.0\]' || fail "program does not record libustack.so.0"
out=$(LD_LIBRARY_PATH="$L" "$TMP/p") || fail "program failed: $out"
[ "$out" = "installed library works" ] || fail "unexpected output: $out"

# The LD_PRELOAD shim (doc/PRELOAD.md) is installed beside the library.
[ -f "$L/libustack-preload.so" ] || fail "libustack-preload.so not installed in $L"
nm -D --defined-only "$L/libustack-preload.so" | grep -q ' T socket$' ||
	fail "libustack-preload.so does not define socket()"
M="$D/usr/share/man"
for p in man5/ustack.yaml.5 man3/ustack.3 man3/us_connect.3 man3/us_poll.3 man1/usnc.1 man8/ustackd.8 man8/libustack-preload.8; do
	[ -f "$M/$p" ] || fail "man page $p not installed"
done
# The pages render without groff warnings and carry the docs' sections.
w=$(MANWIDTH=80 man --warnings -l "$M/man5/ustack.yaml.5" 2>&1 >"$TMP/yaml.txt")
[ -z "$w" ] || fail "ustack.yaml(5) warnings: $w"
for s in INTERFACES: ROUTES: NAMESERVERS: TCP: SERVICES: "ERROR MESSAGES"; do
	grep -q "^${s%:}" "$TMP/yaml.txt" || grep -q "^$s" "$TMP/yaml.txt" ||
		fail "ustack.yaml(5) lacks section $s"
done
MANWIDTH=80 man -l "$M/man3/ustack.3" >"$TMP/api.txt" 2>/dev/null || fail "ustack(3) does not render"
grep -q "us_connect" "$TMP/api.txt" || fail "ustack(3) does not describe us_connect"
(cd "$M" && MANWIDTH=80 man -l man3/us_connect.3) 2>/dev/null | grep -q "CONVENTIONS" ||
	fail "us_connect(3) does not lead to ustack(3)"
echo "PASS: installed library (soname libustack.so.0), pkg-config and man pages work"
