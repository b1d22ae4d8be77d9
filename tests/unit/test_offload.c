/*
 * test_offload.c — the device offloads as the core sees them (the TAP's
 * virtio-net header itself lives in backends/tap.c and is exercised by
 * tests/net/t_tcp_transfer.sh):
 *   - receive: a frame whose L4 checksum the backend vouched for
 *     (enum us_csum_state UNNECESSARY / PARTIAL) is not verified again,
 *     every other frame still is;
 *   - config: `offload:` defaults to true and parses false;
 *   - send: wire_tcp_gso_hdr cuts a TSO frame as a device does; IP output
 *     hands a large TCP segment to a device that segments as one frame
 *     (checksum left to it, payload borrowed), cuts it itself when the
 *     next hop is not resolved yet, and capture files show the segments
 *     with complete checksums; TCP builds segments of several MSS on such
 *     a device and the peer gets every byte.
 * The "device" here is the pair wire with a sendv of this file's own that
 * does what the tun driver does with a virtio-net header (cut a GSO frame,
 * complete a NEEDS_CSUM checksum), written from RFC 9293/791 with the
 * tests' own checksum code, not with the library's.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "harness.h"
#include "sockutil.h"
#include "stackutil.h"
#include "tcputil.h"
#include "wire/tcp.h"

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

/* ---- send ----------------------------------------------------------------- */

static uint32_t get32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_gso_hdr_cuts_like_the_device(void)
{
	/* A 20-byte header, seq 1000, ACK|PSH|FIN|CWR; 3000 bytes cut by 1400:
	 * 1400 + 1400 + 200, seq 1000, 2400, 3800; CWR on the first only,
	 * PSH and FIN on the last only (Linux tcp_gso_segment). */
	uint8_t h[20] = { 0 }, o[20];
	h[4] = 0; h[5] = 0; h[6] = 0x03; h[7] = 0xe8;
	h[12] = 5 << 4;
	h[13] = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
	CU_ASSERT_EQUAL(wire_tcp_gso_count(3000, 1400), 3);
	CU_ASSERT_EQUAL(wire_tcp_gso_count(2800, 1400), 2);
	CU_ASSERT_EQUAL(wire_tcp_gso_count(100, 0), 1);
	CU_ASSERT_EQUAL(wire_tcp_gso_hdr(o, h, 20, 3000, 1400, 0), 1400);
	CU_ASSERT_EQUAL(get32be(o + 4), 1000);
	CU_ASSERT_EQUAL(o[13], TCP_ACK | TCP_CWR);
	CU_ASSERT_EQUAL(wire_tcp_gso_hdr(o, h, 20, 3000, 1400, 1), 1400);
	CU_ASSERT_EQUAL(get32be(o + 4), 2400);
	CU_ASSERT_EQUAL(o[13], TCP_ACK);
	CU_ASSERT_EQUAL(wire_tcp_gso_hdr(o, h, 20, 3000, 1400, 2), 200);
	CU_ASSERT_EQUAL(get32be(o + 4), 3800);
	CU_ASSERT_EQUAL(o[13], TCP_ACK | TCP_PSH | TCP_FIN);
	/* The sequence number wraps modulo 2^32. */
	h[4] = h[5] = h[6] = 0xff; h[7] = 0x00;
	wire_tcp_gso_hdr(o, h, 20, 3000, 1400, 1);
	CU_ASSERT_EQUAL(get32be(o + 4), 1144);       /* 0xffffff00 + 1400 = 2^32 + 1144 */
}

/* The test's device: what the pair wire's end receives through sendv. */
static struct {
	const struct us_link_ops *pair;
	struct us_link_ops ops;
	int calls, large;               /* sendv calls; frames above 1514 bytes */
	struct us_link_tx last;
	size_t last_len;
	uint8_t last_frame[70000];
} dev;

static uint32_t pseudo(const uint8_t *ip, size_t l4len)
{
	return tu_get16(ip + 12) + tu_get16(ip + 14) + tu_get16(ip + 16) + tu_get16(ip + 18) +
	       ip[9] + (uint32_t)l4len;
}

/* As the tun driver does with a virtio-net header: complete the checksum,
 * cut a GSO frame into gso_size payloads (IP ID + k, seq + offset, PSH and
 * FIN on the last), each then goes on the wire. */
static int dev_sendv(struct us_link *l, const struct iovec *iov, int n, const struct us_link_tx *tx)
{
	static uint8_t f[70000], seg[10000];
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		memcpy(f + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	dev.calls++;
	dev.large += len > 1514;
	dev.last = *tx;
	dev.last_len = len;
	memcpy(dev.last_frame, f, len);
	size_t l4 = tx->csum_start;
	if (!tx->gso_size) {
		if (l4) {
			uint16_t c = tu_csum(f + l4, len - l4);     /* the field holds the pseudo sum */
			tu_put16(f + l4 + tx->csum_offset, c);
		}
		return dev.pair->send(l, f, len);
	}
	size_t thl = (size_t)(f[l4 + 12] >> 4) * 4, hl = l4 + thl, plen = len - hl;
	uint32_t seq = get32be(f + l4 + 4);
	uint16_t id = tu_get16(f + 18);
	for (size_t off = 0, k = 0; off < plen; off += tx->gso_size, k++) {
		size_t piece = plen - off < tx->gso_size ? plen - off : tx->gso_size;
		memcpy(seg, f, hl);
		memcpy(seg + hl, f + hl + off, piece);
		uint8_t *ip = seg + 14, *tcp = seg + l4;
		tu_put16(ip + 2, (uint16_t)(l4 - 14 + thl + piece));
		tu_put16(ip + 4, (uint16_t)(id + k));
		tu_put16(ip + 10, 0);
		tu_put16(ip + 10, tu_csum(ip, l4 - 14));
		uint32_t s = seq + (uint32_t)off;
		tcp[4] = (uint8_t)(s >> 24); tcp[5] = (uint8_t)(s >> 16);
		tcp[6] = (uint8_t)(s >> 8); tcp[7] = (uint8_t)s;
		if (off + piece < plen)
			tcp[13] &= (uint8_t)~(TC_PSH | TC_FIN);
		tu_put16(tcp + 16, 0);
		tu_put16(tcp + 16, tu_csum_from(pseudo(ip, thl + piece), tcp, thl + piece));
		if (dev.pair->send(l, seg, hl + piece) < 0)
			return -1;
	}
	return 0;
}

/* Turn the test stack's pair end into a device that checksums and segments. */
static void make_tso_device(struct tu *t)
{
	struct us_netif *nif = &t->st->ifs[0];
	memset(&dev, 0, sizeof dev);
	dev.pair = nif->link.ops;
	dev.ops = *dev.pair;
	dev.ops.sendv = dev_sendv;
	nif->link.ops = &dev.ops;
	nif->link.caps.tx_csum = nif->link.caps.tso = true;
}

/* A TCP header (20 bytes, seq 5000, ACK|PSH) and plen bytes of pattern sent
 * by IP output as one TCP segment with csum_off and gso_size 1000. */
static int send_large(struct tu *t, size_t plen, uint8_t *payload)
{
	uint8_t h[20] = { 0 };
	tu_put16(h, 2000);
	tu_put16(h + 2, 3000);
	h[6] = 0x13; h[7] = 0x88;       /* 5000 */
	h[12] = 5 << 4;
	h[13] = TC_ACK | TC_PSH;
	tu_put16(h + 14, 1000);
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	/* In two pieces, as from a ring that wraps. */
	struct iovec iov[3] = { { h, 20 }, { payload, plen / 3 }, { payload + plen / 3, plen - plen / 3 } };
	struct us_ip_tx tx = { .src = TU_STACK_IP, .dst = TU_PEER_IP, .proto = 6, .df = true,
			       .ifindex = -1, .csum_off = 16, .gso_size = 1000 };
	return us_ipv4_sendv(t->st, &tx, iov, 3);
}

/* Check n frames in a pcap file are send_large's segments, complete and valid. */
static void check_capture_segments(const char *path, const uint8_t *payload, size_t plen)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, ebuf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	struct pcap_pkthdr *ph;
	const u_char *d;
	size_t off = 0;
	int k = 0;
	while (pcap_next_ex(p, &ph, &d) == 1) {
		if (ph->caplen < 54 || tu_get16(d + 12) != 0x0800 || d[23] != 6)
			continue;       /* ARP */
		size_t piece = plen - off < 1000 ? plen - off : 1000;
		CU_ASSERT_EQUAL(ph->caplen, 54 + piece);
		CU_ASSERT_EQUAL(tu_get16(d + 16), 40 + piece);            /* IP total length */
		CU_ASSERT_EQUAL(tu_csum(d + 14, 20), 0);                   /* IP checksum */
		CU_ASSERT_EQUAL(tu_csum_from(pseudo(d + 14, 20 + piece), d + 34, 20 + piece), 0);
		CU_ASSERT_EQUAL(get32be(d + 38), 5000 + off);
		CU_ASSERT_EQUAL(d[47], off + piece == plen ? (TC_ACK | TC_PSH) : TC_ACK);
		CU_ASSERT(memcmp(d + 54, payload + off, piece) == 0);
		off += piece;
		k++;
	}
	CU_ASSERT_EQUAL(off, plen);
	CU_ASSERT_EQUAL(k, (int)((plen + 999) / 1000));
	pcap_close(p);
}

static void test_tso_frame_goes_whole_to_the_device(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	make_tso_device(&t);
	char path[] = "/tmp/ust-offload-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	char err[256];
	t.st->ifs[0].capture = us_capture_open(path, err, sizeof err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t.st->ifs[0].capture);
	static uint8_t payload[20000];
	uint64_t tso = us_stack_stat(t.st, US_STAT_IP_TX_TSO);
	CU_ASSERT_EQUAL(send_large(&t, sizeof payload, payload), 0);
	/* One frame to the device: headers then the payload as given. */
	CU_ASSERT_EQUAL(dev.calls, 1);
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_IP_TX_TSO), tso + 1);
	CU_ASSERT_EQUAL(dev.last.gso_size, 1000);
	CU_ASSERT_EQUAL(dev.last.csum_start, 34);
	CU_ASSERT_EQUAL(dev.last.csum_offset, 16);
	CU_ASSERT_EQUAL_FATAL(dev.last_len, 54 + sizeof payload);
	const uint8_t *f = dev.last_frame;
	CU_ASSERT_EQUAL(tu_get16(f + 16), 40 + sizeof payload);
	CU_ASSERT_EQUAL(tu_csum(f + 14, 20), 0);
	CU_ASSERT(memcmp(f + 54, payload, sizeof payload) == 0);
	/* NEEDS_CSUM: the field holds the folded pseudo-header sum, uncomplemented. */
	CU_ASSERT_EQUAL(tu_get16(f + 50), (uint16_t)~tu_csum_from(pseudo(f + 14, 20 + sizeof payload), NULL, 0));
	/* The peer got 20 segments of at most 1000 bytes, checksums right. */
	struct tu_frames out = { 0 };
	CU_ASSERT_EQUAL(tu_collect(&t, &out), 20);
	for (int i = 0; i < out.n; i++)
		CU_ASSERT_EQUAL(tu_csum_from(pseudo(out.f[i].data + 14, out.f[i].len - 34),
					     out.f[i].data + 34, out.f[i].len - 34), 0);
	tu_frames_free(&out);
	us_capture_close(t.st->ifs[0].capture);
	t.st->ifs[0].capture = NULL;
	/* The capture shows the 20 segments, not the 20 KB frame. */
	check_capture_segments(path, payload, sizeof payload);
	unlink(path);
	tu_close(&t);
}

static void test_tso_unresolved_next_hop_cut_in_software(void)
{
	struct tu t;
	struct tu_opts o = { 0 };       /* no static ARP entry for the peer */
	if (!tu_open(&t, &o))
		return;
	make_tso_device(&t);
	static uint8_t payload[4500];
	uint64_t sw = us_stack_stat(t.st, US_STAT_IP_TX_GSO_SW);
	CU_ASSERT_EQUAL(send_large(&t, sizeof payload, payload), 0);
	/* Cut here into 5 segments that wait for ARP like any packet. */
	CU_ASSERT_EQUAL(us_stack_stat(t.st, US_STAT_IP_TX_GSO_SW), sw + 5);
	CU_ASSERT_EQUAL(dev.calls, 0);
	struct tu_frames out = { 0 };
	tu_collect(&t, &out);           /* the ARP request */
	uint8_t f[64];
	size_t n = tu_arp_frame(f, tu_stack_mac, 2, tu_peer_mac, TU_PEER_IP, tu_stack_mac, TU_STACK_IP);
	tu_inject(&t, f, n);
	tu_frames_clear(&out);
	CU_ASSERT_EQUAL_FATAL(tu_collect(&t, &out), 5);
	/* Each went to the device with only its checksum left to do. */
	CU_ASSERT_EQUAL(dev.calls, 5);
	CU_ASSERT_EQUAL(dev.large, 0);
	CU_ASSERT_EQUAL(dev.last.gso_size, 0);
	CU_ASSERT_EQUAL(dev.last.csum_start, 34);
	size_t off = 0;
	for (int i = 0; i < out.n; i++) {
		const uint8_t *d = out.f[i].data;
		size_t piece = out.f[i].len - 54;
		CU_ASSERT_EQUAL(piece, sizeof payload - off < 1000 ? sizeof payload - off : 1000);
		CU_ASSERT_EQUAL(get32be(d + 38), 5000 + off);
		CU_ASSERT_EQUAL(tu_csum_from(pseudo(d + 14, 20 + piece), d + 34, 20 + piece), 0);
		CU_ASSERT(memcmp(d + 54, payload + off, piece) == 0);
		off += piece;
	}
	CU_ASSERT_EQUAL(off, sizeof payload);
	tu_frames_free(&out);
	tu_close(&t);
}

static void test_tcp_builds_large_segments_on_a_tso_device(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	make_tso_device(&t);
	int lfd = tc_listen(&t, 80, 4);
	struct tc_peer p;
	tc_peer_init(&p, &t, 40000, 80, 1000);
	int fd = tc_open_passive(&p, lfd, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	static uint8_t data[100000], got[100000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 13 + i / 251);
	size_t sent = 0, recvd = 0;
	int largest = 0;
	struct tc_out o = { 0 };
	for (int round = 0; round < 400 && recvd < sizeof data; round++) {
		if (sent < sizeof data) {
			ssize_t k = us_send(t.st, fd, data + sent, sizeof data - sent, MSG_DONTWAIT);
			if (k > 0)
				sent += (size_t)k;
		}
		tc_out_clear(&o);
		tc_run(&t, TC_MS, &o);
		for (int i = 0; i < o.n; i++) {
			struct tc_parsed *s = &o.seg[i];
			CU_ASSERT(s->csum_ok);
			CU_ASSERT(s->len <= 1460);
			if (s->len && s->seq == p.rcv_nxt && recvd + s->len <= sizeof got) {
				memcpy(got + recvd, s->data, s->len);
				recvd += s->len;
			}
			tc_peer_saw(&p, s);
		}
		if (dev.last_len > (size_t)largest)
			largest = (int)dev.last_len;
		tc_peer_send(&p, TC_ACK, NULL, 0);
	}
	CU_ASSERT_EQUAL(recvd, sizeof data);
	CU_ASSERT(memcmp(got, data, sizeof data) == 0);
	/* Several MSS per frame handed to the device, whole MSS multiples. */
	CU_ASSERT(dev.large > 0);
	CU_ASSERT(largest > 2 * 1514);
	CU_ASSERT_EQUAL(dev.last.gso_size ? dev.last.gso_size : 1460, 1460);
	tc_out_free(&o);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_run(&t, 100 * TC_MS, NULL);
	tu_close(&t);
}

/* The checked library's count of the bytes this thread summed
 * (core/wire/checksum.h; the unit tests always link that library). */
extern _Thread_local uint64_t wire_csum_counted;

/* Give the scripted peer what the stack sent, then ACK it all. */
static void ack_all(struct tc_peer *p)
{
	struct tc_out o = { 0 };
	tc_run(p->t, TC_MS, &o);
	for (int i = 0; i < o.n; i++)
		tc_peer_saw(p, &o.seg[i]);
	tc_out_free(&o);
	tc_peer_send(p, TC_ACK, NULL, 0);
	tc_run(p->t, TC_MS, NULL);
}

/*
 * Where the device does the checksum the stack sums no payload byte:
 * data received with DATA_VALID (UNNECESSARY) or NEEDS_CSUM (PARTIAL) is
 * not summed (only the IP header is checked, and the ACK's IP header and
 * pseudo-header built), nor is data sent through a device that takes the
 * checksum (NEEDS_CSUM) and segments. The same segment with no state, and
 * the same send on a device without offloads, sum every byte: the counter
 * counts what it should.
 */
static void test_offload_no_checksum_work_on_payload(void)
{
	struct us_config cfg;
	struct tu t;
	tc_config(&cfg, 0, __func__);
	if (!tu_open_cfg(&t, &cfg))
		return;
	make_tso_device(&t);
	struct us_netif *nif = &t.st->ifs[0];
	int lfd = tc_listen(&t, 80, 4);
	struct tc_peer p;
	tc_peer_init(&p, &t, 40000, 80, 1000);
	int fd = tc_open_passive(&p, lfd, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	static uint8_t data[1000], got[1000], f[1600];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 5 + 1);
	const uint8_t states[3] = { US_CSUM_UNNECESSARY, US_CSUM_PARTIAL, US_CSUM_NONE };
	for (int k = 0; k < 3; k++) {
		struct tc_seg sg = tc_peer_seg(&p, TC_ACK | TC_PSH, data, sizeof data);
		size_t n = tc_frame(f, &sg);
		uint64_t before = wire_csum_counted;
		input(nif, f, n, states[k]);
		uint64_t summed = wire_csum_counted - before;
		p.snd_nxt += sizeof data;
		if (states[k] == US_CSUM_NONE) {
			CU_ASSERT(summed >= 20 + sizeof data);
		} else {
			CU_ASSERT(summed <= 64);
		}
		CU_ASSERT_EQUAL(us_recv(t.st, fd, got, sizeof got, MSG_DONTWAIT), (ssize_t)sizeof got);
		CU_ASSERT(memcmp(got, data, sizeof data) == 0);
		ack_all(&p);
	}
	/* Send: 10 full segments in one TSO frame, nothing summed but headers. */
	static uint8_t big[14600];
	memset(big, 0x5c, sizeof big);
	int calls = dev.calls;
	uint64_t before = wire_csum_counted;
	CU_ASSERT_EQUAL(us_send(t.st, fd, big, sizeof big, MSG_DONTWAIT), (ssize_t)sizeof big);
	uint64_t summed = wire_csum_counted - before;
	CU_ASSERT(dev.calls > calls);
	CU_ASSERT(dev.large > 0);
	CU_ASSERT(summed <= 64 * (uint64_t)(dev.calls - calls));
	ack_all(&p);
	/* The same device without offloads: every byte summed (once). */
	nif->link.ops = dev.pair;
	nif->link.caps.tx_csum = nif->link.caps.tso = false;
	before = wire_csum_counted;
	CU_ASSERT_EQUAL(us_send(t.st, fd, big, 4000, MSG_DONTWAIT), 4000);
	summed = wire_csum_counted - before;
	CU_ASSERT(summed >= 4000);
	CU_ASSERT(summed < 2 * 4000);
	ack_all(&p);
	us_close(t.st, fd);
	us_close(t.st, lfd);
	tc_run(&t, 100 * TC_MS, NULL);
	tu_close(&t);
}

US_SUITE(offload, NULL, NULL,
	 US_TEST(test_rx_udp_checksum_vouched_is_not_verified),
	 US_TEST(test_rx_tcp_checksum_vouched_is_not_verified),
	 US_TEST(test_config_offload_key),
	 US_TEST(test_gso_hdr_cuts_like_the_device),
	 US_TEST(test_tso_frame_goes_whole_to_the_device),
	 US_TEST(test_tso_unresolved_next_hop_cut_in_software),
	 US_TEST(test_tcp_builds_large_segments_on_a_tso_device),
	 US_TEST(test_offload_no_checksum_work_on_payload));
