/*
 * fuzz_dns.c — libFuzzer harness for the DNS wire format (core/wire/dns.c).
 *
 * Every input is fed, as it stands, to wire_dns_parse; when it parses, the
 * result goes through wire_dns_answer_addrs (from the question's name and
 * from each kept answer's owner) and wire_dns_matches_query. The same bytes,
 * up to the first NUL, are also used as a name for wire_dns_build_query,
 * into a heap block of exactly the capacity given, so AddressSanitizer
 * reports any write past it. libFuzzer hands over a heap block of exactly
 * the input's size, so any read past the end is reported too.
 *
 * Beyond "no crash", the contract in dns.h is checked, and abort()s when
 * broken:
 *   - parse returns 0 or one of the parse error codes;
 *   - an accepted message: QR set, QDCOUNT <= 1, nanswers is
 *     min(ANCOUNT, 32) (0 when TC is set), every reported name is a valid
 *     dotted name (<= 253 characters, labels 1..63, no empty label);
 *     A/IN records have RDLENGTH 4;
 *   - answer_addrs returns a count <= max or WIRE_DNS_ECNAME_LOOP, writes
 *     only addresses of kept A/IN records, and a valid canonical name;
 *   - a parsed question name (if not the root) builds into a query that,
 *     with QR set, parses back to the same name, type and id;
 *   - build_query: a name it accepts has the documented length and parses
 *     back equal (ignoring a trailing dot).
 *
 * Built by tests/fuzz/build.sh; seeds in tests/fuzz/corpus_dns/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/dns.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_dns: %s:%d: check failed: %s\n",  \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* Parsed messages are ~17 KB each: static, the harness is single-threaded. */
static struct wire_dns_msg m, back;

/* Length of s up to its NUL, looking at most max bytes (C11 has no strnlen). */
static size_t bounded_len(const char *s, size_t max)
{
	const char *z = memchr(s, '\0', max);
	return z ? (size_t)(z - s) : max;
}

/* A reported name: NUL inside its buffer, at most 253 characters, labels
 * of 1..63 bytes with no empty one; "" (the root) is allowed. */
static void check_name(const char *s)
{
	size_t n = bounded_len(s, WIRE_DNS_NAME_LEN);
	CHECK(n < WIRE_DNS_NAME_LEN);
	CHECK(n <= WIRE_DNS_MAX_TEXT_NAME);
	if (n == 0)
		return;
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			CHECK(label >= 1 && label <= WIRE_DNS_MAX_LABEL);
			label = 0;
		} else {
			label++;
		}
	}
}

static void check_addrs(const char *qname)
{
	uint32_t addrs[WIRE_DNS_MAX_RR + 1];
	char canon[WIRE_DNS_NAME_LEN];
	memset(canon, 0x5a, sizeof canon);
	int r = wire_dns_answer_addrs(&m, qname, addrs, WIRE_DNS_MAX_RR + 1, canon, sizeof canon);
	CHECK(r == WIRE_DNS_ECNAME_LOOP || (r >= 0 && r <= m.nanswers));
	if (r < 0)
		return;
	check_name(canon);
	for (int i = 0; i < r; i++) {
		int found = 0;
		for (int j = 0; j < m.nanswers && !found; j++)
			found = m.an[j].type == WIRE_DNS_TYPE_A &&
				m.an[j].rclass == WIRE_DNS_CLASS_IN &&
				m.an[j].addr == addrs[i] &&
				wire_dns_name_eq(m.an[j].name, canon);
		CHECK(found);
	}
	/* The same chain, max 1, a 1-byte canon: ENOSPACE unless the name is the root. */
	char tiny[1];
	r = wire_dns_answer_addrs(&m, qname, addrs, 1, tiny, sizeof tiny);
	CHECK(r == WIRE_DNS_ENOSPACE || (r >= 0 && r <= 1));
	CHECK((r == WIRE_DNS_ENOSPACE) == (canon[0] != '\0'));
}

/* Build a query for name; if accepted, check its length and round trip. */
static void check_build(const char *name, uint16_t id, uint16_t qtype, size_t cap)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	CHECK(buf);
	int n = wire_dns_build_query(buf, cap, id, name, qtype);
	if (n < 0) {
		free(buf);
		return;
	}
	size_t text = strlen(name);
	if (text > 0 && name[text - 1] == '.')
		text--;
	CHECK(text >= 1 && text <= WIRE_DNS_MAX_TEXT_NAME);
	CHECK((size_t)n == WIRE_DNS_HLEN + text + 2 + 4 && (size_t)n <= cap);
	CHECK(wire_dns_parse(buf, (size_t)n, &back) == WIRE_DNS_ENOTRESPONSE);
	buf[2] |= 0x80;
	CHECK(wire_dns_parse(buf, (size_t)n, &back) == WIRE_DNS_OK);
	CHECK(wire_dns_matches_query(&back, id, name, qtype));
	CHECK(back.rd && !back.tc && back.nanswers == 0);
	CHECK(strlen(back.qname) == text && memcmp(back.qname, name, text) == 0);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	int r = wire_dns_parse(data, len, &m);
	CHECK(r <= WIRE_DNS_OK && r >= WIRE_DNS_ENOTRESPONSE);
	CHECK(wire_dns_strerror(r) != NULL);
	if (r == WIRE_DNS_OK) {
		CHECK(len >= WIRE_DNS_HLEN && m.qr && m.qdcount <= 1);
		CHECK(m.has_question == (m.qdcount == 1));
		int want = m.ancount < WIRE_DNS_MAX_RR ? m.ancount : WIRE_DNS_MAX_RR;
		CHECK(m.nanswers == (m.tc ? 0 : want));
		check_name(m.qname);
		for (int i = 0; i < m.nanswers; i++) {
			const struct wire_dns_rr *rr = &m.an[i];
			check_name(rr->name);
			check_name(rr->target);
			CHECK(rr->ttl <= 0x7fffffffu);
			if (rr->type == WIRE_DNS_TYPE_A && rr->rclass == WIRE_DNS_CLASS_IN)
				CHECK(rr->rdlength == 4);
			if (rr->type != WIRE_DNS_TYPE_CNAME)
				CHECK(rr->target[0] == '\0');
		}
		check_addrs(NULL);
		for (int i = 0; i < m.nanswers; i++)
			check_addrs(m.an[i].name);
		if (m.has_question) {
			CHECK(wire_dns_matches_query(&m, m.id, m.qname, m.qtype) ==
			      (m.opcode == WIRE_DNS_OPCODE_QUERY && m.qclass == WIRE_DNS_CLASS_IN));
			if (m.qname[0] != '\0') {
				char qname[WIRE_DNS_NAME_LEN];
				memcpy(qname, m.qname, sizeof qname);
				check_build(qname, m.id, m.qtype, WIRE_DNS_MAX_QUERY);
				/* The round trip must have succeeded. */
				CHECK(strcmp(back.qname, qname) == 0 && back.qtype == m.qtype &&
				      back.id == m.id);
			}
		}
	}

	/* The input as a name, up to its first NUL (at most 300 bytes). */
	char name[301];
	size_t n = bounded_len((const char *)data, len < 300 ? len : 300);
	memcpy(name, data, n);
	name[n] = '\0';
	uint16_t id = len >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	check_build(name, id, WIRE_DNS_TYPE_A, WIRE_DNS_MAX_QUERY);
	check_build(name, id, WIRE_DNS_TYPE_AAAA, len % (WIRE_DNS_MAX_QUERY + 1));
	return 0;
}
