#!/usr/bin/env bash
# run_all.sh — what `make test` runs: the CUnit suites, the replay corpus
# (when present), then the network tests; ends with one line
# "N passed, N failed, N skipped" over all of them.
set -u
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0 skip=0

echo "=== unit tests (CUnit) ==="
US_TEST_COUNTS="$tmp/unit" "$BUILD/tests/unit_tests"
unit_rc=$?
if [ -s "$tmp/unit" ]; then
	read -r up uf < "$tmp/unit"
	pass=$((pass + up)); fail=$((fail + uf))
	# A crash or a failed setup with no failed test still fails the run.
	if [ $unit_rc -ne 0 ] && [ "$uf" -eq 0 ]; then fail=$((fail + 1)); fi
else
	echo "unit tests did not report their counts (exit $unit_rc)"
	fail=$((fail + 1))
fi

echo
echo "=== replay tests (pcap in, deterministic stack, expected pcap) ==="
REPLAY_COUNTS="$tmp/replay" BUILD="$BUILD" bash "$here/replay/run.sh"
if [ -s "$tmp/replay" ]; then
	read -r rp rf rs < "$tmp/replay"
	pass=$((pass + rp)); fail=$((fail + rf)); skip=$((skip + rs))
else
	echo "replay tests did not report their counts"
	fail=$((fail + 1))
fi

echo
echo "=== command-line tests (make's order, the tools' options; no network) ==="
NET_COUNTS="$tmp/cli" RUN_LABEL=command-line BUILD="$BUILD" bash "$here/net/run.sh" "$here"/cli/t_*.sh
if [ -s "$tmp/cli" ]; then
	read -r cp cf cs < "$tmp/cli"
	pass=$((pass + cp)); fail=$((fail + cf)); skip=$((skip + cs))
else
	echo "command-line tests did not report their counts"
	fail=$((fail + 1))
fi

echo
echo "=== stress suite (threads, thousands of connections, blocked calls vs close/stop) ==="
if [ -x "$BUILD/tests/stress" ]; then
	if "$BUILD/tests/stress"; then
		pass=$((pass + 1))
	else
		echo "stress suite FAILED"
		fail=$((fail + 1))
	fi
else
	echo "stress suite not built ($BUILD/tests/stress)"
	fail=$((fail + 1))
fi

echo
echo "=== network tests (namespaces, TAP, pcap, kernel peers) ==="
NET_COUNTS="$tmp/net" BUILD="$BUILD" bash "$here/net/run.sh"
if [ -s "$tmp/net" ]; then
	read -r np nf ns < "$tmp/net"
	pass=$((pass + np)); fail=$((fail + nf)); skip=$((skip + ns))
else
	echo "network tests did not report their counts"
	fail=$((fail + 1))
fi

echo
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
