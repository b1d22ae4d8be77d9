/*
 * epoll.c — readiness for many sockets at once: us_epoll_create/ctl/wait
 * (Linux epoll's semantics: level- and edge-triggered, EPOLLONESHOT), and
 * a per-socket readiness callback (us_set_ready_callback) for code that
 * mirrors a socket's readiness elsewhere, such as a kernel eventfd.
 *
 * Both hang off the socket's poll registrations (socket.h): every state
 * change of a socket calls us_sock_wake(), with the socket's lock held,
 * which calls each registration's notify. An epoll item's notify puts the
 * item on its instance's ready list; us_epoll_wait takes ready items, asks
 * each socket its readiness under its own lock, reports what is ready and
 * puts level-triggered items that are still ready back (Linux
 * ep_send_events): so a level-triggered item is reported as long as it is
 * ready, an edge-triggered one once per wake-up.
 *
 * The epoll instance is a descriptor of the socket table (type
 * US_SOCK_EPOLL), closed with us_close; socket calls on it fail with
 * ENOTSOCK. Closing a watched socket removes it from every epoll set (as
 * Linux does when the last descriptor of a file goes).
 *
 * Locks (doc/LOCKING.md): ep->lock protects the item list, the ready list
 * and every item's events/data/ready/oneshot state; it is taken after a
 * watched socket's lock (notify runs under it) and after the epoll
 * descriptor's own socket lock (poll), never before either. An item is
 * reference counted: the instance's list holds one, and us_epoll_wait holds
 * one while it looks at the item outside ep->lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "api.h"
#include "sockproto.h"
#include "stack.h"

struct us_epitem {
	struct us_pollreg reg;          /* on s->polls: protected by s->lock */
	struct us_epoll *ep;            /* fixed */
	struct us_sock *s;              /* fixed; a reference held by the item */
	int fd;                         /* fixed */
	_Atomic int refs;
	/* Protected by ep->lock. */
	uint32_t events;                /* EPOLLIN | EPOLLOUT | ... | EPOLLET | EPOLLONESHOT */
	epoll_data_t data;
	bool ready;                     /* on the ready list */
	bool disarmed;                  /* EPOLLONESHOT reported: silent until EPOLL_CTL_MOD */
	bool linked;                    /* on the item list (not deleted) */
	struct us_epitem *next, *rnext; /* item list, ready list */
	struct us_epitem *dnext;        /* collect's list of level-triggered items to put back */
};

struct us_epoll {
	pthread_mutex_t lock;           /* protects the lists and each item's mutable state */
	pthread_cond_t cond;            /* us_epoll_wait sleeps here (CLOCK_MONOTONIC) */
	struct us_epitem *items, *ready, **ready_tail;
	int waiters;
};

static void item_put(struct us_epitem *it)
{
	if (atomic_fetch_sub(&it->refs, 1) == 1) {
		us_sock_put(it->s);
		free(it);
	}
}

/* With ep->lock: put it on the ready list (once). */
static void ready_add(struct us_epoll *ep, struct us_epitem *it)
{
	if (it->ready || it->disarmed || !it->linked)
		return;
	it->ready = true;
	it->rnext = NULL;
	*ep->ready_tail = it;
	ep->ready_tail = &it->rnext;
}

/* notify of an item's registration: the watched socket's lock is held. */
static void item_notify(struct us_pollreg *r)
{
	struct us_epitem *it = (struct us_epitem *)r;
	struct us_epoll *ep = it->ep;
	pthread_mutex_lock(&ep->lock);
	ready_add(ep, it);
	if (ep->waiters)
		pthread_cond_broadcast(&ep->cond);
	pthread_mutex_unlock(&ep->lock);
}

/* With s->lock: link / unlink a registration on the socket's list. */
static void reg_link(struct us_sock *s, struct us_pollreg *r)
{
	r->next = s->polls.next;
	r->prev = &s->polls;
	s->polls.next->prev = r;
	s->polls.next = r;
}

static void reg_unlink(struct us_pollreg *r)
{
	if (!r->next)
		return;
	r->prev->next = r->next;
	r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

/* ---- the epoll descriptor's protocol operations ------------------------- */

static short ep_poll(struct us_sock *s)
{
	struct us_epoll *ep = s->ep;
	pthread_mutex_lock(&ep->lock);
	short r = ep->ready ? POLLIN : 0;
	pthread_mutex_unlock(&ep->lock);
	return r;
}

static void ep_close(struct us_sock *s)
{
	(void)s;        /* the items go with the last reference (ep_destroy) */
}

/* Last reference gone, no lock held: unregister every item, free all. */
static void ep_destroy(struct us_sock *s)
{
	struct us_epoll *ep = s->ep;
	if (!ep)
		return;
	for (;;) {
		pthread_mutex_lock(&ep->lock);
		struct us_epitem *it = ep->items;
		if (it) {
			ep->items = it->next;
			it->linked = false;
		}
		pthread_mutex_unlock(&ep->lock);
		if (!it)
			break;
		pthread_mutex_lock(&it->s->lock);
		reg_unlink(&it->reg);
		pthread_mutex_unlock(&it->s->lock);
		item_put(it);
	}
	pthread_cond_destroy(&ep->cond);
	pthread_mutex_destroy(&ep->lock);
	free(ep);
	s->ep = NULL;
}

const struct us_proto_ops us_epoll_ops = {
	.close = ep_close,
	.poll = ep_poll,
	.destroy = ep_destroy,
};

/* ---- API ------------------------------------------------------------------ */

static int fail(int e)
{
	errno = e;
	return -1;
}

int us_epoll_create(us_stack *st)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	struct us_epoll *ep = calloc(1, sizeof *ep);
	if (!ep)
		return fail(ENOMEM);
	pthread_mutex_init(&ep->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ep->cond, &ca);
	pthread_condattr_destroy(&ca);
	ep->ready_tail = &ep->ready;
	struct us_sock *s = us_sock_alloc(st, US_SOCK_EPOLL);
	if (!s) {
		pthread_cond_destroy(&ep->cond);
		pthread_mutex_destroy(&ep->lock);
		free(ep);
		return fail(ENOMEM);
	}
	s->ep = ep;
	int fd = us_socktab_install(st, s);
	if (fd < 0) {
		us_sock_put(s);
		return -1;
	}
	return fd;
}

/* The epoll behind epfd, with a reference to its socket; NULL and errno. */
static struct us_sock *epoll_get(us_stack *st, int epfd)
{
	struct us_sock *s = us_sock_get(st, epfd);
	if (s && s->type != US_SOCK_EPOLL) {
		us_sock_put(s);
		errno = EINVAL;
		return NULL;
	}
	return s;
}

static struct us_epitem *find_item(struct us_epoll *ep, int fd, struct us_sock *s)
{
	for (struct us_epitem *it = ep->items; it; it = it->next)
		if (it->fd == fd && it->s == s)
			return it;
	return NULL;
}

static const uint32_t EV_MASK = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLERR | EPOLLHUP |
				EPOLLET | EPOLLONESHOT;

int us_epoll_ctl(us_stack *st, int epfd, int op, int fd, struct epoll_event *ev)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	if (op != EPOLL_CTL_DEL && !ev)
		return fail(EFAULT);
	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL)
		return fail(EINVAL);
	struct us_sock *es = epoll_get(st, epfd);
	if (!es)
		return -1;
	if (fd == epfd) {
		us_sock_put(es);
		return fail(EINVAL);
	}
	struct us_sock *s = us_sock_get(st, fd);
	if (!s) {
		us_sock_put(es);
		return -1;
	}
	if (s->type == US_SOCK_EPOLL) {         /* nested epoll sets: not supported */
		us_sock_put(s);
		us_sock_put(es);
		return fail(EINVAL);
	}
	struct us_epoll *ep = es->ep;
	int rc = 0;
	/* Order: the watched socket's lock, then ep->lock. */
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&ep->lock);
	struct us_epitem *it = find_item(ep, fd, s);
	if (op == EPOLL_CTL_ADD) {
		if (it) {
			rc = EEXIST;
		} else if (!(it = calloc(1, sizeof *it))) {
			rc = ENOMEM;
		} else {
			it->ep = ep;
			it->s = s;
			us_sock_hold(s);
			it->fd = fd;
			atomic_init(&it->refs, 1);
			it->events = (ev->events & EV_MASK) | EPOLLERR | EPOLLHUP;
			it->data = ev->data;
			it->linked = true;
			it->next = ep->items;
			ep->items = it;
			it->reg.notify = item_notify;
			reg_link(s, &it->reg);
			ready_add(ep, it);      /* report what is ready already */
		}
	} else if (!it) {
		rc = ENOENT;
	} else if (op == EPOLL_CTL_MOD) {
		it->events = (ev->events & EV_MASK) | EPOLLERR | EPOLLHUP;
		it->data = ev->data;
		it->disarmed = false;
		ready_add(ep, it);
	} else {
		reg_unlink(&it->reg);
		it->linked = false;
		for (struct us_epitem **pp = &ep->items; *pp; pp = &(*pp)->next)
			if (*pp == it) {
				*pp = it->next;
				break;
			}
		/* A ready item stays on the ready list until a wait drops it. */
		if (!it->ready)
			item_put(it);
	}
	if (rc == 0 && (op != EPOLL_CTL_DEL) && ep->waiters)
		pthread_cond_broadcast(&ep->cond);
	pthread_mutex_unlock(&ep->lock);
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	us_sock_put(es);
	return rc ? fail(rc) : 0;
}

/* Take the ready list (ep->lock held): each item gains a reference. */
static struct us_epitem *take_ready(struct us_epoll *ep)
{
	struct us_epitem *list = ep->ready;
	ep->ready = NULL;
	ep->ready_tail = &ep->ready;
	for (struct us_epitem *it = list; it; it = it->rnext) {
		it->ready = false;
		atomic_fetch_add(&it->refs, 1);
	}
	return list;
}

/*
 * One pass over the ready items: report up to max, put back the
 * level-triggered ones still ready and the ones not reported for lack of
 * room; an item whose socket was closed leaves the set.
 */
static int collect(struct us_epoll *ep, struct epoll_event *out, int max)
{
	int n = 0;
	struct us_epitem *again = NULL, **again_tail = &again;
	pthread_mutex_lock(&ep->lock);
	struct us_epitem *list = take_ready(ep);
	pthread_mutex_unlock(&ep->lock);
	while (list) {
		struct us_epitem *it = list;
		list = it->rnext;
		pthread_mutex_lock(&it->s->lock);
		bool closed = it->s->closed;
		short r = closed ? 0 : us_sock_revents(it->s);
		if (closed)
			reg_unlink(&it->reg);
		pthread_mutex_unlock(&it->s->lock);
		pthread_mutex_lock(&ep->lock);
		bool drop_list_ref = false, keep = false;
		if (closed && it->linked) {
			it->linked = false;
			for (struct us_epitem **pp = &ep->items; *pp; pp = &(*pp)->next)
				if (*pp == it) {
					*pp = it->next;
					break;
				}
			drop_list_ref = true;
		} else if (!it->linked) {
			drop_list_ref = true;   /* deleted while ready: the list's reference */
		}
		uint32_t ev = (uint32_t)r & it->events;
		if (it->linked && !it->disarmed && ev) {
			if (n < max) {
				out[n].events = ev;
				out[n].data = it->data;
				n++;
				if (it->events & EPOLLONESHOT) {
					it->disarmed = true;
				} else if (!(it->events & EPOLLET)) {
					/* Level-triggered: looked at again next time, after
					 * the ones this call had no room for (Linux's order). */
					it->dnext = NULL;
					*again_tail = it;
					again_tail = &it->dnext;
					keep = true;
				}
			} else {
				ready_add(ep, it);      /* no room: first in line next time */
			}
		}
		pthread_mutex_unlock(&ep->lock);
		if (drop_list_ref)
			item_put(it);
		if (!keep)
			item_put(it);
	}
	if (again) {
		pthread_mutex_lock(&ep->lock);
		for (struct us_epitem *it = again; it; it = it->dnext)
			ready_add(ep, it);
		pthread_mutex_unlock(&ep->lock);
		for (struct us_epitem *it = again, *nx; it; it = nx) {
			nx = it->dnext;
			item_put(it);
		}
	}
	return n;
}

int us_epoll_wait(us_stack *st, int epfd, struct epoll_event *events, int maxevents,
		  int timeout_ms)
{
	US_API_POINT();
	US_API_LIVE(st, -1);
	if (maxevents <= 0)
		return fail(EINVAL);
	if (!events)
		return fail(EFAULT);
	struct us_sock *es = epoll_get(st, epfd);
	if (!es)
		return -1;
	struct us_epoll *ep = es->ep;
	uint64_t deadline = timeout_ms > 0 ? us_monotonic_ns() + (uint64_t)timeout_ms * US_NS_PER_MS
					   : 0;
	int n, err = 0;
	for (;;) {
		n = collect(ep, events, maxevents);
		if (n || timeout_ms == 0 || st->deterministic)
			break;
		if (atomic_load(&st->stopping)) {
			err = ESHUTDOWN;
			break;
		}
		pthread_mutex_lock(&ep->lock);
		int rc = 0;
		ep->waiters++;
		while (!ep->ready && rc != ETIMEDOUT && !atomic_load(&st->stopping)) {
			/* Wake at least every 200 ms to see a stop. */
			uint64_t t = us_monotonic_ns() + 200 * US_NS_PER_MS;
			if (deadline && deadline < t)
				t = deadline;
			struct timespec ts = { .tv_sec = (time_t)(t / US_NS_PER_SEC),
					       .tv_nsec = (long)(t % US_NS_PER_SEC) };
			rc = pthread_cond_timedwait(&ep->cond, &ep->lock, &ts);
			if (rc == ETIMEDOUT && (!deadline || us_monotonic_ns() < deadline))
				rc = 0;
		}
		ep->waiters--;
		pthread_mutex_unlock(&ep->lock);
		if (rc == ETIMEDOUT) {
			n = collect(ep, events, maxevents);
			break;
		}
	}
	us_sock_put(es);
	return err ? fail(err) : n;
}

/* ---- the per-socket readiness callback ------------------------------------ */

static void cb_notify(struct us_pollreg *r)
{
	struct us_sock *s = (struct us_sock *)((char *)r - offsetof(struct us_sock, cbreg));
	if (s->ready_cb)
		s->ready_cb(s->ready_arg, s->fd);
}

int us_set_ready_callback(us_stack *st, int fd, void (*cb)(void *arg, int fd), void *arg)
{
	US_API_CALL();
	US_API_LIVE(st, -1);
	struct us_sock *s = us_sock_get(st, fd);
	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	reg_unlink(&s->cbreg);
	s->ready_cb = cb;
	s->ready_arg = arg;
	if (cb) {
		s->cbreg.notify = cb_notify;
		reg_link(s, &s->cbreg);
		cb(arg, fd);            /* the state now, as a first notification */
	}
	pthread_mutex_unlock(&s->lock);
	us_sock_put(s);
	return 0;
}
