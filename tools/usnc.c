/*
 * usnc — netcat over ustack.
 *
 * TCP: `usnc HOST PORT` connects, `usnc -l -p PORT [-k]` accepts; bytes
 * are copied both ways, binary-safe, until the peer closes (-N: shut our
 * side down at stdin EOF). -z only tries to connect. UDP: `usnc -u HOST
 * PORT` sends each line of standard input as one datagram and prints what
 * comes back; `usnc -u -l -p PORT` prints what arrives and sends each line
 * of standard input to the last sender. Options and exit codes follow
 * OpenBSD netcat where they overlap: 0 on success, 1 on any failure.
 *
 * Standard input is read by its own thread (the stack's descriptors are
 * not the kernel's, so one poll cannot watch both); the main thread owns
 * the network side and the signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/time.h>
#include <unistd.h>

#include "tools/common/cli.h"

#define DGRAM_MAX 65507

struct nc {
	us_stack *st;
	int fd;
	bool udp, listen, keep, shut_on_eof, zero_io;
	int verbose;
	int wait_s;                     /* -w: idle/connect timeout, 0 = none */
	const char *host, *port_s;
	uint16_t port;

	pthread_mutex_t lock;           /* protects peer, have_peer, stdin_eof, send_err */
	pthread_cond_t cond;            /* have_peer became true */
	struct sockaddr_in peer;        /* UDP server: the last sender */
	bool have_peer;
	bool stdin_eof;
	int send_err;                   /* errno of a failed send, 0 if none */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usnc [-u] [-v] [-w SECS] HOST PORT\n"
		"       usnc -l [-u] [-k] [-v] [-w SECS] -p PORT\n"
		"  -u                   UDP (each line of stdin is one datagram)\n"
		"  -l                   listen\n"
		"  -p PORT              port to listen on (or the last argument)\n"
		"  -k                   keep listening after a client goes (TCP)\n"
		"  -N                   shut down the sending side at stdin EOF (TCP)\n"
		"  -w SECS              give up after SECS idle (and on connect)\n"
		"  -z                   scan: report whether PORT is open, send nothing (TCP)\n"
		"  -v                   say what happens on stderr\n"
		CLI_USAGE_COMMON
		"  -h, --help           this help\n");
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Standard input, line by line, to the network. */
static void *stdin_main(void *arg)
{
	struct nc *nc = arg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		/* A line longer than a datagram goes as several. */
		for (ssize_t off = 0; off < n;) {
			size_t chunk = (size_t)(n - off) > DGRAM_MAX ? DGRAM_MAX : (size_t)(n - off);
			ssize_t w;
			if (nc->listen) {
				pthread_mutex_lock(&nc->lock);
				while (!nc->have_peer)
					pthread_cond_wait(&nc->cond, &nc->lock);
				struct sockaddr_in to = nc->peer;
				pthread_mutex_unlock(&nc->lock);
				w = us_sendto(nc->st, nc->fd, line + off, chunk, 0, (struct sockaddr *)&to,
					      sizeof to);
			} else {
				w = us_send(nc->st, nc->fd, line + off, chunk, 0);
			}
			if (w < 0) {
				pthread_mutex_lock(&nc->lock);
				nc->send_err = errno;
				pthread_mutex_unlock(&nc->lock);
				free(line);
				return NULL;
			}
			off += (ssize_t)chunk;
		}
	}
	free(line);
	pthread_mutex_lock(&nc->lock);
	nc->stdin_eof = true;
	pthread_mutex_unlock(&nc->lock);
	return NULL;
}

static int resolve(struct nc *nc, struct sockaddr_in *out)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = nc->udp ? SOCK_DGRAM : SOCK_STREAM };
	struct addrinfo *res;
	int rc = us_getaddrinfo(nc->st, nc->host, nc->port_s, &hints, &res);
	if (rc != 0) {
		const char *d = us_resolver_detail();
		fprintf(stderr, "usnc: getaddrinfo for host \"%s\" port %s: %s%s%s\n", nc->host,
			nc->port_s, us_gai_strerror(rc), d[0] ? ": " : "", d);
		return -1;
	}
	memcpy(out, res->ai_addr, sizeof *out);
	us_freeaddrinfo(res);
	return 0;
}

/* The network side of UDP: print what arrives until a signal, an error or -w idle. */
static int udp_loop(struct nc *nc)
{
	static char buf[DGRAM_MAX];
	uint64_t idle_ms = 0;
	for (;;) {
		int sig = us_cli_wait_signal(0);
		if (sig == SIGINT || sig == SIGTERM)
			return 0;
		pthread_mutex_lock(&nc->lock);
		int serr = nc->send_err;
		pthread_mutex_unlock(&nc->lock);
		if (serr) {
			fprintf(stderr, "usnc: write(net): %s\n", strerror(serr));
			return 1;
		}
		struct pollfd p = { .fd = nc->fd, .events = POLLIN };
		int r = us_poll(nc->st, &p, 1, 100);
		if (r < 0) {
			fprintf(stderr, "usnc: poll: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0) {
			idle_ms += 100;
			if (nc->wait_s && idle_ms >= (uint64_t)nc->wait_s * 1000)
				return 0;
			continue;
		}
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = us_recvfrom(nc->st, nc->fd, buf, sizeof buf, MSG_DONTWAIT,
					(struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			fprintf(stderr, "usnc: read(net): %s\n", strerror(errno));
			return 1;
		}
		idle_ms = 0;
		if (nc->listen) {
			pthread_mutex_lock(&nc->lock);
			bool first = !nc->have_peer;
			nc->peer = from;
			nc->have_peer = true;
			pthread_cond_broadcast(&nc->cond);
			pthread_mutex_unlock(&nc->lock);
			if (first && nc->verbose) {
				char a[16];
				fprintf(stderr, "Connection received on %s %u\n",
					inet_ntop(AF_INET, &from.sin_addr, a, sizeof a), ntohs(from.sin_port));
			}
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
		fflush(stdout);
	}
}

static int run_udp(struct nc *nc)
{
	nc->fd = us_socket(nc->st, AF_INET, SOCK_DGRAM, 0);
	if (nc->fd < 0) {
		fprintf(stderr, "usnc: socket: %s\n", strerror(errno));
		return 1;
	}
	if (nc->listen) {
		int one = 1;
		us_setsockopt(nc->st, nc->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(nc->port) };
		if (us_bind(nc->st, nc->fd, (struct sockaddr *)&a, sizeof a) < 0) {
			fprintf(stderr, "usnc: bind: %s\n", strerror(errno));
			return 1;
		}
		if (nc->verbose)
			fprintf(stderr, "Bound on 0.0.0.0 %u\n", nc->port);
	} else {
		struct sockaddr_in a;
		if (resolve(nc, &a) < 0)
			return 1;
		if (us_connect(nc->st, nc->fd, (struct sockaddr *)&a, sizeof a) < 0) {
			fprintf(stderr, "usnc: connect to %s port %s (udp) failed: %s\n", nc->host,
				nc->port_s, strerror(errno));
			return 1;
		}
		if (nc->verbose)
			fprintf(stderr, "Connection to %s %s port [udp/*] succeeded!\n", nc->host,
				nc->port_s);
	}
	pthread_t th;
	if (pthread_create(&th, NULL, stdin_main, nc) != 0) {
		fprintf(stderr, "usnc: cannot start the input thread\n");
		return 1;
	}
	int rc = udp_loop(nc);
	pthread_cancel(th);
	pthread_join(th, NULL);
	us_close(nc->st, nc->fd);
	return rc;
}

/* TCP: standard input to the connection, in chunks as read(2) returns them. */
static void *tcp_stdin_main(void *arg)
{
	struct nc *nc = arg;
	static char buf[65536];
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = us_send(nc->st, nc->fd, buf + off, (size_t)(n - off), 0);
			if (w < 0) {
				pthread_mutex_lock(&nc->lock);
				nc->send_err = errno;
				pthread_mutex_unlock(&nc->lock);
				return NULL;
			}
			off += w;
		}
	}
	pthread_mutex_lock(&nc->lock);
	nc->stdin_eof = true;
	pthread_mutex_unlock(&nc->lock);
	if (nc->shut_on_eof)
		us_shutdown(nc->st, nc->fd, SHUT_WR);
	return NULL;
}

/* Copy the connection to stdout until it ends. 0 orderly, 1 on error. */
static int tcp_session(struct nc *nc)
{
	static char buf[65536];
	pthread_t th;
	bool have_th = pthread_create(&th, NULL, tcp_stdin_main, nc) == 0;
	if (!have_th) {
		fprintf(stderr, "usnc: cannot start the input thread\n");
		return 1;
	}
	int rc = 0;
	uint64_t idle_ms = 0;
	for (;;) {
		int sig = us_cli_wait_signal(0);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		pthread_mutex_lock(&nc->lock);
		int serr = nc->send_err;
		pthread_mutex_unlock(&nc->lock);
		if (serr) {
			fprintf(stderr, "usnc: write(net): %s\n", strerror(serr));
			rc = 1;
			break;
		}
		struct pollfd p = { .fd = nc->fd, .events = POLLIN };
		int r = us_poll(nc->st, &p, 1, 100);
		if (r < 0) {
			fprintf(stderr, "usnc: poll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (r == 0) {
			idle_ms += 100;
			if (nc->wait_s && idle_ms >= (uint64_t)nc->wait_s * 1000)
				break;
			continue;
		}
		ssize_t n = us_recv(nc->st, nc->fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			fprintf(stderr, "usnc: read(net): %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (n == 0)
			break;          /* the peer closed its side */
		idle_ms = 0;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			rc = 1;
			break;
		}
		fflush(stdout);
	}
	pthread_cancel(th);
	pthread_join(th, NULL);
	return rc;
}

static int run_tcp(struct nc *nc)
{
	nc->fd = us_socket(nc->st, AF_INET, SOCK_STREAM, 0);
	if (nc->fd < 0) {
		fprintf(stderr, "usnc: socket: %s\n", strerror(errno));
		return 1;
	}
	if (!nc->listen) {
		struct sockaddr_in a;
		if (resolve(nc, &a) < 0)
			return 1;
		if (nc->wait_s) {
			struct timeval tv = { .tv_sec = nc->wait_s };
			us_setsockopt(nc->st, nc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		}
		if (us_connect(nc->st, nc->fd, (struct sockaddr *)&a, sizeof a) < 0) {
			int e = errno == EINPROGRESS ? ETIMEDOUT : errno;
			if (nc->verbose || !nc->zero_io)
				fprintf(stderr, "usnc: connect to %s port %s (tcp) failed: %s\n", nc->host,
					nc->port_s, strerror(e));
			us_close(nc->st, nc->fd);
			return 1;
		}
		struct timeval zero = { 0 };
		us_setsockopt(nc->st, nc->fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
		if (nc->verbose)
			fprintf(stderr, "Connection to %s %s port [tcp/*] succeeded!\n", nc->host,
				nc->port_s);
		int rc = nc->zero_io ? 0 : tcp_session(nc);
		us_close(nc->st, nc->fd);
		return rc;
	}
	int one = 1;
	us_setsockopt(nc->st, nc->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(nc->port) };
	if (us_bind(nc->st, nc->fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    us_listen(nc->st, nc->fd, 16) < 0) {
		fprintf(stderr, "usnc: bind/listen: %s\n", strerror(errno));
		return 1;
	}
	us_fcntl(nc->st, nc->fd, F_SETFL, O_NONBLOCK);
	if (nc->verbose)
		fprintf(stderr, "Listening on 0.0.0.0 %u\n", nc->port);
	int lfd = nc->fd, rc = 0;
	do {
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		int cfd;
		for (;;) {
			int sig = us_cli_wait_signal(0);
			if (sig == SIGINT || sig == SIGTERM) {
				us_close(nc->st, lfd);
				return 0;
			}
			struct pollfd p = { .fd = lfd, .events = POLLIN };
			if (us_poll(nc->st, &p, 1, 100) < 0) {
				fprintf(stderr, "usnc: poll: %s\n", strerror(errno));
				return 1;
			}
			cfd = us_accept(nc->st, lfd, (struct sockaddr *)&peer, &pl);
			if (cfd >= 0)
				break;
			if (errno != EAGAIN) {
				fprintf(stderr, "usnc: accept: %s\n", strerror(errno));
				return 1;
			}
		}
		if (nc->verbose) {
			char ab[16];
			fprintf(stderr, "Connection received on %s %u\n",
				inet_ntop(AF_INET, &peer.sin_addr, ab, sizeof ab), ntohs(peer.sin_port));
		}
		nc->fd = cfd;
		pthread_mutex_lock(&nc->lock);
		nc->stdin_eof = false;
		nc->send_err = 0;
		pthread_mutex_unlock(&nc->lock);
		rc = tcp_session(nc);
		us_close(nc->st, cfd);
	} while (nc->keep);
	us_close(nc->st, lfd);
	return rc;
}

int main(int argc, char **argv)
{
	struct us_cli cli;
	us_cli_init(&cli, "usnc");
	static const struct option longopts[] = {
		CLI_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct nc nc = { .fd = -1 };
	pthread_mutex_init(&nc.lock, NULL);
	pthread_cond_init(&nc.cond, NULL);
	const char *lport = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "ulkNzp:w:h", longopts, NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return 1;
		if (r > 0) {
			if (opt == 'v')
				nc.verbose++;
			continue;
		}
		switch (opt) {
		case 'u':
			nc.udp = true;
			break;
		case 'l':
			nc.listen = true;
			break;
		case 'k':
			nc.keep = true;
			break;
		case 'N':
			nc.shut_on_eof = true;
			break;
		case 'z':
			nc.zero_io = true;
			break;
		case 'p':
			lport = optarg;
			break;
		case 'w': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 86400) {
				fprintf(stderr, "usnc: timeout invalid: %s\n", optarg);
				return 1;
			}
			nc.wait_s = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	/* -v counts in the CLI struct too (frame tracing); netcat's -v is messages. */
	cli.verbose = cli.verbose > 1;
	int nargs = argc - optind;
	if (nc.listen) {
		if (nargs == 1 && !lport)
			lport = argv[optind];
		else if (nargs != 0 || !lport) {
			usage(stderr);
			return 1;
		}
		nc.port_s = lport;
	} else {
		if (nargs != 2) {
			usage(stderr);
			return 1;
		}
		nc.host = argv[optind];
		nc.port_s = argv[optind + 1];
	}
	if (parse_port(nc.port_s, &nc.port) < 0) {
		fprintf(stderr, "usnc: port number invalid: %s\n", nc.port_s);
		return 1;
	}
	if (us_cli_finish(&cli) < 0)
		return 1;
	us_cli_block_signals();
	nc.st = us_cli_start(&cli);
	if (!nc.st)
		return 1;
	int rc = nc.udp ? run_udp(&nc) : run_tcp(&nc);
	us_stack_free(nc.st);
	return rc;
}
