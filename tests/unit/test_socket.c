/*
 * test_socket.c — the socket API's semantics and errno for each misuse
 * (suite "socket"), on one deterministic stack whose wire the test holds.
 *
 * Every expected errno is what Linux (6.x) returns for the same call on a
 * real UDP socket: each was checked on 127.0.0.1 with a small program
 * before being written here. Where the stack knowingly differs from Linux,
 * doc/API.md says so and no test pretends otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <poll.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"
#include "sockutil.h"

static struct tu_opts peer_opts = { .static_peer = true };

/* A UDP datagram from the peer (10.0.0.2:sport) to the stack's dport. */
static void inject_udp(struct tu *t, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	static uint8_t f[US_PAIR_FRAME_MAX];
	static uint8_t u[2048];
	size_t ul = tu_udp(u, TU_PEER_IP, TU_STACK_IP, sport, dport, data, len);
	struct tu_iph h = tu_iph_peer(17);
	tu_inject(t, f, tu_ip_frame(f, &h, u, ul));
}

/* ---- descriptors ----------------------------------------------------------- */

static void check_ebadf(us_stack *st, int fd)
{
	struct sockaddr_in a = su_sin(TU_STACK_IP, 5000), b;
	socklen_t bl = sizeof b;
	int v = 1;
	socklen_t vl = sizeof v;
	char buf[8];
	SU_ERR(us_bind(st, fd, SU_SA(a), sizeof a), EBADF);
	SU_ERR(us_connect(st, fd, SU_SA(a), sizeof a), EBADF);
	SU_ERR(us_listen(st, fd, 1), EBADF);
	SU_ERR(us_accept(st, fd, NULL, NULL), EBADF);
	SU_ERR(us_send(st, fd, "x", 1, 0), EBADF);
	SU_ERR(us_sendto(st, fd, "x", 1, 0, SU_SA(a), sizeof a), EBADF);
	SU_ERR(us_recv(st, fd, buf, sizeof buf, 0), EBADF);
	SU_ERR(us_recvfrom(st, fd, buf, sizeof buf, 0, SU_SA(b), &bl), EBADF);
	SU_ERR(us_shutdown(st, fd, SHUT_RDWR), EBADF);
	SU_ERR(us_setsockopt(st, fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v), EBADF);
	SU_ERR(us_getsockopt(st, fd, SOL_SOCKET, SO_REUSEADDR, &v, &vl), EBADF);
	SU_ERR(us_getsockname(st, fd, SU_SA(b), &bl), EBADF);
	SU_ERR(us_getpeername(st, fd, SU_SA(b), &bl), EBADF);
	SU_ERR(us_fcntl(st, fd, F_GETFL, 0), EBADF);
	SU_ERR(us_close(st, fd), EBADF);
}

static void test_socket_bad_descriptor(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	check_ebadf(t.st, -1);
	check_ebadf(t.st, US_MAX_SOCKETS);
	check_ebadf(t.st, 77);                  /* never opened */
	int fd = us_socket(t.st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_EQUAL(fd, 0);
	SU_OK(us_close(t.st, fd));
	check_ebadf(t.st, fd);                  /* after close */
	tu_close(&t);
}

static void test_socket_create_errors(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	SU_ERR(us_socket(st, 12345, SOCK_DGRAM, 0), EAFNOSUPPORT);
	SU_ERR(us_socket(st, AF_INET6, SOCK_DGRAM, 0), EAFNOSUPPORT);
	SU_ERR(us_socket(st, AF_UNIX, SOCK_DGRAM, 0), EAFNOSUPPORT);
	/* Types AF_INET has no protocol for. */
	SU_ERR(us_socket(st, AF_INET, 0, 0), ESOCKTNOSUPPORT);
	SU_ERR(us_socket(st, AF_INET, SOCK_RDM, 0), ESOCKTNOSUPPORT);
	SU_ERR(us_socket(st, AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
	/* Types beyond SOCK_MAX and unknown flag bits: EINVAL. */
	SU_ERR(us_socket(st, AF_INET, 11, 0), EINVAL);
	SU_ERR(us_socket(st, AF_INET, 15, 0), EINVAL);
	SU_ERR(us_socket(st, AF_INET, 1234, 0), EINVAL);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM | 0x10, 0), EINVAL);
	SU_ERR(us_socket(st, AF_INET, -1, 0), EINVAL);
	/* A protocol the type does not carry; a negative one. */
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, 200), EPROTONOSUPPORT);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, -1), EINVAL);
	/* Nothing was allocated by the failures: the first descriptor is 0. */
	int a = us_socket(st, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	int b = us_socket(st, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_EQUAL(a, 0);
	CU_ASSERT_EQUAL(b, 1);
	int type = 0;
	socklen_t tl = sizeof type;
	SU_OK(us_getsockopt(st, b, SOL_SOCKET, SO_TYPE, &type, &tl));
	CU_ASSERT_EQUAL(type, SOCK_DGRAM);
	us_close(st, a);
	us_close(st, b);
	tu_close(&t);
}

static void test_socket_lowest_free_descriptor(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int fd[6];
	for (int i = 0; i < 6; i++) {
		fd[i] = us_socket(st, AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_EQUAL(fd[i], i);
	}
	SU_OK(us_close(st, 4));
	SU_OK(us_close(st, 1));
	SU_OK(us_close(st, 3));
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 1);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 3);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 4);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 6);
	SU_OK(us_close(st, 0));
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 0);
	for (int i = 0; i <= 6; i++)
		SU_OK(us_close(st, i));
	tu_close(&t);
}

static void test_socket_emfile(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int in_order = 0;
	for (int i = 0; i < US_MAX_SOCKETS; i++)
		in_order += us_socket(st, AF_INET, SOCK_DGRAM, 0) == i;
	CU_ASSERT_EQUAL(in_order, US_MAX_SOCKETS);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, 0), EMFILE);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, 0), EMFILE);
	/* One freed in the middle is the one handed out next. */
	SU_OK(us_close(st, 9000));
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 9000);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, 0), EMFILE);
	int closed = 0;
	for (int i = 0; i < US_MAX_SOCKETS; i++)
		closed += us_close(st, i) == 0;
	CU_ASSERT_EQUAL(closed, US_MAX_SOCKETS);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 0);
	us_close(st, 0);
	tu_close(&t);
}

/* ---- bind and addresses ------------------------------------------------------ */

static void test_socket_bind_errors(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = su_sin(TU_STACK_IP, 5000);
	SU_ERR(us_bind(st, s, SU_SA(a), sizeof a - 1), EINVAL);
	SU_ERR(us_bind(st, s, NULL, 0), EINVAL);
	struct sockaddr_in fam = a;
	fam.sin_family = AF_INET6;
	SU_ERR(us_bind(st, s, SU_SA(fam), sizeof fam), EAFNOSUPPORT);
	/* A short length is reported before a wrong family, as Linux does. */
	SU_ERR(us_bind(st, s, SU_SA(fam), 4), EINVAL);
	struct sockaddr_in far = su_sin(tu_ip(192, 0, 2, 1), 5000);
	SU_ERR(us_bind(st, s, SU_SA(far), sizeof far), EADDRNOTAVAIL);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, 5000);     /* on our subnet, not ours */
	SU_ERR(us_bind(st, s, SU_SA(peer), sizeof peer), EADDRNOTAVAIL);
	/* None of the failures bound the socket. */
	SU_OK(us_bind(st, s, SU_SA(a), sizeof a));
	SU_ERR(us_bind(st, s, SU_SA(a), sizeof a), EINVAL);
	struct sockaddr_in other = su_sin(INADDR_ANY, 5001);
	SU_ERR(us_bind(st, s, SU_SA(other), sizeof other), EINVAL);
	CU_ASSERT_EQUAL(su_port(st, s), 5000);
	us_close(st, s);
	tu_close(&t);
}

static void test_socket_bind_address_in_use(void)
{
	struct tu t;
	struct us_config cfg;
	char wire[96];
	tu_wire_name(wire, sizeof wire, __func__);
	tu_config(&cfg, wire, NULL);
	cfg.ifaces[0].addrs[1].addr.s_addr = tu_ip(10, 0, 0, 3);   /* a second address */
	cfg.ifaces[0].addrs[1].prefix = 24;
	cfg.ifaces[0].naddrs = 2;
	if (!tu_open_cfg(&t, &cfg))
		return;
	us_stack *st = t.st;
	struct sockaddr_in any = su_sin(INADDR_ANY, 5000);
	struct sockaddr_in one = su_sin(TU_STACK_IP, 5000);
	struct sockaddr_in three = su_sin(tu_ip(10, 0, 0, 3), 5000);

	int s1 = su_udp(st, INADDR_ANY, 5000);
	int s2 = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	SU_ERR(us_bind(st, s2, SU_SA(any), sizeof any), EADDRINUSE);
	SU_ERR(us_bind(st, s2, SU_SA(one), sizeof one), EADDRINUSE);
	/* The port is free again once its owner is closed. */
	us_close(st, s1);
	SU_OK(us_bind(st, s2, SU_SA(one), sizeof one));
	/* Two different specific addresses share a port; the wildcard clashes with both. */
	int s3 = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	SU_OK(us_bind(st, s3, SU_SA(three), sizeof three));
	int s4 = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	SU_ERR(us_bind(st, s4, SU_SA(any), sizeof any), EADDRINUSE);
	us_close(st, s2);
	us_close(st, s3);
	us_close(st, s4);

	/* SO_REUSEADDR lets a port be shared only if every socket on it set it. */
	int on = 1;
	int r1 = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	int r2 = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	int r3 = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	SU_OK(us_setsockopt(st, r1, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
	SU_OK(us_bind(st, r1, SU_SA(any), sizeof any));
	SU_ERR(us_bind(st, r3, SU_SA(any), sizeof any), EADDRINUSE);    /* r3 did not set it */
	SU_OK(us_setsockopt(st, r2, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
	SU_OK(us_bind(st, r2, SU_SA(any), sizeof any));
	SU_OK(us_setsockopt(st, r3, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
	SU_OK(us_bind(st, r3, SU_SA(one), sizeof one));
	CU_ASSERT_EQUAL(su_port(st, r2), 5000);
	CU_ASSERT_EQUAL(su_port(st, r3), 5000);
	us_close(st, r1);
	us_close(st, r2);
	us_close(st, r3);
	tu_close(&t);
}

static bool ephemeral(uint16_t port)
{
	return port >= 49152;   /* and <= 65535, which a uint16_t always is */
}

static void test_socket_getsockname(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	struct sockaddr_in a;
	socklen_t len;

	/* Unbound: 0.0.0.0:0, family AF_INET, full length. */
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	memset(&a, 0xee, sizeof a);
	len = sizeof a;
	SU_OK(us_getsockname(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(len, sizeof a);
	CU_ASSERT_EQUAL(a.sin_family, AF_INET);
	CU_ASSERT_EQUAL(a.sin_addr.s_addr, INADDR_ANY);
	CU_ASSERT_EQUAL(a.sin_port, 0);

	/* After bind: exactly what was bound. */
	struct sockaddr_in b = su_sin(TU_STACK_IP, 5353);
	SU_OK(us_bind(st, s, SU_SA(b), sizeof b));
	len = sizeof a;
	SU_OK(us_getsockname(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(a.sin_addr.s_addr, TU_STACK_IP);
	CU_ASSERT_EQUAL(ntohs(a.sin_port), 5353);
	/* A short buffer is filled as far as it goes; len says the real size. */
	memset(&a, 0xee, sizeof a);
	len = 4;
	SU_OK(us_getsockname(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(len, sizeof a);
	CU_ASSERT_EQUAL(a.sin_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(a.sin_port), 5353);
	CU_ASSERT_EQUAL(a.sin_addr.s_addr, 0xeeeeeeee);
	len = sizeof a;
	SU_ERR(us_getsockname(st, s, NULL, &len), EFAULT);
	us_close(st, s);

	/* bind to port 0: an ephemeral port. */
	s = su_udp(st, INADDR_ANY, 0);
	CU_ASSERT(ephemeral(su_port(st, s)));
	us_close(st, s);

	/* Autobind by sendto: wildcard address, ephemeral port. */
	s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	SU_OK(su_sendto(st, s, "x", 1, TU_PEER_IP, 9));
	len = sizeof a;
	SU_OK(us_getsockname(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(a.sin_addr.s_addr, INADDR_ANY);
	CU_ASSERT(ephemeral(ntohs(a.sin_port)));
	us_close(st, s);

	/* Autobind by connect: Linux also reports the source address the route chose. */
	s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, 9);
	SU_OK(us_connect(st, s, SU_SA(peer), sizeof peer));
	len = sizeof a;
	SU_OK(us_getsockname(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(a.sin_addr.s_addr, TU_STACK_IP);
	CU_ASSERT(ephemeral(ntohs(a.sin_port)));
	/* Already bound by connect: bind is refused. */
	SU_ERR(us_bind(st, s, SU_SA(b), sizeof b), EINVAL);
	us_close(st, s);

	/* Many autobinds: all distinct, all in 49152..65535. */
	enum { N = 100 };
	static int fds[N];
	static uint16_t ports[N];
	int in_range = 0, dups = 0;
	for (int i = 0; i < N; i++) {
		fds[i] = su_udp(st, INADDR_ANY, 0);
		ports[i] = su_port(st, fds[i]);
		in_range += ephemeral(ports[i]);
		for (int j = 0; j < i; j++)
			dups += ports[j] == ports[i];
	}
	CU_ASSERT_EQUAL(in_range, N);
	CU_ASSERT_EQUAL(dups, 0);
	for (int i = 0; i < N; i++)
		us_close(st, fds[i]);
	tu_collect(&t, NULL);
	tu_close(&t);
}

static void test_socket_getpeername(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	SU_ERR(us_getpeername(st, s, SU_SA(a), &len), ENOTCONN);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, 7777);
	SU_OK(us_connect(st, s, SU_SA(peer), sizeof peer));
	memset(&a, 0, sizeof a);
	len = sizeof a;
	SU_OK(us_getpeername(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(len, sizeof a);
	CU_ASSERT_EQUAL(a.sin_family, AF_INET);
	CU_ASSERT_EQUAL(a.sin_addr.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(ntohs(a.sin_port), 7777);
	/* Connecting again replaces the peer. */
	struct sockaddr_in peer2 = su_sin(TU_PEER_IP, 8888);
	SU_OK(us_connect(st, s, SU_SA(peer2), sizeof peer2));
	len = sizeof a;
	SU_OK(us_getpeername(st, s, SU_SA(a), &len));
	CU_ASSERT_EQUAL(ntohs(a.sin_port), 8888);
	/* AF_UNSPEC dissolves the association (a bare family is enough). */
	struct sockaddr un = { .sa_family = AF_UNSPEC };
	SU_OK(us_connect(st, s, &un, sizeof(sa_family_t)));
	len = sizeof a;
	SU_ERR(us_getpeername(st, s, SU_SA(a), &len), ENOTCONN);
	SU_ERR(us_connect(st, s, &un, 1), EINVAL);
	SU_ERR(us_connect(st, s, NULL, 0), EINVAL);
	struct sockaddr_in fam = peer;
	fam.sin_family = AF_INET6;
	SU_ERR(us_connect(st, s, SU_SA(fam), sizeof fam), EAFNOSUPPORT);
	SU_ERR(us_connect(st, s, SU_SA(peer), 4), EINVAL);
	us_close(st, s);
	tu_close(&t);
}

/* ---- sending -------------------------------------------------------------------- */

static void test_socket_sendto_errors(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	static uint8_t big[65508];
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = su_sin(TU_PEER_IP, 9);
	SU_ERR(us_send(st, s, "x", 1, 0), EDESTADDRREQ);
	SU_ERR(us_sendto(st, s, "x", 1, 0, NULL, sizeof to), EDESTADDRREQ);
	SU_ERR(us_sendto(st, s, "x", 1, 0, SU_SA(to), 0), EINVAL);
	SU_ERR(us_sendto(st, s, "x", 1, 0, SU_SA(to), sizeof to - 1), EINVAL);
	struct sockaddr_in fam = to;
	fam.sin_family = AF_INET6;
	SU_ERR(us_sendto(st, s, "x", 1, 0, SU_SA(fam), sizeof fam), EAFNOSUPPORT);
	struct sockaddr_in port0 = su_sin(TU_PEER_IP, 0);
	SU_ERR(us_sendto(st, s, "x", 1, 0, SU_SA(port0), sizeof port0), EINVAL);
	SU_ERR(us_sendto(st, s, "x", 1, MSG_OOB, SU_SA(to), sizeof to), EOPNOTSUPP);
	/* 65507 = 65535 - 20 (IP header) - 8 (UDP header) is the largest datagram. */
	SU_ERR(us_sendto(st, s, big, 65508, 0, SU_SA(to), sizeof to), EMSGSIZE);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_TX), 0);
	CU_ASSERT_EQUAL(us_sendto(st, s, big, 65507, 0, SU_SA(to), sizeof to), 65507);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_TX), 1);
	int fl = MSG_DONTWAIT | MSG_NOSIGNAL;
	CU_ASSERT_EQUAL(us_sendto(st, s, "", 0, fl, SU_SA(to), sizeof to), 0);
	struct tu_frames out = { 0 };
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(tu_count_ip(&out, 17), 46);     /* 45 fragments + the empty one */
	tu_frames_free(&out);
	us_close(st, s);
	tu_close(&t);
}

static void test_socket_broadcast_needs_so_broadcast(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	/* send(2): EACCES for a broadcast destination without SO_BROADCAST. */
	SU_ERR(su_sendto(st, s, "x", 1, INADDR_BROADCAST, 9), EACCES);
	SU_ERR(su_sendto(st, s, "x", 1, TU_BCAST_IP, 9), EACCES);
	struct sockaddr_in b = su_sin(INADDR_BROADCAST, 9);
	SU_ERR(us_connect(st, s, SU_SA(b), sizeof b), EACCES);
	struct tu_frames out = { 0 };
	CU_ASSERT_EQUAL(tu_collect(&t, &out), 0);
	int on = 1;
	SU_OK(us_setsockopt(st, s, SOL_SOCKET, SO_BROADCAST, &on, sizeof on));
	CU_ASSERT_EQUAL(su_sendto(st, s, "x", 1, INADDR_BROADCAST, 9), 1);
	CU_ASSERT_EQUAL(su_sendto(st, s, "y", 1, TU_BCAST_IP, 9), 1);
	SU_OK(us_connect(st, s, SU_SA(b), sizeof b));
	CU_ASSERT_EQUAL(us_send(st, s, "z", 1, 0), 1);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(out.n, 3);
	for (int i = 0; i < out.n; i++) {
		struct tu_ipv ip;
		CU_ASSERT(tu_parse_ip(out.f[i].data, out.f[i].len, &ip));
		CU_ASSERT(memcmp(out.f[i].data, tu_bcast_mac, 6) == 0);
		CU_ASSERT_EQUAL(ip.src, TU_STACK_IP);
		CU_ASSERT_EQUAL(ip.dst, i == 1 ? TU_BCAST_IP : INADDR_BROADCAST);
	}
	tu_frames_free(&out);
	us_close(st, s);
	tu_close(&t);
}

/* ---- options -------------------------------------------------------------------- */

static int get_int(us_stack *st, int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof v;
	if (us_getsockopt(st, fd, level, name, &v, &len) < 0)
		return -12345;
	CU_ASSERT_EQUAL(len, sizeof v);
	return v;
}

static int set_int(us_stack *st, int fd, int level, int name, int v)
{
	return us_setsockopt(st, fd, level, name, &v, sizeof v);
}

static void test_socket_options_flags_and_type(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_REUSEADDR), 0);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_BROADCAST), 0);
	SU_OK(set_int(st, s, SOL_SOCKET, SO_REUSEADDR, 5));
	SU_OK(set_int(st, s, SOL_SOCKET, SO_BROADCAST, 7));
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_REUSEADDR), 1);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_BROADCAST), 1);
	SU_OK(set_int(st, s, SOL_SOCKET, SO_REUSEADDR, 0));
	SU_OK(set_int(st, s, SOL_SOCKET, SO_BROADCAST, 0));
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_REUSEADDR), 0);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_BROADCAST), 0);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_ERROR), 0);
	/* Read-only and unknown options. */
	SU_ERR(set_int(st, s, SOL_SOCKET, SO_TYPE, 1), ENOPROTOOPT);
	SU_ERR(set_int(st, s, SOL_SOCKET, SO_ERROR, 1), ENOPROTOOPT);
	SU_ERR(set_int(st, s, SOL_SOCKET, 9999, 1), ENOPROTOOPT);
	int v;
	socklen_t len = sizeof v;
	SU_ERR(us_getsockopt(st, s, SOL_SOCKET, 9999, &v, &len), ENOPROTOOPT);
	SU_ERR(set_int(st, s, IPPROTO_IP, 9999, 1), ENOPROTOOPT);
	len = sizeof v;
	SU_ERR(us_getsockopt(st, s, IPPROTO_IP, 9999, &v, &len), ENOPROTOOPT);
	/* A level the socket does not have: set says ENOPROTOOPT, get EOPNOTSUPP (Linux). */
	SU_ERR(set_int(st, s, 9999, 1, 1), ENOPROTOOPT);
	len = sizeof v;
	SU_ERR(us_getsockopt(st, s, 9999, 1, &v, &len), EOPNOTSUPP);
	SU_ERR(set_int(st, s, IPPROTO_TCP, 1, 1), ENOPROTOOPT);
	len = sizeof v;
	SU_ERR(us_getsockopt(st, s, IPPROTO_TCP, 1, &v, &len), EOPNOTSUPP);
	/* A value shorter than an int. */
	v = 1;
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL);
	us_close(st, s);
	tu_close(&t);
}

static void test_socket_options_buffers(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	/* Linux's defaults (net.core.rmem_default / wmem_default), reported doubled. */
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_RCVBUF), 212992);
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_SNDBUF), 212992);
	/* request -> what Linux reports: doubled, at least 2304 (rcv) / 4608 (snd). */
	static const struct { int set, rcv, snd; } cases[] = {
		{ 0, 2304, 4608 },     { 1, 2304, 4608 },       { 1152, 2304, 4608 },
		{ 1153, 2306, 4608 },  { 2304, 4608, 4608 },    { 4096, 8192, 8192 },
		{ 10000, 20000, 20000 }, { 100000, 200000, 200000 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		SU_OK(set_int(st, s, SOL_SOCKET, SO_RCVBUF, cases[i].set));
		SU_OK(set_int(st, s, SOL_SOCKET, SO_SNDBUF, cases[i].set));
		CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_RCVBUF), cases[i].rcv);
		CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_SNDBUF), cases[i].snd);
	}
	/* Also after bind (the receive ring exists then). */
	struct sockaddr_in a = su_sin(INADDR_ANY, 4000);
	SU_OK(us_bind(st, s, SU_SA(a), sizeof a));
	SU_OK(set_int(st, s, SOL_SOCKET, SO_RCVBUF, 3000));
	CU_ASSERT_EQUAL(get_int(st, s, SOL_SOCKET, SO_RCVBUF), 6000);
	us_close(st, s);
	tu_close(&t);
}

static void test_socket_options_timeouts(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { 9, 9 };
	socklen_t len = sizeof tv;
	SU_OK(us_getsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
	CU_ASSERT_EQUAL(len, sizeof tv);
	CU_ASSERT(tv.tv_sec == 0 && tv.tv_usec == 0);          /* 0: wait forever */

	tv = (struct timeval){ 1, 500000 };
	SU_OK(us_setsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	tv = (struct timeval){ 2, 0 };
	SU_OK(us_setsockopt(st, s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
	tv = (struct timeval){ 0, 0 };
	len = sizeof tv;
	SU_OK(us_getsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
	CU_ASSERT(tv.tv_sec == 1 && tv.tv_usec == 500000);
	len = sizeof tv;
	SU_OK(us_getsockopt(st, s, SOL_SOCKET, SO_SNDTIMEO, &tv, &len));
	CU_ASSERT(tv.tv_sec == 2 && tv.tv_usec == 0);

	/* Out-of-range microseconds: EDOM, the old value stays. */
	tv = (struct timeval){ 0, 1000000 };
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM);
	tv = (struct timeval){ 0, -1 };
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM);
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, 8), EINVAL);
	len = sizeof tv;
	SU_OK(us_getsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
	CU_ASSERT(tv.tv_sec == 1 && tv.tv_usec == 500000);
	/* Back to "forever". */
	tv = (struct timeval){ 0, 0 };
	SU_OK(us_setsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	tv = (struct timeval){ 9, 9 };
	len = sizeof tv;
	SU_OK(us_getsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, &tv, &len));
	CU_ASSERT(tv.tv_sec == 0 && tv.tv_usec == 0);
	us_close(st, s);
	tu_close(&t);
}

/* TCP_CONGESTION: Linux's "reno" (iperf3 -C reno) selects NewReno, read back as "newreno". */
static void test_socket_congestion_reno_alias(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_STREAM, 0);
	char name[16];
	socklen_t nl = sizeof name;
	SU_OK(us_getsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, name, &nl));
	CU_ASSERT_STRING_EQUAL(name, "cubic");
	SU_OK(us_setsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, "reno", 4));
	nl = sizeof name;
	memset(name, 0, sizeof name);
	SU_OK(us_getsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, name, &nl));
	CU_ASSERT_STRING_EQUAL(name, "newreno");
	CU_ASSERT_EQUAL(nl, sizeof "newreno");
	SU_OK(us_setsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5));
	SU_OK(us_setsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, "reno", 5));   /* with its NUL */
	nl = sizeof name;
	SU_OK(us_getsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, name, &nl));
	CU_ASSERT_STRING_EQUAL(name, "newreno");
	SU_ERR(us_setsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, "renox", 5), ENOENT);
	SU_ERR(us_setsockopt(st, s, IPPROTO_TCP, TCP_CONGESTION, "ren", 3), ENOENT);
	us_close(st, s);
	tu_close(&t);
}

static void test_socket_options_ip_ttl(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_EQUAL(get_int(st, s, IPPROTO_IP, IP_TTL), 64);
	SU_OK(set_int(st, s, IPPROTO_IP, IP_TTL, 1));
	CU_ASSERT_EQUAL(get_int(st, s, IPPROTO_IP, IP_TTL), 1);
	SU_OK(set_int(st, s, IPPROTO_IP, IP_TTL, 255));
	CU_ASSERT_EQUAL(get_int(st, s, IPPROTO_IP, IP_TTL), 255);
	SU_ERR(set_int(st, s, IPPROTO_IP, IP_TTL, 0), EINVAL);
	SU_ERR(set_int(st, s, IPPROTO_IP, IP_TTL, 256), EINVAL);
	SU_ERR(set_int(st, s, IPPROTO_IP, IP_TTL, -2), EINVAL);
	CU_ASSERT_EQUAL(get_int(st, s, IPPROTO_IP, IP_TTL), 255);
	SU_OK(set_int(st, s, IPPROTO_IP, IP_TTL, -1));         /* back to the default */
	CU_ASSERT_EQUAL(get_int(st, s, IPPROTO_IP, IP_TTL), 64);

	/* The TTL is the one that goes on the wire. */
	SU_OK(set_int(st, s, IPPROTO_IP, IP_TTL, 7));
	CU_ASSERT_EQUAL(su_sendto(st, s, "a", 1, TU_PEER_IP, 9), 1);
	SU_OK(set_int(st, s, IPPROTO_IP, IP_TTL, -1));
	CU_ASSERT_EQUAL(su_sendto(st, s, "b", 1, TU_PEER_IP, 9), 1);
	struct tu_frames out = { 0 };
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 2);
	struct tu_ipv ip;
	CU_ASSERT(tu_parse_ip(out.f[0].data, out.f[0].len, &ip) && ip.ttl == 7);
	CU_ASSERT(tu_parse_ip(out.f[1].data, out.f[1].len, &ip) && ip.ttl == 64);
	tu_frames_free(&out);
	us_close(st, s);
	tu_close(&t);
}

/*
 * ICMP port unreachable (RFC 792) from the peer about the UDP datagram in
 * frame sent (as the stack sent it): IP header + the first 8 bytes quoted.
 */
static void inject_port_unreach(struct tu *t, const struct tu_frame *sent)
{
	struct tu_ipv ip;
	CU_ASSERT_FATAL(tu_parse_ip(sent->data, sent->len, &ip));
	uint8_t icmp[8 + 60 + 8] = { 3, 3 };
	size_t q = ip.hlen + 8;
	memcpy(icmp + 8, ip.hdr, q);
	tu_put16(icmp + 2, tu_csum(icmp, 8 + q));
	uint8_t f[128];
	struct tu_iph h = tu_iph_peer(1);
	tu_inject(t, f, tu_ip_frame(f, &h, icmp, 8 + q));
}

static void test_socket_so_error_reads_and_clears(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	struct tu_frames out = { 0 };

	/* An unconnected socket is not told (Linux without IP_RECVERR). */
	int u = us_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_EQUAL(su_sendto(st, u, "x", 1, TU_PEER_IP, 9), 1);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	inject_port_unreach(&t, &out.f[0]);
	CU_ASSERT_EQUAL(get_int(st, u, SOL_SOCKET, SO_ERROR), 0);
	char buf[8];
	SU_ERR(us_recv(st, u, buf, sizeof buf, 0), EAGAIN);

	/* A connected one is: SO_ERROR reports it once, and poll says POLLERR. */
	int c = us_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, 9);
	SU_OK(us_connect(st, c, SU_SA(peer), sizeof peer));
	CU_ASSERT_EQUAL(us_send(st, c, "x", 1, 0), 1);
	tu_frames_clear(&out);
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	inject_port_unreach(&t, &out.f[0]);
	struct pollfd p = { .fd = c, .events = POLLIN | POLLOUT };
	CU_ASSERT_EQUAL(us_poll(st, &p, 1, 0), 1);
	CU_ASSERT_EQUAL(p.revents, POLLOUT | POLLERR);
	CU_ASSERT_EQUAL(get_int(st, c, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
	CU_ASSERT_EQUAL(get_int(st, c, SOL_SOCKET, SO_ERROR), 0);
	CU_ASSERT_EQUAL(us_poll(st, &p, 1, 0), 1);
	CU_ASSERT_EQUAL(p.revents, POLLOUT);
	/* Read and cleared: the next calls do not fail. */
	CU_ASSERT_EQUAL(us_send(st, c, "y", 1, 0), 1);
	SU_ERR(us_recv(st, c, buf, sizeof buf, 0), EAGAIN);
	tu_frames_free(&out);
	us_close(st, u);
	us_close(st, c);
	tu_close(&t);
}

/* ---- shutdown, fcntl, non-blocking --------------------------------------------------- */

static void test_socket_shutdown(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	SU_ERR(us_shutdown(st, s, 7), EINVAL);
	SU_ERR(us_shutdown(st, s, SHUT_RD), ENOTCONN);
	SU_ERR(us_shutdown(st, s, SHUT_RDWR), ENOTCONN);
	us_close(st, s);

	s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in peer = su_sin(TU_PEER_IP, 9);
	SU_OK(us_connect(st, s, SU_SA(peer), sizeof peer));
	SU_OK(us_shutdown(st, s, SHUT_RD));
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(st, s, buf, sizeof buf, 0), 0);    /* end of file, no wait */
	struct pollfd p = { .fd = s, .events = POLLIN };
	CU_ASSERT_EQUAL(us_poll(st, &p, 1, 0), 1);
	CU_ASSERT_EQUAL(p.revents, POLLIN);
	CU_ASSERT_EQUAL(us_send(st, s, "x", 1, 0), 1);             /* writing still works */
	SU_OK(us_shutdown(st, s, SHUT_WR));
	SU_ERR(us_send(st, s, "x", 1, MSG_NOSIGNAL), EPIPE);
	p.events = POLLIN;
	CU_ASSERT_EQUAL(us_poll(st, &p, 1, 0), 1);
	CU_ASSERT(p.revents & POLLHUP);
	tu_collect(&t, NULL);
	us_close(st, s);
	tu_close(&t);
}

static void test_socket_fcntl_nonblock(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_EQUAL(us_fcntl(st, s, F_GETFL, 0), O_RDWR);
	SU_OK(us_fcntl(st, s, F_SETFL, O_NONBLOCK));
	CU_ASSERT_EQUAL(us_fcntl(st, s, F_GETFL, 0), O_RDWR | O_NONBLOCK);
	SU_OK(us_fcntl(st, s, F_SETFL, 0));
	CU_ASSERT_EQUAL(us_fcntl(st, s, F_GETFL, 0), O_RDWR);
	SU_ERR(us_fcntl(st, s, 9999, 0), EINVAL);
	int n = us_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_EQUAL(us_fcntl(st, n, F_GETFL, 0), O_RDWR | O_NONBLOCK);
	us_close(st, s);
	us_close(st, n);
	tu_close(&t);
}

static void test_socket_recv_empty(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	char buf[16];
	int n = us_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	SU_ERR(us_recv(st, n, buf, sizeof buf, 0), EAGAIN);    /* unbound */
	struct sockaddr_in a = su_sin(INADDR_ANY, 4000);
	SU_OK(us_bind(st, n, SU_SA(a), sizeof a));
	SU_ERR(us_recv(st, n, buf, sizeof buf, 0), EAGAIN);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	SU_ERR(us_recvfrom(st, n, buf, sizeof buf, 0, SU_SA(from), &fl), EAGAIN);
	/* A blocking socket with MSG_DONTWAIT. */
	int b = su_udp(st, INADDR_ANY, 4001);
	SU_ERR(us_recv(st, b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* A deterministic stack never blocks: a blocking recv says EAGAIN too. */
	SU_ERR(us_recv(st, b, buf, sizeof buf, 0), EAGAIN);
	/* Flags the stack does not take. */
	SU_ERR(us_recv(st, b, buf, sizeof buf, MSG_OOB), EOPNOTSUPP);
	SU_ERR(us_recv(st, b, buf, sizeof buf, MSG_WAITALL), EOPNOTSUPP);
	/* Data then: recvfrom reports the sender. */
	inject_udp(&t, 1234, 4001, "hello", 5);
	memset(&from, 0, sizeof from);
	fl = sizeof from;
	CU_ASSERT_EQUAL(us_recvfrom(st, b, buf, sizeof buf, 0, SU_SA(from), &fl), 5);
	CU_ASSERT(memcmp(buf, "hello", 5) == 0);
	CU_ASSERT_EQUAL(fl, sizeof from);
	CU_ASSERT_EQUAL(from.sin_family, AF_INET);
	CU_ASSERT_EQUAL(from.sin_addr.s_addr, TU_PEER_IP);
	CU_ASSERT_EQUAL(ntohs(from.sin_port), 1234);
	SU_ERR(us_recv(st, b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* A listening or accepting UDP socket makes no sense. */
	SU_ERR(us_listen(st, b, 5), EOPNOTSUPP);
	SU_ERR(us_accept(st, b, NULL, NULL), EOPNOTSUPP);
	us_close(st, n);
	us_close(st, b);
	tu_close(&t);
}

/* ---- poll -------------------------------------------------------------------- */

static void test_socket_poll_readiness(void)
{
	struct tu t;
	if (!tu_open(&t, NULL))
		return;
	us_stack *st = t.st;
	int s = su_udp(st, INADDR_ANY, 4000);
	int fresh = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	int gone = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	us_close(st, gone);

	/* A fresh UDP socket is writable, not readable. */
	struct pollfd p[5] = {
		{ .fd = s, .events = POLLIN | POLLOUT },
		{ .fd = fresh, .events = POLLIN | POLLOUT },
		{ .fd = gone, .events = POLLIN },
		{ .fd = 9999, .events = 0 },
		{ .fd = -1, .events = POLLIN },
	};
	CU_ASSERT_EQUAL(us_poll(st, p, 5, 0), 4);
	CU_ASSERT_EQUAL(p[0].revents, POLLOUT);
	CU_ASSERT_EQUAL(p[1].revents, POLLOUT);
	CU_ASSERT_EQUAL(p[2].revents, POLLNVAL);        /* closed descriptor */
	CU_ASSERT_EQUAL(p[3].revents, POLLNVAL);        /* never opened; even with events 0 */
	CU_ASSERT_EQUAL(p[4].revents, 0);               /* negative fd: ignored */

	/* Timeout 0 with nothing ready returns 0 at once. */
	struct pollfd in = { .fd = s, .events = POLLIN };
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, 0), 0);
	CU_ASSERT_EQUAL(in.revents, 0);
	/* A deterministic stack does not wait, even for -1. */
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, -1), 0);
	CU_ASSERT_EQUAL(us_poll(st, NULL, 0, 0), 0);

	/* A datagram makes it readable until it is read. */
	inject_udp(&t, 1234, 4000, "abc", 3);
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, 0), 1);
	CU_ASSERT_EQUAL(in.revents, POLLIN);
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, 0), 1);     /* level-triggered */
	char buf[8];
	CU_ASSERT_EQUAL(us_recv(st, s, buf, sizeof buf, 0), 3);
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, 0), 0);
	/* A zero-length datagram is still a datagram. */
	inject_udp(&t, 1234, 4000, "", 0);
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, 0), 1);
	CU_ASSERT_EQUAL(us_recv(st, s, buf, sizeof buf, 0), 0);
	CU_ASSERT_EQUAL(us_poll(st, &in, 1, 0), 0);

	SU_ERR(us_poll(st, NULL, 1, 0), EFAULT);
	SU_ERR(us_poll(st, p, US_MAX_SOCKETS + 1, 0), EINVAL);
	us_close(st, s);
	us_close(st, fresh);
	tu_close(&t);
}

/* ---- NULL and impossible buffers (issue 8 item 9) ----------------------------- */

/*
 * A NULL buffer with bytes to copy is EFAULT, as Linux (checked on
 * 127.0.0.1); NULL with length 0 is allowed; a length above SSIZE_MAX is
 * EINVAL. ustack checks before doing anything, so a failed call sends
 * nothing and consumes nothing (Linux consumes the datagram it could not
 * copy: doc/API.md, "Differences from Linux").
 */
static void test_socket_null_buffers_udp(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = su_udp(st, TU_STACK_IP, 4000);
	struct sockaddr_in to = su_sin(TU_PEER_IP, 9);
	SU_ERR(us_sendto(st, s, NULL, 100, 0, SU_SA(to), sizeof to), EFAULT);
	SU_ERR(us_send(st, s, NULL, 1000, 0), EFAULT);
	SU_ERR(us_sendto(st, s, "x", (size_t)SSIZE_MAX + 1, 0, SU_SA(to), sizeof to), EINVAL);
	SU_ERR(us_sendto(st, s, "x", SIZE_MAX, 0, SU_SA(to), sizeof to), EINVAL);
	CU_ASSERT_EQUAL(TU_STAT(&t, UDP_TX), 0);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	/* NULL with length 0 is a zero-length datagram. */
	CU_ASSERT_EQUAL(us_sendto(st, s, NULL, 0, 0, SU_SA(to), sizeof to), 0);
	struct tu_frames out = { 0 };
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(tu_count_ip(&out, 17), 1);
	tu_frames_free(&out);

	char buf[8];
	inject_udp(&t, 1234, 4000, "abc", 3);
	SU_ERR(us_recv(st, s, NULL, 100, 0), EFAULT);
	SU_ERR(us_recv(st, s, buf, (size_t)SSIZE_MAX + 1, 0), EINVAL);
	struct sockaddr_in from;
	socklen_t fl = (socklen_t)-1;
	SU_ERR(us_recvfrom(st, s, buf, sizeof buf, 0, SU_SA(from), NULL), EFAULT);
	SU_ERR(us_recvfrom(st, s, buf, sizeof buf, 0, SU_SA(from), &fl), EINVAL);
	/* Nothing was consumed by the failed calls. */
	CU_ASSERT_EQUAL(us_recv(st, s, buf, sizeof buf, MSG_PEEK), 3);
	/* NULL with length 0 takes the datagram; MSG_TRUNC still says its length. */
	CU_ASSERT_EQUAL(us_recv(st, s, NULL, 0, MSG_TRUNC), 3);
	SU_ERR(us_recv(st, s, buf, sizeof buf, 0), EAGAIN);
	inject_udp(&t, 1234, 4000, "xy", 2);
	CU_ASSERT_EQUAL(us_recv(st, s, NULL, 0, 0), 0);
	SU_ERR(us_recv(st, s, buf, sizeof buf, 0), EAGAIN);
	us_close(st, s);
	tu_close(&t);
}

/* Addresses and option values: NULL is EFAULT, a short or negative length EINVAL. */
static void test_socket_null_addresses_and_options(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	int s = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = su_sin(TU_STACK_IP, 4001);
	SU_ERR(us_bind(st, s, NULL, sizeof a), EFAULT);
	SU_ERR(us_bind(st, s, NULL, 0), EINVAL);
	SU_ERR(us_bind(st, s, SU_SA(a), 200), EINVAL);           /* > sizeof(sockaddr_storage) */
	SU_ERR(us_bind(st, s, SU_SA(a), (socklen_t)-1), EINVAL);
	SU_ERR(us_connect(st, s, NULL, sizeof a), EFAULT);
	SU_ERR(us_sendto(st, s, "x", 1, 0, SU_SA(a), 200), EINVAL);

	int v = 1;
	socklen_t vl = sizeof v;
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, NULL, sizeof v), EFAULT);
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, NULL, 2), EINVAL);
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL);
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, &v, (socklen_t)-1), EINVAL);
	SU_ERR(us_setsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, NULL, sizeof(struct timeval)), EFAULT);
	SU_ERR(us_setsockopt(st, s, IPPROTO_IP, IP_TTL, NULL, sizeof v), EFAULT);
	SU_ERR(us_getsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, NULL, &vl), EFAULT);
	SU_ERR(us_getsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, &v, NULL), EFAULT);
	SU_ERR(us_getsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, NULL, &vl), EINVAL);  /* short first */
	vl = sizeof(struct timeval);
	SU_ERR(us_getsockopt(st, s, SOL_SOCKET, SO_RCVTIMEO, NULL, &vl), EFAULT);
	vl = (socklen_t)-1;
	SU_ERR(us_getsockopt(st, s, SOL_SOCKET, SO_REUSEADDR, &v, &vl), EINVAL);

	struct sockaddr_in n;
	socklen_t nl = sizeof n;
	SU_ERR(us_getsockname(st, s, NULL, &nl), EFAULT);
	SU_ERR(us_getsockname(st, s, SU_SA(n), NULL), EFAULT);
	nl = (socklen_t)-1;
	SU_ERR(us_getsockname(st, s, SU_SA(n), &nl), EINVAL);
	nl = 0;         /* Linux: nothing to copy is fine, and the length comes back */
	CU_ASSERT_EQUAL(us_getsockname(st, s, NULL, &nl), 0);
	CU_ASSERT_EQUAL(nl, sizeof(struct sockaddr_in));

	/* TCP's own options. */
	int c = us_socket(st, AF_INET, SOCK_STREAM, 0);
	struct linger lg = { 1, 0 };
	SU_ERR(us_setsockopt(st, c, SOL_SOCKET, SO_LINGER, NULL, sizeof lg), EFAULT);
	SU_ERR(us_setsockopt(st, c, SOL_SOCKET, SO_LINGER, &lg, 4), EINVAL);
	SU_ERR(us_setsockopt(st, c, IPPROTO_TCP, TCP_CONGESTION, NULL, 7), EFAULT);
	SU_ERR(us_setsockopt(st, c, IPPROTO_TCP, TCP_CONGESTION, "newreno", 0), EINVAL);
	SU_ERR(us_setsockopt(st, c, IPPROTO_TCP, TCP_NODELAY, NULL, sizeof v), EFAULT);
	vl = 16;
	SU_ERR(us_getsockopt(st, c, IPPROTO_TCP, TCP_CONGESTION, NULL, &vl), EFAULT);
	vl = sizeof lg;
	SU_ERR(us_getsockopt(st, c, SOL_SOCKET, SO_LINGER, NULL, &vl), EFAULT);
	SU_ERR(us_getsockopt(st, c, IPPROTO_TCP, TCP_NODELAY, &v, NULL), EFAULT);
	us_close(st, c);
	us_close(st, s);
	tu_close(&t);
}

/* The ping endpoints: a NULL payload with a length, a NULL reply record. */
static void test_socket_null_ping(void)
{
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	us_stack *st = t.st;
	uint16_t id;
	int h = us_ping_open(st, &id);
	CU_ASSERT_FATAL(h >= 0);
	struct in_addr dst = { TU_PEER_IP };
	SU_ERR(us_ping_send(st, h, dst, 1, 0, NULL, 100), EFAULT);
	CU_ASSERT_EQUAL(tu_collect(&t, NULL), 0);
	CU_ASSERT_EQUAL(us_ping_send(st, h, dst, 2, 0, NULL, 0), 0);
	struct tu_frames out = { 0 };
	tu_collect(&t, &out);
	CU_ASSERT_EQUAL(tu_count_ip(&out, 1), 1);
	tu_frames_free(&out);
	SU_ERR(us_ping_recv(st, h, NULL, NULL, 0, 0), EFAULT);
	SU_ERR(us_ping_source(st, h, dst, NULL), EFAULT);
	us_ping_close(st, h);
	tu_close(&t);
}

/* A (non-blocking) connects to B's listener on port 7000: returns A's descriptor. */
static int tcp_pair_connect(struct su_pair *p, int *lfd)
{
	int l = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in la = su_sin(SU_B_IP, 7000);
	SU_OK(us_bind(p->b, l, SU_SA(la), sizeof la));
	SU_OK(us_listen(p->b, l, 4));
	int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	SU_ERR(us_connect(p->a, c, SU_SA(la), sizeof la), EINPROGRESS);
	su_run(p, 50 * US_NS_PER_MS);
	*lfd = l;
	return c;
}

/* The stack's own calls that take a pointer. */
static void test_socket_null_stack_calls(void)
{
	char err[128] = "";
	errno = 0;
	CU_ASSERT_PTR_NULL(us_stack_new(NULL, US_STACK_DETERMINISTIC, err, sizeof err));
	CU_ASSERT_EQUAL(errno, EFAULT);
	CU_ASSERT(err[0] != '\0');
	struct tu t;
	if (!tu_open(&t, &peer_opts))
		return;
	SU_ERR(us_stack_input(t.st, 0, NULL, 60), EFAULT);
	SU_ERR(us_stack_iface_mac(t.st, 0, NULL), EFAULT);
	tu_close(&t);
}

/* TCP: us_send(NULL, 1000) used to crash in the ring copy, us_recv(NULL, 100) too. */
static void test_socket_null_buffers_tcp(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int l;
	int c = tcp_pair_connect(&p, &l);
	struct sockaddr_in peer;
	SU_ERR(us_accept(p.b, l, SU_SA(peer), NULL), EFAULT);
	socklen_t pl = sizeof peer;
	int a = us_accept(p.b, l, SU_SA(peer), &pl);    /* still queued after the EFAULT */
	CU_ASSERT_FATAL(a >= 0);

	SU_ERR(us_send(p.a, c, NULL, 1000, 0), EFAULT);
	SU_ERR(us_send(p.a, c, "x", (size_t)SSIZE_MAX + 1, 0), EINVAL);
	CU_ASSERT_EQUAL(us_send(p.a, c, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL(us_send(p.a, c, "hello", 5, 0), 5);
	su_run(&p, 50 * US_NS_PER_MS);
	char buf[16];
	SU_ERR(us_recv(p.b, a, NULL, 100, 0), EFAULT);
	SU_ERR(us_recv(p.b, a, buf, (size_t)SSIZE_MAX + 1, 0), EINVAL);
	CU_ASSERT_EQUAL(us_recv(p.b, a, NULL, 0, 0), 0);
	/* The five bytes are all still there, and only they. */
	CU_ASSERT_EQUAL(us_recv(p.b, a, buf, sizeof buf, 0), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
	us_close(p.a, c);
	us_close(p.b, a);
	us_close(p.b, l);
	su_run(&p, 100 * US_NS_PER_MS);
	su_close(&p);
}

/* ---- after us_stack_stop (issue 8 item 12) ---------------------------------- */

/*
 * Once a stack is stopped every call fails with ESHUTDOWN and does
 * nothing (TCP us_send used to return 1, UDP us_connect and us_sendto to
 * succeed); only us_close and us_ping_close still work, to clean up.
 */
static void test_socket_every_call_after_stop(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	us_stack *st = p.a;
	int l;
	int c = tcp_pair_connect(&p, &l);
	int u = su_udp(st, INADDR_ANY, 6000);
	uint16_t id;
	int h = us_ping_open(st, &id);
	CU_ASSERT_FATAL(h >= 0);
	uint64_t tcp_out = us_stack_stat(st, US_STAT_TCP_TX_SEGS);
	us_stack_stop(st);

	struct sockaddr_in b = su_sin(SU_B_IP, 9), n;
	socklen_t nl = sizeof n;
	int v = 1;
	socklen_t vl = sizeof v;
	char buf[8];
	SU_ERR(us_send(st, c, "x", 1, 0), ESHUTDOWN);
	SU_ERR(us_recv(st, c, buf, sizeof buf, MSG_DONTWAIT), ESHUTDOWN);
	SU_ERR(us_shutdown(st, c, SHUT_WR), ESHUTDOWN);
	SU_ERR(us_connect(st, u, SU_SA(b), sizeof b), ESHUTDOWN);
	SU_ERR(us_sendto(st, u, "x", 1, 0, SU_SA(b), sizeof b), ESHUTDOWN);
	SU_ERR(us_recvfrom(st, u, buf, sizeof buf, 0, SU_SA(n), &nl), ESHUTDOWN);
	SU_ERR(us_socket(st, AF_INET, SOCK_STREAM, 0), ESHUTDOWN);
	SU_ERR(us_bind(st, u, SU_SA(b), sizeof b), ESHUTDOWN);
	SU_ERR(us_listen(st, c, 1), ESHUTDOWN);
	SU_ERR(us_accept(st, c, NULL, NULL), ESHUTDOWN);
	SU_ERR(us_setsockopt(st, u, SOL_SOCKET, SO_BROADCAST, &v, sizeof v), ESHUTDOWN);
	SU_ERR(us_getsockopt(st, u, SOL_SOCKET, SO_BROADCAST, &v, &vl), ESHUTDOWN);
	SU_ERR(us_getsockname(st, u, SU_SA(n), &nl), ESHUTDOWN);
	SU_ERR(us_getpeername(st, c, SU_SA(n), &nl), ESHUTDOWN);
	SU_ERR(us_fcntl(st, u, F_GETFL, 0), ESHUTDOWN);
	struct pollfd pf = { .fd = u, .events = POLLOUT };
	SU_ERR(us_poll(st, &pf, 1, 0), ESHUTDOWN);
	struct in_addr dst = { SU_B_IP };
	SU_ERR(us_ping_open(st, &id), ESHUTDOWN);
	struct in_addr any = { 0 }, src;
	SU_ERR(us_ping_bind(st, h, -1, any), ESHUTDOWN);
	SU_ERR(us_ping_source(st, h, dst, &src), ESHUTDOWN);
	SU_ERR(us_ping_send(st, h, dst, 1, 0, "p", 1), ESHUTDOWN);
	struct us_echo_reply rep;
	SU_ERR(us_ping_recv(st, h, &rep, NULL, 0, 0), ESHUTDOWN);
	struct addrinfo *res = NULL;
	errno = 0;
	CU_ASSERT_EQUAL(us_getaddrinfo(st, "10.0.0.2", "80", NULL, &res), EAI_SYSTEM);
	CU_ASSERT_EQUAL(errno, ESHUTDOWN);
	CU_ASSERT_PTR_NULL(res);
	SU_ERR(us_stack_up(st), ESHUTDOWN);
	uint8_t frame[64] = { 0 };
	SU_ERR(us_stack_input(st, 0, frame, sizeof frame), ESHUTDOWN);
	/* Nothing went out. */
	CU_ASSERT_EQUAL(us_stack_stat(st, US_STAT_UDP_TX), 0);
	CU_ASSERT_EQUAL(us_stack_stat(st, US_STAT_ICMP_TX), 0);
	CU_ASSERT_EQUAL(us_stack_stat(st, US_STAT_TCP_TX_SEGS), tcp_out);
	/* Cleaning up still works. */
	SU_OK(us_close(st, u));
	us_ping_close(st, h);
	SU_ERR(us_close(st, u), EBADF);
	us_close(st, c);
	us_close(p.b, l);
	su_close(&p);
}

/*
 * stack.ip_local_port_range [6000, 6003] (4 ports): UDP bind(port 0) and
 * TCP bind(port 0) each get 4 distinct ports from it, the fifth fails
 * with EADDRINUSE (as Linux when its range is used up); outside the range
 * nothing is handed out.
 */
static void test_socket_port_range(void)
{
	struct us_config cfg;
	tu_config(&cfg, __func__, &peer_opts);
	cfg.port_lo = 6000;
	cfg.port_hi = 6003;
	struct tu t;
	if (!tu_open_cfg(&t, &cfg))
		return;
	us_stack *st = t.st;
	static const int types[2] = { SOCK_DGRAM, SOCK_STREAM };
	for (int k = 0; k < 2; k++) {
		int fds[5];
		unsigned seen = 0;
		int in_range = 0;
		for (int i = 0; i < 4; i++) {
			fds[i] = us_socket(st, AF_INET, types[k], 0);
			struct sockaddr_in a = su_sin(INADDR_ANY, 0);
			SU_OK(us_bind(st, fds[i], SU_SA(a), sizeof a));
			uint16_t port = su_port(st, fds[i]);
			if (port >= 6000 && port <= 6003) {
				in_range++;
				seen |= 1u << (port - 6000);
			}
		}
		CU_ASSERT_EQUAL(in_range, 4);
		CU_ASSERT_EQUAL(seen, 0xfu);
		fds[4] = us_socket(st, AF_INET, types[k], 0);
		struct sockaddr_in a = su_sin(INADDR_ANY, 0);
		SU_ERR(us_bind(st, fds[4], SU_SA(a), sizeof a), EADDRINUSE);
		for (int i = 0; i < 5; i++)
			us_close(st, fds[i]);
	}
	tu_collect(&t, NULL);
	tu_close(&t);
}

US_SUITE(socket, NULL, NULL,
	 US_TEST(test_socket_bad_descriptor),
	 US_TEST(test_socket_create_errors),
	 US_TEST(test_socket_lowest_free_descriptor),
	 US_TEST(test_socket_emfile),
	 US_TEST(test_socket_bind_errors),
	 US_TEST(test_socket_bind_address_in_use),
	 US_TEST(test_socket_getsockname),
	 US_TEST(test_socket_port_range),
	 US_TEST(test_socket_getpeername),
	 US_TEST(test_socket_sendto_errors),
	 US_TEST(test_socket_broadcast_needs_so_broadcast),
	 US_TEST(test_socket_options_flags_and_type),
	 US_TEST(test_socket_options_buffers),
	 US_TEST(test_socket_options_timeouts),
	 US_TEST(test_socket_options_ip_ttl),
	 US_TEST(test_socket_congestion_reno_alias),
	 US_TEST(test_socket_so_error_reads_and_clears),
	 US_TEST(test_socket_shutdown),
	 US_TEST(test_socket_fcntl_nonblock),
	 US_TEST(test_socket_recv_empty),
	 US_TEST(test_socket_poll_readiness),
	 US_TEST(test_socket_null_buffers_udp),
	 US_TEST(test_socket_null_addresses_and_options),
	 US_TEST(test_socket_null_ping),
	 US_TEST(test_socket_null_stack_calls),
	 US_TEST(test_socket_null_buffers_tcp),
	 US_TEST(test_socket_every_call_after_stop));
