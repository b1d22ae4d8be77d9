/*
 * sockproto.h — what a transport protocol provides to the socket layer.
 * Every operation is called with the socket's lock held and may wait on
 * its condition variable (us_sock_wait), which releases it.
 */
#ifndef US_SOCKPROTO_H
#define US_SOCKPROTO_H

#include <sys/types.h>
#include <sys/uio.h>

#include "socket.h"

struct us_proto_ops {
	int (*bind)(struct us_sock *s, const struct sockaddr_in *a);
	int (*connect)(struct us_sock *s, const struct sockaddr_in *a);   /* a NULL: AF_UNSPEC */
	int (*listen)(struct us_sock *s, int backlog);
	int (*accept)(struct us_sock *s, struct sockaddr_in *peer, int *newfd);
	ssize_t (*sendto)(struct us_sock *s, const void *buf, size_t len, int flags,
			  const struct sockaddr_in *to);
	/*
	 * Receive into the iovcnt pieces at iov, len bytes in all (scattered
	 * straight from the protocol's queue: iov.h); MSG_TRUNC on a datagram
	 * socket returns the datagram's real length (Linux).
	 */
	ssize_t (*recvv)(struct us_sock *s, const struct iovec *iov, int iovcnt, size_t len,
			 int flags, struct sockaddr_in *from);
	int (*shutdown)(struct us_sock *s, int how);
	/* Detach from protocol tables; called once, from us_close. */
	void (*close)(struct us_sock *s);
	/* Readiness: POLLIN | POLLOUT | POLLERR | POLLHUP. */
	short (*poll)(struct us_sock *s);
	/* Release protocol memory when the last reference goes (lock not held). */
	void (*destroy)(struct us_sock *s);
	/* The end of a receive batch that deferred an ACK (us_sock_batch_ack),
	 * lock held. NULL: the protocol defers none. */
	void (*batch_ack)(struct us_sock *s);
	/* SO_RCVBUF or SO_SNDBUF changed (buffers may be resized). */
	void (*rcvbuf_changed)(struct us_sock *s);
	/* Options the protocol handles; -ENOPROTOOPT if not one of them. */
	int (*setsockopt)(struct us_sock *s, int level, int name, const void *val, socklen_t len);
	int (*getsockopt)(struct us_sock *s, int level, int name, void *val, socklen_t *len);
	/*
	 * recvmsg with MSG_ERRQUEUE: the oldest queued error into m (data,
	 * msg_name, an IP_RECVERR control message), -EAGAIN if none. Never
	 * waits. NULL: the protocol queues no errors (EAGAIN).
	 */
	ssize_t (*recverr)(struct us_sock *s, struct msghdr *m);
};

extern const struct us_proto_ops us_udp_ops;
extern const struct us_proto_ops us_tcp_ops;
extern const struct us_proto_ops us_epoll_ops;

#endif
