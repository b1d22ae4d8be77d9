/*
 * preload.c — libustack-preload.so: the stack, the descriptor table and
 * the descriptor-level calls (socket, bind, listen, accept, connect,
 * close, shutdown, options, names, fcntl, ioctl, dup). Data calls live in
 * preload_io.c, readiness calls in preload_poll.c. doc/PRELOAD.md.
 *
 * Locks: table_lock serialises changes of the descriptor table (socket
 * creation, close, dup); lookups read the table's atomics without it.
 * The stack's own locks are taken only inside us_* calls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

int (*real_socket)(int, int, int);
int (*real_close)(int);
ssize_t (*real_read)(int, void *, size_t);
ssize_t (*real_write)(int, const void *, size_t);
int (*real_poll)(struct pollfd *, nfds_t, int);
int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
int (*real_epoll_ctl)(int, int, int, struct epoll_event *);
int (*real_epoll_wait)(int, struct epoll_event *, int, int);
int (*real_fcntl)(int, int, ...);
int (*real_ioctl)(int, unsigned long, ...);
int (*real_dup)(int);
int (*real_dup2)(int, int);
int (*real_dup3)(int, int, int);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_shutdown)(int, int);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_getpeername)(int, struct sockaddr *, socklen_t *);

int preload_debug;

void preload_resolve(void)
{
#define R(name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)
	R(socket); R(read); R(write); R(poll); R(select); R(epoll_ctl);
	R(epoll_wait); R(fcntl); R(ioctl); R(dup); R(dup2); R(dup3); R(bind);
	R(listen); R(accept4); R(connect); R(shutdown); R(getsockopt);
	R(setsockopt); R(getsockname); R(getpeername);
	R(close);       /* last: RESOLVE() tests it */
#undef R
}

void preload_log(const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof line, "ustack-preload[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	int e = errno;
	if (real_write(2, line, (size_t)n) < 0)
		(void)0;
	errno = e;
}

/* ---- the stack ---- */

static pthread_once_t stack_once = PTHREAD_ONCE_INIT;
static us_stack *_Atomic the_stack;
static int stack_errno;                 /* why the_stack is NULL after the once */
static _Atomic int in_child;            /* after fork: the stack is the parent's */
static int has_resolver;                /* the config has hosts: or nameservers: */

/* Non-zero while this thread runs the stack's set-up: its socket() calls go to libc. */
static _Thread_local int in_setup;

static void stack_start_once(void)
{
	const char *path = getenv("USTACK_CONFIG");
	char err[512];
	static struct us_config cfg;    /* large; used once */
	if (!path || !*path) {
		fprintf(stderr, "libustack-preload: USTACK_CONFIG is not set: no stack for AF_INET sockets\n");
		stack_errno = EAFNOSUPPORT;
		return;
	}
	if (us_config_load(path, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "libustack-preload: %s\n", err);
		stack_errno = EAFNOSUPPORT;
		return;
	}
	has_resolver = cfg.nhosts > 0 || cfg.nnameservers > 0;
	in_setup++;
	us_stack *st = us_stack_new(&cfg, 0, err, sizeof err);
	if (!st) {
		fprintf(stderr, "libustack-preload: %s\n", err);
		stack_errno = EAFNOSUPPORT;
	} else if (us_stack_start(st) < 0) {
		fprintf(stderr, "libustack-preload: starting the stack: %s\n", strerror(errno));
		us_stack_free(st);
		stack_errno = EAFNOSUPPORT;
	} else {
		atomic_store(&the_stack, st);
		PDBG("stack up from %s", path);
	}
	in_setup--;
}

us_stack *preload_stack(void)
{
	if (atomic_load(&in_child)) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	pthread_once(&stack_once, stack_start_once);
	us_stack *st = atomic_load(&the_stack);
	if (!st)
		errno = stack_errno;
	return st;
}

int preload_has_resolver(void)
{
	return preload_stack() && has_resolver;
}

us_stack *preload_stack_now(void)
{
	return atomic_load(&the_stack);
}

/* ---- the descriptor table ---- */

static struct psock *_Atomic table[PRELOAD_MAXFD];
/* Protects changes of table[] and of every psock's refs. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

struct psock *preload_lookup(int fd)
{
	if (fd < 0 || fd >= PRELOAD_MAXFD || atomic_load_explicit(&in_child, memory_order_relaxed))
		return NULL;
	return atomic_load_explicit(&table[fd], memory_order_acquire);
}

int preload_drain(int fd)
{
	uint64_t v;
	int any = 0;
	while (real_read(fd, &v, sizeof v) == (ssize_t)sizeof v)
		any = 1;
	return any;
}

/* The stack's ready callback: runs under the socket's lock on any thread. */
static void mirror_cb(void *arg, int usfd)
{
	struct psock *ps = arg;
	uint64_t one = 1;
	int e = errno;
	if (real_write(atomic_load(&ps->wfd), &one, sizeof one) < 0)
		(void)0;        /* EAGAIN: the counter is full, which is readable too */
	if (atomic_load(&ps->nwait)) {
		/* Lock order: the stack's socket lock (held here), then wlock. */
		pthread_mutex_lock(&ps->wlock);
		for (int i = 0; i < (int)(sizeof ps->waiters / sizeof ps->waiters[0]); i++)
			if (ps->waiters[i] >= 0 && real_write(ps->waiters[i], &one, sizeof one) < 0)
				(void)0;
		pthread_mutex_unlock(&ps->wlock);
	}
	errno = e;
}

/* ---- blocking in the shim (preload.h, struct pwait) ---- */

static pthread_key_t waiter_key;
static pthread_once_t waiter_once = PTHREAD_ONCE_INIT;
static _Thread_local int waiter_efd = -1;

static void waiter_gone(void *p)
{
	real_close((int)(intptr_t)p - 1);
}

static void waiter_key_make(void)
{
	pthread_key_create(&waiter_key, waiter_gone);
}

/* The calling thread's blocking eventfd (closed when the thread exits). */
static int thread_waiter(void)
{
	if (waiter_efd < 0) {
		waiter_efd = eventfd(0, EFD_CLOEXEC);
		if (waiter_efd >= 0) {
			pthread_once(&waiter_once, waiter_key_make);
			pthread_setspecific(waiter_key, (void *)(intptr_t)(waiter_efd + 1));
		}
	}
	return waiter_efd;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void preload_wait_begin(struct pwait *w, struct psock *ps, int timeo_opt)
{
	struct timeval tv = { 0, 0 };
	socklen_t tl = sizeof tv;
	w->ps = ps;
	w->slot = -1;
	w->deadline_ns = -1;
	if (us_getsockopt(preload_stack_now(), ps->usfd, SOL_SOCKET, timeo_opt, &tv, &tl) == 0 &&
	    (tv.tv_sec || tv.tv_usec))
		w->deadline_ns = mono_ns() + (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
	w->efd = thread_waiter();
	if (w->efd < 0)
		return;
	pthread_mutex_lock(&ps->wlock);
	for (int i = 0; i < (int)(sizeof ps->waiters / sizeof ps->waiters[0]); i++)
		if (ps->waiters[i] < 0) {
			ps->waiters[i] = w->efd;
			w->slot = i;
			atomic_fetch_add(&ps->nwait, 1);
			break;
		}
	pthread_mutex_unlock(&ps->wlock);
}

static int preload_wait_once(struct pwait *w);

int preload_wait(struct pwait *w)
{
	int rc = preload_wait_once(w);
	if (rc == 0 && atomic_load(&w->ps->closing)) {
		errno = EBADF;
		return -1;
	}
	return rc;
}

static int preload_wait_once(struct pwait *w)
{
	uint64_t v;
	if (atomic_load(&w->ps->closing)) {
		errno = EBADF;
		return -1;
	}
	if (w->slot >= 0 && w->deadline_ns < 0) {
		/* A blocking read: restarted by the kernel after an SA_RESTART handler. */
		if (real_read(w->efd, &v, sizeof v) < 0)
			return -1;      /* EINTR */
		return 0;
	}
	int ms = -1;
	if (w->deadline_ns >= 0) {
		int64_t left = w->deadline_ns - mono_ns();
		if (left <= 0) {
			errno = EAGAIN;
			return -1;
		}
		ms = (int)((left + 999999) / 1000000);
	}
	if (w->slot < 0 && (ms < 0 || ms > 5))
		ms = 5;         /* not registered (too many waiters): look again soon */
	struct pollfd p = { .fd = w->efd, .events = POLLIN };
	int n = real_poll(&p, w->efd >= 0 ? 1 : 0, ms);
	if (n < 0)
		return -1;      /* EINTR: never restarted with a timeout (Linux) */
	if (n > 0 && real_read(w->efd, &v, sizeof v) < 0)
		(void)0;
	return 0;
}

void preload_wait_end(struct pwait *w)
{
	struct psock *ps = w->ps;
	if (w->slot < 0)
		return;
	pthread_mutex_lock(&ps->wlock);
	ps->waiters[w->slot] = -1;
	pthread_mutex_unlock(&ps->wlock);
	/* Last: once nwait is 0, release() may destroy wlock and free ps. */
	atomic_fetch_sub(&ps->nwait, 1);
}

/* Give usfd a mirror eventfd and a table slot; returns the kernel fd or -1. */
static int adopt(us_stack *st, int usfd, int type, int flags)
{
	int efd = eventfd(0, EFD_NONBLOCK | ((flags & SOCK_CLOEXEC) ? EFD_CLOEXEC : 0));
	if (efd < 0) {
		int e = errno;
		us_close(st, usfd);
		errno = e;
		return -1;
	}
	if (efd >= PRELOAD_MAXFD) {
		real_close(efd);
		us_close(st, usfd);
		errno = EMFILE;
		return -1;
	}
	struct psock *ps = calloc(1, sizeof *ps);
	if (!ps) {
		real_close(efd);
		us_close(st, usfd);
		errno = ENOMEM;
		return -1;
	}
	ps->usfd = usfd;
	ps->type = type;
	atomic_init(&ps->wfd, efd);
	atomic_init(&ps->refs, 1);
	atomic_init(&ps->nonblock, (flags & SOCK_NONBLOCK) != 0);
	pthread_mutex_init(&ps->wlock, NULL);
	for (int i = 0; i < (int)(sizeof ps->waiters / sizeof ps->waiters[0]); i++)
		ps->waiters[i] = -1;
	us_fcntl(st, usfd, F_SETFL, O_NONBLOCK);       /* the shim blocks, not the stack */
	pthread_mutex_lock(&table_lock);
	atomic_store_explicit(&table[efd], ps, memory_order_release);
	pthread_mutex_unlock(&table_lock);
	us_set_ready_callback(st, usfd, mirror_cb, ps);
	return efd;
}

/*
 * Forget fd as a name of its socket (table_lock held); returns the socket
 * when fd was its last descriptor (the caller closes it), else NULL.
 */
static struct psock *unname_locked(int fd)
{
	struct psock *ps = atomic_load(&table[fd]);
	if (!ps)
		return NULL;
	atomic_store(&table[fd], NULL);
	if (atomic_fetch_sub(&ps->refs, 1) > 1) {
		if (atomic_load(&ps->wfd) == fd) {
			/* The callback writes fd: point it at another descriptor of the same eventfd. */
			int keep = -1;
			for (int i = 0; i < PRELOAD_MAXFD && keep < 0; i++)
				if (i != fd && atomic_load(&table[i]) == ps)
					keep = i;
			atomic_store(&ps->wfd, keep);
		}
		return NULL;
	}
	return ps;
}

static void release(struct psock *ps)
{
	us_stack *st = preload_stack_now();
	/*
	 * Threads still blocked in a call on this socket (another thread's
	 * close: a race in the program) are woken and leave with EBADF before
	 * ps goes away, rather than sleeping for ever on a socket that no
	 * longer calls back. Bounded: a waiter leaves within one wake-up.
	 */
	atomic_store(&ps->closing, 1);
	for (int tries = 0; atomic_load(&ps->nwait) && tries < 1000; tries++) {
		uint64_t one = 1;
		pthread_mutex_lock(&ps->wlock);
		for (int i = 0; i < (int)(sizeof ps->waiters / sizeof ps->waiters[0]); i++)
			if (ps->waiters[i] >= 0 && real_write(ps->waiters[i], &one, sizeof one) < 0)
				(void)0;
		pthread_mutex_unlock(&ps->wlock);
		usleep(1000);
	}
	preload_epoll_drop(ps);
	if (st) {
		us_set_ready_callback(st, ps->usfd, NULL, NULL);
		if (!atomic_load(&ps->nonblock))       /* a lingering close blocks as in Linux */
			us_fcntl(st, ps->usfd, F_SETFL, 0);
		us_close(st, ps->usfd);
	}
	pthread_mutex_destroy(&ps->wlock);
	free(ps);
}

/* Name the socket of ps also by newfd (a dup); newfd was free in the table. */
static void name_also(struct psock *ps, int newfd)
{
	if (newfd < 0 || newfd >= PRELOAD_MAXFD)
		return;
	pthread_mutex_lock(&table_lock);
	atomic_fetch_add(&ps->refs, 1);
	atomic_store(&table[newfd], ps);
	pthread_mutex_unlock(&table_lock);
}

/* Close every ustack socket and stop the stack at exit, so data and FINs leave. */
__attribute__((destructor)) static void preload_fini(void)
{
	us_stack *st = preload_stack_now();
	if (!st || atomic_load(&in_child))
		return;
	for (int fd = 0; fd < PRELOAD_MAXFD; fd++) {
		pthread_mutex_lock(&table_lock);
		struct psock *ps = atomic_load(&table[fd]) ? unname_locked(fd) : NULL;
		pthread_mutex_unlock(&table_lock);
		if (ps) {
			us_set_ready_callback(st, ps->usfd, NULL, NULL);
			us_close(st, ps->usfd);
		}
	}
	us_stack_stop(st);
}

/*
 * fork: the child keeps the table as the parent left it, but the stack
 * (its threads, its TAP descriptor's reader) stays with the parent, so
 * every entry now names a socket the child cannot use ("orphan"). Calls
 * on an orphan fail with ENOTSOCK and one message on stderr; close forgets
 * it. Nothing is freed or closed in the stack: the parent owns it.
 */
static void after_fork_child(void)
{
	atomic_store(&in_child, 1);
}

int preload_orphan(int fd, const char *call)
{
	static _Atomic int said;
	if (fd < 0 || fd >= PRELOAD_MAXFD || !atomic_load_explicit(&in_child, memory_order_relaxed) ||
	    !atomic_load(&table[fd]))
		return 0;
	if (!atomic_exchange(&said, 1))
		fprintf(stderr, "libustack-preload: %s(%d) in process %d: this descriptor is a ustack "
			"socket of the parent process, and a child after fork() cannot use the parent's "
			"stack (doc/PRELOAD.md, \"fork and exec\")\n", call, fd, (int)getpid());
	errno = ENOTSOCK;
	return 1;
}

/* socket(AF_INET) in a child after fork: EAFNOSUPPORT, said once on stderr. */
static void preload_orphan_socket(void)
{
	static _Atomic int said;
	if (!atomic_exchange(&said, 1))
		fprintf(stderr, "libustack-preload: socket(AF_INET) in process %d: a child after fork() "
			"has no ustack stack (it stays with the parent; doc/PRELOAD.md, \"fork and exec\")\n",
			(int)getpid());
	errno = EAFNOSUPPORT;
}

/* In the child: fd no longer names the parent's socket (closed or replaced). */
static void orphan_forget(int fd)
{
	if (fd >= 0 && fd < PRELOAD_MAXFD && atomic_load(&in_child))
		atomic_store(&table[fd], NULL);
}

/* In the child: newfd is a dup of fd; an orphan's dup is an orphan, any other's is not. */
static void orphan_dup(int fd, int newfd)
{
	if (fd >= 0 && fd < PRELOAD_MAXFD && newfd >= 0 && newfd < PRELOAD_MAXFD &&
	    atomic_load(&in_child))
		atomic_store(&table[newfd], atomic_load(&table[fd]));
}

__attribute__((constructor)) static void preload_init(void)
{
	RESOLVE();
	const char *d = getenv("USTACK_DEBUG");
	preload_debug = d && *d && strcmp(d, "0") != 0;
	preload_pass_init();
	pthread_atfork(NULL, NULL, after_fork_child);
}

/* ---- descriptor calls ---- */

EXPORT int socket(int domain, int type, int protocol)
{
	RESOLVE();
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	bool ours = domain == AF_INET && !in_setup &&
		((base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
		 (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP)));
	if (!ours)
		return real_socket(domain, type, protocol);
	if (preload_pass_bad()) {
		errno = EAFNOSUPPORT;   /* said on stderr at start-up */
		return -1;
	}
	us_stack *st = preload_stack();
	if (!st) {
		if (atomic_load(&in_child))
			preload_orphan_socket();
		return -1;
	}
	int usfd = us_socket(st, AF_INET, base, protocol);
	if (usfd < 0)
		return -1;
	int fd = adopt(st, usfd, base, type);
	PDBG("socket(AF_INET, %s) = %d (ustack %d)", base == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM",
	     fd, usfd);
	return fd;
}

EXPORT int bind(int fd, const struct sockaddr *a, socklen_t len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "bind") ? -1 : real_bind(fd, a, len);
	int moved = preload_pass_move(fd, ps, a, len, "bind");
	if (moved)
		return moved < 0 ? -1 : real_bind(fd, a, len);
	int rc = us_bind(preload_stack_now(), ps->usfd, a, len);
	if (rc == 0 && len >= (socklen_t)sizeof ps->bound_to) {
		pthread_mutex_lock(&table_lock);
		memcpy(&ps->bound_to, a, sizeof ps->bound_to);
		ps->bound = 1;
		pthread_mutex_unlock(&table_lock);
	}
	PDBG("bind(%d) = %d%s%s", fd, rc, rc < 0 ? " " : "", rc < 0 ? strerror(errno) : "");
	return rc;
}

EXPORT int listen(int fd, int backlog)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "listen") ? -1 : real_listen(fd, backlog);
	preload_commit(ps);
	int rc = us_listen(preload_stack_now(), ps->usfd, backlog);
	if (rc == 0)
		atomic_store(&ps->listening, 1);
	PDBG("listen(%d, %d) = %d", fd, backlog, rc);
	return rc;
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "accept4") ? -1 : real_accept4(fd, a, len, flags);
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		errno = EINVAL;
		return -1;
	}
	us_stack *st = preload_stack_now();
	int usfd;
	if (atomic_load(&ps->nonblock)) {
		usfd = us_accept(st, ps->usfd, a, len);
	} else {
		struct pwait w;
		preload_wait_begin(&w, ps, SO_RCVTIMEO);
		while ((usfd = us_accept(st, ps->usfd, a, len)) < 0 && errno == EAGAIN &&
		       preload_wait(&w) == 0)
			;
		preload_wait_end(&w);
	}
	if (usfd < 0) {
		PDBG("accept(%d) = -1 %s", fd, strerror(errno));
		return -1;
	}
	int nfd = adopt(st, usfd, ps->type, flags);
	struct psock *nps = preload_lookup(nfd);
	if (nps)
		preload_commit(nps);
	PDBG("accept(%d) = %d (ustack %d)", fd, nfd, usfd);
	return nfd;
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *len)
{
	return accept4(fd, a, len, 0);
}

/*
 * A blocking connect: wait until the handshake ends. Asking the stack
 * again answers EALREADY while it runs, EISCONN once connected, the error
 * once it failed. Interrupted: EINTR, the handshake goes on (Linux); the
 * next connect() waits for it again. SO_SNDTIMEO lapsed: EINPROGRESS.
 */
static int connect_wait(struct psock *ps, const struct sockaddr *a, socklen_t len)
{
	struct pwait w;
	int rc = -1;
	preload_wait_begin(&w, ps, SO_SNDTIMEO);
	for (;;) {
		rc = us_connect(preload_stack_now(), ps->usfd, a, len);
		if (rc == 0 || (rc < 0 && errno == EISCONN)) {
			rc = 0;
			break;
		}
		if (errno != EALREADY && errno != EINPROGRESS)
			break;
		if (preload_wait(&w) < 0) {
			if (errno == EAGAIN)
				errno = EINPROGRESS;
			break;
		}
	}
	preload_wait_end(&w);
	return rc;
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "connect") ? -1 : real_connect(fd, a, len);
	int moved = preload_pass_move(fd, ps, a, len, "connect");
	if (moved)
		return moved < 0 ? -1 : real_connect(fd, a, len);
	preload_commit(ps);
	int rc = us_connect(preload_stack_now(), ps->usfd, a, len);
	if (rc < 0 && (errno == EINPROGRESS || errno == EALREADY) && !atomic_load(&ps->nonblock))
		rc = connect_wait(ps, a, len);
	PDBG("connect(%d) = %d%s%s", fd, rc, rc < 0 ? " " : "", rc < 0 ? strerror(errno) : "");
	return rc;
}

EXPORT int shutdown(int fd, int how)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "shutdown") ? -1 : real_shutdown(fd, how);
	int rc = us_shutdown(preload_stack_now(), ps->usfd, how);
	PDBG("shutdown(%d, %d) = %d", fd, how, rc);
	return rc;
}

EXPORT int close(int fd)
{
	RESOLVE();
	struct psock *ps = NULL;
	if (preload_lookup(fd)) {
		pthread_mutex_lock(&table_lock);
		ps = unname_locked(fd);
		pthread_mutex_unlock(&table_lock);
		PDBG("close(%d)%s", fd, ps ? "" : " (a dup remains)");
		if (ps)
			release(ps);
	} else {
		orphan_forget(fd);
		preload_epoll_forget(fd);
	}
	return real_close(fd);
}

/* Socket-level options the stack does not keep but that a socket answers. */
static int sockopt_local(struct psock *ps, int level, int name, void *val, socklen_t *len)
{
	int v;
	if (level != SOL_SOCKET)
		return -1;
	switch (name) {
	case SO_DOMAIN: v = AF_INET; break;
	case SO_PROTOCOL: v = ps->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP; break;
	case SO_ACCEPTCONN: v = atomic_load(&ps->listening); break;
	default: return -1;
	}
	if (!val || !len || *len < (socklen_t)sizeof v) {
		errno = EINVAL;
		return -2;
	}
	memcpy(val, &v, sizeof v);
	*len = sizeof v;
	return 0;
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "getsockopt") ? -1 : real_getsockopt(fd, level, name, val, len);
	int rc = sockopt_local(ps, level, name, val, len);
	if (rc == -2)
		return -1;
	if (rc < 0)
		rc = us_getsockopt(preload_stack_now(), ps->usfd, level, name, val, len);
	PDBG("getsockopt(%d, %d, %d) = %d", fd, level, name, rc);
	return rc;
}

/* Keep an option set on a fresh socket for the kernel socket it may become. */
static void remember_opt(struct psock *ps, int level, int name, const void *val, socklen_t len)
{
	if (!val || len > (socklen_t)sizeof ps->opts[0].val)
		return;         /* none of the options the stack takes is longer */
	pthread_mutex_lock(&table_lock);
	int i;
	for (i = 0; i < ps->nopts; i++)
		if (ps->opts[i].level == level && ps->opts[i].name == name)
			break;
	if (i < (int)(sizeof ps->opts / sizeof ps->opts[0])) {
		ps->opts[i].level = level;
		ps->opts[i].name = name;
		ps->opts[i].len = len;
		memcpy(ps->opts[i].val, val, len);
		if (i == ps->nopts)
			ps->nopts++;
	}
	pthread_mutex_unlock(&table_lock);
}

int preload_pass_move(int fd, struct psock *ps, const struct sockaddr *a, socklen_t len,
		      const char *call)
{
	if (!preload_pass_match(a, len))
		return 0;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)a;
	if (call[0] == 'b' && sin->sin_addr.s_addr == htonl(INADDR_ANY))
		return 0;
	if (atomic_load(&ps->committed) || atomic_load(&ps->refs) != 1) {
		PDBG("%s(%d): a pass-through address, but the socket is already in use over "
		     "ustack (or dup'ed): it stays there", call, fd);
		return 0;
	}
	int k = real_socket(AF_INET, ps->type | (atomic_load(&ps->nonblock) ? SOCK_NONBLOCK : 0), 0);
	if (k < 0)
		return -1;
	pthread_mutex_lock(&table_lock);
	for (int i = 0; i < ps->nopts; i++)
		if (real_setsockopt(k, ps->opts[i].level, ps->opts[i].name, ps->opts[i].val,
				    ps->opts[i].len) < 0)
			PDBG("%s(%d): the kernel socket refused option %d/%d: %s", call, fd,
			     ps->opts[i].level, ps->opts[i].name, strerror(errno));
	struct sockaddr_in b = ps->bound_to;
	int bound = ps->bound;
	pthread_mutex_unlock(&table_lock);
	if (bound && real_bind(k, (struct sockaddr *)&b, sizeof b) < 0) {
		int e = errno;
		real_close(k);
		errno = e;
		return -1;
	}
	int cloexec = real_fcntl(fd, F_GETFD);
	pthread_mutex_lock(&table_lock);
	struct psock *gone = atomic_load(&table[fd]) == ps ? unname_locked(fd) : NULL;
	pthread_mutex_unlock(&table_lock);
	if (!gone) {            /* closed or dup'ed meanwhile by another thread */
		real_close(k);
		return 0;
	}
	release(gone);          /* leaves the epoll sets while fd is still the eventfd */
	int rc = real_dup3(k, fd, cloexec > 0 && (cloexec & FD_CLOEXEC) ? O_CLOEXEC : 0);
	int e = errno;
	real_close(k);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	PDBG("%s(%d): %s is a pass-through address: the socket moved to the kernel", call, fd,
	     inet_ntoa(sin->sin_addr));
	return 1;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "setsockopt") ? -1 : real_setsockopt(fd, level, name, val, len);
	int rc = us_setsockopt(preload_stack_now(), ps->usfd, level, name, val, len);
	if (rc == 0 && !atomic_load(&ps->committed))
		remember_opt(ps, level, name, val, len);
	PDBG("setsockopt(%d, %d, %d) = %d%s%s", fd, level, name, rc, rc < 0 ? " " : "",
	     rc < 0 ? strerror(errno) : "");
	return rc;
}

EXPORT int getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "getsockname") ? -1 : real_getsockname(fd, a, len);
	return us_getsockname(preload_stack_now(), ps->usfd, a, len);
}

EXPORT int getpeername(int fd, struct sockaddr *a, socklen_t *len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "getpeername") ? -1 : real_getpeername(fd, a, len);
	return us_getpeername(preload_stack_now(), ps->usfd, a, len);
}

static int set_nonblock(struct psock *ps, int on)
{
	atomic_store(&ps->nonblock, on != 0);   /* the stack's socket stays non-blocking */
	return 0;
}

/* dup onto the lowest free number >= min (F_DUPFD); cloexec for F_DUPFD_CLOEXEC. */
static int dup_from(int fd, int min, int cloexec)
{
	int nfd = real_fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, min);
	struct psock *ps = preload_lookup(fd);
	if (nfd >= 0 && ps)
		name_also(ps, nfd);
	return nfd;
}

static int do_fcntl(int fd, int cmd, void *arg)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps) {
		int rc = real_fcntl(fd, cmd, arg);
		if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
			orphan_dup(fd, rc);
		return rc;
	}
	switch (cmd) {
	case F_GETFL:
		return O_RDWR | (atomic_load(&ps->nonblock) ? O_NONBLOCK : 0);
	case F_SETFL:
		PDBG("fcntl(%d, F_SETFL, %s)", fd, ((long)arg & O_NONBLOCK) ? "O_NONBLOCK" : "0");
		return set_nonblock(ps, ((long)arg & O_NONBLOCK) != 0);
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return dup_from(fd, (int)(long)arg, cmd == F_DUPFD_CLOEXEC);
	default:                /* F_GETFD, F_SETFD (close-on-exec) ...: the eventfd's */
		return real_fcntl(fd, cmd, arg);
	}
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return real_ioctl(fd, req, arg);
	us_stack *st = preload_stack_now();
	switch (req) {
	case FIONBIO:
		if (!arg) {
			errno = EFAULT;
			return -1;
		}
		return set_nonblock(ps, *(int *)arg);
	case FIONREAD: {
		/* What a peek returns now (a datagram's full length with MSG_TRUNC). */
		static _Thread_local char peek[65536];
		if (!arg) {
			errno = EFAULT;
			return -1;
		}
		int fl = MSG_PEEK | MSG_DONTWAIT | (ps->type == SOCK_DGRAM ? MSG_TRUNC : 0);
		ssize_t n = us_recv(st, ps->usfd, peek, sizeof peek, fl);
		if (n < 0 && errno != EAGAIN)
			return -1;
		*(int *)arg = n < 0 ? 0 : (int)n;
		return 0;
	}
	default:
		if ((req & 0xff00) == 0x8900) {
			/* SIOC* interface requests: a kernel socket answers them. */
			int k = real_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (k < 0)
				return -1;
			int rc = real_ioctl(k, req, arg);
			int e = errno;
			real_close(k);
			errno = e;
			return rc;
		}
		errno = ENOTTY;
		return -1;
	}
}

EXPORT int dup(int fd)
{
	RESOLVE();
	int nfd = real_dup(fd);
	struct psock *ps = preload_lookup(fd);
	if (nfd >= 0 && ps)
		name_also(ps, nfd);
	orphan_dup(fd, nfd);
	return nfd;
}

/* newfd is about to be replaced by a dup: forget what it named. */
static void replaced(int newfd)
{
	if (!preload_lookup(newfd)) {
		preload_epoll_forget(newfd);
		return;
	}
	pthread_mutex_lock(&table_lock);
	struct psock *old = unname_locked(newfd);
	pthread_mutex_unlock(&table_lock);
	if (old)
		release(old);
}

EXPORT int dup3(int fd, int newfd, int flags)
{
	RESOLVE();
	if (fd == newfd || newfd < 0) {
		errno = fd == newfd ? EINVAL : EBADF;
		return -1;
	}
	struct psock *ps = preload_lookup(fd);
	if (real_fcntl(fd, F_GETFD) < 0)
		return -1;      /* EBADF, and newfd stays open as Linux leaves it */
	replaced(newfd);
	int rc = real_dup3(fd, newfd, flags);
	if (rc >= 0 && ps)
		name_also(ps, rc);
	if (rc >= 0)
		orphan_dup(fd, rc);
	return rc;
}

EXPORT int dup2(int fd, int newfd)
{
	RESOLVE();
	if (fd == newfd)
		return real_dup2(fd, newfd);
	struct psock *ps = preload_lookup(fd);
	if (real_fcntl(fd, F_GETFD) < 0 || newfd < 0)
		return real_dup2(fd, newfd);
	replaced(newfd);
	int rc = real_dup2(fd, newfd);
	if (rc >= 0 && ps)
		name_also(ps, rc);
	if (rc >= 0)
		orphan_dup(fd, rc);
	return rc;
}
