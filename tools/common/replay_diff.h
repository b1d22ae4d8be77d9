/*
 * replay_diff.h — decode Ethernet frames into named header fields, to say
 * in words where two frames differ, and to print one line per frame.
 *
 * Layers decoded: Ethernet II, ARP (Ethernet/IPv4), IPv4 (with options),
 * ICMP (echo, and the quoted header of errors), UDP, TCP (with options:
 * MSS, window scale, SACK-permitted, SACK, timestamps, NOP, EOL). What is
 * left after the innermost header is the payload, compared byte by byte.
 * Every read is bounds-checked: a truncated or malformed frame decodes as
 * far as its bytes go and the rest is "payload".
 */
#ifndef US_TOOLS_REPLAY_DIFF_H
#define US_TOOLS_REPLAY_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/common/replay_pcap.h"

/* One line describing a frame ("TCP 10.0.0.1:80 > 10.0.0.2:4000 [S.] seq ..."). */
void rp_describe(const uint8_t *frame, size_t len, char *buf, size_t cap);

/*
 * Where two frames first differ, as "LAYER FIELD: expected X, actual Y"
 * (e.g. "TCP ack: expected 1001, actual 1002", "payload byte 12: expected
 * 0x41, actual 0x42"). Returns false (and leaves buf empty) when the
 * frames are byte-identical.
 */
bool rp_frame_diff(const uint8_t *exp, size_t elen, const uint8_t *act, size_t alen, char *buf,
		   size_t cap);

/*
 * Compare two traces frame by frame (bytes; timestamps to the microsecond
 * when check_times). Prints the first difference (frame number counted from
 * 1, decoded field, both frames described) and a summary of the frame
 * counts to out. Returns 0 when equal, 1 when they differ.
 */
int rp_trace_compare(const struct rp_trace *exp, const struct rp_trace *act, bool check_times,
		     FILE *out);

#endif
