/*
 * test_wire_dns.c — DNS message build and parse (core/wire/dns.c; RFC 1035
 * sections 3 and 4, RFC 2181).
 *
 * Byte vectors are written out by hand from RFC 1035 4.1 with their offsets
 * in the comments; compression pointers are 0xc000 | offset. Messages that
 * are easier to generate (long names, 33 answers, long CNAME chains) are
 * assembled by the small uncompressed encoder below, which is independent of
 * the code under test. Every message handed to the parser is first copied
 * into a heap block of exactly its length, so a sanitizer build catches any
 * read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire/dns.h"

static uint8_t *exact(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);
	if (q && len)
		memcpy(q, p, len);
	return q;
}

/* Parse a heap copy of exactly len bytes. */
static int parse(const uint8_t *p, size_t len, struct wire_dns_msg *m)
{
	uint8_t *q = exact(p, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	int r = wire_dns_parse(q, len, m);
	free(q);
	return r;
}

static uint32_t addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint32_t v;
	memcpy(&v, (const uint8_t[]){ a, b, c, d }, 4);
	return v;
}

/* One struct is ~17 KB: keep it off the test's stack. */
static struct wire_dns_msg msg;

/* ---- a tiny independent encoder (no compression) --------------------- */

struct mb {
	uint8_t b[8192];
	size_t n;
};

static void mb_u8(struct mb *m, uint8_t v) { m->b[m->n++] = v; }
static void mb_u16(struct mb *m, uint16_t v) { mb_u8(m, (uint8_t)(v >> 8)); mb_u8(m, (uint8_t)v); }
static void mb_u32(struct mb *m, uint32_t v) { mb_u16(m, (uint16_t)(v >> 16)); mb_u16(m, (uint16_t)v); }

static void mb_hdr(struct mb *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		   uint16_t ns, uint16_t ar)
{
	m->n = 0;
	mb_u16(m, id);
	mb_u16(m, flags);
	mb_u16(m, qd);
	mb_u16(m, an);
	mb_u16(m, ns);
	mb_u16(m, ar);
}

/* Dotted text to labels, no validation: the tests choose the names. */
static void mb_name(struct mb *m, const char *s)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		mb_u8(m, (uint8_t)l);
		memcpy(m->b + m->n, s, l);
		m->n += l;
		s += l;
		if (*s == '.')
			s++;
	}
	mb_u8(m, 0);
}

static void mb_question(struct mb *m, const char *name, uint16_t type)
{
	mb_name(m, name);
	mb_u16(m, type);
	mb_u16(m, 1);
}

static void mb_a(struct mb *m, const char *owner, uint32_t ttl, uint8_t a, uint8_t b,
		 uint8_t c, uint8_t d)
{
	mb_name(m, owner);
	mb_u16(m, 1);
	mb_u16(m, 1);
	mb_u32(m, ttl);
	mb_u16(m, 4);
	mb_u8(m, a); mb_u8(m, b); mb_u8(m, c); mb_u8(m, d);
}

static void mb_cname(struct mb *m, const char *owner, const char *target)
{
	mb_name(m, owner);
	mb_u16(m, 5);
	mb_u16(m, 1);
	mb_u32(m, 60);
	size_t at = m->n;
	mb_u16(m, 0);
	mb_name(m, target);
	size_t rdlen = m->n - at - 2;
	m->b[at] = (uint8_t)(rdlen >> 8);
	m->b[at + 1] = (uint8_t)rdlen;
}

/* "xxxx...": a label of n copies of ch, for long-name tests. */
static void fill(char *dst, char ch, size_t n)
{
	memset(dst, ch, n);
	dst[n] = '\0';
}

/* ---- hand-written vectors --------------------------------------------- */

/*
 * RFC 1035 4.1.1/4.1.2: id 0x1234; flags 0x0100 = QR 0, opcode 0, RD 1;
 * QDCOUNT 1; then QNAME 3 "www" 7 "example" 3 "com" 0, QTYPE 1 (A),
 * QCLASS 1 (IN). 12 + 17 + 4 = 33 bytes.
 */
static const uint8_t q_www[33] = {
	0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
};

/*
 * Response to q_www: flags 0x8180 (QR, RD, RA, NOERROR), AN 1. The question
 * name sits at offset 12 (0x0c); the answer (offset 33) is
 * c0 0c, type A, class IN, TTL 3600 (0x0e10), RDLENGTH 4, 93.184.216.34.
 * 33 + 16 = 49 bytes.
 */
static const uint8_t r_a[49] = {
	0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	/* 33 */ 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04,
	93, 184, 216, 34,
};

/* Two A records for www.example.com, TTL 300 (0x12c): 10.0.0.1, 10.0.0.2. */
static const uint8_t r_two_a[65] = {
	0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	/* 33 */ 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04,
	10, 0, 0, 1,
	/* 49 */ 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04,
	10, 0, 0, 2,
};

/*
 * www.example.com CNAME web.example.com, then web.example.com A 192.0.2.1.
 * "example.com" is at offset 16 (0x10). The CNAME (offset 33) has TTL 60,
 * RDLENGTH 6: 3 "web" c0 10; its target therefore starts at 45 (0x2d), and
 * the A record at 51 uses c0 2d as its owner. 51 + 16 = 67 bytes.
 */
static const uint8_t r_cname_a[67] = {
	0x00, 0x07, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	/* 33 */ 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x06,
	/* 45 */ 0x03, 'w', 'e', 'b', 0xc0, 0x10,
	/* 51 */ 0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
	192, 0, 2, 1,
};

/*
 * Query a.example.com; chain a -> b -> c -> d, then d A 10.0.0.7. Question
 * name: 1 "a" at 12, "example.com" at 14 (0x0e); QTYPE/QCLASS at 27..30.
 * Each CNAME is 16 bytes (owner 2, fixed 10, RDATA 4 = 1 "x" c0 0e) and
 * its target starts 12 bytes in: b at 43 (0x2b), c at 59 (0x3b), d at 75
 * (0x4b). All TTLs 100 (0x64). 79 + 16 = 95 bytes.
 */
static const uint8_t r_chain3[95] = {
	0x55, 0xaa, 0x81, 0x80, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x01, 'a', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	/* 31 */ 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x04,
	/* 43 */ 0x01, 'b', 0xc0, 0x0e,
	/* 47 */ 0xc0, 0x2b, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x04,
	/* 59 */ 0x01, 'c', 0xc0, 0x0e,
	/* 63 */ 0xc0, 0x3b, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x04,
	/* 75 */ 0x01, 'd', 0xc0, 0x0e,
	/* 79 */ 0xc0, 0x4b, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x04,
	10, 0, 0, 7,
};

/*
 * NXDOMAIN for nx.example.com: flags 0x8183 (QR, RD, RA, RCODE 3), AN 0,
 * NS 1. Question: 2 "nx" at 12, "example.com" at 15 (0x0f), type/class at
 * 28..31. Authority at 32: c0 0f SOA IN TTL 3600, RDLENGTH 33 (0x21):
 * MNAME 2 "ns" c0 0f (5), RNAME 5 "admin" c0 0f (8), then serial 1,
 * refresh 7200, retry 3600, expire 604800, minimum 300 (20). 32 + 45 = 77.
 */
static const uint8_t r_nxdomain[77] = {
	0x00, 0x42, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x02, 'n', 'x', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	/* 32 */ 0xc0, 0x0f, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x21,
	/* 44 */ 0x02, 'n', 's', 0xc0, 0x0f,
	/* 49 */ 0x05, 'a', 'd', 'm', 'i', 'n', 0xc0, 0x0f,
	/* 57 */ 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x1c, 0x20, 0x00, 0x00, 0x0e, 0x10,
	0x00, 0x09, 0x3a, 0x80, 0x00, 0x00, 0x01, 0x2c,
};

/*
 * TC set (flags 0x8380): AN says 2 but the server cut the message after the
 * question and 4 bytes of the first answer. 33 + 4 = 37 bytes.
 */
static const uint8_t r_tc[37] = {
	0x12, 0x34, 0x83, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
	0x00, 0x01, 0x00, 0x01,
	/* 33 */ 0xc0, 0x0c, 0x00, 0x01,
};

/* ---- building queries -------------------------------------------------- */

static void test_build_query_bytes(void)
{
	uint8_t buf[64];
	memset(buf, 0xee, sizeof buf);
	CU_ASSERT_EQUAL_FATAL(wire_dns_build_query(buf, sizeof buf, 0x1234, "www.example.com",
						   WIRE_DNS_TYPE_A), 33);
	CU_ASSERT_EQUAL(memcmp(buf, q_www, 33), 0);
	CU_ASSERT_EQUAL(buf[33], 0xee);         /* nothing written past the end */

	/* A trailing dot names the same (fully qualified) name. */
	memset(buf, 0, sizeof buf);
	CU_ASSERT_EQUAL_FATAL(wire_dns_build_query(buf, sizeof buf, 0x1234, "www.example.com.",
						   WIRE_DNS_TYPE_A), 33);
	CU_ASSERT_EQUAL(memcmp(buf, q_www, 33), 0);

	/* Exactly big enough, and one byte short. */
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, 33, 0x1234, "www.example.com", 1), 33);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, 32, 0x1234, "www.example.com", 1), -1);

	/* One-label name, type AAAA (28 = 0x1c), id 0xffff: 12 + 3 + 4 = 19. */
	static const uint8_t q_a_aaaa[19] = {
		0xff, 0xff, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 'A', 0x00, 0x00, 0x1c, 0x00, 0x01,
	};
	CU_ASSERT_EQUAL_FATAL(wire_dns_build_query(buf, sizeof buf, 0xffff, "A", 28), 19);
	CU_ASSERT_EQUAL(memcmp(buf, q_a_aaaa, 19), 0);
}

static void test_build_query_bad_names(void)
{
	uint8_t buf[WIRE_DNS_MAX_QUERY];
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, NULL, 1), -1);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, "", 1), -1);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, ".", 1), -1);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, "a..b", 1), -1);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, ".a", 1), -1);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, "a.b..", 1), -1);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, "..", 1), -1);

	/* Labels: 63 bytes fine (12 + 1 + 63 + 1 + 4 = 81), 64 refused. */
	char name[300];
	fill(name, 'x', 63);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, name, 1), 81);
	CU_ASSERT_EQUAL(buf[12], 63);
	CU_ASSERT_EQUAL(buf[76], 0);
	fill(name, 'x', 64);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, name, 1), -1);
	strcpy(name, "a.");
	fill(name + 2, 'y', 64);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 1, name, 1), -1);
}

/*
 * Longest name: three 63-byte labels and one of 61 are 63*3 + 61 + 3 dots
 * = 253 characters, 64*3 + 62 + 1 = 255 bytes on the wire; the query is
 * 12 + 255 + 4 = 271 bytes. One more character is too long.
 */
static void make_long_name(char *name, size_t last)
{
	fill(name, 'a', 63);
	name[63] = '.';
	fill(name + 64, 'b', 63);
	name[127] = '.';
	fill(name + 128, 'c', 63);
	name[191] = '.';
	fill(name + 192, 'd', last);
}

static void test_build_query_longest_name(void)
{
	uint8_t buf[WIRE_DNS_MAX_QUERY + 8];
	char name[300];
	make_long_name(name, 61);
	CU_ASSERT_EQUAL_FATAL(strlen(name), 253);
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 7, name, 1), 271);
	CU_ASSERT_EQUAL(WIRE_DNS_MAX_QUERY, 271);
	CU_ASSERT_EQUAL(buf[12], 63);
	CU_ASSERT_EQUAL(buf[12 + 192], 61);
	CU_ASSERT_EQUAL(buf[12 + 254], 0);      /* root octet is wire byte 255 */

	/* With the trailing dot still 253 characters of name. */
	strcat(name, ".");
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 7, name, 1), 271);

	make_long_name(name, 62);               /* 254 characters */
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 7, name, 1), -1);
	strcat(name, ".");
	CU_ASSERT_EQUAL(wire_dns_build_query(buf, sizeof buf, 7, name, 1), -1);
}

/* A query turned into a response (QR set) gives back the name asked. */
static void test_build_query_round_trip(void)
{
	uint8_t buf[WIRE_DNS_MAX_QUERY];
	char name[300];
	make_long_name(name, 61);
	int n = wire_dns_build_query(buf, sizeof buf, 0x0bad, name, WIRE_DNS_TYPE_MX);
	CU_ASSERT_EQUAL_FATAL(n, 271);
	CU_ASSERT_EQUAL(parse(buf, (size_t)n, &msg), WIRE_DNS_ENOTRESPONSE);
	buf[2] |= 0x80;
	CU_ASSERT_EQUAL_FATAL(parse(buf, (size_t)n, &msg), WIRE_DNS_OK);
	CU_ASSERT_STRING_EQUAL(msg.qname, name);
	CU_ASSERT_EQUAL(msg.qtype, 15);
	CU_ASSERT_TRUE(wire_dns_matches_query(&msg, 0x0bad, name, WIRE_DNS_TYPE_MX));
}

/* ---- parsing good responses -------------------------------------------- */

static void test_parse_plain_a(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_a, sizeof r_a, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.id, 0x1234);
	CU_ASSERT_TRUE(msg.qr);
	CU_ASSERT_EQUAL(msg.opcode, 0);
	CU_ASSERT_FALSE(msg.aa);
	CU_ASSERT_FALSE(msg.tc);
	CU_ASSERT_TRUE(msg.rd);
	CU_ASSERT_TRUE(msg.ra);
	CU_ASSERT_EQUAL(msg.rcode, WIRE_DNS_RCODE_NOERROR);
	CU_ASSERT_EQUAL(msg.qdcount, 1);
	CU_ASSERT_EQUAL(msg.ancount, 1);
	CU_ASSERT_EQUAL(msg.nscount, 0);
	CU_ASSERT_EQUAL(msg.arcount, 0);
	CU_ASSERT_TRUE(msg.has_question);
	CU_ASSERT_STRING_EQUAL(msg.qname, "www.example.com");
	CU_ASSERT_EQUAL(msg.qtype, WIRE_DNS_TYPE_A);
	CU_ASSERT_EQUAL(msg.qclass, WIRE_DNS_CLASS_IN);
	CU_ASSERT_EQUAL_FATAL(msg.nanswers, 1);
	CU_ASSERT_STRING_EQUAL(msg.an[0].name, "www.example.com");
	CU_ASSERT_EQUAL(msg.an[0].type, WIRE_DNS_TYPE_A);
	CU_ASSERT_EQUAL(msg.an[0].rclass, WIRE_DNS_CLASS_IN);
	CU_ASSERT_EQUAL(msg.an[0].ttl, 3600);
	CU_ASSERT_EQUAL(msg.an[0].rdlength, 4);
	CU_ASSERT_EQUAL(msg.an[0].addr, addr(93, 184, 216, 34));
	CU_ASSERT_STRING_EQUAL(msg.an[0].target, "");

	uint32_t a[4] = { 0 };
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "www.example.com", a, 4, canon, sizeof canon), 1);
	CU_ASSERT_EQUAL(a[0], addr(93, 184, 216, 34));
	CU_ASSERT_STRING_EQUAL(canon, "www.example.com");
	/* NULL qname: the question's. */
	a[0] = 0;
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, NULL, 0), 1);
	CU_ASSERT_EQUAL(a[0], addr(93, 184, 216, 34));
	/* Another name has no address. */
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "example.com", a, 4, canon, sizeof canon), 0);
	CU_ASSERT_STRING_EQUAL(canon, "example.com");
	/* canon too small for "www.example.com" (15 + NUL). */
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, canon, 15), WIRE_DNS_ENOSPACE);
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, canon, 16), 1);
	/* max 0: nothing written. */
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 0, NULL, 0), 0);

	/* Bytes after the last record are ignored. */
	uint8_t longer[52];
	memcpy(longer, r_a, 49);
	longer[49] = longer[50] = longer[51] = 0xff;
	CU_ASSERT_EQUAL(parse(longer, sizeof longer, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.nanswers, 1);
}

static void test_matches_query(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_a, sizeof r_a, &msg), WIRE_DNS_OK);
	CU_ASSERT_TRUE(wire_dns_matches_query(&msg, 0x1234, "www.example.com", WIRE_DNS_TYPE_A));
	CU_ASSERT_TRUE(wire_dns_matches_query(&msg, 0x1234, "WWW.Example.COM.", WIRE_DNS_TYPE_A));
	CU_ASSERT_FALSE(wire_dns_matches_query(&msg, 0x1235, "www.example.com", WIRE_DNS_TYPE_A));
	CU_ASSERT_FALSE(wire_dns_matches_query(&msg, 0x1234, "ww.example.com", WIRE_DNS_TYPE_A));
	CU_ASSERT_FALSE(wire_dns_matches_query(&msg, 0x1234, "www.example.com",
					       WIRE_DNS_TYPE_AAAA));

	/* Same response with QCLASS CH (3): not what we asked. */
	uint8_t ch[49];
	memcpy(ch, r_a, sizeof ch);
	ch[32] = 3;
	CU_ASSERT_EQUAL_FATAL(parse(ch, sizeof ch, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.qclass, 3);
	CU_ASSERT_FALSE(wire_dns_matches_query(&msg, 0x1234, "www.example.com", WIRE_DNS_TYPE_A));

	/* Opcode 2 (STATUS) in flags: 0x8180 | 2 << 11 = 0x9180. */
	memcpy(ch, r_a, sizeof ch);
	ch[2] = 0x91;
	CU_ASSERT_EQUAL_FATAL(parse(ch, sizeof ch, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.opcode, 2);
	CU_ASSERT_FALSE(wire_dns_matches_query(&msg, 0x1234, "www.example.com", WIRE_DNS_TYPE_A));

	/* The question in mixed case still matches; AA flag read (0x8580). */
	memcpy(ch, r_a, sizeof ch);
	ch[2] = 0x85;
	ch[13] = 'W';
	ch[17] = 'E';
	ch[26] = 'O';
	CU_ASSERT_EQUAL_FATAL(parse(ch, sizeof ch, &msg), WIRE_DNS_OK);
	CU_ASSERT_TRUE(msg.aa);
	CU_ASSERT_STRING_EQUAL(msg.qname, "Www.Example.cOm");
	CU_ASSERT_TRUE(wire_dns_matches_query(&msg, 0x1234, "www.example.com", WIRE_DNS_TYPE_A));
	uint32_t a[2];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "www.EXAMPLE.com", a, 2, NULL, 0), 1);

	/* No question (QDCOUNT 0, as in some FORMERR replies). */
	static const uint8_t noq[12] = { 0x12, 0x34, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0 };
	CU_ASSERT_EQUAL_FATAL(parse(noq, sizeof noq, &msg), WIRE_DNS_OK);
	CU_ASSERT_FALSE(msg.has_question);
	CU_ASSERT_EQUAL(msg.rcode, WIRE_DNS_RCODE_FORMERR);
	CU_ASSERT_FALSE(wire_dns_matches_query(&msg, 0x1234, "www.example.com", WIRE_DNS_TYPE_A));
}

static void test_parse_two_a(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_two_a, sizeof r_two_a, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.id, 0xbeef);
	CU_ASSERT_EQUAL_FATAL(msg.nanswers, 2);
	CU_ASSERT_EQUAL(msg.an[0].ttl, 300);
	CU_ASSERT_EQUAL(msg.an[1].ttl, 300);
	CU_ASSERT_EQUAL(msg.an[0].addr, addr(10, 0, 0, 1));
	CU_ASSERT_EQUAL(msg.an[1].addr, addr(10, 0, 0, 2));

	uint32_t a[4] = { 0 };
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "www.example.com", a, 4, canon, sizeof canon), 2);
	CU_ASSERT_EQUAL(a[0], addr(10, 0, 0, 1));
	CU_ASSERT_EQUAL(a[1], addr(10, 0, 0, 2));
	CU_ASSERT_EQUAL(a[2], 0);
	/* max bounds what is written. */
	memset(a, 0, sizeof a);
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "www.example.com", a, 1, NULL, 0), 1);
	CU_ASSERT_EQUAL(a[0], addr(10, 0, 0, 1));
	CU_ASSERT_EQUAL(a[1], 0);
}

static void test_parse_cname_then_a(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_cname_a, sizeof r_cname_a, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL_FATAL(msg.nanswers, 2);
	CU_ASSERT_STRING_EQUAL(msg.an[0].name, "www.example.com");
	CU_ASSERT_EQUAL(msg.an[0].type, WIRE_DNS_TYPE_CNAME);
	CU_ASSERT_EQUAL(msg.an[0].ttl, 60);
	CU_ASSERT_EQUAL(msg.an[0].rdlength, 6);
	CU_ASSERT_STRING_EQUAL(msg.an[0].target, "web.example.com");
	CU_ASSERT_EQUAL(msg.an[0].addr, 0);
	CU_ASSERT_STRING_EQUAL(msg.an[1].name, "web.example.com");
	CU_ASSERT_EQUAL(msg.an[1].type, WIRE_DNS_TYPE_A);
	CU_ASSERT_EQUAL(msg.an[1].addr, addr(192, 0, 2, 1));

	uint32_t a[4] = { 0 };
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "www.example.com", a, 4, canon, sizeof canon), 1);
	CU_ASSERT_EQUAL(a[0], addr(192, 0, 2, 1));
	CU_ASSERT_STRING_EQUAL(canon, "web.example.com");
	/* Asking for the target directly: no hop. */
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "web.example.com.", a, 4, canon, sizeof canon), 1);
	CU_ASSERT_STRING_EQUAL(canon, "web.example.com");
}

static void test_parse_cname_chain_of_3(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_chain3, sizeof r_chain3, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL_FATAL(msg.nanswers, 4);
	CU_ASSERT_STRING_EQUAL(msg.qname, "a.example.com");
	CU_ASSERT_STRING_EQUAL(msg.an[0].target, "b.example.com");
	CU_ASSERT_STRING_EQUAL(msg.an[1].name, "b.example.com");
	CU_ASSERT_STRING_EQUAL(msg.an[1].target, "c.example.com");
	CU_ASSERT_STRING_EQUAL(msg.an[2].name, "c.example.com");
	CU_ASSERT_STRING_EQUAL(msg.an[2].target, "d.example.com");
	CU_ASSERT_STRING_EQUAL(msg.an[3].name, "d.example.com");
	CU_ASSERT_EQUAL(msg.an[3].ttl, 100);

	uint32_t a[4] = { 0 };
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, canon, sizeof canon), 1);
	CU_ASSERT_EQUAL(a[0], addr(10, 0, 0, 7));
	CU_ASSERT_STRING_EQUAL(canon, "d.example.com");
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, "c.example.com", a, 4, canon, sizeof canon), 1);
	CU_ASSERT_STRING_EQUAL(canon, "d.example.com");
}

/* Records out of order: the chain is followed by name, not by position. */
static void test_cname_chain_out_of_order(void)
{
	struct mb m;
	mb_hdr(&m, 9, 0x8180, 1, 3, 0, 0);
	mb_question(&m, "start.test", 1);
	mb_a(&m, "end.test", 5, 10, 9, 9, 9);
	mb_cname(&m, "mid.test", "end.test");
	mb_cname(&m, "start.test", "mid.test");
	CU_ASSERT_EQUAL_FATAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	uint32_t a[2] = { 0 };
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 2, canon, sizeof canon), 1);
	CU_ASSERT_EQUAL(a[0], addr(10, 9, 9, 9));
	CU_ASSERT_STRING_EQUAL(canon, "end.test");
}

static void test_parse_nxdomain(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_nxdomain, sizeof r_nxdomain, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.id, 0x0042);
	CU_ASSERT_EQUAL(msg.rcode, WIRE_DNS_RCODE_NXDOMAIN);
	CU_ASSERT_EQUAL(msg.ancount, 0);
	CU_ASSERT_EQUAL(msg.nscount, 1);
	CU_ASSERT_EQUAL(msg.nanswers, 0);
	CU_ASSERT_STRING_EQUAL(msg.qname, "nx.example.com");
	CU_ASSERT_TRUE(wire_dns_matches_query(&msg, 0x42, "nx.example.com", WIRE_DNS_TYPE_A));
	uint32_t a[2];
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 2, canon, sizeof canon), 0);
	CU_ASSERT_STRING_EQUAL(canon, "nx.example.com");
}

static void test_parse_tc(void)
{
	CU_ASSERT_EQUAL_FATAL(parse(r_tc, sizeof r_tc, &msg), WIRE_DNS_OK);
	CU_ASSERT_TRUE(msg.tc);
	CU_ASSERT_EQUAL(msg.ancount, 2);
	CU_ASSERT_EQUAL(msg.nanswers, 0);       /* partial answers are not used */
	CU_ASSERT_TRUE(wire_dns_matches_query(&msg, 0x1234, "www.example.com", WIRE_DNS_TYPE_A));
	uint32_t a[2];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 2, NULL, 0), 0);

	/* The question must still be whole: bytes 0..32. */
	for (size_t n = 0; n < sizeof r_tc; n++) {
		int r = parse(r_tc, n, &msg);
		CU_ASSERT_EQUAL(r, n < 33 ? WIRE_DNS_ETRUNCATED : WIRE_DNS_OK);
	}
}

/* TTL with the top bit set reads as 0 (RFC 2181 8); 0x7fffffff is kept. */
static void test_parse_ttl_top_bit(void)
{
	uint8_t m[49];
	memcpy(m, r_a, sizeof m);
	m[39] = 0x80;
	m[40] = m[41] = m[42] = 0x00;
	CU_ASSERT_EQUAL_FATAL(parse(m, sizeof m, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.an[0].ttl, 0);
	m[39] = 0x7f;
	m[40] = m[41] = m[42] = 0xff;
	CU_ASSERT_EQUAL_FATAL(parse(m, sizeof m, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.an[0].ttl, 0x7fffffffu);
}

/* ---- truncation --------------------------------------------------------- */

/* Every proper prefix of a valid response cuts a field it needs. */
static void check_prefixes(const uint8_t *p, size_t len)
{
	CU_ASSERT_EQUAL(parse(p, len, &msg), WIRE_DNS_OK);
	for (size_t n = 0; n < len; n++) {
		int r = parse(p, n, &msg);
		CU_ASSERT_EQUAL(r, WIRE_DNS_ETRUNCATED);
	}
}

static void test_truncated_every_prefix(void)
{
	check_prefixes(r_a, sizeof r_a);
	check_prefixes(r_two_a, sizeof r_two_a);
	check_prefixes(r_cname_a, sizeof r_cname_a);
	check_prefixes(r_chain3, sizeof r_chain3);
	check_prefixes(r_nxdomain, sizeof r_nxdomain);
}

/* RDLENGTH 0x0100 with 4 bytes left; and an SOA whose RDLENGTH overshoots. */
static void test_rdlength_beyond_message(void)
{
	uint8_t m[77];
	memcpy(m, r_a, 49);
	m[43] = 0x01;
	m[44] = 0x00;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_ETRUNCATED);
	memcpy(m, r_nxdomain, 77);
	m[43] = 0x22;                           /* 34: one more than remains */
	CU_ASSERT_EQUAL(parse(m, 77, &msg), WIRE_DNS_ETRUNCATED);
}

/* ---- malformed names ---------------------------------------------------- */

static void test_pointer_to_itself(void)
{
	/* Question name at 12 is c0 0c. */
	static const uint8_t q_self[18] = {
		0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01,
	};
	CU_ASSERT_EQUAL(parse(q_self, sizeof q_self, &msg), WIRE_DNS_EPOINTER_LOOP);

	/* Answer owner at 33 is c0 21 (33). */
	uint8_t m[49];
	memcpy(m, r_a, 49);
	m[34] = 0x21;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EPOINTER_LOOP);

	/* CNAME target pointing at itself: RDATA at 45 is 3 "web" c0 2d. */
	uint8_t c[67];
	memcpy(c, r_cname_a, 67);
	c[50] = 0x2d;
	CU_ASSERT_EQUAL(parse(c, 67, &msg), WIRE_DNS_EPOINTER_LOOP);
}

/*
 * Two pointers to each other: QTYPE at 29 holds c0 21 (a pointer to 33 if
 * read as a name; as a type it is just 0xc021), and the answer owner at 33
 * is c0 1d (29). Following them naively would never end.
 */
static void test_pointers_to_each_other(void)
{
	uint8_t m[49];
	memcpy(m, r_a, 49);
	m[29] = 0xc0;
	m[30] = 0x21;
	m[33] = 0xc0;
	m[34] = 0x1d;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EPOINTER_LOOP);

	/* A name pointing back to its own start, 01 "a" c0 0c: backward, still a loop. */
	static const uint8_t q_fwd[20] = {
		0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 'a', 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01,
	};
	CU_ASSERT_EQUAL(parse(q_fwd, sizeof q_fwd, &msg), WIRE_DNS_EPOINTER_LOOP);

	/*
	 * No loop, but not decreasing: in r_two_a the second owner (49) points
	 * to 29 (QTYPE, set to c0 21), which points forward to 33, which is
	 * c0 0c. 49 -> 29 -> 33 -> 12 is refused because 33 > 29. With QTYPE
	 * c0 0c instead (49 -> 29 -> 12) the name is www.example.com.
	 */
	uint8_t t[65];
	memcpy(t, r_two_a, 65);
	t[29] = 0xc0;
	t[30] = 0x21;
	t[49] = 0xc0;
	t[50] = 0x1d;
	CU_ASSERT_EQUAL(parse(t, 65, &msg), WIRE_DNS_EPOINTER_LOOP);
	t[30] = 0x0c;
	CU_ASSERT_EQUAL_FATAL(parse(t, 65, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.qtype, 0xc00c);
	CU_ASSERT_STRING_EQUAL(msg.an[1].name, "www.example.com");
}

static void test_forward_pointer(void)
{
	uint8_t m[49];
	/* Beyond the message (offset 0xff, message 49 bytes): malformed. */
	memcpy(m, r_a, 49);
	m[34] = 0xff;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	/* 0x3fff, the largest offset a pointer can hold. */
	m[33] = 0xff;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	/* Forward but inside the message (to 45, the RDATA): refused. */
	memcpy(m, r_a, 49);
	m[34] = 45;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EPOINTER_LOOP);
	/* Into the header (offset 4): malformed. */
	memcpy(m, r_a, 49);
	m[34] = 4;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	/* A pointer whose second byte is missing. */
	static const uint8_t half[13] = {
		0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
	};
	CU_ASSERT_EQUAL(parse(half, sizeof half, &msg), WIRE_DNS_ETRUNCATED);
}

/*
 * A run of pointers each 2 bytes before the last, hidden in an opaque
 * RDATA (type 99), then an answer whose owner points at the last one.
 * 32 jumps are followed; a 33rd is refused.
 */
static int parse_pointer_run(unsigned jumps)
{
	struct mb m;
	mb_hdr(&m, 1, 0x8180, 1, 2, 0, 0);
	mb_question(&m, "a", 1);                /* 12: 01 'a' 00, then 4 bytes */
	/* First answer: owner "a" via c0 0c, type 99, RDATA = the run. */
	mb_u16(&m, 0xc00c);
	mb_u16(&m, 99);
	mb_u16(&m, 1);
	mb_u32(&m, 0);
	mb_u16(&m, (uint16_t)(2 * (jumps - 1)));
	size_t prev = 12;
	for (unsigned i = 0; i + 1 < jumps; i++) {
		size_t here = m.n;
		mb_u16(&m, (uint16_t)(0xc000 | prev));
		prev = here;
	}
	/* Second answer: owner points at the last pointer of the run. */
	mb_u16(&m, (uint16_t)(0xc000 | prev));
	mb_u16(&m, 1);
	mb_u16(&m, 1);
	mb_u32(&m, 0);
	mb_u16(&m, 4);
	mb_u32(&m, 0x01020304);
	return parse(m.b, m.n, &msg);
}

static void test_pointer_jump_limit(void)
{
	CU_ASSERT_EQUAL(parse_pointer_run(WIRE_DNS_MAX_JUMPS), WIRE_DNS_OK);
	CU_ASSERT_STRING_EQUAL(msg.an[1].name, "a");
	CU_ASSERT_EQUAL(parse_pointer_run(WIRE_DNS_MAX_JUMPS + 1), WIRE_DNS_EPOINTER_LOOP);
}

static void test_label_past_end(void)
{
	/* 03 "www" 10 "ab": the second label claims 16 bytes, 2 remain. */
	static const uint8_t m[19] = {
		0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 'w', 'w', 'w', 0x10, 'a', 'b',
	};
	CU_ASSERT_EQUAL(parse(m, sizeof m, &msg), WIRE_DNS_ETRUNCATED);
	/* No root octet: the name runs off the end. */
	CU_ASSERT_EQUAL(parse(r_a, 28, &msg), WIRE_DNS_ETRUNCATED);
}

static void test_name_too_long(void)
{
	struct mb m;
	char name[300];
	/* 255 wire bytes: accepted. */
	make_long_name(name, 61);
	mb_hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	mb_question(&m, name, 1);
	CU_ASSERT_EQUAL_FATAL(m.n, 12 + 255 + 4);
	CU_ASSERT_EQUAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(strlen(msg.qname), 253);
	/* 256 wire bytes: 63, 63, 63, 62. */
	make_long_name(name, 62);
	mb_hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	mb_question(&m, name, 1);
	CU_ASSERT_EQUAL_FATAL(m.n, 12 + 256 + 4);
	CU_ASSERT_EQUAL(parse(m.b, m.n, &msg), WIRE_DNS_EBADNAME);
	/* Four 63-byte labels: 257. */
	fill(name, 'a', 63);
	name[63] = '.';
	fill(name + 64, 'b', 63);
	name[127] = '.';
	fill(name + 128, 'c', 63);
	name[191] = '.';
	fill(name + 192, 'd', 63);
	mb_hdr(&m, 1, 0x8180, 1, 0, 0, 0);
	mb_question(&m, name, 1);
	CU_ASSERT_EQUAL(parse(m.b, m.n, &msg), WIRE_DNS_EBADNAME);

	/*
	 * Short in place but long once expanded: the question is 255 bytes,
	 * the answer owner 01 "x" c0 0c would be 2 + 255 = 257.
	 */
	make_long_name(name, 61);
	mb_hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	mb_question(&m, name, 1);
	mb_u8(&m, 1);
	mb_u8(&m, 'x');
	mb_u16(&m, 0xc00c);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
	mb_u32(&m, 0);
	mb_u16(&m, 4);
	mb_u32(&m, 0);
	CU_ASSERT_EQUAL(parse(m.b, m.n, &msg), WIRE_DNS_EBADNAME);
}

static void test_reserved_label_bits(void)
{
	uint8_t m[49];
	memcpy(m, r_a, 49);
	m[12] = 0x43;           /* 0x40: extended label type */
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	m[12] = 0x83;           /* 0x80: reserved */
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	/* In an answer owner too (c0 0c becomes 80 0c). */
	memcpy(m, r_a, 49);
	m[33] = 0x80;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	/* And in the authority section, which is only walked. */
	uint8_t n[77];
	memcpy(n, r_nxdomain, 77);
	n[32] = 0x40;
	CU_ASSERT_EQUAL(parse(n, 77, &msg), WIRE_DNS_EBADNAME);
}

/* A '.' or NUL inside a label cannot be reported as dotted text. */
static void test_dot_in_label(void)
{
	uint8_t m[49];
	memcpy(m, r_a, 49);
	m[14] = '.';            /* label "w.w" */
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	m[14] = '\0';
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADNAME);
	/* In the CNAME target "web" -> "w.b". */
	uint8_t c[67];
	memcpy(c, r_cname_a, 67);
	c[47] = '.';
	CU_ASSERT_EQUAL(parse(c, 67, &msg), WIRE_DNS_EBADNAME);
	/* In the SOA's owner in authority: only the structure is checked. */
	uint8_t n[77];
	memcpy(n, r_nxdomain, 77);
	n[16] = '.';            /* "example" -> ".xample", in the question */
	CU_ASSERT_EQUAL(parse(n, 77, &msg), WIRE_DNS_EBADNAME);
	struct mb b;
	mb_hdr(&b, 1, 0x8183, 1, 0, 1, 0);
	mb_question(&b, "q.test", 1);
	mb_u8(&b, 3);
	mb_u8(&b, 'a');
	mb_u8(&b, '.');
	mb_u8(&b, 'b');
	mb_u8(&b, 0);
	mb_u16(&b, 6);
	mb_u16(&b, 1);
	mb_u32(&b, 0);
	mb_u16(&b, 0);
	CU_ASSERT_EQUAL(parse(b.b, b.n, &msg), WIRE_DNS_OK);
}

/* ---- malformed records and headers --------------------------------------- */

static void test_a_bad_rdlength(void)
{
	/* r_a with RDLENGTH 5 and one more byte: the record fits, but A is 4. */
	uint8_t m[50];
	memcpy(m, r_a, 49);
	m[44] = 5;
	m[49] = 0;
	CU_ASSERT_EQUAL(parse(m, 50, &msg), WIRE_DNS_EBADRR);
	/* RDLENGTH 3, last byte now trailing. */
	m[44] = 3;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_EBADRR);
	/* RDLENGTH 0. */
	m[44] = 0;
	CU_ASSERT_EQUAL(parse(m, 45, &msg), WIRE_DNS_EBADRR);
	/* Class CH (3) "A" with 2 bytes: another format, kept as type + length. */
	memcpy(m, r_a, 49);
	m[38] = 3;
	m[44] = 2;
	CU_ASSERT_EQUAL_FATAL(parse(m, 47, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.an[0].rclass, 3);
	CU_ASSERT_EQUAL(msg.an[0].rdlength, 2);
	CU_ASSERT_EQUAL(msg.an[0].addr, 0);
	uint32_t a[1];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 1, NULL, 0), 0);
}

static void test_cname_bad_rdlength(void)
{
	uint8_t c[68];
	/* RDLENGTH 7 for a 6-byte name: the A record shifts by one, add a byte. */
	memcpy(c, r_cname_a, 51);
	c[44] = 7;
	c[51] = 0;
	memcpy(c + 52, r_cname_a + 51, 16);
	CU_ASSERT_EQUAL(parse(c, 68, &msg), WIRE_DNS_EBADRR);
	/* RDLENGTH 5: the name runs past its RDATA. */
	memcpy(c, r_cname_a, 67);
	c[44] = 5;
	CU_ASSERT_EQUAL(parse(c, 67, &msg), WIRE_DNS_EBADRR);
}

static void test_other_types_kept(void)
{
	/* r_a with type AAAA (28) and 16 bytes of RDATA. */
	uint8_t m[61];
	memcpy(m, r_a, 45);
	m[36] = 28;
	m[44] = 16;
	memset(m + 45, 0x20, 16);
	CU_ASSERT_EQUAL_FATAL(parse(m, 61, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.an[0].type, WIRE_DNS_TYPE_AAAA);
	CU_ASSERT_EQUAL(msg.an[0].rdlength, 16);
	CU_ASSERT_EQUAL(msg.an[0].addr, 0);
	uint32_t a[1];
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 1, NULL, 0), 0);
}

static void test_header_checks(void)
{
	/* Our own query: QR clear. */
	CU_ASSERT_EQUAL(parse(q_www, sizeof q_www, &msg), WIRE_DNS_ENOTRESPONSE);
	/* QDCOUNT 2. */
	uint8_t m[49];
	memcpy(m, r_a, 49);
	m[5] = 2;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_ETOOMANY);
	/* ANCOUNT 2 with one answer present. */
	memcpy(m, r_a, 49);
	m[7] = 2;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_ETRUNCATED);
	/* ARCOUNT 1 with no record. */
	memcpy(m, r_a, 49);
	m[11] = 1;
	CU_ASSERT_EQUAL(parse(m, 49, &msg), WIRE_DNS_ETRUNCATED);
}

/* 33 answers: the first 32 are kept, the 33rd is still checked. */
static void build_33(struct mb *m, bool bad_last)
{
	mb_hdr(m, 0x3333, 0x8180, 1, 33, 0, 0);
	mb_question(m, "many.test", 1);
	for (unsigned i = 1; i <= 33; i++) {
		if (i == 33 && bad_last) {
			mb_name(m, "many.test");
			mb_u16(m, 1);
			mb_u16(m, 1);
			mb_u32(m, 0);
			mb_u16(m, 5);           /* A with 5 bytes */
			mb_u32(m, 0);
			mb_u8(m, 0);
		} else {
			mb_a(m, "many.test", i, 10, 1, 0, (uint8_t)i);
		}
	}
}

static void test_too_many_answers(void)
{
	struct mb m;
	build_33(&m, false);
	CU_ASSERT_EQUAL_FATAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(msg.ancount, 33);
	CU_ASSERT_EQUAL(msg.nanswers, 32);
	CU_ASSERT_EQUAL(msg.an[0].addr, addr(10, 1, 0, 1));
	CU_ASSERT_EQUAL(msg.an[31].addr, addr(10, 1, 0, 32));
	CU_ASSERT_EQUAL(msg.an[31].ttl, 32);
	uint32_t a[40] = { 0 };
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 40, NULL, 0), 32);
	CU_ASSERT_EQUAL(a[31], addr(10, 1, 0, 32));
	CU_ASSERT_EQUAL(a[32], 0);

	build_33(&m, true);
	CU_ASSERT_EQUAL(parse(m.b, m.n, &msg), WIRE_DNS_EBADRR);
}

/* ---- CNAME chains in wire_dns_answer_addrs ------------------------------ */

static void test_cname_loop(void)
{
	struct mb m;
	uint32_t a[4];
	char canon[WIRE_DNS_NAME_LEN];

	/* a -> b -> a. */
	mb_hdr(&m, 1, 0x8180, 1, 2, 0, 0);
	mb_question(&m, "a.test", 1);
	mb_cname(&m, "a.test", "b.test");
	mb_cname(&m, "B.TEST", "A.test.");      /* case and trailing dot do not hide it */
	CU_ASSERT_EQUAL_FATAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, canon, sizeof canon),
			WIRE_DNS_ECNAME_LOOP);

	/* a -> a. */
	mb_hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1);
	mb_cname(&m, "a.test", "a.test");
	CU_ASSERT_EQUAL_FATAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, NULL, 0), WIRE_DNS_ECNAME_LOOP);

	/* a -> b -> c -> b, with an A for c that must not be returned. */
	mb_hdr(&m, 1, 0x8180, 1, 4, 0, 0);
	mb_question(&m, "a.test", 1);
	mb_cname(&m, "a.test", "b.test");
	mb_cname(&m, "b.test", "c.test");
	mb_cname(&m, "c.test", "b.test");
	mb_a(&m, "c.test", 1, 1, 2, 3, 4);
	CU_ASSERT_EQUAL_FATAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	CU_ASSERT_EQUAL(wire_dns_answer_addrs(&msg, NULL, a, 4, NULL, 0), WIRE_DNS_ECNAME_LOOP);
}

/* A chain of n links n0 -> n1 -> ... -> n<n>, and an A for the last. */
static int chain_of(unsigned links, char *canon)
{
	struct mb m;
	char from[8], to[8];
	mb_hdr(&m, 1, 0x8180, 1, (uint16_t)(links + 1), 0, 0);
	mb_question(&m, "n0", 1);
	for (unsigned i = 0; i < links; i++) {
		from[0] = to[0] = 'n';
		from[1] = (char)('0' + i);
		to[1] = (char)('0' + i + 1);
		from[2] = to[2] = '\0';
		mb_cname(&m, from, to);
	}
	to[0] = 'n';
	to[1] = (char)('0' + links);
	to[2] = '\0';
	mb_a(&m, to, 1, 10, 0, 0, 8);
	CU_ASSERT_EQUAL_FATAL(parse(m.b, m.n, &msg), WIRE_DNS_OK);
	uint32_t a[2] = { 0 };
	int r = wire_dns_answer_addrs(&msg, NULL, a, 2, canon, WIRE_DNS_NAME_LEN);
	if (r == 1) {
		CU_ASSERT_EQUAL(a[0], addr(10, 0, 0, 8));
	}
	return r;
}

static void test_cname_hop_limit(void)
{
	char canon[WIRE_DNS_NAME_LEN];
	CU_ASSERT_EQUAL(chain_of(8, canon), 1);
	CU_ASSERT_STRING_EQUAL(canon, "n8");
	CU_ASSERT_EQUAL(chain_of(9, canon), WIRE_DNS_ECNAME_LOOP);
}

/* ---- small helpers --------------------------------------------------------- */

static void test_name_eq(void)
{
	CU_ASSERT_TRUE(wire_dns_name_eq("www.example.com", "WWW.EXAMPLE.COM"));
	CU_ASSERT_TRUE(wire_dns_name_eq("www.example.com.", "www.Example.com"));
	CU_ASSERT_TRUE(wire_dns_name_eq("a", "a."));
	CU_ASSERT_TRUE(wire_dns_name_eq("", "."));
	CU_ASSERT_FALSE(wire_dns_name_eq("a.b..", "a.b"));
	CU_ASSERT_FALSE(wire_dns_name_eq("ab", "a"));
	CU_ASSERT_FALSE(wire_dns_name_eq("a.b", "a.c"));
	CU_ASSERT_FALSE(wire_dns_name_eq("a-b", "a.b"));
	/* Only ASCII letters fold: '[' (0x5b) is not '{' (0x7b), 0xc4 not 0xe4. */
	CU_ASSERT_FALSE(wire_dns_name_eq("[", "{"));
	CU_ASSERT_FALSE(wire_dns_name_eq("\xc4", "\xe4"));
}

static void test_strerror(void)
{
	const int codes[] = {
		WIRE_DNS_OK, WIRE_DNS_ETRUNCATED, WIRE_DNS_EBADNAME, WIRE_DNS_EPOINTER_LOOP,
		WIRE_DNS_EBADRR, WIRE_DNS_ETOOMANY, WIRE_DNS_ENOTRESPONSE,
		WIRE_DNS_ECNAME_LOOP, WIRE_DNS_ENOSPACE,
	};
	size_t n = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(codes[i], -(int)i);
		const char *s = wire_dns_strerror(codes[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_STRING_NOT_EQUAL(s, "unknown DNS error");
		for (size_t j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(s, wire_dns_strerror(codes[j]));
	}
	CU_ASSERT_STRING_EQUAL(wire_dns_strerror(-99), "unknown DNS error");
	CU_ASSERT_STRING_EQUAL(wire_dns_strerror(5), "unknown DNS error");
	CU_ASSERT_STRING_EQUAL(wire_dns_strerror(WIRE_DNS_ETRUNCATED), "message truncated");
}

US_SUITE(wire_dns, NULL, NULL,
	 US_TEST(test_build_query_bytes),
	 US_TEST(test_build_query_bad_names),
	 US_TEST(test_build_query_longest_name),
	 US_TEST(test_build_query_round_trip),
	 US_TEST(test_parse_plain_a),
	 US_TEST(test_matches_query),
	 US_TEST(test_parse_two_a),
	 US_TEST(test_parse_cname_then_a),
	 US_TEST(test_parse_cname_chain_of_3),
	 US_TEST(test_cname_chain_out_of_order),
	 US_TEST(test_parse_nxdomain),
	 US_TEST(test_parse_tc),
	 US_TEST(test_parse_ttl_top_bit),
	 US_TEST(test_truncated_every_prefix),
	 US_TEST(test_rdlength_beyond_message),
	 US_TEST(test_pointer_to_itself),
	 US_TEST(test_pointers_to_each_other),
	 US_TEST(test_forward_pointer),
	 US_TEST(test_pointer_jump_limit),
	 US_TEST(test_label_past_end),
	 US_TEST(test_name_too_long),
	 US_TEST(test_reserved_label_bits),
	 US_TEST(test_dot_in_label),
	 US_TEST(test_a_bad_rdlength),
	 US_TEST(test_cname_bad_rdlength),
	 US_TEST(test_other_types_kept),
	 US_TEST(test_header_checks),
	 US_TEST(test_too_many_answers),
	 US_TEST(test_cname_loop),
	 US_TEST(test_cname_hop_limit),
	 US_TEST(test_name_eq),
	 US_TEST(test_strerror));
