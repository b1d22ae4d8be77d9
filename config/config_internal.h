/*
 * config_internal.h — what the files of the configuration module share.
 *
 * config.c holds the defaults, the names, the value checks and
 * us_config_validate(); config_parse.c turns YAML into a struct us_config;
 * config_dump.c turns a struct us_config back into YAML. The value checks
 * live here once so that the parser (which knows exactly where a value was
 * written) and us_config_validate() (which only knows the line and column
 * stored in the struct, or nothing for configs built in code) report the
 * same condition with the same words. Internal prefix: cfg_.
 */
#ifndef US_CONFIG_INTERNAL_H
#define US_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/config.h"

/* Ranges of the run-time tunables that config.h does not name (doc/CONFIG.md). */
#define CFG_IMPAIR_MS_MAX     60000u    /* impair.delay_ms, impair.jitter_ms */
#define CFG_IMPAIR_RATE_MAX   100000u   /* impair.rate_mbit */
#define CFG_ARP_TIMEOUT_MIN   1u
#define CFG_ARP_TIMEOUT_MAX   86400u
#define CFG_INPUT_MAX         (1024u * 1024u)  /* largest YAML text we read, bytes */

/* nameservers: (ranges and defaults; config.h's comments give the same numbers) */
#define CFG_DNS_TIMEOUT_MIN       1u
#define CFG_DNS_TIMEOUT_MAX       60000u
#define CFG_DNS_ATTEMPTS_MIN      1u
#define CFG_DNS_ATTEMPTS_MAX      10u
#define CFG_DEFAULT_DNS_TIMEOUT_MS 2000u
#define CFG_DEFAULT_DNS_ATTEMPTS  3u
/* A DNS name in text: at most 253 characters, labels 1..63 (RFC 1035). */
#define CFG_DNS_NAME_MAX          253u
#define CFG_DNS_LABEL_MAX         63u

/* tcp: */
#define CFG_TCP_MSS_MIN           88u
#define CFG_TCP_MSS_MAX           65495u
#define CFG_TCP_BUF_MIN           4096u
#define CFG_TCP_BUF_MAX           (64u * 1024u * 1024u)
#define CFG_TCP_DELACK_MAX        500u
#define CFG_TCP_RTO_MIN           1u       /* rto_min_ms and rto_initial_ms */
#define CFG_TCP_RTO_MAX           60000u
#define CFG_TCP_RETRIES_MIN       1u       /* retries and syn_retries */
#define CFG_TCP_RETRIES_MAX       255u
#define CFG_TCP_TIME_WAIT_MAX     600u
#define CFG_DEFAULT_TCP_MSS       1460u
#define CFG_DEFAULT_TCP_BUF       262144u  /* sndbuf and rcvbuf */
#define CFG_DEFAULT_TCP_DELACK_MS 40u
#define CFG_DEFAULT_TCP_RTO_MIN_MS 200u
#define CFG_DEFAULT_TCP_RTO_INIT_MS 1000u
#define CFG_DEFAULT_TCP_RETRIES   15u
#define CFG_DEFAULT_TCP_SYN_RETRIES 6u
#define CFG_DEFAULT_TCP_TIME_WAIT_S 60u

/* services: */
#define CFG_PORT_MIN              1u
#define CFG_PORT_MAX              65535u
#define CFG_HTTP_MAX_CONNECTIONS  2048u   /* HTTP_WORKERS * HTTP_MAX_CONNS (http_service.h) */

/* Longest text of an IPv4 address with prefix, "255.255.255.255/32" + NUL. */
#define CFG_CIDR_STRLEN 19
/* "02:00:00:00:00:01" + NUL. */
#define CFG_MAC_STRLEN 18

/*
 * Write "NAME:LINE:COLUMN: message" into err (line and column 1-based).
 * Without a position (line <= 0) writes "NAME: message". NULL or empty
 * name becomes "<config>". Always returns -1, so callers can return it.
 */
int cfg_errf(char *err, size_t errlen, const char *name, int line, int column,
	     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int cfg_verrf(char *err, size_t errlen, const char *name, int line, int column,
	      const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

/* Strict text parsers: the whole string must match, no surrounding junk. */
bool cfg_parse_u64(const char *s, uint64_t *out);   /* decimal, no sign, no leading 0 */
bool cfg_parse_prob(const char *s, double *out);    /* decimal number 0..1 */
bool cfg_parse_ipv4(const char *s, struct in_addr *out);  /* dotted quad */
bool cfg_parse_cidr(const char *s, struct us_cidr *out);  /* dotted quad "/" 0..32 */
bool cfg_parse_mac(const char *s, uint8_t mac[6]);         /* xx:xx:xx:xx:xx:xx */

/* Formatters into caller buffers of the sizes above. */
void cfg_format_ipv4(struct in_addr a, char *buf, size_t len);
void cfg_format_cidr(const struct us_cidr *c, char *buf, size_t len);
void cfg_format_mac(const uint8_t mac[6], char *buf, size_t len);

/* The netmask of a prefix length 0..32, host byte order. */
uint32_t cfg_mask(unsigned prefix);

/*
 * Value checks. Each returns NULL if the value is acceptable, otherwise the
 * reason as a phrase that follows the value ("is a loopback address").
 */
const char *cfg_check_ifname(const char *name);   /* "must be 1..15 characters ..." */
const char *cfg_check_host(struct in_addr a);     /* usable unicast host address */
const char *cfg_check_mac(const uint8_t mac[6]);  /* unicast, not all-zero */

/*
 * The keys whose presence depends on the backend: device (required, or
 * not allowed for loopback), output (pcap-file only), impair (pair only).
 * impair_present says whether impair was given. Returns NULL if fine,
 * otherwise writes a whole message into buf and returns buf; *key names the
 * key at fault and *missing is true when that key is required but absent.
 */
const char *cfg_check_backend_keys(const struct us_iface_config *ifc, bool impair_present,
				   char *buf, size_t len, const char **key, bool *missing);

/* An interface's defaults (zero except mtu); name and position are left empty. */
void cfg_iface_init(struct us_iface_config *ifc);

/* TCP defaults (the table in doc/CONFIG.md). */
void cfg_tcp_init(struct us_tcp_config *t);

/* A service's defaults: zero except proto, which is IPPROTO_TCP. */
void cfg_service_init(struct us_service_config *svc);

/*
 * A DNS name (a search domain, a hosts name): 1..253 characters, dot-separated
 * labels of 1..63 letters, digits and '-', no label starting or ending with
 * '-', no trailing dot. NULL if fine, else the reason ("has an empty label").
 */
const char *cfg_check_dns_name(const char *name);

/*
 * tcp.rto_initial_ms >= tcp.rto_min_ms. NULL if fine, otherwise writes the
 * whole message ("tcp: rto_initial_ms 100 is less than rto_min_ms 200")
 * into buf and returns buf.
 */
const char *cfg_check_tcp_rto(const struct us_tcp_config *t, char *buf, size_t len);

/*
 * The rules of cfg->services[idx] that involve more than one key or more
 * than one service: root required for http and not allowed otherwise,
 * http only over tcp, and no earlier service (below idx) on the same proto
 * and port. type and proto must already be valid. Returns NULL if fine,
 * otherwise writes a whole message into buf and returns buf; *key names the
 * key at fault ("root", "proto") or is NULL when the fault is the entry as a
 * whole (a missing root, a duplicate).
 */
const char *cfg_check_service(const struct us_config *cfg, int idx, char *buf, size_t len,
			      const char **key);

/* "tcp" for IPPROTO_TCP, "udp" for IPPROTO_UDP, else "unknown". */
const char *cfg_proto_name(int proto);

/* The names of each enum in order, NULL-terminated (for the parser's tables). */
extern const char *const cfg_backend_names[];
extern const char *const cfg_log_level_names[];
extern const char *const cfg_service_type_names[];   /* enum us_service_type */
extern const char *const cfg_proto_names[];          /* "tcp", "udp": index 0, 1 */
extern const char *const cfg_congestion_names[];     /* tcp.congestion; [0] is the default */

#endif /* US_CONFIG_INTERNAL_H */
