/*
 * test_tcp_timewait.c — TIME_WAIT as a compact record (suite
 * "tcp_timewait", core/tcp_timewait.c).
 *
 * A deterministic stack (10.0.0.1) faces peers (10.0.0.2) on a pair wire,
 * segments built byte by byte (tcputil.h). Expected behaviour from RFC
 * 9293 3.10.7.4 (TIME-WAIT), RFC 6191 and, where they leave a choice,
 * Linux's tcp_timewait_state_process: an RST at RCV.NXT ends TIME_WAIT
 * (tcp_rfc1337 = 0), an RST elsewhere is ignored (no challenge ACK), a new
 * SYN above RCV.NXT gets ISS = old SND.NXT + 65537, the port stays taken.
 * The behaviours kept from before (retransmitted FIN re-ACKed and 2 MSL
 * restarted, old SYN answered with an ACK, SYN+FIN dropped) are in suite
 * tcp_state and the replay scenarios tcp_time_wait*.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mallocwatch.h"
#include "sockutil.h"
#include "tcputil.h"

#include "socket.h"
#include "tcp.h"

#define LPORT 80
#define PPORT 42000
#define PISS 7000u
#define TW_S 3

static struct us_config cfg;

static bool open_stack(struct tu *t, const char *tag)
{
	tc_config(&cfg, 0, tag);
	cfg.tcp.time_wait_s = TW_S;
	if (!tu_open_cfg(t, &cfg))
		return false;
	tu_run(t, TC_SEC, NULL);
	return true;
}

/* Accept a connection from p, close it first and take it to TIME_WAIT. */
static bool close_to_time_wait(struct tu *t, struct tc_peer *p, int lfd, bool ts)
{
	struct tc_seg syn = { .has_mss = true, .mss = 1460, .has_ts = ts, .tsval = p->tsval };
	int fd = tc_open_passive(p, lfd, &syn);
	if (fd < 0)
		return false;
	us_close(t->st, fd);
	struct tc_out o = { 0 };
	tc_collect(t, &o);
	int f = tc_find(&o, 0, TC_FIN);
	CU_ASSERT(f >= 0);
	if (f < 0) {
		tc_out_free(&o);
		return false;
	}
	tc_peer_saw(p, &o.seg[f]);
	p->tsval += 10;
	tc_peer_send(p, TC_FIN | TC_ACK, NULL, 0);
	tc_out_clear(&o);
	tc_collect(t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_ACK), 1);        /* the ACK of the peer's FIN */
	tc_out_free(&o);
	return tc_conn_state(t, LPORT, p->port) == TCPS_TIME_WAIT;
}

/* A stack, a listener and a connection from p (port PPORT) that the stack
 * closed first, in TIME_WAIT (timestamps if ts); false if no stack. */
static bool open_time_wait(struct tu *t, struct tc_peer *p, int *lfd, bool ts, const char *tag)
{
	if (!open_stack(t, tag))
		return false;
	*lfd = tc_listen(t, LPORT, 8);
	tc_peer_init(p, t, PPORT, LPORT, PISS);
	CU_ASSERT_FATAL(close_to_time_wait(t, p, *lfd, ts));
	return true;
}

/* Peers p[from..to-1] (ports PPORT + i) each take a connection to TIME_WAIT
 * (timestamps on every other one); returns how many got there. */
static int time_waits(struct tu *t, struct tc_peer *p, int from, int to, int lfd)
{
	int ok = 0;
	for (int i = from; i < to; i++) {
		tc_peer_init(&p[i], t, (uint16_t)(PPORT + i), LPORT, PISS + (uint32_t)i * 100000);
		ok += close_to_time_wait(t, &p[i], lfd, i % 2);
	}
	return ok;
}

/*
 * 1,000 connections closed first by the stack: 1,000 TIME_WAIT records
 * and no socket or control block left for any of them (only the
 * listener's); all gone after 2 MSL.
 */
static void test_thousand_time_waits_hold_no_socket(void)
{
	struct tu t;
	if (!open_stack(&t, __func__))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	static struct tc_peer p[1000];
	CU_ASSERT_EQUAL(time_waits(&t, p, 0, 1000, lfd), 1000);
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 1000);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 1);                /* the listener alone */
	/* Every record still answers: the last peer's FIN again gets its ACK. */
	p[999].snd_nxt--;
	tc_peer_send(&p[999], TC_FIN | TC_ACK, NULL, 0);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_ACK), 1);
	if (o.n == 1) {
		CU_ASSERT_EQUAL(o.seg[0].ack, p[999].snd_nxt);
		CU_ASSERT_EQUAL(o.seg[0].seq, p[999].rcv_nxt);
		CU_ASSERT_EQUAL(o.seg[0].dport, PPORT + 999);
	}
	tu_run(&t, (TW_S + 1) * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	tc_out_free(&o);
	us_close(t.st, lfd);
	tu_close(&t);
}

/* RST at RCV.NXT ends TIME_WAIT; an RST elsewhere is ignored, unanswered. */
static void test_time_wait_rst_in_window_ends_it_other_ignored(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd;
	if (!open_time_wait(&t, &p, &lfd, false, __func__))
		return;
	struct tc_out o = { 0 };
	struct tc_seg r = tc_peer_seg(&p, TC_RST, NULL, 0);
	r.seq = p.snd_nxt + 1000;
	tc_inject(&t, &r);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_TIME_WAIT);
	r.seq = p.snd_nxt;
	tc_inject(&t, &r);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), -1);
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 0);
	tc_out_free(&o);
	us_close(t.st, lfd);
	tu_close(&t);
}

/*
 * A new SYN above RCV.NXT ends TIME_WAIT; the new connection's ISS is the
 * old SND.NXT + 65537 (Linux), and it completes and is accepted.
 */
static void test_time_wait_new_syn_iss_above_old_snd_nxt(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd;
	if (!open_time_wait(&t, &p, &lfd, true, __func__))
		return;
	uint32_t old_snd_nxt = p.rcv_nxt;
	struct tc_peer q;
	tc_peer_init(&q, &t, PPORT, LPORT, PISS + 500000);
	q.tsval = p.tsval + 100;
	struct tc_seg syn = { .has_mss = true, .mss = 1460, .has_ts = true, .tsval = q.tsval };
	int fd = tc_open_passive(&q, lfd, &syn);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(q.stack_iss, old_snd_nxt + 65537);
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT), TCPS_ESTABLISHED);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tu_run(&t, (TW_S + 60) * TC_SEC, NULL);
	tu_close(&t);
}

/*
 * The record keeps its port: binding it without SO_REUSEADDR fails
 * (EADDRINUSE, as Linux), with SO_REUSEADDR it works.
 */
static void test_time_wait_record_holds_the_port(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd;
	if (!open_time_wait(&t, &p, &lfd, false, __func__))
		return;
	us_close(t.st, lfd);
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = su_sin(0, LPORT);
	SU_ERR(us_bind(t.st, fd, SU_SA(a), sizeof a), EADDRINUSE);
	int one = 1;
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	CU_ASSERT_EQUAL(us_bind(t.st, fd, SU_SA(a), sizeof a), 0);
	us_close(t.st, fd);
	tu_run(&t, (TW_S + 1) * TC_SEC, NULL);
	tu_close(&t);
}

/*
 * An active open of a 4-tuple in TIME_WAIT (the stack closed a connection
 * it had opened from an explicit port): refused while the record is
 * under a second old, then, timestamps having been used, it takes the
 * record over with ISS = old SND.NXT + 65537 (Linux tcp_tw_reuse).
 */
static void test_time_wait_active_open_takes_over(void)
{
	struct tu t;
	if (!open_stack(&t, __func__))
		return;
	struct tc_peer p;
	tc_peer_init(&p, &t, 5000, 0, PISS);
	int one = 1;
	int fd = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	struct sockaddr_in me = su_sin(0, 33333);
	CU_ASSERT_EQUAL(us_bind(t.st, fd, SU_SA(me), sizeof me), 0);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, 5000);
	SU_ERR(us_connect(t.st, fd, SU_SA(peer), sizeof peer), EINPROGRESS);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_FATAL(o.n == 1 && o.seg[0].flags == TC_SYN && o.seg[0].has_ts);
	tc_peer_saw(&p, &o.seg[0]);
	p.stack_port = o.seg[0].sport;
	p.ts = true;
	p.snd_nxt = PISS;
	struct tc_seg sa = tc_peer_seg(&p, TC_SYN | TC_ACK, NULL, 0);
	sa.has_mss = true;
	sa.mss = 1460;
	tc_inject(&t, &sa);
	p.snd_nxt++;
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	/* We close first: FIN; the peer ACKs and sends its FIN. */
	us_close(t.st, fd);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	int f = tc_find(&o, 0, TC_FIN);
	CU_ASSERT_FATAL(f >= 0);
	tc_peer_saw(&p, &o.seg[f]);
	p.tsval += 10;
	tc_peer_send(&p, TC_FIN | TC_ACK, NULL, 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, 33333, 5000), TCPS_TIME_WAIT);
	uint32_t old_snd_nxt = p.rcv_nxt;
	/* At once: the record is too young. */
	int fd2 = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	CU_ASSERT_EQUAL(us_bind(t.st, fd2, SU_SA(me), sizeof me), 0);
	SU_ERR(us_connect(t.st, fd2, SU_SA(peer), sizeof peer), EADDRNOTAVAIL);
	us_close(t.st, fd2);
	/* 1.5 s later it is taken over. */
	tu_run(&t, 1500 * TC_MS, NULL);
	int fd3 = us_socket(t.st, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(us_setsockopt(t.st, fd3, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	CU_ASSERT_EQUAL(us_bind(t.st, fd3, SU_SA(me), sizeof me), 0);
	SU_ERR(us_connect(t.st, fd3, SU_SA(peer), sizeof peer), EINPROGRESS);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(o.n, 1);
	if (o.n == 1) {
		CU_ASSERT_EQUAL(o.seg[0].flags, TC_SYN);
		CU_ASSERT_EQUAL(o.seg[0].seq, old_snd_nxt + 65537);
	}
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), 0);
	us_close(t.st, fd3);
	tc_out_free(&o);
	tu_run(&t, 200 * TC_SEC, NULL);
	tu_close(&t);
}

/*
 * The TIME-WAIT rows of a socket listing (tc_listing) for 10.0.0.1:80 <->
 * 10.0.0.2:port, tallied by port: seen[port - base] for base <= port <
 * base + n. Returns how many TIME-WAIT rows the listing has in all.
 */
static int tw_rows(const char *listing, int *seen, uint16_t base, int n)
{
	int total = 0;
	for (const char *line = listing; line && *line;) {
		char netid[8], st[16], l[32], p[32];
		unsigned long long rq, sq;
		unsigned port;
		if (sscanf(line, "%7s %15s %llu %llu %31s %31s", netid, st, &rq, &sq, l, p) == 6 &&
		    strcmp(netid, "tcp") == 0 && strcmp(st, "TIME-WAIT") == 0) {
			total++;
			if (strcmp(l, "10.0.0.1:80") == 0 && sscanf(p, "10.0.0.2:%u", &port) == 1 &&
			    port >= base && port < (unsigned)base + (unsigned)n)
				seen[port - base]++;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return total;
}

/* Whether listing's last line is the end line, and the row count it gives. */
static bool ended(const char *listing, unsigned long *rows)
{
	size_t len = strlen(listing);
	if (len < 2 || listing[len - 1] != '\n')
		return false;
	const char *last = listing + len - 2;
	while (last > listing && last[-1] != '\n')
		last--;
	return sscanf(last, "# end of socket listing (%lu rows)", rows) == 1;
}

/*
 * The socket listing (ustackd's SIGUSR2) shows all of 1,000 TIME_WAIT
 * records, each once, and allocates nothing while it holds tw_lock or
 * syn_lock (it counts under the lock, allocates outside it, copies under
 * it again). Its last line is the end line, which counts 1,001 rows (the
 * records and the listener).
 */
static void test_listing_has_thousand_time_waits(void)
{
	struct tu t;
	if (!open_stack(&t, __func__))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	static struct tc_peer p[1000];
	static int seen[1000];
	CU_ASSERT_EQUAL(time_waits(&t, p, 0, 1000, lfd), 1000);
	mw_watch(&t.st->tcp.tw_lock, &t.st->tcp.syn_lock);
	char *l = tc_listing(t.st);
	CU_ASSERT_EQUAL(mw_stop(), 0);
	CU_ASSERT_FATAL(l != NULL);
	memset(seen, 0, sizeof seen);
	CU_ASSERT_EQUAL(tw_rows(l, seen, PPORT, 1000), 1000);
	int once = 0;
	for (int i = 0; i < 1000; i++)
		once += seen[i] == 1;
	CU_ASSERT_EQUAL(once, 1000);
	unsigned long rows = 0;
	CU_ASSERT(ended(l, &rows));
	CU_ASSERT_EQUAL(rows, 1001);
	free(l);
	us_close(t.st, lfd);
	tu_run(&t, (TW_S + 1) * TC_SEC, NULL);
	tu_close(&t);
}

#define STABLE 200      /* records that stay during the concurrent listings */
#define CHURN 300       /* records added meanwhile; every other one removed, re-added, ... */

struct lister {
	us_stack *st;
	atomic_bool stop;
	atomic_int listings;
	atomic_int bad;                 /* listings that were wrong */
};

/* List again and again until told to stop; count the wrong listings. */
static void *lister_main(void *arg)
{
	struct lister *L = arg;
	int *seen = calloc(STABLE + CHURN, sizeof *seen);
	for (int i = 0; seen && i < 100000 && !atomic_load(&L->stop); i++) {
		char *l = tc_listing(L->st);
		if (!l)
			break;
		memset(seen, 0, (STABLE + CHURN) * sizeof *seen);
		int total = tw_rows(l, seen, PPORT, STABLE + CHURN), sum = 0;
		bool wrong = false;
		for (int k = 0; k < STABLE + CHURN; k++) {
			sum += seen[k];
			wrong |= k < STABLE ? seen[k] != 1 : seen[k] > 1;
		}
		wrong |= total != sum;  /* a row for a tuple that never was */
		unsigned long rows = 0;
		/* The listener and the connections on their way to TIME_WAIT too. */
		wrong |= !ended(l, &rows) || rows < (unsigned long)total + 1;
		if (wrong)
			atomic_fetch_add(&L->bad, 1);
		atomic_fetch_add(&L->listings, 1);
		free(l);
	}
	free(seen);
	return NULL;
}

/*
 * While records are added and removed (a thread closing connections to
 * TIME_WAIT and ending every other one with an RST), another thread lists
 * the sockets over and over: every listing has each record that stayed
 * exactly once, no record twice and no row for a tuple that never was,
 * and it ends with the end line.
 * Run under ThreadSanitizer (make unit SANITIZE=thread) it also checks
 * the locking.
 */
static void test_listing_while_records_come_and_go(void)
{
	struct tu t;
	if (!open_stack(&t, __func__))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	static struct tc_peer p[STABLE + CHURN];
	CU_ASSERT_EQUAL_FATAL(time_waits(&t, p, 0, STABLE, lfd), STABLE);
	struct lister L = { .st = t.st };
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, lister_main, &L) == 0);
	/* Bounded wait for the lister to get going (100 ms of 1 ms naps at most). */
	for (int i = 0; i < 100 && atomic_load(&L.listings) == 0; i++)
		usleep(1000);
	int before = atomic_load(&L.listings);
	int ok = time_waits(&t, p, STABLE, STABLE + CHURN, lfd);
	for (int i = STABLE + 1; i < STABLE + CHURN; i += 2) {
		struct tc_seg r = tc_peer_seg(&p[i], TC_RST, NULL, 0);
		tc_inject(&t, &r);
		tc_collect(&t, NULL);
	}
	/* Then the removed ones again and again, added and removed, until 50
	 * listings overlapped the changes (at most 1,000 rounds). */
	for (int r = 1; r <= 1000 && atomic_load(&L.listings) - before < 50; r++)
		for (int i = STABLE + 1; i < STABLE + CHURN; i += 2) {
			tc_peer_init(&p[i], &t, (uint16_t)(PPORT + i), LPORT,
				     PISS + (uint32_t)(i + r * CHURN) * 100000);
			ok -= !close_to_time_wait(&t, &p[i], lfd, false);
			struct tc_seg rst = tc_peer_seg(&p[i], TC_RST, NULL, 0);
			tc_inject(&t, &rst);
			tc_collect(&t, NULL);
		}
	int during = atomic_load(&L.listings) - before;
	atomic_store(&L.stop, true);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(ok, CHURN);
	CU_ASSERT_EQUAL(tcp_tw_count(t.st), STABLE + CHURN / 2);
	CU_ASSERT(during >= 50);                /* listings did overlap the changes */
	CU_ASSERT(atomic_load(&L.listings) > 0);
	CU_ASSERT_EQUAL(atomic_load(&L.bad), 0);
	printf("(%d listings, %d during the changes) ", atomic_load(&L.listings), during);
	us_close(t.st, lfd);
	tu_run(&t, (TW_S + 1) * TC_SEC, NULL);
	tu_close(&t);
}

US_SUITE(tcp_timewait, NULL, NULL,
	 US_TEST(test_thousand_time_waits_hold_no_socket),
	 US_TEST(test_time_wait_rst_in_window_ends_it_other_ignored),
	 US_TEST(test_time_wait_new_syn_iss_above_old_snd_nxt),
	 US_TEST(test_time_wait_record_holds_the_port),
	 US_TEST(test_time_wait_active_open_takes_over),
	 US_TEST(test_listing_has_thousand_time_waits),
	 US_TEST(test_listing_while_records_come_and_go));
