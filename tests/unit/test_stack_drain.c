/*
 * test_stack_drain.c — a stack that stops lets the connections its
 * application closed finish first (suite "stack_drain"; issue 9, "The
 * library must not lose data at exit").
 *
 * Two threaded stacks on a pair wire (sockutil.h: A 10.0.0.1, B 10.0.0.2).
 * A does what the README's example does, with more data: connect, send
 * 2,000,000 bytes, close, us_stack_free. B reads slowly, so when A's
 * us_stack_free starts, hundreds of kilobytes are still in A's send buffer.
 * B must get every byte, in order, and then the end of the stream (the
 * FIN). Before the drain, A's threads stopped at once: B got about
 * 1.75 MB and never a FIN. Then the bound: a peer that never reads makes
 * us_stack_free wait for drain_timeout_ms, no longer, and the connection
 * is reset rather than left hanging.
 *
 * Every wait is bounded (SO_RCVTIMEO on B's reads, joins after those).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "harness.h"
#include "sockutil.h"

#define DRAIN_LEN 2000000
#define DRAIN_PORT 7300

struct reader {
	us_stack *st;
	int fd;
	size_t chunk;           /* bytes per read */
	int pause_us;           /* after each read */
	size_t got;
	bool pattern_ok;
	long last;              /* the last us_recv's result */
	int err;                /* its errno when -1 */
};

static void *reader_main(void *p)
{
	struct reader *r = p;
	static uint8_t want[DRAIN_LEN];
	uint8_t buf[8192];
	tu_pattern(want, sizeof want, 7);
	r->pattern_ok = true;
	for (;;) {
		size_t n = r->chunk < sizeof buf ? r->chunk : sizeof buf;
		errno = 0;
		ssize_t k = us_recv(r->st, r->fd, buf, n, 0);
		r->last = k;
		r->err = errno;
		if (k <= 0)
			break;
		if (r->got + (size_t)k > DRAIN_LEN ||
		    memcmp(buf, want + r->got, (size_t)k) != 0)
			r->pattern_ok = false;
		r->got += (size_t)k;
		if (r->pause_us) {
			struct timespec ts = { 0, (long)r->pause_us * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* B listens; A connects; returns A's descriptor and sets B's accepted one. */
static int connect_pair(struct su_pair *p, int rcvbuf_b, int *bfd, int *lfd)
{
	int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
	SU_OK(us_setsockopt(p->b, l, SOL_SOCKET, SO_RCVBUF, &rcvbuf_b, sizeof rcvbuf_b));
	struct sockaddr_in la = su_sin(SU_B_IP, DRAIN_PORT);
	SU_OK(us_bind(p->b, l, SU_SA(la), sizeof la));
	SU_OK(us_listen(p->b, l, 4));
	int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
	SU_OK(us_connect(p->a, c, SU_SA(la), sizeof la));
	struct timeval tv = { 5, 0 };
	SU_OK(us_setsockopt(p->b, l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	*bfd = us_accept(p->b, l, NULL, NULL);
	CU_ASSERT(*bfd >= 0);
	/* The safety net of B's reads: an end that never comes is a failure. */
	SU_OK(us_setsockopt(p->b, *bfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	*lfd = l;
	return c;
}

/* The README's example against a slow reader: every byte, then the FIN. */
static void test_drain_free_delivers_everything_to_a_slow_reader(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int b, l;
	int c = connect_pair(&p, 16384, &b, &l);
	if (b < 0) {
		su_close(&p);
		return;
	}
	/* About 2 MB/s: the last ~500 KB (A's send buffer and B's window) are
	 * still on their way when us_stack_free starts. */
	struct reader r = { .st = p.b, .fd = b, .chunk = 4096, .pause_us = 2000 };
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, reader_main, &r) == 0);

	static uint8_t data[DRAIN_LEN];
	tu_pattern(data, sizeof data, 7);
	CU_ASSERT_EQUAL(us_send(p.a, c, data, sizeof data, 0), DRAIN_LEN);
	SU_OK(us_close(p.a, c));
	uint64_t t0 = su_mono_ns();
	us_stack_free(p.a);
	p.a = NULL;
	uint64_t took_ms = (su_mono_ns() - t0) / 1000000;
	pthread_join(th, NULL);

	printf("\n    us_stack_free took %llu ms; B read %zu bytes, then %ld (%s)\n",
	       (unsigned long long)took_ms, r.got, r.last, r.last < 0 ? strerror(r.err) : "end");
	CU_ASSERT_EQUAL(r.got, DRAIN_LEN);
	CU_ASSERT(r.pattern_ok);
	CU_ASSERT_EQUAL(r.last, 0);     /* the FIN, not a timeout or a reset */
	CU_ASSERT(took_ms < US_DEFAULT_DRAIN_TIMEOUT_MS);
	us_close(p.b, b);
	us_close(p.b, l);
	su_close(&p);
}

/* A peer that never reads: the stop waits drain_timeout_ms, then resets. */
static void test_drain_is_bounded_then_resets(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int b, l;
	int c = connect_pair(&p, 16384, &b, &l);
	if (b < 0) {
		su_close(&p);
		return;
	}
	static uint8_t data[DRAIN_LEN];
	tu_pattern(data, sizeof data, 7);
	/* Fill what B's window and A's send buffer hold, without blocking. */
	size_t sent = 0;
	for (int i = 0; i < 1000 && sent < sizeof data; i++) {
		ssize_t k = us_send(p.a, c, data + sent, sizeof data - sent, MSG_DONTWAIT);
		if (k > 0)
			sent += (size_t)k;
		else if (errno != EAGAIN)
			break;
		else {
			struct timespec ts = { 0, 2000000 };      /* let the window fill */
			nanosleep(&ts, NULL);
		}
	}
	CU_ASSERT(sent > 100000 && sent < sizeof data);
	SU_OK(us_close(p.a, c));
	p.a->cfg.drain_timeout_ms = 300;        /* as stack: {drain_timeout_ms: 300} */
	uint64_t t0 = su_mono_ns();
	us_stack_free(p.a);
	p.a = NULL;
	uint64_t took_ms = (su_mono_ns() - t0) / 1000000;
	printf("\n    us_stack_free took %llu ms with drain_timeout_ms 300\n",
	       (unsigned long long)took_ms);
	CU_ASSERT(took_ms >= 300);
	CU_ASSERT(took_ms < 2000);
	/* B: what arrived (if the reset left it), then ECONNRESET; never a clean end. */
	struct reader r = { .st = p.b, .fd = b, .chunk = 8192 };
	reader_main(&r);
	printf("    B read %zu of %zu bytes, then %ld (%s)\n", r.got, sent, r.last,
	       r.last < 0 ? strerror(r.err) : "end");
	CU_ASSERT(r.pattern_ok);
	CU_ASSERT(r.got < sent);
	CU_ASSERT_EQUAL(r.last, -1);
	CU_ASSERT_EQUAL(r.err, ECONNRESET);
	us_close(p.b, b);
	us_close(p.b, l);
	su_close(&p);
}

US_SUITE(stack_drain, NULL, NULL,
	 US_TEST(test_drain_free_delivers_everything_to_a_slow_reader),
	 US_TEST(test_drain_is_bounded_then_resets));
