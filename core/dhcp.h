/*
 * dhcp.h — the DHCP client of an interface with dhcp4: true (RFC 2131,
 * options of RFC 2132).
 *
 * One client per such interface (us_netif.dhcp). It runs on the stack's
 * timer wheel and receive path, so it works the same threaded and in
 * deterministic mode (virtual clock, seeded transaction IDs and jitter).
 * What a lease brings is applied to the stack while it lasts: the
 * address (us_netif.lease), a local /32 and the subnet route, a default
 * route via the first router, and the DNS servers, which the resolver
 * asks after the configured ones. doc/CONFIG.md "DHCP" says what is done
 * and what is not.
 *
 * Locking: each client has one mutex (us_dhcp.lock) for all its state.
 * It is taken by the receive thread (input, ARP conflicts, holding
 * rx_lock), the timer thread (its timer) and the application (start,
 * stop, lease queries), and holds while it sends and while it changes
 * the route table (order: dhcp lock -> route table -> pool/ARP/tx).
 */
#ifndef US_DHCP_H
#define US_DHCP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "timer.h"
#include "wire/dhcp.h"
#include "ustack/ustack.h"

struct us_stack;
struct us_netif;
struct wire_ip4;

/* RFC 2131 4.1: 4 s, doubled up to 64 s, each randomised by -1..+1 s. */
#define US_DHCP_BACKOFF_FIRST_NS (4ULL * 1000000000ULL)
#define US_DHCP_BACKOFF_MAX_NS   (64ULL * 1000000000ULL)
/* REQUESTs sent in REQUESTING before starting over (RFC 2131 4.4.1 ex.). */
#define US_DHCP_REQUEST_TRIES    4
/* RFC 2131 4.4.5: retransmit while renewing/rebinding no sooner than this. */
#define US_DHCP_RENEW_MIN_NS     (60ULL * 1000000000ULL)
/* RFC 2131 3.1.5: after a DECLINE wait at least 10 s before starting over. */
#define US_DHCP_DECLINE_WAIT_NS  (10ULL * 1000000000ULL)
/* The ARP check of an offered address: one probe, then this long for a reply. */
#define US_DHCP_PROBE_WAIT_NS    (1ULL * 1000000000ULL)
/* RFC 2131 4.4.5 defaults: T1 = 0.5 and T2 = 0.875 of the lease. */

enum us_dhcp_state {
	US_DHCP_INIT = 0,       /* not started */
	US_DHCP_SELECTING,      /* DISCOVER sent, waiting for an offer */
	US_DHCP_REQUESTING,     /* REQUEST sent for an offer */
	US_DHCP_PROBING,        /* ACK taken, checking with ARP the address is free */
	US_DHCP_BOUND,
	US_DHCP_RENEWING,       /* after T1: REQUEST unicast to the server */
	US_DHCP_REBINDING,      /* after T2: REQUEST broadcast to any server */
	US_DHCP_DECLINED,       /* address in use: waiting before a new DISCOVER */
	US_DHCP_STOPPED,
};

/* What one exchange offered or granted (addresses in network order). */
struct us_dhcp_params {
	uint32_t addr;
	uint8_t prefix;
	uint32_t router;        /* 0 = none usable */
	uint32_t server;        /* server identifier */
	uint32_t dns[DHCP_MAX_DNS];
	int ndns;
	uint32_t lease_s, t1_s, t2_s;
};

struct us_dhcp {
	struct us_netif *nif;            /* fixed */
	pthread_mutex_t lock;            /* protects everything below */
	pthread_cond_t changed;          /* signalled when a lease is bound or lost */
	struct us_timer timer;           /* the one timer: retransmission, T1, T2, expiry */
	enum us_dhcp_state state;
	uint32_t xid;
	uint64_t began;                  /* clock when this exchange began (secs field) */
	uint64_t req_sent;               /* clock when the REQUEST was first sent: the
					  * lease's times count from it (RFC 2131 4.4.1) */
	uint64_t backoff;                /* next retransmission delay, ns, before jitter */
	int tries;                       /* REQUESTs sent in REQUESTING */
	struct us_dhcp_params offer;     /* SELECTING/REQUESTING/PROBING: what is wanted */
	struct us_dhcp_params lease;     /* valid while bound (applied) */
	bool applied;                    /* the lease is on the interface and in the routes */
	bool has_default;                /* applied added a default route via lease.router */
	uint64_t t1_at, t2_at, expire_at;  /* clock; UINT64_MAX: infinite lease */
};

/* Make the client of nif (not started). 0 or -1 (ENOMEM). */
int us_dhcp_create(struct us_netif *nif);
void us_dhcp_destroy(struct us_netif *nif);
/* Start: INIT -> SELECTING, DISCOVER now (us_stack_start/us_stack_up). */
void us_dhcp_start(struct us_netif *nif);
/* Stop: release a lease held (DHCPRELEASE), remove it, no timers after. */
void us_dhcp_stop(struct us_netif *nif);
/* us_stack_reset: back to INIT, lease removed, nothing sent. */
void us_dhcp_reset(struct us_netif *nif);

/* A UDP datagram from port 67 to port 68 arrived on nif (receive path). */
void us_dhcp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p,
		   size_t len);
/* An ARP packet from sender address spa about tpa arrived on nif: while
 * an offered address is being probed, either shows it is in use. */
void us_dhcp_arp_seen(struct us_netif *nif, uint32_t spa, uint32_t tpa);

/*
 * The DNS servers to ask: the configured ones, then those of the leases
 * held (interface order), without repeats, at most max. Returns how many.
 */
int us_dhcp_nameservers(struct us_stack *st, struct in_addr *out, int max);

const char *us_dhcp_state_name(enum us_dhcp_state s);

#endif
