/*
 * replay_pcap.h — a list of timestamped Ethernet frames, read from a
 * classic pcap file (usreplay's input and expected traces).
 *
 * Reads the classic libpcap format in either byte order, with microsecond
 * (0xa1b2c3d4) or nanosecond (0xa1b23c4d) timestamps, LINKTYPE_ETHERNET
 * only. pcapng is refused with a hint (editcap -F pcap converts it).
 * Writing goes through the library's capture writer (link.h).
 */
#ifndef US_TOOLS_REPLAY_PCAP_H
#define US_TOOLS_REPLAY_PCAP_H

#include <stddef.h>
#include <stdint.h>

struct rp_frame {
	uint64_t ts_ns;         /* timestamp in the file (or the stack clock) */
	uint32_t len;           /* bytes held in data */
	uint32_t orig_len;      /* length on the wire (>= len when cut to the snaplen) */
	uint8_t *data;
};

struct rp_trace {
	struct rp_frame *f;
	size_t n, cap;
};

/*
 * Read every record of path into t (which must be zeroed). On error
 * returns -1 and writes "PATH: reason" into err; t is then freed.
 */
int rp_pcap_read(const char *path, struct rp_trace *t, char *err, size_t errlen);

/* Append a copy of a frame. Returns -1 when out of memory. */
int rp_trace_add(struct rp_trace *t, uint64_t ts_ns, const uint8_t *data, size_t len);

void rp_trace_free(struct rp_trace *t);

#endif
