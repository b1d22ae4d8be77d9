/*
 * test_epoll.c — us_epoll_create/ctl/wait and us_set_ready_callback
 * (core/epoll.c) on two threaded stacks joined by a pair wire, with UDP
 * sockets: level- and edge-triggered reporting, EPOLLONESHOT and re-arming
 * with EPOLL_CTL_MOD, EPOLLOUT, a blocked wait woken by a datagram, a
 * closed socket leaving the set, errno values as Linux's epoll gives them,
 * and the readiness callback.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>

#include "harness.h"
#include "sockutil.h"

/* Wait up to ms for n datagrams to be queued on fd (poll, no busy loop). */
static bool readable(us_stack *st, int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return us_poll(st, &p, 1, ms) == 1;
}

static int add(us_stack *st, int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	return us_epoll_ctl(st, ep, EPOLL_CTL_ADD, fd, &ev);
}

static void test_epoll_level_edge_oneshot(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int lt = su_udp(p.a, INADDR_ANY, 7101), et = su_udp(p.a, INADDR_ANY, 7102),
	    os = su_udp(p.a, INADDR_ANY, 7103);
	int tx = su_udp(p.b, INADDR_ANY, 0);
	int ep = us_epoll_create(p.a);
	CU_ASSERT_FATAL(ep >= 0);
	SU_OK(add(p.a, ep, lt, EPOLLIN, 1));
	SU_OK(add(p.a, ep, et, EPOLLIN | EPOLLET, 2));
	SU_OK(add(p.a, ep, os, EPOLLIN | EPOLLONESHOT, 3));
	struct epoll_event ev[8];
	CU_ASSERT_EQUAL(us_epoll_wait(p.a, ep, ev, 8, 0), 0);   /* nothing yet */

	for (uint16_t port = 7101; port <= 7103; port++)
		CU_ASSERT_EQUAL(su_sendto(p.b, tx, "x", 1, SU_A_IP, port), 1);
	CU_ASSERT(readable(p.a, lt, 2000) && readable(p.a, et, 2000) && readable(p.a, os, 2000));
	int n = us_epoll_wait(p.a, ep, ev, 8, 1000);
	CU_ASSERT_EQUAL(n, 3);
	uint64_t seen = 0;
	for (int i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(ev[i].events, EPOLLIN);
		seen |= 1u << ev[i].data.u64;
	}
	CU_ASSERT_EQUAL(seen, 0xe);
	/* Nothing read: level-triggered is reported again, edge and oneshot not. */
	n = us_epoll_wait(p.a, ep, ev, 8, 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(ev[0].data.u64, 1);
	/* Read the level-triggered one: no longer reported. */
	char b[8];
	CU_ASSERT_EQUAL(us_recv(p.a, lt, b, sizeof b, MSG_DONTWAIT), 1);
	CU_ASSERT_EQUAL(us_epoll_wait(p.a, ep, ev, 8, 0), 0);
	/* A new datagram is a new edge; the disarmed oneshot stays silent. */
	CU_ASSERT_EQUAL(su_sendto(p.b, tx, "y", 1, SU_A_IP, 7102), 1);
	CU_ASSERT_EQUAL(su_sendto(p.b, tx, "y", 1, SU_A_IP, 7103), 1);
	n = us_epoll_wait(p.a, ep, ev, 8, 1000);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(ev[0].data.u64, 2);
	/* EPOLL_CTL_MOD re-arms the oneshot: its data is reported again. */
	struct epoll_event m = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 33 };
	SU_OK(us_epoll_ctl(p.a, ep, EPOLL_CTL_MOD, os, &m));
	n = us_epoll_wait(p.a, ep, ev, 8, 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(ev[0].data.u64, 33);
	/* maxevents 1 with two ready: one now, the other next time. */
	struct epoll_event w = { .events = EPOLLOUT, .data.u64 = 4 };
	SU_OK(us_epoll_ctl(p.a, ep, EPOLL_CTL_MOD, lt, &w));
	int out2 = su_udp(p.a, INADDR_ANY, 7104);
	SU_OK(add(p.a, ep, out2, EPOLLOUT, 5));
	CU_ASSERT_EQUAL(us_epoll_wait(p.a, ep, ev, 1, 0), 1);
	uint64_t first = ev[0].data.u64;
	CU_ASSERT_EQUAL(us_epoll_wait(p.a, ep, ev, 1, 0), 1);
	CU_ASSERT_NOT_EQUAL(ev[0].data.u64, first);
	CU_ASSERT_EQUAL(ev[0].events, EPOLLOUT);
	us_close(p.a, ep);
	us_close(p.a, lt);
	us_close(p.a, et);
	us_close(p.a, os);
	us_close(p.a, out2);
	us_close(p.b, tx);
	su_close(&p);
}

struct waiter {
	us_stack *st;
	int ep;
	int n;
	struct epoll_event ev;
	atomic_bool done;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;
	w->n = us_epoll_wait(w->st, w->ep, &w->ev, 1, 20000);
	atomic_store(&w->done, true);
	return NULL;
}

static void test_epoll_wait_blocks_until_datagram(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int fd = su_udp(p.a, INADDR_ANY, 7201), tx = su_udp(p.b, INADDR_ANY, 0);
	int ep = us_epoll_create(p.a);
	SU_OK(add(p.a, ep, fd, EPOLLIN, 42));
	struct waiter w = { .st = p.a, .ep = ep };
	pthread_t th;
	CU_ASSERT_FATAL(pthread_create(&th, NULL, wait_main, &w) == 0);
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	nanosleep(&nap, NULL);
	CU_ASSERT(!atomic_load(&w.done));       /* nothing to report: it waits */
	uint64_t t0 = su_mono_ns();
	CU_ASSERT_EQUAL(su_sendto(p.b, tx, "wake", 4, SU_A_IP, 7201), 4);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(w.n, 1);
	CU_ASSERT_EQUAL(w.ev.data.u64, 42);
	/* Woken by the datagram, not by the 20 s timeout. */
	CU_ASSERT(su_mono_ns() - t0 < 5ULL * 1000 * 1000 * 1000);
	us_close(p.a, ep);
	us_close(p.a, fd);
	us_close(p.b, tx);
	su_close(&p);
}

static void test_epoll_errors_and_close(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int fd = su_udp(p.a, INADDR_ANY, 7301);
	int ep = us_epoll_create(p.a);
	struct epoll_event ev = { .events = EPOLLIN };
	SU_OK(us_epoll_ctl(p.a, ep, EPOLL_CTL_ADD, fd, &ev));
	SU_ERR(us_epoll_ctl(p.a, ep, EPOLL_CTL_ADD, fd, &ev), EEXIST);
	SU_ERR(us_epoll_ctl(p.a, ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);   /* itself */
	SU_ERR(us_epoll_ctl(p.a, ep, 99, fd, &ev), EINVAL);
	SU_ERR(us_epoll_ctl(p.a, ep, EPOLL_CTL_ADD, fd, NULL), EFAULT);
	SU_ERR(us_epoll_ctl(p.a, fd, EPOLL_CTL_ADD, fd, &ev), EINVAL);   /* not an epoll */
	SU_ERR(us_epoll_ctl(p.a, ep, EPOLL_CTL_ADD, 999, &ev), EBADF);
	SU_ERR(us_epoll_wait(p.a, ep, &ev, 0, 0), EINVAL);
	SU_ERR(us_epoll_wait(p.a, ep, NULL, 1, 0), EFAULT);
	struct sockaddr_in a = su_sin(0, 1);
	SU_ERR(us_bind(p.a, ep, SU_SA(a), sizeof a), ENOTSOCK);
	/* A closed socket leaves the set. */
	SU_OK(us_close(p.a, fd));
	CU_ASSERT_EQUAL(us_epoll_wait(p.a, ep, &ev, 1, 0), 0);
	int fd2 = su_udp(p.a, INADDR_ANY, 7302);       /* may reuse the number */
	SU_ERR(us_epoll_ctl(p.a, ep, EPOLL_CTL_DEL, fd2, NULL), ENOENT);
	SU_OK(us_close(p.a, ep));
	SU_ERR(us_epoll_wait(p.a, ep, &ev, 1, 0), EBADF);
	us_close(p.a, fd2);
	su_close(&p);
}

static atomic_int cb_calls;
static int cb_fd = -1;

static void ready_cb(void *arg, int fd)
{
	(void)arg;
	cb_fd = fd;
	atomic_fetch_add(&cb_calls, 1);
}

static void test_ready_callback(void)
{
	struct su_pair p;
	if (!su_open(&p, 0))
		return;
	int fd = su_udp(p.a, INADDR_ANY, 7401), tx = su_udp(p.b, INADDR_ANY, 0);
	atomic_store(&cb_calls, 0);
	SU_OK(us_set_ready_callback(p.a, fd, ready_cb, NULL));
	CU_ASSERT_EQUAL(atomic_load(&cb_calls), 1);     /* once at once */
	CU_ASSERT_EQUAL(cb_fd, fd);
	CU_ASSERT_EQUAL(su_sendto(p.b, tx, "z", 1, SU_A_IP, 7401), 1);
	CU_ASSERT(readable(p.a, fd, 2000));
	CU_ASSERT(atomic_load(&cb_calls) >= 2);         /* the datagram's arrival */
	int before = atomic_load(&cb_calls);
	SU_OK(us_set_ready_callback(p.a, fd, NULL, NULL));
	CU_ASSERT_EQUAL(su_sendto(p.b, tx, "z", 1, SU_A_IP, 7401), 1);
	char b[4];
	CU_ASSERT(readable(p.a, fd, 2000));
	CU_ASSERT_EQUAL(us_recv(p.a, fd, b, sizeof b, 0), 1);
	CU_ASSERT_EQUAL(atomic_load(&cb_calls), before);    /* removed: no more calls */
	SU_OK(us_set_ready_callback(p.a, fd, ready_cb, NULL));
	before = atomic_load(&cb_calls);
	SU_OK(us_close(p.a, fd));
	CU_ASSERT(atomic_load(&cb_calls) > before);     /* close is a change too */
	us_close(p.b, tx);
	su_close(&p);
}

US_SUITE(epoll, NULL, NULL,
	 US_TEST(test_epoll_level_edge_oneshot),
	 US_TEST(test_epoll_wait_blocks_until_datagram),
	 US_TEST(test_epoll_errors_and_close),
	 US_TEST(test_ready_callback));
