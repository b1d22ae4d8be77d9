/*
 * test_tcp_dst_cache.c — the route and neighbour each connection caches
 * (ipv4.h us_dst_cache), on the pair wire in deterministic mode.
 *
 * A connection looks its route and its next hop's MAC up once and then
 * sends from the cache; the routing table's and the ARP cache's
 * generation numbers (and the ARP entry's lapse time) say when to look
 * again. Each test changes the world under an established connection and
 * checks the very next data segment: it must go where the new tables say,
 * and the connection must go on working (the peer's ACKs keep it going).
 */
#include <string.h>

#include "harness.h"
#include "tcputil.h"
#include "../../core/stack.h"

static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t mac_gw[6] = { 0x02, 0, 0, 0, 0, 0x99 };
#define GW_IP tu_ip(10, 0, 0, 3)

/* The peer says (ARP reply to the stack) that ip is at mac. */
static void arp_tell(struct tu *t, uint32_t ip, const uint8_t mac[6])
{
	uint8_t f[64];
	size_t n = tu_arp_frame(f, tu_stack_mac, 2, mac, ip, tu_stack_mac, TU_STACK_IP);
	tu_inject(t, f, n);
}

struct sent {
	int data_frames;        /* IPv4 frames carrying our 100 bytes */
	uint8_t mac[6];         /* the destination MAC of the last of them */
	uint32_t ip_dst;        /* and its IP destination (network order) */
	int arp_requests;
	uint32_t arp_target;    /* the last request's target (network order) */
};

/* Look at what the stack sent: data frames' MAC and IP, ARP requests. */
static void inspect(const struct tc_out *o, struct sent *s)
{
	for (int i = 0; i < o->frames.n; i++) {
		const struct tu_frame *f = &o->frames.f[i];
		if (tu_is_arp(f, 1)) {
			s->arp_requests++;
			memcpy(&s->arp_target, f->data + 38, 4);
			continue;
		}
		if (f->len < 14 + 20 + 20 + 100 || tu_get16(f->data + 12) != 0x0800)
			continue;
		s->data_frames++;
		memcpy(s->mac, f->data, 6);
		memcpy(&s->ip_dst, f->data + 30, 4);
	}
}

/* The stack sends 100 bytes; the peer acknowledges whatever came (after
 * answering ARP for `answer_ip` with `answer_mac` if asked to). */
static struct sent send_100(struct tu *t, struct tc_peer *p, int fd, uint32_t answer_ip,
			    const uint8_t *answer_mac)
{
	struct sent s = { 0 };
	char buf[100];
	memset(buf, 'x', sizeof buf);
	CU_ASSERT_EQUAL(us_send(t->st, fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
	struct tc_out o = { 0 };
	tc_run(t, TC_MS, &o);
	inspect(&o, &s);
	if (answer_mac && s.arp_requests) {
		arp_tell(t, answer_ip, answer_mac);
		tc_out_clear(&o);
		tc_collect(t, &o);
		inspect(&o, &s);
	}
	for (int i = 0; i < o.n; i++)
		tc_peer_saw(p, &o.seg[i]);
	tc_out_free(&o);
	tc_peer_send(p, TC_ACK, NULL, 0);
	return s;
}

/* All sent data acknowledged: nothing in flight, nothing retransmitted. */
static void assert_all_acked(struct tu *t, int fd)
{
	int una = -1, max = -2;
	us_stack *st = t->st;
	struct us_sock *s = us_sock_get(st, fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	pthread_mutex_lock(&s->lock);
	if (s->tcb) {
		una = (int)s->tcb->snd_una;
		max = (int)s->tcb->snd_max;
	}
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	CU_ASSERT_EQUAL(una, max);
	CU_ASSERT_EQUAL(tc_state(t, fd), TCPS_ESTABLISHED);
}

static bool open_conn(struct tu *t, struct us_config *cfg, struct tc_peer *p, int *lfd, int *fd,
		      uint16_t port)
{
	*fd = tc_open_conn(t, cfg, &(struct tc_conn_spec){ .lport = 80, .pport = port, .piss = 3000,
							   .backlog = 4 }, p, lfd);
	return *fd >= 0;
}

static void close_conn(struct tu *t, int lfd, int fd)
{
	us_close(t->st, fd);
	us_close(t->st, lfd);
	tc_run(t, 100 * TC_MS, NULL);
	tu_close(t);
}

/* A stack that learns the peer's MAC (no static entry) from an ARP reply,
 * with one connection accepted from the peer's port. */
static bool open_learned(struct tu *t, const char *tag, uint32_t arp_timeout_s, uint16_t port,
			 struct tc_peer *p, int *lfd, int *fd)
{
	struct us_config cfg;
	char wire[96];
	struct tu_opts opts = { .static_peer = false, .arp_timeout_s = arp_timeout_s };
	tu_wire_name(wire, sizeof wire, tag);
	tu_config(&cfg, wire, &opts);
	if (!tu_open_cfg(t, &cfg))
		return false;
	arp_tell(t, TU_PEER_IP, tu_peer_mac);   /* learned, not static */
	*lfd = tc_listen(t, 80, 4);
	tc_peer_init(p, t, port, 80, 3000);
	*fd = tc_open_passive(p, *lfd, NULL);
	CU_ASSERT_FATAL(*fd >= 0);
	return true;
}

/* The peer's MAC changes (RFC 826 merge of a new ARP reply): the next
 * segment goes to the new MAC, not the one the connection cached. */
static void test_dst_cache_arp_change(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!open_learned(&t, __func__, 0, 41001, &p, &lfd, &fd))
		return;
	struct sent s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(s.data_frames, 1);
	CU_ASSERT_EQUAL(memcmp(s.mac, tu_peer_mac, 6), 0);
	arp_tell(&t, TU_PEER_IP, mac_b);
	s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(s.data_frames, 1);
	CU_ASSERT_EQUAL(memcmp(s.mac, mac_b, 6), 0);
	CU_ASSERT_EQUAL(s.arp_requests, 0);
	s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(memcmp(s.mac, mac_b, 6), 0);
	assert_all_acked(&t, fd);
	close_conn(&t, lfd, fd);
}

/* The peer's ARP entry lapses (arp_timeout_s) while the connection is
 * idle: the next segment waits for a new ARP answer (a request goes out
 * first), and goes to the MAC that answer gives. */
static void test_dst_cache_arp_expiry(void)
{
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!open_learned(&t, __func__, 5, 41002, &p, &lfd, &fd))
		return;
	struct sent s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(memcmp(s.mac, tu_peer_mac, 6), 0);
	CU_ASSERT_EQUAL(s.arp_requests, 0);
	/* Idle past the entry's lifetime. */
	tc_run(&t, 6 * TC_SEC, NULL);
	s = send_100(&t, &p, fd, TU_PEER_IP, mac_b);
	CU_ASSERT_EQUAL(s.arp_requests, 1);
	CU_ASSERT_EQUAL(s.arp_target, TU_PEER_IP);
	CU_ASSERT_EQUAL(s.data_frames, 1);
	CU_ASSERT_EQUAL(memcmp(s.mac, mac_b, 6), 0);
	s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(s.data_frames, 1);
	CU_ASSERT_EQUAL(memcmp(s.mac, mac_b, 6), 0);
	assert_all_acked(&t, fd);
	close_conn(&t, lfd, fd);
}

/* A host route via a gateway appears for the peer, then goes away: the
 * connection's segments follow it to the gateway's MAC (IP destination
 * still the peer) and back. */
static void test_dst_cache_route_change(void)
{
	struct us_config cfg;
	tc_config(&cfg, 0, __func__);
	struct tu t;
	struct tc_peer p;
	int lfd, fd;
	if (!open_conn(&t, &cfg, &p, &lfd, &fd, 41003))
		return;
	struct sent s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(memcmp(s.mac, tu_peer_mac, 6), 0);
	uint32_t g0 = us_route_gen(&t.st->routes);
	CU_ASSERT_EQUAL(us_arp_add_static(&t.st->arp, GW_IP, mac_gw, 0), 0);
	CU_ASSERT_EQUAL(us_route_add(&t.st->routes, TU_PEER_IP, 32, GW_IP, 0, 0), 0);
	CU_ASSERT(us_route_gen(&t.st->routes) != g0);
	s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(s.data_frames, 1);
	CU_ASSERT_EQUAL(memcmp(s.mac, mac_gw, 6), 0);
	CU_ASSERT_EQUAL(s.ip_dst, TU_PEER_IP);
	CU_ASSERT_EQUAL(us_route_del(&t.st->routes, TU_PEER_IP, 32, GW_IP, 0), 0);
	s = send_100(&t, &p, fd, 0, NULL);
	CU_ASSERT_EQUAL(s.data_frames, 1);
	CU_ASSERT_EQUAL(memcmp(s.mac, tu_peer_mac, 6), 0);
	assert_all_acked(&t, fd);
	close_conn(&t, lfd, fd);
}

US_SUITE(tcp_dst_cache, NULL, NULL,
	 US_TEST(test_dst_cache_arp_change),
	 US_TEST(test_dst_cache_arp_expiry),
	 US_TEST(test_dst_cache_route_change));
