/*
 * test_tcp_persist.c — zero-window probing that ends (suite "tcp_persist"),
 * found by the whole-stack fuzzer (tests/fuzz/corpus_stack/repro_persist_orphan):
 * a peer that closes its window and then goes silent held the connection,
 * and after us_close() an orphan with its buffers, forever.
 *
 * Expected behaviour, from RFC 1122 4.2.2.17 (keep probing as long as the
 * receiver keeps answering) and Linux's tcp_probe_timer (unanswered probes
 * are counted, any ACK resets the count; tcp_retries2 = 15 of them end a
 * connection with ETIMEDOUT, tcp_orphan_retries = 8 an orphan).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "tcputil.h"

/* A connection whose peer has taken 1000 bytes and then closed its window. */
static int open_zero_window(struct tu *t, struct tc_peer *p, int *lfd)
{
	struct us_config cfg;
	tc_config(&cfg, 0, "tcp_persist");
	int fd = tc_open_conn(t, &cfg, &(struct tc_conn_spec){ .lport = 80, .pport = 40000,
							       .piss = 1000, .backlog = 4 }, p, lfd);
	if (fd < 0)
		return -1;
	static char data[3000];
	CU_ASSERT_EQUAL(us_send(t->st, fd, data, sizeof data, 0), (ssize_t)sizeof data);
	struct tc_out o = { 0 };
	tc_collect(t, &o);
	for (int i = 0; i < o.n; i++)
		tc_peer_saw(p, &o.seg[i]);
	/* Acknowledge the first 1000 bytes only, with a zero window. */
	p->rcv_nxt = p->stack_iss + 1 + 1000;
	p->win = 0;
	tc_peer_send(p, TC_ACK, NULL, 0);
	tc_out_free(&o);
	return fd;
}

/* Probes (1-byte segments) the stack sends over ns; answer each with a zero-window ACK if asked. */
static int run_probes(struct tu *t, struct tc_peer *p, uint64_t ns, bool answer)
{
	int probes = 0;
	for (uint64_t done = 0; done < ns; done += TC_SEC) {
		struct tc_out o = { 0 };
		tc_run(t, TC_SEC, &o);
		for (int i = 0; i < o.n; i++)
			if (o.seg[i].len == 1) {
				probes++;
				if (answer)
					tc_peer_send(p, TC_ACK, NULL, 0);
			}
		tc_out_free(&o);
	}
	return probes;
}

static void test_tcp_persist_silent_peer_times_out(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd = open_zero_window(&t, &p, &lfd);
	if (fd < 0)
		return;
	/* 15 probes at backed-off intervals (capped at 60 s) take under 15 minutes. */
	int probes = run_probes(&t, &p, 20 * 60 * TC_SEC, false);
	CU_ASSERT_EQUAL(probes, 15);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_CLOSED);
	int err = 0;
	socklen_t el = sizeof err;
	CU_ASSERT_EQUAL(us_getsockopt(t.st, fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	CU_ASSERT_EQUAL(err, ETIMEDOUT);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_run(&t, 120 * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 0);
	tu_close(&t);
}

static void test_tcp_persist_answered_goes_on(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd = open_zero_window(&t, &p, &lfd);
	if (fd < 0)
		return;
	/* A receiver that answers every probe keeps the connection (RFC 1122 4.2.2.17). */
	int probes = run_probes(&t, &p, 40 * 60 * TC_SEC, true);
	CU_ASSERT(probes > 30);
	CU_ASSERT_EQUAL(tc_state(&t, fd), TCPS_ESTABLISHED);
	/* The window opens: data flows again. */
	p.win = 65535;
	tc_peer_send(&p, TC_ACK, NULL, 0);
	struct tc_out o = { 0 };
	tc_run(&t, 100 * TC_MS, &o);
	size_t sent = 0;
	for (int i = 0; i < o.n; i++)
		sent += o.seg[i].len;
	CU_ASSERT(sent >= 1000);         /* at least a segment at once (cwnd restarts after idle) */
	tc_out_free(&o);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_run(&t, 30 * 60 * TC_SEC, NULL);
	tu_close(&t);
}

static void test_tcp_persist_orphan_ends(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd = open_zero_window(&t, &p, &lfd);
	if (fd < 0)
		return;
	us_close(t.st, fd);     /* data still queued: FIN_WAIT_1, orphaned */
	us_close(t.st, lfd);
	int probes = run_probes(&t, &p, 20 * 60 * TC_SEC, false);
	CU_ASSERT_EQUAL(probes, 8);        /* Linux tcp_orphan_retries */
	CU_ASSERT_EQUAL(tc_tcbs(&t), 0);
	tu_close(&t);
}

US_SUITE(tcp_persist, NULL, NULL,
	 US_TEST(test_tcp_persist_silent_peer_times_out),
	 US_TEST(test_tcp_persist_answered_goes_on),
	 US_TEST(test_tcp_persist_orphan_ends));
