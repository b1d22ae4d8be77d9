/*
 * usping — ICMP echo over ustack, with the output and exit status of
 * iputils ping 20221126: a line per reply, a summary with loss and rtt,
 * exit 0 if any reply came (with -w: if COUNT replies came), 1 if none,
 * 2 on error.
 *
 * The schedule follows ping's: a request every INTERVAL; after the last
 * one (-c) usping waits for the replies still due, 2 x the largest rtt
 * seen (at least INTERVAL), or -W seconds when no reply came at all; -w
 * ends the run at a deadline whatever was sent. The summary's "time" is
 * from the first request to the last (ping's cur_time - start_time), not
 * including that final wait. Round-trip times are kept in microseconds
 * and printed with ping's rounding; with fewer than 16 data bytes ping has
 * no room for its timestamp and prints no times, and usping does the same.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "tools/common/cli.h"

#define MAX_DUP_CHK     0x10000 /* sequence numbers tracked (as ping) */
#define MININTERVAL     10      /* ms: shortest sleep; flood sends at least this often */
#define MINUSERINTERVAL 2       /* ms: shortest interval for a non-root user (ping's) */
#define TIMEVAL_BYTES   16      /* sizeof(struct timeval): ping times replies only above it */
#define NS_PER_MS       1000000ULL

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usping [options] HOST\n"
		"  -c COUNT             stop after COUNT replies (default: until interrupted)\n"
		"  -i INTERVAL          seconds between requests (default 1; below 0.002 root only)\n"
		"  -s SIZE              data bytes per request (default 56; above the MTU they are fragmented)\n"
		"  -W TIMEOUT           seconds to wait for a reply when none came (default 10)\n"
		"  -w DEADLINE          seconds before usping exits, whatever was sent or received\n"
		"  -t TTL               IP time to live (default 64)\n"
		"  -I IFACE|ADDR        send out of the stack's interface IFACE, or from address ADDR\n"
		"  -q                   quiet: only the first line and the summary\n"
		"  -f                   flood: a request per reply or every 10 ms (root only)\n"
		"  -A                   adaptive: the interval follows the round-trip time\n"
		"  -D                   print a wall-clock timestamp before each line\n"
		"  -O                   report a request left unanswered when the next is sent\n"
		"  -n                   numeric output (usping never looks names up in reverse)\n"
		"  -4                   IPv4 (the only family usping knows)\n"
		CLI_USAGE_COMMON
		"  -h, --help           this help\n"
		"SIGQUIT prints the running statistics on stderr, as ping does.\n");
}

struct ping {
	/* Options. */
	long npackets;          /* -c: 0 = unlimited */
	long deadline;          /* -w seconds: 0 = none */
	int interval;           /* ms */
	int lingertime;         /* -W, ms */
	size_t datalen;
	int ttl;
	bool quiet, flood, adaptive, ptimeofday, outstanding, timing, root, numeric;
	const struct us_config *cfg;    /* its hosts: name addresses in reverse */
	/* Counters, as ping names them. */
	long ntransmitted, nreceived, nrepeats, nerrors;
	long tmin, tmax;        /* us */
	long long tsum, tsum2;
	int rtt;                /* ewma of rtt in us, times 8 */
	uint64_t start, cur_time;       /* first request; last request (monotonic ns) */
	uint64_t *sent_at;      /* [MAX_DUP_CHK] send time per sequence number */
	uint8_t *rcvd;          /* [MAX_DUP_CHK / 8] replied-to bitmap */
};

static bool rcvd_test(const struct ping *p, uint16_t seq)
{
	return p->rcvd[seq / 8] & (1u << (seq % 8));
}

static void print_timestamp(const struct ping *p)
{
	if (p->ptimeofday) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("[%lu.%06lu] ", (unsigned long)tv.tv_sec, (unsigned long)tv.tv_usec);
	}
}

/*
 * ping's pr_addr: the address, or "NAME (address)" when the target was a
 * name and -n was not given. ping asks getnameinfo (/etc/hosts, then DNS
 * PTR); usping has no reverse DNS and reads the stack's hosts: entries,
 * plus localhost for 127.0.0.1 (RFC 6761); an address without a name is
 * printed twice, "A (A)", as getnameinfo makes ping do.
 */
static const char *pr_addr(const struct ping *p, struct in_addr a, char *buf, size_t len)
{
	char ip[16];
	inet_ntop(AF_INET, &a, ip, sizeof ip);
	if (p->numeric) {
		snprintf(buf, len, "%s", ip);
		return buf;
	}
	const char *name = ip;
	for (int i = 0; i < p->cfg->nhosts; i++)
		if (p->cfg->hosts[i].addr.s_addr == a.s_addr) {
			name = p->cfg->hosts[i].name;
			break;
		}
	if (name == ip && a.s_addr == htonl(INADDR_LOOPBACK))
		name = "localhost";
	snprintf(buf, len, "%s (%s)", name, ip);
	return buf;
}

static void out(const char *s)
{
	fputs(s, stdout);
	fflush(stdout);
}

static const char *error_text(const struct us_echo_reply *r)
{
	if (r->icmp_type == 11)
		return r->icmp_code == 1 ? "Frag reassembly time exceeded" : "Time to live exceeded";
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

/* ping's update_interval() for -A: the interval follows the rtt average. */
static void update_interval(struct ping *p)
{
	int est = p->rtt ? p->rtt / 8 : p->interval * 1000;
	p->interval = (est + 500) / 1000;
	if (!p->root && p->interval < MINUSERINTERVAL)
		p->interval = MINUSERINTERVAL;
}

static void print_triptime(long t)
{
	if (t >= 100000 - 50)
		printf(" time=%ld ms", (t + 500) / 1000);
	else if (t >= 10000 - 5)
		printf(" time=%ld.%01ld ms", (t + 50) / 1000, ((t + 50) % 1000) / 100);
	else if (t >= 1000)
		printf(" time=%ld.%02ld ms", (t + 5) / 1000, ((t + 5) % 1000) / 10);
	else
		printf(" time=%ld.%03ld ms", t / 1000, t % 1000);
}

static void on_reply(struct ping *p, const struct us_echo_reply *rep, const uint8_t *data,
		     const uint8_t *payload)
{
	long triptime = 0;
	uint16_t seq = rep->seq;
	p->nreceived++;
	if (p->timing) {
		uint64_t sent = p->sent_at[seq];
		if (sent && rep->recv_ns >= sent)
			triptime = (long)((rep->recv_ns - sent) / 1000);
		p->tsum += triptime;
		p->tsum2 += (long long)triptime * triptime;
		if (triptime < p->tmin)
			p->tmin = triptime;
		if (triptime > p->tmax)
			p->tmax = triptime;
		if (!p->rtt)
			p->rtt = (int)(triptime * 8);
		else
			p->rtt += (int)(triptime - p->rtt / 8);
		if (p->adaptive)
			update_interval(p);
	}
	bool dup = rcvd_test(p, seq);
	if (dup) {
		p->nrepeats++;
		p->nreceived--;
	} else {
		p->rcvd[seq / 8] |= (uint8_t)(1u << (seq % 8));
	}
	if (p->quiet)
		return;
	if (p->flood) {
		out("\b \b");
		return;
	}
	char from[300];
	pr_addr(p, rep->from, from, sizeof from);
	print_timestamp(p);
	printf("%zu bytes from %s: icmp_seq=%u ttl=%u", rep->len + 8, from, seq, rep->ttl);
	if (p->timing)
		print_triptime(triptime);
	if (dup)
		printf(" (DUP!)");
	if (rep->len != p->datalen || memcmp(data, payload, p->datalen) != 0)
		printf(" (BAD DATA)");
	out("\n");
}

static void on_error(struct ping *p, const struct us_echo_reply *rep)
{
	p->nerrors++;
	if (p->quiet)
		return;
	if (p->flood) {
		out("\bE");
		return;
	}
	char from[300];
	pr_addr(p, rep->from, from, sizeof from);
	print_timestamp(p);
	printf("From %s icmp_seq=%u %s\n", from, rep->seq, error_text(rep));
	fflush(stdout);
}

/* SIGQUIT: ping's status() line, on stderr. */
static void status(const struct ping *p)
{
	int loss = p->ntransmitted
		? (int)((p->ntransmitted - p->nreceived) * 100 / p->ntransmitted) : 0;
	fprintf(stderr, "\r%ld/%ld packets, %d%% loss", p->nreceived, p->ntransmitted, loss);
	if (p->nreceived && p->timing) {
		long tavg = (long)(p->tsum / (p->nreceived + p->nrepeats));
		fprintf(stderr, ", min/avg/ewma/max = %ld.%03ld/%lu.%03ld/%d.%03d/%ld.%03ld ms",
			p->tmin / 1000, p->tmin % 1000, (unsigned long)(tavg / 1000), tavg % 1000,
			p->rtt / 8000, (p->rtt / 8) % 1000, p->tmax / 1000, p->tmax % 1000);
	}
	fprintf(stderr, "\n");
}

static long llsqrt(long long a)
{
	long long prev = LLONG_MAX, x = a;
	if (x > 0)
		while (x < prev) {
			prev = x;
			x = (x + a / x) / 2;
		}
	return (long)x;
}

/* The summary, as ping's finish(); returns the exit status. */
static int finish(const struct ping *p, const char *host)
{
	uint64_t tv_us = p->ntransmitted ? (p->cur_time - p->start) / 1000 : 0;
	const char *comma = "";
	printf("\n--- %s ping statistics ---\n", host);
	printf("%ld packets transmitted, %ld received", p->ntransmitted, p->nreceived);
	if (p->nrepeats)
		printf(", +%ld duplicates", p->nrepeats);
	if (p->nerrors)
		printf(", +%ld errors", p->nerrors);
	if (p->ntransmitted) {
		printf(", %g%% packet loss",
		       (float)((double)(p->ntransmitted - p->nreceived) * 100.0 / (double)p->ntransmitted));
		printf(", time %llums", (unsigned long long)((tv_us + 500) / 1000));
	}
	putchar('\n');
	if (p->nreceived && p->timing) {
		long total = p->nreceived + p->nrepeats;
		long tmavg = (long)(p->tsum / total);
		long long tmvar;
		if (p->tsum < INT_MAX)
			tmvar = (p->tsum2 - p->tsum * p->tsum / total) / total;
		else
			tmvar = p->tsum2 / total - (long long)tmavg * tmavg;
		long tmdev = llsqrt(tmvar);
		printf("rtt min/avg/max/mdev = %ld.%03ld/%lu.%03ld/%ld.%03ld/%ld.%03ld ms",
		       p->tmin / 1000, p->tmin % 1000, (unsigned long)(tmavg / 1000), tmavg % 1000,
		       p->tmax / 1000, p->tmax % 1000, tmdev / 1000, tmdev % 1000);
		comma = ", ";
	}
	if (p->nreceived && (!p->interval || p->flood || p->adaptive) && p->ntransmitted > 1) {
		int ipg = (int)(tv_us / (uint64_t)(p->ntransmitted - 1));
		printf("%sipg/ewma %d.%03d/%d.%03d ms", comma, ipg / 1000, ipg % 1000, p->rtt / 8000,
		       (p->rtt / 8) % 1000);
	}
	putchar('\n');
	fflush(stdout);
	return !p->nreceived || (p->deadline && p->nreceived < p->npackets);
}

static int parse_num(const char *s, double lo, double hi, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || *end || !(x >= lo && x <= hi))
		return -1;
	*v = x;
	return 0;
}

static int bad_arg(const char *what, const char *arg)
{
	fprintf(stderr, "usping: %s: '%s'\n", what, arg);
	return 2;
}

/* The signals usping takes synchronously: the tools' set plus SIGQUIT. */
static sigset_t ping_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGQUIT);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGPIPE);
	return s;
}

static int take_signal(void)
{
	sigset_t s = ping_signals();
	struct timespec zero = { 0, 0 };
	int sig = sigtimedwait(&s, NULL, &zero);
	return sig < 0 ? 0 : sig;
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
	struct ping p = {
		.interval = 1000, .lingertime = 10000, .datalen = 56, .ttl = 64,
		.tmin = LONG_MAX, .root = geteuid() == 0,
	};
	bool opt_interval = false;
	const char *iface = NULL;
	double v;
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "c:i:s:W:w:t:I:qfADOn4h", longopts,
				  NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'c':
			if (parse_num(optarg, 1, 1e15, &v) < 0 || v != floor(v))
				return bad_arg("invalid count", optarg);
			p.npackets = (long)v;
			break;
		case 'i':
			if (parse_num(optarg, 0, INT_MAX / 1000, &v) < 0)
				return bad_arg("bad timing interval", optarg);
			p.interval = (int)(v * 1000);
			opt_interval = true;
			break;
		case 's':
			if (parse_num(optarg, 0, 65507, &v) < 0 || v != floor(v))
				return bad_arg("invalid size (0..65507)", optarg);
			p.datalen = (size_t)v;
			break;
		case 'W':
			if (parse_num(optarg, 0, INT_MAX / 1000, &v) < 0)
				return bad_arg("bad linger time", optarg);
			p.lingertime = (int)(v * 1000);
			break;
		case 'w':
			if (parse_num(optarg, 0, INT_MAX, &v) < 0 || v != floor(v))
				return bad_arg("invalid deadline", optarg);
			p.deadline = (long)v;
			break;
		case 't':
			if (parse_num(optarg, 1, 255, &v) < 0 || v != floor(v))
				return bad_arg("invalid ttl (1..255)", optarg);
			p.ttl = (int)v;
			break;
		case 'I':
			iface = optarg;
			break;
		case 'q':
			p.quiet = true;
			break;
		case 'f':
			p.flood = true;
			p.numeric = true;       /* as ping: no lookups while flooding */
			break;
		case 'A':
			p.adaptive = true;
			break;
		case 'D':
			p.ptimeofday = true;
			break;
		case 'O':
			p.outstanding = true;
			break;
		case 'n':
			p.numeric = true;
			break;
		case '4':
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
	if (p.flood && !opt_interval)
		p.interval = 0;
	p.timing = p.datalen >= TIMEVAL_BYTES;
	if (us_cli_finish(&cli) < 0)
		return 2;

	sigset_t sigs = ping_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);   /* before any stack thread starts */
	us_stack *st = us_cli_start(&cli);
	if (!st)
		return 2;
	int rc = 2;
	int h = -1;
	uint8_t *payload = NULL, *rbuf = NULL;
	struct in_addr dst, src;
	/* Names go through the stack's own resolver (hosts:, then DNS). */
	p.cfg = &cli.cfg;
	if (inet_pton(AF_INET, host, &dst) == 1) {
		p.numeric = true;       /* ping: a numeric target means numeric output */
	} else {
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
		struct addrinfo *res;
		int gai = us_getaddrinfo(st, host, NULL, &hints, &res);
		if (gai != 0) {
			fprintf(stderr, "usping: %s: %s\n", host, us_gai_strerror(gai));
			goto out;
		}
		dst = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		us_freeaddrinfo(res);
	}
	h = us_ping_open(st, NULL);
	if (h < 0) {
		fprintf(stderr, "usping: socket: %s\n", strerror(errno));
		goto out;
	}
	if (iface) {
		struct in_addr a;
		int ifi = -1;
		a.s_addr = 0;
		if (inet_pton(AF_INET, iface, &a) != 1 && (ifi = us_stack_iface_index(st, iface)) < 0) {
			/* ping's words: it fails binding its socket to the device. */
			fprintf(stderr, "usping: SO_BINDTODEVICE %s: %s\n", iface, strerror(ENODEV));
			goto out;
		}
		if (us_ping_bind(st, h, ifi, a) < 0) {
			fprintf(stderr, "usping: bind: %s\n", strerror(errno));
			goto out;
		}
	}
	/* As ping's connect() probe: no route is an error before anything is sent. */
	if (us_ping_source(st, h, dst, &src) < 0) {
		fprintf(stderr, "usping: connect: %s\n", strerror(errno));
		goto out;
	}
	payload = malloc(p.datalen ? p.datalen : 1);
	rbuf = malloc(65536);
	p.sent_at = calloc(MAX_DUP_CHK, sizeof *p.sent_at);
	p.rcvd = calloc(MAX_DUP_CHK / 8, 1);
	if (!payload || !rbuf || !p.sent_at || !p.rcvd) {
		fprintf(stderr, "usping: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < p.datalen; i++)
		payload[i] = (uint8_t)(i + 8);

	char dstr[16], sstr[16];
	inet_ntop(AF_INET, &dst, dstr, sizeof dstr);
	inet_ntop(AF_INET, &src, sstr, sizeof sstr);
	printf("PING %s (%s) ", host, dstr);
	if (iface)
		printf("from %s %s: ", sstr, inet_pton(AF_INET, iface, &src) == 1 ? "" : iface);
	printf("%zu(%zu) bytes of data.\n", p.datalen, p.datalen + 28);
	fflush(stdout);
	/* ping checks this after its first line, and so do we. */
	if (!p.root && p.interval < MINUSERINTERVAL) {
		fprintf(stderr, "usping: cannot flood; minimal interval allowed for user is %dms\n",
			MINUSERINTERVAL);
		goto out;
	}

	p.start = us_monotonic_ns();
	uint64_t retry_at = p.start, exit_at = 0;
	uint64_t deadline_at = p.deadline ? p.start + (uint64_t)p.deadline * 1000000000ULL : 0;
	for (;;) {
		int sig = take_signal();
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (sig == SIGQUIT)
			status(&p);
		if (p.npackets && p.nreceived + p.nerrors >= p.npackets)
			break;
		if (p.deadline && p.nerrors)
			break;
		uint64_t now = us_monotonic_ns();
		if ((deadline_at && now >= deadline_at) || (exit_at && now >= exit_at))
			break;
		bool more = !p.npackets || p.ntransmitted < p.npackets || p.deadline;
		long in_flight = p.ntransmitted - p.nreceived - p.nerrors;
		/* interval 0 (flood): send when nothing is in flight, else every 10 ms. */
		uint64_t next_send = p.cur_time + (uint64_t)p.interval * NS_PER_MS;
		if (!p.interval && in_flight > 0)
			next_send = p.cur_time + MININTERVAL * NS_PER_MS;
		if (p.ntransmitted == 0 || next_send < retry_at)
			next_send = retry_at;
		bool due = now >= next_send;
		if (more && due) {
			uint16_t seq = (uint16_t)(p.ntransmitted + 1);
			if (p.outstanding && p.ntransmitted > 0 && !rcvd_test(&p, (uint16_t)p.ntransmitted)) {
				print_timestamp(&p);
				printf("no answer yet for icmp_seq=%lu\n", p.ntransmitted % MAX_DUP_CHK);
				fflush(stdout);
			}
			p.sent_at[seq] = now;
			p.rcvd[seq / 8] &= (uint8_t)~(1u << (seq % 8));
			if (us_ping_send(st, h, dst, seq, (uint8_t)p.ttl, payload, p.datalen) < 0) {
				if (errno == ENOBUFS) {
					/* No buffer: not sent; try again soon (ping slows down too). */
					retry_at = now + MININTERVAL * NS_PER_MS;
					continue;
				}
				/* A hard local error: counted as sent, as ping does. */
				if (p.flood && !p.quiet)
					out("E");
				else if (!p.quiet)
					fprintf(stderr, "usping: sendmsg: %s\n", strerror(errno));
			} else if (!p.quiet && p.flood) {
				out(".");
			}
			p.ntransmitted++;
			p.cur_time = now;
			if (p.npackets && p.ntransmitted >= p.npackets && !p.deadline) {
				/* ping's schedule_exit: wait for what is still due, then stop. */
				uint64_t wait_us = p.nreceived ? 2 * (uint64_t)p.tmax
							       : (uint64_t)p.lingertime * 1000;
				if (p.nreceived && wait_us < (uint64_t)p.interval * 1000)
					wait_us = (uint64_t)p.interval * 1000;
				exit_at = now + wait_us * 1000;
			}
			continue;
		}
		uint64_t until = now + 100 * NS_PER_MS;  /* look at signals 10 times a second */
		if (more && next_send < until)
			until = next_send;
		if (exit_at && exit_at < until)
			until = exit_at;
		if (deadline_at && deadline_at < until)
			until = deadline_at;
		int wait_ms = until > now ? (int)((until - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
		struct us_echo_reply rep;
		if (us_ping_recv(st, h, &rep, rbuf, 65536, wait_ms) == 0) {
			if (rep.error)
				on_error(&p, &rep);
			else
				on_reply(&p, &rep, rbuf, payload);
		} else if (errno == ESHUTDOWN) {
			break;
		}
	}
	rc = finish(&p, host);
out:
	if (h >= 0)
		us_ping_close(st, h);
	us_stack_free(st);
	free(payload);
	free(rbuf);
	free(p.sent_at);
	free(p.rcvd);
	return rc;
}
