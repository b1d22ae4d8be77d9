/*
 * test_tcp_table.c — the TCP connection hash (core/tcp_table.c): keyed with
 * the stack's ISN secret, and grown with the number of connections.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tcputil.h"
#include "../../core/stack.h"

/* The bucket of each of n 4-tuples of one client host towards port 80. */
static void layout(us_stack *st, unsigned *b, int n)
{
	struct us_tcp *tcp = &st->tcp;
	pthread_rwlock_rdlock(&tcp->lock);
	for (int i = 0; i < n; i++)
		b[i] = tcp_conn_bucket(tcp, TU_STACK_IP, htons(80), TU_PEER_IP,
				       htons((uint16_t)(1024 + i * 7)));
	pthread_rwlock_unlock(&tcp->lock);
}

/*
 * Two stacks with different secrets (seeds) put the same 4-tuples into
 * different buckets, so a peer that does not know the secret cannot
 * choose tuples that share a chain; two stacks with the same secret agree
 * (the deterministic mode stays reproducible). An unkeyed hash gives every
 * stack the same layout and fails the first check.
 */
static void test_conn_hash_keyed(void)
{
	enum { N = 1000 };
	static unsigned a[N], b[N], c[N];
	struct tu ta, tb, tc;
	struct tu_opts oa = { .seed = 1 }, ob = { .seed = 2 };
	if (!tu_open_tag(&ta, &oa, "conn_hash_keyed_a"))
		return;
	if (!tu_open_tag(&tb, &ob, "conn_hash_keyed_b")) {
		tu_close(&ta);
		return;
	}
	if (!tu_open_tag(&tc, &oa, "conn_hash_keyed_c")) {
		tu_close(&ta);
		tu_close(&tb);
		return;
	}
	CU_ASSERT_EQUAL(ta.st->tcp.conn_buckets, tb.st->tcp.conn_buckets);
	layout(ta.st, a, N);
	layout(tb.st, b, N);
	layout(tc.st, c, N);
	int same_ab = 0, same_ac = 0;
	for (int i = 0; i < N; i++) {
		same_ab += a[i] == b[i];
		same_ac += a[i] == c[i];
	}
	/* By chance about N / buckets (4 of 1,000 with 256 buckets) agree. */
	CU_ASSERT(same_ab < N / 20);
	CU_ASSERT_EQUAL(same_ac, N);
	/* And the layout spreads: no bucket holds more than a few times its share. */
	static int per[US_TCP_CONN_MAX > 65536 ? 65536 : US_TCP_CONN_MAX];
	memset(per, 0, sizeof per);
	int worst = 0;
	for (int i = 0; i < N; i++)
		if (++per[a[i]] > worst)
			worst = per[a[i]];
	CU_ASSERT(worst <= 4 * (N / (int)ta.st->tcp.conn_buckets + 1));
	tu_close(&ta);
	tu_close(&tb);
	tu_close(&tc);
}

/*
 * 1,500 connections from one peer host: the hash grows from 256 buckets
 * while connections are being made (inserts of SYN_RCVD children resize
 * it), and afterwards every segment still finds its own connection: each
 * peer sends its index and exactly that connection's socket receives it.
 * A segment for a 4-tuple that is not there is still answered with a RST.
 */
static void test_conn_hash_resize_lookup(void)
{
	enum { N = 1500 };
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	cfg.tcp.sndbuf = cfg.tcp.rcvbuf = 4096;
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	unsigned b0 = t.st->tcp.conn_buckets;
	CU_ASSERT_EQUAL(b0, US_TCP_CONN_MIN);
	int lfd = tc_listen(&t, 80, 64);
	static struct tc_peer p[N];
	static int fd[N];
	int opened = 0;
	for (int i = 0; i < N; i++) {
		tc_peer_init(&p[i], &t, (uint16_t)(20000 + i), 80, 1000u + (uint32_t)i * 7919u);
		fd[i] = tc_open_passive(&p[i], lfd, NULL);
		opened += fd[i] >= 0;
	}
	CU_ASSERT_EQUAL(opened, N);
	CU_ASSERT(t.st->tcp.conn_buckets >= N);
	CU_ASSERT(t.st->tcp.conn_resizes >= 3);         /* 256 -> 512 -> 1024 -> 2048 */
	CU_ASSERT_EQUAL(t.st->tcp.conn_count, (size_t)N);
	int right = 0;
	for (int i = 0; i < N; i++) {
		char msg[16];
		int len = snprintf(msg, sizeof msg, "conn %d", i);
		tc_peer_send(&p[i], TC_ACK | TC_PSH, msg, (size_t)len);
	}
	for (int i = 0; i < N; i++) {
		char want[16], got[32];
		int len = snprintf(want, sizeof want, "conn %d", i);
		ssize_t r = fd[i] >= 0 ? us_recv(t.st, fd[i], got, sizeof got, MSG_DONTWAIT) : -1;
		right += r == len && memcmp(got, want, (size_t)len) == 0;
	}
	CU_ASSERT_EQUAL(right, N);
	tc_collect(&t, NULL);
	/* Unknown 4-tuple: RST (RFC 9293 3.10.7.1). */
	struct tc_peer x;
	tc_peer_init(&x, &t, (uint16_t)(20000 + N), 80, 5);
	x.rcv_nxt = 12345;
	tc_peer_send(&x, TC_ACK, "?", 1);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 1);
	if (o.n == 1)
		CU_ASSERT_TRUE(o.seg[0].flags & TC_RST);
	tc_out_free(&o);
	for (int i = 0; i < N; i++)
		if (fd[i] >= 0)
			us_close(t.st, fd[i]);
	us_close(t.st, lfd);
	tc_run(&t, 100 * TC_MS, NULL);
	tu_close(&t);
}

US_SUITE(tcp_table, NULL, NULL,
	 US_TEST(test_conn_hash_keyed),
	 US_TEST(test_conn_hash_resize_lookup));
