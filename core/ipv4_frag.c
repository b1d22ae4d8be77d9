/*
 * ipv4_frag.c — IPv4 reassembly (RFC 791 section 3.2, RFC 815 holes).
 *
 * A fixed number of slots (US_REASM_SLOTS), each with 64 KiB of storage
 * allocated at creation, bounds both the datagrams in progress and the
 * memory used. Each slot keeps the byte ranges received as a sorted list
 * of disjoint ranges, merging neighbours.
 *
 * Overlaps, decided as Linux does (since 4.19) and as RFC 5722 does for
 * IPv6: a fragment wholly inside what we already hold, with the same
 * bytes, is a harmless duplicate and is dropped alone; any other overlap
 * drops the whole datagram, so that no overlap can rewrite data already
 * checked (the "teardrop" family). A datagram that would exceed 65535
 * bytes is dropped whole ("ping of death"). A datagram not completed in
 * 30 s is dropped and, if its first fragment came, answered with ICMP
 * time exceeded (code 1), per RFC 1122 3.3.2.
 *
 * Room for a new datagram: when every slot is taken, the least recently
 * used incomplete datagram is evicted; a source holding its share of the
 * slots (US_REASM_SRC_SLOTS) evicts its own instead (see slot_for_new()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"
#include "lockassert.h"

void ipv4_deliver(struct us_netif *nif, const struct wire_ip4 *ip);

#define REASM_DATA_MAX (IP4_MAX_LEN - IP4_HLEN)  /* largest payload possible */

static void reasm_timer(void *arg);

int ipv4_reasm_init(struct us_stack *st, struct us_ipv4 *ip)
{
	pthread_mutex_init(&ip->reasm_lock, NULL);
	ip->reasm_mem = malloc((size_t)US_REASM_SLOTS * IP4_MAX_LEN);
	if (!ip->reasm_mem)
		return -1;
	for (int i = 0; i < US_REASM_SLOTS; i++) {
		memset(&ip->reasm[i], 0, sizeof ip->reasm[i]);
		ip->reasm[i].data = ip->reasm_mem + (size_t)i * IP4_MAX_LEN;
	}
	us_timer_init(&ip->reasm_timer, reasm_timer, st);
	return 0;
}

/*
 * us_stack_reset(): every slot free, the memory kept. The caller has
 * cancelled the sweep timer and built a new wheel.
 */
void ipv4_reasm_clear(struct us_stack *st, struct us_ipv4 *ip)
{
	for (int i = 0; i < US_REASM_SLOTS; i++) {
		uint8_t *data = ip->reasm[i].data;
		memset(&ip->reasm[i], 0, sizeof ip->reasm[i]);
		ip->reasm[i].data = data;
	}
	ip->reasm_tick = 0;
	us_timer_init(&ip->reasm_timer, reasm_timer, st);
}

void ipv4_reasm_destroy(struct us_ipv4 *ip)
{
	us_timer_cancel_sync(&ip->st->wheel, &ip->reasm_timer);
	free(ip->reasm_mem);
	ip->reasm_mem = NULL;
	pthread_mutex_destroy(&ip->reasm_lock);
}

/* With reasm_lock held: arm the sweep for the earliest active slot. */
static void rearm_locked(struct us_stack *st)
{
	US_ASSERT_LOCKED(&st->ip.reasm_lock);
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < US_REASM_SLOTS; i++)
		if (st->ip.reasm[i].state == REASM_ACTIVE && st->ip.reasm[i].expires < next)
			next = st->ip.reasm[i].expires;
	if (next != UINT64_MAX)
		us_timer_arm(&st->wheel, &st->ip.reasm_timer, next);
}

static void slot_free(struct us_reasm *r)
{
	r->state = REASM_FREE;
	r->nfrags = 0;
	r->hlen = 0;
	r->total = 0;
}

/* Quote of an expired datagram for the time-exceeded message. */
struct quote {
	uint8_t buf[60 + 8];
	size_t len;
	struct wire_ip4 ip;
};

void us_ipv4_reasm_expire(struct us_stack *st, uint64_t now)
{
	struct quote q[US_REASM_SLOTS];
	int nq = 0;
	pthread_mutex_lock(&st->ip.reasm_lock);
	for (int i = 0; i < US_REASM_SLOTS; i++) {
		struct us_reasm *r = &st->ip.reasm[i];
		if (r->state != REASM_ACTIVE || r->expires > now)
			continue;
		US_STAT_INC(st, IP_REASM_TIMEOUT);
		if (r->hlen && r->nfrags && r->frags[0].off == 0) {
			/* First fragment held: quote its header and 8 bytes. */
			size_t have = r->frags[0].end < 8 ? r->frags[0].end : 8;
			memcpy(q[nq].buf, r->hdr, r->hlen);
			memcpy(q[nq].buf + r->hlen, r->data, have);
			q[nq].len = r->hlen + have;
			nq++;
		}
		slot_free(r);
	}
	rearm_locked(st);
	pthread_mutex_unlock(&st->ip.reasm_lock);
	for (int i = 0; i < nq; i++) {
		/* The quoted header is the one received: parse it for addresses;
		 * its length field describes the fragment, so parse leniently. */
		struct wire_ip4 ip = { 0 };
		const uint8_t *h = q[i].buf;
		ip.hdr = h;
		ip.hlen = (uint16_t)((h[0] & 0x0f) * 4);
		ip.proto = h[9];
		memcpy(&ip.src, h + 12, 4);
		memcpy(&ip.dst, h + 16, 4);
		ip.frag_off = 0;
		ip.payload = h + ip.hlen;
		ip.payload_len = (uint16_t)(q[i].len - ip.hlen);
		us_icmp_send_error(st, &ip, ip.payload, ip.payload_len, ICMP_TIME_EXCEEDED, 1);
	}
}

static void reasm_timer(void *arg)
{
	struct us_stack *st = arg;
	us_ipv4_reasm_expire(st, us_now(st));
}

int us_ipv4_reasm_active(struct us_stack *st)
{
	int n = 0;
	pthread_mutex_lock(&st->ip.reasm_lock);
	for (int i = 0; i < US_REASM_SLOTS; i++)
		n += st->ip.reasm[i].state != REASM_FREE;
	pthread_mutex_unlock(&st->ip.reasm_lock);
	return n;
}

enum add_result { ADD_OK, ADD_DUP, ADD_OVERLAP, ADD_FULL };

/*
 * Insert [off,end) into r's ranges: sorted, disjoint and never adjacent
 * (neighbours are merged), so a datagram arriving in order is one range.
 */
static enum add_result add_range(struct us_reasm *r, uint16_t off, uint16_t end,
				 const uint8_t *bytes)
{
	int n = r->nfrags, i = 0;
	while (i < n && r->frags[i].end <= off)
		i++;
	/* Ranges before i end at or before off; range i is the first that may overlap. */
	if (i < n && r->frags[i].off < end) {
		if (r->frags[i].off <= off && end <= r->frags[i].end &&
		    memcmp(r->data + off, bytes, (size_t)(end - off)) == 0)
			return ADD_DUP;
		return ADD_OVERLAP;
	}
	bool join_prev = i > 0 && r->frags[i - 1].end == off;
	bool join_next = i < n && r->frags[i].off == end;
	if (!join_prev && !join_next && n == US_REASM_FRAGS)
		return ADD_FULL;
	memcpy(r->data + off, bytes, (size_t)(end - off));
	if (join_prev && join_next) {
		r->frags[i - 1].end = r->frags[i].end;
		memmove(&r->frags[i], &r->frags[i + 1], (size_t)(n - i - 1) * sizeof r->frags[0]);
		r->nfrags--;
	} else if (join_prev) {
		r->frags[i - 1].end = end;
	} else if (join_next) {
		r->frags[i].off = off;
	} else {
		memmove(&r->frags[i + 1], &r->frags[i], (size_t)(n - i) * sizeof r->frags[0]);
		r->frags[i].off = off;
		r->frags[i].end = end;
		r->nfrags++;
	}
	return ADD_OK;
}

/*
 * What a look through the slots for a new datagram's room finds: the
 * first free slot, the least recently used active one, and the new
 * datagram's source's count of active slots and its least recently used.
 */
struct slot_scan {
	struct us_reasm *free_slot, *lru, *src_lru;
	int src_active;
};

static void scan_slot(struct slot_scan *sc, struct us_reasm *s, uint32_t src)
{
	if (s->state == REASM_FREE) {
		if (!sc->free_slot)
			sc->free_slot = s;
		return;
	}
	if (s->state != REASM_ACTIVE)
		return;         /* DELIVERING: in use outside the lock */
	if (!sc->lru || s->used < sc->lru->used)
		sc->lru = s;
	if (s->src == src) {
		sc->src_active++;
		if (!sc->src_lru || s->used < sc->src_lru->used)
			sc->src_lru = s;
	}
}

/*
 * With reasm_lock held: the slot a new datagram takes, or NULL when every
 * slot is being delivered. The memory budget is the slots (each holds
 * 64 KiB, reserved at creation). A source that already holds its share
 * (US_REASM_SRC_SLOTS) gives up its own least recently used datagram;
 * otherwise a free slot is taken, and when there is none the least
 * recently used incomplete datagram of any source is evicted, as Linux
 * evicted from its fragment-queue LRU above ipfrag_high_thresh. Newcomers
 * win because a datagram still incomplete after the others came is the
 * one least likely ever to complete, and because refusing newcomers lets
 * a few never-completing fragments hold reassembly hostage for the whole
 * 30 s timeout. Evicted datagrams get no ICMP time exceeded (that is for
 * the timeout, RFC 1122 3.3.2); they are counted.
 */
static struct us_reasm *slot_for_new(struct us_stack *st, const struct slot_scan *sc)
{
	US_ASSERT_LOCKED(&st->ip.reasm_lock);
	if (sc->src_active >= US_REASM_SRC_SLOTS && sc->src_lru) {
		US_STAT_INC(st, IP_REASM_SRC_EVICTED);
		return sc->src_lru;
	}
	if (sc->free_slot)
		return sc->free_slot;
	if (sc->lru)
		US_STAT_INC(st, IP_REASM_EVICTED);
	return sc->lru;
}

void ipv4_reasm_input(struct us_netif *nif, const struct wire_ip4 *ip)
{
	struct us_stack *st = nif->st;
	struct us_ipv4 *v4 = &st->ip;
	uint32_t off = ip->frag_off, end = off + ip->payload_len;

	/* A fragment must carry data, and all but the last a multiple of 8. */
	if (ip->payload_len == 0 || (ip->mf && (ip->payload_len & 7))) {
		US_STAT_INC(st, IP_REASM_BAD);
		return;
	}
	pthread_mutex_lock(&v4->reasm_lock);
	struct us_reasm *r = NULL;
	struct slot_scan scan = { 0 };
	for (int i = 0; i < US_REASM_SLOTS; i++) {
		struct us_reasm *s = &v4->reasm[i];
		if (s->state == REASM_ACTIVE && s->id == ip->id && s->src == ip->src &&
		    s->dst == ip->dst && s->proto == ip->proto) {
			r = s;
			break;
		}
		scan_slot(&scan, s, ip->src);
	}
	if (end > REASM_DATA_MAX) {
		US_STAT_INC(st, IP_REASM_TOO_BIG);
		if (r)
			slot_free(r);
		goto out;
	}
	if (!r) {
		r = slot_for_new(st, &scan);
		if (!r) {
			US_STAT_INC(st, IP_REASM_LIMIT);
			goto out;
		}
		slot_free(r);
		r->state = REASM_ACTIVE;
		r->src = ip->src;
		r->dst = ip->dst;
		r->id = ip->id;
		r->proto = ip->proto;
		r->expires = us_now(st) + US_REASM_TIMEOUT_NS;
		rearm_locked(st);
	}
	/* The last fragment fixes the size; nothing may lie beyond it. */
	if (!ip->mf) {
		bool beyond = r->nfrags && r->frags[r->nfrags - 1].end > end;
		if ((r->total && r->total != end) || beyond) {
			US_STAT_INC(st, IP_REASM_BAD);
			slot_free(r);
			goto out;
		}
		r->total = end;
	} else if (r->total && end > r->total) {
		US_STAT_INC(st, IP_REASM_BAD);
		slot_free(r);
		goto out;
	}
	switch (add_range(r, (uint16_t)off, (uint16_t)end, ip->payload)) {
	case ADD_OK:
		r->used = ++v4->reasm_tick;
		break;
	case ADD_DUP:
		US_STAT_INC(st, IP_FRAG_DUP);
		goto out;
	case ADD_OVERLAP:
		US_STAT_INC(st, IP_REASM_OVERLAP);
		slot_free(r);
		goto out;
	case ADD_FULL:
		US_STAT_INC(st, IP_REASM_LIMIT);
		slot_free(r);
		goto out;
	}
	if (off == 0) {
		memcpy(r->hdr, ip->hdr, ip->hlen);
		r->hlen = ip->hlen;
	}
	if (!(r->total && r->hlen && r->nfrags == 1 && r->frags[0].off == 0 &&
	      r->frags[0].end == r->total))
		goto out;
	if (r->hlen + r->total > IP4_MAX_LEN) {
		US_STAT_INC(st, IP_REASM_TOO_BIG);
		slot_free(r);
		goto out;
	}
	/* Complete: deliver outside the lock; DELIVERING keeps the slot ours. */
	r->state = REASM_DELIVERING;
	struct wire_ip4 whole = *ip;
	whole.hdr = r->hdr;
	whole.hlen = r->hlen;
	whole.mf = false;
	whole.l4_csum_ok = false;       /* the device spoke of one fragment, not the whole */
	whole.frag_off = 0;
	whole.total_len = (uint16_t)(r->hlen + r->total);
	whole.payload = r->data;
	whole.payload_len = (uint16_t)r->total;
	pthread_mutex_unlock(&v4->reasm_lock);

	US_STAT_INC(st, IP_REASM_OK);
	ipv4_deliver(nif, &whole);

	pthread_mutex_lock(&v4->reasm_lock);
	slot_free(r);
	rearm_locked(st);
out:
	pthread_mutex_unlock(&v4->reasm_lock);
}
