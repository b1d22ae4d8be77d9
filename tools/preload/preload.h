/*
 * preload.h — shared parts of libustack-preload.so (doc/PRELOAD.md).
 *
 * The shim interposes libc's socket calls. A ustack socket is shown to the
 * program as a kernel eventfd (the "mirror"): its number is what socket()
 * returns, so the program's descriptor table, fork, dup and the kernel's
 * readiness calls all see a real descriptor. The stack's ready callback
 * writes the eventfd whenever the socket's state may have changed; the
 * intercepted poll/select/epoll calls drain it, ask the stack what is
 * ready (us_poll) and sleep in the kernel on the eventfds next to the
 * program's own descriptors.
 *
 * Everything that is not an AF_INET stream/datagram socket goes to libc's
 * own function, found with dlsym(RTLD_NEXT) (the real_* pointers).
 */
#ifndef PRELOAD_H
#define PRELOAD_H

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ustack/ustack.h"

#define PRELOAD_MAXFD 65536     /* kernel descriptor numbers the shim tracks */

/* One ustack socket, named by one or more kernel descriptors (dup). */
struct psock {
	int usfd;               /* the stack's descriptor; fixed */
	int type;               /* SOCK_STREAM or SOCK_DGRAM; fixed */
	_Atomic int wfd;        /* the eventfd the ready callback writes */
	_Atomic int refs;       /* kernel descriptors naming this socket */
	_Atomic int nonblock;   /* O_NONBLOCK, shared by dups as in Linux */
	_Atomic int listening;  /* listen() succeeded (SO_ACCEPTCONN) */
	/*
	 * USTACK_PASSTHROUGH (preload_pass.c): a socket is "fresh" until it
	 * connects, listens or sends over ustack; until then the options set
	 * and the address bound are kept here, to be given to the kernel
	 * socket it may become. Protected by the descriptor table's lock.
	 */
	/*
	 * Threads blocked in a call on this socket (the shim blocks, not the
	 * stack: doc/PRELOAD.md "Signals"): each waits on its own blocking
	 * eventfd, listed here, which the ready callback writes too.
	 * wlock protects waiters[]; nwait is read without it by the callback.
	 */
	pthread_mutex_t wlock;
	int waiters[8];
	_Atomic int nwait;
	_Atomic int closing;    /* its last descriptor is closing: waiters leave (EBADF) */
	_Atomic int committed;
	int bound;                      /* bound_to holds bind()'s address */
	struct sockaddr_in bound_to;
	int nopts;
	struct {
		int level, name;
		socklen_t len;
		unsigned char val[16];
	} opts[8];
};

/* libc's functions. */
extern int (*real_socket)(int, int, int);
extern int (*real_close)(int);
extern ssize_t (*real_read)(int, void *, size_t);
extern ssize_t (*real_write)(int, const void *, size_t);
extern int (*real_poll)(struct pollfd *, nfds_t, int);
extern int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
extern int (*real_epoll_ctl)(int, int, int, struct epoll_event *);
extern int (*real_epoll_wait)(int, struct epoll_event *, int, int);
extern int (*real_fcntl)(int, int, ...);
extern int (*real_ioctl)(int, unsigned long, ...);
extern int (*real_dup)(int);
extern int (*real_dup2)(int, int);
extern int (*real_dup3)(int, int, int);

void preload_resolve(void);
#define RESOLVE() do { if (!real_close) preload_resolve(); } while (0)

/* The stack (started on first use); NULL with errno set when it cannot be. */
us_stack *preload_stack(void);
/* The stack is up and its config names hosts: or nameservers: (starts it). */
int preload_has_resolver(void);
/* The stack if it exists already (no start). */
us_stack *preload_stack_now(void);

/* The ustack socket behind kernel descriptor fd, or NULL. */
struct psock *preload_lookup(int fd);

/*
 * After fork, in the child: fd was a ustack socket of the parent (the
 * stack and its threads exist only there). Says so once on stderr, sets
 * errno to ENOTSOCK and returns 1; returns 0 for any other descriptor.
 */
int preload_orphan(int fd, const char *call);

/* USTACK_PASSTHROUGH (preload_pass.c). */
void preload_pass_init(void);
int preload_pass_bad(void);
/* a is an IPv4 address USTACK_PASSTHROUGH names. */
int preload_pass_match(const struct sockaddr *a, socklen_t len);
/*
 * Move fd's fresh ustack socket ps to the kernel when a names a
 * pass-through address: 1 moved (fd is now a kernel socket; ps is freed),
 * 0 not (ps stays; when it is no longer fresh it is marked so by the
 * caller's call), -1 the move failed (errno set). call names the call
 * for USTACK_DEBUG.
 */
int preload_pass_move(int fd, struct psock *ps, const struct sockaddr *a, socklen_t len,
		      const char *call);
/* ps connected, listened or sent over ustack: it can no longer move. */
static inline void preload_commit(struct psock *ps)
{
	atomic_store_explicit(&ps->committed, 1, memory_order_relaxed);
}

/*
 * Blocking on a ustack socket. The stack's sockets are always
 * non-blocking; a blocking call loops: try, and on EAGAIN wait here. The
 * wait is a read() of the thread's own blocking eventfd, which the kernel
 * restarts after a handler with SA_RESTART and fails with EINTR after one
 * without, as Linux does for a socket call without a timeout; with
 * SO_RCVTIMEO/SO_SNDTIMEO set it is a poll(), never restarted (EINTR), as
 * Linux does then. Register before the first try, so no wake-up is lost.
 */
struct pwait {
	struct psock *ps;
	int slot;               /* index in ps->waiters, or -1 (full: poll in steps) */
	int efd;                /* the thread's eventfd */
	int64_t deadline_ns;    /* CLOCK_MONOTONIC, or -1 without a timeout */
};
/* Register; timeo_opt is SO_RCVTIMEO or SO_SNDTIMEO (its value bounds the wait). */
void preload_wait_begin(struct pwait *w, struct psock *ps, int timeo_opt);
/* Sleep until the socket changes: 0 (try again), or -1 with EINTR or EAGAIN (timeout). */
int preload_wait(struct pwait *w);
void preload_wait_end(struct pwait *w);

/* Drain the mirror eventfd fd; 1 if it had been written since the last drain. */
int preload_drain(int fd);

/* Called by close() once fd is no longer a socket: forget its epoll set. */
void preload_epoll_forget(int epfd);
/* Called when a socket's last descriptor closes: drop it from every epoll set. */
void preload_epoll_drop(struct psock *ps);

/* USTACK_DEBUG=1: one line per intercepted call on a ustack socket. */
extern int preload_debug;
void preload_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define PDBG(...) do { if (preload_debug) preload_log(__VA_ARGS__); } while (0)

#endif
