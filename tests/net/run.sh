#!/usr/bin/env bash
# run.sh [TEST...] — run the network tests (tests/net/t_*.sh), each in its
# own process with its own namespaces. A test exits 0 (pass), 77 (skipped:
# it printed why) or anything else (fail). Writes "pass fail skip" to
# $NET_COUNTS when set. tests/cli/ uses it too (RUN_LABEL names the set).
set -u
here=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}
export BUILD_ABS=$(cd "$BUILD" 2>/dev/null && pwd)
pass=0 fail=0 skip=0
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$here"/t_*.sh)
for t in "${tests[@]}"; do
	[ -f "$t" ] || t="$here/$t"
	name=$(basename "$t" .sh)
	log=$(mktemp)
	start=$(date +%s)
	# Each test has a hard limit; it cleans up after itself via its trap.
	timeout --kill-after=10 300 bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIPPED $name: $(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: *//')"
	else
		fail=$((fail + 1)); echo "FAIL $name (exit $rc, ${secs}s); its output:"
		sed 's/^/    /' "$log" | tail -n 60
	fi
	rm -f "$log"
done
echo "${RUN_LABEL:-network}: $pass passed, $fail failed, $skip skipped"
[ -z "${NET_COUNTS:-}" ] || echo "$pass $fail $skip" > "$NET_COUNTS"
[ $fail -eq 0 ]
