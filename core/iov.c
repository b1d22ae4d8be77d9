/*
 * iov.c — scattering into iovec arrays (iov.h).
 */
#include <string.h>

#include "iov.h"

size_t us_iov_put(struct us_iov_cur *c, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t done = 0;
	while (done < n && c->i < c->cnt) {
		size_t room = c->iov[c->i].iov_len - c->off;
		if (room == 0) {
			c->i++;
			c->off = 0;
			continue;
		}
		size_t k = n - done < room ? n - done : room;
		memcpy((unsigned char *)c->iov[c->i].iov_base + c->off, s + done, k);
		c->off += k;
		done += k;
	}
	return done;
}
