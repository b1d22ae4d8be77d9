/*
 * config.c — defaults, names, value checks and cross-field validation of a
 * struct us_config.
 *
 * us_config_validate() is the one place that decides whether a config is
 * usable: the YAML loader (config_parse.c) runs it after parsing, and code
 * that fills a struct us_config by hand calls it too. It reports the first
 * problem as "SOURCE:LINE:COLUMN: message", using the positions the loader
 * stored in each interface, route and service (a hand-built config has none, and
 * then the message is "SOURCE: message", SOURCE being "<config>" when
 * cfg->source is empty). Value checks shared with the parser are the cfg_
 * functions below; see config_internal.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"

_Static_assert(US_MIN_MTU <= US_DEFAULT_MTU && US_DEFAULT_MTU <= US_MAX_MTU,
	       "default MTU outside its range");
_Static_assert(CFG_ARP_TIMEOUT_MIN <= US_DEFAULT_ARP_TIMEOUT_S &&
	       US_DEFAULT_ARP_TIMEOUT_S <= CFG_ARP_TIMEOUT_MAX,
	       "default ARP timeout outside its range");
_Static_assert(US_IFNAME_MAX >= 2 && US_PATH_MAX >= 2, "name buffers too small");
_Static_assert(US_HOSTNAME_MAX > CFG_DNS_NAME_MAX, "hostname buffer too small");
_Static_assert(CFG_DNS_TIMEOUT_MIN <= CFG_DEFAULT_DNS_TIMEOUT_MS &&
	       CFG_DEFAULT_DNS_TIMEOUT_MS <= CFG_DNS_TIMEOUT_MAX &&
	       CFG_DNS_ATTEMPTS_MIN <= CFG_DEFAULT_DNS_ATTEMPTS &&
	       CFG_DEFAULT_DNS_ATTEMPTS <= CFG_DNS_ATTEMPTS_MAX,
	       "default DNS timeout or attempts outside their range");
_Static_assert(CFG_TCP_MSS_MIN <= CFG_DEFAULT_TCP_MSS && CFG_DEFAULT_TCP_MSS <= CFG_TCP_MSS_MAX &&
	       CFG_TCP_BUF_MIN <= CFG_DEFAULT_TCP_BUF && CFG_DEFAULT_TCP_BUF <= CFG_TCP_BUF_MAX &&
	       CFG_DEFAULT_TCP_DELACK_MS <= CFG_TCP_DELACK_MAX &&
	       CFG_TCP_RTO_MIN <= CFG_DEFAULT_TCP_RTO_MIN_MS &&
	       CFG_DEFAULT_TCP_RTO_MIN_MS <= CFG_DEFAULT_TCP_RTO_INIT_MS &&
	       CFG_DEFAULT_TCP_RTO_INIT_MS <= CFG_TCP_RTO_MAX &&
	       CFG_TCP_RETRIES_MIN <= CFG_DEFAULT_TCP_SYN_RETRIES &&
	       CFG_DEFAULT_TCP_SYN_RETRIES <= CFG_TCP_RETRIES_MAX &&
	       CFG_TCP_RETRIES_MIN <= CFG_DEFAULT_TCP_RETRIES &&
	       CFG_DEFAULT_TCP_RETRIES <= CFG_TCP_RETRIES_MAX &&
	       CFG_DEFAULT_TCP_TIME_WAIT_S <= CFG_TCP_TIME_WAIT_MAX,
	       "a TCP default is outside its range");
_Static_assert(sizeof "newreno" <= sizeof ((struct us_tcp_config *)0)->congestion,
	       "tcp.congestion too small for its names");

const char *const cfg_backend_names[] = {
	[US_BACKEND_TAP] = "tap",
	[US_BACKEND_PCAP] = "pcap",
	[US_BACKEND_PCAP_FILE] = "pcap-file",
	[US_BACKEND_LOOPBACK] = "loopback",
	[US_BACKEND_PAIR] = "pair",
	[US_BACKEND_TUN] = "tun",
	NULL,
};

const char *const cfg_log_level_names[] = {
	[US_LOG_ERROR] = "error",
	[US_LOG_WARN] = "warn",
	[US_LOG_INFO] = "info",
	[US_LOG_DEBUG] = "debug",
	[US_LOG_TRACE] = "trace",
	NULL,
};

const char *const cfg_service_type_names[] = {
	[US_SVC_ECHO] = "echo",
	[US_SVC_DISCARD] = "discard",
	[US_SVC_CHARGEN] = "chargen",
	[US_SVC_HTTP] = "http",
	NULL,
};

/* Indexes 0 and 1 stand for IPPROTO_TCP and IPPROTO_UDP (cfg_proto_name). */
const char *const cfg_proto_names[] = { "tcp", "udp", NULL };

/*
 * Congestion control algorithms tcp.congestion may name; the first is the
 * default. Each must fit struct us_tcp_config's congestion[] with its NUL
 * (us_config_validate checks the name against this table).
 */
const char *const cfg_congestion_names[] = { "cubic", "newreno", NULL };

#define NBACKENDS ((int)(sizeof cfg_backend_names / sizeof cfg_backend_names[0]) - 1)
#define NLOGLEVELS ((int)(sizeof cfg_log_level_names / sizeof cfg_log_level_names[0]) - 1)
#define NSVCTYPES ((int)(sizeof cfg_service_type_names / sizeof cfg_service_type_names[0]) - 1)

const char *us_backend_name(enum us_backend_kind kind)
{
	if ((int)kind < 0 || (int)kind >= NBACKENDS)
		return "unknown";
	return cfg_backend_names[kind];
}

const char *us_log_level_name(enum us_log_level level)
{
	if ((int)level < 0 || (int)level >= NLOGLEVELS)
		return "unknown";
	return cfg_log_level_names[level];
}

const char *cfg_proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "unknown";
}

void cfg_iface_init(struct us_iface_config *ifc)
{
	memset(ifc, 0, sizeof *ifc);
	ifc->backend = US_BACKEND_TAP;
	ifc->mtu = US_DEFAULT_MTU;
	ifc->offload = true;
	ifc->queues = 1;
}

void cfg_tcp_init(struct us_tcp_config *t)
{
	memset(t, 0, sizeof *t);
	t->mss = CFG_DEFAULT_TCP_MSS;
	t->sndbuf = CFG_DEFAULT_TCP_BUF;
	t->rcvbuf = CFG_DEFAULT_TCP_BUF;
	t->nodelay = false;
	t->delayed_ack_ms = CFG_DEFAULT_TCP_DELACK_MS;
	t->rto_min_ms = CFG_DEFAULT_TCP_RTO_MIN_MS;
	t->rto_initial_ms = CFG_DEFAULT_TCP_RTO_INIT_MS;
	t->retries = CFG_DEFAULT_TCP_RETRIES;
	t->syn_retries = CFG_DEFAULT_TCP_SYN_RETRIES;
	t->time_wait_s = CFG_DEFAULT_TCP_TIME_WAIT_S;
	snprintf(t->congestion, sizeof t->congestion, "%s", cfg_congestion_names[0]);
	t->window_scaling = true;
	t->timestamps = true;
	t->sack = true;
	t->rack = true;
	t->syncookies = true;
}

void cfg_service_init(struct us_service_config *svc)
{
	memset(svc, 0, sizeof *svc);
	svc->type = US_SVC_ECHO;
	svc->proto = IPPROTO_TCP;
}

/*
 * Every interface and service slot gets its defaults too, so that code
 * which fills cfg->ifaces[0] and sets nifaces = 1 need not know the default
 * MTU (nor a service's default proto).
 */
void us_config_init(struct us_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->log_level = US_LOG_INFO;
	cfg->seed_set = false;
	cfg->busy_poll_us = US_DEFAULT_BUSY_POLL_US;
	cfg->drain_timeout_ms = US_DEFAULT_DRAIN_TIMEOUT_MS;
	cfg->max_sockets = US_DEFAULT_MAX_SOCKETS;
	cfg->forwarding = false;
	cfg->send_redirects = true;
	for (int i = 0; i < US_MAX_IFACES; i++)
		cfg_iface_init(&cfg->ifaces[i]);
	cfg->arp_timeout_s = US_DEFAULT_ARP_TIMEOUT_S;
	cfg->dns_timeout_ms = CFG_DEFAULT_DNS_TIMEOUT_MS;
	cfg->dns_attempts = CFG_DEFAULT_DNS_ATTEMPTS;
	cfg_tcp_init(&cfg->tcp);
	for (int i = 0; i < US_MAX_SERVICES; i++)
		cfg_service_init(&cfg->services[i]);
}

/* ---- error text ------------------------------------------------------- */

int cfg_verrf(char *err, size_t errlen, const char *name, int line, int column,
	      const char *fmt, va_list ap)
{
	if (!err || errlen == 0)
		return -1;
	if (!name || !*name)
		name = "<config>";
	int n;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%d:%d: ", name, line, column > 0 ? column : 1);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n < 0)
		n = 0;
	if ((size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	return -1;
}

int cfg_errf(char *err, size_t errlen, const char *name, int line, int column,
	     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_verrf(err, errlen, name, line, column, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- strict text parsers ------------------------------------------------ */

bool cfg_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return false;
	if (s[0] == '0' && s[1] != '\0')
		return false;  /* "007" is octal to some YAML readers: refuse it */
	uint64_t v = 0;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		unsigned d = (unsigned)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;  /* overflow */
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool cfg_parse_prob(const char *s, double *out)
{
	if (!s || !*s)
		return false;
	/* Plain decimal notation only: no hex floats, inf, nan or spaces. */
	bool digit = false;
	for (const char *c = s; *c; c++) {
		if (*c >= '0' && *c <= '9')
			digit = true;
		else if (!strchr(".eE+-", *c))
			return false;
	}
	if (!digit)
		return false;
	char *end;
	double v = strtod(s, &end);  /* an underflow to 0 is fine; overflow fails below */
	if (*end != '\0' || !(v >= 0.0 && v <= 1.0))
		return false;
	*out = v == 0.0 ? 0.0 : v;  /* no -0 */
	return true;
}

bool cfg_parse_ipv4(const char *s, struct in_addr *out)
{
	/* glibc's inet_pton takes exactly a.b.c.d, each 0..255, no leading zeros. */
	return s && inet_pton(AF_INET, s, out) == 1;
}

bool cfg_parse_cidr(const char *s, struct us_cidr *out)
{
	if (!s)
		return false;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || (size_t)(slash - s) >= INET_ADDRSTRLEN)
		return false;
	char addr[INET_ADDRSTRLEN];
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	uint64_t prefix;
	if (!cfg_parse_ipv4(addr, &out->addr) || !cfg_parse_u64(slash + 1, &prefix) ||
	    prefix > 32)
		return false;
	out->prefix = (uint8_t)prefix;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool cfg_parse_mac(const char *s, uint8_t mac[6])
{
	if (!s || strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

void cfg_format_ipv4(struct in_addr a, char *buf, size_t len)
{
	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len) && len)
		buf[0] = '\0';
}

void cfg_format_cidr(const struct us_cidr *c, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	cfg_format_ipv4(c->addr, a, sizeof a);
	snprintf(buf, len, "%s/%u", a, (unsigned)c->prefix);
}

void cfg_format_mac(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

uint32_t cfg_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

/* ---- value checks ------------------------------------------------------- */

const char *cfg_check_ifname(const char *name)
{
	size_t n = strnlen(name, US_IFNAME_MAX);
	if (n == 0 || n >= US_IFNAME_MAX)
		return "must be 1..15 characters long";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return "may only contain letters, digits, '_', '.' and '-'";
	}
	return NULL;
}

const char *cfg_check_host(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	if (h == 0)
		return "is the unspecified address";
	if (h == 0xffffffffu)
		return "is the broadcast address";
	if ((h & 0xf0000000u) == 0xe0000000u)
		return "is a multicast address";
	if ((h & 0xff000000u) == 0x7f000000u)
		return "is a loopback address";
	return NULL;
}

const char *cfg_check_mac(const uint8_t mac[6])
{
	static const uint8_t zero[6];
	if (memcmp(mac, zero, 6) == 0)
		return "is all zero";
	if (mac[0] == 0xff && mac[1] == 0xff && mac[2] == 0xff && mac[3] == 0xff &&
	    mac[4] == 0xff && mac[5] == 0xff)
		return "is the broadcast address";
	if (mac[0] & 1)
		return "is a multicast address (the low bit of the first byte is set)";
	return NULL;
}

const char *cfg_check_backend_keys(const struct us_iface_config *ifc, bool impair_present,
				   char *buf, size_t len, const char **key, bool *missing)
{
	const char *bname = us_backend_name(ifc->backend);
	bool has_device = ifc->device[0] != '\0';
	*missing = false;
	if (ifc->backend == US_BACKEND_LOOPBACK) {
		if (has_device) {
			*key = "device";
			snprintf(buf, len, "interface \"%s\": \"device\" is not allowed for backend %s",
				 ifc->name, bname);
			return buf;
		}
	} else if (!has_device) {
		*key = "device";
		*missing = true;
		snprintf(buf, len,
			 "interface \"%s\": missing required key \"device\" (backend %s needs it)",
			 ifc->name, bname);
		return buf;
	}
	if (ifc->output[0] && ifc->backend != US_BACKEND_PCAP_FILE) {
		*key = "output";
		snprintf(buf, len,
			 "interface \"%s\": \"output\" is only allowed for backend pcap-file", ifc->name);
		return buf;
	}
	if (ifc->pcap_buffer_kb && ifc->backend != US_BACKEND_PCAP) {
		*key = "pcap_buffer_kb";
		snprintf(buf, len, "interface \"%s\": \"pcap_buffer_kb\" is only allowed for backend pcap",
			 ifc->name);
		return buf;
	}
	if (ifc->queues > 1 && ifc->backend != US_BACKEND_TAP && ifc->backend != US_BACKEND_TUN) {
		*key = "queues";
		snprintf(buf, len, "interface \"%s\": \"queues\" above 1 is only allowed for backend tap "
			 "or tun (IFF_MULTI_QUEUE)", ifc->name);
		return buf;
	}
	if (ifc->queues > 1 && (us_impair_is_set(&ifc->impair) || us_impair_is_set(&ifc->impair_in) ||
				us_impair_is_set(&ifc->impair_out))) {
		*key = "queues";
		snprintf(buf, len, "interface \"%s\": \"queues\" above 1 does not combine with impair "
			 "(the impair layer has one queue)", ifc->name);
		return buf;
	}
	if (impair_present && ifc->backend != US_BACKEND_PAIR && us_impair_is_set(&ifc->impair) &&
	    (us_impair_is_set(&ifc->impair_in) || us_impair_is_set(&ifc->impair_out))) {
		*key = "impair";
		snprintf(buf, len,
			 "interface \"%s\": impair: give either the impairment keys (both "
			 "directions) or in: and out:, not both (only a pair wire has both)",
			 ifc->name);
		return buf;
	}
	return NULL;
}

const char *cfg_check_dns_name(const char *name)
{
	size_t n = strnlen(name, CFG_DNS_NAME_MAX + 1);
	if (n == 0 || n > CFG_DNS_NAME_MAX)
		return "must be 1..253 characters long";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return "may only contain letters, digits, '-' and '.'";
	}
	for (size_t start = 0; start <= n;) {
		size_t end = start;
		while (end < n && name[end] != '.')
			end++;
		size_t len = end - start;
		if (len == 0)
			return "has an empty label (a leading, trailing or double '.')";
		if (len > CFG_DNS_LABEL_MAX)
			return "has a label longer than 63 characters";
		if (name[start] == '-' || name[end - 1] == '-')
			return "has a label that starts or ends with '-'";
		start = end + 1;
	}
	return NULL;
}

const char *cfg_check_tcp_rto(const struct us_tcp_config *t, char *buf, size_t len)
{
	if (t->rto_initial_ms >= t->rto_min_ms)
		return NULL;
	snprintf(buf, len, "tcp: rto_initial_ms %u is less than rto_min_ms %u",
		 (unsigned)t->rto_initial_ms, (unsigned)t->rto_min_ms);
	return buf;
}

const char *cfg_check_service(const struct us_config *cfg, int idx, char *buf, size_t len,
			      const char **key)
{
	const struct us_service_config *s = &cfg->services[idx];
	const char *type = cfg_service_type_names[s->type], *proto = cfg_proto_name(s->proto);
	unsigned port = s->port;

	*key = NULL;
	if (s->type == US_SVC_HTTP && !s->root[0]) {
		snprintf(buf, len,
			 "service %s %u/%s: missing required key \"root\" (type http needs it)",
			 type, port, proto);
		return buf;
	}
	if (s->type != US_SVC_HTTP && s->root[0]) {
		*key = "root";
		snprintf(buf, len, "service %s %u/%s: \"root\" is only allowed for type http",
			 type, port, proto);
		return buf;
	}
	if (s->type != US_SVC_HTTP && s->max_connections) {
		*key = "max_connections";
		snprintf(buf, len, "service %s %u/%s: \"max_connections\" is only allowed for type http",
			 type, port, proto);
		return buf;
	}
	if (s->type == US_SVC_HTTP && s->proto != IPPROTO_TCP) {
		*key = "proto";
		snprintf(buf, len, "service %s %u/%s: type http needs proto tcp", type, port, proto);
		return buf;
	}
	for (int j = 0; j < idx; j++) {
		const struct us_service_config *o = &cfg->services[j];
		if (o->proto != s->proto || o->port != s->port)
			continue;
		int n = snprintf(buf, len, "service %s %u/%s: port %u/%s is already used by service %s",
				 type, port, proto, port, proto, cfg_service_type_names[o->type]);
		if (o->line > 0 && n >= 0 && (size_t)n < len)
			snprintf(buf + n, len - (size_t)n, " (first at %d:%d)", o->line,
				 o->column > 0 ? o->column : 1);
		return buf;
	}
	return NULL;
}

/* ---- us_config_validate ------------------------------------------------- */

struct vctx {
	const struct us_config *cfg;
	char *err;
	size_t errlen;
};

static int verr(struct vctx *v, int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int verr(struct vctx *v, int line, int column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const char *src = memchr(v->cfg->source, '\0', sizeof v->cfg->source) ? v->cfg->source : "";
	cfg_verrf(v->err, v->errlen, src, line, column, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

bool us_impair_is_set(const struct us_impair *im)
{
	return im->loss != 0.0 || im->duplicate != 0.0 || im->reorder != 0.0 ||
	       im->corrupt != 0.0 || im->delay_ms || im->jitter_ms || im->rate_mbit;
}

static int validate_impair1(struct vctx *v, const struct us_iface_config *ifc, const char *what,
			    const struct us_impair *im)
{
	const struct { const char *name; double val; } probs[] = {
		{ "loss", im->loss }, { "duplicate", im->duplicate },
		{ "reorder", im->reorder }, { "corrupt", im->corrupt },
	};
	for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
		if (!(probs[i].val >= 0.0 && probs[i].val <= 1.0))  /* NaN fails too */
			return verr(v, ifc->line, ifc->column,
				    "interface \"%s\": %s.%s must be 0..1", ifc->name, what,
				    probs[i].name);
	if (im->delay_ms > CFG_IMPAIR_MS_MAX || im->jitter_ms > CFG_IMPAIR_MS_MAX)
		return verr(v, ifc->line, ifc->column,
			    "interface \"%s\": %s.delay_ms and %s.jitter_ms must be 0..%u",
			    ifc->name, what, what, CFG_IMPAIR_MS_MAX);
	if (im->rate_mbit > CFG_IMPAIR_RATE_MAX)
		return verr(v, ifc->line, ifc->column,
			    "interface \"%s\": %s.rate_mbit must be 0..%u", ifc->name, what,
			    CFG_IMPAIR_RATE_MAX);
	return 0;
}

static int validate_impair(struct vctx *v, const struct us_iface_config *ifc)
{
	if (validate_impair1(v, ifc, "impair", &ifc->impair) ||
	    validate_impair1(v, ifc, "impair.in", &ifc->impair_in) ||
	    validate_impair1(v, ifc, "impair.out", &ifc->impair_out))
		return -1;
	return 0;
}

/* Which interface, other than (i, j) itself, already has address a? */
static const struct us_iface_config *addr_owner(const struct us_config *cfg, struct in_addr a,
						int upto_iface, int upto_addr)
{
	for (int i = 0; i <= upto_iface; i++) {
		int n = i < upto_iface ? cfg->ifaces[i].naddrs : upto_addr;
		for (int j = 0; j < n; j++)
			if (cfg->ifaces[i].addrs[j].addr.s_addr == a.s_addr)
				return &cfg->ifaces[i];
	}
	return NULL;
}

static int validate_iface(struct vctx *v, int idx)
{
	const struct us_config *cfg = v->cfg;
	const struct us_iface_config *ifc = &cfg->ifaces[idx];
	int l = ifc->line, c = ifc->column;
	const char *why;

	if (!terminated(ifc->name, sizeof ifc->name))
		return verr(v, l, c, "interface #%d: name is not NUL-terminated", idx);
	if ((why = cfg_check_ifname(ifc->name)))
		return verr(v, l, c, "interface name \"%s\" %s", ifc->name, why);
	for (int i = 0; i < idx; i++)
		if (strcmp(cfg->ifaces[i].name, ifc->name) == 0)
			return verr(v, l, c, "interface \"%s\" is configured twice", ifc->name);
	if ((int)ifc->backend < 0 || (int)ifc->backend >= NBACKENDS)
		return verr(v, l, c, "interface \"%s\": unknown backend %d", ifc->name,
			    (int)ifc->backend);
	if (!terminated(ifc->device, sizeof ifc->device) ||
	    !terminated(ifc->output, sizeof ifc->output) ||
	    !terminated(ifc->capture, sizeof ifc->capture))
		return verr(v, l, c, "interface \"%s\": a file or device name is not NUL-terminated",
			    ifc->name);

	char msg[160];
	const char *key;
	bool missing;
	if (cfg_check_backend_keys(ifc, us_impair_is_set(&ifc->impair), msg, sizeof msg, &key,
				   &missing))
		return verr(v, l, c, "%s", msg);
	/* Two interfaces on one kernel device would each see the other's frames. */
	if (ifc->backend == US_BACKEND_TAP || ifc->backend == US_BACKEND_PCAP ||
	    ifc->backend == US_BACKEND_TUN)
		for (int i = 0; i < idx; i++) {
			const struct us_iface_config *o = &cfg->ifaces[i];
			if ((o->backend == US_BACKEND_TAP || o->backend == US_BACKEND_PCAP ||
			     o->backend == US_BACKEND_TUN) &&
			    strcmp(o->device, ifc->device) == 0)
				return verr(v, l, c,
					    "interface \"%s\": device \"%s\" is already used by "
					    "interface \"%s\" (at %d:%d)",
					    ifc->name, ifc->device, o->name, o->line, o->column);
		}
	/* DHCP (RFC 2131) needs broadcast and a hardware address: Ethernet. */
	if (ifc->dhcp4 && (ifc->backend == US_BACKEND_TUN || ifc->backend == US_BACKEND_LOOPBACK))
		return verr(v, l, c, "interface \"%s\": dhcp4 needs an Ethernet backend (tap, pcap, "
			    "pair), not %s", ifc->name, us_backend_name(ifc->backend));
	if (ifc->queues > US_MAX_QUEUES)
		return verr(v, l, c, "interface \"%s\": queues %u is out of range 1..%d", ifc->name,
			    (unsigned)ifc->queues, US_MAX_QUEUES);
	if (ifc->mtu < US_MIN_MTU || ifc->mtu > US_MAX_MTU)
		return verr(v, l, c, "interface \"%s\": mtu %u is out of range %d..%d", ifc->name,
			    (unsigned)ifc->mtu, US_MIN_MTU, US_MAX_MTU);
	if (ifc->mac_set && (why = cfg_check_mac(ifc->mac))) {
		char m[CFG_MAC_STRLEN];
		cfg_format_mac(ifc->mac, m, sizeof m);
		return verr(v, l, c, "interface \"%s\": macaddress %s %s", ifc->name, m, why);
	}
	if (ifc->naddrs < 0 || ifc->naddrs > US_MAX_ADDRS)
		return verr(v, l, c, "interface \"%s\": %d addresses (at most %d)", ifc->name,
			    ifc->naddrs, US_MAX_ADDRS);
	for (int j = 0; j < ifc->naddrs; j++) {
		const struct us_cidr *a = &ifc->addrs[j];
		char s[CFG_CIDR_STRLEN];
		if (a->prefix > 32)
			return verr(v, l, c, "interface \"%s\": prefix length %u is out of range 0..32",
				    ifc->name, (unsigned)a->prefix);
		cfg_format_cidr(a, s, sizeof s);
		if ((why = cfg_check_host(a->addr)))
			return verr(v, l, c, "interface \"%s\": address %s %s", ifc->name, s, why);
		const struct us_iface_config *o = addr_owner(cfg, a->addr, idx, j);
		if (o)
			return verr(v, l, c, "interface \"%s\": duplicate address %s (also on \"%s\")",
				    ifc->name, s, o->name);
	}
	return validate_impair(v, ifc);
}

static const struct us_iface_config *find_iface(const struct us_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->nifaces; i++)
		if (strcmp(cfg->ifaces[i].name, name) == 0)
			return &cfg->ifaces[i];
	return NULL;
}

/* Is a inside the connected subnet of some address of some interface? */
static bool reachable(const struct us_config *cfg, struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	for (int i = 0; i < cfg->nifaces; i++)
		for (int j = 0; j < cfg->ifaces[i].naddrs; j++) {
			const struct us_cidr *c = &cfg->ifaces[i].addrs[j];
			uint32_t m = cfg_mask(c->prefix);
			if ((h & m) == (ntohl(c->addr.s_addr) & m))
				return true;
		}
	return false;
}

static int validate_route(struct vctx *v, const struct us_route_config *r)
{
	int l = r->line, c = r->column;
	char to[CFG_CIDR_STRLEN], via[INET_ADDRSTRLEN];
	const char *why;

	if (r->to.prefix > 32)
		return verr(v, l, c, "route: prefix length %u is out of range 0..32",
			    (unsigned)r->to.prefix);
	if (r->to.prefix == 0 && r->to.addr.s_addr == 0)
		snprintf(to, sizeof to, "default");
	else
		cfg_format_cidr(&r->to, to, sizeof to);
	if (ntohl(r->to.addr.s_addr) & ~cfg_mask(r->to.prefix))
		return verr(v, l, c, "route to %s: the destination has host bits set", to);
	if (!terminated(r->iface, sizeof r->iface))
		return verr(v, l, c, "route to %s: interface name is not NUL-terminated", to);
	cfg_format_ipv4(r->via, via, sizeof via);
	if (r->via.s_addr && (why = cfg_check_host(r->via)))
		return verr(v, l, c, "route to %s: gateway %s %s", to, via, why);
	if (r->iface[0] && !find_iface(v->cfg, r->iface))
		return verr(v, l, c, "route to %s: interface \"%s\" is not configured", to,
			    r->iface);
	if (!r->via.s_addr && !r->iface[0])
		return verr(v, l, c, "route to %s: needs \"via\" or \"interface\"", to);
	if (r->via.s_addr && !r->iface[0] && !reachable(v->cfg, r->via))
		return verr(v, l, c,
			    "route to %s: gateway %s is not inside any interface's subnet "
			    "(name an \"interface\" to use it anyway)",
			    to, via);
	/* Linux refuses a prefsrc that is not a local address ("Invalid prefsrc"). */
	if (r->src.s_addr && !addr_owner(v->cfg, r->src, v->cfg->nifaces, 0)) {
		char src[INET_ADDRSTRLEN];
		cfg_format_ipv4(r->src, src, sizeof src);
		return verr(v, l, c, "route to %s: src %s is not an address of any interface", to,
			    src);
	}
	return 0;
}

static int validate_arp(struct vctx *v)
{
	const struct us_config *cfg = v->cfg;
	const char *why;

	if (cfg->arp_timeout_s < CFG_ARP_TIMEOUT_MIN || cfg->arp_timeout_s > CFG_ARP_TIMEOUT_MAX)
		return verr(v, 0, 0, "arp: timeout_s %u is out of range %u..%u",
			    (unsigned)cfg->arp_timeout_s, CFG_ARP_TIMEOUT_MIN, CFG_ARP_TIMEOUT_MAX);
	if (cfg->narp_static < 0 || cfg->narp_static > US_MAX_STATIC_ARP)
		return verr(v, 0, 0, "arp: %d static entries (at most %d)", cfg->narp_static,
			    US_MAX_STATIC_ARP);
	for (int i = 0; i < cfg->narp_static; i++) {
		const struct us_arp_static *e = &cfg->arp_static[i];
		char a[INET_ADDRSTRLEN], m[CFG_MAC_STRLEN];
		cfg_format_ipv4(e->addr, a, sizeof a);
		cfg_format_mac(e->mac, m, sizeof m);
		if ((why = cfg_check_host(e->addr)))
			return verr(v, 0, 0, "arp: static entry %s %s", a, why);
		if ((why = cfg_check_mac(e->mac)))
			return verr(v, 0, 0, "arp: static entry for %s: mac %s %s", a, m, why);
		for (int j = 0; j < i; j++)
			if (cfg->arp_static[j].addr.s_addr == e->addr.s_addr)
				return verr(v, 0, 0, "arp: duplicate static entry for %s", a);
	}
	return 0;
}

static int validate_dns(struct vctx *v)
{
	const struct us_config *cfg = v->cfg;
	const char *why;

	if (cfg->nnameservers < 0 || cfg->nnameservers > US_MAX_NAMESERVERS)
		return verr(v, 0, 0, "nameservers: %d addresses (at most %d)", cfg->nnameservers,
			    US_MAX_NAMESERVERS);
	for (int i = 0; i < cfg->nnameservers; i++) {
		char a[INET_ADDRSTRLEN];
		cfg_format_ipv4(cfg->nameservers[i], a, sizeof a);
		if ((why = cfg_check_host(cfg->nameservers[i])))
			return verr(v, 0, 0, "nameservers: address %s %s", a, why);
		for (int j = 0; j < i; j++)
			if (cfg->nameservers[j].s_addr == cfg->nameservers[i].s_addr)
				return verr(v, 0, 0, "nameservers: duplicate address %s", a);
	}
	if (cfg->nsearch < 0 || cfg->nsearch > US_MAX_SEARCH)
		return verr(v, 0, 0, "nameservers: %d search domains (at most %d)", cfg->nsearch,
			    US_MAX_SEARCH);
	for (int i = 0; i < cfg->nsearch; i++) {
		const char *d = cfg->search[i];
		if (!terminated(d, sizeof cfg->search[i]))
			return verr(v, 0, 0, "nameservers: search domain #%d is not NUL-terminated", i);
		if ((why = cfg_check_dns_name(d)))
			return verr(v, 0, 0, "nameservers: search domain \"%s\" %s", d, why);
		for (int j = 0; j < i; j++)
			if (strcasecmp(cfg->search[j], d) == 0)
				return verr(v, 0, 0, "nameservers: duplicate search domain \"%s\"", d);
	}
	if (cfg->dns_timeout_ms < CFG_DNS_TIMEOUT_MIN || cfg->dns_timeout_ms > CFG_DNS_TIMEOUT_MAX)
		return verr(v, 0, 0, "nameservers: timeout_ms %u is out of range %u..%u",
			    (unsigned)cfg->dns_timeout_ms, CFG_DNS_TIMEOUT_MIN, CFG_DNS_TIMEOUT_MAX);
	if (cfg->dns_attempts < CFG_DNS_ATTEMPTS_MIN || cfg->dns_attempts > CFG_DNS_ATTEMPTS_MAX)
		return verr(v, 0, 0, "nameservers: attempts %u is out of range %u..%u",
			    (unsigned)cfg->dns_attempts, CFG_DNS_ATTEMPTS_MIN, CFG_DNS_ATTEMPTS_MAX);
	/* The YAML section needs addresses; the rest means nothing without them. */
	if (cfg->nnameservers == 0 &&
	    (cfg->nsearch > 0 || cfg->dns_timeout_ms != CFG_DEFAULT_DNS_TIMEOUT_MS ||
	     cfg->dns_attempts != CFG_DEFAULT_DNS_ATTEMPTS))
		return verr(v, 0, 0,
			    "nameservers: search, timeout_ms or attempts set without any address");
	return 0;
}

static int validate_hosts(struct vctx *v)
{
	const struct us_config *cfg = v->cfg;
	const char *why;

	if (cfg->nhosts < 0 || cfg->nhosts > US_MAX_HOSTS)
		return verr(v, 0, 0, "hosts: %d entries (at most %d)", cfg->nhosts, US_MAX_HOSTS);
	for (int i = 0; i < cfg->nhosts; i++) {
		const struct us_host_entry *h = &cfg->hosts[i];
		char a[INET_ADDRSTRLEN];
		if (!terminated(h->name, sizeof h->name))
			return verr(v, 0, 0, "hosts: name #%d is not NUL-terminated", i);
		if ((why = cfg_check_dns_name(h->name)))
			return verr(v, 0, 0, "hosts: \"%s\" %s", h->name, why);
		cfg_format_ipv4(h->addr, a, sizeof a);
		if ((why = cfg_check_host(h->addr)))
			return verr(v, 0, 0, "host \"%s\": %s %s", h->name, a, why);
		for (int j = 0; j < i; j++)
			if (strcasecmp(cfg->hosts[j].name, h->name) == 0)
				return verr(v, 0, 0, "hosts: duplicate name \"%s\"", h->name);
	}
	return 0;
}

static int validate_tcp(struct vctx *v)
{
	const struct us_tcp_config *t = &v->cfg->tcp;
	const struct {
		const char *name;
		uint32_t val, min, max;
	} ranges[] = {
		{ "mss", t->mss, CFG_TCP_MSS_MIN, CFG_TCP_MSS_MAX },
		{ "sndbuf", t->sndbuf, CFG_TCP_BUF_MIN, CFG_TCP_BUF_MAX },
		{ "rcvbuf", t->rcvbuf, CFG_TCP_BUF_MIN, CFG_TCP_BUF_MAX },
		{ "delayed_ack_ms", t->delayed_ack_ms, 0, CFG_TCP_DELACK_MAX },
		{ "rto_min_ms", t->rto_min_ms, CFG_TCP_RTO_MIN, CFG_TCP_RTO_MAX },
		{ "rto_initial_ms", t->rto_initial_ms, CFG_TCP_RTO_MIN, CFG_TCP_RTO_MAX },
		{ "retries", t->retries, CFG_TCP_RETRIES_MIN, CFG_TCP_RETRIES_MAX },
		{ "syn_retries", t->syn_retries, CFG_TCP_RETRIES_MIN, CFG_TCP_RETRIES_MAX },
		{ "time_wait_s", t->time_wait_s, 0, CFG_TCP_TIME_WAIT_MAX },
	};
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
		if (ranges[i].val < ranges[i].min || ranges[i].val > ranges[i].max)
			return verr(v, 0, 0, "tcp: %s %u is out of range %u..%u", ranges[i].name,
				    (unsigned)ranges[i].val, (unsigned)ranges[i].min,
				    (unsigned)ranges[i].max);
	char msg[128];
	if (cfg_check_tcp_rto(t, msg, sizeof msg))
		return verr(v, 0, 0, "%s", msg);
	if (!terminated(t->congestion, sizeof t->congestion))
		return verr(v, 0, 0, "tcp: congestion is not NUL-terminated");
	for (int i = 0; cfg_congestion_names[i]; i++)
		if (strcmp(t->congestion, cfg_congestion_names[i]) == 0)
			return 0;
	return verr(v, 0, 0, "tcp: unknown congestion \"%s\"", t->congestion);
}

static int validate_services(struct vctx *v)
{
	const struct us_config *cfg = v->cfg;

	if (cfg->nservices < 0 || cfg->nservices > US_MAX_SERVICES)
		return verr(v, 0, 0, "%d services configured (at most %d)", cfg->nservices,
			    US_MAX_SERVICES);
	for (int i = 0; i < cfg->nservices; i++) {
		const struct us_service_config *s = &cfg->services[i];
		int l = s->line, c = s->column;
		if ((int)s->type < 0 || (int)s->type >= NSVCTYPES)
			return verr(v, l, c, "service #%d: unknown type %d", i, (int)s->type);
		if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
			return verr(v, l, c, "service #%d: unknown proto %d (IPPROTO_TCP or IPPROTO_UDP)",
				    i, s->proto);
		if (s->port < CFG_PORT_MIN)
			return verr(v, l, c, "service #%d: port 0 is out of range %u..%u", i,
				    CFG_PORT_MIN, CFG_PORT_MAX);
		if (!terminated(s->root, sizeof s->root))
			return verr(v, l, c, "service #%d: root is not NUL-terminated", i);
		char msg[200];
		const char *key;
		if (cfg_check_service(cfg, i, msg, sizeof msg, &key))
			return verr(v, l, c, "%s", msg);
	}
	return 0;
}

int us_config_validate(const struct us_config *cfg, char *err, size_t errlen)
{
	struct vctx v = { cfg, err, errlen };

	if (!cfg) {
		cfg_errf(err, errlen, NULL, 0, 0, "no configuration");
		errno = EINVAL;
		return -1;
	}
	if ((int)cfg->log_level < 0 || (int)cfg->log_level >= NLOGLEVELS)
		return verr(&v, 0, 0, "stack: unknown log_level %d", (int)cfg->log_level);
	if ((cfg->port_lo || cfg->port_hi) && (!cfg->port_lo || cfg->port_lo > cfg->port_hi))
		return verr(&v, 0, 0, "stack: ip_local_port_range %u..%u: expected 1 <= low <= high",
			    cfg->port_lo, cfg->port_hi);
	if (cfg->nifaces <= 0)
		return verr(&v, 0, 0, "no interfaces configured");
	if (cfg->nifaces > US_MAX_IFACES)
		return verr(&v, 0, 0, "%d interfaces configured (at most %d)", cfg->nifaces,
			    US_MAX_IFACES);
	for (int i = 0; i < cfg->nifaces; i++)
		if (validate_iface(&v, i))
			return -1;
	if (cfg->nroutes < 0 || cfg->nroutes > US_MAX_ROUTES)
		return verr(&v, 0, 0, "%d routes configured (at most %d)", cfg->nroutes,
			    US_MAX_ROUTES);
	for (int i = 0; i < cfg->nroutes; i++)
		if (validate_route(&v, &cfg->routes[i]))
			return -1;
	if (validate_arp(&v) || validate_dns(&v) || validate_hosts(&v) || validate_tcp(&v))
		return -1;
	return validate_services(&v);
}
