/*
 * test_socket_threads.c — blocking, waking and sharing sockets across
 * threads (suite "socket_threads").
 *
 * Two threaded stacks (own receive and timer threads, real clock) on a
 * pair wire with no impairment (sockutil.h: A 10.0.0.1, B 10.0.0.2).
 * Every wait is bounded: blocking calls carry SO_RCVTIMEO or a poll
 * timeout as a safety net, and the test waits for another thread with
 * su_wait_for() on a flag or on the socket's own state (a thread blocked
 * on it), never with a sleep standing in for a condition. Where a test
 * sleeps briefly to let a thread go to sleep in the stack, the outcome
 * it asserts does not depend on how long that is.
 *
 * Run under ThreadSanitizer too:
 *   make SANITIZE=thread build-thread/tests/unit_tests
 *   build-thread/tests/unit_tests socket_threads
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "harness.h"
#include "sockutil.h"

#define WAKE_BOUND_MS 2000      /* a woken thread must be back within this */
#define MS 1000000ULL

static void set_rcvtimeo(us_stack *st, int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	SU_OK(us_setsockopt(st, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static bool flag_set(void *arg)
{
	return atomic_load((atomic_bool *)arg);
}

/* ---- many threads, many sockets, echo ------------------------------------------ */

enum { NTHREADS = 8, NDGRAMS = 200, ECHO_PORT = 9000 };

struct echo_arg {
	us_stack *st;
	int fd;
	int limit;              /* datagrams to echo */
	int echoed;
	int err;
};

/* Echo every datagram back to its sender until limit are done or a call fails. */
static void *echo_main(void *p)
{
	struct echo_arg *e = p;
	uint8_t buf[2048];
	while (e->echoed < e->limit) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = us_recvfrom(e->st, e->fd, buf, sizeof buf, 0, SU_SA(from), &fl);
		if (n < 0 || us_sendto(e->st, e->fd, buf, (size_t)n, 0, SU_SA(from), fl) != n) {
			e->err = errno;
			break;
		}
		e->echoed++;
	}
	return NULL;
}

struct client_arg {
	us_stack *st;
	int fd;
	int idx;
	int ok, bad;
	int err;
};

static size_t make_msg(uint8_t *m, int idx, int seq)
{
	size_t len = 8 + (size_t)((seq * 37 + idx * 11) % 1200);
	tu_put16(m, (uint16_t)idx);
	tu_put16(m + 2, (uint16_t)seq);
	tu_pattern(m + 4, len - 4, (unsigned)(idx * 1000 + seq));
	return len;
}

/* Send one datagram, wait for its echo, compare; NDGRAMS times. */
static void *client_main(void *p)
{
	struct client_arg *c = p;
	uint8_t out[1300], in[1400];
	for (int seq = 0; seq < NDGRAMS; seq++) {
		size_t len = make_msg(out, c->idx, seq);
		if (us_send(c->st, c->fd, out, len, 0) != (ssize_t)len) {
			c->err = errno;
			break;
		}
		ssize_t n = us_recv(c->st, c->fd, in, sizeof in, 0);
		if (n < 0) {
			c->err = errno;
			break;
		}
		if ((size_t)n == len && memcmp(in, out, len) == 0)
			c->ok++;
		else
			c->bad++;
	}
	return NULL;
}

static void test_threads_echo_many_sockets(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	struct echo_arg echo[NTHREADS];
	struct client_arg cli[NTHREADS];
	pthread_t et[NTHREADS], ct[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		uint16_t port = (uint16_t)(ECHO_PORT + i);
		echo[i] = (struct echo_arg){ .st = p.b, .limit = NDGRAMS,
					     .fd = su_udp(p.b, INADDR_ANY, port) };
		set_rcvtimeo(p.b, echo[i].fd, 10000);
		cli[i] = (struct client_arg){ .st = p.a, .idx = i,
					      .fd = us_socket(p.a, AF_INET, SOCK_DGRAM, 0) };
		struct sockaddr_in to = su_sin(SU_B_IP, port);
		SU_OK(us_connect(p.a, cli[i].fd, SU_SA(to), sizeof to));
		set_rcvtimeo(p.a, cli[i].fd, 10000);
	}
	for (int i = 0; i < NTHREADS; i++)
		CU_ASSERT_FATAL(pthread_create(&et[i], NULL, echo_main, &echo[i]) == 0);
	for (int i = 0; i < NTHREADS; i++)
		CU_ASSERT_FATAL(pthread_create(&ct[i], NULL, client_main, &cli[i]) == 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(ct[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(et[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		if (cli[i].ok != NDGRAMS || echo[i].echoed != NDGRAMS)
			fprintf(stderr, "\nclient %d: %d ok, %d bad, errno %d; echo %d, errno %d\n",
				i, cli[i].ok, cli[i].bad, cli[i].err, echo[i].echoed, echo[i].err);
		CU_ASSERT_EQUAL(cli[i].ok, NDGRAMS);
		CU_ASSERT_EQUAL(cli[i].bad, 0);
		CU_ASSERT_EQUAL(echo[i].echoed, NDGRAMS);
		us_close(p.a, cli[i].fd);
		us_close(p.b, echo[i].fd);
	}
	CU_ASSERT_EQUAL(us_stack_stat(p.a, US_STAT_UDP_TX), NTHREADS * NDGRAMS);
	CU_ASSERT_EQUAL(us_stack_stat(p.b, US_STAT_UDP_RX), NTHREADS * NDGRAMS);
	CU_ASSERT_EQUAL(us_stack_stat(p.a, US_STAT_UDP_RCVBUF_FULL), 0);
	su_close(&p);
}

/* ---- a blocked thread is woken --------------------------------------------------- */

struct blocked {
	us_stack *st;
	int fd;
	int timeout_ms;         /* poll */
	short events;           /* poll */
	long rc;
	int err;
	short revents;
	uint64_t end_ns;
	atomic_bool done;
};

static void *recv_main(void *p)
{
	struct blocked *b = p;
	char buf[64];
	errno = 0;
	b->rc = us_recv(b->st, b->fd, buf, sizeof buf, 0);
	b->err = errno;
	b->end_ns = su_mono_ns();
	atomic_store(&b->done, true);
	return NULL;
}

static void *poll_main(void *p)
{
	struct blocked *b = p;
	struct pollfd pf = { .fd = b->fd, .events = b->events };
	errno = 0;
	b->rc = us_poll(b->st, &pf, 1, b->timeout_ms);
	b->err = errno;
	b->revents = pf.revents;
	b->end_ns = su_mono_ns();
	atomic_store(&b->done, true);
	return NULL;
}

/*
 * Wait for b's thread to finish within WAKE_BOUND_MS of start_ns. If it
 * does not, fail, and stop the stack so that it returns and can be joined.
 */
static bool finish(struct blocked *b, pthread_t th, uint64_t start_ns, const char *what)
{
	bool ok = su_wait_for(flag_set, &b->done, WAKE_BOUND_MS);
	if (!ok) {
		fprintf(stderr, "\n%s: the blocked thread was not woken within %d ms\n", what,
			WAKE_BOUND_MS);
		CU_FAIL("blocked thread not woken");
		us_stack_stop(b->st);
	}
	pthread_join(th, NULL);
	if (ok)
		CU_ASSERT(b->end_ns - start_ns < WAKE_BOUND_MS * MS);
	return ok;
}

static void test_threads_close_wakes_recv(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	struct blocked b = { .st = p.a, .fd = su_udp(p.a, INADDR_ANY, 7000) };
	set_rcvtimeo(p.a, b.fd, 30000);         /* safety net only */
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, recv_main, &b) == 0);
	/* It is blocked once it waits on the socket's condition variable. */
	CU_ASSERT(su_wait_waiter(p.a, b.fd, WAKE_BOUND_MS));
	uint64_t t0 = su_mono_ns();
	SU_OK(us_close(p.a, b.fd));
	if (finish(&b, th, t0, "close during recv")) {
		CU_ASSERT_EQUAL(b.rc, -1);
		CU_ASSERT_EQUAL(b.err, EBADF);
	}
	su_close(&p);
}

static void test_threads_poll_woken_by_datagram(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	struct blocked b = { .st = p.a, .fd = su_udp(p.a, INADDR_ANY, 7000), .timeout_ms = 30000,
			     .events = POLLIN };
	int sender = su_udp(p.b, INADDR_ANY, 0);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, poll_main, &b) == 0);
	CU_ASSERT(su_wait_poller(p.a, b.fd, WAKE_BOUND_MS));
	nap_ms(20);     /* let it go to sleep; nothing below depends on how long */
	CU_ASSERT(!atomic_load(&b.done));
	uint64_t t0 = su_mono_ns();
	CU_ASSERT_EQUAL(su_sendto(p.b, sender, "wake", 4, SU_A_IP, 7000), 4);
	if (finish(&b, th, t0, "datagram during poll")) {
		CU_ASSERT_EQUAL(b.rc, 1);
		CU_ASSERT_EQUAL(b.revents, POLLIN);
	}
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(p.a, b.fd, buf, sizeof buf, MSG_DONTWAIT), 4);
	us_close(p.a, b.fd);
	us_close(p.b, sender);
	su_close(&p);
}

static void test_threads_poll_woken_by_close(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	struct blocked b = { .st = p.a, .fd = su_udp(p.a, INADDR_ANY, 7000), .timeout_ms = 30000,
			     .events = POLLIN };
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, poll_main, &b) == 0);
	CU_ASSERT(su_wait_poller(p.a, b.fd, WAKE_BOUND_MS));
	nap_ms(20);     /* let it go to sleep; nothing below depends on how long */
	uint64_t t0 = su_mono_ns();
	SU_OK(us_close(p.a, b.fd));
	if (finish(&b, th, t0, "close during poll")) {
		CU_ASSERT_EQUAL(b.rc, 1);
		CU_ASSERT_EQUAL(b.revents, POLLNVAL);
	}
	su_close(&p);
}

static void test_threads_stop_wakes_everyone(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	struct blocked r = { .st = p.a, .fd = su_udp(p.a, INADDR_ANY, 7000) };
	struct blocked q = { .st = p.a, .fd = su_udp(p.a, INADDR_ANY, 7001), .timeout_ms = -1,
			     .events = POLLIN };
	set_rcvtimeo(p.a, r.fd, 30000);         /* safety net only */
	pthread_t rt, qt;
	CU_ASSERT_FATAL(pthread_create(&rt, NULL, recv_main, &r) == 0);
	CU_ASSERT_FATAL(pthread_create(&qt, NULL, poll_main, &q) == 0);
	CU_ASSERT(su_wait_waiter(p.a, r.fd, WAKE_BOUND_MS));
	CU_ASSERT(su_wait_poller(p.a, q.fd, WAKE_BOUND_MS));
	nap_ms(20);     /* let the poller go to sleep; nothing below depends on how long */
	uint64_t t0 = su_mono_ns();
	us_stack_stop(p.a);
	if (finish(&r, rt, t0, "stop during recv")) {
		CU_ASSERT_EQUAL(r.rc, -1);
		CU_ASSERT_EQUAL(r.err, ESHUTDOWN);
	}
	if (finish(&q, qt, t0, "stop during poll")) {
		CU_ASSERT_EQUAL(q.rc, -1);
		CU_ASSERT_EQUAL(q.err, ESHUTDOWN);
	}
	/* After stop nothing waits: a new blocking call fails at once. */
	char buf[8];
	SU_ERR(us_recv(p.a, r.fd, buf, sizeof buf, 0), ESHUTDOWN);
	SU_ERR(us_socket(p.a, AF_INET, SOCK_DGRAM, 0), ESHUTDOWN);
	us_close(p.a, r.fd);
	us_close(p.a, q.fd);
	su_close(&p);
}

/* A stack does not restart: us_stack_start after us_stack_stop is ESHUTDOWN (issue 8 item 12). */
static void test_threads_no_restart_after_stop(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	SU_ERR(us_stack_start(p.a), EALREADY);          /* running already: no second set of threads */
	us_stack_stop(p.a);
	SU_ERR(us_stack_start(p.a), ESHUTDOWN);
	us_stack_stop(p.a);                             /* twice is fine */
	su_close(&p);
}

/* ---- a thread cancelled inside a call (issue 8 item 16) ---------------------------- */

/*
 * Every public call disables cancellation while it runs (doc/API.md,
 * "Threads, cancellation and stop"), so pthread_cancel of a thread blocked
 * in us_recv/us_send/us_poll never leaves a socket lock or an interface's
 * transmit lock held: the call goes on until it would return anyway, then
 * the thread is cancelled on the way out (us_recv, us_send, us_poll are
 * cancellation points, as recv/send/poll are). Before, the thread died in
 * pthread_cond_wait with the socket lock taken and the next call on that
 * socket hung for ever; the steps that would hang run in a helper thread
 * with a deadline, and on a hang the test fails and leaves the stacks
 * behind rather than hang itself.
 */

enum { CANCEL_SEND_LEN = 2 * 1024 * 1024 };

struct cancel_arg {
	us_stack *st;
	int fd;
	int op;                 /* 0 recv, 1 send, 2 poll */
	atomic_bool returned;   /* the call came back into the test: it was not cancelled */
};

static void *cancel_main(void *p)
{
	struct cancel_arg *c = p;
	static uint8_t big[CANCEL_SEND_LEN];
	char buf[64];
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	if (c->op == 0)
		us_recv(c->st, c->fd, buf, sizeof buf, 0);
	else if (c->op == 1)
		us_send(c->st, c->fd, big, sizeof big, 0);
	else
		us_poll(c->st, &pf, 1, 20000);
	atomic_store(&c->returned, true);
	return NULL;
}

/* A call made from a helper thread, so that a hang can be detected. */
struct probe {
	us_stack *st;
	int fd;
	long rc;
	atomic_bool done;
};

static void *probe_main(void *p)
{
	struct probe *q = p;
	int v;
	socklen_t vl = sizeof v;
	q->rc = us_getsockopt(q->st, q->fd, SOL_SOCKET, SO_ERROR, &v, &vl);
	atomic_store(&q->done, true);
	return NULL;
}

/* A call that takes fd's lock and never waits, from another thread; false
 * if it hangs (the lock was left held). */
static bool probe_lock(us_stack *st, int fd)
{
	static struct probe q;          /* static: outlives a hung helper */
	q = (struct probe){ .st = st, .fd = fd };
	atomic_init(&q.done, false);
	pthread_t th;
	if (pthread_create(&th, NULL, probe_main, &q) != 0)
		return false;
	if (!su_wait_for(flag_set, &q.done, 3000)) {
		fprintf(stderr, "\ncancel: a call on the socket hangs: its lock was left held\n");
		pthread_detach(th);
		return false;
	}
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(q.rc, 0);
	return true;
}

/* Read exactly n bytes from fd (blocking, with SO_RCVTIMEO set). */
static bool recv_all(us_stack *st, int fd, uint8_t *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = us_recv(st, fd, buf + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static bool joined_cancelled(pthread_t th)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	void *ret = NULL;
	if (pthread_timedjoin_np(th, &ret, &ts) != 0) {
		CU_FAIL("the cancelled thread did not end");
		pthread_detach(th);
		return false;
	}
	CU_ASSERT(ret == PTHREAD_CANCELED);
	return true;
}

static void cancel_inside(int op)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int l = us_socket(p.b, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in la = su_sin(SU_B_IP, 7100);
	SU_OK(us_bind(p.b, l, SU_SA(la), sizeof la));
	SU_OK(us_listen(p.b, l, 4));
	int c = us_socket(p.a, AF_INET, SOCK_STREAM, 0);
	SU_OK(us_connect(p.a, c, SU_SA(la), sizeof la));
	set_rcvtimeo(p.b, l, 5000);
	int a = us_accept(p.b, l, NULL, NULL);
	CU_ASSERT_FATAL(a >= 0);
	set_rcvtimeo(p.a, c, 20000);            /* safety nets only */
	set_rcvtimeo(p.b, a, 20000);

	static struct cancel_arg ca;
	ca = (struct cancel_arg){ .st = p.a, .fd = c, .op = op };
	atomic_init(&ca.returned, false);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, cancel_main, &ca) == 0);
	bool blocked = op == 2 ? su_wait_poller(p.a, c, WAKE_BOUND_MS)
			       : su_wait_waiter(p.a, c, WAKE_BOUND_MS);
	CU_ASSERT(blocked);
	nap_ms(20);     /* let it go to sleep; nothing below depends on how long */
	CU_ASSERT_EQUAL(pthread_cancel(th), 0);
	/* The call goes on: the thread must not end now (before the fix it
	 * died at once inside pthread_cond_wait, holding the lock it waits with). */
	struct timespec soon;
	clock_gettime(CLOCK_REALTIME, &soon);
	soon.tv_nsec += 200 * 1000000L;
	if (soon.tv_nsec >= 1000000000L) {
		soon.tv_sec++;
		soon.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(th, NULL, &soon) == 0) {
		CU_FAIL("the thread was cancelled inside the call");
		return;         /* leave the stacks: its locks may be held for ever */
	}

	/* The socket and the stack still work from other threads. */
	if (!probe_lock(p.a, c)) {
		CU_FAIL("the cancelled thread left the socket locked");
		return;         /* leave the stacks: freeing them would hang too */
	}
	uint8_t *buf = malloc(CANCEL_SEND_LEN + 8);
	CU_ASSERT_FATAL(buf != NULL);
	if (op == 1) {
		/* The send finishes (all of it reaches B), then the thread is cancelled. */
		CU_ASSERT(recv_all(p.b, a, buf, CANCEL_SEND_LEN));
		joined_cancelled(th);
		CU_ASSERT_EQUAL(us_send(p.a, c, "ping", 4, 0), 4);
		CU_ASSERT(recv_all(p.b, a, buf, 4));
		CU_ASSERT_EQUAL(memcmp(buf, "ping", 4), 0);
	} else {
		CU_ASSERT_EQUAL(us_send(p.a, c, "ping", 4, 0), 4);
		CU_ASSERT(recv_all(p.b, a, buf, 4));
		CU_ASSERT_EQUAL(memcmp(buf, "ping", 4), 0);
		/* Data for A makes the blocked call return: then it is cancelled. */
		CU_ASSERT_EQUAL(us_send(p.b, a, "data", 4, 0), 4);
		joined_cancelled(th);
		char r[8];
		if (op == 0) {
			/* us_recv consumed the data before the thread ended. */
			SU_ERR(us_recv(p.a, c, r, sizeof r, MSG_DONTWAIT), EAGAIN);
		} else {
			/* us_poll does not consume; its registration is gone. */
			CU_ASSERT_EQUAL(us_recv(p.a, c, r, sizeof r, 0), 4);
		}
	}
	CU_ASSERT(!atomic_load(&ca.returned));
	/* And once more, both ways. */
	CU_ASSERT_EQUAL(us_send(p.b, a, "more", 4, 0), 4);
	char r[8];
	CU_ASSERT_EQUAL(us_recv(p.a, c, r, sizeof r, 0), 4);
	CU_ASSERT_EQUAL(us_send(p.a, c, "last", 4, 0), 4);
	CU_ASSERT(recv_all(p.b, a, buf, 4));
	free(buf);
	us_close(p.a, c);
	us_close(p.b, a);
	us_close(p.b, l);
	su_close(&p);
}

static void test_threads_cancel_inside_recv(void)
{
	cancel_inside(0);
}

static void test_threads_cancel_inside_send(void)
{
	cancel_inside(1);
}

static void test_threads_cancel_inside_poll(void)
{
	cancel_inside(2);
}

/* ---- timeouts and non-blocking on a threaded stack ----------------------------------- */

static void test_threads_rcvtimeo(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int s = su_udp(p.a, INADDR_ANY, 7000);
	set_rcvtimeo(p.a, s, 200);
	char buf[8];
	uint64_t t0 = su_mono_ns();
	SU_ERR(us_recv(p.a, s, buf, sizeof buf, 0), EAGAIN);
	uint64_t took = su_mono_ns() - t0;
	CU_ASSERT(took >= 200 * MS);            /* never early */
	CU_ASSERT(took < WAKE_BOUND_MS * MS);   /* and not forever */

	/* Non-blocking ways do not wait at all (well under the timeout). */
	t0 = su_mono_ns();
	SU_ERR(us_recv(p.a, s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	int n = us_socket(p.a, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = su_sin(INADDR_ANY, 7001);
	SU_OK(us_bind(p.a, n, SU_SA(a), sizeof a));
	SU_ERR(us_recv(p.a, n, buf, sizeof buf, 0), EAGAIN);
	CU_ASSERT(su_mono_ns() - t0 < 100 * MS);

	/* A poll timeout is honoured too. */
	struct pollfd pf = { .fd = s, .events = POLLIN };
	t0 = su_mono_ns();
	CU_ASSERT_EQUAL(us_poll(p.a, &pf, 1, 100), 0);
	took = su_mono_ns() - t0;
	CU_ASSERT(took >= 100 * MS);
	CU_ASSERT(took < WAKE_BOUND_MS * MS);

	/* A datagram that arrives within the timeout is returned. */
	int b = su_udp(p.b, INADDR_ANY, 0);
	set_rcvtimeo(p.a, s, 5000);
	CU_ASSERT_EQUAL(su_sendto(p.b, b, "late", 4, SU_A_IP, 7000), 4);
	CU_ASSERT_EQUAL(us_recv(p.a, s, buf, sizeof buf, 0), 4);
	us_close(p.a, s);
	us_close(p.a, n);
	us_close(p.b, b);
	su_close(&p);
}

/* ---- one socket, two threads ------------------------------------------------------ */

enum { SHARED_N = 500, WINDOW = 32 };

struct shared {
	us_stack *st;
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sent, received;     /* protected by mu */
	int send_err, recv_err, bad;
	unsigned char seen[SHARED_N];
};

static void *shared_sender(void *p)
{
	struct shared *s = p;
	uint8_t m[256];
	for (int i = 0; i < SHARED_N; i++) {
		/* Keep at most WINDOW in flight, so no queue on the way can overflow. */
		pthread_mutex_lock(&s->mu);
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 10;
		int rc = 0;
		while (s->sent - s->received >= WINDOW && rc == 0)
			rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
		pthread_mutex_unlock(&s->mu);
		if (rc != 0) {
			s->send_err = ETIMEDOUT;
			return NULL;
		}
		size_t len = 4 + (size_t)(i % 200);
		tu_put16(m, (uint16_t)i);
		tu_put16(m + 2, (uint16_t)~i);
		tu_pattern(m + 4, len - 4, (unsigned)i);
		if (us_send(s->st, s->fd, m, len, 0) != (ssize_t)len) {
			s->send_err = errno;
			return NULL;
		}
		pthread_mutex_lock(&s->mu);
		s->sent++;
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static void *shared_receiver(void *p)
{
	struct shared *s = p;
	uint8_t m[256], want[256];
	for (int i = 0; i < SHARED_N; i++) {
		ssize_t n = us_recv(s->st, s->fd, m, sizeof m, 0);
		if (n < 0) {
			s->recv_err = errno;
			break;
		}
		int seq = tu_get16(m);
		size_t len = 4 + (size_t)(seq % 200);
		tu_pattern(want, len - 4, (unsigned)seq);
		if (n < 4 || seq >= SHARED_N || tu_get16(m + 2) != (uint16_t)~seq ||
		    (size_t)n != len || memcmp(m + 4, want, len - 4) != 0 || s->seen[seq])
			s->bad++;
		else
			s->seen[seq] = 1;
		pthread_mutex_lock(&s->mu);
		s->received++;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static void test_threads_send_and_recv_on_one_socket(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	static struct shared s;
	memset(&s, 0, sizeof s);
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	s.st = p.a;
	s.fd = us_socket(p.a, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = su_sin(SU_B_IP, ECHO_PORT);
	SU_OK(us_connect(p.a, s.fd, SU_SA(to), sizeof to));
	set_rcvtimeo(p.a, s.fd, 10000);
	struct echo_arg e = { .st = p.b, .limit = SHARED_N,
			      .fd = su_udp(p.b, INADDR_ANY, ECHO_PORT) };
	set_rcvtimeo(p.b, e.fd, 10000);

	pthread_t et, st, rt;
	CU_ASSERT_FATAL(pthread_create(&et, NULL, echo_main, &e) == 0);
	CU_ASSERT_FATAL(pthread_create(&rt, NULL, shared_receiver, &s) == 0);
	CU_ASSERT_FATAL(pthread_create(&st, NULL, shared_sender, &s) == 0);
	pthread_join(st, NULL);
	pthread_join(rt, NULL);
	pthread_join(et, NULL);         /* after SHARED_N, or when its recv times out */
	int seen = 0;
	for (int i = 0; i < SHARED_N; i++)
		seen += s.seen[i];
	if (seen != SHARED_N)
		fprintf(stderr, "\nshared socket: %d of %d seen, %d bad, errno send %d recv %d\n",
			seen, SHARED_N, s.bad, s.send_err, s.recv_err);
	CU_ASSERT_EQUAL(seen, SHARED_N);
	CU_ASSERT_EQUAL(s.bad, 0);
	CU_ASSERT_EQUAL(s.send_err, 0);
	CU_ASSERT_EQUAL(s.recv_err, 0);
	us_close(p.a, s.fd);
	us_close(p.b, e.fd);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
	su_close(&p);
}

/* ---- connect racing with input on the same port ------------------------------------ */

struct flipper {
	us_stack *st;
	int fd;
	atomic_bool stop;
	atomic_int flips;
	int err;
};

/* Connect and dissolve, again and again, while datagrams arrive. */
static void *flip_main(void *p)
{
	struct flipper *f = p;
	struct sockaddr_in peer = su_sin(SU_A_IP, 7000);
	struct sockaddr un = { .sa_family = AF_UNSPEC };
	while (!atomic_load(&f->stop) && atomic_load(&f->flips) < 1000000) {
		if (us_connect(f->st, f->fd, SU_SA(peer), sizeof peer) < 0 ||
		    us_connect(f->st, f->fd, &un, sizeof un) < 0) {
			f->err = errno;
			break;
		}
		atomic_fetch_add(&f->flips, 1);
	}
	return NULL;
}

static bool flipping(void *p)
{
	return atomic_load(&((struct flipper *)p)->flips) > 0;
}

struct stat_goal {
	us_stack *st;
	uint64_t want;
};

static bool udp_rx_reached(void *p)
{
	struct stat_goal *g = p;
	return us_stack_stat(g->st, US_STAT_UDP_RX) >= g->want;
}

static void test_threads_connect_races_input(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	enum { N = 400 };
	struct flipper f = { .st = p.b, .fd = su_udp(p.b, INADDR_ANY, 8000) };
	int a = su_udp(p.a, INADDR_ANY, 7001);
	/* Resolve ARP first: a burst behind an unresolved entry would overflow its queue. */
	char buf[8];
	set_rcvtimeo(p.b, f.fd, 5000);
	CU_ASSERT_EQUAL(su_sendto(p.a, a, "p", 1, SU_B_IP, 8000), 1);
	CU_ASSERT_EQUAL(us_recv(p.b, f.fd, buf, sizeof buf, 0), 1);
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, flip_main, &f) == 0);
	CU_ASSERT(su_wait_for(flipping, &f, WAKE_BOUND_MS));   /* it runs while they arrive */
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(su_sendto(p.a, a, "x", 1, SU_B_IP, 8000), 1);
	struct stat_goal g = { p.b, N + 1 };
	CU_ASSERT(su_wait_for(udp_rx_reached, &g, 10000));
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(f.err, 0);
	/* Each went to the socket (unconnected then) or drew "no port" (connected elsewhere). */
	int got = 0;
	while (us_recv(p.b, f.fd, buf, sizeof buf, MSG_DONTWAIT) == 1)
		got++;
	CU_ASSERT_EQUAL((uint64_t)got + us_stack_stat(p.b, US_STAT_UDP_NO_PORT), N);
	us_close(p.a, a);
	us_close(p.b, f.fd);
	su_close(&p);
}

/* ---- polling while the receive path changes the socket ---------------------- */

/*
 * One thread polls a socket (as tools/preload's poll does: us_poll with
 * timeout 0 in a loop, or a short wait) while B's receive thread changes
 * it: a connection joins the listener's accept queue (to_accept_queue),
 * the peer's FIN moves it to CLOSE_WAIT (tcp_set_state), its RST ends it
 * (tcp_done), each waking the socket's pollers (us_sock_wake walking the
 * registrations us_poll adds and removes). Every one of those reads and
 * writes is under the socket's lock; under ThreadSanitizer this test
 * reports any that is not (the races seen with the shim under TSan were
 * not: doc/PRELOAD.md "Sanitizer builds").
 */
struct race_poll {
	us_stack *st;
	int fd;
	short want;
	int timeout_ms;         /* 0: spin on us_poll(..., 0) as the shim does */
	short seen;
};

static void *race_poll_main(void *p)
{
	struct race_poll *r = p;
	uint64_t end = su_mono_ns() + 5000 * MS;
	while (su_mono_ns() < end) {
		struct pollfd pf = { .fd = r->fd, .events = POLLIN | POLLOUT };
		if (us_poll(r->st, &pf, 1, r->timeout_ms) > 0 && (pf.revents & r->want)) {
			r->seen = pf.revents;
			break;
		}
	}
	return NULL;
}

static short poll_during(us_stack *st, int fd, short want, int timeout_ms,
			 void (*act)(void *), void *arg)
{
	struct race_poll r = { .st = st, .fd = fd, .want = want, .timeout_ms = timeout_ms };
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, race_poll_main, &r) == 0);
	act(arg);
	pthread_join(th, NULL);
	return r.seen;
}

struct race_conn {
	us_stack *st;
	int fd;
	struct sockaddr_in to;
	bool reset;
};

static void race_connect(void *p)
{
	struct race_conn *c = p;
	SU_OK(us_connect(c->st, c->fd, SU_CSA(c->to), sizeof c->to));
}

static void race_close(void *p)
{
	struct race_conn *c = p;
	if (c->reset) {
		struct linger lg = { 1, 0 };    /* close sends RST */
		SU_OK(us_setsockopt(c->st, c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	}
	SU_OK(us_close(c->st, c->fd));
}

static void test_threads_poll_races_input(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int l = us_socket(p.b, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in la = su_sin(SU_B_IP, 7300);
	SU_OK(us_bind(p.b, l, SU_SA(la), sizeof la));
	SU_OK(us_listen(p.b, l, 8));
	for (int i = 0; i < 8; i++) {
		int wait_ms = i % 2 ? 0 : 50;
		struct race_conn c = { .st = p.a, .fd = us_socket(p.a, AF_INET, SOCK_STREAM, 0),
				       .to = la, .reset = i % 2 };
		CU_ASSERT_FATAL(c.fd >= 0);
		/* to_accept_queue on B's receive thread while we poll the listener. */
		CU_ASSERT(poll_during(p.b, l, POLLIN, wait_ms, race_connect, &c) & POLLIN);
		int a = us_accept(p.b, l, NULL, NULL);
		CU_ASSERT_FATAL(a >= 0);
		/* FIN (CLOSE_WAIT: readable) or RST (tcp_done: hang-up) while we poll it. */
		short want = c.reset ? POLLHUP : POLLIN;
		CU_ASSERT(poll_during(p.b, a, want, wait_ms, race_close, &c) & want);
		SU_OK(us_close(p.b, a));
	}
	us_close(p.b, l);
	su_close(&p);
}

US_SUITE(socket_threads, NULL, NULL,
	 US_TEST(test_threads_echo_many_sockets),
	 US_TEST(test_threads_close_wakes_recv),
	 US_TEST(test_threads_poll_woken_by_datagram),
	 US_TEST(test_threads_poll_woken_by_close),
	 US_TEST(test_threads_stop_wakes_everyone),
	 US_TEST(test_threads_no_restart_after_stop),
	 US_TEST(test_threads_cancel_inside_recv),
	 US_TEST(test_threads_cancel_inside_send),
	 US_TEST(test_threads_cancel_inside_poll),
	 US_TEST(test_threads_rcvtimeo),
	 US_TEST(test_threads_send_and_recv_on_one_socket),
	 US_TEST(test_threads_connect_races_input),
	 US_TEST(test_threads_poll_races_input));
