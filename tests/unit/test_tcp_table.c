/*
 * test_tcp_table.c — the TCP connection hash (core/tcp_table.c): keyed with
 * the stack's ISN secret, and grown with the number of connections; and
 * connect()'s choice of local port by 4-tuple.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "sockutil.h"
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

/* ---- connect()'s local port: shared by 4-tuple (Linux __inet_hash_connect) ---- */

enum { PR_LO = 40000, PR_N = 64 };

static bool pr_open(struct tu *t, const char *tag)
{
	struct us_config cfg;
	tc_config(&cfg, 0, tag);
	cfg.port_lo = PR_LO;
	cfg.port_hi = PR_LO + PR_N - 1;
	cfg.tcp.sndbuf = cfg.tcp.rcvbuf = 4096;
	return tu_open_cfg(t, &cfg);
}

/* A non-blocking connect to TU_PEER_IP:port: 0 (EINPROGRESS) or the errno. */
static int pr_connect(struct tu *t, int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = TU_PEER_IP };
	errno = 0;
	int rc = us_connect(t->st, fd, (struct sockaddr *)&a, sizeof a);
	return rc == -1 && errno == EINPROGRESS ? 0 : rc == 0 ? -1 : errno;
}

/*
 * ip_local_port_range holds 64 ports; the stack opens 64 connections to
 * the peer's port 80 and 64 more to its port 81 from its one address:
 * 128 connections, twice the range. All get established, every local
 * port is in the range, no 4-tuple appears twice, and towards each
 * destination all 64 ports are used (each once). Then every 4-tuple to
 * port 80 is taken: one more connect there fails with EADDRNOTAVAIL (as
 * Linux), while port 82 still gets a connection. With one port pool per
 * local address (the old choice), the 65th connect already failed.
 */
static void test_connect_port_shared_by_4tuple(void)
{
	enum { PER = PR_N, N = 2 * PR_N };
	struct tu t;
	if (!pr_open(&t, __func__))
		return;
	static struct tc_peer p[N + 1];
	static int fd[N + 1];
	int ok = 0, in_range = 0, named = 0;
	static uint8_t used[2][PR_N];
	memset(used, 0, sizeof used);
	for (int i = 0; i < N; i++) {
		uint16_t rport = (uint16_t)(80 + i / PER);
		tc_peer_init(&p[i], &t, rport, 0, 7000u + (uint32_t)i * 104729u);
		fd[i] = tc_open_active(&p[i], NULL);
		if (fd[i] < 0)
			continue;
		ok += tc_state(&t, fd[i]) == TCPS_ESTABLISHED;
		uint16_t lp = p[i].stack_port;
		if (lp >= PR_LO && lp < PR_LO + PR_N) {
			in_range++;
			used[i / PER][lp - PR_LO]++;
		}
		struct sockaddr_in me;
		socklen_t ml = sizeof me;
		named += us_getsockname(t.st, fd[i], (struct sockaddr *)&me, &ml) == 0 &&
			 ntohs(me.sin_port) == lp && me.sin_addr.s_addr == TU_STACK_IP;
	}
	CU_ASSERT_EQUAL(ok, N);
	CU_ASSERT_EQUAL(in_range, N);
	CU_ASSERT_EQUAL(named, N);
	int once = 0;
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < PR_N; k++)
			once += used[d][k] == 1;
	CU_ASSERT_EQUAL(once, N);       /* every port once per destination: no 4-tuple twice */
	CU_ASSERT_EQUAL(tc_conn_state(&t, p[0].stack_port, 80), TCPS_ESTABLISHED);
	/* Every 4-tuple to :80 is in use. */
	int x = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(pr_connect(&t, x, 80), EADDRNOTAVAIL);
	tc_collect(&t, NULL);
	/* Another destination still has all its 4-tuples. */
	CU_ASSERT_EQUAL(pr_connect(&t, x, 82), 0);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN), 1);
	if (o.n >= 1) {
		CU_ASSERT_EQUAL(o.seg[0].dport, 82);
		CU_ASSERT(o.seg[0].sport >= PR_LO && o.seg[0].sport < PR_LO + PR_N);
	}
	tc_out_free(&o);
	us_close(t.st, x);
	for (int i = 0; i < N; i++)
		if (fd[i] >= 0)
			us_close(t.st, fd[i]);
	tc_run(&t, 100 * TC_MS, NULL);
	tu_close(&t);
}

/*
 * A listener on a port of the range, on the stack's address, and a socket
 * bound to another one with bind() (no listen): connect() takes neither,
 * so towards one destination only 62 of the 64 ports are available, and
 * the 63rd connect fails with EADDRNOTAVAIL. A socket bound with bind(port
 * 0) meanwhile gets a port no connection has (bind keeps its port to
 * itself, as Linux's inet_csk_get_port).
 */
static void test_connect_port_skips_bound(void)
{
	struct tu t;
	if (!pr_open(&t, __func__))
		return;
	enum { LPORT = PR_LO + 10, BPORT = PR_LO + 33 };
	int lfd = tc_listen(&t, LPORT, 8);
	int bfd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(BPORT),
				 .sin_addr.s_addr = TU_STACK_IP };
	CU_ASSERT_EQUAL(us_bind(t.st, bfd, (struct sockaddr *)&b, sizeof b), 0);
	static int fd[PR_N];
	static uint8_t used[PR_N];
	memset(used, 0, sizeof used);
	int opened = 0, bad = 0, dup = 0;
	for (int i = 0; i < PR_N - 2; i++) {
		struct tc_peer p;
		tc_peer_init(&p, &t, 80, 0, 5000u + (uint32_t)i);
		fd[i] = tc_open_active(&p, NULL);
		if (fd[i] < 0)
			continue;
		opened++;
		uint16_t lp = p.stack_port;
		bad += lp == LPORT || lp == BPORT || lp < PR_LO || lp >= PR_LO + PR_N;
		if (lp >= PR_LO && lp < PR_LO + PR_N)
			dup += used[lp - PR_LO]++ > 0;
	}
	CU_ASSERT_EQUAL(opened, PR_N - 2);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(dup, 0);
	int x = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(pr_connect(&t, x, 80), EADDRNOTAVAIL);
	/* bind(port 0): a port of its own, none of the connections' (here
	 * there is none left in the range: EADDRINUSE, as Linux). */
	struct sockaddr_in any = { .sin_family = AF_INET };
	errno = 0;
	CU_ASSERT_EQUAL(us_bind(t.st, x, (struct sockaddr *)&any, sizeof any), -1);
	CU_ASSERT_EQUAL(errno, EADDRINUSE);
	us_close(t.st, x);
	/* With one connection gone, bind(port 0) gets exactly its port. */
	int gone = -1;
	for (int i = 0; i < PR_N - 2 && gone < 0; i++)
		if (fd[i] >= 0) {
			struct sockaddr_in me;
			socklen_t ml = sizeof me;
			CU_ASSERT_EQUAL(us_getsockname(t.st, fd[i], (struct sockaddr *)&me, &ml), 0);
			gone = ntohs(me.sin_port);
			struct linger lg = { 1, 0 };    /* RST: no TIME_WAIT record */
			us_setsockopt(t.st, fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			us_close(t.st, fd[i]);
			fd[i] = -1;
		}
	tc_collect(&t, NULL);
	x = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(us_bind(t.st, x, (struct sockaddr *)&any, sizeof any), 0);
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	CU_ASSERT_EQUAL(us_getsockname(t.st, x, (struct sockaddr *)&me, &ml), 0);
	CU_ASSERT_EQUAL(ntohs(me.sin_port), gone);
	/* And an explicit bind to a port a connection uses is refused. */
	int y = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	int busy = -1;
	for (int k = 0; k < PR_N; k++)
		if (used[k] && PR_LO + k != gone) {
			busy = PR_LO + k;
			break;
		}
	struct sockaddr_in yb = { .sin_family = AF_INET, .sin_port = htons((uint16_t)busy) };
	errno = 0;
	CU_ASSERT_EQUAL(us_bind(t.st, y, (struct sockaddr *)&yb, sizeof yb), -1);
	CU_ASSERT_EQUAL(errno, EADDRINUSE);
	us_close(t.st, y);
	us_close(t.st, x);
	for (int i = 0; i < PR_N - 2; i++)
		if (fd[i] >= 0)
			us_close(t.st, fd[i]);
	us_close(t.st, bfd);
	us_close(t.st, lfd);
	tc_run(&t, 100 * TC_MS, NULL);
	tu_close(&t);
}

/*
 * The range is one port, 40000. The stack connects to the peer's :5000
 * with timestamps and closes first: the only 4-tuple towards :5000 is in
 * TIME_WAIT. A connect there at once fails (EADDRNOTAVAIL: the record is
 * under a second old), but one to :5001 gets port 40000 (the record holds
 * only its own 4-tuple against connect's choice); 1.5 s later the connect
 * to :5000 takes the record over (Linux tcp_tw_reuse) from port 40000,
 * with ISS = old SND.NXT + 65537.
 */
static void test_connect_port_time_wait_reuse(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	cfg.port_lo = cfg.port_hi = 40000;
	cfg.tcp.time_wait_s = 60;
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	tu_run(&t, TC_SEC, NULL);
	struct tc_peer p;
	tc_peer_init(&p, &t, 5000, 0, 9000);
	struct tc_seg sa = { .has_mss = true, .mss = 1460, .has_ts = true, .tsval = 100 };
	int fd = tc_open_active(&p, &sa);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(p.stack_port, 40000);
	us_close(t.st, fd);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	int f = tc_find(&o, 0, TC_FIN);
	CU_ASSERT_FATAL(f >= 0);
	tc_peer_saw(&p, &o.seg[f]);
	p.tsval += 10;
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, 40000, 5000), TCPS_TIME_WAIT);
	uint32_t old_snd_nxt = p.rcv_nxt;
	tc_collect(&t, NULL);           /* the ACK of the peer's FIN */
	int x = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(pr_connect(&t, x, 5000), EADDRNOTAVAIL);
	/* Another destination: the same port. */
	struct tc_peer q;
	tc_peer_init(&q, &t, 5001, 0, 19000);
	int fq = tc_open_active(&q, NULL);
	CU_ASSERT(fq >= 0);
	CU_ASSERT_EQUAL(q.stack_port, 40000);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	/* Later: the record is taken over. */
	tu_run(&t, 1500 * TC_MS, NULL);
	tc_collect(&t, NULL);
	CU_ASSERT_EQUAL(pr_connect(&t, x, 5000), 0);
	tc_collect(&t, &o);
	f = tc_find(&o, 0, TC_SYN);
	CU_ASSERT(f >= 0);
	if (f >= 0) {
		CU_ASSERT_EQUAL(o.seg[f].sport, 40000);
		CU_ASSERT_EQUAL(o.seg[f].dport, 5000);
		CU_ASSERT_EQUAL(o.seg[f].seq, old_snd_nxt + 65537);
	}
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 0);
	tc_out_free(&o);
	us_close(t.st, x);
	if (fq >= 0)
		us_close(t.st, fq);
	tu_run(&t, 200 * TC_SEC, NULL);
	tu_close(&t);
}

US_SUITE(tcp_table, NULL, NULL,
	 US_TEST(test_conn_hash_keyed),
	 US_TEST(test_conn_hash_resize_lookup),
	 US_TEST(test_connect_port_shared_by_4tuple),
	 US_TEST(test_connect_port_skips_bound),
	 US_TEST(test_connect_port_time_wait_reuse));
