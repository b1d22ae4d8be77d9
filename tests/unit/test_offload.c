/*
 * test_offload.c — the device offloads as the core sees them (the TAP's
 * virtio-net header itself lives in backends/tap.c and is exercised by
 * tests/net/t_tcp_transfer.sh):
 *   - receive: a frame whose L4 checksum the backend vouched for
 *     (enum us_csum_state UNNECESSARY / PARTIAL) is not verified again,
 *     every other frame still is;
 *   - config: `offload:` defaults to true and parses false.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "sockutil.h"
#include "stackutil.h"

static struct tu_opts peer_opts = { .static_peer = true };

/* Hand nif one frame with a checksum state, as its receive thread would. */
static void input(struct us_netif *nif, const uint8_t *f, size_t n, uint8_t csum)
{
	pthread_mutex_lock(&nif->rx_lock);
	us_netif_input_csum(nif, f, n, csum);
	pthread_mutex_unlock(&nif->rx_lock);
}

/* A UDP frame from the peer to port 5555 whose checksum does not verify,
 * as a NEEDS_CSUM frame's (its field holds the pseudo-header sum only). */
static size_t bad_udp_frame(uint8_t *f, const char *msg)
{
	uint8_t udp[64];
	size_t len = tu_udp(udp, TU_PEER_IP, TU_STACK_IP, 4444, 5555, msg, strlen(msg));
	udp[6] ^= 0x5a;
	struct tu_iph h = tu_iph_peer(17);
	return tu_ip_frame(f, &h, udp, len);
}

static void test_rx_udp_checksum_vouched_is_not_verified(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	struct us_netif *nif = &t.st->ifs[0];
	int s = su_udp(t.st, INADDR_ANY, 5555);
	uint8_t f[128];
	char buf[64];

	/* No offload: the bad checksum drops it, counted. */
	size_t n = bad_udp_frame(f, "none");
	uint64_t drops = us_stack_stat(t.st, US_STAT_UDP_DROP_CHECKSUM);
	input(nif, f, n, US_CSUM_NONE);
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_UDP_DROP_CHECKSUM), drops + 1);
	CU_ASSERT_EQUAL(us_recv(t.st, s, buf, sizeof buf, MSG_DONTWAIT), -1);

	/* PARTIAL (NEEDS_CSUM) and UNNECESSARY (DATA_VALID): delivered as is. */
	n = bad_udp_frame(f, "partial");
	input(nif, f, n, US_CSUM_PARTIAL);
	CU_ASSERT_EQUAL(us_recv(t.st, s, buf, sizeof buf, MSG_DONTWAIT), 7);
	CU_ASSERT(memcmp(buf, "partial", 7) == 0);
	n = bad_udp_frame(f, "valid");
	input(nif, f, n, US_CSUM_UNNECESSARY);
	CU_ASSERT_EQUAL(us_recv(t.st, s, buf, sizeof buf, MSG_DONTWAIT), 5);
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_UDP_DROP_CHECKSUM), drops + 1);
	us_close(t.st, s);
	tu_close(&t);
}

/* A SYN from the peer to a closed port, its checksum wrong. */
static size_t bad_syn_frame(uint8_t *f)
{
	uint8_t tcp[20] = { 0 };
	tu_put16(tcp, 40000);
	tu_put16(tcp + 2, 81);
	tcp[4] = 0x01;                  /* seq 0x01000000 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x02;                 /* SYN */
	tu_put16(tcp + 14, 65535);
	tu_put16(tcp + 16, 0x1234);     /* not the checksum */
	struct tu_iph h = tu_iph_peer(6);
	return tu_ip_frame(f, &h, tcp, sizeof tcp);
}

static void test_rx_tcp_checksum_vouched_is_not_verified(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	struct us_netif *nif = &t.st->ifs[0];
	uint8_t f[128];
	size_t n = bad_syn_frame(f);
	struct tu_frames out = { 0 };

	uint64_t drops = us_stack_stat(t.st, US_STAT_TCP_DROP_CHECKSUM);
	input(nif, f, n, US_CSUM_NONE);
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_TCP_DROP_CHECKSUM), drops + 1);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);        /* dropped: no RST */

	/* Vouched for: it reaches TCP, which answers the closed port with RST|ACK. */
	input(nif, f, n, US_CSUM_PARTIAL);
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_TCP_DROP_CHECKSUM), drops + 1);
	CU_ASSERT_EQUAL_FATAL(tu_collect(&t, &out), 1);
	const uint8_t *tcp = out.f[0].data + TU_ETH_HLEN + 20;
	CU_ASSERT_EQUAL(tcp[13], 0x14);                  /* RST|ACK */
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_config_offload_key(void)
{
	struct us_config cfg;
	char err[256];
	const char *on = "interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n";
	CU_ASSERT_EQUAL_FATAL(us_config_load_string("t.yaml", on, strlen(on), &cfg, err, sizeof err), 0);
	CU_ASSERT_TRUE(cfg.ifaces[0].offload);          /* default: on */
	const char *off = "interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n"
			  "    offload: false\n";
	CU_ASSERT_EQUAL_FATAL(us_config_load_string("t.yaml", off, strlen(off), &cfg, err, sizeof err), 0);
	CU_ASSERT_FALSE(cfg.ifaces[0].offload);
	const char *bad = "interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n"
			  "    offload: maybe\n";
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", bad, strlen(bad), &cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:5:14: offload: expected true or false"));
}

US_SUITE(offload, NULL, NULL,
	 US_TEST(test_rx_udp_checksum_vouched_is_not_verified),
	 US_TEST(test_rx_tcp_checksum_vouched_is_not_verified),
	 US_TEST(test_config_offload_key));
