#!/usr/bin/env bash
# libustack-preload.so exports only what it interposes (libc's socket,
# I/O, poll, epoll and resolver calls, plus swift_demangle in ASan builds,
# doc/PRELOAD.md): the stack inside it is hidden, so a program that has a
# function of its own named like one of ustack's internals (tcp_output,
# ring_read, cfg_parse_ipv4, ...) neither calls into the shim's by
# accident nor takes over the shim's calls. No network.
. "$(dirname "$0")/../net/lib.sh"
so=${BIN%/bin}/lib/libustack-preload.so
[ -f "$so" ] || fail "no $so: build first"
command -v nm > /dev/null || skip "nm (binutils) is missing"
nm -D --defined-only "$so" | awk '$2 ~ /^[TWiV]$/ { print $3 }' | sed 's/@.*//' | sort -u > "$TMP/exports"
n=$(wc -l < "$TMP/exports")
[ "$n" -ge 30 ] || fail "only $n symbols exported: the interposed calls are missing"
for f in socket connect accept4 recvmsg epoll_wait poll select getaddrinfo gethostbyname sendfile close; do
	grep -qx "$f" "$TMP/exports" || fail "$f is not exported"
done
# Everything exported must be a libc (or ASan) name, never ustack's own.
grep -E '^(us_|tcp_|tcb_|wire_|cfg_|ring_|pq_|ipv4_|preload_|real_)' "$TMP/exports" > "$TMP/leak"
if [ -s "$TMP/leak" ]; then
	echo "$(wc -l < "$TMP/leak") internal symbols exported, e.g.:"; head -5 "$TMP/leak"
	fail "the shim exports the stack's internals"
fi
echo "ok: $n symbols exported, all interposed calls"
