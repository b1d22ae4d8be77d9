/*
 * preload_io.c — the data calls of libustack-preload.so on ustack sockets:
 * read, write, readv, writev, send, sendto, sendmsg, recv, recvfrom,
 * recvmsg (and glibc's _FORTIFY_SOURCE variants __read_chk, __recv_chk,
 * __recvfrom_chk). Other descriptors go to libc.
 *
 * Linux semantics kept here, on top of the stack's: a send that fails
 * with EPIPE raises SIGPIPE in the calling thread unless MSG_NOSIGNAL was
 * given (write/writev/sendmsg too); MSG_WAITALL on a stream loops until
 * the buffer is full, the peer closes, or an error; MSG_MORE and MSG_EOR
 * are accepted and ignored; a datagram sent from several iovecs is
 * gathered into one (at most 65535 bytes) and a received one scattered.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);

static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static void io_resolve(void)
{
	RESOLVE();
	*(void **)&real_readv = dlsym(RTLD_NEXT, "readv");
	*(void **)&real_writev = dlsym(RTLD_NEXT, "writev");
	*(void **)&real_sendto = dlsym(RTLD_NEXT, "sendto");
	*(void **)&real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
	*(void **)&real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	*(void **)&real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
}
#define IO_RESOLVE() pthread_once(&io_once, io_resolve)

/* Gather/scatter room for one datagram. */
static _Thread_local char dgram[65536];

static ssize_t us_send_flags(struct psock *ps, const void *buf, size_t len, int flags,
			     const struct sockaddr *to, socklen_t tolen)
{
	if (flags & MSG_OOB) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (!atomic_load_explicit(&ps->committed, memory_order_relaxed))
		preload_commit(ps);
	if (ps->type == SOCK_STREAM)
		to = NULL;      /* Linux ignores a stream's destination */
	us_stack *st = preload_stack_now();
	ssize_t n = us_sendto(st, ps->usfd, buf, len, MSG_DONTWAIT, to, to ? tolen : 0);
	if (!(flags & MSG_DONTWAIT) && !atomic_load(&ps->nonblock) &&
	    ((n < 0 && errno == EAGAIN) || (n >= 0 && (size_t)n < len && ps->type == SOCK_STREAM))) {
		/* Blocking: all of it, unless a signal or SO_SNDTIMEO stops it (then what went). */
		size_t done = n > 0 ? (size_t)n : 0;
		struct pwait w;
		preload_wait_begin(&w, ps, SO_SNDTIMEO);
		for (;;) {
			n = us_sendto(st, ps->usfd, (const char *)buf + done, len - done, MSG_DONTWAIT,
				      to, to ? tolen : 0);
			if (n >= 0)
				done += (size_t)n;
			else if (errno != EAGAIN)
				break;
			if (done == len || preload_wait(&w) < 0)
				break;
		}
		preload_wait_end(&w);
		if (done > 0)
			n = (ssize_t)done;
	}
	if (n < 0 && errno == EPIPE && !(flags & MSG_NOSIGNAL)) {
		int e = errno;
		pthread_kill(pthread_self(), SIGPIPE);
		errno = e;
	}
	return n;
}

static ssize_t us_recv_flags(struct psock *ps, void *buf, size_t len, int flags,
			     struct sockaddr *from, socklen_t *fromlen)
{
	us_stack *st = preload_stack_now();
	int usflags = flags & (MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC);
	if (flags & MSG_OOB) {
		errno = EINVAL;         /* Linux: no urgent data */
		return -1;
	}
	usflags |= MSG_DONTWAIT;
	ssize_t n = us_recvfrom(st, ps->usfd, buf, len, usflags, from, fromlen);
	int blocking = !(flags & MSG_DONTWAIT) && !atomic_load(&ps->nonblock);
	int waitall = (flags & MSG_WAITALL) && ps->type == SOCK_STREAM && !(flags & MSG_PEEK);
	if (!blocking || (n == 0 && len > 0) || (n < 0 && errno != EAGAIN) ||
	    (n >= 0 && (!waitall || (size_t)n == len)))
		return n;
	/* Blocking: until something (MSG_WAITALL: all) arrives, EOF, an error, a signal or SO_RCVTIMEO. */
	size_t got = n > 0 ? (size_t)n : 0;
	struct pwait w;
	preload_wait_begin(&w, ps, SO_RCVTIMEO);
	for (;;) {
		n = us_recvfrom(st, ps->usfd, (char *)buf + got, len - got, usflags,
				got ? NULL : from, got ? NULL : fromlen);
		if (n > 0)
			got += (size_t)n;
		if (n == 0 || (n < 0 && errno != EAGAIN) || (n > 0 && (!waitall || got == len)))
			break;
		if (preload_wait(&w) < 0) {
			n = -1;
			break;
		}
	}
	preload_wait_end(&w);
	return got > 0 ? (ssize_t)got : n;
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "read") ? -1 : real_read(fd, buf, len);
	return us_recv_flags(ps, buf, len, 0, NULL, NULL);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return read(fd, buf, len);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "write") ? -1 : real_write(fd, buf, len);
	return us_send_flags(ps, buf, len, 0, NULL, 0);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	return sendto(fd, buf, len, flags, NULL, 0);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
		      const struct sockaddr *to, socklen_t tolen)
{
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "sendto") ? -1 : real_sendto(fd, buf, len, flags, to, tolen);
	if (to && ps->type == SOCK_DGRAM) {
		int moved = preload_pass_move(fd, ps, to, tolen, "sendto");
		if (moved)
			return moved < 0 ? -1 : real_sendto(fd, buf, len, flags, to, tolen);
	}
	return us_send_flags(ps, buf, len, flags, to, tolen);
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	return recvfrom(fd, buf, len, flags, NULL, NULL);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, NULL, NULL);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			struct sockaddr *from, socklen_t *fromlen)
{
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "recvfrom") ? -1 : real_recvfrom(fd, buf, len, flags, from, fromlen);
	return us_recv_flags(ps, buf, len, flags, from, fromlen);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
			      struct sockaddr *from, socklen_t *fromlen)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Send iov as a stream (each piece in turn, stopping short) or one datagram. */
static ssize_t send_iov(struct psock *ps, const struct iovec *iov, int n, int flags,
			const struct sockaddr *to, socklen_t tolen)
{
	if (n < 0 || n > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (!atomic_load_explicit(&ps->committed, memory_order_relaxed))
		preload_commit(ps);
	if (ps->type == SOCK_DGRAM) {
		size_t len = iov_total(iov, n);
		if (n == 1)
			return us_send_flags(ps, iov[0].iov_base, iov[0].iov_len, flags, to, tolen);
		if (len > sizeof dgram) {
			errno = EMSGSIZE;
			return -1;
		}
		size_t off = 0;
		for (int i = 0; i < n; i++) {
			memcpy(dgram + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		return us_send_flags(ps, dgram, len, flags, to, tolen);
	}
	ssize_t done = 0;
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			continue;
		ssize_t w = us_send_flags(ps, iov[i].iov_base, iov[i].iov_len,
					  flags | (done ? MSG_NOSIGNAL : 0), NULL, 0);
		if (w < 0)
			return done ? done : -1;
		done += w;
		if ((size_t)w < iov[i].iov_len)
			break;
	}
	return done;
}

/* Receive into iov; *trunc set when a datagram was longer than iov. */
static ssize_t recv_iov(struct psock *ps, const struct iovec *iov, int n, int flags,
			struct sockaddr *from, socklen_t *fromlen, int *trunc)
{
	*trunc = 0;
	if (n < 0 || n > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (!atomic_load_explicit(&ps->committed, memory_order_relaxed))
		preload_commit(ps);
	if (ps->type == SOCK_DGRAM) {
		size_t room = iov_total(iov, n);
		ssize_t r = us_recv_flags(ps, dgram, sizeof dgram, (flags & ~MSG_TRUNC), from, fromlen);
		if (r < 0)
			return -1;
		size_t len = (size_t)r < room ? (size_t)r : room;
		size_t off = 0;
		for (int i = 0; i < n && off < len; i++) {
			size_t k = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;
			memcpy(iov[i].iov_base, dgram + off, k);
			off += k;
		}
		*trunc = (size_t)r > room;
		return (flags & MSG_TRUNC) ? r : (ssize_t)len;
	}
	ssize_t got = 0;
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			continue;
		ssize_t r = us_recv_flags(ps, iov[i].iov_base, iov[i].iov_len,
					  got ? (flags | MSG_DONTWAIT) : flags,
					  got ? NULL : from, got ? NULL : fromlen);
		if (r < 0)
			return got ? got : -1;
		got += r;
		if (r == 0 || (size_t)r < iov[i].iov_len || (flags & MSG_PEEK))
			break;
	}
	return got;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "readv") ? -1 : real_readv(fd, iov, n);
	int trunc;
	return recv_iov(ps, iov, n, 0, NULL, NULL, &trunc);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "writev") ? -1 : real_writev(fd, iov, n);
	return send_iov(ps, iov, n, 0, NULL, 0);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "sendmsg") ? -1 : real_sendmsg(fd, m, flags);
	if (m->msg_name && ps->type == SOCK_DGRAM) {
		int moved = preload_pass_move(fd, ps, m->msg_name, m->msg_namelen, "sendmsg");
		if (moved)
			return moved < 0 ? -1 : real_sendmsg(fd, m, flags);
	}
	if (m->msg_controllen) {
		errno = EOPNOTSUPP;     /* no ancillary data over ustack */
		return -1;
	}
	return send_iov(ps, m->msg_iov, (int)m->msg_iovlen, flags, m->msg_name, m->msg_namelen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps)
		return preload_orphan(fd, "recvmsg") ? -1 : real_recvmsg(fd, m, flags);
	if (flags & MSG_ERRQUEUE)       /* IP_RECVERR's queue: the stack fills m, control too */
		return us_recvmsg(preload_stack_now(), ps->usfd, m,
				  flags & (MSG_ERRQUEUE | MSG_DONTWAIT | MSG_TRUNC));
	int trunc;
	ssize_t n = recv_iov(ps, m->msg_iov, (int)m->msg_iovlen, flags, m->msg_name,
			     m->msg_name ? &m->msg_namelen : NULL, &trunc);
	if (n < 0)
		return -1;
	m->msg_controllen = 0;
	m->msg_flags = trunc ? MSG_TRUNC : 0;
	return n;
}

/* ---- sendfile, sendmmsg, recvmmsg ---- */

/*
 * sendfile from a file to a ustack socket: read through a buffer and send
 * (the stack has no zero-copy path). The file offset advances by what was
 * sent, as Linux's does; a short send stops the copy.
 */
static ssize_t sendfile_ours(struct psock *ps, int in, off_t *off, size_t count)
{
	size_t total = 0;
	while (total < count) {
		size_t want = count - total < sizeof dgram ? count - total : sizeof dgram;
		ssize_t r = off ? pread(in, dgram, want, *off + (off_t)total) : real_read(in, dgram, want);
		if (r < 0)
			return total ? (ssize_t)total : -1;
		if (r == 0)
			break;
		ssize_t w = us_send_flags(ps, dgram, (size_t)r, total ? MSG_NOSIGNAL : 0, NULL, 0);
		if (w < 0 || w < r) {
			/* Give the unsent part back to the file position. */
			if (!off)
				lseek(in, (off_t)(w < 0 ? -r : w - r), SEEK_CUR);
			if (w > 0)
				total += (size_t)w;
			if (w < 0 && !total)
				return -1;
			break;
		}
		total += (size_t)w;
	}
	if (off)
		*off += (off_t)total;
	return (ssize_t)total;
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	static ssize_t (*real_sendfile)(int, int, off_t *, size_t);
	RESOLVE();
	struct psock *ps = preload_lookup(out);
	if (!ps) {
		if (!real_sendfile)
			*(void **)&real_sendfile = dlsym(RTLD_NEXT, "sendfile");
		return preload_orphan(out, "sendfile") ? -1 : real_sendfile(out, in, off, count);
	}
	ssize_t n = sendfile_ours(ps, in, off, count);
	PDBG("sendfile(%d, %d, %zu) = %zd", out, in, count, n);
	return n;
}

EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	static int (*real_sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps) {
		if (!real_sendmmsg)
			*(void **)&real_sendmmsg = dlsym(RTLD_NEXT, "sendmmsg");
		return preload_orphan(fd, "sendmmsg") ? -1 : real_sendmmsg(fd, v, n, flags);
	}
	unsigned int i;
	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned int)r;
	}
	return (int)i;
}

/* The timeout is not honoured on ustack sockets (doc/PRELOAD.md). */
EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *ts)
{
	static int (*real_recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
	IO_RESOLVE();
	struct psock *ps = preload_lookup(fd);
	if (!ps) {
		if (!real_recvmmsg)
			*(void **)&real_recvmmsg = dlsym(RTLD_NEXT, "recvmmsg");
		return preload_orphan(fd, "recvmmsg") ? -1 : real_recvmmsg(fd, v, n, flags, ts);
	}
	unsigned int i;
	int fl = flags & ~MSG_WAITFORONE;
	for (i = 0; i < n; i++) {
		ssize_t r = recvmsg(fd, &v[i].msg_hdr, fl);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned int)r;
		if (flags & MSG_WAITFORONE)
			fl |= MSG_DONTWAIT;
	}
	return (int)i;
}
