/*
 * ustack/socket.h — the BSD-socket-like API.
 *
 * Each call mirrors its POSIX namesake with the stack as first argument:
 * descriptors are small integers private to one stack; addresses are the
 * system's struct sockaddr_in; failures return -1 and set errno to what a
 * Linux kernel would (doc/API.md lists them per call). Blocking calls wait
 * on condition variables, bounded by SO_RCVTIMEO/SO_SNDTIMEO (EAGAIN when
 * they lapse). A thread blocked on a descriptor that another thread
 * closes returns -1 with EBADF; one blocked when the stack stops returns
 * -1 with ESHUTDOWN. In deterministic mode nothing blocks: a call that
 * would wait fails with EAGAIN.
 */
#ifndef USTACK_SOCKET_H
#define USTACK_SOCKET_H

#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct us_stack us_stack;

#define US_MAX_SOCKETS 16384   /* descriptors per stack */

/* domain AF_INET; type SOCK_DGRAM or SOCK_STREAM, optionally | SOCK_NONBLOCK. */
int us_socket(us_stack *st, int domain, int type, int protocol);
int us_bind(us_stack *st, int fd, const struct sockaddr *addr, socklen_t len);
int us_connect(us_stack *st, int fd, const struct sockaddr *addr, socklen_t len);
int us_listen(us_stack *st, int fd, int backlog);
int us_accept(us_stack *st, int fd, struct sockaddr *addr, socklen_t *len);
/* flags: MSG_DONTWAIT; recv also MSG_PEEK, MSG_TRUNC (UDP: return the real length). */
ssize_t us_send(us_stack *st, int fd, const void *buf, size_t len, int flags);
ssize_t us_recv(us_stack *st, int fd, void *buf, size_t len, int flags);
ssize_t us_sendto(us_stack *st, int fd, const void *buf, size_t len, int flags,
		  const struct sockaddr *to, socklen_t tolen);
ssize_t us_recvfrom(us_stack *st, int fd, void *buf, size_t len, int flags,
		    struct sockaddr *from, socklen_t *fromlen);
/*
 * recvmsg(2): scatter into msg_iov, the source into msg_name (datagrams),
 * msg_flags MSG_TRUNC when a datagram was cut. No control messages on the
 * data path (msg_controllen set to 0). flags as us_recv, plus
 * MSG_ERRQUEUE: the oldest queued error of a UDP socket with IP_RECVERR
 * (never waits; EAGAIN if none), as Linux: the quoted payload as data, the
 * datagram's destination in msg_name, one SOL_IP/IP_RECVERR control
 * message holding a struct sock_extended_err (<linux/errqueue.h>)
 * followed by the offender's struct sockaddr_in (SO_EE_OFFENDER), and
 * MSG_ERRQUEUE in msg_flags.
 */
ssize_t us_recvmsg(us_stack *st, int fd, struct msghdr *msg, int flags);
int us_shutdown(us_stack *st, int fd, int how);
int us_close(us_stack *st, int fd);
/*
 * SOL_SOCKET: SO_REUSEADDR, SO_BROADCAST, SO_RCVBUF, SO_SNDBUF (stored
 * doubled, as Linux does), SO_RCVTIMEO, SO_SNDTIMEO (struct timeval),
 * SO_ERROR (read and clear), SO_TYPE; IPPROTO_IP: IP_TTL, and on UDP
 * sockets IP_MTU_DISCOVER (IP_PMTUDISC_DONT/WANT/DO/PROBE/INTERFACE/OMIT,
 * default WANT), IP_RECVERR, IP_MTU (getsockopt, connected: the path MTU).
 */
int us_setsockopt(us_stack *st, int fd, int level, int name, const void *val, socklen_t len);
int us_getsockopt(us_stack *st, int fd, int level, int name, void *val, socklen_t *len);
int us_getsockname(us_stack *st, int fd, struct sockaddr *addr, socklen_t *len);
int us_getpeername(us_stack *st, int fd, struct sockaddr *addr, socklen_t *len);
/* F_GETFL / F_SETFL with O_NONBLOCK. */
int us_fcntl(us_stack *st, int fd, int cmd, int arg);
/* POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL; timeout_ms -1 waits forever. */
int us_poll(us_stack *st, struct pollfd *fds, nfds_t nfds, int timeout_ms);

/*
 * epoll over the stack's sockets, with Linux's struct epoll_event, ops
 * (EPOLL_CTL_ADD/MOD/DEL) and flags (EPOLLIN, EPOLLOUT, EPOLLRDHUP,
 * EPOLLERR, EPOLLHUP, EPOLLET, EPOLLONESHOT). The instance is a descriptor
 * of this stack, closed with us_close; socket calls on it are ENOTSOCK.
 * Closed sockets leave every set. Nested sets are refused (EINVAL).
 */
int us_epoll_create(us_stack *st);
int us_epoll_ctl(us_stack *st, int epfd, int op, int fd, struct epoll_event *ev);
int us_epoll_wait(us_stack *st, int epfd, struct epoll_event *events, int maxevents,
		  int timeout_ms);
/*
 * Call cb(arg, fd) whenever the socket's state may have changed (data,
 * space, a connection, an error, close), and once at once; cb NULL
 * removes it. cb runs with the socket's lock held, on whatever thread
 * changed the state: it must be short and must not call us_* functions
 * (write an eventfd, signal a condition variable). One callback per socket.
 */
int us_set_ready_callback(us_stack *st, int fd, void (*cb)(void *arg, int fd), void *arg);

/*
 * Name resolution over the stack's own UDP (A records): numeric addresses
 * and the config's hosts: entries need no query; other names go to the
 * config's nameservers with its search list, timeout and attempts.
 * Returns 0 or an EAI_* code like getaddrinfo(3): EAI_NONAME (no such
 * name, NXDOMAIN), EAI_AGAIN (no answer in time), EAI_FAIL (the server
 * failed, or a reply was malformed or truncated: see us_resolver_detail),
 * EAI_SERVICE, EAI_FAMILY, EAI_SOCKTYPE, EAI_MEMORY, EAI_SYSTEM (errno set).
 * The result is freed with us_freeaddrinfo.
 */
struct addrinfo;
int us_getaddrinfo(us_stack *st, const char *node, const char *service,
		   const struct addrinfo *hints, struct addrinfo **res);
void us_freeaddrinfo(struct addrinfo *res);
const char *us_gai_strerror(int code);
/* Why the calling thread's last us_getaddrinfo failed, in words ("" if it did not). */
const char *us_resolver_detail(void);

#ifdef __cplusplus
}
#endif
#endif /* USTACK_SOCKET_H */
