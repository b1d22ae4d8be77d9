/*
 * link.h — the link-layer backend interface.
 *
 * A backend is one small table of operations plus a capability record.
 * The stack opens one struct us_link per interface; the interface's receive
 * thread (or us_stack_poll() in deterministic mode) calls recv, and any
 * thread calls send under the interface's transmit mutex (netif.h), so a
 * backend's send never runs twice at once on one link. recv runs on one
 * thread at a time: the receive thread, or (caps.busy_poll) whichever
 * thread holds the interface's rx_lock. Backends never call back into the
 * stack.
 *
 * Frames are whole Ethernet II frames without FCS: 14-byte header + payload.
 */
#ifndef US_LINK_H
#define US_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "ustack/config.h"

struct iovec;
struct us_link;
struct us_clock;

/* Capabilities. The MTU here is the IP MTU: it EXCLUDES the 14-byte Ethernet header. */
struct us_link_caps {
	uint32_t mtu_max;       /* largest IP MTU the backend carries */
	bool has_mac;           /* the device has a MAC of its own we could adopt */
	bool l3;                /* frames are bare IPv4 packets: no Ethernet header, no ARP (tun) */
	bool can_block;         /* recv() honours timeout_ms > 0 (threaded mode) */
	bool busy_poll;         /* an application thread may busy-poll: recv(timeout 0)
				 * from any thread holding the interface's rx_lock, and
				 * the receive thread uses wait() then recv(0) (netif.c) */
	/*
	 * Offloads (all false unless the backend can and the interface's
	 * `offload:` allows; doc/BACKENDS.md). tx_csum: sendv() takes frames
	 * whose TCP/UDP checksum is left to the device (us_link_tx.csum_start).
	 * tso: sendv() takes TCP frames up to 64 KiB that the device cuts into
	 * gso_size pieces. rx_csum: recv() reports a frame's checksum state in
	 * us_link.rx_csum; rx_large: recv() may return frames past the MTU
	 * (the kernel's GRO/GSO aggregates).
	 */
	bool tx_csum, tso, rx_csum, rx_large;
};

/*
 * The L4 (TCP/UDP) checksum state of a received frame, as Linux's skb
 * ip_summed: NONE the stack verifies it; UNNECESSARY the device verified
 * it (virtio-net DATA_VALID); PARTIAL the sender left it to be computed
 * (virtio-net NEEDS_CSUM: the frame never crossed a wire, it comes from
 * the host's own stack, so the field holds only the pseudo-header sum and
 * the data is as trustworthy as a verified frame's).
 */
enum us_csum_state { US_CSUM_NONE = 0, US_CSUM_UNNECESSARY, US_CSUM_PARTIAL };

/*
 * What sendv() is asked to leave to the device, as Linux's skb
 * csum_start/csum_offset/gso_size. The frame is the concatenation of the
 * iov pieces, Ethernet header first.
 */
struct us_link_tx {
	uint16_t csum_start;    /* 0: checksum complete; else the L4 header's offset in the frame */
	uint16_t csum_offset;   /* of the checksum field from csum_start */
	uint16_t gso_size;      /* 0: one frame; else a TCP/IPv4 frame cut into gso_size payloads */
};

struct us_link_ops {
	const char *name;       /* "tap", "pcap", ... as in config */
	/*
	 * Open per cfg (device, output, impair, mtu). Writes a one-line reason
	 * into err on failure and returns -1; on success sets l->priv and l->caps.
	 */
	int (*open)(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen);
	/* Send one frame. 0 on success, -1 with errno on failure (frame dropped). */
	int (*send)(struct us_link *l, const uint8_t *frame, size_t len);
	/*
	 * Send one frame in pieces with offload work (caps.tx_csum, caps.tso)
	 * left to the device. Only backends with those capabilities have it
	 * (else NULL). Same return as send.
	 */
	int (*sendv)(struct us_link *l, const struct iovec *iov, int iovcnt,
		     const struct us_link_tx *tx);
	/*
	 * Receive one frame into buf. Waits up to timeout_ms (0: don't wait).
	 * Returns its length, 0 when nothing arrived in time, -1 with errno on
	 * error; EOF (pcap file exhausted) is -1 with errno ENODATA. A frame
	 * larger than cap is truncated to cap (the stack then drops it).
	 */
	int (*recv)(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms);
	/*
	 * Deterministic mode: the clock time (ns) at which the next frame will
	 * be ready, or UINT64_MAX if none is known. NULL: frames are ready now
	 * or never (tap, pcap).
	 */
	uint64_t (*next_ready)(struct us_link *l);
	/*
	 * Wait up to timeout_ms until a frame can be received, without taking
	 * it: 1 when one is ready, 0 on timeout or wakeup, -1 with errno on
	 * error. Required when caps.busy_poll: the receive thread waits here
	 * holding no lock, then takes the interface's rx_lock to read, so a
	 * busy poller and the receive thread never consume at once.
	 */
	int (*wait)(struct us_link *l, int timeout_ms);
	/* Wake a recv() or wait() blocked in another thread (used by stop). May be NULL. */
	void (*wakeup)(struct us_link *l);
	void (*close)(struct us_link *l);
};

struct us_link {
	const struct us_link_ops *ops;
	void *priv;                     /* backend state */
	struct us_link_caps caps;
	const struct us_clock *clock;   /* the stack's clock (virtual in deterministic mode) */
	uint64_t seed;                  /* for backends with randomness (pair impairments) */
	uint8_t mac[6];                 /* filled by open() when caps.has_mac */
	/*
	 * caps.rx_csum: recv() sets this to the enum us_csum_state of the
	 * frame it returns; read by the same consumer right after. A backend
	 * that wraps another must carry it with the frame (or leave it NONE
	 * and pass only frames it verified itself).
	 */
	uint8_t rx_csum;
};

/* Backend tables (backends/). */
extern const struct us_link_ops us_link_tap;
extern const struct us_link_ops us_link_tun;
extern const struct us_link_ops us_link_pcap;
extern const struct us_link_ops us_link_pcap_file;
extern const struct us_link_ops us_link_loopback;
extern const struct us_link_ops us_link_pair;

const struct us_link_ops *us_link_ops_for(enum us_backend_kind kind);

/*
 * Impairments on any link (backends/impair.c): wrap the opened link l so
 * that what it sends goes through the "out" impairments and what it
 * receives through the "in" ones (loss, duplication, reordering,
 * corruption, delay with jitter, rate), seeded from l->seed. On failure l
 * is left as it was. 0, or -1 with err and errno.
 */
int us_link_impair_wrap(struct us_link *l, const struct us_impair *in, const struct us_impair *out,
			char *err, size_t errlen);
/* Counters of each direction of a wrapped link (zeros if l is not wrapped). */
struct us_pair_stats;
void us_link_impair_stats(struct us_link *l, struct us_pair_stats *in, struct us_pair_stats *out,
			  uint64_t *oversize);

/*
 * Capture: a pcap writer (LINKTYPE_ETHERNET, microsecond timestamps) that
 * tcpdump and Wireshark read. Thread-safe: one mutex per capture file
 * protects the FILE and its write position.
 */
struct us_capture;
struct us_capture *us_capture_open(const char *path, char *err, size_t errlen);
/* The same with another link type: US_LINKTYPE_RAW (101) for bare IP packets (tun). */
#define US_LINKTYPE_RAW 101u
struct us_capture *us_capture_open_linktype(const char *path, uint32_t linktype, char *err,
					    size_t errlen);
/* ts_ns: the stack clock; written as seconds + microseconds. */
void us_capture_write(struct us_capture *c, uint64_t ts_ns, const uint8_t *frame, size_t len);
void us_capture_close(struct us_capture *c);

#endif /* US_LINK_H */
