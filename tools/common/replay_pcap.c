/*
 * replay_pcap.c — classic pcap reader for usreplay (see replay_pcap.h).
 *
 * The whole header is checked before a record is trusted: the magic picks
 * the byte order and the timestamp unit, the link type must be Ethernet,
 * and every record's captured length must fit the file and a sane bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/replay_pcap.h"

#define PCAP_MAGIC_US     0xa1b2c3d4u
#define PCAP_MAGIC_NS     0xa1b23c4du
#define PCAPNG_MAGIC      0x0a0d0d0au
#define LINKTYPE_ETHERNET 1u
#define RECORD_MAX        (256u * 1024u)   /* a record above this is corrupt */

static uint32_t rd32(const uint8_t *p, int swap)
{
	if (swap)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int rp_trace_add(struct rp_trace *t, uint64_t ts_ns, const uint8_t *data, size_t len)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct rp_frame *f = realloc(t->f, cap * sizeof *f);
		if (!f)
			return -1;
		t->f = f;
		t->cap = cap;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	t->f[t->n++] = (struct rp_frame){ .ts_ns = ts_ns, .len = (uint32_t)len,
					  .orig_len = (uint32_t)len, .data = copy };
	return 0;
}

void rp_trace_free(struct rp_trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->f[i].data);
	free(t->f);
	memset(t, 0, sizeof *t);
}

int rp_pcap_read(const char *path, struct rp_trace *t, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	uint8_t gh[24];
	uint8_t *buf = NULL;
	if (fread(gh, 1, sizeof gh, f) != sizeof gh) {
		snprintf(err, errlen, "%s: not a pcap file (shorter than the 24-byte header)", path);
		goto fail;
	}
	/* Read the magic little-endian; if it reads swapped, the file is big-endian. */
	uint32_t magic = rd32(gh, 0);
	int swap;
	uint64_t unit;
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		swap = 0;
	} else if (rd32(gh, 1) == PCAP_MAGIC_US || rd32(gh, 1) == PCAP_MAGIC_NS) {
		swap = 1;
		magic = rd32(gh, 1);
	} else if (magic == PCAPNG_MAGIC) {
		snprintf(err, errlen, "%s: pcapng is not supported (convert it: editcap -F pcap IN OUT)",
			 path);
		goto fail;
	} else {
		snprintf(err, errlen, "%s: not a pcap file (magic 0x%08x)", path, magic);
		goto fail;
	}
	unit = magic == PCAP_MAGIC_NS ? 1 : 1000;
	uint32_t linktype = rd32(gh + 20, swap) & 0x0fffffffu;
	if (linktype != LINKTYPE_ETHERNET) {
		snprintf(err, errlen, "%s: link type %u is not Ethernet (1)", path, linktype);
		goto fail;
	}
	buf = malloc(RECORD_MAX);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	for (size_t rec = 1;; rec++) {
		uint8_t rh[16];
		size_t got = fread(rh, 1, sizeof rh, f);
		if (got == 0)
			break;
		if (got != sizeof rh) {
			snprintf(err, errlen, "%s: record %zu: truncated record header", path, rec);
			goto fail;
		}
		uint32_t sec = rd32(rh, swap), frac = rd32(rh + 4, swap);
		uint32_t incl = rd32(rh + 8, swap), orig = rd32(rh + 12, swap);
		if (incl > RECORD_MAX) {
			snprintf(err, errlen, "%s: record %zu: captured length %u is not believable",
				 path, rec, incl);
			goto fail;
		}
		if (fread(buf, 1, incl, f) != incl) {
			snprintf(err, errlen, "%s: record %zu: truncated (%u bytes announced)", path,
				 rec, incl);
			goto fail;
		}
		uint64_t ts = (uint64_t)sec * 1000000000ull + (uint64_t)frac * unit;
		if (rp_trace_add(t, ts, buf, incl) < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		t->f[t->n - 1].orig_len = orig > incl ? orig : incl;
	}
	free(buf);
	fclose(f);
	return 0;
fail:
	free(buf);
	fclose(f);
	rp_trace_free(t);
	return -1;
}
