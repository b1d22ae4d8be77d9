/*
 * test_lockassert.c — lock contracts are checked (suite "lock_assert").
 *
 * The unit tests link a library built with US_DEBUG_LOCKS (GNUmakefile),
 * so a function that requires a lock and is called without it aborts with
 * a message naming the lock (core/lockassert.h). Each case runs in a child
 * process, which must die of SIGABRT; the same calls made the right way
 * must not.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lockassert.h"
#include "sockutil.h"
#include "tcp.h"

/* Run f(st, fd) in a child with stderr silenced; its wait status. */
static int in_child(void (*f)(us_stack *, int), us_stack *st, int fd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		f(st, fd);
		_exit(0);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool aborted(int status)
{
	return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static bool exited_ok(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void wake_unlocked(us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	us_sock_wake(s);                /* requires s->lock */
}

static void wake_locked(us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	pthread_mutex_lock(&s->lock);
	us_sock_wake(s);
	pthread_mutex_unlock(&s->lock);
}

static void output_unlocked(us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	tcp_output(s->tcb);             /* requires the socket lock */
}

static void output_locked(us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	pthread_mutex_lock(&s->lock);
	tcp_output(s->tcb);
	pthread_mutex_unlock(&s->lock);
}

static void input_unlocked(us_stack *st, int fd)
{
	static const uint8_t junk[14];
	us_netif_input(&st->ifs[0], junk, sizeof junk);   /* requires rx_lock */
}

static void input_locked(us_stack *st, int fd)
{
	static const uint8_t junk[14];
	pthread_mutex_lock(&st->ifs[0].rx_lock);
	us_netif_input(&st->ifs[0], junk, sizeof junk);
	pthread_mutex_unlock(&st->ifs[0].rx_lock);
}

/* Another thread holding the lock does not satisfy the contract. */
struct holder {
	pthread_mutex_t *m;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool locked, release;
};

static void *hold_main(void *p)
{
	struct holder *h = p;
	pthread_mutex_lock(h->m);
	pthread_mutex_lock(&h->mu);
	h->locked = true;
	pthread_cond_signal(&h->cv);
	while (!h->release)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_unlock(h->m);
	return NULL;
}

static void wake_held_elsewhere(us_stack *st, int fd)
{
	struct us_sock *s = us_sock_get(st, fd);
	struct holder h = { .m = &s->lock, .mu = PTHREAD_MUTEX_INITIALIZER,
			    .cv = PTHREAD_COND_INITIALIZER };
	pthread_t th;
	if (pthread_create(&th, NULL, hold_main, &h) != 0)
		_exit(4);
	pthread_mutex_lock(&h.mu);
	while (!h.locked)
		pthread_cond_wait(&h.cv, &h.mu);
	pthread_mutex_unlock(&h.mu);
	us_sock_wake(s);                /* the lock is held, but not by us */
}

static void test_lock_contracts_abort_when_broken(void)
{
	struct su_pair p;
	if (!su_open(&p, US_STACK_DETERMINISTIC))
		return;
	int u = su_udp(p.a, INADDR_ANY, 7000);
	int t = us_socket(p.a, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(u >= 0 && t >= 0);

	CU_ASSERT(aborted(in_child(wake_unlocked, p.a, u)));
	CU_ASSERT(exited_ok(in_child(wake_locked, p.a, u)));
	CU_ASSERT(aborted(in_child(wake_held_elsewhere, p.a, u)));
	CU_ASSERT(aborted(in_child(output_unlocked, p.a, t)));
	CU_ASSERT(exited_ok(in_child(output_locked, p.a, t)));
	CU_ASSERT(aborted(in_child(input_unlocked, p.a, 0)));
	CU_ASSERT(exited_ok(in_child(input_locked, p.a, 0)));
	su_close(&p);
}

US_SUITE(lock_assert, NULL, NULL,
	 US_TEST(test_lock_contracts_abort_when_broken));
