/*
 * dns.c — DNS message build and parse (RFC 1035 3 and 4, RFC 2181).
 *
 * Every read is preceded by a check against the message length; offsets are
 * size_t and never pass len. The decisions listed in dns.h are cited again
 * here where they are made.
 */
#include <string.h>

#include "wire/bytes.h"
#include "wire/dns.h"

/* Header flag bits (RFC 1035 4.1.1). */
#define F_QR            0x8000
#define F_OPCODE_SHIFT  11
#define F_AA            0x0400
#define F_TC            0x0200
#define F_RD            0x0100
#define F_RA            0x0080

/* Label length octet: top two bits select the kind (RFC 1035 4.1.4). */
#define LABEL_KIND      0xc0
#define LABEL_NORMAL    0x00
#define LABEL_POINTER   0xc0

_Static_assert(WIRE_DNS_NAME_LEN == WIRE_DNS_MAX_TEXT_NAME + 1, "text buffer size");
_Static_assert(WIRE_DNS_MAX_TEXT_NAME == WIRE_DNS_MAX_WIRE_NAME - 2,
	       "text = wire minus first length octet and root octet");

int wire_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
	if (!name)
		return -1;
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;            /* one trailing dot: the root, written anyway */
	/* Empty name or "." : the root is not a host name we query. */
	if (n == 0 || n > WIRE_DNS_MAX_TEXT_NAME)
		return -1;
	size_t total = WIRE_DNS_HLEN + n + 2 + 4;     /* n text -> n + 2 wire bytes */
	if (total > cap)
		return -1;

	put16(buf, id);
	put16(buf + 2, F_RD);                   /* QR 0, opcode QUERY, RD 1 */
	put16(buf + 4, 1);                      /* QDCOUNT */
	put16(buf + 6, 0);
	put16(buf + 8, 0);
	put16(buf + 10, 0);

	/* Labels: each text run between dots becomes length octet + bytes. */
	uint8_t *w = buf + WIRE_DNS_HLEN;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && name[i] != '.')
			continue;
		size_t ll = i - start;
		if (ll == 0 || ll > WIRE_DNS_MAX_LABEL)
			return -1;      /* empty label or longer than 63 (RFC 1035 2.3.4) */
		*w++ = (uint8_t)ll;
		memcpy(w, name + start, ll);
		w += ll;
		start = i + 1;
	}
	*w++ = 0;                               /* root */
	put16(w, qtype);
	put16(w + 2, WIRE_DNS_CLASS_IN);
	w += 4;
	return (int)(w - buf);
}

/*
 * Read the name at *pos. out (WIRE_DNS_NAME_LEN bytes) receives the dotted
 * text, or is NULL to check structure only. On success *pos is moved past
 * the name as it sits in place (past the first pointer if there is one).
 */
static int read_name(const uint8_t *msg, size_t len, size_t *pos, char *out)
{
	size_t p = *pos;
	size_t after = 0;       /* where the in-place bytes end, once we jump */
	size_t limit = p;       /* the next pointer must land strictly before this */
	unsigned jumps = 0;
	size_t wire = 1;        /* bytes on the wire so far, counting the root octet */
	size_t o = 0;

	for (;;) {
		if (p >= len)
			return WIRE_DNS_ETRUNCATED;
		uint8_t c = msg[p];
		if ((c & LABEL_KIND) == LABEL_POINTER) {
			if (p + 1 >= len)
				return WIRE_DNS_ETRUNCATED;
			size_t t = (size_t)(c & 0x3f) << 8 | msg[p + 1];
			if (jumps == 0)
				after = p + 2;
			if (t >= len || t < WIRE_DNS_HLEN)
				return WIRE_DNS_EBADNAME;
			/*
			 * RFC 1035 4.1.4 only says a pointer refers to a prior
			 * occurrence. Requiring each target to lie strictly before
			 * the start of the run that led to it makes the targets a
			 * decreasing sequence, so no loop (itself, two pointers to
			 * each other, a suffix of the same name) can be followed;
			 * real compressors always point backwards like this.
			 */
			if (t >= limit || ++jumps > WIRE_DNS_MAX_JUMPS)
				return WIRE_DNS_EPOINTER_LOOP;
			limit = t;
			p = t;
			continue;
		}
		if ((c & LABEL_KIND) != LABEL_NORMAL)
			return WIRE_DNS_EBADNAME;       /* 0x40 extended (RFC 6891 5), 0x80 reserved */
		if (c == 0) {
			p++;
			break;
		}
		if (c > len - p - 1)
			return WIRE_DNS_ETRUNCATED;
		/* RFC 1035 2.3.4, RFC 2181 11: 255 octets including length octets. */
		wire += 1 + (size_t)c;
		if (wire > WIRE_DNS_MAX_WIRE_NAME)
			return WIRE_DNS_EBADNAME;
		if (out) {
			if (o > 0)
				out[o++] = '.';
			for (size_t i = 0; i < c; i++) {
				char ch = (char)msg[p + 1 + i];
				/* Dotted text cannot carry these without escapes. */
				if (ch == '.' || ch == '\0')
					return WIRE_DNS_EBADNAME;
				out[o++] = ch;
			}
		}
		p += 1 + (size_t)c;
	}
	if (out)
		out[o] = '\0';  /* o <= wire - 2 <= 253 */
	*pos = jumps ? after : p;
	return WIRE_DNS_OK;
}

/* Type, class, TTL, RDLENGTH after the owner name (RFC 1035 4.1.3). */
#define RR_FIXED 10

/*
 * Parse the answer record at *pos into rr (names checked as reported
 * names) and move *pos past its RDATA.
 */
static int read_answer(const uint8_t *msg, size_t len, size_t *pos, struct wire_dns_rr *rr)
{
	size_t p = *pos;
	int err = read_name(msg, len, &p, rr->name);
	if (err)
		return err;
	if (len - p < RR_FIXED)
		return WIRE_DNS_ETRUNCATED;
	rr->type = get16(msg + p);
	rr->rclass = get16(msg + p + 2);
	rr->ttl = get32(msg + p + 4);
	if (rr->ttl & 0x80000000u)
		rr->ttl = 0;    /* RFC 2181 8: treat as zero */
	rr->rdlength = get16(msg + p + 8);
	p += RR_FIXED;
	if (rr->rdlength > len - p)
		return WIRE_DNS_ETRUNCATED;
	size_t rdend = p + rr->rdlength;
	rr->addr = 0;
	rr->target[0] = '\0';
	if (rr->type == WIRE_DNS_TYPE_A && rr->rclass == WIRE_DNS_CLASS_IN) {
		if (rr->rdlength != 4)
			return WIRE_DNS_EBADRR;
		memcpy(&rr->addr, msg + p, 4);
	} else if (rr->type == WIRE_DNS_TYPE_CNAME) {
		/* CNAME RDATA is one name in any class (RFC 1035 3.3.1). */
		size_t q = p;
		err = read_name(msg, len, &q, rr->target);
		if (err)
			return err;
		if (q != rdend)
			return WIRE_DNS_EBADRR;
	}
	*pos = rdend;
	return WIRE_DNS_OK;
}

/* Skip an authority or additional record, checking its structure. */
static int skip_rr(const uint8_t *msg, size_t len, size_t *pos)
{
	size_t p = *pos;
	int err = read_name(msg, len, &p, NULL);
	if (err)
		return err;
	if (len - p < RR_FIXED)
		return WIRE_DNS_ETRUNCATED;
	uint16_t rdlength = get16(msg + p + 8);
	p += RR_FIXED;
	if (rdlength > len - p)
		return WIRE_DNS_ETRUNCATED;
	*pos = p + rdlength;
	return WIRE_DNS_OK;
}

int wire_dns_parse(const uint8_t *msg, size_t len, struct wire_dns_msg *m)
{
	if (len < WIRE_DNS_HLEN)
		return WIRE_DNS_ETRUNCATED;
	uint16_t flags = get16(msg + 2);
	m->id = get16(msg);
	m->qr = (flags & F_QR) != 0;
	m->opcode = (uint8_t)((flags >> F_OPCODE_SHIFT) & 0x0f);
	m->aa = (flags & F_AA) != 0;
	m->tc = (flags & F_TC) != 0;
	m->rd = (flags & F_RD) != 0;
	m->ra = (flags & F_RA) != 0;
	m->rcode = (uint8_t)(flags & 0x0f);
	m->qdcount = get16(msg + 4);
	m->ancount = get16(msg + 6);
	m->nscount = get16(msg + 8);
	m->arcount = get16(msg + 10);
	m->has_question = false;
	m->qname[0] = '\0';
	m->qtype = m->qclass = 0;
	m->nanswers = 0;
	if (!m->qr)
		return WIRE_DNS_ENOTRESPONSE;
	/* RFC 9619: a QUERY message carries at most one question. */
	if (m->qdcount > 1)
		return WIRE_DNS_ETOOMANY;

	size_t p = WIRE_DNS_HLEN;
	if (m->qdcount == 1) {
		int err = read_name(msg, len, &p, m->qname);
		if (err)
			return err;
		if (len - p < 4)
			return WIRE_DNS_ETRUNCATED;
		m->qtype = get16(msg + p);
		m->qclass = get16(msg + p + 2);
		p += 4;
		m->has_question = true;
	}
	/*
	 * RFC 2181 9: a truncated reply's partial answer is to be ignored and
	 * the query retried over TCP; its sections may be cut mid-record.
	 */
	if (m->tc)
		return WIRE_DNS_OK;

	struct wire_dns_rr scratch;
	for (unsigned i = 0; i < m->ancount; i++) {
		/* Beyond WIRE_DNS_MAX_RR: checked the same way, not kept. */
		struct wire_dns_rr *rr = i < WIRE_DNS_MAX_RR ? &m->an[i] : &scratch;
		int err = read_answer(msg, len, &p, rr);
		if (err)
			return err;
		if (i < WIRE_DNS_MAX_RR)
			m->nanswers++;
	}
	unsigned rest = (unsigned)m->nscount + m->arcount;
	for (unsigned i = 0; i < rest; i++) {
		int err = skip_rr(msg, len, &p);
		if (err)
			return err;
	}
	return WIRE_DNS_OK;
}

const char *wire_dns_strerror(int err)
{
	switch (err) {
	case WIRE_DNS_OK:               return "ok";
	case WIRE_DNS_ETRUNCATED:       return "message truncated";
	case WIRE_DNS_EBADNAME:         return "malformed name";
	case WIRE_DNS_EPOINTER_LOOP:    return "compression pointer loop";
	case WIRE_DNS_EBADRR:           return "malformed resource record";
	case WIRE_DNS_ETOOMANY:         return "more than one question";
	case WIRE_DNS_ENOTRESPONSE:     return "not a response";
	case WIRE_DNS_ECNAME_LOOP:      return "CNAME chain loops or is too long";
	case WIRE_DNS_ENOSPACE:         return "buffer too small";
	default:                        return "unknown DNS error";
	}
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length of a text name without one trailing dot. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

bool wire_dns_name_eq(const char *a, const char *b)
{
	size_t n = name_len(a);
	if (name_len(b) != n)
		return false;
	/* RFC 4343: ASCII letters only are folded. */
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool wire_dns_matches_query(const struct wire_dns_msg *m, uint16_t id, const char *qname,
			    uint16_t qtype)
{
	return m->qr && m->opcode == WIRE_DNS_OPCODE_QUERY && m->id == id &&
	       m->qdcount == 1 && m->has_question && m->qtype == qtype &&
	       m->qclass == WIRE_DNS_CLASS_IN && wire_dns_name_eq(m->qname, qname);
}

/* The first class-IN record of type and owner name, or NULL. */
static const struct wire_dns_rr *find_rr(const struct wire_dns_msg *m, uint16_t type,
					 const char *name)
{
	for (int i = 0; i < m->nanswers && i < WIRE_DNS_MAX_RR; i++) {
		const struct wire_dns_rr *rr = &m->an[i];
		if (rr->type == type && rr->rclass == WIRE_DNS_CLASS_IN &&
		    wire_dns_name_eq(rr->name, name))
			return rr;
	}
	return NULL;
}

int wire_dns_answer_addrs(const struct wire_dns_msg *m, const char *qname, uint32_t *addrs,
			  int max, char *canon, size_t canonlen)
{
	if (!qname)
		qname = m->qname;
	/* Names visited so far: the query and each CNAME target. */
	const char *seen[WIRE_DNS_MAX_CNAME_HOPS + 1];
	int nseen = 0;
	const char *cur = qname;
	seen[nseen++] = cur;
	for (;;) {
		const struct wire_dns_rr *c = find_rr(m, WIRE_DNS_TYPE_CNAME, cur);
		if (!c)
			break;
		for (int i = 0; i < nseen; i++)
			if (wire_dns_name_eq(seen[i], c->target))
				return WIRE_DNS_ECNAME_LOOP;
		if (nseen == WIRE_DNS_MAX_CNAME_HOPS + 1)
			return WIRE_DNS_ECNAME_LOOP;    /* a ninth link */
		cur = c->target;
		seen[nseen++] = cur;
	}
	if (canon) {
		size_t n = name_len(cur);
		if (n >= canonlen)
			return WIRE_DNS_ENOSPACE;
		memcpy(canon, cur, n);
		canon[n] = '\0';
	}
	int count = 0;
	for (int i = 0; i < m->nanswers && i < WIRE_DNS_MAX_RR && count < max; i++) {
		const struct wire_dns_rr *rr = &m->an[i];
		if (rr->type == WIRE_DNS_TYPE_A && rr->rclass == WIRE_DNS_CLASS_IN &&
		    wire_dns_name_eq(rr->name, cur))
			addrs[count++] = rr->addr;
	}
	return count;
}
