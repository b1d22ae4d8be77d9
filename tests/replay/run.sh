#!/usr/bin/env bash
# run.sh [NAME...] — the replay regression suite: every scenario directory
# of tests/replay/ (host.yaml, in.pcap, app.yaml, expected.pcap) is replayed
# with usreplay --expect --check-times; exit 0 is PASS. Then broken/ (a copy
# of one scenario with one wrong byte in its expected output) must make
# usreplay exit 1 and name the difference: that check passes when it does.
# Writes "pass fail skip" to $REPLAY_COUNTS when set. See README.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in
/*) bin=$BUILD/bin/usreplay ;;
*) bin=$(cd "$here/../.." && pwd)/$BUILD/bin/usreplay ;;
esac
pass=0 fail=0 skip=0

finish() {
	echo "replay: $pass passed, $fail failed, $skip skipped"
	[ -z "${REPLAY_COUNTS:-}" ] || echo "$pass $fail $skip" > "$REPLAY_COUNTS"
	[ $fail -eq 0 ]
	exit
}

if [ ! -x "$bin" ]; then
	echo "FAIL replay: $bin is missing (run make)"
	fail=1
	finish
fi

# replay DIR: run usreplay on one scenario; its output in $log, its exit code returned.
replay() {
	local d=$1
	timeout --kill-after=5 120 "$bin" -C "$d/host.yaml" --in "$d/in.pcap" \
		--script "$d/app.yaml" --expect "$d/expected.pcap" --check-times >"$log" 2>&1
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for d in "$here"/*/; do
		n=$(basename "$d")
		[ "$n" = gen ] || [ "$n" = broken ] || names+=("$n")
	done
fi
for n in "${names[@]}"; do
	d=$here/$n
	[ "$n" = broken ] && continue
	if [ ! -f "$d/expected.pcap" ] || [ ! -f "$d/in.pcap" ] || [ ! -f "$d/host.yaml" ] ||
	   [ ! -f "$d/app.yaml" ]; then
		fail=$((fail + 1)); echo "FAIL $n: missing host.yaml, in.pcap, app.yaml or expected.pcap"
		continue
	fi
	replay "$d"
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $n"
	else
		fail=$((fail + 1)); echo "FAIL $n (usreplay exit $rc):"
		sed 's/^/    /' "$log" | tail -n 30
	fi
done

# The suite must be able to fail: a one-byte difference is caught and named.
if [ $# -eq 0 ] || [[ " $* " == *" broken "* ]]; then
	replay "$here/broken"
	rc=$?
	if [ $rc -eq 1 ] && grep -q '^frame [0-9]*: ' "$log"; then
		pass=$((pass + 1))
		echo "PASS broken (usreplay detects the wrong byte: $(head -n 1 "$log"))"
	else
		fail=$((fail + 1))
		echo "FAIL broken: usreplay should exit 1 with a decoded difference, exit $rc:"
		sed 's/^/    /' "$log" | tail -n 30
	fi
fi
finish
