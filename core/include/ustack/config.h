/*
 * ustack/config.h — the validated configuration of one stack.
 *
 * A struct us_config is what us_stack_new() consumes. It is produced by
 * us_config_load() from YAML (config/), or filled in code after
 * us_config_init() has set every default. All limits are compile-time
 * constants checked below; run-time tunables carry their defaults here, in
 * one place (see doc/CONFIG.md).
 */
#ifndef USTACK_CONFIG_H
#define USTACK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#define US_MAX_IFACES      8    /* interfaces per stack */
#define US_MAX_ADDRS       8    /* IPv4 addresses per interface */
#define US_MAX_QUEUES      16   /* queues per multiqueue TAP/TUN interface */
#define US_MAX_ROUTES      64   /* static routes per stack */
#define US_MAX_STATIC_ARP  64   /* static ARP entries per stack */
#define US_IFNAME_MAX      16   /* stack-side interface name, with NUL */
#define US_PATH_MAX        256  /* device / file names, with NUL */

/* Defaults (doc/CONFIG.md lists them too). */
#define US_DEFAULT_MTU           1500
#define US_DEFAULT_ARP_TIMEOUT_S 60
#define US_DEFAULT_BUSY_POLL_US  200   /* stack.busy_poll_us; 0 = never busy-poll */
#define US_DEFAULT_DRAIN_TIMEOUT_MS 10000  /* stack.drain_timeout_ms; 0 = do not wait */
#define US_MAX_DRAIN_TIMEOUT_MS  600000
#define US_MAX_BUSY_POLL_US      10000
#define US_DEFAULT_MAX_SOCKETS   16384     /* stack.max_sockets (US_MAX_SOCKETS) */
#define US_DEFAULT_PORT_LO       49152     /* stack.ip_local_port_range (RFC 6056, IANA) */
#define US_DEFAULT_PORT_HI       65535
#define US_MIN_MAX_SOCKETS       16
#define US_MAX_MAX_SOCKETS       4194304   /* 2^22: a million and more */
#define US_MIN_MTU               576   /* RFC 791: every host must take 576 */
#define US_MAX_MTU               9000
#define US_PCAP_BUFFER_KB_DEFAULT 4096   /* pcap backend: kernel capture buffer */
#define US_PCAP_BUFFER_KB_MIN    256
#define US_PCAP_BUFFER_KB_MAX    1048576

enum us_log_level {
	US_LOG_ERROR = 0,
	US_LOG_WARN,
	US_LOG_INFO,
	US_LOG_DEBUG,
	US_LOG_TRACE,
};

enum us_backend_kind {
	US_BACKEND_TAP = 0,   /* device: TAP name (created if missing) */
	US_BACKEND_PCAP,      /* device: existing interface, live */
	US_BACKEND_PCAP_FILE, /* device: input pcap; output: output pcap */
	US_BACKEND_LOOPBACK,  /* frames sent come back to the same stack */
	US_BACKEND_PAIR,      /* device: pair name shared by two stacks */
	US_BACKEND_TUN,       /* device: TUN name (created if missing): IP packets, no Ethernet */
};

/* An IPv4 address with its prefix length, as written "10.0.0.2/24". */
struct us_cidr {
	struct in_addr addr;  /* network byte order */
	uint8_t prefix;       /* 0..32 */
};

/* Impairments of the pair wire (applied to frames this end sends). */
struct us_impair {
	double loss;          /* probability 0..1 a frame is dropped */
	double duplicate;     /* probability a frame is sent twice */
	double reorder;       /* probability a frame is held back behind later ones */
	double corrupt;       /* probability one random bit is flipped */
	uint32_t delay_ms;    /* fixed one-way delay */
	uint32_t jitter_ms;   /* uniform extra delay 0..jitter_ms */
	uint32_t rate_mbit;   /* serialisation rate limit, 0 = unlimited */
};

/* Any impairment set (a probability above 0, a delay, jitter or rate)? */
bool us_impair_is_set(const struct us_impair *im);

struct us_iface_config {
	char name[US_IFNAME_MAX];     /* the stack's own name, e.g. "eth0" */
	enum us_backend_kind backend;
	char device[US_PATH_MAX];     /* see enum us_backend_kind */
	char output[US_PATH_MAX];     /* pcap-file backend: where output goes ("" = discard) */
	uint8_t mac[6];
	bool mac_set;                 /* false: random locally administered */
	uint32_t mtu;                 /* IP MTU, excluding the Ethernet header */
	struct us_cidr addrs[US_MAX_ADDRS];
	int naddrs;
	char capture[US_PATH_MAX];    /* "" = no capture */
	uint32_t pcap_buffer_kb;      /* pcap: kernel capture buffer, KiB (0 = default 4096) */
	bool offload;                 /* use the device's offloads if it has any (default true) */
	uint32_t queues;              /* tap/tun: IFF_MULTI_QUEUE queues, each with its own
				       * receive thread, 1..US_MAX_QUEUES (default 1; 0 = 1) */
	bool forwarding;              /* forward IPv4 arriving here (RFC 1812); meaningful
				       * only if forwarding_set, else the stack's forwarding */
	bool forwarding_set;          /* forwarding: was given for this interface */
	bool dhcp4;                   /* default false: lease an address (and router, DNS)
				       * by DHCP (RFC 2131); with or without addresses: */
	struct us_impair impair;      /* pair: the wire's own (what this end sends);
				       * other backends: both directions of the interface */
	struct us_impair impair_in;   /* impair: {in: ...}: frames received, any backend */
	struct us_impair impair_out;  /* impair: {out: ...}: frames sent, any backend */
	/* Where each key was found, for error messages made after parsing. */
	int line, column;
};

struct us_route_config {
	struct us_cidr to;            /* 0.0.0.0/0 for "default" */
	struct in_addr via;           /* gateway; 0 = directly connected */
	uint32_t metric;              /* lower wins among equal prefixes */
	char iface[US_IFNAME_MAX];    /* optional: "" = found from via */
	struct in_addr src;           /* optional: the source address of what takes this
				       * route (Linux's "src"/prefsrc); one of the stack's
				       * configured addresses; 0 = chosen by interface */
	int line, column;
};

struct us_arp_static {
	struct in_addr addr;
	uint8_t mac[6];
};

#define US_MAX_NAMESERVERS 3     /* like resolv.conf's MAXNS */
#define US_MAX_SEARCH      6     /* search domains */
#define US_MAX_HOSTS       64    /* static host entries */
#define US_MAX_SERVICES    16    /* ustackd services */
#define US_HOSTNAME_MAX    254   /* a DNS name in text, with NUL */

struct us_host_entry {
	char name[US_HOSTNAME_MAX];
	struct in_addr addr;
};

/* TCP tunables (doc/CONFIG.md, doc/TCP.md); defaults follow Linux. */
struct us_tcp_config {
	uint32_t mss;                 /* default 1460; 88..65495 */
	uint32_t sndbuf, rcvbuf;      /* bytes; default 262144; 4096..64 MiB */
	bool nodelay;                 /* default false (Nagle on) */
	uint32_t delayed_ack_ms;      /* default 40; 0 disables delayed ACK; ..500 */
	uint32_t rto_min_ms;          /* default 200; 1..60000 */
	uint32_t rto_initial_ms;      /* default 1000; 1..60000, >= rto_min_ms */
	uint32_t retries;             /* default 15; 1..255 */
	uint32_t syn_retries;         /* default 6; 1..255 */
	uint32_t time_wait_s;         /* default 60; 0..600 */
	char congestion[16];          /* default "newreno" */
	bool window_scaling;          /* default true */
	bool timestamps;              /* default true */
	bool sack;                    /* default true: offer SACK (RFC 2018) and D-SACK (RFC 2883) */
	bool rack;                    /* default true: RACK-TLP (RFC 8985) with SACK peers */
	bool syncookies;              /* default true: RFC 4987 SYN cookies when the SYN queue is full */
};

enum us_service_type { US_SVC_ECHO = 0, US_SVC_DISCARD, US_SVC_CHARGEN, US_SVC_HTTP };

struct us_service_config {
	enum us_service_type type;
	int proto;                    /* IPPROTO_TCP or IPPROTO_UDP; http: TCP only */
	uint16_t port;                /* 1..65535 */
	char root[US_PATH_MAX];       /* http: directory served (required for http only) */
	uint32_t max_connections;     /* http: served at once, 0 = the service's maximum */
	int line, column;
};

struct us_config {
	/* stack: */
	enum us_log_level log_level;  /* default info */
	bool seed_set;
	uint64_t seed;
	uint32_t busy_poll_us;        /* how long a short-waiting socket busy-polls; 0 = off */
	uint32_t max_sockets;         /* descriptors per stack (default 16384); 0 = the default */
	uint32_t drain_timeout_ms;    /* how long us_stack_stop lets closed TCP connections
				       * finish sending (doc/API.md); 0 = reset them at once */
	bool forwarding;              /* default false: a host; true: an IPv4 router (RFC 1812)
				       * on every interface that does not say otherwise */
	bool send_redirects;          /* default true (Linux's send_redirects): ICMP redirects
				       * when forwarding back out of the arrival interface */
	uint16_t port_lo, port_hi;    /* ip_local_port_range: the ephemeral ports TCP and UDP
				       * choose from, port_lo <= port_hi; 0, 0 = the default
				       * 49152..65535 (US_DEFAULT_PORT_LO/HI) */

	/* interfaces: */
	struct us_iface_config ifaces[US_MAX_IFACES];
	int nifaces;

	/* routes: */
	struct us_route_config routes[US_MAX_ROUTES];
	int nroutes;

	/* arp: */
	uint32_t arp_timeout_s;       /* default 60 */
	struct us_arp_static arp_static[US_MAX_STATIC_ARP];
	int narp_static;

	/* nameservers: */
	struct in_addr nameservers[US_MAX_NAMESERVERS];
	int nnameservers;
	char search[US_MAX_SEARCH][US_HOSTNAME_MAX];
	int nsearch;
	uint32_t dns_timeout_ms;      /* default 2000; 1..60000 */
	uint32_t dns_attempts;        /* default 3; 1..10 */

	/* hosts: name -> address, consulted before DNS */
	struct us_host_entry hosts[US_MAX_HOSTS];
	int nhosts;

	/* tcp: */
	struct us_tcp_config tcp;

	/* services: (ustackd) */
	struct us_service_config services[US_MAX_SERVICES];
	int nservices;

	char source[US_PATH_MAX];     /* file it was loaded from, "" if built in code */
};

/* Set every field to its default (no interfaces). */
void us_config_init(struct us_config *cfg);

/*
 * Parse and validate a YAML file. On error returns -1 and writes
 * "FILE:LINE:COLUMN: message" (1-based) into err; nothing in cfg is usable.
 */
int us_config_load(const char *path, struct us_config *cfg, char *err, size_t errlen);

/* The same from a string; name is used in error messages in place of FILE. */
int us_config_load_string(const char *name, const char *yaml, size_t len,
			  struct us_config *cfg, char *err, size_t errlen);

/*
 * Cross-field checks (duplicate names, routes via unreachable gateways, ...).
 * us_config_load() runs it; code that builds a config by hand calls it.
 */
int us_config_validate(const struct us_config *cfg, char *err, size_t errlen);

/* Print the normalized configuration as YAML (ustackd --check-config). */
void us_config_dump(const struct us_config *cfg, FILE *out);

const char *us_backend_name(enum us_backend_kind kind);
const char *us_log_level_name(enum us_log_level level);

#endif /* USTACK_CONFIG_H */
