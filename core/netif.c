/*
 * netif.c — interfaces: open/close, the receive thread, Ethernet input
 * demultiplexing, and the single transmit path (capture, trace, backend).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stack.h"
#include "wire/bytes.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "lockassert.h"

#define RX_POLL_MS 200  /* receive threads re-check for stop this often */
#define RX_BATCH   64   /* frames a receive thread takes per turn of rx_lock */
#define RX_PROBE   8    /* one-frame wake-ups between two that read on (rx_turn) */

static void close_queues(struct us_netif *nif)
{
	for (int i = 1; i < nif->nqueues; i++) {
		struct us_netq *q = &nif->xq[i - 1];
		q->link.ops->close(&q->link);
		pthread_mutex_destroy(&q->tx_lock);
		pthread_mutex_destroy(&q->rx_lock);
	}
	free(nif->xq);
	nif->xq = NULL;
	nif->nqueues = 1;
}

/* Queues 1..N-1 of a multiqueue device, opened as queue 0 was (same cfg:
 * the backend attaches each to the device with IFF_MULTI_QUEUE). */
static int open_queues(struct us_stack *st, struct us_netif *nif,
		       const struct us_iface_config *cfg, uint64_t seed, char *err, size_t errlen)
{
	int nq = cfg->queues > 1 ? (int)cfg->queues : 1;
	for (int i = 0; i < US_MAX_QUEUES; i++) {
		nif->rxq[i].nif = nif;
		nif->rxq[i].qi = i;
	}
	nif->nqueues = 1;
	if (nq == 1)
		return 0;
	nif->xq = calloc((size_t)nq - 1, sizeof *nif->xq);
	if (!nif->xq) {
		snprintf(err, errlen, "%s: out of memory for %d queues", cfg->name, nq);
		return -1;
	}
	for (int i = 1; i < nq; i++) {
		struct us_netq *q = &nif->xq[i - 1];
		char berr[256] = "";
		q->link.ops = nif->link.ops;
		q->link.clock = &st->clock;
		q->link.seed = seed + (uint64_t)i;
		if (q->link.ops->open(&q->link, cfg, berr, sizeof berr) < 0) {
			snprintf(err, errlen, "%s: queue %d of %d: %s", cfg->name, i, nq,
				 berr[0] ? berr : strerror(errno));
			close_queues(nif);
			return -1;
		}
		pthread_mutex_init(&q->tx_lock, NULL);
		pthread_mutex_init(&q->rx_lock, NULL);
		nif->nqueues = i + 1;
	}
	return 0;
}

static struct us_link *q_link(struct us_netif *nif, int qi)
{
	return qi ? &nif->xq[qi - 1].link : &nif->link;
}

static pthread_mutex_t *q_rx_lock(struct us_netif *nif, int qi)
{
	return qi ? &nif->xq[qi - 1].rx_lock : &nif->rx_lock;
}

/* What both kinds of interface share once name, MAC and addresses are set. */
static int open_link(struct us_stack *st, struct us_netif *nif, const struct us_iface_config *cfg,
		     uint64_t seed, char *err, size_t errlen)
{
	pthread_mutex_init(&nif->tx_lock, NULL);
	pthread_mutex_init(&nif->rx_lock, NULL);

	nif->link.ops = us_link_ops_for(cfg->backend);
	nif->link.clock = &st->clock;
	nif->link.seed = seed;
	if (!nif->link.ops) {
		snprintf(err, errlen, "%s: backend %s is not available", cfg->name,
			 us_backend_name(cfg->backend));
		return -1;
	}
	/* Impairments of the interface layer (backends/impair.c): in:/out:, or
	 * on a backend without a wire of its own the flat keys, both ways. */
	const struct us_impair *in = &cfg->impair_in, *out = &cfg->impair_out;
	if (cfg->backend != US_BACKEND_PAIR && cfg->backend != US_BACKEND_LOOPBACK &&
	    us_impair_is_set(&cfg->impair))
		in = out = &cfg->impair;
	bool impaired = us_impair_is_set(in) || us_impair_is_set(out);
	/* The impair layer queues bare frames: no checksum state, no large
	 * frames, no sendv. An impaired interface opens its device without
	 * offloads (doc/BACKENDS.md). */
	struct us_iface_config plain;
	/* A router forwards what it receives as it came: a TAP's 64 KiB GSO
	 * aggregate or a frame with a checksum left to the device could not go
	 * out on a wire as it is. A forwarding interface opens without
	 * offloads, as Linux turns GRO'd packets back into segments. */
	if ((impaired || nif->forwarding) && cfg->offload) {
		plain = *cfg;
		plain.offload = false;
		cfg = &plain;
	}
	char berr[256] = "";
	if (nif->link.ops->open(&nif->link, cfg, berr, sizeof berr) < 0) {
		snprintf(err, errlen, "%s: %s", cfg->name, berr[0] ? berr : strerror(errno));
		nif->link.ops = NULL;
		return -1;
	}
	if (open_queues(st, nif, cfg, seed, err, errlen) < 0) {
		nif->link.ops->close(&nif->link);
		nif->link.ops = NULL;
		return -1;
	}
	if (impaired && us_link_impair_wrap(&nif->link, in, out, berr, sizeof berr) < 0) {
		snprintf(err, errlen, "%s: %s", cfg->name, berr);
		close_queues(nif);      /* none: validation refuses queues with impair */
		nif->link.ops->close(&nif->link);
		nif->link.ops = NULL;
		return -1;
	}
	if (cfg->capture[0]) {
		nif->capture = nif->link.caps.l3
				       ? us_capture_open_linktype(cfg->capture, US_LINKTYPE_RAW, berr,
								  sizeof berr)
				       : us_capture_open(cfg->capture, berr, sizeof berr);
		if (!nif->capture) {
			snprintf(err, errlen, "%s: capture: %s", cfg->name, berr);
			close_queues(nif);
			nif->link.ops->close(&nif->link);
			nif->link.ops = NULL;
			return -1;
		}
	}
	return 0;
}

int us_netif_open(struct us_stack *st, struct us_netif *nif, int index,
		  const struct us_iface_config *cfg, char *err, size_t errlen)
{
	memset(nif, 0, sizeof *nif);
	nif->st = st;
	nif->index = index;
	nif->stats = st->ifstats + (size_t)index * (US_TSLOTS + 1);
	snprintf(nif->name, sizeof nif->name, "%s", cfg->name);
	nif->mtu = cfg->mtu ? cfg->mtu : US_DEFAULT_MTU;
	memcpy(nif->addrs, cfg->addrs, sizeof nif->addrs);
	nif->naddrs = cfg->naddrs;
	nif->forwarding = cfg->forwarding_set ? cfg->forwarding : st->cfg.forwarding;
	if (cfg->mac_set) {
		memcpy(nif->mac, cfg->mac, 6);
	} else {
		/* Random, locally administered (bit 1), unicast (bit 0 clear). */
		uint64_t r = us_rng_u64(&st->rng);
		for (int i = 0; i < 6; i++)
			nif->mac[i] = (uint8_t)(r >> (8 * i));
		nif->mac[0] = (uint8_t)((nif->mac[0] & 0xfe) | 0x02);
	}
	return open_link(st, nif, cfg, us_rng_u64(&st->rng), err, errlen);
}

int us_netif_open_loopback(struct us_stack *st, struct us_netif *nif, uint32_t mtu, char *err,
			   size_t errlen)
{
	static struct us_iface_config cfg;      /* all zero but what is set below */
	struct us_iface_config c = cfg;
	snprintf(c.name, sizeof c.name, "lo");
	c.backend = US_BACKEND_LOOPBACK;
	c.mtu = mtu;
	c.addrs[0].addr.s_addr = htonl(0x7f000001);
	c.addrs[0].prefix = 8;
	c.naddrs = 1;
	memset(nif, 0, sizeof *nif);
	nif->st = st;
	nif->index = US_LO_IFINDEX;
	nif->stats = st->ifstats + (size_t)US_LO_IFINDEX * (US_TSLOTS + 1);
	nif->loopback = true;
	snprintf(nif->name, sizeof nif->name, "%s", c.name);
	nif->mtu = mtu;
	memcpy(nif->addrs, c.addrs, sizeof nif->addrs);
	nif->naddrs = c.naddrs;
	return open_link(st, nif, &c, 0, err, errlen);
}

void us_netif_close(struct us_netif *nif)
{
	if (nif->link.ops) {
		close_queues(nif);
		nif->link.ops->close(&nif->link);
	}
	nif->link.ops = NULL;
	if (nif->capture)
		us_capture_close(nif->capture);
	nif->capture = NULL;
	pthread_mutex_destroy(&nif->tx_lock);
	pthread_mutex_destroy(&nif->rx_lock);
}

/*
 * -v: one line per frame, as tcpdump prints it: the time of day (the
 * virtual clock's seconds in deterministic mode), the interface, '<' in
 * or '>' out, then wire_describe's text. Output frames are traced before
 * they are handed to the backend, so a reply can never be printed before
 * the request that caused it.
 */
static void trace_frame(struct us_netif *nif, char dir, const uint8_t *f, size_t len)
{
	char line[512], ts[32];
	if (nif->link.caps.l3)
		wire_describe_ip(f, len, line, sizeof line);
	else
		wire_describe(f, len, line, sizeof line);
	/* The time is read with stderr held, so lines come out in time order. */
	flockfile(stderr);
	if (nif->st->clock.is_virtual) {
		uint64_t now = us_now(nif->st);
		snprintf(ts, sizeof ts, "%llu.%06llu", (unsigned long long)(now / US_NS_PER_SEC),
			 (unsigned long long)(now % US_NS_PER_SEC / 1000));
	} else {
		struct timespec t;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &t);
		localtime_r(&t.tv_sec, &tm);
		snprintf(ts, sizeof ts, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 t.tv_nsec / 1000);
	}
	fprintf(stderr, "%s %s %c %s\n", ts, nif->name, dir, line);
	funlockfile(stderr);
}

/* Capture and trace one outgoing frame (under tx_lock). */
static void observe_tx(struct us_netif *nif, const uint8_t *f, size_t len)
{
	if (nif->capture)
		us_capture_write(nif->capture, us_now(nif->st), f, len);
	if (nif->st->flags & US_STACK_TRACE_FRAMES)
		trace_frame(nif, '>', f, len);
}

/*
 * The transmit queue of a multiqueue interface for the frame in b: by a
 * hash of its IPv4 addresses, protocol and (TCP, UDP, first fragments)
 * ports, so one flow always leaves through one queue; anything else
 * (ARP) through queue 0.
 */
static int tx_queue(const struct us_netif *nif, const struct us_buf *b)
{
	const uint8_t *p = b->data;
	size_t n = b->len;
	if (!nif->link.caps.l3) {
		if (n < ETH_HLEN || get16(p + 12) != ETH_TYPE_IPV4)
			return 0;
		p += ETH_HLEN;
		n -= ETH_HLEN;
	}
	if (n < IP4_HLEN)
		return 0;
	size_t hl = (size_t)(p[0] & 0x0f) * 4;
	uint32_t h = get32(p + 12) ^ get32(p + 16) ^ p[9];
	if ((p[9] == IP_PROTO_TCP || p[9] == IP_PROTO_UDP) && (get16(p + 6) & IP4_OFF_MASK) == 0 &&
	    n >= hl + 4)
		h ^= get32(p + hl);
	h ^= h >> 16;
	h *= 0x9e3779b1u;
	return (int)(((uint64_t)h * (uint32_t)nif->nqueues) >> 32);
}

int us_netif_tx(struct us_netif *nif, struct us_buf *b)
{
	struct us_stack *st = nif->st;
	int rc = 0;
	int qi = nif->nqueues > 1 ? tx_queue(nif, b) : 0;
	struct us_link *l = q_link(nif, qi);
	pthread_mutex_t *txl = qi ? &nif->xq[qi - 1].tx_lock : &nif->tx_lock;
	/* Nothing sends holding a protocol lock (doc/LOCKING.md), nor twice. */
	US_ASSERT_UNLOCKED(txl);
	US_ASSERT_UNLOCKED(&st->arp.lock);
	US_ASSERT_UNLOCKED(&st->ip.reasm_lock);
	US_ASSERT_UNLOCKED(&st->icmp.lock);
	/* Offloads requested (netif_offload.c): checksum, segmentation, borrowed payload. */
	bool offl = b->csum_start || b->gso_size || b->nfrags;
	size_t flen = offl ? us_netif_frame_len(b) : b->len;
	pthread_mutex_lock(txl);
	if (nif->capture || (st->flags & US_STACK_TRACE_FRAMES)) {
		if (offl)
			us_netif_observe_offloaded(nif, b, observe_tx);
		else
			observe_tx(nif, b->data, b->len);
	}
	if ((offl ? us_netif_send_offloaded(nif, l, b) : l->ops->send(l, b->data, b->len)) < 0)
		rc = -(errno ? errno : EIO);
	pthread_mutex_unlock(txl);
	/* lo counts in its own interface counters only: eth: stays the wire's. */
	if (rc == 0) {
		if (!nif->loopback) {
			US_STAT_INC(st, ETH_TX_FRAMES);
			US_STAT_ADD(st, ETH_TX_BYTES, flen);
		}
		US_IFSTAT_INC(nif, TX_FRAMES);
		US_IFSTAT_ADD(nif, TX_BYTES, flen);
	} else {
		if (!nif->loopback)
			US_STAT_INC(st, ETH_TX_ERRORS);
		US_IFSTAT_INC(nif, TX_ERRORS);     /* on lo: its queue was full */
	}
	us_buf_put(&st->pool, b);
	return rc;
}

int us_netif_tx_eth(struct us_netif *nif, struct us_buf *b, const uint8_t dst[6], uint16_t type)
{
	uint8_t *h = us_buf_push(b, ETH_HLEN);
	wire_eth_build(h, dst, nif->mac, type);
	return us_netif_tx(nif, b);
}

int us_netif_output_ip(struct us_netif *nif, uint32_t nh, struct us_buf *b)
{
	if (nif->link.caps.l3)          /* tun: the packet as it is, no neighbour */
		return us_netif_tx(nif, b);
	if (nif->loopback)
		return us_netif_tx_eth(nif, b, nif->mac, ETH_TYPE_IPV4);
	return us_arp_output(nif, nh, b);
}

void us_netif_input(struct us_netif *nif, const uint8_t *frame, size_t len)
{
	us_netif_input_csum(nif, frame, len, US_CSUM_NONE);
}

static void input_frame(struct us_netif *nif, const uint8_t *frame, size_t len, uint8_t csum);

void us_netif_input_csum(struct us_netif *nif, const uint8_t *frame, size_t len, uint8_t csum)
{
	US_ASSERT_LOCKED(&nif->rx_lock);
	input_frame(nif, frame, len, csum);
}

/* One frame taken from queue qi, whose rx_lock the caller holds. */
static void q_input(struct us_netif *nif, int qi, const uint8_t *frame, size_t len, uint8_t csum)
{
	US_ASSERT_LOCKED(q_rx_lock(nif, qi));
	atomic_fetch_add_explicit(&nif->rxq[qi].frames, 1, memory_order_relaxed);
	input_frame(nif, frame, len, csum);
}

/* With the rx_lock of the queue the frame came from (any queue of nif). */
static void input_frame(struct us_netif *nif, const uint8_t *frame, size_t len, uint8_t csum)
{
	struct us_stack *st = nif->st;
	if (!nif->loopback) {       /* see us_netif_tx */
		US_STAT_INC(st, ETH_RX_FRAMES);
		US_STAT_ADD(st, ETH_RX_BYTES, len);
	}
	US_IFSTAT_INC(nif, RX_FRAMES);
	US_IFSTAT_ADD(nif, RX_BYTES, len);
	if (nif->capture)
		us_capture_write(nif->capture, us_now(st), frame, len);
	if (st->flags & US_STACK_TRACE_FRAMES)
		trace_frame(nif, '<', frame, len);
	if (nif->link.caps.l3) {        /* tun: a bare IP packet, never "broadcast" */
		us_ipv4_input(nif, frame, len, false, csum != US_CSUM_NONE);
		return;
	}

	struct wire_eth eth;
	if (wire_eth_parse(frame, len, &eth) < 0) {
		US_STAT_INC(st, ETH_DROP_SHORT);
		US_IFSTAT_INC(nif, RX_DROPPED);
		return;
	}
	if (memcmp(eth.dst, nif->mac, 6) != 0 && memcmp(eth.dst, wire_eth_broadcast, 6) != 0) {
		US_STAT_INC(st, ETH_DROP_NOT_OURS);
		US_IFSTAT_INC(nif, RX_DROPPED);
		return;
	}
	switch (eth.type) {
	case ETH_TYPE_ARP:
		us_arp_input(nif, eth.payload, eth.payload_len);
		break;
	case ETH_TYPE_IPV4:
		/* Past the filter above, "not our MAC" means broadcast. */
		us_ipv4_input(nif, eth.payload, eth.payload_len, memcmp(eth.dst, nif->mac, 6) != 0,
			      csum != US_CSUM_NONE);
		break;
	default:
		US_STAT_INC(st, ETH_DROP_TYPE);
		US_IFSTAT_INC(nif, RX_DROPPED);
		break;
	}
}

/* Receive buffer size: the largest frame any backend may hand us (a
 * TAP's GSO aggregate: 14 + 65535 bytes). */
#define RX_CAP (65536 + 64)

/* Deterministic driver: the caller's thread is the queue's consumer. */
int us_netif_poll(struct us_netif *nif, int max)
{
	static _Thread_local uint8_t rx[RX_CAP];
	int n = 0;
	if (nif->link_eof)
		return 0;
	struct us_wake_batch wb;
	us_sock_batch_begin(&wb);
	for (int qi = 0; qi < nif->nqueues && n < max; qi++) {
		struct us_link *l = q_link(nif, qi);
		pthread_mutex_lock(q_rx_lock(nif, qi));
		while (n < max) {
			int len = l->ops->recv(l, rx, sizeof rx, 0);
			if (len <= 0) {
				if (len < 0 && errno == ENODATA)
					nif->link_eof = true;
				break;
			}
			q_input(nif, qi, rx, (size_t)len, l->rx_csum);
			n++;
		}
		pthread_mutex_unlock(q_rx_lock(nif, qi));
	}
	us_sock_batch_end(&wb);
	return n;
}

int us_netif_busy_poll(struct us_stack *st)
{
	static _Thread_local uint8_t rx[RX_CAP];
	int n = 0;
	struct us_wake_batch wb;
	us_sock_batch_begin(&wb);
	for (int i = 0; i < st->nifs; i++) {
		struct us_netif *nif = &st->ifs[i];
		if (!nif->link.caps.busy_poll)
			continue;
		for (int qi = 0; qi < nif->nqueues; qi++) {
			struct us_link *l = q_link(nif, qi);
			/* Someone else is consuming this queue now: its frames are theirs. */
			if (pthread_mutex_trylock(q_rx_lock(nif, qi)) != 0)
				continue;
			for (int k = 0; k < 8; k++) {
				int len = l->ops->recv(l, rx, sizeof rx, 0);
				if (len <= 0)
					break;
				q_input(nif, qi, rx, (size_t)len, l->rx_csum);
				n++;
			}
			pthread_mutex_unlock(q_rx_lock(nif, qi));
		}
	}
	us_sock_batch_end(&wb);
	return n;
}

/*
 * One turn of the receive thread, frames read and processed under rx_lock.
 * A busy-pollable backend: wait for a frame holding no lock (a busy poller
 * may take the queue meanwhile), then take rx_lock, parking there while a
 * busy poller owns the queue, and read up to RX_BATCH frames without
 * waiting. (Parking the receive thread for a whole busy-poll session, on
 * a condition variable signalled when the session ends, cost a wake-up per
 * session: connection setup by a busy-polling server ran at a third of the
 * rate.) Otherwise the receive thread is the only consumer: wait inside
 * recv, then process the frame under rx_lock.
 * Returns frames processed, 0 if none, -1 with errno on error.
 */
static int rx_turn(struct us_netif *nif, int qi, uint8_t *rx)
{
	struct us_link *l = q_link(nif, qi);
	pthread_mutex_t *rxl = q_rx_lock(nif, qi);
	struct us_wake_batch wb;
	if (!l->caps.busy_poll) {
		int len = l->ops->recv(l, rx, RX_CAP, RX_POLL_MS);
		if (len <= 0)
			return len;
		us_sock_batch_begin(&wb);
		pthread_mutex_lock(rxl);
		q_input(nif, qi, rx, (size_t)len, l->rx_csum);
		pthread_mutex_unlock(rxl);
		us_sock_batch_end(&wb);
		return 1;
	}
	int r = l->ops->wait(l, RX_POLL_MS);
	if (r <= 0)
		return r;
	/* Request/response traffic brings one frame per wake-up: reading on
	 * until the queue is empty costs an empty read(2) per frame. While
	 * the wake-ups have brought one frame each, take one and go back to
	 * waiting (which returns at once if more came); every RX_PROBE-th
	 * wake-up reads on, and leaves that mode when it finds more. */
	struct us_netq_rx *qr = &nif->rxq[qi];
	int max = RX_BATCH;
	if (qr->single && qr->probe) {
		qr->probe--;
		max = 1;
	}
	int n = 0, len = 0;
	us_sock_batch_begin(&wb);
	pthread_mutex_lock(rxl);
	while (n < max) {
		len = l->ops->recv(l, rx, RX_CAP, 0);
		if (len <= 0)
			break;
		q_input(nif, qi, rx, (size_t)len, l->rx_csum);
		n++;
	}
	pthread_mutex_unlock(rxl);
	us_sock_batch_end(&wb);       /* readers woken once per batch */
	if (max > 1) {
		qr->single = n == 1 && len == 0;
		qr->probe = RX_PROBE;
	}
	return n == 0 && len < 0 ? -1 : n;
}

/* The receive thread of one queue (arg: its struct us_netq_rx). */
static void *rx_main(void *arg)
{
	struct us_netq_rx *q = arg;
	struct us_netif *nif = q->nif;
	int qi = q->qi;
	struct us_stack *st = nif->st;
	uint8_t *rx = malloc(RX_CAP);
	if (!rx) {
		US_ERR(st, "%s: receive thread: out of memory", nif->name);
		return NULL;
	}
	unsigned errors = 0;
	while (!atomic_load(&st->halt)) {
		int n = rx_turn(nif, qi, rx);
		if (n > 0) {
			errors = 0;
			continue;
		}
		if (n == 0 || errno == EINTR || errno == EAGAIN)
			continue;
		if (errno == ENODATA) {
			US_INFO(st, "%s: input exhausted", nif->name);
			break;
		}
		/* Persistent errors: log the first few, then keep trying slowly. */
		if (++errors <= 3)
			US_ERR(st, "%s: receive: %s", nif->name, strerror(errno));
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	free(rx);
	return NULL;
}

/*
 * "rx-<if>/<queue>" (truncated to the 15 characters the kernel keeps), so
 * that top -H, /proc/PID/task/TID/comm and perf report --sort comm tell
 * the receive threads apart from the application's.
 */
static void name_rx_thread(struct us_netif *nif, pthread_t th, int qi)
{
	char nm[16];
	snprintf(nm, sizeof nm, "rx-%.8s/%d", nif->name, qi % US_MAX_QUEUES);
	pthread_setname_np(th, nm);
}

int us_netif_start_rx(struct us_netif *nif)
{
	int rc = pthread_create(&nif->rx_thread, NULL, rx_main, &nif->rxq[0]);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	nif->rx_started = true;
	name_rx_thread(nif, nif->rx_thread, 0);
	for (int qi = 1; qi < nif->nqueues; qi++) {
		struct us_netq *q = &nif->xq[qi - 1];
		rc = pthread_create(&q->rx_thread, NULL, rx_main, &nif->rxq[qi]);
		if (rc != 0) {
			errno = rc;
			return -1;      /* the caller stops what started (us_netif_stop_rx) */
		}
		q->rx_started = true;
		name_rx_thread(nif, q->rx_thread, qi);
	}
	return 0;
}

void us_netif_stop_rx(struct us_netif *nif)
{
	for (int qi = 1; qi < nif->nqueues; qi++) {
		struct us_netq *q = &nif->xq[qi - 1];
		if (!q->rx_started)
			continue;
		if (q->link.ops->wakeup)
			q->link.ops->wakeup(&q->link);
		pthread_join(q->rx_thread, NULL);
		q->rx_started = false;
	}
	if (!nif->rx_started)
		return;
	if (nif->link.ops->wakeup)
		nif->link.ops->wakeup(&nif->link);
	pthread_join(nif->rx_thread, NULL);
	nif->rx_started = false;
}

int us_netif_queue_frames(struct us_netif *nif, uint64_t out[US_MAX_QUEUES])
{
	for (int qi = 0; qi < nif->nqueues; qi++)
		out[qi] = atomic_load_explicit(&nif->rxq[qi].frames, memory_order_relaxed);
	return nif->nqueues;
}

bool us_netif_has_addr(const struct us_netif *nif, uint32_t addr)
{
	for (int i = 0; i < nif->naddrs; i++)
		if (nif->addrs[i].addr.s_addr == addr)
			return true;
	struct us_cidr l;
	return us_netif_lease(nif, &l) && l.addr.s_addr == addr;
}

static bool is_bcast_of(const struct us_cidr *c, uint32_t a)
{
	if (c->prefix >= 31)
		return false;   /* RFC 3021: /31 and /32 have no broadcast */
	uint32_t m = us_prefix_mask(c->prefix);
	return a == ((ntohl(c->addr.s_addr) & m) | ~m);
}

bool us_netif_is_bcast(const struct us_netif *nif, uint32_t addr)
{
	uint32_t a = ntohl(addr);
	for (int i = 0; i < nif->naddrs; i++)
		if (is_bcast_of(&nif->addrs[i], a))
			return true;
	struct us_cidr l;
	return us_netif_lease(nif, &l) && is_bcast_of(&l, a);
}

static bool same_net(const struct us_cidr *c, uint32_t peer)
{
	uint32_t m = us_prefix_mask(c->prefix);
	return (ntohl(c->addr.s_addr) & m) == (ntohl(peer) & m);
}

uint32_t us_netif_src_for(const struct us_netif *nif, uint32_t peer)
{
	for (int i = 0; i < nif->naddrs; i++)
		if (same_net(&nif->addrs[i], peer))
			return nif->addrs[i].addr.s_addr;
	struct us_cidr l;
	bool leased = us_netif_lease(nif, &l);
	if (leased && same_net(&l, peer))
		return l.addr.s_addr;
	return nif->naddrs ? nif->addrs[0].addr.s_addr : leased ? l.addr.s_addr : 0;
}

uint32_t us_netif_first_addr(const struct us_netif *nif)
{
	struct us_cidr l;
	if (nif->naddrs)
		return nif->addrs[0].addr.s_addr;
	return us_netif_lease(nif, &l) ? l.addr.s_addr : 0;
}

bool us_netif_on_link(const struct us_netif *nif, uint32_t peer)
{
	for (int i = 0; i < nif->naddrs; i++)
		if (same_net(&nif->addrs[i], peer))
			return true;
	struct us_cidr l;
	return us_netif_lease(nif, &l) && same_net(&l, peer);
}
