/*
 * pcap.c — two backends on libpcap: "pcap" (live, on an existing
 * interface) and "pcap-file" (replay a capture file on the stack's clock).
 *
 * pcap (live): one handle for both receive and inject (a second handle on
 * the same interface would see the stack's own frames): snaplen 65535,
 * promiscuous (the stack has a MAC of its own, not the interface's, so
 * caps.has_mac is false), immediate mode, direction PCAP_D_IN so frames we
 * inject are not read back, nonblocking. recv() polls the handle's
 * selectable fd together with an eventfd that wakeup() writes. send() is
 * pcap_inject(). caps.mtu_max is the interface's own MTU (IP MTU, without the
 * 14-byte header): frames beyond it would not leave, so open() refuses a
 * larger cfg->mtu. No locks: link.h serialises senders and has one
 * receiving thread; libpcap's inject and read use different paths of the
 * handle.
 *
 * The kernel's capture buffer is sized (cfg->pcap_buffer_kb, default
 * 4 MiB; libpcap's own default is 2 MiB and was seen to drop bursts from
 * a kernel peer on a veth). On a veth the frames come from the local
 * kernel, which leaves TCP/UDP checksums to an offload that never happens
 * (CHECKSUM_PARTIAL: the field holds only the pseudo-header sum) and, with
 * TSO, hands over one large segment instead of MTU-sized ones; libpcap
 * does not expose the packet's status bits, so on a veth (driver "veth",
 * from ETHTOOL_GDRVINFO) the backend recognises the partial checksum by its
 * value and completes it, as the kernel's skb_checksum_help would. On
 * other devices frames come off a wire with full checksums and are passed
 * as they are (a wrong one is dropped and counted by the stack).
 *
 * pcap-file: cfg->device is an input capture (LINKTYPE_ETHERNET only, any
 * timestamp precision); cfg->output is where frames the stack sends are
 * written with the capture writer (capture.c) at the clock's current time
 * ("" discards them). Input frames are released on the link's clock: the
 * first frame is due at the clock value at open(), each later one at that
 * base plus its timestamp's offset from the first frame's (never earlier
 * than the frame before it, if a file's timestamps go backwards).
 * next_ready() is the next frame's due time; recv() returns it once the
 * clock reaches it — with a virtual clock it never waits, with a real one
 * it sleeps up to timeout_ms for it (wakeup() cuts the sleep short). When the
 * file is exhausted recv() fails with ENODATA. caps.mtu_max = 65535 - 14.
 * The condvar's mutex (pf->mu) only guards the wakeup flag; the frame
 * state is touched by the one receiving thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#include "clock.h"
#include "link.h"
#include "wire/checksum.h"

#define SNAPLEN 65535

/* ---- live --------------------------------------------------------------- */

struct pcap_live {
	pcap_t *p;
	int fd;         /* pcap_get_selectable_fd() */
	int wake_fd;    /* eventfd written by wakeup() */
	bool local;     /* a veth: frames come from the local kernel (partial checksums) */
	uint64_t csum_completed;        /* frames whose checksum we filled in */
};

/* The device's driver name (ETHTOOL_GDRVINFO), or "" if it has none. */
static void iface_driver(const char *name, char *drv, size_t len)
{
	drv[0] = '\0';
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name)); /* caller checked: < IFNAMSIZ */
	ifr.ifr_data = (char *)&info;
	if (ioctl(s, SIOCETHTOOL, &ifr) == 0) {
		size_t n = strnlen(info.driver, sizeof(info.driver));
		if (n >= len)
			n = len - 1;
		memcpy(drv, info.driver, n);
		drv[n] = '\0';
	}
	close(s);
}

/*
 * A frame the local kernel sent with checksum offload: an unfragmented
 * IPv4 TCP or UDP packet whose checksum field holds the folded,
 * uncomplemented pseudo-header sum (what tcp_v4_send_check and
 * udp4_hwcsum leave for the device). Fill in the real checksum; true if
 * the frame was such a one. A frame whose field is already right is left
 * with the same value, so a coincidence costs nothing.
 */
static bool complete_partial_csum(uint8_t *f, size_t len)
{
	if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	const uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = (size_t)ip[2] << 8 | ip[3];
	uint8_t proto = ip[9];
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > len)
		return false;
	if ((ip[6] & 0x3f) || ip[7])            /* MF or an offset: a fragment */
		return false;
	size_t l4len = tot - ihl, at;
	if (proto == 6 && l4len >= 20)
		at = 16;
	else if (proto == 17 && l4len >= 8)
		at = 6;
	else
		return false;
	uint8_t *l4 = f + 14 + ihl;
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	uint64_t pseudo = wire_csum_pseudo(src, dst, proto, (uint16_t)l4len);
	uint16_t partial = (uint16_t)~wire_csum_fold(pseudo), field;
	memcpy(&field, l4 + at, 2);
	if (field != partial)
		return false;
	memset(l4 + at, 0, 2);
	uint16_t c = wire_csum_fold(wire_csum_add(pseudo, l4, l4len));
	if (proto == 17 && c == 0)
		c = 0xffff;                     /* RFC 768: 0 means "no checksum" */
	memcpy(l4 + at, &c, 2);
	return true;
}

static int iface_mtu(const char *name, int *mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name)); /* caller checked: < IFNAMSIZ */
	int rc = ioctl(s, SIOCGIFMTU, &ifr);
	int e = errno;
	close(s);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	*mtu = ifr.ifr_mtu;
	return 0;
}

static int live_open(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen)
{
	const char *dev = cfg->device;
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	if (!dev[0] || strlen(dev) >= IFNAMSIZ) {
		snprintf(err, errlen, "pcap: device (interface name) '%s' must be 1..%d characters",
			 dev, IFNAMSIZ - 1);
		errno = EINVAL;
		return -1;
	}
	int mtu;
	if (iface_mtu(dev, &mtu) < 0) {
		snprintf(err, errlen, "%s: no such interface? (SIOCGIFMTU: %s)", dev,
			 strerror(errno));
		errno = ENODEV;
		return -1;
	}
	if (cfg->mtu > (uint32_t)mtu) {
		snprintf(err, errlen, "%s: mtu %u is larger than the interface's MTU %d", dev,
			 cfg->mtu, mtu);
		errno = EINVAL;
		return -1;
	}
	struct pcap_live *pl = calloc(1, sizeof(*pl));
	if (!pl) {
		snprintf(err, errlen, "%s: out of memory", dev);
		errno = ENOMEM;
		return -1;
	}
	pl->wake_fd = -1;
	pl->p = pcap_create(dev, ebuf);
	if (!pl->p) {
		snprintf(err, errlen, "%s: pcap_create: %s", dev, ebuf);
		errno = ENODEV;
		goto fail;
	}
	pcap_set_snaplen(pl->p, SNAPLEN);
	pcap_set_promisc(pl->p, 1);
	pcap_set_immediate_mode(pl->p, 1);
	uint32_t kb = cfg->pcap_buffer_kb ? cfg->pcap_buffer_kb : US_PCAP_BUFFER_KB_DEFAULT;
	if (pcap_set_buffer_size(pl->p, (int)(kb * 1024)) != 0) {
		snprintf(err, errlen, "%s: pcap_set_buffer_size(%u KiB) refused", dev, kb);
		errno = EINVAL;
		goto fail;
	}
	char drv[sizeof(((struct ethtool_drvinfo *)0)->driver) + 1];
	iface_driver(dev, drv, sizeof drv);
	pl->local = strcmp(drv, "veth") == 0;
	int rc = pcap_activate(pl->p);
	if (rc < 0) {
		/* PCAP_ERROR's text is in pcap_geterr; the others have a fixed meaning. */
		const char *why = rc == PCAP_ERROR ? pcap_geterr(pl->p) : pcap_statustostr(rc);
		snprintf(err, errlen, "%s: pcap_activate: %s%s", dev, why,
			 rc == PCAP_ERROR_PERM_DENIED ? " (needs CAP_NET_RAW and CAP_NET_ADMIN)" : "");
		errno = rc == PCAP_ERROR_PERM_DENIED ? EPERM : ENODEV;
		goto fail;
	}
	if (pcap_datalink(pl->p) != DLT_EN10MB) {
		const char *dn = pcap_datalink_val_to_name(pcap_datalink(pl->p));
		snprintf(err, errlen, "%s: link type %s, not Ethernet", dev, dn ? dn : "unknown");
		errno = EINVAL;
		goto fail;
	}
	if (pcap_setdirection(pl->p, PCAP_D_IN) < 0) {
		snprintf(err, errlen, "%s: pcap_setdirection(in): %s", dev, pcap_geterr(pl->p));
		errno = EINVAL;
		goto fail;
	}
	if (pcap_setnonblock(pl->p, 1, ebuf) < 0) {
		snprintf(err, errlen, "%s: pcap_setnonblock: %s", dev, ebuf);
		errno = EIO;
		goto fail;
	}
	pl->fd = pcap_get_selectable_fd(pl->p);
	if (pl->fd < 0) {
		snprintf(err, errlen, "%s: no selectable fd for this capture", dev);
		errno = EINVAL;
		goto fail;
	}
	pl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pl->wake_fd < 0) {
		snprintf(err, errlen, "%s: eventfd: %s", dev, strerror(errno));
		goto fail;
	}
	l->priv = pl;
	l->caps.mtu_max = (uint32_t)mtu;
	l->caps.has_mac = false;
	l->caps.can_block = true;
	return 0;
fail:;
	int e = errno;
	if (pl->p)
		pcap_close(pl->p);
	free(pl);
	errno = e;
	return -1;
}

static int live_send(struct us_link *l, const uint8_t *frame, size_t len)
{
	struct pcap_live *pl = l->priv;
	errno = 0;
	int n = pcap_inject(pl->p, frame, len);
	if (n < 0 || (size_t)n != len) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* One pcap_next_ex: >0 length, 0 nothing, -1 error. */
static int live_read(struct pcap_live *pl, uint8_t *buf, size_t cap)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(pl->p, &h, &data);
	if (rc == 1) {
		size_t n = h->caplen < cap ? h->caplen : cap;
		memcpy(buf, data, n);
		if (pl->local && complete_partial_csum(buf, n))
			pl->csum_completed++;
		return (int)n;
	}
	if (rc == 0)
		return 0;
	errno = EIO;
	return -1;
}

/*
 * Poll until a frame is read, the wakeup fires, or timeout_ms passes. The
 * fd can be readable with nothing for us (an outgoing frame that the
 * direction filter drops in user space): then poll again for the time left.
 */
static int live_recv(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pcap_live *pl = l->priv;
	int n = live_read(pl, buf, cap);
	if (n != 0 || timeout_ms == 0)
		return n;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int64_t end = now + timeout_ms;
	for (;;) {
		int wait = timeout_ms < 0 ? -1 : (int)(end - now);
		struct pollfd p[2] = {
			{ .fd = pl->fd, .events = POLLIN },
			{ .fd = pl->wake_fd, .events = POLLIN },
		};
		int r = poll(p, 2, wait);
		if (r < 0)
			return errno == EINTR ? 0 : -1;
		if (p[1].revents & POLLIN) {
			uint64_t v;
			if (read(pl->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -1;
			return 0;
		}
		if (r == 0)
			return 0;
		n = live_read(pl, buf, cap);
		if (n != 0)
			return n;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			errno = EIO; /* and libpcap found nothing to report */
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (timeout_ms >= 0 && now >= end)
			return 0;
	}
}

static void live_wakeup(struct us_link *l)
{
	struct pcap_live *pl = l->priv;
	uint64_t one = 1;
	/* Fails only when the counter is saturated: a wakeup is pending anyway. */
	if (write(pl->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static void live_close(struct us_link *l)
{
	struct pcap_live *pl = l->priv;
	if (!pl)
		return;
	pcap_close(pl->p);
	close(pl->wake_fd);
	free(pl);
	l->priv = NULL;
}

const struct us_link_ops us_link_pcap = {
	.name = "pcap",
	.open = live_open,
	.send = live_send,
	.recv = live_recv,
	.next_ready = NULL,
	.wakeup = live_wakeup,
	.close = live_close,
};

/* ---- file --------------------------------------------------------------- */

struct pcap_file {
	pcap_t *p;                      /* input, read ahead by one frame */
	struct us_capture *out;         /* NULL: output discarded */
	uint64_t base;                  /* clock at open(): due time of the first frame */
	uint64_t first_ts;              /* first frame's timestamp, ns */
	bool have_first;
	/* The next frame, read ahead. */
	bool pending;                   /* false: at EOF (or error) */
	int read_error;                 /* errno to report after the last frame, 0 = EOF */
	uint64_t due;                   /* clock time it is released */
	uint32_t len;
	uint8_t frame[SNAPLEN];
	/* Wakeup of a real-clock sleep in recv(). */
	pthread_mutex_t mu;             /* protects wake */
	pthread_cond_t cv;              /* CLOCK_MONOTONIC */
	bool wake;
};

static uint64_t link_now(const struct us_link *l)
{
	if (l->clock)
		return us_clock_now(l->clock);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Read the next frame ahead and compute its due time. */
static void file_advance(struct pcap_file *pf)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(pf->p, &h, &data);
	if (rc != 1) {
		pf->pending = false;
		pf->read_error = rc == PCAP_ERROR_BREAK ? 0 : EIO;
		return;
	}
	/* Opened with nanosecond precision: tv_usec holds nanoseconds. */
	uint64_t ts = (uint64_t)h->ts.tv_sec * US_NS_PER_SEC + (uint64_t)h->ts.tv_usec;
	if (!pf->have_first) {
		pf->first_ts = ts;
		pf->have_first = true;
	}
	uint64_t due = pf->base + (ts > pf->first_ts ? ts - pf->first_ts : 0);
	if (due < pf->due) /* never earlier than the frame before it */
		due = pf->due;
	pf->due = due;
	pf->len = h->caplen < SNAPLEN ? h->caplen : SNAPLEN;
	memcpy(pf->frame, data, pf->len);
	pf->pending = true;
}

static int file_open(struct us_link *l, const struct us_iface_config *cfg, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	const char *path = cfg->device;
	if (!path[0]) {
		snprintf(err, errlen, "pcap-file: no input file (device) given");
		errno = EINVAL;
		return -1;
	}
	struct pcap_file *pf = calloc(1, sizeof(*pf));
	if (!pf) {
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return -1;
	}
	pf->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!pf->p) {
		/* libpcap's text already names the file for open errors. */
		if (strstr(ebuf, path))
			snprintf(err, errlen, "%s", ebuf);
		else
			snprintf(err, errlen, "%s: %s", path, ebuf);
		errno = EINVAL;
		free(pf);
		return -1;
	}
	int dl = pcap_datalink(pf->p);
	if (dl != DLT_EN10MB) {
		/* dl is libpcap's DLT_ value, not the file's LINKTYPE_: name it. */
		const char *dn = pcap_datalink_val_to_name(dl);
		const char *dd = pcap_datalink_val_to_description(dl);
		snprintf(err, errlen, "%s: link type %s (%s), need Ethernet (LINKTYPE_ETHERNET)",
			 path, dn ? dn : "unknown", dd ? dd : "unknown");
		pcap_close(pf->p);
		free(pf);
		errno = EINVAL;
		return -1;
	}
	if (cfg->output[0]) {
		pf->out = us_capture_open(cfg->output, err, errlen);
		if (!pf->out) {
			int e = errno;
			pcap_close(pf->p);
			free(pf);
			errno = e;
			return -1;
		}
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pf->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&pf->mu, NULL);

	pf->base = link_now(l);
	file_advance(pf);
	l->priv = pf;
	l->caps.mtu_max = SNAPLEN - 14;
	l->caps.has_mac = false;
	l->caps.can_block = !(l->clock && l->clock->is_virtual);
	return 0;
}

static int file_send(struct us_link *l, const uint8_t *frame, size_t len)
{
	struct pcap_file *pf = l->priv;
	if (pf->out)
		us_capture_write(pf->out, link_now(l), frame, len);
	return 0;
}

/* Real clock: sleep until the monotonic time t, or a wakeup. True if woken. */
static bool file_sleep_until(struct pcap_file *pf, uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / US_NS_PER_SEC),
			       .tv_nsec = (long)(t % US_NS_PER_SEC) };
	bool woken;
	pthread_mutex_lock(&pf->mu);
	while (!pf->wake) {
		if (pthread_cond_timedwait(&pf->cv, &pf->mu, &ts) == ETIMEDOUT)
			break;
	}
	woken = pf->wake;
	pf->wake = false;
	pthread_mutex_unlock(&pf->mu);
	return woken;
}

static int file_recv(struct us_link *l, uint8_t *buf, size_t cap, int timeout_ms)
{
	struct pcap_file *pf = l->priv;
	if (!pf->pending) {
		errno = pf->read_error ? pf->read_error : ENODATA;
		return -1;
	}
	uint64_t now = link_now(l);
	if (now < pf->due) {
		bool real = !(l->clock && l->clock->is_virtual);
		if (!real || timeout_ms == 0)
			return 0;
		uint64_t end = timeout_ms < 0 ? pf->due : now + (uint64_t)timeout_ms * US_NS_PER_MS;
		if (end > pf->due)
			end = pf->due;
		if (file_sleep_until(pf, end))
			return 0;
		if (link_now(l) < pf->due)
			return 0;
	}
	size_t n = pf->len < cap ? pf->len : cap;
	memcpy(buf, pf->frame, n);
	file_advance(pf);
	return (int)n;
}

static uint64_t file_next_ready(struct us_link *l)
{
	struct pcap_file *pf = l->priv;
	return pf->pending ? pf->due : UINT64_MAX;
}

static void file_wakeup(struct us_link *l)
{
	struct pcap_file *pf = l->priv;
	pthread_mutex_lock(&pf->mu);
	pf->wake = true;
	pthread_cond_signal(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

static void file_close(struct us_link *l)
{
	struct pcap_file *pf = l->priv;
	if (!pf)
		return;
	pcap_close(pf->p);
	us_capture_close(pf->out);
	pthread_mutex_destroy(&pf->mu);
	pthread_cond_destroy(&pf->cv);
	free(pf);
	l->priv = NULL;
}

const struct us_link_ops us_link_pcap_file = {
	.name = "pcap-file",
	.open = file_open,
	.send = file_send,
	.recv = file_recv,
	.next_ready = file_next_ready,
	.wakeup = file_wakeup,
	.close = file_close,
};
