/*
 * capture.c — the pcap writer behind an interface's `capture:` file and the
 * pcap-file backend's output (link.h: us_capture_*).
 *
 * Classic libpcap format, written with stdio: a 24-byte global header
 * (magic 0xa1b2c3d4 in host byte order, version 2.4, snaplen 65535,
 * LINKTYPE_ETHERNET) and, per frame, a 16-byte record header (seconds,
 * microseconds, captured length, original length) followed by the bytes.
 * Frames longer than the snaplen are cut to it (original length kept).
 *
 * Each record is written whole into a stdio buffer large enough for the
 * largest record and flushed at once, so every frame reaches the kernel in
 * one write(): a process that crashes leaves a file that tcpdump and
 * tshark read up to the last frame written. After a write error the file
 * is left alone (no half records follow); the error is logged once, with the path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"

#define CAP_SNAPLEN        65535u
#define CAP_LINKTYPE_ETHER 1u
#define CAP_BUFSIZE        (16 + CAP_SNAPLEN + 1024)

struct us_capture {
	pthread_mutex_t mu;     /* protects f, failed and the file's write position */
	FILE *f;
	bool failed;            /* a write failed: nothing more is written */
	char path[];            /* for the error message; fixed at open */
};

struct pcap_global_hdr {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

_Static_assert(sizeof(struct pcap_global_hdr) == 24, "pcap global header is 24 bytes");
_Static_assert(sizeof(struct pcap_rec_hdr) == 16, "pcap record header is 16 bytes");

struct us_capture *us_capture_open(const char *path, char *err, size_t errlen)
{
	return us_capture_open_linktype(path, CAP_LINKTYPE_ETHER, err, errlen);
}

struct us_capture *us_capture_open_linktype(const char *path, uint32_t linktype, char *err,
					    size_t errlen)
{
	size_t plen = strlen(path);
	struct us_capture *c = calloc(1, sizeof(*c) + plen + 1);
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(c->path, path, plen + 1);
	c->f = fopen(path, "wb");
	if (!c->f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		free(c);
		errno = e;
		return NULL;
	}
	/* Full buffering, big enough that one record is one write at fflush. */
	setvbuf(c->f, NULL, _IOFBF, CAP_BUFSIZE);
	const struct pcap_global_hdr gh = {
		.magic = 0xa1b2c3d4,
		.version_major = 2,
		.version_minor = 4,
		.thiszone = 0,
		.sigfigs = 0,
		.snaplen = CAP_SNAPLEN,
		.linktype = linktype,
	};
	if (fwrite(&gh, sizeof(gh), 1, c->f) != 1 || fflush(c->f) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s: writing the pcap header: %s", path, strerror(e));
		fclose(c->f);
		free(c);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void us_capture_write(struct us_capture *c, uint64_t ts_ns, const uint8_t *frame, size_t len)
{
	if (!c)
		return;
	uint32_t incl = len > CAP_SNAPLEN ? CAP_SNAPLEN : (uint32_t)len;
	const struct pcap_rec_hdr rh = {
		.ts_sec = (uint32_t)(ts_ns / 1000000000u),
		.ts_usec = (uint32_t)(ts_ns % 1000000000u / 1000u),
		.incl_len = incl,
		.orig_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,
	};
	pthread_mutex_lock(&c->mu);
	if (!c->failed) {
		if (fwrite(&rh, sizeof(rh), 1, c->f) != 1 ||
		    (incl && fwrite(frame, incl, 1, c->f) != 1) || fflush(c->f) != 0) {
			c->failed = true;
			us_log_at(US_LOG_ERROR, US_LOG_ERROR, __FILE__, __LINE__, __func__,
				  "capture %s: write failed: %s; capture stopped", c->path,
				  strerror(errno));
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void us_capture_close(struct us_capture *c)
{
	if (!c)
		return;
	fclose(c->f);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
