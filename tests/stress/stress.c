/*
 * stress.c — many application threads against two threaded stacks on a
 * pair wire: `make stress`; CI runs it under ThreadSanitizer
 * (`make stress SANITIZE=thread`), and `make test` runs it too.
 *
 * Stack A (10.0.0.1, clients) and stack B (10.0.0.2, servers) run their
 * own receive and timer threads on the real clock. Three phases:
 *
 *   churn    CLIENTS threads open, use and close CONNS TCP connections in
 *            total against SERVERS threads accepting on one listener: each
 *            connection sends a pattern of random length, reads the echo
 *            back and checks it byte for byte, then ends one of three ways
 *            (close; shutdown then read EOF then close; close with unread
 *            data, an abort). 16 + 4 application threads.
 *   blocked  ROUNDS rounds in which threads block in us_recv (TCP, UDP),
 *            us_accept and us_poll, and then another thread us_close()s or
 *            us_shutdown()s exactly those sockets: every blocked call must
 *            come back, with the result POSIX gives for that case.
 *   stop     threads blocked in us_recv, us_accept, us_poll and us_send
 *            (a full window) while us_stack_stop() runs on both stacks:
 *            every call must come back with ESHUTDOWN (EBADF for a
 *            descriptor closed meanwhile).
 *
 * After each phase every packet buffer must be back in both pools. Every
 * wait has a deadline: blocking calls carry SO_RCVTIMEO/SO_SNDTIMEO as a
 * safety net, a thread that must come back is waited for with a bound, and
 * a watchdog aborts the run (exit by SIGABRT) if a phase overruns its time,
 * naming the phase: a deadlock is a failure, never a hang.
 *
 * Exit status 0 when everything held; each phase prints one line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "stack.h"
#include "ustack/ustack.h"

#define A_IP "10.0.0.1"
#define B_IP "10.0.0.2"
#define ECHO_PORT 7000
#define ROUND_PORT 7100
#define STOP_PORT 7200
#define MSG_MAX 8192
#define NS_PER_MS 1000000ULL

static int CONNS = 2000;        /* -c */
static int CLIENTS = 16;        /* -t */
enum { SERVERS = 4, ROUNDS = 40 };
#define RETURN_BOUND_MS 3000    /* a woken call must be back within this */
#define SAFETY_TIMEO_MS 20000   /* SO_RCVTIMEO/SO_SNDTIMEO: a net, never reached */

static atomic_int failures;

static void failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	flockfile(stderr);
	fputs("stress: FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
	atomic_fetch_add(&failures, 1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- watchdog: a phase that overruns its bound aborts the run ------------------- */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *phase;
	uint64_t deadline;
	bool quit;
} dog = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, false };

static void *dog_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&dog.mu);
	while (!dog.quit) {
		if (dog.phase && mono_ns() > dog.deadline) {
			fprintf(stderr, "stress: FAIL: phase '%s' overran its time: deadlock or "
				"lost wake-up; aborting\n", dog.phase);
			abort();
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&dog.cv, &dog.mu, &ts);
	}
	pthread_mutex_unlock(&dog.mu);
	return NULL;
}

static void phase_begin(const char *name, int seconds)
{
	pthread_mutex_lock(&dog.mu);
	dog.phase = name;
	dog.deadline = mono_ns() + (uint64_t)seconds * 1000000000ULL;
	pthread_mutex_unlock(&dog.mu);
}

/* ---- stacks ------------------------------------------------------------------- */

static us_stack *open_stack(const char *wire, const char *ip, uint8_t last_mac, uint64_t seed)
{
	struct us_config cfg;
	us_config_init(&cfg);
	cfg.log_level = US_LOG_ERROR;
	cfg.seed_set = true;
	cfg.seed = seed;
	cfg.tcp.sndbuf = 16384;
	cfg.tcp.rcvbuf = 16384;
	cfg.tcp.time_wait_s = 1;
	cfg.nifaces = 1;
	struct us_iface_config *ifc = &cfg.ifaces[0];
	snprintf(ifc->name, sizeof ifc->name, "eth0");
	ifc->backend = US_BACKEND_PAIR;
	snprintf(ifc->device, sizeof ifc->device, "%s", wire);
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, last_mac };
	memcpy(ifc->mac, mac, 6);
	ifc->mac_set = true;
	inet_pton(AF_INET, ip, &ifc->addrs[0].addr);
	ifc->addrs[0].prefix = 24;
	ifc->naddrs = 1;
	char err[256] = "";
	us_stack *st = us_stack_new(&cfg, 0, err, sizeof err);
	if (!st) {
		fprintf(stderr, "stress: us_stack_new: %s\n", err);
		exit(2);
	}
	if (us_stack_start(st) < 0) {
		perror("stress: us_stack_start");
		exit(2);
	}
	return st;
}

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}
#define SA(x) ((struct sockaddr *)&(x))

static void set_timeouts(us_stack *st, int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	us_setsockopt(st, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	us_setsockopt(st, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int tcp_listener(us_stack *st, uint16_t port, int backlog)
{
	int fd = us_socket(st, AF_INET, SOCK_STREAM, 0);
	int one = 1;
	us_setsockopt(st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	if (fd < 0 || us_bind(st, fd, SA(a), sizeof a) < 0 || us_listen(st, fd, backlog) < 0) {
		failf("listener on port %u: %s", port, strerror(errno));
		return -1;
	}
	return fd;
}

static int udp_bound(us_stack *st, uint16_t port)
{
	int fd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	if (fd < 0 || us_bind(st, fd, SA(a), sizeof a) < 0) {
		failf("udp bind %u: %s", port, strerror(errno));
		return -1;
	}
	return fd;
}

/* Every packet buffer back in the pool (waiting up to 2 s for frames in flight). */
static void check_pools(const char *phase, us_stack *a, us_stack *b)
{
	us_stack *st[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		uint64_t end = mono_ns() + 2000 * NS_PER_MS;
		size_t avail;
		while ((avail = us_pool_available(&st[i]->pool)) != st[i]->pool.total &&
		       mono_ns() < end)
			nap_ms(5);
		if (avail != st[i]->pool.total)
			failf("%s: stack %c holds %zu of %zu buffers", phase, "AB"[i],
			      st[i]->pool.total - avail, st[i]->pool.total);
	}
}

/* Is a thread blocked on the socket (waiting on its condvar, or polling it)? */
static bool blocked_on(us_stack *st, int fd, bool poller)
{
	int e = errno;
	struct us_sock *s = us_sock_get(st, fd);
	errno = e;
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	bool b = poller ? s->polls.next != &s->polls : s->waiters > 0;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return b;
}

static bool wait_blocked(us_stack *st, int fd, bool poller, const char *what)
{
	uint64_t end = mono_ns() + RETURN_BOUND_MS * NS_PER_MS;
	while (!blocked_on(st, fd, poller)) {
		if (mono_ns() > end) {
			failf("%s: the thread never blocked", what);
			return false;
		}
		nap_ms(1);
	}
	return true;
}

/* ---- a blocked call, run on its own thread ------------------------------------- */

enum call_kind { C_RECV, C_ACCEPT, C_POLL, C_SEND };

struct call {
	enum call_kind kind;
	us_stack *st;
	int fd, fd2;            /* fd2: a second descriptor for poll, -1 if none */
	const char *what;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	long rc;
	int err;
	short revents;
};

static void *call_main(void *p)
{
	struct call *c = p;
	static char big[65536];
	char buf[256];
	long rc;
	errno = 0;
	switch (c->kind) {
	case C_RECV:
		rc = us_recv(c->st, c->fd, buf, sizeof buf, 0);
		break;
	case C_ACCEPT:
		rc = us_accept(c->st, c->fd, NULL, NULL);
		break;
	case C_POLL: {
		struct pollfd pf[2] = { { .fd = c->fd, .events = POLLIN },
					{ .fd = c->fd2, .events = POLLIN } };
		rc = us_poll(c->st, pf, c->fd2 >= 0 ? 2 : 1, SAFETY_TIMEO_MS);
		c->revents = (short)(pf[0].revents | pf[1].revents);
		break;
	}
	case C_SEND:
	default:
		/* Fill the peer's window and our send buffer, then block. */
		do
			rc = us_send(c->st, c->fd, big, sizeof big, 0);
		while (rc > 0);
		break;
	}
	int e = errno;
	pthread_mutex_lock(&c->mu);
	c->rc = rc;
	c->err = rc < 0 ? e : 0;
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void call_start(struct call *c, enum call_kind k, us_stack *st, int fd, int fd2,
		       const char *what)
{
	memset(c, 0, sizeof *c);
	c->kind = k;
	c->st = st;
	c->fd = fd;
	c->fd2 = fd2;
	c->what = what;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->th, NULL, call_main, c) != 0) {
		failf("%s: pthread_create", what);
		exit(2);
	}
}

/* Wait (bounded) for the call to come back; false (and a failure) if it did not. */
static bool call_finish(struct call *c)
{
	uint64_t end = mono_ns() + RETURN_BOUND_MS * NS_PER_MS;
	struct timespec ts = { (time_t)(end / 1000000000ULL), (long)(end % 1000000000ULL) };
	pthread_mutex_lock(&c->mu);
	while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0)
		;
	bool done = c->done;
	pthread_mutex_unlock(&c->mu);
	if (!done) {
		failf("%s: still blocked %d ms after it should have returned", c->what,
		      RETURN_BOUND_MS);
		return false;   /* the watchdog ends the run if it never comes back */
	}
	pthread_join(c->th, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	return true;
}

static void expect_err(struct call *c, int e1, int e2)
{
	if (c->rc != -1 || (c->err != e1 && c->err != e2))
		failf("%s: returned %ld errno %d (%s), expected -1 with %s%s%s", c->what, c->rc,
		      c->err, strerror(c->err), strerror(e1), e2 ? " or " : "",
		      e2 ? strerror(e2) : "");
}

/* ---- phase 1: churn ------------------------------------------------------------- */

static us_stack *A, *B;
static atomic_int conns_next, conns_done, conns_aborted;
static atomic_bool churn_over;

static int send_all(us_stack *st, int fd, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = us_send(st, fd, p + off, n - off, 0);
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static int recv_all(us_stack *st, int fd, uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = us_recv(st, fd, p + off, n - off, 0);
		if (r <= 0)
			return r == 0 ? -2 : -1;
		off += (size_t)r;
	}
	return 0;
}

/* Echo until EOF or an error (an aborting client resets some). */
static void *server_main(void *arg)
{
	int lfd = *(int *)arg;
	uint8_t buf[4096];
	while (!atomic_load(&churn_over)) {
		int fd = us_accept(B, lfd, NULL, NULL);
		if (fd < 0) {
			if (errno != EAGAIN)
				failf("churn: us_accept: %s", strerror(errno));
			continue;       /* EAGAIN: SO_RCVTIMEO, look at churn_over again */
		}
		set_timeouts(B, fd, SAFETY_TIMEO_MS);
		for (;;) {
			ssize_t n = us_recv(B, fd, buf, sizeof buf, 0);
			if (n == 0)
				break;
			if (n < 0) {
				if (errno != ECONNRESET)
					failf("churn: server us_recv: %s", strerror(errno));
				break;
			}
			if (send_all(B, fd, buf, (size_t)n) < 0) {
				if (errno != ECONNRESET && errno != EPIPE)
					failf("churn: server us_send: %s", strerror(errno));
				break;
			}
		}
		if (us_close(B, fd) < 0)
			failf("churn: server us_close: %s", strerror(errno));
	}
	return NULL;
}

static void *client_main(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
	static _Thread_local uint8_t out[MSG_MAX], in[MSG_MAX];
	struct sockaddr_in to = sin_of(B_IP, ECHO_PORT);
	int k;
	while ((k = atomic_fetch_add(&conns_next, 1)) < CONNS) {
		int fd = us_socket(A, AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			failf("churn: us_socket: %s", strerror(errno));
			continue;
		}
		set_timeouts(A, fd, SAFETY_TIMEO_MS);
		if (us_connect(A, fd, SA(to), sizeof to) < 0) {
			failf("churn: connection %d: us_connect: %s", k, strerror(errno));
			us_close(A, fd);
			continue;
		}
		size_t len = 1 + (size_t)rand_r(&seed) % MSG_MAX;
		for (size_t i = 0; i < len; i++)
			out[i] = (uint8_t)(k * 31 + i * 7);
		int ending = k % 3;
		if (send_all(A, fd, out, len) < 0) {
			failf("churn: connection %d: us_send: %s", k, strerror(errno));
		} else if (ending == 2) {
			/* Abort: close with the echo (some of it) unread: RST. */
			if (recv_all(A, fd, in, len / 2) < 0)
				failf("churn: connection %d: us_recv: %s", k, strerror(errno));
			atomic_fetch_add(&conns_aborted, 1);
		} else if (recv_all(A, fd, in, len) < 0) {
			failf("churn: connection %d: us_recv: %s", k, strerror(errno));
		} else if (memcmp(in, out, len) != 0) {
			failf("churn: connection %d: the echo differs from what was sent", k);
		} else if (ending == 1) {
			char c;
			if (us_shutdown(A, fd, SHUT_WR) < 0)
				failf("churn: connection %d: us_shutdown: %s", k, strerror(errno));
			else if (us_recv(A, fd, &c, 1, 0) != 0)
				failf("churn: connection %d: no EOF after shutdown", k);
		}
		if (us_close(A, fd) < 0)
			failf("churn: connection %d: us_close: %s", k, strerror(errno));
		atomic_fetch_add(&conns_done, 1);
	}
	return NULL;
}

static void phase_churn(void)
{
	uint64_t t0 = mono_ns();
	int lfd = tcp_listener(B, ECHO_PORT, 1024);
	struct timeval tv = { 0, 200000 };      /* servers look at churn_over this often */
	us_setsockopt(B, lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	pthread_t sv[SERVERS], *cl = calloc((size_t)CLIENTS, sizeof *cl);
	for (int i = 0; i < SERVERS; i++)
		pthread_create(&sv[i], NULL, server_main, &lfd);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&cl[i], NULL, client_main, (void *)(uintptr_t)i);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(cl[i], NULL);
	atomic_store(&churn_over, true);
	for (int i = 0; i < SERVERS; i++)
		pthread_join(sv[i], NULL);
	free(cl);
	us_close(B, lfd);
	check_pools("churn", A, B);
	printf("stress: churn: %d connections (%d aborted) by %d client and %d server "
	       "threads in %.1f s\n", atomic_load(&conns_done), atomic_load(&conns_aborted),
	       CLIENTS, SERVERS, (double)(mono_ns() - t0) / 1e9);
	if (atomic_load(&conns_done) != CONNS)
		failf("churn: %d of %d connections done", atomic_load(&conns_done), CONNS);
}

/* ---- phase 2: blocked calls vs close / shutdown --------------------------------- */

/* A connected pair: *c on A, *s on B, accepted from lfd. */
static bool connect_pair(int lfd, uint16_t port, int *c, int *s)
{
	struct sockaddr_in to = sin_of(B_IP, port);
	*c = us_socket(A, AF_INET, SOCK_STREAM, 0);
	set_timeouts(A, *c, SAFETY_TIMEO_MS);
	if (us_connect(A, *c, SA(to), sizeof to) < 0) {
		failf("connect to port %u: %s", port, strerror(errno));
		return false;
	}
	*s = us_accept(B, lfd, NULL, NULL);
	if (*s < 0) {
		failf("accept on port %u: %s", port, strerror(errno));
		return false;
	}
	set_timeouts(B, *s, SAFETY_TIMEO_MS);
	return true;
}

static void phase_blocked(void)
{
	uint64_t t0 = mono_ns();
	int lfd = tcp_listener(B, ROUND_PORT, 16);
	set_timeouts(B, lfd, SAFETY_TIMEO_MS);
	for (int r = 0; r < ROUNDS && !atomic_load(&failures); r++) {
		bool by_close = r % 2 == 0;
		/* Two connections: recv blocks on s (B's end of the first), poll on
		 * c (A's end of the second), so closing one does not wake the other. */
		int s_peer, s, c, c_peer;
		if (!connect_pair(lfd, ROUND_PORT, &s_peer, &s) ||
		    !connect_pair(lfd, ROUND_PORT, &c, &c_peer))
			break;
		int l2 = tcp_listener(B, (uint16_t)(ROUND_PORT + 1), 4);
		int u = udp_bound(B, (uint16_t)(ROUND_PORT + 2));
		int uc = udp_bound(A, (uint16_t)(ROUND_PORT + 3));
		set_timeouts(B, l2, SAFETY_TIMEO_MS);
		set_timeouts(B, u, SAFETY_TIMEO_MS);
		struct call tr, ta, tp, tu;
		call_start(&tr, C_RECV, B, s, -1, by_close ? "recv, then close" : "recv, then shutdown");
		call_start(&ta, C_ACCEPT, B, l2, -1,
			   by_close ? "accept, then close" : "accept, then shutdown");
		call_start(&tp, C_POLL, A, c, uc, by_close ? "poll, then close" : "poll, then shutdown");
		call_start(&tu, C_RECV, B, u, -1,
			   by_close ? "udp recv, then close" : "udp recv, then shutdown");
		bool ok = wait_blocked(B, s, false, tr.what) && wait_blocked(B, l2, false, ta.what) &&
			  wait_blocked(A, c, true, tp.what) && wait_blocked(A, uc, true, tp.what) &&
			  wait_blocked(B, u, false, tu.what);
		(void)ok;
		if (by_close) {
			us_close(A, c);
			us_close(B, s);
			us_close(B, l2);
			us_close(B, u);
		} else {
			us_shutdown(B, s, SHUT_RDWR);
			us_shutdown(B, l2, SHUT_RDWR);
			us_shutdown(A, c, SHUT_RD);
			us_shutdown(B, u, SHUT_RD);
		}
		if (call_finish(&tr)) {
			if (by_close)
				expect_err(&tr, EBADF, 0);
			else if (tr.rc != 0)
				failf("%s: returned %ld (%s), expected 0 (EOF)", tr.what, tr.rc,
				      strerror(tr.err));
		}
		if (call_finish(&ta))
			expect_err(&ta, by_close ? EBADF : EINVAL, 0);
		if (call_finish(&tp) && !(tp.rc == 1 && (tp.revents & (by_close ? POLLNVAL : POLLIN))))
			failf("%s: returned %ld revents %#x errno %s", tp.what, tp.rc, tp.revents,
			      strerror(tp.err));
		if (call_finish(&tu)) {
			if (by_close)
				expect_err(&tu, EBADF, 0);
			else if (tu.rc != 0)
				failf("%s: returned %ld (%s), expected 0", tu.what, tu.rc,
				      strerror(tu.err));
		}
		if (!by_close) {
			us_close(B, s);
			us_close(B, l2);
			us_close(A, c);
			us_close(B, u);
		}
		us_close(A, uc);
		us_close(A, s_peer);
		us_close(B, c_peer);
	}
	us_close(B, lfd);
	check_pools("blocked", A, B);
	printf("stress: blocked: %d rounds of recv/accept/poll/udp recv woken by close or "
	       "shutdown in %.1f s\n", ROUNDS, (double)(mono_ns() - t0) / 1e9);
}

/* ---- phase 3: stop while calls are blocked -------------------------------------- */

enum { STOP_PAIRS = 4 };

static void phase_stop(void)
{
	uint64_t t0 = mono_ns();
	int lfd = tcp_listener(B, STOP_PORT, 16);
	int l2 = tcp_listener(B, (uint16_t)(STOP_PORT + 1), 4);
	set_timeouts(B, lfd, SAFETY_TIMEO_MS);
	set_timeouts(B, l2, SAFETY_TIMEO_MS);
	int c[STOP_PAIRS], s[STOP_PAIRS];
	for (int i = 0; i < STOP_PAIRS; i++)
		if (!connect_pair(lfd, STOP_PORT, &c[i], &s[i]))
			return;
	int ub = udp_bound(B, (uint16_t)(STOP_PORT + 2));
	int ua = udp_bound(A, (uint16_t)(STOP_PORT + 3));
	set_timeouts(B, ub, SAFETY_TIMEO_MS);
	struct call k[STOP_PAIRS + 4];
	int n = 0;
	for (int i = 0; i < STOP_PAIRS; i++) {
		if (i % 2 == 0)         /* nothing is sent on this connection */
			call_start(&k[n++], C_RECV, B, s[i], -1, "stop: recv on B");
		else                    /* B never reads: A's window and buffer fill up */
			call_start(&k[n++], C_SEND, A, c[i], -1, "stop: send on A (full window)");
	}
	call_start(&k[n++], C_ACCEPT, B, l2, -1, "stop: accept on B");
	call_start(&k[n++], C_POLL, A, ua, -1, "stop: poll on A");
	call_start(&k[n++], C_RECV, B, ub, -1, "stop: udp recv on B");
	call_start(&k[n++], C_POLL, B, l2, ub, "stop: poll on B");
	for (int i = 0; i < n; i++)
		wait_blocked(k[i].st, k[i].fd, k[i].kind == C_POLL, k[i].what);
	us_stack_stop(B);
	us_stack_stop(A);
	for (int i = 0; i < n; i++) {
		if (!call_finish(&k[i]))
			continue;
		if (k[i].kind == C_POLL && k[i].rc >= 0)
			continue;       /* an event (the peer's reset) may beat the stop */
		expect_err(&k[i], ESHUTDOWN, k[i].kind == C_SEND ? ECONNRESET : 0);
	}
	check_pools("stop", A, B);
	printf("stress: stop: %d blocked calls (recv, send, accept, poll) returned after "
	       "us_stack_stop in %.1f s\n", n, (double)(mono_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "c:t:")) != -1) {
		if (opt == 'c')
			CONNS = atoi(optarg);
		else if (opt == 't')
			CLIENTS = atoi(optarg);
		else {
			fprintf(stderr, "usage: stress [-c connections] [-t client-threads]\n");
			return 2;
		}
	}
	if (CONNS < 1 || CLIENTS < 1)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t dt;
	pthread_create(&dt, NULL, dog_main, NULL);
	char wire[64];
	snprintf(wire, sizeof wire, "stress-%d", (int)getpid());
	A = open_stack(wire, A_IP, 1, 1);
	B = open_stack(wire, B_IP, 2, 2);

	phase_begin("churn", 240);
	phase_churn();
	phase_begin("blocked", 120);
	phase_blocked();
	phase_begin("stop", 60);
	phase_stop();

	phase_begin("free", 30);
	us_stack_free(A);
	us_stack_free(B);
	pthread_mutex_lock(&dog.mu);
	dog.quit = true;
	pthread_cond_signal(&dog.cv);
	pthread_mutex_unlock(&dog.mu);
	pthread_join(dt, NULL);
	int f = atomic_load(&failures);
	printf("stress: %s (%d failure%s)\n", f ? "FAILED" : "passed", f, f == 1 ? "" : "s");
	return f ? 1 : 0;
}
