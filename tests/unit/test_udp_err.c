/*
 * test_udp_err.c — path MTU and ICMP errors on UDP sockets (core/udp_err.c;
 * suite "udp_err"): IP_MTU_DISCOVER, IP_MTU, EMSGSIZE, IP_RECVERR with
 * recvmsg(MSG_ERRQUEUE), and us_recvmsg on the data path.
 *
 * One deterministic stack (10.0.0.1, MTU 1500, static ARP for the peer
 * 10.0.0.2) faces the test's end of the wire: the test reads the DF bit
 * and fragment sizes of what the stack sends, and plays the router or the
 * peer that answers with ICMP errors, crafting them byte by byte. The
 * expected values are Linux's (ip_sockglue.c ip_recv_error, ip_output.c
 * __ip_make_skb / ip_append_data, udp.c __udp4_lib_err), written down
 * here from those rules, not from this stack's output.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "sockutil.h"

#define SPORT 4000
#define DPORT 5000
#define ROUTER tu_ip(10, 0, 0, 254)     /* the ICMP's source: a router on the path */

static struct tu_opts opts = { .static_peer = true };

/* A UDP socket bound to SPORT on the stack. */
static int sock(struct tu *t)
{
	int fd = su_udp(t->st, INADDR_ANY, SPORT);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

static int set_int(struct tu *t, int fd, int name, int v)
{
	return us_setsockopt(t->st, fd, IPPROTO_IP, name, &v, sizeof v);
}

static int get_int(struct tu *t, int fd, int name, int *v)
{
	socklen_t l = sizeof *v;
	return us_getsockopt(t->st, fd, IPPROTO_IP, name, v, &l);
}

/* What the stack sent now: the IPv4 frames, in order. */
struct sent {
	int n;
	struct tu_ipv ip[64];
	struct tu_frames f;
};

static void sent_collect(struct tu *t, struct sent *s)
{
	tu_frames_clear(&s->f);
	tu_collect(t, &s->f);
	s->n = 0;
	for (int i = 0; i < s->f.n && s->n < 64; i++)
		if (tu_parse_ip(s->f.f[i].data, s->f.f[i].len, &s->ip[s->n]))
			s->n++;
}

/*
 * The ICMP error (type/code, second word rest) that from sends to the
 * stack about a datagram SPORT -> DPORT carrying data (quoted whole,
 * after a header that says total_len).
 */
static void icmp_about(struct tu *t, uint32_t from, uint8_t type, uint8_t code, uint16_t rest,
		       const void *data, size_t dlen, uint16_t total_len)
{
	uint8_t udp[8 + 64];
	CU_ASSERT_FATAL(dlen <= 64);
	size_t ul = tu_udp(udp, TU_STACK_IP, TU_PEER_IP, SPORT, DPORT, data, dlen);
	struct tu_iph q = tu_iph_peer(17);
	q.src = TU_STACK_IP;
	q.dst = TU_PEER_IP;
	q.df = true;
	q.total_len = total_len ? total_len : (uint16_t)(20 + ul);
	uint8_t icmp[8 + 20 + sizeof udp] = { type, code };
	tu_put16(icmp + 6, rest);
	size_t ql = tu_ip4(icmp + 8, &q, udp, ul);
	tu_put16(icmp + 2, tu_csum(icmp, 8 + ql));
	struct tu_iph h = tu_iph_peer(1);
	h.src = from;
	uint8_t f[200];
	tu_inject(t, f, tu_ip_frame(f, &h, icmp, 8 + ql));
}

/* One error read with MSG_ERRQUEUE. */
struct errmsg {
	ssize_t n;
	int flags;
	uint8_t data[64];
	struct sockaddr_in name;
	socklen_t namelen;
	bool has_cmsg;
	struct sock_extended_err ee;
	struct sockaddr_in offender;
};

static ssize_t read_err(struct tu *t, int fd, struct errmsg *o)
{
	memset(o, 0, sizeof *o);
	union {
		struct cmsghdr align;
		uint8_t b[256];
	} ctl;
	struct iovec iov = { o->data, sizeof o->data };
	struct msghdr m = {
		.msg_name = &o->name, .msg_namelen = sizeof o->name,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.b, .msg_controllen = sizeof ctl.b,
	};
	o->n = us_recvmsg(t->st, fd, &m, MSG_DONTWAIT | MSG_ERRQUEUE);
	if (o->n < 0)
		return o->n;
	o->flags = m.msg_flags;
	o->namelen = m.msg_namelen;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		CU_ASSERT_EQUAL(c->cmsg_level, SOL_IP);
		CU_ASSERT_EQUAL(c->cmsg_type, IP_RECVERR);
		CU_ASSERT_EQUAL(c->cmsg_len, CMSG_LEN(sizeof o->ee + sizeof o->offender));
		if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) {
			o->has_cmsg = true;
			memcpy(&o->ee, CMSG_DATA(c), sizeof o->ee);
			/* SO_EE_OFFENDER: right after the extended error. */
			memcpy(&o->offender, CMSG_DATA(c) + sizeof o->ee, sizeof o->offender);
		}
	}
	return o->n;
}

/* ---- IP_MTU_DISCOVER: DF and fragment sizes on the wire ------------------------ */

static void test_udp_pmtudisc_option_values(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t), v = -1;
	SU_OK(get_int(&t, fd, IP_MTU_DISCOVER, &v));
	CU_ASSERT_EQUAL(v, IP_PMTUDISC_WANT);   /* Linux's default */
	for (int m = IP_PMTUDISC_DONT; m <= IP_PMTUDISC_OMIT; m++) {
		SU_OK(set_int(&t, fd, IP_MTU_DISCOVER, m));
		SU_OK(get_int(&t, fd, IP_MTU_DISCOVER, &v));
		CU_ASSERT_EQUAL(v, m);
	}
	SU_ERR(set_int(&t, fd, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT + 1), EINVAL);
	SU_ERR(set_int(&t, fd, IP_MTU_DISCOVER, -1), EINVAL);
	/* IP_MTU: only a connected socket has a path. */
	SU_ERR(get_int(&t, fd, IP_MTU, &v), ENOTCONN);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, DPORT);
	SU_OK(us_connect(t.st, fd, SU_SA(peer), sizeof peer));
	SU_OK(get_int(&t, fd, IP_MTU, &v));
	CU_ASSERT_EQUAL(v, 1500);
	SU_ERR(set_int(&t, fd, IP_MTU, 1000), ENOPROTOOPT);   /* read-only, as Linux */
	v = 0;
	SU_OK(get_int(&t, fd, IP_RECVERR, &v));
	CU_ASSERT_EQUAL(v, 0);
	SU_OK(set_int(&t, fd, IP_RECVERR, 1));
	SU_OK(get_int(&t, fd, IP_RECVERR, &v));
	CU_ASSERT_EQUAL(v, 1);
	us_close(t.st, fd);
	tu_close(&t);
}

/* Send len bytes with mode; check the fragments: their count, DF, the
 * largest IP total length. */
static void send_check(struct tu *t, int fd, int mode, size_t len, ssize_t want_rc,
		       int want_frags, bool want_df, size_t max_total)
{
	static uint8_t buf[3000];
	SU_OK(set_int(t, fd, IP_MTU_DISCOVER, mode));
	ssize_t rc = su_sendto(t->st, fd, buf, len, TU_PEER_IP, DPORT);
	CU_ASSERT_EQUAL(rc, want_rc);
	struct sent s = { 0 };
	sent_collect(t, &s);
	CU_ASSERT_EQUAL(s.n, want_frags);
	size_t big = 0;
	for (int i = 0; i < s.n; i++) {
		CU_ASSERT_EQUAL(s.ip[i].df, want_df);
		if (s.ip[i].total_len > big)
			big = s.ip[i].total_len;
	}
	if (want_frags)
		CU_ASSERT_EQUAL(big, max_total);
	tu_frames_free(&s.f);
}

static void test_udp_pmtudisc_modes_on_the_wire(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t);
	tu_collect(&t, NULL);
	/* Interface MTU 1500: 1472 payload bytes fit one 1500-byte packet. */
	send_check(&t, fd, IP_PMTUDISC_WANT, 100, 100, 1, true, 128);
	send_check(&t, fd, IP_PMTUDISC_WANT, 1472, 1472, 1, true, 1500);
	send_check(&t, fd, IP_PMTUDISC_DONT, 100, 100, 1, false, 128);
	send_check(&t, fd, IP_PMTUDISC_DO, 1472, 1472, 1, true, 1500);
	send_check(&t, fd, IP_PMTUDISC_PROBE, 1472, 1472, 1, true, 1500);
	send_check(&t, fd, IP_PMTUDISC_INTERFACE, 100, 100, 1, false, 128);
	/* One byte too many: WANT/DONT/OMIT fragment (no DF), DO/PROBE/INTERFACE refuse. */
	send_check(&t, fd, IP_PMTUDISC_WANT, 1473, 1473, 2, false, 1500);
	send_check(&t, fd, IP_PMTUDISC_DONT, 1473, 1473, 2, false, 1500);
	send_check(&t, fd, IP_PMTUDISC_OMIT, 1473, 1473, 2, false, 1500);
	send_check(&t, fd, IP_PMTUDISC_DO, 1473, -1, 0, true, 0);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	send_check(&t, fd, IP_PMTUDISC_PROBE, 1473, -1, 0, true, 0);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	send_check(&t, fd, IP_PMTUDISC_INTERFACE, 1473, -1, 0, true, 0);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	us_close(t.st, fd);
	tu_close(&t);
}

/*
 * A router says "fragmentation needed, next-hop MTU 1000": the path MTU is
 * 1000 for every socket (IP_MTU), DO refuses above it, WANT and DONT
 * fragment to it, PROBE and OMIT keep to the interface's 1500.
 */
static void test_udp_needfrag_lowers_path_mtu(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t), v = 0;
	tu_collect(&t, NULL);
	icmp_about(&t, ROUTER, 3, 4, 1000, "x", 1, 1500);
	int c = us_socket(t.st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, DPORT);
	SU_OK(us_connect(t.st, c, SU_SA(peer), sizeof peer));
	SU_OK(get_int(&t, c, IP_MTU, &v));
	CU_ASSERT_EQUAL(v, 1000);
	/* 972 + 28 = 1000 fits; one more does not. */
	send_check(&t, fd, IP_PMTUDISC_DO, 972, 972, 1, true, 1000);
	send_check(&t, fd, IP_PMTUDISC_DO, 973, -1, 0, true, 0);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	send_check(&t, fd, IP_PMTUDISC_WANT, 972, 972, 1, true, 1000);
	/* 973 + 8 = 981 bytes of IP payload: 976 (a multiple of 8) + 5. */
	send_check(&t, fd, IP_PMTUDISC_WANT, 973, 973, 2, false, 996);
	send_check(&t, fd, IP_PMTUDISC_DONT, 973, 973, 2, false, 996);
	send_check(&t, fd, IP_PMTUDISC_PROBE, 1472, 1472, 1, true, 1500);
	send_check(&t, fd, IP_PMTUDISC_OMIT, 1472, 1472, 1, false, 1500);
	/* A report of a larger MTU changes nothing (RFC 1191 6.1). */
	icmp_about(&t, ROUTER, 3, 4, 1400, "x", 1, 1500);
	SU_OK(get_int(&t, c, IP_MTU, &v));
	CU_ASSERT_EQUAL(v, 1000);
	/* Ten minutes later the cache forgot (Linux's mtu_expires). */
	tu_run(&t, 601ULL * 1000000000ULL, NULL);
	SU_OK(get_int(&t, c, IP_MTU, &v));
	CU_ASSERT_EQUAL(v, 1500);
	us_close(t.st, c);
	us_close(t.st, fd);
	tu_close(&t);
}

/* INTERFACE and OMIT sockets do not teach the cache (ip_sk_accept_pmtu). */
static void test_udp_needfrag_ignored_by_interface_mode(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t), v = 0;
	SU_OK(set_int(&t, fd, IP_MTU_DISCOVER, IP_PMTUDISC_INTERFACE));
	icmp_about(&t, ROUTER, 3, 4, 1000, "x", 1, 1500);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, DPORT);
	SU_OK(us_connect(t.st, fd, SU_SA(peer), sizeof peer));
	SU_OK(get_int(&t, fd, IP_MTU, &v));
	CU_ASSERT_EQUAL(v, 1500);
	us_close(t.st, fd);
	tu_close(&t);
}

/* ---- IP_RECVERR and MSG_ERRQUEUE ------------------------------------------------ */

static void test_udp_recverr_port_unreachable(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t), quiet = su_udp(t.st, INADDR_ANY, SPORT + 1);
	struct errmsg e;
	char buf[64];
	/* Without IP_RECVERR an unconnected socket hears nothing. */
	icmp_about(&t, TU_PEER_IP, 3, 3, 0, "hello", 5, 0);
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	SU_ERR(read_err(&t, fd, &e), EAGAIN);

	SU_OK(set_int(&t, fd, IP_RECVERR, 1));
	SU_ERR(read_err(&t, fd, &e), EAGAIN);           /* empty: at once, no wait */
	icmp_about(&t, TU_PEER_IP, 3, 3, 0, "hello", 5, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	CU_ASSERT_EQUAL(us_poll(t.st, &p, 1, 0), 1);
	CU_ASSERT(p.revents & POLLERR);
	/* Only the socket the datagram came from. */
	SU_ERR(us_recv(t.st, quiet, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* The error is pending too (Linux sets sk_err): the next call fails with it, once. */
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), ECONNREFUSED);
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* The queue still holds the details. */
	CU_ASSERT_EQUAL(read_err(&t, fd, &e), 5);
	CU_ASSERT(memcmp(e.data, "hello", 5) == 0);
	CU_ASSERT(e.flags & MSG_ERRQUEUE);
	CU_ASSERT(!(e.flags & (MSG_TRUNC | MSG_CTRUNC)));
	CU_ASSERT_EQUAL(e.namelen, sizeof e.name);
	CU_ASSERT_EQUAL(e.name.sin_family, AF_INET);
	CU_ASSERT_EQUAL(e.name.sin_addr.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(ntohs(e.name.sin_port), DPORT);
	CU_ASSERT_FATAL(e.has_cmsg);
	CU_ASSERT_EQUAL(e.ee.ee_errno, ECONNREFUSED);
	CU_ASSERT_EQUAL(e.ee.ee_origin, SO_EE_ORIGIN_ICMP);
	CU_ASSERT_EQUAL(e.ee.ee_type, 3);
	CU_ASSERT_EQUAL(e.ee.ee_code, 3);
	CU_ASSERT_EQUAL(e.ee.ee_info, 0);
	CU_ASSERT_EQUAL(e.offender.sin_family, AF_INET);
	CU_ASSERT_EQUAL(e.offender.sin_addr.s_addr, TU_PEER_IP);
	SU_ERR(read_err(&t, fd, &e), EAGAIN);
	p.revents = 0;
	CU_ASSERT_EQUAL(us_poll(t.st, &p, 1, 0), 0);
	us_close(t.st, quiet);
	us_close(t.st, fd);
	tu_close(&t);
}

/* Frag-needed with IP_RECVERR: EMSGSIZE, ee_info the next-hop MTU, the router
 * as offender; two queued errors: reading the first leaves the second pending. */
static void test_udp_recverr_needfrag_and_order(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t);
	struct errmsg e;
	char buf[8];
	SU_OK(set_int(&t, fd, IP_RECVERR, 1));
	icmp_about(&t, ROUTER, 3, 4, 1280, "big", 3, 1500);
	icmp_about(&t, TU_PEER_IP, 11, 0, 0, "ttl", 3, 0);  /* time exceeded */
	CU_ASSERT_EQUAL(read_err(&t, fd, &e), 3);
	CU_ASSERT(memcmp(e.data, "big", 3) == 0);
	CU_ASSERT_EQUAL(e.ee.ee_errno, EMSGSIZE);
	CU_ASSERT_EQUAL(e.ee.ee_type, 3);
	CU_ASSERT_EQUAL(e.ee.ee_code, 4);
	CU_ASSERT_EQUAL(e.ee.ee_info, 1280);
	CU_ASSERT_EQUAL(e.offender.sin_addr.s_addr, ROUTER);
	/* The second one is now the pending error. */
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), EHOSTUNREACH);
	CU_ASSERT_EQUAL(read_err(&t, fd, &e), 3);
	CU_ASSERT_EQUAL(e.ee.ee_type, 11);
	CU_ASSERT_EQUAL(e.ee.ee_errno, EHOSTUNREACH);
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	us_close(t.st, fd);
	tu_close(&t);
}

/* A local EMSGSIZE (DO) is queued as SO_EE_ORIGIN_LOCAL with the MTU, no
 * data, no offender, and is not made pending; a short control buffer and a
 * short data buffer are flagged. */
static void test_udp_recverr_local_emsgsize(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t);
	struct errmsg e;
	static uint8_t big[2000];
	SU_OK(set_int(&t, fd, IP_RECVERR, 1));
	SU_OK(set_int(&t, fd, IP_MTU_DISCOVER, IP_PMTUDISC_DO));
	SU_ERR(su_sendto(t.st, fd, big, 1473, TU_PEER_IP, DPORT), EMSGSIZE);
	char buf[8];
	SU_ERR(us_recv(t.st, fd, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);   /* not pending */
	CU_ASSERT_EQUAL(read_err(&t, fd, &e), 0);
	CU_ASSERT_EQUAL(e.ee.ee_errno, EMSGSIZE);
	CU_ASSERT_EQUAL(e.ee.ee_origin, SO_EE_ORIGIN_LOCAL);
	CU_ASSERT_EQUAL(e.ee.ee_info, 1500);
	CU_ASSERT_EQUAL(e.offender.sin_family, AF_UNSPEC);
	CU_ASSERT_EQUAL(e.name.sin_addr.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(e.name.sin_port, 0);       /* not connected: Linux's inet_dport */

	/* Short buffers: MSG_TRUNC for the data, MSG_CTRUNC for the control message. */
	icmp_about(&t, TU_PEER_IP, 3, 3, 0, "hello", 5, 0);
	uint8_t small[2];
	uint8_t ctl[sizeof(struct cmsghdr) + 4];
	struct iovec iov = { small, sizeof small };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl, .msg_controllen = sizeof ctl };
	CU_ASSERT_EQUAL(us_recvmsg(t.st, fd, &m, MSG_ERRQUEUE), 2);
	CU_ASSERT(memcmp(small, "he", 2) == 0);
	CU_ASSERT(m.msg_flags & MSG_TRUNC);
	CU_ASSERT(m.msg_flags & MSG_CTRUNC);
	CU_ASSERT(m.msg_flags & MSG_ERRQUEUE);
	us_close(t.st, fd);
	tu_close(&t);
}

/* The queue is bounded (counted when full); IP_RECVERR off empties it. */
static void test_udp_recverr_queue_bound_and_purge(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t);
	struct errmsg e;
	SU_OK(set_int(&t, fd, IP_RECVERR, 1));
	for (int i = 0; i < 10; i++)
		icmp_about(&t, TU_PEER_IP, 3, 3, 0, "n", 1, 0);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_ERRQ_FULL), 2);
	int got = 0;
	while (read_err(&t, fd, &e) >= 0 && got < 20)
		got++;
	CU_ASSERT_EQUAL(got, 8);
	icmp_about(&t, TU_PEER_IP, 3, 3, 0, "n", 1, 0);
	SU_OK(set_int(&t, fd, IP_RECVERR, 0));
	SU_OK(set_int(&t, fd, IP_RECVERR, 1));
	SU_ERR(read_err(&t, fd, &e), EAGAIN);
	us_close(t.st, fd);
	tu_close(&t);
}

/* Connected sockets keep hearing of errors without IP_RECVERR, and a
 * DONT socket takes "fragmentation needed" silently (it fragments). */
static void test_udp_connected_errors_without_recverr(void)
{
	struct tu t;
	if (!tu_open(&t, &opts))
		return;
	int fd = sock(&t);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, DPORT);
	SU_OK(us_connect(t.st, fd, SU_SA(peer), sizeof peer));
	icmp_about(&t, TU_PEER_IP, 3, 3, 0, "x", 1, 0);
	SU_ERR(us_send(t.st, fd, "y", 1, 0), ECONNREFUSED);
	icmp_about(&t, ROUTER, 3, 4, 1200, "x", 1, 1500);
	SU_ERR(us_send(t.st, fd, "y", 1, 0), EMSGSIZE);
	SU_OK(set_int(&t, fd, IP_MTU_DISCOVER, IP_PMTUDISC_DONT));
	icmp_about(&t, ROUTER, 3, 4, 1100, "x", 1, 1500);
	CU_ASSERT_EQUAL(us_send(t.st, fd, "y", 1, 0), 1);
	int v = 0;
	SU_OK(get_int(&t, fd, IP_MTU, &v));
	CU_ASSERT_EQUAL(v, 1100);               /* DONT sockets still teach the cache */
	us_close(t.st, fd);
	tu_close(&t);
}

/* ---- us_recvmsg on the data path ------------------------------------------------- */

static void test_udp_recvmsg_scatter_and_trunc(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int a = su_udp(p.a, INADDR_ANY, 7000);
	int b = su_udp(p.b, INADDR_ANY, 8000);
	CU_ASSERT_EQUAL(su_sendto(p.a, a, "0123456789", 10, SU_B_IP, 8000), 10);
	CU_ASSERT_EQUAL(su_sendto(p.a, a, "abcdefghij", 10, SU_B_IP, 8000), 10);
	su_run(&p, 10 * 1000000ULL);
	char x[4], y[3];
	struct iovec iov[2] = { { x, sizeof x }, { y, sizeof y } };
	struct sockaddr_in from;
	uint8_t ctl[64];
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = iov,
			    .msg_iovlen = 2, .msg_control = ctl, .msg_controllen = sizeof ctl };
	CU_ASSERT_EQUAL(us_recvmsg(p.b, b, &m, MSG_DONTWAIT), 7);
	CU_ASSERT(memcmp(x, "0123", 4) == 0 && memcmp(y, "456", 3) == 0);
	CU_ASSERT_EQUAL(m.msg_flags, MSG_TRUNC);
	CU_ASSERT_EQUAL(m.msg_controllen, 0);
	CU_ASSERT_EQUAL(m.msg_namelen, sizeof from);
	CU_ASSERT_EQUAL(from.sin_addr.s_addr, SU_A_IP);
	CU_ASSERT_EQUAL(ntohs(from.sin_port), 7000);
	/* With MSG_TRUNC the datagram's real length comes back. */
	m.msg_controllen = sizeof ctl;
	CU_ASSERT_EQUAL(us_recvmsg(p.b, b, &m, MSG_DONTWAIT | MSG_TRUNC), 10);
	CU_ASSERT(memcmp(x, "abcd", 4) == 0 && memcmp(y, "efg", 3) == 0);
	SU_ERR(us_recvmsg(p.b, b, &m, MSG_DONTWAIT), EAGAIN);
	SU_ERR(us_recvmsg(p.b, b, NULL, MSG_DONTWAIT), EFAULT);
	us_close(p.a, a);
	us_close(p.b, b);
	su_close(&p);
}

US_SUITE(udp_err, NULL, NULL,
	 US_TEST(test_udp_pmtudisc_option_values),
	 US_TEST(test_udp_pmtudisc_modes_on_the_wire),
	 US_TEST(test_udp_needfrag_lowers_path_mtu),
	 US_TEST(test_udp_needfrag_ignored_by_interface_mode),
	 US_TEST(test_udp_recverr_port_unreachable),
	 US_TEST(test_udp_recverr_needfrag_and_order),
	 US_TEST(test_udp_recverr_local_emsgsize),
	 US_TEST(test_udp_recverr_queue_bound_and_purge),
	 US_TEST(test_udp_connected_errors_without_recverr),
	 US_TEST(test_udp_recvmsg_scatter_and_trunc));
