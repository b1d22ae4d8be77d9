/*
 * sockutil.c — two stacks on one pair wire, socket shorthands, and waits
 * on conditions for the threaded tests (see sockutil.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "sockutil.h"

#define STEP_NS (1000ULL * 1000)        /* lockstep granularity of su_run() */

static us_stack *open_one(const char *wire, bool is_b, unsigned flags)
{
	struct us_config cfg;
	char err[256] = "";
	tu_config(&cfg, wire, NULL);
	if (is_b) {
		memcpy(cfg.ifaces[0].mac, tu_peer_mac, 6);
		cfg.ifaces[0].addrs[0].addr.s_addr = SU_B_IP;
		cfg.seed = 2;
	}
	us_stack *st = us_stack_new(&cfg, flags, err, sizeof err);
	if (!st)
		fprintf(stderr, "su_open: %s\n", err);
	return st;
}

bool su_open_tag(struct su_pair *p, unsigned flags, const char *tag)
{
	memset(p, 0, sizeof *p);
	tu_wire_name(p->wire, sizeof p->wire, tag);
	p->threaded = !(flags & US_STACK_DETERMINISTIC);
	p->a = open_one(p->wire, false, flags);
	p->b = p->a ? open_one(p->wire, true, flags) : NULL;
	if (!p->a || !p->b) {
		CU_FAIL("us_stack_new failed");
		us_stack_free(p->a);
		p->a = NULL;
		return false;
	}
	int ra = p->threaded ? us_stack_start(p->a) : us_stack_up(p->a);
	int rb = p->threaded ? us_stack_start(p->b) : us_stack_up(p->b);
	if (ra < 0 || rb < 0) {
		CU_FAIL("starting the stacks failed");
		su_close(p);
		return false;
	}
	return true;
}

void su_run(struct su_pair *p, uint64_t ns)
{
	while (ns > 0) {
		uint64_t step = ns < STEP_NS ? ns : STEP_NS;
		us_stack_advance(p->a, step);
		us_stack_advance(p->b, step);
		ns -= step;
	}
}

static void check_pool(us_stack *st, const char *which)
{
	size_t avail = us_pool_available(&st->pool);
	if (avail != st->pool.total)
		fprintf(stderr, "su_close: stack %s leaked %zu buffers\n", which,
			st->pool.total - avail);
	CU_ASSERT_EQUAL(avail, st->pool.total);
}

void su_close(struct su_pair *p)
{
	if (p->a)
		us_stack_stop(p->a);
	if (p->b)
		us_stack_stop(p->b);
	if (p->a)
		check_pool(p->a, "A");
	if (p->b)
		check_pool(p->b, "B");
	us_stack_free(p->a);
	us_stack_free(p->b);
	p->a = p->b = NULL;
}

struct sockaddr_in su_sin(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = ip;
	a.sin_port = htons(port);
	return a;
}

int su_udp(us_stack *st, uint32_t ip, uint16_t port)
{
	int fd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	struct sockaddr_in a = su_sin(ip, port);
	if (us_bind(st, fd, SU_SA(a), sizeof a) < 0) {
		fprintf(stderr, "su_udp: bind port %u: %s\n", port, strerror(errno));
		CU_FAIL("bind failed");
		us_close(st, fd);
		return -1;
	}
	return fd;
}

uint16_t su_port(us_stack *st, int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	if (us_getsockname(st, fd, SU_SA(a), &len) < 0)
		return 0;
	return ntohs(a.sin_port);
}

ssize_t su_sendto(us_stack *st, int fd, const void *buf, size_t len, uint32_t ip, uint16_t port)
{
	struct sockaddr_in to = su_sin(ip, port);
	return us_sendto(st, fd, buf, len, 0, SU_SA(to), sizeof to);
}

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "?";
}

void su_check_err(long r, int got, int want, const char *expr, const char *file, int line)
{
	bool ok = r == -1 && got == want;
	if (!ok)
		fprintf(stderr, "\n%s:%d: %s returned %ld errno %s; expected -1 %s\n", file, line,
			expr, r, ename(got), ename(want));
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, expr, file, "", CU_FALSE);
}

void su_check_ok(long r, int got, const char *expr, const char *file, int line)
{
	bool ok = r >= 0;
	if (!ok)
		fprintf(stderr, "\n%s:%d: %s failed: errno %s\n", file, line, expr, ename(got));
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, expr, file, "", CU_FALSE);
}

uint64_t su_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool su_has_waiter(us_stack *st, int fd)
{
	int e = errno;
	struct us_sock *s = us_sock_get(st, fd);
	errno = e;
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	bool w = s->waiters > 0;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return w;
}

bool su_has_poller(us_stack *st, int fd)
{
	int e = errno;
	struct us_sock *s = us_sock_get(st, fd);
	errno = e;
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	bool w = s->polls.next != &s->polls;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return w;
}

bool su_wait_for(bool (*pred)(void *), void *arg, int timeout_ms)
{
	uint64_t end = su_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
	for (;;) {
		if (pred(arg))
			return true;
		if (su_mono_ns() >= end)
			return false;
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
}

struct sock_ref {
	us_stack *st;
	int fd;
};

static bool pred_waiter(void *arg)
{
	struct sock_ref *r = arg;
	return su_has_waiter(r->st, r->fd);
}

static bool pred_poller(void *arg)
{
	struct sock_ref *r = arg;
	return su_has_poller(r->st, r->fd);
}

bool su_wait_waiter(us_stack *st, int fd, int timeout_ms)
{
	struct sock_ref r = { st, fd };
	return su_wait_for(pred_waiter, &r, timeout_ms);
}

bool su_wait_poller(us_stack *st, int fd, int timeout_ms)
{
	struct sock_ref r = { st, fd };
	return su_wait_for(pred_poller, &r, timeout_ms);
}
