/*
 * tcp_sack.c — SACK, the receiver's side (RFC 2018, RFC 2883 D-SACK).
 *
 * The out-of-order data itself is in the receive ring, described by the
 * sorted ranges ooo[] (tcp_input.c). What this file keeps is the order in
 * which they are reported: RFC 2018 4 wants the block holding the segment
 * that triggered the ACK first, then the blocks reported most recently,
 * so that each block is repeated in a few successive ACKs and survives
 * lost ACKs. Like Linux (tcp_sack_new_ofo_skb) we keep at most
 * TCP_SACK_MAX of them. Each is remembered by one sequence number inside
 * its range (an anchor): ranges only grow and merge until RCV.NXT reaches
 * them, so the anchor finds the current extent of its range when an ACK is
 * built, and a range merged into another or delivered drops out by itself.
 *
 * A duplicate segment (wholly below RCV.NXT, or inside data already held
 * out of order) is reported once, in the first block of the next ACK
 * (RFC 2883 4), followed by the block that holds it if any. All with the
 * socket lock held.
 */
#include "tcp.h"
#include "lockassert.h"
#include "sockproto.h"

/* The out-of-order range holding seq, or -1. */
static int ooo_find(const struct us_tcb *t, uint32_t seq)
{
	for (int i = 0; i < t->nooo; i++)
		if (seq_le(t->ooo[i].start, seq) && seq_lt(seq, t->ooo[i].end))
			return i;
	return -1;
}

void tcp_sack_note(struct us_tcb *t, uint32_t start, uint32_t end)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!t->sack_ok || !seq_lt(start, end))
		return;
	int first = ooo_find(t, start);
	if (first < 0)
		return;
	uint32_t keep[TCP_SACK_MAX];
	int used[TCP_SACK_MAX];
	int n = 0;
	keep[n] = start;
	used[n++] = first;
	for (int i = 0; i < t->nsack_recent && n < TCP_SACK_MAX; i++) {
		int r = ooo_find(t, t->sack_recent[i]);
		bool dup = r < 0;
		for (int k = 0; k < n && !dup; k++)
			dup = used[k] == r;
		if (!dup) {
			keep[n] = t->sack_recent[i];
			used[n++] = r;
		}
	}
	for (int i = 0; i < n; i++)
		t->sack_recent[i] = keep[i];
	t->nsack_recent = n;
}

void tcp_dsack_set(struct us_tcb *t, uint32_t start, uint32_t end)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (!t->sack_ok || !seq_lt(start, end))
		return;
	t->dsack = true;
	t->dsack_start = start;
	t->dsack_end = end;
	t->ack_now = true;      /* tell the sender now (Linux: quick ACK for a duplicate) */
}

uint8_t tcp_sack_fill(struct us_tcb *t, struct wire_tcp_opts *o, unsigned max)
{
	US_ASSERT_LOCKED(&t->sock->lock);
	if (max > TCP_SACK_MAX)
		max = TCP_SACK_MAX;
	unsigned n = 0;
	if (t->dsack && n < max) {
		o->sack[n].start = t->dsack_start;
		o->sack[n].end = t->dsack_end;
		n++;
		t->dsack = false;
	}
	int used[TCP_SACK_MAX];
	int nused = 0;
	for (int i = 0; i < t->nsack_recent && n < max; i++) {
		int r = ooo_find(t, t->sack_recent[i]);
		bool dup = r < 0;
		for (int k = 0; k < nused && !dup; k++)
			dup = used[k] == r;
		if (dup)
			continue;
		used[nused++] = r;
		o->sack[n].start = t->ooo[r].start;
		o->sack[n].end = t->ooo[r].end;
		n++;
	}
	o->nsack = (uint8_t)n;
	return (uint8_t)n;
}
