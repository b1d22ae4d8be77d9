#!/usr/bin/env bash
# usnc refuses bad port arguments and option combinations as the kernel's
# nc (netcat-openbsd 1.219) does: same message (after the program name),
# exit 1, before any stack or network is touched. Each case is one nc
# itself rejects before connecting; both still run in an empty network
# namespace of their own, so nothing could leave even if one did not.
. "$(dirname "$0")/../net/lib.sh"
need_root
need_cmd nc
[ -x "$BIN/usnc" ] || fail "no $BIN/usnc: build first"
ns=$(new_ns args)

same_as_nc() {
	ip netns exec "$ns" nc "$@" > "$TMP/ref" 2>&1; ref_rc=$?
	ip netns exec "$ns" "$BIN/usnc" "$@" > "$TMP/out" 2>&1; rc=$?
	sed -i 's/^nc: /usnc: /' "$TMP/ref"
	[ $ref_rc -eq 1 ] || fail "reference: nc $* exit $ref_rc, expected an argument error"
	[ $rc -eq $ref_rc ] || { cat "$TMP/out"; fail "usnc $*: exit $rc, nc $ref_rc"; }
	diff "$TMP/ref" "$TMP/out" > "$TMP/diff" || { cat "$TMP/diff"; fail "usnc $*: message differs from nc's (< nc, > usnc)"; }
	note "usnc $*: $(head -n1 "$TMP/out")"
}
same_as_nc -z 10.255.255.1 0
same_as_nc -z 10.255.255.1 70000
same_as_nc -z 10.255.255.1 nosuchservice
same_as_nc -z 10.255.255.1 7999-nosuchservice
same_as_nc -z 10.255.255.1
same_as_nc -k 10.255.255.1 80

# Listener forms nc refuses: a positional argument beside -p, -s with PORT.
for args in "-l 10.255.255.1 -p 7000" "-l -s 10.255.255.1 7000" "-l"; do
	ip netns exec "$ns" "$BIN/usnc" $args > "$TMP/out" 2>&1; rc=$?
	[ $rc -eq 1 ] && grep -q '^usage: usnc' "$TMP/out" || { cat "$TMP/out"; fail "usnc $args: exit $rc without the usage"; }
done
echo ok
