/*
 * buf.c — the buffer pool: one slab, one free list.
 */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"

int us_pool_init(struct us_buf_pool *p, size_t count, size_t frame_max)
{
	p->buf_size = (US_BUF_HEADROOM + frame_max + 63) & ~(size_t)63;
	p->hdrs = calloc(count, sizeof *p->hdrs);
	p->slab = malloc(count * p->buf_size);
	if (!p->hdrs || !p->slab) {
		free(p->hdrs);
		free(p->slab);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->free = NULL;
	for (size_t i = count; i-- > 0;) {
		struct us_buf *b = &p->hdrs[i];
		b->mem = p->slab + i * p->buf_size;
		b->size = p->buf_size;
		b->next = p->free;
		p->free = b;
	}
	p->nfree = p->total = count;
	return 0;
}

void us_pool_destroy(struct us_buf_pool *p)
{
	pthread_mutex_destroy(&p->lock);
	free(p->hdrs);
	free(p->slab);
	p->hdrs = NULL;
	p->slab = NULL;
}

struct us_buf *us_buf_get(struct us_buf_pool *p)
{
	pthread_mutex_lock(&p->lock);
	struct us_buf *b = p->free;
	if (b) {
		p->free = b->next;
		p->nfree--;
	}
	pthread_mutex_unlock(&p->lock);
	if (b) {
		b->next = NULL;
		b->data = b->mem + US_BUF_HEADROOM;
		b->len = 0;
		b->csum_start = b->csum_offset = b->gso_size = 0;
		b->nfrags = 0;
		b->frags = NULL;
	}
	return b;
}

void us_buf_put(struct us_buf_pool *p, struct us_buf *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&p->lock);
	b->next = p->free;
	p->free = b;
	p->nfree++;
	pthread_mutex_unlock(&p->lock);
}

void us_buf_put_chain(struct us_buf_pool *p, struct us_buf *b)
{
	while (b) {
		struct us_buf *n = b->next;
		us_buf_put(p, b);
		b = n;
	}
}

size_t us_pool_available(struct us_buf_pool *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->nfree;
	pthread_mutex_unlock(&p->lock);
	return n;
}
