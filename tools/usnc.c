/*
 * usnc — netcat over ustack, in the manner of OpenBSD nc (netcat-openbsd 1.219).
 *
 * TCP: `usnc HOST PORT...` connects (to each PORT in turn), `usnc -l [-k]
 * [ADDR] PORT` accepts; bytes are copied both ways, binary-safe. The two
 * directions end separately, as in nc: the peer's FIN ends reading, not
 * sending; standard input's end ends sending (with -N it also sends our
 * FIN). A client exits when both directions are done; a listener when the
 * client has closed its side. -q SECS quits SECS after standard input ends,
 * -w SECS after SECS without traffic. -z only tries to connect (ports may
 * be lists, ranges LO-HI and service names). UDP (-u): each line of
 * standard input is one datagram; -zu sends probes and reports a port
 * that answers "port unreachable" as closed. Exit 0 on success, 1 on any
 * failure; SIGINT/SIGTERM end usnc at once, by that signal (130/143).
 *
 * Threads. The main thread owns the network side: connect or accept,
 * reading the connection and writing standard output, and deciding when
 * a session ends. An input thread reads standard input and sends it (the
 * stack's descriptors are not the kernel's, so one poll cannot watch
 * both). A signal thread takes SIGINT and SIGTERM. No thread is ever
 * cancelled: every wait in the input thread is bounded (POLL_MS) and
 * checks nc->stop, so ending a session is "set stop, join". The signal
 * thread does not depend on the others: if the main thread is stuck in a
 * long library call (connect, a name lookup, the final linger), the
 * signal still ends the process after a short grace.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/time.h>
#include <unistd.h>

#include "tools/common/cli.h"

#define DGRAM_MAX 65507
#define POLL_MS 100                     /* the longest any loop waits before looking again */
#define SIGNAL_GRACE_MS 500             /* how long a signal waits for the main thread */
#define LINGER_S 30                     /* how long close waits for our data to be acked */
#define UDP_SCAN_S 3                    /* -zu: how long to wait for "port unreachable" */
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

struct nc {
	us_stack *st;
	int fd;                         /* the connection (TCP) or the socket (UDP) */
	/* Options, set before any thread starts. */
	bool udp, listen, keep, shut_on_eof, zero_io, numeric;
	int verbose;
	int wait_s;                     /* -w: connect and idle timeout, 0 = none */
	int quit_s;                     /* -q: quit this long after stdin EOF, -1 = never */
	const char *host;               /* client: destination; listener: address or NULL */
	const char *src_addr;           /* -s */
	const char *port_arg;           /* the first port argument, for messages */
	bool have_src_port;
	uint16_t src_port;              /* -p: client source port / listener port */
	uint16_t *ports;                /* client: the ports to try, in order */
	size_t nports;

	atomic_bool stop;               /* the session is over: the input thread returns */
	atomic_int signo;               /* SIGINT or SIGTERM received, 0 if none */
	atomic_uint_fast64_t last_io_ns;        /* last byte either way (-w) */

	pthread_mutex_t lock;           /* protects the fields below */
	pthread_cond_t cond;            /* have_peer or in_done became true, or a signal */
	struct sockaddr_in peer;        /* UDP listener: the last sender */
	bool have_peer;
	bool in_done;                   /* the input thread has finished */
	uint64_t in_done_ns;            /* when (monotonic) */
	int send_err;                   /* errno of a failed send, 0 if none */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usnc [-4klNnuvz] [-p SRCPORT] [-q SECS] [-s SRCADDR] [-w SECS]\n"
		"            [stack options] HOST PORT...\n"
		"       usnc -l [-4knuv] [-q SECS] [-w SECS] [stack options] [-s ADDR] -p PORT\n"
		"       usnc -l [-4knuv] [-q SECS] [-w SECS] [stack options] [ADDR] PORT\n"
		"  PORT                 N, a range LO-HI, or a service name (http)\n"
		"  -4                   IPv4 (the only family ustack speaks)\n"
		"  -k                   keep listening after a client goes (with -l)\n"
		"  -l                   listen for a connection (TCP) or datagrams (UDP)\n"
		"  -N                   shut down the sending side (FIN) at stdin EOF (TCP)\n"
		"  -n                   numeric addresses only: no name lookups\n"
		"  -p PORT              client: the source port; -l: the port to listen on\n"
		"  -q SECS              quit SECS after stdin EOF (0: at once; default: never)\n"
		"  -s ADDR              client: the source address; -l: the address to listen on\n"
		"  -u                   UDP (each line of stdin is one datagram)\n"
		"  -v                   say what happens on stderr (connections, scan results)\n"
		"  -vv                  that, and one line per frame the stack sends and receives\n"
		"  -w SECS              give up connecting, or a session idle, after SECS\n"
		"  -z                   scan: report whether each PORT is open, send no data\n"
		CLI_USAGE_STACK_CONFIG CLI_USAGE_QUICK
		"  -h, --help           this help\n");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* POLL_MS from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
static struct timespec poll_deadline(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += POLL_MS * (long)NS_PER_MS;
	if (ts.tv_nsec >= (long)NS_PER_S) {
		ts.tv_sec++;
		ts.tv_nsec -= (long)NS_PER_S;
	}
	return ts;
}

/* The default action of sig: the process ends as if nc had been killed by it. */
static _Noreturn void die_by_signal(int sig)
{
	signal(sig, SIG_DFL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* SIGINT/SIGTERM: tell the main thread, and end the process if it does not. */
static void *signal_main(void *arg)
{
	struct nc *nc = arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	int sig = 0;
	while (sigwait(&s, &sig) != 0)
		;
	atomic_store(&nc->signo, sig);
	pthread_mutex_lock(&nc->lock);
	pthread_cond_broadcast(&nc->cond);
	pthread_mutex_unlock(&nc->lock);
	struct timespec grace = { 0, SIGNAL_GRACE_MS * (long)NS_PER_MS };
	nanosleep(&grace, NULL);
	die_by_signal(sig);
}

static bool interrupted(struct nc *nc)
{
	return atomic_load(&nc->stop) || atomic_load(&nc->signo);
}

/* ---- arguments ---- */

/* "N" or a service name -> port; 0 after printing nc's message. */
static uint16_t port_number(const struct nc *nc, const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end != s && !*end && !errno) {
		if (v < 1) {
			fprintf(stderr, "usnc: port number too small: %s\n", s);
			return 0;
		}
		if (v > 65535) {
			fprintf(stderr, "usnc: port number too large: %s\n", s);
			return 0;
		}
		return (uint16_t)v;
	}
	struct servent *se = getservbyname(s, nc->udp ? "udp" : "tcp");
	if (!se) {
		fprintf(stderr, "usnc: port number invalid: %s\n", s);
		return 0;
	}
	return ntohs((uint16_t)se->s_port);
}

/* One PORT argument (N, LO-HI or a name) appended to nc->ports; -1 on error. */
static int add_ports(struct nc *nc, const char *arg)
{
	uint16_t lo, hi;
	const char *dash = strchr(arg, '-');
	if (dash && dash != arg) {
		char first[16];
		size_t n = (size_t)(dash - arg);
		if (n >= sizeof first) {
			fprintf(stderr, "usnc: port number invalid: %s\n", arg);
			return -1;
		}
		memcpy(first, arg, n);
		first[n] = '\0';
		if (!(lo = port_number(nc, first)) || !(hi = port_number(nc, dash + 1)))
			return -1;
		if (lo > hi) {
			uint16_t t = lo;
			lo = hi;
			hi = t;
		}
	} else {
		if (!(lo = port_number(nc, arg)))
			return -1;
		hi = lo;
	}
	size_t add = (size_t)hi - lo + 1;
	uint16_t *p = realloc(nc->ports, (nc->nports + add) * sizeof *p);
	if (!p) {
		fprintf(stderr, "usnc: out of memory\n");
		return -1;
	}
	nc->ports = p;
	for (uint32_t v = lo; v <= hi; v++)
		nc->ports[nc->nports++] = (uint16_t)v;
	return 0;
}

/* HOST (may be NULL: the wildcard) to an address; -1 after a message. */
static int resolve(struct nc *nc, const char *host, struct in_addr *out)
{
	if (!host) {
		out->s_addr = htonl(INADDR_ANY);
		return 0;
	}
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = nc->udp ? SOCK_DGRAM : SOCK_STREAM,
				  .ai_flags = nc->numeric ? AI_NUMERICHOST : 0 };
	struct addrinfo *res;
	int rc = us_getaddrinfo(nc->st, host, NULL, &hints, &res);
	if (rc != 0) {
		const char *d = us_resolver_detail();
		fprintf(stderr, "usnc: getaddrinfo for host \"%s\" port %s: %s%s%s\n", host,
			nc->port_arg, us_gai_strerror(rc), d[0] ? ": " : "", d);
		return -1;
	}
	*out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	us_freeaddrinfo(res);
	return 0;
}

/* ---- standard input, in the input thread ---- */

/* Read stdin, waiting at most POLL_MS at a time: bytes, 0 at EOF (or a
 * read error, which ends input as nc does), -1 when the session stops. */
static ssize_t read_stdin(struct nc *nc, char *buf, size_t cap)
{
	for (;;) {
		if (interrupted(nc))
			return -1;
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&p, 1, POLL_MS);
		if (r == 0 || (r < 0 && errno == EINTR))
			continue;
		ssize_t n = read(STDIN_FILENO, buf, cap);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n < 0 ? 0 : n;
	}
}

/* UDP listener: the last sender, once there is one; false when the session stops. */
static bool wait_peer(struct nc *nc, struct sockaddr_in *to)
{
	pthread_mutex_lock(&nc->lock);
	while (!nc->have_peer && !interrupted(nc)) {
		struct timespec ts = poll_deadline();
		pthread_cond_timedwait(&nc->cond, &nc->lock, &ts);
	}
	bool ok = nc->have_peer;
	*to = nc->peer;
	pthread_mutex_unlock(&nc->lock);
	return ok && !interrupted(nc);
}

/*
 * Send len bytes: TCP in as many pieces as the send buffer takes (the
 * socket's SO_SNDTIMEO is POLL_MS, so each wait is bounded); UDP as one
 * datagram, to the last sender when listening. 0, or -1 with errno
 * (ECANCELED when the session stopped first).
 */
static int send_all(struct nc *nc, const char *p, size_t len)
{
	if (nc->udp) {
		ssize_t w;
		if (nc->listen) {
			struct sockaddr_in to;
			if (!wait_peer(nc, &to)) {
				errno = ECANCELED;
				return -1;
			}
			w = us_sendto(nc->st, nc->fd, p, len, 0, (struct sockaddr *)&to, sizeof to);
		} else {
			w = us_send(nc->st, nc->fd, p, len, 0);
		}
		if (w < 0)
			return -1;
		atomic_store(&nc->last_io_ns, mono_ns());
		return 0;
	}
	while (len > 0) {
		if (interrupted(nc)) {
			errno = ECANCELED;
			return -1;
		}
		ssize_t w = us_send(nc->st, nc->fd, p, len, 0);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		atomic_store(&nc->last_io_ns, mono_ns());
	}
	return 0;
}

/*
 * The input thread: stdin to the network until EOF, a send error or the
 * end of the session. TCP sends what each read returns; UDP sends one
 * datagram per line (a line longer than a datagram goes as several).
 */
static void *input_main(void *arg)
{
	struct nc *nc = arg;
	static char buf[DGRAM_MAX];     /* one input thread at a time */
	size_t have = 0;
	int err = 0;
	bool eof = false;
	for (;;) {
		ssize_t n = read_stdin(nc, buf + have, sizeof buf - have);
		if (n < 0)
			break;
		if (n == 0) {
			eof = true;
			if (have > 0 && send_all(nc, buf, have) < 0)
				err = errno;
			break;
		}
		if (!nc->udp) {
			if (send_all(nc, buf, (size_t)n) < 0) {
				err = errno;
				break;
			}
			continue;
		}
		have += (size_t)n;
		size_t start = 0;
		char *nl;
		while (!err && (nl = memchr(buf + start, '\n', have - start))) {
			size_t end = (size_t)(nl - buf) + 1;
			if (send_all(nc, buf + start, end - start) < 0)
				err = errno;
			start = end;
		}
		if (!err && start == 0 && have == sizeof buf) {
			if (send_all(nc, buf, have) < 0)
				err = errno;
			start = have;
		}
		if (err)
			break;
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	if (eof && !err && nc->shut_on_eof && !nc->udp)
		us_shutdown(nc->st, nc->fd, SHUT_WR);
	pthread_mutex_lock(&nc->lock);
	nc->in_done = true;
	nc->in_done_ns = mono_ns();
	nc->send_err = err == ECANCELED ? 0 : err;
	pthread_cond_broadcast(&nc->cond);
	pthread_mutex_unlock(&nc->lock);
	return NULL;
}

/* ---- the network side, in the main thread ---- */

/* All of buf to stdout; false if stdout is gone (EPIPE, closed, full disk). */
static bool write_stdout(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDOUT_FILENO, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Wait up to POLL_MS for the input thread or a signal (nothing to read). */
static void wait_input(struct nc *nc)
{
	struct timespec ts = poll_deadline();
	pthread_mutex_lock(&nc->lock);
	if (!nc->in_done && !atomic_load(&nc->signo))
		pthread_cond_timedwait(&nc->cond, &nc->lock, &ts);
	pthread_mutex_unlock(&nc->lock);
}

/* What one read from the network did. */
enum net_read { NR_MORE, NR_EOF, NR_OUT_GONE, NR_ERROR };

static enum net_read read_net(struct nc *nc, char *buf, size_t cap)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = us_recvfrom(nc->st, nc->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from,
				&fl);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return NR_MORE;
		fprintf(stderr, "usnc: read(net): %s\n", strerror(errno));
		return NR_ERROR;
	}
	if (n == 0 && !nc->udp)
		return NR_EOF;          /* the peer's FIN: reading is done, sending is not */
	atomic_store(&nc->last_io_ns, mono_ns());
	if (nc->udp && nc->listen) {
		pthread_mutex_lock(&nc->lock);
		bool first = !nc->have_peer;
		nc->peer = from;
		nc->have_peer = true;
		pthread_cond_broadcast(&nc->cond);
		pthread_mutex_unlock(&nc->lock);
		if (first && nc->verbose) {
			char a[INET_ADDRSTRLEN];
			fprintf(stderr, "Connection received on %s %u\n",
				inet_ntop(AF_INET, &from.sin_addr, a, sizeof a), ntohs(from.sin_port));
		}
	}
	return write_stdout(buf, (size_t)n) ? NR_MORE : NR_OUT_GONE;
}

/*
 * One session on nc->fd: copy both ways until they are done (nc's rules,
 * see the top of the file), a timeout, an error or a signal. 0 or 1.
 */
static int session(struct nc *nc)
{
	static char buf[DGRAM_MAX];
	atomic_store(&nc->stop, false);
	atomic_store(&nc->last_io_ns, mono_ns());
	pthread_mutex_lock(&nc->lock);
	nc->in_done = false;
	nc->send_err = 0;
	pthread_mutex_unlock(&nc->lock);
	if (!nc->udp) {
		/* Bounded sends: the input thread looks at nc->stop between them. */
		struct timeval tv = { .tv_usec = POLL_MS * 1000 };
		us_setsockopt(nc->st, nc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	pthread_t th;
	if (pthread_create(&th, NULL, input_main, nc) != 0) {
		fprintf(stderr, "usnc: cannot start the input thread\n");
		return 1;
	}
	bool net_in_done = false;
	int rc = 0;
	for (;;) {
		if (atomic_load(&nc->signo))
			break;
		pthread_mutex_lock(&nc->lock);
		bool in_done = nc->in_done;
		uint64_t in_done_ns = nc->in_done_ns;
		int serr = nc->send_err;
		pthread_mutex_unlock(&nc->lock);
		if (serr) {
			fprintf(stderr, "usnc: write(net): %s\n", strerror(serr));
			rc = 1;
			break;
		}
		/* Both directions done; or a listener whose client has closed. */
		if (net_in_done && (in_done || nc->listen))
			break;
		uint64_t now = mono_ns();
		if (in_done && nc->quit_s >= 0 && now - in_done_ns >= (uint64_t)nc->quit_s * NS_PER_S)
			break;
		if (nc->wait_s &&
		    now - atomic_load(&nc->last_io_ns) >= (uint64_t)nc->wait_s * NS_PER_S)
			break;
		if (net_in_done) {
			wait_input(nc);
			continue;
		}
		struct pollfd p = { .fd = nc->fd, .events = POLLIN };
		int r = us_poll(nc->st, &p, 1, POLL_MS);
		if (r < 0) {
			fprintf(stderr, "usnc: poll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (r == 0)
			continue;
		enum net_read nr = read_net(nc, buf, sizeof buf);
		if (nr == NR_ERROR) {
			rc = 1;
			break;
		}
		if (nr == NR_OUT_GONE && !nc->udp) {
			/* Nobody reads what comes: stop reading the connection too, as nc. */
			us_shutdown(nc->st, nc->fd, SHUT_RD);
		}
		if (nr != NR_MORE)
			net_in_done = true;
	}
	atomic_store(&nc->stop, true);
	pthread_mutex_lock(&nc->lock);
	pthread_cond_broadcast(&nc->cond);
	pthread_mutex_unlock(&nc->lock);
	pthread_join(th, NULL);
	return rc;
}

/*
 * Close a TCP connection at the end of a session. The stack lives in this
 * process, so it cannot go on delivering after exit as a kernel does for
 * nc: wait (bounded by SO_LINGER) until our data and FIN are acknowledged.
 * After a signal, close without waiting.
 */
static void close_conn(struct nc *nc, int fd)
{
	if (!nc->udp && !atomic_load(&nc->signo)) {
		struct linger l = { .l_onoff = 1, .l_linger = nc->wait_s ? nc->wait_s : LINGER_S };
		us_setsockopt(nc->st, fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	}
	us_close(nc->st, fd);
}

/* A socket bound to -s/-p when given (client); -1 after a message. */
static int client_socket(struct nc *nc, struct in_addr src)
{
	int fd = us_socket(nc->st, AF_INET, nc->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "usnc: socket: %s\n", strerror(errno));
		return -1;
	}
	if (nc->src_addr || nc->have_src_port) {
		int one = 1;
		us_setsockopt(nc->st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = src,
					 .sin_port = htons(nc->src_port) };
		if (us_bind(nc->st, fd, (struct sockaddr *)&a, sizeof a) < 0) {
			char ab[INET_ADDRSTRLEN];
			fprintf(stderr, "usnc: bind to %s port %u failed: %s\n",
				inet_ntop(AF_INET, &src, ab, sizeof ab), nc->src_port, strerror(errno));
			us_close(nc->st, fd);
			return -1;
		}
	}
	return fd;
}

/*
 * -zu, as nc's udptest: datagrams "X" once a second for -w SECS (default
 * UDP_SCAN_S); an ICMP port unreachable (ECONNREFUSED) means closed.
 * 0: open or filtered (no answer), -1: closed.
 */
static int udp_probe(struct nc *nc, int fd)
{
	uint64_t end = mono_ns() + (uint64_t)(nc->wait_s ? nc->wait_s : UDP_SCAN_S) * NS_PER_S;
	uint64_t next_send = 0;
	char b[64];
	for (uint64_t now = mono_ns(); now < end && !atomic_load(&nc->signo); now = mono_ns()) {
		if (now >= next_send) {
			if (us_send(nc->st, fd, "X", 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
				return -1;
			next_send = now + NS_PER_S;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (us_poll(nc->st, &p, 1, POLL_MS) <= 0)
			continue;
		if (us_recv(nc->st, fd, b, sizeof b, MSG_DONTWAIT) < 0) {
			if (errno == ECONNREFUSED)
				return -1;
		} else {
			return 0;       /* an answer: open */
		}
	}
	return 0;
}

static const char *service_name(const struct nc *nc, uint16_t port)
{
	if (nc->numeric)
		return "*";
	struct servent *se = getservbyport(htons(port), nc->udp ? "udp" : "tcp");
	return se ? se->s_name : "*";
}

/* Client: each port in turn. 0 if a port connected (and its session ended well). */
static int run_client(struct nc *nc)
{
	struct in_addr dst, src;
	if (resolve(nc, nc->host, &dst) < 0 || resolve(nc, nc->src_addr, &src) < 0)
		return 1;
	const char *proto = nc->udp ? "udp" : "tcp";
	int ret = 1;
	for (size_t i = 0; i < nc->nports && !atomic_load(&nc->signo); i++) {
		uint16_t port = nc->ports[i];
		int fd = client_socket(nc, src);
		if (fd < 0)
			return 1;
		if (nc->wait_s) {
			struct timeval tv = { .tv_sec = nc->wait_s };
			us_setsockopt(nc->st, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		}
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = dst,
					 .sin_port = htons(port) };
		int crc = us_connect(nc->st, fd, (struct sockaddr *)&a, sizeof a);
		if (crc == 0 && nc->udp && nc->zero_io && udp_probe(nc, fd) < 0) {
			crc = -1;
			errno = ECONNREFUSED;
		}
		if (crc < 0) {
			int e = errno == EINPROGRESS ? ETIMEDOUT : errno;
			if (nc->verbose || !nc->zero_io)
				fprintf(stderr, "usnc: connect to %s port %u (%s) failed: %s\n", nc->host,
					port, proto, strerror(e));
			us_close(nc->st, fd);
			continue;
		}
		if (nc->verbose)
			fprintf(stderr, "Connection to %s %u port [%s/%s] succeeded!\n", nc->host, port,
				proto, service_name(nc, port));
		if (nc->zero_io) {
			ret = 0;
			us_close(nc->st, fd);
			continue;
		}
		nc->fd = fd;
		ret = session(nc);
		close_conn(nc, fd);
	}
	return ret;
}

/* Listener, TCP or UDP. */
static int run_server(struct nc *nc)
{
	struct in_addr addr;
	if (resolve(nc, nc->host ? nc->host : nc->src_addr, &addr) < 0)
		return 1;
	int lfd = us_socket(nc->st, AF_INET, nc->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (lfd < 0) {
		fprintf(stderr, "usnc: socket: %s\n", strerror(errno));
		return 1;
	}
	int one = 1;
	us_setsockopt(nc->st, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = addr,
				 .sin_port = htons(nc->src_port) };
	char ab[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &addr, ab, sizeof ab);
	if (us_bind(nc->st, lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    (!nc->udp && us_listen(nc->st, lfd, 16) < 0)) {
		fprintf(stderr, "usnc: bind/listen on %s port %u: %s\n", ab, nc->src_port,
			strerror(errno));
		us_close(nc->st, lfd);
		return 1;
	}
	if (nc->udp) {
		if (nc->verbose)
			fprintf(stderr, "Bound on %s %u\n", ab, nc->src_port);
		nc->fd = lfd;
		int rc = session(nc);
		us_close(nc->st, lfd);
		return rc;
	}
	us_fcntl(nc->st, lfd, F_SETFL, O_NONBLOCK);
	if (nc->verbose)
		fprintf(stderr, "Listening on %s %u\n", ab, nc->src_port);
	int rc = 0;
	do {
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		int cfd = -1;
		while (cfd < 0) {
			if (atomic_load(&nc->signo)) {
				us_close(nc->st, lfd);
				return rc;
			}
			struct pollfd p = { .fd = lfd, .events = POLLIN };
			if (us_poll(nc->st, &p, 1, POLL_MS) < 0) {
				fprintf(stderr, "usnc: poll: %s\n", strerror(errno));
				us_close(nc->st, lfd);
				return 1;
			}
			cfd = us_accept(nc->st, lfd, (struct sockaddr *)&peer, &pl);
			if (cfd < 0 && errno != EAGAIN) {
				fprintf(stderr, "usnc: accept: %s\n", strerror(errno));
				us_close(nc->st, lfd);
				return 1;
			}
		}
		us_fcntl(nc->st, cfd, F_SETFL, 0);
		if (nc->verbose)
			fprintf(stderr, "Connection received on %s %u\n",
				inet_ntop(AF_INET, &peer.sin_addr, ab, sizeof ab), ntohs(peer.sin_port));
		if (!nc->keep) {
			us_close(nc->st, lfd);  /* one client, as nc: the next is refused */
			lfd = -1;
		}
		nc->fd = cfd;
		rc = session(nc);
		close_conn(nc, cfd);
	} while (nc->keep && !atomic_load(&nc->signo));
	if (lfd >= 0)
		us_close(nc->st, lfd);
	return rc;
}

static int parse_secs(const char *opt, const char *s, int min, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > 86400) {
		fprintf(stderr, "usnc: %s: invalid number of seconds: %s\n", opt, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Positional arguments and the option combinations nc refuses; -1 after a message. */
static int check_args(struct nc *nc, const char *pport, int nargs, char **args)
{
	if (nc->keep && !nc->listen) {
		fprintf(stderr, "usnc: must use -l with -k\n");
		return -1;
	}
	if (nc->listen && nc->zero_io) {
		fprintf(stderr, "usnc: cannot use -z and -l\n");
		return -1;
	}
	if (pport && !(nc->src_port = port_number(nc, pport)))
		return -1;
	nc->have_src_port = pport != NULL;
	if (nc->listen) {
		/* nc's forms: -p PORT [-s ADDR], PORT, or ADDR PORT. */
		if (nargs == 0 && pport) {
			nc->port_arg = pport;
			return 0;
		}
		if (pport || nc->src_addr || nargs < 1 || nargs > 2) {
			usage(stderr);
			return -1;
		}
		nc->host = nargs == 2 ? args[0] : NULL;
		nc->port_arg = args[nargs - 1];
		return (nc->src_port = port_number(nc, nc->port_arg)) ? 0 : -1;
	}
	if (nargs < 1) {
		usage(stderr);
		return -1;
	}
	if (nargs < 2) {
		fprintf(stderr, "usnc: missing port number\n");
		return -1;
	}
	nc->host = args[0];
	nc->port_arg = args[1];
	for (int i = 1; i < nargs; i++)
		if (add_ports(nc, args[i]) < 0)
			return -1;
	return 0;
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
	static struct nc nc = { .fd = -1, .quit_s = -1 };
	pthread_mutex_init(&nc.lock, NULL);
	pthread_cond_init(&nc.cond, NULL);
	const char *pport = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "46ulkNnzp:q:s:w:h", longopts,
				  NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return 1;
		if (r > 0) {
			if (opt == 'v')
				nc.verbose++;
			continue;
		}
		switch (opt) {
		case '4': break;
		case '6':
			fprintf(stderr, "usnc: -6: ustack speaks IPv4 only\n");
			return 1;
		case 'u': nc.udp = true; break;
		case 'l': nc.listen = true; break;
		case 'k': nc.keep = true; break;
		case 'N': nc.shut_on_eof = true; break;
		case 'n': nc.numeric = true; break;
		case 'z': nc.zero_io = true; break;
		case 'p': pport = optarg; break;
		case 's': nc.src_addr = optarg; break;
		case 'q':
			if (parse_secs("-q", optarg, -1, &nc.quit_s) < 0)
				return 1;
			break;
		case 'w':
			if (parse_secs("-w", optarg, 1, &nc.wait_s) < 0)
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	/* -v is netcat's messages; -vv adds the stack's frame trace. */
	cli.verbose = cli.verbose > 1;
	if (check_args(&nc, pport, argc - optind, argv + optind) < 0)
		return 1;
	if (us_cli_finish(&cli) < 0)
		return 1;
	/* Before any thread: every thread inherits the blocked signals, and
	 * only the signal thread takes SIGINT/SIGTERM. SIGPIPE stays blocked,
	 * so a closed stdout is an EPIPE from write(2), not a death. */
	us_cli_block_signals();
	pthread_t sig_th;
	if (pthread_create(&sig_th, NULL, signal_main, &nc) != 0) {
		fprintf(stderr, "usnc: cannot start the signal thread\n");
		return 1;
	}
	pthread_detach(sig_th);
	nc.st = us_cli_start(&cli);
	if (!nc.st)
		return 1;
	int rc = nc.listen ? run_server(&nc) : run_client(&nc);
	int sig = atomic_load(&nc.signo);
	if (sig)
		die_by_signal(sig);
	us_stack_free(nc.st);
	free(nc.ports);
	return rc;
}
