/*
 * arp.h — the ARP cache and resolver (RFC 826), one table per stack.
 *
 * Entries live in a fixed array, hashed by IPv4 address; nothing is
 * allocated after creation. An entry is INCOMPLETE while its request is
 * outstanding (packets wait on its bounded queue; a request is resent every
 * second, three in all, then the queue fails with EHOSTUNREACH), REACHABLE
 * for timeout_s after the last confirmation, and STATIC forever.
 */
#ifndef US_ARP_H
#define US_ARP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "timer.h"

#define US_ARP_ENTRIES     256     /* cache size per stack */
#define US_ARP_HASH        512     /* hash buckets (power of two) */
#define US_ARP_QUEUE_MAX   64      /* packets waiting per INCOMPLETE entry */
#define US_ARP_RETRIES     3       /* requests before giving up */
#define US_ARP_RETRY_NS    (1000ULL * 1000 * 1000)

struct us_stack;
struct us_netif;

enum us_arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE, ARP_STATIC };

struct us_arp_entry {
	/* All fields protected by us_arp.lock. */
	enum us_arp_state state;
	uint32_t ip;                    /* network order */
	int ifindex;
	uint8_t mac[6];
	uint8_t tries;                  /* requests sent while INCOMPLETE */
	uint64_t expires;               /* REACHABLE: when it lapses */
	struct us_buf *q_head, *q_tail; /* INCOMPLETE: IP packets awaiting the MAC */
	int q_len;
	int hnext;                      /* next index in the hash chain, -1 ends */
	struct us_timer timer;          /* retry (INCOMPLETE) or expiry (REACHABLE) */
	struct us_arp *arp;             /* back pointer for the timer callback */
};

struct us_arp {
	pthread_mutex_t lock;           /* protects entries[], hash[], free list, nused */
	/* Bumped (under lock) whenever a resolved entry goes away or changes
	 * its MAC; senders' cached neighbours (ipv4.h us_dst_cache) compare it
	 * without the lock. Starts at 1. */
	_Atomic uint32_t gen;
	struct us_stack *st;
	uint64_t timeout_ns;
	int hash[US_ARP_HASH];          /* first entry index per bucket, -1 empty */
	int free_head;                  /* free entries chained through hnext */
	int nused;
	struct us_arp_entry entries[US_ARP_ENTRIES];
};

int us_arp_init(struct us_stack *st, struct us_arp *arp);
void us_arp_destroy(struct us_arp *arp);
/* Handle an ARP packet (payload after the Ethernet header). */
void us_arp_input(struct us_netif *nif, const uint8_t *p, size_t len);
/*
 * Send IP packet b (data at the IP header) to next hop nh on nif: fill the
 * MAC from the cache, or queue b and resolve. Takes ownership of b.
 * Returns 0 (sent or queued) or -errno (EHOSTUNREACH queue full, ENOBUFS).
 */
int us_arp_output(struct us_netif *nif, uint32_t nh, struct us_buf *b);
/* Broadcast a gratuitous ARP request for each address of nif. */
void us_arp_announce(struct us_netif *nif);
/* Gratuitous ARP for one address (a DHCP lease once bound). */
void us_arp_announce_addr(struct us_netif *nif, uint32_t ip);
/* RFC 5227 2.1.1 probe: a request for ip with sender address 0 (DHCP's
 * check of an offered address, RFC 2131 2.2). */
void us_arp_probe(struct us_netif *nif, uint32_t ip);
/* Look up without side effects; returns the state, copies mac if resolved. */
enum us_arp_state us_arp_lookup(struct us_arp *arp, uint32_t ip, uint8_t mac[6]);
/* The same, also saying until when a resolved answer holds (UINT64_MAX
 * for a static entry): after that the entry lapses without a gen bump. */
enum us_arp_state us_arp_lookup_until(struct us_arp *arp, uint32_t ip, uint8_t mac[6],
				      uint64_t *until);
int us_arp_add_static(struct us_arp *arp, uint32_t ip, const uint8_t mac[6], int ifindex);

#endif
