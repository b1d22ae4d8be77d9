/*
 * dhcp.h — DHCP messages (RFC 2131 section 2, options of RFC 2132).
 *
 * Pure functions over a buffer, as the rest of core/wire: the parser
 * checks every length before it reads and gives the fields and the
 * options a client needs; the builder writes a client message. No
 * state, no locks, no allocation.
 */
#ifndef US_WIRE_DHCP_H
#define US_WIRE_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT   67
#define DHCP_CLIENT_PORT   68
#define DHCP_FIXED_LEN     236     /* op .. file, before the magic cookie */
#define DHCP_MIN_LEN       240     /* fixed part + magic cookie */
#define DHCP_BOOTP_MIN     300     /* RFC 1542 2.1: messages are padded to this */
#define DHCP_MAX_MSG       576     /* what a client must accept, IP and UDP included (RFC 2131 2) */
#define DHCP_MAGIC         0x63825363u
#define DHCP_FLAG_BROADCAST 0x8000
#define DHCP_MAX_DNS       3
#define DHCP_INFINITE      0xffffffffu

enum wire_dhcp_type {            /* option 53 (RFC 2132 9.6) */
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
	DHCP_INFORM = 8,
};

enum wire_dhcp_opt {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_SUBNET_MASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MSG_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_PARAM_LIST = 55,
	DHCP_OPT_MAX_SIZE = 57,
	DHCP_OPT_T1 = 58,
	DHCP_OPT_T2 = 59,
	DHCP_OPT_END = 255,
};

/* Why a message was rejected. */
enum wire_dhcp_err {
	WIRE_DHCP_OK = 0,
	WIRE_DHCP_SHORT,        /* shorter than the fixed part and the cookie */
	WIRE_DHCP_MAGIC,        /* not the DHCP magic cookie (a BOOTP message) */
	WIRE_DHCP_HW,           /* htype/hlen not Ethernet (1/6) */
	WIRE_DHCP_TRUNCATED,    /* an option's length runs past the end of its area */
	WIRE_DHCP_OPTLEN,       /* a known option with a length it cannot have */
	WIRE_DHCP_MASK,         /* subnet mask with non-contiguous ones */
	WIRE_DHCP_NO_TYPE,      /* no message type (option 53): BOOTP, not DHCP */
};

/* What a client reads from a server's message; addresses in network order. */
struct wire_dhcp {
	uint8_t op;             /* 1 BOOTREQUEST, 2 BOOTREPLY */
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[6];
	uint8_t type;           /* option 53 */
	uint32_t server_id;     /* option 54; 0 = absent */
	bool has_mask;
	uint8_t prefix;         /* option 1, as a prefix length */
	uint32_t router;        /* first address of option 3; 0 = absent */
	uint32_t dns[DHCP_MAX_DNS];  /* option 6, the first DHCP_MAX_DNS */
	int ndns;
	bool has_lease, has_t1, has_t2;
	uint32_t lease, t1, t2; /* options 51, 58, 59: seconds */
};

/*
 * Parse a DHCP message (the UDP payload). Options come from the options
 * field and, when option 52 says so, from file then sname (RFC 2131
 * 4.1). A repeated option: the last one counts. The options may end
 * without an end option (255) where the data ends.
 */
enum wire_dhcp_err wire_dhcp_parse(const uint8_t *p, size_t len, struct wire_dhcp *out);
const char *wire_dhcp_strerror(enum wire_dhcp_err e);

/* What the builder writes: a client's BOOTREQUEST. */
struct wire_dhcp_req {
	uint8_t type;           /* DHCP_DISCOVER, _REQUEST, _DECLINE, _RELEASE */
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr;        /* network order */
	uint8_t chaddr[6];
	uint32_t requested_ip;  /* option 50 if != 0 */
	uint32_t server_id;     /* option 54 if != 0 */
	bool param_list;        /* option 55: mask, router, DNS, lease, T1, T2 */
};

/*
 * Write the message at p (cap bytes, at least DHCP_BOOTP_MIN): the fixed
 * part, the cookie, the options, padded with zeros to DHCP_BOOTP_MIN.
 * Returns the length, or 0 if cap is too small.
 */
size_t wire_dhcp_build(uint8_t *p, size_t cap, const struct wire_dhcp_req *r);

/* The prefix length of a contiguous mask (network order), or -1. */
int wire_mask_prefix(uint32_t mask_be);

#endif
