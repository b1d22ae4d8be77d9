/*
 * tap.c — the "tap" backend: a Linux TAP device through /dev/net/tun.
 *
 * open() attaches to the TAP named by cfg->device (IFF_TAP | IFF_NO_PI: the
 * fd carries bare Ethernet frames), creating a non-persistent one if none
 * of that name exists, or attaching to an existing persistent one. It then
 * brings the link up (SIOCSIFFLAGS IFF_UP) and sets the kernel side's MTU
 * to cfg->mtu (SIOCSIFMTU), each only if not already so, through an AF_INET
 * datagram socket; that needs CAP_NET_ADMIN, so an unprivileged user can use
 * a persistent TAP it owns that is already up with the right MTU.
 *
 * The kernel side of the TAP has a MAC of its own; the stack's MAC is
 * ours, so caps.has_mac is false. caps.mtu_max is the IP MTU (without the
 * 14-byte Ethernet header) the tun driver accepts at most: 65535 - 14.
 *
 * The fd is nonblocking; recv() reads, and when nothing is there polls the
 * fd together with an eventfd that wakeup() writes, so stop() can unblock a
 * receiver. send() is one write() per frame. No locks: link.h guarantees one
 * receiving thread and serialised senders; the eventfd is safe from any
 * thread.
 *
 * Offloads (cfg->offload, the default): the TAP is opened with
 * IFF_VNET_HDR, so every frame in either direction is preceded by a
 * struct virtio_net_hdr (10 bytes, host byte order as the tun driver
 * uses for a legacy header on this host); TUNSETOFFLOAD(TUN_F_CSUM |
 * TUN_F_TSO4) tells the kernel it may hand us frames whose TCP/UDP
 * checksum is not computed (NEEDS_CSUM) and TCP frames up to 64 KiB (its
 * GSO/GRO aggregates). That header lives only in this file: recv() strips
 * it and reports the checksum state in l->rx_csum; sendv() builds it from
 * struct us_link_tx (NEEDS_CSUM with csum_start/offset, gso_type TCPV4
 * with gso_size), so the kernel finishes the checksum and cuts the large
 * frame into segments itself, or delivers it whole to a local socket.
 * With offload: false the TAP is opened as before (no header, nothing
 * offloaded).
 *
 * Multiqueue (cfg->queues > 1): every queue is one open() of the same
 * device with IFF_MULTI_QUEUE, each a struct us_link of its own; netif.c
 * opens queue 0 as the interface's link and the others beside it, and
 * gives each its own receive thread. The kernel steers the frames of one
 * flow to one queue (tun's flow hash), so a flow stays in order.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "link.h"

#define TAP_MTU_MAX (65535 - 14)

struct tap {
	int fd;         /* the TAP queue, nonblocking */
	int wake_fd;    /* eventfd written by wakeup() */
	char name[IFNAMSIZ];
	bool drained;   /* the last read found the queue empty (receive thread only) */
	bool vnet;      /* IFF_VNET_HDR: a virtio_net_hdr precedes every frame */
};

#define VNET_HLEN sizeof(struct virtio_net_hdr)
#define TAP_TX_IOV 8    /* pieces sendv() takes, the header included */

/* Bring the interface up and set its MTU, each only if needed. */
static int tap_configure(const char *name, uint32_t mtu, char *err, size_t errlen)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "%s: socket(AF_INET): %s", name, strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		snprintf(err, errlen, "%s: SIOCGIFMTU: %s", name, strerror(errno));
		goto fail;
	}
	if ((uint32_t)ifr.ifr_mtu != mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			snprintf(err, errlen, "%s: set MTU %u (SIOCSIFMTU): %s", name, mtu,
				 strerror(errno));
			goto fail;
		}
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(err, errlen, "%s: SIOCGIFFLAGS: %s", name, strerror(errno));
		goto fail;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			snprintf(err, errlen, "%s: bring link up (SIOCSIFFLAGS): %s", name,
				 strerror(errno));
			goto fail;
		}
	}
	close(s);
	return 0;
fail:
	close(s);
	return -1;
}

/*
 * tap (tun false): Ethernet frames. tun (tun true, IFF_TUN): bare IP
 * packets, caps.l3, opened without the virtio-net header (no offloads).
 */
static int tap_open_kind(struct us_link *l, const struct us_iface_config *cfg, char *err,
			 size_t errlen, bool tun)
{
	const char *name = cfg->device;
	bool offload = cfg->offload && !tun;
	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap: device name '%s' must be 1..%d characters", name,
			 IFNAMSIZ - 1);
		errno = EINVAL;
		return -1;
	}
	if (cfg->mtu == 0 || cfg->mtu > TAP_MTU_MAX) {
		snprintf(err, errlen, "%s: mtu %u outside 1..%d", name, cfg->mtu, TAP_MTU_MAX);
		errno = EINVAL;
		return -1;
	}
	struct tap *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return -1;
	}
	t->fd = t->wake_fd = -1;
	snprintf(t->name, sizeof(t->name), "%s", name);

	/* Nonblocking from the start: recv() polls, send() never waits. */
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		snprintf(err, errlen, "%s: open /dev/net/tun: %s", name, strerror(errno));
		goto fail;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (tun ? IFF_TUN : IFF_TAP) | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0) |
			(cfg->queues > 1 ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		const char *hint = "";
		if (e == EPERM)
			hint = " (needs CAP_NET_ADMIN, or a persistent TAP owned by this user)";
		else if ((e == EINVAL || e == EBUSY) && cfg->queues > 1)
			hint = " (queues above 1: is it an existing single-queue device, or are "
			       "all its queues in use?)";
		else if (e == EINVAL || e == EBUSY)
			hint = tun ? " (is it an existing non-TUN interface, or a TUN in use?)"
				   : " (is it an existing non-TAP interface, or a TAP in use?)";
		snprintf(err, errlen, "%s: attach %s (TUNSETIFF): %s%s", name, tun ? "TUN" : "TAP",
			 strerror(e), hint);
		errno = e;
		goto fail;
	}
	if (offload) {
		int hl = (int)VNET_HLEN;
		if (ioctl(t->fd, TUNSETVNETHDRSZ, &hl) < 0) {
			snprintf(err, errlen, "%s: TUNSETVNETHDRSZ: %s", name, strerror(errno));
			goto fail;
		}
		if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) < 0) {
			snprintf(err, errlen, "%s: TUNSETOFFLOAD: %s (offload: false opens it without)",
				 name, strerror(errno));
			goto fail;
		}
		t->vnet = true;
	} else if (ioctl(t->fd, TUNSETOFFLOAD, 0UL) < 0) {
		/* A persistent TAP keeps the offloads a previous user turned on;
		 * without the header we could not tell their frames apart. */
		snprintf(err, errlen, "%s: TUNSETOFFLOAD(0): %s", name, strerror(errno));
		goto fail;
	}
	if (tap_configure(ifr.ifr_name, cfg->mtu, err, errlen) < 0)
		goto fail;
	t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->wake_fd < 0) {
		snprintf(err, errlen, "%s: eventfd: %s", name, strerror(errno));
		goto fail;
	}
	l->priv = t;
	l->caps.mtu_max = TAP_MTU_MAX;
	l->caps.has_mac = false;
	l->caps.can_block = true;
	l->caps.busy_poll = true;   /* recv(0) is one read(2), no state; tap_wait() takes nothing */
	l->caps.tx_csum = l->caps.tso = l->caps.rx_csum = l->caps.rx_large = t->vnet;
	l->caps.l3 = tun;
	return 0;
fail:;
	int e = errno;
	if (t->fd >= 0)
		close(t->fd);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	free(t);
	errno = e;
	return -1;
}

static int tap_open(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen)
{
	return tap_open_kind(l, cfg, err, errlen, false);
}

static int tun_open(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen)
{
	return tap_open_kind(l, cfg, err, errlen, true);
}

static int tap_sendv(struct us_link *l, const struct iovec *iov, int iovcnt,
		     const struct us_link_tx *tx)
{
	struct tap *t = l->priv;
	struct virtio_net_hdr h;
	struct iovec v[TAP_TX_IOV];
	if (iovcnt < 1 || iovcnt + 1 > TAP_TX_IOV || (!t->vnet && (tx->csum_start || tx->gso_size))) {
		errno = EINVAL;
		return -1;
	}
	int n = 0;
	if (t->vnet) {
		memset(&h, 0, sizeof h);
		if (tx->csum_start) {
			h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			h.csum_start = tx->csum_start;
			h.csum_offset = tx->csum_offset;
		}
		if (tx->gso_size) {
			h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
			h.gso_size = tx->gso_size;
			/* Up to the end of the TCP header: the first piece holds it. */
			h.hdr_len = (uint16_t)iov[0].iov_len;
		}
		v[n++] = (struct iovec){ &h, VNET_HLEN };
	}
	size_t want = n ? VNET_HLEN : 0;
	for (int i = 0; i < iovcnt; i++) {
		v[n++] = iov[i];
		want += iov[i].iov_len;
	}
	ssize_t w = writev(t->fd, v, n);
	if (w < 0)
		return -1;
	if ((size_t)w != want) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static int tap_send(struct us_link *l, const uint8_t *frame, size_t len)
{
	static const struct us_link_tx none;
	struct iovec v = { (void *)frame, len };
	return tap_sendv(l, &v, 1, &none);
}

/* One nonblocking read: >0 length, 0 nothing there, -1 error. With the
 * virtio-net header, it is read apart and turned into l->rx_csum. */
static int tap_read(struct us_link *l, struct tap *t, uint8_t *buf, size_t cap)
{
	ssize_t n;
	if (t->vnet) {
		struct virtio_net_hdr h;
		struct iovec v[2] = { { &h, VNET_HLEN }, { buf, cap } };
		n = readv(t->fd, v, 2);
		if (n >= (ssize_t)VNET_HLEN) {
			if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
				l->rx_csum = US_CSUM_PARTIAL;
			else if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID)
				l->rx_csum = US_CSUM_UNNECESSARY;
			else
				l->rx_csum = US_CSUM_NONE;
			return (int)(n - (ssize_t)VNET_HLEN);
		}
		if (n >= 0) {
			errno = EIO;    /* the driver always writes the whole header */
			return -1;
		}
	} else {
		n = read(t->fd, buf, cap);
		if (n >= 0)
			return (int)n;
	}
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll the fd and the wakeup, taking nothing: 1 readable, 0 timeout or wakeup. */
static int tap_wait(struct us_link *l, int timeout_ms)
{
	struct tap *t = l->priv;
	struct pollfd p[2] = {
		{ .fd = t->fd, .events = POLLIN },
		{ .fd = t->wake_fd, .events = POLLIN },
	};
	int r = poll(p, 2, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (p[1].revents & POLLIN) {
		uint64_t v;
		if (read(t->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -1;
		return 0;
	}
	if (p[0].revents & POLLIN)
		return 1;
	if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Read, else poll the fd and the wakeup until a frame, a wakeup or the timeout. */
static int tap_recv(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct tap *t = l->priv;
	/* After a read found the queue empty, go straight to poll: a second
	 * empty read would cost a system call per frame when frames come one
	 * at a time (request/response). Back-to-back frames keep reading. */
	if (timeout_ms == 0)
		return tap_read(l, t, buf, cap);  /* may be a busy-polling thread: no state */
	int n = 0;
	if (!t->drained) {
		n = tap_read(l, t, buf, cap);
		t->drained = n == 0;
		if (n != 0)
			return n;
	}
	int64_t end = mono_ms() + timeout_ms;
	for (;;) {
		int wait = timeout_ms < 0 ? -1 : (int)(end - mono_ms());
		if (timeout_ms >= 0 && wait <= 0)
			return 0;
		int r = tap_wait(l, wait);
		if (r <= 0)
			return r;
		n = tap_read(l, t, buf, cap);
		t->drained = n == 0;
		if (n != 0)
			return n;
	}
}

static void tap_wakeup(struct us_link *l)
{
	struct tap *t = l->priv;
	uint64_t one = 1;
	/* Fails only when the counter is saturated: a wakeup is pending anyway. */
	if (write(t->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static void tap_close(struct us_link *l)
{
	struct tap *t = l->priv;
	if (!t)
		return;
	close(t->fd);
	close(t->wake_fd);
	free(t);
	l->priv = NULL;
}

const struct us_link_ops us_link_tap = {
	.name = "tap",
	.open = tap_open,
	.send = tap_send,
	.sendv = tap_sendv,
	.recv = tap_recv,
	.wait = tap_wait,
	.next_ready = NULL,
	.wakeup = tap_wakeup,
	.close = tap_close,
};

/* The same device driver in TUN mode: IP packets without Ethernet. */
const struct us_link_ops us_link_tun = {
	.name = "tun",
	.open = tun_open,
	.send = tap_send,
	.sendv = tap_sendv,
	.recv = tap_recv,
	.wait = tap_wait,
	.next_ready = NULL,
	.wakeup = tap_wakeup,
	.close = tap_close,
};
