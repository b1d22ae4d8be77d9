/*
 * usperf — throughput, latency and memory measurements over ustack or,
 * with --kernel, over the kernel's own sockets, so that both sides of a
 * comparison are measured by the same code.
 *
 * Every socket call goes through one small table of operations (struct
 * net_ops): one bound to the stack (us_socket, us_send, ...), one bound
 * to libc. Nothing below the table knows which one it runs on.
 *
 * Protocol: each connection opens with a fixed 24-byte header (struct
 * wire_hdr, big-endian) saying the mode, the write length, the duration,
 * the direction and the buffer size, so one server serves every mode:
 *
 *   bulk  client -> server until the client shuts its side down; the
 *         server answers with a 16-byte trailer (bytes received, ns from
 *         its first byte to EOF). With -R the server sends for the
 *         duration and shuts its side down.
 *   rr    LEN bytes each way, repeated, TCP_NODELAY on both sides.
 *   crr   the header and 1 byte, 1 byte back, the server closes first
 *         (so TIME_WAIT stays on the server and the client's ports cycle).
 *   idle  nothing more; the server holds the connection until the client
 *         closes it.
 *
 * The server runs one poll loop (accepting, reading headers, crr, and
 * the idle connections) and one thread per bulk or rr connection, until
 * SIGINT or SIGTERM. Output follows iperf3 where they overlap, and every
 * client run ends with one machine-readable line:
 *   RESULT mode=bulk dir=send bytes=N secs=S mbps=X cpu_us=C
 *   RESULT mode=rr tps=X p50_us=Y p99_us=Z p999_us=W ... cpu_us=C
 *   RESULT mode=crr cps=X ... cpu_us=C
 * (cpu_us: this process's user + system CPU time over the timed part, all
 * its threads: with a stack, the stack's receive and timer threads too)
 *   RESULT mode=idle n=N rss_before_kb=A rss_after_kb=B per_conn_bytes=C ...
 *          hold_secs=H hold_cpu_us=U [timer_cpu_us=T timer_wakeups=W timer_fired=F
 *          timer_ops=O timers_armed=A]   (over the -t SECS hold; timer_*: a stack's
 *          timer thread, us_stack_timer_stats)
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools/common/cli.h"

#define DEFAULT_PORT 5301
#define HDR_LEN 24
#define HDR_MAGIC 0x55535046u           /* "USPF" */
#define HDR_VERSION 1
#define TRAILER_LEN 16
#define MAX_LEN (16u << 20)             /* largest -l */
#define MAX_WORKERS 256                 /* concurrent bulk/rr connections per server */
#define IO_TIMEOUT_S 2                  /* SO_RCVTIMEO/SO_SNDTIMEO on data sockets */
#define STALL_LIMIT_S 30                /* no progress this long is a failure */
#define HDR_TIMEOUT_NS (10ull * 1000000000ull)
#define CRR_MAX 1024                    /* largest crr request/response */
#define SIGNAL_CHECK_NS 250000000ull    /* how often a client looks for SIGINT */

enum mode { MODE_BULK = 1, MODE_RR, MODE_CRR, MODE_IDLE };
#define FLAG_REVERSE 0x1
#define FLAG_NODELAY 0x2

static const char *mode_name(int m)
{
	switch (m) {
	case MODE_BULK: return "bulk";
	case MODE_RR: return "rr";
	case MODE_CRR: return "crr";
	case MODE_IDLE: return "idle";
	default: return "?";
	}
}

/* ---- the operations table ---- */

/*
 * One backend's socket calls. ctx is the stack (NULL for libc). Every
 * function has its POSIX namesake's contract: -1 and errno on failure.
 */
struct net_ops {
	const char *name;
	int (*socket)(us_stack *st, int domain, int type, int proto);
	int (*bind)(us_stack *st, int fd, const struct sockaddr *a, socklen_t l);
	int (*listen)(us_stack *st, int fd, int backlog);
	int (*accept)(us_stack *st, int fd, struct sockaddr *a, socklen_t *l);
	int (*connect)(us_stack *st, int fd, const struct sockaddr *a, socklen_t l);
	ssize_t (*send)(us_stack *st, int fd, const void *b, size_t n, int flags);
	ssize_t (*recv)(us_stack *st, int fd, void *b, size_t n, int flags);
	int (*shutdown)(us_stack *st, int fd, int how);
	int (*close)(us_stack *st, int fd);
	int (*setsockopt)(us_stack *st, int fd, int lvl, int name, const void *v, socklen_t l);
	int (*poll)(us_stack *st, struct pollfd *p, nfds_t n, int ms);
	int (*set_nonblock)(us_stack *st, int fd, int on);
};

static int us_set_nonblock(us_stack *st, int fd, int on)
{
	int fl = us_fcntl(st, fd, F_GETFL, 0);
	if (fl < 0)
		return -1;
	return us_fcntl(st, fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

static const struct net_ops stack_ops = {
	.name = "ustack",
	.socket = us_socket,
	.bind = us_bind,
	.listen = us_listen,
	.accept = us_accept,
	.connect = us_connect,
	.send = us_send,
	.recv = us_recv,
	.shutdown = us_shutdown,
	.close = us_close,
	.setsockopt = us_setsockopt,
	.poll = us_poll,
	.set_nonblock = us_set_nonblock,
};

static int k_socket(us_stack *st, int d, int t, int p) { (void)st; return socket(d, t, p); }
static int k_bind(us_stack *st, int fd, const struct sockaddr *a, socklen_t l)
{
	(void)st;
	return bind(fd, a, l);
}
static int k_listen(us_stack *st, int fd, int b) { (void)st; return listen(fd, b); }
static int k_accept(us_stack *st, int fd, struct sockaddr *a, socklen_t *l)
{
	(void)st;
	return accept(fd, a, l);
}
static int k_connect(us_stack *st, int fd, const struct sockaddr *a, socklen_t l)
{
	(void)st;
	return connect(fd, a, l);
}
static ssize_t k_send(us_stack *st, int fd, const void *b, size_t n, int flags)
{
	(void)st;
	return send(fd, b, n, flags | MSG_NOSIGNAL);
}
static ssize_t k_recv(us_stack *st, int fd, void *b, size_t n, int flags)
{
	(void)st;
	return recv(fd, b, n, flags);
}
static int k_shutdown(us_stack *st, int fd, int how) { (void)st; return shutdown(fd, how); }
static int k_close(us_stack *st, int fd) { (void)st; return close(fd); }
static int k_setsockopt(us_stack *st, int fd, int lvl, int name, const void *v, socklen_t l)
{
	(void)st;
	return setsockopt(fd, lvl, name, v, l);
}
static int k_poll(us_stack *st, struct pollfd *p, nfds_t n, int ms)
{
	(void)st;
	return poll(p, n, ms);
}
static int k_set_nonblock(us_stack *st, int fd, int on)
{
	(void)st;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

static const struct net_ops kernel_ops = {
	.name = "kernel",
	.socket = k_socket,
	.bind = k_bind,
	.listen = k_listen,
	.accept = k_accept,
	.connect = k_connect,
	.send = k_send,
	.recv = k_recv,
	.shutdown = k_shutdown,
	.close = k_close,
	.setsockopt = k_setsockopt,
	.poll = k_poll,
	.set_nonblock = k_set_nonblock,
};

/* What every function below runs on. */
struct net {
	const struct net_ops *ops;
	us_stack *st;
};

#define N_(net, fn, ...) ((net)->ops->fn((net)->st, __VA_ARGS__))

/* ---- small helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* This process's user + system CPU time so far, all threads, in us. */
static uint64_t cpu_us(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* The connection header; wire layout in encode_hdr. */
struct wire_hdr {
	uint8_t mode;
	uint8_t flags;          /* FLAG_* */
	uint32_t len;           /* bytes per write (bulk) or per message (rr, crr) */
	uint32_t duration_ms;   /* bulk -R: how long the server sends */
	uint32_t bufsize;       /* SO_SNDBUF/SO_RCVBUF the server applies; 0: leave */
};

/*
 * 0 magic  4 version  5 mode  6 flags  7 zero  8 len  12 duration_ms
 * 16 bufsize  20 zero (4 bytes). All big-endian.
 */
static void encode_hdr(const struct wire_hdr *h, uint8_t out[HDR_LEN])
{
	memset(out, 0, HDR_LEN);
	put32(out, HDR_MAGIC);
	out[4] = HDR_VERSION;
	out[5] = h->mode;
	out[6] = h->flags;
	put32(out + 8, h->len);
	put32(out + 12, h->duration_ms);
	put32(out + 16, h->bufsize);
}

/* 0 if the header is one this server understands. */
static int decode_hdr(const uint8_t in[HDR_LEN], struct wire_hdr *h)
{
	if (get32(in) != HDR_MAGIC || in[4] != HDR_VERSION)
		return -1;
	h->mode = in[5];
	h->flags = in[6];
	h->len = get32(in + 8);
	h->duration_ms = get32(in + 12);
	h->bufsize = get32(in + 16);
	if (h->mode < MODE_BULK || h->mode > MODE_IDLE || h->len == 0 || h->len > MAX_LEN ||
	    (h->mode == MODE_CRR && h->len > CRR_MAX) || h->duration_ms > 86400000u)
		return -1;
	return 0;
}

/* Send all of buf; -1 on error, or when nothing moves for STALL_LIMIT_S. */
static int send_all(struct net *n, int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t last = now_ns();
	while (len) {
		ssize_t w = N_(n, send, fd, p, len, 0);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			if (now_ns() - last > STALL_LIMIT_S * 1000000000ull) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		p += w;
		len -= (size_t)w;
		last = now_ns();
	}
	return 0;
}

/* Receive exactly len bytes: 1 done, 0 EOF first, -1 error or stall. */
static int recv_all(struct net *n, int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t last = now_ns();
	while (len) {
		ssize_t r = N_(n, recv, fd, p, len, 0);
		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			if (now_ns() - last > STALL_LIMIT_S * 1000000000ull) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		p += r;
		len -= (size_t)r;
		last = now_ns();
	}
	return 1;
}

static void set_int(struct net *n, int fd, int lvl, int name, int v)
{
	N_(n, setsockopt, fd, lvl, name, &v, sizeof v);
}

static void set_timeouts(struct net *n, int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs };
	N_(n, setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	N_(n, setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int set_bufs(struct net *n, int fd, uint32_t bytes)
{
	if (!bytes)
		return 0;
	int v = (int)bytes;
	if (N_(n, setsockopt, fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) < 0 ||
	    N_(n, setsockopt, fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) < 0)
		return -1;
	return 0;
}

/* A "Name: N kB" line of /proc/self/status (VmRSS, VmSize), or -1. */
static long status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	size_t nl = strlen(name);
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, name, nl) && line[nl] == ':') {
			v = strtol(line + nl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * Kernel object memory in kB: the sum of active objects x object size over
 * /proc/slabinfo (root only), else Slab from /proc/meminfo; -1 if neither.
 * System-wide: with --kernel it counts both ends of a connection that
 * stays on this machine, and whatever else the machine is doing.
 */
static long kobj_kb(void)
{
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512];
	if (f) {
		double sum = 0;
		bool any = false;
		while (fgets(line, sizeof line, f)) {
			char name[128];
			unsigned long active, num, size;
			if (sscanf(line, "%127s %lu %lu %lu", name, &active, &num, &size) == 4) {
				sum += (double)active * (double)size;
				any = true;
			}
		}
		fclose(f);
		if (any)
			return (long)(sum / 1024.0);
	}
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* True once SIGINT or SIGTERM has arrived (they are blocked; we poll for them). */
static atomic_bool g_stop;

static bool stop_requested(void)
{
	if (atomic_load(&g_stop))
		return true;
	int sig = us_cli_wait_signal(0);
	if (sig == SIGINT || sig == SIGTERM)
		atomic_store(&g_stop, true);
	return atomic_load(&g_stop);
}

/* ---- latency histogram: log-linear, 32 sub-buckets per power of two (~3%) ---- */

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40                 /* values up to 2^40 ns (~18 min) */
#define HIST_N (2 * HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS - 1) * HIST_SUB)

struct hist {
	uint64_t count[HIST_N];
	uint64_t total;
	uint64_t min_ns, max_ns;
	double sum_ns;
};

static unsigned hist_index(uint64_t ns)
{
	if (ns < 2 * HIST_SUB)
		return (unsigned)ns;
	if (ns >= (1ull << HIST_MAX_EXP))
		return HIST_N - 1;
	unsigned k = 63u - (unsigned)__builtin_clzll(ns);        /* >= HIST_SUB_BITS + 1 */
	unsigned sub = (unsigned)(ns >> (k - HIST_SUB_BITS)) - HIST_SUB;
	return 2 * HIST_SUB + (k - HIST_SUB_BITS - 1) * HIST_SUB + sub;
}

/* The middle of bucket i, in ns. */
static double hist_value(unsigned i)
{
	if (i < 2 * HIST_SUB)
		return i;
	unsigned j = i - 2 * HIST_SUB;
	unsigned k = j / HIST_SUB + HIST_SUB_BITS + 1;
	uint64_t lo = (uint64_t)(HIST_SUB + j % HIST_SUB) << (k - HIST_SUB_BITS);
	return (double)lo + (double)(1ull << (k - HIST_SUB_BITS)) / 2.0;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	h->count[hist_index(ns)]++;
	if (!h->total || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->total++;
	h->sum_ns += (double)ns;
}

/* The p-th percentile (0 < p <= 1) in µs. */
static double hist_pct_us(const struct hist *h, double p)
{
	if (!h->total)
		return 0;
	uint64_t want = (uint64_t)ceil(p * (double)h->total), seen = 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h->count[i];
		if (seen >= want) {
			/* A bucket's middle may lie outside what was seen. */
			double v = hist_value(i);
			if (v > (double)h->max_ns)
				v = (double)h->max_ns;
			if (v < (double)h->min_ns)
				v = (double)h->min_ns;
			return v / 1000.0;
		}
	}
	return (double)h->max_ns / 1000.0;
}

/* ---- output in iperf3's words ---- */

static void fmt_bytes(double b, char *out, size_t n)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(out, n, "%6.2f GBytes", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(out, n, "%6.1f MBytes", b / (1024.0 * 1024));
	else
		snprintf(out, n, "%6.1f KBytes", b / 1024.0);
}

static void fmt_rate(double bits_per_s, char *out, size_t n)
{
	if (bits_per_s >= 1e9)
		snprintf(out, n, "%6.2f Gbits/sec", bits_per_s / 1e9);
	else if (bits_per_s >= 1e6)
		snprintf(out, n, "%6.1f Mbits/sec", bits_per_s / 1e6);
	else
		snprintf(out, n, "%6.1f Kbits/sec", bits_per_s / 1e3);
}

static void print_interval(int id, double t0, double t1, double bytes, const char *tail)
{
	char b[32], r[32];
	fmt_bytes(bytes, b, sizeof b);
	fmt_rate(t1 > t0 ? bytes * 8 / (t1 - t0) : 0, r, sizeof r);
	printf("[%3d] %6.2f-%-6.2f sec  %s  %s%s\n", id, t0, t1, b, r, tail);
}

/* ---- options ---- */

struct opts {
	bool server, kernel, reverse, nodelay;
	const char *host;
	uint16_t port;
	double secs;            /* -t */
	bool secs_set;
	double interval;        /* -i: 0 = no interval lines */
	int mode;
	uint32_t len;           /* 0: the mode's default */
	long n;                 /* idle: connections */
	uint32_t bufsize;       /* client --bufsize */
	uint32_t listen_bufsize;/* server -b */
	const char *congestion; /* client --congestion: TCP_CONGESTION, NULL: the default */
	uint32_t spread;        /* idle --spread K: K local addresses in turn (0, 1: one) */
	const char *from;       /* idle --from ADDR: bind connection i to ADDR + i mod K */
};

/* ---- server ---- */

struct worker {
	pthread_t th;
	atomic_bool busy;       /* slot taken; the thread clears done when finished */
	atomic_bool done;
	int fd;
	uint64_t id;
	struct wire_hdr h;
	char peer[32];
	struct net *net;
};

struct pend {                   /* a connection whose header is not in yet */
	int fd;
	uint64_t id;
	uint64_t since_ns;
	uint8_t buf[HDR_LEN];
	unsigned have;
	bool crr_wait;          /* crr: header in, waiting for the request */
	unsigned crr_got;       /* crr: request bytes in so far */
	struct wire_hdr h;
	char peer[32];
};

struct server {
	struct net *net;
	const struct opts *o;
	int lfd;
	struct pend *pend;
	size_t npend, cappend;
	int *idle;
	size_t nidle, capidle;
	struct worker workers[MAX_WORKERS];
	uint64_t next_id;
	uint64_t crr_done;
};

static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;  /* one line at a time on stdout */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&g_out);
	vprintf(fmt, ap);
	fflush(stdout);
	pthread_mutex_unlock(&g_out);
	va_end(ap);
}

static void worker_bulk_recv(struct worker *w, uint8_t *buf, size_t cap)
{
	struct net *n = w->net;
	uint64_t bytes = 0, t0 = 0, last = now_ns();
	for (;;) {
		ssize_t r = N_(n, recv, w->fd, buf, cap, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if ((errno == EAGAIN || errno == EINTR) && !atomic_load(&g_stop) &&
			    now_ns() - last < STALL_LIMIT_S * 1000000000ull)
				continue;
			say("[%3" PRIu64 "] recv: %s\n", w->id, strerror(errno));
			return;
		}
		last = now_ns();
		if (!t0)
			t0 = last;
		bytes += (uint64_t)r;
	}
	uint64_t el = t0 ? now_ns() - t0 : 0;
	uint8_t tr[TRAILER_LEN];
	put64(tr, bytes);
	put64(tr + 8, el);
	if (send_all(n, w->fd, tr, sizeof tr) < 0)
		say("[%3" PRIu64 "] sending the trailer: %s\n", w->id, strerror(errno));
	double s = (double)el / 1e9;
	say("[%3" PRIu64 "] bulk from %s: received %" PRIu64 " bytes in %.2f s (%.1f Mbit/s)\n",
	    w->id, w->peer, bytes, s, s > 0 ? (double)bytes * 8 / s / 1e6 : 0.0);
}

static void worker_bulk_send(struct worker *w, uint8_t *buf, size_t len)
{
	struct net *n = w->net;
	uint64_t bytes = 0, t0 = now_ns(), end = t0 + (uint64_t)w->h.duration_ms * 1000000ull;
	while (now_ns() < end && !atomic_load(&g_stop)) {
		if (send_all(n, w->fd, buf, len) < 0) {
			say("[%3" PRIu64 "] send: %s\n", w->id, strerror(errno));
			return;
		}
		bytes += len;
	}
	N_(n, shutdown, w->fd, SHUT_WR);
	/* Wait for the client to close (bounded): our FIN goes after the data. */
	for (int i = 0; i < STALL_LIMIT_S / IO_TIMEOUT_S; i++) {
		ssize_t r = N_(n, recv, w->fd, buf, len, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			break;
	}
	double s = (double)(now_ns() - t0) / 1e9;
	say("[%3" PRIu64 "] bulk to %s: sent %" PRIu64 " bytes in %.2f s (%.1f Mbit/s)\n", w->id,
	    w->peer, bytes, s, s > 0 ? (double)bytes * 8 / s / 1e6 : 0.0);
}

static void worker_rr(struct worker *w, uint8_t *buf, size_t len)
{
	struct net *n = w->net;
	uint64_t count = 0;
	for (;;) {
		int r = recv_all(n, w->fd, buf, len);
		if (r == 0)
			break;
		if (r < 0) {
			if (!atomic_load(&g_stop))
				say("[%3" PRIu64 "] recv: %s\n", w->id, strerror(errno));
			return;
		}
		if (send_all(n, w->fd, buf, len) < 0) {
			say("[%3" PRIu64 "] send: %s\n", w->id, strerror(errno));
			return;
		}
		count++;
	}
	say("[%3" PRIu64 "] rr with %s: %" PRIu64 " transactions of %u bytes\n", w->id, w->peer,
	    count, w->h.len);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t cap = w->h.len < 65536 ? 65536 : w->h.len;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		say("[%3" PRIu64 "] out of memory\n", w->id);
	} else {
		memset(buf, 0xa5, cap);
		if (w->h.mode == MODE_RR)
			worker_rr(w, buf, w->h.len);
		else if (w->h.flags & FLAG_REVERSE)
			worker_bulk_send(w, buf, w->h.len);
		else
			worker_bulk_recv(w, buf, cap);
	}
	free(buf);
	N_(w->net, close, w->fd);
	atomic_store(&w->done, true);
	return NULL;
}

static void fmt_peer(const struct sockaddr_in *a, char *out, size_t n)
{
	char ab[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a->sin_addr, ab, sizeof ab);
	snprintf(out, n, "%s:%u", ab, ntohs(a->sin_port));
}

/* Join workers that have finished. */
static void reap_workers(struct server *sv)
{
	for (int i = 0; i < MAX_WORKERS; i++) {
		struct worker *w = &sv->workers[i];
		if (atomic_load(&w->busy) && atomic_load(&w->done)) {
			pthread_join(w->th, NULL);
			atomic_store(&w->busy, false);
		}
	}
}

static void start_worker(struct server *sv, struct pend *p)
{
	struct net *n = sv->net;
	struct worker *w = NULL;
	reap_workers(sv);
	for (int i = 0; i < MAX_WORKERS && !w; i++)
		if (!atomic_load(&sv->workers[i].busy))
			w = &sv->workers[i];
	if (!w) {
		say("[%3" PRIu64 "] more than %d busy connections: refused\n", p->id, MAX_WORKERS);
		N_(n, close, p->fd);
		return;
	}
	N_(n, set_nonblock, p->fd, 0);
	set_timeouts(n, p->fd, IO_TIMEOUT_S);
	if (p->h.mode == MODE_RR || (p->h.flags & FLAG_NODELAY))
		set_int(n, p->fd, IPPROTO_TCP, TCP_NODELAY, 1);
	w->fd = p->fd;
	w->id = p->id;
	w->h = p->h;
	w->net = n;
	snprintf(w->peer, sizeof w->peer, "%s", p->peer);
	atomic_store(&w->done, false);
	atomic_store(&w->busy, true);
	if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
		say("[%3" PRIu64 "] cannot start a thread\n", p->id);
		atomic_store(&w->busy, false);
		N_(n, close, p->fd);
	}
}

static int add_idle(struct server *sv, int fd)
{
	if (sv->nidle == sv->capidle) {
		size_t c = sv->capidle ? sv->capidle * 2 : 1024;
		int *p = realloc(sv->idle, c * sizeof *p);
		if (!p)
			return -1;
		sv->idle = p;
		sv->capidle = c;
	}
	sv->idle[sv->nidle++] = fd;
	return 0;
}

/*
 * Advance one pending connection: read the rest of its header, then act
 * on it. Returns true when the connection has left the pending set
 * (handed on, answered or closed).
 */
static bool pend_step(struct server *sv, struct pend *p)
{
	struct net *n = sv->net;
	if (!p->crr_wait) {
		ssize_t r = N_(n, recv, p->fd, p->buf + p->have, HDR_LEN - p->have, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			N_(n, close, p->fd);
			return true;
		}
		if (r < 0)
			return false;
		p->have += (unsigned)r;
		if (p->have < HDR_LEN)
			return false;
		if (decode_hdr(p->buf, &p->h) < 0) {
			say("[%3" PRIu64 "] %s: not a usperf header; closed\n", p->id, p->peer);
			N_(n, close, p->fd);
			return true;
		}
		if (p->h.bufsize && set_bufs(n, p->fd, p->h.bufsize) < 0)
			say("[%3" PRIu64 "] SO_SNDBUF/SO_RCVBUF %u: %s\n", p->id, p->h.bufsize,
			    strerror(errno));
		switch (p->h.mode) {
		case MODE_IDLE:
			if (add_idle(sv, p->fd) < 0)
				N_(n, close, p->fd);
			return true;
		case MODE_CRR:
			p->crr_wait = true;
			break;
		default:
			start_worker(sv, p);
			return true;
		}
	}
	/*
	 * crr: the request (len bytes, normally 1), as many back, and we close
	 * first. The request's content does not matter: it is not kept.
	 */
	static uint8_t b[CRR_MAX];
	ssize_t r = N_(n, recv, p->fd, b, p->h.len - p->crr_got, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (r > 0) {
		p->crr_got += (unsigned)r;
		if (p->crr_got < p->h.len)
			return false;
		/* At most CRR_MAX bytes into an empty send buffer: it fits. */
		memset(b, 0xa5, p->h.len);
		if (N_(n, send, p->fd, b, p->h.len, MSG_DONTWAIT) == (ssize_t)p->h.len)
			sv->crr_done++;
	}
	N_(n, close, p->fd);
	return true;
}

/* Look at the idle connections without waiting; close those the client closed. */
static void idle_sweep(struct server *sv)
{
	struct net *n = sv->net;
	if (!sv->nidle)
		return;
	struct pollfd *pf = calloc(sv->nidle, sizeof *pf);
	if (!pf)
		return;
	for (size_t i = 0; i < sv->nidle; i++) {
		pf[i].fd = sv->idle[i];
		pf[i].events = POLLIN;
	}
	if (N_(n, poll, pf, sv->nidle, 0) > 0) {
		size_t keep = 0;
		for (size_t i = 0; i < sv->nidle; i++) {
			bool gone = false;
			if (pf[i].revents) {
				uint8_t b[256];
				ssize_t r = N_(n, recv, sv->idle[i], b, sizeof b, 0);
				gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
			}
			if (gone)
				N_(n, close, sv->idle[i]);
			else
				sv->idle[keep++] = sv->idle[i];
		}
		sv->nidle = keep;
	}
	free(pf);
}

static int run_server(struct net *n, const struct opts *o)
{
	static struct server sv;
	sv.net = n;
	sv.o = o;
	sv.lfd = N_(n, socket, AF_INET, SOCK_STREAM, 0);
	if (sv.lfd < 0) {
		fprintf(stderr, "usperf: socket: %s\n", strerror(errno));
		return 1;
	}
	set_int(n, sv.lfd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (o->listen_bufsize && set_bufs(n, sv.lfd, o->listen_bufsize) < 0) {
		fprintf(stderr, "usperf: -b %u: %s\n", o->listen_bufsize, strerror(errno));
		return 1;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(o->port) };
	if (N_(n, bind, sv.lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    N_(n, listen, sv.lfd, 4096) < 0 || N_(n, set_nonblock, sv.lfd, 1) < 0) {
		fprintf(stderr, "usperf: bind/listen on port %u: %s\n", o->port, strerror(errno));
		return 1;
	}
	say("Server listening on %u (%s)\n", o->port, n->ops->name);
	uint64_t last_sweep = 0;
	struct pollfd *pf = NULL;
	size_t cappf = 0;
	int rc = 0;
	while (!stop_requested()) {
		if (cappf < sv.npend + 1) {
			size_t c = (sv.npend + 1) * 2;
			struct pollfd *np = realloc(pf, c * sizeof *np);
			if (!np) {
				fprintf(stderr, "usperf: out of memory\n");
				rc = 1;
				break;
			}
			pf = np;
			cappf = c;
		}
		pf[0] = (struct pollfd){ .fd = sv.lfd, .events = POLLIN };
		for (size_t i = 0; i < sv.npend; i++)
			pf[i + 1] = (struct pollfd){ .fd = sv.pend[i].fd, .events = POLLIN };
		size_t npf = sv.npend + 1;
		int r = N_(n, poll, pf, npf, 100);
		if (r < 0 && errno != EINTR) {
			if (errno == ESHUTDOWN)
				break;
			fprintf(stderr, "usperf: poll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		uint64_t t = now_ns();
		/* Pending connections first (pf[i+1] matches sv.pend[i] until we compact). */
		size_t keep = 0;
		for (size_t i = 0; i < sv.npend; i++) {
			struct pend *p = &sv.pend[i];
			bool left = false;
			if (r > 0 && pf[i + 1].revents)
				left = pend_step(&sv, p);
			else if (t - p->since_ns > HDR_TIMEOUT_NS) {
				say("[%3" PRIu64 "] %s: no header in 10 s; closed\n", p->id, p->peer);
				N_(n, close, p->fd);
				left = true;
			}
			if (!left)
				sv.pend[keep++] = *p;
		}
		sv.npend = keep;
		if (r > 0 && pf[0].revents) {
			for (int k = 0; k < 256; k++) {
				struct sockaddr_in peer;
				socklen_t pl = sizeof peer;
				int fd = N_(n, accept, sv.lfd, (struct sockaddr *)&peer, &pl);
				if (fd < 0) {
					if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
						say("accept: %s\n", strerror(errno));
					break;
				}
				N_(n, set_nonblock, fd, 1);
				struct pend p = { .fd = fd, .id = ++sv.next_id, .since_ns = t };
				fmt_peer(&peer, p.peer, sizeof p.peer);
				if (pend_step(&sv, &p))
					continue;
				if (sv.npend == sv.cappend) {
					size_t c = sv.cappend ? sv.cappend * 2 : 64;
					struct pend *np = realloc(sv.pend, c * sizeof *np);
					if (!np) {
						N_(n, close, fd);
						continue;
					}
					sv.pend = np;
					sv.cappend = c;
				}
				sv.pend[sv.npend++] = p;
			}
		}
		if (t - last_sweep > 250000000ull) {
			idle_sweep(&sv);
			reap_workers(&sv);
			last_sweep = t;
		}
	}
	atomic_store(&g_stop, true);
	/* Workers see g_stop within IO_TIMEOUT_S; shutting their sockets down hurries them. */
	for (int i = 0; i < MAX_WORKERS; i++)
		if (atomic_load(&sv.workers[i].busy) && !atomic_load(&sv.workers[i].done))
			N_(n, shutdown, sv.workers[i].fd, SHUT_RDWR);
	for (int i = 0; i < MAX_WORKERS; i++)
		if (atomic_load(&sv.workers[i].busy)) {
			pthread_join(sv.workers[i].th, NULL);
			atomic_store(&sv.workers[i].busy, false);
		}
	for (size_t i = 0; i < sv.npend; i++)
		N_(n, close, sv.pend[i].fd);
	for (size_t i = 0; i < sv.nidle; i++)
		N_(n, close, sv.idle[i]);
	N_(n, close, sv.lfd);
	if (sv.crr_done)
		say("crr: answered %" PRIu64 " connections\n", sv.crr_done);
	free(pf);
	free(sv.pend);
	free(sv.idle);
	return rc;
}

/* ---- client ---- */

struct client {
	struct net *net;
	const struct opts *o;
	struct sockaddr_in to;
	struct sockaddr_in from; /* bound before connect when sin_family is set */
};

/* A connected socket with the options of this run, or -1 after a message. */
static int dial(struct client *c, bool quiet_errors)
{
	struct net *n = c->net;
	int fd = N_(n, socket, AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		if (!quiet_errors)
			fprintf(stderr, "usperf: socket: %s\n", strerror(errno));
		return -1;
	}
	if (set_bufs(n, fd, c->o->bufsize) < 0) {
		fprintf(stderr, "usperf: --bufsize %u: %s\n", c->o->bufsize, strerror(errno));
		N_(n, close, fd);
		return -1;
	}
	if (c->o->congestion && N_(n, setsockopt, fd, IPPROTO_TCP, TCP_CONGESTION, c->o->congestion,
				  (socklen_t)strlen(c->o->congestion)) < 0) {
		fprintf(stderr, "usperf: --congestion %s: %s\n", c->o->congestion, strerror(errno));
		N_(n, close, fd);
		return -1;
	}
	if (c->from.sin_family &&
	    N_(n, bind, fd, (struct sockaddr *)&c->from, sizeof c->from) < 0) {
		int e = errno;
		N_(n, close, fd);
		errno = e;
		return -1;
	}
	set_timeouts(n, fd, 10);       /* bounds connect as well */
	if (N_(n, connect, fd, (struct sockaddr *)&c->to, sizeof c->to) < 0) {
		int e = errno == EINPROGRESS ? ETIMEDOUT : errno;
		if (!quiet_errors) {
			char pb[32];
			fmt_peer(&c->to, pb, sizeof pb);
			fprintf(stderr, "usperf: connect to %s: %s\n", pb, strerror(e));
		}
		N_(n, close, fd);
		errno = e;
		return -1;
	}
	set_timeouts(n, fd, IO_TIMEOUT_S);
	return fd;
}

static void make_hdr(const struct client *c, uint8_t out[HDR_LEN])
{
	const struct opts *o = c->o;
	struct wire_hdr h = {
		.mode = (uint8_t)o->mode,
		.flags = (uint8_t)((o->reverse ? FLAG_REVERSE : 0) | (o->nodelay ? FLAG_NODELAY : 0)),
		.len = o->len,
		.duration_ms = (uint32_t)(o->secs * 1000.0 + 0.5),
		.bufsize = o->bufsize,
	};
	encode_hdr(&h, out);
}

static void print_connected(struct client *c)
{
	char pb[32];
	fmt_peer(&c->to, pb, sizeof pb);
	printf("Connecting to host %s (%s, %s)\n", pb, c->net->ops->name, mode_name(c->o->mode));
}

/* True when SIGINT/SIGTERM came; looks at most every SIGNAL_CHECK_NS. */
static bool interrupted(uint64_t now, uint64_t *next_check)
{
	if (now < *next_check)
		return false;
	*next_check = now + SIGNAL_CHECK_NS;
	return stop_requested();
}

static int client_bulk(struct client *c)
{
	struct net *n = c->net;
	const struct opts *o = c->o;
	int id = 5;
	print_connected(c);
	int fd = dial(c, false);
	if (fd < 0)
		return 1;
	if (o->nodelay)
		set_int(n, fd, IPPROTO_TCP, TCP_NODELAY, 1);
	uint8_t hdr[HDR_LEN];
	make_hdr(c, hdr);
	size_t cap = o->len;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		fprintf(stderr, "usperf: out of memory\n");
		N_(n, close, fd);
		return 1;
	}
	memset(buf, 0x5a, cap);
	if (send_all(n, fd, hdr, sizeof hdr) < 0) {
		fprintf(stderr, "usperf: sending the header: %s\n", strerror(errno));
		goto fail;
	}
	printf("[ ID] Interval           Transfer     Bitrate\n");
	uint64_t c0 = cpu_us();
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o->secs * 1e9);
	uint64_t step = (uint64_t)(o->interval * 1e9), next = step ? t0 + step : UINT64_MAX;
	uint64_t next_check = 0;        /* when to look for SIGINT next */
	uint64_t bytes = 0, ibytes = 0, last_progress = t0;
	double it0 = 0;
	int rc = 1;
	if (!o->reverse) {
		while (now_ns() < end) {
			ssize_t w = N_(n, send, fd, buf, cap, 0);
			uint64_t t = now_ns();
			if (w < 0) {
				if ((errno == EAGAIN || errno == EINTR) &&
				    t - last_progress < STALL_LIMIT_S * 1000000000ull)
					continue;
				fprintf(stderr, "usperf: send: %s\n", strerror(errno));
				goto fail;
			}
			bytes += (uint64_t)w;
			ibytes += (uint64_t)w;
			last_progress = t;
			if (t >= next) {
				double it1 = (double)(t - t0) / 1e9;
				print_interval(id, it0, it1, (double)ibytes, "");
				it0 = it1;
				ibytes = 0;
				next += step;
			}
			if (interrupted(t, &next_check))
				break;
		}
		uint64_t sent_ns = now_ns() - t0;
		N_(n, shutdown, fd, SHUT_WR);
		uint8_t tr[TRAILER_LEN];
		int r = recv_all(n, fd, tr, sizeof tr);
		if (r <= 0) {
			fprintf(stderr, "usperf: no trailer from the server: %s\n",
				r == 0 ? "it closed first" : strerror(errno));
			goto fail;
		}
		uint64_t got = get64(tr);
		double secs = (double)(now_ns() - t0) / 1e9;
		printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
		printf("[ ID] Interval           Transfer     Bitrate\n");
		print_interval(id, 0, (double)sent_ns / 1e9, (double)bytes, "   sender");
		print_interval(id, 0, secs, (double)got, "   receiver");
		if (got != bytes)
			fprintf(stderr, "usperf: sent %" PRIu64 " bytes but the server counted %" PRIu64 "\n",
				bytes, got);
		else
			rc = 0;
		printf("RESULT mode=bulk dir=send bytes=%" PRIu64 " secs=%.3f mbps=%.2f cpu_us=%" PRIu64
		       "\n", got, secs, secs > 0 ? (double)got * 8 / secs / 1e6 : 0.0, cpu_us() - c0);
	} else {
		for (;;) {
			ssize_t r = N_(n, recv, fd, buf, cap, 0);
			uint64_t t = now_ns();
			if (r == 0)
				break;
			if (r < 0) {
				if ((errno == EAGAIN || errno == EINTR) &&
				    t - last_progress < STALL_LIMIT_S * 1000000000ull && !stop_requested())
					continue;
				fprintf(stderr, "usperf: recv: %s\n", strerror(errno));
				goto fail;
			}
			bytes += (uint64_t)r;
			ibytes += (uint64_t)r;
			last_progress = t;
			if (t >= next) {
				double it1 = (double)(t - t0) / 1e9;
				print_interval(id, it0, it1, (double)ibytes, "");
				it0 = it1;
				ibytes = 0;
				next += step;
			}
			if (interrupted(t, &next_check))
				break;
		}
		double secs = (double)(now_ns() - t0) / 1e9;
		printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
		printf("[ ID] Interval           Transfer     Bitrate\n");
		print_interval(id, 0, secs, (double)bytes, "   receiver");
		printf("RESULT mode=bulk dir=recv bytes=%" PRIu64 " secs=%.3f mbps=%.2f cpu_us=%" PRIu64
		       "\n", bytes, secs, secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0, cpu_us() - c0);
		rc = bytes > 0 ? 0 : 1;
	}
	free(buf);
	N_(n, close, fd);
	return rc;
fail:
	free(buf);
	N_(n, close, fd);
	return 1;
}

static int client_rr(struct client *c)
{
	struct net *n = c->net;
	const struct opts *o = c->o;
	int id = 5;
	print_connected(c);
	static struct hist h;
	memset(&h, 0, sizeof h);
	int fd = dial(c, false);
	if (fd < 0)
		return 1;
	set_int(n, fd, IPPROTO_TCP, TCP_NODELAY, 1);
	uint8_t hdr[HDR_LEN];
	make_hdr(c, hdr);
	uint8_t *buf = malloc(o->len);
	if (!buf) {
		N_(n, close, fd);
		return 1;
	}
	memset(buf, 0x5a, o->len);
	if (send_all(n, fd, hdr, sizeof hdr) < 0) {
		fprintf(stderr, "usperf: sending the header: %s\n", strerror(errno));
		free(buf);
		N_(n, close, fd);
		return 1;
	}
	printf("[ ID] Interval           Transactions  Rate\n");
	uint64_t c0 = cpu_us();
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o->secs * 1e9);
	uint64_t step = (uint64_t)(o->interval * 1e9), next = step ? t0 + step : UINT64_MAX;
	uint64_t next_check = 0;        /* when to look for SIGINT next */
	uint64_t icount = 0, t = t0;
	double it0 = 0;
	int rc = 0;
	while (t < end) {
		uint64_t s = t;
		if (send_all(n, fd, buf, o->len) < 0) {
			fprintf(stderr, "usperf: send: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		int r = recv_all(n, fd, buf, o->len);
		if (r <= 0) {
			fprintf(stderr, "usperf: recv: %s\n", r == 0 ? "the server closed" : strerror(errno));
			rc = 1;
			break;
		}
		t = now_ns();
		hist_add(&h, t - s);
		icount++;
		if (t >= next) {
			double it1 = (double)(t - t0) / 1e9;
			printf("[%3d] %6.2f-%-6.2f sec  %10" PRIu64 "    %.0f trans/sec\n", id, it0, it1,
			       icount, (double)icount / (it1 - it0));
			it0 = it1;
			icount = 0;
			next += step;
		}
		if (interrupted(t, &next_check))
			break;
	}
	double secs = (double)(t - t0) / 1e9;
	uint64_t cpu = cpu_us() - c0;
	free(buf);
	N_(n, close, fd);
	if (rc)
		return rc;
	double tps = secs > 0 ? (double)h.total / secs : 0;
	printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
	printf("%" PRIu64 " transactions of %u byte(s) in %.2f s: %.0f trans/sec; latency us "
	       "min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f mean %.1f\n",
	       h.total, o->len, secs, tps, (double)h.min_ns / 1e3, hist_pct_us(&h, 0.50),
	       hist_pct_us(&h, 0.90), hist_pct_us(&h, 0.99), hist_pct_us(&h, 0.999),
	       (double)h.max_ns / 1e3, h.total ? h.sum_ns / (double)h.total / 1e3 : 0.0);
	printf("RESULT mode=rr tps=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f len=%u n=%"
	       PRIu64 " secs=%.3f cpu_us=%" PRIu64 "\n", tps, hist_pct_us(&h, 0.50),
	       hist_pct_us(&h, 0.99), hist_pct_us(&h, 0.999), (double)h.max_ns / 1e3, o->len,
	       h.total, secs, cpu);
	return h.total ? 0 : 1;
}

/*
 * One crr exchange: connect, the header and the request in one write (one
 * segment), the response, the server's FIN, close. 0, or -1 after a message.
 */
static int crr_once(struct client *c, const uint8_t *msg, uint8_t *back)
{
	struct net *n = c->net;
	uint32_t len = c->o->len;
	int fd = dial(c, false);
	if (fd < 0)
		return -1;
	if (send_all(n, fd, msg, HDR_LEN + len) < 0) {
		fprintf(stderr, "usperf: send: %s\n", strerror(errno));
		N_(n, close, fd);
		return -1;
	}
	int r = recv_all(n, fd, back, len);
	if (r > 0) {
		/* The server closes first: wait for its FIN so TIME_WAIT is its. */
		uint8_t x;
		r = recv_all(n, fd, &x, 1) == 0 ? 1 : -1;
	}
	N_(n, close, fd);
	if (r <= 0) {
		fprintf(stderr, "usperf: crr exchange: %s\n",
			r == 0 ? "the server closed early" : strerror(errno));
		return -1;
	}
	return 0;
}

static int client_crr(struct client *c)
{
	const struct opts *o = c->o;
	int id = 5;
	print_connected(c);
	static struct hist h;
	memset(&h, 0, sizeof h);
	uint8_t *msg = malloc(HDR_LEN + o->len), *back = malloc(o->len + 1);
	if (!msg || !back) {
		free(msg);
		free(back);
		return 1;
	}
	make_hdr(c, msg);
	memset(msg + HDR_LEN, 0x5a, o->len);
	/*
	 * One exchange before the clock starts, as bulk and rr connect before
	 * it: the first connection also pays for ARP and cold caches.
	 */
	if (crr_once(c, msg, back) < 0) {
		free(msg);
		free(back);
		return 1;
	}
	printf("[ ID] Interval           Connections   Rate\n");
	uint64_t c0 = cpu_us();
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o->secs * 1e9);
	uint64_t step = (uint64_t)(o->interval * 1e9), next = step ? t0 + step : UINT64_MAX;
	uint64_t next_check = 0;        /* when to look for SIGINT next */
	uint64_t icount = 0, t = t0;
	double it0 = 0;
	int rc = 0;
	while (t < end) {
		uint64_t s = t;
		if (crr_once(c, msg, back) < 0) {
			rc = 1;
			break;
		}
		t = now_ns();
		hist_add(&h, t - s);
		icount++;
		if (t >= next) {
			double it1 = (double)(t - t0) / 1e9;
			printf("[%3d] %6.2f-%-6.2f sec  %10" PRIu64 "    %.0f conn/sec\n", id, it0, it1,
			       icount, (double)icount / (it1 - it0));
			it0 = it1;
			icount = 0;
			next += step;
		}
		if (interrupted(t, &next_check))
			break;
	}
	uint64_t cpu = cpu_us() - c0;
	free(msg);
	free(back);
	if (rc)
		return rc;
	double secs = (double)(t - t0) / 1e9;
	double cps = secs > 0 ? (double)h.total / secs : 0;
	printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n");
	printf("%" PRIu64 " connections in %.2f s: %.0f conn/sec; time per connection us "
	       "p50 %.1f p99 %.1f max %.1f\n",
	       h.total, secs, cps, hist_pct_us(&h, 0.50), hist_pct_us(&h, 0.99),
	       (double)h.max_ns / 1e3);
	printf("RESULT mode=crr cps=%.1f p50_us=%.1f p99_us=%.1f n=%" PRIu64 " secs=%.3f cpu_us=%" PRIu64
	       "\n", cps, hist_pct_us(&h, 0.50), hist_pct_us(&h, 0.99), h.total, secs, cpu);
	return h.total ? 0 : 1;
}

/* Why an idle connection could not be opened, in words ("" if no idea). */
static const char *idle_hint(int err, bool stack)
{
	switch (err) {
	case EMFILE:
	case ENFILE:
		return stack ? " (the stack's descriptor table is full: stack.max_sockets)"
			     : " (descriptor limit: ulimit -n)";
	case EADDRNOTAVAIL:
		return " (no free local port)";
	case ENOBUFS:
	case ENOMEM:
		return " (out of memory)";
	default:
		return "";
	}
}

static const char *errno_name(int err)
{
	switch (err) {
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENOBUFS: return "ENOBUFS";
	case ENOMEM: return "ENOMEM";
	case EINTR: return "EINTR";
	default: return "other";
	}
}

static int client_idle(struct client *c)
{
	struct net *n = c->net;
	const struct opts *o = c->o;
	print_connected(c);
	int *fds = malloc((size_t)o->n * sizeof *fds);
	if (!fds) {
		fprintf(stderr, "usperf: out of memory\n");
		return 1;
	}
	uint8_t hdr[HDR_LEN];
	make_hdr(c, hdr);
	/*
	 * The kernel frees sockets of an earlier run lazily (RCU): let its
	 * object memory settle (two readings 0.5 s apart within 1 MB; at most
	 * 5 s) so that the figure after is not mixed with that.
	 */
	long kbefore = kobj_kb();
	for (int i = 0; i < 10 && kbefore >= 0; i++) {
		struct timespec half = { 0, 500000000 };
		nanosleep(&half, NULL);
		long k = kobj_kb();
		bool steady = labs(k - kbefore) < 1024;
		kbefore = k;
		if (steady)
			break;
	}
	long before = status_kb("VmRSS"), vbefore = status_kb("VmSize");
	uint64_t t0 = now_ns();
	long opened = 0;
	int rc = 0, err = 0;
	/* --from ADDR --spread K: connection i is bound to ADDR + i mod K, for
	 * more than one local address's worth of ephemeral ports (ustack:
	 * 16,384 per local address, whatever the destination). */
	struct in_addr from = { 0 };
	if (o->from && inet_pton(AF_INET, o->from, &from) != 1) {
		fprintf(stderr, "usperf: --from: not an IPv4 address: %s\n", o->from);
		free(fds);
		return 1;
	}
	uint32_t k = o->spread ? o->spread : 1;
	for (; opened < o->n; opened++) {
		if (o->from) {
			c->from.sin_family = AF_INET;
			c->from.sin_addr.s_addr = htonl(ntohl(from.s_addr) + (uint32_t)(opened % k));
		}
		int fd = dial(c, true);
		if (fd < 0) {
			err = errno;
			break;
		}
		fds[opened] = fd;
		if (send_all(n, fd, hdr, sizeof hdr) < 0) {
			err = errno;
			N_(n, close, fd);
			break;
		}
		if ((opened + 1) % 1000 == 0 && stop_requested()) {
			err = EINTR;
			opened++;
			break;
		}
	}
	double open_s = (double)(now_ns() - t0) / 1e9;
	if (opened < o->n) {
		fprintf(stderr, "usperf: idle: connection %ld of %ld failed: %s%s\n", opened + 1, o->n,
			strerror(err), idle_hint(err, n->st != NULL));
		printf("RESULT mode=idle n=%ld failed_at=%ld error=%s\n", o->n, opened + 1,
		       errno_name(err));
		rc = 1;
	} else {
		/* Let the last handshakes' ACKs and the headers settle before measuring. */
		struct timespec settle = { 1, 0 };
		nanosleep(&settle, NULL);
		long after = status_kb("VmRSS"), vafter = status_kb("VmSize"), kafter = kobj_kb();
		double per = (double)(after - before) * 1024.0 / (double)o->n;
		printf("%ld connections open in %.2f s (%.0f/s); VmRSS %ld kB -> %ld kB: %.0f bytes "
		       "per connection\n",
		       o->n, open_s, (double)o->n / open_s, before, after, per);
		fflush(stdout);
		/*
		 * Hold them for -t SECS, measuring what idleness costs: this
		 * process's CPU time (all threads) and, over a stack, the timer
		 * thread's own CPU time and wheel work (us_stack_timer_stats).
		 */
		double hold = o->secs_set ? o->secs : 0;
		struct us_timer_stats ts0 = { 0 }, ts1 = { 0 };
		bool tstats = n->st && us_stack_timer_stats(n->st, &ts0) == 0;
		uint64_t c0 = cpu_us(), h0 = now_ns();
		uint64_t until = h0 + (uint64_t)(hold * 1e9);
		while (now_ns() < until && !stop_requested()) {
			struct timespec ts = { 0, 100000000 };
			nanosleep(&ts, NULL);
		}
		double held = (double)(now_ns() - h0) / 1e9;
		uint64_t hold_cpu = cpu_us() - c0;
		tstats = tstats && us_stack_timer_stats(n->st, &ts1) == 0;
		char tbuf[256] = "";
		if (tstats) {
			snprintf(tbuf, sizeof tbuf,
				 " timer_cpu_us=%" PRIu64 " timer_wakeups=%" PRIu64 " timer_fired=%" PRIu64
				 " timer_ops=%" PRIu64 " timers_armed=%" PRIu64,
				 (ts1.cpu_ns - ts0.cpu_ns) / 1000, ts1.wakeups - ts0.wakeups,
				 ts1.fired - ts0.fired, ts1.ops - ts0.ops, ts1.armed);
			printf("held %.1f s: CPU %" PRIu64 " us (timer thread %" PRIu64 " us, %" PRIu64
			       " wake-ups, %" PRIu64 " timers fired, %" PRIu64 " wheel operations, %" PRIu64
			       " armed)\n",
			       held, hold_cpu, (ts1.cpu_ns - ts0.cpu_ns) / 1000, ts1.wakeups - ts0.wakeups,
			       ts1.fired - ts0.fired, ts1.ops - ts0.ops, ts1.armed);
		} else if (hold > 0) {
			printf("held %.1f s: CPU %" PRIu64 " us\n", held, hold_cpu);
		}
		printf("RESULT mode=idle n=%ld rss_before_kb=%ld rss_after_kb=%ld per_conn_bytes=%.0f "
		       "bufsize=%u vmsize_before_kb=%ld vmsize_after_kb=%ld kobj_before_kb=%ld "
		       "kobj_after_kb=%ld open_secs=%.3f hold_secs=%.1f hold_cpu_us=%" PRIu64 "%s\n",
		       o->n, before, after, per, o->bufsize, vbefore, vafter, kbefore, kafter, open_s,
		       held, hold_cpu, tbuf);
		fflush(stdout);
	}
	/*
	 * Abortive close (RST, SO_LINGER 0): no TIME_WAIT left behind, so a
	 * following run finds its local ports free and the peer frees at once.
	 */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	for (long i = 0; i < opened; i++) {
		N_(n, setsockopt, fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		N_(n, close, fds[i]);
	}
	free(fds);
	return rc;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usperf -s [-p PORT] [-b BYTES] (stack options | --kernel)\n"
		"       usperf -c HOST [-p PORT] [-t SECS] [-m bulk|rr|crr|idle] [-l LEN] [-R]\n"
		"              [-n N] [-i SECS] [--nodelay] [--bufsize BYTES] (stack options | --kernel)\n"
		"  -s, --server         serve every mode until SIGINT/SIGTERM\n"
		"  -c, --client HOST    measure against the usperf server at HOST\n"
		"  -p, --port PORT      TCP port (default 5301)\n"
		"  -t, --time SECS      how long to measure (default 10; idle: how long to hold, default 0)\n"
		"  -m, --mode MODE      bulk (default), rr, crr or idle\n"
		"  -l, --length LEN     bytes per write (bulk, default 131072) or per message (rr, crr: 1)\n"
		"  -R, --reverse        bulk: the server sends, we receive\n"
		"  -n, --connections N  idle: connections to open and hold (default 1)\n"
		"  -i, --interval SECS  seconds between interval lines (default 1, 0 for none)\n"
		"  --nodelay            TCP_NODELAY on bulk connections (always on in rr)\n"
		"  --bufsize BYTES      SO_SNDBUF and SO_RCVBUF on our sockets, and the server's\n"
		"  -b BYTES             server: SO_SNDBUF and SO_RCVBUF on the listening socket\n"
		"  --congestion NAME    client: TCP_CONGESTION on its sockets (cubic, newreno/reno ...)\n"
		"  --from ADDR          idle: bind connection i to ADDR + (i mod K) (K: --spread)\n"
		"  --spread K           idle: how many local addresses --from goes through (default 1)\n"
		"  --kernel             use the kernel's sockets instead of a ustack stack\n"
		CLI_USAGE_COMMON
		"  -h, --help           this help\n");
}

static int parse_u32(const char *s, uint64_t lo, uint64_t hi, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || v < lo || v > hi)
		return -1;
	/* k/K and m/M suffixes, as iperf takes them (powers of two). */
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int resolve(struct net *n, const char *host, uint16_t port, struct sockaddr_in *out)
{
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	out->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &out->sin_addr) == 1)
		return 0;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int rc = n->st ? us_getaddrinfo(n->st, host, NULL, &hints, &res)
		       : getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "usperf: cannot resolve %s: %s\n", host,
			n->st ? us_gai_strerror(rc) : gai_strerror(rc));
		return -1;
	}
	out->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	if (n->st)
		us_freeaddrinfo(res);
	else
		freeaddrinfo(res);
	return 0;
}

/* Many idle connections need many descriptors: take what the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

enum {
	OPT_KERNEL = CLI_OPT__TOOL_BASE,
	OPT_NODELAY,
	OPT_BUFSIZE,
	OPT_CONGESTION,
	OPT_SPREAD,
	OPT_FROM,
};

int main(int argc, char **argv)
{
	struct us_cli cli;
	us_cli_init(&cli, "usperf");
	static const struct option longopts[] = {
		CLI_LONG_OPTIONS,
		{ "server", no_argument, NULL, 's' },
		{ "client", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "time", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "length", required_argument, NULL, 'l' },
		{ "reverse", no_argument, NULL, 'R' },
		{ "connections", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ "kernel", no_argument, NULL, OPT_KERNEL },
		{ "nodelay", no_argument, NULL, OPT_NODELAY },
		{ "bufsize", required_argument, NULL, OPT_BUFSIZE },
		{ "congestion", required_argument, NULL, OPT_CONGESTION },
		{ "spread", required_argument, NULL, OPT_SPREAD },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { .port = DEFAULT_PORT, .secs = 10, .interval = 1, .mode = MODE_BULK,
			  .n = 1 };
	bool client = false;
	int opt;
	uint32_t u;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "sc:p:t:m:l:Rn:i:b:h", longopts,
				  NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 's':
			o.server = true;
			break;
		case 'c':
			client = true;
			o.host = optarg;
			break;
		case 'p':
			if (parse_u32(optarg, 1, 65535, &u) < 0) {
				fprintf(stderr, "usperf: -p: expected a port 1..65535, got '%s'\n", optarg);
				return 2;
			}
			o.port = (uint16_t)u;
			break;
		case 't':
			if (parse_double(optarg, 0.1, 86400, &o.secs) < 0) {
				fprintf(stderr, "usperf: -t: expected seconds 0.1..86400, got '%s'\n", optarg);
				return 2;
			}
			o.secs_set = true;
			break;
		case 'm':
			o.mode = !strcmp(optarg, "bulk") ? MODE_BULK : !strcmp(optarg, "rr") ? MODE_RR
				 : !strcmp(optarg, "crr") ? MODE_CRR : !strcmp(optarg, "idle") ? MODE_IDLE : 0;
			if (!o.mode) {
				fprintf(stderr, "usperf: -m: expected bulk, rr, crr or idle, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'l':
			if (parse_u32(optarg, 1, MAX_LEN, &o.len) < 0) {
				fprintf(stderr, "usperf: -l: expected 1..%u bytes, got '%s'\n", MAX_LEN, optarg);
				return 2;
			}
			break;
		case 'R':
			o.reverse = true;
			break;
		case 'n':
			if (parse_u32(optarg, 1, 1000000, &u) < 0) {
				fprintf(stderr, "usperf: -n: expected 1..1000000, got '%s'\n", optarg);
				return 2;
			}
			o.n = u;
			break;
		case 'i':
			if (parse_double(optarg, 0, 3600, &o.interval) < 0 ||
			    (o.interval > 0 && o.interval < 0.1)) {
				fprintf(stderr, "usperf: -i: expected 0 or 0.1..3600 seconds, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'b':
		case OPT_BUFSIZE:
			if (parse_u32(optarg, 1, 1u << 30, &u) < 0) {
				fprintf(stderr, "usperf: %s: expected 1..1073741824 bytes, got '%s'\n",
					opt == 'b' ? "-b" : "--bufsize", optarg);
				return 2;
			}
			if (opt == 'b')
				o.listen_bufsize = u;
			else
				o.bufsize = u;
			break;
		case OPT_KERNEL:
			o.kernel = true;
			break;
		case OPT_NODELAY:
			o.nodelay = true;
			break;
		case OPT_CONGESTION:
			o.congestion = optarg;
			break;
		case OPT_FROM:
			o.from = optarg;
			break;
		case OPT_SPREAD:
			if (parse_u32(optarg, 1, 256, &o.spread) < 0) {
				fprintf(stderr, "usperf: --spread: expected 1..256, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usperf: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.server == client) {
		fprintf(stderr, "usperf: give exactly one of -s and -c HOST\n");
		usage(stderr);
		return 2;
	}
	if (o.reverse && o.mode != MODE_BULK) {
		fprintf(stderr, "usperf: -R is for bulk mode only\n");
		return 2;
	}
	if (o.server && o.listen_bufsize == 0 && o.bufsize)
		o.listen_bufsize = o.bufsize;
	if (!o.len)
		o.len = o.mode == MODE_BULK ? 131072 : 1;
	if (o.mode == MODE_CRR && o.len > CRR_MAX) {
		fprintf(stderr, "usperf: -l: crr messages are at most %u bytes\n", CRR_MAX);
		return 2;
	}
	if (o.kernel && (cli.quick || cli.config_path)) {
		fprintf(stderr, "usperf: --kernel excludes -C and the single-interface flags\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct net net = { .ops = o.kernel ? &kernel_ops : &stack_ops };
	if (!o.kernel && us_cli_finish(&cli) < 0)
		return 2;
	raise_nofile();
	us_cli_block_signals();
	if (!o.kernel) {
		net.st = us_cli_start(&cli);
		if (!net.st)
			return 1;
	}
	int rc;
	if (o.server) {
		rc = run_server(&net, &o);
	} else {
		struct client c = { .net = &net, .o = &o };
		if (resolve(&net, o.host, o.port, &c.to) < 0) {
			rc = 1;
		} else {
			switch (o.mode) {
			case MODE_RR:
				rc = client_rr(&c);
				break;
			case MODE_CRR:
				rc = client_crr(&c);
				break;
			case MODE_IDLE:
				rc = client_idle(&c);
				break;
			default:
				rc = client_bulk(&c);
			}
		}
	}
	if (net.st)
		us_stack_free(net.st);
	return rc;
}
