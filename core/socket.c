/*
 * socket.c — the descriptor table and the protocol-independent half of
 * every socket call: argument checks, reference counting, options,
 * blocking with deadlines, and poll. Protocol work goes through
 * struct us_proto_ops (sockproto.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <time.h>

#include "api.h"
#include "sockproto.h"
#include "stack.h"
#include "tcp.h"
#include "lockassert.h"

/* Linux's defaults: net.core.rmem_default / wmem_default, reported doubled. */
#define DEFAULT_RCVBUF  212992
#define DEFAULT_SNDBUF  212992
#define MIN_RCVBUF      2304
#define MIN_SNDBUF      4608
#define MAX_BUF         (16 * 1024 * 1024)

static const struct us_proto_ops *ops_of(const struct us_sock *s)
{
	return s->type == SOCK_STREAM ? &us_tcp_ops
	       : s->type == US_SOCK_EPOLL ? &us_epoll_ops : &us_udp_ops;
}

int us_socktab_init(struct us_socktab *t, int max)
{
	pthread_mutex_init(&t->alloc_lock, NULL);
	for (int i = 0; i < US_SOCKTAB_SHARDS; i++)
		pthread_rwlock_init(&t->shard[i].lock, NULL);
	t->max = max > 0 ? max : US_MAX_SOCKETS;
	t->slot = calloc((size_t)t->max, sizeof *t->slot);
	t->lowest_free = 0;
	return t->slot ? 0 : -1;
}

static pthread_rwlock_t *shard_lock(struct us_socktab *t, int fd)
{
	return &t->shard[fd % US_SOCKTAB_SHARDS].lock;
}

/* The socket in slot fd with a reference, or NULL. */
static struct us_sock *slot_get(struct us_socktab *t, int fd)
{
	pthread_rwlock_t *l = shard_lock(t, fd);
	pthread_rwlock_rdlock(l);
	struct us_sock *s = t->slot[fd];
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_rwlock_unlock(l);
	return s;
}

void us_socktab_close_all(struct us_stack *st)
{
	struct us_socktab *t = &st->socks;
	for (int i = 0; i < t->max && t->slot; i++) {
		struct us_sock *s = slot_get(t, i);
		if (s) {
			us_sock_put(s);
			us_close(st, i);
		}
	}
}

void us_socktab_destroy(struct us_stack *st)
{
	struct us_socktab *t = &st->socks;
	us_socktab_close_all(st);
	free(t->slot);
	t->slot = NULL;
	for (int i = 0; i < US_SOCKTAB_SHARDS; i++)
		pthread_rwlock_destroy(&t->shard[i].lock);
	pthread_mutex_destroy(&t->alloc_lock);
}

/*
 * The table lock is never held together with a socket lock (doc/LOCKING.md):
 * take a reference under it, drop it, then lock the socket. (Locking each
 * socket under the table lock deadlocked with us_accept, which installed
 * its child while holding the listener's lock.)
 */
void us_socktab_wake_all(struct us_stack *st)
{
	for (int i = 0; i < st->socks.max; i++) {
		int e = errno;
		struct us_sock *s = us_sock_get(st, i);
		errno = e;
		if (!s)
			continue;
		pthread_mutex_lock(&s->lock);
		us_sock_wake(s);
		pthread_mutex_unlock(&s->lock);
		us_sock_put(s);
	}
}

struct us_sock *us_sock_get(struct us_stack *st, int fd)
{
	if (fd < 0 || fd >= st->socks.max) {
		errno = EBADF;
		return NULL;
	}
	struct us_sock *s = slot_get(&st->socks, fd);
	if (!s)
		errno = EBADF;
	return s;
}

void us_sock_hold(struct us_sock *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void us_sock_put(struct us_sock *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	const struct us_proto_ops *ops = ops_of(s);
	if (ops->destroy)
		ops->destroy(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void abs_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / US_NS_PER_SEC);
	ts->tv_nsec = (long)(ns % US_NS_PER_SEC);
}

/*
 * Sleeping on a socket: a futex on wake_seq, which every wake-up bumps
 * under the socket's lock. A sleeper reads it under the lock, drops the
 * lock and sleeps only while it is unchanged, so a wake-up between the
 * two is never lost. Not a condition variable: glibc's condition wait
 * takes the mutex back marked "contended", so the sleeper's next unlock
 * always costs a futex-wake system call that wakes nobody.
 */
static void seq_wake_all(struct us_sock *s)
{
	int e = errno;
	syscall(SYS_futex, &s->wake_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	errno = e;
}

int us_sock_sleep(struct us_sock *s, uint64_t deadline)
{
	US_ASSERT_LOCKED(&s->lock);
	int e = errno, rc = 0;
	uint32_t seq = atomic_load_explicit(&s->wake_seq, memory_order_relaxed);
	struct timespec ts;
	if (deadline)
		abs_timespec(deadline, &ts);
	s->waiters++;
	pthread_mutex_unlock(&s->lock);
	/* FUTEX_WAIT_BITSET: an absolute CLOCK_MONOTONIC deadline. */
	if (syscall(SYS_futex, &s->wake_seq, FUTEX_WAIT_BITSET_PRIVATE, seq,
		    deadline ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY) < 0 && errno == ETIMEDOUT)
		rc = ETIMEDOUT;
	pthread_mutex_lock(&s->lock);
	s->waiters--;
	errno = e;
	return rc;
}

/* A poller's state word (us_pollwait.state) is its futex. */
enum { PW_IDLE, PW_FIRED, PW_ASLEEP };

static void fire_pollwait(struct us_pollwait *w)
{
	/* A system call only when the poller sleeps. */
	if (atomic_exchange_explicit(&w->state, PW_FIRED, memory_order_acq_rel) == PW_ASLEEP) {
		int e = errno;
		syscall(SYS_futex, &w->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		errno = e;
	}
}

/* The poller: sleep while nothing fired, until the deadline (monotonic
 * ns). True when fired; false on the deadline (*timed_out) or spuriously. */
static bool pollwait_sleep(struct us_pollwait *w, uint64_t deadline, bool *timed_out)
{
	int exp = PW_IDLE;
	if (!atomic_compare_exchange_strong(&w->state, &exp, PW_ASLEEP))
		return true;    /* PW_FIRED */
	struct timespec ts;
	abs_timespec(deadline, &ts);
	int e = errno;
	if (syscall(SYS_futex, &w->state, FUTEX_WAIT_BITSET_PRIVATE, PW_ASLEEP, &ts, NULL,
		    FUTEX_BITSET_MATCH_ANY) < 0 && errno == ETIMEDOUT)
		*timed_out = true;
	errno = e;
	exp = PW_ASLEEP;
	atomic_compare_exchange_strong(&w->state, &exp, PW_IDLE);
	return exp == PW_FIRED;
}

/* Sleepers to wake: all, or (readers false) those not waiting in recv. */
static bool sleepers_for(const struct us_sock *s, bool readers)
{
	return (readers ? s->waiters : s->waiters - s->rd_waiters) > 0;
}

/* Wake now, with s->lock held (outside a receive batch). */
static void wake_now(struct us_sock *s, bool readers)
{
	atomic_fetch_add_explicit(&s->wake_seq, 1, memory_order_release);
	if (sleepers_for(s, readers))
		seq_wake_all(s);
	for (struct us_pollreg *r = s->polls.next, *nx; r != &s->polls; r = nx) {
		nx = r->next;
		if (r->notify)
			r->notify(r);
		else
			fire_pollwait(r->w);
	}
}

/* The receive batch open on this thread, if any (us_sock_batch_begin). */
static _Thread_local struct us_wake_batch *wake_batch;

void us_sock_batch_begin(struct us_wake_batch *b)
{
	b->n = 0;
	b->outer = wake_batch == NULL;
	if (b->outer)
		wake_batch = b;
}

/*
 * Wake one socket noted by a batch: under its lock only what must be
 * (wake_seq, epoll notifications, counting the pollers to fire in their
 * pending); the futex wake of its sleepers and the pollers' after the
 * unlock, so that a woken thread, which on a 2-CPU machine often runs at
 * once, does not find the lock still held and sleep again on it.
 */
#define POLLERS_AFTER 16
static void batch_wake(struct us_sock *s)
{
	struct us_pollwait *after[POLLERS_AFTER];
	int nafter = 0;
	pthread_mutex_lock(&s->lock);
	s->batch_noted = false;
	if (s->ack_pending) {
		s->ack_pending = false;
		ops_of(s)->batch_ack(s);
	}
	if (!s->wake_pending) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->wake_pending = false;
	atomic_fetch_add_explicit(&s->wake_seq, 1, memory_order_release);
	bool sleepers = sleepers_for(s, s->wake_readers);
	for (struct us_pollreg *r = s->polls.next, *nx; r != &s->polls; r = nx) {
		nx = r->next;
		if (r->notify) {
			r->notify(r);
		} else if (nafter < POLLERS_AFTER) {
			/* Counted while the registration (and so r->w) is alive:
			 * us_poll unregisters under this lock, then waits for 0. */
			atomic_fetch_add_explicit(&r->w->pending, 1, memory_order_relaxed);
			after[nafter++] = r->w;
		} else {
			fire_pollwait(r->w);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (sleepers)
		seq_wake_all(s);
	for (int i = 0; i < nafter; i++) {
		fire_pollwait(after[i]);
		/* After this, us_poll may return and its us_pollwait go. */
		atomic_fetch_sub_explicit(&after[i]->pending, 1, memory_order_release);
	}
}

void us_sock_batch_end(struct us_wake_batch *b)
{
	if (!b->outer)
		return;
	wake_batch = NULL;
	for (int i = 0; i < b->n; i++) {
		batch_wake(b->s[i]);
		us_sock_put(b->s[i]);
	}
	b->n = 0;
}

/* Note s in this thread's batch, if one is open and has room (or s is
 * noted already, by this thread's batch or another's). */
static bool batch_note(struct us_sock *s)
{
	struct us_wake_batch *b = wake_batch;
	if (!b)
		return false;
	if (s->batch_noted)
		return true;
	if (b->n == US_WAKE_BATCH)
		return false;
	us_sock_hold(s);
	s->batch_noted = true;
	b->s[b->n++] = s;
	return true;
}

static void sock_wake(struct us_sock *s, bool readers)
{
	US_ASSERT_LOCKED(&s->lock);
	if (!batch_note(s)) {
		wake_now(s, readers);
		return;
	}
	if (s->wake_pending) {
		s->wake_readers |= readers;
	} else {
		s->wake_pending = true;
		s->wake_readers = readers;
	}
}

void us_sock_wake(struct us_sock *s)
{
	sock_wake(s, true);
}

void us_sock_wake_room(struct us_sock *s)
{
	sock_wake(s, false);
}

bool us_sock_batch_ack(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	if (!ops_of(s)->batch_ack || !batch_note(s))
		return false;
	s->ack_pending = true;
	return true;
}

uint64_t us_sock_deadline(struct us_sock *s, uint64_t timeout_ns)
{
	return timeout_ns ? us_monotonic_ns() + timeout_ns : 0;
}


int us_sock_wait(struct us_sock *s, uint64_t deadline, bool nonblock)
{
	US_ASSERT_LOCKED(&s->lock);
	struct us_stack *st = s->st;
	if (s->closed)
		return EBADF;
	if (atomic_load(&st->stopping))
		return ESHUTDOWN;
	if (nonblock || s->nonblock || st->deterministic)
		return EAGAIN;
	uint64_t t0 = us_monotonic_ns();
	if (deadline && t0 >= deadline)
		return EAGAIN;
	/*
	 * Busy polling (like Linux's SO_BUSY_POLL, but adaptive): when this
	 * socket's waits have been short (request/response), read the
	 * interfaces from this thread for a while instead of sleeping. The
	 * answer is then processed here as soon as it arrives, without
	 * waking the receive thread and then this one: on a virtual machine
	 * each wake-up can cost more than the whole exchange.
	 */
	uint32_t seq = atomic_load_explicit(&s->wake_seq, memory_order_acquire);
	uint64_t busy_ns = (uint64_t)st->cfg.busy_poll_us * 1000;
	if (s->last_wait_ns && s->last_wait_ns < busy_ns) {
		pthread_mutex_unlock(&s->lock);
		uint64_t end = t0 + busy_ns;
		for (;;) {
			if (atomic_load_explicit(&s->wake_seq, memory_order_acquire) != seq)
				break;
			us_netif_busy_poll(st);
			if (atomic_load_explicit(&s->wake_seq, memory_order_acquire) != seq ||
			    us_monotonic_ns() >= end || atomic_load(&st->stopping))
				break;
		}
		pthread_mutex_lock(&s->lock);
		if (atomic_load_explicit(&s->wake_seq, memory_order_acquire) != seq) {
			s->last_wait_ns = us_monotonic_ns() - t0;
			if (s->closed)
				return EBADF;
			if (atomic_load(&st->stopping))
				return ESHUTDOWN;
			return 0;
		}
	}
	us_sock_sleep(s, deadline);
	s->last_wait_ns = us_monotonic_ns() - t0;
	if (s->closed)
		return EBADF;
	if (atomic_load(&st->stopping))
		return ESHUTDOWN;
	return 0;
}

int us_sockaddr_in(const struct sockaddr *a, socklen_t len, struct sockaddr_in *out)
{
	/* Linux (move_addr_to_kernel, inet_bind): a length that is negative as
	 * an int or above sizeof(struct sockaddr_storage) is EINVAL, a NULL
	 * address with bytes to copy EFAULT, a short one EINVAL. */
	if ((int)len < 0 || len > (socklen_t)sizeof(struct sockaddr_storage))
		return EINVAL;
	if (!a)
		return len ? EFAULT : EINVAL;
	if (len < (socklen_t)sizeof(struct sockaddr_in))
		return EINVAL;
	memcpy(out, a, sizeof *out);
	if (out->sin_family != AF_INET)
		return EAFNOSUPPORT;
	memset(out->sin_zero, 0, sizeof out->sin_zero);
	return 0;
}

void us_sockaddr_out(const struct sockaddr_in *in, struct sockaddr *a, socklen_t *len)
{
	if (!a || !len)
		return;
	socklen_t n = *len < (socklen_t)sizeof *in ? *len : (socklen_t)sizeof *in;
	memcpy(a, in, n);
	*len = sizeof *in;
}

int us_sockaddr_out_check(const struct sockaddr *a, const socklen_t *len)
{
	if (!a)
		return 0;       /* no address wanted (Linux ignores len then) */
	if (!len)
		return EFAULT;
	if ((int)*len < 0)
		return EINVAL;
	return 0;
}

int us_user_buf(const void *buf, size_t len)
{
	if (len > SSIZE_MAX)
		return EINVAL;
	if (!buf && len)
		return EFAULT;
	return 0;
}

static int fail(int e)
{
	errno = e;
	return -1;
}

struct us_sock *us_sock_alloc(struct us_stack *st, int type)
{
	struct us_sock *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->last_wait_ns = 1;    /* a new socket's first wait busy-polls (see us_sock_wait) */
	s->st = st;
	s->fd = -1;
	s->type = type;
	pthread_mutex_init(&s->lock, NULL);
	s->polls.next = s->polls.prev = &s->polls;
	s->local.sin_family = AF_INET;
	s->remote.sin_family = AF_INET;
	s->rcvbuf = DEFAULT_RCVBUF;
	s->sndbuf = DEFAULT_SNDBUF;
	s->pmtudisc = IP_PMTUDISC_WANT;         /* Linux's default (ip_no_pmtu_disc 0) */
	if (type == SOCK_STREAM) {
		/* TCP's buffers default to the config's sizes (reported doubled). */
		s->rcvbuf = (int)(st->cfg.tcp.rcvbuf ? st->cfg.tcp.rcvbuf : 262144) * 2;
		s->sndbuf = (int)(st->cfg.tcp.sndbuf ? st->cfg.tcp.sndbuf : 262144) * 2;
		s->tcb = tcb_new(s);
		if (!s->tcb) {
			pthread_mutex_destroy(&s->lock);
			free(s);
			return NULL;
		}
	}
	return s;
}

int us_socktab_install(struct us_stack *st, struct us_sock *s)
{
	struct us_socktab *t = &st->socks;
	pthread_mutex_lock(&t->alloc_lock);
	int fd = -1;
	for (int i = t->lowest_free; i < t->max; i++)
		if (!t->slot[i]) {     /* only changed under alloc_lock: readable here */
			fd = i;
			break;
		}
	if (fd >= 0) {
		s->fd = fd;
		pthread_rwlock_wrlock(shard_lock(t, fd));
		t->slot[fd] = s;
		pthread_rwlock_unlock(shard_lock(t, fd));
		t->lowest_free = fd + 1;
	}
	pthread_mutex_unlock(&t->alloc_lock);
	if (fd < 0)
		errno = EMFILE;
	return fd;
}

int us_socket(us_stack *st, int domain, int type, int protocol)
{
	US_API_CALL();
	/* Linux: flag bits other than these two, or a type past SOCK_PACKET, are EINVAL. */
	if ((type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)) || (type & 0xf) > SOCK_PACKET)
		return fail(EINVAL);
	if (domain != AF_INET)
		return fail(EAFNOSUPPORT);
	if (protocol < 0)
		return fail(EINVAL);
	bool nonblock = type & SOCK_NONBLOCK;
	type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (type == SOCK_DGRAM) {
		if (protocol != 0 && protocol != IPPROTO_UDP)
			return fail(EPROTONOSUPPORT);
	} else if (type == SOCK_STREAM) {
		if (protocol != 0 && protocol != IPPROTO_TCP)
			return fail(EPROTONOSUPPORT);
	} else {
		return fail(ESOCKTNOSUPPORT);
	}
	if (atomic_load(&st->stopping))
		return fail(ESHUTDOWN);
	struct us_sock *s = us_sock_alloc(st, type);
	if (!s)
		return fail(ENOMEM);
	s->nonblock = nonblock;
	int fd = us_socktab_install(st, s);
	if (fd < 0) {
		us_sock_put(s);
		return -1;
	}
	return fd;
}

int us_close(us_stack *st, int fd)
{
	US_API_POINT();
	struct us_socktab *t = &st->socks;
	if (fd < 0 || fd >= t->max)
		return fail(EBADF);
	pthread_mutex_lock(&t->alloc_lock);
	pthread_rwlock_wrlock(shard_lock(t, fd));
	struct us_sock *s = t->slot[fd];
	t->slot[fd] = NULL;
	pthread_rwlock_unlock(shard_lock(t, fd));
	if (s && fd < t->lowest_free)
		t->lowest_free = fd;
	pthread_mutex_unlock(&t->alloc_lock);
	if (!s)
		return fail(EBADF);
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	ops_of(s)->close(s);
	us_sock_wake(s);
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);         /* the table's reference */
	return 0;
}

/* Run f(s) with a reference and the lock; the common shape of every call.
 * After us_stack_stop every call but us_close fails with ESHUTDOWN. */
#define WITH_SOCK(st, fd, s)                                         \
	US_API_LIVE((st), -1);                                       \
	struct us_sock *s = us_sock_get((st), (fd));                 \
	if (!s)                                                      \
		return -1;                                           \
	if (s->type == US_SOCK_EPOLL) {                              \
		us_sock_put(s);                                      \
		return fail(ENOTSOCK);                               \
	}                                                            \
	pthread_mutex_lock(&s->lock)

static int done(struct us_sock *s, int rc)
{
	int e = errno;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	errno = e;
	return rc;
}

static int done_err(struct us_sock *s, int e)
{
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	errno = e;
	return -1;
}

int us_bind(us_stack *st, int fd, const struct sockaddr *addr, socklen_t len)
{
	US_API_CALL();
	struct sockaddr_in a;
	WITH_SOCK(st, fd, s);
	int e = us_sockaddr_in(addr, len, &a);
	if (e)
		return done_err(s, e);
	if (s->bound)
		return done_err(s, EINVAL);
	if (a.sin_addr.s_addr != INADDR_ANY && !us_ipv4_is_local(st, a.sin_addr.s_addr))
		return done_err(s, EADDRNOTAVAIL);
	int rc = ops_of(s)->bind(s, &a);
	return rc < 0 ? done_err(s, -rc) : done(s, 0);
}

int us_connect(us_stack *st, int fd, const struct sockaddr *addr, socklen_t len)
{
	US_API_POINT();
	struct sockaddr_in a;
	WITH_SOCK(st, fd, s);
	if (addr && len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
		int rc = ops_of(s)->connect(s, NULL);
		return rc < 0 ? done_err(s, -rc) : done(s, 0);
	}
	int e = us_sockaddr_in(addr, len, &a);
	if (e)
		return done_err(s, e);
	int rc = ops_of(s)->connect(s, &a);
	return rc < 0 ? done_err(s, -rc) : done(s, 0);
}

int us_listen(us_stack *st, int fd, int backlog)
{
	US_API_CALL();
	WITH_SOCK(st, fd, s);
	if (!ops_of(s)->listen)
		return done_err(s, EOPNOTSUPP);
	int rc = ops_of(s)->listen(s, backlog);
	return rc < 0 ? done_err(s, -rc) : done(s, 0);
}

int us_accept(us_stack *st, int fd, struct sockaddr *addr, socklen_t *len)
{
	US_API_POINT();
	WITH_SOCK(st, fd, s);
	if (!ops_of(s)->accept)
		return done_err(s, EOPNOTSUPP);
	int e = us_sockaddr_out_check(addr, len);
	if (e)
		return done_err(s, e);
	struct sockaddr_in peer;
	int nfd = -1;
	int rc = ops_of(s)->accept(s, &peer, &nfd);
	if (rc < 0)
		return done_err(s, -rc);
	us_sockaddr_out(&peer, addr, len);
	return done(s, nfd);
}

ssize_t us_sendto(us_stack *st, int fd, const void *buf, size_t len, int flags,
		  const struct sockaddr *to, socklen_t tolen)
{
	US_API_POINT();
	struct sockaddr_in a;
	WITH_SOCK(st, fd, s);
	int e = us_user_buf(buf, len);
	if (e)
		return done_err(s, e);
	if (!buf)
		buf = "";               /* len 0: nothing is read from it */
	if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL))
		return done_err(s, EOPNOTSUPP);
	if (to) {
		e = us_sockaddr_in(to, tolen, &a);
		if (e)
			return done_err(s, e);
	}
	ssize_t n = ops_of(s)->sendto(s, buf, len, flags, to ? &a : NULL);
	if (n < 0)
		return done_err(s, (int)-n);
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return n;
}

ssize_t us_send(us_stack *st, int fd, const void *buf, size_t len, int flags)
{
	return us_sendto(st, fd, buf, len, flags, NULL, 0);
}

ssize_t us_recvfrom(us_stack *st, int fd, void *buf, size_t len, int flags,
		    struct sockaddr *from, socklen_t *fromlen)
{
	US_API_POINT();
	WITH_SOCK(st, fd, s);
	int e = us_user_buf(buf, len);
	if (!e)
		e = us_sockaddr_out_check(from, fromlen);
	if (e)
		return done_err(s, e);
	if (flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC))
		return done_err(s, EOPNOTSUPP);
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct iovec one = { buf, len };        /* len 0: buf is never touched */
	ssize_t n = ops_of(s)->recvv(s, &one, 1, len, flags, &a);
	if (n < 0)
		return done_err(s, (int)-n);
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	us_sockaddr_out(&a, from, fromlen);
	return n;
}

ssize_t us_recv(us_stack *st, int fd, void *buf, size_t len, int flags)
{
	return us_recvfrom(st, fd, buf, len, flags, NULL, NULL);
}

ssize_t us_recvmsg(us_stack *st, int fd, struct msghdr *m, int flags)
{
	US_API_POINT();
	WITH_SOCK(st, fd, s);
	if (!m)
		return done_err(s, EFAULT);
	if (m->msg_iovlen > IOV_MAX)
		return done_err(s, EMSGSIZE);   /* Linux's limit (UIO_MAXIOV) */
	if (m->msg_iovlen && !m->msg_iov)
		return done_err(s, EFAULT);
	size_t total = 0;
	for (size_t i = 0; i < (size_t)m->msg_iovlen; i++) {
		int e = us_user_buf(m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		if (e || (total += m->msg_iov[i].iov_len) > SSIZE_MAX)
			return done_err(s, e ? e : EINVAL);
	}
	int e = m->msg_name ? us_sockaddr_out_check(m->msg_name, &m->msg_namelen) : 0;
	if (e)
		return done_err(s, e);
	if (flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC | MSG_ERRQUEUE))
		return done_err(s, EOPNOTSUPP);
	m->msg_flags = 0;
	if (flags & MSG_ERRQUEUE) {
		/* Linux (ip_recv_error): never waits; EAGAIN when empty. */
		ssize_t n = ops_of(s)->recverr ? ops_of(s)->recverr(s, m) : -EAGAIN;
		return n < 0 ? done_err(s, (int)-n) : done(s, n);
	}
	/* Scattered straight from the socket's queue into the pieces (no
	 * bounce buffer, one copy), up to their total length. */
	bool dgram = s->type == SOCK_DGRAM;
	struct sockaddr_in a = { .sin_family = AF_INET };
	/* A datagram's real length shows whether it was cut (MSG_TRUNC). */
	ssize_t n = ops_of(s)->recvv(s, m->msg_iov, (int)m->msg_iovlen, total,
				     dgram ? flags | MSG_TRUNC : flags, &a);
	if (n < 0)
		return done_err(s, (int)-n);
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	if (dgram && (size_t)n > total) {
		m->msg_flags |= MSG_TRUNC;
		if (!(flags & MSG_TRUNC))
			n = (ssize_t)total;
	}
	if (m->msg_name) {
		if (dgram)
			us_sockaddr_out(&a, m->msg_name, &m->msg_namelen);
		m->msg_namelen = dgram ? sizeof a : 0;
	}
	m->msg_controllen = 0;          /* no ancillary data on the data path */
	return n;
}

int us_shutdown(us_stack *st, int fd, int how)
{
	US_API_CALL();
	WITH_SOCK(st, fd, s);
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return done_err(s, EINVAL);
	int rc = ops_of(s)->shutdown(s, how);
	us_sock_wake(s);
	return rc < 0 ? done_err(s, -rc) : done(s, 0);
}

int us_opt_get_int(const void *val, socklen_t len, int *out)
{
	if (len < (socklen_t)sizeof(int))
		return EINVAL;
	if (!val)
		return EFAULT;
	memcpy(out, val, sizeof *out);
	return 0;
}

static int get_timeval(const void *val, socklen_t len, uint64_t *ns)
{
	struct timeval tv;
	if (len < (socklen_t)sizeof tv)
		return EINVAL;
	if (!val)
		return EFAULT;
	memcpy(&tv, val, sizeof tv);
	if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return EDOM;
	*ns = (uint64_t)tv.tv_sec * US_NS_PER_SEC + (uint64_t)tv.tv_usec * 1000;
	return 0;
}

int us_setsockopt(us_stack *st, int fd, int level, int name, const void *val, socklen_t len)
{
	US_API_CALL();
	int v = 0, e = 0;
	WITH_SOCK(st, fd, s);
	if ((int)len < 0)
		return done_err(s, EINVAL);     /* Linux: a negative optlen */
	if (ops_of(s)->setsockopt) {
		int rc = ops_of(s)->setsockopt(s, level, name, val, len);
		if (rc != -ENOPROTOOPT)
			return rc < 0 ? done_err(s, -rc) : done(s, 0);
	}
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR:
		case SO_BROADCAST:
			if ((e = us_opt_get_int(val, len, &v)))
				break;
			if (name == SO_REUSEADDR)
				s->reuseaddr = v != 0;
			else
				s->broadcast = v != 0;
			break;
		case SO_RCVBUF:
		case SO_SNDBUF: {
			if ((e = us_opt_get_int(val, len, &v)))
				break;
			/* Linux doubles the request (bookkeeping overhead) and clamps. */
			long d = v < 0 ? 0 : (long)v * 2;
			if (d > MAX_BUF)
				d = MAX_BUF;
			if (name == SO_RCVBUF) {
				s->rcvbuf = (int)(d < MIN_RCVBUF ? MIN_RCVBUF : d);
				if (ops_of(s)->rcvbuf_changed)
					ops_of(s)->rcvbuf_changed(s);
			} else {
				s->sndbuf = (int)(d < MIN_SNDBUF ? MIN_SNDBUF : d);
				if (ops_of(s)->rcvbuf_changed)
					ops_of(s)->rcvbuf_changed(s);
			}
			break;
		}
		case SO_RCVTIMEO:
			e = get_timeval(val, len, &s->rcvtimeo_ns);
			break;
		case SO_SNDTIMEO:
			e = get_timeval(val, len, &s->sndtimeo_ns);
			break;
		default:
			e = ENOPROTOOPT;
		}
	} else if (level == IPPROTO_IP && name == IP_TTL) {
		if (!(e = us_opt_get_int(val, len, &v))) {
			if (v == -1)
				s->ttl = 0;     /* back to the default */
			else if (v < 1 || v > 255)
				e = EINVAL;
			else
				s->ttl = (uint8_t)v;
		}
	} else {
		e = ENOPROTOOPT;
	}
	return e ? done_err(s, e) : done(s, 0);
}

int us_opt_put_int(void *val, socklen_t *len, int v)
{
	if (!len)
		return EFAULT;
	if (*len < (socklen_t)sizeof(int))
		return EINVAL;
	if (!val)
		return EFAULT;
	memcpy(val, &v, sizeof v);
	*len = sizeof v;
	return 0;
}

static int put_timeval(void *val, socklen_t *len, uint64_t ns)
{
	struct timeval tv = { .tv_sec = (time_t)(ns / US_NS_PER_SEC),
			      .tv_usec = (suseconds_t)(ns % US_NS_PER_SEC / 1000) };
	if (!len)
		return EFAULT;
	if (*len < (socklen_t)sizeof tv)
		return EINVAL;
	if (!val)
		return EFAULT;
	memcpy(val, &tv, sizeof tv);
	*len = sizeof tv;
	return 0;
}

int us_getsockopt(us_stack *st, int fd, int level, int name, void *val, socklen_t *len)
{
	US_API_CALL();
	int e;
	WITH_SOCK(st, fd, s);
	/* Linux (sk_getsockopt): optlen is read first; negative is EINVAL. */
	if (!len)
		return done_err(s, EFAULT);
	if ((int)*len < 0)
		return done_err(s, EINVAL);
	if (ops_of(s)->getsockopt) {
		int rc = ops_of(s)->getsockopt(s, level, name, val, len);
		if (rc != -ENOPROTOOPT)
			return rc < 0 ? done_err(s, -rc) : done(s, 0);
	}
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR:
			e = us_opt_put_int(val, len, s->reuseaddr);
			break;
		case SO_BROADCAST:
			e = us_opt_put_int(val, len, s->broadcast);
			break;
		case SO_RCVBUF:
			e = us_opt_put_int(val, len, s->rcvbuf);
			break;
		case SO_SNDBUF:
			e = us_opt_put_int(val, len, s->sndbuf);
			break;
		case SO_RCVTIMEO:
			e = put_timeval(val, len, s->rcvtimeo_ns);
			break;
		case SO_SNDTIMEO:
			e = put_timeval(val, len, s->sndtimeo_ns);
			break;
		case SO_ERROR: {
			/* Linux: the pending error, else the soft one; reading clears it. */
			int *which = s->so_error ? &s->so_error : &s->so_error_soft;
			e = us_opt_put_int(val, len, *which);
			if (!e)
				*which = 0;
			break;
		}
		case SO_TYPE:
			e = us_opt_put_int(val, len, s->type);
			break;
		default:
			e = ENOPROTOOPT;
		}
	} else if (level == IPPROTO_IP && name == IP_TTL) {
		e = us_opt_put_int(val, len, s->ttl ? s->ttl : US_IP_DEFAULT_TTL);
	} else if (level == IPPROTO_IP ||
		   level == (s->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP)) {
		e = ENOPROTOOPT;
	} else {
		e = EOPNOTSUPP;         /* Linux: a level the socket does not have */
	}
	return e ? done_err(s, e) : done(s, 0);
}

/* getsockname/getpeername: len must be there; addr may be NULL only if *len is 0. */
static int name_out_check(const struct sockaddr *addr, const socklen_t *len)
{
	if (!len)
		return EFAULT;
	if ((int)*len < 0)
		return EINVAL;
	return !addr && *len ? EFAULT : 0;
}

int us_getsockname(us_stack *st, int fd, struct sockaddr *addr, socklen_t *len)
{
	US_API_CALL();
	WITH_SOCK(st, fd, s);
	int e = name_out_check(addr, len);
	if (e)
		return done_err(s, e);
	struct sockaddr_in a = s->local;
	/* Linux: a UDP socket connected from the wildcard has its route's source address. */
	if (s->type == SOCK_DGRAM && s->connected && a.sin_addr.s_addr == INADDR_ANY) {
		int ifi;
		uint32_t nh, src;
		if (us_ipv4_route(st, s->remote.sin_addr.s_addr, &ifi, &nh, &src) == 0)
			a.sin_addr.s_addr = src;
	}
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	us_sockaddr_out(&a, addr, len);
	*len = sizeof a;        /* also when addr is NULL (with *len 0), as Linux */
	return 0;
}

int us_getpeername(us_stack *st, int fd, struct sockaddr *addr, socklen_t *len)
{
	US_API_CALL();
	WITH_SOCK(st, fd, s);
	if (!s->connected)
		return done_err(s, ENOTCONN);
	int e = name_out_check(addr, len);
	if (e)
		return done_err(s, e);
	struct sockaddr_in a = s->remote;
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	us_sockaddr_out(&a, addr, len);
	*len = sizeof a;        /* also when addr is NULL (with *len 0), as Linux */
	return 0;
}

int us_fcntl(us_stack *st, int fd, int cmd, int arg)
{
	US_API_CALL();
	WITH_SOCK(st, fd, s);
	switch (cmd) {
	case F_GETFL:
		return done(s, O_RDWR | (s->nonblock ? O_NONBLOCK : 0));
	case F_SETFL:
		s->nonblock = (arg & O_NONBLOCK) != 0;
		return done(s, 0);
	default:
		return done_err(s, EINVAL);
	}
}

/* ---- poll ---- */

/* Whether this thread's last poll wait was short: then the next busy-polls. */
static _Thread_local bool poll_short = true;

short us_sock_revents(struct us_sock *s)
{
	US_ASSERT_LOCKED(&s->lock);
	return s->closed ? POLLNVAL : ops_of(s)->poll(s);
}

static short revents_of(struct us_stack *st, struct pollfd *p, struct us_sock *s)
{
	if (!s)
		return POLLNVAL;
	pthread_mutex_lock(&s->lock);
	short r = s->closed ? POLLNVAL : ops_of(s)->poll(s);
	pthread_mutex_unlock(&s->lock);
	return (short)(r & (p->events | POLLERR | POLLHUP | POLLNVAL));
}

int us_poll(us_stack *st, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	US_API_POINT();
	US_API_LIVE(st, -1);
	if (nfds > (nfds_t)st->socks.max)
		return fail(EINVAL);
	if (nfds && !fds)
		return fail(EFAULT);
	/* Ordinary polls keep their bookkeeping on the stack; only large ones allocate. */
	enum { POLL_LOCAL = 32 };
	struct us_sock *socks_local[POLL_LOCAL];
	struct us_pollreg regs_local[POLL_LOCAL];
	bool local = nfds <= POLL_LOCAL;
	struct us_sock **socks = local ? socks_local : calloc(nfds, sizeof *socks);
	struct us_pollreg *regs = local ? regs_local : calloc(nfds, sizeof *regs);
	if (!socks || !regs) {
		if (!local) {
			free(socks);
			free(regs);
		}
		return fail(ENOMEM);
	}
	if (local) {
		memset(socks_local, 0, sizeof socks_local);
		memset(regs_local, 0, sizeof regs_local);
	}
	struct us_pollwait w = { .state = PW_IDLE };

	/* Register first, then look: an event between the two is not lost. */
	for (nfds_t i = 0; i < nfds; i++) {
		if (fds[i].fd < 0)
			continue;
		int e = errno;
		socks[i] = us_sock_get(st, fds[i].fd);
		errno = e;
		if (!socks[i])
			continue;
		regs[i].w = &w;
		pthread_mutex_lock(&socks[i]->lock);
		regs[i].notify = NULL;
		regs[i].next = socks[i]->polls.next;
		regs[i].prev = &socks[i]->polls;
		socks[i]->polls.next->prev = &regs[i];
		socks[i]->polls.next = &regs[i];
		pthread_mutex_unlock(&socks[i]->lock);
	}
	uint64_t deadline = timeout_ms > 0 ? us_monotonic_ns() + (uint64_t)timeout_ms * US_NS_PER_MS : 0;
	int ready, err = 0;
	for (;;) {
		atomic_store(&w.state, PW_IDLE);
		ready = 0;
		for (nfds_t i = 0; i < nfds; i++) {
			fds[i].revents = fds[i].fd < 0 ? 0 : revents_of(st, &fds[i], socks[i]);
			ready += fds[i].revents != 0;
		}
		if (ready || timeout_ms == 0 || st->deterministic)
			break;
		if (atomic_load(&st->stopping)) {
			err = ESHUTDOWN;
			break;
		}
		/* Busy polling, as in us_sock_wait, while this thread's polls have
		 * been waiting only briefly. */
		uint64_t t0 = us_monotonic_ns();
		uint64_t busy_ns = (uint64_t)st->cfg.busy_poll_us * 1000;
		if (busy_ns && poll_short && (!deadline || t0 < deadline)) {
			uint64_t end = t0 + busy_ns;
			if (deadline && deadline < end)
				end = deadline;
			for (;;) {
				us_netif_busy_poll(st);
				bool fired = atomic_load(&w.state) == PW_FIRED;
				if (fired || us_monotonic_ns() >= end || atomic_load(&st->stopping))
					break;
			}
			}
		int rc = 0;
		while (!atomic_load(&st->stopping)) {
			/* Sockets wake us; a stack stop may not reach a poll with
			 * no valid descriptor, so look at it once a second. */
			bool timed_out = false;
			if (pollwait_sleep(&w, timeout_ms < 0 ? us_monotonic_ns() + US_NS_PER_SEC
							     : deadline, &timed_out))
				break;
			if (timed_out && timeout_ms >= 0) {
				rc = ETIMEDOUT;
				break;
			}
		}
		poll_short = us_monotonic_ns() - t0 < busy_ns;
		if (rc == ETIMEDOUT)
			timeout_ms = 0;         /* one last look, then return */
	}
	for (nfds_t i = 0; i < nfds; i++) {
		if (!socks[i])
			continue;
		pthread_mutex_lock(&socks[i]->lock);
		regs[i].prev->next = regs[i].next;
		regs[i].next->prev = regs[i].prev;
		pthread_mutex_unlock(&socks[i]->lock);
		us_sock_put(socks[i]);
	}
	/* A receive batch's wake-up (batch_wake) may still be on its way to
	 * w, after its socket's unlock: wait for it before w goes. */
	while (atomic_load_explicit(&w.pending, memory_order_acquire))
		sched_yield();
	if (!local) {
		free(socks);
		free(regs);
	}
	if (err)
		return fail(err);
	return ready;
}
