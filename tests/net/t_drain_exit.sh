#!/usr/bin/env bash
# t_drain_exit.sh — the library does not lose data at exit (issue 9): a
# program does what the README's example does (us_connect, us_send of
# 2,000,000 bytes, us_close, us_stack_free) over TAP to the kernel's nc,
# which reads slowly: its namespace has small TCP receive buffers and nc
# writes into a pipe that is read only after 2 s. us_stack_free must let
# the closed connection deliver everything and its FIN (nc then ends on
# its own), within stack.drain_timeout_ms. Before, the program's threads
# stopped at once: nc got about 1.7 MB and never the end of the stream.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc sha256sum cc
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB=${BUILD_ABS:-$ROOT/build}/lib/libustack.a
[ -f "$LIB" ] || fail "no $LIB (build first)"
case "$(basename "${BUILD_ABS:-build}")" in
build-thread) SAN=-fsanitize=thread ;;
build-*address*) SAN="-fsanitize=address,undefined" ;;
*) SAN= ;;
esac

cat > "$TMP/exit.c" <<'C'
/* The README's example with more data: connect, send stdin, close, free. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ustack/ustack.h>
int main(int argc, char **argv)
{
	static char buf[4 << 20];
	size_t n = fread(buf, 1, sizeof buf, stdin);
	struct us_config cfg;
	char err[256];
	if (us_config_load(argv[1], &cfg, err, sizeof err) < 0) {
		puts(err);
		return 1;
	}
	us_stack *st = us_stack_new(&cfg, 0, err, sizeof err);
	if (!st || us_stack_start(st) < 0) {
		puts(st ? "start failed" : err);
		return 1;
	}
	int fd = us_socket(st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
	inet_pton(AF_INET, argv[2], &a.sin_addr);
	if (us_connect(st, fd, (struct sockaddr *)&a, sizeof a) != 0) {
		perror("us_connect");
		return 1;
	}
	if (us_send(st, fd, buf, n, 0) != (ssize_t)n) {
		perror("us_send");
		return 1;
	}
	us_close(st, fd);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	us_stack_free(st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sent %zu bytes; us_stack_free took %ld ms\n", n,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return 0;
}
C
cc $SAN -I"$ROOT/core/include" -o "$TMP/exit" "$TMP/exit.c" "$LIB" -lpcap -lyaml -lpthread -lm ||
	fail "cannot build the example against $LIB"

ns=$(new_ns drain)
tap_up "$ns" tap0 10.9.12.1/24
# A slow reader: small receive buffers (per namespace), so its window closes.
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 16384 32768" ||
	fail "cannot set tcp_rmem in the namespace"
cat > "$TMP/s.yaml" <<Y
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [10.9.12.2/24]}
Y
head -c 2000000 /dev/urandom > "$TMP/data"
want=$(sha256sum < "$TMP/data" | cut -d' ' -f1)

start "$ns" "$TMP/nc.log" sh -c "nc -l -p 7400 < /dev/null | { sleep 2; exec cat; } > '$TMP/got'"
k=$LAST_PID
wait_for 5 "nc to listen" sh -c "ip netns exec $ns ss -tln | grep -q ':7400'"
ip netns exec "$ns" timeout 60 "$TMP/exit" "$TMP/s.yaml" 10.9.12.1 7400 < "$TMP/data" \
	> "$TMP/exit.log" 2>&1 || { cat "$TMP/exit.log"; fail "the example failed"; }
cat "$TMP/exit.log"
# nc ends by itself once the FIN came: bounded wait for it.
for _ in $(seq 100); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done
kill -0 "$k" 2>/dev/null && fail "nc still waits 10 s after the program ended: no FIN ($(wc -c < "$TMP/got") bytes)"
wait "$k" || fail "nc exit $?"
got=$(sha256sum < "$TMP/got" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "nc received $(wc -c < "$TMP/got") of 2000000 bytes (or other bytes)"
echo "ok: 2000000 bytes and the FIN reached a slow reader after us_stack_free"
