/*
 * dhcp.c — DHCP message parse and build (see dhcp.h).
 */
#include <string.h>

#include "wire/bytes.h"
#include "wire/dhcp.h"

/* Offsets of the fixed part (RFC 2131 figure 1). */
#define OFF_OP      0
#define OFF_HTYPE   1
#define OFF_HLEN    2
#define OFF_XID     4
#define OFF_SECS    8
#define OFF_FLAGS   10
#define OFF_CIADDR  12
#define OFF_YIADDR  16
#define OFF_SIADDR  20
#define OFF_GIADDR  24
#define OFF_CHADDR  28
#define OFF_SNAME   44
#define OFF_FILE    108
#define OFF_MAGIC   236
#define OFF_OPTIONS 240

int wire_mask_prefix(uint32_t mask_be)
{
	uint32_t m = get32((const uint8_t *)&mask_be);
	int n = 0;
	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	if (n < 32 && (m << n) != 0)
		return -1;      /* a one after a zero */
	return n;
}

static uint32_t addr_at(const uint8_t *p)
{
	uint32_t a;
	memcpy(&a, p, 4);       /* stays in network order */
	return a;
}

/* One option of a known kind; len checked against what it may be. */
static enum wire_dhcp_err take_option(uint8_t code, const uint8_t *v, size_t len,
				      struct wire_dhcp *m, uint8_t *overload)
{
	switch (code) {
	case DHCP_OPT_SUBNET_MASK: {
		if (len != 4)
			return WIRE_DHCP_OPTLEN;
		int pl = wire_mask_prefix(addr_at(v));
		if (pl < 0)
			return WIRE_DHCP_MASK;
		m->has_mask = true;
		m->prefix = (uint8_t)pl;
		break;
	}
	case DHCP_OPT_ROUTER:
		if (len < 4 || len % 4)
			return WIRE_DHCP_OPTLEN;
		m->router = addr_at(v);
		break;
	case DHCP_OPT_DNS:
		if (len < 4 || len % 4)
			return WIRE_DHCP_OPTLEN;
		m->ndns = 0;
		for (size_t i = 0; i < len && m->ndns < DHCP_MAX_DNS; i += 4)
			m->dns[m->ndns++] = addr_at(v + i);
		break;
	case DHCP_OPT_LEASE_TIME:
	case DHCP_OPT_T1:
	case DHCP_OPT_T2:
		if (len != 4)
			return WIRE_DHCP_OPTLEN;
		if (code == DHCP_OPT_LEASE_TIME) {
			m->has_lease = true;
			m->lease = get32(v);
		} else if (code == DHCP_OPT_T1) {
			m->has_t1 = true;
			m->t1 = get32(v);
		} else {
			m->has_t2 = true;
			m->t2 = get32(v);
		}
		break;
	case DHCP_OPT_OVERLOAD:
		if (len != 1 || v[0] < 1 || v[0] > 3)
			return WIRE_DHCP_OPTLEN;
		*overload = v[0];
		break;
	case DHCP_OPT_MSG_TYPE:
		if (len != 1)
			return WIRE_DHCP_OPTLEN;
		m->type = v[0];
		break;
	case DHCP_OPT_SERVER_ID:
		if (len != 4)
			return WIRE_DHCP_OPTLEN;
		m->server_id = addr_at(v);
		break;
	default:
		break;          /* not needed by a client: skipped */
	}
	return WIRE_DHCP_OK;
}

/* Walk one option area: code, length, value; pad and end take one byte. */
static enum wire_dhcp_err walk(const uint8_t *p, size_t len, struct wire_dhcp *m,
			       uint8_t *overload)
{
	size_t i = 0;
	while (i < len) {
		uint8_t code = p[i];
		if (code == DHCP_OPT_END)
			return WIRE_DHCP_OK;
		if (code == DHCP_OPT_PAD) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + p[i + 1] > len)
			return WIRE_DHCP_TRUNCATED;
		size_t l = p[i + 1];
		enum wire_dhcp_err e = take_option(code, p + i + 2, l, m, overload);
		if (e != WIRE_DHCP_OK)
			return e;
		i += 2 + l;
	}
	return WIRE_DHCP_OK;
}

enum wire_dhcp_err wire_dhcp_parse(const uint8_t *p, size_t len, struct wire_dhcp *m)
{
	memset(m, 0, sizeof *m);
	if (len < DHCP_MIN_LEN)
		return WIRE_DHCP_SHORT;
	if (get32(p + OFF_MAGIC) != DHCP_MAGIC)
		return WIRE_DHCP_MAGIC;
	if (p[OFF_HTYPE] != 1 || p[OFF_HLEN] != 6)
		return WIRE_DHCP_HW;
	m->op = p[OFF_OP];
	m->xid = get32(p + OFF_XID);
	m->secs = get16(p + OFF_SECS);
	m->flags = get16(p + OFF_FLAGS);
	m->ciaddr = addr_at(p + OFF_CIADDR);
	m->yiaddr = addr_at(p + OFF_YIADDR);
	m->siaddr = addr_at(p + OFF_SIADDR);
	m->giaddr = addr_at(p + OFF_GIADDR);
	memcpy(m->chaddr, p + OFF_CHADDR, 6);
	uint8_t overload = 0, ignored = 0;
	enum wire_dhcp_err e = walk(p + OFF_OPTIONS, len - OFF_OPTIONS, m, &overload);
	/* RFC 2131 4.1: file first, then sname; neither may overload again. */
	if (e == WIRE_DHCP_OK && (overload & 1))
		e = walk(p + OFF_FILE, OFF_MAGIC - OFF_FILE, m, &ignored);
	if (e == WIRE_DHCP_OK && (overload & 2))
		e = walk(p + OFF_SNAME, OFF_FILE - OFF_SNAME, m, &ignored);
	if (e != WIRE_DHCP_OK)
		return e;
	if (m->type == 0)
		return WIRE_DHCP_NO_TYPE;
	return WIRE_DHCP_OK;
}

const char *wire_dhcp_strerror(enum wire_dhcp_err e)
{
	switch (e) {
	case WIRE_DHCP_OK: return "ok";
	case WIRE_DHCP_SHORT: return "shorter than 240 bytes";
	case WIRE_DHCP_MAGIC: return "no DHCP magic cookie";
	case WIRE_DHCP_HW: return "hardware type or length not Ethernet";
	case WIRE_DHCP_TRUNCATED: return "an option runs past the end";
	case WIRE_DHCP_OPTLEN: return "an option with an impossible length";
	case WIRE_DHCP_MASK: return "a non-contiguous subnet mask";
	case WIRE_DHCP_NO_TYPE: return "no message type option";
	}
	return "?";
}

static uint8_t *opt32(uint8_t *o, uint8_t code, uint32_t addr_be)
{
	o[0] = code;
	o[1] = 4;
	memcpy(o + 2, &addr_be, 4);
	return o + 6;
}

size_t wire_dhcp_build(uint8_t *p, size_t cap, const struct wire_dhcp_req *r)
{
	static const uint8_t params[] = { DHCP_OPT_SUBNET_MASK, DHCP_OPT_ROUTER, DHCP_OPT_DNS,
					  DHCP_OPT_LEASE_TIME, DHCP_OPT_SERVER_ID, DHCP_OPT_T1,
					  DHCP_OPT_T2 };
	/* Fixed part + cookie + 53 (3) + 50 (6) + 54 (6) + 55 + 57 (4) + end. */
	if (cap < DHCP_BOOTP_MIN || cap < OFF_OPTIONS + 3 + 6 + 6 + 2 + sizeof params + 4 + 1)
		return 0;
	memset(p, 0, DHCP_BOOTP_MIN);
	p[OFF_OP] = 1;
	p[OFF_HTYPE] = 1;
	p[OFF_HLEN] = 6;
	put32(p + OFF_XID, r->xid);
	put16(p + OFF_SECS, r->secs);
	put16(p + OFF_FLAGS, r->flags);
	memcpy(p + OFF_CIADDR, &r->ciaddr, 4);
	memcpy(p + OFF_CHADDR, r->chaddr, 6);
	put32(p + OFF_MAGIC, DHCP_MAGIC);
	uint8_t *o = p + OFF_OPTIONS;
	*o++ = DHCP_OPT_MSG_TYPE;
	*o++ = 1;
	*o++ = r->type;
	if (r->requested_ip)
		o = opt32(o, DHCP_OPT_REQUESTED_IP, r->requested_ip);
	if (r->server_id)
		o = opt32(o, DHCP_OPT_SERVER_ID, r->server_id);
	if (r->param_list) {
		*o++ = DHCP_OPT_PARAM_LIST;
		*o++ = (uint8_t)sizeof params;
		memcpy(o, params, sizeof params);
		o += sizeof params;
		*o++ = DHCP_OPT_MAX_SIZE;
		*o++ = 2;
		put16(o, DHCP_MAX_MSG);
		o += 2;
	}
	*o++ = DHCP_OPT_END;
	size_t n = (size_t)(o - p);
	return n < DHCP_BOOTP_MIN ? DHCP_BOOTP_MIN : n;
}
