/*
 * test_syncache.c — SYN_RCVD as a compact SYN cache entry (suite
 * "syncache", core/tcp_syncache.c): no socket or TCB until the handshake
 * completes, SYN-ACK retransmission from the entry, backlog semantics.
 *
 * A deterministic stack (10.0.0.1) faces spoofed and real peers (10.0.0.2)
 * on a pair wire, segments built byte by byte (tcputil.h). The SYN_RCVD
 * behaviours kept from the socket-based embryo (duplicate SYN, RST, bad
 * ACK, ICMP, listener close) are in suites tcp_state and tcp_icmp.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mallocwatch.h"
#include "sockutil.h"
#include "tcputil.h"

#include "tcp.h"

#define LPORT 80
#define PPORT 20000
#define PISS 3000u

/*
 * 128 SYNs fill a backlog of 128: 128 entries, one SYN-ACK each, and no
 * control block but the listener's. Each entry resends its SYN-ACK after
 * 1, 2, 4 ... s (RFC 6298 backoff from the initial RTO), `syn_retries`
 * (3 here) times, then goes silently and gives its backlog slot back:
 * a real client connects afterwards, without a cookie.
 */
static void test_syn_queue_holds_entries_not_sockets(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	cfg.tcp.syn_retries = 3;
	if (!tu_open_cfg(&t, &cfg))
		return;
	tu_run(&t, TC_SEC, NULL);
	int lfd = tc_listen(&t, LPORT, 128);
	struct tc_out o = { 0 };
	for (int i = 0; i < 128; i++) {
		struct tc_seg syn = tc_syn((uint16_t)(PPORT + i), LPORT, PISS);
		tc_inject(&t, &syn);
	}
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN | TC_ACK), 128);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 128);
	CU_ASSERT_EQUAL(tc_tcbs(&t), 1);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 5), TCPS_SYN_RCVD);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_SENT), 0);
	/* Retransmissions at +1 s, +3 s, +7 s (1, 2, 4 s apart); gone at +15 s. */
	uint64_t t0 = us_stack_now(t.st);
	tc_out_clear(&o);
	tc_run(&t, 14 * TC_SEC, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_SYN | TC_ACK), 3 * 128);
	int at[3] = { 0 };
	for (int i = 0; i < o.n; i++) {
		uint64_t d = (o.seg[i].time - t0) / TC_MS;
		at[0] += d == 1000;
		at[1] += d == 3000;
		at[2] += d == 7000;
	}
	CU_ASSERT(at[0] == 128 && at[1] == 128 && at[2] == 128);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 128);
	tc_run(&t, 2 * TC_SEC, NULL);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 0);
	CU_ASSERT_EQUAL(tc_conn_state(&t, LPORT, PPORT + 5), -1);
	/* The backlog is free again: a real client gets a plain SYN-ACK. */
	struct tc_peer p;
	tc_peer_init(&p, &t, PPORT + 500, LPORT, PISS);
	int fd = tc_open_passive(&p, lfd, NULL);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, TCP_SYNCOOKIES_SENT), 0);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_out_free(&o);
	tu_run(&t, 200 * TC_SEC, NULL);
	tu_close(&t);
}

/* Closing the listener drops its entries; their ACKs then find nothing (RST). */
static void test_listener_close_drops_entries(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_seg syn = tc_syn(PPORT, LPORT, PISS);
	tc_inject(&t, &syn);
	struct tc_out o = { 0 };
	tc_collect(&t, &o);
	CU_ASSERT_FATAL(o.n == 1);
	uint32_t iss = o.seg[0].seq;
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 1);
	us_close(t.st, lfd);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 0);
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss + 1,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	tc_out_clear(&o);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tc_count_flags(&o, TC_RST), 1);
	tc_out_free(&o);
	tu_run(&t, 10 * TC_SEC, NULL);
	tu_close(&t);
}

/*
 * A half-open connection (a SYN cache entry, no socket) is in the listing
 * as ss -tan shows the kernel's: "SYN-RECV 0 0 local peer"; once the
 * handshake completes, the entry is gone and the connection is ESTAB.
 */
static void test_listing_shows_entries(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	int lfd = tc_listen(&t, LPORT, 8);
	struct tc_out o = { 0 };
	for (int i = 0; i < 2; i++) {
		struct tc_seg syn = tc_syn((uint16_t)(PPORT + i), LPORT, PISS);
		tc_inject(&t, &syn);
	}
	tc_collect(&t, &o);
	CU_ASSERT_FATAL(o.n == 2);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 2);
	CU_ASSERT_EQUAL(tc_listed(t.st, "SYN-RECV", "10.0.0.1:80", "10.0.0.2:20000"), 1);
	CU_ASSERT_EQUAL(tc_listed(t.st, "SYN-RECV", "10.0.0.1:80", "10.0.0.2:20001"), 1);
	/* Listing them allocates nothing under syn_lock (nor tw_lock). */
	mw_watch(&t.st->tcp.syn_lock, &t.st->tcp.tw_lock);
	free(tc_listing(t.st));
	CU_ASSERT_EQUAL(mw_stop(), 0);
	uint32_t iss = o.seg[0].dport == PPORT ? o.seg[0].seq : o.seg[1].seq;
	struct tc_seg ack = { .sport = PPORT, .dport = LPORT, .seq = PISS + 1, .ack = iss + 1,
			      .flags = TC_ACK, .win = 65535 };
	tc_inject(&t, &ack);
	tc_collect(&t, &o);
	CU_ASSERT_EQUAL(tcp_syncache_count(t.st), 1);
	CU_ASSERT_EQUAL(tc_listed(t.st, "SYN-RECV", "10.0.0.1:80", "10.0.0.2:20000"), 0);
	CU_ASSERT_EQUAL(tc_listed(t.st, "ESTAB", "10.0.0.1:80", "10.0.0.2:20000"), 1);
	CU_ASSERT_EQUAL(tc_listed(t.st, "SYN-RECV", "10.0.0.1:80", "10.0.0.2:20001"), 1);
	tc_out_free(&o);
	us_close(t.st, lfd);
	CU_ASSERT_EQUAL(tc_listed(t.st, "SYN-RECV", "10.0.0.1:80", "10.0.0.2:20001"), 0);
	tu_run(&t, 10 * TC_SEC, NULL);
	tu_close(&t);
}

US_SUITE(syncache, NULL, NULL,
	 US_TEST(test_listing_shows_entries),
	 US_TEST(test_syn_queue_holds_entries_not_sockets),
	 US_TEST(test_listener_close_drops_entries));
