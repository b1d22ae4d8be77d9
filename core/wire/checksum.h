/*
 * checksum.h — the Internet checksum (RFC 1071), pure functions.
 *
 * wire_csum_add() sums a buffer in 64-bit words into a 64-bit accumulator
 * (RFC 1071 section 2: the sum is independent of word size and byte order
 * as long as it is folded at the end); wire_csum_fold() folds and
 * complements. Incremental update per RFC 1624.
 */
#ifndef US_WIRE_CHECKSUM_H
#define US_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * In the checked build the unit tests link (US_DEBUG_LOCKS), the bytes
 * this thread has summed (all of them: wire_csum_add, wire_csum_copy and
 * what calls them), so a test can show that no checksum work is done where
 * a device does it (tests/unit/test_offload.c). Not in release builds.
 */
#ifdef US_DEBUG_LOCKS
extern _Thread_local uint64_t wire_csum_counted;
#endif

/* Add len bytes at p to sum. Buffers of odd length are padded with zero. */
uint64_t wire_csum_add(uint64_t sum, const void *p, size_t len);
/*
 * Add a piece that starts at byte offset off of the summed data: a piece
 * at an odd offset has its bytes in the other halves of the 16-bit words,
 * so its own sum is byte-swapped (RFC 1071 2(B)) before it is added.
 */
uint64_t wire_csum_add_at(uint64_t sum, const void *p, size_t len, size_t off);
/*
 * Copy len bytes from src to dst (which must not overlap) and add them to
 * sum, in one pass: the same sum as wire_csum_add(sum, src, len) up to
 * folding, for the price of little more than the copy. The _at form takes
 * a piece at byte offset off of the summed data, as wire_csum_add_at.
 */
uint64_t wire_csum_copy(uint64_t sum, void *dst, const void *src, size_t len);
uint64_t wire_csum_copy_at(uint64_t sum, void *dst, const void *src, size_t len, size_t off);
/* Fold a sum to 16 bits and complement: the value to store (network order). */
uint16_t wire_csum_fold(uint64_t sum);
/* Checksum of one buffer: wire_csum_fold(wire_csum_add(0, p, len)). */
uint16_t wire_csum(const void *p, size_t len);
/* Sum of the IPv4 pseudo-header (addresses in network order, len in host order). */
uint64_t wire_csum_pseudo(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint16_t len);
/* RFC 1624 eqn. 3: new checksum after a 16-bit field changes from old to new. */
uint16_t wire_csum_update16(uint16_t csum, uint16_t old_be, uint16_t new_be);

#endif
