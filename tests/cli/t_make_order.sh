#!/usr/bin/env bash
# The README's `make demo` and `make test` must work on a fresh Debian
# machine: the package install (tools/deps.sh) has to come before the
# first compile, whatever -j says (a fresh machine has no pcap/pcap.h).
# `make -n` against an empty build directory lists every command in the
# order make would run it; the install must be listed before the first cc.
. "$(dirname "$0")/../net/lib.sh"
need_cmd make
root=$(cd "$(dirname "$0")/../.." && pwd)

for target in demo test; do
	for jobs in "" -j2 -j8; do
		# A make that runs us (make test) exports its flags: start clean.
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
			make -C "$root" --no-print-directory -n $jobs "$target" BUILD="$TMP/fresh" \
			> "$TMP/plan" 2>&1 || { cat "$TMP/plan"; fail "make -n $jobs $target failed"; }
		install=$(grep -n 'tools/deps\.sh' "$TMP/plan" | head -n1 | cut -d: -f1)
		compile=$(grep -n -E ' -c [^ ]+\.c -o ' "$TMP/plan" | head -n1 | cut -d: -f1)
		[ -n "$install" ] || fail "make -n $jobs $target lists no install step (tools/deps.sh)"
		[ -n "$compile" ] || fail "make -n $jobs $target lists no compile (was $TMP/fresh not empty?)"
		[ "$install" -lt "$compile" ] ||
			fail "make -n $jobs $target: first compile on line $compile, install on line $install"
		note "make -n $jobs $target: install on line $install, first compile on line $compile"
	done
done
echo ok
