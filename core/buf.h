/*
 * buf.h — packet buffers and the pool they come from.
 *
 * Every buffer is carved at stack creation from one slab; getting and
 * putting one is a pointer swap under the pool's mutex, never a malloc.
 * A buffer holds one frame: data points into mem[] after a headroom large
 * enough for the Ethernet header plus an IP header with options, so layers
 * below can prepend their headers without copying.
 */
#ifndef US_BUF_H
#define US_BUF_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct iovec;

#define US_BUF_HEADROOM 128

struct us_buf {
	struct us_buf *next;    /* link in whatever queue owns the buffer */
	uint8_t *data;          /* first valid byte */
	size_t len;             /* valid bytes from data */
	size_t size;            /* bytes in mem[] */
	uint8_t *mem;           /* start of storage */
	/*
	 * Transmit offloads, as Linux's skb (set by IP output, used by
	 * us_netif_tx; us_buf_get clears them). csum_start != 0: the L4
	 * checksum is left to the device (CHECKSUM_PARTIAL): its header
	 * starts at mem + csum_start, the field at csum_offset from there,
	 * and the field holds the pseudo-header sum. gso_size != 0: a TCP
	 * frame the device cuts into gso_size payloads. frags: payload bytes
	 * that follow data+len, borrowed (a send ring) for the duration of
	 * the us_netif_tx call that sends them; such a buffer is never queued.
	 */
	uint16_t csum_start, csum_offset;
	uint16_t gso_size;
	uint8_t nfrags;
	const struct iovec *frags;
};

struct us_buf_pool {
	pthread_mutex_t lock;   /* protects free, nfree */
	struct us_buf *free;
	size_t nfree;
	size_t total;
	size_t buf_size;        /* bytes of storage per buffer, headroom included */
	struct us_buf *hdrs;    /* slab of headers */
	uint8_t *slab;          /* slab of storage */
};

/* count buffers, each able to hold headroom + frame_max bytes. */
int us_pool_init(struct us_buf_pool *p, size_t count, size_t frame_max);
void us_pool_destroy(struct us_buf_pool *p);
/* A buffer with data at the headroom and len 0, or NULL when empty. */
struct us_buf *us_buf_get(struct us_buf_pool *p);
void us_buf_put(struct us_buf_pool *p, struct us_buf *b);
/* Free a whole ->next chain. */
void us_buf_put_chain(struct us_buf_pool *p, struct us_buf *b);
size_t us_pool_available(struct us_buf_pool *p);

/* Room after data+len, and before data. */
static inline size_t us_buf_tailroom(const struct us_buf *b)
{
	return b->size - (size_t)(b->data - b->mem) - b->len;
}
static inline size_t us_buf_headroom(const struct us_buf *b)
{
	return (size_t)(b->data - b->mem);
}
/* Prepend n bytes (caller checked headroom); returns the new data. */
static inline uint8_t *us_buf_push(struct us_buf *b, size_t n)
{
	b->data -= n;
	b->len += n;
	return b->data;
}
/* Drop n bytes from the front. */
static inline uint8_t *us_buf_pull(struct us_buf *b, size_t n)
{
	b->data += n;
	b->len -= n;
	return b->data;
}

#endif
