/*
 * usping — ICMP echo over ustack, with the output and exit status of
 * iputils ping: a line per reply, a summary with loss and rtt, exit 0 if
 * any reply came, 1 if none, 2 on error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "tools/common/cli.h"

#define MAX_TRACKED 65536   /* sequence numbers whose send time we keep */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usping [options] [-c COUNT] [-i INTERVAL] [-s SIZE] [-W TIMEOUT] [-t TTL] HOST\n"
		"  -c COUNT             stop after COUNT replies sent (default: until interrupted)\n"
		"  -i INTERVAL          seconds between requests (default 1, at least 0.01)\n"
		"  -s SIZE              data bytes per request (default 56; above the MTU they are fragmented)\n"
		"  -W TIMEOUT           seconds to wait for replies after the last request (default 10)\n"
		"  -t TTL               IP time to live (default 64)\n"
		CLI_USAGE_COMMON
		"  -h, --help           this help\n");
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static const char *error_text(const struct us_echo_reply *r)
{
	if (r->icmp_type == 11)
		return "Time to live exceeded";
	switch (r->icmp_code) {
	case 0:
		return "Destination Net Unreachable";
	case 1:
		return "Destination Host Unreachable";
	case 2:
		return "Destination Protocol Unreachable";
	case 3:
		return "Destination Port Unreachable";
	case 4:
		return "Frag needed";
	default:
		return "Destination Unreachable";
	}
}

int main(int argc, char **argv)
{
	struct us_cli cli;
	us_cli_init(&cli, "usping");
	static const struct option longopts[] = {
		CLI_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long count = -1;
	double interval = 1.0, linger = 10.0, v;
	size_t size = 56;
	int ttl = 64;
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "c:i:s:W:t:h", longopts, NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'c':
			if (parse_num(optarg, 1, 1e9, &v) < 0 || v != floor(v)) {
				fprintf(stderr, "usping: invalid count: '%s'\n", optarg);
				return 2;
			}
			count = (long)v;
			break;
		case 'i':
			if (parse_num(optarg, 0.01, 3600, &interval) < 0) {
				fprintf(stderr, "usping: invalid interval: '%s' (0.01..3600)\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (parse_num(optarg, 0, 65507, &v) < 0 || v != floor(v)) {
				fprintf(stderr, "usping: invalid size: '%s' (0..65507)\n", optarg);
				return 2;
			}
			size = (size_t)v;
			break;
		case 'W':
			if (parse_num(optarg, 0, 3600, &linger) < 0) {
				fprintf(stderr, "usping: invalid timeout: '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_num(optarg, 1, 255, &v) < 0 || v != floor(v)) {
				fprintf(stderr, "usping: invalid ttl: '%s' (1..255)\n", optarg);
				return 2;
			}
			ttl = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *host = argv[optind];
	struct in_addr dst;
	if (us_cli_finish(&cli) < 0)
		return 2;

	us_cli_block_signals();
	us_stack *st = us_cli_start(&cli);
	if (!st)
		return 2;
	/* Names go through the stack's own resolver (hosts:, then DNS). */
	if (inet_pton(AF_INET, host, &dst) != 1) {
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
		struct addrinfo *res;
		int gai = us_getaddrinfo(st, host, NULL, &hints, &res);
		if (gai != 0) {
			fprintf(stderr, "usping: %s: %s\n", host, us_gai_strerror(gai));
			us_stack_free(st);
			return 2;
		}
		dst = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		us_freeaddrinfo(res);
	}
	char dstr[16];
	inet_ntop(AF_INET, &dst, dstr, sizeof dstr);
	uint16_t id;
	int h = us_ping_open(st, &id);
	if (h < 0) {
		fprintf(stderr, "usping: %s\n", strerror(errno));
		us_stack_free(st);
		return 2;
	}
	uint8_t *payload = malloc(size ? size : 1);
	uint8_t *rbuf = malloc(65536);
	uint64_t *sent_at = calloc(MAX_TRACKED, sizeof *sent_at);
	if (!payload || !rbuf || !sent_at) {
		fprintf(stderr, "usping: out of memory\n");
		return 2;
	}
	for (size_t i = 0; i < size; i++)
		payload[i] = (uint8_t)(i + 8);

	printf("PING %s (%s) %zu(%zu) bytes of data.\n", host, dstr, size, size + 28);
	fflush(stdout);

	long transmitted = 0, received = 0, errors = 0, dups = 0;
	double tmin = 1e18, tmax = 0, tsum = 0, tsum2 = 0;
	uint64_t start = us_monotonic_ns(), next_send = start, last_send = start;
	uint64_t ival_ns = (uint64_t)(interval * 1e9);
	uint8_t *seen = calloc(MAX_TRACKED / 8, 1);
	int rc = 0;
	bool stop = false;
	while (!stop) {
		uint64_t now = us_monotonic_ns();
		bool more = count < 0 || transmitted < count;
		if (more && now >= next_send) {
			uint16_t seq = (uint16_t)(transmitted + 1);
			sent_at[seq] = now;
			seen[seq / 8] &= (uint8_t)~(1u << (seq % 8));
			if (us_ping_send(st, h, dst, seq, (uint8_t)ttl, payload, size) < 0) {
				if (errno == EMSGSIZE || errno == ENETUNREACH) {
					printf("usping: sendmsg: %s\n", strerror(errno));
					errors++;
				} else {
					fprintf(stderr, "usping: send: %s\n", strerror(errno));
				}
			}
			transmitted++;
			last_send = now;
			next_send += ival_ns;
			continue;
		}
		if (!more && (received + errors >= transmitted ||
			      now >= last_send + (uint64_t)(linger * 1e9)))
			break;
		uint64_t until = more ? next_send : last_send + (uint64_t)(linger * 1e9);
		int wait_ms = until > now ? (int)((until - now + 999999) / 1000000) : 0;
		if (wait_ms > 100)
			wait_ms = 100;          /* look at signals at least 10 times a second */
		struct us_echo_reply rep;
		if (us_ping_recv(st, h, &rep, rbuf, 65536, wait_ms) == 0) {
			char from[16];
			inet_ntop(AF_INET, &rep.from, from, sizeof from);
			if (rep.error) {
				printf("From %s icmp_seq=%u %s\n", from, rep.seq, error_text(&rep));
				errors++;
			} else {
				bool dup = seen[rep.seq / 8] & (1u << (rep.seq % 8));
				double ms = (double)(rep.recv_ns - sent_at[rep.seq]) / 1e6;
				if (sent_at[rep.seq] == 0 || rep.recv_ns < sent_at[rep.seq])
					ms = 0;
				bool bad = rep.len != size || memcmp(rbuf, payload, size) != 0;
				if (dup) {
					dups++;
				} else {
					received++;
					seen[rep.seq / 8] |= (uint8_t)(1u << (rep.seq % 8));
					tsum += ms;
					tsum2 += ms * ms;
					if (ms < tmin)
						tmin = ms;
					if (ms > tmax)
						tmax = ms;
				}
				printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms%s%s\n",
				       rep.len + 8, from, rep.seq, rep.ttl, ms, dup ? " (DUP!)" : "",
				       bad ? " (BAD DATA)" : "");
			}
			fflush(stdout);
		} else if (errno == ESHUTDOWN) {
			break;
		}
		int sig = us_cli_wait_signal(0);
		if (sig == SIGINT || sig == SIGTERM)
			stop = true;
	}
	uint64_t elapsed = (us_monotonic_ns() - start) / 1000000;
	printf("\n--- %s ping statistics ---\n", host);
	printf("%ld packets transmitted, %ld received", transmitted, received);
	if (dups)
		printf(", +%ld duplicates", dups);
	if (errors)
		printf(", +%ld errors", errors);
	double loss = transmitted ? 100.0 * (double)(transmitted - received) / (double)transmitted : 0;
	printf(", %g%% packet loss, time %llums\n", floor(loss), (unsigned long long)elapsed);
	if (received) {
		double avg = tsum / (double)received;
		double mdev = sqrt(fmax(0, tsum2 / (double)received - avg * avg));
		printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", tmin, avg, tmax, mdev);
	}
	fflush(stdout);
	rc = received ? 0 : 1;
	us_ping_close(st, h);
	us_stack_free(st);
	free(payload);
	free(rbuf);
	free(sent_at);
	free(seen);
	return rc;
}
