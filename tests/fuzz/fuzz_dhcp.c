/*
 * fuzz_dhcp.c — libFuzzer harness for the DHCP wire format
 * (core/wire/dhcp.c).
 *
 * Every input goes, as it stands, to wire_dhcp_parse (libFuzzer's heap
 * block is exactly the input's size, so a read past the end is reported).
 * The contract in dhcp.h is checked, abort() when broken:
 *   - parse returns WIRE_DHCP_OK or one of its error codes;
 *   - an accepted message has a type, a prefix <= 32, at most
 *     DHCP_MAX_DNS servers, and its fixed fields equal the input's bytes;
 *   - the first 40 bytes of the input, taken as a client's request,
 *     build into a message of DHCP_BOOTP_MIN bytes or more that parses
 *     back with the same xid, flags, ciaddr, type and server id.
 *
 * Built by tests/fuzz/build.sh; seeds in tests/fuzz/corpus_dhcp/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/dhcp.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_dhcp: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_dhcp m;
	enum wire_dhcp_err e = wire_dhcp_parse(data, size, &m);
	CHECK(e >= WIRE_DHCP_OK && e <= WIRE_DHCP_NO_TYPE);
	CHECK(wire_dhcp_strerror(e)[0] != '?');
	if (e == WIRE_DHCP_OK) {
		CHECK(size >= DHCP_MIN_LEN);
		CHECK(m.type != 0);
		CHECK(!m.has_mask || m.prefix <= 32);
		CHECK(m.ndns >= 0 && m.ndns <= DHCP_MAX_DNS);
		CHECK(m.xid == be32(data + 4));
		CHECK(memcmp(&m.yiaddr, data + 16, 4) == 0);
		CHECK(memcmp(m.chaddr, data + 28, 6) == 0);
	}
	if (size >= 40) {
		struct wire_dhcp_req r = {
			.type = data[0],
			.xid = be32(data + 1),
			.secs = (uint16_t)(data[5] << 8 | data[6]),
			.flags = (uint16_t)(data[7] << 8 | data[8]),
			.param_list = data[9] & 1,
		};
		memcpy(&r.ciaddr, data + 10, 4);
		memcpy(r.chaddr, data + 14, 6);
		memcpy(&r.requested_ip, data + 20, 4);
		memcpy(&r.server_id, data + 24, 4);
		uint8_t *buf = malloc(DHCP_BOOTP_MIN);
		CHECK(buf);
		size_t n = wire_dhcp_build(buf, DHCP_BOOTP_MIN, &r);
		CHECK(n == DHCP_BOOTP_MIN);
		struct wire_dhcp b;
		enum wire_dhcp_err be = wire_dhcp_parse(buf, n, &b);
		/* Type 0 writes option 53 with a 0: parsed as "no type". */
		CHECK(be == (r.type ? WIRE_DHCP_OK : WIRE_DHCP_NO_TYPE));
		if (be == WIRE_DHCP_OK) {
			CHECK(b.op == 1 && b.xid == r.xid && b.flags == r.flags && b.type == r.type);
			CHECK(b.ciaddr == r.ciaddr && memcmp(b.chaddr, r.chaddr, 6) == 0);
			CHECK(b.server_id == r.server_id);
		}
		free(buf);
	}
	return 0;
}
