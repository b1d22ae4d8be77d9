/*
 * iov.h — scattering bytes into a caller's iovec array (recvmsg's
 * buffers), one piece after another, with no bounce buffer.
 *
 * A cursor walks the pieces; zero-length pieces are skipped without
 * their base being touched (it may be NULL). No locks, no allocation.
 */
#ifndef US_IOV_H
#define US_IOV_H

#include <stddef.h>
#include <sys/uio.h>

struct us_iov_cur {
	const struct iovec *iov;
	int cnt;                /* pieces in all */
	int i;                  /* the piece being filled */
	size_t off;             /* bytes already in it */
};

static inline void us_iov_cur_init(struct us_iov_cur *c, const struct iovec *iov, int cnt)
{
	c->iov = iov;
	c->cnt = cnt;
	c->i = 0;
	c->off = 0;
}

/* Copy n bytes from src into the pieces at the cursor and move it on;
 * stops at the end of the pieces. Returns the bytes copied. */
size_t us_iov_put(struct us_iov_cur *c, const void *src, size_t n);

#endif
