/*
 * arp.c — ARP cache and resolver (RFC 826; RFC 1122 2.3.2.2 for the queue).
 *
 * Input follows RFC 826's "packet reception" algorithm: merge the
 * sender into the cache if it is already there, add it if the packet is
 * for one of our addresses, then answer requests for our addresses.
 * Output looks up the next hop; a miss queues the packet on an INCOMPLETE
 * entry (bounded; the oldest is dropped, as Linux does) and broadcasts a
 * request. Each entry has one timer: the next retry while INCOMPLETE, the
 * expiry while REACHABLE. Frames are sent after the lock is released.
 */
#include <errno.h>
#include <string.h>

#include "dhcp.h"
#include "stack.h"
#include "wire/eth.h"
#include "lockassert.h"

static void entry_timer(void *arg);

static unsigned hash_ip(uint32_t ip)
{
	uint32_t h = ip * 0x9e3779b1u;
	return (h >> 16) & (US_ARP_HASH - 1);
}

int us_arp_init(struct us_stack *st, struct us_arp *arp)
{
	pthread_mutex_init(&arp->lock, NULL);
	atomic_init(&arp->gen, 1);
	arp->st = st;
	arp->timeout_ns = (uint64_t)(st->cfg.arp_timeout_s ? st->cfg.arp_timeout_s
							 : US_DEFAULT_ARP_TIMEOUT_S) * US_NS_PER_SEC;
	for (int i = 0; i < US_ARP_HASH; i++)
		arp->hash[i] = -1;
	arp->free_head = 0;
	arp->nused = 0;
	for (int i = 0; i < US_ARP_ENTRIES; i++) {
		struct us_arp_entry *e = &arp->entries[i];
		memset(e, 0, sizeof *e);
		e->hnext = i + 1 < US_ARP_ENTRIES ? i + 1 : -1;
		e->arp = arp;
		us_timer_init(&e->timer, entry_timer, e);
	}
	return 0;
}

void us_arp_destroy(struct us_arp *arp)
{
	struct us_stack *st = arp->st;
	for (int i = 0; i < US_ARP_ENTRIES; i++) {
		struct us_arp_entry *e = &arp->entries[i];
		us_timer_cancel_sync(&st->wheel, &e->timer);
		us_buf_put_chain(&st->pool, e->q_head);
		e->q_head = e->q_tail = NULL;
	}
	pthread_mutex_destroy(&arp->lock);
}

/* Called with arp->lock held. */
static struct us_arp_entry *find(struct us_arp *arp, uint32_t ip)
{
	US_ASSERT_LOCKED(&arp->lock);
	for (int i = arp->hash[hash_ip(ip)]; i >= 0; i = arp->entries[i].hnext)
		if (arp->entries[i].ip == ip)
			return &arp->entries[i];
	return NULL;
}

/* Called with arp->lock held. NULL when the cache is full. */
static struct us_arp_entry *alloc_entry(struct us_arp *arp, uint32_t ip, int ifindex)
{
	US_ASSERT_LOCKED(&arp->lock);
	if (arp->free_head < 0)
		return NULL;
	int i = arp->free_head;
	struct us_arp_entry *e = &arp->entries[i];
	arp->free_head = e->hnext;
	unsigned h = hash_ip(ip);
	e->hnext = arp->hash[h];
	arp->hash[h] = i;
	e->ip = ip;
	e->ifindex = ifindex;
	e->tries = 0;
	e->q_head = e->q_tail = NULL;
	e->q_len = 0;
	arp->nused++;
	return e;
}

/* Called with arp->lock held; the caller has taken the queue. */
static void free_entry(struct us_arp *arp, struct us_arp_entry *e)
{
	US_ASSERT_LOCKED(&arp->lock);
	int idx = (int)(e - arp->entries);
	int *pp = &arp->hash[hash_ip(e->ip)];
	while (*pp != idx)
		pp = &arp->entries[*pp].hnext;
	*pp = e->hnext;
	e->state = ARP_FREE;
	atomic_fetch_add_explicit(&arp->gen, 1, memory_order_release);
	e->hnext = arp->free_head;
	arp->free_head = idx;
	arp->nused--;
	us_timer_cancel(&arp->st->wheel, &e->timer);
}

static void send_arp(struct us_netif *nif, uint16_t op, const uint8_t *dst_mac,
		     const uint8_t *tha, uint32_t spa, uint32_t tpa)
{
	struct us_stack *st = nif->st;
	struct us_buf *b = us_buf_get(&st->pool);
	if (!b)
		return;
	struct wire_arp a = { .op = op, .spa = spa, .tpa = tpa };
	memcpy(a.sha, nif->mac, 6);
	memcpy(a.tha, tha, 6);
	wire_arp_build(b->data, &a);
	b->len = ARP_LEN;
	us_netif_tx_eth(nif, b, dst_mac, ETH_TYPE_ARP);
}

static void send_request(struct us_netif *nif, uint32_t ip)
{
	static const uint8_t zero[6];
	US_STAT_INC(nif->st, ARP_TX_REQUESTS);
	send_arp(nif, ARP_OP_REQUEST, wire_eth_broadcast, zero, us_netif_src_for(nif, ip), ip);
}

/* Send a chain of IP packets to mac. */
static void flush_queue(struct us_netif *nif, struct us_buf *q, const uint8_t mac[6])
{
	while (q) {
		struct us_buf *n = q->next;
		q->next = NULL;
		us_netif_tx_eth(nif, q, mac, ETH_TYPE_IPV4);
		q = n;
	}
}

/* Fail a chain: tell each packet's owner, free it. */
static void fail_queue(struct us_stack *st, struct us_buf *q)
{
	while (q) {
		struct us_buf *n = q->next;
		US_STAT_INC(st, ARP_QUEUE_DROPS);
		us_ipv4_local_error(st, q->data, q->len, EHOSTUNREACH);
		us_buf_put(&st->pool, q);
		q = n;
	}
}

static void entry_timer(void *arg)
{
	struct us_arp_entry *e = arg;
	struct us_arp *arp = e->arp;
	struct us_stack *st = arp->st;
	uint64_t now = us_now(st);
	struct us_buf *failed = NULL;
	int resend_if = -1;
	uint32_t ip = 0;

	pthread_mutex_lock(&arp->lock);
	if (now < e->expires) {
		/* Re-armed for later since this firing was scheduled. */
		if (e->state == ARP_INCOMPLETE || e->state == ARP_REACHABLE)
			us_timer_arm(&st->wheel, &e->timer, e->expires);
	} else if (e->state == ARP_INCOMPLETE) {
		if (e->tries < US_ARP_RETRIES) {
			e->tries++;
			e->expires = now + US_ARP_RETRY_NS;
			us_timer_arm(&st->wheel, &e->timer, e->expires);
			resend_if = e->ifindex;
			ip = e->ip;
		} else {
			failed = e->q_head;
			e->q_head = e->q_tail = NULL;
			e->q_len = 0;
			free_entry(arp, e);
			US_STAT_INC(st, ARP_RESOLVE_FAILED);
		}
	} else if (e->state == ARP_REACHABLE) {
		free_entry(arp, e);
	}
	pthread_mutex_unlock(&arp->lock);

	if (resend_if >= 0)
		send_request(&st->ifs[resend_if], ip);
	fail_queue(st, failed);
}

int us_arp_output(struct us_netif *nif, uint32_t nh, struct us_buf *b)
{
	struct us_stack *st = nif->st;
	struct us_arp *arp = &st->arp;
	if (nh == 0xffffffffu || us_netif_is_bcast(nif, nh))
		return us_netif_tx_eth(nif, b, wire_eth_broadcast, ETH_TYPE_IPV4);

	uint64_t now = us_now(st);
	uint8_t mac[6];
	bool request = false;
	struct us_buf *dropped = NULL;

	pthread_mutex_lock(&arp->lock);
	struct us_arp_entry *e = find(arp, nh);
	if (e && (e->state == ARP_STATIC || (e->state == ARP_REACHABLE && now < e->expires))) {
		memcpy(mac, e->mac, 6);
		pthread_mutex_unlock(&arp->lock);
		US_STAT_INC(st, ARP_CACHE_HITS);
		return us_netif_tx_eth(nif, b, mac, ETH_TYPE_IPV4);
	}
	US_STAT_INC(st, ARP_CACHE_MISSES);
	if (!e) {
		e = alloc_entry(arp, nh, nif->index);
		if (!e) {
			pthread_mutex_unlock(&arp->lock);
			US_STAT_INC(st, ARP_CACHE_FULL);
			US_STAT_INC(st, ARP_QUEUE_DROPS);
			us_buf_put(&st->pool, b);
			return -ENOBUFS;
		}
		e->state = ARP_INCOMPLETE;
	} else if (e->state == ARP_REACHABLE) {
		/* Lapsed but its timer has not run yet: resolve again. */
		e->state = ARP_INCOMPLETE;
		atomic_fetch_add_explicit(&arp->gen, 1, memory_order_release);
		e->tries = 0;
	}
	if (e->q_len == US_ARP_QUEUE_MAX) {
		dropped = e->q_head;
		e->q_head = dropped->next;
		dropped->next = NULL;
		e->q_len--;
		if (!e->q_head)
			e->q_tail = NULL;
	}
	b->next = NULL;
	if (e->q_tail)
		e->q_tail->next = b;
	else
		e->q_head = b;
	e->q_tail = b;
	e->q_len++;
	if (e->tries == 0) {
		e->tries = 1;
		e->expires = now + US_ARP_RETRY_NS;
		us_timer_arm(&st->wheel, &e->timer, e->expires);
		request = true;
	}
	pthread_mutex_unlock(&arp->lock);

	if (dropped) {
		US_STAT_INC(st, ARP_QUEUE_DROPS);
		us_buf_put(&st->pool, dropped);
	}
	if (request)
		send_request(nif, nh);
	return 0;
}

void us_arp_input(struct us_netif *nif, const uint8_t *p, size_t len)
{
	struct us_stack *st = nif->st;
	struct us_arp *arp = &st->arp;
	struct wire_arp a;
	US_STAT_INC(st, ARP_RX);
	if (wire_arp_parse(p, len, &a) < 0 || wire_eth_is_multicast(a.sha) ||
	    a.spa == 0xffffffffu) {
		US_STAT_INC(st, ARP_DROP_MALFORMED);
		return;
	}
	if (a.op == ARP_OP_REQUEST)
		US_STAT_INC(st, ARP_RX_REQUESTS);
	else
		US_STAT_INC(st, ARP_RX_REPLIES);
	if (memcmp(a.sha, nif->mac, 6) == 0)
		return;         /* our own frame, looped back */
	if (nif->dhcp)
		us_dhcp_arp_seen(nif, a.spa, a.tpa);   /* an address being probed in use? */

	bool for_us = us_netif_has_addr(nif, a.tpa);
	uint64_t now = us_now(st);
	struct us_buf *q = NULL;

	pthread_mutex_lock(&arp->lock);
	struct us_arp_entry *e = a.spa ? find(arp, a.spa) : NULL;
	if (e && e->state != ARP_STATIC) {
		/* RFC 826 merge: refresh the sender's entry whatever the opcode. */
		if (memcmp(e->mac, a.sha, 6) != 0 || e->ifindex != nif->index)
			atomic_fetch_add_explicit(&arp->gen, 1, memory_order_release);
		memcpy(e->mac, a.sha, 6);
		e->ifindex = nif->index;
	} else if (!e && for_us && a.spa) {
		e = alloc_entry(arp, a.spa, nif->index);
		if (e)
			memcpy(e->mac, a.sha, 6);
		else
			US_STAT_INC(st, ARP_CACHE_FULL);
	}
	if (e && e->state != ARP_STATIC) {
		e->state = ARP_REACHABLE;
		e->tries = 0;
		e->expires = now + arp->timeout_ns;
		us_timer_arm(&st->wheel, &e->timer, e->expires);
		q = e->q_head;
		e->q_head = e->q_tail = NULL;
		e->q_len = 0;
	}
	pthread_mutex_unlock(&arp->lock);

	flush_queue(nif, q, a.sha);

	if (a.op != ARP_OP_REQUEST)
		return;
	if (!for_us) {
		US_STAT_INC(st, ARP_DROP_NOT_OURS);
		return;
	}
	US_STAT_INC(st, ARP_TX_REPLIES);
	send_arp(nif, ARP_OP_REPLY, a.sha, a.sha, a.tpa, a.spa);
}

void us_arp_announce(struct us_netif *nif)
{
	static const uint8_t zero[6];
	if (nif->link.caps.l3)          /* tun: no ARP on a point-to-point IP link */
		return;
	for (int i = 0; i < nif->naddrs; i++) {
		uint32_t ip = nif->addrs[i].addr.s_addr;
		US_STAT_INC(nif->st, ARP_TX_GRATUITOUS);
		send_arp(nif, ARP_OP_REQUEST, wire_eth_broadcast, zero, ip, ip);
	}
}

void us_arp_announce_addr(struct us_netif *nif, uint32_t ip)
{
	static const uint8_t zero[6];
	US_STAT_INC(nif->st, ARP_TX_GRATUITOUS);
	send_arp(nif, ARP_OP_REQUEST, wire_eth_broadcast, zero, ip, ip);
}

void us_arp_probe(struct us_netif *nif, uint32_t ip)
{
	static const uint8_t zero[6];
	US_STAT_INC(nif->st, ARP_TX_REQUESTS);
	send_arp(nif, ARP_OP_REQUEST, wire_eth_broadcast, zero, 0, ip);
}

enum us_arp_state us_arp_lookup_until(struct us_arp *arp, uint32_t ip, uint8_t mac[6],
				      uint64_t *until)
{
	uint64_t now = us_now(arp->st);
	pthread_mutex_lock(&arp->lock);
	struct us_arp_entry *e = find(arp, ip);
	enum us_arp_state s = e ? e->state : ARP_FREE;
	if (s == ARP_REACHABLE && now >= e->expires)
		s = ARP_FREE;
	if (mac && (s == ARP_REACHABLE || s == ARP_STATIC))
		memcpy(mac, e->mac, 6);
	if (until)
		*until = s == ARP_STATIC ? UINT64_MAX : s == ARP_REACHABLE ? e->expires : 0;
	pthread_mutex_unlock(&arp->lock);
	return s;
}

enum us_arp_state us_arp_lookup(struct us_arp *arp, uint32_t ip, uint8_t mac[6])
{
	return us_arp_lookup_until(arp, ip, mac, NULL);
}

int us_arp_add_static(struct us_arp *arp, uint32_t ip, const uint8_t mac[6], int ifindex)
{
	pthread_mutex_lock(&arp->lock);
	struct us_arp_entry *e = find(arp, ip);
	if (!e)
		e = alloc_entry(arp, ip, ifindex);
	if (!e) {
		pthread_mutex_unlock(&arp->lock);
		errno = ENOSPC;
		return -1;
	}
	us_timer_cancel(&arp->st->wheel, &e->timer);
	e->state = ARP_STATIC;
	memcpy(e->mac, mac, 6);
	atomic_fetch_add_explicit(&arp->gen, 1, memory_order_release);
	pthread_mutex_unlock(&arp->lock);
	return 0;
}
