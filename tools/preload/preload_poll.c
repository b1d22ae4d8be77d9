/*
 * preload_poll.c — readiness calls of libustack-preload.so: poll, ppoll,
 * select, pselect, epoll_ctl, epoll_wait, epoll_pwait.
 *
 * A call that names no ustack socket goes straight to libc. One that does
 * runs this loop until something is ready or the time is up:
 *   1. drain each ustack socket's mirror eventfd (the stack's ready
 *      callback writes it on every state change of the socket);
 *   2. ask the stack what is ready now (us_poll, timeout 0);
 *   3. wait in the kernel on the program's own descriptors plus the
 *      mirrors (POLLIN), for no time if step 2 found something.
 * A change after step 2 writes a mirror, so step 3 wakes: no lost wake-up
 * for one waiter. Two threads waiting on the same socket can steal each
 * other's wake-up (the first drains it); that thread then sleeps until its
 * timeout or its next event (doc/PRELOAD.md, "Limits").
 *
 * epoll: a ustack socket added to an epoll set is registered in the kernel
 * set by its mirror eventfd with a marker in the data field; the shim keeps
 * the program's events and data in a side list per epoll descriptor
 * (struct epset). epoll_wait reports ustack sockets from the side list
 * (level-triggered by default; EPOLLONESHOT honoured; EPOLLET: reported
 * only when the socket's eventfd was written since the member was last
 * looked at, or after ADD/MOD) and the kernel's events with the markers
 * filtered out.
 *
 * Locks: epsets_lock protects the epset table and list; each set's lock
 * protects its members. Neither is held across a kernel wait or a us_* call
 * that can block (us_poll with timeout 0 does not).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

/* The data a mirror carries in a kernel epoll set: "ustk" and the fd. */
#define MIRROR_MARK 0x7573746b00000000ULL
#define MIRROR_MASK 0xffffffff00000000ULL

/* ---- deadlines ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none). */
static int left_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t d = deadline - now_ms();
	return d <= 0 ? 0 : d > 0x7fffffff ? 0x7fffffff : (int)d;
}

/* ---- poll ---- */

/* fds names at least one ustack socket: the loop of the header comment. */
static int mixed_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	enum { LOCAL = 64 };
	struct pollfd klocal[LOCAL], ulocal[LOCAL];
	struct pollfd *k = n <= LOCAL ? klocal : calloc(n, sizeof *k);
	struct pollfd *u = n <= LOCAL ? ulocal : calloc(n, sizeof *u);
	if (!k || !u) {
		if (n > LOCAL) {
			free(k);
			free(u);
		}
		errno = ENOMEM;
		return -1;
	}
	us_stack *st = preload_stack_now();
	int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
	int rc;
	for (;;) {
		nfds_t nu = 0;
		for (nfds_t i = 0; i < n; i++) {
			struct psock *ps = preload_lookup(fds[i].fd);
			k[i] = fds[i];
			k[i].revents = 0;
			if (!ps)
				continue;
			preload_drain(fds[i].fd);
			u[nu].fd = ps->usfd;
			u[nu].events = fds[i].events;
			u[nu].revents = 0;
			nu++;
			k[i].events = POLLIN;
		}
		int ur = us_poll(st, u, nu, 0);
		if (ur < 0) {
			rc = -1;
			break;
		}
		int kr = real_poll(k, n, ur > 0 ? 0 : left_ms(deadline));
		if (kr < 0 && ur == 0) {
			rc = -1;        /* EINTR and friends, as the kernel says */
			break;
		}
		rc = 0;
		nu = 0;
		for (nfds_t i = 0; i < n; i++) {
			if (preload_lookup(fds[i].fd))
				fds[i].revents = u[nu++].revents;
			else
				fds[i].revents = kr < 0 ? 0 : k[i].revents;
			if (fds[i].revents)
				rc++;
		}
		if (rc > 0 || left_ms(deadline) == 0)
			break;
	}
	if (n > LOCAL) {
		int e = errno;
		free(k);
		free(u);
		errno = e;
	}
	return rc;
}

static int any_ours(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (preload_lookup(fds[i].fd))
			return 1;
	return 0;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	RESOLVE();
	if (!any_ours(fds, n))
		return real_poll(fds, n, timeout);
	return mixed_poll(fds, n, timeout);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		abort();
	return poll(fds, n, timeout);
}

static int ts_to_ms(const struct timespec *ts)
{
	if (!ts)
		return -1;
	int64_t ms = (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* The signal mask is swapped around the wait, not atomically with it (doc/PRELOAD.md). */
EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	RESOLVE();
	static int (*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	if (!real_ppoll)
		*(void **)&real_ppoll = dlsym(RTLD_NEXT, "ppoll");
	if (!any_ours(fds, n))
		return real_ppoll(fds, n, ts, mask);
	sigset_t old;
	if (mask)
		pthread_sigmask(SIG_SETMASK, mask, &old);
	int rc = mixed_poll(fds, n, ts_to_ms(ts));
	if (mask) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = e;
	}
	return rc;
}

/* ---- select ---- */

static int mixed_select(int nfds, fd_set *r, fd_set *w, fd_set *x, int timeout)
{
	struct pollfd p[FD_SETSIZE];
	nfds_t n = 0;
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		short ev = (r && FD_ISSET(fd, r) ? POLLIN : 0) | (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
			   (x && FD_ISSET(fd, x) ? POLLPRI : 0);
		if (ev)
			p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	int rc = mixed_poll(p, n, timeout);
	if (rc < 0)
		return -1;
	for (nfds_t i = 0; i < n; i++)
		if (p[i].revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
	int count = 0;
	for (nfds_t i = 0; i < n; i++) {
		int fd = p[i].fd;
		short re = p[i].revents;
		if (r && FD_ISSET(fd, r)) {
			if (re & (POLLIN | POLLHUP | POLLERR))
				count++;
			else
				FD_CLR(fd, r);
		}
		if (w && FD_ISSET(fd, w)) {
			if (re & (POLLOUT | POLLERR))
				count++;
			else
				FD_CLR(fd, w);
		}
		if (x && FD_ISSET(fd, x)) {
			if (re & POLLPRI)
				count++;
			else
				FD_CLR(fd, x);
		}
	}
	return count;
}

static int select_has_ours(int nfds, fd_set *r, fd_set *w, fd_set *x)
{
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x))) &&
		    preload_lookup(fd))
			return 1;
	return 0;
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	RESOLVE();
	if (!select_has_ours(nfds, r, w, x))
		return real_select(nfds, r, w, x, tv);
	int timeout = -1;
	if (tv) {
		int64_t ms = (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
		timeout = ms > 0x7fffffff ? 0x7fffffff : (int)ms;
	}
	int64_t t0 = now_ms();
	int rc = mixed_select(nfds, r, w, x, timeout);
	if (tv) {               /* Linux writes back the time not slept */
		int64_t left = timeout - (now_ms() - t0);
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000;
		tv->tv_usec = (left % 1000) * 1000;
	}
	return rc;
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
		   const sigset_t *mask)
{
	RESOLVE();
	static int (*real_pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
				   const sigset_t *);
	if (!real_pselect)
		*(void **)&real_pselect = dlsym(RTLD_NEXT, "pselect");
	if (!select_has_ours(nfds, r, w, x))
		return real_pselect(nfds, r, w, x, ts, mask);
	sigset_t old;
	if (mask)
		pthread_sigmask(SIG_SETMASK, mask, &old);
	int rc = mixed_select(nfds, r, w, x, ts_to_ms(ts));
	if (mask) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = e;
	}
	return rc;
}

/* ---- epoll ---- */

struct epmember {
	int fd;                 /* the program's descriptor (the mirror) */
	struct psock *ps;
	uint32_t events;        /* as given */
	int disabled;           /* reported once with EPOLLONESHOT */
	int pending;            /* EPOLLET: a change not yet looked at */
	epoll_data_t data;
};

struct epset {
	int epfd;
	pthread_mutex_t lock;   /* protects m, n, cap */
	struct epmember *m;
	int n, cap;
	struct epset *next;     /* on epsets: protected by epsets_lock */
};

/* Protects epset_of[] and the list of sets. */
static pthread_mutex_t epsets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct epset *_Atomic epset_of[PRELOAD_MAXFD];
static struct epset *epsets;

static struct epset *epset_get(int epfd, int create)
{
	if (epfd < 0 || epfd >= PRELOAD_MAXFD)
		return NULL;
	struct epset *s = atomic_load(&epset_of[epfd]);
	if (s || !create)
		return s;
	pthread_mutex_lock(&epsets_lock);
	s = atomic_load(&epset_of[epfd]);
	if (!s && (s = calloc(1, sizeof *s))) {
		s->epfd = epfd;
		pthread_mutex_init(&s->lock, NULL);
		s->next = epsets;
		epsets = s;
		atomic_store(&epset_of[epfd], s);
	}
	pthread_mutex_unlock(&epsets_lock);
	return s;
}

void preload_epoll_forget(int epfd)
{
	if (epfd < 0 || epfd >= PRELOAD_MAXFD || !atomic_load(&epset_of[epfd]))
		return;
	pthread_mutex_lock(&epsets_lock);
	struct epset *s = atomic_exchange(&epset_of[epfd], NULL);
	if (s) {
		for (struct epset **pp = &epsets; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		pthread_mutex_destroy(&s->lock);
		free(s->m);
		free(s);
	}
	pthread_mutex_unlock(&epsets_lock);
}

static void member_remove(struct epset *s, int i)
{
	s->m[i] = s->m[--s->n];
}

void preload_epoll_drop(struct psock *ps)
{
	pthread_mutex_lock(&epsets_lock);
	for (struct epset *s = epsets; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->n; i++)
			if (s->m[i].ps == ps)
				member_remove(s, i--);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&epsets_lock);
}

static int member_find(struct epset *s, int fd)
{
	for (int i = 0; i < s->n; i++)
		if (s->m[i].fd == fd)
			return i;
	return -1;
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "epoll_ctl") ? -1 : real_epoll_ctl(epfd, op, fd, ev);
	if (op != EPOLL_CTL_DEL && !ev) {
		errno = EFAULT;
		return -1;
	}
	struct epoll_event kev = { .events = EPOLLIN, .data.u64 = MIRROR_MARK | (uint32_t)fd };
	if (op == EPOLL_CTL_ADD) {
		/* The kernel checks epfd, fd and duplicates first. */
		if (real_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &kev) < 0)
			return -1;
	} else if (op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL) {
		errno = EINVAL;
		return -1;
	}
	struct epset *s = epset_get(epfd, op == EPOLL_CTL_ADD);
	if (!s) {
		if (op == EPOLL_CTL_ADD) {
			real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			errno = ENOMEM;
		} else {
			errno = ENOENT;
		}
		return -1;
	}
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	int i = member_find(s, fd);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (s->n == s->cap) {
			int cap = s->cap ? s->cap * 2 : 16;
			struct epmember *m = realloc(s->m, (size_t)cap * sizeof *m);
			if (!m) {
				real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
				errno = ENOMEM;
				rc = -1;
				break;
			}
			s->m = m;
			s->cap = cap;
		}
		if (i >= 0)             /* a stale entry of a closed descriptor */
			member_remove(s, i);
		s->m[s->n++] = (struct epmember){ .fd = fd, .ps = ps, .events = ev->events,
						   .data = ev->data, .pending = 1 };
		break;
	case EPOLL_CTL_MOD:
		if (i < 0) {
			errno = ENOENT;
			rc = -1;
		} else {
			s->m[i].events = ev->events;
			s->m[i].data = ev->data;
			s->m[i].disabled = 0;
			s->m[i].pending = 1;    /* Linux reports what is ready after a MOD */
		}
		break;
	case EPOLL_CTL_DEL:
		if (i < 0) {
			errno = ENOENT;
			rc = -1;
		} else {
			member_remove(s, i);
			real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	PDBG("epoll_ctl(%d, %d, %d, 0x%x) = %d", epfd, op, fd, ev ? ev->events : 0, rc);
	return rc;
}

/* Report ready ustack members of s into evs (at most max); returns how many. */
static int epoll_ours(struct epset *s, struct epoll_event *evs, int max)
{
	enum { LOCAL = 64 };
	struct pollfd ulocal[LOCAL];
	pthread_mutex_lock(&s->lock);
	int n = s->n;
	struct pollfd *u = n <= LOCAL ? ulocal : calloc((size_t)n, sizeof *u);
	if (!u) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct epmember *m = &s->m[i];
		if (preload_drain(m->fd))
			m->pending = 1;
		u[i].fd = preload_lookup(m->fd) == m->ps ? m->ps->usfd : -1;
		u[i].events = (short)(m->events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP));
		u[i].revents = 0;
	}
	pthread_mutex_unlock(&s->lock);
	int got = 0;
	if (us_poll(preload_stack_now(), u, (nfds_t)n, 0) > 0) {
		pthread_mutex_lock(&s->lock);
		/* Members may have changed meanwhile: match by descriptor again. */
		for (int i = 0; i < n && got < max; i++) {
			if (!u[i].revents || u[i].fd < 0)
				continue;
			for (int j = 0; j < s->n; j++) {
				struct epmember *m = &s->m[j];
				if (m->ps->usfd != u[i].fd)
					continue;
				if (m->disabled)
					break;  /* EPOLLONESHOT reported it: silent until EPOLL_CTL_MOD */
				if (m->events & EPOLLET) {
					/* Edge: only after a change of the socket since the last look. */
					int changed = m->pending;
					m->pending = 0;
					if (!changed)
						break;
				}
				uint32_t want = (m->events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)) |
						EPOLLERR | EPOLLHUP;
				uint32_t re = (uint32_t)u[i].revents & want;
				if (!re)
					break;
				evs[got].events = re;
				evs[got].data = m->data;
				got++;
				if (m->events & EPOLLONESHOT)
					m->disabled = 1;
				break;
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (n > LOCAL)
		free(u);
	return got;
}

EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	RESOLVE();
	struct epset *s = epset_get(epfd, 0);
	if (!s || max <= 0)
		return real_epoll_wait(epfd, evs, max, timeout);
	int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
	for (;;) {
		int got = epoll_ours(s, evs, max);
		int kr = 0;
		if (got < max) {
			kr = real_epoll_wait(epfd, evs + got, max - got, got ? 0 : left_ms(deadline));
			if (kr < 0) {
				if (got)
					return got;
				return -1;
			}
		}
		/* Drop the mirrors' wake-ups: the next round asks the stack. */
		int out = got;
		for (int i = got; i < got + kr; i++)
			if ((evs[i].data.u64 & MIRROR_MASK) != MIRROR_MARK)
				evs[out++] = evs[i];
		if (out > 0 || left_ms(deadline) == 0)
			return out;
	}
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout,
		       const sigset_t *mask)
{
	sigset_t old;
	if (mask)
		pthread_sigmask(SIG_SETMASK, mask, &old);
	int rc = epoll_wait(epfd, evs, max, timeout);
	if (mask) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = e;
	}
	return rc;
}
