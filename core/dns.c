/*
 * dns.c — the stub resolver behind us_getaddrinfo (RFC 1035, RFC 1123
 * 6.1.3, and glibc's resolver for the choices the RFCs leave open).
 *
 * Order: numeric addresses, then the config's hosts: entries, then
 * localhost (RFC 6761: 127.0.0.1, through the stack's lo), then DNS.
 * A name with at least one dot (ndots 1) or a trailing dot is tried as
 * given first and then with each search domain; a name without a dot
 * tries the search domains first. Each query goes from a fresh UDP socket
 * (so its source port is a random ephemeral port, RFC 5452) with a random
 * ID, connected to the nameserver so only its replies are seen; a reply
 * counts only if its ID and question match what was asked. Every server
 * is tried in turn, `attempts` times, each try waiting timeout_ms.
 *
 * Outcome per name: addresses; NXDOMAIN or no A record (try the next
 * candidate name); REFUSED/NOTIMP/FORMERR or a malformed reply (try the
 * next server; EAI_FAIL if none does better); TC (truncated: TCP fallback
 * is not implemented, reported via us_resolver_detail and EAI_FAIL);
 * silence, SERVFAIL or an unreachable server (EAI_AGAIN after all tries).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "stack.h"
#include "dhcp.h"
#include "wire/dns.h"

#define DNS_MAX_ADDRS 16

static _Thread_local char detail[256];

const char *us_resolver_detail(void)
{
	return detail;
}

static void set_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
}

const char *us_gai_strerror(int code)
{
	return gai_strerror(code);
}

enum qres { Q_ADDRS, Q_NONAME, Q_TIMEOUT, Q_FAIL };

/*
 * Ask one server once. Returns the outcome; on Q_ADDRS fills addrs/n and canon.
 * Q_FAIL with *fatal set means "stop resolving" (truncated reply).
 */
static enum qres ask(struct us_stack *st, struct in_addr ns, const char *name, uint32_t *addrs,
		     int *n, char *canon, bool *fatal)
{
	uint8_t q[WIRE_DNS_MAX_QUERY];
	static _Thread_local uint8_t reply[4096];
	uint16_t id = (uint16_t)us_rng_u32(&st->rng);
	int qlen = wire_dns_build_query(q, sizeof q, id, name, WIRE_DNS_TYPE_A);
	if (qlen < 0) {
		set_detail("\"%s\" is not a valid DNS name", name);
		*fatal = true;
		return Q_FAIL;
	}
	int fd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		set_detail("socket: %s", strerror(errno));
		return Q_FAIL;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(WIRE_DNS_PORT),
				  .sin_addr = ns };
	enum qres res = Q_TIMEOUT;
	char nsbuf[16];
	inet_ntop(AF_INET, &ns, nsbuf, sizeof nsbuf);
	if (us_connect(st, fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    us_send(st, fd, q, (size_t)qlen, 0) < 0) {
		set_detail("%s: %s", nsbuf, strerror(errno));
		us_close(st, fd);
		return errno == ESHUTDOWN ? (*fatal = true, Q_FAIL) : Q_FAIL;
	}
	uint64_t deadline = us_monotonic_ns() + (uint64_t)st->cfg.dns_timeout_ms * US_NS_PER_MS;
	struct wire_dns_msg *m = malloc(sizeof *m);
	if (!m) {
		us_close(st, fd);
		set_detail("out of memory");
		*fatal = true;
		return Q_FAIL;
	}
	for (;;) {
		uint64_t now = us_monotonic_ns();
		if (now >= deadline)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = us_poll(st, &p, 1, (int)((deadline - now + US_NS_PER_MS - 1) / US_NS_PER_MS));
		if (pr < 0) {
			set_detail("poll: %s", strerror(errno));
			*fatal = errno == ESHUTDOWN;
			res = Q_FAIL;
			break;
		}
		if (pr == 0)
			continue;
		ssize_t len = us_recv(st, fd, reply, sizeof reply, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EAGAIN)
				continue;
			/* ECONNREFUSED (nothing on port 53 there), EHOSTUNREACH (ARP
			 * failed): the server is unreachable, a temporary failure
			 * as far as the caller knows (glibc says EAI_AGAIN too). */
			set_detail("%s: %s", nsbuf, strerror(errno));
			res = Q_TIMEOUT;
			break;
		}
		/* Not our ID: someone else's datagram (or a spoofing attempt,
		 * RFC 5452): ignore it and keep waiting. */
		if (len < 2 || (uint16_t)(reply[0] << 8 | reply[1]) != id)
			continue;
		int pe = wire_dns_parse(reply, (size_t)len, m);
		if (pe == WIRE_DNS_OK && !wire_dns_matches_query(m, id, name, WIRE_DNS_TYPE_A))
			continue;       /* not the answer to our question: keep waiting */
		if (pe != WIRE_DNS_OK) {
			set_detail("malformed reply from %s: %s", nsbuf, wire_dns_strerror(pe));
			res = Q_FAIL;
			break;
		}
		if (m->tc) {
			set_detail("reply from %s for \"%s\" was truncated (TC bit) and DNS over TCP "
				   "is not supported", nsbuf, name);
			*fatal = true;
			res = Q_FAIL;
			break;
		}
		if (m->rcode == WIRE_DNS_RCODE_NXDOMAIN) {
			res = Q_NONAME;
			break;
		}
		if (m->rcode != WIRE_DNS_RCODE_NOERROR) {
			set_detail("%s answered rcode %u for \"%s\"", nsbuf, m->rcode, name);
			/* SERVFAIL is temporary (EAI_AGAIN, like glibc); REFUSED,
			 * NOTIMP and FORMERR are not. */
			res = m->rcode == WIRE_DNS_RCODE_SERVFAIL ? Q_TIMEOUT : Q_FAIL;
			break;
		}
		int k = wire_dns_answer_addrs(m, name, addrs, DNS_MAX_ADDRS, canon, WIRE_DNS_NAME_LEN);
		if (k < 0) {
			set_detail("reply from %s: %s", nsbuf, wire_dns_strerror(k));
			res = Q_FAIL;
			break;
		}
		*n = k;
		res = k > 0 ? Q_ADDRS : Q_NONAME;
		break;
	}
	if (res == Q_TIMEOUT && !detail[0])
		set_detail("no reply from %s within %u ms", nsbuf, st->cfg.dns_timeout_ms);
	free(m);
	us_close(st, fd);
	return res;
}

/* Resolve one candidate name with every server and attempt. */
static enum qres query(struct us_stack *st, const struct in_addr *ns, int nns, const char *name,
		       uint32_t *addrs, int *n, char *canon, bool *fatal)
{
	enum qres last = Q_TIMEOUT;
	for (uint32_t a = 0; a < st->cfg.dns_attempts; a++)
		for (int s = 0; s < nns; s++) {
			detail[0] = '\0';
			enum qres r = ask(st, ns[s], name, addrs, n, canon, fatal);
			if (r == Q_ADDRS || r == Q_NONAME || *fatal)
				return r;
			if (r == Q_FAIL || last != Q_FAIL)
				last = r;
		}
	return last;
}

static int build_result(const uint32_t *addrs, int n, uint16_t port, const struct addrinfo *hints,
			const char *canon, struct addrinfo **res)
{
	int types[2], nt = 0;
	int want = hints ? hints->ai_socktype : 0;
	if (want == 0 || want == SOCK_STREAM)
		types[nt++] = SOCK_STREAM;
	if (want == 0 || want == SOCK_DGRAM)
		types[nt++] = SOCK_DGRAM;
	struct addrinfo *head = NULL, **tail = &head;
	for (int i = 0; i < n; i++)
		for (int t = 0; t < nt; t++) {
			struct {
				struct addrinfo ai;
				struct sockaddr_in sa;
			} *e = calloc(1, sizeof *e);
			if (!e) {
				us_freeaddrinfo(head);
				return EAI_MEMORY;
			}
			e->sa.sin_family = AF_INET;
			e->sa.sin_port = htons(port);
			e->sa.sin_addr.s_addr = addrs[i];
			e->ai.ai_family = AF_INET;
			e->ai.ai_socktype = types[t];
			e->ai.ai_protocol = types[t] == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
			e->ai.ai_addrlen = sizeof e->sa;
			e->ai.ai_addr = (struct sockaddr *)&e->sa;
			if (!head && canon && hints && (hints->ai_flags & AI_CANONNAME)) {
				e->ai.ai_canonname = strdup(canon);
				if (!e->ai.ai_canonname) {
					free(e);
					us_freeaddrinfo(head);
					return EAI_MEMORY;
				}
			}
			*tail = &e->ai;
			tail = &e->ai.ai_next;
		}
	*res = head;
	return 0;
}

void us_freeaddrinfo(struct addrinfo *res)
{
	while (res) {
		struct addrinfo *next = res->ai_next;
		free(res->ai_canonname);
		free(res);      /* the sockaddr lives in the same block */
		res = next;
	}
}

static int parse_service(const char *service, const struct addrinfo *hints, uint16_t *port)
{
	*port = 0;
	if (!service)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(service, &end, 10);
	if (*service && !*end && !errno && v >= 0 && v <= 65535) {
		*port = (uint16_t)v;
		return 0;
	}
	if (hints && (hints->ai_flags & AI_NUMERICSERV))
		return EAI_NONAME;
	/* Names from the local services database; no network involved. */
	const char *proto = hints && hints->ai_socktype == SOCK_DGRAM ? "udp" : "tcp";
	struct servent se, *sp = NULL;
	char buf[1024];
	if (getservbyname_r(service, proto, &se, buf, sizeof buf, &sp) != 0 || !sp)
		return EAI_SERVICE;
	*port = ntohs((uint16_t)sp->s_port);
	return 0;
}

static int count_dots(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

/*
 * RFC 6761 6.3: "localhost" and the names under it are the loopback
 * address, answered here and never asked of a nameserver (what glibc gets
 * from /etc/hosts' localhost line). A hosts: entry still comes first.
 */
static bool is_localhost(const char *n)
{
	size_t len = strlen(n);
	if (len > 0 && n[len - 1] == '.')
		len--;
	if (len < 9 || strncasecmp(n + len - 9, "localhost", 9) != 0)
		return false;
	return len == 9 || n[len - 10] == '.';
}

int us_getaddrinfo(us_stack *st, const char *node, const char *service,
		   const struct addrinfo *hints, struct addrinfo **res)
{
	US_API_CALL();
	detail[0] = '\0';
	if (!res) {
		errno = EFAULT;
		return EAI_SYSTEM;
	}
	*res = NULL;
	US_API_LIVE(st, EAI_SYSTEM);    /* errno ESHUTDOWN */
	if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET)
		return EAI_FAMILY;
	if (hints && hints->ai_socktype != 0 && hints->ai_socktype != SOCK_STREAM &&
	    hints->ai_socktype != SOCK_DGRAM)
		return EAI_SOCKTYPE;
	if (!node && !service)
		return EAI_NONAME;
	uint16_t port;
	int rc = parse_service(service, hints, &port);
	if (rc)
		return rc;
	uint32_t addrs[DNS_MAX_ADDRS];
	struct in_addr a;
	if (!node) {
		addrs[0] = htonl(hints && (hints->ai_flags & AI_PASSIVE) ? INADDR_ANY : INADDR_LOOPBACK);
		return build_result(addrs, 1, port, hints, NULL, res);
	}
	if (inet_pton(AF_INET, node, &a) == 1) {
		addrs[0] = a.s_addr;
		return build_result(addrs, 1, port, hints, node, res);
	}
	if (hints && (hints->ai_flags & AI_NUMERICHOST))
		return EAI_NONAME;
	for (int i = 0; i < st->cfg.nhosts; i++)
		if (wire_dns_name_eq(st->cfg.hosts[i].name, node)) {
			addrs[0] = st->cfg.hosts[i].addr.s_addr;
			return build_result(addrs, 1, port, hints, st->cfg.hosts[i].name, res);
		}
	if (is_localhost(node)) {
		addrs[0] = htonl(INADDR_LOOPBACK);
		return build_result(addrs, 1, port, hints, node, res);
	}
	/* The configured servers, then those DHCP leases brought (dhcp.c). */
	struct in_addr ns[US_MAX_NAMESERVERS];
	int nns = us_dhcp_nameservers(st, ns, US_MAX_NAMESERVERS);
	if (nns == 0) {
		set_detail("\"%s\" is not in hosts: and no nameservers are configured", node);
		return EAI_NONAME;
	}

	/* Candidate names in glibc's order for ndots 1. */
	char cands[US_MAX_SEARCH + 1][WIRE_DNS_NAME_LEN];
	int nc = 0;
	size_t nlen = strlen(node);
	bool absolute = nlen > 0 && node[nlen - 1] == '.';
	bool as_is_first = absolute || count_dots(node) >= 1;
	if (as_is_first)
		snprintf(cands[nc++], WIRE_DNS_NAME_LEN, "%s", node);
	if (!absolute)
		for (int i = 0; i < st->cfg.nsearch; i++)
			if (snprintf(cands[nc], WIRE_DNS_NAME_LEN, "%s.%s", node, st->cfg.search[i]) <
			    WIRE_DNS_NAME_LEN)
				nc++;
	if (!as_is_first)
		snprintf(cands[nc++], WIRE_DNS_NAME_LEN, "%s", node);

	bool timed_out = false, failed = false;
	char fail_detail[sizeof detail] = "";
	for (int c = 0; c < nc; c++) {
		int n = 0;
		bool fatal = false;
		char canon[WIRE_DNS_NAME_LEN] = "";
		enum qres r = query(st, ns, nns, cands[c], addrs, &n, canon, &fatal);
		if (r == Q_ADDRS) {
			detail[0] = '\0';
			return build_result(addrs, n, port, hints, canon, res);
		}
		if (fatal)
			return errno == ESHUTDOWN ? EAI_SYSTEM : EAI_FAIL;
		if (r == Q_TIMEOUT)
			timed_out = true;
		if (r == Q_FAIL) {
			failed = true;
			snprintf(fail_detail, sizeof fail_detail, "%s", detail);
		}
	}
	if (failed) {
		snprintf(detail, sizeof detail, "%s", fail_detail);
		return EAI_FAIL;
	}
	if (timed_out)
		return EAI_AGAIN;
	set_detail("\"%s\": no such name", node);
	return EAI_NONAME;
}
