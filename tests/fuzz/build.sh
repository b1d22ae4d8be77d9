#!/usr/bin/env bash
# build.sh — build the libFuzzer harnesses (and, on request, run them).
#
#   tests/fuzz/build.sh                 build every harness into $BUILD/fuzz/
#   tests/fuzz/build.sh --run SECONDS [NAME...]
#                                       build, then run each (or the NAMEd
#                                       ones, e.g. fuzz_stack) for SECONDS
#
# Each harness is built with clang -fsanitize=fuzzer,address,undefined
# against only the sources it tests (fuzz_wire: the core/wire files for
# Ethernet, ARP, IPv4, ICMP, UDP, checksums and describe; fuzz_dhcp: core/wire/dhcp.c), so it does not
# depend on the rest of the library, or on other parsers, building;
# fuzz_stack is the whole library. Without clang, or without
# its libFuzzer runtime, this prints SKIPPED with the reason and exits 0.
#
# A run writes new inputs to $BUILD/fuzz/corpus_<name>/ (the committed seeds
# in tests/fuzz/corpus_<name>/ are only read) and crash reproducers to
# $BUILD/fuzz/artifacts/. Exit status is non-zero if a run finds a crash.
#
# Environment: BUILD (default build), CLANG (default clang), FUZZ_JOBS
# (parallel fuzzing jobs per harness, default 1).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLANG=${CLANG:-clang}
OUT=$BUILD/fuzz
RUN_SECONDS=
RUN_NAMES=()

case "${1:-}" in
--run)
	RUN_SECONDS=${2:?usage: $0 [--run SECONDS [NAME...]]}
	[[ $RUN_SECONDS =~ ^[0-9]+$ ]] || { echo "fuzz: --run wants whole seconds" >&2; exit 2; }
	RUN_NAMES=("${@:3}")
	;;
"") ;;
*)	echo "usage: $0 [--run SECONDS [NAME...]]" >&2; exit 2 ;;
esac

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: SKIPPED: $CLANG not found (Debian: apt-get install -y clang)"
	exit 0
fi

mkdir -p "$OUT/artifacts"

# Does this clang have the libFuzzer and sanitizer runtimes?
probe=$OUT/.probe
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	>"$probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$probe" "$probe.c" >"$probe.log" 2>&1; then
	echo "fuzz: SKIPPED: $CLANG cannot link -fsanitize=fuzzer,address,undefined:"
	sed 's/^/    /' "$probe.log" | head -5
	rm -f "$probe" "$probe.c" "$probe.log"
	exit 0
fi
rm -f "$probe" "$probe.c" "$probe.log"

CFLAGS_FUZZ=(-std=c11 -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-Wall -Wextra -Werror -Wno-unused-parameter
	-D_GNU_SOURCE -Icore/include -Icore -I.)

# build_one NAME SOURCE...: tests/fuzz/NAME.c plus the sources under test.
build_one() {
	local name=$1
	shift
	echo "  FUZZ    $OUT/$name"
	"$CLANG" "${CFLAGS_FUZZ[@]}" -o "$OUT/$name" "tests/fuzz/$name.c" "$@"
}

HARNESSES=(fuzz_wire fuzz_dns fuzz_dhcp fuzz_stack)
build_one fuzz_wire core/wire/{checksum,eth,ipv4,describe}.c
build_one fuzz_dns core/wire/dns.c
build_one fuzz_dhcp core/wire/dhcp.c
# fuzz_stack.cov_ignore: table-wide loops every input runs, not traced.
build_one fuzz_stack -fsanitize-coverage-ignorelist=tests/fuzz/fuzz_stack.cov_ignore \
	core/*.c core/wire/*.c backends/*.c config/*.c -lpcap -lyaml -lpthread

[[ -n $RUN_SECONDS ]] || exit 0
[[ ${#RUN_NAMES[@]} -gt 0 ]] || RUN_NAMES=("${HARNESSES[@]}")

status=0
for name in "${RUN_NAMES[@]}"; do
	[[ -x $OUT/$name ]] || { echo "fuzz: no harness $name (have: ${HARNESSES[*]})" >&2; exit 2; }
	seeds=tests/fuzz/corpus_${name#fuzz_}
	work=$OUT/corpus_${name#fuzz_}
	mkdir -p "$work"
	# -timeout: an input running 10 s is a hang (fuzz_stack's take milliseconds).
	opts=(-max_total_time="$RUN_SECONDS" -artifact_prefix="$OUT/artifacts/$name-"
		-print_final_stats=1 -timeout=10)
	[[ -f tests/fuzz/$name.dict ]] && opts+=(-dict="tests/fuzz/$name.dict")
	# -jobs makes libFuzzer log to fuzz-N.log in the current directory.
	[[ ${FUZZ_JOBS:-1} -gt 1 ]] && opts+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
	echo "fuzz: running $name for ${RUN_SECONDS}s (corpus $work, seeds $seeds)"
	if ! "$OUT/$name" "${opts[@]}" "$work" "$seeds"; then
		echo "fuzz: $name FAILED: reproducer(s) in $OUT/artifacts/" >&2
		status=1
	fi
done
exit $status
