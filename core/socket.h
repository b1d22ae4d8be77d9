/*
 * socket.h — sockets inside the stack: the descriptor table, the socket
 * object (which is also the protocol control block: one mutex guards a
 * connection's whole state), reference counting, waiting and poll.
 *
 * Lifetime: a socket is reference counted (C11 atomics). The descriptor
 * table holds one reference; every thread using it (an API call, the
 * receive path delivering to it) holds one for the duration. us_close()
 * removes it from the table, marks it closed and wakes all waiters; the
 * memory goes when the last reference is dropped.
 */
#ifndef US_SOCKET_H
#define US_SOCKET_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ustack/socket.h"

struct us_stack;

/* A thread blocked in us_poll(): sockets it watches signal it. */
struct us_pollwait {
	/* Idle, fired or asleep (socket.c PW_*): a futex, no lock. A waker
	 * sets it to fired and makes a system call only when it was asleep. */
	_Atomic int state;
	/* Wake-ups a receive batch has counted and not yet delivered (after
	 * the socket's unlock, socket.c batch_wake): us_poll waits for 0
	 * before its us_pollwait goes away. */
	_Atomic int pending;
};

/* Registration of one poll waiter on one socket (lives on the poller's stack). */
struct us_pollreg {
	struct us_pollreg *next, *prev; /* protected by the socket's lock */
	struct us_pollwait *w;          /* notify == NULL: signal this waiter */
	/* Else called by us_sock_wake with the socket's lock held (epoll.c). */
	void (*notify)(struct us_pollreg *r);
};

/* The type of an epoll descriptor's socket object (epoll.c). */
#define US_SOCK_EPOLL 0x7e90
struct us_epoll;
struct us_udp_errq;

/* UDP receive queue: a byte ring of records (header + datagram). */
struct us_udp_rq {
	uint8_t *buf;                   /* capacity bytes, allocated at bind */
	size_t cap;
	size_t head, used;              /* ring offsets, bytes in use */
	int count;                      /* datagrams queued */
};

struct us_sock {
	_Atomic int refs;
	struct us_stack *st;
	int fd;                         /* -1 until installed in the table; set once,
					 * under the table's lock (read only by the API) */
	int type;                       /* SOCK_DGRAM | SOCK_STREAM, fixed */

	pthread_mutex_t lock;           /* protects every field below */
	struct us_pollreg polls;        /* sentinel of the poll registrations */
	int waiters;                    /* threads asleep on wake_seq (us_sock_sleep) */
	int rd_waiters;                 /* of those, readers (TCP recv): data, FIN, errors only */
	/* Bumped by every wake-up (under lock); read by busy pollers; the
	 * futex that readers, writers, connect/accept waiters sleep on. */
	_Atomic uint32_t wake_seq;
	uint64_t last_wait_ns;          /* how long the last wait took: decides whether to busy-poll */
	bool batch_noted;               /* in a receive batch's list (us_sock_batch_begin) */
	bool wake_pending;              /* noted: wake at the batch's end (us_sock_wake, _room) */
	bool wake_readers;              /* the pending wake-up is for readers too (not us_sock_wake_room alone) */
	bool ack_pending;               /* noted: ops->batch_ack at the batch's end (us_sock_batch_ack) */

	bool closed;                    /* us_close() happened: waiters get EBADF */
	bool nonblock;
	bool shut_rd, shut_wr;
	int so_error;                   /* pending error (SO_ERROR), 0 if none */
	int so_error_soft;              /* TCP: last soft ICMP error (Linux sk_err_soft): SO_ERROR
					 * reports it when so_error is 0, a timeout instead of ETIMEDOUT */
	struct sockaddr_in local;       /* sin_port 0 until bound */
	struct sockaddr_in remote;      /* valid if connected */
	bool bound, connected;          /* UDP: local, remote and connected are written
					 * under both this lock and us_udp.lock (write),
					 * so the input path may read them under either */

	bool reuseaddr, broadcast;
	int rcvbuf, sndbuf;             /* as getsockopt reports them (doubled) */
	uint64_t rcvtimeo_ns, sndtimeo_ns;  /* 0 = forever */
	uint8_t ttl;                    /* 0 = default */

	struct us_epoll *ep;            /* US_SOCK_EPOLL: fixed at creation */
	struct us_pollreg cbreg;        /* us_set_ready_callback's registration */
	void (*ready_cb)(void *arg, int fd);
	void *ready_arg;

	struct us_udp_rq rq;            /* SOCK_DGRAM */
	uint8_t pmtudisc;               /* SOCK_DGRAM: IP_MTU_DISCOVER (IP_PMTUDISC_*), WANT at first */
	bool recverr;                   /* SOCK_DGRAM: IP_RECVERR */
	struct us_udp_errq *errq;       /* SOCK_DGRAM: queued errors (MSG_ERRQUEUE), allocated
					 * when IP_RECVERR is first set (udp_err.c) */
	struct us_tcb *tcb;             /* SOCK_STREAM: the connection, guarded by lock */
	struct us_sock *port_next;      /* UDP port hash chain: protected by us_udp.lock */
};

/*
 * The descriptor table, read-mostly: every API call maps a descriptor to
 * its socket (us_sock_get), only socket/accept/close change it. A lookup
 * takes the read side of one of US_SOCKTAB_SHARDS rwlocks (fd modulo the
 * count), each on its own cache line, so threads working on different
 * descriptors do not share a lock; a change takes alloc_lock and then the
 * write side of the slot's shard.
 */
#define US_SOCKTAB_SHARDS 64
struct us_socktab_shard {
	pthread_rwlock_t lock;          /* protects the slot[fd] of every fd with
					 * fd % US_SOCKTAB_SHARDS == this shard's index */
} __attribute__((aligned(64)));

struct us_socktab {
	pthread_mutex_t alloc_lock;     /* protects lowest_free and serialises every change of
					 * slot[] (made holding the slot's shard lock too);
					 * alloc_lock -> a shard lock, and no socket lock
					 * under or over either */
	struct us_socktab_shard shard[US_SOCKTAB_SHARDS];
	struct us_sock **slot;          /* [max] */
	int max;                        /* descriptors: stack.max_sockets, fixed */
	int lowest_free;                /* hint: no free slot below it */
};

int us_socktab_init(struct us_socktab *t, int max);
/* Close every descriptor left; the table stays (us_stack_reset). */
void us_socktab_close_all(struct us_stack *st);
/* Free every socket left (the stack is stopped). */
void us_socktab_destroy(struct us_stack *st);
/* Wake every socket's waiters (stack stop): they see ESHUTDOWN. */
void us_socktab_wake_all(struct us_stack *st);

/* A new socket with one reference (the caller's) and no descriptor. */
struct us_sock *us_sock_alloc(struct us_stack *st, int type);
/* Give s a descriptor; the caller's reference becomes the table's. -1 EMFILE. */
int us_socktab_install(struct us_stack *st, struct us_sock *s);

/* Take a reference to the socket behind fd, or NULL (EBADF). */
struct us_sock *us_sock_get(struct us_stack *st, int fd);
void us_sock_hold(struct us_sock *s);
void us_sock_put(struct us_sock *s);

/* With s->lock held: wake blocked threads and pollers. */
void us_sock_wake(struct us_sock *s);

/*
 * Receive batches. Whoever consumes a receive queue (the receive thread,
 * a busy poller, the deterministic driver) brackets each run of frames it
 * reads with us_sock_batch_begin() / us_sock_batch_end(), holding no lock
 * at either. In between, us_sock_wake() on that thread only notes the
 * socket (with a reference), once however many segments reach it, and
 * us_sock_batch_end() wakes each noted socket once: a reader sleeping on a
 * bulk flow is woken once per batch, not once per segment (each futex
 * wake-up costing more than the segment's whole input on a VM). A batch
 * notes at most US_WAKE_BATCH sockets; wake-ups past that happen at once.
 * Nested begin/end pairs join the outer batch.
 */
#define US_WAKE_BATCH 64
struct us_wake_batch {
	int n;
	bool outer;                     /* false: joined a batch already open on this thread */
	struct us_sock *s[US_WAKE_BATCH];
};
void us_sock_batch_begin(struct us_wake_batch *b);
void us_sock_batch_end(struct us_wake_batch *b);
/*
 * With s->lock held: as us_sock_wake, for a change only writers and
 * pollers can be waiting for (an ACK made room in the send buffer):
 * sleepers are woken only when some are not readers (rd_waiters), so a
 * thread waiting in recv does not wake for the ACK of its own request.
 */
void us_sock_wake_room(struct us_sock *s);
/* With s->lock held (dropped while asleep): sleep until the next wake-up
 * or the deadline (monotonic ns, 0 = none). 0 when woken or spuriously,
 * ETIMEDOUT after the deadline. Callers re-check their condition;
 * us_sock_wait is this plus busy polling and the usual errors. */
int us_sock_sleep(struct us_sock *s, uint64_t deadline);
/*
 * With s->lock held, from the input path: inside a receive batch, note s
 * so that its protocol's batch_ack operation runs (under the lock) at the
 * batch's end, and return true; outside one (or with the batch full),
 * false: the caller acknowledges now. TCP defers its every-second-segment
 * ACK this way: one ACK per batch, as Linux's GRO gives one per aggregate.
 */
bool us_sock_batch_ack(struct us_sock *s);
/* With s->lock held: POLLIN | POLLOUT | POLLERR | POLLHUP ..., POLLNVAL if closed. */
short us_sock_revents(struct us_sock *s);

/*
 * With s->lock held: wait until woken or the deadline (clock ns, 0 =
 * forever) passes. Returns 0 when woken (re-check your condition), or an
 * errno: EAGAIN (timed out), EBADF (closed), ESHUTDOWN (stack stopping).
 * Non-blocking sockets and deterministic stacks get EAGAIN at once.
 */
int us_sock_wait(struct us_sock *s, uint64_t deadline, bool nonblock);
/* The deadline for a wait with timeout ns from now (0 = none). */
uint64_t us_sock_deadline(struct us_sock *s, uint64_t timeout_ns);

/* Option values: read an int argument / write an int result. 0, EINVAL (short
 * length) or EFAULT (NULL value, or NULL length for a result). */
int us_opt_get_int(const void *val, socklen_t len, int *out);
int us_opt_put_int(void *val, socklen_t *len, int v);

/* An address from the API: checks family and length; EINVAL, EAFNOSUPPORT. */
int us_sockaddr_in(const struct sockaddr *a, socklen_t len, struct sockaddr_in *out);
/* Copy an address out, POSIX-style truncation. */
void us_sockaddr_out(const struct sockaddr_in *in, struct sockaddr *a, socklen_t *len);
/* Before a call that will copy an address out: a non-NULL a needs len
 * (EFAULT) and *len not negative as an int (EINVAL), as Linux checks. */
int us_sockaddr_out_check(const struct sockaddr *a, const socklen_t *len);
/*
 * A buffer from the application: a length above SSIZE_MAX is EINVAL, a
 * NULL buffer with a nonzero length EFAULT (Linux allows NULL with 0). Only
 * NULL can be recognised: any other invalid pointer is undefined behaviour,
 * as for memcpy.
 */
int us_user_buf(const void *buf, size_t len);

#endif
