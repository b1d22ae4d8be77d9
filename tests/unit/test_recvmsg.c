/*
 * test_recvmsg.c — us_recvmsg scattering into several buffers (suite
 * recvmsg), TCP and UDP, on a deterministic stack pair.
 *
 * The data are a counter pattern, so every byte says where it belongs;
 * the iovec arrays have 1, 3 and 17 elements, some of them empty (with a
 * NULL base), and each buffer is surrounded by guard bytes that must stay
 * as they were. What a user checks, as with Linux's recvmsg(2):
 *   - TCP returns min(total of the buffers, bytes queued), filling the
 *     buffers in order (a read larger than 64 KiB in one call too: the
 *     stream is not cut to a bounce buffer's size), and MSG_PEEK shows the
 *     same bytes without taking them;
 *   - UDP returns one datagram per call; when the buffers are smaller it
 *     is cut, msg_flags has MSG_TRUNC, and the call returns the bytes
 *     stored, or the datagram's real length with the MSG_TRUNC flag
 *     (Linux udp_recvmsg); the rest of the datagram is gone.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "harness.h"
#include "sockutil.h"
#include "ustack/ustack.h"

#define GUARD 16
#define MAXIOV 17

/* Buffers of the lengths given (0: an empty element with a NULL base),
 * carved from one arena with GUARD bytes of 0xee around each. */
struct bufs {
	struct iovec iov[MAXIOV];
	int n;
	size_t total;
	uint8_t *arena;
	size_t arena_len;
};

static void bufs_init(struct bufs *b, const size_t *lens, int n)
{
	memset(b, 0, sizeof *b);
	b->n = n;
	for (int i = 0; i < n; i++)
		b->arena_len += lens[i] + GUARD;
	b->arena_len += GUARD;
	b->arena = malloc(b->arena_len);
	CU_ASSERT_FATAL(b->arena != NULL);
	memset(b->arena, 0xee, b->arena_len);
	size_t at = GUARD;
	for (int i = 0; i < n; i++) {
		b->iov[i].iov_base = lens[i] ? b->arena + at : NULL;
		b->iov[i].iov_len = lens[i];
		b->total += lens[i];
		at += lens[i] + GUARD;
	}
}

/* Bytes 0..got-1 of the buffers (in order) are pat(from + k); the bytes
 * after them in the buffers and every guard byte are untouched. */
static bool bufs_check(const struct bufs *b, size_t got, uint64_t from)
{
	size_t k = 0;
	for (int i = 0; i < b->n; i++) {
		const uint8_t *p = b->iov[i].iov_base;
		for (size_t j = 0; j < b->iov[i].iov_len; j++, k++) {
			uint8_t want = k < got ? (uint8_t)((from + k) * 7 + (from + k) / 251) : 0xee;
			if (p[j] != want)
				return false;
		}
	}
	/* The guards: every arena byte outside the buffers. */
	size_t at = 0;
	for (int i = 0; i < b->n; i++) {
		for (size_t j = 0; j < GUARD; j++)
			if (b->arena[at + j] != 0xee)
				return false;
		at += GUARD + b->iov[i].iov_len;
	}
	for (size_t j = 0; j < GUARD; j++)
		if (b->arena[at + j] != 0xee)
			return false;
	return true;
}

static void pattern(uint8_t *p, size_t n, uint64_t from)
{
	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)((from + k) * 7 + (from + k) / 251);
}

static ssize_t recvmsg_into(us_stack *st, int fd, struct bufs *b, int flags, int *mflags)
{
	struct msghdr m = { .msg_iov = b->iov, .msg_iovlen = (size_t)b->n };
	ssize_t n = us_recvmsg(st, fd, &m, flags);
	*mflags = m.msg_flags;
	return n;
}

/* The 1-, 3- and 17-element arrays, each with empty elements but the first. */
static const size_t l1[] = { 1000 };
static const size_t l3[] = { 700, 0, 1300 };
static const size_t l17[] = { 1, 0, 2, 3, 0, 5, 8, 13, 21, 0, 34, 55, 89, 144, 233, 377, 0 };

/* A connected TCP pair: A's descriptor in *c, B's accepted one returned. */
static int tcp_connect(struct su_pair *p, int *c, int *l)
{
	*l = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in la = su_sin(SU_B_IP, 7000);
	SU_OK(us_bind(p->b, *l, SU_SA(la), sizeof la));
	SU_OK(us_listen(p->b, *l, 4));
	*c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	SU_ERR(us_connect(p->a, *c, SU_SA(la), sizeof la), EINPROGRESS);
	su_run(p, 50 * US_NS_PER_MS);
	return us_accept(p->b, *l, NULL, NULL);
}

static void test_recvmsg_tcp_scatter(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int c, l;
	int s = tcp_connect(&p, &c, &l);
	CU_ASSERT_FATAL(s >= 0);
	/* 100,000 bytes queued at B (its ring holds 256 KiB). */
	static uint8_t data[100000];
	pattern(data, sizeof data, 0);
	size_t sent = 0;
	for (int i = 0; i < 200 && sent < sizeof data; i++) {
		ssize_t k = us_send(p.a, c, data + sent, sizeof data - sent, MSG_DONTWAIT);
		if (k > 0)
			sent += (size_t)k;
		su_run(&p, US_NS_PER_MS);
	}
	su_run(&p, 100 * US_NS_PER_MS);
	CU_ASSERT_EQUAL_FATAL(sent, sizeof data);
	const size_t *ls[3] = { l1, l3, l17 };
	const int ns[3] = { 1, 3, 17 };
	uint64_t at = 0;
	int mf;
	for (int k = 0; k < 3; k++) {
		struct bufs b;
		bufs_init(&b, ls[k], ns[k]);
		/* A peek fills the buffers the same way and takes nothing. */
		CU_ASSERT_EQUAL(recvmsg_into(p.b, s, &b, MSG_PEEK, &mf), (ssize_t)b.total);
		CU_ASSERT(bufs_check(&b, b.total, at));
		memset(b.arena, 0xee, b.arena_len);
		CU_ASSERT_EQUAL(recvmsg_into(p.b, s, &b, 0, &mf), (ssize_t)b.total);
		CU_ASSERT_EQUAL(mf, 0);
		CU_ASSERT(bufs_check(&b, b.total, at));
		at += b.total;
		free(b.arena);
	}
	/* The rest (more than 64 KiB) in one call into 3 buffers larger than it. */
	size_t rest = sizeof data - at;
	CU_ASSERT_FATAL(rest > 65536);
	size_t big[3] = { 30000, 0, 90000 };
	struct bufs b;
	bufs_init(&b, big, 3);
	CU_ASSERT_EQUAL(recvmsg_into(p.b, s, &b, 0, &mf), (ssize_t)rest);
	CU_ASSERT(bufs_check(&b, rest, at));
	free(b.arena);
	/* Nothing left; and no buffers at all read nothing. */
	bufs_init(&b, l3, 3);
	SU_ERR(recvmsg_into(p.b, s, &b, MSG_DONTWAIT, &mf), EAGAIN);
	free(b.arena);
	struct msghdr m = { 0 };
	CU_ASSERT_EQUAL(us_send(p.a, c, "x", 1, 0), 1);
	su_run(&p, 10 * US_NS_PER_MS);
	CU_ASSERT_EQUAL(us_recvmsg(p.b, s, &m, 0), 0);
	char x;
	CU_ASSERT_EQUAL(us_recv(p.b, s, &x, 1, 0), 1);
	CU_ASSERT_EQUAL(x, 'x');
	us_close(p.a, c);
	us_close(p.b, s);
	us_close(p.b, l);
	su_run(&p, 200 * US_NS_PER_MS);
	su_close(&p);
}

static void test_recvmsg_udp_scatter_and_trunc(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int a = su_udp(p.a, INADDR_ANY, 7000);
	int b = su_udp(p.b, INADDR_ANY, 8000);
	static uint8_t dg[3000];
	pattern(dg, sizeof dg, 0);
	const size_t *ls[3] = { l1, l3, l17 };
	const int ns[3] = { 1, 3, 17 };
	int mf;
	for (int k = 0; k < 3; k++) {
		struct bufs bf;
		bufs_init(&bf, ls[k], ns[k]);
		/* Smaller than the buffers: all of it, no MSG_TRUNC. */
		size_t small = bf.total / 2 + 1;
		CU_ASSERT_EQUAL(su_sendto(p.a, a, dg, small, SU_B_IP, 8000), (ssize_t)small);
		/* Larger: cut to the buffers, twice (once asking for the real length). */
		CU_ASSERT_EQUAL(su_sendto(p.a, a, dg, sizeof dg, SU_B_IP, 8000), (ssize_t)sizeof dg);
		CU_ASSERT_EQUAL(su_sendto(p.a, a, dg, sizeof dg, SU_B_IP, 8000), (ssize_t)sizeof dg);
		su_run(&p, 10 * US_NS_PER_MS);
		CU_ASSERT_EQUAL(recvmsg_into(p.b, b, &bf, MSG_DONTWAIT, &mf), (ssize_t)small);
		CU_ASSERT_EQUAL(mf, 0);
		CU_ASSERT(bufs_check(&bf, small, 0));
		memset(bf.arena, 0xee, bf.arena_len);
		CU_ASSERT_EQUAL(recvmsg_into(p.b, b, &bf, MSG_DONTWAIT, &mf), (ssize_t)bf.total);
		CU_ASSERT_EQUAL(mf, MSG_TRUNC);
		CU_ASSERT(bufs_check(&bf, bf.total, 0));
		memset(bf.arena, 0xee, bf.arena_len);
		CU_ASSERT_EQUAL(recvmsg_into(p.b, b, &bf, MSG_DONTWAIT | MSG_TRUNC, &mf),
				(ssize_t)sizeof dg);
		CU_ASSERT_EQUAL(mf, MSG_TRUNC);
		CU_ASSERT(bufs_check(&bf, bf.total, 0));
		/* The cut-off rest went with its datagram. */
		SU_ERR(recvmsg_into(p.b, b, &bf, MSG_DONTWAIT, &mf), EAGAIN);
		free(bf.arena);
	}
	/* No buffers: the datagram is taken, 0 returned, MSG_TRUNC said. */
	CU_ASSERT_EQUAL(su_sendto(p.a, a, dg, 10, SU_B_IP, 8000), 10);
	su_run(&p, 10 * US_NS_PER_MS);
	struct msghdr m = { 0 };
	CU_ASSERT_EQUAL(us_recvmsg(p.b, b, &m, MSG_DONTWAIT), 0);
	CU_ASSERT_EQUAL(m.msg_flags, MSG_TRUNC);
	SU_ERR(us_recvmsg(p.b, b, &m, MSG_DONTWAIT), EAGAIN);
	us_close(p.a, a);
	us_close(p.b, b);
	su_close(&p);
}

US_SUITE(recvmsg, NULL, NULL,
	 US_TEST(test_recvmsg_tcp_scatter),
	 US_TEST(test_recvmsg_udp_scatter_and_trunc));
