/*
 * test_tcp_rings.c — send and receive rings that get memory only when
 * data needs it, grow on demand up to SO_SNDBUF/SO_RCVBUF and are
 * released when empty for US_TCP_RING_IDLE_MS (suite "tcp_rings").
 *
 * A deterministic stack (10.0.0.1) faces the test's peer (10.0.0.2) on a
 * pair wire; the peer's segments are built byte by byte (tcputil.h).
 * What a user would check: the bytes read are the bytes sent, before
 * and after the rings were released; the window advertised is the whole
 * free buffer whether or not the ring has memory (RFC 9293 3.8.6.2.2: it
 * counts RCV.BUFF, the limit, not what happens to be allocated); no more
 * data is taken than SO_RCVBUF/SO_SNDBUF allow. And what the feature is
 * for: an idle established connection holds no ring memory at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

#include "harness.h"
#include "sockutil.h"
#include "tcputil.h"

#include "socket.h"
#include "tcp.h"

#define LPORT 80
#define PPORT 41000
#define PISS 5000u

/* What the rings of fd's connection hold and have allocated. */
struct rings {
	bool snd_mem, rcv_mem;          /* buf != NULL */
	uint32_t snd_size, rcv_size, snd_cap, rcv_cap, snd_len, rcv_len;
};

static struct rings rings_of(struct tu *t, int fd)
{
	struct rings r = { 0 };
	struct us_sock *s = us_sock_get(t->st, fd);
	CU_ASSERT_FATAL(s != NULL);
	pthread_mutex_lock(&s->lock);
	struct us_tcb *c = s->tcb;
	r.snd_mem = c->sndq.buf != NULL;
	r.rcv_mem = c->rcvq.buf != NULL;
	r.snd_size = c->sndq.size;
	r.rcv_size = c->rcvq.size;
	r.snd_cap = c->sndq.cap;
	r.rcv_cap = c->rcvq.cap;
	r.snd_len = c->sndq.len;
	r.rcv_len = c->rcvq.len;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return r;
}

/* Peer takes everything the stack sent into o and ACKs it. */
static void peer_ack_all(struct tc_peer *p, struct tc_out *o)
{
	for (int i = 0; i < o->n; i++)
		tc_peer_saw(p, &o->seg[i]);
	tc_peer_send(p, TC_ACK, NULL, 0);
}

/* The last segment in o, or NULL. */
static const struct tc_parsed *last_seg(const struct tc_out *o)
{
	return o->n ? &o->seg[o->n - 1] : NULL;
}

static int open_conn(struct tu *t, struct us_config *cfg, struct tc_peer *p, int *lfd,
		     uint32_t bufsize, const char *tag)
{
	tc_config(cfg, 0, tag);
	cfg->tcp.rcvbuf = bufsize;
	cfg->tcp.sndbuf = bufsize;
	cfg->tcp.time_wait_s = 1;
	/* MSS 1460, no window scaling */
	return tc_open_conn(t, cfg, &(struct tc_conn_spec){ .lport = LPORT, .pport = PPORT,
							    .piss = PISS }, p, lfd);
}

/* Both descriptors closed, TIME_WAIT (1 s) over, the stack closed. */
static void close_conn(struct tu *t, struct tc_out *o, int fd, int lfd)
{
	tc_out_free(o);
	us_close(t->st, fd);
	us_close(t->st, lfd);
	tu_run(t, 5 * TC_SEC, NULL);
	tu_close(t);
}

/*
 * An established connection has no ring memory until data comes or goes;
 * a ring holding a small exchange is small; both go back after the idle
 * time (not before: a busy connection keeps them), and data moves
 * correctly through rings allocated again.
 */
static void test_rings_follow_the_data_and_go_when_idle(void)
{
	struct us_config cfg;
	struct tu t;
	struct tc_peer p;
	int lfd;
	int fd = open_conn(&t, &cfg, &p, &lfd, 16384, __func__);
	if (fd < 0)
		return;
	struct rings r = rings_of(&t, fd);
	CU_ASSERT(!r.snd_mem && !r.rcv_mem);    /* established, nothing allocated yet */
	CU_ASSERT_EQUAL(r.rcv_cap, 16384);

	/* 1000 bytes in: a receive ring just large enough (a power of two). */
	uint8_t in[4380], got[4380], out[500];
	tu_pattern(in, sizeof in, 1);
	tc_peer_send(&p, TC_ACK | TC_PSH, in, 1000);
	struct tc_out o = { 0 };
	tc_run(&t, 50 * TC_MS, &o);
	r = rings_of(&t, fd);
	CU_ASSERT(r.rcv_mem && r.rcv_size == 1024);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, got, sizeof got, MSG_DONTWAIT), 1000);
	CU_ASSERT_EQUAL(memcmp(got, in, 1000), 0);

	/* 500 bytes out, acknowledged: the send ring holds nothing now. */
	tu_pattern(out, sizeof out, 2);
	CU_ASSERT_EQUAL(us_send(t.st, fd, out, sizeof out, MSG_DONTWAIT), (ssize_t)sizeof out);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_FATAL(o.n >= 1);
	CU_ASSERT_EQUAL(o.seg[o.n - 1].len, sizeof out);
	CU_ASSERT_EQUAL(memcmp(o.seg[o.n - 1].data, out, sizeof out), 0);
	peer_ack_all(&p, &o);
	r = rings_of(&t, fd);
	CU_ASSERT(r.snd_mem && r.snd_size == 512 && r.snd_len == 0);

	/* Not released at once: a request/response exchange reuses them. */
	tc_out_clear(&o);
	tc_run(&t, (US_TCP_RING_IDLE_MS / 4) * TC_MS, &o);
	r = rings_of(&t, fd);
	CU_ASSERT(r.snd_mem && r.rcv_mem);
	uint64_t rel0 = TU_STAT(&t, TCP_RING_RELEASES);
	CU_ASSERT_EQUAL(rel0, 0);
	/* After the idle time: no ring memory at all. */
	tc_run(&t, US_TCP_RING_IDLE_MS * TC_MS, &o);
	r = rings_of(&t, fd);
	CU_ASSERT(!r.snd_mem && !r.rcv_mem);
	CU_ASSERT_EQUAL(r.snd_size + r.rcv_size, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_RING_RELEASES), 2);
	CU_ASSERT_EQUAL(r.rcv_cap, 16384);      /* the limit stays */

	/* Three full segments: the ring grows again; every byte arrives; the
	 * ACKs keep the right edge offered before the release: 16384 past
	 * byte 1 (reading the first 1000 bytes opened the window by less
	 * than an MSS, which receiver SWS avoidance does not announce), not
	 * anything smaller because the ring had no memory. */
	tc_out_clear(&o);
	for (int i = 0; i < 3; i++)
		tc_peer_send(&p, TC_ACK, in + i * 1460, 1460);
	tc_run(&t, 100 * TC_MS, &o);
	const struct tc_parsed *a = last_seg(&o);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->ack, PISS + 1 + 1000 + 3 * 1460);
	CU_ASSERT_EQUAL(a->win, 16384 - 1000 - 3 * 1460);
	r = rings_of(&t, fd);
	CU_ASSERT(r.rcv_mem && r.rcv_size >= 3 * 1460 && r.rcv_size <= 8192);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, got, sizeof got, MSG_DONTWAIT), 3 * 1460);
	CU_ASSERT_EQUAL(memcmp(got, in, 3 * 1460), 0);

	close_conn(&t, &o, fd, lfd);
}

/*
 * SO_RCVBUF is the limit whatever the ring has allocated: the window
 * offered is the buffer, data past it is not taken, the ring never grows
 * past it, and a released ring offers the whole buffer again.
 */
static void test_rcvbuf_limit_with_lazy_ring(void)
{
	struct us_config cfg;
	struct tu t;
	struct tc_peer p;
	int lfd;
	int fd = open_conn(&t, &cfg, &p, &lfd, 6000, __func__);
	if (fd < 0)
		return;
	uint8_t in[7000], got[7000];
	tu_pattern(in, sizeof in, 3);
	struct tc_out o = { 0 };
	/* 6 x 1000 bytes fill the 6000-byte buffer; 1000 more are beyond it. */
	for (int i = 0; i < 6; i++)
		tc_peer_send(&p, TC_ACK, in + i * 1000, 1000);
	tc_run(&t, 50 * TC_MS, &o);
	const struct tc_parsed *a = last_seg(&o);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->ack, PISS + 1 + 6000);
	CU_ASSERT_EQUAL(a->win, 0);
	tc_out_clear(&o);
	tc_peer_send(&p, TC_ACK, in + 6000, 1000);
	tc_run(&t, 50 * TC_MS, &o);
	a = last_seg(&o);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->ack, PISS + 1 + 6000);       /* not taken */
	CU_ASSERT_EQUAL(a->win, 0);
	p.snd_nxt -= 1000;
	struct rings r = rings_of(&t, fd);
	CU_ASSERT_EQUAL(r.rcv_len, 6000);
	CU_ASSERT(r.rcv_size >= 6000 && r.rcv_size <= 6000);   /* clamped to the limit */

	/* The application reads it all: the window reopens to the buffer. */
	CU_ASSERT_EQUAL(us_recv(t.st, fd, got, sizeof got, MSG_DONTWAIT), 6000);
	CU_ASSERT_EQUAL(memcmp(got, in, 6000), 0);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	a = last_seg(&o);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->win, 6000);
	/* Idle: released; the ring has no memory but the window is whole. */
	tc_run(&t, 2 * US_TCP_RING_IDLE_MS * TC_MS, &o);
	r = rings_of(&t, fd);
	CU_ASSERT(!r.rcv_mem);
	tc_out_clear(&o);
	tc_peer_send(&p, TC_ACK, in + 6000, 1000);
	tc_run(&t, 50 * TC_MS, &o);
	a = last_seg(&o);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->ack, PISS + 1 + 7000);
	CU_ASSERT_EQUAL(a->win, 5000);
	CU_ASSERT_EQUAL(us_recv(t.st, fd, got, sizeof got, MSG_DONTWAIT), 1000);
	CU_ASSERT_EQUAL(memcmp(got, in + 6000, 1000), 0);

	close_conn(&t, &o, fd, lfd);
}

/*
 * SO_SNDBUF: a non-blocking write takes exactly the buffer (the ring
 * grows to it and no further), before and after the ring was released;
 * the bytes on the wire are the bytes written.
 */
static void test_sndbuf_limit_with_lazy_ring(void)
{
	struct us_config cfg;
	struct tu t;
	struct tc_peer p;
	int lfd;
	int fd = open_conn(&t, &cfg, &p, &lfd, 16384, __func__);
	if (fd < 0)
		return;
	int sb = 5000, one = 1;
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb), 0);
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
	uint8_t out[20000];
	tu_pattern(out, sizeof out, 4);
	struct tc_out o = { 0 };
	for (int round = 0; round < 2; round++) {
		CU_ASSERT_EQUAL(us_send(t.st, fd, out, sizeof out, MSG_DONTWAIT), 5000);
		struct rings r = rings_of(&t, fd);
		CU_ASSERT_EQUAL(r.snd_cap, 5000);
		CU_ASSERT(r.snd_mem && r.snd_size == 5000);
		errno = 0;
		CU_ASSERT_EQUAL(us_send(t.st, fd, out, sizeof out, MSG_DONTWAIT), -1);
		CU_ASSERT_EQUAL(errno, EAGAIN);
		/* What went out is the 5000 bytes, in order. */
		tc_out_clear(&o);
		tc_run(&t, 10 * TC_MS, &o);
		size_t at = 0;
		bool same = true;
		for (int i = 0; i < o.n; i++) {
			if (!o.seg[i].len)
				continue;
			same &= o.seg[i].seq == p.rcv_nxt + at && at + o.seg[i].len <= 5000 &&
				memcmp(o.seg[i].data, out + at, o.seg[i].len) == 0;
			at += o.seg[i].len;
		}
		CU_ASSERT(same);
		CU_ASSERT_EQUAL(at, 5000);
		peer_ack_all(&p, &o);
		tc_run(&t, 2 * US_TCP_RING_IDLE_MS * TC_MS, NULL);
		r = rings_of(&t, fd);
		CU_ASSERT(!r.snd_mem);
	}
	close_conn(&t, &o, fd, lfd);
}

US_SUITE(tcp_rings, NULL, NULL,
	 US_TEST(test_rings_follow_the_data_and_go_when_idle),
	 US_TEST(test_rcvbuf_limit_with_lazy_ring),
	 US_TEST(test_sndbuf_limit_with_lazy_ring));
