/*
 * test_stop_races.c — us_stack_stop racing application threads that are
 * inside socket calls (suite "stop_races").
 *
 * Two threaded stacks on a pair wire (sockutil.h). Every wait is bounded:
 * a stop that does not return within STOP_BOUND_MS is a deadlock, reported
 * as a failure (the stuck threads are then left behind, with their stack,
 * rather than hanging the run).
 *
 * Run under ThreadSanitizer too: a lock-order inversion is reported there
 * even on the tries that happen not to hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "sockutil.h"

#define STOP_BOUND_MS 10000     /* us_stack_stop must be back within this */
#define TRY_BUDGET_NS (20ULL * 1000000000ULL)

/* ---- accept vs stop ----------------------------------------------------------- */

enum {
	ACC_THREADS = 4,
	ACC_FILL = 8000,         /* other descriptors, so stop walks a long table */
	ACC_CONNS = 400,        /* children queued before the accepting starts */
	ACC_TRIES = 16,
	ACC_PORT = 8000,
};

struct acc_shared {
	us_stack *st;
	int lfd;
	atomic_int accepted;
};

/* Accept (non-blocking, spinning) until the queue is empty after a stop. */
static void *accept_main(void *p)
{
	struct acc_shared *a = p;
	/*
	 * Start when the stop is about to wake the sockets (it stops ICMP just
	 * before): its walk of the descriptor table then overlaps the accepting.
	 * Starting earlier, the queue is empty before the walk begins.
	 */
	for (bool stopping = false; !stopping;) {
		pthread_mutex_lock(&a->st->icmp.lock);
		stopping = a->st->icmp.stopping;
		pthread_mutex_unlock(&a->st->icmp.lock);
	}
	uint64_t end = su_mono_ns() + 10ULL * 1000000000ULL;
	while (su_mono_ns() < end) {
		int fd = us_accept(a->st, a->lfd, NULL, NULL);
		if (fd >= 0) {
			atomic_fetch_add(&a->accepted, 1);
			continue;
		}
		if (errno != EAGAIN)
			break;
  /* ESHUTDOWN once the stack stopped and the queue is empty */
	}
	return NULL;
}

struct stopper {
	us_stack *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void *stop_main(void *p)
{
	struct stopper *s = p;
	us_stack_stop(s->st);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Queued children on the listener (under its lock, as the stack reads it). */
static int acc_queued(us_stack *st, int lfd)
{
	struct us_sock *s = us_sock_get(st, lfd);
	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	int n = s->tcb->acc_count;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return n;
}

/*
 * us_stack_stop while threads accept. The accept path installs the child
 * in the descriptor table, and stop walks the table locking every socket:
 * both must follow the one order of doc/LOCKING.md, or the listener's lock
 * and the table lock deadlock. One try: a long table, a listener with a
 * full accept queue, threads accepting, and stop from another thread.
 */
static void test_stop_while_accepting(void)
{
	uint64_t budget_end = su_mono_ns() + TRY_BUDGET_NS;
	int tries = 0;
	for (; tries < ACC_TRIES && su_mono_ns() < budget_end; tries++) {
		struct su_pair p;
		if (!su_open(&p, 0))
			return;
		for (int i = 0; i < ACC_FILL; i++)
			CU_ASSERT(us_socket(p.b, AF_INET, SOCK_DGRAM, 0) >= 0);
		int lfd = us_socket(p.b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in la = su_sin(INADDR_ANY, ACC_PORT);
		SU_OK(us_bind(p.b, lfd, SU_CSA(la), sizeof la));
		SU_OK(us_listen(p.b, lfd, 4096));
		static int cfd[ACC_CONNS];
		struct sockaddr_in ra = su_sin(SU_B_IP, ACC_PORT);
		for (int i = 0; i < ACC_CONNS; i++) {
			cfd[i] = us_socket(p.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			int rc = us_connect(p.a, cfd[i], SU_CSA(ra), sizeof ra);
			CU_ASSERT(rc == 0 || errno == EINPROGRESS);
		}
		uint64_t qend = su_mono_ns() + 5ULL * 1000000000ULL;
		while (acc_queued(p.b, lfd) < ACC_CONNS && su_mono_ns() < qend) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		CU_ASSERT_EQUAL(acc_queued(p.b, lfd), ACC_CONNS);

		struct acc_shared a = { .st = p.b, .lfd = lfd };
		pthread_t th[ACC_THREADS], sth;
		for (int i = 0; i < ACC_THREADS; i++)
			CU_ASSERT_FATAL(pthread_create(&th[i], NULL, accept_main, &a) == 0);
		struct stopper s = { .st = p.b };
		pthread_mutex_init(&s.mu, NULL);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s.cv, &ca);
		pthread_condattr_destroy(&ca);
		CU_ASSERT_FATAL(pthread_create(&sth, NULL, stop_main, &s) == 0);

		uint64_t deadline = su_mono_ns() + STOP_BOUND_MS * 1000000ULL;
		struct timespec ts = { (time_t)(deadline / 1000000000ULL),
				       (long)(deadline % 1000000000ULL) };
		pthread_mutex_lock(&s.mu);
		while (!s.done && pthread_cond_timedwait(&s.cv, &s.mu, &ts) != ETIMEDOUT)
			;
		bool done = s.done;
		pthread_mutex_unlock(&s.mu);
		if (!done) {
			fprintf(stderr, "stop_while_accepting: us_stack_stop still blocked after "
				"%d ms on try %d (deadlock with us_accept); leaving it behind\n",
				STOP_BOUND_MS, tries + 1);
			CU_FAIL("us_stack_stop deadlocked with threads in us_accept");
			return;         /* the stuck threads keep their stack; nothing to free */
		}
		pthread_join(sth, NULL);
		for (int i = 0; i < ACC_THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_cond_destroy(&s.cv);
		pthread_mutex_destroy(&s.mu);
		su_close(&p);
	}
	printf("(%d tries) ", tries);
}

/*
 * us_accept installs the child after dropping the listener's lock; when no
 * descriptor is free it must give EMFILE and leave the connection queued
 * (as Linux does), so a later accept still gets it.
 */
static void test_accept_emfile_keeps_child(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int lfd = us_socket(p.b, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in la = su_sin(INADDR_ANY, ACC_PORT);
	SU_OK(us_bind(p.b, lfd, SU_CSA(la), sizeof la));
	SU_OK(us_listen(p.b, lfd, 8));
	int cfd = us_socket(p.a, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ra = su_sin(SU_B_IP, ACC_PORT);
	us_connect(p.a, cfd, SU_CSA(ra), sizeof ra);
	su_run(&p, 10 * 1000000ULL);
	CU_ASSERT_EQUAL(acc_queued(p.b, lfd), 1);
	int last = -1;
	for (;;) {
		int fd = us_socket(p.b, AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			break;
		last = fd;
	}
	CU_ASSERT_EQUAL(last, US_MAX_SOCKETS - 1);
	SU_ERR(us_accept(p.b, lfd, NULL, NULL), EMFILE);
	CU_ASSERT_EQUAL(acc_queued(p.b, lfd), 1);
	SU_OK(us_close(p.b, last));
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	int afd = us_accept(p.b, lfd, SU_SA(peer), &pl);
	CU_ASSERT_EQUAL(afd, last);
	CU_ASSERT_EQUAL(peer.sin_addr.s_addr, SU_A_IP);
	CU_ASSERT_EQUAL(acc_queued(p.b, lfd), 0);
	/* The accepted connection works. */
	CU_ASSERT_EQUAL(us_send(p.a, cfd, "hi", 2, 0), 2);
	su_run(&p, 10 * 1000000ULL);
	char buf[4];
	CU_ASSERT_EQUAL(us_recv(p.b, afd, buf, sizeof buf, 0), 2);
	su_close(&p);
}

US_SUITE(stop_races, NULL, NULL,
	 US_TEST(test_stop_while_accepting),
	 US_TEST(test_accept_emfile_keeps_child));
