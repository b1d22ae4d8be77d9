#!/usr/bin/env bash
# Every configuration example in doc/examples/ (the files users copy)
# validates: ustackd --check-config accepts it and prints it back, and the
# printout validates again. (t_forward.sh runs router.yaml itself.)
# No network.
. "$(dirname "$0")/../net/lib.sh"
[ -x "$BIN/ustackd" ] || fail "no $BIN/ustackd: build first"
root=$(cd "$(dirname "$0")/../.." && pwd)
n=0
for f in "$root"/doc/examples/*.yaml; do
	"$BIN/ustackd" --check-config "$f" > "$TMP/dump.yaml" 2> "$TMP/err" ||
		{ cat "$TMP/err"; fail "$f does not validate"; }
	"$BIN/ustackd" --check-config "$TMP/dump.yaml" > /dev/null 2> "$TMP/err" ||
		{ cat "$TMP/err"; fail "the printout of $f does not validate"; }
	n=$((n + 1))
done
[ $n -ge 2 ] || fail "only $n examples in doc/examples"
grep -q 'forwarding: true' "$root/doc/examples/router.yaml" || fail "router.yaml is not a router"
grep -q 'dhcp4: true' "$root/doc/examples/dhcp-host.yaml" || fail "no DHCP example"
echo "ok: $n examples validate"
