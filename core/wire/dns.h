/*
 * dns.h — DNS message wire format (RFC 1035 sections 3 and 4, limits from
 * RFC 2181): build a standard query, parse a response, follow its CNAME chain.
 *
 * Pure functions: no state, no locks, no allocation, no clock. The parser
 * bounds-checks every field before reading it and walks all four sections,
 * so a response that parses is well formed to its last record; only the
 * question and the answer section are kept. Names come out as dotted text
 * without the trailing dot (the root is ""), in the case they were sent;
 * compare them with wire_dns_name_eq(), which ignores ASCII case (RFC 4343).
 *
 * Decisions (each also cited where it is made in dns.c):
 *  - Compression pointers (RFC 1035 4.1.4) must point strictly before the
 *    start of the label run being read (so targets strictly decrease and no
 *    loop is possible), at or after the 12-byte header, and a name may take
 *    at most WIRE_DNS_MAX_JUMPS of them.
 *  - A name is at most 255 bytes on the wire (RFC 1035 2.3.4, RFC 2181 11),
 *    i.e. at most 253 text characters; labels 1..63 bytes; label types 0x40
 *    and 0x80 (extended/reserved, RFC 6891 5) are rejected.
 *  - Names that are reported (question, answer owners, CNAME targets) may
 *    not contain '.' or NUL inside a label: dotted text could not represent
 *    them without escapes. Authority and additional names are only checked
 *    structurally.
 *  - QR must be set. QDCOUNT above 1 is refused (RFC 9619: a QUERY carries
 *    at most one question).
 *  - TC set: the header and question are parsed, the other sections are not
 *    (they may be cut short) and no answers are kept; RFC 2181 9 says to
 *    ignore the partial answer and retry over TCP. The caller checks m->tc.
 *  - More than WIRE_DNS_MAX_RR answers: the first WIRE_DNS_MAX_RR are kept,
 *    the rest are still fully checked; nanswers < ancount tells the caller.
 *  - A records are decoded in class IN only and must have RDLENGTH 4; a CNAME
 *    target must fill its RDATA exactly. Other types keep type and rdlength.
 *  - A TTL with its top bit set is read as 0 (RFC 2181 8).
 *  - Bytes after the last record are ignored.
 */
#ifndef US_WIRE_DNS_H
#define US_WIRE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_DNS_PORT           53
#define WIRE_DNS_HLEN           12      /* fixed header */
#define WIRE_DNS_MAX_WIRE_NAME  255     /* bytes on the wire, root byte included */
#define WIRE_DNS_MAX_TEXT_NAME  253     /* dotted text, no trailing dot */
#define WIRE_DNS_NAME_LEN       254     /* text buffer: 253 characters + NUL */
#define WIRE_DNS_MAX_LABEL      63
#define WIRE_DNS_MAX_RR         32      /* answers kept by wire_dns_parse */
#define WIRE_DNS_MAX_JUMPS      32      /* compression pointers followed per name */
#define WIRE_DNS_MAX_CNAME_HOPS 8       /* CNAME links followed by wire_dns_answer_addrs */
/* Longest query wire_dns_build_query writes: header, 255-byte name, type, class. */
#define WIRE_DNS_MAX_QUERY      (WIRE_DNS_HLEN + WIRE_DNS_MAX_WIRE_NAME + 4)

#define WIRE_DNS_TYPE_A         1
#define WIRE_DNS_TYPE_NS        2
#define WIRE_DNS_TYPE_CNAME     5
#define WIRE_DNS_TYPE_SOA       6
#define WIRE_DNS_TYPE_PTR       12
#define WIRE_DNS_TYPE_MX        15
#define WIRE_DNS_TYPE_TXT       16
#define WIRE_DNS_TYPE_AAAA      28
#define WIRE_DNS_TYPE_OPT       41
#define WIRE_DNS_CLASS_IN       1

#define WIRE_DNS_OPCODE_QUERY   0
#define WIRE_DNS_RCODE_NOERROR  0
#define WIRE_DNS_RCODE_FORMERR  1
#define WIRE_DNS_RCODE_SERVFAIL 2
#define WIRE_DNS_RCODE_NXDOMAIN 3
#define WIRE_DNS_RCODE_NOTIMP   4
#define WIRE_DNS_RCODE_REFUSED  5

/* Why a message was rejected; negative, so a count or 0 can share the int. */
enum wire_dns_err {
	WIRE_DNS_OK = 0,
	WIRE_DNS_ETRUNCATED = -1,       /* a field, label or RDATA runs past the end */
	WIRE_DNS_EBADNAME = -2,         /* too long, reserved label type, pointer outside
	                                   the message or into the header, '.'/NUL in a label */
	WIRE_DNS_EPOINTER_LOOP = -3,    /* pointer not strictly backward, or too many */
	WIRE_DNS_EBADRR = -4,           /* A without 4 bytes, CNAME not filling its RDATA */
	WIRE_DNS_ETOOMANY = -5,         /* more than one question */
	WIRE_DNS_ENOTRESPONSE = -6,     /* QR bit clear */
	WIRE_DNS_ECNAME_LOOP = -7,      /* CNAME chain cycles or exceeds 8 links */
	WIRE_DNS_ENOSPACE = -8,         /* caller's buffer too small */
};

/* One answer record. */
struct wire_dns_rr {
	char name[WIRE_DNS_NAME_LEN];   /* owner */
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;                   /* seconds; top bit set reads as 0 */
	uint16_t rdlength;
	uint32_t addr;                  /* type A, class IN: network order; else 0 */
	char target[WIRE_DNS_NAME_LEN]; /* type CNAME: the canonical name; else "" */
};

struct wire_dns_msg {
	uint16_t id;
	bool qr;
	uint8_t opcode;
	bool aa, tc, rd, ra;
	uint8_t rcode;
	uint16_t qdcount, ancount, nscount, arcount;    /* as in the header */
	bool has_question;              /* qdcount == 1 (it is 0 or 1) */
	char qname[WIRE_DNS_NAME_LEN];
	uint16_t qtype, qclass;
	int nanswers;                   /* kept: min(ancount, WIRE_DNS_MAX_RR); 0 if tc */
	struct wire_dns_rr an[WIRE_DNS_MAX_RR];
};

/*
 * Write a standard query (opcode QUERY, RD set, one question of class IN)
 * for name and qtype into buf. name is dotted text: labels of 1..63 bytes,
 * at most 253 characters apart from one optional trailing dot; an empty
 * name, "." or an empty label ("a..b", ".a") is refused. Returns the message
 * length (at most WIRE_DNS_MAX_QUERY), or -1 if the name is invalid or cap
 * is too small (nothing useful is left in buf then).
 */
int wire_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype);

/*
 * Parse a response of len bytes into *out. Returns WIRE_DNS_OK or a negative
 * enum wire_dns_err; on error *out is partly written and must not be used.
 */
int wire_dns_parse(const uint8_t *msg, size_t len, struct wire_dns_msg *out);

/* Static text for a wire_dns_err value (any int accepted). */
const char *wire_dns_strerror(int err);

/*
 * True if two text names are equal ignoring ASCII case and one trailing dot
 * on either side ("WWW.Example.com." equals "www.example.com").
 */
bool wire_dns_name_eq(const char *a, const char *b);

/*
 * True if m answers the query we sent: QR set, opcode QUERY, the same id,
 * exactly one question whose name equals qname (wire_dns_name_eq), of qtype
 * and class IN.
 */
bool wire_dns_matches_query(const struct wire_dns_msg *m, uint16_t id, const char *qname,
			    uint16_t qtype);

/*
 * Follow the CNAME chain from qname (NULL: the question's name) through the
 * class-IN answers, at most WIRE_DNS_MAX_CNAME_HOPS links (the first CNAME
 * of a name is used, RFC 2181 10.1), then copy the addresses of the A
 * records of the final name into addrs (network order), at most max of
 * them. If canon is not NULL the final name, without trailing dot, is
 * written there (WIRE_DNS_NAME_LEN bytes always suffice). Returns the number
 * of addresses written (0: none), WIRE_DNS_ECNAME_LOOP if the chain cycles
 * or is longer, or WIRE_DNS_ENOSPACE if canonlen cannot hold the name.
 */
int wire_dns_answer_addrs(const struct wire_dns_msg *m, const char *qname, uint32_t *addrs,
			  int max, char *canon, size_t canonlen);

#endif
