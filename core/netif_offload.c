/*
 * netif_offload.c — the transmit side of device offloads at the interface
 * (the core's half; the device's half is the backend's sendv, e.g. the
 * virtio-net header in backends/tap.c).
 *
 * A buffer from IP output may carry offload requests (buf.h, as Linux's
 * skb): the L4 checksum left to the device (csum_start/csum_offset, the
 * field holding the pseudo-header sum), a TCP frame to be cut into
 * gso_size payloads, and payload pieces borrowed from a send ring
 * (frags). us_netif_tx_offloaded() hands such a frame to the backend's
 * sendv in pieces; where the backend cannot take it, the checksum is
 * completed here (Linux skb_checksum_help) and anything else is dropped
 * (IP output never asks a device for what it lacks).
 *
 * What capture files and -v traces show of such a frame: the segments the
 * device will put on the wire, each with its checksums complete, exactly
 * as if the stack had sent them one by one (a TSO frame is never written
 * whole). That costs a copy and a checksum pass per segment, but only
 * while a capture or trace is on.
 *
 * Runs under the interface's tx_lock (netif.c); the scratch frame is
 * per thread.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define SEG_MAX (ETH_HLEN + 60 + TCP_MAX_HLEN + US_MAX_MTU)

static size_t frags_len(const struct us_buf *b)
{
	size_t n = 0;
	for (int i = 0; i < b->nfrags; i++)
		n += b->frags[i].iov_len;
	return n;
}

size_t us_netif_frame_len(const struct us_buf *b)
{
	return b->len + frags_len(b);
}

/* Where the L4 header starts in the frame at b->data. */
static size_t l4_at(const struct us_buf *b)
{
	return (size_t)b->csum_start - (size_t)(b->data - b->mem);
}

/* Complete a CHECKSUM_PARTIAL checksum over the linear frame f of len bytes. */
static void csum_help(uint8_t *f, size_t len, size_t start, size_t off)
{
	uint16_t c = wire_csum_fold(wire_csum_add(0, f + start, len - start));
	memcpy(f + start + off, &c, 2);
}

void us_netif_observe_offloaded(struct us_netif *nif, const struct us_buf *b,
				void (*emit)(struct us_netif *, const uint8_t *, size_t))
{
	static _Thread_local uint8_t seg[SEG_MAX];
	if (!b->gso_size && !b->nfrags) {
		/* Only the checksum is left to the device. */
		if (b->len > SEG_MAX)
			return;
		memcpy(seg, b->data, b->len);
		csum_help(seg, b->len, l4_at(b), b->csum_offset);
		emit(nif, seg, b->len);
		return;
	}
	size_t l4 = l4_at(b), thl = b->len - l4, iphl = l4 - ETH_HLEN;
	size_t plen = frags_len(b);
	uint32_t n = wire_tcp_gso_count(plen, b->gso_size);
	uint16_t id = get16(b->data + ETH_HLEN + 4);
	uint32_t src, dst;
	memcpy(&src, b->data + ETH_HLEN + 12, 4);
	memcpy(&dst, b->data + ETH_HLEN + 16, 4);
	for (uint32_t k = 0; k < n; k++) {
		size_t off = (size_t)k * b->gso_size;
		size_t piece = plen - off < b->gso_size || !b->gso_size ? plen - off : b->gso_size;
		if (l4 + thl + piece > SEG_MAX)
			return;
		memcpy(seg, b->data, l4);
		wire_tcp_gso_hdr(seg + l4, b->data + l4, thl, plen, b->gso_size, k);
		us_iov_copy(seg + l4 + thl, b->frags, b->nfrags, off, piece);
		uint8_t *ip = seg + ETH_HLEN;
		put16(ip + 2, (uint16_t)(iphl + thl + piece));
		put16(ip + 4, (uint16_t)(id + k));      /* one ID per segment, as the device */
		ip[10] = ip[11] = 0;
		uint16_t ic = wire_csum(ip, iphl);
		memcpy(ip + 10, &ic, 2);
		uint8_t *tcp = seg + l4;
		tcp[b->csum_offset] = tcp[b->csum_offset + 1] = 0;
		uint64_t sum = wire_csum_pseudo(src, dst, ip[9], (uint16_t)(thl + piece));
		uint16_t c = wire_csum_fold(wire_csum_add(sum, tcp, thl + piece));
		memcpy(tcp + b->csum_offset, &c, 2);
		emit(nif, seg, l4 + thl + piece);
	}
}

int us_netif_send_offloaded(struct us_netif *nif, struct us_link *l, struct us_buf *b)
{
	if (l->ops->sendv) {
		struct iovec iov[1 + US_IP_MAX_IOV];
		if (b->nfrags > US_IP_MAX_IOV) {
			errno = EINVAL;
			return -1;
		}
		iov[0] = (struct iovec){ b->data, b->len };
		for (int i = 0; i < b->nfrags; i++)
			iov[1 + i] = b->frags[i];
		struct us_link_tx tx = {
			.csum_start = b->csum_start ? (uint16_t)l4_at(b) : 0,
			.csum_offset = b->csum_offset,
			.gso_size = b->gso_size,
		};
		return l->ops->sendv(l, iov, 1 + b->nfrags, &tx);
	}
	if (b->gso_size || b->nfrags) {
		errno = EINVAL;         /* IP output never asks this of such a device */
		return -1;
	}
	csum_help(b->data, b->len, l4_at(b), b->csum_offset);
	b->csum_start = 0;
	return l->ops->send(l, b->data, b->len);
}
